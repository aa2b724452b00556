//! Pattern stacks on call edges, for scenarios built in Rust: the layer specs, the stack, and
//! `stack()` to put one on an edge. Each pattern's reading and building is in its own module
//! (`crate::layers`).

pub use crate::layers::{stack, BudgetSpec, LayerSpec, PatternStack, RetryOn};
