//! Bounded polling helpers for tests that drive the simulator through the
//! [`Store`].

use std::time::{Duration, Instant};

use serde_json::Value;

use super::util;
use crate::apiserver::Store;

/// A condition of an object as `(status, reason, message)`.
pub fn condition(obj: &Value, type_: &str) -> Option<(String, String, String)> {
    let status = util::status_map(obj);
    let c = util::condition(&status, type_)?;
    let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    Some((s("status"), s("reason"), s("message")))
}

/// The `Ready` condition's `(status, reason, message)`.
pub fn ready(obj: &Value) -> Option<(String, String, String)> {
    condition(obj, "Ready")
}

/// Whether `Ready` has the given status and reason.
pub fn ready_is(obj: &Value, status: &str, reason: &str) -> bool {
    ready(obj).is_some_and(|(s, r, _)| s == status && r == reason)
}

/// Poll the object every 25 ms until `pred` holds; errors after `timeout`
/// with the object's last state.
pub fn wait_for(
    store: &Store,
    api_version: &str,
    kind: &str,
    namespace: &str,
    name: &str,
    timeout: Duration,
    mut pred: impl FnMut(&Value) -> bool,
) -> anyhow::Result<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let obj = store.get(api_version, kind, namespace, name);
        if let Some(o) = &obj
            && pred(o)
        {
            return Ok(o.clone());
        }
        if Instant::now() >= deadline {
            let last = obj
                .map(|o| serde_json::to_string_pretty(&o).unwrap_or_default())
                .unwrap_or_else(|| "<absent>".into());
            anyhow::bail!(
                "timed out after {timeout:?} waiting for {kind} {namespace}/{name}; last state:\n{last}"
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Events recorded about an object, oldest first, as `(type, reason, message)`.
pub fn events_for(
    store: &Store,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Vec<(String, String, String)> {
    store
        .list("v1", "Event", Some(namespace))
        .into_iter()
        .filter(|e| {
            e.pointer("/involvedObject/kind").and_then(Value::as_str) == Some(kind)
                && e.pointer("/involvedObject/name").and_then(Value::as_str) == Some(name)
        })
        .map(|e| {
            let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            (s("type"), s("reason"), s("message"))
        })
        .collect()
}
