//! The engine: data, the demo world, the SAE, runs. It knows nothing of the terminal.

pub mod bench;
pub mod caption;
pub mod card;
pub mod checksum;
pub mod clip;
pub mod clock;
#[cfg(target_arch = "x86_64")]
pub mod cpu;
pub mod dataset;
pub mod demo;
pub mod device;
pub mod embed;
pub mod error;
pub mod explain;
pub mod fsutil;
pub mod hub;
pub mod interop;
pub mod kandinsky;
pub mod latents;
pub mod report;
pub mod run;
pub mod sae;
pub mod set;
pub mod steer;
pub mod tensorfile;
pub mod text_encoder;
pub mod unit;
pub mod workspace;
pub mod zeroshot;

pub use error::{Error, Result};
pub use workspace::Workspace;
