//! `[[storms]]`: the storm library. A storm is a named, parameterised fragment of a fault plan
//! ("a brownout on payment from 40 s for 20 s"), expanded into `[[faults]]` when the file is
//! read, after the file's own faults and in the order written. The expansion depends only on
//! the file (never on the run's seed), so every seed of a sweep or a comparison meets the same
//! storm, as it meets the same faults.

use std::time::Duration;

use faultline_sim::rng::{fnv1a, FNV_OFFSET};
use faultline_sim::{Dist, Fault, FaultKind, ServiceSpec, Target};
use serde::Deserialize;
use toml::Table;

use crate::read::de::{err, KeyError, Parts};
use crate::read::units::{Probability, Seconds};

/// Every storm, with what it does, for `faultline list` and the docs.
pub const STORMS: &[(&str, &str)] = &[
    ("dependency_outage", "target goes dark (no answers) for duration_s"),
    ("brownout", "target slows by `add` (default const(200ms)) and fails error_rate (default 0.2) of requests"),
    ("error_burst", "target fails `rate` (default 0.5) of requests"),
    ("retry_storm", "target fails every request for duration_s (default 5): retries on every layer above multiply"),
    ("metastable", "a trigger: target slows by `add` (default const(50ms)), then heals; does the system come back?"),
    ("partition", "the link between two services (`between`) is cut both ways"),
    ("zone_loss", "every replica in zone `zone` (replica i is in zone i mod `zones`, default 3) crashes, restarting at the end"),
    ("crash_loop", "target crashes for down_s (default 2), runs up_s (default 3), again, until duration_s is over"),
    ("orchestrator_crash", "the order saga's orchestrator crashes mid-saga for down_s (default 5)"),
    ("slow_consumer", "the broker's consumers (or target) take `add` (default const(200ms)) longer per message"),
    ("clock_drift", "target's wall clock runs `rate` (default 0.01: 1%) fast for duration_s, then is set right"),
    ("disk_full", "target's disk is full for duration_s: every sync of pending writes fails and loses them"),
    ("fsync_failure", "target's fsyncs fail for duration_s (and the kernel drops the writes): code that ignores the error loses acknowledged data"),
    ("swizzle_clog", "FoundationDB's swizzle: half the replicas (drawn by `draw`) go dark one by one every step_s, then heal one by one in another order"),
];

/// The most crashes a crash loop expands into.
const MAX_CRASHES: u32 = 1000;

/// The keys every storm has.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StormFile {
    at_s: Seconds,
}

/// A storm and its keys.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum KindFile {
    DependencyOutage { target: String, duration_s: Seconds },
    Brownout { target: String, duration_s: Seconds, add: Option<Dist>, error_rate: Option<Probability> },
    ErrorBurst { target: String, duration_s: Seconds, rate: Option<Probability> },
    RetryStorm { target: String, duration_s: Option<Seconds> },
    Metastable { target: String, duration_s: Seconds, add: Option<Dist> },
    Partition { between: [String; 2], duration_s: Seconds },
    ZoneLoss { zone: u32, zones: Option<u32>, duration_s: Seconds },
    CrashLoop { target: String, duration_s: Seconds, down_s: Option<Seconds>, up_s: Option<Seconds> },
    OrchestratorCrash { target: Option<String>, down_s: Option<Seconds> },
    SlowConsumer { target: Option<String>, duration_s: Seconds, add: Option<Dist> },
    SwizzleClog { step_s: Option<Seconds>, hold_s: Option<Seconds>, draw: Option<u64> },
    ClockDrift { target: String, duration_s: Seconds, rate: Option<f64> },
    DiskFull { target: String, duration_s: Seconds },
    FsyncFailure { target: String, duration_s: Seconds },
}

fn secs(s: Option<Seconds>, default: u64) -> Duration {
    s.map_or(Duration::from_secs(default), |s| s.0)
}

fn dist(d: Option<Dist>, default: &str) -> Dist {
    d.unwrap_or_else(|| Dist::try_from(default.to_owned()).expect("a valid built-in distribution"))
}

/// Reads `storms[i]` into its faults, for a system of `services`.
pub(crate) fn read(i: usize, table: Table, services: &[ServiceSpec]) -> Result<Vec<Fault>, KeyError> {
    let key = format!("storms[{i}]");
    let mut parts = Parts::new::<StormFile>(key.clone(), table);
    let kind = parts.take_required::<KindFile>("storm")?;
    let at = parts.rest::<StormFile>()?.at_s.0;
    Expand { key: &key, services, at }.storm(kind)
}

/// What a storm expands in.
struct Expand<'a> {
    key: &'a str,
    services: &'a [ServiceSpec],
    at: Duration,
}

impl Expand<'_> {
    fn storm(&self, kind: KindFile) -> Result<Vec<Fault>, KeyError> {
        self.durations(&kind)?;
        let at = self.at;
        let one = |kind: FaultKind, target: &str, d: Duration| {
            Ok(vec![Fault::new(kind, self.node("target", target)?, at, Some(d))])
        };
        match kind {
            KindFile::DependencyOutage { target, duration_s } => one(FaultKind::Outage, &target, duration_s.0),
            KindFile::Brownout { target, duration_s, add, error_rate } => {
                let rate = error_rate.map_or(0.2, |r| r.0);
                let mut f = one(FaultKind::LatencySpike { add: dist(add, "const(200ms)") }, &target, duration_s.0)?;
                f.extend(one(FaultKind::ErrorBurst { rate }, &target, duration_s.0)?);
                Ok(f)
            }
            KindFile::ErrorBurst { target, duration_s, rate } => {
                one(FaultKind::ErrorBurst { rate: rate.map_or(0.5, |r| r.0) }, &target, duration_s.0)
            }
            KindFile::RetryStorm { target, duration_s } => {
                one(FaultKind::ErrorBurst { rate: 1.0 }, &target, secs(duration_s, 5))
            }
            KindFile::Metastable { target, duration_s, add } => {
                one(FaultKind::LatencySpike { add: dist(add, "const(50ms)") }, &target, duration_s.0)
            }
            KindFile::Partition { between: [a, b], duration_s } => {
                self.node("between", &a)?;
                self.node("between", &b)?;
                Ok(vec![Fault::new(
                    FaultKind::Partition,
                    Target::Link { from: a, to: b, both: true },
                    at,
                    Some(duration_s.0),
                )])
            }
            KindFile::ZoneLoss { zone, zones, duration_s } => self.zone_loss(zone, zones.unwrap_or(3), duration_s.0),
            KindFile::CrashLoop { target, duration_s, down_s, up_s } => {
                self.crash_loop(&target, duration_s.0, secs(down_s, 2), secs(up_s, 3))
            }
            KindFile::OrchestratorCrash { target, down_s } => {
                let target = match target {
                    Some(t) => t,
                    None => self.running("order_saga", "name the orchestrator")?.remove(0),
                };
                one(FaultKind::Crash, &target, secs(down_s, 5))
            }
            KindFile::SlowConsumer { target, duration_s, add } => {
                let add = dist(add, "const(200ms)");
                let targets = match target {
                    Some(t) => vec![t],
                    None => self.running("consumer", "name the slow service")?,
                };
                let faults = targets.iter().map(|t| one(FaultKind::LatencySpike { add }, t, duration_s.0));
                Ok(faults.collect::<Result<Vec<_>, _>>()?.into_iter().flatten().collect())
            }
            KindFile::ClockDrift { target, duration_s, rate } => {
                one(FaultKind::ClockDrift { rate: rate.unwrap_or(0.01) }, &target, duration_s.0)
            }
            KindFile::DiskFull { target, duration_s } => one(FaultKind::DiskFull, &target, duration_s.0),
            KindFile::FsyncFailure { target, duration_s } => one(FaultKind::FsyncFail, &target, duration_s.0),
            KindFile::SwizzleClog { step_s, hold_s, draw } => {
                Ok(swizzle(self.services, at, secs(step_s, 1), secs(hold_s, 5), draw.unwrap_or(1)))
            }
        }
    }

    /// Every length the storm names is above 0 (a fault of no length tests nothing).
    fn durations(&self, kind: &KindFile) -> Result<(), KeyError> {
        let given: Vec<(&str, Option<&Seconds>)> = match kind {
            KindFile::DependencyOutage { duration_s, .. }
            | KindFile::Brownout { duration_s, .. }
            | KindFile::ErrorBurst { duration_s, .. }
            | KindFile::Metastable { duration_s, .. }
            | KindFile::Partition { duration_s, .. }
            | KindFile::ZoneLoss { duration_s, .. }
            | KindFile::SlowConsumer { duration_s, .. }
            | KindFile::ClockDrift { duration_s, .. }
            | KindFile::DiskFull { duration_s, .. }
            | KindFile::FsyncFailure { duration_s, .. } => vec![("duration_s", Some(duration_s))],
            KindFile::RetryStorm { duration_s, .. } => vec![("duration_s", duration_s.as_ref())],
            KindFile::CrashLoop { duration_s, down_s, up_s, .. } => {
                vec![("duration_s", Some(duration_s)), ("down_s", down_s.as_ref()), ("up_s", up_s.as_ref())]
            }
            KindFile::OrchestratorCrash { down_s, .. } => vec![("down_s", down_s.as_ref())],
            KindFile::SwizzleClog { hold_s, .. } => vec![("hold_s", hold_s.as_ref())],
        };
        match given.into_iter().find(|(_, d)| d.is_some_and(|d| d.0.is_zero())) {
            Some((key, _)) => err(format!("{}.{key}", self.key), "0 is not allowed (expected a length above 0)"),
            None => Ok(()),
        }
    }

    /// `name`, given at `key`, as a fault target: a service or one of its replicas.
    fn node(&self, key: &str, name: &str) -> Result<Target, KeyError> {
        let replica_of = |s: &ServiceSpec| {
            let index = name.strip_prefix(s.name.as_str()).and_then(|r| r.strip_prefix('-'));
            index.is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n < s.replicas))
        };
        if self.services.iter().any(|s| s.name == name || replica_of(s)) {
            return Ok(Target::Node(name.to_owned()));
        }
        let names: Vec<String> = self.services.iter().map(|s| s.name.clone()).collect();
        let hint = crate::did_you_mean(name, &names);
        err(
            format!("{}.{key}", self.key),
            format!("\"{name}\" is not a service or replica here{hint} (services: {})", names.join(", ")),
        )
    }

    /// The services that run `app`; an error saying what to do when none does.
    fn running(&self, app: &str, otherwise: &str) -> Result<Vec<String>, KeyError> {
        let names: Vec<String> = self
            .services
            .iter()
            .filter(|s| s.app.as_ref().is_some_and(|a| a.name() == app))
            .map(|s| s.name.clone())
            .collect();
        if names.is_empty() {
            return err(format!("{}.target", self.key), format!("no service runs app = \"{app}\" here: {otherwise}"));
        }
        Ok(names)
    }

    fn crash_loop(
        &self,
        target: &str,
        duration: Duration,
        down: Duration,
        up: Duration,
    ) -> Result<Vec<Fault>, KeyError> {
        let cycles = duration.as_secs_f64() / (down + up).as_secs_f64();
        if cycles > MAX_CRASHES as f64 {
            return err(
                format!("{}.duration_s", self.key),
                format!("{cycles:.0} crashes is too many (expected at most {MAX_CRASHES}: a longer down_s or up_s)"),
            );
        }
        let target = self.node("target", target)?;
        let (mut faults, end) = (Vec::new(), self.at + duration);
        let mut t = self.at;
        while t < end {
            // The last crash ends with the loop, not after it.
            faults.push(Fault::new(FaultKind::Crash, target.clone(), t, Some(down.min(end - t))));
            t += down + up;
        }
        Ok(faults)
    }

    /// Every replica of zone `zone` of `zones` crashes for `duration`.
    fn zone_loss(&self, zone: u32, zones: u32, duration: Duration) -> Result<Vec<Fault>, KeyError> {
        if zones == 0 {
            return err(format!("{}.zones", self.key), "0 is not allowed (expected at least 1 zone)");
        }
        if zone >= zones {
            let last = zones - 1;
            return err(
                format!("{}.zone", self.key),
                format!("{zone} is not allowed (expected a zone from 0 to zones - 1 = {last})"),
            );
        }
        Ok(self
            .services
            .iter()
            .flat_map(|s| (0..s.replicas).filter(|r| r % zones == zone).map(move |r| format!("{}-{r}", s.name)))
            .map(|n| Fault::new(FaultKind::Crash, Target::Node(n), self.at, Some(duration)))
            .collect())
    }
}

/// SplitMix64's finaliser: every input bit changes about half the output bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FoundationDB's swizzle-clog: half the replicas, in an order drawn from `draw`, go dark one
/// every `step`; after `hold` they heal one every `step`, in another drawn order.
fn swizzle(services: &[ServiceSpec], at: Duration, step: Duration, hold: Duration, draw: u64) -> Vec<Fault> {
    let nodes: Vec<String> =
        services.iter().flat_map(|s| (0..s.replicas).map(move |r| format!("{}-{r}", s.name))).collect();
    // FNV-1a alone keeps names that differ in their last byte (payment-0, payment-1) next to
    // each other; the finaliser spreads them over the whole order.
    let order = |salt: &str, names: &mut Vec<String>| {
        names.sort_by_key(|n| mix(fnv1a(fnv1a(FNV_OFFSET ^ draw, salt.as_bytes()), n.as_bytes())));
    };
    let mut cut = nodes;
    order("cut", &mut cut);
    cut.truncate(cut.len().div_ceil(2));
    let mut heal = cut.clone();
    order("heal", &mut heal);
    let all_cut = at + step * (cut.len() as u32).saturating_sub(1) + hold;
    cut.iter()
        .enumerate()
        .map(|(i, n)| {
            let start = at + step * i as u32;
            let healed = all_cut + step * heal.iter().position(|h| h == n).unwrap_or(0) as u32;
            Fault::new(FaultKind::Outage, Target::Node(n.clone()), start, Some(healed - start))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use faultline_sim::{Fault, FaultKind, Target};

    const SYSTEM: &str = r#"
duration_s = 60
[services.orders]
replicas = 2
calls = ["inventory", "payment", "shipping"]
app = "order_saga"
[services.inventory]
replicas = 2
[services.payment]
replicas = 3
[services.shipping]
[workload]
target = "orders"
kind = "poisson"
rate_per_s = 10
"#;

    fn faults(storms: &str) -> Result<Vec<Fault>, String> {
        crate::from_str(&format!("{SYSTEM}{storms}"), "t.toml", &[]).map(|s| s.spec.faults.0).map_err(|e| e.to_string())
    }

    fn node(f: &Fault) -> String {
        match &f.target {
            Target::Node(n) => n.clone(),
            Target::Link { from, to, .. } => format!("{from}<->{to}"),
        }
    }

    #[test]
    fn each_storm_expands_into_the_faults_it_names() {
        let f = faults("[[storms]]\nstorm = \"brownout\"\ntarget = \"payment\"\nat_s = 10\nduration_s = 5\n").unwrap();
        assert_eq!(f.len(), 2);
        assert!(
            matches!(f[0].kind, FaultKind::LatencySpike { .. })
                && matches!(f[1].kind, FaultKind::ErrorBurst { rate } if rate == 0.2)
        );
        let f =
            faults("[[storms]]\nstorm = \"crash_loop\"\ntarget = \"payment-1\"\nat_s = 10\nduration_s = 12\n").unwrap();
        let starts: Vec<u64> = f.iter().map(|f| f.at.as_secs()).collect();
        assert_eq!(starts, [10, 15, 20], "down 2 s, up 3 s, while within 12 s");
        let downs: Vec<u64> = f.iter().map(|f| f.duration.unwrap().as_secs()).collect();
        assert_eq!(downs, [2, 2, 2]);
        assert!(f.iter().all(|f| matches!(f.kind, FaultKind::Crash)));
        let f =
            faults("[[storms]]\nstorm = \"crash_loop\"\ntarget = \"payment\"\nat_s = 10\nduration_s = 11\n").unwrap();
        assert_eq!(f.last().unwrap().end().unwrap().as_secs(), 21, "the last crash ends with the loop");
        let f = faults("[[storms]]\nstorm = \"zone_loss\"\nzone = 1\nat_s = 10\nduration_s = 5\n").unwrap();
        assert_eq!(f.iter().map(node).collect::<Vec<_>>(), ["inventory-1", "orders-1", "payment-1"]);
        let f = faults("[[storms]]\nstorm = \"orchestrator_crash\"\nat_s = 10\n").unwrap();
        assert_eq!((node(&f[0]), f[0].duration.map(|d| d.as_secs())), ("orders".to_owned(), Some(5)));
        let f = faults(
            "[[storms]]\nstorm = \"partition\"\nbetween = [\"orders\", \"payment\"]\nat_s = 10\nduration_s = 5\n",
        )
        .unwrap();
        assert_eq!(node(&f[0]), "orders<->payment");
    }

    #[test]
    fn swizzle_clog_cuts_half_the_replicas_one_by_one_and_heals_them_in_another_order() {
        let f = faults("[[storms]]\nstorm = \"swizzle_clog\"\nat_s = 10\nstep_s = 1\nhold_s = 5\n").unwrap();
        assert_eq!(f.len(), 4, "half of 8 replicas");
        let starts: Vec<u64> = f.iter().map(|f| f.at.as_secs()).collect();
        assert_eq!(starts, [10, 11, 12, 13]);
        let mut heals: Vec<(u64, String)> = f.iter().map(|f| (f.end().unwrap().as_secs(), node(f))).collect();
        assert!(heals.iter().all(|(t, _)| *t >= 18), "all cut (13 s) and held 5 s before the first heals");
        heals.sort();
        let cut: Vec<String> = f.iter().map(node).collect();
        let healed: Vec<String> = heals.into_iter().map(|(_, n)| n).collect();
        assert_ne!(cut, healed, "healed in another order than cut");
        let again = faults("[[storms]]\nstorm = \"swizzle_clog\"\nat_s = 10\nstep_s = 1\nhold_s = 5\n").unwrap();
        assert_eq!(f, again, "the same file, the same storm");
        let other = faults("[[storms]]\nstorm = \"swizzle_clog\"\nat_s = 10\ndraw = 2\n").unwrap();
        assert_ne!(f.iter().map(node).collect::<Vec<_>>(), other.iter().map(node).collect::<Vec<_>>());
        // Over draws, the cut half is not always whole services (both replicas side by side).
        let halves: std::collections::BTreeSet<Vec<String>> = (1..=12)
            .map(|d| {
                let f = faults(&format!("[[storms]]\nstorm = \"swizzle_clog\"\nat_s = 10\ndraw = {d}\n")).unwrap();
                let mut cut: Vec<String> = f.iter().map(node).collect();
                cut.sort();
                cut
            })
            .collect();
        assert!(halves.len() >= 6, "12 draws gave only {} different halves: {halves:?}", halves.len());
        let one_of = |h: &Vec<String>, s: &str| h.contains(&format!("{s}-0")) != h.contains(&format!("{s}-1"));
        let split = |h: &&Vec<String>| one_of(h, "orders") || one_of(h, "inventory");
        assert!(
            halves.iter().any(|h| split(&h)),
            "some draw cuts one replica of a 2-replica service and not the other"
        );
    }

    #[test]
    fn a_bad_storm_is_refused_naming_its_key() {
        let e =
            faults("[[storms]]\nstorm = \"brownout\"\ntarget = \"paymnt\"\nat_s = 10\nduration_s = 5\n").unwrap_err();
        assert!(e.contains("storms[0].target") && e.contains("did you mean \"payment\""), "{e}");
        let e = faults("[[storms]]\nstorm = \"zone_loss\"\nzone = 3\nat_s = 10\nduration_s = 5\n").unwrap_err();
        assert!(e.contains("storms[0].zone") && e.contains("3 is not allowed"), "{e}");
        let e = faults("[[storms]]\nstorm = \"hurricane\"\nat_s = 10\n").unwrap_err();
        assert!(e.contains("storms[0].storm") && e.contains("\"hurricane\" is not allowed"), "{e}");
        let e =
            faults("[[storms]]\nstorm = \"brownout\"\ntarget = \"payment\"\nat_s = 10\nduration_s = 0\n").unwrap_err();
        assert!(e.contains("storms[0].duration_s") && e.contains("0 is not allowed"), "{e}");
        let storm = "[[storms]]\nstorm = \"crash_loop\"\ntarget = \"payment\"\nat_s = 1\nduration_s = 100000\n";
        let e = faults(storm).unwrap_err();
        assert!(e.contains("storms[0].duration_s") && e.contains("20000 crashes is too many"), "{e}");
        let e =
            faults("[[storms]]\nstorm = \"partition\"\nbetween = [\"orders\", \"pay\"]\nat_s = 1\nduration_s = 1\n")
                .unwrap_err();
        assert!(e.contains("storms[0].between"), "{e}");
        let e = faults("[[storms]]\nstorm = \"slow_consumer\"\nat_s = 10\nduration_s = 5\n").unwrap_err();
        assert!(e.contains("no service runs app = \"consumer\""), "{e}");
    }
}
