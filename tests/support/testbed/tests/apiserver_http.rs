//! The API emulator over HTTP with a plain client: discovery, auth, CRUD,
//! patches, the status subresource, watches (resume, 410 Gone, bookmarks)
//! and fault injection.

use std::time::Duration;

use serde_json::{Value, json};
use testbed::apiserver::{ApiServer, ApiServerConfig};

const OCI_PATH: &str = "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/ocirepositories";
const KS_PATH: &str = "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations";
const OCI: &str = "source.toolkit.fluxcd.io/v1";

struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

fn plain_server() -> ApiServer {
    ApiServer::start(ApiServerConfig {
        tls: false,
        ..Default::default()
    })
    .expect("start")
}

impl Client {
    fn new(s: &ApiServer) -> Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Client {
            base: s.url(),
            token: s.token(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        }
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = rb.send().await.expect("send");
        let code = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            code,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.req(reqwest::Method::GET, path)).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.req(reqwest::Method::POST, path).json(&body))
            .await
    }

    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.req(reqwest::Method::PUT, path).json(&body))
            .await
    }

    async fn patch(&self, path: &str, ct: &str, body: Value) -> (u16, Value) {
        let rb = self
            .req(reqwest::Method::PATCH, path)
            .header("Content-Type", ct)
            .body(body.to_string());
        self.send(rb).await
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(self.req(reqwest::Method::DELETE, path)).await
    }

    async fn watch(&self, path: &str) -> Watch {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.token.clone().unwrap_or_default())
            .send()
            .await
            .expect("watch");
        assert_eq!(resp.status().as_u16(), 200);
        Watch {
            resp,
            buf: Vec::new(),
        }
    }
}

struct Watch {
    resp: reqwest::Response,
    buf: Vec<u8>,
}

enum Next {
    Event(Value),
    End,
    Broken,
    Timeout,
}

impl Watch {
    async fn next(&mut self, wait: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                return Next::Event(serde_json::from_slice(&line).expect("watch line is JSON"));
            }
            match tokio::time::timeout_at(deadline, self.resp.chunk()).await {
                Err(_) => return Next::Timeout,
                Ok(Ok(Some(c))) => self.buf.extend_from_slice(&c),
                Ok(Ok(None)) => return Next::End,
                Ok(Err(_)) => return Next::Broken,
            }
        }
    }

    /// The next non-BOOKMARK event.
    async fn event(&mut self) -> Value {
        loop {
            match self.next(Duration::from_secs(10)).await {
                Next::Event(e) if e["type"] == "BOOKMARK" => continue,
                Next::Event(e) => return e,
                Next::End => panic!("watch ended"),
                Next::Broken => panic!("watch broke"),
                Next::Timeout => panic!("no watch event"),
            }
        }
    }
}

fn ocirepo(name: &str) -> Value {
    json!({
        "apiVersion": OCI, "kind": "OCIRepository",
        "metadata": {"name": name, "namespace": "flux-system", "labels": {"app": name, "tier": "web"}},
        "spec": {"url": format!("oci://registry.example/{name}"), "ref": {"tag": "latest"}, "interval": "1m"}
    })
}

fn rv(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .parse()
        .expect("numeric rv")
}

#[tokio::test]
async fn discovery() {
    let s = plain_server();
    let c = Client::new(&s);
    let (code, v) = c.get("/version").await;
    assert_eq!(code, 200);
    assert_eq!(v["major"], "1");
    let (_, v) = c.get("/api").await;
    assert_eq!(v["versions"], json!(["v1"]));
    let (_, v) = c.get("/apis").await;
    let groups: Vec<&str> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    for g in [
        "source.toolkit.fluxcd.io",
        "kustomize.toolkit.fluxcd.io",
        "helm.toolkit.fluxcd.io",
        "notification.toolkit.fluxcd.io",
        "apps",
        "batch",
        "events.k8s.io",
    ] {
        assert!(groups.contains(&g), "{g} missing from {groups:?}");
    }
    let notif = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "notification.toolkit.fluxcd.io")
        .unwrap();
    assert_eq!(notif["preferredVersion"]["version"], "v1");
    assert_eq!(notif["versions"].as_array().unwrap().len(), 2);
    let (_, v) = c.get("/apis/source.toolkit.fluxcd.io/v1").await;
    assert_eq!(v["kind"], "APIResourceList");
    let res = v["resources"].as_array().unwrap();
    let oci = res.iter().find(|r| r["name"] == "ocirepositories").unwrap();
    assert_eq!(oci["kind"], "OCIRepository");
    assert_eq!(oci["singularName"], "ocirepository");
    assert_eq!(oci["namespaced"], true);
    assert_eq!(oci["shortNames"], json!(["ocirepo"]));
    assert!(oci["verbs"].as_array().unwrap().contains(&json!("watch")));
    assert!(res.iter().any(|r| r["name"] == "ocirepositories/status"));
    let (_, v) = c.get("/apis/notification.toolkit.fluxcd.io/v1beta3").await;
    let names: Vec<&str> = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alerts", "providers"]);
    let (_, v) = c.get("/api/v1").await;
    let ns = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "namespaces")
        .unwrap()
        .clone();
    assert_eq!(ns["namespaced"], false);
    assert_eq!(c.get("/openapi/v2").await.0, 404);
    let (code, v) = c.get("/apis/example.com/v1").await;
    assert_eq!(code, 404);
    assert_eq!(v["kind"], "Status");
}

#[tokio::test]
async fn flux_not_installed() {
    let s = ApiServer::start(ApiServerConfig {
        tls: false,
        flux_crds: false,
        ..Default::default()
    })
    .unwrap();
    let c = Client::new(&s);
    let (_, v) = c.get("/apis").await;
    assert!(
        !v.to_string().contains("fluxcd.io"),
        "flux groups served: {v}"
    );
    let (code, v) = c.get(OCI_PATH).await;
    assert_eq!(code, 404);
    assert_eq!(v["reason"], "NotFound");
    assert_eq!(c.get("/api/v1/namespaces").await.0, 200);
}

#[tokio::test]
async fn bearer_token_is_required() {
    let s = plain_server();
    let mut c = Client::new(&s);
    c.token = Some("wrong".into());
    let (code, v) = c.get("/api").await;
    assert_eq!(code, 401);
    assert_eq!(v["reason"], "Unauthorized");
    c.token = None;
    assert_eq!(c.get("/version").await.0, 401);
    let anonymous = ApiServer::start(ApiServerConfig {
        tls: false,
        token: None,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(Client::new(&anonymous).get("/api").await.0, 200);
}

#[tokio::test]
async fn tls_with_the_generated_ca() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let s = ApiServer::start(ApiServerConfig::default()).unwrap();
    assert!(s.url().starts_with("https://127.0.0.1:"));
    let ca = reqwest::Certificate::from_pem(s.ca_pem().unwrap().as_bytes()).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let c = Client {
        base: s.url(),
        token: s.token(),
        http,
    };
    let (code, v) = c.get("/apis").await;
    assert_eq!(code, 200, "{v}");
    let kc = s.kubeconfig("group/project:agent", Some("flux-system"));
    assert!(kc.contains("certificate-authority-data: "));
    assert!(kc.contains("current-context: \"group/project:agent\""));
    assert!(kc.contains(&s.token().unwrap()));
    assert!(kc.contains("namespace: \"flux-system\""));
}

#[tokio::test]
async fn crud_and_error_statuses() {
    let s = plain_server();
    let c = Client::new(&s);
    let (code, created) = c.post(OCI_PATH, ocirepo("podinfo")).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["metadata"]["generation"], 1);
    assert!(created["metadata"]["uid"].is_string());
    let (code, dup) = c.post(OCI_PATH, ocirepo("podinfo")).await;
    assert_eq!(code, 409);
    assert_eq!(dup["reason"], "AlreadyExists");
    assert_eq!(
        dup["message"],
        "ocirepositories.source.toolkit.fluxcd.io \"podinfo\" already exists"
    );
    let (code, nf) = c.get(&format!("{OCI_PATH}/nope")).await;
    assert_eq!(code, 404);
    assert_eq!(nf["kind"], "Status");
    assert_eq!(nf["status"], "Failure");
    assert_eq!(nf["reason"], "NotFound");
    assert_eq!(nf["code"], 404);
    assert_eq!(
        nf["message"],
        "ocirepositories.source.toolkit.fluxcd.io \"nope\" not found"
    );
    assert_eq!(nf["details"]["name"], "nope");
    assert_eq!(nf["details"]["group"], "source.toolkit.fluxcd.io");
    assert_eq!(nf["details"]["kind"], "ocirepositories");
    // Core resources are named without a group.
    let (_, nf) = c.get("/api/v1/namespaces/default/configmaps/x").await;
    assert_eq!(nf["message"], "configmaps \"x\" not found");
    // Namespace mismatch between URL and body.
    let mut other = ocirepo("other");
    other["metadata"]["namespace"] = json!("elsewhere");
    assert_eq!(c.post(OCI_PATH, other).await.0, 400);
    // Garbage body.
    let (code, _) = c
        .send(
            c.req(reqwest::Method::POST, OCI_PATH)
                .header("Content-Type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_eq!(code, 400);

    // PUT with a stale resourceVersion conflicts.
    let path = format!("{OCI_PATH}/podinfo");
    let (_, cur) = c.get(&path).await;
    let mut upd = cur.clone();
    upd["spec"]["interval"] = json!("5m");
    let (code, v) = c.put(&path, upd.clone()).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["metadata"]["generation"], 2);
    let (code, v) = c.put(&path, upd).await;
    assert_eq!(code, 409);
    assert_eq!(v["reason"], "Conflict");
    assert_eq!(
        v["message"],
        "Operation cannot be fulfilled on ocirepositories.source.toolkit.fluxcd.io \"podinfo\": the object has been modified; please apply your changes to the latest version and try again"
    );

    // Merge patch of an annotation: no generation bump.
    let (code, v) = c
        .patch(
            &path,
            "application/merge-patch+json",
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "2025-01-01T00:00:00.1Z"}}}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["metadata"]["generation"], 2);
    assert_eq!(
        v["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"],
        "2025-01-01T00:00:00.1Z"
    );
    // JSON patch.
    let (code, v) = c
        .patch(
            &path,
            "application/json-patch+json",
            json!([{"op": "replace", "path": "/spec/ref/tag", "value": "v1.2.3"}]),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["spec"]["ref"]["tag"], "v1.2.3");
    assert_eq!(v["metadata"]["generation"], 3);
    let (code, v) = c
        .patch(
            &path,
            "application/json-patch+json",
            json!([{"op": "test", "path": "/spec/ref/tag", "value": "nope"}]),
        )
        .await;
    assert_eq!(code, 422, "{v}");
    // Strategic merge is treated as merge.
    let (code, v) = c
        .patch(
            &path,
            "application/strategic-merge-patch+json",
            json!({"spec": {"suspend": true}}),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(v["spec"]["suspend"], true);
    assert_eq!(c.patch(&path, "text/plain", json!({})).await.0, 415);
    // Status written through the main resource is ignored ...
    let (_, v) = c
        .patch(
            &path,
            "application/merge-patch+json",
            json!({"status": {"observedGeneration": 9}}),
        )
        .await;
    assert!(v.get("status").is_none());
    // ... and through /status kept, without touching the spec or generation.
    let (code, v) = c
        .patch(
            &format!("{path}/status"),
            "application/merge-patch+json",
            json!({"spec": {"url": "oci://evil"}, "status": {"observedGeneration": 4}}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["status"]["observedGeneration"], 4);
    assert_eq!(v["spec"]["url"], "oci://registry.example/podinfo");
    assert_eq!(v["metadata"]["generation"], 4);
    let mut st = v.clone();
    st["status"]["observedGeneration"] = json!(5);
    let (code, v) = c.put(&format!("{path}/status"), st).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["status"]["observedGeneration"], 5);
    let (code, v) = c.get(&format!("{path}/status")).await;
    assert_eq!(code, 200);
    assert_eq!(v["status"]["observedGeneration"], 5);
    // Alerts have no status subresource.
    assert_eq!(
        c.get("/apis/notification.toolkit.fluxcd.io/v1beta3/namespaces/a/alerts/x/status")
            .await
            .0,
        404
    );

    let (code, v) = c.delete(&path).await;
    assert_eq!(code, 200);
    assert_eq!(v["status"], "Success");
    assert_eq!(c.delete(&path).await.0, 404);
    assert_eq!(c.get(&path).await.0, 404);
}

#[tokio::test]
async fn lists_and_selectors() {
    let s = plain_server();
    let c = Client::new(&s);
    let store = s.store();
    store.create(ocirepo("a")).unwrap();
    store.create(ocirepo("b")).unwrap();
    let mut other = ocirepo("c");
    other["metadata"]["namespace"] = json!("apps");
    other["metadata"]["labels"] = json!({"tier": "db"});
    store.create(other).unwrap();

    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (code, v) = c.get(OCI_PATH).await;
    assert_eq!(code, 200);
    assert_eq!(v["kind"], "OCIRepositoryList");
    assert_eq!(v["apiVersion"], OCI);
    assert_eq!(rv(&v), store.resource_version());
    assert_eq!(names(&v), ["a", "b"]);
    let (_, v) = c
        .get("/apis/source.toolkit.fluxcd.io/v1/ocirepositories")
        .await;
    assert_eq!(names(&v), ["c", "a", "b"]); // sorted by namespace then name
    let q = |sel: &str| format!("{OCI_PATH}?labelSelector={}", urlencode(sel));
    assert_eq!(names(&c.get(&q("app=a")).await.1), ["a"]);
    assert_eq!(names(&c.get(&q("app!=a")).await.1), ["b"]);
    assert_eq!(names(&c.get(&q("app")).await.1), ["a", "b"]);
    assert_eq!(names(&c.get(&q("!app")).await.1), Vec::<String>::new());
    assert_eq!(names(&c.get(&q("app in (b,z)")).await.1), ["b"]);
    assert_eq!(names(&c.get(&q("app notin (b),tier=web")).await.1), ["a"]);
    let all = "/apis/source.toolkit.fluxcd.io/v1/ocirepositories";
    let (_, v) = c
        .get(&format!("{all}?fieldSelector=metadata.name%3Dc"))
        .await;
    assert_eq!(names(&v), ["c"]);
    let (_, v) = c
        .get(&format!("{all}?fieldSelector=metadata.namespace%21%3Dapps"))
        .await;
    assert_eq!(names(&v), ["a", "b"]);
    assert_eq!(c.get(&q("app in nope")).await.0, 400);
    // Namespaces are cluster-scoped.
    let (_, v) = c.get("/api/v1/namespaces").await;
    assert!(names(&v).contains(&"default".to_string()));
    let (code, v) = c.get("/api/v1/namespaces/default").await;
    assert_eq!(code, 200);
    assert_eq!(v["status"]["phase"], "Active");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn events_through_both_apis() {
    let s = plain_server();
    let c = Client::new(&s);
    let o = s.store().create(ocirepo("a")).unwrap();
    s.store()
        .record_event(&o, "Warning", "OCIArtifactPullFailed", "boom");
    let (_, v) = c.get("/api/v1/namespaces/flux-system/events").await;
    assert_eq!(v["items"][0]["reason"], "OCIArtifactPullFailed");
    assert_eq!(v["items"][0]["involvedObject"]["name"], "a");
    let (_, v) = c
        .get(
            "/apis/events.k8s.io/v1/namespaces/flux-system/events?fieldSelector=regarding.name%3Da",
        )
        .await;
    assert_eq!(v["items"][0]["note"], "boom");
    assert_eq!(v["items"][0]["type"], "Warning");
    let (_, v) = c
        .get("/api/v1/events?fieldSelector=involvedObject.kind%3DOCIRepository")
        .await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn watch_initial_live_resume_and_gone() {
    let s = plain_server();
    let c = Client::new(&s);
    let store = s.store();
    store.create(ocirepo("a")).unwrap();
    // No resourceVersion: synthetic ADDED for what exists, then live.
    let mut w = c.watch(&format!("{OCI_PATH}?watch=true")).await;
    let e = w.event().await;
    assert_eq!(e["type"], "ADDED");
    assert_eq!(e["object"]["metadata"]["name"], "a");
    let after_a = store.resource_version();
    store.create(ocirepo("b")).unwrap();
    let e = w.event().await;
    assert_eq!(e["type"], "ADDED");
    assert_eq!(e["object"]["metadata"]["name"], "b");
    store
        .update_status(OCI, "OCIRepository", "flux-system", "b", json!({"x": 1}))
        .unwrap();
    let e = w.event().await;
    assert_eq!(e["type"], "MODIFIED");
    assert_eq!(e["object"]["status"]["x"], 1);
    // Other kinds and namespaces do not show up.
    store
        .create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "flux-system"}}))
        .unwrap();
    let mut elsewhere = ocirepo("z");
    elsewhere["metadata"]["namespace"] = json!("apps");
    store.create(elsewhere).unwrap();
    store
        .delete(OCI, "OCIRepository", "flux-system", "a")
        .unwrap();
    let e = w.event().await;
    assert_eq!(e["type"], "DELETED");
    assert_eq!(e["object"]["metadata"]["name"], "a");
    drop(w);

    // Resume from a resourceVersion: replay what came after it.
    let mut w = c
        .watch(&format!("{OCI_PATH}?watch=1&resourceVersion={after_a}"))
        .await;
    let types: Vec<String> = [w.event().await, w.event().await, w.event().await]
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["type"].as_str().unwrap(),
                e["object"]["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(types, ["ADDED b", "MODIFIED b", "DELETED a"]);
    assert!(matches!(
        w.next(Duration::from_millis(300)).await,
        Next::Timeout
    ));
    drop(w);

    // Label selector filters watch events too.
    let mut w = c
        .watch(&format!("{OCI_PATH}?watch=true&labelSelector=app%3Db"))
        .await;
    assert_eq!(w.event().await["object"]["metadata"]["name"], "b");
    store.create(ocirepo("c")).unwrap();
    store
        .merge_patch(
            OCI,
            "OCIRepository",
            "flux-system",
            "b",
            json!({"spec": {"suspend": true}}),
        )
        .unwrap();
    let e = w.event().await;
    assert_eq!(e["type"], "MODIFIED");
    assert_eq!(e["object"]["metadata"]["name"], "b");
    drop(w);

    // After compaction an old resourceVersion is 410 Gone.
    s.faults().compact();
    let mut w = c
        .watch(&format!("{OCI_PATH}?watch=true&resourceVersion={after_a}"))
        .await;
    let e = w.event().await;
    assert_eq!(e["type"], "ERROR");
    assert_eq!(e["object"]["kind"], "Status");
    assert_eq!(e["object"]["code"], 410);
    assert_eq!(e["object"]["reason"], "Expired");
    assert!(matches!(w.next(Duration::from_secs(5)).await, Next::End));
    // The current resourceVersion is still fine.
    let now = store.resource_version();
    let mut w = c
        .watch(&format!("{OCI_PATH}?watch=true&resourceVersion={now}"))
        .await;
    store
        .delete(OCI, "OCIRepository", "flux-system", "c")
        .unwrap();
    assert_eq!(w.event().await["type"], "DELETED");
}

#[tokio::test]
async fn watch_window_expires_old_versions() {
    let s = ApiServer::start(ApiServerConfig {
        tls: false,
        watch_window: 3,
        ..Default::default()
    })
    .unwrap();
    let c = Client::new(&s);
    let store = s.store();
    let start = store.resource_version();
    for i in 0..5 {
        store.create(ocirepo(&format!("o{i}"))).unwrap();
    }
    let mut w = c
        .watch(&format!("{OCI_PATH}?watch=true&resourceVersion={start}"))
        .await;
    assert_eq!(w.event().await["object"]["code"], 410);
    let recent = store.resource_version() - 2;
    let mut w = c
        .watch(&format!("{OCI_PATH}?watch=true&resourceVersion={recent}"))
        .await;
    assert_eq!(w.event().await["object"]["metadata"]["name"], "o3");
    assert_eq!(w.event().await["object"]["metadata"]["name"], "o4");
}

#[tokio::test]
async fn bookmarks_and_timeout() {
    let s = ApiServer::start(ApiServerConfig {
        tls: false,
        bookmark_interval: Duration::from_millis(200),
        ..Default::default()
    })
    .unwrap();
    let c = Client::new(&s);
    let store = s.store();
    let rv0 = store.resource_version();
    let mut w = c
        .watch(&format!(
            "{KS_PATH}?watch=true&allowWatchBookmarks=true&resourceVersion={rv0}"
        ))
        .await;
    // A write to another kind moves the bookmark's resourceVersion on.
    store.create(ocirepo("a")).unwrap();
    let latest = store.resource_version();
    let mut seen = 0;
    loop {
        match w.next(Duration::from_secs(5)).await {
            Next::Event(e) => {
                assert_eq!(e["type"], "BOOKMARK", "{e}");
                assert_eq!(e["object"]["kind"], "Kustomization");
                if rv(&e["object"]) == latest {
                    break;
                }
                seen += 1;
                assert!(seen < 20, "bookmark never reached {latest}");
            }
            _ => panic!("expected a bookmark"),
        }
    }
    // timeoutSeconds ends the stream cleanly.
    let mut w = c
        .watch(&format!("{KS_PATH}?watch=true&timeoutSeconds=1"))
        .await;
    assert!(matches!(w.next(Duration::from_secs(5)).await, Next::End));
    // Streaming list: initial events, then a bookmark marking their end.
    let mut w = c
        .watch(&format!("{OCI_PATH}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan"))
        .await;
    let Next::Event(e) = w.next(Duration::from_secs(5)).await else {
        panic!()
    };
    assert_eq!(e["type"], "ADDED");
    let Next::Event(e) = w.next(Duration::from_secs(5)).await else {
        panic!()
    };
    assert_eq!(e["type"], "BOOKMARK");
    assert_eq!(
        e["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
}

#[tokio::test]
async fn fault_drop_watches_and_restart() {
    let s = plain_server();
    let c = Client::new(&s);
    let mut w = c.watch(&format!("{OCI_PATH}?watch=true")).await;
    s.faults().drop_watches();
    assert!(matches!(w.next(Duration::from_secs(5)).await, Next::Broken));
    // A new watch works afterwards.
    let mut w = c.watch(&format!("{OCI_PATH}?watch=true")).await;
    s.store().create(ocirepo("a")).unwrap();
    assert_eq!(w.event().await["type"], "ADDED");
    s.faults().restart();
    assert!(matches!(w.next(Duration::from_secs(5)).await, Next::Broken));
    // State survives, same port.
    let (code, v) = c.get(&format!("{OCI_PATH}/a")).await;
    assert_eq!(code, 200, "{v}");
}

#[tokio::test]
async fn fault_refuse_connections() {
    let s = plain_server();
    let c = Client::new(&s);
    assert_eq!(c.get("/api").await.0, 200);
    s.faults().refuse_connections(Duration::from_millis(800));
    let port = s.url().rsplit(':').next().unwrap().parse::<u16>().unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    let err = c.req(reqwest::Method::GET, "/api").send().await;
    assert!(err.is_err());
    let mut ok = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(r) = c.req(reqwest::Method::GET, "/api").send().await {
            ok = r.status().as_u16() == 200;
            break;
        }
    }
    assert!(ok, "listener did not come back");
}

#[tokio::test]
async fn fault_latency_deny_and_request_log() {
    let s = plain_server();
    let c = Client::new(&s);
    s.store().create(ocirepo("x")).unwrap();
    s.faults().set_latency(Duration::from_millis(300));
    let t = std::time::Instant::now();
    assert_eq!(c.get("/api").await.0, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    s.faults()
        .deny("patch", "ocirepositories", Some("flux-system"));
    s.faults().deny("list", "kustomizations", None);
    let (code, v) = c
        .patch(
            &format!("{OCI_PATH}/x"),
            "application/merge-patch+json",
            json!({"metadata": {"annotations": {"a": "b"}}}),
        )
        .await;
    assert_eq!(code, 403);
    assert_eq!(v["reason"], "Forbidden");
    assert_eq!(
        v["message"],
        "ocirepositories.source.toolkit.fluxcd.io \"x\" is forbidden: User \"system:serviceaccount:default:testbed\" cannot patch resource \"ocirepositories\" in API group \"source.toolkit.fluxcd.io\" in the namespace \"flux-system\""
    );
    let (code, v) = c
        .get("/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations")
        .await;
    assert_eq!(code, 403);
    assert_eq!(
        v["message"],
        "kustomizations.kustomize.toolkit.fluxcd.io is forbidden: User \"system:serviceaccount:default:testbed\" cannot list resource \"kustomizations\" in API group \"kustomize.toolkit.fluxcd.io\" at the cluster scope"
    );
    // The status subresource is a different resource.
    let (code, _) = c
        .patch(
            &format!("{OCI_PATH}/x/status"),
            "application/merge-patch+json",
            json!({"status": {}}),
        )
        .await;
    assert_eq!(code, 200);
    s.faults().clear();
    let (code, _) = c
        .patch(
            &format!("{OCI_PATH}/x"),
            "application/merge-patch+json",
            json!({"metadata": {"annotations": {"a": "b"}}}),
        )
        .await;
    assert_eq!(code, 200);
    let patches: Vec<_> = s
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.path == format!("{OCI_PATH}/x"))
        .collect();
    assert_eq!(patches.len(), 2);
    assert_eq!(
        patches[1].content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(
        patches[1].body,
        Some(json!({"metadata": {"annotations": {"a": "b"}}}))
    );
    s.clear_requests();
    assert!(s.requests().is_empty());
}

#[tokio::test]
async fn bad_requests_do_not_panic() {
    let s = plain_server();
    let c = Client::new(&s);
    for p in [
        "/",
        "/apis/source.toolkit.fluxcd.io",
        "/apis/source.toolkit.fluxcd.io/v1/ocirepositories/x",
        "/apis/source.toolkit.fluxcd.io/v1/namespaces/a/ocirepositories/x/status/more",
        "/apis/source.toolkit.fluxcd.io/v1/namespaces/a/ocirepositories/x/scale",
        "/api/v1/namespaces/a/b/c/d/e",
        "/api/v2",
    ] {
        let (code, _) = c.get(p).await;
        assert!(code == 404 || code == 200, "{p}: {code}");
    }
    let (code, _) = c
        .get(&format!("{OCI_PATH}?watch=true&resourceVersion=abc"))
        .await;
    assert_eq!(code, 400);
    let (code, _) = c
        .send(c.req(reqwest::Method::POST, &format!("{OCI_PATH}/x")))
        .await;
    assert_eq!(code, 405);
    let (code, _) = c
        .patch(
            &format!("{OCI_PATH}/x"),
            "application/json-patch+json",
            json!({"not": "a patch"}),
        )
        .await;
    assert_eq!(code, 422);
    let (code, v) = c
        .post(
            OCI_PATH,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
        )
        .await;
    assert_eq!(code, 400, "{v}");
}
