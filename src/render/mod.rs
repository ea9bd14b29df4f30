//! Rendering reports into text: JSON/YAML documents and tables. Nothing
//! here talks to the world.

pub mod push;
pub mod tag;

use serde::Serialize;

use crate::cli::OutputFormat;
use crate::error::{Error, ExitCode, Result};

/// Serialize a report as JSON (pretty, trailing newline) or YAML.
pub fn document<T: Serialize>(value: &T, format: OutputFormat) -> Result<String> {
    let text = match format {
        OutputFormat::Json | OutputFormat::Table => serde_json::to_string_pretty(value)
            .map(|mut s| {
                s.push('\n');
                s
            })
            .map_err(|e| e.to_string()),
        OutputFormat::Yaml => serde_saphyr::to_string(value).map_err(|e| e.to_string()),
    };
    text.map_err(|e| {
        Error::other(
            ExitCode::Failure,
            format!("cannot render the report: {e}"),
            None,
        )
    })
}

/// Column spacing as kubectl prints it: no left margin, three spaces between columns.
pub fn kubectl_spacing(t: &mut comfy_table::Table) {
    for column in t.column_iter_mut() {
        column.set_padding((0, 3));
    }
}

/// A plain borderless table (kubectl style) with a header row.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(header.iter().map(comfy_table::Cell::new));
    for row in rows {
        t.add_row(row);
    }
    kubectl_spacing(&mut t);
    let mut s = String::new();
    for line in t.to_string().lines() {
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

pub mod wait;

/// Check, before any work, that a report file (`--dotenv`, `--junit`) can
/// be written where asked, the way [`write_atomic`] will write it: a new or
/// regular file needs a writable directory (checked by creating and
/// removing a probe file there), a symlink or a non-regular file (a FIFO,
/// `/dev/stdout`, a device) must be writable itself; a directory or a
/// socket is refused. Done up front so bad input fails before anything
/// changes (no tag pushed, no object annotated).
pub fn check_output_path(flag: &str, path: &std::path::Path) -> Result<()> {
    match output_problem(path) {
        None => Ok(()),
        Some(reason) => Err(Error::usage(
            format!("cannot write {flag} {}: {reason}", path.display()),
            "give a writable file path in an existing directory (create the directory first), e.g. in the job's working directory",
        )),
    }
}

/// The directory a path's file lives in (`.` for a bare name).
fn parent_of(path: &std::path::Path) -> &std::path::Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."))
}

/// Why `path` cannot be written, if it cannot.
fn output_problem(path: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::FileTypeExt;
    if std_stream(path).is_some() {
        return None;
    }
    let link = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = parent_of(path);
            if !parent.is_dir() {
                return Some(format!("{} is not a directory", parent.display()));
            }
            return probe_dir(parent).err();
        }
        Err(e) => return Some(e.to_string()),
    };
    if path.is_dir() {
        return Some(format!("{} is a directory", path.display()));
    }
    if link.file_type().is_file() && link.nlink() <= 1 {
        // Replaced by a rename: the directory must take a new file.
        return probe_dir(parent_of(path)).err();
    }
    // Written in place: through the symlink, or into the FIFO or device.
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A dangling symlink: the file is created where it points.
            let target = std::fs::read_link(path).ok()?;
            let target = parent_of(path).join(target);
            let dir = parent_of(&target);
            if !dir.is_dir() {
                return Some(format!(
                    "it is a symlink to {}, in no existing directory",
                    target.display()
                ));
            }
            probe_dir(dir).err()
        }
        Err(e) => Some(e.to_string()),
        Ok(m) if m.file_type().is_socket() => Some("it is a socket".into()),
        // A FIFO is not opened to check it: opening and closing it would
        // hand its reader an end of file. Its permission bits tell.
        Ok(m) if m.file_type().is_fifo() => {
            (m.permissions().mode() & 0o222 == 0).then(|| "the FIFO is not writable".into())
        }
        Ok(_) => match std::fs::OpenOptions::new().write(true).open(path) {
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        },
    }
}

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

/// Whether a new file can be created in `dir`: create a probe file and
/// remove it (access(2) cannot tell, for root or on a read-only mount).
fn probe_dir(dir: &std::path::Path) -> std::result::Result<(), String> {
    let probe = dir.join(format!(".gitlab-flux-probe.{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!("cannot create a file in {}: {e}", dir.display())),
    }
}

/// `/dev/stdout`, `/dev/stderr` and their `/dev/fd`, `/proc/self/fd`
/// spellings: written through the process's own stream, so the text lands
/// where the stream goes (also a file the shell opened with `>`) without
/// reopening or truncating it.
fn std_stream(path: &std::path::Path) -> Option<u8> {
    match path.to_str()? {
        "/dev/stdout" | "/dev/fd/1" | "/proc/self/fd/1" => Some(1),
        "/dev/stderr" | "/dev/fd/2" | "/proc/self/fd/2" => Some(2),
        _ => None,
    }
}

/// Write a report file, so that it is either complete or absent, without
/// replacing what is not ours to replace:
///
/// * a new file, or an existing regular file (one link), is written to a
///   temp file beside it, synced and renamed over it; an existing file keeps
///   its permissions (and, where allowed, its owner);
/// * `/dev/stdout`, `/dev/stderr`: written to the process's stream;
/// * a symlink, a hard-linked file, a FIFO or a device: written in place,
///   through the link (a regular target is truncated first);
/// * a directory is an error (already refused by [`check_output_path`]).
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    match std_stream(path) {
        Some(1) => {
            let mut out = std::io::stdout().lock();
            return out.write_all(bytes).and_then(|()| out.flush());
        }
        Some(_) => return std::io::stderr().lock().write_all(bytes),
        None => {}
    }
    let existing = match std::fs::symlink_metadata(path) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    if let Some(m) = &existing
        && !(m.file_type().is_file() && m.nlink() <= 1)
    {
        let target = std::fs::metadata(path).ok();
        if target.as_ref().is_some_and(|t| t.is_dir()) {
            return Err(std::io::Error::other("it is a directory"));
        }
        let regular = target.as_ref().is_none_or(|t| t.is_file());
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(regular)
            .open(path)?;
        f.write_all(bytes)?;
        if regular {
            f.sync_all()?;
        }
        return Ok(());
    }
    let dir = parent_of(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        if let Some(m) = &existing {
            f.set_permissions(m.permissions())?;
            let _ = std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()));
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keeps_the_mode_of_a_regular_file() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("push.env");
        std::fs::write(&path, "old").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        write_atomic(&path, b"new").expect("write_atomic");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn writes_through_a_symlink() {
        let dir = tempfile::tempdir().expect("dir");
        let target = dir.path().join("real.env");
        std::fs::write(&target, "old old old").expect("write");
        let link = dir.path().join("push.env");
        std::os::unix::fs::symlink("real.env", &link).expect("symlink");
        check_output_path("--dotenv", &link).expect("writable");
        write_atomic(&link, b"new").expect("write_atomic");
        assert!(
            std::fs::symlink_metadata(&link)
                .expect("lstat")
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "new");
        let dangling = dir.path().join("dangling.env");
        std::os::unix::fs::symlink("made.env", &dangling).expect("symlink");
        check_output_path("--dotenv", &dangling).expect("writable");
        write_atomic(&dangling, b"x").expect("write_atomic");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("made.env")).expect("read"),
            "x"
        );
    }

    #[test]
    fn refuses_directories_and_missing_directories() {
        let dir = tempfile::tempdir().expect("dir");
        let err = check_output_path("--junit", dir.path()).expect_err("a directory");
        assert!(
            err.message().contains("is a directory"),
            "{}",
            err.message()
        );
        let err = check_output_path("--junit", &dir.path().join("no/such.xml"))
            .expect_err("no directory");
        assert!(
            err.message().contains("is not a directory"),
            "{}",
            err.message()
        );
        check_output_path("--junit", &dir.path().join("ok.xml")).expect("ok");
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("ls").count(),
            0,
            "probe left behind"
        );
    }
}
