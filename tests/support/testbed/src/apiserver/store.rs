//! The in-process object store behind the API emulator.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use super::kinds::{Kinds, ResourceKind};

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreEventKind {
    /// The object was created.
    Added,
    /// The object was changed.
    Modified,
    /// The object was deleted (the event carries its last state).
    Deleted,
}

impl StoreEventKind {
    /// The watch event type: `ADDED`, `MODIFIED` or `DELETED`.
    pub fn as_watch_type(&self) -> &'static str {
        match self {
            StoreEventKind::Added => "ADDED",
            StoreEventKind::Modified => "MODIFIED",
            StoreEventKind::Deleted => "DELETED",
        }
    }
}

/// A change notification; every write (HTTP or in-process) produces one.
#[derive(Debug, Clone)]
pub struct StoreEvent {
    /// Added, Modified or Deleted.
    pub kind: StoreEventKind,
    /// The object after the change (before it, for Deleted, but with the
    /// deletion's resourceVersion).
    pub object: Value,
}

impl StoreEvent {
    /// The resourceVersion of the event's object.
    pub fn resource_version(&self) -> u64 {
        rv_of(&self.object).unwrap_or(0)
    }
}

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// No such object.
    NotFound,
    /// An object with that name already exists.
    AlreadyExists,
    /// `metadata.resourceVersion` was given and is stale.
    Conflict,
    /// The object is malformed.
    Invalid(String),
    /// The apiVersion/kind is not served.
    UnknownKind(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NotFound => write!(f, "not found"),
            StoreError::AlreadyExists => write!(f, "already exists"),
            StoreError::Conflict => write!(
                f,
                "the object has been modified; please apply your changes to the latest version and try again"
            ),
            StoreError::Invalid(m) => write!(f, "invalid: {m}"),
            StoreError::UnknownKind(k) => write!(f, "the server doesn't have a resource type {k}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// (group, plural, namespace, name); the namespace is "" for cluster-scoped kinds.
type Key = (String, String, String, String);

struct Inner {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    history: VecDeque<StoreEvent>,
    /// A watch may resume from any resourceVersion >= this one.
    oldest_resumable: u64,
    window: usize,
}

/// Thread-safe in-process object store. Cloning shares the same store.
///
/// Every write notifies watchers (both [`Store::subscribe`] receivers and
/// HTTP watches) exactly as a write through the HTTP API does.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Mutex<Inner>>,
    tx: broadcast::Sender<StoreEvent>,
    kinds: Arc<Kinds>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// The current time as the API server writes timestamps (RFC 3339, seconds, UTC).
pub fn now_rfc3339() -> String {
    let ts = jiff::Timestamp::now();
    let secs = ts.as_second();
    jiff::Timestamp::from_second(secs)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| ts.to_string())
}

fn rv_of(obj: &Value) -> Option<u64> {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
}

/// The object without metadata and status: what "spec changed" compares.
fn spec_part(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
        m.remove("apiVersion");
        m.remove("kind");
    }
    o
}

/// Apply an RFC 7386 JSON merge patch.
pub fn apply_merge_patch(target: &mut Value, patch: &Value) {
    if let Value::Object(p) = patch {
        if !target.is_object() {
            *target = Value::Object(Map::new());
        }
        if let Value::Object(t) = target {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    apply_merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
    } else {
        *target = patch.clone();
    }
}

/// Convert a core/v1 Event into its events.k8s.io/v1 form.
pub(crate) fn core_event_to_events_v1(ev: &Value) -> Value {
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!("events.k8s.io/v1"));
    out.insert("kind".into(), json!("Event"));
    let mut copy = |from: &str, to: &str| {
        if let Some(v) = ev.get(from)
            && !v.is_null()
        {
            out.insert(to.into(), v.clone());
        }
    };
    copy("metadata", "metadata");
    copy("involvedObject", "regarding");
    copy("related", "related");
    copy("reason", "reason");
    copy("message", "note");
    copy("type", "type");
    copy("action", "action");
    copy("eventTime", "eventTime");
    copy("reportingComponent", "reportingController");
    copy("reportingInstance", "reportingInstance");
    copy("firstTimestamp", "deprecatedFirstTimestamp");
    copy("lastTimestamp", "deprecatedLastTimestamp");
    copy("count", "deprecatedCount");
    copy("source", "deprecatedSource");
    if !out.contains_key("reportingController")
        && let Some(c) = ev.pointer("/source/component")
    {
        out.insert("reportingController".into(), c.clone());
    }
    if !out.contains_key("eventTime") {
        out.insert("eventTime".into(), Value::Null);
    }
    Value::Object(out)
}

/// Convert an events.k8s.io/v1 Event into the core/v1 form the store keeps.
pub(crate) fn events_v1_to_core_event(ev: &Value) -> Value {
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!("v1"));
    out.insert("kind".into(), json!("Event"));
    let mut copy = |from: &str, to: &str| {
        if let Some(v) = ev.get(from)
            && !v.is_null()
        {
            out.insert(to.into(), v.clone());
        }
    };
    copy("metadata", "metadata");
    copy("regarding", "involvedObject");
    copy("related", "related");
    copy("reason", "reason");
    copy("note", "message");
    copy("type", "type");
    copy("action", "action");
    copy("eventTime", "eventTime");
    copy("reportingController", "reportingComponent");
    copy("reportingInstance", "reportingInstance");
    copy("deprecatedFirstTimestamp", "firstTimestamp");
    copy("deprecatedLastTimestamp", "lastTimestamp");
    copy("deprecatedCount", "count");
    copy("deprecatedSource", "source");
    Value::Object(out)
}

impl Store {
    /// A new store serving all kinds (Flux included), with a watch window of
    /// 1000 events, and the namespaces `default` and `kube-system`.
    pub fn new() -> Store {
        Store::with_options(true, 1000)
    }

    /// A new store; `flux` says whether Flux kinds are served, `window` how
    /// many events are kept for watch resumption.
    pub fn with_options(flux: bool, window: usize) -> Store {
        let (tx, _) = broadcast::channel(4096);
        let store = Store {
            inner: Arc::new(Mutex::new(Inner {
                rv: 0,
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                oldest_resumable: 0,
                window: window.max(1),
            })),
            tx,
            kinds: Arc::new(Kinds::new(flux)),
        };
        for ns in ["default", "kube-system"] {
            let _ = store.create(json!({
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}
            }));
        }
        store
    }

    /// The kinds this store serves.
    pub fn kinds(&self) -> &Kinds {
        &self.kinds
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn resolve(&self, api_version: &str, kind: &str) -> Result<&'static ResourceKind, StoreError> {
        self.kinds
            .by_kind(api_version, kind)
            .ok_or_else(|| StoreError::UnknownKind(format!("{api_version}/{kind}")))
    }

    /// The storage form of a kind: events.k8s.io events are kept as core events.
    fn storage_kind(rk: &'static ResourceKind) -> (&'static str, &'static str) {
        if rk.is_events_k8s_io() {
            ("", "events")
        } else {
            (rk.group, rk.plural)
        }
    }

    fn key(rk: &'static ResourceKind, namespace: &str, name: &str) -> Key {
        let (g, p) = Self::storage_kind(rk);
        let ns = if rk.namespaced { namespace } else { "" };
        (
            g.to_string(),
            p.to_string(),
            ns.to_string(),
            name.to_string(),
        )
    }

    /// Render a stored object for a kind (converts events for events.k8s.io).
    fn present(rk: &'static ResourceKind, obj: &Value) -> Value {
        if rk.is_events_k8s_io() {
            core_event_to_events_v1(obj)
        } else {
            obj.clone()
        }
    }

    fn commit(&self, inner: &mut Inner, kind: StoreEventKind, object: Value) {
        let ev = StoreEvent { kind, object };
        inner.history.push_back(ev.clone());
        while inner.history.len() > inner.window {
            if let Some(old) = inner.history.pop_front() {
                inner.oldest_resumable = old.resource_version();
            }
        }
        // No receivers is fine.
        let _ = self.tx.send(ev);
    }

    fn next_rv(inner: &mut Inner) -> u64 {
        inner.rv += 1;
        inner.rv
    }

    /// Create an object. `apiVersion` + `kind` pick the resource; sets
    /// `uid`, `creationTimestamp`, `resourceVersion` and `generation` (1).
    /// `metadata.generateName` is honoured when `name` is absent.
    pub fn create(&self, obj: Value) -> Result<Value, StoreError> {
        let api_version = obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| StoreError::Invalid("apiVersion is required".into()))?
            .to_string();
        let kind = obj
            .get("kind")
            .and_then(Value::as_str)
            .ok_or_else(|| StoreError::Invalid("kind is required".into()))?
            .to_string();
        let rk = self.resolve(&api_version, &kind)?;
        let mut obj = if rk.is_events_k8s_io() {
            events_v1_to_core_event(&obj)
        } else {
            obj
        };
        if !obj.get("metadata").is_some_and(Value::is_object) {
            obj["metadata"] = json!({});
        }
        let mut name = meta_str(&obj, "name").unwrap_or("").to_string();
        if name.is_empty() {
            match meta_str(&obj, "generateName") {
                Some(prefix) if !prefix.is_empty() => {
                    let suffix: String = uuid::Uuid::new_v4().simple().to_string()[..5].to_string();
                    name = format!("{prefix}{suffix}");
                    obj["metadata"]["name"] = json!(name);
                }
                _ => {
                    return Err(StoreError::Invalid(
                        "metadata.name: Required value: name or generateName is required".into(),
                    ));
                }
            }
        }
        let namespace = meta_str(&obj, "namespace").unwrap_or("").to_string();
        if rk.namespaced && namespace.is_empty() {
            return Err(StoreError::Invalid(
                "metadata.namespace: Required value".into(),
            ));
        }
        if !rk.namespaced
            && let Some(m) = obj["metadata"].as_object_mut()
        {
            m.remove("namespace");
        }
        let key = Self::key(rk, &namespace, &name);
        let mut inner = self.lock();
        if inner.objects.contains_key(&key) {
            return Err(StoreError::AlreadyExists);
        }
        let rv = Self::next_rv(&mut inner);
        let meta = obj["metadata"]
            .as_object_mut()
            .ok_or(StoreError::Invalid("metadata".into()))?;
        meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
        meta.insert("generation".into(), json!(1));
        meta.remove("deletionTimestamp");
        meta.remove("managedFields");
        if rk.kind == "Namespace" && rk.group.is_empty() {
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
            obj["status"] = json!({"phase": "Active"});
        }
        inner.objects.insert(key, obj.clone());
        self.commit(&mut inner, StoreEventKind::Added, obj.clone());
        Ok(Self::present(rk, &obj))
    }

    /// Get one object (`namespace` is ignored for cluster-scoped kinds).
    pub fn get(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let rk = self.resolve(api_version, kind).ok()?;
        let inner = self.lock();
        inner
            .objects
            .get(&Self::key(rk, namespace, name))
            .map(|o| Self::present(rk, o))
    }

    /// List objects of a kind, in one namespace or (None) all of them,
    /// sorted by namespace then name.
    pub fn list(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        self.list_with_rv(api_version, kind, namespace)
            .map(|(items, _)| items)
            .unwrap_or_default()
    }

    /// Like [`Store::list`], also returning the store's resourceVersion at
    /// the time of the list (what a List's `metadata.resourceVersion` says).
    pub fn list_with_rv(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Result<(Vec<Value>, u64), StoreError> {
        let mut items = Vec::new();
        let rv = self.for_each_with_rv(api_version, kind, namespace, |o| items.push(o.clone()))?;
        Ok((items, rv))
    }

    /// Like [`Store::list_with_rv`] without copying: `f` sees each object
    /// (sorted by namespace then name) by reference, under the store's lock,
    /// so it must not call back into the store. Serving a big list this way
    /// saves a deep copy of every object.
    pub fn for_each_with_rv(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        mut f: impl FnMut(&Value),
    ) -> Result<u64, StoreError> {
        let rk = self.resolve(api_version, kind)?;
        let (g, p) = Self::storage_kind(rk);
        // Keys sort by group, plural, namespace, name: read only the range
        // of this kind (and namespace), not every object in the store.
        let ns = namespace.filter(|_| rk.namespaced);
        let from: Key = (
            g.to_string(),
            p.to_string(),
            ns.unwrap_or("").to_string(),
            String::new(),
        );
        let inner = self.lock();
        for (_, o) in inner
            .objects
            .range(from..)
            .take_while(|((kg, kp, kns, _), _)| kg == g && kp == p && ns.is_none_or(|ns| kns == ns))
        {
            if rk.is_events_k8s_io() {
                f(&core_event_to_events_v1(o));
            } else {
                f(o);
            }
        }
        Ok(inner.rv)
    }

    /// The latest resourceVersion handed out.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// Replace an object (main-resource semantics): 409 Conflict when
    /// `metadata.resourceVersion` is set and stale; `generation` bumped only
    /// when the spec changes; `.status` kept from the stored object for kinds
    /// with a status subresource.
    pub fn update(&self, obj: Value) -> Result<Value, StoreError> {
        self.update_inner(obj, false)
    }

    fn update_inner(&self, obj: Value, status_only: bool) -> Result<Value, StoreError> {
        let api_version = obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| StoreError::Invalid("apiVersion is required".into()))?;
        let kind = obj
            .get("kind")
            .and_then(Value::as_str)
            .ok_or_else(|| StoreError::Invalid("kind is required".into()))?;
        let rk = self.resolve(api_version, kind)?;
        let obj = if rk.is_events_k8s_io() {
            events_v1_to_core_event(&obj)
        } else {
            obj
        };
        let name = meta_str(&obj, "name")
            .filter(|n| !n.is_empty())
            .ok_or_else(|| StoreError::Invalid("metadata.name: Required value".into()))?
            .to_string();
        let namespace = meta_str(&obj, "namespace").unwrap_or("").to_string();
        let key = Self::key(rk, &namespace, &name);
        let mut inner = self.lock();
        let old = inner
            .objects
            .get(&key)
            .cloned()
            .ok_or(StoreError::NotFound)?;
        if let Some(given) = meta_str(&obj, "resourceVersion").filter(|s| !s.is_empty())
            && Some(given) != meta_str(&old, "resourceVersion")
        {
            return Err(StoreError::Conflict);
        }
        let mut new = if status_only {
            let mut n = old.clone();
            match obj.get("status") {
                Some(s) => n["status"] = s.clone(),
                None => {
                    if let Some(m) = n.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            n
        } else {
            let mut n = obj.clone();
            if rk.status {
                match old.get("status") {
                    Some(s) => n["status"] = s.clone(),
                    None => {
                        if let Some(m) = n.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
            }
            n
        };
        if !new.get("metadata").is_some_and(Value::is_object) {
            return Err(StoreError::Invalid("metadata must be an object".into()));
        }
        // Immutable / server-owned metadata.
        for f in [
            "uid",
            "creationTimestamp",
            "namespace",
            "name",
            "deletionTimestamp",
        ] {
            match old["metadata"].get(f) {
                Some(v) => new["metadata"][f] = v.clone(),
                None => {
                    if let Some(m) = new["metadata"].as_object_mut() {
                        m.remove(f);
                    }
                }
            }
        }
        if let Some(m) = new["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
        new["apiVersion"] = old["apiVersion"].clone();
        new["kind"] = old["kind"].clone();
        let old_gen = old["metadata"]["generation"].as_i64().unwrap_or(1);
        let generation = if spec_part(&old) != spec_part(&new) {
            old_gen + 1
        } else {
            old_gen
        };
        new["metadata"]["generation"] = json!(generation);
        // Nothing changed: no new resourceVersion, no event (like the real server).
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        if new == old {
            return Ok(Self::present(rk, &new));
        }
        let rv = Self::next_rv(&mut inner);
        new["metadata"]["resourceVersion"] = json!(rv.to_string());
        inner.objects.insert(key, new.clone());
        self.commit(&mut inner, StoreEventKind::Modified, new.clone());
        Ok(Self::present(rk, &new))
    }

    /// Replace `.status` only (the `/status` subresource).
    pub fn update_status(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        status: Value,
    ) -> Result<Value, StoreError> {
        let rk = self.resolve(api_version, kind)?;
        let mut obj = self
            .get(api_version, kind, namespace, name)
            .ok_or(StoreError::NotFound)?;
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("resourceVersion");
        }
        obj["status"] = status;
        if rk.status {
            self.update_inner(obj, true)
        } else {
            self.update_inner(obj, false)
        }
    }

    /// Replace `.status` of the given object (the HTTP `PUT .../status`),
    /// checking `metadata.resourceVersion` when set.
    pub fn update_status_object(&self, obj: Value) -> Result<Value, StoreError> {
        self.update_inner(obj, true)
    }

    /// Apply a JSON merge patch to the object (main-resource semantics:
    /// `.status` changes are ignored for kinds with a status subresource;
    /// a `metadata.resourceVersion` in the patch is checked).
    pub fn merge_patch(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        patch: Value,
    ) -> Result<Value, StoreError> {
        self.patch_with(api_version, kind, namespace, name, false, |obj| {
            apply_merge_patch(obj, &patch);
            Ok(())
        })
    }

    /// Apply a JSON merge patch through the `/status` subresource (only
    /// `.status` changes are kept).
    pub fn merge_patch_status(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        patch: Value,
    ) -> Result<Value, StoreError> {
        self.patch_with(api_version, kind, namespace, name, true, |obj| {
            apply_merge_patch(obj, &patch);
            Ok(())
        })
    }

    /// Read-modify-write an object with `f`; `status` selects the `/status`
    /// subresource semantics. Retries internally when a concurrent write
    /// races (unless the patch itself pins a resourceVersion).
    pub fn patch_with(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        status: bool,
        mut f: impl FnMut(&mut Value) -> Result<(), StoreError>,
    ) -> Result<Value, StoreError> {
        let rk = self.resolve(api_version, kind)?;
        loop {
            let current = self
                .get(api_version, kind, namespace, name)
                .ok_or(StoreError::NotFound)?;
            let current_rv = meta_str(&current, "resourceVersion").map(str::to_string);
            let mut obj = current.clone();
            f(&mut obj)?;
            let pinned = meta_str(&obj, "resourceVersion").map(str::to_string);
            let pinned_by_patch = pinned != current_rv;
            if !pinned_by_patch {
                // Optimistic concurrency on our own read.
                obj["metadata"]["resourceVersion"] = json!(current_rv);
            }
            if !obj.get("metadata").is_some_and(Value::is_object) {
                return Err(StoreError::Invalid("metadata must be an object".into()));
            }
            obj["apiVersion"] = json!(rk.api_version());
            obj["kind"] = json!(rk.kind);
            obj["metadata"]["name"] = json!(name);
            if rk.namespaced {
                obj["metadata"]["namespace"] = json!(namespace);
            }
            let res = self.update_inner(obj, status && rk.status);
            match res {
                Err(StoreError::Conflict) if !pinned_by_patch => continue,
                other => return other,
            }
        }
    }

    /// Delete an object; returns its last state.
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Value, StoreError> {
        let rk = self.resolve(api_version, kind)?;
        let key = Self::key(rk, namespace, name);
        let mut inner = self.lock();
        let mut obj = inner.objects.remove(&key).ok_or(StoreError::NotFound)?;
        let rv = Self::next_rv(&mut inner);
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.commit(&mut inner, StoreEventKind::Deleted, obj.clone());
        Ok(Self::present(rk, &obj))
    }

    /// Receive every change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<StoreEvent> {
        self.tx.subscribe()
    }

    /// Atomically: the events after `rv` still in the window (None when `rv`
    /// is too old: 410 Gone), the current objects (for `rv` = None), and a
    /// receiver for everything after that.
    pub(crate) fn watch_from(
        &self,
        rv: Option<u64>,
    ) -> (
        Option<Vec<StoreEvent>>,
        u64,
        broadcast::Receiver<StoreEvent>,
    ) {
        let inner = self.lock();
        let rx = self.tx.subscribe();
        let replay = match rv {
            None => Some(
                inner
                    .objects
                    .values()
                    .map(|o| StoreEvent {
                        kind: StoreEventKind::Added,
                        object: o.clone(),
                    })
                    .collect(),
            ),
            Some(n) if n < inner.oldest_resumable => None,
            Some(n) => Some(
                inner
                    .history
                    .iter()
                    .filter(|e| e.resource_version() > n)
                    .cloned()
                    .collect(),
            ),
        };
        (replay, inner.rv, rx)
    }

    /// Forget all history: a watch resuming from an older resourceVersion
    /// gets 410 Gone.
    pub fn compact(&self) {
        let mut inner = self.lock();
        inner.history.clear();
        inner.oldest_resumable = inner.rv;
    }

    /// Record a core/v1 Event about `involved` (any object with apiVersion,
    /// kind and metadata). Repeated identical events bump `count` and
    /// `lastTimestamp` like the client-go event recorder. The event is
    /// also visible through events.k8s.io/v1.
    pub fn record_event(
        &self,
        involved: &Value,
        type_: &str,
        reason: &str,
        message: &str,
    ) -> Value {
        let ns = meta_str(involved, "namespace")
            .unwrap_or("default")
            .to_string();
        let name = meta_str(involved, "name").unwrap_or("").to_string();
        let involved_ref = json!({
            "apiVersion": involved.get("apiVersion").cloned().unwrap_or(Value::Null),
            "kind": involved.get("kind").cloned().unwrap_or(Value::Null),
            "name": name,
            "namespace": ns,
            "uid": involved.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
            "resourceVersion": involved.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null),
        });
        let component = component_for(
            involved
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or(""),
        );
        let now = now_rfc3339();
        // Aggregate identical events.
        let existing = self.list("v1", "Event", Some(&ns)).into_iter().find(|e| {
            e.pointer("/involvedObject/uid") == involved_ref.get("uid")
                && e.pointer("/involvedObject/name") == involved_ref.get("name")
                && e.get("reason").and_then(Value::as_str) == Some(reason)
                && e.get("message").and_then(Value::as_str) == Some(message)
                && e.get("type").and_then(Value::as_str) == Some(type_)
        });
        if let Some(e) = existing {
            let ename = meta_str(&e, "name").unwrap_or("").to_string();
            let count = e.get("count").and_then(Value::as_i64).unwrap_or(1) + 1;
            if let Ok(v) = self.merge_patch(
                "v1",
                "Event",
                &ns,
                &ename,
                json!({"count": count, "lastTimestamp": now}),
            ) {
                return v;
            }
        }
        let ts_nanos = jiff::Timestamp::now().as_nanosecond();
        let ev = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": format!("{name}.{:x}", ts_nanos), "namespace": ns},
            "involvedObject": involved_ref,
            "reason": reason,
            "message": message,
            "type": type_,
            "source": {"component": component},
            "reportingComponent": component,
            "reportingInstance": "",
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "eventTime": null,
        });
        match self.create(ev.clone()) {
            Ok(v) => v,
            Err(_) => ev,
        }
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

/// The Flux controller that reports events for a given apiVersion.
fn component_for(api_version: &str) -> &'static str {
    let group = api_version.split('/').next().unwrap_or("");
    match group {
        "source.toolkit.fluxcd.io" => "source-controller",
        "kustomize.toolkit.fluxcd.io" => "kustomize-controller",
        "helm.toolkit.fluxcd.io" => "helm-controller",
        "notification.toolkit.fluxcd.io" => "notification-controller",
        _ => "testbed",
    }
}
