//! The table of resource kinds the emulator serves.
//!
//! Written from the Flux and Kubernetes API documentation (group, version,
//! kind, plural, short names, scope, status subresource); no upstream file is
//! embedded.

/// One servable resource (a group/version/kind and its REST names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceKind {
    /// API group; "" for the core group.
    pub group: &'static str,
    /// API version within the group.
    pub version: &'static str,
    /// Kind, e.g. `OCIRepository`.
    pub kind: &'static str,
    /// Plural resource name used in URLs, e.g. `ocirepositories`.
    pub plural: &'static str,
    /// Singular resource name, e.g. `ocirepository`.
    pub singular: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Short names kubectl accepts, e.g. `ks`.
    pub short_names: &'static [&'static str],
    /// Categories (`kubectl get fluxcd`).
    pub categories: &'static [&'static str],
    /// Whether the kind has a `/status` subresource.
    pub status: bool,
    /// Whether this is a Flux kind (served only when Flux is "installed").
    pub flux: bool,
}

impl ResourceKind {
    /// `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural.group` (or `plural` for the core group), as the API server
    /// names a resource in messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Whether this entry is the `events.k8s.io/v1` view of core events.
    pub(crate) fn is_events_k8s_io(&self) -> bool {
        self.group == "events.k8s.io"
    }
}

const FLUX_SOURCES: &[&str] = &["all", "fluxcd", "fluxcd-sources"];
const FLUX_APPLIERS: &[&str] = &["all", "fluxcd", "fluxcd-appliers"];
const FLUX_NOTIFICATIONS: &[&str] = &["all", "fluxcd", "fluxcd-notifications"];

macro_rules! rk {
    ($g:expr, $v:expr, $k:expr, $p:expr, $s:expr, $ns:expr, $short:expr, $cat:expr, $status:expr, $flux:expr) => {
        ResourceKind {
            group: $g,
            version: $v,
            kind: $k,
            plural: $p,
            singular: $s,
            namespaced: $ns,
            short_names: $short,
            categories: $cat,
            status: $status,
            flux: $flux,
        }
    };
}

/// Every kind the emulator knows, Flux ones included.
pub const ALL_KINDS: &[ResourceKind] = &[
    // core/v1
    rk!(
        "",
        "v1",
        "Namespace",
        "namespaces",
        "namespace",
        false,
        &["ns"],
        &[],
        true,
        false
    ),
    rk!(
        "",
        "v1",
        "Event",
        "events",
        "event",
        true,
        &["ev"],
        &[],
        false,
        false
    ),
    rk!(
        "",
        "v1",
        "Secret",
        "secrets",
        "secret",
        true,
        &[],
        &[],
        false,
        false
    ),
    rk!(
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        "configmap",
        true,
        &["cm"],
        &[],
        false,
        false
    ),
    rk!(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        "serviceaccount",
        true,
        &["sa"],
        &[],
        false,
        false
    ),
    // events.k8s.io/v1 (a view of the core events)
    rk!(
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        "event",
        true,
        &["ev"],
        &[],
        false,
        false
    ),
    // apps/v1
    rk!(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        "deployment",
        true,
        &["deploy"],
        &["all"],
        true,
        false
    ),
    rk!(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        "statefulset",
        true,
        &["sts"],
        &["all"],
        true,
        false
    ),
    rk!(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        "daemonset",
        true,
        &["ds"],
        &["all"],
        true,
        false
    ),
    // batch/v1
    rk!(
        "batch",
        "v1",
        "Job",
        "jobs",
        "job",
        true,
        &[],
        &["all"],
        true,
        false
    ),
    // Flux
    rk!(
        "source.toolkit.fluxcd.io",
        "v1",
        "OCIRepository",
        "ocirepositories",
        "ocirepository",
        true,
        &["ocirepo"],
        FLUX_SOURCES,
        true,
        true
    ),
    rk!(
        "source.toolkit.fluxcd.io",
        "v1",
        "GitRepository",
        "gitrepositories",
        "gitrepository",
        true,
        &["gitrepo"],
        FLUX_SOURCES,
        true,
        true
    ),
    rk!(
        "source.toolkit.fluxcd.io",
        "v1",
        "Bucket",
        "buckets",
        "bucket",
        true,
        &[],
        FLUX_SOURCES,
        true,
        true
    ),
    rk!(
        "source.toolkit.fluxcd.io",
        "v1",
        "HelmRepository",
        "helmrepositories",
        "helmrepository",
        true,
        &["helmrepo"],
        FLUX_SOURCES,
        true,
        true
    ),
    rk!(
        "source.toolkit.fluxcd.io",
        "v1",
        "HelmChart",
        "helmcharts",
        "helmchart",
        true,
        &["hc"],
        FLUX_SOURCES,
        true,
        true
    ),
    rk!(
        "source.toolkit.fluxcd.io",
        "v1",
        "ExternalArtifact",
        "externalartifacts",
        "externalartifact",
        true,
        &["ea"],
        FLUX_SOURCES,
        true,
        true
    ),
    rk!(
        "kustomize.toolkit.fluxcd.io",
        "v1",
        "Kustomization",
        "kustomizations",
        "kustomization",
        true,
        &["ks"],
        FLUX_APPLIERS,
        true,
        true
    ),
    rk!(
        "helm.toolkit.fluxcd.io",
        "v2",
        "HelmRelease",
        "helmreleases",
        "helmrelease",
        true,
        &["hr"],
        FLUX_APPLIERS,
        true,
        true
    ),
    rk!(
        "notification.toolkit.fluxcd.io",
        "v1",
        "Receiver",
        "receivers",
        "receiver",
        true,
        &[],
        FLUX_NOTIFICATIONS,
        true,
        true
    ),
    rk!(
        "notification.toolkit.fluxcd.io",
        "v1beta3",
        "Alert",
        "alerts",
        "alert",
        true,
        &[],
        FLUX_NOTIFICATIONS,
        false,
        true
    ),
    rk!(
        "notification.toolkit.fluxcd.io",
        "v1beta3",
        "Provider",
        "providers",
        "provider",
        true,
        &[],
        FLUX_NOTIFICATIONS,
        false,
        true
    ),
];

/// The kinds served by one emulator instance.
#[derive(Debug, Clone)]
pub struct Kinds {
    kinds: Vec<&'static ResourceKind>,
}

impl Kinds {
    /// All kinds; Flux kinds only when `flux` is true.
    pub fn new(flux: bool) -> Kinds {
        Kinds {
            kinds: ALL_KINDS.iter().filter(|k| flux || !k.flux).collect(),
        }
    }

    /// Every served kind.
    pub fn all(&self) -> impl Iterator<Item = &'static ResourceKind> + '_ {
        self.kinds.iter().copied()
    }

    /// Look a kind up by `apiVersion` and `kind`.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&'static ResourceKind> {
        let (group, version) = split_api_version(api_version);
        self.all()
            .find(|k| k.group == group && k.version == version && k.kind == kind)
    }

    /// Look a kind up by group, version and plural.
    pub fn by_plural(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<&'static ResourceKind> {
        self.all()
            .find(|k| k.group == group && k.version == version && k.plural == plural)
    }

    /// The served groups with their versions (preferred first), in a stable order.
    pub fn groups(&self) -> Vec<(&'static str, Vec<&'static str>)> {
        let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
        for k in self.all() {
            if k.group.is_empty() {
                continue;
            }
            match out.iter_mut().find(|(g, _)| *g == k.group) {
                Some((_, vs)) => {
                    if !vs.contains(&k.version) {
                        vs.push(k.version);
                    }
                }
                None => out.push((k.group, vec![k.version])),
            }
        }
        out
    }
}

/// Split `group/version` (or the core `v1`) into (group, version).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}
