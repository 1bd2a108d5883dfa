//! The lab's state and how keys change it. `on_key` is pure: it updates the state and returns
//! the commands the runtime should carry out (start a sweep, load a collage, steer), so tests
//! drive it with key events and assert on the state.

use std::cell::Cell;
use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use super::data::{LatentsView, RunView, TaskView};
use super::theme::Theme;
use crate::engine::kandinsky::settings::KandinskySettings;
use crate::engine::run::Status;
use crate::engine::sae::Arch;
use crate::engine::steer::{ImageRef, Method};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Train,
    Metrics,
    Zeroshot,
    Latents,
    Steer,
}

impl Tab {
    pub const ALL: [Tab; 5] = [
        Tab::Train,
        Tab::Metrics,
        Tab::Zeroshot,
        Tab::Latents,
        Tab::Steer,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Train => "Train",
            Tab::Metrics => "Metrics",
            Tab::Zeroshot => "Zero-shot",
            Tab::Latents => "Latents",
            Tab::Steer => "Steer",
        }
    }

    fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).expect("listed")
    }

    fn step(self, by: isize) -> Tab {
        let n = Tab::ALL.len() as isize;
        Tab::ALL[((self.index() as isize + by).rem_euclid(n)) as usize]
    }
}

/// What the runtime is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    StartSweep(SweepForm),
    Stop(String),
    Resume(String),
    Zeroshot(String),
    LoadLatents(String),
    LoadCollage { run: String, latent: usize },
    Steer(SteerRequest),
    Generate(GenerateRequest),
    Quit,
}

/// The Train tab's sweep form.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepForm {
    pub set: String,
    pub lambdas: String,
    pub epochs: String,
    pub dict: String,
    pub batch: String,
    pub lr: String,
    /// The SAE family: relu (λ list) or topk, batchtopk, matryoshka (k list), jumprelu (λ).
    pub arch: String,
    /// `auto`: the family's default learning rate.
    pub ks: String,
}

impl Default for SweepForm {
    fn default() -> Self {
        SweepForm {
            set: "demo".into(),
            lambdas: "1e-3,1e-2,3e-2".into(),
            epochs: "5".into(),
            dict: "4096".into(),
            batch: "256".into(),
            lr: "auto".into(),
            arch: "relu".into(),
            ks: "16,32,64".into(),
        }
    }
}

impl SweepForm {
    pub const FIELDS: [&'static str; 8] = [
        "set", "λ list", "epochs", "dict", "batch", "lr", "arch", "k list",
    ];

    pub fn field(&self, i: usize) -> &str {
        [
            &self.set,
            &self.lambdas,
            &self.epochs,
            &self.dict,
            &self.batch,
            &self.lr,
            &self.arch,
            &self.ks,
        ][i]
    }

    /// Whether the sweep runs over k (the TopK family) rather than λ.
    pub fn sweeps_k(&self) -> bool {
        Arch::parse(&self.arch).is_ok_and(|a| a.uses_k())
    }

    /// What the sweep varies, for messages: `λ 1e-3,1e-2` or `topk k 16,32`.
    pub fn swept(&self) -> String {
        match (self.sweeps_k(), self.arch.as_str()) {
            (true, arch) => format!("{arch} k {}", self.ks),
            (false, "relu") => format!("λ {}", self.lambdas),
            (false, arch) => format!("{arch} λ {}", self.lambdas),
        }
    }

    fn field_mut(&mut self, i: usize) -> &mut String {
        match i {
            0 => &mut self.set,
            1 => &mut self.lambdas,
            2 => &mut self.epochs,
            3 => &mut self.dict,
            4 => &mut self.batch,
            5 => &mut self.lr,
            6 => &mut self.arch,
            _ => &mut self.ks,
        }
    }
}

/// One steering preview to compute.
#[derive(Debug, Clone, PartialEq)]
pub struct SteerRequest {
    pub run: String,
    pub image: ImageRef,
    /// (latent, strength in units of its typical activation), applied together.
    pub edits: Vec<(usize, f32)>,
    pub method: Method,
}

/// One Kandinsky 2.2 triptych to generate: the image steered by ±strength along the latent.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest {
    pub run: String,
    pub image: ImageRef,
    pub latent: usize,
    pub strength: f32,
    pub method: Method,
}

/// A triptych being made (or made) by a generation job.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationView {
    pub run: String,
    pub latent: usize,
    pub strength: f32,
    /// Where the job writes orig.png, plus.png and minus.png.
    pub dir: PathBuf,
    /// The job's last step: (done, total, picture being made).
    pub step: Option<(usize, usize, String)>,
    /// The three pictures are written and loaded.
    pub ready: bool,
}

/// What a steering preview showed, in words.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SteerView {
    pub image_caption: String,
    /// (row, cosine, caption) of the nearest images to the steered embedding.
    pub neighbours: Vec<(usize, f32, String)>,
    /// (class, probability before, after), biggest movers first.
    pub classes: Vec<(String, f32, f32)>,
    pub labels_before: Vec<String>,
    pub labels_after: Vec<String>,
    /// Ground-truth concepts whose score rose and fell most (demo world).
    pub rose: Vec<(String, f32)>,
    pub fell: Vec<(String, f32)>,
    pub millis: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatentSort {
    Frequency,
    MaxActivation,
    Confidence,
    Id,
}

impl LatentSort {
    fn next(self) -> Self {
        match self {
            LatentSort::Frequency => LatentSort::MaxActivation,
            LatentSort::MaxActivation => LatentSort::Confidence,
            LatentSort::Confidence => LatentSort::Id,
            LatentSort::Id => LatentSort::Frequency,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LatentSort::Frequency => "frequency",
            LatentSort::MaxActivation => "max activation",
            LatentSort::Confidence => "confidence",
            LatentSort::Id => "id",
        }
    }
}

/// A line of text being typed (search, jump, a form field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    None,
    Search,
    Jump,
    Field,
    SteerImage,
}

/// The columns the Metrics table sorts by.
pub const METRIC_COLUMNS: [&str; 10] = [
    "run", "λ", "L0", "MSE", "L1", "R²", "FVU", "dead", "dense", "gt",
];

#[derive(Debug, Clone)]
pub struct App {
    pub tab: Tab,
    pub help: bool,
    pub confirm_quit: bool,
    pub quit: bool,
    pub theme: Theme,
    pub workspace: String,
    pub device: String,
    pub message: Option<String>,
    pub input: Input,
    pub typed: String,
    pub runs: Vec<RunView>,
    pub tasks: Vec<TaskView>,
    pub sets: Vec<String>,
    pub running_jobs: Vec<String>,
    // Train.
    pub form: SweepForm,
    pub field: usize,
    pub train_run: usize,
    // Metrics.
    pub sort_column: usize,
    pub sort_descending: bool,
    pub metrics_row: usize,
    pub compare: Vec<String>,
    // Zero-shot.
    pub task: usize,
    pub task_run: usize,
    // Latents.
    pub latents_run: usize,
    pub latents: Option<LatentsView>,
    pub latents_loading: bool,
    pub latent_sort: LatentSort,
    pub latent_query: String,
    pub latent_row: usize,
    /// The first latent row the last frame showed (the table scrolls to keep the selection
    /// in view), so a click maps to the row under the pointer.
    pub latent_offset: Cell<usize>,
    // Steer.
    pub steer_image: ImageRef,
    pub steer_latent: Option<usize>,
    pub steer_strength: f32,
    pub steer_method: Method,
    pub steer_stack: Vec<(usize, f32)>,
    pub steer_view: Option<SteerView>,
    /// This workspace's Kandinsky 2.2 weights, when set up (`kandinsky.toml`).
    pub kandinsky: Option<KandinskySettings>,
    pub generation: Option<GenerationView>,
}

/// Strength change per ←/→ press, in units of the latent's typical activation.
pub const STRENGTH_STEP: f32 = 0.5;
/// The triptych's ±strength when the gauge stands at zero.
const DEFAULT_GENERATE_STRENGTH: f32 = 2.0;

impl App {
    pub fn new(theme: Theme, workspace: String, device: String) -> Self {
        App {
            tab: Tab::Train,
            help: false,
            confirm_quit: false,
            quit: false,
            theme,
            workspace,
            device,
            message: None,
            input: Input::None,
            typed: String::new(),
            runs: Vec::new(),
            tasks: Vec::new(),
            sets: Vec::new(),
            running_jobs: Vec::new(),
            form: SweepForm::default(),
            field: 0,
            train_run: 0,
            sort_column: 1,
            sort_descending: false,
            metrics_row: 0,
            compare: Vec::new(),
            task: 0,
            task_run: 0,
            latents_run: 0,
            latents: None,
            latents_loading: false,
            latent_sort: LatentSort::Frequency,
            latent_query: String::new(),
            latent_row: 0,
            latent_offset: Cell::new(0),
            steer_image: ImageRef::Row(0),
            steer_latent: None,
            steer_strength: 0.0,
            steer_method: Method::Edit,
            steer_stack: Vec::new(),
            steer_view: None,
            kandinsky: None,
            generation: None,
        }
    }

    /// Runs that are training now (this lab's or another shell's).
    pub fn running(&self) -> Vec<&RunView> {
        self.runs
            .iter()
            .filter(|r| r.status == Status::Running)
            .collect()
    }

    /// Finished runs, whose latents and steering can be explored.
    pub fn done_runs(&self) -> Vec<&RunView> {
        self.runs
            .iter()
            .filter(|r| r.status == Status::Done)
            .collect()
    }

    /// The run the Latents and Steer tabs are on.
    pub fn explored_run(&self) -> Option<&RunView> {
        let done = self.done_runs();
        done.get(self.latents_run.min(done.len().saturating_sub(1)))
            .copied()
    }

    /// Latent rows in the chosen order, filtered by the search.
    pub fn latent_rows(&self) -> Vec<&super::data::LatentRow> {
        let Some(view) = &self.latents else {
            return Vec::new();
        };
        let q = self.latent_query.to_lowercase();
        let mut rows: Vec<_> = view
            .rows
            .iter()
            .filter(|r| {
                q.is_empty()
                    || r.description.to_lowercase().contains(&q)
                    || r.top_words.iter().any(|w| w.to_lowercase().contains(&q))
            })
            .collect();
        match self.latent_sort {
            LatentSort::Frequency => rows.sort_by(|a, b| b.frequency.total_cmp(&a.frequency)),
            LatentSort::MaxActivation => {
                rows.sort_by(|a, b| b.max_activation.total_cmp(&a.max_activation))
            }
            LatentSort::Confidence => rows.sort_by(|a, b| b.confidence.total_cmp(&a.confidence)),
            LatentSort::Id => rows.sort_by_key(|r| r.id),
        }
        rows
    }

    pub fn selected_latent(&self) -> Option<usize> {
        let rows = self.latent_rows();
        rows.get(self.latent_row.min(rows.len().saturating_sub(1)))
            .map(|r| r.id)
    }

    /// The steering edits now in force: the stack plus the latent being adjusted.
    pub fn steer_edits(&self) -> Vec<(usize, f32)> {
        let mut edits = self.steer_stack.clone();
        if let Some(j) = self.steer_latent {
            edits.push((j, self.steer_strength));
        }
        edits
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        self.message = None;
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return self.ask_quit();
        }
        if self.confirm_quit {
            self.confirm_quit = false;
            return match key.code {
                KeyCode::Char('y') | KeyCode::Char('q') | KeyCode::Enter => {
                    self.quit = true;
                    vec![Command::Quit]
                }
                _ => Vec::new(),
            };
        }
        if self.input != Input::None {
            return self.on_typing(key);
        }
        if self.help {
            self.help = false;
            return Vec::new();
        }
        match key.code {
            KeyCode::Char('q') => return self.ask_quit(),
            KeyCode::Char('?') => self.help = true,
            KeyCode::Tab => return self.switch(self.tab.step(1)),
            KeyCode::BackTab => return self.switch(self.tab.step(-1)),
            KeyCode::Char(c @ '1'..='5') => {
                return self.switch(Tab::ALL[c as usize - '1' as usize])
            }
            _ => return self.on_tab_key(key),
        }
        Vec::new()
    }

    fn ask_quit(&mut self) -> Vec<Command> {
        if self.running().is_empty() && self.running_jobs.is_empty() {
            self.quit = true;
            vec![Command::Quit]
        } else {
            self.confirm_quit = true;
            Vec::new()
        }
    }

    pub fn switch(&mut self, tab: Tab) -> Vec<Command> {
        self.tab = tab;
        match tab {
            Tab::Latents | Tab::Steer => self.ensure_latents(),
            _ => Vec::new(),
        }
    }

    /// Asks for the explored run's latents when they are not loaded yet.
    fn ensure_latents(&mut self) -> Vec<Command> {
        let Some(run) = self.explored_run().map(|r| r.name.clone()) else {
            return Vec::new();
        };
        if self.latents.as_ref().is_some_and(|l| l.run == run) || self.latents_loading {
            return self.collage_command();
        }
        self.latents = None;
        self.latents_loading = true;
        vec![Command::LoadLatents(run)]
    }

    fn collage_command(&self) -> Vec<Command> {
        match (self.latents.as_ref(), self.selected_latent()) {
            (Some(view), Some(latent)) => vec![Command::LoadCollage {
                run: view.run.clone(),
                latent,
            }],
            _ => Vec::new(),
        }
    }

    fn on_typing(&mut self, key: KeyEvent) -> Vec<Command> {
        match key.code {
            KeyCode::Esc => {
                self.input = Input::None;
                self.typed.clear();
            }
            KeyCode::Backspace => {
                self.typed.pop();
                if self.input == Input::Search {
                    self.latent_query = self.typed.clone();
                    self.latent_row = 0;
                }
            }
            KeyCode::Enter => return self.finish_typing(),
            KeyCode::Char(c) => {
                self.typed.push(c);
                if self.input == Input::Search {
                    self.latent_query = self.typed.clone();
                    self.latent_row = 0;
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn finish_typing(&mut self) -> Vec<Command> {
        let typed = std::mem::take(&mut self.typed);
        let input = std::mem::replace(&mut self.input, Input::None);
        match input {
            Input::Field => *self.form.field_mut(self.field) = typed,
            Input::Search => {
                self.latent_query = typed;
                return self.collage_command();
            }
            Input::Jump => match typed.parse::<usize>() {
                Ok(id) => {
                    self.latent_query.clear();
                    self.latent_sort = LatentSort::Id;
                    self.latent_row = id;
                    return self.collage_command();
                }
                Err(_) => self.message = Some(format!("'{typed}' is not a latent id")),
            },
            Input::SteerImage if !typed.trim().is_empty() => {
                self.steer_image = ImageRef::parse(&typed);
                return self.steer_command();
            }
            Input::SteerImage | Input::None => {}
        }
        Vec::new()
    }

    fn on_tab_key(&mut self, key: KeyEvent) -> Vec<Command> {
        match self.tab {
            Tab::Train => self.train_key(key),
            Tab::Metrics => self.metrics_key(key),
            Tab::Zeroshot => self.zeroshot_key(key),
            Tab::Latents => self.latents_key(key),
            Tab::Steer => self.steer_key(key),
        }
    }

    fn train_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let selected = self
            .runs
            .get(self.train_run)
            .map(|r| (r.name.clone(), r.status));
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.field = self.field.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.field = (self.field + 1).min(SweepForm::FIELDS.len() - 1)
            }
            KeyCode::Char('e') | KeyCode::Enter => {
                self.input = Input::Field;
                self.typed = self.form.field(self.field).to_string();
            }
            KeyCode::Char('[') | KeyCode::Left | KeyCode::Char('h') => {
                self.train_run = self.train_run.saturating_sub(1)
            }
            KeyCode::Char(']') | KeyCode::Right | KeyCode::Char('l') => {
                self.train_run = (self.train_run + 1).min(self.runs.len().saturating_sub(1))
            }
            KeyCode::Char('s') => {
                self.message = Some(format!(
                    "starting a sweep on '{}' ({})",
                    self.form.set,
                    self.form.swept()
                ));
                return vec![Command::StartSweep(self.form.clone())];
            }
            KeyCode::Char('p') | KeyCode::Char('x') => match selected {
                Some((run, Status::Running)) => {
                    self.message = Some(format!(
                        "stopping {run} (it saves a checkpoint; `r` resumes)"
                    ));
                    return vec![Command::Stop(run)];
                }
                _ => self.message = Some("the selected run is not training".into()),
            },
            KeyCode::Char('r') => match selected {
                Some((run, Status::Interrupted | Status::Diverged)) => {
                    return vec![Command::Resume(run)]
                }
                _ => self.message = Some("only an interrupted run can be resumed".into()),
            },
            _ => {}
        }
        Vec::new()
    }

    fn metrics_key(&mut self, key: KeyEvent) -> Vec<Command> {
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => {
                self.metrics_row = self.metrics_row.saturating_sub(1)
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.metrics_row = (self.metrics_row + 1).min(self.runs.len().saturating_sub(1))
            }
            KeyCode::Left | KeyCode::Char('h') => {
                self.sort_column = self.sort_column.saturating_sub(1)
            }
            KeyCode::Right | KeyCode::Char('l') => {
                self.sort_column = (self.sort_column + 1).min(METRIC_COLUMNS.len() - 1)
            }
            KeyCode::Char('s') => self.sort_descending = !self.sort_descending,
            KeyCode::Char(' ') => {
                if let Some(name) = self
                    .sorted_runs()
                    .get(self.metrics_row)
                    .map(|r| r.name.clone())
                {
                    match self.compare.iter().position(|c| *c == name) {
                        Some(i) => {
                            self.compare.remove(i);
                        }
                        None => self.compare.push(name),
                    }
                }
            }
            _ => {}
        }
        Vec::new()
    }

    /// Runs in the Metrics tab's order.
    pub fn sorted_runs(&self) -> Vec<&RunView> {
        let mut runs: Vec<&RunView> = self.runs.iter().collect();
        let key = |r: &RunView| -> f64 {
            let m = r.results.as_ref();
            match self.sort_column {
                1 => r.lambda,
                2 => m.map_or(f64::NAN, |m| m.avg_l0),
                3 => m.map_or(f64::NAN, |m| m.mse),
                4 => m.map_or(f64::NAN, |m| m.l1),
                5 => m.map_or(f64::NAN, |m| m.r2),
                6 => m.map_or(f64::NAN, |m| m.fvu),
                7 => m.map_or(f64::NAN, |m| m.dead_frac),
                8 => m.map_or(f64::NAN, |m| m.dense_frac),
                9 => m.and_then(|m| m.gt_recovery).unwrap_or(f64::NAN),
                _ => 0.0,
            }
        };
        if self.sort_column == 0 {
            runs.sort_by(|a, b| a.name.cmp(&b.name));
        } else {
            runs.sort_by(|a, b| key(a).total_cmp(&key(b)));
        }
        if self.sort_descending {
            runs.reverse();
        }
        runs
    }

    fn zeroshot_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let runs = self.tasks.get(self.task).map_or(0, |t| t.runs.len());
        match key.code {
            KeyCode::Left | KeyCode::Char('h') => self.task = self.task.saturating_sub(1),
            KeyCode::Right | KeyCode::Char('l') => {
                self.task = (self.task + 1).min(self.tasks.len().saturating_sub(1))
            }
            KeyCode::Up | KeyCode::Char('k') => self.task_run = self.task_run.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.task_run = (self.task_run + 1).min(runs.saturating_sub(1))
            }
            KeyCode::Char('e') => {
                let task = self
                    .tasks
                    .get(self.task)
                    .map_or("demo10".to_string(), |t| t.task.clone());
                self.message = Some(format!("scoring {task}…"));
                return vec![Command::Zeroshot(task)];
            }
            KeyCode::Char(c @ ('d' | 'D')) => {
                let task = if c == 'd' { "demo10" } else { "demo100" };
                self.message = Some(format!("scoring {task}…"));
                return vec![Command::Zeroshot(task.into())];
            }
            _ => {}
        }
        Vec::new()
    }

    fn latents_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let n = self.latent_rows().len();
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.latent_row = self.latent_row.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.latent_row = (self.latent_row + 1).min(n.saturating_sub(1))
            }
            KeyCode::PageUp => self.latent_row = self.latent_row.saturating_sub(10),
            KeyCode::PageDown => self.latent_row = (self.latent_row + 10).min(n.saturating_sub(1)),
            KeyCode::Home | KeyCode::Char('g') => self.latent_row = 0,
            KeyCode::End | KeyCode::Char('G') => self.latent_row = n.saturating_sub(1),
            KeyCode::Char('o') => {
                self.latent_sort = self.latent_sort.next();
                self.latent_row = 0;
            }
            KeyCode::Char('/') => {
                self.input = Input::Search;
                self.typed = self.latent_query.clone();
                return Vec::new();
            }
            KeyCode::Char('#') | KeyCode::Char(':') => {
                self.input = Input::Jump;
                self.typed.clear();
                return Vec::new();
            }
            KeyCode::Char('[') | KeyCode::Char(']') => {
                let done = self.done_runs().len();
                self.latents_run = if key.code == KeyCode::Char('[') {
                    self.latents_run.saturating_sub(1)
                } else {
                    (self.latents_run + 1).min(done.saturating_sub(1))
                };
                self.latent_row = 0;
                return self.ensure_latents();
            }
            KeyCode::Char('t') | KeyCode::Enter => {
                if let Some(j) = self.selected_latent() {
                    self.steer_latent = Some(j);
                    self.steer_strength = 2.0;
                    self.tab = Tab::Steer;
                    return self.steer_command();
                }
            }
            KeyCode::Esc => self.latent_query.clear(),
            _ => return Vec::new(),
        }
        self.collage_command()
    }

    fn steer_key(&mut self, key: KeyEvent) -> Vec<Command> {
        match key.code {
            KeyCode::Left | KeyCode::Char('h') => self.steer_strength -= STRENGTH_STEP,
            KeyCode::Right | KeyCode::Char('l') => self.steer_strength += STRENGTH_STEP,
            KeyCode::Up | KeyCode::Char('k') => self.steer_image = self.next_image(-1),
            KeyCode::Down | KeyCode::Char('j') => self.steer_image = self.next_image(1),
            KeyCode::Char('i') => {
                self.input = Input::SteerImage;
                self.typed.clear();
                return Vec::new();
            }
            KeyCode::Char('m') => {
                self.steer_method = match self.steer_method {
                    Method::Edit => Method::Add,
                    Method::Add => Method::Edit,
                }
            }
            KeyCode::Char('r') => {
                self.steer_strength = 0.0;
                self.steer_stack.clear();
            }
            KeyCode::Enter => {
                if let Some(j) = self.steer_latent.take() {
                    self.steer_stack.push((j, self.steer_strength));
                    self.steer_strength = 0.0;
                    self.message =
                        Some(format!("latent {j} stacked; choose another in Latents (t)"));
                }
            }
            KeyCode::Char('t') => return self.switch(Tab::Latents),
            KeyCode::Char('g') => return self.generate_command(),
            _ => return Vec::new(),
        }
        self.steer_command()
    }

    /// A Kandinsky triptych of the steered image, or a message saying what is missing.
    fn generate_command(&mut self) -> Vec<Command> {
        let Some(run) = self.explored_run().map(|r| r.name.clone()) else {
            return Vec::new();
        };
        let Some(latent) = self.steer_latent else {
            self.message = Some("choose a latent to steer first (t)".into());
            return Vec::new();
        };
        if self.kandinsky.is_none() {
            self.message = Some("Kandinsky 2.2 is not set up in this workspace: run `saelab steer RUN --latent J --generate` once, or write kandinsky.toml (see the README)".into());
            return Vec::new();
        }
        let strength = match self.steer_strength.abs() {
            s if s > 0.0 => s,
            _ => DEFAULT_GENERATE_STRENGTH,
        };
        vec![Command::Generate(GenerateRequest {
            run,
            image: self.steer_image.clone(),
            latent,
            strength,
            method: self.steer_method,
        })]
    }

    /// The row after (or before) the steered one; from a picture file, the set's first row.
    fn next_image(&self, step: isize) -> ImageRef {
        match self.steer_image {
            ImageRef::Row(r) => ImageRef::Row(r.saturating_add_signed(step)),
            ImageRef::File(_) => ImageRef::Row(0),
        }
    }

    fn steer_command(&self) -> Vec<Command> {
        match self.explored_run() {
            Some(run) => vec![Command::Steer(SteerRequest {
                run: run.name.clone(),
                image: self.steer_image.clone(),
                edits: self.steer_edits(),
                method: self.steer_method,
            })],
            None => Vec::new(),
        }
    }

    /// Clicks on the tab bar (row 0) switch tabs; clicks in a list select its row.
    pub fn on_mouse(
        &mut self,
        m: MouseEvent,
        tab_spans: &[(u16, u16)],
        list_top: u16,
    ) -> Vec<Command> {
        if m.kind != MouseEventKind::Down(MouseButton::Left) {
            return match m.kind {
                MouseEventKind::ScrollDown => self.on_key(KeyEvent::from(KeyCode::Down)),
                MouseEventKind::ScrollUp => self.on_key(KeyEvent::from(KeyCode::Up)),
                _ => Vec::new(),
            };
        }
        if m.row == 0 {
            if let Some(i) = tab_spans
                .iter()
                .position(|(a, b)| (*a..*b).contains(&m.column))
            {
                return self.switch(Tab::ALL[i]);
            }
            return Vec::new();
        }
        let row = m.row.saturating_sub(list_top) as usize;
        match self.tab {
            Tab::Latents if m.row >= list_top => {
                let row = row + self.latent_offset.get();
                self.latent_row = row.min(self.latent_rows().len().saturating_sub(1));
                self.collage_command()
            }
            Tab::Metrics if m.row >= list_top => {
                self.metrics_row = row.min(self.runs.len().saturating_sub(1));
                Vec::new()
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;
