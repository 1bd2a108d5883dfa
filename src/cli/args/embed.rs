//! `saelab embed`.

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct EmbedArgs {
    /// A hub repo id or a local CLIPModel folder (config.json + model.safetensors).
    #[arg(long, default_value = crate::engine::hub::DEFAULT_MODEL)]
    pub model: String,
    /// KIND:PATH, KIND one of folder, flickr30k, cifar10, cifar100, parquet, webdataset
    /// (a folder of .tar files, or a brace pattern such as /data/{00000..00127}.tar).
    #[arg(long, value_name = "KIND:PATH")]
    pub dataset: String,
    /// Name of the new set (CIFAR tasks look for sets named cifar10 and cifar100).
    #[arg(long)]
    pub name: String,
    /// Images per forward pass.
    #[arg(long, default_value_t = crate::engine::embed::DEFAULT_BATCH)]
    pub batch: usize,
    /// Embed only slice I of N of the dataset's listing (0 ≤ I < N), or `auto` for the task
    /// of a Slurm job array; `saelab sets merge NAME` joins the finished slices into the set.
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<String>,
    /// train or test, for datasets with splits.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Embed only the first N images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Examples per saved chunk: what an interrupted embed can lose. `--shard` slices are
    /// whole chunks, so that they equal one process's rows bit for bit.
    #[arg(long, default_value_t = crate::engine::embed::CHUNK)]
    pub chunk: usize,
    /// Use the Hugging Face cache only; never download.
    #[arg(long)]
    pub offline: bool,
    /// Embed each example's caption (else "a photo of a {label}.") through this Kandinsky
    /// 2.2 prior instead of its picture through CLIP: the study's 1280-d prior embeddings.
    #[arg(long, value_name = "DIR|REPO", num_args = 0..=1,
          default_missing_value = crate::engine::hub::DEFAULT_PRIOR)]
    pub prior: Option<String>,
    /// The prior's denoising steps (with --prior).
    #[arg(long, default_value_t = 25, requires = "prior")]
    pub prior_steps: usize,
    /// The prior's classifier-free guidance scale (with --prior).
    #[arg(long, default_value_t = 4.0, requires = "prior")]
    pub guidance: f64,
    /// Seed of the prior's noise (with --prior).
    #[arg(long, default_value_t = 0, requires = "prior")]
    pub seed: u64,
}
