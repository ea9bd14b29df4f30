//! Selecting the Flux objects a command works on — explicit `KIND/NAME`
//! arguments, or everything that consumes an `--artifact` — shared by
//! `trigger`, `wait` and `status`.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

use crate::cli::TargetArgs;
use crate::cluster::objects::FluxApi;
use crate::error::{Error, ExitCode, Result};
use crate::flux::kinds::parse_object_arg;
use crate::flux::selector::{self, ArtifactSelector, RefMatch};
use crate::flux::{FluxKind, ObjectRef};

/// What a selection found.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Selected objects in reconcile order: sources, consumers, dependents.
    pub objects: Vec<(ObjectRef, Value)>,
    /// The artifact selector, when `--artifact` was given.
    pub artifact: Option<ArtifactSelector>,
    /// OCIRepositories that name the artifact's repository but do not
    /// select it, with the reason.
    pub not_selected: Vec<(ObjectRef, String)>,
}

impl Selection {
    pub fn refs(&self) -> Vec<ObjectRef> {
        self.objects.iter().map(|(r, _)| r.clone()).collect()
    }
}

/// Validate the selection flags without contacting the cluster.
pub fn validate(
    target: &TargetArgs,
    namespace: &str,
) -> Result<(Vec<ObjectRef>, Option<ArtifactSelector>)> {
    let objects = target
        .objects
        .iter()
        .map(|a| parse_object_arg(a, namespace))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let artifact = target
        .artifact
        .as_deref()
        .map(ArtifactSelector::parse)
        .transpose()?;
    if objects.is_empty() && artifact.is_none() {
        return Err(Error::usage(
            "nothing selected",
            "name objects as KIND/NAME (e.g. ks/apps) or give --artifact oci://REGISTRY/REPO:TAG",
        ));
    }
    Ok((objects, artifact))
}

/// Resolve the selection against the cluster.
pub async fn select(api: &FluxApi, target: &TargetArgs, namespace: &str) -> Result<Selection> {
    let (explicit, artifact) = validate(target, namespace)?;
    let scope: Option<&str> = if target.all_namespaces {
        None
    } else {
        Some(namespace)
    };
    let mut chosen: BTreeMap<ObjectRef, Value> = BTreeMap::new();
    let mut not_selected = Vec::new();

    for r in &explicit {
        let obj = api.get(r.kind, &r.namespace, &r.name).await?;
        chosen.insert(r.clone(), obj);
    }

    // Candidates for consumers and dependents, listed once.
    let need_consumers = artifact.is_some() || target.dependents;
    let mut candidates: Vec<(FluxKind, Value)> = Vec::new();
    if need_consumers {
        for kind in [FluxKind::Kustomization, FluxKind::HelmRelease] {
            for obj in api.list(kind, scope).await? {
                candidates.push((kind, obj));
            }
        }
    }
    let cand_refs: Vec<(FluxKind, &Value)> = candidates.iter().map(|(k, v)| (*k, v)).collect();

    if let Some(sel) = &artifact {
        let mut sources = BTreeSet::new();
        for obj in api.list(FluxKind::OciRepository, scope).await? {
            let r = selector::object_ref(FluxKind::OciRepository, &obj);
            match selector::match_ocirepository(&obj, sel) {
                RefMatch::Selected => {
                    sources.insert(r.clone());
                    chosen.insert(r, obj);
                }
                RefMatch::NotSelected(why) => not_selected.push((r, why)),
                RefMatch::OtherRepository => {}
            }
        }
        if sources.is_empty() {
            return Err(nothing_matches(
                sel,
                &not_selected,
                target.all_namespaces,
                namespace,
            ));
        }
        for r in selector::consumers(&sources, cand_refs.iter().copied()) {
            if let Some((_, v)) = candidates
                .iter()
                .find(|(k, v)| selector::object_ref(*k, v) == r)
            {
                chosen.insert(r, v.clone());
            }
        }
    }

    if target.dependents {
        let roots: BTreeSet<ObjectRef> = chosen.keys().cloned().collect();
        for r in selector::dependents(&roots, &cand_refs) {
            if let Some((_, v)) = candidates
                .iter()
                .find(|(k, v)| selector::object_ref(*k, v) == r)
            {
                chosen.insert(r, v.clone());
            }
        }
    }

    Ok(Selection {
        objects: order(chosen),
        artifact,
        not_selected,
    })
}

/// Sources first, then objects whose dependencies come earlier.
fn order(chosen: BTreeMap<ObjectRef, Value>) -> Vec<(ObjectRef, Value)> {
    let mut remaining: Vec<(ObjectRef, Value)> = chosen.into_iter().collect();
    remaining.sort_by_key(|(r, _)| (!r.kind.is_source(), r.clone()));
    let mut out: Vec<(ObjectRef, Value)> = Vec::new();
    while !remaining.is_empty() {
        let placed: BTreeSet<ObjectRef> = out.iter().map(|(r, _)| r.clone()).collect();
        let pending: BTreeSet<ObjectRef> = remaining.iter().map(|(r, _)| r.clone()).collect();
        let pos = remaining
            .iter()
            .position(|(r, v)| {
                selector::depends_on(r.kind, v)
                    .iter()
                    .all(|d| placed.contains(d) || !pending.contains(d))
            })
            .unwrap_or(0); // a dependency cycle: keep going in name order
        out.push(remaining.remove(pos));
    }
    out
}

fn nothing_matches(
    sel: &ArtifactSelector,
    not_selected: &[(ObjectRef, String)],
    all: bool,
    namespace: &str,
) -> Error {
    let scope = if all {
        "any namespace".to_string()
    } else {
        format!("namespace {namespace}")
    };
    let mut message = format!("no OCIRepository in {scope} selects {}", sel.url());
    if !not_selected.is_empty() {
        let reasons: Vec<String> = not_selected
            .iter()
            .map(|(r, why)| format!("{}/{}: {why}", r.namespace, r.name))
            .collect();
        message.push_str(&format!(" (same repository: {})", reasons.join("; ")));
    }
    let hint = if all {
        format!(
            "create an OCIRepository with url oci://{} whose ref selects this tag or digest",
            sel.repository
        )
    } else {
        "search all namespaces with -A, or set -n to where the OCIRepository lives".to_string()
    };
    Error::other(ExitCode::Failure, message, Some(hint))
}
