//! The same pattern stack the simulator runs, on the real tokio runtime, in front of a real
//! TCP server on loopback. The server is stopped and restarted; the breaker opens and closes.
//!
//! Run: `RUSTFLAGS="" cargo run -p faultline-patterns --example real_breaker --target-dir target/real`
//! (RUSTFLAGS="" drops `--cfg madsim`, so `tokio` is the real one). It talks only to 127.0.0.1,
//! makes a bounded number of calls (about 5 s) and exits 1 unless the breaker both opened and
//! closed again.

#[cfg(madsim)]
fn main() {
    eprintln!("real_breaker runs on the real tokio runtime: build it with RUSTFLAGS=\"\" (see the file's docs)");
}

#[cfg(not(madsim))]
fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    std::process::exit(runtime.block_on(real::run()));
}

#[cfg(not(madsim))]
mod real {
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use faultline_patterns::circuit_breaker::{BreakerConfig, CircuitBreakerLayer, OpenDuration, WindowKind};
    use faultline_patterns::retry::{Backoff, Jitter, RetryConfig, RetryLayer};
    use faultline_patterns::service::service_fn;
    use faultline_patterns::timeout::{TimeoutConfig, TimeoutLayer};
    use faultline_patterns::{BoxService, Classify, EventSink, Layer, PatternEvent};
    use rand_chacha::rand_core::SeedableRng;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::time::Instant;

    #[derive(Debug, Clone, PartialEq)]
    enum Failure {
        Io(String),
        TimedOut,
        Shed,
    }

    impl Classify for Failure {
        fn is_retryable(&self) -> bool {
            !matches!(self, Failure::Shed)
        }
        fn timed_out(_after: Duration) -> Self {
            Failure::TimedOut
        }
        fn is_timeout(&self) -> bool {
            matches!(self, Failure::TimedOut)
        }
        fn shed(_pattern: &'static str) -> Self {
            Failure::Shed
        }
        fn injected(_pattern: &'static str) -> Self {
            Failure::Io("injected".into())
        }
        fn is_shed(&self) -> bool {
            matches!(self, Failure::Shed)
        }
    }

    /// Prints every pattern decision with the time since the start, and keeps breaker states.
    struct Printer {
        start: Instant,
        states: Mutex<Vec<&'static str>>,
    }

    impl EventSink for Printer {
        fn emit(&self, e: PatternEvent) {
            let t = self.start.elapsed().as_millis();
            if e.pattern == "breaker" {
                println!("{t:>5} ms  breaker -> {:<9} {}", e.kind, e.detail);
                if let Ok(mut s) = self.states.lock() {
                    s.push(e.kind);
                }
            }
        }
    }

    /// A line-echo server: answers "pong" to every line.
    async fn serve(listener: TcpListener) {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                while let Ok(Some(_)) = lines.next_line().await {
                    if write.write_all(b"pong\n").await.is_err() {
                        return;
                    }
                }
            });
        }
    }

    /// One request over a fresh connection.
    fn client(addr: SocketAddr) -> BoxService<u32, String, Failure> {
        service_fn(move |_req: u32| async move {
            let stream = TcpStream::connect(addr).await.map_err(|e| Failure::Io(e.to_string()))?;
            let (read, mut write) = stream.into_split();
            write.write_all(b"ping\n").await.map_err(|e| Failure::Io(e.to_string()))?;
            let mut lines = BufReader::new(read).lines();
            match lines.next_line().await {
                Ok(Some(line)) => Ok(line),
                Ok(None) => Err(Failure::Io("closed".into())),
                Err(e) => Err(Failure::Io(e.to_string())),
            }
        })
    }

    pub(crate) async fn run() -> i32 {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("an address");
        let mut server = tokio::spawn(serve(listener));
        let printer = Arc::new(Printer { start: Instant::now(), states: Mutex::new(Vec::new()) });

        // retry > breaker > timeout: the stack the shop-outage-breaker scenario runs.
        let breaker = BreakerConfig {
            window: WindowKind::CountBased { size: 10 },
            minimum_calls: 5,
            open_duration: OpenDuration::Fixed(Duration::from_millis(400)),
            half_open_permits: 2,
            ..BreakerConfig::default()
        };
        let retry = RetryConfig {
            max_attempts: 2,
            backoff: Backoff::Fixed { delay: Duration::from_millis(10) },
            jitter: Jitter::Full,
        };
        let stack = RetryLayer::new(
            retry.validate().expect("valid"),
            Box::new(rand_chacha::ChaCha8Rng::seed_from_u64(1)),
            printer.clone(),
        )
        .layer(
            CircuitBreakerLayer::new(breaker.validate().expect("valid"), printer.clone()).layer(
                TimeoutLayer::new(TimeoutConfig::new(Duration::from_millis(200)).expect("valid"), printer.clone())
                    .layer(client(addr)),
            ),
        );

        let (mut ok, mut failed, mut shed) = (0, 0, 0);
        println!("calling {addr} every 50 ms; the server stops at 1.0 s and comes back at 2.5 s");
        for i in 0..100u32 {
            let t = printer.start.elapsed();
            if t >= Duration::from_millis(1000) && !server.is_finished() && i < 50 {
                server.abort();
                let _ = (&mut server).await;
                println!("{:>5} ms  server stopped", t.as_millis());
            }
            if t >= Duration::from_millis(2500) && server.is_finished() {
                match TcpListener::bind(addr).await {
                    Ok(listener) => {
                        server = tokio::spawn(serve(listener));
                        println!("{:>5} ms  server restarted", t.as_millis());
                    }
                    Err(e) => println!("{:>5} ms  restart failed, retrying: {e}", t.as_millis()),
                }
            }
            match stack.call(i).await {
                Ok(_) => ok += 1,
                Err(Failure::Shed) => shed += 1,
                Err(_) => failed += 1,
            }
            if printer.start.elapsed() > Duration::from_secs(5) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server.abort();
        let states = printer.states.lock().map(|s| s.clone()).unwrap_or_default();
        println!("calls: {ok} ok, {failed} failed, {shed} refused by the open breaker; breaker states: {states:?}");
        let opened = states.contains(&"open");
        let closed_after = states
            .iter()
            .rposition(|s| *s == "closed")
            .is_some_and(|c| states.iter().position(|s| *s == "open").is_some_and(|o| c > o));
        if opened && closed_after && shed > 0 {
            println!("ok: the breaker opened while the server was down and closed after it came back");
            0
        } else {
            println!("FAILED: expected the breaker to open, refuse calls, and close again");
            1
        }
    }
}
