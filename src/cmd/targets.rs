//! Selecting the Flux objects a command works on — explicit `KIND/NAME`
//! arguments, or everything that consumes an `--artifact` — shared by
//! `trigger`, `wait` and `status`.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

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
    /// The lists the selection read, without the objects it selected
    /// (those are in `objects`): together, every object listed.
    pub lists: Vec<Listed>,
    /// HelmCharts that select the artifact but do not exist yet: those
    /// helm-controller will make of the HelmReleases picked by their
    /// `spec.chart` template (HC-CHARTTEMPLATE).
    pub pending_charts: Vec<ObjectRef>,
}

/// One list a selection made: the objects of a kind in a scope that were
/// not selected, and the list's `resourceVersion`, from which a watch can
/// continue instead of listing the same objects again.
#[derive(Debug, Clone)]
pub struct Listed {
    pub kind: FluxKind,
    /// The namespace listed; None for all namespaces.
    pub scope: Option<String>,
    pub version: Option<String>,
    pub objects: Vec<Value>,
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

    let listed = |kind: FluxKind, (objects, version): (Vec<Value>, Option<String>)| Listed {
        kind,
        scope: scope.map(str::to_string),
        version,
        objects,
    };
    // Candidates for consumers and dependents, listed once.
    let need_consumers = artifact.is_some() || target.dependents;
    let mut candidate_lists: Vec<Listed> = Vec::new();
    if need_consumers {
        let kinds = [FluxKind::Kustomization, FluxKind::HelmRelease];
        let lists =
            futures::future::try_join_all(kinds.iter().map(|&kind| api.list_at(kind, scope)))
                .await?;
        for (kind, list) in kinds.into_iter().zip(lists) {
            candidate_lists.push(listed(kind, list));
        }
    }
    let cand_refs: Vec<(FluxKind, &Value)> = candidate_lists
        .iter()
        .flat_map(|l| l.objects.iter().map(|v| (l.kind, v)))
        .collect();

    // Consumers and dependents, picked by reference first and moved out of
    // their lists below (no copies: thousands of objects with -A).
    let mut picked: BTreeSet<ObjectRef> = BTreeSet::new();
    let mut source_list = None;
    let mut helm_matched = false;
    let mut pending_charts: Vec<ObjectRef> = Vec::new();
    let mut helm_lists: Vec<Listed> = Vec::new();
    if let Some(sel) = &artifact {
        let mut sources = BTreeSet::new();
        let (objects, version) = api.list_at(FluxKind::OciRepository, scope).await?;
        let mut rest = Vec::new();
        for obj in objects {
            let r = selector::object_ref(FluxKind::OciRepository, &obj);
            match selector::match_ocirepository(&obj, sel) {
                RefMatch::Selected => {
                    sources.insert(r.clone());
                    chosen.insert(r, obj);
                }
                RefMatch::NotSelected(why) => {
                    not_selected.push((r, why));
                    rest.push(obj);
                }
                RefMatch::OtherRepository => rest.push(obj),
            }
        }
        source_list = Some(listed(FluxKind::OciRepository, (rest, version)));
        // A Helm chart the classic way: OCI HelmRepository → HelmChart →
        // HelmRelease `spec.chart` (SC-HELMREPO, SC-HELMCHART, HC-CHARTTEMPLATE).
        let helm_found = select_helm(api, sel, scope, &candidate_lists, &mut not_selected).await?;
        if let Some(found) = helm_found {
            helm_matched = true;
            for (r, obj) in found.charts {
                sources.insert(r.clone());
                chosen.insert(r, obj);
            }
            // HelmReleases whose HelmChart does not exist yet, judged by their template.
            pending_charts.extend(found.releases.iter().map(|(_, hc)| hc.clone()));
            picked.extend(found.releases.into_iter().map(|(hr, _)| hr));
            helm_lists.extend(found.lists);
        }
        if sources.is_empty() && picked.is_empty() {
            return Err(nothing_matches(
                sel,
                &not_selected,
                target.all_namespaces,
                namespace,
                helm_matched,
            ));
        }
        picked.extend(selector::consumers(&sources, cand_refs.iter().copied()));
    }

    if target.dependents {
        let roots: BTreeSet<ObjectRef> = chosen.keys().chain(&picked).cloned().collect();
        picked.extend(selector::dependents(&roots, &cand_refs));
    }
    drop(cand_refs);

    for list in &mut candidate_lists {
        for obj in std::mem::take(&mut list.objects) {
            let r = selector::object_ref(list.kind, &obj);
            if picked.contains(&r) {
                chosen.insert(r, obj);
            } else {
                list.objects.push(obj);
            }
        }
    }
    let mut lists = candidate_lists;
    lists.extend(source_list);
    lists.extend(helm_lists);
    Ok(Selection {
        objects: order(chosen),
        artifact,
        not_selected,
        lists,
        pending_charts,
    })
}

/// Sources first, then objects whose dependencies come earlier: at each
/// step the first object (sources first, then by reference) whose
/// dependencies within the selection are all placed; in a dependency cycle,
/// the first one left. Linear apart from the sorting (thousands of objects
/// with `-A`).
fn order(chosen: BTreeMap<ObjectRef, Value>) -> Vec<(ObjectRef, Value)> {
    let mut items: Vec<(ObjectRef, Value)> = chosen.into_iter().collect();
    items.sort_by(|(a, _), (b, _)| (!a.kind.is_source(), a).cmp(&(!b.kind.is_source(), b)));
    let index: HashMap<&ObjectRef, usize> =
        items.iter().enumerate().map(|(i, (r, _))| (r, i)).collect();
    let n = items.len();
    let mut waiting_on = vec![0usize; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, (r, v)) in items.iter().enumerate() {
        let deps: BTreeSet<usize> = selector::depends_on(r.kind, v)
            .iter()
            .filter_map(|d| index.get(d).copied())
            .collect();
        waiting_on[i] = deps.len();
        for d in deps {
            dependents[d].push(i);
        }
    }
    drop(index);
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| waiting_on[i] == 0).collect();
    let mut unplaced: BTreeSet<usize> = (0..n).collect();
    let mut sequence = Vec::with_capacity(n);
    while let Some(&first_left) = unplaced.first() {
        let next = ready.pop_first().unwrap_or(first_left);
        unplaced.remove(&next);
        sequence.push(next);
        for &j in &dependents[next] {
            waiting_on[j] = waiting_on[j].saturating_sub(1);
            if waiting_on[j] == 0 && unplaced.contains(&j) {
                ready.insert(j);
            }
        }
    }
    let mut slots: Vec<Option<(ObjectRef, Value)>> = items.into_iter().map(Some).collect();
    sequence
        .into_iter()
        .filter_map(|i| slots[i].take())
        .collect()
}

/// What the Helm path of a selection found.
struct HelmFound {
    /// HelmCharts that select the artifact.
    charts: Vec<(ObjectRef, Value)>,
    /// HelmReleases with `spec.chart` whose HelmChart is not there yet but
    /// whose template selects the artifact, with the HelmChart to come.
    releases: Vec<(ObjectRef, ObjectRef)>,
    /// The HelmRepositories and the HelmCharts not selected.
    lists: Vec<Listed>,
}

/// The HelmCharts (and HelmReleases not yet given one) that select a chart
/// artifact through an OCI HelmRepository; None when no HelmRepository
/// serves the artifact's repository.
async fn select_helm(
    api: &FluxApi,
    sel: &ArtifactSelector,
    scope: Option<&str>,
    candidates: &[Listed],
    not_selected: &mut Vec<(ObjectRef, String)>,
) -> Result<Option<HelmFound>> {
    let listed = |kind: FluxKind, (objects, version): (Vec<Value>, Option<String>)| Listed {
        kind,
        scope: scope.map(str::to_string),
        version,
        objects,
    };
    let repos_list = listed(
        FluxKind::HelmRepository,
        api.list_at(FluxKind::HelmRepository, scope).await?,
    );
    let mut repos: BTreeSet<ObjectRef> = BTreeSet::new();
    let mut chart_name = None;
    for obj in &repos_list.objects {
        if let Some(chart) = selector::match_helmrepository(obj, sel) {
            repos.insert(selector::object_ref(FluxKind::HelmRepository, obj));
            chart_name = Some(chart);
        }
    }
    let Some(chart) = chart_name else {
        return Ok(None);
    };
    let (objects, version) = api.list_at(FluxKind::HelmChart, scope).await?;
    let mut charts = Vec::new();
    let mut rest = Vec::new();
    let mut existing: BTreeSet<ObjectRef> = BTreeSet::new();
    for obj in objects {
        let r = selector::object_ref(FluxKind::HelmChart, &obj);
        existing.insert(r.clone());
        match selector::match_helmchart(&obj, sel, &repos, &chart) {
            RefMatch::Selected => charts.push((r, obj)),
            RefMatch::NotSelected(why) => {
                not_selected.push((r, why));
                rest.push(obj);
            }
            RefMatch::OtherRepository => rest.push(obj),
        }
    }
    // helm-controller creates the HelmChart on its first pass over a
    // HelmRelease; until then the release's template says what it will be.
    let mut releases = Vec::new();
    for obj in candidates
        .iter()
        .filter(|l| l.kind == FluxKind::HelmRelease)
        .flat_map(|l| l.objects.iter())
    {
        let Some(hc) = selector::helmchart_of(obj) else {
            continue;
        };
        if existing.contains(&hc) || obj.pointer("/spec/chartRef").is_some() {
            continue;
        }
        let Some(spec) = obj.pointer("/spec/chart/spec") else {
            continue;
        };
        let template = serde_json::json!({
            "metadata": {"namespace": hc.namespace, "name": hc.name},
            "spec": spec,
        });
        let r = selector::object_ref(FluxKind::HelmRelease, obj);
        match selector::match_helmchart(&template, sel, &repos, &chart) {
            RefMatch::Selected => releases.push((r, hc)),
            RefMatch::NotSelected(why) => not_selected.push((r, why)),
            RefMatch::OtherRepository => {}
        }
    }
    Ok(Some(HelmFound {
        charts,
        releases,
        lists: vec![repos_list, listed(FluxKind::HelmChart, (rest, version))],
    }))
}

fn nothing_matches(
    sel: &ArtifactSelector,
    not_selected: &[(ObjectRef, String)],
    all: bool,
    namespace: &str,
    helm: bool,
) -> Error {
    let scope = if all {
        "any namespace".to_string()
    } else {
        format!("namespace {namespace}")
    };
    let kinds = if helm {
        "OCIRepository or HelmChart"
    } else {
        "OCIRepository"
    };
    let mut message = format!("no {kinds} in {scope} selects {}", sel.url());
    if !not_selected.is_empty() {
        let reasons: Vec<String> = not_selected
            .iter()
            .map(|(r, why)| format!("{}/{}: {why}", r.namespace, r.name))
            .collect();
        message.push_str(&format!(" (same repository: {})", reasons.join("; ")));
    }
    let hint = if helm && not_selected.is_empty() {
        "create a HelmRelease whose spec.chart.spec names this chart and the OCI HelmRepository (helm-controller then creates the HelmChart)".to_string()
    } else if helm {
        "push a version the HelmChart's spec.version constraint admits, or widen the constraint (spec.chart.spec.version of the HelmRelease)".to_string()
    } else if all {
        format!(
            "create an OCIRepository with url oci://{} whose ref selects this tag or digest",
            sel.repository
        )
    } else {
        "search all namespaces with -A, or set -n to where the OCIRepository lives".to_string()
    };
    Error::other(ExitCode::Failure, message, Some(hint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The original quadratic definition of the order, kept as the reference.
    fn reference_order(chosen: BTreeMap<ObjectRef, Value>) -> Vec<ObjectRef> {
        let mut remaining: Vec<(ObjectRef, Value)> = chosen.into_iter().collect();
        remaining.sort_by_key(|(r, _)| (!r.kind.is_source(), r.clone()));
        let mut out: Vec<ObjectRef> = Vec::new();
        while !remaining.is_empty() {
            let placed: BTreeSet<&ObjectRef> = out.iter().collect();
            let pending: BTreeSet<ObjectRef> = remaining.iter().map(|(r, _)| r.clone()).collect();
            let pos = remaining
                .iter()
                .position(|(r, v)| {
                    selector::depends_on(r.kind, v)
                        .iter()
                        .all(|d| placed.contains(d) || !pending.contains(d))
                })
                .unwrap_or(0);
            out.push(remaining.remove(pos).0);
        }
        out
    }

    fn ks(name: &str, deps: &[&str]) -> (ObjectRef, Value) {
        let deps: Vec<Value> = deps.iter().map(|d| json!({"name": d})).collect();
        (
            ObjectRef::new(FluxKind::Kustomization, "ns", name),
            json!({"metadata": {"name": name, "namespace": "ns"}, "spec": {"dependsOn": deps}}),
        )
    }

    #[test]
    fn order_puts_sources_first_then_dependencies_before_dependents() {
        let mut chosen: BTreeMap<ObjectRef, Value> = BTreeMap::new();
        for (r, v) in [ks("a", &["c"]), ks("b", &[]), ks("c", &["b", "elsewhere"])] {
            chosen.insert(r, v);
        }
        let src = ObjectRef::new(FluxKind::OciRepository, "ns", "z");
        chosen.insert(
            src.clone(),
            json!({"metadata": {"name": "z", "namespace": "ns"}}),
        );
        let names: Vec<String> = order(chosen).into_iter().map(|(r, _)| r.name).collect();
        assert_eq!(names, ["z", "b", "c", "a"]);
    }

    #[test]
    fn order_matches_the_reference_on_chains_cycles_and_self_dependencies() {
        // A small deterministic generator of dependency graphs.
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..200 {
            let count = 1 + next(12);
            let mut chosen = BTreeMap::new();
            for i in 0..count {
                let deps: Vec<String> = (0..next(4))
                    .map(|_| format!("k{}", next(count + 2)))
                    .collect();
                let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
                let (r, v) = ks(&format!("k{i}"), &deps);
                chosen.insert(r, v);
            }
            let fast: Vec<ObjectRef> = order(chosen.clone()).into_iter().map(|(r, _)| r).collect();
            assert_eq!(fast, reference_order(chosen));
        }
    }
}
