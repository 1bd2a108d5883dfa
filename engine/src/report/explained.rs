//! The report's explained examples: a picture, a text query and a class of the latents run's
//! set, each in terms of the run's latents (`saelab explain`).

use std::fmt::Write as _;

use super::latents::latent_run;
use super::table::markdown;
use super::{ReportRequest, Writer, COLLAGES_DIR};
use crate::error::Result;
use crate::explain::{Explainer, LatentScore};
use crate::latents::{analyse, DEFAULT_TOP};
use crate::run::RunSummary;
use crate::steer::ImageRef;

/// Latents shown per example.
const SHOWN: usize = 5;

pub(super) fn explained_section(
    w: &mut Writer,
    req: &ReportRequest,
    runs: &[RunSummary],
) -> Result<()> {
    let _ = writeln!(w.doc, "## Explained examples\n");
    let Some(run) = latent_run(w.ws, req, runs)? else {
        w.missing("No latent index yet: `saelab latents RUN` builds one (then run the report again); `saelab explain` explains with it.");
        return Ok(());
    };
    let analysis = analyse(w.ws, &run.run, DEFAULT_TOP)?;
    let mut ex = Explainer::new(w.ws, analysis, None)?;
    let _ = writeln!(w.doc, "Run `{}`, as `saelab explain` answers. A picture's score is each latent's share of the reconstruction along the embedding; a text's, its activation times its decoder row's length after the text is moved across the gap between text and image embeddings; a class's, its mean part of the classifier's margin over the runner-up, on the set's pictures predicted as the class.\n", run.run);

    let image = ex.image(&ImageRef::Row(0), SHOWN)?;
    let _ = writeln!(w.doc, "### A picture: {} (row 0)\n", image.description);
    table(w, &mut ex, &image.latents)?;
    if let Some(m) = &image.prediction {
        w.para(format_args!(
            "On {}, CLIP predicts **{}** over {} by a margin of {:.3}: latents {:.3}, decoder bias {:.3}, reconstruction error {:.3}.",
            m.task, m.class, m.runner_up, m.margin, m.latents, m.bias, m.error
        ));
    }

    let classes = ex.classes();
    let query = classes.first().cloned().unwrap_or_else(|| "a photo".into());
    let text = ex.text(&query, SHOWN)?;
    let _ = writeln!(w.doc, "### A text: \"{}\"\n", text.text);
    table(w, &mut ex, &text.latents)?;

    let Some(name) = classes.first() else {
        w.missing("The set has no zero-shot task, so no class is explained: `saelab explain RUN --class NAME --task T` names one.");
        return Ok(());
    };
    let class = ex.class(name, SHOWN)?;
    let _ = writeln!(
        w.doc,
        "### A class: {} of {} ({} pictures predicted as it)\n",
        class.class, class.task, class.pictures
    );
    let latents: Vec<LatentScore> = class.latents.iter().map(|l| l.latent.clone()).collect();
    table(w, &mut ex, &latents)?;
    Ok(())
}

/// The latents with their collages.
fn table(w: &mut Writer, ex: &mut Explainer, latents: &[LatentScore]) -> Result<()> {
    let collages = w.out.join(COLLAGES_DIR);
    let mut rows = Vec::new();
    for l in latents {
        let file = ex.analysis().collage_in(&collages, l.latent)?;
        let name = file
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        rows.push(vec![
            l.latent.to_string(),
            format!("{:.4}", l.score),
            l.label.clone(),
            format!("![]({COLLAGES_DIR}/{name})"),
        ]);
    }
    let _ = writeln!(
        w.doc,
        "{}",
        markdown(&["latent", "score", "label", "collage"], &rows)
    );
    Ok(())
}
