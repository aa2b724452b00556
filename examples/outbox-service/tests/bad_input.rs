//! Databases a service must refuse with an error naming what is wrong: a file that is not a
//! database, a schema of another version, a missing table, an unreachable server.

use faultline_adapters::postgres::PgStore;
use faultline_adapters::sqlite::SqliteStore;
use faultline_patterns::outbox::ports::StoreError;

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("outbox-service-bad-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn refused(r: Result<SqliteStore, StoreError>) -> StoreError {
    match r {
        Ok(_) => panic!("opened"),
        Err(e) => e,
    }
}

#[test]
fn sqlite_refuses_a_foreign_file_an_older_schema_and_a_missing_table() {
    let dir = temp("sqlite");
    let junk = dir.join("notes.txt");
    std::fs::write(&junk, "my notes, not a database ".repeat(100)).unwrap();
    let e = refused(SqliteStore::open(&junk));
    assert!(e.to_string().contains("notes.txt") && e.to_string().contains("not a database"), "{e}");
    assert_eq!(
        std::fs::read_to_string(&junk).unwrap(),
        "my notes, not a database ".repeat(100),
        "the file is untouched"
    );

    let old = dir.join("old.db");
    drop(SqliteStore::open(&old).unwrap());
    rusqlite_exec(&old, "UPDATE faultline_schema SET version = 0");
    let e = refused(SqliteStore::open(&old));
    assert!(matches!(e, StoreError::Schema(_)) && e.to_string().contains("schema version 0"), "{e}");

    let missing = dir.join("missing.db");
    drop(SqliteStore::open(&missing).unwrap());
    rusqlite_exec(&missing, "DROP TABLE inbox");
    let e = refused(SqliteStore::open(&missing));
    assert!(matches!(e, StoreError::Schema(_)) && e.to_string().contains("table `inbox` is missing"), "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs `sql` on a SQLite file, as a careless hand or an older version would.
fn rusqlite_exec(path: &std::path::Path, sql: &str) {
    rusqlite::Connection::open(path).unwrap().execute_batch(sql).unwrap();
}

#[tokio::test]
async fn postgres_names_an_unreachable_server_without_its_password() {
    let url = "postgres://faultline:secret@127.0.0.1:1/nowhere";
    let e = match PgStore::connect(url).await {
        Ok(_) => panic!("connected to port 1"),
        Err(e) => e,
    };
    let text = e.to_string();
    assert!(matches!(e, StoreError::Unavailable(_)), "{text}");
    assert!(text.contains("cannot connect to postgres://faultline@127.0.0.1:1/nowhere"), "{text}");
    assert!(!text.contains("secret"), "the password is not shown: {text}");
    assert!(text.to_lowercase().contains("refused"), "says why: {text}");
}

#[tokio::test]
async fn postgres_refuses_a_missing_table() {
    let Ok(url) = std::env::var("FAULTLINE_POSTGRES_URL") else {
        assert!(std::env::var_os("CI").is_none(), "CI must set FAULTLINE_POSTGRES_URL");
        return;
    };
    let ns = format!("bad_{}", std::process::id());
    drop(PgStore::connect_in(&url, &ns).await.unwrap());
    let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    admin.batch_execute(&format!("DROP TABLE {ns}.inbox")).await.unwrap();
    let e = match PgStore::connect_in(&url, &ns).await {
        Ok(_) => panic!("opened"),
        Err(e) => e,
    };
    assert!(matches!(e, StoreError::Schema(_)) && e.to_string().contains("table `inbox` is missing"), "{e}");
    admin.batch_execute(&format!("UPDATE {ns}.faultline_schema SET version = 0")).await.unwrap();
    let e = PgStore::connect_in(&url, &ns).await.err().expect("refused");
    assert!(e.to_string().contains("schema version 0"), "{e}");
    admin.batch_execute(&format!("DROP SCHEMA {ns} CASCADE")).await.unwrap();
}
