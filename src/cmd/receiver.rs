//! `receiver create`: a Flux Receiver and its token Secret, so CI jobs can
//! trigger Flux through a webhook without cluster credentials.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, PostParams};
use rand::RngCore;
use serde::Serialize;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

use crate::cli::OutputFormat;
use crate::cli::receiver::ReceiverCreateArgs;
use crate::cli::trigger::ReceiverType;
use crate::cluster::ApiError;
use crate::cluster::objects::{FluxApi, timed, to_value};
use crate::cmd::{Session, write_stdout};
use crate::config;
use crate::error::{Error, ExitCode, Result};
use crate::flux::kinds::{is_dns_subdomain, parse_object_arg};
use crate::flux::{FluxKind, ObjectRef};
use crate::render;

/// The `-o json|yaml` document of a created Receiver.
#[derive(Debug, Serialize)]
struct Created {
    name: String,
    namespace: String,
    #[serde(rename = "type")]
    type_: &'static str,
    secret: String,
    #[serde(rename = "webhookPath")]
    webhook_path: String,
    token: String,
}

pub fn type_name(t: ReceiverType) -> &'static str {
    match t {
        ReceiverType::Generic => "generic",
        ReceiverType::GenericHmac => "generic-hmac",
        ReceiverType::Gitlab => "gitlab",
    }
}

/// 32 random bytes, hex-encoded.
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn secret_name(receiver: &str) -> String {
    format!("{receiver}-token")
}

/// The token Secret.
pub fn secret_manifest(name: &str, namespace: &str, token: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name(name),
            "namespace": namespace,
            "labels": { "app.kubernetes.io/managed-by": "kubectl-gitlab-flux" },
        },
        "type": "Opaque",
        "stringData": { "token": token },
    })
}

/// The Receiver. `versions` gives the apiVersion of each resource kind.
pub fn receiver_manifest(
    name: &str,
    namespace: &str,
    receiver_api_version: &str,
    type_: ReceiverType,
    resources: &[(ObjectRef, String)],
) -> Value {
    let resources: Vec<Value> = resources
        .iter()
        .map(|(r, api_version)| {
            let mut v = json!({
                "apiVersion": api_version,
                "kind": r.kind.kind(),
                "name": r.name,
            });
            if r.namespace != namespace {
                v["namespace"] = json!(r.namespace);
            }
            v
        })
        .collect();
    json!({
        "apiVersion": receiver_api_version,
        "kind": "Receiver",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": { "app.kubernetes.io/managed-by": "kubectl-gitlab-flux" },
        },
        "spec": {
            "type": type_name(type_),
            "resources": resources,
            "secretRef": { "name": secret_name(name) },
        },
    })
}

fn newest_api_version(kind: FluxKind) -> String {
    let info = kind.info();
    format!(
        "{}/{}",
        info.group,
        info.versions.first().copied().unwrap_or("v1")
    )
}

fn parse_resources(args: &ReceiverCreateArgs, namespace: &str) -> Result<Vec<ObjectRef>> {
    if !is_dns_subdomain(&args.name) || args.name.len() > 247 {
        return Err(Error::usage(
            format!("invalid Receiver name {:?}", args.name),
            "use lowercase letters, digits, '-' and '.', e.g. gitlab-ci",
        ));
    }
    let mut out = Vec::new();
    for a in &args.resources {
        let r = parse_object_arg(a, namespace)?;
        if r.kind == FluxKind::Receiver {
            return Err(Error::usage(
                format!("a Receiver cannot trigger another Receiver ({a})"),
                "name the objects to reconcile, e.g. --for ocirepository/apps",
            ));
        }
        out.push(r);
    }
    Ok(out)
}

pub async fn create(session: &Session, args: ReceiverCreateArgs) -> Result<ExitCode> {
    let timeout = config::parse_timeout("--timeout", &args.timeout)?;
    if args.export {
        return export(session, &args);
    }
    let cluster = session.cluster().await?;
    let namespace = cluster.namespace().to_string();
    let refs = parse_resources(&args, &namespace)?;
    let api = FluxApi::discover(&cluster).await?;
    let mut resources = Vec::new();
    for r in refs {
        let ar = api.resource(r.kind)?;
        resources.push((r, ar.api_version.clone()));
    }
    let receiver_api_version = api.resource(FluxKind::Receiver)?.api_version.clone();
    let receivers = api.api(FluxKind::Receiver, Some(&namespace))?;
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), &namespace);
    let secret_name = secret_name(&args.name);

    // Refuse before creating anything, so nothing is half-done.
    let existing = timed(&cluster, receivers.get_opt(&args.name))
        .await
        .map_err(|e| e.into_api(&cluster, "get", "receivers", Some(&namespace)))?;
    if existing.is_some() {
        return Err(already_exists("Receiver", &namespace, &args.name));
    }
    let existing = timed(&cluster, secrets.get_opt(&secret_name))
        .await
        .map_err(|e| e.into_api(&cluster, "get", "secrets", Some(&namespace)))?;
    if existing.is_some() {
        return Err(already_exists("Secret", &namespace, &secret_name));
    }

    let token = generate_token();
    let secret: Secret = serde_json::from_value(secret_manifest(&args.name, &namespace, &token))
        .map_err(|e| internal(format!("cannot build the Secret: {e}")))?;
    let receiver: DynamicObject = serde_json::from_value(receiver_manifest(
        &args.name,
        &namespace,
        &receiver_api_version,
        args.receiver_type,
        &resources,
    ))
    .map_err(|e| internal(format!("cannot build the Receiver: {e}")))?;

    // Both or neither: a server-side dry run of each first (RBAC,
    // admission, validation), and should the Receiver still fail, the
    // Secret is deleted again.
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    for dry_run in [true, false] {
        let pp = if dry_run {
            &dry
        } else {
            &PostParams::default()
        };
        timed(&cluster, secrets.create(pp, &secret))
            .await
            .map_err(|e| {
                create_error(e, &cluster, "secrets", "Secret", &namespace, &secret_name)
            })?;
        if let Err(e) = timed(&cluster, receivers.create(pp, &receiver)).await {
            if !dry_run
                && let Err(d) =
                    timed(&cluster, secrets.delete(&secret_name, &Default::default())).await
            {
                let d = d.into_api(&cluster, "delete", "secrets", Some(&namespace));
                tracing::warn!("cannot delete Secret {namespace}/{secret_name} again: {d}");
            }
            return Err(create_error(
                e,
                &cluster,
                "receivers",
                "Receiver",
                &namespace,
                &args.name,
            ));
        }
    }
    tracing::info!(
        "created Secret {namespace}/{secret_name} and Receiver {namespace}/{}; waiting for its webhook path",
        args.name
    );

    // Wait for notification-controller to publish the path.
    let deadline = Instant::now() + timeout;
    let path = loop {
        let obj = timed(&cluster, receivers.get_opt(&args.name))
            .await
            .map_err(|e| e.into_api(&cluster, "get", "receivers", Some(&namespace)))?
            .map(to_value);
        if let Some(p) = obj
            .as_ref()
            .and_then(|o| o.pointer("/status/webhookPath"))
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
        {
            break p.to_string();
        }
        if Instant::now() >= deadline {
            let why = obj
                .as_ref()
                .and_then(|o| crate::flux::verdict::condition(o, "Ready"))
                .map(|c| format!(" (Ready={}: {})", c.status, c.message))
                .unwrap_or_default();
            return Err(Error::other(
                ExitCode::Timeout,
                format!(
                    "Receiver {namespace}/{} has no status.webhookPath after {}{why}",
                    args.name,
                    humantime::format_duration(timeout)
                ),
                Some(format!(
                    "check that notification-controller runs (kubectl -n flux-system get deploy notification-controller); the token is in Secret {namespace}/{secret_name}"
                )),
            ));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };

    let created = Created {
        name: args.name.clone(),
        namespace: namespace.clone(),
        type_: type_name(args.receiver_type),
        secret: secret_name.clone(),
        webhook_path: path.clone(),
        token: token.clone(),
    };
    match session.output {
        OutputFormat::Table => write_stdout(&instructions(&created, args.receiver_type))?,
        fmt => write_stdout(&with_newline(render::document(&created, fmt)?))?,
    }
    Ok(ExitCode::Success)
}

fn instructions(c: &Created, t: ReceiverType) -> String {
    let type_flag = if t == ReceiverType::GenericHmac {
        String::new()
    } else {
        format!(" --receiver-type {}", type_name(t))
    };
    format!(
        "Receiver {ns}/{name} is ready.\n\
         webhook path: {path}\n\
         token:        {token}\n\
         \n\
         The token is shown only this once (it is also in Secret {ns}/{secret}).\n\
         Store it as a masked (and protected) GitLab CI/CD variable named FLUX_RECEIVER_TOKEN\n\
         (Settings > CI/CD > Variables), expose notification-controller's webhook-receiver\n\
         Service (flux-system, port 80) through an Ingress, and in the deploy job run:\n\
         \n  kubectl gitlab-flux trigger --receiver https://<your webhook host>{path} --token-env FLUX_RECEIVER_TOKEN{type_flag}\n",
        ns = c.namespace,
        name = c.name,
        path = c.webhook_path,
        token = c.token,
        secret = c.secret,
    )
}

fn export(session: &Session, args: &ReceiverCreateArgs) -> Result<ExitCode> {
    let namespace = match &session.global.namespace {
        Some(ns) => ns.clone(),
        None => session
            .resolve_single()
            .map(|(_, r)| r.namespace)
            .unwrap_or_else(|_| "flux-system".to_string()),
    };
    let refs = parse_resources(args, &namespace)?;
    let resources: Vec<(ObjectRef, String)> = refs
        .into_iter()
        .map(|r| {
            let v = newest_api_version(r.kind);
            (r, v)
        })
        .collect();
    let token = generate_token();
    let secret = secret_manifest(&args.name, &namespace, &token);
    let receiver = receiver_manifest(
        &args.name,
        &namespace,
        &newest_api_version(FluxKind::Receiver),
        args.receiver_type,
        &resources,
    );
    let text = match session.output {
        OutputFormat::Json => render::document(
            &json!({
                "apiVersion": "v1",
                "kind": "List",
                "items": [secret, receiver],
            }),
            OutputFormat::Json,
        )?,
        _ => format!(
            "---\n{}---\n{}",
            with_newline(render::document(&secret, OutputFormat::Yaml)?),
            with_newline(render::document(&receiver, OutputFormat::Yaml)?)
        ),
    };
    write_stdout(&text)?;
    eprintln!(
        "the Secret holds a new random token: apply both (kubectl apply -f -) and read the webhook path from the Receiver's status.webhookPath"
    );
    Ok(ExitCode::Success)
}

/// Documents end with a newline, whatever the serializer does.
pub fn with_newline(mut text: String) -> String {
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

fn internal(msg: String) -> Error {
    Error::other(ExitCode::Failure, msg, None)
}

fn already_exists(kind: &str, namespace: &str, name: &str) -> Error {
    Error::usage(
        format!("{kind} {namespace}/{name} already exists"),
        format!(
            "pick another Receiver name, or delete the old one first (kubectl -n {namespace} delete {} {name})",
            kind.to_lowercase()
        ),
    )
}

fn create_error(
    e: crate::cluster::objects::Failure,
    cluster: &crate::cluster::Cluster,
    resource: &str,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Error {
    if let crate::cluster::objects::Failure::Kube(kube::Error::Api(s)) = &e
        && s.code == 409
    {
        return already_exists(kind, namespace, name);
    }
    let err: ApiError = e.into_api(cluster, "create", resource, Some(namespace));
    err.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_random_bytes_in_hex() {
        let a = generate_token();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, generate_token());
    }

    #[test]
    fn receiver_names_its_resources_and_secret() {
        let r = receiver_manifest(
            "ci",
            "flux-system",
            "notification.toolkit.fluxcd.io/v1",
            ReceiverType::GenericHmac,
            &[(
                ObjectRef::new(FluxKind::OciRepository, "flux-system", "apps"),
                "source.toolkit.fluxcd.io/v1".into(),
            )],
        );
        assert_eq!(r["spec"]["type"], "generic-hmac");
        assert_eq!(r["spec"]["secretRef"]["name"], "ci-token");
        assert_eq!(
            r["spec"]["resources"][0],
            json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository", "name": "apps"})
        );
    }
}
