use std::process::ExitCode;

use clap::Parser;
use saelab::cli::{self, args::Cli};
use saelab::engine::Error;

/// Exit status after a Ctrl-C that saved its work.
const EXIT_INTERRUPTED: u8 = 130;

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some(saelab::tui::terminal_query::ARG) {
        saelab::tui::terminal_query::answer();
        return ExitCode::SUCCESS;
    }
    let args = Cli::parse();
    cli::install_interrupt_handler();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if matches!(e.downcast_ref::<Error>(), Some(Error::Interrupted)) => {
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
