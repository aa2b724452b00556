//! Exact sleeps. madsim's `sleep` and `sleep_until` wait at least 1 ms from now, whatever they
//! are asked: a service time of 0.4 ms would take 1 ms and a Poisson stream of 2,000 arrivals
//! per second would be capped at 1,000. The simulator's own waits (arrivals, service times,
//! messages, the network's call timeout) use these instead: `Sleep::reset` sets the deadline
//! madsim does not clamp. The patterns keep `tokio::time` (they run on real tokio as well).

use tokio::time::Instant;

/// Waits until `deadline` exactly (not at all if it has passed).
pub(crate) async fn until(deadline: Instant) {
    let mut sleep = std::pin::pin!(tokio::time::sleep_until(deadline));
    sleep.as_mut().reset(deadline);
    sleep.await
}
