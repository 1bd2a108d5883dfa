//! Choosing the compute device: `auto` takes CUDA, then Metal, then the CPU.

use candle_core::Device;

use super::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    #[default]
    Auto,
    Cpu,
    Cuda,
    Metal,
}

impl std::str::FromStr for DeviceChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda),
            "metal" => Ok(Self::Metal),
            _ => Err(Error::invalid(
                "--device",
                format!("'{s}': use auto, cpu, cuda or metal"),
            )),
        }
    }
}

impl DeviceChoice {
    /// Opens the device, or says which cargo feature the build lacks.
    pub fn open(self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Cuda => open_cuda(),
            DeviceChoice::Metal => open_metal(),
            DeviceChoice::Auto => Ok(open_cuda().or_else(|_| open_metal()).unwrap_or(Device::Cpu)),
        }
    }
}

/// A short name for status lines: `cpu`, `cuda:0`, `metal:0`.
pub fn describe(device: &Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(_) => "cuda:0".into(),
        Device::Metal(_) => "metal:0".into(),
    }
}

fn open_cuda() -> Result<Device> {
    if cfg!(feature = "cuda") {
        Ok(Device::new_cuda(0)?)
    } else {
        Err(Error::invalid(
            "--device",
            "this build has no CUDA support; rebuild with `cargo build --release --features cuda`",
        ))
    }
}

fn open_metal() -> Result<Device> {
    if cfg!(feature = "metal") {
        Ok(Device::new_metal(0)?)
    } else {
        Err(Error::invalid(
            "--device",
            "this build has no Metal support; rebuild with `cargo build --release --features metal`",
        ))
    }
}
