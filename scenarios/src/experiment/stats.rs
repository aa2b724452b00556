//! Statistics over seeds: means, quantiles, a percentile bootstrap CI, and the Wilcoxon
//! signed-rank test for paired differences.
//!
//! The bootstrap resamples seeds with a seeded ChaCha stream, so its interval is the same on
//! every machine. The Wilcoxon test follows SciPy's `scipy.stats.wilcoxon` defaults
//! (`zero_method="wilcox"`: zero differences are dropped; two-sided; no continuity correction):
//! the exact distribution when at most 50 differences remain and none tie, else the normal
//! approximation with the tie correction.

use faultline_sim::rng::stream;

/// The arithmetic mean (NaN for no values).
pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// The `q` quantile, interpolating linearly between order statistics (NumPy's default,
/// Hyndman and Fan's type 7). NaN for no values.
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let h = (v.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

/// How many resamples the bootstrap draws.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;

/// A 95% percentile bootstrap interval for the mean of `xs`: resample the values with
/// replacement [`BOOTSTRAP_RESAMPLES`] times from the stream named `label`, and take the 2.5th
/// and 97.5th percentiles of the resampled means. One value gives a zero-width interval.
pub fn bootstrap_mean_ci(xs: &[f64], label: &str) -> (f64, f64) {
    if xs.len() < 2 {
        let m = mean(xs);
        return (m, m);
    }
    let mut rng = stream(0x5eed_b007, label);
    let n = xs.len() as u64;
    let means: Vec<f64> =
        (0..BOOTSTRAP_RESAMPLES).map(|_| (0..n).map(|_| xs[rng.below(n) as usize]).sum::<f64>() / n as f64).collect();
    (quantile(&means, 0.025), quantile(&means, 0.975))
}

/// The Wilcoxon signed-rank test of paired differences `d` against a median of zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wilcoxon {
    /// Differences left after dropping zeros.
    pub n: usize,
    /// The smaller of the positive and negative rank sums (SciPy's `statistic`).
    pub statistic: f64,
    /// Two-sided p-value (1 when no difference is left).
    pub p_value: f64,
    /// Whether the exact distribution was used.
    pub exact: bool,
}

/// Runs the test (see the module docs for the method).
pub fn wilcoxon(d: &[f64]) -> Wilcoxon {
    let nonzero: Vec<f64> = d.iter().copied().filter(|x| *x != 0.0).collect();
    let n = nonzero.len();
    if n == 0 {
        return Wilcoxon { n, statistic: 0.0, p_value: 1.0, exact: false };
    }
    let (ranks, tie_sizes) = ranks_of_magnitudes(&nonzero);
    let r_plus: f64 = nonzero.iter().zip(&ranks).filter(|(x, _)| **x > 0.0).map(|(_, r)| r).sum();
    let total = (n * (n + 1)) as f64 / 2.0;
    let statistic = r_plus.min(total - r_plus);
    let zeros_dropped = n < d.len();
    if n <= 50 && tie_sizes.is_empty() && !zeros_dropped {
        let p_value = exact_p(n, r_plus as u64);
        return Wilcoxon { n, statistic, p_value, exact: true };
    }
    let nf = n as f64;
    let ties: f64 = tie_sizes.iter().map(|&t| (t * t * t - t) as f64).sum();
    let variance = nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0 - ties / 48.0;
    let z = (r_plus - total / 2.0) / variance.sqrt();
    let p_value = if variance > 0.0 { erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0) } else { 1.0 };
    Wilcoxon { n, statistic, p_value, exact: false }
}

/// Ranks of |x| (1-based, ties get their average rank), and the sizes of the tie groups.
fn ranks_of_magnitudes(xs: &[f64]) -> (Vec<f64>, Vec<u64>) {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].abs().total_cmp(&xs[b].abs()));
    let mut ranks = vec![0.0; xs.len()];
    let mut ties = Vec::new();
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && xs[order[j + 1]].abs() == xs[order[i]].abs() {
            j += 1;
        }
        let average = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = average;
        }
        if j > i {
            ties.push((j - i + 1) as u64);
        }
        i = j + 1;
    }
    (ranks, ties)
}

/// Two-sided exact p-value of a positive rank sum `r_plus` among `n` untied ranks:
/// 2 min(P(T <= r), P(T >= r)), at most 1. The counts of subsets of 1..n with each sum are
/// exact in f64 up to n = 50 (at most 2^50).
fn exact_p(n: usize, r_plus: u64) -> f64 {
    let max = n * (n + 1) / 2;
    let mut counts = vec![0.0f64; max + 1];
    counts[0] = 1.0;
    for k in 1..=n {
        for s in (k..=max).rev() {
            counts[s] += counts[s - k];
        }
    }
    let all = 2f64.powi(n as i32);
    let r = r_plus as usize;
    let below: f64 = counts[..=r].iter().sum();
    let above: f64 = counts[r..].iter().sum();
    (2.0 * below.min(above) / all).min(1.0)
}

/// The complementary error function, to about 1e-14 (a series below 2, a continued fraction
/// above).
pub fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.0 {
        // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
        let (mut term, mut sum, mut n) = (x, x, 0.0);
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -x * x / n;
            sum += term / (2.0 * n + 1.0);
        }
        return 1.0 - 2.0 / std::f64::consts::PI.sqrt() * sum;
    }
    // Lentz's method on erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))).
    let tiny = 1e-300;
    let (mut f, mut c, mut d) = (x, x, 0.0);
    for k in 1..200 {
        let a = k as f64 / 2.0;
        d = x + a * d;
        d = if d.abs() < tiny { 1.0 / tiny } else { 1.0 / d };
        c = x + a / c;
        if c.abs() < tiny {
            c = tiny;
        }
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (-x * x).exp() / (std::f64::consts::PI.sqrt() * f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    #[test]
    fn erfc_matches_known_values() {
        // Abramowitz and Stegun, and erfc(x) for large x.
        for (x, want) in [
            (0.0, 1.0),
            (0.5, 0.479_500_122_186_953_5),
            (1.0, 0.157_299_207_050_285_13),
            (1.959_963_984_540_054 / std::f64::consts::SQRT_2, 0.05),
            (2.5, 4.069_520_174_449_59e-4),
            (4.0, 1.541_725_790_028_002e-8),
            (-1.0, 1.842_700_792_949_715),
        ] {
            assert!(close(erfc(x), want, 1e-12), "erfc({x}) = {} not {want}", erfc(x));
        }
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let xs = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(&xs, 0.5), 2.5);
        assert_eq!(quantile(&xs, 0.25), 1.75);
        assert_eq!(quantile(&xs, 1.0), 4.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn wilcoxon_matches_scipy() {
        // scipy.stats.wilcoxon (1.11): the exact branch (no ties, no zeros, n <= 50).
        let d = [6.0, 8.0, 14.0, 16.0, 23.0, 24.0, 28.0, 29.0, 41.0, -48.0, 49.0, 56.0, 60.0, -67.0, 75.0];
        let w = wilcoxon(&d);
        assert!(w.exact);
        assert_eq!(w.statistic, 24.0);
        assert!(close(w.p_value, 0.041_259_765_625, 1e-12), "{}", w.p_value);
        // All positive: the smallest possible exact p-value, 2 / 2^n.
        let w = wilcoxon(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert!(close(w.p_value, 0.0625, 1e-12));
        // Ties force the normal approximation with the tie correction.
        let w = wilcoxon(&[1.0, 1.0, -1.0, 2.0, 2.0, 3.0, 4.0, -5.0, 6.0, 7.0]);
        assert!(!w.exact);
        let (r_plus, n) = (2.0 + 2.0 + 4.5 + 4.5 + 6.0 + 7.0 + 9.0 + 10.0, 10.0f64);
        let var = n * (n + 1.0) * (2.0 * n + 1.0) / 24.0 - ((27.0 - 3.0) + (8.0 - 2.0)) / 48.0;
        let want = erfc(((r_plus - 27.5) / var.sqrt()).abs() / std::f64::consts::SQRT_2);
        assert!(close(w.p_value, want, 1e-12));
        assert!(close(w.p_value, 0.073_5, 1e-3), "{}", w.p_value); // z = 17.5 / sqrt(95.625)
        assert_eq!(wilcoxon(&[0.0, 0.0]).p_value, 1.0);
    }

    #[test]
    fn the_bootstrap_is_seeded_and_brackets_the_mean() {
        let xs: Vec<f64> = (0..30).map(|i| (i % 7) as f64 - 2.0).collect();
        let (lo, hi) = bootstrap_mean_ci(&xs, "x");
        assert_eq!((lo, hi), bootstrap_mean_ci(&xs, "x"));
        let m = mean(&xs);
        assert!(lo < m && m < hi, "{lo} {m} {hi}");
        // About 1.96 standard errors each side.
        let sd = (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 29.0).sqrt();
        let se = sd / 30f64.sqrt();
        assert!(((hi - lo) / (2.0 * 1.96 * se) - 1.0).abs() < 0.15, "width {} vs {}", hi - lo, 3.92 * se);
    }
}
