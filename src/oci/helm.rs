//! Helm's OCI chart format: the config blob is Chart.yaml as JSON, the
//! layer a tar+gzip with every entry under `<chart-name>/`. Flux consumes it
//! through an OCIRepository referenced by a HelmRelease's `chartRef`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::OciError;

/// Helm chart config media type.
pub const HELM_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";
/// Helm chart content layer media type.
pub const HELM_LAYER_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// Helm's own ignore-file name, honoured anywhere in the chart.
pub const HELMIGNORE: &str = ".helmignore";
/// What is never packed into a chart (on top of `.helmignore`).
pub const HELM_DEFAULT_IGNORES: &[&str] = &[".git/"];

/// A chart's metadata, read from Chart.yaml.
#[derive(Debug, Clone)]
pub struct Chart {
    pub name: String,
    pub version: String,
    pub description: Option<String>,
    /// Chart.yaml as compact JSON with sorted keys: the config blob.
    pub config_json: Vec<u8>,
}

impl Chart {
    /// The tag Helm uses for this version (`+` is not allowed in tags).
    pub fn default_tag(&self) -> String {
        self.version.replace('+', "_")
    }

    /// The manifest annotations Helm sets.
    pub fn annotations(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("org.opencontainers.image.title".into(), self.name.clone());
        m.insert(
            "org.opencontainers.image.version".into(),
            self.version.clone(),
        );
        if let Some(d) = self.description.as_ref().filter(|d| !d.is_empty()) {
            m.insert("org.opencontainers.image.description".into(), d.clone());
        }
        m
    }
}

/// Whether `path` is a chart directory (holds a Chart.yaml).
pub fn is_chart(path: &Path) -> bool {
    path.is_dir() && path.join("Chart.yaml").is_file()
}

/// Read and check Chart.yaml.
pub fn load(dir: &Path) -> Result<Chart, OciError> {
    let err = |reason: String| OciError::HelmChart {
        path: dir.to_path_buf(),
        reason,
    };
    if !dir.is_dir() {
        return Err(err("a Helm chart is a directory holding Chart.yaml".into()));
    }
    let file: PathBuf = dir.join("Chart.yaml");
    let data = std::fs::read(&file).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => err("there is no Chart.yaml".into()),
        _ => OciError::Unreadable {
            path: file.clone(),
            source: e,
        },
    })?;
    super::artifact::check_yaml(&file, &data)?;
    let text = String::from_utf8_lossy(&data);
    let value: serde_json::Value = serde_saphyr::from_str(&text)
        .map_err(|e| err(format!("Chart.yaml cannot be read as metadata: {e}")))?;
    let obj = value
        .as_object()
        .ok_or_else(|| err("Chart.yaml is not a mapping".into()))?;
    let field = |k: &str| obj.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let name = field("name").ok_or_else(|| err("Chart.yaml has no name".into()))?;
    if !valid_chart_name(&name) {
        return Err(err(format!(
            "the chart name {name:?} is not valid (lowercase letters, digits, '-', '_', '.')"
        )));
    }
    let version = match obj.get("version") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) if !other.is_null() => other.to_string(),
        _ => return Err(err("Chart.yaml has no version".into())),
    };
    if crate::flux::semver::parse_strict(&version).is_none() {
        return Err(err(format!(
            "the chart version {version:?} is not SemVer 2"
        )));
    }
    match field("apiVersion").as_deref() {
        Some("v1") | Some("v2") => {}
        Some(other) => return Err(err(format!("unknown Chart.yaml apiVersion {other:?}"))),
        None => return Err(err("Chart.yaml has no apiVersion".into())),
    }
    // serde_json::Map without preserve_order sorts keys: stable bytes.
    let config_json =
        serde_json::to_vec(&value).map_err(|e| err(format!("cannot encode the metadata: {e}")))?;
    Ok(Chart {
        name,
        version,
        description: field("description"),
        config_json,
    })
}

fn valid_chart_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 250
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Whether a chart file is a template (not plain YAML, so not validated).
pub fn is_template(rel_path: &str) -> bool {
    rel_path.split('/').any(|c| c == "templates")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(yaml: &str) -> Result<Chart, OciError> {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::write(d.path().join("Chart.yaml"), yaml).expect("write");
        load(d.path())
    }

    #[test]
    fn reads_chart_metadata() {
        let c = chart("apiVersion: v2\nname: podinfo\nversion: 6.5.0+build.1\ndescription: demo\n")
            .expect("chart");
        assert_eq!(c.name, "podinfo");
        assert_eq!(c.default_tag(), "6.5.0_build.1");
        let v: serde_json::Value = serde_json::from_slice(&c.config_json).expect("json");
        assert_eq!(v["apiVersion"], "v2");
        assert_eq!(v["version"], "6.5.0+build.1");
        assert_eq!(c.annotations()["org.opencontainers.image.title"], "podinfo");
    }

    #[test]
    fn refuses_bad_charts() {
        assert!(chart("apiVersion: v2\nversion: 1.0.0\n").is_err());
        assert!(chart("apiVersion: v2\nname: x\nversion: one\n").is_err());
        assert!(chart("apiVersion: v2\nname: Bad\nversion: 1.0.0\n").is_err());
        assert!(chart("name: x\nversion: 1.0.0\n").is_err());
        let d = tempfile::tempdir().expect("tempdir");
        assert!(load(d.path()).is_err());
    }

    #[test]
    fn templates() {
        assert!(is_template("templates/deploy.yaml"));
        assert!(is_template("charts/sub/templates/x.yaml"));
        assert!(!is_template("values.yaml"));
    }
}
