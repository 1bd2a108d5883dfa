//! Zero-shot tasks: class names and prompt templates (data files, not code), and which label of
//! an item each task reads.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

use crate::demo;
use crate::demo::concepts::{COLOURS, SHAPES};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::set::{EmbeddingSet, Item};

const CIFAR10: &str = include_str!("tasks/cifar10.toml");
const CIFAR100: &str = include_str!("tasks/cifar100.toml");
const DEMO: &str = include_str!("tasks/demo.toml");

/// The tasks the lab knows by name.
pub const BUILTIN: [&str; 4] = ["cifar10", "cifar100", "demo10", "demo100"];

/// A set with more distinct labels than this has captions or ids, not classes.
pub const MAX_LABEL_CLASSES: usize = 1000;
/// The prompt for a set's own labels.
const LABEL_TEMPLATE: &str = "a photo of a {c}.";

/// Where a task's test images come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A held-out set drawn from the demo world (made on demand).
    Demo,
    /// An embedding set made by `saelab embed`, with class names as item labels.
    Set,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    pub name: String,
    pub classes: Vec<String>,
    pub templates: Vec<String>,
    pub source: Source,
}

#[derive(Deserialize)]
struct TaskFile {
    #[serde(default)]
    classes: Vec<String>,
    templates: Vec<String>,
}

fn parse(text: &str, origin: &Path) -> Result<TaskFile> {
    let file: TaskFile = toml::from_str(text).map_err(|e| {
        Error::bad_file(
            origin,
            format!("is not a task file (classes = [...], templates = [...]): {e}"),
        )
    })?;
    if file.templates.iter().any(|t| !t.contains("{c}")) || file.templates.is_empty() {
        return Err(Error::bad_file(
            origin,
            "needs templates, each with {c} where the class name goes",
        ));
    }
    Ok(file)
}

impl TaskSpec {
    /// A built-in task by name.
    pub fn builtin(name: &str) -> Result<Self> {
        let (text, source) = match name {
            "cifar10" => (CIFAR10, Source::Set),
            "cifar100" => (CIFAR100, Source::Set),
            "demo10" | "demo100" => (DEMO, Source::Demo),
            _ => {
                return Err(Error::invalid(
                    "--task",
                    format!(
                        "'{name}' is not a task: use one of {}, or --classes FILE",
                        BUILTIN.join(", ")
                    ),
                ))
            }
        };
        let file = parse(text, Path::new(name)).expect("built-in task files parse");
        let classes = match name {
            "demo10" => SHAPES.iter().map(|s| s.to_string()).collect(),
            "demo100" => COLOURS
                .iter()
                .flat_map(|c| SHAPES.iter().map(move |s| format!("{c} {s}")))
                .collect(),
            _ => file.classes,
        };
        Ok(TaskSpec {
            name: name.into(),
            classes,
            templates: file.templates,
            source,
        })
    }

    /// The task a set's pictures are naturally scored on: demo100 on the demo world, else the
    /// set's own item labels as classes (CIFAR's with their own templates), when there are
    /// between two and [`MAX_LABEL_CLASSES`] of them.
    pub fn for_set(set: &EmbeddingSet) -> Result<Option<Self>> {
        if demo::is_demo(set) {
            return Self::builtin("demo100").map(Some);
        }
        let labels: BTreeSet<String> = set.items()?.into_iter().filter_map(|i| i.label).collect();
        if !(2..=MAX_LABEL_CLASSES).contains(&labels.len()) {
            return Ok(None);
        }
        for name in ["cifar10", "cifar100"] {
            let task = Self::builtin(name)?;
            if task.classes.iter().cloned().collect::<BTreeSet<_>>() == labels {
                return Ok(Some(task));
            }
        }
        Ok(Some(TaskSpec {
            name: format!("{} labels", set.name()),
            classes: labels.into_iter().collect(),
            templates: vec![LABEL_TEMPLATE.into()],
            source: Source::Set,
        }))
    }

    /// A user's task from a TOML file with `classes` and `templates`; the task is named after
    /// the file and reads item labels of an embedding set.
    pub fn from_file(path: &Path) -> Result<Self> {
        let file = parse(&fsutil::read_text(path)?, path)?;
        if file.classes.len() < 2 {
            return Err(Error::bad_file(path, "needs at least two classes"));
        }
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(TaskSpec {
            name,
            classes: file.classes,
            templates: file.templates,
            source: Source::Set,
        })
    }

    /// The prompts of class `c`, one per template.
    pub fn prompts(&self, class: &str) -> Vec<String> {
        self.templates
            .iter()
            .map(|t| t.replace("{c}", class))
            .collect()
    }

    /// The class index an item belongs to, if it has a label this task knows.
    pub fn label_of(&self, item: &Item) -> Option<usize> {
        let name = match self.name.as_str() {
            "demo10" => item.concepts.get("shape").cloned()?,
            "demo100" => format!(
                "{} {}",
                item.concepts.get("colour")?,
                item.concepts.get("shape")?
            ),
            _ => item.label.as_ref()?.replace('_', " "),
        };
        self.classes
            .iter()
            .position(|c| c.eq_ignore_ascii_case(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_tasks_match_the_published_counts() {
        let c10 = TaskSpec::builtin("cifar10").unwrap();
        let c100 = TaskSpec::builtin("cifar100").unwrap();
        assert_eq!((c10.classes.len(), c10.templates.len()), (10, 18));
        assert_eq!((c100.classes.len(), c100.templates.len()), (100, 18));
        assert_eq!(c100.classes[1], "aquarium fish");
        assert_eq!(c10.prompts("cat")[2], "a black and white photo of a cat.");
        assert_eq!(TaskSpec::builtin("demo10").unwrap().classes.len(), 10);
        let demo100 = TaskSpec::builtin("demo100").unwrap();
        assert_eq!(demo100.classes.len(), 100);
        assert!(TaskSpec::builtin("imagenet").is_err());
    }

    #[test]
    fn labels_are_read_per_task() {
        let mut item = Item {
            label: Some("aquarium_fish".into()),
            ..Default::default()
        };
        assert_eq!(
            TaskSpec::builtin("cifar100").unwrap().label_of(&item),
            Some(1)
        );
        item.concepts.insert("shape".into(), "star".into());
        item.concepts.insert("colour".into(), "blue".into());
        assert_eq!(
            TaskSpec::builtin("demo10").unwrap().label_of(&item),
            Some(3)
        );
        let d100 = TaskSpec::builtin("demo100").unwrap();
        assert_eq!(d100.classes[d100.label_of(&item).unwrap()], "blue star");
    }

    #[test]
    fn user_task_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pets.toml");
        std::fs::write(
            &path,
            "classes = [\"cat\", \"dog\"]\ntemplates = [\"a photo of a {c}.\"]\n",
        )
        .unwrap();
        let t = TaskSpec::from_file(&path).unwrap();
        assert_eq!((t.name.as_str(), t.classes.len()), ("pets", 2));
        std::fs::write(
            &path,
            "classes = [\"cat\", \"dog\"]\ntemplates = [\"no slot\"]\n",
        )
        .unwrap();
        assert!(TaskSpec::from_file(&path)
            .unwrap_err()
            .to_string()
            .contains("{c}"));
    }
}
