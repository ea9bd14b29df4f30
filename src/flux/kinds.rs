//! The Flux kinds this plugin works with, and `KIND/NAME` parsing.

use std::fmt;

/// A Flux kind as served by current Flux (all namespaced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FluxKind {
    OciRepository,
    GitRepository,
    Bucket,
    HelmRepository,
    HelmChart,
    ExternalArtifact,
    Kustomization,
    HelmRelease,
    Receiver,
}

/// Static facts about a kind: API group, served versions (newest first),
/// kind, plural, and the names users type.
#[derive(Debug)]
pub struct KindInfo {
    pub kind: &'static str,
    pub group: &'static str,
    /// Versions newest first; discovery picks the newest served one.
    pub versions: &'static [&'static str],
    pub plural: &'static str,
    pub aliases: &'static [&'static str],
}

impl FluxKind {
    pub const ALL: [FluxKind; 9] = [
        FluxKind::OciRepository,
        FluxKind::GitRepository,
        FluxKind::Bucket,
        FluxKind::HelmRepository,
        FluxKind::HelmChart,
        FluxKind::ExternalArtifact,
        FluxKind::Kustomization,
        FluxKind::HelmRelease,
        FluxKind::Receiver,
    ];

    pub fn info(self) -> &'static KindInfo {
        const SOURCE: &str = "source.toolkit.fluxcd.io";
        match self {
            FluxKind::OciRepository => &KindInfo {
                kind: "OCIRepository",
                group: SOURCE,
                versions: &["v1", "v1beta2"],
                plural: "ocirepositories",
                aliases: &["ocirepository", "ocirepositories", "ocirepo", "oci"],
            },
            FluxKind::GitRepository => &KindInfo {
                kind: "GitRepository",
                group: SOURCE,
                versions: &["v1", "v1beta2"],
                plural: "gitrepositories",
                aliases: &["gitrepository", "gitrepositories", "gitrepo"],
            },
            FluxKind::Bucket => &KindInfo {
                kind: "Bucket",
                group: SOURCE,
                versions: &["v1", "v1beta2"],
                plural: "buckets",
                aliases: &["bucket", "buckets"],
            },
            FluxKind::HelmRepository => &KindInfo {
                kind: "HelmRepository",
                group: SOURCE,
                versions: &["v1", "v1beta2"],
                plural: "helmrepositories",
                aliases: &["helmrepository", "helmrepositories", "helmrepo"],
            },
            FluxKind::HelmChart => &KindInfo {
                kind: "HelmChart",
                group: SOURCE,
                versions: &["v1", "v1beta2"],
                plural: "helmcharts",
                aliases: &["helmchart", "helmcharts", "hc"],
            },
            FluxKind::ExternalArtifact => &KindInfo {
                kind: "ExternalArtifact",
                group: SOURCE,
                versions: &["v1"],
                plural: "externalartifacts",
                aliases: &["externalartifact", "externalartifacts"],
            },
            FluxKind::Kustomization => &KindInfo {
                kind: "Kustomization",
                group: "kustomize.toolkit.fluxcd.io",
                versions: &["v1", "v1beta2"],
                plural: "kustomizations",
                aliases: &["kustomization", "kustomizations", "ks"],
            },
            FluxKind::HelmRelease => &KindInfo {
                kind: "HelmRelease",
                group: "helm.toolkit.fluxcd.io",
                versions: &["v2", "v2beta2"],
                plural: "helmreleases",
                aliases: &["helmrelease", "helmreleases", "hr"],
            },
            FluxKind::Receiver => &KindInfo {
                kind: "Receiver",
                group: "notification.toolkit.fluxcd.io",
                versions: &["v1", "v1beta2"],
                plural: "receivers",
                aliases: &["receiver", "receivers"],
            },
        }
    }

    /// The Kubernetes kind name, e.g. `OCIRepository`.
    pub fn kind(self) -> &'static str {
        self.info().kind
    }

    /// Parse what a user typed (case-insensitive; aliases and kind names).
    pub fn parse(text: &str) -> Option<FluxKind> {
        let lower = text.to_ascii_lowercase();
        // Allow a group suffix as kubectl does: kustomizations.kustomize.toolkit.fluxcd.io
        let (name, group) = match lower.split_once('.') {
            Some((n, g)) => (n.to_string(), Some(g.to_string())),
            None => (lower.clone(), None),
        };
        FluxKind::ALL.into_iter().find(|k| {
            let info = k.info();
            (info.aliases.contains(&name.as_str()) || info.kind.eq_ignore_ascii_case(&name))
                && group.as_deref().is_none_or(|g| g == info.group)
        })
    }

    /// From a Kubernetes `kind` (and optionally apiVersion) string.
    pub fn from_kind(kind: &str) -> Option<FluxKind> {
        FluxKind::ALL.into_iter().find(|k| k.kind() == kind)
    }

    /// Whether this kind is a source (OCIRepository, GitRepository, …).
    pub fn is_source(self) -> bool {
        self.info().group == "source.toolkit.fluxcd.io"
    }

    /// The names users may type, for help texts and completion.
    pub fn typed_names() -> Vec<&'static str> {
        let mut names: Vec<&'static str> = Vec::new();
        for k in FluxKind::ALL {
            names.extend(k.info().aliases.iter().copied());
        }
        names
    }
}

impl fmt::Display for FluxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())
    }
}

/// A reference to one Flux object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    pub kind: FluxKind,
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    pub fn new(kind: FluxKind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectRef {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
    }
}

/// A bad `KIND/NAME` argument.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ObjectArgError {
    #[error("invalid object {0:?}: expected KIND/NAME, e.g. kustomization/apps")]
    Shape(String),
    #[error("unknown kind {kind:?} in {arg:?}")]
    UnknownKind { arg: String, kind: String },
    #[error(
        "invalid name {name:?} in {arg:?}: Kubernetes names are lowercase letters, digits, '-' and '.'"
    )]
    BadName { arg: String, name: String },
}

impl crate::error::Diagnostic for ObjectArgError {
    fn exit_code(&self) -> crate::error::ExitCode {
        crate::error::ExitCode::Usage
    }
    fn hint(&self) -> Option<String> {
        Some(match self {
            ObjectArgError::UnknownKind { .. } => format!(
                "kinds: ocirepository (oci), kustomization (ks), helmrelease (hr), gitrepository, bucket, helmrepository, helmchart; also {}",
                "the plural or full kind name"
            ),
            _ => {
                "write objects as KIND/NAME, e.g. ks/apps or helmrelease/podinfo; namespace with -n"
                    .into()
            }
        })
    }
}

/// Parse `KIND/NAME` in `namespace`.
pub fn parse_object_arg(arg: &str, namespace: &str) -> Result<ObjectRef, ObjectArgError> {
    let (kind, name) = arg
        .split_once('/')
        .filter(|(k, n)| !k.is_empty() && !n.is_empty() && !n.contains('/'))
        .ok_or_else(|| ObjectArgError::Shape(arg.to_string()))?;
    let kind = FluxKind::parse(kind).ok_or_else(|| ObjectArgError::UnknownKind {
        arg: arg.to_string(),
        kind: kind.to_string(),
    })?;
    if !is_dns_subdomain(name) {
        return Err(ObjectArgError::BadName {
            arg: arg.to_string(),
            name: name.to_string(),
        });
    }
    Ok(ObjectRef::new(kind, namespace, name))
}

/// RFC 1123 subdomain, as Kubernetes object names are.
pub fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_names() {
        for (typed, kind) in [
            ("ks", FluxKind::Kustomization),
            ("Kustomization", FluxKind::Kustomization),
            (
                "kustomizations.kustomize.toolkit.fluxcd.io",
                FluxKind::Kustomization,
            ),
            ("hr", FluxKind::HelmRelease),
            ("oci", FluxKind::OciRepository),
            ("ocirepo", FluxKind::OciRepository),
            ("OCIRepository", FluxKind::OciRepository),
            ("gitrepo", FluxKind::GitRepository),
        ] {
            assert_eq!(FluxKind::parse(typed), Some(kind), "{typed}");
        }
        assert_eq!(FluxKind::parse("deployment"), None);
        assert_eq!(FluxKind::parse("ks.example.com"), None);
    }

    #[test]
    fn object_args() {
        assert_eq!(
            parse_object_arg("ks/apps", "flux-system"),
            Ok(ObjectRef::new(
                FluxKind::Kustomization,
                "flux-system",
                "apps"
            ))
        );
        assert!(matches!(
            parse_object_arg("apps", "ns"),
            Err(ObjectArgError::Shape(_))
        ));
        assert!(matches!(
            parse_object_arg("pod/x", "ns"),
            Err(ObjectArgError::UnknownKind { .. })
        ));
        assert!(matches!(
            parse_object_arg("ks/Apps", "ns"),
            Err(ObjectArgError::BadName { .. })
        ));
    }
}
