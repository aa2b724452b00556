//! Orders placed at once from several connections: each customer's sequence numbers stay
//! 1, 2, 3... with no two orders sharing one (SQLite serializes writers; PostgreSQL's
//! REPEATABLE READ makes the loser of a race retry), and the outbox holds every message.

use std::sync::Arc;

use outbox_service::{Backend, History, Orders, PgBackend, SqliteBackend};

async fn place_at_once<B: Backend + Send + Sync + 'static>(b: Arc<B>) -> History
where
    B::Store: Send + Sync,
{
    let mut writers = Vec::new();
    for w in 0..4u64 {
        let b = b.clone();
        writers.push(tokio::spawn(async move {
            let orders = Orders(b.orders().await.unwrap());
            for i in 0..40 {
                orders.place(1 + w * 1000 + i, i % 2).await.unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    History::read(&b.orders().await.unwrap(), Vec::new(), &b.shipping().await.unwrap()).await.unwrap()
}

fn assert_sequences(history: &History) {
    for customer in 0..2 {
        let mut seqs: Vec<u64> = history.committed.iter().filter(|c| c.1 == customer).map(|c| c.2).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=80).collect::<Vec<u64>>(), "customer {customer}: each number once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_orders_get_distinct_sequence_numbers_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("outbox-service-race-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    assert_sequences(&place_at_once(Arc::new(SqliteBackend(dir.clone()))).await);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_orders_get_distinct_sequence_numbers_on_postgres() {
    let Ok(url) = std::env::var("FAULTLINE_POSTGRES_URL") else {
        assert!(std::env::var_os("CI").is_none(), "CI must set FAULTLINE_POSTGRES_URL");
        return;
    };
    let prefix = format!("race_{}", std::process::id());
    assert_sequences(&place_at_once(Arc::new(PgBackend { url: url.clone(), prefix: prefix.clone() })).await);
    let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    let connection = tokio::spawn(connection);
    for what in ["orders", "shipping", "broker"] {
        admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {prefix}_{what} CASCADE")).await.unwrap();
    }
    connection.abort();
}
