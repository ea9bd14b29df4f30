//! Views of a wait: the live table on a terminal, one line per state
//! change in CI logs (with GitLab collapsible sections for details), the
//! final table, the JSON/YAML report and the JUnit file.

use owo_colors::OwoColorize;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::cmd::Session;
use crate::cmd::wait::{Key, Origin, Tracked};
use crate::error::{Error, ExitCode, Result};
use crate::flux::verdict::Phase;

/// The final report (`-o json|yaml`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitReport {
    pub result: String,
    pub elapsed_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub objects: Vec<ObjectReport>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReport {
    pub cluster: String,
    pub namespace: String,
    pub kind: String,
    pub name: String,
    pub state: Phase,
    pub reason: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    pub via: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
}

impl WaitReport {
    pub fn new(
        result: &str,
        elapsed: Duration,
        artifact: Option<String>,
        digest: Option<String>,
        token: Option<String>,
        clusters: Vec<String>,
        tracked: &BTreeMap<Key, Tracked>,
    ) -> WaitReport {
        WaitReport {
            result: result.to_string(),
            elapsed_seconds: round(elapsed),
            artifact,
            digest,
            token,
            objects: tracked
                .iter()
                .map(|(k, t)| object_report(&clusters, k, t))
                .collect(),
        }
    }
}

fn round(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

fn object_report(clusters: &[String], k: &Key, t: &Tracked) -> ObjectReport {
    ObjectReport {
        cluster: clusters.get(k.cluster).cloned().unwrap_or_default(),
        namespace: k.namespace.clone(),
        kind: k.kind.name().to_string(),
        name: k.name.clone(),
        state: t.verdict.phase,
        reason: t.verdict.reason.clone(),
        message: t.verdict.message.clone(),
        revision: t.verdict.revision.clone(),
        seconds: t.settled.map(round),
        via: match &t.origin {
            Origin::Selected => "selected".into(),
            Origin::SourceOf(x) => format!("source of {x}"),
            Origin::Inventory(x) => format!("inventory of {x}"),
        },
        events: t.events.clone(),
    }
}

/// Shorten `main@sha256:<64 hex>` to `main@sha256:<12 hex>`.
pub fn short_revision(rev: &str) -> String {
    match rev.find("sha256:") {
        Some(i) if rev.len() > i + 19 => rev[..i + 19].to_string(),
        _ => rev.to_string(),
    }
}

fn paint(phase: Phase, text: &str, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    match phase {
        Phase::Ready => text.green().to_string(),
        Phase::Failed => text.red().bold().to_string(),
        Phase::Suspended => text.yellow().to_string(),
        Phase::Progressing => text.cyan().to_string(),
        Phase::Pending => text.dimmed().to_string(),
    }
}

fn one_line(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max {
        let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        flat
    }
}

fn rows(report: &WaitReport, multi: bool, color: bool, width: usize) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled);
    let mut header = Vec::new();
    if multi {
        header.push("CLUSTER");
    }
    header.extend([
        "NAMESPACE",
        "KIND/NAME",
        "STATE",
        "REVISION",
        "DURATION",
        "MESSAGE",
    ]);
    t.set_header(header);
    for o in &report.objects {
        let mut row = Vec::new();
        if multi {
            row.push(o.cluster.clone());
        }
        row.push(o.namespace.clone());
        row.push(format!("{}/{}", o.kind, o.name));
        row.push(paint(o.state, o.state.as_str(), color));
        row.push(
            o.revision
                .as_deref()
                .map(short_revision)
                .unwrap_or_else(|| "-".into()),
        );
        row.push(
            o.seconds
                .map(|s| format!("{s:.1}s"))
                .unwrap_or_else(|| "-".into()),
        );
        row.push(one_line(&o.message, width));
        t.add_row(row);
    }
    crate::render::kubectl_spacing(&mut t);
    let mut s = String::new();
    for line in t.to_string().lines() {
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

/// The final table on stdout.
pub fn final_table(report: &WaitReport, multi: bool, color: bool) -> String {
    rows(report, multi, color, 100)
}

/// One line naming what failed.
pub fn failure_summary(report: &WaitReport) -> String {
    let failed: Vec<String> = report
        .objects
        .iter()
        .filter(|o| matches!(o.state, Phase::Failed | Phase::Suspended))
        .map(|o| {
            format!(
                "{}/{}/{} {}: {}",
                o.kind,
                o.namespace,
                o.name,
                o.reason,
                one_line(&o.message, 300)
            )
        })
        .collect();
    if failed.is_empty() {
        "the wait failed".into()
    } else {
        failed.join("; ")
    }
}

/// What is still pending, with what each waits for.
pub fn pending_summary(report: &WaitReport) -> String {
    let pending: Vec<String> = report
        .objects
        .iter()
        .filter(|o| !matches!(o.state, Phase::Ready))
        .map(|o| {
            format!(
                "{}/{}/{} ({})",
                o.kind,
                o.namespace,
                o.name,
                one_line(&o.message, 160)
            )
        })
        .collect();
    pending.join("; ")
}

/// Write the JUnit XML report (one testcase per object).
pub fn write_junit(path: &Path, report: &WaitReport) -> Result<()> {
    // XML 1.0 has no place for control characters other than tab and
    // newlines (a controller message may carry ANSI colours): drop them.
    let esc = |s: &str| {
        s.chars()
            .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
            .collect::<String>()
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let failures = report
        .objects
        .iter()
        .filter(|o| o.state == Phase::Failed)
        .count();
    let errors = report
        .objects
        .iter()
        .filter(|o| matches!(o.state, Phase::Pending | Phase::Progressing))
        .count();
    let skipped = report
        .objects
        .iter()
        .filter(|o| o.state == Phase::Suspended)
        .count();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites name=\"kubectl-gitlab-flux wait\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{:.3}\">\n",
        report.objects.len(),
        report.elapsed_seconds
    ));
    xml.push_str(&format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{:.3}\">\n",
        esc(report.artifact.as_deref().unwrap_or("flux")),
        report.objects.len(),
        report.elapsed_seconds
    ));
    for o in &report.objects {
        let classname = if o.cluster.is_empty() {
            o.namespace.clone()
        } else {
            format!("{}.{}", o.cluster, o.namespace)
        };
        xml.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}/{}\" time=\"{:.3}\"",
            esc(&classname),
            esc(&o.kind),
            esc(&o.name),
            o.seconds.unwrap_or(report.elapsed_seconds)
        ));
        let detail = || {
            let mut text = o.message.clone();
            for e in &o.events {
                text.push('\n');
                text.push_str(e);
            }
            esc(&text)
        };
        match o.state {
            Phase::Ready => xml.push_str("/>\n"),
            Phase::Failed => xml.push_str(&format!(
                ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>\n",
                esc(&o.reason),
                esc(&one_line(&o.message, 500)),
                detail()
            )),
            Phase::Suspended => xml.push_str(&format!(
                ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                esc(&o.message)
            )),
            Phase::Pending | Phase::Progressing => xml.push_str(&format!(
                ">\n      <error type=\"Timeout\" message=\"{}\">{}</error>\n    </testcase>\n",
                esc(&one_line(&o.message, 500)),
                detail()
            )),
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    crate::render::write_atomic(path, xml.as_bytes()).map_err(|e| {
        Error::other(
            ExitCode::Usage,
            format!("cannot write the JUnit report {}: {e}", path.display()),
            Some("check that the directory exists and is writable".into()),
        )
    })
}

/// One CI log line for a state change:
/// `HH:MM:SS +  12.3s [cluster] Kind/namespace/name state Reason: message`.
pub fn change_line(
    clock: &str,
    elapsed: Duration,
    cluster: Option<&str>,
    key: &Key,
    t: &Tracked,
    color: bool,
) -> String {
    let cluster = cluster.map(|c| format!("[{c}] ")).unwrap_or_default();
    format!(
        "{clock} +{:>6.1}s {cluster}{}/{}/{} {} {}: {}",
        elapsed.as_secs_f64(),
        key.kind.name(),
        key.namespace,
        key.name,
        paint(t.verdict.phase, t.verdict.phase.as_str(), color),
        t.verdict.reason,
        one_line(&t.verdict.message, 200)
    )
}

/// Progress on stderr: a live table on a terminal, otherwise one line per
/// state change.
pub struct Progress {
    live: bool,
    color: bool,
    multi: bool,
    clusters: Vec<String>,
    last: HashMap<Key, (Phase, String)>,
    drawn_lines: usize,
    gitlab: bool,
}

impl Progress {
    pub fn new(session: &Session, multi: bool, clusters: Vec<String>) -> Progress {
        Progress {
            live: session.stderr_tty,
            color: session.color_stderr,
            multi,
            clusters,
            last: HashMap::new(),
            drawn_lines: 0,
            gitlab: std::env::var("GITLAB_CI").is_ok_and(|v| v == "true"),
        }
    }

    fn snapshot(
        &self,
        tracked: &BTreeMap<Key, Tracked>,
        started: Instant,
        result: &str,
    ) -> WaitReport {
        WaitReport::new(
            result,
            started.elapsed(),
            None,
            None,
            None,
            self.clusters.clone(),
            tracked,
        )
    }

    /// After every batch of events.
    pub fn update(&mut self, tracked: &BTreeMap<Key, Tracked>, started: Instant) {
        if self.live {
            self.redraw(tracked, started);
            return;
        }
        let mut err = std::io::stderr().lock();
        // One clock reading per update: thousands of lines may change at once.
        let clock = jiff::Timestamp::now().strftime("%H:%M:%S").to_string();
        let elapsed = started.elapsed();
        for (k, t) in tracked {
            let now = (t.verdict.phase, t.verdict.message.clone());
            if self.last.get(k) == Some(&now) {
                continue;
            }
            self.last.insert(k.clone(), now);
            let cluster = self
                .multi
                .then(|| self.clusters.get(k.cluster).cloned().unwrap_or_default());
            let line = change_line(&clock, elapsed, cluster.as_deref(), k, t, self.color);
            let _ = writeln!(err, "{line}");
        }
    }

    /// Periodic redraw (elapsed time) on a terminal.
    pub fn tick(&mut self, tracked: &BTreeMap<Key, Tracked>, started: Instant) {
        if self.live {
            self.redraw(tracked, started);
        }
    }

    fn redraw(&mut self, tracked: &BTreeMap<Key, Tracked>, started: Instant) {
        let report = self.snapshot(tracked, started, "waiting");
        let mut text = rows(&report, self.multi, self.color, 60);
        let ready = report
            .objects
            .iter()
            .filter(|o| o.state == Phase::Ready)
            .count();
        let failed = report
            .objects
            .iter()
            .filter(|o| o.state == Phase::Failed)
            .count();
        text.push_str(&format!(
            "{:.1}s elapsed · {ready}/{} ready{}\n",
            started.elapsed().as_secs_f64(),
            report.objects.len(),
            if failed > 0 {
                format!(" · {failed} failed")
            } else {
                String::new()
            }
        ));
        let mut err = std::io::stderr().lock();
        if self.drawn_lines > 0 {
            let _ = write!(err, "\x1b[{}F\x1b[J", self.drawn_lines);
        }
        let _ = err.write_all(text.as_bytes());
        self.drawn_lines = text.lines().count();
    }

    /// The end: clear the live view; in GitLab CI, put failure details in
    /// collapsible sections.
    pub fn finish(&mut self, tracked: &BTreeMap<Key, Tracked>, started: Instant, result: &str) {
        let mut err = std::io::stderr().lock();
        if self.live && self.drawn_lines > 0 {
            let _ = write!(err, "\x1b[{}F\x1b[J", self.drawn_lines);
            self.drawn_lines = 0;
        }
        let report = self.snapshot(tracked, started, result);
        for o in report
            .objects
            .iter()
            .filter(|o| matches!(o.state, Phase::Failed | Phase::Suspended))
        {
            let title = format!(
                "{}/{}/{} {}: {}",
                o.kind,
                o.namespace,
                o.name,
                o.reason,
                one_line(&o.message, 200)
            );
            let name = format!(
                "flux_{}_{}",
                o.kind.to_lowercase(),
                o.name.replace(['.'], "_")
            );
            let unix = jiff::Timestamp::now().as_second();
            if self.gitlab {
                let _ = writeln!(
                    err,
                    "\x1b[0Ksection_start:{unix}:{name}[collapsed=true]\r\x1b[0K{title}"
                );
            } else {
                let _ = writeln!(err, "{title}");
            }
            let _ = writeln!(err, "  message: {}", o.message);
            for e in &o.events {
                let _ = writeln!(err, "  event: {e}");
            }
            if self.gitlab {
                let _ = writeln!(err, "\x1b[0Ksection_end:{unix}:{name}\r\x1b[0K");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::wait::TKind;
    use crate::flux::FluxKind;
    use crate::flux::verdict::Verdict;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[allow(clippy::too_many_arguments)] // a table row of test data
    fn tracked(
        cluster: usize,
        kind: TKind,
        ns: &str,
        name: &str,
        origin: Origin,
        verdict: (Phase, &str, &str, Option<String>),
        settled: Option<f64>,
        events: &[&str],
    ) -> (Key, Tracked) {
        (
            Key {
                cluster,
                kind,
                namespace: ns.into(),
                name: name.into(),
            },
            Tracked {
                origin,
                verdict: Verdict {
                    phase: verdict.0,
                    reason: verdict.1.into(),
                    message: verdict.2.into(),
                    revision: verdict.3,
                },
                since: Instant::now(),
                settled: settled.map(Duration::from_secs_f64),
                events: events.iter().map(|e| e.to_string()).collect(),
            },
        )
    }

    #[test]
    fn ci_change_lines() {
        let (k, t) = tracked(
            0,
            TKind::Flux(FluxKind::Kustomization),
            "flux-system",
            "apps",
            Origin::Selected,
            (
                Phase::Progressing,
                "Progressing",
                "Reconciliation in progress\n  (retry)",
                None,
            ),
            None,
            &[],
        );
        assert_eq!(
            change_line(
                "12:00:01",
                Duration::from_millis(12_345),
                None,
                &k,
                &t,
                false
            ),
            "12:00:01 +  12.3s Kustomization/flux-system/apps progressing Progressing: Reconciliation in progress (retry)"
        );
        let (k, t) = tracked(
            1,
            TKind::Flux(FluxKind::HelmRelease),
            "apps",
            "web",
            Origin::Inventory("Kustomization/flux-system/apps".into()),
            (Phase::Failed, "UpgradeFailed", "Helm upgrade failed", None),
            Some(3.0),
            &[],
        );
        assert_eq!(
            change_line(
                "12:00:02",
                Duration::from_secs(3),
                Some("production"),
                &k,
                &t,
                false
            ),
            "12:00:02 +   3.0s [production] HelmRelease/apps/web failed UpgradeFailed: Helm upgrade failed"
        );
        let colored = change_line("12:00:02", Duration::from_secs(3), None, &k, &t, true);
        assert!(colored.contains("\u{1b}["), "{colored:?}");
    }

    /// A failed wait over two clusters: every phase, origin and escaping case.
    fn report() -> WaitReport {
        let rev = Some(format!("v1@{D}"));
        let map: BTreeMap<Key, Tracked> = [
            tracked(
                0,
                TKind::Flux(FluxKind::OciRepository),
                "flux-system",
                "apps",
                Origin::SourceOf("Kustomization/flux-system/apps".into()),
                (
                    Phase::Ready,
                    "Succeeded",
                    &format!("stored artifact for digest 'v1@{D}'"),
                    rev.clone(),
                ),
                Some(0.4),
                &[],
            ),
            tracked(
                0,
                TKind::Flux(FluxKind::Kustomization),
                "flux-system",
                "apps",
                Origin::Selected,
                (
                    Phase::Failed,
                    "ReconciliationFailed",
                    "ConfigMap/apps/one dry-run failed: <denied> & \"rejected\"",
                    Some(format!("v0@{D}")),
                ),
                Some(1.25),
                &["2026-11-21T10:00:00Z Warning ReconciliationFailed: \u{1b}[31mdry-run failed\u{1b}[0m\u{7}"],
            ),
            tracked(
                0,
                TKind::Flux(FluxKind::HelmRelease),
                "apps",
                "web",
                Origin::Inventory("Kustomization/flux-system/apps".into()),
                (
                    Phase::Progressing,
                    "Progressing",
                    "Running 'upgrade' action with timeout of 5m0s",
                    Some("1.0.0+0123456789ab".into()),
                ),
                None,
                &[],
            ),
            tracked(
                1,
                TKind::Flux(FluxKind::Kustomization),
                "flux-system",
                "apps",
                Origin::Selected,
                (
                    Phase::Suspended,
                    "Suspended",
                    "reconciliation is suspended",
                    None,
                ),
                Some(0.0),
                &[],
            ),
            tracked(
                1,
                TKind::Workload("Deployment"),
                "apps",
                "web",
                Origin::Inventory("Kustomization/flux-system/apps".into()),
                (Phase::Pending, "NotFound", "not found (yet)", None),
                None,
                &[],
            ),
        ]
        .into_iter()
        .collect();
        WaitReport::new(
            "failed",
            Duration::from_millis(2500),
            Some(format!("oci://registry.example/demo/apps:v1@{D}")),
            Some(D.into()),
            Some("2026-11-21T10:00:00.123456789Z".into()),
            vec!["staging".into(), "production".into()],
            &map,
        )
    }

    #[test]
    fn final_table_single_and_multi_cluster() {
        let r = report();
        insta::assert_snapshot!("final_table_multi", final_table(&r, true, false));
        insta::assert_snapshot!("final_table_single", final_table(&r, false, false));
    }

    #[test]
    fn json_report() {
        let text =
            crate::render::document(&report(), crate::cli::OutputFormat::Json).expect("json");
        insta::assert_snapshot!("json_report", text);
    }

    #[test]
    fn summaries() {
        let r = report();
        assert_eq!(
            failure_summary(&r),
            "Kustomization/flux-system/apps ReconciliationFailed: ConfigMap/apps/one dry-run failed: <denied> & \"rejected\"; Kustomization/flux-system/apps Suspended: reconciliation is suspended"
        );
        assert_eq!(
            pending_summary(&r),
            "Kustomization/flux-system/apps (ConfigMap/apps/one dry-run failed: <denied> & \"rejected\"); HelmRelease/apps/web (Running 'upgrade' action with timeout of 5m0s); Kustomization/flux-system/apps (reconciliation is suspended); Deployment/apps/web (not found (yet))"
        );
    }

    #[test]
    fn junit_is_well_formed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("wait.xml");
        write_junit(&path, &report()).expect("junit");
        let xml = std::fs::read_to_string(&path).expect("read");
        insta::assert_snapshot!("junit", xml);
        // Well-formed XML, checked by an independent parser when available.
        match std::process::Command::new("python3")
            .args([
                "-c",
                "import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])",
            ])
            .arg(&path)
            .output()
        {
            Ok(out) => assert!(
                out.status.success(),
                "not well-formed:\n{}\n{xml}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(_) => eprintln!("python3 not found: well-formedness not checked"),
        }
    }
}
