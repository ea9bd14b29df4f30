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
/// be written where asked: its directory exists and the path is not itself
/// a directory. Done up front so bad input fails before anything changes.
pub fn check_output_path(flag: &str, path: &std::path::Path) -> Result<()> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let reason = if path.is_dir() {
        format!("{} is a directory", path.display())
    } else if !parent.is_dir() {
        format!("{} is not a directory", parent.display())
    } else {
        return Ok(());
    };
    Err(Error::usage(
        format!("cannot write {flag} {}: {reason}", path.display()),
        "give a file path in an existing directory (create the directory first), e.g. in the job's working directory",
    ))
}

/// Write a file atomically (temp file beside it, synced, then renamed), so a
/// report is either complete or absent.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
