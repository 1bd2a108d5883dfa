//! The report's latents section: collages and labels of chosen latents, and the label CSV.

use std::fmt::Write as _;

use super::table::markdown;
use super::{sanitize, ReportRequest, Writer, COLLAGES_DIR};
use crate::error::{Error, Result};
use crate::latents::{analyse, Analysis, Category, DEFAULT_TOP, INDEX_FILE, LATENTS_DIR};
use crate::run::{RunDir, RunSummary, Status};
use crate::workspace::Workspace;

/// Latents shown per choice rule (most frequent, most confident).
const SHOWN_PER_RULE: usize = 3;

/// The run whose latents are shown: the one asked for, or the first finished run with an index.
pub(super) fn latent_run<'a>(
    ws: &Workspace,
    req: &ReportRequest,
    runs: &'a [RunSummary],
) -> Result<Option<&'a RunSummary>> {
    if let Some(name) = req.latent_run {
        return runs
            .iter()
            .find(|r| r.run == name)
            .map(Some)
            .ok_or_else(|| {
                Error::invalid(
                    "--latent-run",
                    format!("run '{name}' is not among the reported runs"),
                )
            });
    }
    Ok(runs.iter().find(|r| {
        r.status == Status::Done
            && RunDir::new(ws, &r.run)
                .path(LATENTS_DIR)
                .join(INDEX_FILE)
                .is_file()
    }))
}

/// Which latents to show: the most frequent, the most confident, and the user's.
fn chosen_latents(an: &Analysis, extra: &[usize]) -> Vec<(&'static str, usize)> {
    let alive: Vec<usize> = (0..an.labels.len())
        .filter(|&j| an.labels[j].category != Category::Dead)
        .collect();
    let mut frequent = alive.clone();
    frequent.sort_by(|&a, &b| {
        an.index.latents[b]
            .active
            .cmp(&an.index.latents[a].active)
            .then(a.cmp(&b))
    });
    let mut confident: Vec<usize> = alive
        .iter()
        .copied()
        .filter(|&j| an.labels[j].category == Category::Semantic)
        .collect();
    confident.sort_by(|&a, &b| an.labels[b].confidence.total_cmp(&an.labels[a].confidence));
    let mut out: Vec<(&'static str, usize)> = Vec::new();
    let push = |kind: &'static str, j: usize, out: &mut Vec<(&'static str, usize)>| {
        if !out.iter().any(|&(_, k)| k == j) {
            out.push((kind, j));
        }
    };
    frequent
        .iter()
        .take(SHOWN_PER_RULE)
        .for_each(|&j| push("most frequent", j, &mut out));
    confident
        .iter()
        .take(SHOWN_PER_RULE)
        .for_each(|&j| push("most confident", j, &mut out));
    extra.iter().for_each(|&j| push("chosen", j, &mut out));
    out
}

pub(super) fn latents_section(
    w: &mut Writer,
    req: &ReportRequest,
    runs: &[RunSummary],
) -> Result<()> {
    let _ = writeln!(w.doc, "## Interpretation of SAE latents\n");
    let Some(run) = latent_run(w.ws, req, runs)? else {
        w.missing(
            "No latent index yet: `saelab latents RUN` builds one (then run the report again).",
        );
        return Ok(());
    };
    let an = analyse(w.ws, &run.run, DEFAULT_TOP)?;
    if let Some(&bad) = req.latents.iter().find(|&&j| j >= an.labels.len()) {
        return Err(Error::invalid(
            "--latents",
            format!(
                "{bad} is out of range: the SAE has {} latents",
                an.labels.len()
            ),
        ));
    }
    let collages = req.out.join(COLLAGES_DIR);
    let _ = writeln!(w.doc, "Run `{}`: the top {} images of each latent, with labels from the built-in vocabulary scored by the set's text encoder.\n", run.run, an.index.k);
    let mut rows = Vec::new();
    for (kind, j) in chosen_latents(&an, req.latents) {
        let file = an.collage_in(&collages, j)?;
        let name = file
            .file_name()
            .expect("collage files have names")
            .to_string_lossy()
            .into_owned();
        let l = &an.labels[j];
        rows.push(vec![
            kind.to_string(),
            l.category.name().into(),
            j.to_string(),
            format!("![]({COLLAGES_DIR}/{name})"),
            l.description.clone(),
        ]);
    }
    let _ = writeln!(
        w.doc,
        "{}",
        markdown(
            &["choice", "type", "latent", "collage", "auto-interpretation"],
            &rows
        )
    );
    let count = req.csv_latents.min(an.labels.len());
    let csv_name = format!("latents_{}.csv", sanitize(&run.run));
    let ids: Vec<usize> = (0..count).collect();
    an.write_csv(&req.out.join(&csv_name), &ids, &collages)?;
    let _ = writeln!(
        w.doc,
        "Automatic labels of latents 0 to {}: [{csv_name}]({csv_name}).\n",
        count.saturating_sub(1)
    );
    if let Some(g) = an.agreement()? {
        let _ = writeln!(w.doc,
            "Against the demo world's ground truth, the best word names the closest concept for {}/{} latents that lie within cosine 0.5 of a concept.\n",
            g.concept.0, g.concept.1
        );
    }
    Ok(())
}
