//! Event sourcing and CQRS on simulated nodes: an event store, writers with optimistic
//! concurrency, and a projector keeping a read model.
//!
//! - **Event store** (`app = "event_store"`): per stream, a version and its events; besides, one
//!   log of all appends in order (`position`), which projections follow. `read` answers a
//!   stream's version, `append` adds one event if the stream is at the expected version and
//!   refuses it as a `conflict` otherwise (`version_check = false`: planted bug), `head` answers
//!   the last position, `read_at` the stream of the event at a position. Each append is one
//!   synced write.
//! - **Writer** (`app = "es_writer"`): reads, works, appends with the version it read; reads
//!   again on a conflict.
//! - **Account** (`app = "account"`): loads its state from the latest snapshot plus the events
//!   after it (`read_snapshot`, `read`, `read_event`), deposits or withdraws, appends with the
//!   version loaded, and saves a snapshot every `snapshot_every` versions (`save_snapshot`).
//!   `snapshot_off_by_one` is a planted bug.
//! - **Projector** (`app = "projector"`): a read model (events per stream) and its checkpoint
//!   (the last position applied) in its own store. Each round it asks for the head, reads up to
//!   `batch` events after its checkpoint at once, and applies them in position order, the read
//!   model and the checkpoint in one transaction: after a crash it resumes from a checkpoint
//!   that matches its read model. `atomic = false` (planted bug) syncs the read model, works,
//!   then writes the checkpoint: a crash between applies an event twice.
//!
//! Events the checkers read: `es.append` (E2, and E1's and E3's expected folds),
//! `es.conflict`, `es.load` (E1), `projection.apply` (E3, and the read model's lag).

use std::sync::Arc;
use std::time::Duration;

use crate::call::{CallError, Meta, Op, Served};
use crate::event::EventKind;
use crate::server::{recorded_call, Replica};
use crate::spec::AppSpec;

impl Replica {
    /// A sample of this service's work time (the pause between a read and the write it decides).
    pub(crate) fn work_time(&self) -> Duration {
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        self.world.spec.services[self.service].service_time.sample(&mut rng)
    }

    /// Event store: one operation (see the module docs).
    pub(crate) fn event_store_op(&self, op: Op) -> Result<Served, CallError> {
        let s = self.store();
        // A position, event or snapshot not yet written answers without a value.
        let value = |key: String, parse: fn(&str) -> Option<u64>| {
            Ok(s.get(&key).and_then(|v| parse(&String::from_utf8_lossy(&v))).map_or(Served::Full, Served::Value))
        };
        match op.name {
            "head" => return Ok(Served::Value(s.get_u64("head"))),
            "read_at" => return value(format!("all/{:020}", op.seq), |v| v.parse().ok()),
            // An account event's amount: 1 a deposit, 2 a withdrawal.
            "read_event" => {
                return value(format!("es/{}/{:020}", op.key, op.seq), |v| {
                    v.split_once(',').and_then(|(_, kind)| kind.parse().ok())
                })
            }
            // The stream's snapshot: version << 32 | balance.
            "read_snapshot" => return value(format!("snap/{}", op.key), |v| v.parse().ok()),
            "save_snapshot" => {
                // Kept if newer than the one stored (`op.seq`: the packed snapshot).
                if op.seq >> 32 > s.get_u64(&format!("snap/{}", op.key)) >> 32 {
                    s.put(&format!("snap/{}", op.key), op.seq.to_string().as_bytes());
                    s.sync();
                }
                return Ok(Served::Full);
            }
            _ => {}
        }
        let stream = op.key;
        let version = s.get_u64(&format!("esver/{stream}"));
        if op.name == "read" {
            return Ok(Served::Value(version));
        }
        let check =
            !matches!(self.world.spec.services[self.service].app, Some(AppSpec::EventStore { version_check: false }));
        if check && op.seq != version {
            let conflict = EventKind::EsConflict { stream, expected: op.seq, actual: version, writer: op.id };
            self.world.event(self.node, conflict);
            return Err(CallError::Conflict);
        }
        let new = version + 1;
        let position = s.get_u64("head") + 1;
        // Accounts' events say what they do; plain appends only who wrote them.
        let kind = match op.name {
            "deposit" => Some(1),
            "withdraw" => Some(2),
            _ => None,
        };
        let event = kind.map_or(op.id.to_string(), |k| format!("{},{k}", op.id));
        s.put(&format!("es/{stream}/{new:020}"), event.as_bytes());
        s.put(&format!("esver/{stream}"), new.to_string().as_bytes());
        s.put(&format!("all/{position:020}"), stream.to_string().as_bytes());
        s.put("head", position.to_string().as_bytes());
        s.sync();
        let kind = kind.map(|_| op.name);
        let append = EventKind::EsAppend { stream, expected: op.seq, version: new, writer: op.id, position, kind };
        self.world.event(self.node, append);
        Ok(Served::Full)
    }

    /// Writer: reads the request's stream, works, appends with the version it read; on a
    /// conflict reads again and tries again (at most 10 times).
    pub(crate) async fn es_write(&self, request: u64, meta: Meta) -> Result<Served, CallError> {
        let Some((edge, stack, _)) = self.deps.first().cloned() else { return Err(CallError::Server) };
        let call = |op: Op| {
            recorded_call(&self.world, self.world.next_id(), &edge, &stack, request, Meta { op: Some(op), ..meta })
        };
        for _ in 0..10 {
            let Served::Value(version) = call(Op { name: "read", id: request, key: meta.key, seq: 0 }).await? else {
                return Err(CallError::Server);
            };
            tokio::time::sleep(self.work_time()).await; // deciding, with what was read
            match call(Op { name: "append", id: request, key: meta.key, seq: version }).await {
                Err(CallError::Conflict) => continue,
                other => return other,
            }
        }
        Err(CallError::Conflict)
    }

    /// Account: loads the request's account (snapshot + replay), deposits or withdraws 10 (a
    /// withdrawal only with enough money), appends with the version loaded, and on a conflict
    /// loads again (at most 10 times). Every `snapshot_every` versions it saves a snapshot.
    pub(crate) async fn account_write(
        &self,
        request: u64,
        meta: Meta,
        snapshot_every: u32,
        off_by_one: bool,
    ) -> Result<Served, CallError> {
        let Some((edge, stack, _)) = self.deps.first().cloned() else { return Err(CallError::Server) };
        let stream = meta.key;
        let call = |name: &'static str, seq: u64| {
            let (world, edge, stack) = (self.world.clone(), edge.clone(), stack.clone());
            async move {
                recorded_call(
                    &world,
                    world.next_id(),
                    &edge,
                    &stack,
                    request,
                    Meta { op: Some(Op { name, id: request, key: stream, seq }), ..meta },
                )
                .await
            }
        };
        for _ in 0..10 {
            // The snapshot first: the version read after it is at least the snapshot's.
            let (from, mut balance) = match snapshot_every {
                0 => (0, 0),
                _ => match call("read_snapshot", 0).await? {
                    Served::Value(packed) => unpack(packed),
                    _ => (0, 0),
                },
            };
            let Served::Value(version) = call("read", 0).await? else { return Err(CallError::Server) };
            // Replay the tail, all reads at once.
            let reads: Vec<_> = (from + 1..=version).map(|v| tokio::spawn(call("read_event", v))).collect();
            for read in reads {
                match read.await {
                    Ok(Ok(Served::Value(1))) => balance += 10,
                    Ok(Ok(Served::Value(2))) => balance -= 10,
                    Ok(Err(e)) => return Err(e),
                    _ => return Err(CallError::Server),
                }
            }
            let load = EventKind::EsLoad { stream, version, balance, snapshot: from, replayed: version - from };
            self.world.event(self.node, load);
            tokio::time::sleep(self.work_time()).await; // deciding, with what was loaded
            let (name, after) =
                if balance >= 10 && request % 2 == 0 { ("withdraw", balance - 10) } else { ("deposit", balance + 10) };
            match call(name, version).await {
                Err(CallError::Conflict) => continue,
                Err(e) => return Err(e),
                Ok(_) => {
                    let new = version + 1;
                    if snapshot_every > 0 && new % u64::from(snapshot_every) == 0 {
                        let saved = if off_by_one { balance } else { after };
                        // Best effort: a lost snapshot only makes later loads replay more.
                        let _ = call("save_snapshot", pack(new, saved)).await;
                    }
                    return Ok(Served::Full);
                }
            }
        }
        Err(CallError::Conflict)
    }

    /// Projector: starts following the event store (after every start).
    pub(crate) fn start_projection(self: &Arc<Self>) {
        if let Some(AppSpec::Projector { batch, atomic }) = self.world.spec.services[self.service].app {
            let this = self.clone();
            tokio::spawn(async move { this.project(u64::from(batch), atomic).await });
        }
    }

    async fn project(self: Arc<Self>, batch: u64, atomic: bool) {
        let Some((edge, stack, _)) = self.deps.first().cloned() else { return };
        let s = self.store();
        let call = |name: &'static str, seq: u64| {
            let (world, edge, stack) = (self.world.clone(), edge.clone(), stack.clone());
            async move {
                recorded_call(
                    &world,
                    world.next_id(),
                    &edge,
                    &stack,
                    0,
                    Meta { op: Some(Op { name, seq, ..Op::default() }), ..Meta::default() },
                )
                .await
            }
        };
        loop {
            let checkpoint = s.get_u64("checkpoint");
            let head = match call("head", 0).await {
                Ok(Served::Value(head)) => head,
                _ => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            };
            if head <= checkpoint {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
            let reads: Vec<_> =
                (checkpoint + 1..=head.min(checkpoint + batch)).map(|p| tokio::spawn(call("read_at", p))).collect();
            // Apply the events read, in position order, up to the first read that failed.
            let mut position = checkpoint;
            for read in reads {
                let Ok(Ok(Served::Value(stream))) = read.await else { break };
                position += 1;
                let count = s.get_u64(&format!("view/{stream}")) + 1;
                s.put(&format!("view/{stream}"), count.to_string().as_bytes());
                if !atomic {
                    s.sync();
                    self.world.event(self.node, EventKind::ProjectionApply { position, stream, count });
                    tokio::time::sleep(self.work_time()).await; // a crash here applies it again
                    s.put("checkpoint", position.to_string().as_bytes());
                    s.sync();
                    continue;
                }
                s.put("checkpoint", position.to_string().as_bytes());
                s.sync();
                self.world.event(self.node, EventKind::ProjectionApply { position, stream, count });
            }
            if position == checkpoint {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// A snapshot as one number: version in the high 32 bits, the balance (as i32) in the low.
fn pack(version: u64, balance: i64) -> u64 {
    (version << 32) | u64::from(balance as i32 as u32)
}

fn unpack(packed: u64) -> (u64, i64) {
    (packed >> 32, i64::from(packed as u32 as i32))
}
