//! What tabs ask for and what they are told. A key handler returns [`Action`]s: the app
//! routes those between tabs (a jump from Latents to Steer) and hands the rest to the runtime
//! (start a job, ask the explorer). Results come back to the tabs as [`Notice`]s.

use super::data::{ExplainRequest, ExplainView, GenerateRequest, SteerRequest, SteerView};
use crate::protocol::JobKind;

/// Names a tab for jumps between tabs.
pub type TabId = &'static str;

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Quit,
    /// Show this tab.
    Focus(TabId),
    /// Steer the shown image with this latent (from Latents or Explain).
    SteerWith(usize),
    /// Show this latent on the Latents tab.
    ShowLatent(usize),
    StartJob(JobKind),
    /// Ask the process training this run to save and stop.
    Stop(String),
    LoadLatents(String),
    LoadCollage {
        run: String,
        latent: usize,
    },
    Steer(SteerRequest),
    Explain(ExplainRequest),
    Generate(GenerateRequest),
}

/// A result arriving for the tabs.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// A steering preview, or why there is none.
    Steered(Result<SteerView, String>),
    /// An explanation, or why there is none.
    Explained(Result<ExplainView, String>),
    /// A job this lab started ended: done, or failed with its last words.
    JobEnded {
        label: String,
        failed: Option<String>,
    },
}
