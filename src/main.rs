use std::process::ExitCode;

use clap::Parser;
use saelab::cli::{self, args::Cli};
use saelab::engine::Error;
use saelab::protocol::{EXIT_INTERRUPTED, EXIT_OK, EXIT_USER_ERROR};

fn main() -> ExitCode {
    let args = Cli::parse();
    cli::install_interrupt_handler();
    match cli::run(args) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) if matches!(e.downcast_ref::<Error>(), Some(Error::Interrupted)) => {
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_USER_ERROR)
        }
    }
}
