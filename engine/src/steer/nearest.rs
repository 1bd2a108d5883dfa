//! A steered embedding's nearest rows of the set, within a key press however many rows the
//! set has. Up to [`EXACT_ROWS`] rows every row is scored. Beyond, an HNSW graph (usearch)
//! over int8 codes of the unit rows proposes [`CANDIDATES`] rows, which are re-ranked exactly
//! against the set's own f32 rows: the codes only choose whom to score.
//!
//! The graph is built once per set, on every core, from the rows read a piece at a time (the
//! graph itself is held whole while it grows: about 0.66 KB a row at 512 dimensions), and
//! kept in the set's folder as `nearest.usearch` beside `nearest.toml`, which names the set
//! it was built for; a set that changed is indexed again. The kept graph is memory-mapped.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::error::{Error, Result};
use crate::fsutil;
use crate::sae::linalg::{matmul, MatRef, Threads};
use crate::set::{EmbeddingSet, RowSource};
use crate::unit::normalise;

/// Sets of up to this many rows are searched exactly: at 512 dimensions one key reads
/// 200 MB, about 20 ms on two cores.
pub const EXACT_ROWS: usize = 100_000;
/// Rows the graph proposes per search, all re-ranked exactly (also the search's breadth).
pub const CANDIDATES: usize = 256;
/// The graph's links per node: 16 is HNSW's usual M.
const CONNECTIVITY: usize = 16;
/// Candidates kept while a row is linked in. 32 builds twice as fast as 64 on the demo world
/// and, with [`CANDIDATES`] re-ranked, still finds 0.97 of the exact ten.
const EXPANSION_ADD: usize = 32;
/// Rows read, normalised and linked in at a time.
const BUILD_PIECE: usize = 65_536;
/// The graph beside the set's embeddings, and what it was built for.
pub const INDEX_FILE: &str = "nearest.usearch";
pub const INDEX_META: &str = "nearest.toml";
/// What to do about a graph that cannot be written or read.
const REMEDY: &str = "the set's folder needs write access and about 0.7 KB a row free; `saelab sets index NAME` builds it again";

/// `nearest.toml`: the set the graph was built for, and the graph's own size, so that a
/// graph cut short is built again rather than mapped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct IndexMeta {
    checksum: String,
    rows: usize,
    dim: usize,
    bytes: u64,
    connectivity: usize,
    expansion_add: usize,
}

/// How a set's nearest rows are found.
pub enum Nearest {
    /// Every row scored; 1 / ‖row‖ per row. shape: [N]
    Exact {
        inv_norms: Vec<f32>,
    },
    Graph(Index),
}

/// How [`Nearest::open`] found its search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    Exact,
    Kept,
    Built,
    /// Built, but it could not be kept (why): it serves from memory and is built again next
    /// time.
    Unkept(String),
}

impl Nearest {
    /// The search for `set`: exact up to `exact_rows` rows, else the kept graph, or one built
    /// now (`progress` hears the rows linked in so far; `cancel` stops the build).
    pub fn open(
        set: &EmbeddingSet,
        exact_rows: usize,
        progress: &(dyn Fn(usize) + Sync),
        cancel: &AtomicBool,
    ) -> Result<(Self, Opened)> {
        if set.rows() <= exact_rows {
            return Ok((Self::exact(set)?, Opened::Exact));
        }
        let want = wanted_meta(set);
        if let Some(graph) = kept(set.dir(), &want) {
            return Ok((Nearest::Graph(graph), Opened::Kept));
        }
        let graph = build(set, progress, cancel)?;
        match keep(set.dir(), &graph, &want) {
            // Mapped from the file rather than held: the lab lives long.
            Ok(()) => match kept(set.dir(), &want) {
                Some(mapped) => Ok((Nearest::Graph(mapped), Opened::Built)),
                None => Ok((Nearest::Graph(graph), Opened::Built)),
            },
            Err(why) => Ok((Nearest::Graph(graph), Opened::Unkept(why.to_string()))),
        }
    }

    /// Exact search over every row of `set`.
    pub fn exact(set: &EmbeddingSet) -> Result<Self> {
        let mut inv_norms = Vec::with_capacity(set.rows());
        set.each_piece(BUILD_PIECE, &mut |piece| {
            inv_norms.extend(piece.chunks(set.dim().max(1)).map(inverse_norm));
            Ok(())
        })?;
        Ok(Nearest::Exact { inv_norms })
    }

    /// The `k` rows of `set` nearest to the unit embedding x ([d]), as (row, cosine), nearest
    /// first.
    pub fn search(&self, set: &EmbeddingSet, x: &[f32], k: usize) -> Result<Vec<(usize, f32)>> {
        match self {
            Nearest::Exact { inv_norms } => {
                let mut scores = scores(set.data()?, inv_norms.len(), x);
                scores.iter_mut().zip(inv_norms).for_each(|(s, n)| *s *= n);
                Ok(top_k(&scores, k))
            }
            Nearest::Graph(graph) => {
                let damaged = |why: String| {
                    Error::bad_file(
                        set.dir().join(INDEX_FILE),
                        format!(
                            "{why}; delete it and `saelab sets index {}` builds it again",
                            set.name()
                        ),
                    )
                };
                let found = graph
                    .search(x, CANDIDATES.max(k))
                    .map_err(|e| damaged(format!("could not be searched ({e})")))?;
                let rows: Vec<usize> = found.keys.iter().map(|&key| key as usize).collect();
                if let Some(bad) = rows.iter().find(|&&r| r >= set.rows()) {
                    return Err(damaged(format!(
                        "names row {bad} of a set of {} rows",
                        set.rows()
                    )));
                }
                let d = set.dim().max(1);
                let mut scored: Vec<(usize, f32)> = rows
                    .iter()
                    .zip(set.fetch_rows(&rows)?.chunks(d))
                    .map(|(&r, row)| {
                        let dot: f32 = row.iter().zip(x).map(|(a, b)| a * b).sum();
                        (r, dot * inverse_norm(row))
                    })
                    .collect();
                scored.sort_by(|a, b| b.1.total_cmp(&a.1));
                scored.truncate(k);
                Ok(scored)
            }
        }
    }
}

/// Opens `set`'s search once, so that a graph it needs is built and kept now (`progress`
/// hears the rows linked in) rather than when a steering key first asks; says how it opened.
pub fn prepare(
    set: &EmbeddingSet,
    progress: &(dyn Fn(usize) + Sync),
    cancel: &AtomicBool,
) -> Result<Opened> {
    Nearest::open(set, EXACT_ROWS, progress, cancel).map(|(_, opened)| opened)
}

/// `set`'s graph, grown from its unit rows a piece at a time on every core; `progress` hears
/// the rows linked in so far, and `cancel` stops it between rows.
fn build(
    set: &EmbeddingSet,
    progress: &(dyn Fn(usize) + Sync),
    cancel: &AtomicBool,
) -> Result<Index> {
    let (n, d) = (set.rows(), set.dim());
    let path = set.dir().join(INDEX_FILE);
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        Error::bad_file(
            &path,
            format!("the nearest-row index {what}: {e}; {REMEDY}"),
        )
    };
    let graph = Index::new(&IndexOptions {
        dimensions: d,
        metric: MetricKind::Cos,
        quantization: ScalarKind::I8,
        connectivity: CONNECTIVITY,
        expansion_add: EXPANSION_ADD,
        expansion_search: CANDIDATES,
        multi: false,
    })
    .map_err(|e| failed("could not be made", &e))?;
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    graph
        .reserve_capacity_and_threads(n, threads)
        .map_err(|e| failed("could not reserve room", &e))?;
    let mut done = 0;
    set.each_piece(BUILD_PIECE, &mut |piece| {
        let mut unit = piece.to_vec();
        unit.chunks_mut(d.max(1)).for_each(normalise);
        link_in(&graph, &unit, d, done, threads, cancel)
            .map_err(|e| failed("could not grow", &e))?;
        if cancel.load(Ordering::SeqCst) {
            return Err(Error::Interrupted);
        }
        done += unit.len() / d.max(1);
        progress(done);
        Ok(())
    })?;
    Ok(graph)
}

/// Writes `graph` into `dir` (a temporary name, synced, then renamed) and `nearest.toml`
/// after it; a reader never maps a graph half written.
fn keep(dir: &Path, graph: &Index, want: &IndexMeta) -> Result<()> {
    let path = dir.join(INDEX_FILE);
    let tmp = fsutil::temp_path(&path);
    let written = (|| {
        let name = tmp.to_str().ok_or_else(|| {
            Error::bad_file(&tmp, "the set's folder has a name that is not UTF-8; the index is kept only under UTF-8 paths")
        })?;
        graph.save(name).map_err(|e| {
            Error::bad_file(
                &path,
                format!("the nearest-row index could not be written: {e}; {REMEDY}"),
            )
        })?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| Error::io("could not write", &path, e))
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let bytes = std::fs::metadata(&path)
        .map_err(|e| Error::io("could not read", &path, e))?
        .len();
    fsutil::write_toml(
        &dir.join(INDEX_META),
        &IndexMeta {
            bytes,
            ..want.clone()
        },
    )
}

/// Links the unit rows `unit` ([rows, d]), numbered from `first`, into the graph on `threads`
/// threads, stopping early when `cancel` is set.
fn link_in(
    graph: &Index,
    unit: &[f32],
    d: usize,
    first: usize,
    threads: usize,
    cancel: &AtomicBool,
) -> std::result::Result<(), String> {
    let rows = unit.len() / d.max(1);
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= rows || cancel.load(Ordering::Relaxed) {
                    return;
                }
                if let Err(e) = graph.add((first + i) as u64, &unit[i * d..(i + 1) * d]) {
                    *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                    next.store(rows, Ordering::Relaxed);
                    return;
                }
            });
        }
    });
    match failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// What `nearest.toml` says for a graph of `set` (its size aside).
fn wanted_meta(set: &EmbeddingSet) -> IndexMeta {
    IndexMeta {
        checksum: set.checksum(),
        rows: set.rows(),
        dim: set.dim(),
        bytes: 0,
        connectivity: CONNECTIVITY,
        expansion_add: EXPANSION_ADD,
    }
}

/// The kept graph of the set in `dir`, if it was built for the set `want` describes and is
/// whole; None otherwise (it is then built again).
fn kept(dir: &Path, want: &IndexMeta) -> Option<Index> {
    let meta: IndexMeta = fsutil::read_toml(&dir.join(INDEX_META)).ok()?;
    let path = dir.join(INDEX_FILE);
    let bytes = std::fs::metadata(&path).ok()?.len();
    if meta.bytes != bytes || (IndexMeta { bytes: 0, ..meta }) != *want {
        return None;
    }
    // The map is shared and read-only: the file must never be rewritten in place while the lab
    // maps it. Everything here replaces it by renaming a new file over it, which leaves the
    // mapped one whole until it is unmapped.
    let graph = Index::restore_view(path.to_str()?).ok()?;
    // The file keeps the graph, not the breadth its searches were built with.
    graph.change_expansion_search(CANDIDATES);
    (graph.size() == want.rows && graph.dimensions() == want.dim).then_some(graph)
}

/// 1 / ‖row‖, or 0 for a zero row (its cosine with anything is then 0).
fn inverse_norm(row: &[f32]) -> f32 {
    let n = row.iter().map(|v| v * v).sum::<f32>().sqrt();
    if n > 0.0 {
        1.0 / n
    } else {
        0.0
    }
}

/// Every row's dot product with x. matrix: [rows, d], x: [d]
pub fn scores(matrix: &[f32], rows: usize, x: &[f32]) -> Vec<f32> {
    let d = x.len();
    let mut out = vec![0.0f32; rows];
    matmul(
        &mut out,
        MatRef::new(matrix, rows, d),
        MatRef::new(x, d, 1),
        false,
        Threads::All,
    );
    out
}

/// The `k` largest scores as (index, score), largest first.
pub fn top_k(scores: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    let k = k.min(idx.len());
    if k == 0 {
        return Vec::new();
    }
    idx.select_nth_unstable_by(k - 1, |&a, &b| scores[b].total_cmp(&scores[a]));
    idx.truncate(k);
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    idx.into_iter().map(|i| (i, scores[i])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;
    use crate::workspace::Workspace;

    fn demo_set(rows: usize) -> (tempfile::TempDir, Workspace, EmbeddingSet) {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(dir.path()).unwrap();
        demo::create(&ws, rows, 4).unwrap();
        let set = EmbeddingSet::open(&ws, "demo").unwrap();
        (dir, ws, set)
    }

    /// A row pushed along a ground-truth concept, as a steering key pushes it. [d]
    fn steered(set: &EmbeddingSet, q: usize) -> Vec<f32> {
        let gt = set.ground_truth().unwrap().unwrap();
        let d = set.dim();
        let concept = &gt.directions[(q % gt.names.len()) * d..][..d];
        let mut row = set.fetch_row((q * 71) % set.rows()).unwrap();
        normalise(&mut row);
        let mut x: Vec<f32> = row.iter().zip(concept).map(|(v, c)| v + 0.5 * c).collect();
        normalise(&mut x);
        x
    }

    #[test]
    fn exact_search_scores_every_row_by_its_cosine() {
        let (_dir, _ws, set) = demo_set(500);
        let x = steered(&set, 3);
        let found = Nearest::exact(&set).unwrap().search(&set, &x, 5).unwrap();
        let cosine = |r: usize| {
            let mut row = set.fetch_row(r).unwrap();
            normalise(&mut row);
            row.iter().zip(&x).map(|(a, b)| a * b).sum::<f32>()
        };
        let mut all: Vec<f32> = (0..set.rows()).map(cosine).collect();
        all.sort_by(|a, b| b.total_cmp(a));
        for (i, &(r, c)) in found.iter().enumerate() {
            assert!(
                (c - cosine(r)).abs() < 1e-5,
                "row {r}: {c} vs {}",
                cosine(r)
            );
            assert!((c - all[i]).abs() < 1e-5, "rank {i}: {c} vs {}", all[i]);
        }
    }

    /// Recall@10 of the graph against exact search, on steered embeddings rather than on the
    /// set's own rows; then the graph is kept, rebuilt for a changed or damaged set, and not
    /// used for a small set.
    #[test]
    fn the_graph_finds_the_exact_neighbours_of_steered_embeddings_and_is_kept() {
        let (_dir, ws, set) = demo_set(3000);
        let heard = AtomicUsize::new(0);
        let never = AtomicBool::new(false);
        let (graph, opened) = Nearest::open(
            &set,
            100,
            &|done| heard.store(done, Ordering::Relaxed),
            &never,
        )
        .unwrap();
        assert_eq!(opened, Opened::Built);
        assert!(matches!(graph, Nearest::Graph(_)));
        assert_eq!(heard.load(Ordering::Relaxed), 3000);
        let exact = Nearest::exact(&set).unwrap();
        let (mut hits, mut asked) = (0, 0);
        for q in 0..40 {
            let x = steered(&set, q);
            let want = exact.search(&set, &x, 10).unwrap();
            let found = graph.search(&set, &x, 10).unwrap();
            hits += found
                .iter()
                .filter(|f| want.iter().any(|e| e.0 == f.0))
                .count();
            asked += 10;
            // Re-ranked exactly: a found row's cosine is its true one.
            let best = want[0];
            if let Some(f) = found.iter().find(|f| f.0 == best.0) {
                assert!((f.1 - best.1).abs() < 1e-5);
            }
        }
        let recall = hits as f64 / asked as f64;
        assert!(recall >= 0.95, "recall@10 {recall}");

        let reopen = |set: &EmbeddingSet| Nearest::open(set, 100, &|_| {}, &never).unwrap().1;
        assert_eq!(reopen(&set), Opened::Kept);
        // A graph cut short is built again, not mapped (the test's own view is let go first:
        // a file cut short under a live map is what the lab never does).
        drop(graph);
        let path = set.dir().join(INDEX_FILE);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert_eq!(reopen(&set), Opened::Built);
        // A set whose embeddings changed is indexed again.
        std::fs::write(set.dir().join(crate::set::CHECKSUM_FILE), "another").unwrap();
        let changed = EmbeddingSet::open(&ws, "demo").unwrap();
        assert_eq!(reopen(&changed), Opened::Built);
        assert_eq!(reopen(&changed), Opened::Kept);
        // Small sets are searched exactly.
        assert_eq!(
            Nearest::open(&set, 3000, &|_| {}, &never).unwrap().1,
            Opened::Exact
        );
        // A build asked to stop stops, and keeps nothing half made.
        std::fs::remove_file(set.dir().join(INDEX_FILE)).unwrap();
        let stop = AtomicBool::new(true);
        let stopped = Nearest::open(&changed, 100, &|_| {}, &stop);
        assert!(matches!(stopped, Err(Error::Interrupted)));
        assert!(!set.dir().join(INDEX_FILE).exists());
    }
}
