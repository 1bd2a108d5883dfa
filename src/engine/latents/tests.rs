use super::index::LatentIndex;
use crate::engine::sae::linalg::Threads;
use crate::engine::sae::step::{encode, Scratch};
use crate::engine::sae::SaeParams;

fn random_sae_and_data(d: usize, m: usize, rows: usize) -> (SaeParams, Vec<f32>) {
    let mut p = SaeParams::init(d, m, 5);
    p.b_enc
        .iter_mut()
        .enumerate()
        .for_each(|(j, b)| *b = -0.05 * (j % 7) as f32);
    let data = (0..rows * d)
        .map(|i| ((i as f32 * 12.9898).sin() * 43758.547).fract())
        .collect();
    (p, data)
}

#[test]
fn top_k_matches_a_brute_force_sort() {
    let (d, m, rows, k) = (24, 300, 2500, 7);
    let (p, data) = random_sae_and_data(d, m, rows);
    let index = LatentIndex::build(&p, &data, k);
    let mut s = Scratch::new(d, m, rows);
    encode(&p, &data, rows, &mut s, Threads::One);
    let z = &s.z[..rows * m];
    for j in 0..m {
        let mut column: Vec<(f32, u32)> = (0..rows)
            .map(|r| (z[r * m + j], r as u32))
            .filter(|c| c.0 > 0.0)
            .collect();
        column.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let stats = &index.latents[j];
        assert_eq!(stats.active as usize, column.len(), "latent {j}");
        column.truncate(k);
        assert_eq!(stats.top, column, "latent {j}");
        let max = column.first().map(|c| c.0).unwrap_or(0.0);
        assert_eq!(stats.max, max);
        assert_eq!(
            stats.histogram.iter().map(|&h| h as u64).sum::<u64>(),
            stats.active
        );
    }
    assert_eq!(index.rows, rows);
}

#[test]
fn index_memory_does_not_grow_with_rows() {
    let footprint = |idx: &LatentIndex| idx.latents.iter().map(|l| l.top.capacity()).sum::<usize>();
    let (p, small) = random_sae_and_data(16, 64, 200);
    let (_, large) = random_sae_and_data(16, 64, 20_000);
    let a = LatentIndex::build(&p, &small, 8);
    let b = LatentIndex::build(&p, &large, 8);
    assert_eq!(footprint(&a), footprint(&b));
    assert_eq!(footprint(&b), 64 * 8);
}

#[test]
fn saved_index_is_reused_until_the_weights_change() {
    use crate::engine::demo;
    use crate::engine::run::{RunDir, WEIGHTS_FILE};
    use crate::engine::sae::checkpoint::save_weights;
    use crate::engine::set::EmbeddingSet;
    use crate::engine::workspace::Workspace;

    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::open(dir.path()).unwrap();
    demo::create(&ws, 300, 1).unwrap();
    let set = EmbeddingSet::open(&ws, "demo").unwrap();
    let run = RunDir::new(&ws, "r");
    std::fs::create_dir_all(&run.dir).unwrap();
    save_weights(
        &run.path(WEIGHTS_FILE),
        &SaeParams::init(512, 96, 1),
        Default::default(),
    )
    .unwrap();

    let (built, fresh) = super::index_for_run(&run, &set, 5).unwrap();
    assert!(fresh);
    let (read, fresh) = super::index_for_run(&run, &set, 5).unwrap();
    assert!(!fresh, "an unchanged run reuses its index");
    assert_eq!(read.rows, built.rows);
    for (a, b) in read.latents.iter().zip(&built.latents) {
        assert_eq!(
            (a.active, a.max, a.histogram, &a.top),
            (b.active, b.max, b.histogram, &b.top)
        );
        assert!((a.mean_active() - b.mean_active()).abs() < 1e-5);
    }
    std::thread::sleep(std::time::Duration::from_millis(20));
    save_weights(
        &run.path(WEIGHTS_FILE),
        &SaeParams::init(512, 96, 2),
        Default::default(),
    )
    .unwrap();
    assert!(
        super::index_for_run(&run, &set, 5).unwrap().1,
        "new weights rebuild the index"
    );
}
