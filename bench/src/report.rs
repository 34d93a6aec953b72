//! The report: `BENCHMARKS.md`, a table of the figures with their baselines and targets, the machine
//! and the date, then the notes kept in `bench/NOTES.md` (what was changed to meet a target, and why a
//! target is missed). To add a column, add a field to [`Row`].

use crate::measure::Machine;

/// One line of the table.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: String,
    pub measured: String,
    /// The baseline measured in the same run, in words; empty when there is none.
    pub baseline: String,
    /// measured ÷ baseline (for rates: the rate ÷ the baseline's rate).
    pub ratio: Option<f64>,
    pub target: String,
    /// Whether the target is met; `None` for figures that are only reported.
    pub met: Option<bool>,
}

/// The whole report as Markdown.
pub fn markdown(rows: &[Row], machine: &Machine, date: &str, command: &str, notes: &str) -> String {
    let mut out = String::new();
    out.push_str("# Benchmarks\n\n");
    out.push_str(&format!(
        "Written by `{command}` on {date}.\n\nMachine: {} ({} cores available), {} memory, {}.\n\n",
        machine.cpu, machine.cores, machine.memory, machine.os
    ));
    out.push_str(
        "Each figure is next to a baseline measured in the same run on the same machine; the ratio is \
         figure ÷ baseline (for rates, rate ÷ baseline rate). Release settings (`[profile.release]`: \
         the core optimised for size and SQLite at -O2, as in the mobile library).\n\n",
    );
    out.push_str("| benchmark | measured | baseline (same run) | ratio | target | met |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for row in rows {
        let ratio = row.ratio.map_or_else(String::new, |r| format!("{r:.2}×"));
        let met = match row.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {ratio} | {} | {met} |\n",
            row.name, row.measured, row.baseline, row.target
        ));
    }
    if !notes.trim().is_empty() {
        out.push('\n');
        out.push_str(notes.trim());
        out.push('\n');
    }
    out
}
