//! The documented pipelines, run: each job's script of
//! docs/examples/gitlab-ci.yml, docs/examples/gitlab-ci-receiver.yml and of
//! the component as docs/gitlab-ci.md includes it runs in a POSIX shell
//! (busybox, as in the plugin's image) with the variables GitLab CI would
//! give it, the dotenv reports of the jobs it needs, and GitLab agent
//! contexts (no current-context) for two test-bed clusters.

use super::gitlab::{
    deep_merge, expand_gitlab, interpolate_component, jobs, load_yaml, script_lines, variables,
    yaml_blocks,
};
use super::{Env, root};
use crate::common::bed::{Bed, Cluster2, KS, NS, OCI, merged_kubeconfig};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use testbed::apiserver::Store;

const STAGING_AGENT: &str = "group/infra/gitlab-agents:staging";
const PRODUCTION_AGENT: &str = "group/infra/gitlab-agents:production";
const REPO: &str = "group/project/manifests";

/// The outcome of one job.
struct Job {
    code: i32,
    log: String,
    dotenv: Env,
}

/// A tiny GitLab CI: runs jobs of a configuration in one project directory.
struct Runner {
    work: tempfile::TempDir,
    bin_dir: PathBuf,
    base: Env,
    /// dotenv reports by job, in the order the jobs ran.
    reports: Vec<(String, Env)>,
}

fn shell() -> Vec<String> {
    // The image's shell is busybox; Debian's busybox-static is a test
    // dependency (scripts/deps.sh). Outside CI, fall back to sh.
    for b in ["/bin/busybox", "/usr/bin/busybox"] {
        if Path::new(b).exists() {
            return vec![b.into(), "sh".into()];
        }
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "busybox is required under CI=true (apt-get install busybox-static)"
    );
    vec!["sh".into()]
}

impl Runner {
    fn new(bed: &Bed) -> Runner {
        let work = tempfile::tempdir().expect("tempdir");
        let bin_dir = work.path().join(".bin");
        std::fs::create_dir_all(&bin_dir).expect("mkdir");
        std::os::unix::fs::symlink(crate::common::bin(), bin_dir.join("kubectl-gitlab_flux"))
            .expect("symlink");
        let project = work.path().join("project");
        let deploy = project.join("deploy");
        std::fs::create_dir_all(&deploy).expect("mkdir");
        std::fs::write(
            deploy.join("app.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: apps\ndata:\n  image: registry.example.com/group/app:IMAGE_TAG\n",
        )
        .expect("write");
        let host = bed.registry.host();
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let base: Env = [
            ("CI", "true".to_string()),
            ("GITLAB_CI", "true".into()),
            ("CI_SERVER_FQDN", "gitlab.example.com".into()),
            (
                "CI_PROJECT_URL",
                "https://gitlab.example.com/group/project".into(),
            ),
            ("CI_PROJECT_DIR", project.display().to_string()),
            ("CI_REGISTRY", host.clone()),
            ("CI_REGISTRY_IMAGE", format!("{host}/group/project")),
            ("CI_COMMIT_SHA", sha.into()),
            ("CI_COMMIT_SHORT_SHA", sha[..8].into()),
            ("CI_COMMIT_REF_NAME", "main".into()),
            ("CI_COMMIT_REF_SLUG", "main".into()),
            ("CI_COMMIT_BRANCH", "main".into()),
            ("CI_DEFAULT_BRANCH", "main".into()),
            ("CI_COMMIT_TIMESTAMP", "2025-01-31T10:11:12+00:00".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Runner {
            work,
            bin_dir,
            base,
            reports: Vec::new(),
        }
    }

    fn project(&self) -> PathBuf {
        self.work.path().join("project")
    }

    /// Run job `name` of `config` with `extra` variables (what project
    /// settings and the agent would provide).
    fn run(&mut self, config: &Value, name: &str, extra: &Env) -> Job {
        let all = jobs(config);
        let job = all.get(name).unwrap_or_else(|| panic!("no job {name}"));
        // dotenv reports: of the jobs in `needs`, else of every earlier job.
        let needs: Option<Vec<String>> = job.get("needs").and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(|n| n.as_str().or_else(|| n.get("job").and_then(Value::as_str)))
                .map(String::from)
                .collect()
        });
        let mut dotenv = Env::new();
        for (job_name, report) in &self.reports {
            if needs.as_ref().is_none_or(|n| n.contains(job_name)) {
                dotenv.extend(report.clone());
            }
        }
        let mut env = self.base.clone();
        env.extend(extra.clone());
        env.insert("CI_JOB_NAME".into(), name.into());
        if let Some(e) = job.pointer("/environment/name").and_then(Value::as_str) {
            env.insert("CI_ENVIRONMENT_NAME".into(), e.into());
        }
        // YAML variables (global, then the job's), expanded by GitLab; the
        // dotenv variables of earlier jobs take precedence over them.
        let mut ctx = env.clone();
        ctx.extend(dotenv.clone());
        for (k, v) in variables(config.get("variables"))
            .into_iter()
            .chain(variables(job.get("variables")))
        {
            let v = expand_gitlab(&v, &ctx, false);
            if !dotenv.contains_key(&k) {
                ctx.insert(k, v);
            }
        }
        let script = format!("set -e\n{}\n", script_lines(config, job).join("\n"));
        let mut cmd = Command::new(&shell()[0]);
        cmd.args(&shell()[1..])
            .arg("-c")
            .arg(&script)
            .current_dir(self.project())
            .env_clear()
            .envs(&ctx)
            .env(
                "PATH",
                format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin_dir.display()),
            )
            .env("HOME", self.work.path())
            .stdin(std::process::Stdio::null());
        let out = cmd.output().expect("the job's shell runs");
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let code = out.status.code().unwrap_or(-1);
        let mut report = Env::new();
        if let Some(file) = job
            .pointer("/artifacts/reports/dotenv")
            .and_then(Value::as_str)
        {
            let path = self.project().join(file);
            if code == 0 {
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("job {name}: dotenv report {file}: {e}\n{log}"));
                report = parse_dotenv(&text).unwrap_or_else(|e| panic!("job {name}: {file}: {e}"));
            }
        }
        if let Some(file) = job
            .pointer("/artifacts/reports/junit")
            .and_then(Value::as_str)
        {
            let path = self.project().join(file);
            // A job that failed before waiting writes none (GitLab warns).
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(_) if code != 0 => String::new(),
                Err(e) => panic!("job {name}: JUnit report {file}: {e}\n{log}"),
            };
            assert!(
                text.is_empty()
                    || text.starts_with("<?xml")
                        && text.contains("<testsuites")
                        && text.contains("<testcase"),
                "job {name}: {file} is no JUnit report:\n{text}"
            );
            let _ = std::fs::remove_file(&path);
        }
        self.reports.push((name.to_string(), report.clone()));
        Job {
            code,
            log,
            dotenv: report,
        }
    }

    /// Run every job of `config` in stage order (manual jobs included: the
    /// test plays the person who clicks), each expected to succeed.
    fn run_all(&mut self, config: &Value, extra: &Env) -> BTreeMap<String, Job> {
        let stages: Vec<String> = config["stages"]
            .as_array()
            .expect("stages")
            .iter()
            .filter_map(|s| s.as_str().map(String::from))
            .collect();
        let all = jobs(config);
        let mut done = BTreeMap::new();
        for stage in &stages {
            for (name, job) in &all {
                if job.get("stage").and_then(Value::as_str).unwrap_or("test") != stage {
                    continue;
                }
                let r = self.run(config, name, extra);
                assert_eq!(r.code, 0, "job {name} failed:\n{}", r.log);
                done.insert(name.clone(), r);
            }
        }
        assert_eq!(done.len(), all.len(), "every job ran");
        done
    }
}

/// GitLab's dotenv format: `KEY=VALUE` lines, no blank or comment lines,
/// at most 5120 bytes.
fn parse_dotenv(text: &str) -> Result<Env, String> {
    if text.len() > 5120 {
        return Err(format!("{} bytes, more than GitLab's 5120", text.len()));
    }
    let key = regex::Regex::new("^[A-Za-z_][A-Za-z0-9_]*$").expect("regex");
    let mut env = Env::new();
    for line in text.lines() {
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("not KEY=VALUE: {line:?}"))?;
        if !key.is_match(k) {
            return Err(format!("bad key in {line:?}"));
        }
        env.insert(k.into(), v.into());
    }
    Ok(env)
}

/// An OCIRepository `apps` selecting `tag`, and a Kustomization `apps`
/// applying it, in `store`; the tag holds an older artifact already.
fn flux_objects(bed: &Bed, store: &Store, tag: &str) {
    bed.push(
        REPO,
        tag,
        &[("old.yaml", &crate::common::bed::configmap("old", ""))],
    );
    store
        .create(json!({
            "apiVersion": OCI, "kind": "OCIRepository",
            "metadata": {"name": "apps", "namespace": NS},
            "spec": {"url": format!("oci://{}/{REPO}", bed.registry.host()),
                     "ref": {"tag": tag}, "interval": "10m", "insecure": true},
        }))
        .expect("OCIRepository");
    store
        .create(json!({
            "apiVersion": KS, "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": NS},
            "spec": {"interval": "10m", "path": "./", "prune": true,
                     "sourceRef": {"kind": "OCIRepository", "name": "apps"}},
        }))
        .expect("Kustomization");
}

/// What `lastAppliedRevision` of Kustomization `apps` is now.
fn applied_revision(store: &Store) -> String {
    store
        .get(KS, "Kustomization", NS, "apps")
        .and_then(|o| {
            o.pointer("/status/lastAppliedRevision")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .unwrap_or_default()
}

/// Two clusters behind GitLab agents: the kubeconfig GitLab CI injects has
/// one context per agent and no current-context.
fn agent_kubeconfig(bed: &Bed, production: &Cluster2) -> PathBuf {
    let text = merged_kubeconfig(&[
        (&bed.api, STAGING_AGENT),
        (&production.api, PRODUCTION_AGENT),
    ]);
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("current-context:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let path = bed.dir.path().join("gitlab-agents.kubeconfig");
    std::fs::write(&path, text).expect("kubeconfig");
    path
}

fn tag_digest(bed: &Bed, tag: &str) -> String {
    testbed::oci::pull_manifest(&bed.registry.base_url(), REPO, tag)
        .expect("pull manifest")
        .digest
}

#[test]
fn the_example_pipeline_deploys_staging_then_promotes_to_production() {
    let Some(bed) = Bed::start() else { return };
    let production = bed.second_cluster();
    flux_objects(&bed, &bed.store, "staging");
    flux_objects(&bed, &production.store, "production");
    let old_production = tag_digest(&bed, "production");
    let config = load_yaml("docs/examples/gitlab-ci.yml").remove(0);
    let mut ci = Runner::new(&bed);
    let extra: Env = [(
        "KUBECONFIG".to_string(),
        agent_kubeconfig(&bed, &production).display().to_string(),
    )]
    .into();

    let jobs = ci.run_all(&config, &extra);

    let push = &jobs["push"].dotenv;
    let digest = &push["ARTIFACT_DIGEST"];
    assert_eq!(
        push["ARTIFACT_URL"],
        format!("oci://{}/{REPO}:staging@{digest}", bed.registry.host())
    );
    assert_eq!(push["ARTIFACT_TAGS"], "staging,01234567");
    assert!(
        jobs["trigger-staging"]
            .dotenv
            .contains_key("FLUX_RECONCILE_TOKEN")
    );
    // Staging applied exactly the pushed digest, and the rendered manifest.
    assert!(applied_revision(&bed.store).ends_with(digest.as_str()));
    let cm = bed
        .store
        .get("v1", "ConfigMap", "apps", "app")
        .expect("applied ConfigMap");
    assert_eq!(
        cm["data"]["image"],
        "registry.example.com/group/app:01234567"
    );
    // Production runs the same digest, tagged production.
    assert_eq!(&tag_digest(&bed, "production"), digest);
    assert!(applied_revision(&production.store).ends_with(digest.as_str()));
    // What the logs show: the wait's state changes, the promotion.
    let wait_log = &jobs["wait-staging"].log;
    assert!(
        wait_log.contains("Kustomization/flux-system/apps ready"),
        "{wait_log}"
    );
    assert!(
        jobs["deploy-production"].log.contains(&format!(
            "tagged artifact oci://{}/{REPO}:production",
            bed.registry.host()
        )),
        "{}",
        jobs["deploy-production"].log
    );
    assert_ne!(&old_production, digest);

    // A newer pipeline moved staging: this pipeline's production job no
    // longer promotes what staging runs, so it refuses and writes nothing.
    let newer = bed.push(
        REPO,
        "staging",
        &[("newer.yaml", &crate::common::bed::configmap("newer", ""))],
    );
    let refused = ci.run(&config, "deploy-production", &extra);
    assert_eq!(refused.code, 1, "{}", refused.log);
    assert!(
        refused
            .log
            .contains(&format!("staging no longer points at {digest}")),
        "{}",
        refused.log
    );
    assert_eq!(&tag_digest(&bed, "production"), digest);
    assert_ne!(&tag_digest(&bed, "production"), &newer);
}

#[test]
fn the_receiver_pipeline_deploys_without_cluster_access() {
    let Some(bed) = Bed::start() else { return };
    flux_objects(&bed, &bed.store, "production");
    // The administrator's one-off step, as docs/gitlab-ci.md shows it.
    let r = crate::common::run(bed.plugin().args([
        "receiver",
        "create",
        "gitlab-ci",
        "--for",
        "ocirepository/apps",
        "-n",
        "flux-system",
        "-o",
        "json",
    ]));
    r.assert_ok();
    let created = r.json();
    let token = created["token"].as_str().expect("token").to_string();
    let path = created["webhookPath"]
        .as_str()
        .expect("webhookPath")
        .to_string();

    let config = load_yaml("docs/examples/gitlab-ci-receiver.yml").remove(0);
    let mut ci = Runner::new(&bed);
    // Project CI/CD variables; no KUBECONFIG at all.
    let extra: Env = [
        (
            "FLUX_RECEIVER_URL".to_string(),
            format!("{}{path}", bed.sim.receiver_url()),
        ),
        ("FLUX_RECEIVER_TOKEN".to_string(), token.clone()),
    ]
    .into();
    let jobs = ci.run_all(&config, &extra);
    let digest = jobs["push"].dotenv["ARTIFACT_DIGEST"].clone();
    assert_eq!(jobs["deploy"].dotenv["FLUX_TRIGGER_METHOD"], "webhook");
    for (name, job) in &jobs {
        assert!(!job.log.contains(&token), "job {name} logs the token");
        assert!(!job.log.contains(&path), "job {name} logs the webhook path");
    }
    // Flux, not the pipeline, applies it: the Receiver made the
    // OCIRepository fetch the new digest, and the Kustomization followed.
    bed.until(KS, "Kustomization", NS, "apps", |o| {
        crate::common::bed::applied(o, &digest)
    });
}

/// The `include:` example of docs/gitlab-ci.md, with the component file
/// of this project in place of the catalog's.
fn documented_inclusion() -> Value {
    let md = std::fs::read_to_string(root().join("docs/gitlab-ci.md")).expect("docs/gitlab-ci.md");
    let block = yaml_blocks(&md)
        .into_iter()
        .find(|b| b.contains("component: $CI_SERVER_FQDN/"))
        .expect("docs/gitlab-ci.md shows how to include the component");
    let local: Value = serde_saphyr::from_str(&block).expect("the include example parses");
    let mut config = json!({});
    for inc in local["include"].as_array().expect("include: list") {
        let path = inc["component"].as_str().expect("component:");
        let name = path
            .rsplit('/')
            .next()
            .and_then(|n| n.split('@').next())
            .expect("…/<name>@<version>");
        let docs = load_yaml(&format!("templates/{name}.yml"));
        let inputs = inc
            .get("inputs")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let jobs = interpolate_component(&docs, &inputs).expect("the documented inputs are valid");
        deep_merge(&mut config, &jobs);
    }
    // The including file's own keys (stages, overrides of included jobs) win.
    let mut rest = local.clone();
    rest.as_object_mut().expect("mapping").remove("include");
    deep_merge(&mut config, &rest);
    config
}

#[test]
fn the_component_as_documented_deploys_and_promotes() {
    let Some(bed) = Bed::start() else { return };
    let production = bed.second_cluster();
    flux_objects(&bed, &bed.store, "staging");
    flux_objects(&bed, &production.store, "production");
    let config = documented_inclusion();
    let mut ci = Runner::new(&bed);
    let extra: Env = [(
        "KUBECONFIG".to_string(),
        agent_kubeconfig(&bed, &production).display().to_string(),
    )]
    .into();
    let jobs = ci.run_all(&config, &extra);
    assert_eq!(jobs.len(), 2, "{:?}", jobs.keys());
    let staging = &jobs["deploy-staging"];
    let digest = staging.dotenv["ARTIFACT_DIGEST"].clone();
    assert!(staging.dotenv["ARTIFACT_URL"].contains(":staging@"));
    assert!(applied_revision(&bed.store).ends_with(&digest));
    assert_eq!(jobs["deploy-production"].dotenv["ARTIFACT_DIGEST"], digest);
    assert!(applied_revision(&production.store).ends_with(&digest));

    // Production got the bytes staging runs, not a rebuild of deploy/:
    // the promotion packs nothing.
    assert!(
        jobs["deploy-production"].log.contains("tagged artifact"),
        "{}",
        jobs["deploy-production"].log
    );

    // A newer deploy moved staging: the older promotion refuses, and the
    // production tag is not touched.
    let newer = bed.push(
        REPO,
        "staging",
        &[("newer.yaml", &crate::common::bed::configmap("newer", ""))],
    );
    let refused = ci.run(&config, "deploy-production", &extra);
    assert_eq!(refused.code, 1, "{}", refused.log);
    assert!(
        refused
            .log
            .contains(&format!("staging no longer points at {digest}")),
        "{}",
        refused.log
    );
    assert_eq!(tag_digest(&bed, "production"), digest);
    assert_ne!(tag_digest(&bed, "production"), newer);
}

#[test]
fn dotenv_reports_are_checked_as_gitlab_reads_them() {
    assert!(parse_dotenv("A=1\nB_2=x=y\n").is_ok());
    assert!(parse_dotenv("A=1\n\nB=2\n").is_err());
    assert!(parse_dotenv("# c\nA=1\n").is_err());
    assert!(parse_dotenv(&format!("A={}\n", "x".repeat(5200))).is_err());
}
