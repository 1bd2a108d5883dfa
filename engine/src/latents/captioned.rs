//! Caption labels, the study's method: each latent's top images are captioned with BLIP and
//! the captions summarised (`caption::summarise`). Captions are cached per set and captioner,
//! so runs of one set share them and an interrupted labelling resumes.
//!
//! Categories follow the CLIP labels' rules (`label::category`) with one difference: a label
//! is clear when its first key word is in at least [`MIN_AGREEMENT`] of the captions.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use super::analysis::Analysis;
use super::label::{category, Category, Label, DEAD};
use crate::caption::{summarise, CaptionCache, Captioner};
use crate::error::{Error, Result};
use crate::fsutil;

pub const CAPTION_LABELS_FILE: &str = "caption_labels.json";
/// A caption label is clear when its first word is in this share of the captions.
pub const MIN_AGREEMENT: f32 = 0.5;
/// Top images captioned per latent unless asked otherwise.
pub const DEFAULT_CAPTIONED: usize = 8;
/// Pictures encoded together.
const BATCH: usize = 8;

/// A caption label, with the captions it summarises.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptionedLabel {
    #[serde(flatten)]
    pub label: Label,
    /// The captions of the latent's top images, best first.
    pub captions: Vec<String>,
}

/// What labelling by captions needs.
pub struct CaptionJob<'a> {
    pub latents: &'a [usize],
    /// Top images captioned per latent.
    pub per_latent: usize,
    pub cancel: &'a AtomicBool,
}

impl Analysis {
    fn captioned_rows(&self, j: usize, per_latent: usize) -> Vec<usize> {
        let top = &self.index.latents[j].top;
        top.iter()
            .take(per_latent)
            .map(|&(_, r)| r as usize)
            .collect()
    }

    /// Captions every picture the job's latents need that `cache` lacks, saving the cache
    /// after each batch; `progress(done, total)` is told after each.
    pub fn caption_pictures(
        &self,
        captioner: &Captioner,
        cache: &mut CaptionCache,
        job: &CaptionJob,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<()> {
        let m = self.labels.len();
        if let Some(&bad) = job.latents.iter().find(|&&j| j >= m) {
            return Err(Error::invalid(
                "latent",
                format!("{bad} is out of range: the SAE has {m} latents"),
            ));
        }
        let rows: BTreeSet<usize> = job
            .latents
            .iter()
            .flat_map(|&j| self.captioned_rows(j, job.per_latent))
            .filter(|&r| cache.get(r).is_none())
            .collect();
        let rows: Vec<usize> = rows.into_iter().collect();
        let pictures = self.pictures()?;
        progress(0, rows.len());
        for (b, batch) in rows.chunks(BATCH).enumerate() {
            if job.cancel.load(Ordering::SeqCst) {
                break;
            }
            let (readable, images): (Vec<usize>, Vec<_>) = batch
                .iter()
                .filter_map(|&r| pictures.decoded(r).map(|img| (r, img)))
                .unzip();
            for (&r, caption) in readable.iter().zip(captioner.caption(&images)?) {
                cache.insert(r, caption);
            }
            cache.save()?;
            progress((b * BATCH + batch.len()).min(rows.len()), rows.len());
        }
        Ok(())
    }

    /// Caption labels of the job's latents from the cached captions (pictures that could
    /// not be read have none), merged into the run's `caption_labels.json`.
    pub fn caption_labels(
        &self,
        cache: &CaptionCache,
        job: &CaptionJob,
    ) -> Result<Vec<CaptionedLabel>> {
        let labels: Vec<CaptionedLabel> = job
            .latents
            .iter()
            .map(|&j| {
                let captions: Vec<String> = self
                    .captioned_rows(j, job.per_latent)
                    .into_iter()
                    .filter_map(|r| cache.get(r).cloned())
                    .collect();
                caption_label(self, j, captions)
            })
            .collect();
        let path = self.run.path(super::LATENTS_DIR).join(CAPTION_LABELS_FILE);
        let mut all = saved_caption_labels(self).unwrap_or_default();
        all.retain(|l| !job.latents.contains(&l.label.latent));
        all.extend(labels.iter().cloned());
        all.sort_by_key(|l| l.label.latent);
        fsutil::write_json(&path, &all)?;
        Ok(labels)
    }
}

fn caption_label(an: &Analysis, j: usize, captions: Vec<String>) -> CaptionedLabel {
    let s = summarise(&captions);
    let category = category(&an.index, j, s.agreement >= MIN_AGREEMENT);
    let description = if category == Category::Dead {
        DEAD.to_string()
    } else {
        s.description
    };
    CaptionedLabel {
        label: Label {
            latent: j,
            category,
            top_words: s.top_words,
            scores: Vec::new(),
            confidence: s.agreement,
            description,
        },
        captions,
    }
}

/// The caption labels a run has so far, by latent.
pub fn saved_caption_labels(an: &Analysis) -> Result<Vec<CaptionedLabel>> {
    fsutil::read_json(&an.run.path(super::LATENTS_DIR).join(CAPTION_LABELS_FILE))
}
