//! A CQRS read model on a simulated node (`app = "projector"`, calling an event store): a read
//! model (events per stream) and its checkpoint (the last position applied) in its own store.
//! Each round it asks for the head, reads up to `batch` events after its checkpoint at once,
//! and applies them in position order, the read model and the checkpoint in one transaction:
//! after a crash it resumes from a checkpoint that matches its read model. `atomic = false`
//! (planted bug) syncs the read model, works, then writes the checkpoint: a crash between
//! applies an event twice. Each applied event is a `projection.apply` event (E3, and the lag).

use std::sync::Arc;
use std::time::Duration;

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

    fn handle(self: Arc<Self>, _request: u64, _meta: Meta) -> Option<Answer> {
        None
    }
}

/// Follows the event store from the durable checkpoint, `batch` events per round.
async fn project(ctx: Arc<AppCtx>, batch: u64, atomic: bool) {
    let Some(dep) = ctx.first_dep().cloned() else { return };
    let s = ctx.store();
    let call = |name: &'static str, seq: u64| {
        let (world, dep) = (ctx.world.clone(), dep.clone());
        async move { dep.call(&world, 0, Meta { op: Some(Op { name, seq, ..Op::default() }), ..Meta::default() }).await }
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
                ctx.event(EventKind::ProjectionApply { position, stream, count });
                crate::kernel::timer::until(ctx.world.now() + ctx.work_time()).await; // a crash here applies it again
                s.put("checkpoint", position.to_string().as_bytes());
                s.sync();
                continue;
            }
            s.put("checkpoint", position.to_string().as_bytes());
            s.sync();
            ctx.event(EventKind::ProjectionApply { position, stream, count });
        }
        if position == checkpoint {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
