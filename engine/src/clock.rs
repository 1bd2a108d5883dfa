//! Wall-clock time as the workspace records it: seconds since the Unix epoch (zero on a clock
//! set before 1970).

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch, fractional (metrics log rows).
pub fn unix_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Whole seconds since the epoch (creation and update stamps, unique folder names).
pub fn now_unix() -> u64 {
    unix_seconds() as u64
}
