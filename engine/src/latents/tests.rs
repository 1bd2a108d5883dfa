use super::index::LatentIndex;
use crate::sae::linalg::Threads;
use crate::sae::step::{encode, Scratch};
use crate::sae::SaeParams;
use crate::set::InMemory;

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
    let index = LatentIndex::build(&p, &InMemory::new(&data, p.d), k).unwrap();
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
    let a = LatentIndex::build(&p, &InMemory::new(&small, p.d), 8).unwrap();
    let b = LatentIndex::build(&p, &InMemory::new(&large, p.d), 8).unwrap();
    assert_eq!(footprint(&a), footprint(&b));
    assert_eq!(footprint(&b), 64 * 8);
}

#[test]
fn saved_index_is_reused_until_the_weights_change() {
    use crate::demo;
    use crate::run::{RunDir, WEIGHTS_FILE};
    use crate::sae::checkpoint::save_weights;
    use crate::set::EmbeddingSet;
    use crate::workspace::Workspace;

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

/// A workspace with a demo set and a finished run whose SAE has exactly one latent per
/// ground-truth concept (decoder rows = concept directions).
fn concept_sae_workspace() -> (tempfile::TempDir, crate::Workspace) {
    use crate::run::{RunConfig, RunDir, RunState, Status, WEIGHTS_FILE};
    use crate::sae::checkpoint::save_weights;
    use crate::set::EmbeddingSet;

    let dir = tempfile::tempdir().unwrap();
    let ws = crate::Workspace::open(dir.path()).unwrap();
    crate::demo::create(&ws, 2000, 2).unwrap();
    let set = EmbeddingSet::open(&ws, "demo").unwrap();
    let gt = set.ground_truth().unwrap().unwrap();
    let (d, k) = (512, gt.names.len());
    let mut p = SaeParams::zeros(d, k);
    p.w_dec.copy_from_slice(&gt.directions);
    for j in 0..k {
        for i in 0..d {
            p.w_enc[i * k + j] = gt.directions[j * d + i];
        }
    }
    p.b_dec = set
        .stats()
        .unwrap()
        .mean
        .iter()
        .map(|&v| v as f32)
        .collect();
    let run = RunDir::new(&ws, "truth");
    let train = crate::sae::TrainConfig {
        dict: k,
        ..Default::default()
    };
    let config = RunConfig {
        name: "truth".into(),
        data: "demo".into(),
        rows: 2000,
        dim: d,
        created: 0,
        train,
        imported: None,
    };
    crate::run::train::create_run(&run, &config).unwrap();
    save_weights(&run.path(WEIGHTS_FILE), &p, Default::default()).unwrap();
    run.write_state(&RunState {
        status: Status::Done,
        checkpoint_step: 0,
        total_steps: 0,
        message: None,
        updated: 0,
    })
    .unwrap();
    (dir, ws)
}

#[test]
fn an_sae_of_the_true_concepts_is_labelled_with_their_names() {
    let (_dir, ws) = concept_sae_workspace();
    let an = super::analyse(&ws, "truth", 8).unwrap();
    let g = an.agreement().unwrap().unwrap();
    assert_eq!(g.concept.1, 61);
    assert!(
        g.concept.0 >= 58,
        "labels name their concept for {}/61 latents",
        g.concept.0
    );
    let red = an
        .set
        .ground_truth()
        .unwrap()
        .unwrap()
        .names
        .iter()
        .position(|n| n == "red")
        .unwrap();
    let label = &an.labels[red];
    assert!(
        label.top_words[0].split(' ').any(|w| w == "red"),
        "{label:?}"
    );
    assert!(label
        .description
        .starts_with("This feature activates on images containing: "));
}

#[test]
fn collages_and_the_csv_show_what_they_say() {
    use super::collage::{COLUMNS, TILE};
    let (dir, ws) = concept_sae_workspace();
    let an = super::analyse(&ws, "truth", 8).unwrap();
    let path = an.collage(0).unwrap();
    let img = image::open(&path).unwrap().to_rgb8();
    // Eight tiles in two rows of four, each with a caption strip.
    assert!(img.width() > COLUMNS * TILE && img.width() < COLUMNS * (TILE + 8) + 8);
    assert!(img.height() > 2 * TILE && img.height() < 2 * (TILE + 24) + 8);
    // The first tile is the rendered picture of the latent's best row.
    let best = an.index.latents[0].top[0].1 as usize;
    let tile = crate::demo::render_item(&an.set, best);
    assert_eq!(img.get_pixel(4 + 60, 4 + 60), tile.get_pixel(60, 60));

    let csv_path = dir.path().join("labels.csv");
    an.write_csv(&csv_path, &(0..10).collect::<Vec<_>>(), &an.collage_dir())
        .unwrap();
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        headers,
        [
            "latent_id",
            "category",
            "description",
            "top_words",
            "frequency",
            "max_activation",
            "collage"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 10);
    for r in &rows {
        let collage = dir.path().join(&r[6]);
        assert!(
            r[6].is_empty() || collage.is_file() || std::path::Path::new(&r[6]).is_file(),
            "{}",
            &r[6]
        );
    }
    assert!(
        an.write_csv(&csv_path, &[500], &an.collage_dir()).is_err(),
        "a latent past the last is refused"
    );
}
