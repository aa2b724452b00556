//! The error every pattern's config builder returns: it names the key, the bad value and what
//! is allowed, so a scenario loader can pass it on to the user unchanged.

use std::borrow::Cow;
use std::fmt;

/// A rejected configuration value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key, e.g. `max_attempts`.
    pub key: &'static str,
    /// The value given, as text.
    pub value: String,
    /// What would have been accepted, e.g. `an integer >= 1`.
    pub allowed: Cow<'static, str>,
}

impl ConfigError {
    /// A new error for `key` = `value`, where `allowed` describes the valid values.
    pub fn new(key: &'static str, value: impl fmt::Display, allowed: impl Into<Cow<'static, str>>) -> Self {
        ConfigError { key, value: value.to_string(), allowed: allowed.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` = {} is not allowed (expected {})", self.key, self.value, self.allowed)
    }
}

impl std::error::Error for ConfigError {}
