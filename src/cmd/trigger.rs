//! `trigger`: ask Flux to reconcile now.
//!
//! Two methods:
//! - annotation (default): merge-patch `reconcile.fluxcd.io/requestedAt` (and,
//!   for HelmReleases with `--force`/`--reset`, `forceAt`/`resetAt`) on each
//!   selected object, with one token shared by the whole run, sources first;
//! - webhook (`--receiver URL`): POST to a Flux Receiver; needs no cluster
//!   access at all.

use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::Sha256;
use std::io::Read;
use std::path::Path;

use crate::cli::OutputFormat;
use crate::cli::trigger::{ReceiverType, TriggerArgs};
use crate::cluster::objects::FluxApi;
use crate::cmd::{Session, targets, write_stdout};
use crate::error::{Error, ExitCode, Result};
use crate::flux::{FluxKind, ObjectRef};
use crate::render;

pub const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";
pub const FORCE_AT: &str = "reconcile.fluxcd.io/forceAt";
pub const RESET_AT: &str = "reconcile.fluxcd.io/resetAt";

/// What `trigger` did: the `-o json|yaml` document.
#[derive(Debug, Clone, Serialize)]
pub struct TriggerReport {
    /// The reconcile request token (annotation method), which controllers
    /// copy to `status.lastHandledReconcileAt`.
    pub token: Option<String>,
    pub method: &'static str,
    pub objects: Vec<TriggeredObject>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TriggeredObject {
    pub namespace: String,
    pub kind: String,
    pub name: String,
    pub method: &'static str,
    /// `triggered` or `skipped: suspended`.
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl TriggerReport {
    pub fn triggered(&self) -> usize {
        self.objects
            .iter()
            .filter(|o| o.result == "triggered")
            .count()
    }
}

pub async fn run(session: &Session, args: TriggerArgs) -> Result<ExitCode> {
    if let Some(path) = &args.dotenv {
        render::check_output_path("--dotenv", path)?;
    }
    let report = match &args.receiver {
        Some(url) => webhook(&args, url, args.receiver_type).await?,
        None => annotate(session, &args).await?,
    };
    if let Some(path) = &args.dotenv {
        write_dotenv(path, &report)?;
    }
    match session.output {
        OutputFormat::Table => write_stdout(&table(&report))?,
        fmt => write_stdout(&super::receiver::with_newline(render::document(
            &report, fmt,
        )?))?,
    }
    eprintln!("{}", summary(&report));
    Ok(ExitCode::Success)
}

// ---------------------------------------------------------------------------
// Annotation method

async fn annotate(session: &Session, args: &TriggerArgs) -> Result<TriggerReport> {
    if args.token_file.is_some() || args.token_env.is_some() {
        return Err(Error::usage(
            "--token-file and --token-env only apply to the webhook method",
            "add --receiver URL, or drop the token flags to trigger by annotation",
        ));
    }
    annotate_targets(
        session,
        &args.target,
        args.force,
        args.reset,
        args.fail_on_suspended,
    )
    .await
}

/// The annotation method on a selection: one merge patch per object with
/// one shared token, sources first. Also used by `push --trigger`.
pub async fn annotate_targets(
    session: &Session,
    target: &crate::cli::TargetArgs,
    force: bool,
    reset: bool,
    fail_on_suspended: bool,
) -> Result<TriggerReport> {
    // Validate the selection flags before touching the kubeconfig.
    targets::validate(target, "default")?;
    let cluster = session.cluster().await?;
    let api = FluxApi::discover(&cluster).await?;
    let selection = targets::select(&api, target, cluster.namespace()).await?;
    let plan = plan(&selection.objects, fail_on_suspended)?;
    if (force || reset)
        && !plan
            .iter()
            .any(|(r, skip)| !skip && r.kind == FluxKind::HelmRelease)
    {
        tracing::warn!("--force/--reset only apply to HelmReleases, and none is selected");
    }

    let token = reconcile_token(jiff::Timestamp::now());
    let mut objects = Vec::new();
    for (r, skip) in plan {
        if skip {
            objects.push(row(&r, "skipped: suspended", None));
            continue;
        }
        let patch = annotation_patch(r.kind, &token, force, reset);
        api.merge_patch(r.kind, &r.namespace, &r.name, &patch)
            .await?;
        tracing::info!(object = %r, "reconcile requested");
        objects.push(row(&r, "triggered", Some(token.clone())));
    }
    Ok(TriggerReport {
        token: Some(token),
        method: "annotation",
        objects,
    })
}

fn row(r: &ObjectRef, result: &str, token: Option<String>) -> TriggeredObject {
    TriggeredObject {
        namespace: r.namespace.clone(),
        kind: r.kind.kind().to_string(),
        name: r.name.clone(),
        method: "annotation",
        result: result.to_string(),
        token,
    }
}

/// Decide, before any patch, which objects are triggered and which are
/// skipped as suspended; with `fail_on_suspended` a suspended object is an
/// error and nothing is patched.
pub fn plan(
    objects: &[(ObjectRef, Value)],
    fail_on_suspended: bool,
) -> Result<Vec<(ObjectRef, bool)>> {
    let suspended: Vec<&ObjectRef> = objects
        .iter()
        .filter(|(_, v)| is_suspended(v))
        .map(|(r, _)| r)
        .collect();
    if fail_on_suspended && !suspended.is_empty() {
        let names: Vec<String> = suspended
            .iter()
            .map(|r| format!("{} {}/{}", r.kind, r.namespace, r.name))
            .collect();
        let hints: Vec<String> = suspended.iter().map(|r| resume_command(r)).collect();
        return Err(Error::other(
            ExitCode::Failure,
            format!(
                "{} suspended, nothing was triggered: {}",
                if suspended.len() == 1 {
                    "1 selected object is"
                } else {
                    "selected objects are"
                },
                names.join(", ")
            ),
            Some(format!(
                "resume it first: {} (or drop --fail-on-suspended to skip it)",
                hints.join("; ")
            )),
        ));
    }
    Ok(objects
        .iter()
        .map(|(r, v)| (r.clone(), is_suspended(v)))
        .collect())
}

pub fn is_suspended(obj: &Value) -> bool {
    obj.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true)
}

/// The flux CLI command that resumes an object.
pub fn resume_command(r: &ObjectRef) -> String {
    let what = match r.kind {
        FluxKind::OciRepository => "source oci",
        FluxKind::GitRepository => "source git",
        FluxKind::Bucket => "source bucket",
        FluxKind::HelmRepository => "source helm",
        FluxKind::HelmChart => "source chart",
        FluxKind::ExternalArtifact => "source external",
        FluxKind::Kustomization => "kustomization",
        FluxKind::HelmRelease => "helmrelease",
        FluxKind::Receiver => "receiver",
    };
    format!("flux resume {what} {} -n {}", r.name, r.namespace)
}

/// The merge patch requesting a reconcile.
pub fn annotation_patch(kind: FluxKind, token: &str, force: bool, reset: bool) -> Value {
    let mut annotations = serde_json::Map::new();
    annotations.insert(REQUESTED_AT.into(), json!(token));
    if kind == FluxKind::HelmRelease {
        if force {
            annotations.insert(FORCE_AT.into(), json!(token));
        }
        if reset {
            annotations.insert(RESET_AT.into(), json!(token));
        }
    }
    json!({ "metadata": { "annotations": annotations } })
}

/// Go's RFC3339Nano in UTC: nanoseconds with trailing zeros trimmed, and no
/// fraction at all when it is zero.
pub fn reconcile_token(now: jiff::Timestamp) -> String {
    let base = now.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = now.subsec_nanosecond();
    if nanos == 0 {
        return format!("{base}Z");
    }
    let frac = format!("{nanos:09}");
    format!("{base}.{}Z", frac.trim_end_matches('0'))
}

// ---------------------------------------------------------------------------
// Webhook method

async fn webhook(args: &TriggerArgs, url: &str, kind: ReceiverType) -> Result<TriggerReport> {
    if args.force || args.reset {
        return Err(Error::usage(
            "--force and --reset need the annotation method",
            "drop --receiver to annotate the HelmReleases directly",
        ));
    }
    if !args.target.objects.is_empty() || args.target.dependents || args.target.all_namespaces {
        return Err(Error::usage(
            "a Receiver triggers the objects its spec.resources names: KIND/NAME, --dependents and -A do not apply to --receiver",
            "drop them, or drop --receiver to trigger by annotation",
        ));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        Error::usage(
            format!("invalid --receiver URL {:?}: {e}", redact_url_str(url)),
            "give the Receiver's URL, e.g. https://flux-webhook.example.com/hook/<status.webhookPath>",
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::usage(
            format!(
                "invalid --receiver URL {:?}: the scheme must be http or https, not {:?}",
                redact_url(&parsed),
                parsed.scheme()
            ),
            "give the Receiver's URL, e.g. https://flux-webhook.example.com/hook/<status.webhookPath>",
        ));
    }
    let token = read_token(args)?;
    let body = serde_json::to_vec(&json!({
        "source": "kubectl-gitlab-flux",
        "artifact": args.target.artifact,
    }))
    .map_err(|e| {
        Error::other(
            ExitCode::Failure,
            format!("cannot encode the body: {e}"),
            None,
        )
    })?;

    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .user_agent(concat!("kubectl-gitlab-flux/", env!("CARGO_PKG_VERSION")))
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| {
            Error::other(
                ExitCode::Failure,
                format!("cannot build the HTTP client: {}", e.without_url()),
                None,
            )
        })?;
    let mut req = client
        .post(parsed.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    match kind {
        ReceiverType::Generic => {}
        ReceiverType::GenericHmac => {
            req = req.header(
                "X-Signature",
                format!("sha256={}", hmac_sha256_hex(&token, &body)),
            );
        }
        ReceiverType::Gitlab => {
            // NC-GITLAB: notification-controller checks X-Gitlab-Event
            // against spec.events (case-insensitively), when it lists some.
            req = req
                .header("X-Gitlab-Token", token.as_str())
                .header("X-Gitlab-Event", args.gitlab_event.as_str());
        }
    }
    let shown = redact_url(&parsed);
    let resp = req.body(body).send().await.map_err(|e| {
        let e = e.without_url();
        let mut msg = format!("cannot reach the Receiver at {shown}: {e}");
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(&format!(": {s}"));
            src = s.source();
        }
        Error::other(
            ExitCode::Unavailable,
            redact_secret(&msg, &token),
            Some(
                "check the URL and that the Receiver's Service/Ingress is reachable from this job"
                    .into(),
            ),
        )
    })?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(webhook_status_error(
            status,
            &shown,
            kind,
            &args.gitlab_event,
        ));
    }
    Ok(TriggerReport {
        token: None,
        method: "webhook",
        objects: vec![TriggeredObject {
            namespace: "-".into(),
            kind: "Receiver".into(),
            name: shown,
            method: "webhook",
            result: "triggered".into(),
            token: None,
        }],
    })
}

fn webhook_status_error(status: u16, shown: &str, kind: ReceiverType, event: &str) -> Error {
    match status {
        // NC-GITLAB, NC-CODES: a gitlab Receiver answers the same empty 400
        // to a wrong token and to an event its spec.events does not list.
        400 if kind == ReceiverType::Gitlab => Error::other(
            ExitCode::Unavailable,
            format!(
                "the Receiver at {shown} rejected the call (400): the token does not match, \
                 or its spec.events does not list the event {event:?}"
            ),
            Some("check that the token is the Receiver Secret's `token`, and pass --gitlab-event with one of the Receiver's spec.events (kubectl get receiver NAME -o jsonpath='{.spec.events}')".to_string()),
        ),
        400 | 401 | 403 => Error::other(
            ExitCode::Unavailable,
            format!("the Receiver at {shown} rejected the call ({status}): the signature or token does not match"),
            Some(match kind {
                ReceiverType::GenericHmac => "check that the token is the Receiver Secret's `token` and that the Receiver's spec.type is generic-hmac (else set --receiver-type)".to_string(),
                ReceiverType::Gitlab => "check that the token is the Receiver Secret's `token` and that the Receiver's spec.type is gitlab (else set --receiver-type)".to_string(),
                ReceiverType::Generic => "the Receiver expects a signature: set --receiver-type to its spec.type (generic-hmac or gitlab)".to_string(),
            }),
        ),
        404 => Error::other(
            ExitCode::Usage,
            format!("the Receiver at {shown} does not know this webhook path (404)"),
            Some("check the URL against the Receiver's status.webhookPath (kubectl get receiver NAME -o jsonpath='{.status.webhookPath}')".into()),
        ),
        503 => Error::other(
            ExitCode::Failure,
            format!("the Receiver at {shown} is suspended or not ready (503)"),
            Some("check the Receiver: kubectl describe receiver NAME -n flux-system (flux resume receiver NAME if suspended)".into()),
        ),
        _ => Error::other(
            ExitCode::Failure,
            format!("the Receiver at {shown} answered HTTP {status}"),
            Some("check notification-controller's logs".into()),
        ),
    }
}

/// HMAC-SHA256 of `body` keyed with `token`, hex-encoded.
pub fn hmac_sha256_hex(token: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(token.as_bytes()) {
        Ok(m) => m,
        // HMAC accepts keys of any length.
        Err(_) => return String::new(),
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Read the Receiver token: file, environment variable, or stdin.
fn read_token(args: &TriggerArgs) -> Result<String> {
    let (raw, from) = if let Some(path) = &args.token_file {
        let raw = std::fs::read_to_string(path).map_err(|e| {
            Error::usage(
                format!("cannot read --token-file {}: {e}", path.display()),
                "give a readable file holding the Receiver token",
            )
        })?;
        (raw, format!("--token-file {}", path.display()))
    } else if let Some(name) = &args.token_env {
        let raw = std::env::var(name).map_err(|_| {
            Error::usage(
                format!("the environment variable {name} (--token-env) is not set"),
                format!("store the Receiver token as a masked GitLab CI/CD variable named {name}"),
            )
        })?;
        (raw, format!("--token-env {name}"))
    } else {
        let mut raw = String::new();
        std::io::stdin().read_to_string(&mut raw).map_err(|e| {
            Error::usage(
                format!("cannot read the Receiver token from stdin: {e}"),
                "pass it with --token-env NAME or --token-file FILE",
            )
        })?;
        (raw, "stdin".to_string())
    };
    let token = raw.trim_end_matches(['\n', '\r']).to_string();
    if token.trim().is_empty() {
        return Err(Error::usage(
            format!("the Receiver token from {from} is empty"),
            "pass the token of the Receiver's Secret with --token-env NAME, --token-file FILE or on stdin",
        ));
    }
    Ok(token)
}

/// Show a webhook URL without its secret path: `https://host/hook/…`.
pub fn redact_url(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or("");
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = if url.path().len() > 1 {
        match url.path().strip_prefix("/hook/") {
            Some(_) => "/hook/…".to_string(),
            None => "/…".to_string(),
        }
    } else {
        String::new()
    };
    format!("{}://{host}{port}{path}", url.scheme())
}

fn redact_url_str(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?']).next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or(host);
            format!("{scheme}://{host}/…")
        }
        None => "…".to_string(),
    }
}

fn redact_secret(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_string()
    } else {
        text.replace(secret, "***")
    }
}

// ---------------------------------------------------------------------------
// Output

pub fn table(report: &TriggerReport) -> String {
    let rows = report
        .objects
        .iter()
        .map(|o| {
            vec![
                o.namespace.clone(),
                format!("{}/{}", o.kind, o.name),
                o.method.to_string(),
                o.result.clone(),
                o.token.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    render::table(
        &["NAMESPACE", "KIND/NAME", "METHOD", "RESULT", "TOKEN"],
        rows,
    )
}

pub fn summary(report: &TriggerReport) -> String {
    let triggered = report.triggered();
    let skipped = report.objects.len() - triggered;
    if report.method == "webhook" {
        return "triggered the Receiver webhook".to_string();
    }
    let mut s = format!(
        "triggered {triggered} object{}",
        if triggered == 1 { "" } else { "s" }
    );
    if skipped > 0 {
        s.push_str(&format!(", skipped {skipped} suspended"));
    }
    if let Some(t) = &report.token {
        s.push_str(&format!(" (token {t})"));
    }
    s
}

pub fn dotenv(report: &TriggerReport) -> String {
    let mut s = String::new();
    if let Some(t) = &report.token {
        s.push_str(&format!("FLUX_RECONCILE_TOKEN={t}\n"));
    }
    s.push_str(&format!("FLUX_TRIGGERED={}\n", report.triggered()));
    s.push_str(&format!("FLUX_TRIGGER_METHOD={}\n", report.method));
    s
}

/// Write the dotenv file atomically (temp file + rename).
fn write_dotenv(path: &Path, report: &TriggerReport) -> Result<()> {
    render::write_atomic(path, dotenv(report).as_bytes()).map_err(|e| {
        Error::other(
            ExitCode::Failure,
            format!("cannot write --dotenv {}: {e}", path.display()),
            Some("give a writable path, e.g. --dotenv trigger.env".into()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_go_rfc3339nano() {
        let t: jiff::Timestamp = "2024-06-01T10:11:12.123450000Z".parse().expect("ts");
        assert_eq!(reconcile_token(t), "2024-06-01T10:11:12.12345Z");
        let t: jiff::Timestamp = "2024-06-01T10:11:12Z".parse().expect("ts");
        assert_eq!(reconcile_token(t), "2024-06-01T10:11:12Z");
        let t: jiff::Timestamp = "2024-06-01T10:11:12.000000001+02:00".parse().expect("ts");
        assert_eq!(reconcile_token(t), "2024-06-01T08:11:12.000000001Z");
    }

    #[test]
    fn patch_sets_force_and_reset_on_helmreleases_only() {
        let p = annotation_patch(FluxKind::HelmRelease, "T", true, true);
        assert_eq!(p["metadata"]["annotations"][FORCE_AT], "T");
        assert_eq!(p["metadata"]["annotations"][RESET_AT], "T");
        assert_eq!(p["metadata"]["annotations"][REQUESTED_AT], "T");
        let p = annotation_patch(FluxKind::Kustomization, "T", true, true);
        assert_eq!(p, json!({"metadata":{"annotations":{REQUESTED_AT: "T"}}}));
    }

    #[test]
    fn suspended_objects_are_skipped_or_refused() {
        let r = ObjectRef::new(FluxKind::Kustomization, "ns", "apps");
        let s = ObjectRef::new(FluxKind::OciRepository, "ns", "src");
        let objs = vec![
            (s.clone(), json!({"spec": {"suspend": true}})),
            (r.clone(), json!({"spec": {}})),
        ];
        let p = plan(&objs, false).expect("plan");
        assert_eq!(p, vec![(s, true), (r, false)]);
        let err = plan(&objs, true).expect_err("refused");
        assert_eq!(err.exit_code(), ExitCode::Failure);
        assert!(
            err.hint()
                .unwrap_or_default()
                .contains("flux resume source oci src -n ns")
        );
    }

    #[test]
    fn hmac_matches_a_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            hmac_sha256_hex("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn webhook_urls_are_shown_without_their_path() {
        let u = reqwest::Url::parse("https://hooks.example.com:8443/hook/abcdef").expect("url");
        assert_eq!(redact_url(&u), "https://hooks.example.com:8443/hook/…");
        assert_eq!(redact_url_str("ftp://u:p@host/x"), "ftp://host/…");
    }

    #[test]
    fn dotenv_lists_token_and_count() {
        let report = TriggerReport {
            token: Some("T".into()),
            method: "annotation",
            objects: vec![row(
                &ObjectRef::new(FluxKind::Kustomization, "ns", "a"),
                "triggered",
                Some("T".into()),
            )],
        };
        assert_eq!(
            dotenv(&report),
            "FLUX_RECONCILE_TOKEN=T\nFLUX_TRIGGERED=1\nFLUX_TRIGGER_METHOD=annotation\n"
        );
    }
}
