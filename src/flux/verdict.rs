//! The verdict: what "done", "failed for good", "still retrying" and
//! "stale" mean for each kind, as the Flux controllers' source decides
//! them (docs/flux-semantics.md; each rule names its row). Pure functions
//! from status snapshots and what we expect of them to a [`Verdict`]; the
//! only deadline is the caller's.

use serde::Serialize;
use serde_json::Value;

use super::kinds::{FluxKind, ObjectRef};
use super::selector::{self, revision_digest};
use crate::flux::json::At as _;

/// Where an object stands relative to what we wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Not yet at the target (e.g. Ready at an older revision, request not handled).
    Pending,
    /// The controller is working on it.
    Progressing,
    /// Applied the target and healthy.
    Ready,
    /// Failed at the target revision / request.
    Failed,
    /// `spec.suspend: true`.
    Suspended,
}

impl Phase {
    pub fn is_final(self) -> bool {
        matches!(self, Phase::Ready | Phase::Failed | Phase::Suspended)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "pending",
            Phase::Progressing => "progressing",
            Phase::Ready => "ready",
            Phase::Failed => "failed",
            Phase::Suspended => "suspended",
        }
    }
}

/// The evaluation of one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub phase: Phase,
    /// The Ready condition's reason (or ours, e.g. `StaleRevision`).
    pub reason: String,
    /// The Ready condition's message, or what we still wait for.
    pub message: String,
    /// The revision the object is at (applied / artifact / chart revision).
    pub revision: Option<String>,
}

impl Verdict {
    fn new(
        phase: Phase,
        reason: &str,
        message: impl Into<String>,
        revision: Option<String>,
    ) -> Self {
        Verdict {
            phase,
            reason: reason.to_string(),
            message: message.into(),
            revision,
        }
    }
}

/// What we demand of an object.
#[derive(Debug, Clone, Default)]
pub struct Expectation {
    /// The artifact's manifest digest (`sha256:…`), when known.
    pub digest: Option<String>,
    /// For consumers: the revision their source holds and must be applied
    /// (`<tag>@sha256:…`). `None`: no specific revision is demanded.
    pub target_revision: Option<String>,
    /// A reconcile request token that must have been handled.
    pub token: Option<String>,
    /// When the wait started (RFC 3339); a failure that happened later is
    /// fresh even without a token or revision to tie it to us.
    pub started_at: Option<jiff::Timestamp>,
    /// For consumers: since when their source holds the target revision
    /// (its `status.artifact.lastUpdateTime`); a failure condition that
    /// changed since then is about the target (SC-READY, PKG-LTT).
    pub source_since: Option<jiff::Timestamp>,
}

/// A status condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition<'a> {
    pub status: &'a str,
    pub reason: &'a str,
    pub message: &'a str,
    pub observed_generation: Option<i64>,
    pub last_transition: Option<&'a str>,
}

/// Find a condition by type.
pub fn condition<'a>(obj: &'a Value, type_: &str) -> Option<Condition<'a>> {
    obj.at("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
        .map(|c| Condition {
            status: c.get("status").and_then(Value::as_str).unwrap_or("Unknown"),
            reason: c.get("reason").and_then(Value::as_str).unwrap_or_default(),
            message: c.get("message").and_then(Value::as_str).unwrap_or_default(),
            observed_generation: c.get("observedGeneration").and_then(Value::as_i64),
            last_transition: c.get("lastTransitionTime").and_then(Value::as_str),
        })
}

fn str_at<'a>(obj: &'a Value, pointer: &str) -> Option<&'a str> {
    obj.at(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// What a Ready=False reason means for the job (docs/usage.md "Transient
/// and terminal"; each arm names its row of docs/flux-semantics.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Not a failure: the controller is working on it.
    NotFailure,
    /// The controller retries it and it can succeed without a new push:
    /// keep waiting (the reason is shown).
    Transient,
    /// A Helm release action failed: terminal once the release is Stalled
    /// (remediation retries exhausted), retried while it is not
    /// (HC-REMEDIATION).
    Release,
    /// Cannot succeed without a new push or spec change: fail fast.
    Terminal,
}

/// Classify a Ready=False condition of a kind.
pub fn classify(kind: FluxKind, reason: &str, message: &str) -> Class {
    match reason {
        // PKG-READY: Ready Unknown/False while Reconciling. KC-DEP, HC-DEP:
        // dependencies are re-checked on every requeue (a failed dependency
        // is named as the culprit by the caller).
        "" | "Progressing" | "ProgressingWithRetry" | "DependencyNotReady" => {
            return Class::NotFailure;
        }
        _ => {}
    }
    match kind {
        FluxKind::Kustomization => match reason {
            // KC-PATH, KC-DOWNLOAD: the artifact of this revision lacks
            // spec.path, or fails its digest check or extraction: only a
            // new push fixes it.
            "ArtifactFailed"
                if message.starts_with("kustomization path not found")
                    || message.contains("failed to verify archive")
                    || message.contains("failed to untar")
                    || message.contains("failed to extract") =>
            {
                Class::Terminal
            }
            // KC-SRC, KC-DOWNLOAD: the source or its artifact is not there
            // yet ("Source artifact not found, retrying…", the API's not
            // found, a 404 from the artifact server, a download that did
            // not go through): retried.
            "ArtifactFailed" => Class::Transient,
            // KC-HEALTH: health checks are retried at retryInterval; slow
            // workloads pass on a later attempt.
            "HealthCheckFailed" | "HealthCheckCanceled" => Class::Transient,
            // KC-APPLY: a kind or namespace another Kustomization installs
            // a moment later is retried; any other apply error is ours.
            "ReconciliationFailed"
                if message.contains("no matches for kind")
                    || message.contains("ensure CRDs are installed")
                    || message.contains("could not find the requested resource")
                    || (message.contains("namespaces \"") && message.contains("not found")) =>
            {
                Class::Transient
            }
            // KC-BUILD, KC-APPLY, PruneFailed, AccessDenied, …
            _ => Class::Terminal,
        },
        FluxKind::HelmRelease => match reason {
            // HC-SRC: a chart that does not load is ours to fix.
            "ArtifactFailed" if message.starts_with("Could not load chart") => Class::Terminal,
            // HC-SRC: chart source not ready / chart not fetched yet.
            "SourceNotReady" | "ArtifactFailed" => Class::Transient,
            // HC-REMEDIATION
            "InstallFailed" | "UpgradeFailed" | "TestFailed" | "RollbackSucceeded"
            | "RollbackFailed" | "UninstallSucceeded" | "UninstallFailed" | "RemediationFailed" => {
                Class::Release
            }
            // HC-MUTATE, HC-VALUES and the rest
            _ => Class::Terminal,
        },
        FluxKind::HelmChart => match reason {
            // SC-HELMCHART: a chart that cannot be repackaged, values files
            // that do not merge, a bad chart reference or URL: only a new
            // push or a spec change fixes them (the last three also stall).
            "ChartPackageError"
            | "ValuesFilesError"
            | "MetadataPatchError"
            | "InvalidChartReference"
            | "URLInvalid" => Class::Terminal,
            // SC-HELMCHART: pull errors (a version not pushed yet, no tag
            // the constraint admits, the registry, credentials) and
            // verification errors are retried with backoff.
            _ => Class::Transient,
        },
        // SC-FETCH: source-controller retries every failed pull with
        // backoff (a tag not pushed yet, a registry outage, credentials
        // being rotated) and stalls only on what no retry fixes.
        _ => Class::Transient,
    }
}

/// Reasons written only once the attempt is recorded (`lastAttemptedRevision`,
/// `lastAttemptedRevisionDigest`): KC-ATTEMPT, HC-ATTEMPT.
fn after_attempt(kind: FluxKind, reason: &str) -> bool {
    match kind {
        FluxKind::Kustomization => matches!(
            reason,
            "BuildFailed"
                | "ReconciliationFailed"
                | "PruneFailed"
                | "HealthCheckFailed"
                | "HealthCheckCanceled"
        ),
        FluxKind::HelmRelease => classify(kind, reason, "") == Class::Release,
        _ => false,
    }
}

/// Whole seconds of a timestamp: condition transition times are written
/// with second precision (PKG-LTT), so "after X" compares at that grain.
fn second_of(t: jiff::Timestamp) -> i64 {
    t.as_second()
}

fn parse_time(s: Option<&str>) -> Option<jiff::Timestamp> {
    s.and_then(|t| t.parse::<jiff::Timestamp>().ok())
}

fn short(rev: &str) -> String {
    // main@sha256:abcdef… → main@sha256:abcdef012345
    match rev.find("sha256:") {
        Some(i) if rev.len() > i + 7 + 12 => {
            format!("{}{}", &rev[..i + 7], &rev[i + 7..i + 7 + 12])
        }
        _ => rev.to_string(),
    }
}

/// The digest a HelmRelease recorded for its last attempt: a bare
/// `sha256:…`, or the source's full `<tag>@sha256:…` revision when the
/// tag is not a version (HC-CHARTREF).
fn attempted_digest(obj: &Value) -> Option<&str> {
    str_at(obj, "/status/lastAttemptedRevisionDigest").and_then(revision_digest)
}

/// Whether a HelmRelease takes its chart from a HelmChart (`spec.chart`,
/// no `spec.chartRef`: HC-CHARTTEMPLATE).
fn from_helmchart(obj: &Value) -> bool {
    obj.at("/spec/chartRef").is_none() && obj.at("/spec/chart").is_some()
}

/// Evaluate a Flux object against an expectation.
pub fn evaluate(kind: FluxKind, obj: &Value, exp: &Expectation) -> Verdict {
    let generation = obj
        .at("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let observed = obj
        .at("/status/observedGeneration")
        .and_then(Value::as_i64)
        .unwrap_or(-1);
    let ready = condition(obj, "Ready");
    let stalled = condition(obj, "Stalled").filter(|c| c.status == "True");
    let reconciling = condition(obj, "Reconciling").filter(|c| c.status == "True");
    let handled = str_at(obj, "/status/lastHandledReconcileAt");
    let token_handled = exp.token.as_deref().is_none_or(|t| handled == Some(t));

    let revision = match kind {
        FluxKind::Kustomization => str_at(obj, "/status/lastAppliedRevision"),
        FluxKind::HelmRelease => str_at(obj, "/status/lastAttemptedRevision"),
        _ => str_at(obj, "/status/artifact/revision"),
    }
    .map(str::to_string);

    if obj.at("/metadata/deletionTimestamp").is_some() {
        return Verdict::new(
            Phase::Pending,
            "Deleting",
            "the object is being deleted",
            revision,
        );
    }
    // KC-SUSPEND
    if obj.at("/spec/suspend").and_then(Value::as_bool) == Some(true) {
        return Verdict::new(
            Phase::Suspended,
            "Suspended",
            "reconciliation is suspended (spec.suspend: true); flux resume to continue",
            revision,
        );
    }

    let consumer = matches!(kind, FluxKind::Kustomization | FluxKind::HelmRelease);
    let consumer_with_target = consumer && (exp.target_revision.is_some() || exp.digest.is_some());

    // Did the last attempt work on the target? (KC-ATTEMPT, HC-ATTEMPT)
    let attempted_target = match kind {
        FluxKind::Kustomization => match (
            &exp.target_revision,
            str_at(obj, "/status/lastAttemptedRevision"),
        ) {
            (Some(t), Some(a)) => t == a,
            _ => false,
        },
        FluxKind::HelmRelease => {
            let gen_ok = obj
                .at("/status/lastAttemptedGeneration")
                .and_then(Value::as_i64)
                == Some(generation);
            match &exp.digest {
                Some(d) => gen_ok && attempted_digest(obj) == Some(d.as_str()),
                // HC-CHARTTEMPLATE: a release from a HelmChart records the
                // chart version, and no digest.
                None if from_helmchart(obj) => {
                    gen_ok
                        && exp.target_revision.is_some()
                        && exp.target_revision.as_deref()
                            == str_at(obj, "/status/lastAttemptedRevision")
                }
                None => false,
            }
        }
        // SC-HELMCHART: a HelmChart's revision is the chart version.
        FluxKind::HelmChart if exp.target_revision.is_some() => {
            exp.target_revision.as_deref() == revision.as_deref()
        }
        _ => match (&exp.digest, revision.as_deref()) {
            (Some(d), Some(r)) => revision_digest(r) == Some(d.as_str()),
            _ => false,
        },
    };
    // A failure that comes before the attempt is recorded (KC-PATH,
    // KC-DOWNLOAD, HC-MUTATE, HC-VALUES) is tied to the target when the
    // controller names the target revision in its progress message, or
    // when the condition changed once the source held the target
    // (PKG-LTT: whole seconds, and a new message moves it too).
    let names_target = |text: &str| {
        exp.target_revision
            .as_deref()
            .is_some_and(|t| !t.is_empty() && text.contains(t))
    };
    let after = |c: &Condition<'_>, since: Option<jiff::Timestamp>| match (
        since,
        parse_time(c.last_transition),
    ) {
        (Some(s), Some(t)) => second_of(t) >= second_of(s),
        _ => false,
    };
    let before_attempt_at_target = |c: &Condition<'_>| {
        names_target(c.message)
            || reconciling
                .as_ref()
                .is_some_and(|r| names_target(r.message))
            || after(c, exp.source_since)
    };
    // Is a failure ours? With a target: an attempt at it, or a failure
    // tied to it. Without (KIND/NAME waits): our handled request, or a
    // change since the wait began (at the grain of whole seconds).
    let ours = |c: &Condition<'_>| {
        if consumer_with_target {
            // A reason the controller writes only after it recorded the
            // attempt (KC-ATTEMPT, HC-ATTEMPT) is about the recorded
            // revision, whatever the clock says.
            attempted_target || (!after_attempt(kind, c.reason) && before_attempt_at_target(c))
        } else {
            attempted_target || (exp.token.is_some() && token_handled) || after(c, exp.started_at)
        }
    };

    // KC-GEN: kustomize-controller moves status.observedGeneration only on
    // success; a failure is tied to a generation through its condition.
    let at_generation = |c: &Condition<'_>| {
        c.observed_generation
            .map_or(observed == generation, |g| g == generation)
    };
    if let Some(s) = &stalled {
        // HC-STALLCLEAR: helm-controller clears Stalled when it starts a
        // new attempt; RetriesExceeded of an older chart is not ours.
        let counts = if kind == FluxKind::HelmRelease && s.reason == "RetriesExceeded" {
            !consumer_with_target || attempted_target
        } else {
            // KC-RETRY: Stalled is set only for what no retry fixes.
            ours(s) || at_generation(s)
        };
        if counts {
            return Verdict::new(Phase::Failed, s.reason, s.message, revision);
        }
    }
    if let Some(r) = &ready
        && r.status == "False"
        && at_generation(r)
        && ours(r)
    {
        match classify(kind, r.reason, r.message) {
            Class::Terminal => {
                return Verdict::new(Phase::Failed, r.reason, r.message, revision);
            }
            Class::Transient | Class::Release => {
                return Verdict::new(
                    Phase::Progressing,
                    r.reason,
                    format!("retrying: {}", r.message),
                    revision,
                );
            }
            Class::NotFailure => {}
        }
    }

    if observed < generation {
        return Verdict::new(
            Phase::Progressing,
            "Progressing",
            format!("waiting for the controller to observe generation {generation}"),
            revision,
        );
    }
    if !token_handled {
        return Verdict::new(
            Phase::Pending,
            "RequestNotHandled",
            format!(
                "reconcile request {} not handled yet",
                exp.token.as_deref().unwrap_or_default()
            ),
            revision,
        );
    }

    // At the target? (KC-SUCCESS, HC-SUCCESS, SC-REV)
    let at_target: Result<(), String> = match kind {
        FluxKind::Kustomization => match &exp.target_revision {
            Some(t) if revision.as_deref() != Some(t.as_str()) => Err(format!(
                "applied {}, waiting for {}",
                revision.as_deref().map_or("nothing".to_string(), short),
                short(t)
            )),
            _ => Ok(()),
        },
        FluxKind::HelmRelease => {
            let gen_ok = obj
                .at("/status/lastAttemptedGeneration")
                .and_then(Value::as_i64)
                .is_none_or(|g| g == generation);
            match &exp.digest {
                Some(d) if attempted_digest(obj) != Some(d.as_str()) => Err(format!(
                    "chart digest {}, waiting for {}",
                    attempted_digest(obj).map_or("none".to_string(), short),
                    short(d)
                )),
                // HC-CHARTTEMPLATE: the chart version, not a digest.
                None if from_helmchart(obj)
                    && exp.target_revision.is_some()
                    && exp.target_revision.as_deref()
                        != str_at(obj, "/status/lastAttemptedRevision") =>
                {
                    Err(format!(
                        "chart version {}, waiting for {}",
                        str_at(obj, "/status/lastAttemptedRevision").unwrap_or("none"),
                        exp.target_revision.as_deref().unwrap_or_default()
                    ))
                }
                _ if !gen_ok => Err(format!("waiting for an attempt at generation {generation}")),
                _ => Ok(()),
            }
        }
        // SC-HELMCHART
        FluxKind::HelmChart
            if exp.target_revision.is_some()
                && exp.target_revision.as_deref() != revision.as_deref() =>
        {
            Err(format!(
                "has chart version {}, waiting for {}",
                revision.as_deref().unwrap_or("none"),
                exp.target_revision.as_deref().unwrap_or_default()
            ))
        }
        _ => match &exp.digest {
            Some(d) if revision.as_deref().and_then(revision_digest) != Some(d.as_str()) => {
                Err(format!(
                    "has {}, waiting for {}",
                    revision.as_deref().map_or("no artifact".to_string(), short),
                    short(d)
                ))
            }
            _ => Ok(()),
        },
    };

    let waiting = |r: &Condition<'_>| {
        if r.reason == "DependencyNotReady" {
            Phase::Pending
        } else {
            Phase::Progressing
        }
    };
    match (&ready, at_target) {
        // HC-ATTEMPT, HC-SUCCESS: helm-controller records the attempt
        // before it marks Ready Unknown for the release action; a Ready
        // True beside Reconciling True is the previous release's.
        (Some(r), Ok(()))
            if r.status == "True" && kind == FluxKind::HelmRelease && reconciling.is_some() =>
        {
            Verdict::new(
                Phase::Progressing,
                "Progressing",
                reconciling.as_ref().map_or("", |c| c.message).to_string(),
                revision,
            )
        }
        (Some(r), Ok(())) if r.status == "True" => {
            Verdict::new(Phase::Ready, r.reason, r.message, revision)
        }
        (Some(r), Err(why)) if r.status == "True" => {
            Verdict::new(Phase::Pending, "StaleRevision", why, revision)
        }
        (Some(r), Err(why)) => Verdict::new(
            waiting(r),
            r.reason,
            if r.message.is_empty() {
                why
            } else {
                format!("{}; {why}", r.message)
            },
            revision,
        ),
        (Some(r), Ok(())) => Verdict::new(waiting(r), r.reason, r.message, revision),
        (None, _) => Verdict::new(
            Phase::Progressing,
            "Progressing",
            "no Ready condition yet",
            revision,
        ),
    }
}

/// What the wait knows of an object: what it awaits and its consumers'
/// sources, as status snapshots.
#[derive(Debug, Clone, Copy, Default)]
pub struct Awaited<'a> {
    /// The manifest digest the selection awaits (`sha256:…`), if known.
    pub digest: Option<&'a str>,
    /// For a chart through an OCI HelmRepository: the chart version awaited.
    pub chart_version: Option<&'a str>,
    /// This object is a source that selects the awaited artifact.
    pub is_awaited_source: bool,
    /// For a chart: the digest of its chart layer in the registry.
    pub chart_layer: Option<&'a str>,
}

/// A consumer's source as the wait sees it.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub r: &'a ObjectRef,
    /// Its latest snapshot, if listed or watched yet.
    pub obj: Option<&'a Value>,
    /// It selects the awaited artifact (so it must hold the digest).
    pub awaited: bool,
    /// The wait follows it (the source of a selected consumer).
    pub followed: bool,
}

/// The verdict of a followed Flux object, its target taken from what the
/// wait awaits and, for a consumer, from its source's snapshot: the target
/// revision is the one the source holds once it holds the awaited digest
/// (SC-REV); before that the consumer is pending on its source. `exp`
/// carries the token and the start of the wait.
pub fn followed(
    kind: FluxKind,
    obj: &Value,
    mut exp: Expectation,
    awaited: Awaited<'_>,
    source: Option<Source<'_>>,
) -> Verdict {
    if awaited.is_awaited_source {
        exp.digest = awaited.digest.map(str::to_string);
    }
    // SC-HELMCHART: a HelmChart's artifact revision is the chart version,
    // without a digest; its HelmReleases record that version as their
    // lastAttemptedRevision, with no digest (HC-CHARTTEMPLATE).
    if kind == FluxKind::HelmChart && awaited.is_awaited_source {
        exp.digest = None;
        exp.target_revision = awaited.chart_version.map(str::to_string);
        return same_chart_bytes(obj, evaluate(kind, obj, &exp), awaited.chart_layer);
    }
    let Some(src) = source else {
        return evaluate(kind, obj, &exp);
    };
    let src_rev = src
        .obj
        .and_then(|s| s.at("/status/artifact/revision"))
        .and_then(Value::as_str);
    let since = || {
        src.obj
            .and_then(|s| s.at("/status/artifact/lastUpdateTime"))
            .and_then(Value::as_str)
            .and_then(|t| t.parse().ok())
    };
    if src.r.kind == FluxKind::HelmChart && src.awaited {
        exp.digest = None;
        exp.target_revision = awaited.chart_version.map(str::to_string);
        if src_rev.is_some() && src_rev == awaited.chart_version {
            exp.source_since = since();
        }
        return evaluate(kind, obj, &exp);
    }
    exp.source_since = since();
    let want = awaited.digest.filter(|_| src.awaited);
    match (src_rev, want) {
        (Some(rev), Some(d)) if revision_digest(rev) == Some(d) => {
            exp.target_revision = Some(rev.to_string());
            exp.digest = Some(d.to_string());
        }
        (_, Some(d)) => {
            let v = evaluate(
                kind,
                obj,
                &Expectation {
                    target_revision: None,
                    digest: None,
                    ..exp
                },
            );
            if v.phase == Phase::Suspended {
                return v;
            }
            return Verdict::new(
                Phase::Pending,
                "SourceNotReady",
                format!(
                    "waiting for {}/{}/{} to fetch {}",
                    src.r.kind,
                    src.r.namespace,
                    src.r.name,
                    short(d)
                ),
                v.revision,
            );
        }
        // A KIND/NAME wait: the revision the followed source holds.
        (Some(rev), None) if src.followed => {
            exp.target_revision = Some(rev.to_string());
            if kind == FluxKind::HelmRelease {
                exp.digest = revision_digest(rev).map(str::to_string);
            }
        }
        _ => {}
    }
    evaluate(kind, obj, &exp)
}

/// SC-HELMCHART: a HelmChart at the awaited version whose stored chart is
/// not the pushed one (its `status.artifact.digest` is the sha256 of the
/// chart it stored, the registry's chart layer unless `spec.valuesFiles`
/// repackage it) will not pull again for the same version and generation:
/// the version was re-pushed with other bytes. Terminal, and said so.
fn same_chart_bytes(obj: &Value, verdict: Verdict, layer: Option<&str>) -> Verdict {
    let Some(layer) = layer else { return verdict };
    let repackaged = obj
        .at("/spec/valuesFiles")
        .and_then(Value::as_array)
        .is_some_and(|v| !v.is_empty());
    let stored = str_at(obj, "/status/artifact/digest");
    match stored {
        Some(stored) if verdict.phase == Phase::Ready && !repackaged && stored != layer => {
            Verdict::new(
                Phase::Failed,
                "ChartBytesDiffer",
                format!(
                    "holds version {} with other bytes (stored {}, pushed chart layer {}): the \
                     version was re-pushed, and source-controller does not pull a version it \
                     already holds; push the chart under a new version",
                    verdict.revision.as_deref().unwrap_or("?"),
                    short(stored),
                    short(layer)
                ),
                verdict.revision,
            )
        }
        _ => verdict,
    }
}

/// What the wait knows of a dependency.
#[derive(Debug, Clone, Copy)]
pub enum Dependency<'a> {
    /// Followed, and failed: its verdict's reason and message.
    Failed(&'a str, &'a str),
    /// Followed and not failed.
    Fine,
    /// Not followed: its snapshot, if known.
    Unfollowed(Option<&'a Value>),
}

/// KC-DEP, HC-DEP: a verdict waiting on a dependency that failed for good
/// becomes that failure, naming the dependency as the culprit. A followed
/// dependency is judged by its own verdict, an unfollowed one by its
/// conditions alone ([`failing`]).
pub fn with_dependencies<'a>(
    kind: FluxKind,
    obj: &Value,
    mut verdict: Verdict,
    dependency: impl Fn(&ObjectRef) -> Dependency<'a>,
) -> Verdict {
    // The Ready condition decides, not the verdict's reason: an object that
    // never succeeded is still "waiting for generation N" in the verdict.
    let waits_on_dependency = condition(obj, "Ready")
        .is_some_and(|c| c.status == "False" && c.reason == "DependencyNotReady");
    if !waits_on_dependency || verdict.phase.is_final() {
        return verdict;
    }
    for dep in selector::depends_on(kind, obj) {
        let why = match dependency(&dep) {
            Dependency::Failed(reason, message) => Some(format!("{reason}: {message}")),
            Dependency::Fine => None,
            Dependency::Unfollowed(snapshot) => snapshot.and_then(|o| failing(dep.kind, o)),
        };
        if let Some(why) = why {
            verdict.phase = Phase::Failed;
            verdict.reason = "DependencyNotReady".into();
            verdict.message = format!(
                "depends on {}/{}/{}, which failed: {why}",
                dep.kind, dep.namespace, dep.name
            );
        }
    }
    verdict
}

/// Whether an object we do not follow is failing for good, whatever
/// revision: names the culprit of a DependencyNotReady chain. Transient
/// reasons (a source without its artifact yet, retried health checks) do
/// not count.
pub fn failing(kind: FluxKind, obj: &Value) -> Option<String> {
    if let Some(s) = condition(obj, "Stalled").filter(|c| c.status == "True") {
        return Some(format!("{}: {}", s.reason, s.message));
    }
    let generation = obj
        .at("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let observed = obj
        .at("/status/observedGeneration")
        .and_then(Value::as_i64)
        .unwrap_or(-1);
    condition(obj, "Ready")
        .filter(|c| {
            c.status == "False"
                && c.observed_generation
                    .map_or(observed == generation, |g| g == generation)
                && classify(kind, c.reason, c.message) == Class::Terminal
        })
        .map(|c| format!("{}: {}", c.reason, c.message))
}

/// Roll-out state of a workload in an inventory (`--health`), by the usual
/// status rules (kstatus).
pub fn evaluate_workload(kind: &str, obj: &Value) -> Verdict {
    let i = |p: &str| obj.at(p).and_then(Value::as_i64);
    let generation = i("/metadata/generation").unwrap_or(0);
    let observed = i("/status/observedGeneration").unwrap_or(-1);
    if observed < generation && kind != "Job" {
        return Verdict::new(
            Phase::Progressing,
            "Progressing",
            "waiting for the controller to observe the new generation",
            None,
        );
    }
    let ok = |m: String| Verdict::new(Phase::Ready, "Current", m, None);
    let wait = |m: String| Verdict::new(Phase::Progressing, "InProgress", m, None);
    match kind {
        "Deployment" => {
            if let Some(c) = condition(obj, "Progressing")
                && c.status == "False"
                && c.reason == "ProgressDeadlineExceeded"
            {
                return Verdict::new(Phase::Failed, c.reason, c.message, None);
            }
            let want = i("/spec/replicas").unwrap_or(1);
            let updated = i("/status/updatedReplicas").unwrap_or(0);
            let available = i("/status/availableReplicas").unwrap_or(0);
            let total = i("/status/replicas").unwrap_or(0);
            if updated >= want && available >= want && total <= want {
                ok(format!("{available}/{want} replicas available"))
            } else {
                wait(format!(
                    "{updated}/{want} updated, {available}/{want} available"
                ))
            }
        }
        "StatefulSet" => {
            let want = i("/spec/replicas").unwrap_or(1);
            let ready = i("/status/readyReplicas").unwrap_or(0);
            let updated = i("/status/updatedReplicas").unwrap_or(0);
            let same_rev =
                str_at(obj, "/status/currentRevision") == str_at(obj, "/status/updateRevision");
            if ready >= want && updated >= want && same_rev {
                ok(format!("{ready}/{want} replicas ready"))
            } else {
                wait(format!("{updated}/{want} updated, {ready}/{want} ready"))
            }
        }
        "DaemonSet" => {
            let want = i("/status/desiredNumberScheduled").unwrap_or(0);
            let updated = i("/status/updatedNumberScheduled").unwrap_or(0);
            let available = i("/status/numberAvailable").unwrap_or(0);
            if updated >= want && available >= want {
                ok(format!("{available}/{want} pods available"))
            } else {
                wait(format!(
                    "{updated}/{want} updated, {available}/{want} available"
                ))
            }
        }
        "Job" => {
            if let Some(c) = condition(obj, "Failed").filter(|c| c.status == "True") {
                return Verdict::new(Phase::Failed, c.reason, c.message, None);
            }
            if condition(obj, "Complete").is_some_and(|c| c.status == "True") {
                ok("job completed".into())
            } else {
                wait("job running".into())
            }
        }
        _ => ok("no health rules for this kind".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn ks(status: Value) -> Value {
        json!({"metadata": {"name": "apps", "namespace": "flux-system", "generation": 3},
               "spec": {}, "status": status})
    }

    fn cond(type_: &str, status: &str, reason: &str, msg: &str) -> Value {
        json!({"type": type_, "status": status, "reason": reason, "message": msg,
               "observedGeneration": 3, "lastTransitionTime": "2026-11-21T10:00:00Z"})
    }

    fn exp(target: &str) -> Expectation {
        Expectation {
            digest: Some(D2.into()),
            target_revision: Some(format!("v2@{}", target)),
            ..Default::default()
        }
    }

    #[test]
    fn kustomization_ready_at_target() {
        // KC-SUCCESS: Ready True with lastAppliedRevision at the target.
        let obj = ks(
            json!({"observedGeneration": 3, "lastAppliedRevision": format!("v2@{D2}"),
            "lastAttemptedRevision": format!("v2@{D2}"),
            "conditions": [cond("Ready", "True", "ReconciliationSucceeded", "Applied revision: v2")]}),
        );
        assert_eq!(
            evaluate(FluxKind::Kustomization, &obj, &exp(D2)).phase,
            Phase::Ready
        );
    }

    #[test]
    fn ready_at_an_older_revision_is_pending_never_done() {
        // KC-SUCCESS, SC-REV: an older `<tag>@sha256:` revision is stale.
        let obj = ks(
            json!({"observedGeneration": 3, "lastAppliedRevision": format!("v1@{D1}"),
            "conditions": [cond("Ready", "True", "ReconciliationSucceeded", "Applied revision: v1")]}),
        );
        let v = evaluate(FluxKind::Kustomization, &obj, &exp(D2));
        assert_eq!(v.phase, Phase::Pending);
        assert_eq!(v.reason, "StaleRevision");
        assert!(
            v.message.contains("waiting for v2@sha256:222222222222"),
            "{}",
            v.message
        );
    }

    #[test]
    fn failure_at_target_fails_fast() {
        // KC-BUILD, KC-ATTEMPT, PKG-READY: Ready False + Reconciling ProgressingWithRetry at the target.
        let obj = ks(
            json!({"observedGeneration": 3, "lastAppliedRevision": format!("v1@{D1}"),
            "lastAttemptedRevision": format!("v2@{D2}"),
            "conditions": [cond("Ready", "False", "BuildFailed", "kustomize build failed"),
                           cond("Reconciling", "True", "ProgressingWithRetry", "retrying")]}),
        );
        let v = evaluate(FluxKind::Kustomization, &obj, &exp(D2));
        assert_eq!(v.phase, Phase::Failed);
        assert_eq!(v.reason, "BuildFailed");
    }

    #[test]
    fn failure_counts_at_the_condition_generation() {
        // KC-GEN: the condition's observedGeneration, not the status's.
        // First reconcile of a new generation failed: status.observedGeneration
        // still names the old one, the condition the new one.
        let obj = ks(
            json!({"observedGeneration": 2, "lastAttemptedRevision": format!("v2@{D2}"),
            "conditions": [cond("Ready", "False", "ReconciliationFailed", "apply failed")]}),
        );
        let v = evaluate(FluxKind::Kustomization, &obj, &exp(D2));
        assert_eq!(v.phase, Phase::Failed);
        assert_eq!(v.reason, "ReconciliationFailed");
    }

    #[test]
    fn old_failure_is_not_ours() {
        // Failed at v1, has not attempted v2 yet, no token: keep waiting.
        let obj = ks(
            json!({"observedGeneration": 3, "lastAttemptedRevision": format!("v1@{D1}"),
            "conditions": [cond("Ready", "False", "BuildFailed", "kustomize build failed")]}),
        );
        let v = evaluate(FluxKind::Kustomization, &obj, &exp(D2));
        assert_eq!(v.phase, Phase::Progressing);
        // A failure after the wait started counts only when no target
        // revision is known (waiting on KIND/NAME alone).
        let mut e = exp(D2);
        e.started_at = Some("2026-11-21T09:00:00Z".parse().expect("ts"));
        assert_eq!(
            evaluate(FluxKind::Kustomization, &obj, &e).phase,
            Phase::Progressing
        );
        let e = Expectation {
            started_at: Some("2026-11-21T09:00:00Z".parse().expect("ts")),
            ..Default::default()
        };
        assert_eq!(
            evaluate(FluxKind::Kustomization, &obj, &e).phase,
            Phase::Failed
        );
    }

    #[test]
    fn artifact_failed_before_the_source_fetched_is_not_a_verdict() {
        let obj = ks(
            json!({"observedGeneration": 3, "lastHandledReconcileAt": "tok",
            "conditions": [cond("Ready", "False", "ArtifactFailed", "Source artifact not found, retrying in 30s")]}),
        );
        let mut e = exp(D2);
        e.token = Some("tok".into());
        assert_eq!(
            evaluate(FluxKind::Kustomization, &obj, &e).phase,
            Phase::Progressing
        );
    }

    #[test]
    fn token_must_be_handled() {
        let obj = ks(
            json!({"observedGeneration": 3, "lastAppliedRevision": format!("v2@{D2}"),
            "lastHandledReconcileAt": "old",
            "conditions": [cond("Ready", "True", "ReconciliationSucceeded", "ok")]}),
        );
        let mut e = exp(D2);
        e.token = Some("2026-11-21T10:00:00.123456789Z".into());
        let v = evaluate(FluxKind::Kustomization, &obj, &e);
        assert_eq!(v.phase, Phase::Pending);
        assert_eq!(v.reason, "RequestNotHandled");
    }

    #[test]
    fn suspended_and_generation_lag() {
        // KC-SUSPEND, KC-GEN
        let mut obj = ks(json!({"observedGeneration": 2}));
        assert_eq!(
            evaluate(FluxKind::Kustomization, &obj, &exp(D2)).phase,
            Phase::Progressing
        );
        obj["spec"]["suspend"] = json!(true);
        assert_eq!(
            evaluate(FluxKind::Kustomization, &obj, &exp(D2)).phase,
            Phase::Suspended
        );
    }

    #[test]
    fn dependency_not_ready_waits() {
        // KC-DEP, HC-DEP: dependencies are re-checked on every requeue.
        let obj = ks(
            json!({"observedGeneration": 3, "lastAttemptedRevision": format!("v2@{D2}"),
            "conditions": [cond("Ready", "False", "DependencyNotReady", "dependency 'flux-system/infra' is not ready")]}),
        );
        let v = evaluate(FluxKind::Kustomization, &obj, &exp(D2));
        assert_eq!(v.phase, Phase::Pending);
        assert_eq!(v.reason, "DependencyNotReady");
    }

    #[test]
    fn ocirepository_revision_must_carry_digest() {
        // SC-REV, SC-READY: tag and digest revision forms, Ready Succeeded.
        let repo = |rev: &str| {
            json!({"metadata": {"generation": 1}, "spec": {},
            "status": {"observedGeneration": 1, "artifact": {"revision": rev},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded", "message": "stored"}]}})
        };
        let e = Expectation {
            digest: Some(D2.into()),
            ..Default::default()
        };
        assert_eq!(
            evaluate(FluxKind::OciRepository, &repo(&format!("v2@{D2}")), &e).phase,
            Phase::Ready
        );
        assert_eq!(
            evaluate(FluxKind::OciRepository, &repo(&format!("v1@{D1}")), &e).phase,
            Phase::Pending
        );
        assert_eq!(
            evaluate(FluxKind::OciRepository, &repo(D2), &e).phase,
            Phase::Ready
        );
    }

    // Table-driven rules, each citing its row of docs/flux-semantics.md.

    fn with_conds(mut obj: Value, conds: Vec<Value>) -> Value {
        obj["status"]["conditions"] = json!(conds);
        obj
    }

    fn cond_at(type_: &str, status: &str, reason: &str, msg: &str, at: &str) -> Value {
        let mut c = cond(type_, status, reason, msg);
        c["lastTransitionTime"] = json!(at);
        c
    }

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn kc_src_source_artifact_not_found_is_transient() {
        // KC-SRC: a new Kustomization shipped with its new OCIRepository.
        let obj = ks(json!({"observedGeneration": -1,
            "conditions": [cond("Ready", "False", "ArtifactFailed", "Source artifact not found, retrying in 30s")]}));
        let mut e = exp(D2);
        e.source_since = Some(ts("2026-11-21T09:59:00Z"));
        let v = evaluate(FluxKind::Kustomization, &obj, &e);
        assert_eq!(v.phase, Phase::Progressing, "{v:?}");
        assert!(v.message.starts_with("retrying: "), "{}", v.message);
        let obj = ks(json!({"observedGeneration": -1,
            "conditions": [cond("Ready", "False", "ArtifactFailed", "Source 'OCIRepository/flux-system/apps' not found")]}));
        assert_eq!(
            evaluate(FluxKind::Kustomization, &obj, &e).phase,
            Phase::Progressing
        );
    }

    #[test]
    fn kc_path_missing_fails_before_last_attempted_revision() {
        // KC-PATH, KC-ATTEMPT: the path check precedes lastAttemptedRevision;
        // the progress message names the revision being fetched.
        let failing = |reconciling_msg: &str| {
            ks(
                json!({"observedGeneration": 3, "lastAttemptedRevision": format!("v1@{D1}"),
                "lastAppliedRevision": format!("v1@{D1}"),
                "conditions": [
                    cond_at("Ready", "False", "ArtifactFailed",
                        "kustomization path not found: stat /tmp/kustomization-1/apps: no such file or directory",
                        "2026-11-21T09:00:00Z"),
                    cond("Reconciling", "True", "ProgressingWithRetry", reconciling_msg)]}),
            )
        };
        let e = exp(D2);
        let target = e.target_revision.clone().expect("target");
        let v = evaluate(
            FluxKind::Kustomization,
            &failing(&format!(
                "Fetching manifests for revision {target} with a timeout of 5m0s"
            )),
            &e,
        );
        assert_eq!(v.phase, Phase::Failed, "{v:?}");
        assert_eq!(v.reason, "ArtifactFailed");
        // The same failure of the previous revision, from before the source
        // held the target: not ours.
        let mut e2 = exp(D2);
        e2.source_since = Some(ts("2026-11-21T09:30:00Z"));
        let old = failing(&format!(
            "Fetching manifests for revision v1@{D1} with a timeout of 5m0s"
        ));
        assert_eq!(
            evaluate(FluxKind::Kustomization, &old, &e2).phase,
            Phase::Progressing
        );
        // ... and tied by its transition once the source held the target.
        e2.source_since = Some(ts("2026-11-21T08:59:59.9Z"));
        assert_eq!(
            evaluate(FluxKind::Kustomization, &old, &e2).phase,
            Phase::Failed
        );
    }

    #[test]
    fn kc_attempt_a_build_failure_of_the_previous_revision_is_not_ours() {
        // KC-ATTEMPT: BuildFailed comes after lastAttemptedRevision is
        // written; here that is the previous revision, even though the
        // condition changed after the source got the target.
        let obj = ks(
            json!({"observedGeneration": 2, "lastAttemptedRevision": format!("v1@{D1}"),
            "conditions": [cond_at("Ready", "False", "BuildFailed", "kustomize build failed", "2026-11-21T10:00:05Z")]}),
        );
        let mut e = exp(D2);
        e.source_since = Some(ts("2026-11-21T10:00:01Z"));
        assert!(!evaluate(FluxKind::Kustomization, &obj, &e).phase.is_final());
    }

    #[test]
    fn kc_health_and_missing_crd_are_retried() {
        // KC-HEALTH, KC-APPLY, KC-RETRY: retried failures at the target.
        for (reason, msg, want) in [
            (
                "HealthCheckFailed",
                "health check failed after 30s: timeout waiting for: [Deployment/apps/web status: 'InProgress']",
                Phase::Progressing,
            ),
            (
                "ReconciliationFailed",
                "CronTab/apps/x dry-run failed: no matches for kind \"CronTab\" in version \"example.com/v1\"",
                Phase::Progressing,
            ),
            (
                "ReconciliationFailed",
                "Deployment/apps/web dry-run failed (Invalid): spec.replicas: Invalid value: -1",
                Phase::Failed,
            ),
            (
                "BuildFailed",
                "kustomize build failed: accumulating resources",
                Phase::Failed,
            ),
            ("PruneFailed", "prune failed", Phase::Failed),
            // KC-DOWNLOAD: a 404 from the artifact server is retried; a
            // digest mismatch is not.
            (
                "ArtifactFailed",
                "Source is not ready, artifact not found, retrying in 30s",
                Phase::Progressing,
            ),
            (
                "ArtifactFailed",
                "failed to verify archive: computed digest doesn't match provided 'sha256:1'",
                Phase::Failed,
            ),
        ] {
            let obj = ks(
                json!({"observedGeneration": 2, "lastAttemptedRevision": format!("v2@{D2}"),
                "conditions": [cond("Ready", "False", reason, msg),
                               cond("Reconciling", "True", "ProgressingWithRetry", "Building manifests")]}),
            );
            let v = evaluate(FluxKind::Kustomization, &obj, &exp(D2));
            assert_eq!(v.phase, want, "{reason}: {msg}");
            assert_eq!(v.reason, reason);
        }
    }

    #[test]
    fn kc_stalled_at_generation_fails() {
        // KC-RETRY: Stalled only for what no retry fixes.
        let obj = ks(json!({"observedGeneration": 2,
            "conditions": [cond("Ready", "False", "InvalidCELExpression", "bad expression"),
                           cond("Stalled", "True", "InvalidCELExpression", "bad expression")]}));
        assert_eq!(
            evaluate(FluxKind::Kustomization, &obj, &exp(D2)).phase,
            Phase::Failed
        );
    }

    fn hr(status: Value) -> Value {
        json!({"metadata": {"name": "web", "namespace": "apps", "generation": 3}, "spec": {},
               "status": status})
    }

    fn hr_exp() -> Expectation {
        Expectation {
            digest: Some(D2.into()),
            target_revision: Some(format!("1.0.0@{D2}")),
            ..Default::default()
        }
    }

    #[test]
    fn hc_stalled_of_an_older_chart_is_not_ours() {
        // HC-STALLCLEAR: the fixing push must not fail on the old Stalled.
        let obj = hr(
            json!({"observedGeneration": 3, "lastAttemptedGeneration": 3,
            "lastAttemptedRevision": "1.0.0+111111111111", "lastAttemptedRevisionDigest": D1,
            "conditions": [cond("Ready", "False", "UpgradeFailed", "upgrade failed"),
                           cond("Stalled", "True", "RetriesExceeded", "Failed to upgrade after 1 attempt(s)")]}),
        );
        let v = evaluate(FluxKind::HelmRelease, &obj, &hr_exp());
        assert!(!v.phase.is_final(), "{v:?}");
    }

    #[test]
    fn hc_remediation_retries_then_stalls() {
        // HC-REMEDIATION: retries left → Reconciling, wait; exhausted → Stalled, fail.
        let retrying = hr(
            json!({"observedGeneration": 3, "lastAttemptedGeneration": 3,
            "lastAttemptedRevision": "1.0.0+222222222222", "lastAttemptedRevisionDigest": D2,
            "conditions": [cond("Ready", "False", "UpgradeFailed", "context deadline exceeded"),
                           cond("Reconciling", "True", "ProgressingWithRetry", "retrying")]}),
        );
        let v = evaluate(FluxKind::HelmRelease, &retrying, &hr_exp());
        assert_eq!(v.phase, Phase::Progressing, "{v:?}");
        let mut stalled = retrying.clone();
        stalled["status"]["conditions"] = json!([
            cond(
                "Ready",
                "False",
                "UpgradeFailed",
                "context deadline exceeded"
            ),
            cond(
                "Stalled",
                "True",
                "RetriesExceeded",
                "Failed to upgrade after 1 attempt(s)"
            )
        ]);
        let v = evaluate(FluxKind::HelmRelease, &stalled, &hr_exp());
        assert_eq!(v.phase, Phase::Failed);
        assert_eq!(v.reason, "RetriesExceeded");
    }

    #[test]
    fn hc_attempt_recorded_before_the_release_runs_is_not_done() {
        // HC-ATTEMPT: lastAttempted* at the target, Ready still True from
        // the previous release, Reconciling "Fulfilling prerequisites".
        let obj = hr(
            json!({"observedGeneration": 3, "lastAttemptedGeneration": 3,
            "lastAttemptedRevision": "1.0.0+222222222222", "lastAttemptedRevisionDigest": D2,
            "conditions": [cond("Ready", "True", "UpgradeSucceeded", "previous release"),
                           cond("Reconciling", "True", "Progressing", "Fulfilling prerequisites")]}),
        );
        assert_eq!(
            evaluate(FluxKind::HelmRelease, &obj, &hr_exp()).phase,
            Phase::Progressing
        );
    }

    #[test]
    fn hc_chartref_full_revision_form() {
        // HC-CHARTREF: a non-semver tag records the source's full revision.
        let obj = hr(
            json!({"observedGeneration": 3, "lastAttemptedGeneration": 3,
            "lastAttemptedRevision": "1.0.0+222222222222",
            "lastAttemptedRevisionDigest": format!("main@{D2}"),
            "conditions": [cond("Ready", "True", "UpgradeSucceeded", "Helm upgrade succeeded")]}),
        );
        assert_eq!(
            evaluate(FluxKind::HelmRelease, &obj, &hr_exp()).phase,
            Phase::Ready
        );
    }

    #[test]
    fn hc_mutate_error_fails_before_any_attempt() {
        // HC-MUTATE: nothing of the attempt is recorded; the condition
        // changed once the source held the target.
        let obj = with_conds(
            hr(
                json!({"observedGeneration": 3, "lastAttemptedGeneration": 3,
                "lastAttemptedRevision": "1.0.0+111111111111", "lastAttemptedRevisionDigest": D1}),
            ),
            vec![cond_at(
                "Ready",
                "False",
                "ChartMutateError",
                "artifact revision 1.2.0 does not match chart version 1.3.0",
                "2026-11-21T10:00:05Z",
            )],
        );
        let mut e = hr_exp();
        e.source_since = Some(ts("2026-11-21T10:00:04Z"));
        assert_eq!(
            evaluate(FluxKind::HelmRelease, &obj, &e).phase,
            Phase::Failed
        );
        e.source_since = Some(ts("2026-11-21T10:00:09Z"));
        assert!(!evaluate(FluxKind::HelmRelease, &obj, &e).phase.is_final());
    }

    #[test]
    fn hc_source_not_ready_is_transient() {
        // HC-SRC
        let obj = hr(json!({"observedGeneration": 1,
            "conditions": [cond("Ready", "False", "SourceNotReady", "OCIRepository 'apps/charts' is not ready")]}));
        let mut e = hr_exp();
        e.source_since = Some(ts("2026-11-21T09:00:00Z"));
        assert_eq!(
            evaluate(FluxKind::HelmRelease, &obj, &e).phase,
            Phase::Progressing
        );
    }

    #[test]
    fn pkg_ltt_failure_in_the_first_second_of_a_wait_counts() {
        // PKG-LTT: transition times are whole seconds.
        let obj = ks(json!({"observedGeneration": 3,
            "conditions": [cond_at("Ready", "False", "BuildFailed", "kustomize build failed", "2026-11-21T10:00:00Z")]}));
        let e = Expectation {
            started_at: Some(ts("2026-11-21T10:00:00.700Z")),
            ..Default::default()
        };
        assert_eq!(
            evaluate(FluxKind::Kustomization, &obj, &e).phase,
            Phase::Failed
        );
        let e = Expectation {
            started_at: Some(ts("2026-11-21T10:00:01.100Z")),
            ..Default::default()
        };
        assert!(!evaluate(FluxKind::Kustomization, &obj, &e).phase.is_final());
    }

    #[test]
    fn sc_fetch_pull_failures_are_retried_stalled_is_final() {
        // SC-FETCH: backoff on pull failures, Stalled only for URLInvalid.
        let repo = |conds: Vec<Value>| {
            json!({"metadata": {"generation": 1}, "spec": {},
                   "status": {"observedGeneration": 1, "conditions": conds}})
        };
        let e = Expectation {
            started_at: Some(ts("2026-11-21T09:00:00Z")),
            ..Default::default()
        };
        let pull = repo(vec![
            json!({"type": "Ready", "status": "False", "reason": "OCIArtifactPullFailed",
            "message": "failed to determine artifact digest: 404", "observedGeneration": 1,
            "lastTransitionTime": "2026-11-21T10:00:00Z"}),
        ]);
        assert_eq!(
            evaluate(FluxKind::OciRepository, &pull, &e).phase,
            Phase::Progressing
        );
        let stalled = repo(vec![
            json!({"type": "Ready", "status": "False", "reason": "URLInvalid", "message": "bad url", "observedGeneration": 1}),
            json!({"type": "Stalled", "status": "True", "reason": "URLInvalid", "message": "bad url", "observedGeneration": 1}),
        ]);
        assert_eq!(
            evaluate(FluxKind::OciRepository, &stalled, &e).phase,
            Phase::Failed
        );
    }

    #[test]
    fn hc_values_error_fails_before_any_attempt() {
        // HC-VALUES: written before the lastAttempted* fields, never Stalled,
        // but only a change of the values (or the push) fixes it.
        let obj = with_conds(
            hr(json!({"observedGeneration": 2})),
            vec![cond_at(
                "Ready",
                "False",
                "ValuesError",
                "could not resolve ConfigMap chart values reference 'apps/values' with key 'values.yaml'",
                "2026-11-21T10:00:05Z",
            )],
        );
        let mut e = hr_exp();
        e.source_since = Some(ts("2026-11-21T10:00:01Z"));
        assert_eq!(
            evaluate(FluxKind::HelmRelease, &obj, &e).phase,
            Phase::Failed
        );
    }

    #[test]
    fn sc_rev_a_consumer_waits_for_its_source_to_hold_the_digest() {
        // SC-REV, KC-SUCCESS: the target is the revision the source holds
        // once it holds the awaited digest.
        let src_ref = ObjectRef::new(FluxKind::OciRepository, "flux-system", "apps");
        let source = |rev: &str| json!({"status": {"artifact": {"revision": rev, "lastUpdateTime": "2026-11-21T10:00:00Z"}}});
        let applied_v1 = ks(
            json!({"observedGeneration": 3, "lastAppliedRevision": format!("v1@{D1}"),
            "conditions": [cond("Ready", "True", "ReconciliationSucceeded", "Applied revision: v1")]}),
        );
        let awaited = Awaited {
            digest: Some(D2),
            ..Default::default()
        };
        let old = source(&format!("v1@{D1}"));
        let v = followed(
            FluxKind::Kustomization,
            &applied_v1,
            Expectation::default(),
            awaited,
            Some(Source {
                r: &src_ref,
                obj: Some(&old),
                awaited: true,
                followed: true,
            }),
        );
        assert_eq!(
            (v.phase, v.reason.as_str()),
            (Phase::Pending, "SourceNotReady")
        );
        assert!(
            v.message.contains("to fetch sha256:222222222222"),
            "{}",
            v.message
        );
        let new = source(&format!("v2@{D2}"));
        let v = followed(
            FluxKind::Kustomization,
            &applied_v1,
            Expectation::default(),
            awaited,
            Some(Source {
                r: &src_ref,
                obj: Some(&new),
                awaited: true,
                followed: true,
            }),
        );
        assert_eq!(
            (v.phase, v.reason.as_str()),
            (Phase::Pending, "StaleRevision")
        );
    }

    #[test]
    fn kc_dep_a_failed_dependency_is_named_as_the_culprit() {
        // KC-DEP
        let waiting = ks(json!({"observedGeneration": 3,
            "conditions": [cond("Ready", "False", "DependencyNotReady", "dependency 'flux-system/infra' is not ready")]}));
        let mut obj = waiting.clone();
        obj["spec"]["dependsOn"] = json!([{"name": "infra"}]);
        let pending = evaluate(FluxKind::Kustomization, &obj, &exp(D2));
        let v = with_dependencies(FluxKind::Kustomization, &obj, pending.clone(), |_| {
            Dependency::Failed("BuildFailed", "kustomize build failed")
        });
        assert_eq!(v.phase, Phase::Failed);
        assert!(
            v.message
                .contains("depends on Kustomization/flux-system/infra, which failed: BuildFailed"),
            "{}",
            v.message
        );
        let v = with_dependencies(FluxKind::Kustomization, &obj, pending, |_| Dependency::Fine);
        assert_eq!(v.phase, Phase::Pending);
    }

    #[test]
    fn sc_helmchart_a_version_re_pushed_with_other_bytes_is_reported() {
        // SC-HELMCHART: the HelmChart keeps the bytes it stored first.
        let chart = |digest: &str| {
            json!({"metadata": {"generation": 1}, "spec": {},
                   "status": {"observedGeneration": 1,
                              "artifact": {"revision": "1.2.0", "digest": digest},
                              "conditions": [{"type": "Ready", "status": "True", "reason": "ChartPullSucceeded",
                                              "message": "pulled 'podinfo' chart with version '1.2.0'"}]}})
        };
        let awaited = Awaited {
            chart_version: Some("1.2.0"),
            is_awaited_source: true,
            chart_layer: Some(D2),
            ..Default::default()
        };
        let same = followed(
            FluxKind::HelmChart,
            &chart(D2),
            Expectation::default(),
            awaited,
            None,
        );
        assert_eq!(same.phase, Phase::Ready);
        let other = followed(
            FluxKind::HelmChart,
            &chart(D1),
            Expectation::default(),
            awaited,
            None,
        );
        assert_eq!(
            (other.phase, other.reason.as_str()),
            (Phase::Failed, "ChartBytesDiffer")
        );
        assert!(other.message.contains("re-pushed"), "{}", other.message);
    }

    #[test]
    fn culprit_ignores_transient_reasons() {
        // KC-DEP: a dependency waiting for its source is not the culprit.
        let dep = ks(json!({"observedGeneration": 3,
            "conditions": [cond("Ready", "False", "ArtifactFailed", "Source artifact not found, retrying in 30s")]}));
        assert_eq!(failing(FluxKind::Kustomization, &dep), None);
        let dep = ks(json!({"observedGeneration": 3,
            "conditions": [cond("Ready", "False", "BuildFailed", "kustomize build failed")]}));
        assert!(failing(FluxKind::Kustomization, &dep).is_some());
    }

    #[test]
    fn helmrelease_chartref_digest_and_stalled() {
        // HC-ATTEMPT, HC-SUCCESS, HC-REMEDIATION
        let hr = |digest: &str, ready: Value, stalled: bool| {
            let mut conds = vec![ready];
            if stalled {
                conds.push(json!({"type": "Stalled", "status": "True", "reason": "RetriesExceeded", "message": "upgrade retries exhausted"}));
            }
            json!({"metadata": {"generation": 3}, "spec": {},
                   "status": {"observedGeneration": 3, "lastAttemptedGeneration": 3,
                              "lastAttemptedRevision": "1.0.0+222222222222",
                              "lastAttemptedRevisionDigest": digest, "conditions": conds}})
        };
        let e = Expectation {
            digest: Some(D2.into()),
            ..Default::default()
        };
        let ok = json!({"type": "Ready", "status": "True", "reason": "UpgradeSucceeded", "message": "done"});
        assert_eq!(
            evaluate(FluxKind::HelmRelease, &hr(D2, ok.clone(), false), &e).phase,
            Phase::Ready
        );
        assert_eq!(
            evaluate(FluxKind::HelmRelease, &hr(D1, ok, false), &e).phase,
            Phase::Pending
        );
        let failed = json!({"type": "Ready", "status": "False", "reason": "UpgradeFailed", "message": "boom"});
        let v = evaluate(FluxKind::HelmRelease, &hr(D2, failed, true), &e);
        assert_eq!(v.phase, Phase::Failed);
        assert_eq!(v.reason, "RetriesExceeded");
    }

    fn helmchart(status: Value) -> Value {
        json!({"metadata": {"name": "flux-system-web", "namespace": "flux-system", "generation": 3},
               "spec": {"chart": "web", "version": ">=1.0.0",
                        "sourceRef": {"kind": "HelmRepository", "name": "charts"}},
               "status": status})
    }

    fn version_exp(v: &str) -> Expectation {
        Expectation {
            target_revision: Some(v.into()),
            ..Default::default()
        }
    }

    #[test]
    fn sc_helmchart_revision_is_the_chart_version() {
        // SC-HELMCHART: Ready ChartPullSucceeded at the version is done; an
        // older version is stale; a pull error is retried; a package error
        // is terminal.
        let ok = helmchart(json!({"observedGeneration": 3,
            "artifact": {"revision": "1.2.0", "digest": D1},
            "conditions": [cond("Ready", "True", "ChartPullSucceeded", "pulled 'web' chart with version '1.2.0'")]}));
        assert_eq!(
            evaluate(FluxKind::HelmChart, &ok, &version_exp("1.2.0")).phase,
            Phase::Ready
        );
        let v = evaluate(FluxKind::HelmChart, &ok, &version_exp("1.3.0"));
        assert_eq!(
            (v.phase, v.reason.as_str()),
            (Phase::Pending, "StaleRevision")
        );
        assert!(v.message.contains("waiting for 1.3.0"), "{}", v.message);
        let pull = helmchart(json!({"observedGeneration": 2,
            "artifact": {"revision": "1.2.0"},
            "conditions": [cond("Ready", "False", "ChartPullError",
                "failed to get chart version for remote reference: could not locate a version matching provided version string >=1.0.0")]}));
        let mut e = version_exp("1.3.0");
        e.started_at = Some(ts("2026-11-21T09:00:00Z"));
        assert_eq!(
            evaluate(FluxKind::HelmChart, &pull, &e).phase,
            Phase::Progressing
        );
        assert_eq!(
            classify(FluxKind::HelmChart, "ChartPackageError", ""),
            Class::Terminal
        );
        assert_eq!(
            classify(FluxKind::HelmChart, "ChartVerificationError", ""),
            Class::Transient
        );
    }

    #[test]
    fn hc_charttemplate_release_records_the_chart_version() {
        // HC-CHARTTEMPLATE: a release from a HelmChart records the chart
        // version as lastAttemptedRevision and no digest.
        let obj = json!({"metadata": {"name": "web", "namespace": "flux-system", "generation": 3},
            "spec": {"chart": {"spec": {"chart": "web", "sourceRef": {"kind": "HelmRepository", "name": "charts"}}}},
            "status": {"observedGeneration": 3, "lastAttemptedGeneration": 3,
                       "lastAttemptedRevision": "1.2.0", "helmChart": "flux-system/flux-system-web",
                       "conditions": [cond("Ready", "True", "UpgradeSucceeded", "Helm upgrade succeeded")]}});
        assert_eq!(
            evaluate(FluxKind::HelmRelease, &obj, &version_exp("1.2.0")).phase,
            Phase::Ready
        );
        let v = evaluate(FluxKind::HelmRelease, &obj, &version_exp("1.3.0"));
        assert_eq!(v.phase, Phase::Pending);
        assert!(
            v.message.contains("chart version 1.2.0, waiting for 1.3.0"),
            "{}",
            v.message
        );
        // A stalled upgrade of the target version fails; of an older one, waits.
        let mut stalled = obj.clone();
        stalled["status"]["conditions"] = json!([
            cond(
                "Stalled",
                "True",
                "RetriesExceeded",
                "Failed to upgrade after 1 attempt(s)"
            ),
            cond("Ready", "False", "UpgradeFailed", "Helm upgrade failed")
        ]);
        assert_eq!(
            evaluate(FluxKind::HelmRelease, &stalled, &version_exp("1.2.0")).phase,
            Phase::Failed
        );
        assert_ne!(
            evaluate(FluxKind::HelmRelease, &stalled, &version_exp("1.3.0")).phase,
            Phase::Failed
        );
    }

    #[test]
    fn workloads() {
        let dep = json!({"metadata": {"generation": 2}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}});
        assert_eq!(
            evaluate_workload("Deployment", &dep).phase,
            Phase::Progressing
        );
        let mut done = dep.clone();
        done["status"]["availableReplicas"] = json!(2);
        assert_eq!(evaluate_workload("Deployment", &done).phase, Phase::Ready);
        let job = json!({"metadata": {}, "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "x"}]}});
        assert_eq!(evaluate_workload("Job", &job).phase, Phase::Failed);
    }
}
