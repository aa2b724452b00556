//! The shop's checkout -> payment policy: the numbers the production service is configured
//! with, kept in one place so that the resilience tests run exactly these.

/// How checkout calls payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentPolicy {
    /// Tries per charge, the first included.
    pub attempts: u32,
    /// First backoff, ms (exponential, full jitter).
    pub backoff_ms: u64,
    /// Per-try timeout, ms.
    pub timeout_ms: u64,
    /// The breaker opens at this failure rate, percent...
    pub breaker_failure_rate: u32,
    /// ...and stays open this long, ms.
    pub breaker_open_ms: u64,
}

/// What production runs.
pub const PRODUCTION: PaymentPolicy =
    PaymentPolicy { attempts: 3, backoff_ms: 20, timeout_ms: 200, breaker_failure_rate: 50, breaker_open_ms: 2000 };

impl PaymentPolicy {
    /// The policy as a faultline override of the `checkout->payment` edge.
    pub fn as_set(&self) -> String {
        format!(
            "edges.checkout->payment={{ stack = [\"retry\", \"breaker\", \"timeout\"], \
             retry = {{ max_attempts = {}, backoff = \"exponential\", base_ms = {}, cap_ms = 1000, jitter = \"full\" }}, \
             breaker = {{ failure_rate = {}, minimum_calls = 20, open_ms = {} }}, \
             timeout = {{ timeout_ms = {} }} }}",
            self.attempts, self.backoff_ms, self.breaker_failure_rate, self.breaker_open_ms, self.timeout_ms
        )
    }
}
