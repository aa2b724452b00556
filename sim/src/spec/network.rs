//! The network: how messages behave on each link, and the transport's hard call timeout.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::dist::Dist;

/// Message behaviour on a link (or the network default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkModel {
    /// One-way latency. Default `uniform(1ms, 3ms)`; a message takes at least 1 ms.
    pub latency: Dist,
    /// Probability a message is lost. Default 0.
    pub loss: f64,
    /// Probability a message is delivered twice. Default 0.
    pub duplicate: f64,
    /// Probability a message is held back by up to `reorder_window`, letting later ones pass.
    pub reorder: f64,
    /// How far a reordered message is held back. Default 20 ms.
    pub reorder_window: Duration,
}

impl Default for LinkModel {
    fn default() -> Self {
        LinkModel {
            latency: Dist::Uniform(Duration::from_millis(1), Duration::from_millis(3)),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_window: Duration::from_millis(20),
        }
    }
}

/// The network: a default link model, per-link overrides, and the transport's hard timeout.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkSpec {
    /// Applies to every link without an override.
    pub default: LinkModel,
    /// Overrides by (from service, to service); both directions must be given to cover both.
    pub links: BTreeMap<(String, String), LinkModel>,
    /// A call with no answer fails after this long even with no timeout pattern (like a client
    /// library's default). Default 30 s.
    pub call_timeout: Duration,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec { default: LinkModel::default(), links: BTreeMap::new(), call_timeout: Duration::from_secs(30) }
    }
}
