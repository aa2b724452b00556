//! An orders service and a shipping consumer, on the patterns' outbox, relay and inbox
//! (`faultline_patterns::outbox`) over real databases (`faultline_adapters`): the code the
//! simulator tests, running for real.
//!
//! - [`Orders::place`]: the order, the customer's next sequence number and the `OrderPlaced`
//!   message, in one transaction (idempotent on the order's id: a retried request changes
//!   nothing).
//! - The relay: `faultline_patterns::outbox::relay::Relay`, polling, to the broker.
//! - [`Shipping::apply`]: each message once, through the inbox; it also keeps the order in
//!   which it applied them, so that a test can judge per-customer order (O3).
//! - [`Backend`]: SQLite files in a directory, or schemas of one PostgreSQL database.
//! - [`History`]: what the databases say happened, judged by `faultline_checks::outbox`.

mod backend;

use faultline_checks::outbox::OutboxHistory;
use faultline_checks::Finding;
use faultline_patterns::outbox::inbox;
use faultline_patterns::outbox::ports::{Delivery, Message, Store, StoreError, StoreResult, Transaction};

pub use backend::{Backend, PgBackend, ReadBack, SqliteBackend};

fn number(v: Option<String>) -> u64 {
    v.and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// The orders service.
pub struct Orders<S>(pub S);

impl<S: Store> Orders<S> {
    /// Places order `order` for `customer`: returns the customer's sequence number for it.
    /// A transaction that lost a race with another (a `Conflict`: both read the customer's
    /// sequence number) is tried again, at most 100 times.
    pub async fn place(&self, order: u64, customer: u64) -> StoreResult<u64> {
        let mut tries = 0;
        loop {
            match self.place_once(order, customer).await {
                Err(StoreError::Conflict(_)) if tries < 100 => tries += 1,
                other => return other,
            }
        }
    }

    async fn place_once(&self, order: u64, customer: u64) -> StoreResult<u64> {
        let mut tx = self.0.begin().await?;
        if let Some(placed) = tx.read(&format!("order/{order:020}")).await? {
            return Ok(placed.split(',').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0));
        }
        let seq = number(tx.read(&format!("seq/{customer}")).await?) + 1;
        tx.write(&format!("order/{order:020}"), &format!("{customer},{seq}")).await?;
        tx.write(&format!("seq/{customer}"), &seq.to_string()).await?;
        let payload = format!("order {order} placed by customer {customer}");
        tx.enqueue(&Message { id: order, key: customer, seq, payload }).await?;
        tx.commit().await?;
        Ok(seq)
    }
}

/// The shipping consumer.
pub struct Shipping<S>(pub S);

impl<S: Store> Shipping<S> {
    /// Applies `message` once: `false` when the inbox already had it.
    pub async fn apply(&self, message: &Message) -> StoreResult<bool> {
        let Some(mut tx) = inbox::begin(&self.0, message, true).await? else { return Ok(false) };
        let n = number(tx.read("applied_count").await?) + 1;
        tx.write(&format!("applied/{n:020}"), &format!("{},{},{}", message.id, message.key, message.seq)).await?;
        tx.write("applied_count", &n.to_string()).await?;
        tx.write(&format!("shipment/{}", message.id), "pending").await?;
        tx.commit().await?;
        Ok(true)
    }

    /// How many messages it has applied.
    pub async fn applied(&self) -> StoreResult<u64> {
        let mut tx = self.0.begin().await?;
        let n = number(tx.read("applied_count").await?);
        tx.commit().await?;
        Ok(n)
    }
}

/// What the three databases say happened: the orders committed, every publication (the
/// broker's log, duplicates included) and every application, in order.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Orders committed: (order, customer, seq).
    pub committed: Vec<(u64, u64, u64)>,
    /// The broker's log.
    pub published: Vec<Delivery>,
    /// Applications, in the order the consumer made them: (order, customer, seq).
    pub applied: Vec<(u64, u64, u64)>,
}

fn triple(text: &str) -> (u64, u64, u64) {
    let mut f = text.split(',').map(|x| x.parse::<u64>().unwrap_or(0));
    (f.next().unwrap_or(0), f.next().unwrap_or(0), f.next().unwrap_or(0))
}

impl History {
    /// Reads the history back from the orders store, the broker and the shipping store.
    pub async fn read(orders: &impl ReadBack, published: Vec<Delivery>, shipping: &impl ReadBack) -> StoreResult<Self> {
        let committed = orders
            .state_with_prefix("order/")
            .await?
            .into_iter()
            .map(|(k, v)| {
                let (customer, seq, _) = triple(&v);
                (k["order/".len()..].parse().unwrap_or(0), customer, seq)
            })
            .collect();
        let applied = shipping.state_with_prefix("applied/").await?.into_iter().map(|(_, v)| triple(&v)).collect();
        Ok(History { committed, published, applied })
    }

    /// O1-O3, judged by the simulator's own checker code. Places are `table row N`.
    pub fn findings(&self) -> Vec<Finding<String>> {
        let mut h = OutboxHistory::default();
        for (i, (order, _, _)) in self.committed.iter().enumerate() {
            h.commit(*order, || format!("orders.state order #{}", i + 1));
        }
        for d in &self.published {
            h.publish(d.message.id, || format!("broker_log offset {}", d.offset));
        }
        for (i, a) in self.applied.iter().enumerate() {
            h.apply(*a, || format!("shipping.state applied #{}", i + 1));
        }
        h.findings()
    }

    /// Publications of an order already published before (the relay's at-least-once).
    pub fn republished(&self) -> usize {
        let mut seen = std::collections::BTreeSet::new();
        self.published.iter().filter(|d| !seen.insert(d.message.id)).count()
    }
}
