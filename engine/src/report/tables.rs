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

/// The evaluation cards, a row per run: fidelity, firing, decoder similarity, zero-shot
/// recovered and sparse probing where measured.
pub fn card_table(cards: &[crate::card::Card]) -> String {
    let pct = |v: f64| format!("{:.1}%", 100.0 * v);
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let cells: Vec<Vec<String>> = cards
        .iter()
        .map(|c| {
            let f = &c.fidelity;
            let z = c.zeroshot.as_ref();
            let p = c.probing.as_ref();
            vec![
                c.run.clone(),
                format!("{:.4}", f.cosine),
                format!("{:.3}", f.l2_ratio),
                pct(f.alive_frac),
                pct(f.over_1pct_frac),
                pct(f.over_10pct_frac),
                format!("{:.3}", f.decoder_cos_mean),
                format!("{:.3}", f.decoder_cos_max),
                or_dash(z.map(|z| format!("{:.3}", z.accuracy_recovered))),
                or_dash(z.map(|z| format!("{:.3}", z.loss_recovered))),
                or_dash(p.map(|p| format!("{:.3}", p.single_latent))),
                or_dash(p.map(|p| format!("{:.3}", p.top5_logistic))),
            ]
        })
        .collect();
    markdown(
        &[
            "run",
            "cos(x, x̂)",
            "‖x̂‖/‖x‖",
            "alive",
            ">1%",
            ">10%",
            "dec cos mean",
            "dec cos max",
            "acc recovered",
            "loss recovered",
            "probe 1 latent",
            "probe 5 latents",
        ],
        &cells,
    )
}

/// What the card's columns mean, under its table.
pub const CARD_LEGEND: &str = "cos(x, x̂) and ‖x̂‖/‖x‖ are means over rows (a ratio under 1 is shrinkage); alive, >1% and >10% are the shares of latents firing on any, more than 1% and more than 10% of rows; dec cos mean is the mean |cosine| between two decoder rows, dec cos max the largest cosine. Accuracy and loss recovered compare zero-shot classification through the SAE with the clean embedding and with the embedding mean-ablated: (A_sae − A_ablated) / (A_clean − A_ablated) and (L_ablated − L_sae) / (L_ablated − L_clean), with L the cross-entropy of softmax(100 · cosine). The probes are the balanced accuracies, on a held-out fifth of the rows, of the best single latent and of a logistic probe on the five best, one class against the rest, averaged over the 20 most frequent labels.";
