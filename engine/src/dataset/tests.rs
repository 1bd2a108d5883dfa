//! Loaders on tiny datasets the tests make: CIFAR binaries, an image folder with a corrupt
//! file, a Flickr30k folder with captions.

use std::path::Path;

use image::{GenericImageView, Rgb, RgbImage};

use super::*;

/// A CIFAR record: label bytes, then a 32×32 picture whose red plane is `red`, green the
/// column, blue the row.
fn record(labels: &[u8], red: u8) -> Vec<u8> {
    let mut r = labels.to_vec();
    r.extend(std::iter::repeat_n(red, 1024));
    r.extend((0..1024).map(|p| (p % 32) as u8));
    r.extend((0..1024).map(|p| (p / 32) as u8));
    r
}

#[test]
fn cifar10_binaries_read_labels_and_planar_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
    std::fs::write(dir.path().join("batches.meta.txt"), names).unwrap();
    let test: Vec<u8> = [record(&[3], 10), record(&[9], 200)].concat();
    std::fs::write(dir.path().join("test_batch.bin"), test).unwrap();
    let ex = load(Kind::Cifar10, dir.path(), Split::Test).unwrap();
    assert_eq!(ex.len(), 2);
    assert_eq!(ex[0].label.as_deref(), Some("cat"));
    assert_eq!(ex[1].label.as_deref(), Some("truck"));
    let img = ex[1].decode().unwrap().image.to_rgb8();
    assert_eq!(img.dimensions(), (32, 32));
    assert_eq!(*img.get_pixel(5, 7), Rgb([200, 5, 7]));
    // The train split needs its five batches.
    let err = load(Kind::Cifar10, dir.path(), Split::Train)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("data_batch_1.bin") && err.contains("missing"),
        "{err}"
    );
}

#[test]
fn cifar100_reads_fine_labels_and_rejects_truncated_files() {
    let dir = tempfile::tempdir().unwrap();
    let fine: String = (0..100)
        .map(|i| {
            if i == 1 {
                "aquarium_fish\n".to_string()
            } else {
                format!("class{i}\n")
            }
        })
        .collect();
    std::fs::write(dir.path().join("fine_label_names.txt"), fine).unwrap();
    std::fs::write(
        dir.path().join("test.bin"),
        [record(&[0, 1], 1), record(&[5, 42], 2)].concat(),
    )
    .unwrap();
    let ex = load(Kind::Cifar100, dir.path(), Split::Test).unwrap();
    assert_eq!(ex[0].label.as_deref(), Some("aquarium fish"));
    assert_eq!(ex[1].label.as_deref(), Some("class42"));
    let mut cut = record(&[0, 1], 1);
    cut.truncate(1000);
    std::fs::write(dir.path().join("test.bin"), cut).unwrap();
    let err = load(Kind::Cifar100, dir.path(), Split::Test)
        .unwrap_err()
        .to_string();
    assert!(err.contains("truncated"), "{err}");
}

fn write_png(path: &Path, shade: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    RgbImage::from_pixel(8, 6, Rgb([shade, shade, shade]))
        .save(path)
        .unwrap();
}

#[test]
fn image_folder_takes_classes_from_subfolders_and_reports_corrupt_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_png(&root.join("cats/a.png"), 10);
    write_png(&root.join("cats/deeper/b.png"), 20);
    write_png(&root.join("dogs/c.png"), 30);
    std::fs::write(root.join("dogs/broken.jpg"), b"not a jpeg").unwrap();
    std::fs::write(root.join("notes.txt"), b"ignored").unwrap();
    let ex = load(Kind::Folder, root, Split::Test).unwrap();
    let labels: Vec<_> = ex.iter().map(|e| e.label.clone().unwrap()).collect();
    assert_eq!(labels, ["cats", "cats", "dogs", "dogs"]);
    let named = |name: &str| {
        ex.iter()
            .find(|e| matches!(&e.picture, Picture::File(p) if p.ends_with(name)))
            .unwrap()
    };
    assert_eq!(named("c.png").decode().unwrap().image.dimensions(), (8, 6));
    let broken = named("broken.jpg");
    let err = broken.decode().unwrap_err().to_string();
    assert!(
        err.contains("broken.jpg") && err.contains("not a readable image"),
        "{err}"
    );
    let empty = tempfile::tempdir().unwrap();
    assert!(load(Kind::Folder, empty.path(), Split::Test)
        .unwrap_err()
        .to_string()
        .contains("holds no images"));
}

#[test]
fn flickr30k_pairs_images_with_their_first_caption() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_png(
        &root.join("flickr30k-images/1000.jpg").with_extension("png"),
        5,
    );
    write_png(&root.join("flickr30k-images/2000.png"), 6);
    std::fs::write(
        root.join("results_20130124.token"),
        "1000.png#0\tTwo dogs play.\n1000.png#1\tDogs.\n",
    )
    .unwrap();
    let ex = load(Kind::Flickr30k, root, Split::Test).unwrap();
    assert_eq!(ex.len(), 2);
    assert_eq!(ex[0].caption.as_deref(), Some("Two dogs play."));
    assert_eq!(ex[1].caption, None);
    assert!(parse_spec("flickr30k:/data/f30k").is_ok());
    assert!(parse_spec("imagenet:/x")
        .unwrap_err()
        .to_string()
        .contains("not a dataset kind"));
    assert!(parse_spec("nocolon").is_err());
}

const PARQUET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/parquet");

#[test]
fn parquet_reads_hugging_face_layouts_with_class_names_from_metadata() {
    let train = load(
        Kind::Parquet,
        &Path::new(PARQUET).join("cifar10"),
        Split::Train,
    )
    .unwrap();
    let labels: Vec<_> = train.iter().map(|e| e.label.clone().unwrap()).collect();
    assert_eq!(labels, ["airplane", "cat", "truck", "cat"]);
    assert_eq!(train[2].decode().unwrap().image.dimensions(), (32, 32));
    let test = load(
        Kind::Parquet,
        &Path::new(PARQUET).join("cifar10"),
        Split::Test,
    )
    .unwrap();
    assert_eq!(test.len(), 3);
    assert_eq!(test[1].label.as_deref(), Some("ship"));

    // CIFAR-100's fine label wins over the coarse one; a row of non-image bytes is reported.
    let fine = load(
        Kind::Parquet,
        &Path::new(PARQUET).join("cifar100"),
        Split::Test,
    )
    .unwrap();
    let labels: Vec<_> = fine.iter().map(|e| e.label.clone().unwrap()).collect();
    assert_eq!(labels, ["aquarium fish", "class 42", "class 99", "class 0"]);
    let err = fine[3].decode().unwrap_err().to_string();
    assert!(err.contains("row 3") && err.contains("skipped"), "{err}");

    let not_parquet = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(not_parquet.path(), b"PAR1 but no more").unwrap();
    let err = load(Kind::Parquet, not_parquet.path(), Split::Test)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a readable parquet file"), "{err}");
}

#[test]
fn brace_patterns_expand_in_order() {
    use super::webdataset::expand_braces;
    assert_eq!(
        expand_braces("/d/{0008..0011}.tar").unwrap(),
        ["/d/0008.tar", "/d/0009.tar", "/d/0010.tar", "/d/0011.tar"]
    );
    assert_eq!(
        expand_braces("{a,b}-{1..2}").unwrap(),
        ["a-1", "a-2", "b-1", "b-2"]
    );
    for bad in ["/d/{3..1}.tar", "/d/{x..2}.tar", "/d/{0..2.tar"] {
        assert!(expand_braces(bad).is_err(), "{bad}");
    }
}
