//! The lab's state and how keys change it: the tabs (each a component owning its state), what
//! they share, and the frame's own state (help, quit). `on_key` is pure: it routes the key to
//! the shown tab, carries jumps between tabs out itself, and returns the actions the runtime
//! should carry out (start a job, load a collage, steer), so tests drive it with key events and
//! assert on the state.

use std::any::Any;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use super::action::{Action, Notice, TabId};
use super::keys::{self, Binding, HelpLine};
use super::shared::Shared;
use super::tabs::{self, TabComponent};
use super::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Global {
    Quit,
    Help,
    NextTab,
    PreviousTab,
}

/// The frame's keys, which work on every tab.
const GLOBAL_KEYS: &[Binding<Global>] = &[
    Binding {
        keys: &[KeyCode::Tab],
        does: Global::NextTab,
        help: "next / previous tab (or click a tab)",
    },
    Binding {
        keys: &[KeyCode::BackTab],
        does: Global::PreviousTab,
        help: "",
    },
    Binding {
        keys: &[KeyCode::Char('?')],
        does: Global::Help,
        help: "this help",
    },
    Binding {
        keys: &[KeyCode::Char('q')],
        does: Global::Quit,
        help: "quit, as Ctrl-C does (asks while jobs run; they go on)",
    },
];

pub struct App {
    pub lab: Shared,
    tabs: Vec<Box<dyn TabComponent>>,
    /// The shown tab, an index into the tabs.
    pub current: usize,
    pub help: bool,
    pub confirm_quit: bool,
    pub quit: bool,
}

impl App {
    pub fn new(theme: Theme, workspace: String, device: String) -> Self {
        App {
            lab: Shared::new(theme, workspace, device),
            tabs: tabs::registry(),
            current: 0,
            help: false,
            confirm_quit: false,
            quit: false,
        }
    }

    pub fn tabs(&self) -> &[Box<dyn TabComponent>] {
        &self.tabs
    }

    /// The shown tab.
    pub fn tab(&self) -> &dyn TabComponent {
        self.tabs[self.current].as_ref()
    }

    /// The tab of type `T`.
    pub fn get<T: TabComponent>(&self) -> Option<&T> {
        self.tabs.iter().find_map(|t| {
            let any: &dyn Any = t.as_ref();
            any.downcast_ref::<T>()
        })
    }

    pub fn get_mut<T: TabComponent>(&mut self) -> Option<&mut T> {
        self.tabs.iter_mut().find_map(|t| {
            let any: &mut dyn Any = t.as_mut();
            any.downcast_mut::<T>()
        })
    }

    /// A popup (the help, the quit dialog) covers part of the screen.
    pub fn covered(&self) -> bool {
        self.help || self.confirm_quit
    }

    /// The help overlay's lines: the shown tab's keys, then the frame's.
    pub fn help_lines(&self) -> Vec<HelpLine> {
        let mut lines = self.tab().help();
        lines.push((format!("1-{}", self.tabs.len()), "switch to that tab"));
        lines.extend(keys::help(GLOBAL_KEYS));
        lines.push(("mouse".into(), "click tabs and list rows, wheel scrolls"));
        lines
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Action> {
        self.lab.message = None;
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return self.ask_quit();
        }
        if self.confirm_quit {
            self.confirm_quit = false;
            return match key.code {
                KeyCode::Char('y') | KeyCode::Char('q') | KeyCode::Enter => {
                    self.quit = true;
                    vec![Action::Quit]
                }
                _ => Vec::new(),
            };
        }
        if self.lab.typing.is_some() {
            return self.on_typing(key);
        }
        if self.help {
            self.help = false;
            return Vec::new();
        }
        if let KeyCode::Char(c @ '1'..='9') = key.code {
            let i = c as usize - '1' as usize;
            if let Some(id) = self.tabs.get(i).map(|t| t.id()) {
                return self.focus(id);
            }
        }
        let n = self.tabs.len();
        match keys::find(GLOBAL_KEYS, &key) {
            Some(Global::Quit) => self.ask_quit(),
            Some(Global::Help) => {
                self.help = true;
                Vec::new()
            }
            Some(Global::NextTab) => self.focus(self.tabs[(self.current + 1) % n].id()),
            Some(Global::PreviousTab) => self.focus(self.tabs[(self.current + n - 1) % n].id()),
            None => {
                let actions = self.tabs[self.current].on_key(key, &mut self.lab);
                self.route(actions)
            }
        }
    }

    fn ask_quit(&mut self) -> Vec<Action> {
        if self.lab.running().is_empty() && self.lab.running_jobs.is_empty() {
            self.quit = true;
            vec![Action::Quit]
        } else {
            self.confirm_quit = true;
            Vec::new()
        }
    }

    /// Shows the tab `id`; it may ask for what it shows.
    pub fn focus(&mut self, id: TabId) -> Vec<Action> {
        let Some(i) = self.tabs.iter().position(|t| t.id() == id) else {
            return Vec::new();
        };
        self.current = i;
        self.refocus()
    }

    /// Lets the shown tab ask again for what it shows (after the explored latents arrive).
    pub fn refocus(&mut self) -> Vec<Action> {
        let actions = self.tabs[self.current].on_focus(&mut self.lab);
        self.route(actions)
    }

    /// A result for the tabs.
    pub fn on_notice(&mut self, notice: &Notice) -> Vec<Action> {
        // The job's outcome replaces what was said when it started ("scoring demo10…").
        if let Notice::JobEnded { label, failed } = notice {
            self.lab.message = Some(match failed {
                Some(why) => format!("{label} failed: {why}"),
                None => format!("{label} done"),
            });
        }
        let mut actions = Vec::new();
        for tab in &mut self.tabs {
            actions.extend(tab.on_notice(notice, &mut self.lab));
        }
        self.route(actions)
    }

    /// Carries out the actions between tabs; returns those for the runtime.
    fn route(&mut self, actions: Vec<Action>) -> Vec<Action> {
        let mut out = Vec::new();
        for action in actions {
            match action {
                Action::Focus(id) => out.extend(self.focus(id)),
                Action::SteerWith(_) | Action::ShowLatent(_) => {
                    let mut offered = Vec::new();
                    for tab in &mut self.tabs {
                        offered.extend(tab.on_action(&action, &mut self.lab));
                    }
                    out.extend(self.route(offered));
                }
                other => out.push(other),
            }
        }
        out
    }

    fn on_typing(&mut self, key: KeyEvent) -> Vec<Action> {
        let Some(typing) = self.lab.typing.as_mut() else {
            return Vec::new();
        };
        let done = match key.code {
            KeyCode::Esc => {
                self.lab.typing = None;
                return Vec::new();
            }
            KeyCode::Backspace => {
                typing.text.pop();
                false
            }
            KeyCode::Char(c) => {
                typing.text.push(c);
                false
            }
            KeyCode::Enter => true,
            _ => return Vec::new(),
        };
        let text = typing.text.clone();
        if done {
            self.lab.typing = None;
        }
        let actions = self.tabs[self.current].on_typed(&text, done, &mut self.lab);
        self.route(actions)
    }

    /// Clicks on the tab bar (row 0) switch tabs; clicks below `list_top` pick a list row.
    pub fn on_mouse(
        &mut self,
        m: MouseEvent,
        tab_spans: &[(u16, u16)],
        list_top: u16,
    ) -> Vec<Action> {
        // A line being typed belongs to the tab that asked for it: finish it first.
        if self.lab.typing.is_some() {
            return Vec::new();
        }
        if m.kind != MouseEventKind::Down(MouseButton::Left) {
            return match m.kind {
                MouseEventKind::ScrollDown => self.on_key(KeyEvent::from(KeyCode::Down)),
                MouseEventKind::ScrollUp => self.on_key(KeyEvent::from(KeyCode::Up)),
                _ => Vec::new(),
            };
        }
        if m.row == 0 {
            let hit = tab_spans
                .iter()
                .position(|(a, b)| (*a..*b).contains(&m.column));
            return match hit.and_then(|i| self.tabs.get(i)).map(|t| t.id()) {
                Some(id) => self.focus(id),
                None => Vec::new(),
            };
        }
        if m.row < list_top {
            return Vec::new();
        }
        let row = (m.row - list_top) as usize;
        let actions = self.tabs[self.current].on_click(row, &mut self.lab);
        self.route(actions)
    }
}

#[cfg(test)]
mod tests;
