//! Manual: run a server and keep it up (ignored).
use testbed::apiserver::{ApiServer, ApiServerConfig};

#[test]
#[ignore]
fn manual_server() {
    let s = ApiServer::start(ApiServerConfig::default()).unwrap();
    std::fs::write("/tmp/tb-kubeconfig", s.kubeconfig("gitlab/proj:agent", Some("flux-system"))).unwrap();
    let store = s.store();
    store.create(serde_json::json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"flux-system"}})).unwrap();
    store.create(serde_json::json!({"apiVersion":"source.toolkit.fluxcd.io/v1","kind":"OCIRepository","metadata":{"name":"podinfo","namespace":"flux-system"},"spec":{"url":"oci://ghcr.io/x","interval":"1m"}})).unwrap();
    store.create(serde_json::json!({"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization","metadata":{"name":"app","namespace":"flux-system"},"spec":{"interval":"1m","sourceRef":{"kind":"OCIRepository","name":"podinfo"}}})).unwrap();
    std::thread::sleep(std::time::Duration::from_secs(std::env::var("SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(120)));
    for r in s.requests() { eprintln!("{} {}?{} {:?}", r.method, r.path, r.query, r.body); }
}
