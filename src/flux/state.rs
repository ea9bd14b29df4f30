//! What "done", "failed" and "stale" mean for each kind (facts.md B):
//! pure functions from an object's JSON and what we expect of it to a
//! [`Verdict`].

use serde::Serialize;
use serde_json::Value;

use super::kinds::FluxKind;
use super::selector::revision_digest;
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

/// Ready=False reasons that mean "still working on it", not failure.
const NOT_FAILURES: &[&str] = &[
    "Progressing",
    "ProgressingWithRetry",
    "DependencyNotReady",
    "",
];

fn short(rev: &str) -> String {
    // main@sha256:abcdef… → main@sha256:abcdef012345
    match rev.find("sha256:") {
        Some(i) if rev.len() > i + 7 + 12 => {
            format!("{}{}", &rev[..i + 7], &rev[i + 7..i + 7 + 12])
        }
        _ => rev.to_string(),
    }
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
    if obj.at("/spec/suspend").and_then(Value::as_bool) == Some(true) {
        return Verdict::new(
            Phase::Suspended,
            "Suspended",
            "reconciliation is suspended (spec.suspend: true); flux resume to continue",
            revision,
        );
    }

    // Is the failure (if any) ours: tied to the target revision, our
    // request, or fresh since the wait began?
    let attempted_target = match kind {
        FluxKind::Kustomization => match (
            &exp.target_revision,
            str_at(obj, "/status/lastAttemptedRevision"),
        ) {
            (Some(t), Some(a)) => t == a,
            _ => false,
        },
        FluxKind::HelmRelease => {
            let digest_ok = match (
                &exp.digest,
                str_at(obj, "/status/lastAttemptedRevisionDigest"),
            ) {
                (Some(d), Some(a)) => d == a,
                (Some(_), None) => false,
                (None, _) => true,
            };
            let gen_ok = obj
                .at("/status/lastAttemptedGeneration")
                .and_then(Value::as_i64)
                == Some(generation);
            digest_ok && gen_ok && exp.digest.is_some()
        }
        _ => match (&exp.digest, revision.as_deref()) {
            (Some(d), Some(r)) => revision_digest(r) == Some(d.as_str()),
            _ => false,
        },
    };
    let fresh = |c: &Condition<'_>| match (exp.started_at, c.last_transition) {
        (Some(start), Some(t)) => t.parse::<jiff::Timestamp>().is_ok_and(|t| t >= start),
        _ => false,
    };
    // A consumer with a known target revision fails only for an attempt at
    // that revision: an ArtifactFailed from before its source fetched the
    // artifact, or a failure of the previous revision, is retried by the
    // controller. Without a target, our request or the clock decide.
    let consumer_with_target = matches!(kind, FluxKind::Kustomization | FluxKind::HelmRelease)
        && (exp.target_revision.is_some() || exp.digest.is_some());
    let ours = |c: &Condition<'_>| {
        attempted_target
            || (!consumer_with_target && ((exp.token.is_some() && token_handled) || fresh(c)))
    };

    // kustomize-controller moves status.observedGeneration only on success;
    // a failure is tied to a generation through its condition.
    let at_generation = |c: &Condition<'_>| {
        c.observed_generation
            .map_or(observed == generation, |g| g == generation)
    };
    if let Some(s) = &stalled
        && (ours(s) || at_generation(s))
    {
        return Verdict::new(Phase::Failed, s.reason, s.message, revision);
    }
    if let Some(r) = &ready
        && r.status == "False"
        && !NOT_FAILURES.contains(&r.reason)
        && at_generation(r)
        && ours(r)
    {
        return Verdict::new(Phase::Failed, r.reason, r.message, revision);
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

    // At the target?
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
                Some(d)
                    if str_at(obj, "/status/lastAttemptedRevisionDigest") != Some(d.as_str()) =>
                {
                    Err(format!(
                        "chart digest {}, waiting for {}",
                        str_at(obj, "/status/lastAttemptedRevisionDigest")
                            .map_or("none".to_string(), short),
                        short(d)
                    ))
                }
                _ if !gen_ok => Err(format!("waiting for an attempt at generation {generation}")),
                _ => Ok(()),
            }
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

    match (&ready, at_target) {
        (Some(r), Ok(())) if r.status == "True" => {
            Verdict::new(Phase::Ready, r.reason, r.message, revision)
        }
        (Some(r), Err(why)) if r.status == "True" => {
            Verdict::new(Phase::Pending, "StaleRevision", why, revision)
        }
        (Some(r), Err(why)) => Verdict::new(
            if r.reason == "DependencyNotReady" {
                Phase::Pending
            } else {
                Phase::Progressing
            },
            r.reason,
            if r.message.is_empty() {
                why
            } else {
                format!("{}; {why}", r.message)
            },
            revision,
        ),
        (Some(r), Ok(())) => Verdict::new(
            if r.reason == "DependencyNotReady" {
                Phase::Pending
            } else {
                Phase::Progressing
            },
            r.reason,
            r.message,
            revision,
        ),
        (None, _) => Verdict::new(
            Phase::Progressing,
            "Progressing",
            "no Ready condition yet",
            revision,
        ),
    }
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
            "conditions": [cond("Ready", "False", "HealthCheckFailed", "timeout")]}),
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

    #[test]
    fn helmrelease_chartref_digest_and_stalled() {
        let hr = |digest: &str, ready: Value, stalled: bool| {
            let mut conds = vec![ready];
            if stalled {
                conds.push(json!({"type": "Stalled", "status": "True", "reason": "RetriesExceeded", "message": "upgrade retries exhausted"}));
            }
            json!({"metadata": {"generation": 2}, "spec": {},
                   "status": {"observedGeneration": 2, "lastAttemptedGeneration": 2,
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
