//! Request routing and the Kubernetes REST semantics.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::kinds::{ResourceKind, split_api_version};
use super::selectors::Selector;
use super::server::{RequestRecord, Shared};
use super::store::{StoreError, StoreEvent, apply_merge_patch, core_event_to_events_v1};

pub(crate) type Body = BoxBody<Bytes, std::io::Error>;

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into())
        .map_err(|n: Infallible| match n {})
        .boxed()
}

fn json_response(code: StatusCode, v: &Value) -> Response<Body> {
    let mut r = Response::new(full(serde_json::to_vec(v).unwrap_or_default()));
    *r.status_mut() = code;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn status_obj(code: u16, reason: &str, message: &str, details: Option<Value>) -> Value {
    let mut s = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if let Some(d) = details {
        s["details"] = d;
    }
    s
}

fn status_response(
    code: u16,
    reason: &str,
    message: &str,
    details: Option<Value>,
) -> Response<Body> {
    json_response(
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &status_obj(code, reason, message, details),
    )
}

fn not_found_path() -> Response<Body> {
    status_response(
        404,
        "NotFound",
        "the server could not find the requested resource",
        Some(json!({})),
    )
}

fn unsupported_media_type(ct: &str) -> Response<Body> {
    status_response(
        415,
        "UnsupportedMediaType",
        &format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {ct:?})"
        ),
        None,
    )
}

fn bad_request(msg: &str) -> Response<Body> {
    status_response(400, "BadRequest", msg, None)
}

fn details(rk: &ResourceKind, name: &str) -> Value {
    let mut d = json!({"group": rk.group, "kind": rk.plural});
    if !name.is_empty() {
        d["name"] = json!(name);
    }
    d
}

/// A Status response for a store error, worded like the real API server.
fn store_error(rk: &ResourceKind, name: &str, e: &StoreError) -> Response<Body> {
    let q = rk.qualified();
    match e {
        StoreError::NotFound => status_response(
            404,
            "NotFound",
            &format!("{q} \"{name}\" not found"),
            Some(details(rk, name)),
        ),
        StoreError::AlreadyExists => status_response(
            409,
            "AlreadyExists",
            &format!("{q} \"{name}\" already exists"),
            Some(details(rk, name)),
        ),
        StoreError::Conflict => status_response(
            409,
            "Conflict",
            &format!(
                "Operation cannot be fulfilled on {q} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
            ),
            Some(details(rk, name)),
        ),
        StoreError::Invalid(m) => {
            let kind_q = if rk.group.is_empty() {
                rk.kind.to_string()
            } else {
                format!("{}.{}", rk.kind, rk.group)
            };
            let mut d = json!({"group": rk.group, "kind": rk.kind, "name": name,
                "causes": [{"reason": "FieldValueInvalid", "message": m}]});
            if name.is_empty() {
                d.as_object_mut().map(|o| o.remove("name"));
            }
            status_response(
                422,
                "Invalid",
                &format!("{kind_q} \"{name}\" is invalid: {m}"),
                Some(d),
            )
        }
        StoreError::UnknownKind(k) => {
            bad_request(&format!("no kind {k:?} is registered for this resource"))
        }
    }
}

fn forbidden(
    shared: &Shared,
    rk: &ResourceKind,
    verb: &str,
    name: &str,
    sub: Option<&str>,
    ns: Option<&str>,
) -> Response<Body> {
    let q = rk.qualified();
    let subject = if name.is_empty() {
        q.clone()
    } else {
        format!("{q} \"{name}\"")
    };
    let resource = match sub {
        Some(s) => format!("{}/{s}", rk.plural),
        None => rk.plural.to_string(),
    };
    let scope = match ns {
        Some(ns) if rk.namespaced => format!("in the namespace \"{ns}\""),
        _ => "at the cluster scope".to_string(),
    };
    let msg = format!(
        "{subject} is forbidden: User \"{}\" cannot {verb} resource \"{resource}\" in API group \"{}\" {scope}",
        shared.user, rk.group
    );
    status_response(403, "Forbidden", &msg, Some(details(rk, name)))
}

/// The parsed resource part of a URL.
struct Target {
    rk: &'static ResourceKind,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

enum Route {
    Version,
    ApiVersions,
    GroupList,
    Group(String),
    ResourceList(String, String),
    OpenApiV3Root,
    OpenApiV3(String, String),
    Resource(Target),
    NotFound,
}

fn route(shared: &Shared, path: &str) -> Route {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["version"] => return Route::Version,
        ["api"] => return Route::ApiVersions,
        ["apis"] => return Route::GroupList,
        ["apis", g] => return Route::Group(g.to_string()),
        ["openapi", "v3"] => return Route::OpenApiV3Root,
        ["openapi", "v3", "api", v] => return Route::OpenApiV3(String::new(), v.to_string()),
        ["openapi", "v3", "apis", g, v] => return Route::OpenApiV3(g.to_string(), v.to_string()),
        ["api", v, rest @ ..] => ("", v, rest),
        ["apis", g, v, rest @ ..] => (g, v, rest),
        _ => return Route::NotFound,
    };
    let kinds = shared.store.kinds();
    if !kinds
        .all()
        .any(|k| k.group == group && k.version == version)
    {
        return Route::NotFound;
    }
    if rest.is_empty() {
        return Route::ResourceList(group.to_string(), version.to_string());
    }
    let core_ns_object = group.is_empty()
        && rest[0] == "namespaces"
        && (rest.len() <= 2 || (rest.len() == 3 && rest[2] == "status"));
    let (namespace, rest) = if rest[0] == "namespaces" && rest.len() >= 3 && !core_ns_object {
        (Some(rest[1].to_string()), &rest[2..])
    } else {
        (None, rest)
    };
    let Some(rk) = kinds.by_plural(group, version, rest[0]) else {
        return Route::NotFound;
    };
    let name = rest.get(1).map(|s| s.to_string());
    let sub = rest.get(2).map(|s| s.to_string());
    if rest.len() > 3 {
        return Route::NotFound;
    }
    if let Some(s) = &sub
        && (s != "status" || !rk.status)
    {
        return Route::NotFound;
    }
    // A namespaced object must be addressed within its namespace.
    if rk.namespaced && name.is_some() && namespace.is_none() {
        return Route::NotFound;
    }
    if !rk.namespaced && namespace.is_some() {
        return Route::NotFound;
    }
    Route::Resource(Target {
        rk,
        namespace,
        name,
        sub,
    })
}

fn query_map(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn truthy(v: Option<&str>) -> bool {
    matches!(v, Some("true" | "1" | "True"))
}

/// Handle one request; never panics on bad input.
pub(crate) async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let header = |h: hyper::header::HeaderName| {
        parts
            .headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header(hyper::header::CONTENT_TYPE);
    let accept = header(hyper::header::ACCEPT).unwrap_or_default();
    let auth = header(hyper::header::AUTHORIZATION);
    let body_json: Option<Value> = if body.is_empty() {
        None
    } else {
        Some(
            serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned())),
        )
    };
    shared
        .requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(RequestRecord {
            method: parts.method.to_string(),
            path: path.clone(),
            query: query.clone(),
            content_type: content_type.clone(),
            body: body_json.clone(),
        });
    let latency = shared.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(token) = &shared.token {
        let ok = auth
            .as_deref()
            .and_then(|a| a.strip_prefix("Bearer "))
            .is_some_and(|t| t.trim() == token);
        if !ok {
            return status_response(401, "Unauthorized", "Unauthorized", None);
        }
    }
    let q = query_map(&query);
    match route(&shared, &path) {
        Route::Version => json_response(StatusCode::OK, &version()),
        Route::ApiVersions => json_response(
            StatusCode::OK,
            &json!({"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": shared.addr.to_string()}]}),
        ),
        Route::GroupList => json_response(StatusCode::OK, &group_list(&shared)),
        Route::Group(g) => match group_list(&shared)["groups"]
            .as_array()
            .and_then(|gs| gs.iter().find(|x| x["name"] == g.as_str()).cloned())
        {
            Some(mut grp) => {
                grp["kind"] = json!("APIGroup");
                grp["apiVersion"] = json!("v1");
                json_response(StatusCode::OK, &grp)
            }
            None => not_found_path(),
        },
        Route::ResourceList(g, v) => json_response(StatusCode::OK, &resource_list(&shared, &g, &v)),
        Route::OpenApiV3Root => json_response(StatusCode::OK, &openapi_v3_root(&shared)),
        Route::OpenApiV3(g, v) => match openapi_v3_gv(&shared, &g, &v) {
            Some(doc) => json_response(StatusCode::OK, &doc),
            None => not_found_path(),
        },
        Route::NotFound => not_found_path(),
        Route::Resource(t) => {
            resource(
                &shared,
                parts.method,
                t,
                &q,
                content_type.as_deref(),
                &accept,
                &body,
                body_json,
            )
            .await
        }
    }
}

fn version() -> Value {
    json!({
        "major": "1", "minor": "32", "emulationMajor": "1", "emulationMinor": "32",
        "gitVersion": "v1.32.0-testbed", "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.4",
        "compiler": "gc", "platform": "linux/amd64"
    })
}

/// The OpenAPI v3 index: one document per served group/version.
fn openapi_v3_root(shared: &Shared) -> Value {
    let mut paths = serde_json::Map::new();
    let mut gvs: Vec<(String, String)> = Vec::new();
    for k in shared.store.kinds().all() {
        let gv = (k.group.to_string(), k.version.to_string());
        if !gvs.contains(&gv) {
            gvs.push(gv);
        }
    }
    for (g, v) in gvs {
        let p = if g.is_empty() {
            format!("api/{v}")
        } else {
            format!("apis/{g}/{v}")
        };
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash=testbed")}),
        );
    }
    json!({"paths": paths})
}

/// A minimal OpenAPI v3 document for one group/version: just enough for
/// kubectl to see that the server validates fields itself (a PATCH
/// operation per kind, tagged with its GVK, taking `fieldValidation`), so
/// `kubectl apply`/`create -f` skip client-side schema validation.
fn openapi_v3_gv(shared: &Shared, group: &str, version: &str) -> Option<Value> {
    let mut paths = serde_json::Map::new();
    for k in shared
        .store
        .kinds()
        .all()
        .filter(|k| k.group == group && k.version == version)
    {
        let prefix = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        let p = if k.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", k.plural)
        } else {
            format!("{prefix}/{}/{{name}}", k.plural)
        };
        paths.insert(p, json!({
            "patch": {
                "operationId": format!("patch{}", k.kind),
                "parameters": [
                    {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                    {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                    {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}
                ],
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {"group": k.group, "version": k.version, "kind": k.kind},
                "responses": {"200": {"description": "OK"}}
            }
        }));
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0-testbed"},
        "paths": paths,
        "components": {"schemas": {}}
    }))
}

fn group_list(shared: &Shared) -> Value {
    let groups: Vec<Value> = shared
        .store
        .kinds()
        .groups()
        .into_iter()
        .map(|(g, vs)| {
            let versions: Vec<Value> = vs
                .iter()
                .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                .collect();
            json!({"name": g, "versions": versions, "preferredVersion": versions[0].clone()})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn resource_list(shared: &Shared, group: &str, version: &str) -> Value {
    let mut resources = Vec::new();
    for k in shared
        .store
        .kinds()
        .all()
        .filter(|k| k.group == group && k.version == version)
    {
        let mut r = json!({
            "name": k.plural, "singularName": k.singular, "namespaced": k.namespaced, "kind": k.kind,
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        });
        if !k.short_names.is_empty() {
            r["shortNames"] = json!(k.short_names);
        }
        if !k.categories.is_empty() {
            r["categories"] = json!(k.categories);
        }
        resources.push(r);
        if k.status {
            resources.push(json!({
                "name": format!("{}/status", k.plural), "singularName": "", "namespaced": k.namespaced,
                "kind": k.kind, "verbs": ["get", "patch", "update"],
            }));
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

struct Filters {
    labels: Selector,
    fields: Selector,
}

fn filters(q: &[(String, String)]) -> Result<Filters, String> {
    Ok(Filters {
        labels: Selector::parse_labels(param(q, "labelSelector").unwrap_or(""))?,
        fields: Selector::parse_fields(param(q, "fieldSelector").unwrap_or(""))?,
    })
}

impl Filters {
    fn matches(&self, obj: &Value) -> bool {
        self.labels.matches_labels(obj) && self.fields.matches_fields(obj)
    }
}

#[allow(clippy::too_many_arguments)]
async fn resource(
    shared: &Arc<Shared>,
    method: Method,
    t: Target,
    q: &[(String, String)],
    content_type: Option<&str>,
    _accept: &str,
    raw_body: &Bytes,
    body: Option<Value>,
) -> Response<Body> {
    let rk = t.rk;
    let av = rk.api_version();
    let ns = t.namespace.as_deref();
    let name = t.name.as_deref().unwrap_or("");
    let sub = t.sub.as_deref();
    let store = &shared.store;
    let verb = match (&method, t.name.is_some()) {
        (&Method::GET, true) => "get",
        (&Method::GET, false) if truthy(param(q, "watch")) => "watch",
        (&Method::GET, false) => "list",
        (&Method::POST, false) => "create",
        (&Method::PUT, true) => "update",
        (&Method::PATCH, true) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) => "deletecollection",
        _ => {
            return status_response(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
                None,
            );
        }
    };
    if shared.faults.denied(verb, rk.plural, sub, ns) {
        return forbidden(shared, rk, verb, name, sub, ns);
    }
    // Bodies of create/update: JSON or YAML. Anything else (protobuf,
    // CBOR) gets 415, on which client-go falls back to JSON.
    let body = if verb == "create" || verb == "update" {
        let ct = content_type
            .unwrap_or("application/json")
            .split(';')
            .next()
            .unwrap_or("")
            .trim();
        match ct {
            "application/json" | "" | "*/*" => body,
            "application/yaml" => {
                serde_saphyr::from_str::<Value>(&String::from_utf8_lossy(raw_body)).ok()
            }
            other => return unsupported_media_type(other),
        }
    } else {
        body
    };
    match verb {
        "get" => match store.get(&av, rk.kind, ns.unwrap_or(""), name) {
            Some(o) => json_response(StatusCode::OK, &o),
            None => store_error(rk, name, &StoreError::NotFound),
        },
        "list" => {
            let f = match filters(q) {
                Ok(f) => f,
                Err(e) => return bad_request(&e),
            };
            // Serialized straight from the store: big lists (thousands of
            // objects) cost no deep copy. Same document as a `{Kind}List`
            // value would give; only the key order differs.
            let mut items: Vec<u8> = Vec::with_capacity(64 * 1024);
            let mut first = true;
            let listed = store.for_each_with_rv(&av, rk.kind, ns, |o| {
                if f.matches(o) {
                    items.push(if first { b'[' } else { b',' });
                    first = false;
                    let _ = serde_json::to_writer(&mut items, o);
                }
            });
            let rv = match listed {
                Ok(rv) => rv,
                Err(e) => return store_error(rk, "", &e),
            };
            if first {
                items.push(b'[');
            }
            items.push(b']');
            let head = json!({"apiVersion": av, "kind": format!("{}List", rk.kind),
                "metadata": {"resourceVersion": rv.to_string()}});
            let mut body = serde_json::to_vec(&head).unwrap_or_default();
            body.pop(); // the closing brace
            body.extend_from_slice(b",\"items\":");
            body.extend_from_slice(&items);
            body.push(b'}');
            let mut r = Response::new(full(body));
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/json"),
            );
            r
        }
        "deletecollection" => {
            let f = match filters(q) {
                Ok(f) => f,
                Err(e) => return bad_request(&e),
            };
            let (items, rv) = match store.list_with_rv(&av, rk.kind, ns) {
                Ok(x) => x,
                Err(e) => return store_error(rk, "", &e),
            };
            let items: Vec<Value> = items.into_iter().filter(|o| f.matches(o)).collect();
            for o in &items {
                let n = o["metadata"]["name"].as_str().unwrap_or("");
                let ons = o["metadata"]["namespace"].as_str().unwrap_or("");
                let _ = store.delete(&av, rk.kind, ons, n);
            }
            // Built by hand: `json!` would deep-copy the items once more.
            let mut list = serde_json::Map::new();
            list.insert("apiVersion".into(), json!(av));
            list.insert("kind".into(), json!(format!("{}List", rk.kind)));
            list.insert(
                "metadata".into(),
                json!({"resourceVersion": rv.to_string()}),
            );
            list.insert("items".into(), Value::Array(items));
            json_response(StatusCode::OK, &Value::Object(list))
        }
        "watch" => watch(shared, rk, ns, q).await,
        "create" => {
            let Some(mut obj) = body.filter(Value::is_object) else {
                return bad_request(
                    "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml",
                );
            };
            if let Err(e) = fix_type(rk, &mut obj) {
                return bad_request(&e);
            }
            if rk.namespaced {
                match obj.pointer("/metadata/namespace").and_then(Value::as_str) {
                    Some(n) if !n.is_empty() && Some(n) != ns => {
                        return bad_request(
                            "the namespace of the provided object does not match the namespace sent on the request",
                        );
                    }
                    _ => {
                        if !obj.get("metadata").is_some_and(Value::is_object) {
                            obj["metadata"] = json!({});
                        }
                        obj["metadata"]["namespace"] = json!(ns.unwrap_or(""));
                    }
                }
            }
            let oname = obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if truthy(param(q, "dryRun")) || param(q, "dryRun") == Some("All") {
                return json_response(StatusCode::CREATED, &obj);
            }
            match store.create(obj) {
                Ok(o) => json_response(StatusCode::CREATED, &o),
                Err(e) => store_error(rk, &oname, &e),
            }
        }
        "update" => {
            let Some(mut obj) = body.filter(Value::is_object) else {
                return bad_request(
                    "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml",
                );
            };
            if let Err(e) = fix_type(rk, &mut obj) {
                return bad_request(&e);
            }
            if !obj.get("metadata").is_some_and(Value::is_object) {
                obj["metadata"] = json!({});
            }
            match obj.pointer("/metadata/name").and_then(Value::as_str) {
                Some(n) if n != name => {
                    return bad_request(&format!(
                        "the name of the object ({n}) does not match the name on the URL ({name})"
                    ));
                }
                _ => obj["metadata"]["name"] = json!(name),
            }
            if rk.namespaced {
                match obj.pointer("/metadata/namespace").and_then(Value::as_str) {
                    Some(n) if !n.is_empty() && Some(n) != ns => {
                        return bad_request(
                            "the namespace of the provided object does not match the namespace sent on the request",
                        );
                    }
                    _ => obj["metadata"]["namespace"] = json!(ns.unwrap_or("")),
                }
            }
            let res = if sub == Some("status") {
                store.update_status_object(obj)
            } else {
                store.update(obj)
            };
            match res {
                Ok(o) => json_response(StatusCode::OK, &o),
                Err(e) => store_error(rk, name, &e),
            }
        }
        "patch" => patch(
            shared,
            rk,
            ns.unwrap_or(""),
            name,
            sub,
            content_type,
            raw_body,
            body,
        ),
        "delete" => match store.delete(&av, rk.kind, ns.unwrap_or(""), name) {
            Ok(o) => json_response(
                StatusCode::OK,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "details": {"name": name, "group": rk.group, "kind": rk.plural,
                        "uid": o.pointer("/metadata/uid").cloned().unwrap_or(Value::Null)}}),
            ),
            Err(e) => store_error(rk, name, &e),
        },
        _ => not_found_path(),
    }
}

/// Fill in apiVersion/kind from the URL; reject a body for another kind.
fn fix_type(rk: &ResourceKind, obj: &mut Value) -> Result<(), String> {
    let av = rk.api_version();
    match obj.get("apiVersion").and_then(Value::as_str) {
        Some(a) if a != av => {
            let (g, _) = split_api_version(a);
            if g != rk.group {
                return Err(format!(
                    "the API version in the data ({a}) does not match the expected API version ({av})"
                ));
            }
        }
        _ => {}
    }
    match obj.get("kind").and_then(Value::as_str) {
        Some(k) if k != rk.kind => {
            return Err(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                rk.kind
            ));
        }
        _ => {}
    }
    obj["apiVersion"] = json!(av);
    obj["kind"] = json!(rk.kind);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn patch(
    shared: &Shared,
    rk: &'static ResourceKind,
    ns: &str,
    name: &str,
    sub: Option<&str>,
    content_type: Option<&str>,
    raw_body: &Bytes,
    body: Option<Value>,
) -> Response<Body> {
    let av = rk.api_version();
    let ct = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let status = sub == Some("status");
    let store = &shared.store;
    let res = match ct.as_str() {
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            let Some(mut p) = body.filter(Value::is_object) else {
                return bad_request("the body of the request was in an unknown format");
            };
            if ct == "application/strategic-merge-patch+json" {
                strip_directives(&mut p);
            }
            store.patch_with(&av, rk.kind, ns, name, status, |o| {
                apply_merge_patch(o, &p);
                Ok(())
            })
        }
        "application/json-patch+json" => {
            let p: json_patch::Patch = match body.map(serde_json::from_value) {
                Some(Ok(p)) => p,
                _ => {
                    return status_response(
                        422,
                        "Invalid",
                        "the json patch is not a valid RFC 6902 patch",
                        None,
                    );
                }
            };
            store.patch_with(&av, rk.kind, ns, name, status, |o| {
                json_patch::patch(o, &p).map_err(|e| StoreError::Invalid(e.to_string()))
            })
        }
        "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
            // Server-side apply without field ownership: create or merge.
            let text = String::from_utf8_lossy(raw_body);
            let obj: Value = match serde_saphyr::from_str(&text) {
                Ok(v) => v,
                Err(e) => return bad_request(&format!("error decoding YAML: {e}")),
            };
            let mut obj = obj;
            if let Err(e) = fix_type(rk, &mut obj) {
                return bad_request(&e);
            }
            if store.get(&av, rk.kind, ns, name).is_none() && !status {
                if !obj.get("metadata").is_some_and(Value::is_object) {
                    obj["metadata"] = json!({});
                }
                obj["metadata"]["name"] = json!(name);
                if rk.namespaced {
                    obj["metadata"]["namespace"] = json!(ns);
                }
                match store.create(obj) {
                    Ok(o) => return json_response(StatusCode::CREATED, &o),
                    Err(e) => return store_error(rk, name, &e),
                }
            }
            store.patch_with(&av, rk.kind, ns, name, status, |o| {
                apply_merge_patch(o, &obj);
                Ok(())
            })
        }
        other => return unsupported_media_type(other),
    };
    match res {
        Ok(o) => json_response(StatusCode::OK, &o),
        Err(StoreError::Invalid(m)) if ct == "application/json-patch+json" => {
            status_response(422, "Invalid", &m, None)
        }
        Err(e) => store_error(rk, name, &e),
    }
}

/// Drop strategic-merge directives (`$patch`, `$setElementOrder/...`,
/// `$retainKeys`, ...): the emulator treats such patches as merge patches.
fn strip_directives(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.starts_with('$'));
            m.values_mut().for_each(strip_directives);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_directives),
        _ => {}
    }
}

fn watch_line(type_: &str, obj: &Value) -> Bytes {
    let mut v = serde_json::to_vec(&json!({"type": type_, "object": obj})).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

/// Does a store event belong to this watch? Returns the object as presented.
fn event_for(rk: &ResourceKind, ns: Option<&str>, f: &Filters, ev: &StoreEvent) -> Option<Value> {
    let av = ev
        .object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = ev.object.get("kind").and_then(Value::as_str).unwrap_or("");
    let (g, _) = split_api_version(av);
    let (want_g, want_kind) = if rk.is_events_k8s_io() {
        ("", "Event")
    } else {
        (rk.group, rk.kind)
    };
    if g != want_g || kind != want_kind {
        return None;
    }
    if let Some(ns) = ns
        && rk.namespaced
        && ev
            .object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            != Some(ns)
    {
        return None;
    }
    if !f.matches(&ev.object) {
        return None;
    }
    Some(if rk.is_events_k8s_io() {
        core_event_to_events_v1(&ev.object)
    } else {
        ev.object.clone()
    })
}

type Chunk = Result<Frame<Bytes>, std::io::Error>;

async fn watch(
    shared: &Arc<Shared>,
    rk: &'static ResourceKind,
    ns: Option<&str>,
    q: &[(String, String)],
) -> Response<Body> {
    let f = match filters(q) {
        Ok(f) => f,
        Err(e) => return bad_request(&e),
    };
    let rv_param = param(q, "resourceVersion").unwrap_or("");
    let send_initial = truthy(param(q, "sendInitialEvents"));
    let from = if rv_param.is_empty() || rv_param == "0" || send_initial {
        None
    } else {
        match rv_param.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => return bad_request(&format!("invalid resource version: {rv_param:?}")),
        }
    };
    let bookmarks = truthy(param(q, "allowWatchBookmarks"));
    let timeout = param(q, "timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs);
    let (replay, current_rv, rx) = shared.store.watch_from(from);
    let (tx, out_rx) = mpsc::channel::<Chunk>(64);
    let body_stream =
        futures::stream::unfold(
            out_rx,
            |mut rx| async move { rx.recv().await.map(|x| (x, rx)) },
        );
    let mut resp = Response::new(StreamBody::new(body_stream).boxed());
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    let av = rk.api_version();
    let ns = ns.map(str::to_string);
    let shared = shared.clone();
    // Subscribe to drop_watches() before the client sees the response, so a
    // drop right after the headers arrive is never missed.
    let mut drops = shared.faults.inner.watches.subscribe();
    drops.mark_unchanged();
    tokio::spawn(async move {
        let Some(replay) = replay else {
            let st = status_obj(
                410,
                "Expired",
                &format!(
                    "too old resource version: {} ({})",
                    from.unwrap_or(0),
                    current_rv
                ),
                None,
            );
            let _ = tx.send(Ok(Frame::data(watch_line("ERROR", &st)))).await;
            return;
        };
        let mut last_rv = from.unwrap_or(current_rv);
        for ev in &replay {
            if let Some(o) = event_for(rk, ns.as_deref(), &f, ev)
                && tx
                    .send(Ok(Frame::data(watch_line(ev.kind.as_watch_type(), &o))))
                    .await
                    .is_err()
            {
                return;
            }
            last_rv = last_rv.max(ev.resource_version());
        }
        if send_initial && bookmarks {
            let b = json!({"kind": rk.kind, "apiVersion": av, "metadata": {"resourceVersion": current_rv.to_string(),
                "annotations": {"k8s.io/initial-events-end": "true"}}});
            if tx
                .send(Ok(Frame::data(watch_line("BOOKMARK", &b))))
                .await
                .is_err()
            {
                return;
            }
        }
        run_watch(
            shared, rk, av, ns, f, rx, tx, last_rv, bookmarks, timeout, drops,
        )
        .await;
    });
    resp
}

#[allow(clippy::too_many_arguments)]
async fn run_watch(
    shared: Arc<Shared>,
    rk: &'static ResourceKind,
    av: String,
    ns: Option<String>,
    f: Filters,
    mut rx: broadcast::Receiver<StoreEvent>,
    tx: mpsc::Sender<Chunk>,
    mut last_rv: u64,
    bookmarks: bool,
    timeout: Option<Duration>,
    mut drops: tokio::sync::watch::Receiver<u64>,
) {
    let deadline = tokio::time::sleep(timeout.unwrap_or(Duration::from_secs(365 * 24 * 3600)));
    tokio::pin!(deadline);
    let mut tick = tokio::time::interval(shared.bookmark_interval.max(Duration::from_millis(10)));
    tick.tick().await;
    let send_ev = |ev: &StoreEvent, last_rv: &mut u64| -> Option<Bytes> {
        let rv = ev.resource_version();
        if rv <= *last_rv {
            return None;
        }
        *last_rv = rv;
        event_for(rk, ns.as_deref(), &f, ev).map(|o| watch_line(ev.kind.as_watch_type(), &o))
    };
    loop {
        tokio::select! {
            _ = tx.closed() => return,
            _ = drops.changed() => {
                let _ = tx.send(Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "watch dropped"))).await;
                return;
            }
            _ = &mut deadline => return,
            _ = tick.tick(), if bookmarks => {
                let store_rv = shared.store.resource_version();
                loop {
                    match rx.try_recv() {
                        Ok(ev) => {
                            if let Some(line) = send_ev(&ev, &mut last_rv)
                                && tx.send(Ok(Frame::data(line))).await.is_err() { return; }
                        }
                        Err(broadcast::error::TryRecvError::Empty) => break,
                        Err(_) => {
                            let _ = tx.send(Err(std::io::Error::other("watch lagged"))).await;
                            return;
                        }
                    }
                }
                last_rv = last_rv.max(store_rv);
                let b = json!({"kind": rk.kind, "apiVersion": av, "metadata": {"resourceVersion": last_rv.to_string()}});
                if tx.send(Ok(Frame::data(watch_line("BOOKMARK", &b)))).await.is_err() { return; }
            }
            ev = rx.recv() => match ev {
                Ok(ev) => {
                    if let Some(line) = send_ev(&ev, &mut last_rv)
                        && tx.send(Ok(Frame::data(line))).await.is_err() { return; }
                }
                Err(_) => {
                    let _ = tx.send(Err(std::io::Error::other("watch lagged"))).await;
                    return;
                }
            }
        }
    }
}
