//! The lab's tabs, each a component in a file of its own: its state, its keys (a table the
//! help is written from), what it asks for, and how it draws. Adding a tab is its file and a
//! line in the `tabs!` list below.

use std::any::Any;

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::Frame;

use super::action::{Action, Notice, TabId};
use super::keys::HelpLine;
use super::shared::Shared;
use super::widgets::Collages;

/// A tab of the lab. `Any` lets the app (and tests) reach a tab's own state by its type.
pub trait TabComponent: Any {
    fn id(&self) -> TabId;
    /// Its name on the tab bar.
    fn title(&self) -> &'static str;
    /// Its keys, for the help overlay.
    fn help(&self) -> Vec<HelpLine>;
    fn on_key(&mut self, key: KeyEvent, lab: &mut Shared) -> Vec<Action>;
    /// The line it asked for changed (`done` false) or was entered (`done` true).
    fn on_typed(&mut self, _text: &str, _done: bool, _lab: &mut Shared) -> Vec<Action> {
        Vec::new()
    }
    /// A click on row `row` of its list.
    fn on_click(&mut self, _row: usize, _lab: &mut Shared) -> Vec<Action> {
        Vec::new()
    }
    /// It became the shown tab.
    fn on_focus(&mut self, _lab: &mut Shared) -> Vec<Action> {
        Vec::new()
    }
    /// An action another tab asked for, offered to every tab.
    fn on_action(&mut self, _action: &Action, _lab: &mut Shared) -> Vec<Action> {
        Vec::new()
    }
    /// A result arrived.
    fn on_notice(&mut self, _notice: &Notice, _lab: &mut Shared) -> Vec<Action> {
        Vec::new()
    }
    fn draw(&self, frame: &mut Frame, area: Rect, lab: &Shared, pictures: &mut dyn Collages);
}

/// Declares each tab's module and lists its component in [`registry`]: one line a tab.
macro_rules! tabs {
    ($($module:ident :: $tab:ident),* $(,)?) => {
        $(pub mod $module;)*

        /// The tabs in their order on the tab bar (and of their number keys).
        pub fn registry() -> Vec<Box<dyn TabComponent>> {
            vec![$(Box::new($module::$tab::default())),*]
        }
    };
}

tabs! {
    train::TrainTab,
    metrics::MetricsTab,
    zeroshot::ZeroshotTab,
    latents::LatentsTab,
    steer::SteerTab,
    explain::ExplainTab,
}

/// λ as the tables print it.
pub fn lambda(l: f64) -> String {
    crate::engine::run::format_lambda(l)
}
