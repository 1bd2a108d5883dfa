//! `saelab explain` through the binary on the demo world, where the answers are known: a TopK
//! run recovers every concept, so a picture, a text and a class come out as their concepts.

#![allow(clippy::unwrap_used)]

mod common;

use common::Lab;
use serde_json::Value;

/// Latents matched to a concept this closely count as that concept's.
const MATCHED: f64 = 0.9;

/// A demo world of 8000 pictures and a TopK run on it (a second of training).
fn trained() -> Lab {
    let lab = Lab::new();
    lab.ok(&["demo", "--images", "8000"]);
    lab.ok(&[
        "train", "--data", "demo", "--arch", "topk", "--k", "16", "--dict", "256", "--epochs", "3",
        "--name", "r",
    ]);
    lab
}

/// The concepts of the first `n` listed latents that are matched closely.
fn matched(explained: &Value, n: usize) -> Vec<String> {
    explained["latents"]
        .as_array()
        .unwrap()
        .iter()
        .take(n)
        .filter(|l| l["concept_cosine"].as_f64().is_some_and(|c| c >= MATCHED))
        .map(|l| l["concept"].as_str().unwrap().to_string())
        .collect()
}

fn red_star_on_sand(lab: &Lab) -> usize {
    let items = std::fs::read_to_string(lab.ws().join("sets/demo/items.jsonl")).unwrap();
    items
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|i| {
            let c = &i["concepts"];
            c["colour"] == "red" && c["shape"] == "star" && c["background"] == "sand"
        })
        .map(|i| i["id"].as_u64().unwrap() as usize)
        .expect("a red star on sand")
}

#[test]
fn explain_answers_a_picture_a_text_and_a_class_with_their_concepts() {
    let lab = trained();
    let row = red_star_on_sand(&lab).to_string();

    let image = lab.json(&["explain", "r", "--image", &row, "--top", "8"]);
    let concepts = matched(&image, 8);
    for c in ["red", "star", "sand"] {
        assert!(concepts.iter().any(|x| x == c), "{c} not in {concepts:?}");
    }
    for l in image["latents"].as_array().unwrap() {
        assert!(
            l["latent"].is_u64() && l["label"].is_string() && l["score"].is_f64(),
            "{l}"
        );
    }
    let m = &image["prediction"];
    assert_eq!(m["class"], "red star");
    let parts = ["latents", "bias", "error"]
        .iter()
        .map(|k| m[k].as_f64().unwrap())
        .sum::<f64>();
    assert!((parts - m["margin"].as_f64().unwrap()).abs() < 1e-4, "{m}");

    let text = lab.json(&["explain", "r", "--text", "red star"]);
    assert_eq!(text["moved"], true);
    let top2 = matched(&text, 2);
    assert!(
        top2.contains(&"red".into()) && top2.contains(&"star".into()),
        "{text}"
    );

    let class = lab.json(&["explain", "r", "--class", "red star", "--task", "demo100"]);
    let top2 = matched(&class, 2);
    assert!(
        top2.contains(&"red".into()) && top2.contains(&"star".into()),
        "{class}"
    );
    assert!(class["pictures"].as_u64().unwrap() > 0);

    // In words: the table, the margin split and what the text went through.
    let words = lab.ok(&["explain", "r", "--image", &row]);
    assert!(
        words.contains("CLIP predicts 'red star'") && words.contains("| latent"),
        "{words}"
    );
    let words = lab.ok(&["explain", "r", "--text", "red star"]);
    assert!(words.contains("moved across the gap"), "{words}");
}

#[test]
fn explain_names_what_is_wrong() {
    let lab = trained();
    let err = lab.fails(&["explain", "r"], 2);
    assert!(err.contains("--image") && err.contains("--text"), "{err}");
    let err = lab.fails(&["explain", "r", "--class", "purple cat"], 1);
    assert!(
        err.contains("'purple cat' is not a class of demo100"),
        "{err}"
    );
    let err = lab.fails(&["explain", "r", "--image", "99999"], 1);
    assert!(err.contains("out of range"), "{err}");
    let err = lab.fails(&["explain", "nope", "--text", "a"], 1);
    assert!(err.contains("no run named 'nope'"), "{err}");
    let err = lab.fails(&["explain", "r", "--text", "a", "--top", "0"], 1);
    assert!(err.contains("--top"), "{err}");
}
