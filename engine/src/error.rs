//! The engine's error type: every variant names the thing that was wrong and, where there is
//! one, what the user can do about it.

use std::path::PathBuf;

/// Errors raised by the engine. The binary maps every one of them to exit status 1.
///
/// Each message holds its cause's words and exposes no `source()`: the binary prints the
/// chain of causes, which would say them twice.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{action} {path}: {cause}")]
    Io {
        action: &'static str,
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}: {message}")]
    BadFile { path: PathBuf, message: String },
    #[error("no embedding set named '{name}' in {dir}; run `saelab sets` to list them or `saelab demo` to make the demo set")]
    NoSuchSet { name: String, dir: PathBuf },
    #[error("no run named '{name}' in {dir}; run `saelab runs` to list them")]
    NoSuchRun { name: String, dir: PathBuf },
    #[error("invalid {what}: {message}")]
    Invalid { what: &'static str, message: String },
    #[error("run '{run}' diverged at step {step} (loss {loss}); its last good checkpoint (step {kept_step}) is kept. Try a smaller --lr or --lambda, then `saelab resume {run}`")]
    Diverged {
        run: String,
        step: u64,
        loss: f64,
        kept_step: u64,
    },
    #[error("run '{run}' is already being trained by {}; wait for it or stop it first", if *.pid == 0 { "another process".to_string() } else { format!("process {}", .pid) })]
    Busy { run: String, pid: u32 },
    #[error("interrupted")]
    Interrupted,
    #[error("tensor computation failed: {0}")]
    Candle(candle_core::Error),
}

impl From<candle_core::Error> for Error {
    /// Without the backtrace candle attaches under `RUST_BACKTRACE`: the message is for users.
    fn from(e: candle_core::Error) -> Self {
        match e {
            candle_core::Error::WithBacktrace { inner, .. } => Error::Candle(*inner),
            e => Error::Candle(e),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            cause: source,
        }
    }

    pub fn bad_file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::BadFile {
            path: path.into(),
            message: message.into(),
        }
    }

    pub fn invalid(what: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid {
            what,
            message: message.into(),
        }
    }
}
