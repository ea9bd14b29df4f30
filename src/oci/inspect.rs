//! What a stored manifest is: a Flux artifact, a Helm chart, or something
//! else (a container image, an index). Pure: reads the manifest bytes.

use std::collections::BTreeMap;

use super::artifact::{FLUX_CONFIG_MEDIA_TYPE, MANIFEST_MEDIA_TYPE};
use super::helm::HELM_CONFIG_MEDIA_TYPE;

/// Docker's image manifest, which carries a config like the OCI one.
pub const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// The kind of artifact a manifest describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An image manifest with the Flux config media type (what `push` and
    /// `flux push artifact` produce).
    Flux,
    /// An image manifest with Helm's chart config media type.
    HelmChart,
    /// Anything else: a container image, an index, another artifact type.
    Other,
}

impl Kind {
    /// `flux`, `helm-chart` or `other`, as reports name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Flux => "flux",
            Kind::HelmChart => "helm-chart",
            Kind::Other => "other",
        }
    }
}

/// A manifest, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    pub kind: Kind,
    /// `config.mediaType`, when the manifest has a config (an index has none).
    pub config_media_type: Option<String>,
    /// The manifest's string annotations.
    pub annotations: BTreeMap<String, String>,
}

/// Read a manifest stored with `media_type`.
pub fn inspect(bytes: &[u8], media_type: &str) -> Inspected {
    let json: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    let config_media_type = json["config"]["mediaType"].as_str().map(str::to_string);
    let image = media_type == MANIFEST_MEDIA_TYPE || media_type == DOCKER_MANIFEST_MEDIA_TYPE;
    let kind = match config_media_type.as_deref() {
        Some(FLUX_CONFIG_MEDIA_TYPE) if image => Kind::Flux,
        Some(HELM_CONFIG_MEDIA_TYPE) if image => Kind::HelmChart,
        _ => Kind::Other,
    };
    let annotations = json["annotations"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Inspected {
        kind,
        config_media_type,
        annotations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(config: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {"mediaType": config, "digest": "sha256:00", "size": 2},
            "layers": [],
            "annotations": {"org.opencontainers.image.revision": "main@sha1:abc"},
        }))
        .expect("json")
    }

    #[test]
    fn kinds() {
        let flux = inspect(&manifest(FLUX_CONFIG_MEDIA_TYPE), MANIFEST_MEDIA_TYPE);
        assert_eq!(flux.kind, Kind::Flux);
        assert_eq!(
            flux.annotations["org.opencontainers.image.revision"],
            "main@sha1:abc"
        );
        assert_eq!(
            inspect(&manifest(HELM_CONFIG_MEDIA_TYPE), MANIFEST_MEDIA_TYPE).kind,
            Kind::HelmChart
        );
        let image = inspect(
            &manifest("application/vnd.oci.image.config.v1+json"),
            MANIFEST_MEDIA_TYPE,
        );
        assert_eq!(image.kind, Kind::Other);
        assert_eq!(
            image.config_media_type.as_deref(),
            Some("application/vnd.oci.image.config.v1+json")
        );
        // An index is never a Flux artifact, whatever it holds.
        let index = inspect(
            br#"{"schemaVersion":2,"manifests":[]}"#,
            "application/vnd.oci.image.index.v1+json",
        );
        assert_eq!(index.kind, Kind::Other);
        assert_eq!(index.config_media_type, None);
        assert_eq!(inspect(b"not json", MANIFEST_MEDIA_TYPE).kind, Kind::Other);
    }
}
