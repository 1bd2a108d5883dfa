//! Which picture is steered: a row of the run's set, or a picture file embedded on the fly
//! with the set's CLIP model.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::fsutil;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ImageRef {
    /// A row of the set.
    Row(usize),
    /// A picture file.
    File(PathBuf),
}

impl ImageRef {
    /// A row id when `s` is a number, a path (with `~` expanded) otherwise; a file whose name
    /// is a number is reached as `./12`.
    pub fn parse(s: &str) -> Self {
        match s.trim().parse::<usize>() {
            Ok(row) => ImageRef::Row(row),
            Err(_) => ImageRef::File(fsutil::expand_home(s.trim())),
        }
    }

    /// A short name fit for a file name: `image12` or `picture-cat`.
    pub fn slug(&self) -> String {
        match self {
            ImageRef::Row(r) => format!("image{r}"),
            ImageRef::File(p) => {
                let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned());
                let clean: String = stem
                    .unwrap_or_default()
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                format!("picture-{clean}")
            }
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageRef::Row(r) => write!(f, "{r}"),
            ImageRef::File(p) => write!(f, "{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_rows_and_anything_else_is_a_path() {
        assert_eq!(ImageRef::parse("12"), ImageRef::Row(12));
        assert_eq!(ImageRef::parse(" 3 "), ImageRef::Row(3));
        assert_eq!(
            ImageRef::parse("./12"),
            ImageRef::File(PathBuf::from("./12"))
        );
        assert_eq!(ImageRef::parse("cat photo.jpg").slug(), "picture-cat_photo");
    }

    #[test]
    fn rows_and_paths_survive_json() {
        for r in [
            ImageRef::Row(7),
            ImageRef::File(PathBuf::from("/tmp/a.png")),
        ] {
            let text = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<ImageRef>(&text).unwrap(), r);
        }
        assert_eq!(serde_json::to_string(&ImageRef::Row(7)).unwrap(), "7");
    }
}
