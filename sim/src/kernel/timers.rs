//! The patterns' timer in a simulation: waits that cancel.
//!
//! A timeout around every call waits on a timer that is almost always cancelled (the call
//! answers first). madsim's timer heap cannot cancel: each cancelled 1 s timeout would stay in
//! it for a virtual second and then wake a task that is long gone. Here a wait is an entry in
//! an ordered map that dropping the wait removes, and one driver task arms a single madsim
//! timer, for the earliest entry; when it fires it wakes what is due and arms the next. The
//! patterns get it as their [`Clock`] (see `faultline_patterns::time`).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use faultline_patterns::{BoxFuture, Clock, Timer};
use madsim::time::TimeHandle;
use tokio::time::{Instant, Sleep};

#[derive(Default)]
struct State {
    /// Waits by (deadline, registration order).
    waits: BTreeMap<(Instant, u64), Waker>,
    next: u64,
    /// The driver, while it waits, and the deadline its timer is armed for.
    driver: Option<Waker>,
    armed: Option<Instant>,
}

/// Cancellable waits for one run.
pub(crate) struct Timers {
    state: Mutex<State>,
    clock: TimeHandle,
}

impl Timers {
    pub(crate) fn new(clock: TimeHandle) -> Arc<Timers> {
        Arc::new(Timers { state: Mutex::new(State::default()), clock })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The clock the patterns of this run wait with.
    pub(crate) fn clock(self: &Arc<Self>) -> Clock {
        Clock::with(Arc::new(PatternTimer(self.clone())))
    }

    /// Wakes the waits that are due, forever; arms one timer for the earliest of the others.
    pub(crate) async fn drive(self: Arc<Self>) {
        let mut sleep: Pin<Box<Sleep>> = Box::pin(tokio::time::sleep_until(self.clock.now_instant()));
        std::future::poll_fn(|cx| self.poll_drive(cx, &mut sleep)).await
    }

    fn poll_drive(&self, cx: &mut Context<'_>, sleep: &mut Pin<Box<Sleep>>) -> Poll<()> {
        let now = self.clock.now_instant();
        let mut s = self.state();
        while let Some(entry) = s.waits.first_entry() {
            if entry.key().0 > now {
                break;
            }
            entry.remove().wake();
        }
        s.driver = Some(cx.waker().clone());
        match s.waits.first_key_value().map(|((at, _), _)| *at) {
            None => s.armed = None,
            // A timer armed for later than the earliest wait, or one that has fired: arm anew.
            // One armed for earlier still fires first, and this runs again then.
            Some(at) if s.armed.is_none_or(|armed| armed <= now || at < armed) => {
                s.armed = Some(at);
                sleep.as_mut().reset(at);
                let _ = sleep.as_mut().poll(cx);
            }
            Some(_) => {}
        }
        Poll::Pending
    }

    fn register(&self, key: Option<(Instant, u64)>, deadline: Instant, waker: &Waker) -> (Instant, u64) {
        let mut s = self.state();
        if let Some(k) = key {
            if let Some(w) = s.waits.get_mut(&k) {
                w.clone_from(waker);
                return k;
            }
        }
        let k = (deadline, s.next);
        s.next += 1;
        s.waits.insert(k, waker.clone());
        // The driver's timer is armed for later (or not at all): it must re-arm.
        if s.armed.is_none_or(|armed| deadline < armed) {
            if let Some(d) = s.driver.take() {
                d.wake();
            }
        }
        k
    }

    fn cancel(&self, key: (Instant, u64)) {
        self.state().waits.remove(&key);
    }
}

/// The patterns' side of [`Timers`].
struct PatternTimer(Arc<Timers>);

impl Timer for PatternTimer {
    fn now(&self) -> Instant {
        self.0.clock.now_instant()
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<()> {
        Box::pin(Wait { timers: self.0.clone(), deadline, key: None })
    }
}

/// One wait: registered when first polled, removed when it ends or is dropped.
struct Wait {
    timers: Arc<Timers>,
    deadline: Instant,
    key: Option<(Instant, u64)>,
}

impl Future for Wait {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.timers.clock.now_instant() >= self.deadline {
            if let Some(k) = self.key.take() {
                self.timers.cancel(k);
            }
            return Poll::Ready(());
        }
        let key = self.timers.register(self.key, self.deadline, cx.waker());
        self.key = Some(key);
        Poll::Pending
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        if let Some(k) = self.key.take() {
            self.timers.cancel(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn on_madsim<F: Future<Output = ()> + 'static>(f: impl FnOnce(Arc<Timers>) -> F + 'static) {
        madsim::runtime::Runtime::new().block_on(async move {
            let timers = Timers::new(TimeHandle::current());
            let driver = tokio::spawn(timers.clone().drive());
            f(timers).await;
            driver.abort();
        });
    }

    #[test]
    fn a_timeout_fires_exactly_and_an_answer_first_leaves_no_wait_behind() {
        on_madsim(|timers| async move {
            let clock = timers.clock();
            let start = clock.now();
            let fast = clock.timeout(Duration::from_millis(10), tokio::time::sleep(Duration::from_millis(2))).await;
            assert_eq!(fast, Ok(()));
            assert!(timers.state().waits.is_empty(), "a cancelled wait stayed registered");
            let start_slow = clock.now();
            let slow = clock.timeout(Duration::from_micros(2500), std::future::pending::<()>()).await;
            assert!(slow.is_err());
            // Exact to the microsecond records keep (madsim's timers fire 50 ns late).
            let waited = clock.now() - start_slow;
            assert!(waited >= Duration::from_micros(2500) && waited < Duration::from_micros(2501), "{waited:?}");
            assert!(clock.now() - start >= Duration::from_millis(2));
        });
    }

    #[test]
    fn waits_end_in_deadline_order_whatever_the_order_they_started_in() {
        on_madsim(|timers| async move {
            let clock = timers.clock();
            let order = Arc::new(Mutex::new(Vec::new()));
            let start = clock.now();
            let mut tasks = Vec::new();
            for ms in [30u64, 10, 20, 5] {
                let (clock, order) = (clock.clone(), order.clone());
                tasks.push(tokio::spawn(async move {
                    clock.sleep_until(start + Duration::from_millis(ms)).await;
                    order.lock().unwrap().push((ms, (clock.now() - start).as_micros()));
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            let got = order.lock().unwrap().clone();
            assert_eq!(got, vec![(5, 5_000), (10, 10_000), (20, 20_000), (30, 30_000)]);
        });
    }
}
