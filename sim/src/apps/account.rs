//! An event-sourced bank account on a simulated node (`app = "account"`, calling an event
//! store): loads its state from the latest snapshot plus the events after it (`read_snapshot`,
//! `read`, `read_event`), deposits or withdraws, appends with the version loaded, and saves a
//! snapshot every `snapshot_every` versions (`save_snapshot`). Each load is an `es.load` event,
//! which E1 checks against the fold of the stream's events. `snapshot_off_by_one` is a planted
//! bug. `read_only` makes it a query service over the write model: it loads and answers the
//! balance (what a CQRS read model answers from its own store instead).

use std::sync::Arc;

use crate::call::{CallError, Meta, Op, Served};
use crate::event::EventKind;
use crate::kernel::app::{Answer, App, AppCtx};
use crate::kernel::edge::Dep;

/// An account service on one node.
pub(crate) struct Account {
    ctx: AppCtx,
    snapshot_every: u32,
    snapshot_off_by_one: bool,
    read_only: bool,
}

/// The event store, as the node reaches it for one request on one account.
struct Remote<'a> {
    ctx: &'a AppCtx,
    dep: Dep,
    request: u64,
    meta: Meta,
}

impl Remote<'_> {
    fn call(&self, name: &'static str, seq: u64) -> impl std::future::Future<Output = Result<Served, CallError>> {
        let (world, dep, request, meta) = (self.ctx.world.clone(), self.dep.clone(), self.request, self.meta);
        async move {
            let op = Op { name, id: request, key: meta.key, seq };
            dep.call(&world, request, Meta { op: Some(op), ..meta }).await
        }
    }

    /// Loads the account: the latest snapshot (when snapshots are taken), its version, and the
    /// events after the snapshot, all read at once. Answers (version, balance).
    async fn load(&self, snapshots: bool) -> Result<(u64, i64), CallError> {
        // The snapshot first: the version read after it is at least the snapshot's.
        let (from, mut balance) = match snapshots {
            false => (0, 0),
            true => match self.call("read_snapshot", 0).await? {
                Served::Value(packed) => unpack(packed),
                _ => (0, 0),
            },
        };
        let Served::Value(version) = self.call("read", 0).await? else { return Err(CallError::Server) };
        let reads: Vec<_> = (from + 1..=version).map(|v| tokio::spawn(self.call("read_event", v))).collect();
        for read in reads {
            match read.await {
                Ok(Ok(Served::Value(1))) => balance += 10,
                Ok(Ok(Served::Value(2))) => balance -= 10,
                Ok(Err(e)) => return Err(e),
                _ => return Err(CallError::Server),
            }
        }
        let stream = self.meta.key;
        self.ctx.event(EventKind::EsLoad { stream, version, balance, snapshot: from, replayed: version - from });
        Ok((version, balance))
    }
}

impl Account {
    pub(crate) fn new(ctx: AppCtx, snapshot_every: u32, snapshot_off_by_one: bool, read_only: bool) -> Self {
        Account { ctx, snapshot_every, snapshot_off_by_one, read_only }
    }

    /// Account: loads the request's account (snapshot + replay), deposits or withdraws 10 (a
    /// withdrawal only with enough money), appends with the version loaded, and on a conflict
    /// loads again (at most 10 times). Every `snapshot_every` versions it saves a snapshot. A
    /// read-only account answers the balance it loaded.
    async fn serve(&self, request: u64, meta: Meta) -> Result<Served, CallError> {
        let (snapshot_every, off_by_one) = (self.snapshot_every, self.snapshot_off_by_one);
        let Some(dep) = self.ctx.first_dep().cloned() else { return Err(CallError::Server) };
        let remote = Remote { ctx: &self.ctx, dep, request, meta };
        for _ in 0..10 {
            let (version, balance) = remote.load(snapshot_every > 0).await?;
            if self.read_only {
                return Ok(Served::Value(balance.max(0) as u64));
            }
            crate::kernel::timer::until(self.ctx.world.now() + self.ctx.work_time()).await; // deciding, with what was loaded
            let (name, after) = if balance >= 10 && request.is_multiple_of(2) {
                ("withdraw", balance - 10)
            } else {
                ("deposit", balance + 10)
            };
            match remote.call(name, version).await {
                Err(CallError::Conflict) => continue,
                Err(e) => return Err(e),
                Ok(_) => {
                    let new = version + 1;
                    if snapshot_every > 0 && new % u64::from(snapshot_every) == 0 {
                        let saved = if off_by_one { balance } else { after };
                        // Best effort: a lost snapshot only makes later loads replay more.
                        let _ = remote.call("save_snapshot", pack(new, saved)).await;
                    }
                    return Ok(Served::Full);
                }
            }
        }
        Err(CallError::Conflict)
    }
}

impl App for Account {
    fn handle(self: Arc<Self>, request: u64, meta: Meta) -> Option<Answer> {
        if meta.op.is_some() {
            return None;
        }
        Some(Box::pin(async move { self.serve(request, meta).await }))
    }
}

/// A snapshot as one number: version in the high 32 bits, the balance (as i32) in the low.
fn pack(version: u64, balance: i64) -> u64 {
    (version << 32) | u64::from(balance as i32 as u32)
}

fn unpack(packed: u64) -> (u64, i64) {
    (packed >> 32, i64::from(packed as u32 as i32))
}
