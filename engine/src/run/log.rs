//! `metrics.jsonl`: one JSON object per logged step, appended while training so that another
//! process (the lab, `tail -f`) can watch a run grow.

use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil;
use crate::sae::Arch;

/// One logged step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    /// Steps taken (1-based: the row is written after step `step`).
    pub step: u64,
    /// Epoch the step belongs to (0-based).
    pub epoch: u64,
    pub examples: u64,
    pub loss: f64,
    pub mse: f64,
    pub l1: f64,
    pub avg_l0: f64,
    /// 1 − MSE / the set's per-element variance: the batch's share of variance explained
    /// (absent from logs written before it was added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r2: Option<f64>,
    /// Share of latents not fired for the run's `dead_after` steps (TopK family, JumpReLU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_frac: Option<f64>,
    /// The SAE family, and k where it has one (absent from logs written before families).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<Arch>,
    #[serde(default)]
    pub k: Option<usize>,
    pub examples_per_sec: f64,
    /// Seconds since the Unix epoch.
    pub time: f64,
}

/// Appends one row and flushes it, so readers see whole lines only.
pub fn append(path: &Path, row: &MetricsRow) -> Result<()> {
    let mut line = serde_json::to_string(row).expect("plain data serialises");
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io("could not open", path, e))?;
    file.write_all(line.as_bytes())
        .map_err(|e| Error::io("could not append to", path, e))
}

/// Every complete row of the log (a torn last line, from a crash mid-write, is skipped).
pub fn read(path: &Path) -> Result<Vec<MetricsRow>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("could not open", path, e)),
    };
    Ok(std::io::BufReader::new(file)
        .lines()
        .map_while(|l| l.ok())
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect())
}

/// Drops rows after `step` (they belong to work lost since the last checkpoint).
pub fn truncate_after(path: &Path, step: u64) -> Result<()> {
    let rows = read(path)?;
    if rows.iter().all(|r| r.step <= step) {
        return Ok(());
    }
    let mut text = String::new();
    for r in rows.iter().filter(|r| r.step <= step) {
        text += &serde_json::to_string(r).expect("plain data serialises");
        text.push('\n');
    }
    fsutil::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_written_before_r2_still_read() {
        let old = r#"{"step":5,"epoch":0,"examples":1280,"loss":1.0,"mse":0.5,"l1":0.1,"avg_l0":3.0,"examples_per_sec":10.0,"time":0.0}"#;
        let row: MetricsRow = serde_json::from_str(old).unwrap();
        assert_eq!((row.step, row.r2), (5, None));
    }

    fn row(step: u64) -> MetricsRow {
        MetricsRow {
            step,
            epoch: 0,
            examples: step * 2,
            loss: 1.0,
            mse: 0.5,
            l1: 0.1,
            avg_l0: 3.0,
            r2: Some(0.9),
            dead_frac: None,
            arch: Some(Arch::TopK),
            k: Some(32),
            examples_per_sec: 10.0,
            time: 0.0,
        }
    }

    #[test]
    fn append_read_truncate_and_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        for s in [5, 10, 15] {
            append(&path, &row(s)).unwrap();
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"step\": 2")
            .unwrap();
        assert_eq!(read(&path).unwrap().len(), 3);
        truncate_after(&path, 10).unwrap();
        let steps: Vec<u64> = read(&path).unwrap().iter().map(|r| r.step).collect();
        assert_eq!(steps, vec![5, 10]);
    }
}
