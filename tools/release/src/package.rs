//! The `[package]` table of the plugin's Cargo.toml: the version, homepage
//! and description the krew manifest and the image labels repeat.

use std::path::Path;

use anyhow::{Context as _, Result, bail};

/// The fields of `[package]` the release artefacts use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub description: String,
    pub repository: String,
    pub license: String,
}

impl Package {
    /// Read `Cargo.toml` at `path`.
    pub fn read(path: &Path) -> Result<Package> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Package::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    /// Parse the `[package]` table: `key = "basic string"` lines, which is
    /// how the plugin's manifest writes them.
    pub fn parse(text: &str) -> Result<Package> {
        let mut in_package = false;
        let mut fields = std::collections::BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                in_package = line == "[package]";
                continue;
            }
            if !in_package || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if let Some(value) = basic_string(value.trim()) {
                fields.insert(key.trim().to_string(), value);
            }
        }
        let mut field = |key: &str| -> Result<String> {
            match fields.remove(key) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => bail!("[package] has no {key} = \"…\""),
            }
        };
        Ok(Package {
            name: field("name")?,
            version: field("version")?,
            description: field("description")?,
            repository: field("repository")?.trim_end_matches('/').to_string(),
            license: field("license")?,
        })
    }
}

/// A TOML basic string `"…"` (escapes `\"`, `\\`, `\n`, `\t`); None for
/// anything else (arrays, tables, numbers).
fn basic_string(raw: &str) -> Option<String> {
    let inner = raw.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let rest: String = chars.collect();
                let rest = rest.trim();
                return (rest.is_empty() || rest.starts_with('#')).then_some(out);
            }
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                c @ ('"' | '\\') => out.push(c),
                _ => return None,
            },
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_package_table_only() {
        let text = r#"
[package]
name = "kubectl-gitlab-flux"
version = "1.2.3" # trailing comment
description = "push \"Flux\" artifacts"
license = "Apache-2.0"
repository = "https://gitlab.com/a/b/"
keywords = ["x"]

[dependencies]
version = "9.9.9"
"#;
        let p = Package::parse(text).expect("parses");
        assert_eq!(p.name, "kubectl-gitlab-flux");
        assert_eq!(p.version, "1.2.3");
        assert_eq!(p.description, "push \"Flux\" artifacts");
        assert_eq!(p.repository, "https://gitlab.com/a/b");
        assert_eq!(p.license, "Apache-2.0");
    }

    #[test]
    fn missing_fields_are_errors() {
        let err = Package::parse("[package]\nname = \"x\"\n").expect_err("no version");
        assert!(err.to_string().contains("version"), "{err}");
        assert!(basic_string("\"open").is_none());
        assert!(basic_string("[\"a\"]").is_none());
    }

    #[test]
    fn the_plugin_manifest_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
        let p = Package::read(&path).expect("the plugin's Cargo.toml");
        assert_eq!(p.name, "kubectl-gitlab-flux");
        assert_eq!(p.version, kubectl_gitlab_flux::build_info::VERSION);
        assert!(p.repository.starts_with("https://"), "{}", p.repository);
    }
}
