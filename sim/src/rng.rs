//! Seeded randomness: one root seed, many independent streams.
//!
//! Every random decision in a run draws from a ChaCha stream derived from `(root seed, label)`
//! (`"net/frontend-0/payment-1"`, `"workload"`, `"svc/payment-0"`...). Adding a service or
//! changing the workload rate therefore does not reshuffle the network's or another service's
//! draws. The derivation is a stable hash (FNV-1a then SplitMix64), never `std`'s hasher.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// 64-bit FNV-1a over `bytes`, continuing from `state` (start with [`FNV_OFFSET`]).
pub fn fnv1a(mut state: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        state ^= u64::from(b);
        state = state.wrapping_mul(0x0000_0100_0000_01b3);
    }
    state
}

/// The FNV-1a 64-bit offset basis.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The independent stream for `label` under `root`.
pub fn stream(root: u64, label: &str) -> SimRng {
    let mut state = fnv1a(fnv1a(FNV_OFFSET, &root.to_le_bytes()), label.as_bytes());
    let mut key = [0u8; 32];
    for chunk in key.chunks_mut(8) {
        chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
    }
    SimRng(ChaCha8Rng::from_seed(key))
}

/// A seeded random stream with the draws the simulator needs.
#[derive(Debug, Clone)]
pub struct SimRng(ChaCha8Rng);

impl SimRng {
    /// Uniform in `[0, 1)` from 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `(0, 1]`: safe to take the logarithm of.
    pub fn unit_open0(&mut self) -> f64 {
        1.0 - self.unit()
    }

    /// True with probability `p` (no draw when `p` is 0 or 1, so a knob left at 0 costs nothing).
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            false
        } else if p >= 1.0 {
            true
        } else {
            self.unit() < p
        }
    }

    /// A standard normal draw (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit_open0();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Uniform integer in `[0, n)`; `n` must be > 0.
    pub fn below(&mut self, n: u64) -> u64 {
        // Lemire's multiply-shift; the tiny bias is irrelevant for simulation choices.
        ((u128::from(self.0.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// The underlying generator, boxed, for a pattern that takes an injected `RngCore`.
    pub fn into_rng_core(self) -> Box<dyn RngCore + Send> {
        Box::new(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_stable_and_independent() {
        let a1: Vec<f64> = (0..4).map(|_| 0.0).scan(stream(7, "a"), |r, _| Some(r.unit())).collect();
        let a2: Vec<f64> = (0..4).map(|_| 0.0).scan(stream(7, "a"), |r, _| Some(r.unit())).collect();
        let b: Vec<f64> = (0..4).map(|_| 0.0).scan(stream(7, "b"), |r, _| Some(r.unit())).collect();
        let c: Vec<f64> = (0..4).map(|_| 0.0).scan(stream(8, "a"), |r, _| Some(r.unit())).collect();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, c);
    }

    #[test]
    fn fnv_matches_reference_vector() {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c (reference value from the FNV spec).
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
