//! Parity with transformers on the tiny random BLIP of `fixtures/blip-tiny`
//! (`tools/make_blip_fixtures.py`).

use std::path::Path;

use candle_core::Device;
use serde::Deserialize;

use super::preprocess::pixels;
use super::vocab::Vocab;
use super::Captioner;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/blip-tiny");
const PICTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/preprocess");

#[derive(Deserialize)]
struct Expected {
    pictures: Vec<String>,
    pixels: Vec<f32>,
    hidden: Vec<f32>,
    hidden_shape: Vec<usize>,
    input_ids: Vec<u32>,
    logits: Vec<f32>,
    max_length: usize,
    generated: Vec<Vec<u32>>,
    captions: Vec<String>,
    decode_cases: Vec<(Vec<u32>, String)>,
}

fn expected() -> Expected {
    crate::fsutil::read_json(&Path::new(DIR).join("expected.json")).unwrap()
}

fn worst(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

fn captioner() -> Captioner {
    Captioner::from_dir(Path::new(DIR), "blip-tiny".into(), &Device::Cpu).unwrap()
}

fn inputs(e: &Expected, side: u32) -> Vec<Vec<f32>> {
    e.pictures
        .iter()
        .map(|p| pixels(&image::open(Path::new(PICTURES).join(p)).unwrap(), side))
        .collect()
}

#[test]
fn pixels_match_blips_image_processor() {
    let e = expected();
    let got: Vec<f32> = inputs(&e, captioner().side()).concat();
    let w = worst(&got, &e.pixels);
    assert!(w < 1e-5, "pixels differ by {w}");
}

#[test]
fn vision_tower_and_decoder_match_transformers() {
    let e = expected();
    let c = captioner();
    let hidden = c.encode(&inputs(&e, c.side())).unwrap();
    let first = hidden.narrow(0, 0, 1).unwrap();
    assert_eq!(first.dims()[1..], e.hidden_shape[..]);
    let got: Vec<f32> = first.flatten_all().unwrap().to_vec1().unwrap();
    let w = worst(&got, &e.hidden);
    assert!(w < 1e-4, "vision hidden states differ by {w}");

    let logits = c.logits(&e.input_ids, &first).unwrap();
    let got: Vec<f32> = logits.flatten_all().unwrap().to_vec1().unwrap();
    let w = worst(&got, &e.logits);
    assert!(w < 1e-4, "decoder logits differ by {w}");
}

#[test]
fn greedy_captions_match_transformers_generate() {
    let e = expected();
    let c = captioner();
    let hidden = c.encode(&inputs(&e, c.side())).unwrap();
    for (i, want) in e.generated.iter().enumerate() {
        let ids = c
            .caption_ids(&hidden.narrow(0, i, 1).unwrap(), e.max_length)
            .unwrap();
        assert_eq!(&ids, want, "picture {}", e.pictures[i]);
        assert_eq!(c.decode(&ids), e.captions[i]);
    }
}

#[test]
fn wordpiece_decoding_matches_berts_tokenizer() {
    let e = expected();
    let vocab = Vocab::read(&Path::new(DIR).join("vocab.txt")).unwrap();
    for (ids, text) in &e.decode_cases {
        assert_eq!(&vocab.decode(ids), text, "{ids:?}");
    }
}
