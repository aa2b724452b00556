//! The transactional outbox and what surrounds it: a service commits its change and the
//! message announcing it in one transaction ([`ports::Transaction::enqueue`]); a [`relay`]
//! moves committed messages to the broker in commit order, at least once; a consumer applies
//! each once through its [`inbox`]; [`idempotency`] keys make a retried request safe.
//!
//! Everything runs on the [`ports`] this module defines: the simulator implements them on its
//! simulated store and broker, `faultline-adapters` on SQLite and PostgreSQL, [`memory`] in
//! memory. The code a service ships is the code faultline tests.
//!
//! ```
//! # use std::sync::Arc;
//! # use faultline_patterns::outbox::{memory::{MemoryBroker, MemoryStore}, ports::*, relay::*, inbox};
//! # async fn example() -> Result<(), StoreError> {
//! let (orders, broker) = (Arc::new(MemoryStore::default()), Arc::new(MemoryBroker::default()));
//! // The change and its message, in one transaction.
//! let mut tx = orders.begin().await?;
//! tx.write("order/7", "key=1 seq=1").await?;
//! tx.enqueue(&Message::new(7, 1, 1)).await?;
//! tx.commit().await?;
//! // The relay publishes it; the consumer applies it once.
//! Relay::polling(orders.clone(), broker.clone(), RelayConfig::default()).run_once().await.unwrap();
//! let (shipping, mut sub) = (MemoryStore::default(), broker.subscribe("shipping"));
//! let delivery = sub.next().await?.unwrap();
//! if let Some(mut tx) = inbox::begin(&shipping, &delivery.message, true).await? {
//!     tx.write("shipment/7", "pending").await?;
//!     tx.commit().await?;
//! }
//! sub.ack(&delivery).await?;
//! assert_eq!(shipping.state("shipment/7").as_deref(), Some("pending"));
//! # Ok(()) }
//! ```

pub mod idempotency;
pub mod inbox;
pub mod memory;
pub mod ports;
pub mod relay;
