//! `set.toml` and `items.jsonl`: what an embedding set is and what each row stands for.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The contents of `set.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SetMeta {
    pub name: String,
    /// Where the rows came from: `demo`, `folder:PATH`, `cifar10:PATH`, ...
    pub source: String,
    /// The model that made the embeddings (`demo-concept-encoder` for the demo world).
    pub model: String,
    pub dim: usize,
    pub count: usize,
    /// How images were prepared before embedding.
    pub preprocessing: String,
    /// Seconds since the Unix epoch.
    pub created: u64,
    /// Seed, for generated sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The dataset split embedded (`train`, `test`), for datasets that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
    /// Zero-shot tasks the set carries labels for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<String>,
    /// The embeddings' mean length before they were L2-normalised: the scale Kandinsky's
    /// decoder takes a steered row back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_norm: Option<f32>,
    /// A sharded set's shard files in row order (empty: the rows are `embeddings.safetensors`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<super::shards::ShardEntry>,
}

/// One line of `items.jsonl`: what row `id` of the embeddings stands for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Item {
    pub id: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_index: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// Demo world: attribute → concept value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub concepts: BTreeMap<String, String>,
}
