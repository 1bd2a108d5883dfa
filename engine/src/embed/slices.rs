//! Embedding fanned out: `embed --shard I/N` embeds the I-th of N contiguous ranges of the
//! dataset's sorted listing into `sets/NAME/slices/IIIII-of-NNNNN/` (shard files, items,
//! skipped pictures, `slice.toml`), so N processes (a Slurm job array, or a shell loop) can
//! run side by side; `sets merge NAME` then lists every slice's shards, in order, in one
//! `set.toml`. No embedding is copied, and the rows are those one process would have made.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Skipped;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::set::shards::{self, SHARD_BYTES};
use crate::set::{
    now_unix, read_items, write_items, Item, SetMeta, CHECKSUM_FILE, ITEMS_FILE, META_FILE,
    REPORT_FILE,
};
use crate::workspace::Workspace;

/// The folder of a set's slices.
pub const SLICES_DIR: &str = "slices";
const SLICE_FILE: &str = "slice.toml";

/// Slice `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slice {
    pub index: usize,
    pub count: usize,
}

impl Slice {
    /// `I/N` with 0 ≤ I < N, or `auto`: the task of a Slurm job array, read from `env`.
    pub fn parse(spec: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        if spec == "auto" {
            return Self::from_slurm(env);
        }
        let parsed = spec
            .split_once('/')
            .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
        match parsed {
            Some((index, count)) if index < count => Ok(Slice { index, count }),
            _ => Err(Error::invalid(
                "--shard",
                format!("'{spec}' must be I/N with 0 ≤ I < N (e.g. 3/16), or auto under a Slurm job array"),
            )),
        }
    }

    /// The array task's place: its id less the array's first id (ids need not start at 0),
    /// of the array's task count.
    fn from_slurm(env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let var = |name: &str| -> Result<usize> {
            env(name).and_then(|v| v.trim().parse().ok()).ok_or_else(|| {
                Error::invalid(
                    "--shard",
                    format!("auto reads {name} from a Slurm job array (sbatch --array), but it is not set here: pass --shard I/N"),
                )
            })
        };
        let (id, min, count) = (
            var("SLURM_ARRAY_TASK_ID")?,
            var("SLURM_ARRAY_TASK_MIN")?,
            var("SLURM_ARRAY_TASK_COUNT")?,
        );
        let index = id.checked_sub(min).filter(|&i| i < count).ok_or_else(|| {
            Error::invalid(
                "--shard",
                format!("Slurm says task {id} of an array of {count} starting at {min}: use ids MIN..MIN+COUNT-1 with no gaps (--array=0-{})", count.saturating_sub(1)),
            )
        })?;
        Ok(Slice { index, count })
    }

    /// The items [start, end) of `total` this slice takes: contiguous, and together the
    /// slices cover every item once, in order.
    pub fn range(self, total: usize) -> Range<usize> {
        self.index * total / self.count..(self.index + 1) * total / self.count
    }

    /// The examples of `total` this slice embeds, in whole chunks of `chunk`: the chunks,
    /// and so the batches within them, of one process embedding everything, whose rows the
    /// slices then equal bit for bit (a matrix product's rounding depends on its batch).
    pub fn chunk_range(self, total: usize, chunk: usize) -> Range<usize> {
        let chunks = self.range(total.div_ceil(chunk));
        (chunks.start * chunk).min(total)..(chunks.end * chunk).min(total)
    }

    /// The slice's folder name, which sorts as the slices do.
    pub fn folder(self) -> String {
        format!("{:05}-of-{:05}", self.index, self.count)
    }
}

/// Where a slice lies in the whole dataset, in the units it was cut in: the merge checks
/// that the slices tile it exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    pub unit: Unit,
    pub start: usize,
    pub end: usize,
    /// The dataset's size in those units.
    pub of: usize,
}

/// What a dataset is cut in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Chunks of this many examples.
    Chunks(usize),
    /// Whole webdataset tars.
    Tars,
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unit::Chunks(n) => write!(f, "chunks of {n}"),
            Unit::Tars => write!(f, "tars"),
        }
    }
}

impl Place {
    /// Examples `range` of `total`, cut in chunks of `chunk`.
    pub fn chunks(range: Range<usize>, total: usize, chunk: usize) -> Self {
        Place {
            unit: Unit::Chunks(chunk),
            start: range.start.div_ceil(chunk),
            end: range.end.div_ceil(chunk),
            of: total.div_ceil(chunk),
        }
    }

    /// Tars `range` of `total`.
    pub fn tars(range: Range<usize>, total: usize) -> Self {
        Place {
            unit: Unit::Tars,
            start: range.start,
            end: range.end,
            of: total,
        }
    }

    /// The slice's first chunk in the whole dataset (0 where it was cut in tars).
    pub fn first_chunk(&self) -> usize {
        match self.unit {
            Unit::Chunks(_) => self.start,
            Unit::Tars => 0,
        }
    }
}

/// `slice.toml`: where a slice lies, how many examples it listed, and its part of the set
/// (shards relative to the slice's folder; source indices counted from its first example).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SliceMeta {
    slice: Slice,
    place: Place,
    examples: usize,
    set: SetMeta,
}

/// What a slice holds, for `publish`.
pub struct SliceFiles<'a> {
    pub slice: Slice,
    pub place: Place,
    /// Examples listed (embedded or skipped).
    pub examples: usize,
    pub meta: SetMeta,
    /// [meta.count, meta.dim]
    pub embeddings: &'a [f32],
    pub items: &'a [Item],
    pub skipped: &'a [Skipped],
}

/// Writes a finished slice into `sets/NAME/slices/`, replacing an earlier try of the same
/// slice only once this one is complete.
pub fn publish(ws: &Workspace, files: &SliceFiles) -> Result<PathBuf> {
    let set_dir = ws.set_dir(&files.meta.name);
    let slices = set_dir.join(SLICES_DIR);
    fsutil::create_dir(&slices)?;
    let folder = files.slice.folder();
    remove_leftovers(&slices, &folder);
    let staging = slices.join(format!(".{folder}.partial-{}", fsutil::temp_tag()));
    fsutil::create_dir(&staging)?;
    if let Err(e) = write_slice(&staging, files) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    let target = slices.join(&folder);
    fsutil::replace_dir(&staging, &target)?;
    Ok(target)
}

/// A set embedded in one piece is not sliced, and one in slices is not replaced whole
/// (which would delete its slices).
pub fn check_name(ws: &Workspace, name: &str, slicing: bool) -> Result<()> {
    let set_dir = ws.set_dir(name);
    let meta_path = set_dir.join(META_FILE);
    let whole = meta_path.is_file() && fsutil::read_toml::<SetMeta>(&meta_path)?.shards.is_empty();
    if slicing && whole {
        return Err(Error::invalid(
            "--name",
            format!("set '{name}' exists and was embedded in one piece; embed the slices under another --name"),
        ));
    }
    if !slicing && set_dir.join(SLICES_DIR).exists() {
        return Err(Error::invalid(
            "--name",
            format!("set '{name}' is made of slices (`embed --shard`), which a whole embed would delete: embed under another --name, or remove {} first", set_dir.display()),
        ));
    }
    Ok(())
}

/// What earlier, killed tries of this slice left half-written (other slices' are theirs).
fn remove_leftovers(slices: &Path, folder: &str) {
    let Ok(entries) = std::fs::read_dir(slices) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!(".{folder}.")) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn write_slice(dir: &Path, files: &SliceFiles) -> Result<()> {
    let shards = shards::write_shards(dir, files.embeddings, files.meta.dim, SHARD_BYTES)?;
    write_items(&dir.join(ITEMS_FILE), files.items)?;
    fsutil::write_json(
        &dir.join(REPORT_FILE),
        &serde_json::json!({ "skipped": files.skipped }),
    )?;
    let meta = SliceMeta {
        slice: files.slice,
        place: files.place.clone(),
        examples: files.examples,
        set: SetMeta {
            shards,
            ..files.meta.clone()
        },
    };
    fsutil::write_toml(&dir.join(SLICE_FILE), &meta)
}

/// What `sets merge` made.
#[derive(Debug, Clone, Serialize)]
pub struct Merged {
    pub set: String,
    pub slices: usize,
    pub rows: usize,
    pub shards: usize,
    pub skipped: usize,
}

/// Joins the set's finished slices into one sharded set, naming the slices still missing.
/// `tasks` gives the zero-shot tasks the merged items carry labels for.
pub fn merge(ws: &Workspace, name: &str, tasks: impl Fn(&[Item]) -> Vec<String>) -> Result<Merged> {
    crate::workspace::validate_name("set", name)?;
    let set_dir = ws.set_dir(name);
    let slices = read_slices(&set_dir.join(SLICES_DIR), name)?;
    let (mut items, mut skipped, mut shards) = (Vec::new(), Vec::new(), Vec::new());
    let mut norm_sum = Some(0.0f64);
    // Examples of the slices before this one: what its source indices count from.
    let mut before = 0;
    for (folder, s) in &slices {
        let dir = set_dir.join(SLICES_DIR).join(folder);
        for mut item in read_items(&dir.join(ITEMS_FILE))? {
            item.id = items.len();
            item.source_index = item.source_index.map(|i| i + before);
            items.push(item);
        }
        let report: serde_json::Value = fsutil::read_json(&dir.join(REPORT_FILE))?;
        let list: Vec<Skipped> =
            serde_json::from_value(report["skipped"].clone()).unwrap_or_default();
        skipped.extend(list.into_iter().map(|k| Skipped {
            source_index: k.source_index + before,
            ..k
        }));
        before += s.examples;
        shards.extend(
            s.set
                .shards
                .iter()
                .map(|e| e.under(&format!("{SLICES_DIR}/{folder}"))),
        );
        norm_sum = norm_sum
            .zip(s.set.mean_norm)
            .map(|(t, m)| t + m as f64 * s.set.count as f64);
    }
    let first = &slices[0].1.set;
    if items.is_empty() {
        return Err(Error::invalid(
            "sets merge",
            format!("the slices of '{name}' hold no rows: none of their pictures could be read (see each slice's report.json)"),
        ));
    }
    let meta = SetMeta {
        name: name.to_string(),
        count: items.len(),
        created: now_unix(),
        tasks: tasks(&items),
        mean_norm: norm_sum.map(|t| (t / items.len() as f64) as f32),
        shards,
        ..first.clone()
    };
    // A merge again first takes the folder out of the sets, so no reader sees the new items
    // beside the old listing.
    let meta_path = set_dir.join(META_FILE);
    if meta_path.exists() {
        std::fs::remove_file(&meta_path)
            .map_err(|e| Error::io("could not replace", &meta_path, e))?;
    }
    write_items(&set_dir.join(ITEMS_FILE), &items)?;
    fsutil::write_json(
        &set_dir.join(REPORT_FILE),
        &serde_json::json!({ "skipped": &skipped }),
    )?;
    fsutil::write_atomic(
        &set_dir.join(CHECKSUM_FILE),
        shards::combined_checksum(&meta.shards).as_bytes(),
    )?;
    // Last: set.toml is what makes the folder a set.
    fsutil::write_toml(&set_dir.join(META_FILE), &meta)?;
    Ok(Merged {
        set: name.to_string(),
        slices: slices.len(),
        rows: meta.count,
        shards: meta.shards.len(),
        skipped: skipped.len(),
    })
}

/// Every slice of the folder, in order, when all N of one job are there and agree on what
/// they embed; else the error names what is missing or differs.
/// A set name whose slices are embedded (some or all) but not merged yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmerged {
    pub name: String,
    /// Slices finished, of how many.
    pub done: usize,
    pub of: usize,
}

/// The workspace's set names with finished slices and no `set.toml`: what `saelab sets`
/// mentions so they are not forgotten. A slice that cannot be read is not counted.
pub fn unmerged(ws: &Workspace) -> Result<Vec<Unmerged>> {
    let mut found = Vec::new();
    for name in Workspace::list_names(&ws.sets_dir())? {
        let dir = ws.set_dir(&name);
        if dir.join(META_FILE).is_file() {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(dir.join(SLICES_DIR)) else {
            continue;
        };
        let slices: Vec<SliceMeta> = entries
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .filter_map(|e| fsutil::read_toml(&e.path().join(SLICE_FILE)).ok())
            .collect();
        if let Some(first) = slices.first() {
            found.push(Unmerged {
                name,
                done: slices.len(),
                of: first.slice.count,
            });
        }
    }
    Ok(found)
}

fn read_slices(dir: &Path, name: &str) -> Result<Vec<(String, SliceMeta)>> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let folder = entry.file_name().to_string_lossy().into_owned();
            if folder.starts_with('.') {
                continue;
            }
            let meta: SliceMeta = fsutil::read_toml(&entry.path().join(SLICE_FILE))?;
            found.push((folder, meta));
        }
    }
    found.sort_by_key(|(_, m)| (m.slice.count, m.slice.index));
    let Some((_, first)) = found.first() else {
        return Err(Error::invalid(
            "sets merge",
            format!("set '{name}' has no slices: embed them first with `saelab embed ... --name {name} --shard I/N`"),
        ));
    };
    let count = first.slice.count;
    if let Some((folder, m)) = found.iter().find(|(_, m)| m.slice.count != count) {
        return Err(Error::bad_file(
            dir.join(folder),
            format!(
                "is a slice of a {}-way split, not of the {count}-way split beside it; remove one split's slices and merge again",
                m.slice.count
            ),
        ));
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| !found.iter().any(|(_, m)| m.slice.index == *i))
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(Error::invalid(
            "sets merge",
            format!(
                "slice{} {} of {count} of '{name}' {} missing: run `saelab embed ... --name {name} --shard I/{count}` for each, then merge again",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", "),
                if missing.len() == 1 { "is" } else { "are" }
            ),
        ));
    }
    check_agree(dir, &found)?;
    Ok(found)
}

/// Slices of one job: the same model, source, split, dimension and preparation, cut in the
/// same units, and tiling the whole dataset with no gap or overlap.
fn check_agree(dir: &Path, slices: &[(String, SliceMeta)]) -> Result<()> {
    let (first, a) = (&slices[0].0, &slices[0].1);
    let mut next = 0;
    for (folder, s) in slices {
        let (x, y) = (&a.set, &s.set);
        let same = (&x.model, &x.source, &x.split, x.dim, &x.preprocessing)
            == (&y.model, &y.source, &y.split, y.dim, &y.preprocessing);
        if !same {
            return Err(Error::bad_file(
                dir.join(folder),
                format!(
                    "is not a slice of the same embedding as {first} (model {}, source {}): re-embed it with the same options",
                    x.model, x.source
                ),
            ));
        }
        let p = &s.place;
        if p.unit != a.place.unit || p.of != a.place.of || p.start != next {
            return Err(Error::bad_file(
                dir.join(folder),
                format!(
                    "covers {} {}..{} of {}, where the slice before it ends at {next} of {} {}: the slices were cut differently (another --chunk, or a dataset that changed); re-embed them alike",
                    p.unit, p.start, p.end, p.of, a.place.of, a.place.unit
                ),
            ));
        }
        next = p.end;
    }
    if next != a.place.of {
        return Err(Error::bad_file(
            dir.join(&slices[slices.len() - 1].0),
            format!("ends at {next} {} of {}: the last slice does not reach the dataset's end; re-embed it", a.place.unit, a.place.of),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn slices_cover_every_example_once_in_order() {
        for (total, n) in [(10, 3), (3, 5), (0, 2), (31_783, 64)] {
            let mut next = 0;
            for index in 0..n {
                let r = Slice { index, count: n }.range(total);
                assert_eq!(r.start, next);
                next = r.end;
            }
            assert_eq!(next, total);
        }
    }

    #[test]
    fn slices_are_whole_chunks() {
        let ranges: Vec<Range<usize>> = (0..3)
            .map(|index| Slice { index, count: 3 }.chunk_range(17, 4))
            .collect();
        assert_eq!(ranges, [0..4, 4..12, 12..17]);
        assert_eq!(Slice { index: 1, count: 4 }.chunk_range(5, 512), 0..0);
    }

    #[test]
    fn shard_specs_and_slurm_arrays() {
        let none = env(&[]);
        assert_eq!(
            Slice::parse("3/16", &none).unwrap(),
            Slice {
                index: 3,
                count: 16
            }
        );
        for bad in ["16/16", "3", "a/b", "-1/4", "1/0"] {
            assert!(Slice::parse(bad, &none).is_err(), "{bad}");
        }
        let err = Slice::parse("auto", &none).unwrap_err().to_string();
        assert!(err.contains("SLURM_ARRAY_TASK_ID"), "{err}");
        // An array submitted as --array=5-8: task 7 is the third of four.
        let array = env(&[
            ("SLURM_ARRAY_TASK_ID", "7"),
            ("SLURM_ARRAY_TASK_MIN", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(
            Slice::parse("auto", array).unwrap(),
            Slice { index: 2, count: 4 }
        );
        let gappy = env(&[
            ("SLURM_ARRAY_TASK_ID", "9"),
            ("SLURM_ARRAY_TASK_MIN", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert!(Slice::parse("auto", gappy).is_err());
        assert_eq!(
            Slice {
                index: 2,
                count: 16
            }
            .folder(),
            "00002-of-00016"
        );
    }
}
