//! Embedding sets: one on-disk format for every source.
//!
//! `sets/NAME/embeddings.safetensors` holds one f32 tensor `embeddings` [N, d], memory-mapped so
//! that every reader (several runs of a sweep, the TUI) shares one copy in the page cache. A
//! sharded set (`shards.rs`) is read a piece at a time (`stream.rs`): training, the whole-set
//! metrics and the latent index never hold it whole; readers that need every row at once
//! ([`EmbeddingSet::data`]) read it into memory on first use.

mod batches;
pub mod import;
mod meta;
pub mod shards;
pub mod stream;
mod write;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use memmap2::Mmap;
use safetensors::SafeTensors;

pub use crate::clock::now_unix;
pub use batches::{epoch_order, steps_per_epoch, BatchPlan};
pub use meta::{Item, SetMeta};
pub use stream::{Shards, ShuffleStream};
pub use write::{write_items, write_set, GroundTruth, SetFiles};

use super::error::{Error, Result};
use super::fsutil;
use super::tensorfile::{self, TensorFile};
use super::workspace::Workspace;

pub const EMBEDDINGS_FILE: &str = "embeddings.safetensors";
pub const EMBEDDINGS_TENSOR: &str = "embeddings";
pub const META_FILE: &str = "set.toml";
pub const ITEMS_FILE: &str = "items.jsonl";
pub const GROUND_TRUTH_FILE: &str = "ground_truth.safetensors";
/// What the embed job skipped, and why.
pub const REPORT_FILE: &str = "report.json";
/// The embeddings' checksum, taken when the set was written.
pub const CHECKSUM_FILE: &str = "checksum";

/// The checksum of the embeddings' bytes: what tells a re-created set from the one
/// a run began on when their shapes agree.
pub fn checksum_of(data: &[f32]) -> String {
    crate::checksum::of(&[bytemuck::cast_slice::<f32, u8>(data)])
}

enum Storage {
    Mapped {
        map: Mmap,
        start: usize,
        len: usize,
    },
    Owned(Vec<f32>),
    /// Read a piece at a time; `whole` is filled by the first reader that needs every row.
    Sharded {
        shards: Arc<Shards>,
        whole: OnceLock<Vec<f32>>,
    },
}

/// Rows read a piece at a time, in order: a whole set, or a slice in memory.
pub trait RowSource {
    fn dim(&self) -> usize;
    /// Calls `f` with consecutive pieces of at most `piece` rows ([rows, dim] each).
    fn each_piece(&self, piece: usize, f: &mut dyn FnMut(&[f32]) -> Result<()>) -> Result<()>;
}

/// Rows held in memory. [rows, dim]
pub struct InMemory<'a> {
    pub data: &'a [f32],
    pub dim: usize,
}

impl<'a> InMemory<'a> {
    pub fn new(data: &'a [f32], dim: usize) -> Self {
        InMemory { data, dim }
    }
}

impl RowSource for InMemory<'_> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn each_piece(&self, piece: usize, f: &mut dyn FnMut(&[f32]) -> Result<()>) -> Result<()> {
        self.data
            .chunks(piece.max(1) * self.dim.max(1))
            .try_for_each(f)
    }
}

/// An opened embedding set.
pub struct EmbeddingSet {
    pub dir: PathBuf,
    pub meta: SetMeta,
    storage: Storage,
    /// Taken once: for a sharded set each pass reads every shard.
    stats: OnceLock<DataStats>,
}

/// Per-dimension mean and total sum of squares about it, in f64, for R².
#[derive(Debug, Clone)]
pub struct DataStats {
    pub mean: Vec<f64>,
    /// Σ_rows ‖x − x̄‖².
    pub sst: f64,
    /// Mean over rows of ‖x‖.
    pub mean_norm: f64,
}

/// Rows a piece of the statistics pass reads at once.
const STATS_PIECE: usize = 16384;

impl DataStats {
    /// Statistics of row-major data of width `d`.
    pub fn of(data: &[f32], d: usize) -> Self {
        let mut sums = StatsSums::new(d);
        sums.add(data);
        sums.finish()
    }

    /// Statistics of every row of `rows`, read a piece at a time.
    pub fn read(rows: &dyn RowSource) -> Result<Self> {
        let mut sums = StatsSums::new(rows.dim());
        rows.each_piece(STATS_PIECE, &mut |piece| {
            sums.add(piece);
            Ok(())
        })?;
        Ok(sums.finish())
    }
}

/// The running sums behind [`DataStats`], in f64.
struct StatsSums {
    d: usize,
    rows: usize,
    sum: Vec<f64>,
    sq: Vec<f64>,
    norms: f64,
}

impl StatsSums {
    fn new(d: usize) -> Self {
        StatsSums {
            d,
            rows: 0,
            sum: vec![0.0; d],
            sq: vec![0.0; d],
            norms: 0.0,
        }
    }

    fn add(&mut self, data: &[f32]) {
        for row in data.chunks(self.d.max(1)) {
            let mut row_sq = 0.0f64;
            for ((s, q), &v) in self.sum.iter_mut().zip(self.sq.iter_mut()).zip(row) {
                *s += v as f64;
                *q += (v as f64) * (v as f64);
                row_sq += (v as f64) * (v as f64);
            }
            self.norms += row_sq.sqrt();
            self.rows += 1;
        }
    }

    fn finish(self) -> DataStats {
        let n = self.rows.max(1) as f64;
        let mean: Vec<f64> = self.sum.iter().map(|s| s / n).collect();
        let sst = self
            .sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| q - self.rows as f64 * m * m)
            .sum();
        DataStats {
            mean,
            sst,
            mean_norm: self.norms / n,
        }
    }
}

impl EmbeddingSet {
    /// Opens the set `name` of the workspace.
    pub fn open(ws: &Workspace, name: &str) -> Result<Self> {
        crate::workspace::validate_name("set", name)?;
        let dir = ws.set_dir(name);
        if !dir.join(META_FILE).is_file() {
            return Err(Error::NoSuchSet {
                name: name.into(),
                dir: ws.sets_dir(),
            });
        }
        Self::open_dir(&dir)
    }

    /// Opens a set folder, checking that its embeddings match `set.toml` and are all finite
    /// and trainable (a sharded set's rows are checked as they are read).
    pub fn open_dir(dir: &Path) -> Result<Self> {
        let set = Self::map_dir(dir)?;
        if set.shards().is_none() {
            check_rows(&dir.join(EMBEDDINGS_FILE), 0, set.data()?, set.dim())?;
        }
        Ok(set)
    }

    /// A set whose rows are not checked: how the divergence tests feed training a row that
    /// overflows.
    #[cfg(test)]
    pub(crate) fn open_unchecked(ws: &Workspace, name: &str) -> Result<Self> {
        Self::map_dir(&ws.set_dir(name))
    }

    /// Maps a set folder's embeddings (or opens its shards), checking their shape against
    /// `set.toml`.
    fn map_dir(dir: &Path) -> Result<Self> {
        let meta: SetMeta = fsutil::read_toml(&dir.join(META_FILE))?;
        if meta.dim == 0 {
            return Err(Error::bad_file(
                dir.join(META_FILE),
                "says dim = 0: an embedding has at least one dimension; re-create the set",
            ));
        }
        if !meta.shards.is_empty() {
            return Self::open_sharded(dir, meta);
        }
        let path = dir.join(EMBEDDINGS_FILE);
        let file = std::fs::File::open(&path).map_err(|e| Error::io("could not open", &path, e))?;
        // SAFETY: the map is read-only; sets are replaced by renaming a new folder into place,
        // never rewritten in place, so the mapped bytes do not change under us.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io("could not map", &path, e))?;
        let (start, len) = {
            let st = SafeTensors::deserialize(&map)
                .map_err(|e| tensorfile::not_safetensors(&path, e))?;
            let view = st.tensor(EMBEDDINGS_TENSOR).map_err(|_| {
                Error::bad_file(&path, format!("has no tensor '{EMBEDDINGS_TENSOR}'"))
            })?;
            tensorfile::check_view(&path, EMBEDDINGS_TENSOR, &view, &[meta.count, meta.dim])?;
            let data = view.data();
            (data.as_ptr() as usize - map.as_ptr() as usize, data.len())
        };
        let storage = match bytemuck::try_cast_slice::<u8, f32>(&map[start..start + len]) {
            Ok(_) => Storage::Mapped { map, start, len },
            Err(_) => Storage::Owned(bytemuck::pod_collect_to_vec(&map[start..start + len])),
        };
        Ok(EmbeddingSet {
            dir: dir.to_owned(),
            meta,
            storage,
            stats: OnceLock::new(),
        })
    }

    /// A sharded set, its shards opened (each one's header checked) but no row read.
    fn open_sharded(dir: &Path, meta: SetMeta) -> Result<Self> {
        let listed: usize = meta.shards.iter().map(|s| s.rows).sum();
        if listed != meta.count {
            return Err(Error::bad_file(
                dir.join(META_FILE),
                format!(
                    "lists shards of {listed} rows in all but says count = {}; merge the slices again",
                    meta.count
                ),
            ));
        }
        let shards = Shards::open(dir, &meta.shards, meta.dim)?;
        Ok(EmbeddingSet {
            dir: dir.to_owned(),
            meta,
            storage: Storage::Sharded {
                shards: Arc::new(shards),
                whole: OnceLock::new(),
            },
            stats: OnceLock::new(),
        })
    }

    /// A sharded set's shards (None for a set in one file).
    pub fn shards(&self) -> Option<&Arc<Shards>> {
        match &self.storage {
            Storage::Sharded { shards, .. } => Some(shards),
            _ => None,
        }
    }

    /// The embeddings' checksum: as written with the set, else computed.
    pub fn checksum(&self) -> String {
        match std::fs::read_to_string(self.dir.join(CHECKSUM_FILE)) {
            Ok(kept) if !kept.trim().is_empty() => kept.trim().to_string(),
            // Of the shards' own checksums: no row is read.
            _ if self.shards().is_some() => shards::combined_checksum(&self.meta.shards),
            // A set in one file is read without error.
            _ => self.data().map(checksum_of).unwrap_or_default(),
        }
    }

    /// The set's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn name(&self) -> &str {
        &self.meta.name
    }

    pub fn rows(&self) -> usize {
        self.meta.count
    }

    pub fn dim(&self) -> usize {
        self.meta.dim
    }

    /// All embeddings, row-major. shape: [N, d]. A sharded set is read whole into memory
    /// on the first call: readers that can take the rows a piece at a time use
    /// [`RowSource::each_piece`] instead.
    pub fn data(&self) -> Result<&[f32]> {
        match &self.storage {
            Storage::Mapped { map, start, len } => {
                Ok(bytemuck::cast_slice(&map[*start..start + len]))
            }
            Storage::Owned(v) => Ok(v),
            Storage::Sharded { shards, whole } => {
                if let Some(rows) = whole.get() {
                    return Ok(rows);
                }
                let mut rows = Vec::with_capacity(shards.rows() * self.dim());
                shards.each_piece(STATS_PIECE, &mut |piece| {
                    rows.extend_from_slice(piece);
                    Ok(())
                })?;
                Ok(whole.get_or_init(|| rows))
            }
        }
    }

    /// Row i. shape: [d]
    pub fn row(&self, i: usize) -> Result<&[f32]> {
        Ok(&self.data()?[i * self.dim()..(i + 1) * self.dim()])
    }

    /// Row i, read alone from a sharded set that is not held whole. shape: [d]
    pub fn fetch_row(&self, i: usize) -> Result<Vec<f32>> {
        self.fetch_rows(&[i])
    }

    /// Rows `rows`, in that order, each read alone from a sharded set that is not held whole.
    /// shape: [rows.len(), d]
    pub fn fetch_rows(&self, rows: &[usize]) -> Result<Vec<f32>> {
        let d = self.dim();
        let mut out = vec![0.0; rows.len() * d];
        match &self.storage {
            Storage::Sharded { shards, whole } if whole.get().is_none() => {
                shards.read_rows(rows, &mut out)?;
            }
            _ => {
                let data = self.data()?;
                for (dst, &r) in out.chunks_mut(d.max(1)).zip(rows) {
                    let src = data.get(r * d..(r + 1) * d).ok_or_else(|| {
                        Error::invalid(
                            "row",
                            format!("{r} is out of range: the set has {} rows", self.rows()),
                        )
                    })?;
                    dst.copy_from_slice(src);
                }
            }
        }
        Ok(out)
    }

    /// The per-dimension mean and the total sum of squares about it.
    pub fn stats(&self) -> Result<DataStats> {
        if let Some(stats) = self.stats.get() {
            return Ok(stats.clone());
        }
        let stats = DataStats::read(self)?;
        Ok(self.stats.get_or_init(|| stats).clone())
    }

    /// Every `stride`-th row from row 0, the stride chosen so that at most `most` are taken:
    /// a sample that needs no more than a piece of the set in memory. [≤ most, d]
    pub fn strided_sample(&self, most: usize) -> Result<Vec<f32>> {
        let stride = self.rows().div_ceil(most.max(1)).max(1);
        let mut sample = Vec::new();
        for i in (0..self.rows()).step_by(stride) {
            sample.extend(self.fetch_row(i)?);
        }
        Ok(sample)
    }

    /// The set's items (what each row stands for).
    pub fn items(&self) -> Result<Vec<Item>> {
        let path = self.dir.join(ITEMS_FILE);
        let items = read_items(&path)?;
        // One item a row, each naming its own row: a shorter file would score part of the set.
        if items.len() != self.rows() {
            return Err(Error::bad_file(
                &path,
                format!(
                    "has {} items for the set's {} rows; re-create the set",
                    items.len(),
                    self.rows()
                ),
            ));
        }
        if let Some(bad) = items.iter().find(|i| i.id >= self.rows()) {
            return Err(Error::bad_file(
                &path,
                format!("names row {} of a set of {} rows", bad.id, self.rows()),
            ));
        }
        Ok(items)
    }

    /// Ground-truth concept directions, where the set has them (the demo world).
    pub fn ground_truth(&self) -> Result<Option<GroundTruth>> {
        let path = self.dir.join(GROUND_TRUTH_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let f = TensorFile::read(&path)?;
        let names: Vec<String> = serde_json::from_str(
            &f.metadata().remove("concepts").unwrap_or_default(),
        )
        .map_err(|e| {
            Error::bad_file(
                &path,
                format!("metadata 'concepts' is not a JSON list: {e}"),
            )
        })?;
        let directions = f.f32("directions", &[names.len(), self.dim()])?;
        Ok(Some(GroundTruth { names, directions }))
    }
}

impl RowSource for EmbeddingSet {
    fn dim(&self) -> usize {
        self.meta.dim
    }

    fn each_piece(&self, piece: usize, f: &mut dyn FnMut(&[f32]) -> Result<()>) -> Result<()> {
        match &self.storage {
            Storage::Sharded { shards, whole } if whole.get().is_none() => {
                shards.each_piece(piece, f)
            }
            _ => InMemory::new(self.data()?, self.dim()).each_piece(piece, f),
        }
    }
}

/// Every value of `data` (rows [first, ...) of the file `path`, [rows, d]) finite, and every
/// row's squared norm within f32's range: training squares the rows, and a row of 1e30 would
/// overflow into a divergence blamed on the learning rate.
pub(crate) fn check_rows(path: &Path, first: usize, data: &[f32], d: usize) -> Result<()> {
    for (i, row) in data.chunks_exact(d.max(1)).enumerate() {
        // One f32 sum a row: a NaN or infinity in the row makes it NaN or infinite, as does
        // a norm whose square overflows; only such a row is looked at closer.
        if squares(row).is_finite() {
            continue;
        }
        let i = first + i;
        if row.iter().any(|v| !v.is_finite()) {
            return Err(Error::bad_file(
                path,
                format!("row {i} holds a NaN or infinite value; re-create the set (its source item may be corrupt)"),
            ));
        }
        let squared: f64 = row.iter().map(|&v| v as f64 * v as f64).sum();
        return Err(Error::bad_file(
            path,
            format!(
                "row {i} has a norm of {:.1e}, too large to train on (its square overflows 32-bit floats); the data is at fault: re-create the set, or normalise its rows",
                squared.sqrt()
            ),
        ));
    }
    Ok(())
}

/// Lanes of [`squares`]' sum: eight f32 sums the compiler keeps in one vector register.
const LANES: usize = 8;

/// Σ v² in f32, summed in [`LANES`] lanes so that it vectorises.
fn squares(row: &[f32]) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        lanes.iter_mut().zip(c).for_each(|(l, v)| *l += v * v);
    }
    let rest: f32 = chunks.remainder().iter().map(|v| v * v).sum();
    lanes.iter().sum::<f32>() + rest
}

/// The items of an `items.jsonl`, one a line.
pub fn read_items(path: &Path) -> Result<Vec<Item>> {
    let text = fsutil::read_text(path)?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| Error::bad_file(path, format!("line {}: {e}", i + 1)))
        })
        .collect()
}

/// What `sets verify` found for one file of a set: None when it is whole.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileCheck {
    pub file: String,
    pub rows: usize,
    pub problem: Option<String>,
}

/// Checks every embeddings file of the set in `dir` against its checksum, shape and listing.
pub fn verify(dir: &Path) -> Result<Vec<FileCheck>> {
    let meta: SetMeta = fsutil::read_toml(&dir.join(META_FILE))?;
    if meta.shards.is_empty() {
        // One pass over the rows: against the set's checksum where it was kept, else the one
        // the file itself records.
        let problem = EmbeddingSet::map_dir(dir)
            .and_then(|set| {
                let kept = std::fs::read_to_string(dir.join(CHECKSUM_FILE)).unwrap_or_default();
                if kept.trim().is_empty() {
                    return TensorFile::read(&dir.join(EMBEDDINGS_FILE)).map(drop);
                }
                if kept.trim() != checksum_of(set.data()?) {
                    return Err(Error::bad_file(
                        dir.join(EMBEDDINGS_FILE),
                        "does not match the set's checksum: it was changed after the set was written",
                    ));
                }
                Ok(())
            })
            .err()
            .map(|e| e.to_string());
        return Ok(vec![FileCheck {
            file: EMBEDDINGS_FILE.into(),
            rows: meta.count,
            problem,
        }]);
    }
    Ok(meta
        .shards
        .iter()
        .map(|entry| FileCheck {
            file: entry.file.clone(),
            rows: entry.rows,
            problem: shards::read_shard(dir, entry, meta.dim)
                .err()
                .map(|e| e.to_string()),
        })
        .collect())
}

/// Names of the sets in a workspace.
pub fn list(ws: &Workspace) -> Result<Vec<String>> {
    Ok(Workspace::list_names(&ws.sets_dir())?
        .into_iter()
        .filter(|n| ws.set_dir(n).join(META_FILE).is_file())
        .collect())
}
