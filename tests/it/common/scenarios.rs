//! The verdict scenarios' expected outcomes, in ONE place: the exit code and
//! the reason `wait` prints, per scenario. Both backends assert against
//! this table (tests/it/real_verdict.rs: `sim_*` on the API emulator and
//! the Flux simulator, `real_*` on the real cluster with the real Flux
//! controllers), so when the simulator and real Flux disagree the suite
//! fails. Real Flux is the ground truth: a row is what real Flux made the
//! plugin say; a simulator that disagrees is a simulator bug.

use super::Run;

/// One scenario's expected outcome.
#[derive(Debug, Clone, Copy)]
pub struct Expected {
    /// The scenario's name (`sim_<name>` / `real_<name>` test functions).
    pub name: &'static str,
    /// The exit code of the `wait` the scenario is about.
    pub code: i32,
    /// On failure (code ≠ 0): a substring of the first `error:` line;
    /// on success: a substring of stderr (the object lines `wait` prints:
    /// the Ready reason of the object that turned ready).
    pub reason: &'static str,
    /// The rows of docs/flux-semantics.md the scenario shows.
    pub rows: &'static str,
}

/// The scenario table. Each row is asserted on both backends.
pub const SCENARIOS: &[Expected] = &[
    Expected {
        name: "moved_tag_untriggered",
        code: 3,
        reason: "timed out",
        rows: "SC-REV, KC-SUCCESS",
    },
    Expected {
        name: "moved_tag_triggered",
        code: 0,
        reason: "ReconciliationSucceeded",
        rows: "SC-REV, KC-SUCCESS",
    },
    Expected {
        name: "chartref_non_semver_tag",
        code: 0,
        reason: "InstallSucceeded",
        rows: "HC-CHARTREF (c)",
    },
    Expected {
        name: "chartref_tag_differs_from_chart_version",
        code: 1,
        reason: "ChartMutateError: artifact revision 2.0.0 does not match chart version 1.0.0",
        rows: "HC-CHARTREF (b), HC-MUTATE",
    },
    Expected {
        name: "path_not_found",
        code: 1,
        reason: "ArtifactFailed: kustomization path not found",
        rows: "KC-PATH",
    },
    Expected {
        name: "upgrade_fails",
        code: 1,
        reason: "RetriesExceeded: Failed to upgrade after 1 attempt(s)",
        rows: "HC-REMEDIATION",
    },
    Expected {
        name: "upgrade_fixed_by_next_push",
        code: 0,
        reason: "UpgradeSucceeded",
        rows: "HC-STALLCLEAR",
    },
    Expected {
        name: "health_check_passes_late",
        code: 0,
        reason: "ReconciliationSucceeded",
        rows: "KC-HEALTH, KC-RETRY",
    },
    Expected {
        name: "semver_prerelease",
        code: 0,
        reason: "ReconciliationSucceeded",
        rows: "SC-SEMVER, MS-PRE",
    },
    Expected {
        name: "shipped_source",
        code: 0,
        reason: "ReconciliationSucceeded",
        rows: "KC-SRC, KC-DEP",
    },
    Expected {
        name: "broken_manifest",
        code: 1,
        reason: "BuildFailed",
        rows: "KC-BUILD",
    },
];

/// The row of scenario `name`.
pub fn expected(name: &str) -> Expected {
    *SCENARIOS
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no scenario {name} in common::scenarios::SCENARIOS"))
}

/// Assert that `r` (a `wait`) has scenario `name`'s exit code and reason;
/// `backend` names where it ran, for the message.
#[track_caller]
pub fn assert_scenario(name: &str, backend: &str, r: &Run) {
    let e = expected(name);
    let first_error = r
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_default();
    let (ok, seen) = if e.code == 0 {
        (r.stderr.contains(e.reason), r.stderr.as_str())
    } else {
        (first_error.contains(e.reason), first_error)
    };
    assert!(
        r.code == e.code && ok,
        "scenario {name} on {backend}: expected exit {} with {:?} (rows {}), got exit {} with {seen:?}\nstdout:\n{}\nstderr:\n{}",
        e.code,
        e.reason,
        e.rows,
        r.code,
        r.stdout,
        r.stderr
    );
    eprintln!(
        "scenario {name} on {backend}: exit {} as expected: {}",
        r.code,
        if e.code == 0 {
            r.stderr.lines().last().unwrap_or_default()
        } else {
            first_error
        }
    );
}

#[test]
fn scenario_names_are_unique() {
    for (i, a) in SCENARIOS.iter().enumerate() {
        assert!(
            SCENARIOS[i + 1..].iter().all(|b| b.name != a.name),
            "{} twice",
            a.name
        );
    }
}
