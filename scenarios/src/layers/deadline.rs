//! `deadline`: one time budget for a whole call chain (`deadline_ms`, default 1000), stamped on
//! the request and carried down.

use std::time::Duration;

use faultline_patterns::deadline::{DeadlineConfig, DeadlineLayer};
use faultline_patterns::Layer;
use faultline_sim::{EdgeContext, EdgeService};
use serde::Deserialize;
use toml::{Table, Value};

use super::LayerSpec;
use crate::read::de::{de_at, err, KeyError};
use crate::read::units::Millis;
use crate::read::Cx;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeadlineFile {
    deadline_ms: Option<Millis>,
}

pub(super) fn parse(key: &str, table: Table, _cx: &mut Cx) -> Result<LayerSpec, KeyError> {
    let d: DeadlineFile = de_at(key, Value::Table(table))?;
    let after = d.deadline_ms.map_or(Duration::from_secs(1), |m| m.0);
    if after.is_zero() {
        return err(format!("{key}.deadline_ms"), "0 is not allowed (expected a duration > 0)");
    }
    Ok(LayerSpec::Deadline(after))
}

pub(super) fn describe(d: Duration) -> String {
    format!("deadline({}ms)", d.as_millis())
}

pub(super) fn wrap(d: Duration, svc: EdgeService, ctx: &EdgeContext) -> EdgeService {
    let config = DeadlineConfig { after: d };
    DeadlineLayer::new(config, ctx.events.clone()).with_clock(ctx.clock.clone()).layer(svc)
}
