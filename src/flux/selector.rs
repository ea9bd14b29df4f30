//! Which Flux objects consume an artifact: OCIRepositories whose `spec.url`
//! names the repository and whose `spec.ref` selects the artifact, then the
//! Kustomizations and HelmReleases that use them, then (optionally)
//! everything that `dependsOn` those, transitively.

use serde_json::Value;
use std::collections::BTreeSet;

use super::kinds::{FluxKind, ObjectRef};
use super::semver::{self, Constraints};
use crate::flux::json::At as _;

/// An `--artifact oci://REGISTRY/REPO[:TAG][@sha256:DIGEST]` selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactSelector {
    /// `host[:port]/path`, no scheme.
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<hex>`
    pub digest: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid artifact {value:?}: {reason}")]
pub struct ArtifactSelectorError {
    pub value: String,
    pub reason: String,
}

impl crate::error::Diagnostic for ArtifactSelectorError {
    fn exit_code(&self) -> crate::error::ExitCode {
        crate::error::ExitCode::Usage
    }
    fn hint(&self) -> Option<String> {
        Some("write it as push prints it: oci://registry.example.com/group/project/manifests:TAG[@sha256:DIGEST] (lowercase repository)".into())
    }
}

impl ArtifactSelector {
    pub fn parse(value: &str) -> Result<ArtifactSelector, ArtifactSelectorError> {
        let err = |reason: &str| ArtifactSelectorError {
            value: value.to_string(),
            reason: reason.to_string(),
        };
        if let Some(shown) = crate::oci::reference::redact_userinfo(value) {
            return Err(ArtifactSelectorError {
                value: shown,
                reason: "it carries credentials (USER:PASSWORD@), which do not belong here".into(),
            });
        }
        let rest = value
            .strip_prefix("oci://")
            .ok_or_else(|| err("it must start with oci://"))?;
        let (rest, digest) = match rest.split_once('@') {
            Some((r, d)) => {
                let hex = d
                    .strip_prefix("sha256:")
                    .ok_or_else(|| err("the digest must be sha256:<64 hex digits>"))?;
                if hex.len() != 64
                    || !hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
                    return Err(err("the digest must be sha256:<64 lowercase hex digits>"));
                }
                (r, Some(d.to_string()))
            }
            None => (rest, None),
        };
        let (host, path) = rest
            .split_once('/')
            .ok_or_else(|| err("a repository path is required after the registry host"))?;
        if host.is_empty() {
            return Err(err("the registry host is empty"));
        }
        // A tag follows the last ':' of the path part (the host may have a port).
        let (path, tag) = match path.rsplit_once(':') {
            Some((p, t)) => (p, Some(t.to_string())),
            None => (path, None),
        };
        if path.is_empty()
            || path.split('/').any(|c| {
                c.is_empty()
                    || !c.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
                    || !c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
            })
        {
            return Err(err(
                "repository path components are lowercase letters, digits, '.', '_' and '-'",
            ));
        }
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                return Err(err(
                    "a tag is up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'",
                ));
            }
        }
        if tag.is_none() && digest.is_none() {
            return Err(err(
                "give a tag or a digest, so the exact artifact is known",
            ));
        }
        Ok(ArtifactSelector {
            repository: format!("{}/{}", host.to_ascii_lowercase(), path),
            tag,
            digest,
        })
    }

    /// `oci://repo[:tag][@digest]`
    pub fn url(&self) -> String {
        let mut s = format!("oci://{}", self.repository);
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

/// Whether an OCIRepository selects the artifact, and why (not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefMatch {
    /// It does.
    Selected,
    /// Same repository, but its ref does not pick this artifact.
    NotSelected(String),
    /// Another repository.
    OtherRepository,
}

fn normalize_url(url: &str) -> String {
    url.trim()
        .trim_start_matches("oci://")
        .trim_end_matches('/')
        .to_ascii_lowercase()
}

/// The tag part of an artifact revision `<tag>@sha256:<hex>`.
pub fn revision_tag(revision: &str) -> Option<&str> {
    revision
        .split_once('@')
        .map(|(t, _)| t)
        .filter(|t| !t.is_empty())
}

/// The digest part of an artifact revision (`<tag>@sha256:<hex>` or `sha256:<hex>`).
pub fn revision_digest(revision: &str) -> Option<&str> {
    match revision.split_once('@') {
        Some((_, d)) => Some(d),
        None if revision.starts_with("sha256:") => Some(revision),
        None => None,
    }
}

/// Decide whether an OCIRepository object selects the artifact.
pub fn match_ocirepository(obj: &Value, sel: &ArtifactSelector) -> RefMatch {
    let url = obj
        .at("/spec/url")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if normalize_url(url) != sel.repository {
        return RefMatch::OtherRepository;
    }
    let r = obj.at("/spec/ref");
    let s = |p: &str| {
        r.and_then(|r| r.get(p))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let current = obj
        .at("/status/artifact/revision")
        .and_then(Value::as_str)
        .unwrap_or_default();

    if let Some(want) = s("digest") {
        return match &sel.digest {
            Some(d) if d == want => RefMatch::Selected,
            Some(_) => RefMatch::NotSelected(format!("pinned to digest {want}")),
            None => RefMatch::NotSelected(format!(
                "pinned to digest {want}; give the artifact's digest (@sha256:…) to match it"
            )),
        };
    }

    // Without a tag we only know the digest: a tag/semver ref selects it if it
    // already resolved to that digest.
    let Some(tag) = &sel.tag else {
        let digest = sel.digest.as_deref().unwrap_or_default();
        return if revision_digest(current) == Some(digest) {
            RefMatch::Selected
        } else {
            RefMatch::NotSelected(
                "follows a tag or semver range; give the artifact's tag (oci://…:TAG@sha256:…) to match it".into(),
            )
        };
    };

    if let Some(range_text) = s("semver") {
        let range = match Constraints::parse(range_text) {
            Ok(r) => r,
            Err(e) => return RefMatch::NotSelected(format!("invalid semver range: {e}")),
        };
        if let Some(filter) = s("semverFilter") {
            match regex::Regex::new(filter) {
                Ok(re) if !re.is_match(tag) => {
                    return RefMatch::NotSelected(format!(
                        "semverFilter {filter:?} excludes tag {tag:?}"
                    ));
                }
                Ok(_) => {}
                Err(_) => return RefMatch::NotSelected(format!("invalid semverFilter {filter:?}")),
            }
        }
        // SC-HELMTAG: a Helm chart layer's tags write a version's `+` as `_`.
        let helm_chart = obj
            .at("/spec/layerSelector/mediaType")
            .and_then(Value::as_str)
            == Some(crate::oci::helm::HELM_LAYER_MEDIA_TYPE);
        let Some(version) = semver::parse_tag(tag, helm_chart) else {
            return RefMatch::NotSelected(format!(
                "follows semver range {range_text:?} but tag {tag:?} is not a version"
            ));
        };
        if !range.matches(&version) {
            return RefMatch::NotSelected(format!(
                "semver range {range_text:?} does not include {tag}"
            ));
        }
        // Would it be the highest? The currently selected tag tells us of a
        // higher one that exists.
        if let Some(cur_tag) = revision_tag(current)
            && let Some(cur) = semver::parse_tag(cur_tag, helm_chart)
            && range.matches(&cur)
            && cur > version
        {
            return RefMatch::NotSelected(format!(
                "semver range {range_text:?} picks the higher tag {cur_tag}"
            ));
        }
        return RefMatch::Selected;
    }

    let want = s("tag").unwrap_or("latest");
    if want == tag {
        RefMatch::Selected
    } else {
        RefMatch::NotSelected(format!("follows tag {want:?}, not {tag:?}"))
    }
}

/// The chart name an OCI HelmRepository serves the artifact under: its
/// `spec.url` plus `/<chart>` is the artifact's repository (SC-HELMREPO).
/// None for a HelmRepository of another type or URL.
pub fn match_helmrepository(obj: &Value, sel: &ArtifactSelector) -> Option<String> {
    if obj.at("/spec/type").and_then(Value::as_str) != Some("oci") {
        return None;
    }
    let url = obj.at("/spec/url").and_then(Value::as_str)?;
    let base = normalize_url(url);
    let chart = sel.repository.strip_prefix(&base)?.strip_prefix('/')?;
    (!chart.is_empty() && !chart.contains('/')).then(|| chart.to_string())
}

/// The chart version Helm's registry client reads a tag as (SC-HELMCHART,
/// MS-STRICT): `_` is `+`, and only strict SemVer counts; the version
/// string is then the tag with `+` (Masterminds normalizes nothing more
/// for a strict version).
pub fn helm_chart_version(tag: &str) -> Option<String> {
    let v = tag.replace('_', "+");
    semver::parse_strict(&v).map(|_| v)
}

/// Whether a HelmChart selects the artifact: `spec.sourceRef` is one of
/// the HelmRepositories in `repos`, `spec.chart` is `chart`, and its
/// `spec.version` picks the artifact's version (SC-HELMCHART): a version
/// (fluxcd/pkg's lenient reading) is used as the tag verbatim; anything
/// else is a constraint over the strict versions Helm lists, the highest
/// admitted winning (a higher one the HelmChart already holds beats ours).
pub fn match_helmchart(
    obj: &Value,
    sel: &ArtifactSelector,
    repos: &BTreeSet<ObjectRef>,
    chart: &str,
) -> RefMatch {
    let s = |p: &str| obj.at(p).and_then(Value::as_str).filter(|v| !v.is_empty());
    let source_ns = ns_of(obj);
    let source_ok = s("/spec/sourceRef/kind") == Some("HelmRepository")
        && s("/spec/sourceRef/name").is_some_and(|n| {
            repos.contains(&ObjectRef::new(FluxKind::HelmRepository, source_ns, n))
        });
    if !source_ok || s("/spec/chart") != Some(chart) {
        return RefMatch::OtherRepository;
    }
    let want = s("/spec/version").unwrap_or("*");
    let current = s("/status/artifact/revision");
    let Some(tag) = &sel.tag else {
        return RefMatch::NotSelected(
            "HelmCharts follow chart versions; give the artifact's tag (oci://…:VERSION@sha256:…) to match it".into(),
        );
    };
    let Some(version) = helm_chart_version(tag) else {
        return RefMatch::NotSelected(format!(
            "tag {tag:?} is not a chart version Helm lists (strict SemVer, `_` for `+`)"
        ));
    };
    // An exact version is pulled as that tag, without listing any.
    if semver::parse_tag(want, false).is_some() {
        return if want == version || want == tag.as_str() {
            RefMatch::Selected
        } else {
            RefMatch::NotSelected(format!("chart version {want:?} is not {version}"))
        };
    }
    let range = match Constraints::parse(want) {
        Ok(r) => r,
        Err(e) => {
            return RefMatch::NotSelected(format!("invalid version constraint {want:?}: {e}"));
        }
    };
    let Some(parsed) = semver::parse_strict(&version) else {
        return RefMatch::NotSelected(format!("tag {tag:?} is not a chart version"));
    };
    if !range.matches(&parsed) {
        return RefMatch::NotSelected(format!(
            "version constraint {want:?} does not include {version}"
        ));
    }
    if let Some(cur_text) = current
        && let Some(cur) = semver::parse_strict(cur_text)
        && range.matches(&cur)
        && cur > parsed
    {
        return RefMatch::NotSelected(format!(
            "version constraint {want:?} picks the higher version {cur_text}"
        ));
    }
    RefMatch::Selected
}

/// The HelmChart a HelmRelease with `spec.chart` uses: `status.helmChart`
/// (`<ns>/<name>`) once helm-controller wrote it, else its convention
/// `<hr-namespace>-<hr-name>` in the source's namespace (HC-CHARTTEMPLATE).
pub fn helmchart_of(obj: &Value) -> Option<ObjectRef> {
    let spec = obj.at("/spec/chart/spec")?;
    if let Some((ns, name)) = obj
        .at("/status/helmChart")
        .and_then(Value::as_str)
        .and_then(|s| s.split_once('/'))
        .filter(|(ns, name)| !ns.is_empty() && !name.is_empty())
    {
        return Some(ObjectRef::new(FluxKind::HelmChart, ns, name));
    }
    let ns = spec
        .pointer("/sourceRef/namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .unwrap_or(ns_of(obj));
    Some(ObjectRef::new(
        FluxKind::HelmChart,
        ns,
        format!("{}-{}", ns_of(obj), name_of(obj)),
    ))
}

/// The HelmRepository a HelmChart pulls from (`spec.sourceRef`, same namespace).
pub fn helmrepository_of(obj: &Value) -> Option<ObjectRef> {
    let r = obj.at("/spec/sourceRef")?;
    if r.get("kind")?.as_str()? != "HelmRepository" {
        return None;
    }
    Some(ObjectRef::new(
        FluxKind::HelmRepository,
        ns_of(obj),
        r.get("name")?.as_str()?,
    ))
}

fn ns_of(obj: &Value) -> &str {
    obj.at("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn name_of(obj: &Value) -> &str {
    obj.at("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The reference of an object of a known kind.
pub fn object_ref(kind: FluxKind, obj: &Value) -> ObjectRef {
    ObjectRef::new(kind, ns_of(obj), name_of(obj))
}

/// The source an object consumes: a Kustomization's `sourceRef`, a
/// HelmRelease's `chartRef` or the HelmChart of its `spec.chart` (or nothing).
pub fn source_of(kind: FluxKind, obj: &Value) -> Option<ObjectRef> {
    let pointer = match kind {
        FluxKind::Kustomization => "/spec/sourceRef",
        FluxKind::HelmRelease if obj.at("/spec/chartRef").is_none() => return helmchart_of(obj),
        FluxKind::HelmRelease => "/spec/chartRef",
        _ => return None,
    };
    let r = obj.at(pointer)?;
    let kind = FluxKind::from_kind(r.get("kind")?.as_str()?)?;
    let name = r.get("name")?.as_str()?;
    let ns = r
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .unwrap_or(ns_of(obj));
    Some(ObjectRef::new(kind, ns, name))
}

/// What an object `dependsOn` (same kind; namespace defaults to its own).
pub fn depends_on(kind: FluxKind, obj: &Value) -> Vec<ObjectRef> {
    obj.at("/spec/dependsOn")
        .and_then(Value::as_array)
        .map(|deps| {
            deps.iter()
                .filter_map(|d| {
                    let name = d.get("name")?.as_str()?;
                    let ns = d
                        .get("namespace")
                        .and_then(Value::as_str)
                        .filter(|n| !n.is_empty())
                        .unwrap_or(ns_of(obj));
                    Some(ObjectRef::new(kind, ns, name))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An entry id of a Kustomization's `status.inventory`:
/// `<namespace>_<name>_<group>_<Kind>` → (namespace, name, group, kind).
/// Kubernetes names cannot contain `_`, so the split is unambiguous.
pub fn parse_inventory_id(id: &str) -> Option<(&str, &str, &str, &str)> {
    let mut parts = id.splitn(4, '_');
    Some((parts.next()?, parts.next()?, parts.next()?, parts.next()?))
}

/// The consumers of a set of sources among candidate objects.
pub fn consumers<'a>(
    sources: &BTreeSet<ObjectRef>,
    candidates: impl IntoIterator<Item = (FluxKind, &'a Value)>,
) -> BTreeSet<ObjectRef> {
    candidates
        .into_iter()
        .filter(|(kind, obj)| source_of(*kind, obj).is_some_and(|s| sources.contains(&s)))
        .map(|(kind, obj)| object_ref(kind, obj))
        .collect()
}

/// Everything that transitively `dependsOn` something in `roots`.
pub fn dependents(
    roots: &BTreeSet<ObjectRef>,
    candidates: &[(FluxKind, &Value)],
) -> BTreeSet<ObjectRef> {
    let mut found: BTreeSet<ObjectRef> = BTreeSet::new();
    let mut frontier: BTreeSet<ObjectRef> = roots.clone();
    while !frontier.is_empty() {
        let mut next = BTreeSet::new();
        for (kind, obj) in candidates {
            let me = object_ref(*kind, obj);
            if found.contains(&me) || roots.contains(&me) {
                continue;
            }
            if depends_on(*kind, obj).iter().any(|d| frontier.contains(d)) {
                next.insert(me);
            }
        }
        found.extend(next.iter().cloned());
        frontier = next;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn repo(r: Value, current: &str) -> Value {
        json!({"metadata": {"name": "apps", "namespace": "flux-system"},
               "spec": {"url": "oci://registry.example.com/team/app/manifests", "ref": r},
               "status": {"artifact": {"revision": current}}})
    }

    fn sel(s: &str) -> ArtifactSelector {
        ArtifactSelector::parse(s).expect("valid selector")
    }

    #[test]
    fn parse_selectors() {
        let s = sel("oci://Registry.Example.com:5000/team/app:v1.2.0");
        assert_eq!(s.repository, "registry.example.com:5000/team/app");
        assert_eq!(s.tag.as_deref(), Some("v1.2.0"));
        let s = sel(&format!("oci://r.example/a/b:main@{DIGEST}"));
        assert_eq!(s.digest.as_deref(), Some(DIGEST));
        assert_eq!(s.url(), format!("oci://r.example/a/b:main@{DIGEST}"));
        for bad in [
            "registry.example.com/a:b",
            "oci://registry.example.com/Team/app:v1",
            "oci://registry.example.com/a:-bad",
            "oci://registry.example.com/a@sha256:abc",
            "oci://registry.example.com",
            "oci://registry.example.com/a",
        ] {
            assert!(ArtifactSelector::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tag_refs() {
        let s = sel("oci://registry.example.com/team/app/manifests:v1");
        assert_eq!(
            match_ocirepository(&repo(json!({"tag": "v1"}), ""), &s),
            RefMatch::Selected
        );
        assert!(matches!(
            match_ocirepository(&repo(json!({"tag": "v2"}), ""), &s),
            RefMatch::NotSelected(_)
        ));
        let latest = sel("oci://registry.example.com/team/app/manifests:latest");
        assert_eq!(
            match_ocirepository(&repo(Value::Null, ""), &latest),
            RefMatch::Selected
        );
        let other = sel("oci://registry.example.com/team/other:v1");
        assert_eq!(
            match_ocirepository(&repo(json!({"tag": "v1"}), ""), &other),
            RefMatch::OtherRepository
        );
    }

    #[test]
    fn semver_refs() {
        let s = sel("oci://registry.example.com/team/app/manifests:1.4.0");
        assert_eq!(
            match_ocirepository(
                &repo(json!({"semver": ">=1.0.0 <2.0.0"}), "1.3.0@sha256:x"),
                &s
            ),
            RefMatch::Selected
        );
        assert!(matches!(
            match_ocirepository(&repo(json!({"semver": "2.x"}), ""), &s),
            RefMatch::NotSelected(why) if why.contains("does not include")
        ));
        assert!(matches!(
            match_ocirepository(&repo(json!({"semver": ">=1.0.0"}), "1.5.0@sha256:x"), &s),
            RefMatch::NotSelected(why) if why.contains("higher tag 1.5.0")
        ));
        assert!(matches!(
            match_ocirepository(&repo(json!({"semver": ">=1.0.0", "semverFilter": ".*-rc"}), ""), &s),
            RefMatch::NotSelected(why) if why.contains("semverFilter")
        ));
    }

    #[test]
    fn digest_refs() {
        let with = sel(&format!(
            "oci://registry.example.com/team/app/manifests:v1@{DIGEST}"
        ));
        assert_eq!(
            match_ocirepository(&repo(json!({"digest": DIGEST}), ""), &with),
            RefMatch::Selected
        );
        let other_digest = DIGEST.replace('1', "2");
        assert!(matches!(
            match_ocirepository(&repo(json!({"digest": other_digest}), ""), &with),
            RefMatch::NotSelected(_)
        ));
        // Digest-only selector: a tag ref matches once it resolved to it.
        let only = sel(&format!(
            "oci://registry.example.com/team/app/manifests@{DIGEST}"
        ));
        assert_eq!(
            match_ocirepository(&repo(json!({"tag": "v1"}), &format!("v1@{DIGEST}")), &only),
            RefMatch::Selected
        );
    }

    fn helm_chart_obj(version: &str, current: &str) -> Value {
        json!({"metadata": {"name": "flux-system-podinfo", "namespace": "flux-system"},
               "spec": {"chart": "podinfo", "version": version,
                        "sourceRef": {"kind": "HelmRepository", "name": "charts"}},
               "status": {"artifact": {"revision": current}}})
    }

    #[test]
    fn helm_repositories_and_charts() {
        // SC-HELMREPO: url + "/" + chart is the artifact's repository.
        let repo = json!({"metadata": {"name": "charts", "namespace": "flux-system"},
            "spec": {"type": "oci", "url": "oci://Registry.example.com/team/charts/"}});
        let s = sel("oci://registry.example.com/team/charts/podinfo:1.2.0");
        assert_eq!(match_helmrepository(&repo, &s).as_deref(), Some("podinfo"));
        let mut http = repo.clone();
        http["spec"]["type"] = json!("default");
        assert_eq!(match_helmrepository(&http, &s), None);
        assert_eq!(
            match_helmrepository(
                &repo,
                &sel("oci://registry.example.com/team/charts/a/b:1.0.0")
            ),
            None
        );
        // SC-HELMCHART: strict versions only, `_` for `+`.
        assert_eq!(
            helm_chart_version("1.2.0_build.1").as_deref(),
            Some("1.2.0+build.1")
        );
        assert_eq!(helm_chart_version("v1.2.0"), None);
        assert_eq!(helm_chart_version("2025.02.03"), None);
        let repos: BTreeSet<ObjectRef> = [ObjectRef::new(
            FluxKind::HelmRepository,
            "flux-system",
            "charts",
        )]
        .into();
        let m = |v: &str, cur: &str, a: &str| {
            match_helmchart(&helm_chart_obj(v, cur), &sel(a), &repos, "podinfo")
        };
        let a = "oci://registry.example.com/team/charts/podinfo:1.2.0";
        assert_eq!(m(">=1.0.0", "1.1.0", a), RefMatch::Selected);
        assert_eq!(m("", "", a), RefMatch::Selected);
        assert_eq!(m("1.2.0", "", a), RefMatch::Selected);
        assert!(matches!(m("1.3.0", "", a), RefMatch::NotSelected(w) if w.contains("1.3.0")));
        assert!(
            matches!(m("~1.1", "", a), RefMatch::NotSelected(w) if w.contains("constraint \"~1.1\" does not include 1.2.0"))
        );
        assert!(
            matches!(m(">=1.0.0", "1.5.0", a), RefMatch::NotSelected(w) if w.contains("higher version 1.5.0"))
        );
        assert!(matches!(
            m("*", "", "oci://registry.example.com/team/charts/podinfo:v1.2.0"),
            RefMatch::NotSelected(w) if w.contains("not a chart version")
        ));
        assert_eq!(
            match_helmchart(&helm_chart_obj("*", ""), &sel(a), &repos, "other"),
            RefMatch::OtherRepository
        );
        // HC-CHARTTEMPLATE: the HelmChart of a release.
        let hr = json!({"metadata": {"name": "web", "namespace": "apps"},
            "spec": {"chart": {"spec": {"chart": "podinfo",
                "sourceRef": {"kind": "HelmRepository", "name": "charts", "namespace": "flux-system"}}}}});
        assert_eq!(
            source_of(FluxKind::HelmRelease, &hr),
            Some(ObjectRef::new(
                FluxKind::HelmChart,
                "flux-system",
                "apps-web"
            ))
        );
    }

    #[test]
    fn inventory_ids() {
        assert_eq!(
            parse_inventory_id("apps_web_apps_Deployment"),
            Some(("apps", "web", "apps", "Deployment"))
        );
        assert_eq!(
            parse_inventory_id("_ns1__Namespace"),
            Some(("", "ns1", "", "Namespace"))
        );
        assert_eq!(parse_inventory_id("broken_id"), None);
    }

    #[test]
    fn consumers_and_dependents() {
        let src = ObjectRef::new(FluxKind::OciRepository, "flux-system", "apps");
        let ks_a = json!({"metadata": {"name": "a", "namespace": "flux-system"},
            "spec": {"sourceRef": {"kind": "OCIRepository", "name": "apps"}}});
        let ks_b = json!({"metadata": {"name": "b", "namespace": "flux-system"},
            "spec": {"sourceRef": {"kind": "GitRepository", "name": "x"}, "dependsOn": [{"name": "a"}]}});
        let ks_c = json!({"metadata": {"name": "c", "namespace": "other"},
            "spec": {"dependsOn": [{"name": "b", "namespace": "flux-system"}]}});
        let hr = json!({"metadata": {"name": "h", "namespace": "apps"},
            "spec": {"chartRef": {"kind": "OCIRepository", "name": "apps", "namespace": "flux-system"}}});
        let roots: BTreeSet<ObjectRef> = [src].into();
        let cands = vec![
            (FluxKind::Kustomization, &ks_a),
            (FluxKind::Kustomization, &ks_b),
            (FluxKind::Kustomization, &ks_c),
            (FluxKind::HelmRelease, &hr),
        ];
        let direct = consumers(&roots, cands.iter().copied());
        assert_eq!(
            direct.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            vec!["a", "h"]
        );
        let deps = dependents(&direct, &cands);
        assert_eq!(
            deps.iter()
                .map(|r| format!("{}/{}", r.namespace, r.name))
                .collect::<Vec<_>>(),
            vec!["flux-system/b", "other/c"]
        );
    }
}
