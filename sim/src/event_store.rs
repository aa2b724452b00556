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
//! - **Projector** (`app = "projector"`): a read model (events per stream) and its checkpoint
//!   (the last position applied) in its own store. Each round it asks for the head, reads up to
//!   `batch` events after its checkpoint at once, and applies them in position order, the read
//!   model and the checkpoint in one transaction: after a crash it resumes from a checkpoint
//!   that matches its read model. `atomic = false` (planted bug) syncs the read model, works,
//!   then writes the checkpoint: a crash between applies an event twice.
//!
//! Events the checkers read: `es.append` (E2, and E3's expected fold), `es.conflict`,
//! `projection.apply` (E3, and the read model's lag).

use std::sync::Arc;
use std::time::Duration;

use crate::call::{CallError, Meta, Op, Served};
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
        match op.name {
            "head" => return Ok(Served::Value(s.get_u64("head"))),
            // A position not yet written answers without a value.
            "read_at" => return Ok(s.get(&format!("all/{:020}", op.seq)).map_or(Served::Full, |v| Served::Value(String::from_utf8_lossy(&v).parse().unwrap_or(0)))),
            _ => {}
        }
        let stream = op.key;
        let version = s.get_u64(&format!("esver/{stream}"));
        if op.name == "read" {
            return Ok(Served::Value(version));
        }
        let check = !matches!(self.world.spec.services[self.service].app, Some(AppSpec::EventStore { version_check: false }));
        if check && op.seq != version {
            self.world.event(&self.node_name(), "es.conflict", format!("stream={stream} expected={} actual={version} writer={}", op.seq, op.id));
            return Err(CallError::Conflict);
        }
        let new = version + 1;
        let position = s.get_u64("head") + 1;
        s.put(&format!("es/{stream}/{new:020}"), op.id.to_string().as_bytes());
        s.put(&format!("esver/{stream}"), new.to_string().as_bytes());
        s.put(&format!("all/{position:020}"), stream.to_string().as_bytes());
        s.put("head", position.to_string().as_bytes());
        s.sync();
        self.world.event(&self.node_name(), "es.append", format!("stream={stream} expected={} version={new} writer={} position={position}", op.seq, op.id));
        Ok(Served::Full)
    }

    /// Writer: reads the request's stream, works, appends with the version it read; on a
    /// conflict reads again and tries again (at most 10 times).
    pub(crate) async fn es_write(&self, request: u64, meta: Meta) -> Result<Served, CallError> {
        let Some((edge, stack, _)) = self.deps.first().cloned() else { return Err(CallError::Server) };
        let call = |op: Op| recorded_call(&self.world, self.world.next_id(), &edge, &stack, request, Meta { op: Some(op), ..meta });
        for _ in 0..10 {
            let Served::Value(version) = call(Op { name: "read", id: request, key: meta.key, seq: 0 }).await? else { return Err(CallError::Server) };
            tokio::time::sleep(self.work_time()).await; // deciding, with what was read
            match call(Op { name: "append", id: request, key: meta.key, seq: version }).await {
                Err(CallError::Conflict) => continue,
                other => return other,
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
            async move { recorded_call(&world, world.next_id(), &edge, &stack, 0, Meta { op: Some(Op { name, seq, ..Op::default() }), ..Meta::default() }).await }
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
            let reads: Vec<_> = (checkpoint + 1..=head.min(checkpoint + batch)).map(|p| tokio::spawn(call("read_at", p))).collect();
            // Apply the events read, in position order, up to the first read that failed.
            let mut position = checkpoint;
            for read in reads {
                let Ok(Ok(Served::Value(stream))) = read.await else { break };
                position += 1;
                let count = s.get_u64(&format!("view/{stream}")) + 1;
                s.put(&format!("view/{stream}"), count.to_string().as_bytes());
                if !atomic {
                    s.sync();
                    self.world.event(&self.node_name(), "projection.apply", format!("position={position} stream={stream} count={count}"));
                    tokio::time::sleep(self.work_time()).await; // a crash here applies it again
                    s.put("checkpoint", position.to_string().as_bytes());
                    s.sync();
                    continue;
                }
                s.put("checkpoint", position.to_string().as_bytes());
                s.sync();
                self.world.event(&self.node_name(), "projection.apply", format!("position={position} stream={stream} count={count}"));
            }
            if position == checkpoint {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}
