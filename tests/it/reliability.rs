//! The reliability suite (issue 8): where each item of the list is tested.
//!
//! Tests that already existed are referenced by name, not repeated; the
//! ones that filled a gap live here, in `bad_input`, in `secrets`, and in
//! `tests/it/push.rs`.
//!
//! # Cluster faults during `wait`
//!
//! | fault | test |
//! |---|---|
//! | every watch dropped | `wait::survives_dropped_watches_and_a_restart`, `wait_scenarios::survives_refused_connections_and_compaction` (success and failure verdicts) |
//! | connections refused for 5 s, then restored | `ready_during_a_5s_outage_ends_the_wait`, `failure_during_a_5s_outage_is_reported` (the transition happens *while* the API is down: nothing is missed); `wait_scenarios::survives_refused_connections_and_compaction` (3 s, transition after the outage) |
//! | 410 Gone | `ready_during_a_5s_outage_ends_the_wait` (history compacted during the outage: the resume gets 410 and re-lists), `wait::survives_dropped_watches_and_a_restart`, `wait_scenarios::survives_refused_connections_and_compaction` |
//! | API restart | `wait::survives_dropped_watches_and_a_restart` |
//!
//! # Registry faults during `push` (`tests/it/push.rs`)
//!
//! | fault | test |
//! |---|---|
//! | 500/503, then success (retried) | `server_errors_and_throttling_are_retried` |
//! | connection cut mid-upload: clear error, no tag left | `connection_cut_mid_upload` |
//! | 429 with Retry-After | `server_errors_and_throttling_are_retried` (honoured; beyond `--timeout` → exit 3 at once, naming the Retry-After: issue 14 item 11) |
//! | slow registry vs `--timeout` | `slow_registry_hits_the_timeout_and_leaves_no_tag` |
//! | server errors that never stop | `server_errors_and_throttling_are_retried` (exit 4, no tag) |
//! | rejected manifest | `rejected_manifest_is_exit_1_and_leaves_no_tag` |
//!
//! # Bad input: message, hint, exit code, and nothing changed
//!
//! | input | test |
//! |---|---|
//! | push: missing path, empty after ignores, symlink escaping the tree, unreadable file (a FIFO as root, chmod 000 otherwise), YAML that does not parse, malformed `oci://` (no scheme, uppercase repository, bad tag, bad digest), invalid `--timeout`/`--wait-timeout`, conflicting flags, a `--dotenv` that is a directory | `push::local_input_errors_are_exit_2_before_any_upload` (no connection reaches the registry — a listener would see it —, no dotenv written) |
//! | unreadable file for a user root cannot impersonate | `push::unreadable_file_as_an_unprivileged_user` (drops to `nobody` with setpriv; skipped with a reason when it cannot) |
//! | malformed `oci://` for `trigger`/`wait --artifact` | `bad_input::malformed_artifact_references_touch_no_cluster` |
//! | unknown context or agent | `cli::current_context_namespace_flag_and_unknown_context`, `cli::agent_flag_picks_by_full_path_or_by_name`, `cli::kube_context_variable_picks_one`, `bad_input::unknown_context_or_agent_touches_no_cluster` |
//! | malformed kubeconfig | `cli::missing_and_malformed_kubeconfig`, `bad_input::malformed_kubeconfig_writes_nothing` |
//! | expired token (401) | `kubeconfig_auth::ca_token_exec_and_client_certificates` (status), `bad_input::expired_cluster_token_changes_nothing`, `push::expired_registry_token_is_exit_4_and_leaves_no_tag`, `wrong_password_is_exit_4_naming_the_source_not_the_secret` |
//! | forbidden (403) | `trigger::forbidden_names_the_verb_resource_and_namespace`, `trigger::receiver_create_forbidden`, `bad_input::forbidden_changes_nothing` (trigger, wait on list and on watch, status, receiver create leaves no Secret); `push::pull_only_user_is_denied_with_exit_4` |
//! | Flux CRDs not installed | `trigger::flux_not_installed`, `status::flux_not_installed_and_unreachable`, `bad_input::flux_not_installed_changes_nothing` (wait, trigger, receiver create) |
//! | object not found | `trigger::a_missing_object_is_a_usage_error`, `bad_input::missing_object_patches_nothing` (a missing object among present ones: nothing is patched) |
//! | invalid `--timeout` | `bad_input::invalid_durations` (wait, receiver create, `--request-timeout`), `push::local_input_errors_are_exit_2_before_any_upload` (`--timeout`, `--wait-timeout`), `cli::usage_errors_exit_2_with_a_hint` |
//! | conflicting flags | `bad_input::conflicting_flags_change_nothing` (trigger's webhook/annotation flags, several contexts, report paths that are directories), `push::local_input_errors_are_exit_2_before_any_upload` (`--creds` with `--username`, `--trigger --dry-run`, `--dependents` alone) |
//! | a receiver URL that is not HTTP(S) | `trigger::webhook_url_must_be_http`, `bad_input::conflicting_flags_change_nothing` (no request sent, no dotenv) |
//!
//! # Secrets
//!
//! Every command at `-v`, `-vv` and `-vvv`, credentials in flags,
//! environment, docker config, kubeconfig and URLs, success and failure
//! paths, raw and base64: `secrets::no_command_prints_a_secret`. Earlier, narrower checks: `trigger::webhook_*`
//! (`assert_no_secret`), `e2e::receiver_create_then_trigger_through_the_simulated_webhook`,
//! `cli::gitlab_kubeconfig_without_current_context_lists_both_agents`,
//! `push::gitlab_ci_job_token_flow_and_defaults`,
//! `wrong_password_is_exit_4_naming_the_source_not_the_secret`.
//!
//! # Hostile environments (issue 14, `tests/it/hardening.rs`)
//!
//! | item | test |
//! |---|---|
//! | 1. output files written in place: a symlink (target written, link kept), an existing 0600 file (mode kept), a FIFO, `/dev/stdout`; no temp or probe file left | `hardening::output_files_are_written_in_place` (and `render::tests` unit tests) |
//! | 2. credentials only to the registry's origin: a foreign upload `Location` and a 307 to another origin get no Authorization (a recording relay in front of the real registry) | `hardening::credentials_never_follow_a_foreign_location_or_redirect` |
//! | 3. a credential program that prints its secret and fails: exec plugin (kubeconfig) and docker credential helper, at `-v`/`-vvv`; program, exit status, stderr's first line only; no API request, no tag | `hardening::failing_credential_programs_never_show_their_output` |
//! | 4. symlinks to ignored files (a `.sourceignore`d file, `.git` through a link) left out with a note, in `--dry-run` and in the pushed layer | `hardening::symlinks_to_ignored_files_are_left_out_with_a_note`, `oci::artifact::tests::links_to_ignored_files_are_left_out` |
//! | 5. a hanging exec plugin (with a child of its own): `--request-timeout` → exit 4, `wait --timeout` → exit 3, SIGTERM → exit 130, every process killed, no API request | `hardening::hanging_credential_plugins_are_bounded_and_killed` |
//! | 11. an object whose kind and namespace the wait has not listed yet is "waiting", never "NotFound" (an inventory HelmRelease in another namespace) | `wait_scenarios::helmrelease_shipped_in_the_artifact` |
//! | 11. API errors: a Status printed as `<code> <reason>: <message>` (no debug dump, no repeated line); a server answering HTML named as not a Kubernetes API, with a hint (exit 4) | `hardening::api_errors_are_plain_messages` |
//! | 10. `push --trigger --wait -o json` / `-o yaml`: one document with `push`, `trigger` and `wait` | `hardening::push_trigger_wait_prints_one_document` |
//! | 6. an API server that accepts connections and never answers: `wait --timeout 3s` exits 3 at its deadline (discovery, tag resolution and the selection's lists are bounded by it), not 4 after a request's 30 s; with `--request-timeout 0` no client limit cuts in first | `hardening::a_paused_api_server_is_a_timeout_at_the_deadline` |
//! | 8. valid YAML as large as real manifests (a 150,000-key ConfigMap, 30,000 documents in a file) passes the check; an alias bomb is refused as "too large to check" (exit 2, hint `--no-validate`), not as invalid, in a third of a second in a debug build | `oci::artifact::tests::large_valid_yaml_is_checked_and_alias_bombs_are_too_large` |
//! | 9. an output path that cannot be written (no file can be created in its directory; a socket), for `--dotenv` and `--junit`: exit 2 before any upload, no tag, no file | `hardening::unwritable_output_paths_are_refused_before_any_push` |
//!
//! # Interrupts
//!
//! | command | test |
//! |---|---|
//! | `wait` | `wait_scenarios::ctrl_c_exits_130_promptly` |
//! | `push` during a blob upload | `push::ctrl_c_during_blob_upload_exits_130_and_leaves_no_tag` |

use crate::common::Run;
use crate::common::bed::{Bed, KS, NS, applied, configmap};
use serde_json::{Value, json};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The creation time pinned in test pushes, so the digest of a revision is
/// known before it is pushed where Flux looks.
const CREATED: &str = "2024-01-01T00:00:00Z";

/// Push with a pinned creation time; the manifest digest depends only on
/// the files and the tag (the revision annotation is derived from it).
fn push_pinned(bed: &Bed, repo: &str, tag: &str, files: &[(&str, &str)]) -> String {
    let files: Vec<(&str, &[u8])> = files.iter().map(|(p, c)| (*p, c.as_bytes())).collect();
    testbed::oci::push_flux_artifact(
        &bed.registry.base_url(),
        repo,
        tag,
        &files,
        &[
            (
                "org.opencontainers.image.revision",
                &format!("main@sha1:{:0>40}", tag),
            ),
            ("org.opencontainers.image.created", CREATED),
        ],
    )
    .expect("push artifact")
}

fn spawn_wait(bed: &Bed, artifact: &str) -> Child {
    bed.plugin()
        .args([
            "wait",
            "--timeout",
            "60s",
            "-o",
            "json",
            "--artifact",
            artifact,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wait")
}

/// Block until the plugin has a watch open on Kustomizations (so the
/// outage starts while it is watching, not before it connected).
fn until_watching(bed: &Bed, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let watching = bed.api.requests().iter().any(|r| {
            r.path.ends_with("/kustomizations") && r.query_param("watch").as_deref() == Some("true")
        });
        if watching {
            return;
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("wait exited early ({status}) before watching");
        }
        assert!(Instant::now() < deadline, "wait never opened a watch");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Whether the API emulator currently refuses connections.
fn api_is_down(bed: &Bed) -> bool {
    let url = bed.api.url();
    let authority = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .expect("authority");
    let addr: std::net::SocketAddr = authority.parse().expect("socket address");
    std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err()
}

/// A Ready at the awaited revision that happens while the API refuses
/// connections (5 s), with the watch history compacted meanwhile (the
/// resume gets 410 Gone and re-lists): the wait still ends, successfully.
#[test]
fn ready_during_a_5s_outage_ends_the_wait() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "v1"}));
    bed.create_ks(NS, "apps", "apps", json!({}));
    let d0 = push_pinned(
        &bed,
        "demo/apps",
        "v1",
        &[("cm.yaml", &configmap("one", ""))],
    );
    bed.until(KS, "Kustomization", NS, "apps", |o| applied(o, &d0));
    // The next revision, pushed elsewhere first to learn its digest.
    let next = [("cm.yaml", configmap("two", ""))];
    let next: Vec<(&str, &str)> = next.iter().map(|(p, c)| (*p, c.as_str())).collect();
    let d1 = push_pinned(&bed, "demo/staging", "v1", &next);
    assert_ne!(d0, d1);

    let mut child = spawn_wait(&bed, &bed.artifact("demo/apps", "v1", &d1));
    until_watching(&bed, &mut child);
    bed.api.faults().refuse_connections(Duration::from_secs(5));
    // While the API is down: the revision lands and Flux applies it.
    assert_eq!(push_pinned(&bed, "demo/apps", "v1", &next), d1);
    bed.until(KS, "Kustomization", NS, "apps", |o| applied(o, &d1));
    bed.api.faults().compact();
    assert!(
        api_is_down(&bed),
        "the transition should have happened during the outage (machine too slow?)"
    );
    let r = Run::of(child.wait_with_output().expect("wait exits"));
    r.assert_ok();
    let report = r.json();
    assert_eq!(report["result"], "ready");
    let ks = report["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|o| o["kind"] == "Kustomization")
        .expect("Kustomization in the report");
    assert!(
        ks["revision"].as_str().is_some_and(|r| r.ends_with(&d1)),
        "{ks}"
    );
}

/// A failure at the awaited revision that happens while the API refuses
/// connections (5 s): the resumed watch replays it and the wait fails with
/// the reason, instead of waiting for the timeout.
#[test]
fn failure_during_a_5s_outage_is_reported() {
    let Some(bed) = Bed::start() else { return };
    bed.create_source(NS, "apps", "demo/apps", json!({"tag": "v1"}));
    bed.create_ks(NS, "apps", "apps", json!({}));
    let d0 = push_pinned(
        &bed,
        "demo/apps",
        "v1",
        &[("cm.yaml", &configmap("one", ""))],
    );
    bed.until(KS, "Kustomization", NS, "apps", |o| applied(o, &d0));
    let failing = configmap(
        "one",
        "  annotations:\n    sim.gitlab-flux.io/fail: ReconciliationFailed\n    sim.gitlab-flux.io/message: rejected while the API was down\n",
    );
    let next = [("cm.yaml", failing.as_str())];
    let d1 = push_pinned(&bed, "demo/staging", "v1", &next);

    let mut child = spawn_wait(&bed, &bed.artifact("demo/apps", "v1", &d1));
    until_watching(&bed, &mut child);
    bed.api.faults().refuse_connections(Duration::from_secs(5));
    assert_eq!(push_pinned(&bed, "demo/apps", "v1", &next), d1);
    bed.until(KS, "Kustomization", NS, "apps", |o| {
        let attempted = o
            .pointer("/status/lastAttemptedRevision")
            .and_then(Value::as_str)
            .is_some_and(|r| r.ends_with(&d1));
        let failed = o
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c["type"] == "Ready"
                        && c["status"] == "False"
                        && c["reason"] == "ReconciliationFailed"
                })
            });
        attempted && failed
    });
    assert!(
        api_is_down(&bed),
        "the failure should have happened during the outage (machine too slow?)"
    );
    let r = Run::of(child.wait_with_output().expect("wait exits"));
    r.assert_error(1, "Kustomization/flux-system/apps ReconciliationFailed", "");
    assert!(
        r.stderr.contains("rejected while the API was down"),
        "{}",
        r.stderr
    );
    assert_eq!(r.json()["result"], "failed");
}
