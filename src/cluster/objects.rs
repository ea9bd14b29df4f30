//! Reading and patching Flux objects (and the few core kinds we look at)
//! through the dynamic API, with the served versions found by discovery.

use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;

use super::{ApiError, Cluster};
use crate::flux::FluxKind;

/// The Flux kinds a cluster serves, at the newest served version.
#[derive(Clone)]
pub struct FluxApi {
    pub cluster: Cluster,
    served: HashMap<FluxKind, ApiResource>,
}

impl FluxApi {
    /// Discover the served Flux groups (one request: `GET /apis`). Fails
    /// with [`ApiError::FluxNotInstalled`] when the source or kustomize
    /// group is missing.
    pub async fn discover(cluster: &Cluster) -> Result<FluxApi, ApiError> {
        let groups = timed(cluster, cluster.client.list_api_groups())
            .await
            .map_err(|e| e.into_api(cluster, "list", "API groups", None))?;
        let mut served = HashMap::new();
        for kind in FluxKind::ALL {
            let info = kind.info();
            let Some(group) = groups.groups.iter().find(|g| g.name == info.group) else {
                continue;
            };
            let versions: Vec<&str> = group.versions.iter().map(|v| v.version.as_str()).collect();
            if let Some(version) = info.versions.iter().find(|v| versions.contains(v)) {
                let gvk = GroupVersionKind::gvk(info.group, version, info.kind);
                served.insert(kind, ApiResource::from_gvk_with_plural(&gvk, info.plural));
            }
        }
        for must in [FluxKind::OciRepository, FluxKind::Kustomization] {
            if !served.contains_key(&must) {
                return Err(ApiError::FluxNotInstalled {
                    context: cluster.context.clone(),
                    group: must.info().group.to_string(),
                });
            }
        }
        Ok(FluxApi {
            cluster: cluster.clone(),
            served,
        })
    }

    /// The API resource of a kind, if served.
    pub fn resource(&self, kind: FluxKind) -> Result<&ApiResource, ApiError> {
        self.served
            .get(&kind)
            .ok_or_else(|| ApiError::FluxNotInstalled {
                context: self.cluster.context.clone(),
                group: kind.info().group.to_string(),
            })
    }

    pub fn is_served(&self, kind: FluxKind) -> bool {
        self.served.contains_key(&kind)
    }

    /// A dynamic API handle for a kind in a namespace (or all).
    pub fn api(
        &self,
        kind: FluxKind,
        namespace: Option<&str>,
    ) -> Result<Api<DynamicObject>, ApiError> {
        let ar = self.resource(kind)?;
        Ok(match namespace {
            Some(ns) => Api::namespaced_with(self.cluster.client.clone(), ns, ar),
            None => Api::all_with(self.cluster.client.clone(), ar),
        })
    }

    /// List a kind in a namespace or (None) across the cluster.
    pub async fn list(
        &self,
        kind: FluxKind,
        namespace: Option<&str>,
    ) -> Result<Vec<Value>, ApiError> {
        Ok(self.list_at(kind, namespace).await?.0)
    }

    /// Like [`FluxApi::list`], with the list's `resourceVersion` (None when
    /// the kind is not served), from which a watch can follow what changed
    /// after the list.
    pub async fn list_at(
        &self,
        kind: FluxKind,
        namespace: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>), ApiError> {
        if !self.is_served(kind) {
            return Ok((Vec::new(), None));
        }
        // Parsed straight into JSON values: going through `DynamicObject`
        // (whose flattened fields are buffered) and back into a value costs
        // twice as much, which shows with thousands of objects.
        #[derive(serde::Deserialize)]
        struct RawList {
            #[serde(default)]
            metadata: kube::core::ListMeta,
            #[serde(default)]
            items: Items,
        }
        // resourceVersion=0: served from the API server's watch cache, as
        // informers list, instead of a quorum read from etcd (2-3x faster
        // on a real kube-apiserver). A slightly older snapshot is right for
        // every caller: a wait goes on with a watch from the list's
        // resourceVersion, so it misses no later change; trigger patches by
        // name; status and completion show what they list.
        let api = self.api(kind, namespace)?;
        let request = kube::core::Request::new(api.resource_url())
            .list(&ListParams::default().match_any())
            .map(|mut req| {
                req.extensions_mut().insert("list");
                req
            })
            .map_err(kube::Error::BuildRequest);
        let list = timed(&self.cluster, async {
            self.cluster.client.request::<RawList>(request?).await
        })
        .await
        .map_err(|e| e.into_api(&self.cluster, "list", kind.info().plural, namespace))?;
        Ok((list.items.0, list.metadata.resource_version))
    }

    /// Get one object; a missing one is [`ApiError::NotFound`].
    pub async fn get(
        &self,
        kind: FluxKind,
        namespace: &str,
        name: &str,
    ) -> Result<Value, ApiError> {
        let api = self.api(kind, Some(namespace))?;
        match timed(&self.cluster, api.get_opt(name)).await {
            Ok(Some(obj)) => Ok(to_value(obj)),
            Ok(None) => Err(ApiError::NotFound {
                kind: kind.kind().to_string(),
                namespace: namespace.to_string(),
                name: name.to_string(),
            }),
            Err(e) => Err(e.into_api(&self.cluster, "get", kind.info().plural, Some(namespace))),
        }
    }

    /// Merge-patch an object, retrying conflicts a few times.
    pub async fn merge_patch(
        &self,
        kind: FluxKind,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> Result<Value, ApiError> {
        let api = self.api(kind, Some(namespace))?;
        let params = PatchParams::default();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match timed(
                &self.cluster,
                api.patch(name, &params, &Patch::Merge(patch)),
            )
            .await
            {
                Ok(obj) => return Ok(to_value(obj)),
                Err(Failure::Kube(kube::Error::Api(s))) if s.code == 409 && attempt < 5 => {
                    tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
                }
                Err(Failure::Kube(kube::Error::Api(s))) if s.code == 404 => {
                    return Err(ApiError::NotFound {
                        kind: kind.kind().to_string(),
                        namespace: namespace.to_string(),
                        name: name.to_string(),
                    });
                }
                Err(e) => {
                    return Err(e.into_api(
                        &self.cluster,
                        "patch",
                        kind.info().plural,
                        Some(namespace),
                    ));
                }
            }
        }
    }
}

/// The items of a list, each trimmed of what no command reads as soon as it
/// is parsed: `metadata.managedFields`, kubectl's last-applied annotation
/// and `status.history` often make up half of an object, and thousands of
/// objects are held at once with `-A`.
#[derive(Default)]
struct Items(Vec<Value>);

impl<'de> serde::Deserialize<'de> for Items {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Items, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Items;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of objects")
            }
            fn visit_unit<E>(self) -> Result<Items, E> {
                Ok(Items::default())
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Items, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(mut obj) = seq.next_element::<Value>()? {
                    trim(&mut obj);
                    items.push(obj);
                }
                Ok(Items(items))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Drop the fields of an object that no command reads (see [`Items`]).
pub fn trim(obj: &mut Value) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            ann.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
        status.remove("history");
    }
}

/// An API object as plain JSON.
pub fn to_value(obj: DynamicObject) -> Value {
    let mut v = serde_json::to_value(obj).unwrap_or(Value::Null);
    trim(&mut v);
    v
}

/// A request failure: kube's error or our own time limit.
pub enum Failure {
    Kube(kube::Error),
    TimedOut(std::time::Duration),
}

impl Failure {
    pub fn into_api(
        self,
        cluster: &Cluster,
        verb: &str,
        resource: &str,
        ns: Option<&str>,
    ) -> ApiError {
        match self {
            Failure::Kube(e) => ApiError::from_kube(cluster, verb, resource, ns, e),
            Failure::TimedOut(after) => ApiError::TimedOut { after },
        }
    }
}

/// Run one request under the cluster's `--request-timeout`.
pub async fn timed<T>(
    cluster: &Cluster,
    fut: impl Future<Output = Result<T, kube::Error>>,
) -> Result<T, Failure> {
    match cluster.request_timeout {
        Some(limit) => match tokio::time::timeout(limit, fut).await {
            Ok(r) => r.map_err(Failure::Kube),
            Err(_) => Err(Failure::TimedOut(limit)),
        },
        None => fut.await.map_err(Failure::Kube),
    }
}
