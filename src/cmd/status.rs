//! `status`: readiness of OCIRepositories, HelmRepositories, HelmCharts,
//! Kustomizations and HelmReleases as a table or a source → consumers →
//! inventory tree (HelmRepository → HelmChart → HelmRelease); `--watch` keeps it
//! live from watch events.

use futures::StreamExt;
use kube::runtime::watcher;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;

use super::{Session, targets, write_stdout};
use crate::cli::OutputFormat;
use crate::cli::status::StatusArgs;
use crate::cluster::objects::{FluxApi, to_value};
use crate::error::{ExitCode, Result};
use crate::flux::json::At as _;
use crate::flux::selector::{self, object_ref};
use crate::flux::verdict::condition;
use crate::flux::{FluxKind, ObjectRef};
use crate::render;

const KINDS: [FluxKind; 5] = [
    FluxKind::OciRepository,
    FluxKind::HelmRepository,
    FluxKind::HelmChart,
    FluxKind::Kustomization,
    FluxKind::HelmRelease,
];

/// One row of the status view.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusRow {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    pub namespace: String,
    pub kind: String,
    pub name: String,
    pub ready: String,
    pub reason: String,
    pub revision: String,
    pub suspended: bool,
    pub age: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

pub async fn run(session: &Session, args: StatusArgs) -> Result<ExitCode> {
    let selecting = !args.target.objects.is_empty() || args.target.artifact.is_some();
    if selecting {
        // Bad KIND/NAME or --artifact: say so before touching the kubeconfig.
        targets::validate(&args.target, "default")?;
    }
    let clusters = session.clusters().await?;
    let multi = clusters.len() > 1;
    let mut apis = Vec::new();
    let mut objects: BTreeMap<(usize, ObjectRef), Value> = BTreeMap::new();
    let mut selected: Vec<(usize, ObjectRef)> = Vec::new();
    for (i, cluster) in clusters.iter().enumerate() {
        let api = FluxApi::discover(cluster).await?;
        let scope = if args.target.all_namespaces {
            None
        } else {
            Some(cluster.namespace())
        };
        // The kinds are listed side by side: the time is the API server's,
        // so one round trip's worth instead of one per kind.
        let lists =
            futures::future::try_join_all(KINDS.iter().map(|&kind| api.list(kind, scope))).await?;
        for (kind, list) in KINDS.iter().zip(lists) {
            for obj in list {
                objects.insert((i, object_ref(*kind, &obj)), obj);
            }
        }
        if selecting {
            let sel = targets::select(&api, &args.target, cluster.namespace()).await?;
            selected.extend(sel.refs().into_iter().map(|r| (i, r)));
        }
        apis.push(api);
    }
    let names: Vec<String> = clusters.iter().map(|c| c.context.clone()).collect();
    let view = |objects: &BTreeMap<(usize, ObjectRef), Value>| -> Result<String> {
        let rows = rows_for(
            objects,
            if selecting { Some(&selected) } else { None },
            &names,
            multi,
        );
        Ok(match session.output {
            OutputFormat::Table if args.tree => tree(objects, &rows, multi),
            OutputFormat::Table => table(&rows, multi, session.color_stdout),
            format => render::document(&rows, format)?,
        })
    };

    if !args.watch {
        write_stdout(&view(&objects)?)?;
        return Ok(ExitCode::Success);
    }

    // --watch: redraw on every batch of events until interrupted.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, FluxKind, bool, Value)>();
    for (i, api) in apis.iter().enumerate() {
        let scope = if args.target.all_namespaces {
            None
        } else {
            Some(clusters[i].namespace().to_string())
        };
        for kind in KINDS {
            if !api.is_served(kind) {
                continue;
            }
            let dyn_api = api.api(kind, scope.as_deref())?;
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut stream = crate::cluster::watch::with_backoff(
                    watcher(dyn_api, watcher::Config::default()).boxed(),
                )
                .boxed();
                while let Some(ev) = stream.next().await {
                    let sent = match ev {
                        Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                            tx.send((i, kind, true, to_value(o)))
                        }
                        Ok(watcher::Event::Delete(o)) => tx.send((i, kind, false, to_value(o))),
                        _ => Ok(()),
                    };
                    if sent.is_err() {
                        return;
                    }
                }
            });
        }
    }
    drop(tx);
    let mut drawn = 0usize;
    loop {
        let text = view(&objects)?;
        if session.stdout_tty && drawn > 0 {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "\x1b[{drawn}F\x1b[J");
        }
        write_stdout(&text)?;
        drawn = text.lines().count();
        let Some(first) = rx.recv().await else { break };
        let mut batch = vec![first];
        while let Ok(m) = rx.try_recv() {
            batch.push(m);
        }
        for (i, kind, present, obj) in batch {
            let key = (i, object_ref(kind, &obj));
            if present {
                objects.insert(key, obj);
            } else {
                objects.remove(&key);
            }
        }
        if !session.stdout_tty {
            write_stdout("\n")?;
        }
    }
    Ok(ExitCode::Success)
}

fn rows_for(
    objects: &BTreeMap<(usize, ObjectRef), Value>,
    only: Option<&Vec<(usize, ObjectRef)>>,
    clusters: &[String],
    multi: bool,
) -> Vec<StatusRow> {
    let now = jiff::Timestamp::now();
    let mut rows: Vec<StatusRow> = objects
        .iter()
        .filter(|(k, _)| only.is_none_or(|o| o.contains(k)))
        .map(|((i, r), obj)| {
            let ready = condition(obj, "Ready");
            // SC-HELMREPO: an OCI HelmRepository has no status of its own.
            let static_repo = r.kind == FluxKind::HelmRepository
                && obj.at("/spec/type").and_then(Value::as_str) == Some("oci");
            let revision = match r.kind {
                FluxKind::Kustomization => obj.at("/status/lastAppliedRevision"),
                FluxKind::HelmRelease => obj.at("/status/lastAttemptedRevision"),
                _ => obj.at("/status/artifact/revision"),
            }
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
            let age = obj
                .at("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .map(|t| age(now.duration_since(t).as_secs()))
                .unwrap_or_default();
            StatusRow {
                cluster: if multi {
                    clusters[*i].clone()
                } else {
                    String::new()
                },
                namespace: r.namespace.clone(),
                kind: r.kind.kind().to_string(),
                name: r.name.clone(),
                ready: if static_repo {
                    "-".to_string()
                } else {
                    ready.as_ref().map_or("Unknown", |c| c.status).to_string()
                },
                reason: if static_repo {
                    "Static".to_string()
                } else {
                    ready.as_ref().map_or("", |c| c.reason).to_string()
                },
                revision: if static_repo {
                    obj.at("/spec/url")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                } else {
                    revision
                },
                suspended: obj.at("/spec/suspend").and_then(Value::as_bool) == Some(true),
                age,
                message: ready.as_ref().map_or("", |c| c.message).to_string(),
                source: selector::source_of(r.kind, obj)
                    .or_else(|| {
                        (r.kind == FluxKind::HelmChart)
                            .then(|| selector::helmrepository_of(obj))
                            .flatten()
                    })
                    .map(|s| format!("{}/{}/{}", s.kind, s.namespace, s.name)),
            }
        })
        .collect();
    rows.sort_by_key(|r| {
        (
            r.cluster.clone(),
            r.namespace.clone(),
            kind_order(&r.kind),
            r.name.clone(),
        )
    });
    rows
}

fn kind_order(kind: &str) -> u8 {
    match kind {
        "OCIRepository" => 0,
        "HelmRepository" => 1,
        "HelmChart" => 2,
        "Kustomization" => 3,
        _ => 4,
    }
}

/// kubectl-style age: 45s, 12m, 3h, 5d.
pub fn age(secs: i64) -> String {
    match secs.max(0) {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn table(rows: &[StatusRow], multi: bool, color: bool) -> String {
    use owo_colors::OwoColorize;
    let mut header = Vec::new();
    if multi {
        header.push("CLUSTER");
    }
    header.extend([
        "NAMESPACE",
        "KIND/NAME",
        "READY",
        "REASON",
        "REVISION",
        "SUSPENDED",
        "AGE",
        "MESSAGE",
    ]);
    let body = rows
        .iter()
        .map(|r| {
            let mut row = Vec::new();
            if multi {
                row.push(r.cluster.clone());
            }
            let ready = match (color, r.ready.as_str()) {
                (true, "True") => r.ready.green().to_string(),
                (true, "False") => r.ready.red().to_string(),
                (true, _) => r.ready.yellow().to_string(),
                _ => r.ready.clone(),
            };
            row.extend([
                r.namespace.clone(),
                format!("{}/{}", r.kind, r.name),
                ready,
                r.reason.clone(),
                crate::render::wait::short_revision(&r.revision),
                r.suspended.to_string(),
                r.age.clone(),
                r.message
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .chars()
                    .take(100)
                    .collect(),
            ]);
            row
        })
        .collect();
    if rows.is_empty() {
        return "No Flux objects found.\n".into();
    }
    render::table(&header, body)
}

/// Sources, their consumers, and the Flux objects in consumers' inventories.
fn tree(objects: &BTreeMap<(usize, ObjectRef), Value>, rows: &[StatusRow], multi: bool) -> String {
    let label = |r: &StatusRow| {
        let mark = match (r.suspended, r.ready.as_str()) {
            (true, _) => "⏸",
            (_, "True") => "✔",
            (_, "False") => "✖",
            (_, "-") => "○",
            _ => "…",
        };
        let cluster = if multi {
            format!("[{}] ", r.cluster)
        } else {
            String::new()
        };
        format!(
            "{cluster}{mark} {}/{}/{} {} {}",
            r.kind,
            r.namespace,
            r.name,
            crate::render::wait::short_revision(&r.revision),
            r.reason
        )
    };
    let find = |kind: &str, ns: &str, name: &str| {
        rows.iter()
            .find(|r| r.kind == kind && r.namespace == ns && r.name == name)
    };
    let mut out = String::new();
    let mut shown: Vec<String> = Vec::new();
    for src in rows
        .iter()
        .filter(|r| r.kind == "OCIRepository" || r.kind == "HelmRepository")
    {
        out.push_str(&label(src));
        out.push('\n');
        let key = format!("{}/{}/{}", src.kind, src.namespace, src.name);
        shown.push(key.clone());
        let consumers: Vec<&StatusRow> = rows
            .iter()
            .filter(|r| r.source.as_deref() == Some(key.as_str()))
            .collect();
        for (ci, c) in consumers.iter().enumerate() {
            let last = ci + 1 == consumers.len();
            out.push_str(&format!(
                "{} {}\n",
                if last { "└──" } else { "├──" },
                label(c)
            ));
            shown.push(format!("{}/{}/{}", c.kind, c.namespace, c.name));
            let obj = objects
                .iter()
                .find(|((_, r), _)| {
                    r.kind.kind() == c.kind && r.namespace == c.namespace && r.name == c.name
                })
                .map(|(_, v)| v);
            // HelmRepository → HelmChart → HelmRelease; a Kustomization's inventory.
            let chart_key = format!("{}/{}/{}", c.kind, c.namespace, c.name);
            let releases: Vec<&StatusRow> = rows
                .iter()
                .filter(|r| {
                    c.kind == "HelmChart" && r.source.as_deref() == Some(chart_key.as_str())
                })
                .collect();
            let children: Vec<&StatusRow> = obj
                .filter(|_| releases.is_empty())
                .and_then(|o| o.at("/status/inventory/entries"))
                .and_then(Value::as_array)
                .map(|entries| {
                    entries
                        .iter()
                        .filter_map(|e| e.get("id").and_then(Value::as_str))
                        .filter_map(|id| {
                            let (ns, name, _, kind) = selector::parse_inventory_id(id)?;
                            find(kind, ns, name)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let children = if releases.is_empty() {
                children
            } else {
                releases
            };
            for (gi, g) in children.iter().enumerate() {
                let branch = if last { "    " } else { "│   " };
                let tip = if gi + 1 == children.len() {
                    "└──"
                } else {
                    "├──"
                };
                out.push_str(&format!("{branch}{tip} {}\n", label(g)));
                shown.push(format!("{}/{}/{}", g.kind, g.namespace, g.name));
            }
        }
    }
    for r in rows {
        if !shown.contains(&format!("{}/{}/{}", r.kind, r.namespace, r.name)) {
            out.push_str(&label(r));
            out.push('\n');
        }
    }
    if out.is_empty() {
        out.push_str("No Flux objects found.\n");
    }
    out
}
