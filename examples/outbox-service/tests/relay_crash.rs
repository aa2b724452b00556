//! The relay killed mid-batch, on real databases: SQLite always, PostgreSQL when
//! `FAULTLINE_POSTGRES_URL` is set (`.ci/run` starts one and sets it; under CI a missing URL
//! fails). The history is read back from the databases and judged by the simulator's own
//! O1-O3 code.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use faultline_patterns::outbox::ports::{Message, PublishError, Publisher, StoreError, Subscriber};
use faultline_patterns::outbox::relay::{Relay, RelayConfig, RelayError};
use outbox_service::{Backend, History, Orders, PgBackend, Shipping, SqliteBackend};
use tokio::sync::Notify;

const ORDERS: u64 = 300;

/// A publisher that stops right after the broker acknowledged its `stop_after`-th message,
/// before the relay's bookkeeping, until the test says go on.
struct Stopping<P> {
    inner: P,
    published: AtomicU32,
    stop_after: u32,
    stopped: Notify,
    go_on: Notify,
}

impl<P> Stopping<P> {
    fn new(inner: P, stop_after: u32) -> Self {
        Stopping { inner, published: AtomicU32::new(0), stop_after, stopped: Notify::new(), go_on: Notify::new() }
    }
}

impl<P: Publisher> Publisher for Stopping<P> {
    async fn publish(&self, m: &Message) -> Result<(), PublishError> {
        self.inner.publish(m).await?;
        if self.published.fetch_add(1, Ordering::SeqCst) + 1 == self.stop_after {
            self.stopped.notify_one();
            self.go_on.notified().await;
        }
        Ok(())
    }
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("outbox-service-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn postgres() -> Option<String> {
    match std::env::var("FAULTLINE_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("CI must set FAULTLINE_POSTGRES_URL (.ci/run starts PostgreSQL)")
        }
        Err(_) => {
            eprintln!("skipped: set FAULTLINE_POSTGRES_URL=postgres://user@127.0.0.1:port/db to run it on PostgreSQL");
            None
        }
    }
}

/// Places the orders, and starts the consumer, which stops once it has applied them all.
async fn start<B: Backend>(b: &B) -> tokio::task::JoinHandle<()>
where
    B::Store: Send + Sync,
    B::Subscriber: Send,
{
    let orders = Orders(b.orders().await.unwrap());
    for order in 1..=ORDERS {
        orders.place(order, order % 7).await.unwrap();
    }
    assert_eq!(orders.place(5, 5).await.unwrap(), 1, "a retried order changes nothing");
    let shipping = Shipping(b.shipping().await.unwrap());
    let mut subscriber = b.subscriber().await.unwrap();
    tokio::spawn(async move {
        while shipping.applied().await.unwrap() < ORDERS {
            if let Some(d) = subscriber.next().await.unwrap() {
                shipping.apply(&d.message).await.unwrap();
                subscriber.ack(&d).await.unwrap();
            }
        }
    })
}

/// Waits for the consumer, then judges the history.
async fn judge<B: Backend>(b: &B, consumer: tokio::task::JoinHandle<()>) -> History {
    tokio::time::timeout(Duration::from_secs(120), consumer).await.expect("every order applied within 120 s").unwrap();
    let history = History::read(&b.orders().await.unwrap(), b.published().await.unwrap(), &b.shipping().await.unwrap())
        .await
        .unwrap();
    assert_eq!(history.findings(), vec![], "O1-O3 on the real history");
    assert_eq!((history.committed.len(), history.applied.len()), (ORDERS as usize, ORDERS as usize));
    history
}

/// The relay dies (its task aborted) after the broker acknowledged the 120th message (the 20th
/// of its second batch of 100) and before it deleted that row; a new one, on new connections,
/// publishes it again and finishes. The consumer's inbox absorbs the duplicate.
async fn relay_killed_mid_batch<B: Backend>(b: &B)
where
    B::Store: Send + Sync,
    B::Broker: Send + Sync,
    B::Subscriber: Send,
{
    let consumer = start(b).await;
    let publisher = Arc::new(Stopping::new(b.broker().await.unwrap(), 120));
    let relay = Relay::polling(Arc::new(b.orders().await.unwrap()), publisher.clone(), RelayConfig::default());
    let first = tokio::spawn(async move { relay.run().await });
    publisher.stopped.notified().await;
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    let relay = Relay::polling(
        Arc::new(b.orders().await.unwrap()),
        Arc::new(b.broker().await.unwrap()),
        RelayConfig::default(),
    );
    let second = tokio::spawn(async move { relay.run().await });
    let history = judge(b, consumer).await;
    second.abort();
    assert_eq!(history.republished(), 1, "the killed relay's last acknowledged message is published again, once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_mid_batch_loses_and_duplicates_nothing_on_sqlite() {
    let dir = temp("kill");
    relay_killed_mid_batch(&SqliteBackend(dir.clone())).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_mid_batch_loses_and_duplicates_nothing_on_postgres() {
    let Some(url) = postgres() else { return };
    let b = PgBackend { url, prefix: format!("kill_{}", std::process::id()) };
    relay_killed_mid_batch(&b).await;
    drop_schemas(&b).await;
}

/// The relay's connection is ended by the server mid-batch: its pass fails with the store
/// unavailable, and a relay on a new connection finishes without loss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_whose_connection_drops_mid_batch_reports_it_and_a_new_one_finishes() {
    let Some(url) = postgres() else { return };
    let b = PgBackend { url: url.clone(), prefix: format!("drop_{}", std::process::id()) };
    let consumer = start(&b).await;
    let store = Arc::new(b.orders().await.unwrap());
    let pid = store.backend_pid().await.unwrap();
    let publisher = Arc::new(Stopping::new(b.broker().await.unwrap(), 50));
    let relay = Relay::polling(store, publisher.clone(), RelayConfig::default());
    let pass = tokio::spawn(async move { relay.run_once().await });
    publisher.stopped.notified().await;
    let (admin, connection) = tokio_postgres_connect(&url).await;
    admin.execute("SELECT pg_terminate_backend($1)", &[&pid]).await.unwrap();
    publisher.go_on.notify_one();
    let err = pass.await.unwrap().unwrap_err();
    assert!(matches!(err, RelayError::Store(StoreError::Unavailable(_))), "{err}");
    let relay = Relay::polling(
        Arc::new(b.orders().await.unwrap()),
        Arc::new(b.broker().await.unwrap()),
        RelayConfig::default(),
    );
    let second = tokio::spawn(async move { relay.run().await });
    let history = judge(&b, consumer).await;
    second.abort();
    assert_eq!(history.republished(), 1, "the message acknowledged before the drop is published again");
    connection.abort();
    drop_schemas(&b).await;
}

async fn tokio_postgres_connect(url: &str) -> (tokio_postgres::Client, tokio::task::JoinHandle<()>) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    (
        client,
        tokio::spawn(async move {
            let _ = connection.await;
        }),
    )
}

async fn drop_schemas(b: &PgBackend) {
    let (admin, _c) = tokio_postgres_connect(&b.url).await;
    for what in ["orders", "shipping", "broker"] {
        admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {}_{what} CASCADE", b.prefix)).await.unwrap();
    }
}
