//! Where a model's files come from: a local Hugging Face model folder, or a hub repo downloaded
//! once into the standard Hugging Face cache (`HF_HOME`, `HF_ENDPOINT` and `HF_TOKEN`
//! honoured). Offline, only the cache is read. CLIP and BLIP folders differ only in the files
//! they must hold.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Cache, Repo};

use crate::error::{Error, Result};
use crate::fsutil;

/// The study's model.
pub const DEFAULT_MODEL: &str = "laion/CLIP-ViT-B-32-laion2B-s34B-b79K";

/// A kind of model folder: what it is called, the option that names it, the files it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelKind {
    pub what: &'static str,
    pub flag: &'static str,
    pub files: &'static [&'static str],
}

/// A Hugging Face `CLIPModel` saved with safetensors.
pub const CLIP: ModelKind = ModelKind {
    what: "a CLIP model folder (a Hugging Face CLIPModel saved with safetensors)",
    flag: "--model",
    files: &["config.json", "model.safetensors"],
};

/// A Hugging Face `BlipForConditionalGeneration` saved with safetensors, and its WordPiece
/// vocabulary.
pub const BLIP: ModelKind = ModelKind {
    what: "a BLIP captioning folder (a Hugging Face BlipForConditionalGeneration saved with safetensors)",
    flag: "--captioner",
    files: &["config.json", "model.safetensors", "vocab.txt"],
};

/// Kandinsky 2.2's decoder repo in diffusers' layout.
pub const KANDINSKY_DECODER: ModelKind = ModelKind {
    what: "a Kandinsky 2.2 decoder folder (diffusers' kandinsky-2-2-decoder: unet/, movq/, scheduler/)",
    flag: "--decoder",
    files: &[
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "movq/config.json",
        "movq/diffusion_pytorch_model.safetensors",
        "scheduler/scheduler_config.json",
    ],
};

/// Kandinsky 2.2's prior repo in diffusers' layout.
pub const KANDINSKY_PRIOR: ModelKind = ModelKind {
    what: "a Kandinsky 2.2 prior folder (diffusers' kandinsky-2-2-prior: prior/, text_encoder/, image_encoder/, scheduler/)",
    flag: "--prior",
    files: &[
        "prior/config.json",
        "prior/diffusion_pytorch_model.safetensors",
        "text_encoder/config.json",
        "text_encoder/model.safetensors",
        "image_encoder/config.json",
        "image_encoder/model.safetensors",
        "scheduler/scheduler_config.json",
    ],
};

/// The study's Kandinsky 2.2 repos.
pub const DEFAULT_DECODER: &str = "kandinsky-community/kandinsky-2-2-decoder";
pub const DEFAULT_PRIOR: &str = "kandinsky-community/kandinsky-2-2-prior";

/// `--model random:vit-b32` (or `random:tiny`, or `random:kandinsky-2-2`, a tiny CLIP into
/// Kandinsky 2.2's 1280 dimensions): a CLIP of that shape with random weights, for timing the
/// embedding path where no real model can be downloaded (the GPU smoke run). A random BLIP is
/// `random:blip-base`, a random Kandinsky `random:kandinsky-2-2` (caption/, kandinsky/random.rs).
pub const RANDOM_PREFIX: &str = "random:";

/// The random model's folder, made once in the temporary folder (weights are not seeded: a
/// set embedded with one is for timing, not for reading).
fn random_clip(name: &str) -> Result<PathBuf> {
    let config = match name {
        "vit-b32" => crate::clip::random::vit_b32(),
        "tiny" => crate::clip::random::tiny(),
        crate::kandinsky::random::RANDOM_KANDINSKY => crate::clip::random::into_kandinsky(),
        _ => {
            return Err(Error::invalid(
                "--model",
                format!(
                    "'random:{name}' is not a random model: use random:vit-b32, random:tiny or random:{}",
                    crate::kandinsky::random::RANDOM_KANDINSKY
                ),
            ))
        }
    };
    let dir = std::env::temp_dir().join(format!("saelab-random-{name}"));
    if !dir.join("model.safetensors").is_file() {
        let fresh =
            std::env::temp_dir().join(format!(".saelab-random-{name}.tmp-{}", fsutil::temp_tag()));
        crate::clip::random::save_random(&config, &fresh)?;
        if std::fs::rename(&fresh, &dir).is_err() {
            // Another process made it first.
            let _ = std::fs::remove_dir_all(&fresh);
        }
    }
    Ok(dir)
}

/// How `--model` is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSource {
    /// A folder, or a hub repo id such as `laion/CLIP-ViT-B-32-laion2B-s34B-b79K`.
    pub spec: String,
    /// Read the Hugging Face cache only; never touch the network.
    pub offline: bool,
    /// Show download progress bars.
    pub progress: bool,
    pub kind: ModelKind,
}

impl ModelSource {
    pub fn new(spec: impl Into<String>) -> Self {
        ModelSource {
            spec: spec.into(),
            offline: false,
            progress: false,
            kind: CLIP,
        }
    }

    pub fn of_kind(spec: impl Into<String>, kind: ModelKind) -> Self {
        ModelSource {
            kind,
            ..Self::new(spec)
        }
    }

    /// The folder holding the model's files, downloading them if needed.
    pub fn resolve(&self) -> Result<PathBuf> {
        if let Some(name) = self.spec.strip_prefix(RANDOM_PREFIX) {
            return random_clip(name);
        }
        let path = fsutil::expand_home(&self.spec);
        if path.is_dir() {
            return check_folder(&path, self.kind).map(|()| path);
        }
        if split_repo(&self.spec).is_none() {
            return Err(Error::bad_file(
                path,
                format!(
                    "is not a folder, and not a hub repo id (owner/name, or owner/name/subfolder): pass {} holding {}, or a hub repo id",
                    self.kind.what,
                    self.kind.files.join(", ")
                ),
            ));
        }
        if self.offline {
            self.cached()
        } else {
            self.download()
        }
    }

    /// The model's stable name, as sets record it: the repo id, or the folder's full path.
    pub fn name(&self) -> String {
        let path = fsutil::expand_home(&self.spec);
        if path.is_dir() {
            path.canonicalize()
                .unwrap_or(path)
                .to_string_lossy()
                .into_owned()
        } else {
            self.spec.clone()
        }
    }

    /// The repo id and each of the kind's files as a path inside the repo.
    fn repo_files(&self) -> (String, Vec<String>) {
        let (repo, sub) = split_repo(&self.spec).expect("resolve checked the repo id");
        let files = self
            .kind
            .files
            .iter()
            .map(|f| match sub {
                Some(sub) => format!("{sub}/{f}"),
                None => f.to_string(),
            })
            .collect();
        (repo.to_string(), files)
    }

    /// The folder a fetched file's kind-relative path hangs from.
    fn folder_of(&self, got: &Path) -> PathBuf {
        let depth = Path::new(self.kind.files[0]).components().count();
        got.ancestors()
            .nth(depth)
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    fn cached(&self) -> Result<PathBuf> {
        let cache = Cache::from_env();
        let (id, files) = self.repo_files();
        let repo = cache.repo(Repo::model(id));
        let mut folder = None;
        for file in &files {
            let found = repo.get(file).ok_or_else(|| {
                Error::invalid(
                    self.kind.flag,
                    format!(
                        "{file} of '{}' is not in the Hugging Face cache at {}; run once without --offline where the hub is reachable, set HF_HOME to the cache that has it, or pass a local folder",
                        self.spec,
                        cache.path().display()
                    ),
                )
            })?;
            if folder.is_none() {
                folder = Some(self.folder_of(&found));
            }
        }
        Ok(folder.expect("a model kind names files"))
    }

    fn download(&self) -> Result<PathBuf> {
        let token = std::env::var("HF_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
            .or_else(|| Cache::from_env().token());
        let api = ApiBuilder::from_env()
            .with_token(token)
            .with_progress(self.progress)
            .build()
            .map_err(|e| {
                Error::invalid(
                    self.kind.flag,
                    format!("could not set up the hub client: {e}"),
                )
            })?;
        let (id, files) = self.repo_files();
        let repo = api.model(id);
        let mut folder = None;
        for file in &files {
            let got = repo.get(file).map_err(|e| {
                Error::invalid(
                    self.kind.flag,
                    format!(
                        "could not fetch {file} of '{}' from {} ({e}); check the network, HF_ENDPOINT and HF_TOKEN, or use --offline with a cached copy, or pass a local folder",
                        self.spec,
                        repo.url(file)
                    ),
                )
            })?;
            if file.ends_with(".safetensors") {
                drop_if_truncated(&got)?;
            }
            if folder.is_none() {
                folder = Some(self.folder_of(&got));
            }
        }
        Ok(folder.expect("a model kind names files"))
    }
}

/// Builds a model from `dir`'s `model.safetensors`, memory-mapped, naming the file and the fix
/// when it is missing, unreadable, or does not match `config.json`.
pub fn build_from_folder<T>(
    dir: &Path,
    device: &Device,
    build: impl FnOnce(VarBuilder) -> Result<T>,
) -> Result<T> {
    build_from_file(dir, "model.safetensors", DType::F32, device, build)
}

/// As [`build_from_folder`], for a weights file of another name (diffusers' folders hold
/// `diffusion_pytorch_model.safetensors`), read as `dtype`.
pub fn build_from_file<T>(
    dir: &Path,
    file: &str,
    dtype: DType,
    device: &Device,
    build: impl FnOnce(VarBuilder) -> Result<T>,
) -> Result<T> {
    let weights = dir.join(file);
    if !weights.is_file() {
        return Err(Error::bad_file(
            weights,
            format!("is missing: the model folder needs config.json and {file}"),
        ));
    }
    // SAFETY: the weights file is only read, and kept unchanged while the model lives.
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], dtype, device) }.map_err(
        |e| {
            Error::bad_file(
                &weights,
                format!("is not a readable safetensors file ({e}); download it again"),
            )
        },
    )?;
    build(vb).map_err(|e| {
        Error::bad_file(
            &weights,
            format!("does not match {}: {e}", dir.join("config.json").display()),
        )
    })
}

/// A safetensors file's expected length: the 8-byte header size, the JSON header, then the
/// data up to the furthest tensor's end.
fn expected_len(path: &Path) -> Option<u64> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut size = [0u8; 8];
    f.read_exact(&mut size).ok()?;
    let n = u64::from_le_bytes(size);
    let mut header = vec![0u8; usize::try_from(n).ok()?];
    f.read_exact(&mut header).ok()?;
    let header: serde_json::Value = serde_json::from_slice(&header).ok()?;
    let end = header
        .as_object()?
        .values()
        .filter_map(|t| t.get("data_offsets")?.get(1)?.as_u64())
        .max()
        .unwrap_or(0);
    Some(8 + n + end)
}

/// A download cut short stays in the cache looking complete; remove it so the next try fetches
/// it anew, and say so.
fn drop_if_truncated(path: &Path) -> Result<()> {
    let have = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if expected_len(path) == Some(have) {
        return Ok(());
    }
    let blob = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(&blob);
    Err(Error::bad_file(
        path,
        format!("was downloaded incomplete ({have} bytes); it has been removed from the cache, so running the command again downloads it again"),
    ))
}

fn check_folder(dir: &Path, kind: ModelKind) -> Result<()> {
    for file in kind.files {
        let path = dir.join(file);
        if !path.is_file() {
            return Err(Error::bad_file(
                path,
                format!("is missing: {} holds {}", kind.what, kind.files.join(", ")),
            ));
        }
    }
    Ok(())
}

/// `owner/name`, or `owner/name/subfolder` for one model of a pipeline repo (Kandinsky's
/// `kandinsky-community/kandinsky-2-2-prior/image_encoder`): the repo id and the subfolder.
fn split_repo(spec: &str) -> Option<(&str, Option<&str>)> {
    let parts: Vec<&str> = spec.split('/').collect();
    if parts.iter().any(|p| p.is_empty()) || parts[0].starts_with(['.', '~']) {
        return None;
    }
    let repo_len = parts[0].len() + 1 + parts.get(1)?.len();
    match parts.len() {
        2 => Some((spec, None)),
        3 => Some((&spec[..repo_len], Some(parts[2]))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ids_and_paths_are_told_apart() {
        assert_eq!(split_repo(DEFAULT_MODEL), Some((DEFAULT_MODEL, None)));
        assert_eq!(
            split_repo("openai/clip-vit-base-patch32"),
            Some(("openai/clip-vit-base-patch32", None))
        );
        assert_eq!(
            split_repo("kandinsky-community/kandinsky-2-2-prior/image_encoder"),
            Some((
                "kandinsky-community/kandinsky-2-2-prior",
                Some("image_encoder")
            ))
        );
        assert_eq!(split_repo("./models/clip"), None);
        assert_eq!(split_repo("/models/clip"), None);
        assert_eq!(split_repo("~/clip"), None);
        assert_eq!(split_repo("clip"), None);
        assert_eq!(split_repo("a/b/c/d"), None);
    }
}
