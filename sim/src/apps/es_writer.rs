//! A writer on a simulated node (`app = "es_writer"`): reads its request's stream, works, and
//! appends with the version it read (optimistic concurrency); on a conflict it reads again.

use std::sync::Arc;

use crate::call::{CallError, Meta, Op, Served};
use crate::kernel::app::{Answer, App, AppCtx};

/// An event-store writer on one node.
pub(crate) struct EsWriter {
    ctx: AppCtx,
}

impl EsWriter {
    pub(crate) fn new(ctx: AppCtx) -> Self {
        EsWriter { ctx }
    }

    /// Reads the request's stream, works, appends with the version it read; on a conflict
    /// reads again and tries again (at most 10 times).
    async fn write(&self, request: u64, meta: Meta) -> Result<Served, CallError> {
        let Some(dep) = self.ctx.first_dep() else { return Err(CallError::Server) };
        let call = |op: Op| dep.call(&self.ctx.world, request, Meta { op: Some(op), ..meta });
        for _ in 0..10 {
            let Served::Value(version) = call(Op { name: "read", id: request, key: meta.key, seq: 0 }).await? else {
                return Err(CallError::Server);
            };
            crate::kernel::timer::until(self.ctx.world.now() + self.ctx.work_time()).await; // deciding, with what was read
            match call(Op { name: "append", id: request, key: meta.key, seq: version }).await {
                Err(CallError::Conflict) => continue,
                other => return other,
            }
        }
        Err(CallError::Conflict)
    }
}

impl App for EsWriter {
    fn handle(self: Arc<Self>, request: u64, meta: Meta) -> Option<Answer> {
        if meta.op.is_some() {
            return None;
        }
        Some(Box::pin(async move { self.write(request, meta).await }))
    }
}
