//! Reading a sharded set without holding it: shard files read a piece at a time (each
//! piece's values checked as it arrives), and training's batches drawn through a bounded
//! shuffle buffer, so memory stays flat however many rows the set has.
//!
//! The stream's order, for epoch e: the shards in a seeded random order, their rows end to
//! end, cut into windows of W rows; each window's rows in a seeded random order. Step s takes
//! the next B positions of that order, so its rows are a function of (seed, shards, W, B, s)
//! alone: a resumed run reads the very batches an unbroken one would. The next window is
//! read a little at every step while the current one trains.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::shards::ShardEntry;
use super::{check_rows, EMBEDDINGS_TENSOR};
use crate::error::{Error, Result};

/// The longest safetensors header a shard may have: ours are a few hundred bytes.
const MAX_HEADER: u64 = 1 << 20;

const F32_BYTES: usize = std::mem::size_of::<f32>();

/// One shard file, open to read rows at any place.
/// The file is opened for each read, not held: a set of thousands of shards would pass the
/// limit of open files.
#[derive(Debug)]
pub struct ShardFile {
    path: PathBuf,
    /// Where row 0's bytes begin.
    data_start: u64,
    rows: usize,
    dim: usize,
}

impl ShardFile {
    /// Opens the shard `entry` lists, checking its header against the listing's shape: missing,
    /// truncated and reshaped files are named here, before a step is taken. (Checksums are
    /// `sets verify`'s work: they need every byte read.)
    pub fn open(dir: &Path, entry: &ShardEntry, dim: usize) -> Result<Self> {
        let path = dir.join(&entry.file);
        let data_start = data_start(&path, &open_file(&path)?, entry.rows, dim)?;
        Ok(ShardFile {
            path,
            data_start,
            rows: entry.rows,
            dim,
        })
    }

    /// Asks the kernel to read rows [first, first + rows) ahead (Linux; elsewhere the reads
    /// simply wait for the disk).
    fn advise(&self, first: usize, rows: usize) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let row_bytes = (self.dim * F32_BYTES) as u64;
            let offset = self.data_start + first as u64 * row_bytes;
            let Ok(file) = File::open(&self.path) else {
                return;
            };
            // SAFETY: a hint on a file descriptor this function holds; it reads no memory of
            // ours. The hint is about the file's pages, so it outlives the descriptor.
            unsafe {
                libc::posix_fadvise(
                    file.as_raw_fd(),
                    offset as libc::off_t,
                    (rows as u64 * row_bytes) as libc::off_t,
                    libc::POSIX_FADV_WILLNEED,
                );
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (first, rows);
    }

    /// Rows [first, first + out.len() / dim) into `out`, checked to be finite and trainable.
    pub fn read(&self, first: usize, out: &mut [f32]) -> Result<()> {
        self.read_from(&open_file(&self.path)?, first, out)
    }

    /// As [`ShardFile::read`], from the shard already opened as `file`.
    fn read_from(&self, file: &File, first: usize, out: &mut [f32]) -> Result<()> {
        let offset = self.data_start + (first * self.dim * F32_BYTES) as u64;
        file.read_exact_at(bytemuck::cast_slice_mut(out), offset)
            .map_err(|e| Error::io("could not read", &self.path, e))?;
        check_rows(&self.path, first, out, self.dim)
    }
}

/// Opens a shard file, naming it when it is gone.
fn open_file(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::bad_file(
            path,
            "is missing: this shard of the set is gone; re-embed its slice (`saelab embed ... --shard I/N`) and merge again",
        ),
        _ => Error::io("could not open", path, e),
    })
}

/// The byte offset of a shard's embeddings, after checking that the file holds exactly one
/// f32 tensor of [rows, dim] and is as long as its header says.
fn data_start(path: &Path, file: &File, rows: usize, dim: usize) -> Result<u64> {
    let bad = |why: String| Error::bad_file(path, why);
    let mut len = [0u8; 8];
    file.read_exact_at(&mut len, 0).map_err(|_| {
        bad("is too short to be a safetensors file: it was cut short; re-embed its slice".into())
    })?;
    let header_len = u64::from_le_bytes(len);
    if header_len > MAX_HEADER {
        return Err(bad(
            "does not start with a safetensors header: it is not a shard; re-embed its slice"
                .into(),
        ));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact_at(&mut header, 8)
        .map_err(|_| bad("was cut short inside its header; re-embed its slice".into()))?;
    let header: serde_json::Value = serde_json::from_slice(&header).map_err(|e| {
        bad(format!(
            "has a header that is not JSON ({e}); re-embed its slice"
        ))
    })?;
    let tensor = &header[EMBEDDINGS_TENSOR];
    let shape: Option<Vec<usize>> = serde_json::from_value(tensor["shape"].clone()).ok();
    let offsets: Option<[u64; 2]> = serde_json::from_value(tensor["data_offsets"].clone()).ok();
    let (Some(shape), Some([begin, end]), Some("F32")) = (shape, offsets, tensor["dtype"].as_str())
    else {
        return Err(bad(format!(
            "has no f32 tensor '{EMBEDDINGS_TENSOR}'; re-embed its slice"
        )));
    };
    if shape != [rows, dim] || end.checked_sub(begin) != Some((rows * dim * F32_BYTES) as u64) {
        return Err(bad(format!(
            "holds {shape:?} where the set lists [{rows}, {dim}]; merge the slices again"
        )));
    }
    let file_len = file
        .metadata()
        .map_err(|e| Error::io("could not read the size of", path, e))?
        .len();
    // No overflow: the header is at most MAX_HEADER, and `end` is the size its shape gives.
    let needed = 8 + header_len + end;
    if file_len != needed {
        return Err(bad(format!(
            "is {file_len} bytes where its header needs {needed}: it was cut short or added to; re-embed its slice"
        )));
    }
    Ok(8 + header_len + begin)
}

/// A sharded set's shards, their headers checked.
#[derive(Debug)]
pub struct Shards {
    files: Vec<ShardFile>,
    dim: usize,
    rows: usize,
}

impl Shards {
    pub fn open(dir: &Path, entries: &[ShardEntry], dim: usize) -> Result<Self> {
        let files = entries
            .iter()
            .map(|e| ShardFile::open(dir, e, dim))
            .collect::<Result<Vec<_>>>()?;
        let rows = files.iter().map(|f| f.rows).sum();
        Ok(Shards { files, dim, rows })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Rows `rows` (any order) into `out` ([rows.len(), dim]), opening each shard they fall in
    /// once: a search re-ranking hundreds of rows should not open a file per row.
    pub fn read_rows(&self, rows: &[usize], out: &mut [f32]) -> Result<()> {
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| rows[i]);
        let (mut at, mut start) = (0, 0);
        for shard in &self.files {
            let end = start + shard.rows;
            let mine: Vec<usize> = order[at..]
                .iter()
                .take_while(|&&i| rows[i] < end)
                .copied()
                .collect();
            if !mine.is_empty() {
                let file = open_file(&shard.path)?;
                for &i in &mine {
                    let dst = &mut out[i * self.dim..(i + 1) * self.dim];
                    shard.read_from(&file, rows[i] - start, dst)?;
                }
            }
            at += mine.len();
            start = end;
        }
        match order.get(at) {
            Some(&i) => Err(Error::invalid(
                "row",
                format!(
                    "{} is out of range: the set has {} rows",
                    rows[i], self.rows
                ),
            )),
            None => Ok(()),
        }
    }

    /// The rows in order, at most `piece` at a time: only one piece is in memory.
    pub fn each_piece(&self, piece: usize, f: &mut dyn FnMut(&[f32]) -> Result<()>) -> Result<()> {
        let mut buf = Vec::new();
        for shard in &self.files {
            let mut first = 0;
            while first < shard.rows {
                let count = piece.max(1).min(shard.rows - first);
                buf.resize(count * self.dim, 0.0);
                shard.read(first, &mut buf)?;
                f(&buf)?;
                first += count;
            }
        }
        Ok(())
    }

    /// Tells the kernel that positions [start, end) of the rows in shard `order` will be
    /// read soon, so that it reads them from disk while the steps before them train.
    fn advise(&self, order: &[usize], start: usize, end: usize) {
        self.each_range(order, start, end, |shard, first, rows| {
            shard.advise(first, rows);
        });
    }

    /// Calls `f(shard, first row, rows)` for the part of each shard that positions
    /// [start, end) of the rows laid end to end in shard `order` cover, in order.
    fn each_range(
        &self,
        order: &[usize],
        start: usize,
        end: usize,
        mut f: impl FnMut(&ShardFile, usize, usize),
    ) {
        let mut at = 0;
        for &s in order {
            let shard = &self.files[s];
            let (lo, hi) = (start.max(at), end.min(at + shard.rows));
            if lo < hi {
                f(shard, lo - at, hi - lo);
            }
            at += shard.rows;
            if at >= end {
                break;
            }
        }
    }

    /// Positions [start, end) of the rows laid end to end in shard `order`, into `out`.
    fn read_ordered(
        &self,
        order: &[usize],
        start: usize,
        end: usize,
        out: &mut [f32],
    ) -> Result<()> {
        let mut result = Ok(());
        let mut at = 0;
        self.each_range(order, start, end, |shard, first, rows| {
            if result.is_ok() {
                let dst = &mut out[at * self.dim..(at + rows) * self.dim];
                result = shard.read(first, dst);
            }
            at += rows;
        });
        result
    }
}

/// The shards' order in `epoch`.
pub fn shard_order(shards: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5ba2_d0e2);
    rng.set_stream(epoch);
    let mut order: Vec<usize> = (0..shards).collect();
    order.shuffle(&mut rng);
    order
}

/// The order of a window's `len` rows: window `window` of `epoch`.
fn window_order(len: usize, seed: u64, epoch: u64, window: usize) -> Vec<u32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0b0f_f3e2 ^ (epoch << 40));
    rng.set_stream(window as u64);
    let mut order: Vec<u32> = (0..len as u32).collect();
    order.shuffle(&mut rng);
    order
}

/// (epoch, window index)
type Key = (u64, usize);

/// A window's rows in stream order, as far as they are read, and the order the batches take
/// them in.
struct Window {
    key: Key,
    /// Its epoch's shard order.
    shard_order: Arc<[usize]>,
    /// [len, dim], rows [0, read) filled.
    rows: Vec<f32>,
    order: Vec<u32>,
    /// Its first row's place in the epoch's stream.
    start: usize,
    len: usize,
    read: usize,
}

/// The batches of training on a sharded set, through a bounded shuffle buffer.
///
/// Each step reads a little of the next window (two batches' rows) besides training on the
/// current one, so the next is whole by the time it is needed. The reading is done on the
/// training thread, between steps: on a machine of few cores a reading thread would take a
/// core from the matrix products, whose threads then wait for the slowest. The kernel is
/// told which bytes come next, so disk reads run ahead on their own.
pub struct ShuffleStream {
    shards: Arc<Shards>,
    seed: u64,
    batch: usize,
    /// Rows a window (at least one batch, so a batch spans at most two windows).
    window: usize,
    /// Epochs training takes: nothing is read past the last.
    epochs: u64,
    /// The shard order of the epoch last opened.
    shard_order: (u64, Arc<[usize]>),
    /// At most three: the current window, the next, and the one after while a batch spans
    /// the first two.
    held: Vec<Window>,
    /// Rows of a window let go, for the next one: a fresh window's rows would be faulted in
    /// page by page again.
    spare: Vec<f32>,
}

impl ShuffleStream {
    /// Batches of `batch` rows over `epochs` epochs, through windows of `window` rows (at
    /// least a batch).
    pub fn new(shards: Arc<Shards>, batch: usize, seed: u64, epochs: u64, window: usize) -> Self {
        let window = window.max(batch).max(1);
        let order = shard_order(shards.files.len(), seed, 0).into();
        ShuffleStream {
            shards,
            seed,
            batch: batch.max(1),
            window,
            epochs,
            shard_order: (0, order),
            held: Vec::new(),
            spare: Vec::new(),
        }
    }

    fn steps_per_epoch(&self) -> u64 {
        super::steps_per_epoch(self.shards.rows(), self.batch).max(1)
    }

    /// Step `step`'s rows into `out` ([rows, dim]); returns the row count (the last batch of
    /// an epoch may be short).
    pub fn batch(&mut self, step: u64, out: &mut Vec<f32>) -> Result<usize> {
        let n = self.shards.rows();
        let per_epoch = self.steps_per_epoch();
        let epoch = step / per_epoch;
        let start = (step % per_epoch) as usize * self.batch;
        let end = (start + self.batch).min(n);
        let first = (epoch, start / self.window);
        let last = (epoch, (end.max(1) - 1) / self.window);
        while let Some(gone) = self.held.iter().position(|w| w.key < first) {
            self.spare = self.held.swap_remove(gone).rows;
        }
        let mut at = [0usize; 2];
        for (slot, key) in at.iter_mut().zip([first, last]) {
            *slot = self.open(key)?;
            self.read_some(*slot, usize::MAX)?;
        }
        let d = self.shards.dim();
        // The batch's part in its first window, then the rest in the second (empty when one
        // window holds it all).
        let split = end.min((first.1 + 1) * self.window);
        out.clear();
        for (slot, positions) in [(at[0], start..split), (at[1], split..end)] {
            let w = &self.held[slot];
            for pos in positions {
                let i = w.order[pos % self.window] as usize;
                out.extend_from_slice(&w.rows[i * d..(i + 1) * d]);
            }
        }
        if let Some(next) = self.after(last) {
            let w = self.open(next)?;
            self.read_some(w, 2 * self.batch)?;
        }
        Ok(end - start)
    }

    /// The window after `key`, unless training ends first.
    fn after(&self, (epoch, w): Key) -> Option<Key> {
        let next = match (w + 1) * self.window < self.shards.rows() {
            true => (epoch, w + 1),
            false => (epoch + 1, 0),
        };
        (next.0 < self.epochs).then_some(next)
    }

    /// The place in `held` of window `key`, made ready to read (nothing read yet) if new.
    fn open(&mut self, key: Key) -> Result<usize> {
        if let Some(i) = self.held.iter().position(|w| w.key == key) {
            return Ok(i);
        }
        let (epoch, w) = key;
        if self.shard_order.0 != epoch {
            let order = shard_order(self.shards.files.len(), self.seed, epoch);
            self.shard_order = (epoch, order.into());
        }
        let shard_order = Arc::clone(&self.shard_order.1);
        let start = w * self.window;
        let len = self.window.min(self.shards.rows() - start);
        self.shards.advise(&shard_order, start, start + len);
        let mut rows = std::mem::take(&mut self.spare);
        rows.resize(len * self.shards.dim(), 0.0);
        self.held.push(Window {
            key,
            shard_order,
            rows,
            order: window_order(len, self.seed, epoch, w),
            start,
            len,
            read: 0,
        });
        Ok(self.held.len() - 1)
    }

    /// Reads up to `most` more rows of held window `i`.
    fn read_some(&mut self, i: usize, most: usize) -> Result<()> {
        let d = self.shards.dim();
        let w = &mut self.held[i];
        let to = w.len.min(w.read.saturating_add(most));
        if w.read < to {
            let into = &mut w.rows[w.read * d..to * d];
            self.shards
                .read_ordered(&w.shard_order, w.start + w.read, w.start + to, into)?;
            w.read = to;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::shards::write_shards;
    use super::*;

    /// Rows whose first value is their index, in shards of `per_shard` rows.
    fn sharded(rows: usize, dim: usize, per_shard: usize) -> (tempfile::TempDir, Arc<Shards>) {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<f32> = (0..rows * dim)
            .map(|i| if i % dim == 0 { (i / dim) as f32 } else { 0.5 })
            .collect();
        let entries = write_shards(dir.path(), &data, dim, per_shard * dim * F32_BYTES).unwrap();
        let shards = Shards::open(dir.path(), &entries, dim).unwrap();
        (dir, Arc::new(shards))
    }

    fn ids(batch: &[f32], dim: usize) -> Vec<u32> {
        batch.chunks(dim).map(|r| r[0] as u32).collect()
    }

    #[test]
    fn every_row_once_an_epoch_through_small_windows() {
        let (dim, rows) = (3, 50);
        let (_dir, shards) = sharded(rows, dim, 7);
        // Windows of 8 rows, batches of 6: batches span windows and shards.
        let mut stream = ShuffleStream::new(shards, 6, 1, 2, 8);
        let mut out = Vec::new();
        let mut epochs = Vec::new();
        for epoch in 0..2 {
            let mut seen = Vec::new();
            for step in epoch * 9..(epoch + 1) * 9 {
                let n = stream.batch(step, &mut out).unwrap();
                assert!(stream.held.len() <= 3, "step {step}: at most three windows");
                assert_eq!(n, if step % 9 == 8 { 2 } else { 6 });
                seen.extend(ids(&out, dim));
            }
            epochs.push(seen.clone());
            seen.sort();
            assert_eq!(seen, (0..rows as u32).collect::<Vec<_>>());
        }
        assert_ne!(epochs[0], epochs[1], "each epoch has its own order");
        assert_ne!(epochs[0], (0..rows as u32).collect::<Vec<_>>(), "shuffled");
    }

    #[test]
    fn rows_asked_in_any_order_come_back_in_that_order_across_shards() {
        let (dim, rows) = (3, 30);
        let (_dir, shards) = sharded(rows, dim, 7);
        let asked = [29, 0, 14, 7, 6, 14, 21];
        let mut out = vec![0.0; asked.len() * dim];
        shards.read_rows(&asked, &mut out).unwrap();
        assert_eq!(ids(&out, dim), asked.map(|r| r as u32).to_vec());
        let past = shards.read_rows(&[3, 30], &mut out[..2 * dim]).unwrap_err();
        assert!(past.to_string().contains("30 is out of range"), "{past}");
    }

    #[test]
    fn any_step_is_read_alike_from_a_fresh_stream() {
        let (dim, rows) = (4, 40);
        let (_dir, shards) = sharded(rows, dim, 9);
        let mut whole = ShuffleStream::new(Arc::clone(&shards), 5, 3, 3, 12);
        let mut out = Vec::new();
        let batches: Vec<Vec<f32>> = (0..24)
            .map(|s| {
                whole.batch(s, &mut out).unwrap();
                out.clone()
            })
            .collect();
        for resume_at in [1, 7, 13, 20] {
            let mut resumed = ShuffleStream::new(Arc::clone(&shards), 5, 3, 3, 12);
            for (s, expected) in batches.iter().enumerate().skip(resume_at) {
                resumed.batch(s as u64, &mut out).unwrap();
                assert_eq!(&out, expected, "step {s} after resuming at {resume_at}");
            }
        }
    }

    #[test]
    fn a_cut_short_or_missing_shard_is_named_at_open() {
        let (dim, rows) = (2, 10);
        let dir = tempfile::tempdir().unwrap();
        let data = vec![1.0f32; rows * dim];
        let entries = write_shards(dir.path(), &data, dim, 4 * dim * F32_BYTES).unwrap();
        let second = dir.path().join(&entries[1].file);
        let bytes = std::fs::read(&second).unwrap();
        std::fs::write(&second, &bytes[..bytes.len() - 4]).unwrap();
        let err = Shards::open(dir.path(), &entries, dim)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("shard-00001") && err.contains("cut short"),
            "{err}"
        );
        std::fs::remove_file(&second).unwrap();
        let err = Shards::open(dir.path(), &entries, dim)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("shard-00001") && err.contains("missing"),
            "{err}"
        );
    }

    #[test]
    fn a_nan_is_named_with_its_shard_and_row() {
        let (dim, rows) = (2, 10);
        let dir = tempfile::tempdir().unwrap();
        let mut data = vec![1.0f32; rows * dim];
        data[6 * dim + 1] = f32::NAN;
        let entries = write_shards(dir.path(), &data, dim, 4 * dim * F32_BYTES).unwrap();
        let shards = Shards::open(dir.path(), &entries, dim).unwrap();
        let err = shards
            .each_piece(3, &mut |_| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("shard-00001") && err.contains("row 2"),
            "{err}"
        );
    }
}
