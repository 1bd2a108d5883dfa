//! Tables shared by `saelab metrics` and the report.

use super::table::markdown;
use crate::run::{format_lambda, RunSummary};
use crate::sae::Arch;

/// The study's metrics table plus FVU, dead/dense, (demo) ground-truth scores and speed;
/// with an arch and k column once any run is not the study's ReLU.
pub fn metrics_table(runs: &[RunSummary]) -> String {
    let with_gt = runs.iter().any(|r| {
        r.results
            .as_ref()
            .is_some_and(|x| x.metrics.gt_recovery.is_some())
    });
    let with_arch = runs.iter().any(|r| r.config.train.arch != Arch::Relu);
    let mut headers = vec!["run"];
    if with_arch {
        headers.extend(["arch", "k"]);
    }
    headers.extend([
        "λ", "L1", "dict", "avg L0", "MSE", "L1 term", "R²", "FVU", "dead", "dense",
    ]);
    if with_gt {
        headers.extend(["gt recovery", "gt > 0.9", "gt mcc", "gt F1"]);
    }
    headers.extend(["ex/s", "epochs"]);
    let cells: Vec<Vec<String>> = runs
        .iter()
        .map(|r| metrics_cells(r, with_arch, with_gt))
        .collect();
    markdown(&headers, &cells)
}

fn metrics_cells(r: &RunSummary, with_arch: bool, with_gt: bool) -> Vec<String> {
    let t = &r.config.train;
    let dash = || "-".to_string();
    let mut cells = vec![r.run.clone()];
    if with_arch {
        cells.push(t.arch.name().into());
        cells.push(t.shown_k().map(|k| k.to_string()).unwrap_or_else(dash));
    }
    cells.extend([
        t.shown_lambda().map(format_lambda).unwrap_or_else(dash),
        t.l1.name().into(),
        t.dict.to_string(),
    ]);
    match &r.results {
        Some(res) => {
            let m = &res.metrics;
            cells.extend([
                format!("{:.1}", m.avg_l0),
                format!("{:.3e}", m.mse),
                format!("{:.4e}", m.l1),
                format!("{:.4}", m.r2),
                format!("{:.4}", m.fvu),
                format!("{:.1}%", 100.0 * m.dead_frac),
                format!("{:.1}%", 100.0 * m.dense_frac),
            ]);
            if with_gt {
                cells.push(
                    m.gt_recovery
                        .map(|g| format!("{g:.3}"))
                        .unwrap_or_else(dash),
                );
                cells.push(
                    m.gt_recovered_frac
                        .map(|f| format!("{:.0}%", 100.0 * f))
                        .unwrap_or_else(dash),
                );
            }
            if with_gt {
                for v in [m.gt_mcc, m.gt_f1] {
                    cells.push(v.map(|g| format!("{g:.3}")).unwrap_or_else(dash));
                }
            }
            cells.push(format!("{:.0}", res.examples_per_sec));
        }
        None => {
            let n = 8 + if with_gt { 4 } else { 0 };
            cells.extend(std::iter::repeat_with(dash).take(n));
        }
    }
    cells.push(t.epochs.to_string());
    cells
}
