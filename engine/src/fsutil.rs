//! Atomic file writes: every file the lab writes goes to a temporary name beside its target and is
//! renamed into place, so a crash or a full disk never leaves a half-written file.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::{Error, Result};

/// Writes `bytes` to `path` atomically (temp file in the same folder, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |file| file.write_all(bytes))
}

/// Like [`write_atomic`], with the content produced by a writer callback.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut fs::File) -> std::io::Result<()>,
) -> Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        fill(&mut file)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io("could not write", path, e));
    }
    Ok(())
}

/// Encodes `picture` as PNG and writes it atomically.
pub fn write_png(path: &Path, picture: &image::RgbImage) -> Result<()> {
    let mut bytes = Vec::new();
    picture
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| Error::bad_file(path, format!("could not be encoded: {e}")))?;
    write_atomic(path, &bytes)
}

/// Serialises `value` as pretty JSON and writes it atomically.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("plain data serialises to JSON");
    write_atomic(path, text.as_bytes())
}

/// As [`write_json`], but leaves the file alone when it already holds the same text: derived
/// files recomputed by reading commands then cost no write (a read-only workspace serves them).
pub fn write_json_if_changed<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("plain data serialises to JSON");
    if std::fs::read(path).is_ok_and(|kept| kept == text.as_bytes()) {
        return Ok(());
    }
    write_atomic(path, text.as_bytes())
}

/// Serialises `value` as TOML and writes it atomically.
pub fn write_toml<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = toml::to_string_pretty(value)
        .map_err(|e| Error::bad_file(path, format!("cannot be written as TOML: {e}")))?;
    write_atomic(path, text.as_bytes())
}

pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = read_text(path)?;
    serde_json::from_str(&text).map_err(|e| Error::bad_file(path, format!("is not valid: {e}")))
}

pub fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = read_text(path)?;
    toml::from_str(&text).map_err(|e| {
        // One line: where, and what toml says, without its quoted excerpt of the file.
        let line = e.span().map_or(0, |s| {
            text[..s.start.min(text.len())].lines().count().max(1)
        });
        Error::bad_file(
            path,
            format!("is not valid TOML at line {line}: {}", e.message().trim()),
        )
    })
}

pub fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| Error::io("could not read", path, e))
}

pub fn create_dir(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(|e| Error::io("could not create folder", path, e))
}

/// The name beside `path` that a write goes to before it is renamed into place.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", temp_tag()))
}

/// What temporary names end with: this machine's name and this process's id, so that on a
/// folder several machines share, none cleans up another's live files.
/// Puts the complete folder `staging` at `target`, replacing what was there only once the new
/// one is whole: the old folder is moved aside first and removed after.
pub fn replace_dir(staging: &Path, target: &Path) -> Result<()> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let old = target.with_file_name(format!(".{name}.old-{}", temp_tag()));
    if target.exists() {
        std::fs::rename(target, &old).map_err(|e| Error::io("could not move aside", target, e))?;
    }
    std::fs::rename(staging, target).map_err(|e| Error::io("could not publish", target, e))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

pub fn temp_tag() -> String {
    format!("{}-{}", host_name(), std::process::id())
}

/// This machine's name, kept to letters, digits, '.' and '_' (Linux; "localhost" elsewhere).
pub fn host_name() -> String {
    let name = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name: String = name
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_'))
        .collect();
    if name.is_empty() {
        "localhost".into()
    } else {
        name
    }
}

/// The suffixes of the temporary names this lab writes beside their targets, each followed by
/// the writing process's id.
const TEMP_MARKS: [&str; 3] = [".tmp-", ".partial-", ".old-"];

/// Removes the temporary files and folders in `dir` that a process which is gone left behind
/// (killed between writing and renaming). A live process's, or one whose id cannot be read,
/// are left alone.
pub fn clean_stale(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            continue;
        }
        // `HOST-PID`, or a bare `PID` from before names carried the host.
        let tag = TEMP_MARKS
            .iter()
            .find_map(|m| name.rsplit_once(m).map(|(_, tag)| tag));
        let ours = tag.and_then(|t| match t.rsplit_once('-') {
            Some((host, pid)) if host == host_name() => pid.parse::<u32>().ok(),
            Some(_) => None,
            None => t.parse::<u32>().ok(),
        });
        if ours.is_some_and(|p| !process_alive(p)) {
            let path = entry.path();
            let _ = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
    }
}

/// Whether process `pid` runs on this machine (Linux's /proc; elsewhere, assumed alive).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// `~/x` as a shell would expand it, for paths that arrive inside other text (`KIND:~/data`,
/// `--model ~/clip`) where the shell does not.
pub fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        write_atomic(&path, b"old").unwrap();
        let err = write_atomic_with(&path, |_| Err(std::io::Error::other("disk full")));
        assert!(err.unwrap_err().to_string().contains("disk full"));
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
