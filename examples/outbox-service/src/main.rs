//! `outbox-service`: places orders, relays their messages and applies them at a shipping
//! consumer, then judges the databases' history with O1-O3.
//!
//! ```text
//! outbox-service [--orders N] [--dir DIR | --postgres URL] [--bench]
//! ```
//!
//! SQLite files in a new temporary directory by default (or `--dir`, which must not exist:
//! nothing of yours is overwritten); new PostgreSQL schemas `outbox_demo_<pid>_*` with
//! `--postgres`.
//! `--bench` measures the outbox's throughput instead: commits per second, then relayed
//! messages per second in batches of 100.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use faultline_patterns::outbox::ports::Subscriber;
use faultline_patterns::outbox::relay::{Relay, RelayConfig};
use outbox_service::{Backend, History, Orders, PgBackend, Shipping, SqliteBackend};

struct Args {
    orders: u64,
    dir: Option<PathBuf>,
    postgres: Option<String>,
    bench: bool,
}

fn parse() -> Result<Args, String> {
    let mut args = Args { orders: 1000, dir: None, postgres: None, bench: false };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--orders" => {
                let v = value("--orders")?;
                args.orders = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(format!("--orders {v}: expected a whole number above 0"))?;
            }
            "--dir" => args.dir = Some(PathBuf::from(value("--dir")?)),
            "--postgres" => args.postgres = Some(value("--postgres")?),
            "--bench" => args.bench = true,
            other => {
                return Err(format!(
                    "{other}: unknown argument (expected --orders N, --dir DIR, --postgres URL, --bench)"
                ))
            }
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("outbox-service: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match &args.postgres {
        Some(url) => {
            let prefix = format!("outbox_demo_{}", std::process::id());
            println!("databases: schemas {prefix}_orders, {prefix}_shipping, {prefix}_broker");
            run(&PgBackend { url: url.clone(), prefix }, &args).await
        }
        None => match sqlite_dir(&args) {
            Ok(dir) => run(&SqliteBackend(dir), &args).await,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("outbox-service: {e}");
            ExitCode::from(2)
        }
    }
}

fn sqlite_dir(args: &Args) -> Result<PathBuf, String> {
    let dir = match &args.dir {
        Some(d) if d.exists() => return Err(format!("--dir {}: already exists (give a new directory)", d.display())),
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("outbox-service-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("--dir {}: {e}", dir.display()))?;
    println!("databases: {}", dir.display());
    Ok(dir)
}

async fn run<B: Backend>(b: &B, args: &Args) -> Result<bool, String>
where
    B::Store: Send + Sync,
    B::Broker: Send + Sync,
{
    let e = |e: faultline_patterns::outbox::ports::StoreError| e.to_string();
    let orders = Orders(b.orders().await.map_err(e)?);
    let start = Instant::now();
    for order in 1..=args.orders {
        orders.place(order, order % 50).await.map_err(e)?;
    }
    let placed = start.elapsed().as_secs_f64();
    let relay = Relay::polling(
        Arc::new(b.orders().await.map_err(e)?),
        Arc::new(b.broker().await.map_err(e)?),
        RelayConfig::default(),
    );
    let start = Instant::now();
    let mut relayed = 0;
    loop {
        match relay.run_once().await.map_err(|e| e.to_string())? {
            0 => break,
            n => relayed += n,
        }
    }
    let relay_s = start.elapsed().as_secs_f64();
    println!(
        "{} orders committed with their messages in {placed:.2} s: {:.0} commits/s",
        args.orders,
        args.orders as f64 / placed
    );
    println!(
        "{relayed} messages relayed in batches of 100 in {relay_s:.2} s: {:.0} messages/s",
        relayed as f64 / relay_s
    );
    if args.bench {
        return Ok(true);
    }
    let shipping = Shipping(b.shipping().await.map_err(e)?);
    let mut subscriber = b.subscriber().await.map_err(e)?;
    while let Some(d) = subscriber.next().await.map_err(e)? {
        shipping.apply(&d.message).await.map_err(e)?;
        subscriber.ack(&d).await.map_err(e)?;
    }
    let history =
        History::read(&b.orders().await.map_err(e)?, b.published().await.map_err(e)?, &b.shipping().await.map_err(e)?)
            .await
            .map_err(e)?;
    let findings = history.findings();
    println!(
        "history: {} committed, {} published, {} applied; O1-O3: {}",
        history.committed.len(),
        history.published.len(),
        history.applied.len(),
        if findings.is_empty() { "held".to_owned() } else { format!("{} violations", findings.len()) }
    );
    for f in &findings {
        println!("  {} at {}: {}", f.invariant, f.at, f.detail);
    }
    Ok(findings.is_empty())
}
