//! Service-time and latency distributions.
//!
//! Written as short strings so that a scenario file and `--set` can name them:
//! `const(5ms)`, `uniform(1ms, 10ms)`, `exp(20ms)` (mean), `lognormal(20ms, 0.5)` (median and
//! sigma of the underlying normal), `pareto(2ms, 1.5)` (scale and shape). Units: `us`, `ms`, `s`.
//!
//! madsim rounds every sleep up to 1 ms, so model on a millisecond scale (see docs).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::rng::SimRng;

/// A distribution of durations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Dist {
    /// Always the same value.
    Const(Duration),
    /// Uniform between `min` and `max`.
    Uniform(Duration, Duration),
    /// Exponential with this mean.
    Exp(Duration),
    /// Log-normal with this median and the sigma of the underlying normal.
    LogNormal(Duration, f64),
    /// Pareto with this scale (the minimum) and shape (alpha); a heavy tail for alpha <= 2.
    Pareto(Duration, f64),
}

/// What `Dist::parse` accepts, for error messages.
pub const DIST_FORMS: &str =
    "const(5ms), uniform(1ms, 10ms), exp(20ms), lognormal(20ms, 0.5) or pareto(2ms, 1.5); units us, ms, s";

impl Dist {
    /// A constant number of milliseconds.
    pub fn const_ms(ms: u64) -> Self {
        Dist::Const(Duration::from_millis(ms))
    }

    /// Draws one value.
    pub fn sample(&self, rng: &mut SimRng) -> Duration {
        let secs = match *self {
            Dist::Const(d) => return d,
            Dist::Uniform(lo, hi) => lo.as_secs_f64() + (hi.as_secs_f64() - lo.as_secs_f64()) * rng.unit(),
            Dist::Exp(mean) => -mean.as_secs_f64() * rng.unit_open0().ln(),
            Dist::LogNormal(median, sigma) => median.as_secs_f64() * (sigma * rng.normal()).exp(),
            Dist::Pareto(scale, shape) => scale.as_secs_f64() / rng.unit_open0().powf(1.0 / shape),
        };
        // Cap at a day so that a heavy tail cannot overflow a Duration.
        Duration::from_secs_f64(secs.clamp(0.0, 86_400.0))
    }

    /// The mean, where it exists (Pareto with shape <= 1 has none: infinity).
    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Const(d) => d.as_secs_f64(),
            Dist::Uniform(lo, hi) => (lo.as_secs_f64() + hi.as_secs_f64()) / 2.0,
            Dist::Exp(m) => m.as_secs_f64(),
            Dist::LogNormal(med, s) => med.as_secs_f64() * (s * s / 2.0).exp(),
            Dist::Pareto(scale, a) if a > 1.0 => a * scale.as_secs_f64() / (a - 1.0),
            Dist::Pareto(..) => f64::INFINITY,
        }
    }

    /// Parses the string form; the error says what was wrong and what is accepted.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("\"{text}\": {why} (expected {DIST_FORMS})");
        let t = text.trim();
        let open = t.find('(').ok_or_else(|| bad("missing '('"))?;
        if !t.ends_with(')') {
            return Err(bad("missing ')'"));
        }
        let name = t[..open].trim();
        let args: Vec<&str> = t[open + 1..t.len() - 1].split(',').map(str::trim).collect();
        let want = |n: usize| -> Result<(), String> {
            if args.len() == n {
                Ok(())
            } else {
                Err(bad(&format!("{name} takes {n} argument(s), got {}", args.len())))
            }
        };
        let dur = |s: &str| parse_duration(s).map_err(|e| bad(&e));
        let num = |s: &str| -> Result<f64, String> {
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0)
                .ok_or_else(|| bad(&format!("`{s}` is not a positive number")))
        };
        let dist = match name {
            "const" => {
                want(1)?;
                Dist::Const(dur(args[0])?)
            }
            "uniform" => {
                want(2)?;
                let (lo, hi) = (dur(args[0])?, dur(args[1])?);
                if hi < lo {
                    return Err(bad("the maximum is below the minimum"));
                }
                Dist::Uniform(lo, hi)
            }
            "exp" => {
                want(1)?;
                Dist::Exp(dur(args[0])?)
            }
            "lognormal" => {
                want(2)?;
                Dist::LogNormal(dur(args[0])?, num(args[1])?)
            }
            "pareto" => {
                want(2)?;
                Dist::Pareto(dur(args[0])?, num(args[1])?)
            }
            other => return Err(bad(&format!("unknown distribution `{other}`"))),
        };
        Ok(dist)
    }
}

/// Parses `250us`, `5ms`, `1.5s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        return Err(format!("`{s}` has no unit (us, ms or s)"));
    };
    let v: f64 = num.trim().parse().map_err(|_| format!("`{s}` is not a number with a unit"))?;
    if !v.is_finite() || v < 0.0 || v * scale > 86_400.0 {
        return Err(format!("`{s}` is out of range (0 to 1 day)"));
    }
    Ok(Duration::from_secs_f64(v * scale))
}

fn fmt_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else if us.is_multiple_of(1000) {
        format!("{}ms", us / 1000)
    } else {
        format!("{us}us")
    }
}

impl fmt::Display for Dist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Dist::Const(d) => write!(f, "const({})", fmt_duration(d)),
            Dist::Uniform(a, b) => write!(f, "uniform({}, {})", fmt_duration(a), fmt_duration(b)),
            Dist::Exp(m) => write!(f, "exp({})", fmt_duration(m)),
            Dist::LogNormal(m, s) => write!(f, "lognormal({}, {s})", fmt_duration(m)),
            Dist::Pareto(m, a) => write!(f, "pareto({}, {a})", fmt_duration(m)),
        }
    }
}

impl TryFrom<String> for Dist {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Dist::parse(&s)
    }
}

impl From<Dist> for String {
    fn from(d: Dist) -> String {
        d.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;

    #[test]
    fn parses_and_prints_round_trip() {
        for s in [
            "const(5ms)",
            "uniform(1ms, 10ms)",
            "exp(20ms)",
            "lognormal(20ms, 0.5)",
            "pareto(2ms, 1.5)",
            "exp(250us)",
            "const(2s)",
        ] {
            assert_eq!(Dist::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn bad_forms_say_what_is_allowed() {
        for s in ["exp", "exp(5)", "uniform(5ms)", "normal(1ms)", "uniform(9ms, 1ms)", "pareto(1ms, -2)"] {
            let e = Dist::parse(s).unwrap_err();
            assert!(e.contains("expected const("), "{s}: {e}");
        }
    }

    #[test]
    fn sample_means_match_theory() {
        let n = 200_000;
        for d in [
            Dist::parse("exp(10ms)").unwrap(),
            Dist::parse("uniform(2ms, 6ms)").unwrap(),
            Dist::parse("lognormal(10ms, 0.5)").unwrap(),
            Dist::parse("pareto(1ms, 3)").unwrap(),
        ] {
            let mut rng = stream(1, "dist");
            let mean = (0..n).map(|_| d.sample(&mut rng).as_secs_f64()).sum::<f64>() / n as f64;
            let rel = (mean - d.mean()).abs() / d.mean();
            assert!(rel < 0.02, "{d}: sample mean {mean}, theory {}", d.mean());
        }
    }
}
