#![allow(clippy::unwrap_used)]
//! The documentation holds together: every relative link and image in README.md and docs/
//! points at a file that exists, the README stays a short front door, and every page in docs/
//! is reachable from it.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The README's limit: it is the front door, and the rest lives in docs/.
const README_MAX_LINES: usize = 200;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> PathBuf {
    repo_root().join("README.md")
}

/// Every `.md` file under `dir`, recursively, sorted.
fn markdown_files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// README.md and every page under docs/.
fn documentation_files() -> Vec<PathBuf> {
    let mut files = vec![readme()];
    files.extend(markdown_files_under(&repo_root().join("docs")));
    files
}

/// The line with its inline code spans (`...`) blanked out, so that brackets in code
/// (`[--model M]`, `[d, m]`) are never read as links.
fn without_inline_code(line: &str) -> String {
    let mut in_code = false;
    line.chars()
        .map(|c| {
            if c == '`' {
                in_code = !in_code;
                ' '
            } else if in_code {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// The raw targets of the markdown links `[text](target)` and images `![alt](target)` on one
/// line (outside inline code).
fn link_targets_in_line(line: &str) -> Vec<String> {
    let line = without_inline_code(line);
    let mut targets = Vec::new();
    let mut from = 0;
    while let Some(found) = line[from..].find("](") {
        let open = from + found;
        let target_start = open + 2;
        let Some(length) = line[target_start..].find(')') else {
            break;
        };
        if line[..open].contains('[') {
            targets.push(line[target_start..target_start + length].to_string());
        }
        from = target_start + length + 1;
    }
    targets
}

/// A link target as a path relative to its file, or `None` for targets that are not files
/// here: web addresses, mail addresses and anchors within the same page.
fn local_path(target: &str) -> Option<&str> {
    let target = target.trim();
    let target = target
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(target);
    // `path "title"`: the title is not part of the path.
    let target = target.split_whitespace().next().unwrap_or("");
    if ["http://", "https://", "mailto:", "#"]
        .into_iter()
        .any(|prefix| target.starts_with(prefix))
    {
        return None;
    }
    let path = target.split('#').next().unwrap_or("");
    (!path.is_empty()).then_some(path)
}

/// A link found in a documentation file: where it is, and the path it names.
struct Link {
    file: PathBuf,
    line: usize,
    target: String,
    resolved: PathBuf,
}

/// Every relative link and image in `file`, outside fenced code blocks, resolved against the
/// file's folder.
fn relative_links_in(file: &Path) -> Vec<Link> {
    let text = fs::read_to_string(file).unwrap();
    let folder = file.parent().unwrap();
    let mut in_fence = false;
    let mut links = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        for target in link_targets_in_line(line) {
            let Some(path) = local_path(&target) else {
                continue;
            };
            let resolved = match path.strip_prefix('/') {
                Some(from_root) => repo_root().join(from_root),
                None => folder.join(path),
            };
            links.push(Link {
                file: file.to_path_buf(),
                line: index + 1,
                target,
                resolved,
            });
        }
    }
    links
}

fn shown(path: &Path) -> String {
    path.strip_prefix(repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn every_relative_link_in_readme_and_docs_points_at_an_existing_file() {
    let mut checked = 0;
    let mut broken = Vec::new();
    for file in documentation_files() {
        for link in relative_links_in(&file) {
            checked += 1;
            if !link.resolved.exists() {
                broken.push(format!(
                    "{}:{}: ({}) does not exist",
                    shown(&link.file),
                    link.line,
                    link.target
                ));
            }
        }
    }
    assert!(
        checked > 0,
        "no relative links found: is the link parser broken?"
    );
    assert!(
        broken.is_empty(),
        "{} broken link(s) in the documentation:\n{}",
        broken.len(),
        broken.join("\n")
    );
}

#[test]
fn readme_stays_a_short_front_door() {
    let text = fs::read_to_string(readme()).unwrap();
    let lines = text.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines, more than {README_MAX_LINES}: move the detail into a page under docs/ and link it"
    );
}

#[test]
fn every_docs_page_is_linked_from_the_readme() {
    let linked: BTreeSet<PathBuf> = relative_links_in(&readme())
        .into_iter()
        .filter_map(|link| fs::canonicalize(link.resolved).ok())
        .collect();
    let orphans: Vec<String> = markdown_files_under(&repo_root().join("docs"))
        .into_iter()
        .filter(|page| !linked.contains(&fs::canonicalize(page).unwrap()))
        .map(|page| shown(&page))
        .collect();
    assert!(
        orphans.is_empty(),
        "pages under docs/ that README.md does not link (add them to \"Where to go next\"):\n{}",
        orphans.join("\n")
    );
}

#[test]
fn link_parser_reads_links_images_titles_and_skips_code() {
    assert_eq!(
        link_targets_in_line(
            "see [the guide](docs/user-guide.md#the-lab) and ![plot](a.png \"t\")"
        ),
        ["docs/user-guide.md#the-lab", "a.png \"t\""]
    );
    assert_eq!(
        local_path("docs/user-guide.md#the-lab"),
        Some("docs/user-guide.md")
    );
    assert_eq!(local_path("a.png \"t\""), Some("a.png"));
    assert_eq!(local_path("#metrics"), None);
    assert_eq!(local_path("https://example.com/x.md"), None);
    assert_eq!(local_path("mailto:someone@example.com"), None);
    assert!(link_targets_in_line("`saelab embed [--model M](not-a-link)`").is_empty());
    assert!(link_targets_in_line("`W_enc` [d, m], `b_enc` [m]").is_empty());
}
