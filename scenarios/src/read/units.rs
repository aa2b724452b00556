//! Values with units, read with one range check each and errors in the scenario's words: every
//! duration key is a [`Seconds`] or a [`Millis`], so that no value can overflow a `Duration`
//! (`timeout_ms = 1e30` is an error, not a panic) or fall below the simulator's 1 ms timer
//! unnoticed (`timeout_ms = 0.5` is an error, not a silent 1 ms).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A number as a person would write it (`1e300`, not three hundred digits).
pub(crate) fn show(v: f64) -> String {
    if v.is_finite() && v.abs() >= 1e9 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Reads an integer or a float as `f64`, calling the value what `expecting` says.
struct Number(&'static str);

impl Visitor<'_> for Number {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
}

/// The most a duration key may say: a year.
const YEAR_S: f64 = 31_536_000.0;

/// A number of seconds, 0 to a year.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Seconds(pub(crate) Duration);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = d.deserialize_any(Number("a number of seconds"))?;
        seconds(v).map(Seconds).map_err(de::Error::custom)
    }
}

/// `v` seconds as a duration, or why not.
pub(crate) fn seconds(v: f64) -> Result<Duration, String> {
    if v.is_finite() && (0.0..=YEAR_S).contains(&v) {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!("{} is not allowed (expected a number of seconds from 0 to 31536000, a year)", show(v)))
    }
}

/// A number of milliseconds: 0, or from 1 to a year.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Millis(pub(crate) Duration);

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = d.deserialize_any(Number("a number of milliseconds"))?;
        millis(v).map(Millis).map_err(de::Error::custom)
    }
}

/// `v` milliseconds as a duration, or why not.
pub(crate) fn millis(v: f64) -> Result<Duration, String> {
    if !(v.is_finite() && (0.0..=YEAR_S * 1000.0).contains(&v)) {
        return Err(format!(
            "{} is not allowed (expected a number of milliseconds from 0 to 31536000000, a year)",
            show(v)
        ));
    }
    if v > 0.0 && v < 1.0 {
        return Err(format!(
            "{} is not allowed: the patterns' timers wait at least 1 ms, so it would act as 1 ms (expected 0 or at least 1; service times and link latencies below 1 ms are written as distributions, e.g. \"const(400us)\")",
            show(v)
        ));
    }
    Ok(Duration::from_secs_f64(v / 1000.0))
}

/// A probability, 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Probability(pub(crate) f64);

impl<'de> Deserialize<'de> for Probability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = d.deserialize_any(Number("a probability from 0 to 1"))?;
        if (0.0..=1.0).contains(&v) {
            Ok(Probability(v))
        } else {
            Err(de::Error::custom(format!("{} is not allowed (expected a probability from 0 to 1)", show(v))))
        }
    }
}

/// Any number (rates, ratios, shares) that a pattern's own config then checks; the error for
/// text says "a number".
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Num(pub(crate) f64);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Number("a number")).map(Num)
    }
}

/// A list of service names.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Names(pub(crate) Vec<String>);

impl<'de> Deserialize<'de> for Names {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct List;
        impl<'de> Visitor<'de> for List {
            type Value = Vec<String>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of service names, e.g. [\"orders\", \"payment\"]")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
                let mut out = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    out.push(name);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(List).map(Names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_range_checked_and_never_overflow() {
        assert_eq!(millis(1500.0), Ok(Duration::from_millis(1500)));
        assert_eq!(millis(0.0), Ok(Duration::ZERO));
        assert!(millis(1e30).unwrap_err().contains("1e30 is not allowed"));
        assert!(millis(0.5).unwrap_err().contains("at least 1 ms"));
        assert!(millis(f64::NAN).is_err() && millis(-1.0).is_err());
        assert!(seconds(1e300).unwrap_err().contains("1e300"));
    }
}
