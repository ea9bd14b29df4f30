//! docs/flux-semantics.md is the source of the verdict's rules: every row
//! the verdict cites exists there with its upstream reference, and is shown
//! by at least one unit test of the verdict and one end-to-end scenario.

use std::collections::BTreeSet;
use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Row ids (`KC-PATH`, `MS-PRE`, …) mentioned in `text`.
fn row_ids(text: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(r"\b(SC|KC|HC|NC|PKG|MS)-[A-Z]+\b").expect("regex");
    re.find_iter(text).map(|m| m.as_str().to_string()).collect()
}

#[test]
fn every_rule_of_the_verdict_is_documented_and_shown_by_a_unit_test_and_a_scenario() {
    let doc = read("docs/flux-semantics.md");
    // Rows defined in the tables: `| ID | … | read from |`.
    let defined: BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .filter(|id| row_ids(id).len() == 1 && row_ids(id).contains(*id))
        .map(str::to_string)
        .collect();
    assert!(defined.len() > 40, "rows found: {defined:?}");
    for line in doc.lines().filter(|l| {
        l.strip_prefix("| ")
            .and_then(|l| l.split(" |").next())
            .is_some_and(|id| defined.contains(id))
    }) {
        assert!(
            line.contains("github.com") || line.contains(".go") || line.contains('`'),
            "a row names where it was read: {line}"
        );
    }

    let verdict = read("src/flux/verdict.rs");
    let (code, unit_tests) = verdict
        .split_once("#[cfg(test)]")
        .expect("verdict.rs has unit tests");
    let semver = read("src/flux/semver.rs");
    let (semver_code, semver_tests) = semver.split_once("#[cfg(test)]").expect("semver tests");
    let used: BTreeSet<String> = row_ids(code)
        .union(&row_ids(semver_code))
        .cloned()
        .collect();
    let unit: BTreeSet<String> = row_ids(unit_tests)
        .union(&row_ids(semver_tests))
        .cloned()
        .collect();
    let scenarios: BTreeSet<String> = [
        "tests/it/verdict_scenarios.rs",
        "tests/it/wait_scenarios.rs",
        "tests/it/wait.rs",
        "tests/it/real_cluster.rs",
    ]
    .iter()
    .filter(|p| Path::new(env!("CARGO_MANIFEST_DIR")).join(p).exists())
    .flat_map(|p| row_ids(&read(p)))
    .collect();

    assert!(used.len() >= 15, "the verdict cites its rows: {used:?}");
    let undocumented: Vec<_> = used.difference(&defined).collect();
    assert!(
        undocumented.is_empty(),
        "cited by the verdict but not a row of docs/flux-semantics.md: {undocumented:?}"
    );
    let no_unit: Vec<_> = used.difference(&unit).collect();
    assert!(no_unit.is_empty(), "rows without a unit test: {no_unit:?}");
    let no_scenario: Vec<_> = used.difference(&scenarios).collect();
    assert!(
        no_scenario.is_empty(),
        "rows without an end-to-end scenario: {no_scenario:?}"
    );
}
