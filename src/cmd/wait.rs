//! `wait`: block until the selected objects applied exactly the target
//! revision and are Ready — watching, never polling — and fail fast with
//! the reason and the object's events.
//!
//! One watcher per (cluster, kind, namespace scope) feeds a single loop
//! that keeps the latest copy of every object and re-evaluates the
//! verdicts (`flux::verdict`) after each event. Targets grow while waiting:
//! the sources of selected consumers, and the Flux objects (and with
//! `--health`, workloads) listed in a Kustomization's inventory once it
//! applied the target revision.

use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, WatchEvent, WatchParams};
use kube::core::GroupVersionKind;
use kube::runtime::watcher;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

use super::{Session, targets, write_stdout};
use crate::cli::wait::{WaitArgs, WaitFlags};
use crate::cli::{OutputFormat, TargetArgs};
use crate::cluster::objects::{FluxApi, to_value};
use crate::cluster::{ApiError, Cluster};
use crate::config;
use crate::error::{Error, ExitCode, Result};
use crate::flux::json::At as _;
use crate::flux::selector::{self, ArtifactSelector};
use crate::flux::verdict::{self, Expectation, Phase, Verdict};
use crate::flux::{FluxKind, ObjectRef};
use crate::render::wait as view;

/// One watch: (cluster, kind, namespace or None for all).
type WatchScope = (usize, TKind, Option<String>);

/// A kind we may follow: a Flux kind or a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TKind {
    Flux(FluxKind),
    Workload(&'static str),
}

impl TKind {
    pub fn name(self) -> &'static str {
        match self {
            TKind::Flux(k) => k.kind(),
            TKind::Workload(k) => k,
        }
    }

    fn from_inventory(group: &str, kind: &str) -> Option<TKind> {
        if let Some(k) = FluxKind::from_kind(kind).filter(|k| k.info().group == group) {
            return Some(TKind::Flux(k));
        }
        match (group, kind) {
            ("apps", "Deployment") => Some(TKind::Workload("Deployment")),
            ("apps", "StatefulSet") => Some(TKind::Workload("StatefulSet")),
            ("apps", "DaemonSet") => Some(TKind::Workload("DaemonSet")),
            ("batch", "Job") => Some(TKind::Workload("Job")),
            _ => None,
        }
    }

    fn workload_resource(kind: &str) -> ApiResource {
        let (group, plural) = match kind {
            "Deployment" => ("apps", "deployments"),
            "StatefulSet" => ("apps", "statefulsets"),
            "DaemonSet" => ("apps", "daemonsets"),
            _ => ("batch", "jobs"),
        };
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, "v1", kind), plural)
    }
}

/// Why an object is followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Selected,
    SourceOf(String),
    Inventory(String),
}

/// One followed object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub cluster: usize,
    pub kind: TKind,
    pub namespace: String,
    pub name: String,
}

impl Key {
    fn flux(cluster: usize, r: &ObjectRef) -> Key {
        Key {
            cluster,
            kind: TKind::Flux(r.kind),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
        }
    }
    fn label(&self) -> String {
        format!("{}/{}/{}", self.kind.name(), self.namespace, self.name)
    }
}

/// What the loop knows of one target.
#[derive(Debug, Clone)]
pub struct Tracked {
    pub origin: Origin,
    pub verdict: Verdict,
    pub since: Instant,
    pub settled: Option<Duration>,
    pub events: Vec<String>,
}

enum Msg {
    Apply(usize, TKind, Value),
    /// A watch's initial list, in one message: thousands of objects are
    /// taken in and judged once, not one evaluation per object.
    ApplyAll(usize, TKind, Option<String>, Vec<Value>),
    Delete(usize, TKind, Value),
    Fatal(ApiError),
}

/// Settings shared by `wait` and `push --wait`.
pub struct WaitPlan {
    pub target: TargetArgs,
    pub digest_override: Option<String>,
    pub token: Option<String>,
    pub timeout: Duration,
    pub flags: WaitFlags,
    /// With `-o json|yaml` under `push`/`tag --wait`: the document the wait
    /// report joins (as `wait`), so one document is printed.
    pub document: Option<serde_json::Map<String, Value>>,
}

pub async fn run(session: &Session, args: WaitArgs) -> Result<ExitCode> {
    let timeout = config::parse_timeout("--timeout", &args.timeout)?;
    if let Some(junit) = &args.flags.junit {
        crate::render::check_output_path("--junit", junit)?;
    }
    let plan = WaitPlan {
        target: args.target,
        digest_override: None,
        token: args.since_token,
        timeout,
        flags: args.flags,
        document: None,
    };
    run_plan(session, plan).await
}

/// Run a wait; prints progress, the final report, and returns the exit code.
pub async fn run_plan(session: &Session, mut plan: WaitPlan) -> Result<ExitCode> {
    let namespace_hint = session.global.namespace.clone().unwrap_or_default();
    targets::validate(
        &plan.target,
        if namespace_hint.is_empty() {
            "default"
        } else {
            &namespace_hint
        },
    )?;
    let started = Instant::now();
    let started_at = jiff::Timestamp::now();
    // --timeout bounds the whole wait, the first requests included: a
    // server that accepts the connection and never answers is a timeout
    // (exit 3) at the deadline, not an error after a request's own limit.
    let deadline = tokio::time::Instant::now() + plan.timeout;
    let timeout = plan.timeout;
    let clusters = session.clusters().await?;
    let multi = clusters.len() > 1;
    let mut discovered = Vec::new();
    for cluster in &clusters {
        discovered.push(
            by_deadline(
                deadline,
                timeout,
                "discovering the Flux kinds",
                FluxApi::discover(cluster),
            )
            .await?,
        );
    }
    // A tag alone is resolved to its digest now (once the clusters are
    // known to serve Flux): the wait is then exact even when Flux still
    // holds what the tag pointed at before.
    if let Some(a) = &plan.target.artifact {
        plan.target.artifact = Some(
            by_deadline(
                deadline,
                timeout,
                "resolving the tag",
                super::resolve::pin(a),
            )
            .await?,
        );
    }

    let mut apis = Vec::new();
    let mut cache: HashMap<Key, Value> = HashMap::new();
    // The (cluster, kind)s whose list the wait has seen: an object missing
    // from one of them is not found; from another, just not listed yet.
    let mut listed: HashSet<WatchScope> = HashSet::new();
    let mut tracked: BTreeMap<Key, Tracked> = BTreeMap::new();
    let mut artifact: Option<ArtifactSelector> = None;
    let mut artifact_sources: HashSet<Key> = HashSet::new();
    // Watches that continue from the selection's lists instead of listing
    // the same objects again (thousands with -A).
    let mut resume: HashMap<WatchScope, String> = HashMap::new();
    for (i, (cluster, api)) in clusters.iter().zip(discovered).enumerate() {
        let selection = by_deadline(
            deadline,
            timeout,
            "listing the selection",
            targets::select(&api, &plan.target, cluster.namespace()),
        )
        .await?;
        // A HelmRelease picked by its `spec.chart` template follows the
        // HelmChart helm-controller makes of it (HC-CHARTTEMPLATE).
        for r in &selection.pending_charts {
            artifact_sources.insert(Key::flux(i, r));
        }
        for (r, obj) in selection.objects {
            let key = Key::flux(i, &r);
            if selection.artifact.is_some()
                && matches!(r.kind, FluxKind::OciRepository | FluxKind::HelmChart)
            {
                artifact_sources.insert(key.clone());
            }
            tracked.insert(key.clone(), new_tracked(Origin::Selected, started));
            if let Some(src) = selector::source_of(r.kind, &obj) {
                tracked
                    .entry(Key::flux(i, &src))
                    .or_insert_with(|| new_tracked(Origin::SourceOf(key.label()), started));
            }
            cache.insert(key, obj);
        }
        // With the selected objects above, what a watch's own initial list
        // would have brought: every object of the kind in that scope, as of
        // the list's resourceVersion.
        for list in selection.lists {
            let kind = TKind::Flux(list.kind);
            listed.insert((i, kind, list.scope.clone()));
            for obj in list.objects {
                cache.insert(key_of(i, kind, &obj), obj);
            }
            if let Some(version) = list.version {
                resume.insert((i, kind, list.scope), version);
            }
        }
        artifact = artifact.or(selection.artifact);
        apis.push(api);
    }
    let digest = plan
        .digest_override
        .clone()
        .or_else(|| artifact.as_ref().and_then(|a| a.digest.clone()));
    // The chart version a HelmChart holds for the artifact: its tag as
    // Helm's registry client reads it (SC-HELMCHART).
    let chart_version = artifact
        .as_ref()
        .and_then(|a| a.tag.as_deref())
        .and_then(selector::helm_chart_version);
    // SC-HELMCHART: which chart bytes the HelmCharts must hold. Without the
    // registry the version alone is checked, and the wait says so.
    let chart_layer = if artifact_sources
        .iter()
        .any(|k| k.kind == TKind::Flux(FluxKind::HelmChart))
        && let Some(a) = &artifact
    {
        match super::resolve::chart_layer_digest(&a.url()).await {
            Ok(layer) => layer,
            Err(e) => {
                tracing::warn!(
                    "cannot read the chart from the registry ({}); the HelmCharts are checked by version only",
                    e.message()
                );
                None
            }
        }
    } else {
        None
    };
    let base = Expectation {
        digest: digest.clone(),
        target_revision: None,
        token: plan.token.clone(),
        started_at: Some(started_at),
        source_since: None,
    };

    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let mut watching: HashSet<WatchScope> = HashSet::new();
    let mut printer = view::Progress::new(
        session,
        multi,
        clusters.iter().map(|c| c.context.clone()).collect(),
    );
    let mut ticker = tokio::time::interval(Duration::from_millis(if session.stderr_tty {
        250
    } else {
        60_000
    }));

    // The first verdicts come from the selection's lists, before any watch
    // event: what is already done needs no event to be judged.
    let mut judge_now = true;
    let outcome = loop {
        ensure_watches(
            &apis,
            &tracked,
            &cache,
            &plan.target,
            &mut watching,
            &mut resume,
            &tx,
        );
        if !std::mem::take(&mut judge_now) {
            tokio::select! {
            msg = rx.recv() => {
                let Some(msg) = msg else { break Outcome::Timeout };
                let mut batch = vec![msg];
                while let Ok(m) = rx.try_recv() { batch.push(m); }
                for m in batch {
                    match m {
                        Msg::Apply(c, kind, obj) => { cache.insert(key_of(c, kind, &obj), obj); }
                        Msg::ApplyAll(c, kind, scope, objs) => {
                            listed.insert((c, kind, scope));
                            for obj in objs { cache.insert(key_of(c, kind, &obj), obj); }
                        }
                        Msg::Delete(c, kind, obj) => { cache.remove(&key_of(c, kind, &obj)); }
                        Msg::Fatal(e) => return Err(e.into()),
                    }
                }
            }
            _ = tokio::time::sleep_until(deadline) => break Outcome::Timeout,
            _ = ticker.tick() => { printer.tick(&tracked, started); continue; }
            }
        }
        evaluate_all(
            &mut tracked,
            (&cache, &listed),
            (&base, chart_version.as_deref(), chart_layer.as_deref()),
            &artifact_sources,
            &plan.flags,
            started,
        );
        printer.update(&tracked, started);
        let failed = tracked.values().any(|t| t.verdict.phase == Phase::Failed)
            || (!plan.flags.ignore_suspended
                && tracked
                    .values()
                    .any(|t| t.verdict.phase == Phase::Suspended));
        if failed && !plan.flags.no_fail_fast {
            break Outcome::Failed;
        }
        let all_done = tracked.values().all(|t| {
            t.verdict.phase == Phase::Ready
                || (plan.flags.ignore_suspended && t.verdict.phase == Phase::Suspended)
        });
        if all_done {
            break Outcome::Ready;
        }
    };
    // The verdicts are in; the objects are not needed for the report: free
    // them before it is built, so the two never hold memory at once.
    drop(cache);

    if outcome == Outcome::Failed {
        for (key, t) in tracked.iter_mut() {
            if matches!(t.verdict.phase, Phase::Failed | Phase::Suspended) {
                t.events = recent_events(&clusters[key.cluster], key).await;
            }
        }
    }
    printer.finish(&tracked, started, outcome.as_str());

    let report = view::WaitReport::new(
        outcome.as_str(),
        started.elapsed(),
        artifact.as_ref().map(|a| a.url()),
        digest,
        plan.token.clone(),
        clusters.iter().map(|c| c.context.clone()).collect(),
        &tracked,
    );
    if let Some(path) = &plan.flags.junit {
        view::write_junit(path, &report)?;
    }
    let text = match (session.output, plan.document.take()) {
        (OutputFormat::Table, _) => view::final_table(&report, multi, session.color_stdout),
        (format, Some(mut document)) => {
            let wait = serde_json::to_value(&report).map_err(|e| {
                Error::other(
                    ExitCode::Failure,
                    format!("cannot encode the report: {e}"),
                    None,
                )
            })?;
            document.insert("wait".into(), wait);
            crate::render::document(&document, format)?
        }
        (format, None) => crate::render::document(&report, format)?,
    };
    write_stdout(&text)?;
    match outcome {
        Outcome::Ready => Ok(ExitCode::Success),
        Outcome::Failed => Err(Error::other(
            ExitCode::Failure,
            view::failure_summary(&report),
            Some("read the message and events above; fix and push again, or `kubectl gitlab-flux status --tree` for the whole picture".into()),
        )),
        Outcome::Timeout => Err(Error::other(
            ExitCode::Timeout,
            format!("timed out after {} waiting for {}", humantime::format_duration(plan.timeout), view::pending_summary(&report)),
            Some("raise --timeout, or check the pending objects with `kubectl gitlab-flux status`".into()),
        )),
    }
}

/// `work` within the wait's deadline, or the wait's timeout (exit 3).
async fn by_deadline<T, E: Into<Error>>(
    deadline: tokio::time::Instant,
    timeout: Duration,
    what: &str,
    work: impl std::future::Future<Output = std::result::Result<T, E>>,
) -> Result<T> {
    match tokio::time::timeout_at(deadline, work).await {
        Ok(r) => r.map_err(Into::into),
        Err(_) => Err(Error::other(
            ExitCode::Timeout,
            format!(
                "timed out after {} while {what}: the API server did not answer",
                humantime::format_duration(timeout)
            ),
            Some(
                "check that the API server answers (kubectl get --raw /readyz), or raise --timeout"
                    .into(),
            ),
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ready,
    Failed,
    Timeout,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ready => "ready",
            Outcome::Failed => "failed",
            Outcome::Timeout => "timeout",
        }
    }
}

fn new_tracked(origin: Origin, now: Instant) -> Tracked {
    Tracked {
        origin,
        verdict: Verdict {
            phase: Phase::Pending,
            reason: "Waiting".into(),
            message: "waiting for the first watch event".into(),
            revision: None,
        },
        since: now,
        settled: None,
        events: Vec::new(),
    }
}

fn key_of(cluster: usize, kind: TKind, obj: &Value) -> Key {
    Key {
        cluster,
        kind,
        namespace: obj
            .at("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        name: obj
            .at("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    }
}

/// Start a watcher for every (cluster, kind, scope) a target needs, and for
/// the `dependsOn` of targets (to name the culprit of a DependencyNotReady,
/// wherever it lives).
fn ensure_watches(
    apis: &[FluxApi],
    tracked: &BTreeMap<Key, Tracked>,
    cache: &HashMap<Key, Value>,
    target: &TargetArgs,
    watching: &mut HashSet<WatchScope>,
    resume: &mut HashMap<WatchScope, String>,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    let deps: Vec<Key> = tracked
        .keys()
        .filter_map(|k| match k.kind {
            TKind::Flux(kind) => cache
                .get(k)
                .map(|obj| (k.cluster, selector::depends_on(kind, obj))),
            TKind::Workload(_) => None,
        })
        .flat_map(|(c, refs)| refs.into_iter().map(move |r| Key::flux(c, &r)))
        .collect();
    let scope_of = |k: &Key| {
        (
            k.cluster,
            k.kind,
            if target.all_namespaces {
                None
            } else {
                Some(k.namespace.clone())
            },
        )
    };
    let required: BTreeSet<(usize, TKind, Option<String>)> = tracked.keys().map(scope_of).collect();
    let wanted: BTreeSet<(usize, TKind, Option<String>)> =
        tracked.keys().chain(deps.iter()).map(scope_of).collect();
    for (c, kind, scope) in wanted {
        // A dependency we may not read only costs the culprit's name.
        let optional = !required.contains(&(c, kind, scope.clone()));
        if watching.contains(&(c, kind, None)) || !watching.insert((c, kind, scope.clone())) {
            continue;
        }
        let api = &apis[c];
        let resource = match kind {
            TKind::Flux(k) => match api.resource(k) {
                Ok(r) => r.clone(),
                Err(e) => {
                    let _ = tx.send(Msg::Fatal(e));
                    continue;
                }
            },
            TKind::Workload(k) => TKind::workload_resource(k),
        };
        let client = api.cluster.client.clone();
        let dyn_api: Api<DynamicObject> = match &scope {
            Some(ns) => Api::namespaced_with(client, ns, &resource),
            None => Api::all_with(client, &resource),
        };
        let cluster = api.cluster.clone();
        let tx = tx.clone();
        let from = resume.remove(&(c, kind, scope.clone()));
        tokio::spawn(async move {
            if let Some(version) = from
                && !follow_from(&dyn_api, (c, kind), &version, &tx).await
            {
                return;
            }
            watch_loop(cluster, (c, kind), resource, dyn_api, scope, optional, tx).await;
        });
    }
}

/// Follow the changes after a list the selection already made (its
/// `resourceVersion`), so its objects are not listed a second time. Any end
/// of this watch — 410 Gone, a dropped connection, the server's timeout, an
/// error starting it — hands over to [`watch_loop`], whose watcher lists
/// again and resumes through everything. Returns false when nobody listens
/// any more.
async fn follow_from(
    api: &Api<DynamicObject>,
    (c, kind): (usize, TKind),
    version: &str,
    tx: &mpsc::UnboundedSender<Msg>,
) -> bool {
    let params = WatchParams::default();
    let mut stream = match api.watch(&params, version).await {
        Ok(s) => s.boxed(),
        Err(err) => {
            tracing::debug!(kind = kind.name(), error = %err, "cannot continue from the selection's list");
            return true;
        }
    };
    while let Some(event) = stream.next().await {
        let msg = match event {
            Ok(WatchEvent::Added(o) | WatchEvent::Modified(o)) => Msg::Apply(c, kind, to_value(o)),
            Ok(WatchEvent::Deleted(o)) => Msg::Delete(c, kind, to_value(o)),
            Ok(WatchEvent::Bookmark(_)) => continue,
            Ok(WatchEvent::Error(status)) => {
                tracing::debug!(
                    kind = kind.name(),
                    code = status.code,
                    "watch ended; listing again"
                );
                return true;
            }
            Err(err) => {
                tracing::debug!(kind = kind.name(), error = %err, "watch interrupted; listing again");
                return true;
            }
        };
        if tx.send(msg).is_err() {
            return false;
        }
    }
    true
}

async fn watch_loop(
    cluster: Cluster,
    (c, kind): (usize, TKind),
    resource: ApiResource,
    api: Api<DynamicObject>,
    scope: Option<String>,
    optional: bool,
    tx: mpsc::UnboundedSender<Msg>,
) {
    let mut stream =
        crate::cluster::watch::with_backoff(watcher(api, watcher::Config::default()).boxed())
            .boxed();
    // The objects of a (re-)list, sent together once the list is complete.
    let mut initial: Vec<Value> = Vec::new();
    while let Some(item) = stream.next().await {
        let msg = match item {
            Ok(watcher::Event::Init) => {
                initial.clear();
                continue;
            }
            Ok(watcher::Event::InitApply(o)) => {
                initial.push(to_value(o));
                continue;
            }
            Ok(watcher::Event::InitDone) => {
                Msg::ApplyAll(c, kind, scope.clone(), std::mem::take(&mut initial))
            }
            Ok(watcher::Event::Apply(o)) => Msg::Apply(c, kind, to_value(o)),
            Ok(watcher::Event::Delete(o)) => Msg::Delete(c, kind, to_value(o)),
            Err(err) => {
                // Forbidden and unknown resources will not heal: stop. The
                // rest (dropped connections, 410 Gone, restarts) the
                // watcher's backoff re-lists through.
                let api_err = match &err {
                    watcher::Error::InitialListFailed(kube::Error::Api(s))
                    | watcher::Error::WatchStartFailed(kube::Error::Api(s))
                        if s.code == 403 || s.code == 401 =>
                    {
                        let (verb, kube_err) = match err {
                            watcher::Error::InitialListFailed(e) => ("list", e),
                            watcher::Error::WatchStartFailed(e) => ("watch", e),
                            _ => continue,
                        };
                        Some(ApiError::from_kube(
                            &cluster,
                            verb,
                            &resource.plural,
                            scope.as_deref(),
                            kube_err,
                        ))
                    }
                    _ => {
                        tracing::debug!(kind = kind.name(), error = %err, "watch interrupted; resuming");
                        None
                    }
                };
                match api_err {
                    Some(_) if optional => return,
                    Some(e) => Msg::Fatal(e),
                    None => continue,
                }
            }
        };
        let fatal = matches!(msg, Msg::Fatal(_));
        if tx.send(msg).is_err() || fatal {
            return;
        }
    }
}

fn evaluate_all(
    tracked: &mut BTreeMap<Key, Tracked>,
    (cache, listed): (&HashMap<Key, Value>, &HashSet<WatchScope>),
    base: (&Expectation, Option<&str>, Option<&str>),
    artifact_sources: &HashSet<Key>,
    flags: &WaitFlags,
    started: Instant,
) {
    // New targets found in inventories are added and evaluated in further rounds.
    for _round in 0..8 {
        let mut added: Vec<(Key, Tracked)> = Vec::new();
        let keys: Vec<Key> = tracked.keys().cloned().collect();
        for key in keys {
            let origin = tracked[&key].origin.clone();
            let verdict = match cache.get(&key) {
                None if listed.contains(&(key.cluster, key.kind, None))
                    || listed.contains(&(key.cluster, key.kind, Some(key.namespace.clone()))) =>
                {
                    Verdict {
                        phase: Phase::Pending,
                        reason: "NotFound".into(),
                        message: "not found (yet)".into(),
                        revision: None,
                    }
                }
                None => tracked[&key].verdict.clone(),
                Some(obj) => {
                    verdict_for(&key, obj, &origin, cache, base, artifact_sources, tracked)
                }
            };
            let t = tracked.get_mut(&key).expect("key from map");
            if t.verdict.phase != verdict.phase && verdict.phase.is_final() {
                t.settled = Some(started.elapsed());
            }
            if !verdict.phase.is_final() {
                t.settled = None;
            }
            t.verdict = verdict;
            // Follow the inventory of a Kustomization that applied the target.
            if t.verdict.phase == Phase::Ready
                && key.kind == TKind::Flux(FluxKind::Kustomization)
                && !flags.no_inventory
                && let Some(obj) = cache.get(&key)
            {
                for child in inventory(key.cluster, obj, flags.health) {
                    if !tracked.contains_key(&child) && !added.iter().any(|(k, _)| *k == child) {
                        added.push((
                            child,
                            new_tracked(Origin::Inventory(key.label()), Instant::now()),
                        ));
                    }
                }
            }
        }
        if added.is_empty() {
            return;
        }
        tracked.extend(added);
    }
}

fn verdict_for(
    key: &Key,
    obj: &Value,
    origin: &Origin,
    cache: &HashMap<Key, Value>,
    (base, chart_version, chart_layer): (&Expectation, Option<&str>, Option<&str>),
    artifact_sources: &HashSet<Key>,
    tracked: &BTreeMap<Key, Tracked>,
) -> Verdict {
    let kind = match key.kind {
        TKind::Workload(k) => return verdict::evaluate_workload(k, obj),
        TKind::Flux(k) => k,
    };
    let exp = Expectation {
        digest: None,
        target_revision: None,
        token: if matches!(origin, Origin::Inventory(_)) {
            None
        } else {
            base.token.clone()
        },
        started_at: base.started_at,
        source_since: None,
    };
    let awaited = verdict::Awaited {
        digest: base.digest.as_deref(),
        chart_version,
        is_awaited_source: artifact_sources.contains(key),
        chart_layer,
    };
    let src = selector::source_of(kind, obj);
    let source = src.as_ref().map(|r| {
        let src_key = Key::flux(key.cluster, r);
        verdict::Source {
            r,
            obj: cache.get(&src_key),
            awaited: artifact_sources.contains(&src_key),
            followed: tracked.contains_key(&src_key),
        }
    });
    let v = verdict::followed(kind, obj, exp, awaited, source);
    verdict::with_dependencies(kind, obj, v, |dep| {
        let dep_key = Key::flux(key.cluster, dep);
        match tracked.get(&dep_key) {
            Some(t) if t.verdict.phase == Phase::Failed => {
                verdict::Dependency::Failed(&t.verdict.reason, &t.verdict.message)
            }
            Some(_) => verdict::Dependency::Fine,
            None => verdict::Dependency::Unfollowed(cache.get(&dep_key)),
        }
    })
}

/// Followable entries of a Kustomization's `status.inventory`.
fn inventory(cluster: usize, obj: &Value, health: bool) -> Vec<Key> {
    let Some(entries) = obj
        .at("/status/inventory/entries")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|e| e.get("id").and_then(Value::as_str))
        .filter_map(|id| {
            let (ns, name, group, kind) = selector::parse_inventory_id(id)?;
            let tkind = TKind::from_inventory(group, kind)?;
            if matches!(tkind, TKind::Workload(_)) && !health {
                return None;
            }
            if ns.is_empty() {
                return None;
            }
            Some(Key {
                cluster,
                kind: tkind,
                namespace: ns.to_string(),
                name: name.to_string(),
            })
        })
        .collect()
}

/// The last few Kubernetes Events of an object, oldest first.
async fn recent_events(cluster: &Cluster, key: &Key) -> Vec<String> {
    let api: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(cluster.client.clone(), &key.namespace);
    let params = ListParams::default();
    let list = match tokio::time::timeout(Duration::from_secs(5), api.list(&params)).await {
        Ok(Ok(list)) => list.items,
        _ => return Vec::new(),
    };
    let mut events: Vec<(String, String)> = list
        .into_iter()
        .filter(|e| {
            e.involved_object.kind.as_deref() == Some(key.kind.name())
                && e.involved_object.name.as_deref() == Some(key.name.as_str())
        })
        .map(|e| {
            let when = e
                .last_timestamp
                .as_ref()
                .map(|t| t.0.to_string())
                .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
                .unwrap_or_default();
            let line = format!(
                "{} {} {}: {}",
                when,
                e.type_.unwrap_or_default(),
                e.reason.unwrap_or_default(),
                e.message.unwrap_or_default().trim()
            );
            (when, line)
        })
        .collect();
    events.sort();
    events
        .into_iter()
        .rev()
        .take(5)
        .rev()
        .map(|(_, l)| l)
        .collect()
}
