//! The `faultline` command line. Parsing (clap) -> a validated scenario -> the crates; this
//! file only wires them together and maps errors to exit codes:
//! 0 ok, 1 a check failed, 2 bad usage or bad scenario, 3 internal error.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        // `faultline list | head`: the reader left. Not an error (Rust ignores SIGPIPE, so
        // `println!` panics instead of the process ending quietly as a C tool would).
        let message = info.payload().downcast_ref::<String>().map(String::as_str).unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        eprintln!("faultline: internal error (a bug; please report it with the command line): {info}");
        std::process::exit(cli::EXIT_INTERNAL.into());
    }));
    let args = <cli::Cli as clap::Parser>::parse();
    match cli::execute(args) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("faultline: error: {}", err.message);
            ExitCode::from(err.code)
        }
    }
}
