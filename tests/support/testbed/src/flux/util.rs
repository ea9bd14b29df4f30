//! Small helpers shared by the simulated controllers: Go durations,
//! timestamps, condition bookkeeping and tolerant JSON accessors.

use std::time::Duration;

use serde_json::{Map, Value, json};

/// Annotation carrying a reconcile request.
pub const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";
/// HelmRelease: force a release action when equal to `requestedAt`.
pub const FORCE_AT: &str = "reconcile.fluxcd.io/forceAt";
/// HelmRelease: reset failure counters when equal to `requestedAt`.
pub const RESET_AT: &str = "reconcile.fluxcd.io/resetAt";

/// Parse a Go `time.ParseDuration` string (`1m`, `10m0s`, `1.5h`, `300ms`).
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.starts_with('-') {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += n * factor;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// Format a duration like Go's `time.Duration.String()` (`10m0s`, `312ms`).
pub fn format_go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", trim_frac(nanos as f64 / 1e3));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", trim_frac(nanos as f64 / 1e6));
    }
    let total_secs = d.as_secs();
    let h = total_secs / 3600;
    let m = (total_secs % 3600) / 60;
    let s = (total_secs % 60) as f64 + f64::from(d.subsec_nanos()) / 1e9;
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{}s", trim_frac(s)));
    out
}

fn trim_frac(v: f64) -> String {
    let s = format!("{v:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Now as a Kubernetes `metav1.Time` (RFC 3339, seconds, UTC).
pub fn now_k8s() -> String {
    let ts = jiff::Timestamp::now();
    jiff::Timestamp::from_second(ts.as_second())
        .unwrap_or(ts)
        .to_string()
}

/// Now as Go's RFC3339Nano (trailing zeros trimmed), as `flux reconcile` writes it.
pub fn now_rfc3339_nano() -> String {
    jiff::Timestamp::now().to_string()
}

/// Now as Go's `time.Time.String()` of `metav1.Now()`, the value
/// notification-controller writes to `reconcile.fluxcd.io/requestedAt`
/// (`2006-01-02 15:04:05.999999999 +0000 UTC m=+1.234567890`; the
/// monotonic part counts from the simulator's start).
pub fn now_go_time_string() -> String {
    use std::sync::OnceLock;
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    let mono = START.get_or_init(std::time::Instant::now).elapsed();
    let ts = jiff::Timestamp::now();
    let base = ts.strftime("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = ts.subsec_nanosecond();
    let frac = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_string()
    };
    format!(
        "{base}{frac} +0000 UTC m=+{}.{:09}",
        mono.as_secs(),
        mono.subsec_nanos()
    )
}

/// `metadata.<field>` as a string.
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

/// The object's name ("" when missing).
pub fn name_of(obj: &Value) -> &str {
    meta_str(obj, "name").unwrap_or("")
}

/// The object's namespace ("" when missing).
pub fn ns_of(obj: &Value) -> &str {
    meta_str(obj, "namespace").unwrap_or("")
}

/// `metadata.generation` (1 when missing).
pub fn generation_of(obj: &Value) -> i64 {
    obj.pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

/// An annotation value.
pub fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.get("metadata")?.get("annotations")?.get(key)?.as_str()
}

/// A string at a JSON pointer.
pub fn str_at<'a>(obj: &'a Value, pointer: &str) -> Option<&'a str> {
    obj.pointer(pointer).and_then(Value::as_str)
}

/// A bool at a JSON pointer (false when missing or not a bool).
pub fn bool_at(obj: &Value, pointer: &str) -> bool {
    obj.pointer(pointer)
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// The object's status as a map (empty when missing or malformed).
pub fn status_map(obj: &Value) -> Map<String, Value> {
    obj.get("status")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Find a condition by type.
pub fn condition<'a>(status: &'a Map<String, Value>, type_: &str) -> Option<&'a Value> {
    status
        .get("conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
}

/// Whether the object's Ready condition is True at its current generation.
pub fn is_ready(obj: &Value) -> bool {
    let st = status_map(obj);
    let ready = condition(&st, "Ready")
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        == Some("True");
    let observed = st.get("observedGeneration").and_then(Value::as_i64);
    ready && observed == Some(generation_of(obj))
}

/// Set (or replace) a condition as fluxcd/pkg `conditions.Set` does
/// (PKG-LTT): `lastTransitionTime` (whole seconds, UTC) changes when the
/// status, reason OR message changes, `observedGeneration` is always
/// updated, and conditions are kept sorted Stalled, Reconciling, Ready, then
/// the others by type.
pub fn set_condition(
    status: &mut Map<String, Value>,
    type_: &str,
    cond_status: &str,
    reason: &str,
    message: &str,
    generation: i64,
) {
    let mut conds: Vec<Value> = status
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let existing = conds
        .iter()
        .position(|c| c.get("type").and_then(Value::as_str) == Some(type_));
    let same_state = |c: &Value| {
        c.get("status").and_then(Value::as_str) == Some(cond_status)
            && c.get("reason").and_then(Value::as_str) == Some(reason)
            && c.get("message").and_then(Value::as_str) == Some(message)
    };
    let ltt = existing
        .and_then(|i| conds.get(i))
        .filter(|c| same_state(c))
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| json!(now_k8s()));
    let cond = json!({
        "type": type_,
        "status": cond_status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": ltt,
        "observedGeneration": generation,
    });
    match existing {
        Some(i) => conds[i] = cond,
        None => conds.push(cond),
    }
    conds.sort_by(|a, b| {
        let ta = a.get("type").and_then(Value::as_str).unwrap_or("");
        let tb = b.get("type").and_then(Value::as_str).unwrap_or("");
        condition_rank(ta)
            .cmp(&condition_rank(tb))
            .then_with(|| ta.cmp(tb))
    });
    status.insert("conditions".into(), Value::Array(conds));
}

fn condition_rank(t: &str) -> u8 {
    match t {
        "Stalled" => 0,
        "Reconciling" => 1,
        "Ready" => 2,
        _ => 3,
    }
}

/// fluxcd/pkg `conditions.MarkReconciling`: Reconciling True, Stalled
/// removed (PKG-LTT).
pub fn mark_reconciling(
    status: &mut Map<String, Value>,
    reason: &str,
    message: &str,
    generation: i64,
) {
    remove_condition(status, "Stalled");
    set_condition(status, "Reconciling", "True", reason, message, generation);
}

/// fluxcd/pkg `conditions.MarkStalled`: Stalled True, Reconciling removed.
pub fn mark_stalled(status: &mut Map<String, Value>, reason: &str, message: &str, generation: i64) {
    remove_condition(status, "Reconciling");
    set_condition(status, "Stalled", "True", reason, message, generation);
}

/// The controllers' end-of-reconcile rule (kustomize-controller
/// `finalizeStatus`, source-controller `ComputeReconcileResult`): a
/// Reconciling condition that survives a failed reconcile keeps its
/// message and takes the reason `ProgressingWithRetry` (KC-RETRY).
pub fn retry_reconciling(status: &mut Map<String, Value>, generation: i64) {
    let Some(c) = condition(status, "Reconciling").cloned() else {
        return;
    };
    let msg = c.get("message").and_then(Value::as_str).unwrap_or("");
    let st = c.get("status").and_then(Value::as_str).unwrap_or("True");
    set_condition(
        status,
        "Reconciling",
        st,
        "ProgressingWithRetry",
        msg,
        generation,
    );
}

/// Remove a condition by type.
pub fn remove_condition(status: &mut Map<String, Value>, type_: &str) {
    if let Some(Value::Array(conds)) = status.get_mut("conditions") {
        conds.retain(|c| c.get("type").and_then(Value::as_str) != Some(type_));
    }
}

/// Copy the reconcile request annotation to `lastHandledReconcileAt`.
pub fn handle_request(obj: &Value, status: &mut Map<String, Value>) {
    if let Some(at) = annotation(obj, REQUESTED_AT) {
        status.insert("lastHandledReconcileAt".into(), json!(at));
    }
}

/// Whether the object carries a reconcile request not yet handled.
pub fn has_pending_request(obj: &Value) -> bool {
    match annotation(obj, REQUESTED_AT) {
        Some(at) => str_at(obj, "/status/lastHandledReconcileAt") != Some(at),
        None => false,
    }
}

/// Whether the spec changed since the last completed reconcile.
pub fn has_new_generation(obj: &Value) -> bool {
    obj.pointer("/status/observedGeneration")
        .and_then(Value::as_i64)
        != Some(generation_of(obj))
}

/// `spec.interval` parsed (default `default`).
pub fn interval_of(obj: &Value, default: Duration) -> Duration {
    str_at(obj, "/spec/interval")
        .and_then(parse_go_duration)
        .filter(|d| !d.is_zero())
        .unwrap_or(default)
}

/// Hex sha256 of bytes, prefixed `sha256:`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go_duration("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_go_duration("10m0s"), Some(Duration::from_secs(600)));
        assert_eq!(parse_go_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("abc"), None);
        assert_eq!(parse_go_duration("5x"), None);
        assert_eq!(parse_go_duration(""), None);
        assert_eq!(parse_go_duration("-1s"), None);
    }

    #[test]
    fn go_durations_format() {
        assert_eq!(format_go_duration(Duration::from_secs(600)), "10m0s");
        assert_eq!(format_go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_go_duration(Duration::from_millis(312)), "312ms");
        assert_eq!(format_go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_go_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn conditions_keep_transition_time() {
        let mut st = Map::new();
        set_condition(&mut st, "Ready", "True", "Succeeded", "ok", 1);
        let first = condition(&st, "Ready").cloned().unwrap_or_default();
        set_condition(&mut st, "Reconciling", "True", "Progressing", "x", 2);
        set_condition(&mut st, "Ready", "True", "Succeeded", "ok", 2);
        let again = condition(&st, "Ready").cloned().unwrap_or_default();
        assert_eq!(first["lastTransitionTime"], again["lastTransitionTime"]);
        assert_eq!(again["observedGeneration"], 2);
        // PKG-LTT: a new message is a transition too.
        std::thread::sleep(Duration::from_millis(1100));
        set_condition(&mut st, "Ready", "True", "Succeeded", "ok again", 2);
        let moved = condition(&st, "Ready").cloned().unwrap_or_default();
        assert_ne!(first["lastTransitionTime"], moved["lastTransitionTime"]);
        set_condition(&mut st, "Stalled", "True", "X", "y", 2);
        set_condition(&mut st, "Healthy", "True", "X", "y", 2);
        set_condition(&mut st, "ArtifactInStorage", "True", "X", "y", 2);
        let types: Vec<_> = st["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| c["type"].as_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(
            types,
            [
                "Stalled",
                "Reconciling",
                "Ready",
                "ArtifactInStorage",
                "Healthy"
            ]
        );
        remove_condition(&mut st, "Reconciling");
        assert!(condition(&st, "Reconciling").is_none());
    }
}
