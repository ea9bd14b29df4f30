//! Summaries (p50/p95), result rows, and the three renderings of a run:
//! the terminal table, `results.md` and `results.json` under `target/bench/`.

use serde::Serialize;

/// p50/p95/min/max of a set of samples (nearest-rank percentiles).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub n: usize,
    pub p50: f64,
    pub p95: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(samples: &[f64]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let i = ((p / 100.0) * v.len() as f64).ceil() as usize;
            v[i.clamp(1, v.len()) - 1]
        };
        Some(Summary {
            n: v.len(),
            p50: rank(50.0),
            p95: rank(95.0),
            min: v[0],
            max: v[v.len() - 1],
        })
    }
}

/// What a row's goal demands; every goal is an upper bound.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Goal {
    /// ours p50 / peer p50 at most this.
    Ratio(f64),
    /// ours p50 at most this (in the row's unit).
    P50(f64),
    /// ours p95 at most this.
    P95(f64),
    /// ours max at most this.
    Max(f64),
}

/// One measured quantity: ours against a peer.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: String,
    /// `wall ms`, `peak RSS MiB`, `latency ms`, `registry requests`.
    pub metric: String,
    pub ours_label: String,
    pub ours: Option<Summary>,
    pub peer_label: String,
    pub peer: Option<Summary>,
    pub goal: Option<Goal>,
    /// Why a side is missing, or how the numbers were made comparable.
    pub note: String,
    /// Measured on the API emulator: its costs are not a real API
    /// server's, so no ratio against the peer is reported (the real-cluster
    /// rows are the comparison).
    pub emulator: bool,
}

impl Row {
    pub fn new(scenario: &str, metric: &str, ours_label: &str, ours: &[f64]) -> Row {
        Row {
            scenario: scenario.into(),
            metric: metric.into(),
            ours_label: ours_label.into(),
            ours: Summary::of(ours),
            peer_label: String::new(),
            peer: None,
            goal: None,
            note: String::new(),
            emulator: false,
        }
    }

    /// Mark the row as measured on the API emulator: both sides are shown,
    /// no ratio is.
    pub fn on_emulator(mut self) -> Row {
        self.emulator = true;
        self
    }

    pub fn peer(mut self, label: &str, samples: &[f64]) -> Row {
        self.peer_label = label.into();
        self.peer = Summary::of(samples);
        self
    }

    pub fn goal(mut self, g: Goal) -> Row {
        self.goal = Some(g);
        self
    }

    pub fn note(mut self, n: impl Into<String>) -> Row {
        self.note = n.into();
        self
    }

    /// ours p50 / peer p50.
    pub fn ratio(&self) -> Option<f64> {
        if self.emulator {
            return None;
        }
        match (&self.ours, &self.peer) {
            (Some(o), Some(p)) if p.p50 > 0.0 => Some(o.p50 / p.p50),
            _ => None,
        }
    }

    /// Whether the goal is met; None without a goal or without the numbers.
    pub fn pass(&self) -> Option<bool> {
        let ours = self.ours.as_ref()?;
        Some(match self.goal? {
            Goal::Ratio(r) => self.ratio()? <= r,
            Goal::P50(x) => ours.p50 <= x,
            Goal::P95(x) => ours.p95 <= x,
            Goal::Max(x) => ours.max <= x,
        })
    }

    fn goal_text(&self) -> String {
        match self.goal {
            None => "-".into(),
            Some(Goal::Ratio(r)) => format!("ratio <= {r}"),
            Some(Goal::P50(x)) => format!("p50 <= {}", num(x)),
            Some(Goal::P95(x)) => format!("p95 <= {}", num(x)),
            Some(Goal::Max(x)) => format!("max <= {}", num(x)),
        }
    }

    fn result_text(&self) -> &'static str {
        match (self.goal, self.pass()) {
            (None, _) => "",
            (Some(_), Some(true)) => "pass",
            (Some(_), Some(false)) => "MISS",
            (Some(_), None) => "n/a",
        }
    }
}

fn num(x: f64) -> String {
    if x >= 100.0 || x == x.trunc() {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn cell(s: &Option<Summary>) -> String {
    match s {
        None => "-".into(),
        Some(s) if s.n == 1 => num(s.p50),
        Some(s) => format!("{} / {}", num(s.p50), num(s.p95)),
    }
}

fn columns(r: &Row) -> [String; 9] {
    [
        r.scenario.clone(),
        r.metric.clone(),
        r.ours_label.clone(),
        cell(&r.ours),
        if r.peer_label.is_empty() {
            "-".into()
        } else {
            r.peer_label.clone()
        },
        cell(&r.peer),
        r.ratio()
            .map(|x| format!("{x:.2}"))
            .unwrap_or_else(|| "-".into()),
        r.goal_text(),
        r.result_text().into(),
    ]
}

const HEADER: [&str; 9] = [
    "scenario",
    "metric",
    "ours",
    "ours p50 / p95",
    "peer",
    "peer p50 / p95",
    "ratio",
    "goal",
    "result",
];

/// The plain-text table for the terminal.
pub fn text_table(rows: &[Row]) -> String {
    let cells: Vec<[String; 9]> = rows.iter().map(columns).collect();
    let mut width = HEADER.map(str::len);
    for c in &cells {
        for (w, s) in width.iter_mut().zip(c.iter()) {
            *w = (*w).max(s.chars().count());
        }
    }
    let line = |c: &[String]| {
        let mut out = String::new();
        for (i, (s, w)) in c.iter().zip(width.iter()).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(s);
            if i + 1 < c.len() {
                out.push_str(&" ".repeat(w - s.chars().count()));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(&HEADER.map(String::from));
    out.push_str(&line(&width.map(|w| "-".repeat(w))));
    for c in &cells {
        out.push_str(&line(c));
    }
    out
}

/// The same table in Markdown.
pub fn markdown_table(rows: &[Row]) -> String {
    let mut out = format!("| {} |\n", HEADER.join(" | "));
    out.push_str(&format!("|{}\n", "---|".repeat(HEADER.len())));
    for r in rows {
        let c = columns(r).map(|cell| cell.replace('|', "\\|"));
        out.push_str(&format!("| {} |\n", c.join(" | ")));
    }
    out
}

/// Notes of rows that have one, as a Markdown list.
pub fn notes(rows: &[Row]) -> String {
    let mut out = String::new();
    for r in rows.iter().filter(|r| !r.note.is_empty()) {
        out.push_str(&format!("- {} ({}): {}\n", r.scenario, r.metric, r.note));
    }
    out
}

/// The JSON document of a run.
#[derive(Debug, Serialize)]
pub struct RunDoc<'a> {
    pub environment: &'a serde_json::Value,
    pub rows: Vec<RowDoc<'a>>,
}

#[derive(Debug, Serialize)]
pub struct RowDoc<'a> {
    #[serde(flatten)]
    pub row: &'a Row,
    pub ratio: Option<f64>,
    pub pass: Option<bool>,
}

pub fn json(rows: &[Row], environment: &serde_json::Value) -> String {
    let doc = RunDoc {
        environment,
        rows: rows
            .iter()
            .map(|row| RowDoc {
                row,
                ratio: row.ratio(),
                pass: row.pass(),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s = Summary::of(&(1..=20).map(f64::from).collect::<Vec<_>>()).unwrap();
        assert_eq!((s.p50, s.p95, s.min, s.max), (10.0, 19.0, 1.0, 20.0));
        let one = Summary::of(&[7.0]).unwrap();
        assert_eq!((one.p50, one.p95), (7.0, 7.0));
        assert!(Summary::of(&[]).is_none());
    }

    #[test]
    fn markdown_escapes_pipes_inside_cells_only() {
        let r = Row::new("a|b", "wall ms", "ours", &[1.0]).peer("p", &[2.0]);
        let md = markdown_table(&[r]);
        let last = md.lines().last().unwrap();
        assert_eq!(last, "| a\\|b | wall ms | ours | 1 | p | 2 | 0.50 | - |  |");
    }

    #[test]
    fn goals_are_judged_on_the_right_statistic() {
        let r = Row::new("s", "wall ms", "ours", &[10.0, 12.0])
            .peer("peer", &[30.0, 40.0])
            .goal(Goal::Ratio(0.5));
        assert_eq!(r.pass(), Some(true));
        let r = Row::new("s", "latency ms", "ours", &[10.0, 60.0]).goal(Goal::P95(50.0));
        assert_eq!(r.pass(), Some(false));
        let r = Row::new("s", "x", "ours", &[]).goal(Goal::P50(1.0));
        assert_eq!(r.pass(), None);
    }
}
