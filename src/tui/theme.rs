//! Colour themes: `themes/*.toml` (built in: dark, light, high-contrast), or a TOML file of
//! the same shape given by path.

use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use crate::engine::error::{Error, Result};
use crate::engine::fsutil;

const BUILT_IN: [(&str, &str); 3] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

#[derive(Debug, Clone, Deserialize)]
struct ThemeFile {
    name: String,
    background: String,
    text: String,
    dim: String,
    accent: String,
    highlight_bg: String,
    good: String,
    bad: String,
    warn: String,
    runs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub background: Color,
    pub text: Color,
    pub dim: Color,
    pub accent: Color,
    pub highlight_bg: Color,
    pub good: Color,
    pub bad: Color,
    pub warn: Color,
    runs: Vec<Color>,
}

impl Default for Theme {
    fn default() -> Self {
        Theme::named("dark").expect("the built-in dark theme parses")
    }
}

impl Theme {
    /// A built-in theme by name, or a theme file by path.
    pub fn named(name: &str) -> Result<Self> {
        if let Some((_, text)) = BUILT_IN.iter().find(|(n, _)| *n == name) {
            return parse(text, Path::new(name));
        }
        let path = Path::new(name);
        if path.is_file() {
            return parse(&fsutil::read_text(path)?, path);
        }
        Err(Error::invalid(
            "--theme",
            format!("'{name}' is neither a built-in theme (dark, light, high-contrast) nor a theme file"),
        ))
    }

    /// The named theme, else light on a light terminal background and dark otherwise.
    pub fn chosen(named: Option<&str>, light_background: Option<bool>) -> Result<Self> {
        match (named, light_background) {
            (Some(name), _) => Theme::named(name),
            (None, Some(true)) => Theme::named("light"),
            (None, _) => Ok(Theme::default()),
        }
    }

    /// The colour of the i-th run, the same on every tab.
    pub fn run(&self, i: usize) -> Color {
        self.runs[i % self.runs.len()]
    }

    pub fn base(&self) -> Style {
        Style::default().fg(self.text).bg(self.background)
    }

    pub fn dimmed(&self) -> Style {
        Style::default().fg(self.dim)
    }

    pub fn title(&self) -> Style {
        Style::default()
            .fg(self.accent)
            .add_modifier(Modifier::BOLD)
    }

    pub fn selected(&self) -> Style {
        Style::default()
            .bg(self.highlight_bg)
            .add_modifier(Modifier::BOLD)
    }
}

fn parse(text: &str, origin: &Path) -> Result<Theme> {
    let f: ThemeFile = toml::from_str(text)
        .map_err(|e| Error::bad_file(origin, format!("is not a theme file: {e}")))?;
    let colour = |s: &str| {
        Color::from_str(s).map_err(|_| {
            Error::bad_file(
                origin,
                format!("'{s}' is not a colour (a name such as cyan, or #rrggbb)"),
            )
        })
    };
    if f.runs.is_empty() {
        return Err(Error::bad_file(origin, "lists no run colours"));
    }
    Ok(Theme {
        name: f.name,
        background: colour(&f.background)?,
        text: colour(&f.text)?,
        dim: colour(&f.dim)?,
        accent: colour(&f.accent)?,
        highlight_bg: colour(&f.highlight_bg)?,
        good: colour(&f.good)?,
        bad: colour(&f.bad)?,
        warn: colour(&f.warn)?,
        runs: f.runs.iter().map(|r| colour(r)).collect::<Result<_>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_themes_parse_and_bad_colours_are_named() {
        for (name, _) in BUILT_IN {
            let t = Theme::named(name).unwrap();
            assert_eq!(t.name, name);
            assert_ne!(t.run(0), t.run(1));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.toml");
        let bad = BUILT_IN[0].1.replace("\"cyan\"", "\"cyanish\"");
        std::fs::write(&path, bad).unwrap();
        let err = Theme::named(path.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("cyanish"), "{err}");
        assert!(Theme::named("neon").is_err());
    }

    /// Issue 16, case 26: a light terminal gets the light theme unless one is named.
    #[test]
    fn case_26_the_terminal_background_picks_the_theme_unless_one_is_named() {
        assert_eq!(Theme::chosen(None, Some(true)).unwrap().name, "light");
        assert_eq!(Theme::chosen(None, Some(false)).unwrap().name, "dark");
        assert_eq!(Theme::chosen(None, None).unwrap().name, "dark");
        assert_eq!(
            Theme::chosen(Some("dark"), Some(true)).unwrap().name,
            "dark"
        );
        let named = Theme::chosen(Some("high-contrast"), Some(true)).unwrap();
        assert_eq!(named.name, "high-contrast");
    }
}
