//! `[network]`: the default link model, per-link overrides and the hard call timeout.

use std::collections::BTreeMap;

use faultline_sim::{Dist, LinkModel, NetworkSpec};
use serde::Deserialize;
use toml::{Table, Value};

use crate::read::de::{de_at, err, KeyError};
use crate::read::units::{Millis, Probability};

/// What a link may override.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkFile {
    latency: Option<Dist>,
    loss: Option<Probability>,
    duplicate: Option<Probability>,
    reorder: Option<Probability>,
    reorder_window_ms: Option<Millis>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkFile {
    latency: Option<Dist>,
    loss: Option<Probability>,
    duplicate: Option<Probability>,
    reorder: Option<Probability>,
    reorder_window_ms: Option<Millis>,
    call_timeout_ms: Option<Millis>,
    #[serde(default)]
    links: BTreeMap<String, Table>,
}

impl LinkFile {
    fn over(self, base: LinkModel) -> LinkModel {
        LinkModel {
            latency: self.latency.unwrap_or(base.latency),
            loss: self.loss.map_or(base.loss, |p| p.0),
            duplicate: self.duplicate.map_or(base.duplicate, |p| p.0),
            reorder: self.reorder.map_or(base.reorder, |p| p.0),
            reorder_window: self.reorder_window_ms.map_or(base.reorder_window, |m| m.0),
        }
    }
}

pub(super) fn read(table: Table) -> Result<NetworkSpec, KeyError> {
    let n: NetworkFile = de_at("network", Value::Table(table))?;
    let mut spec = NetworkSpec::default();
    let own = LinkFile {
        latency: n.latency,
        loss: n.loss,
        duplicate: n.duplicate,
        reorder: n.reorder,
        reorder_window_ms: n.reorder_window_ms,
    };
    spec.default = own.over(spec.default);
    if let Some(ms) = n.call_timeout_ms {
        spec.call_timeout = ms.0;
    }
    for (name, l) in n.links {
        let key = format!("network.links.\"{name}\"");
        let Some((from, to)) = name.split_once("->") else {
            return err(key, format!("\"{name}\" is not a link name (expected \"from->to\" with service names)"));
        };
        let link: LinkFile = de_at(&key, Value::Table(l))?;
        spec.links.insert((from.trim().to_owned(), to.trim().to_owned()), link.over(spec.default));
    }
    Ok(spec)
}
