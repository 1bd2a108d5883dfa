//! What the tabs share: the workspace as last read (runs, tasks, sets), the status line, the
//! line being typed, running jobs, and the run the Latents and Steer tabs explore.

use super::action::Action;
use super::data::{GenerationView, LatentsView, RunView, TaskView};
use super::theme::Theme;
use crate::engine::kandinsky::settings::KandinskySettings;
use crate::engine::run::Status;

/// A line being typed in the status bar; the tab that asked for it gets the text.
#[derive(Debug, Clone, PartialEq)]
pub struct Typing {
    /// What is asked, written before the text ("latent id: ").
    pub prompt: String,
    pub text: String,
    /// Show how to keep or cancel.
    pub hint: bool,
}

#[derive(Debug, Clone)]
pub struct Shared {
    pub theme: Theme,
    pub workspace: String,
    pub device: String,
    /// A message for the status bar until the next key.
    pub message: Option<String>,
    pub typing: Option<Typing>,
    pub runs: Vec<RunView>,
    pub tasks: Vec<TaskView>,
    pub sets: Vec<String>,
    /// The set the sweep form trains on, as the status bar shows it.
    pub set: String,
    /// The status of each job this lab started that still runs.
    pub running_jobs: Vec<String>,
    /// This workspace's Kandinsky 2.2 weights, when set up (`kandinsky.toml`).
    pub kandinsky: Option<KandinskySettings>,
    pub generation: Option<GenerationView>,
    /// Which finished run the Latents and Steer tabs explore (an index into the done runs).
    pub explored: usize,
    /// That run's latents, once loaded.
    pub latents: Option<LatentsView>,
    pub latents_loading: bool,
}

impl Shared {
    pub fn new(theme: Theme, workspace: String, device: String) -> Self {
        Shared {
            theme,
            workspace,
            device,
            message: None,
            typing: None,
            runs: Vec::new(),
            tasks: Vec::new(),
            sets: Vec::new(),
            set: crate::engine::demo::SET_NAME.to_string(),
            running_jobs: Vec::new(),
            kandinsky: None,
            generation: None,
            explored: 0,
            latents: None,
            latents_loading: false,
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
        done.get(self.explored.min(done.len().saturating_sub(1)))
            .copied()
    }

    /// Asks for the explored run's latents unless they are loaded or on their way.
    pub fn ensure_latents(&mut self) -> Option<Action> {
        let run = self.explored_run()?.name.clone();
        if self.latents.as_ref().is_some_and(|l| l.run == run) || self.latents_loading {
            return None;
        }
        self.latents = None;
        self.latents_loading = true;
        Some(Action::LoadLatents(run))
    }

    /// Starts typing a line in the status bar.
    pub fn ask(&mut self, prompt: impl Into<String>, text: String, hint: bool) {
        self.typing = Some(Typing {
            prompt: prompt.into(),
            text,
            hint,
        });
    }
}
