//! Plain configuration data for an SAE and its training, saved in each run's `run.toml`.

use serde::{Deserialize, Serialize};

use super::arch::Arch;
use crate::error::{Error, Result};

/// Bytes of memory available to a new process (Linux's MemAvailable; None elsewhere).
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The most steps a run may take: far past any real run, and far below where step counts and
/// example counts overflow.
pub const MAX_STEPS: u64 = 1 << 40;

/// How the L1 penalty is normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum L1Convention {
    /// Mean of |z| over batch and latents (the study's `torch.mean(abs(z))`).
    #[default]
    Mean,
    /// Sum of |z| over latents, mean over the batch.
    Sum,
}

impl L1Convention {
    /// The divisor that turns Σ|z| over a batch of `rows` into the penalty.
    pub fn divisor(self, rows: usize, latents: usize) -> f64 {
        match self {
            L1Convention::Mean => (rows * latents) as f64,
            L1Convention::Sum => rows as f64,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            L1Convention::Mean => "mean",
            L1Convention::Sum => "sum",
        }
    }
}

/// The matrix products' arithmetic on a GPU. Weights, gradients and Adam's moments are f32
/// in every case; only the products' inputs (bf16) or their multiply units (tf32) change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Full f32 products: the CPU's arithmetic, and what agreement checks compare.
    #[default]
    F32,
    /// f32 products on CUDA's TF32 tensor cores (10-bit mantissa inputs, f32 sums).
    Tf32,
    /// Products of bf16 copies of the operands, summed in f32; f32 master weights.
    Bf16,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Tf32 => "tf32",
            Precision::Bf16 => "bf16",
        }
    }
}

/// How the decoder bias starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BiasInit {
    /// The per-dimension mean of the training data.
    #[default]
    Mean,
    Zero,
    /// The geometric median of a sample of the training data (Weiszfeld's iterations).
    Median,
}

/// The study's SAE and training settings; every default is the study's. Fields added after
/// the study's take their defaults when an older `run.toml` lacks them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    /// The SAE family.
    pub arch: Arch,
    /// Number of latents m.
    pub dict: usize,
    /// The sparsity coefficient λ: on the L1 penalty (relu) or the L0 penalty (jumprelu).
    pub lambda: f64,
    /// Active latents per row (topk) or per row on average (batchtopk, matryoshka).
    pub k: Option<usize>,
    pub l1: L1Convention,
    pub lr: f64,
    pub batch: usize,
    pub epochs: usize,
    pub seed: u64,
    /// Keep decoder rows at unit norm after every step.
    pub unit_norm_decoder: bool,
    /// Start the encoder as the decoder's transpose (else drawn independently).
    pub tied_init: bool,
    pub b_dec_init: BiasInit,
    /// Save a checkpoint every this many steps (and at the end of every epoch).
    pub checkpoint_every: u64,
    /// Append a line to `metrics.jsonl` every this many steps.
    pub log_every: u64,
    /// AuxK: dead latents' top pre-activations per row that reconstruct the residual (0: off).
    pub aux_k: usize,
    /// AuxK's weight in the loss.
    pub aux_coef: f64,
    /// A latent is dead once it has not fired for more than this many steps.
    pub dead_after: u64,
    /// Matryoshka's nested prefix sizes, increasing; the whole dictionary is always the last
    /// (empty: dict/32, dict/8, dict/4, dict/2, dict).
    pub prefixes: Vec<usize>,
    /// Steps of linear learning-rate warm-up from 0 (0: none).
    pub warmup_steps: u64,
    /// The last this many steps decay the learning rate linearly, the last step at lr / N
    /// (0: none).
    pub decay_steps: u64,
    /// JumpReLU's kernel bandwidth ε and initial threshold, for inputs of norm √d (they are
    /// scaled to the data's mean norm).
    pub jump_bandwidth: f64,
    pub jump_init_threshold: f64,
    /// The matrix products' arithmetic on a GPU (the CPU trainer is f32 only).
    pub precision: Precision,
    /// A sharded set's shuffle buffer: rows a window (`set/stream.rs`). Its batches depend
    /// on it, so it is kept with the run.
    pub shuffle_window: usize,
}

/// AuxK's defaults (Gao et al. 2024: k_aux 512, weight 1/32).
pub const DEFAULT_AUX_K: usize = 512;
pub const DEFAULT_AUX_COEF: f64 = 1.0 / 32.0;
pub const DEFAULT_DEAD_AFTER: u64 = 1000;
/// A sharded set's shuffle window: 2¹⁷ rows, 256 MiB of 512-d embeddings; three are held at
/// most (training's, the next being read, and the one after while a batch spans two).
pub const DEFAULT_SHUFFLE_WINDOW: usize = 1 << 17;
/// The TopK family's learning rate when none is given: on ground-truth data its 625-step
/// runs recover more of the true features than at the study's 1e-3 (docs/sae.md, SAE families).
pub const TOPK_LR: f64 = 2e-3;
/// The k of the TopK family when none is given (OpenAI's and saev's).
pub const DEFAULT_K: usize = 32;
/// Matryoshka's default prefixes, as fractions dict / n of the dictionary.
const PREFIX_DIVISORS: [usize; 4] = [32, 8, 4, 2];
/// JumpReLU's ε and initial θ from Rajamanoharan et al. 2024, for ‖x‖ ≈ √d.
pub const JUMP_BANDWIDTH: f64 = 1e-3;
pub const JUMP_INIT_THRESHOLD: f64 = 1e-3;

/// Adam's fixed hyper-parameters (the study's: PyTorch defaults, no weight decay).
pub const ADAM_BETA1: f64 = 0.9;
pub const ADAM_BETA2: f64 = 0.999;
pub const ADAM_EPS: f64 = 1e-8;

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            arch: Arch::Relu,
            dict: 4096,
            lambda: 1e-3,
            k: None,
            l1: L1Convention::Mean,
            lr: 1e-3,
            batch: 256,
            epochs: 5,
            seed: 0,
            unit_norm_decoder: false,
            tied_init: true,
            b_dec_init: BiasInit::Mean,
            checkpoint_every: 50,
            log_every: 5,
            aux_k: DEFAULT_AUX_K,
            aux_coef: DEFAULT_AUX_COEF,
            dead_after: DEFAULT_DEAD_AFTER,
            prefixes: Vec::new(),
            warmup_steps: 0,
            decay_steps: 0,
            shuffle_window: DEFAULT_SHUFFLE_WINDOW,
            jump_bandwidth: JUMP_BANDWIDTH,
            jump_init_threshold: JUMP_INIT_THRESHOLD,
            precision: Precision::F32,
        }
    }
}

impl TrainConfig {
    /// Rejects settings that cannot train, naming the option to change.
    pub fn validate(&self) -> Result<()> {
        let bad = |what, msg: String| Err(Error::invalid(what, msg));
        if !(self.lambda >= 0.0 && self.lambda.is_finite()) {
            return bad(
                "--lambda",
                format!("{} must be a finite number ≥ 0", self.lambda),
            );
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad("--lr", format!("{} must be a finite number > 0", self.lr));
        }
        if self.batch == 0 {
            return bad("--batch", "must be at least 1".into());
        }
        if self.dict == 0 {
            return bad("--dict", "must be at least 1".into());
        }
        if self.epochs == 0 {
            return bad("--epochs", "must be at least 1".into());
        }
        if self.shuffle_window == 0 {
            return bad("--shuffle-window", "must be at least 1 row".into());
        }
        if self.checkpoint_every == 0 || self.log_every == 0 {
            return bad(
                "--checkpoint-every/--log-every",
                "must be at least 1".into(),
            );
        }
        self.validate_family()
    }

    fn validate_family(&self) -> Result<()> {
        let bad = |what, msg: String| Err(Error::invalid(what, msg));
        let arch = self.arch.name();
        match self.k {
            Some(_) if !self.arch.uses_k() => {
                return bad("--k", format!("--arch {arch} takes no k; use --lambda"))
            }
            Some(0) => return bad("--k", "must be at least 1".into()),
            Some(k) if k > self.dict => {
                return bad(
                    "--k",
                    format!("{k} is more than the dictionary's {} latents", self.dict),
                )
            }
            _ => {}
        }
        if !self.prefixes.is_empty() && self.arch != Arch::Matryoshka {
            return bad("--prefixes", format!("--arch {arch} has no prefixes"));
        }
        if let Some(w) = self.prefixes.windows(2).find(|w| w[0] >= w[1]) {
            return bad(
                "--prefixes",
                format!("must increase, but {} is followed by {}", w[0], w[1]),
            );
        }
        if let Some(&p) = self.prefixes.iter().find(|&&p| p == 0 || p > self.dict) {
            return bad(
                "--prefixes",
                format!(
                    "{p} is not between 1 and the dictionary's {} latents",
                    self.dict
                ),
            );
        }
        if !(self.aux_coef >= 0.0 && self.aux_coef.is_finite()) {
            return bad("--aux-coef", format!("{} must be ≥ 0", self.aux_coef));
        }
        if !(self.jump_bandwidth > 0.0 && self.jump_init_threshold > 0.0) {
            return bad(
                "--jump-bandwidth/--jump-init-threshold",
                "must be > 0".into(),
            );
        }
        Ok(())
    }

    /// Refuses a precision the device's trainer does not have: the CPU trains in f32 alone,
    /// and TF32 is CUDA's.
    pub fn check_device(&self, device: &candle_core::Device) -> Result<()> {
        let p = self.precision;
        let why = match device {
            candle_core::Device::Cpu if p != Precision::F32 => {
                "is a GPU's arithmetic; the CPU trainer computes in f32"
            }
            candle_core::Device::Metal(_) if p == Precision::Tf32 => {
                "is CUDA's tensor-core arithmetic; Metal has f32 and bf16"
            }
            _ => return Ok(()),
        };
        Err(Error::invalid(
            "--precision",
            format!(
                "{} {why}: pass --precision f32 (or bf16 on a GPU), or train with --device cuda",
                p.name()
            ),
        ))
    }

    /// k for the families that use it (the default when none was given).
    pub fn k_or_default(&self) -> usize {
        self.k.unwrap_or(DEFAULT_K.min(self.dict))
    }

    /// k where the family has one, for tables and names.
    pub fn shown_k(&self) -> Option<usize> {
        self.arch.uses_k().then(|| self.k_or_default())
    }

    /// λ where the family has one, for tables and names.
    pub fn shown_lambda(&self) -> Option<f64> {
        self.arch.uses_lambda().then_some(self.lambda)
    }

    /// Matryoshka's prefix sizes, increasing, ending with the whole dictionary.
    pub fn prefix_sizes(&self) -> Vec<usize> {
        let mut p = if self.prefixes.is_empty() {
            PREFIX_DIVISORS
                .iter()
                .map(|&n| self.dict / n)
                .filter(|&s| s > 0)
                .collect()
        } else {
            self.prefixes.clone()
        };
        p.dedup();
        if p.last() != Some(&self.dict) {
            p.push(self.dict);
        }
        p
    }

    /// The learning rate at step `t` (0-based) of `total`, after warm-up and decay.
    pub fn lr_at(&self, t: u64, total: u64) -> f64 {
        let warm = if t < self.warmup_steps {
            (t + 1) as f64 / self.warmup_steps as f64
        } else {
            1.0
        };
        let left = total.saturating_sub(t);
        let decay = if self.decay_steps > 0 && left <= self.decay_steps {
            left as f64 / self.decay_steps as f64
        } else {
            1.0
        };
        self.lr * warm * decay
    }

    /// Steps in one epoch over `rows` rows (the last, partial batch is kept).
    pub fn steps_per_epoch(&self, rows: usize) -> u64 {
        crate::set::steps_per_epoch(rows, self.batch)
    }

    pub fn total_steps(&self, rows: usize) -> u64 {
        self.steps_per_epoch(rows)
            .saturating_mul(self.epochs as u64)
    }

    /// Bytes training holds at once: the weights, Adam's two moments, the gradients and a
    /// copy for checkpoints (5 × the parameters), and a batch's codes, their gradients and
    /// reconstructions; all f32.
    pub fn memory_bytes(&self, d: usize) -> f64 {
        let (d, m, b) = (d as f64, self.dict as f64, self.batch as f64);
        let params = 2.0 * d * m + m + d;
        4.0 * (5.0 * params + 2.0 * b * m + 2.0 * b * d)
    }

    /// Refuses a run that cannot train on a set of `rows` rows of `d` dimensions here: fewer
    /// rows than a batch, more steps than a run can count, or more memory than is available.
    pub fn check_fits(&self, rows: usize, d: usize) -> Result<()> {
        if rows < self.batch {
            return Err(Error::invalid(
                "--batch",
                format!(
                    "the set has {rows} row{}, fewer than --batch {}: use a smaller --batch or a larger set",
                    if rows == 1 { "" } else { "s" },
                    self.batch
                ),
            ));
        }
        if let Some(available) = available_memory() {
            let needed = self.memory_bytes(d);
            if needed > available as f64 {
                let gib = |b: f64| b / (1u64 << 30) as f64;
                let option = if self.batch as f64 * (self.dict + d) as f64 > (self.dict * d) as f64
                {
                    "--batch"
                } else {
                    "--dict"
                };
                return Err(Error::invalid(
                    option,
                    format!(
                        "--dict {} at {d} dimensions with --batch {} needs about {:.1} GiB of memory (weights, Adam's moments, gradients, a batch's codes), but {:.1} GiB is available: use a smaller {option}",
                        self.dict,
                        self.batch,
                        gib(needed),
                        gib(available as f64)
                    ),
                ));
            }
        }
        let steps = self.steps_per_epoch(rows).checked_mul(self.epochs as u64);
        match steps {
            Some(s) if s <= MAX_STEPS => Ok(()),
            _ => Err(Error::invalid(
                "--epochs",
                format!(
                    "{} epochs of {} steps is more than the {MAX_STEPS} steps a run can take",
                    self.epochs,
                    self.steps_per_epoch(rows)
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_study() {
        let c = TrainConfig::default();
        assert_eq!((c.dict, c.batch, c.epochs), (4096, 256, 5));
        assert_eq!((c.lr, c.l1), (1e-3, L1Convention::Mean));
        // Flickr30k: 31,783 rows keep their last partial batch, 125 steps an epoch.
        assert_eq!(c.steps_per_epoch(31_783), 125);
    }

    #[test]
    fn bad_settings_name_the_option() {
        let neg = TrainConfig {
            lambda: -1.0,
            ..Default::default()
        };
        assert!(neg.validate().unwrap_err().to_string().contains("--lambda"));
        let zero = TrainConfig {
            batch: 0,
            ..Default::default()
        };
        assert!(zero.validate().unwrap_err().to_string().contains("--batch"));
    }
}
