//! A CQRS read model on a simulated node (`app = "projector"`, calling an event store): the
//! patterns' projector ([`faultline_patterns::projector`]) on the node's store, a read model of
//! events per stream. Each round it asks for the head, reads up to `batch` events after its
//! checkpoint at once, and applies each as its read arrives, in position order, the read model
//! and the checkpoint in one transaction: after a crash it resumes from a checkpoint that
//! matches its read model. `atomic = false` (planted bug) commits the read model, works, then
//! moves the checkpoint: a crash between applies an event twice. Each applied event is a
//! `projection.apply` event (E3, and the lag).
//!
//! A request to the projector service is a query: after the service time it answers from the
//! read model alone (the count of the request key's stream), never calling the event store:
//! fast, and as stale as the projection's lag.

use std::sync::Arc;
use std::time::Duration;

use faultline_patterns::event_sourcing::Recorded;
use faultline_patterns::outbox::ports::{StoreResult, Transaction};
use faultline_patterns::projector::{Projector as Projection, ReadModel};

use super::ports::SimStore;
use crate::call::{Meta, Op, Served};
use crate::event::EventKind;
use crate::kernel::app::{Answer, App, AppCtx};

/// A projector on one node.
pub(crate) struct Projector {
    ctx: Arc<AppCtx>,
    batch: u64,
    atomic: bool,
}

impl Projector {
    pub(crate) fn new(ctx: AppCtx, batch: u32, atomic: bool) -> Self {
        Projector { ctx: Arc::new(ctx), batch: u64::from(batch), atomic }
    }
}

impl App for Projector {
    /// Starts following the event store (after every start).
    fn start(self: Arc<Self>) {
        tokio::spawn(project(self.ctx.clone(), self.batch, self.atomic));
    }

    /// A query: the request key's stream, as the read model has it.
    fn handle(self: Arc<Self>, _request: u64, meta: Meta) -> Option<Answer> {
        let view = self.ctx.store().get(&format!("view/{}", meta.key));
        let count = view.and_then(|v| String::from_utf8(v).ok()?.parse::<u64>().ok()).unwrap_or(0);
        Some(Box::pin(async move { Ok(Served::Value(count)) }))
    }
}

/// The read model: how many events each stream has (`view/{stream}`).
struct Views(Arc<AppCtx>);

impl ReadModel<()> for Views {
    async fn apply<T: Transaction>(&self, tx: &mut T, e: &Recorded<()>) -> StoreResult<()> {
        let key = format!("view/{}", e.stream);
        let count = tx.read(&key).await?.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) + 1;
        tx.write(&key, &count.to_string()).await?;
        let stream = e.stream.parse().unwrap_or(0);
        self.0.event(EventKind::ProjectionApply { position: e.position, stream, count });
        Ok(())
    }
}

/// Follows the event store from the durable checkpoint, `batch` events per round.
async fn project(ctx: Arc<AppCtx>, batch: u64, atomic: bool) {
    let Some(dep) = ctx.first_dep().cloned() else { return };
    let projection = Projection::new(SimStore(ctx.store()), Views(ctx.clone()), "projection");
    let call = |name: &'static str, seq: u64| {
        let (world, dep) = (ctx.world.clone(), dep.clone());
        async move { dep.call(&world, 0, Meta { op: Some(Op { name, seq, ..Op::default() }), ..Meta::default() }).await }
    };
    loop {
        // The simulated store does not fail.
        let checkpoint = projection.checkpoint().await.unwrap_or(0);
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
            let event = Recorded { position, stream: stream.to_string(), version: 0, event: () };
            if atomic {
                let _ = projection.apply(std::slice::from_ref(&event)).await;
                continue;
            }
            let _ = projection.apply_without_checkpoint(&event).await;
            crate::kernel::timer::until(ctx.world.now() + ctx.work_time()).await; // a crash here applies it again
            let _ = projection.advance(position).await;
        }
        if position == checkpoint {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
