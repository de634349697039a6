//! Turning a finished command into an observation: outcome, samples, facts, events.
//!
//! Performance data becomes one series per item, named after what it is rather than after the
//! plugin's label: `periscope_perfdata{label="load1"}`. Plugin labels are free text (`/`,
//! `C:\ Used`, `time`), so making each a metric name would need lossy renaming and would collide;
//! as a label value it is kept exactly, and the `monitor` label the runner adds tells plugins
//! apart. Values are converted to base units (seconds, bytes) so a plugin switching from `MB` to
//! `B` does not break a graph; the unit goes in [`Sample::unit`].

use std::collections::HashSet;
use std::time::Duration;

use model::{
    CheckOutcome, ErrorGroup, Event, Fact, FactValue, Fragment, Observation, Sample, Section,
    Status, Timestamp,
};

use super::CommandMonitor;
use super::process::{Captured, Ending, Finished, signal_name};
use crate::perfdata::{PerfValue, parse_plugin_output};

/// How long the command ran.
pub const DURATION_METRIC: &str = "periscope_check_duration_seconds";
/// The exit code, when the command exited (not when a signal ended it).
pub const EXIT_CODE_METRIC: &str = "periscope_check_exit_code";
/// A performance data value, in base units, labelled `label`.
pub const PERFDATA_METRIC: &str = "periscope_perfdata";
/// The lowest possible value, when the plugin says.
pub const PERFDATA_MIN_METRIC: &str = "periscope_perfdata_min";
/// The highest possible value, when the plugin says.
pub const PERFDATA_MAX_METRIC: &str = "periscope_perfdata_max";
/// A finite end of the warning range, labelled `bound` = `start` or `end`.
pub const PERFDATA_WARNING_METRIC: &str = "periscope_perfdata_warning";
/// A finite end of the critical range, labelled `bound` = `start` or `end`.
pub const PERFDATA_CRITICAL_METRIC: &str = "periscope_perfdata_critical";

pub(super) fn observation(m: &CommandMonitor, f: Finished, now: Timestamp) -> Observation {
    let elapsed_ms = i64::try_from(f.elapsed.as_millis()).unwrap_or(i64::MAX);
    let stdout = String::from_utf8_lossy(&f.stdout.bytes);
    let stderr = String::from_utf8_lossy(&f.stderr.bytes);
    let program = m.spec.program.display();
    let mut facts = vec![Fact::new(
        "command",
        "Command",
        FactValue::Text(m.display.clone()),
    )];
    let mut samples = Vec::new();
    let mut sections = Vec::new();
    let mut details = Details::default();
    let mut exit_code = None;

    let outcome = match &f.ending {
        Ending::SpawnFailed(e) => {
            let why = if e.kind() == std::io::ErrorKind::NotFound && !m.spec.workdir.is_dir() {
                format!(
                    "working directory {} does not exist",
                    m.spec.workdir.display()
                )
            } else {
                e.to_string()
            };
            CheckOutcome::unknown(format!("cannot run {program}: {why}"))
        }
        Ending::TimedOut => {
            details.push_block("output before the timeout", stdout.trim_end());
            CheckOutcome::unknown(format!(
                "timed out after {} (process group killed)",
                human(m.timeout)
            ))
        }
        Ending::Signalled {
            signal,
            core_dumped,
        } => {
            details.push_block("output", stdout.trim_end());
            let core = if *core_dumped { ", core dumped" } else { "" };
            let name = signal_name(*signal);
            facts.push(Fact::new(
                "signal",
                "Ended by Signal",
                FactValue::Text(format!("{signal} ({name})")),
            ));
            CheckOutcome::unknown(format!(
                "{program} was killed by signal {signal} ({name}{core})"
            ))
        }
        Ending::Exited(code) => {
            exit_code = Some(*code);
            let parsed = parse_plugin_output(&stdout);
            details.push(&parsed.long_text);
            perfdata(
                &parsed.perfdata,
                now,
                &mut samples,
                &mut facts,
                &mut details,
            );
            if !parsed.problems.is_empty() {
                let lines: Vec<String> = parsed.problems.iter().map(ToString::to_string).collect();
                details.push_block("performance data problems", &lines.join("\n"));
                sections.push(Section {
                    key: "perfdata_problems".into(),
                    title: "Performance Data Problems".into(),
                    groups: lines
                        .into_iter()
                        .map(|message| ErrorGroup {
                            message,
                            count: 1,
                            first_seen: None,
                            last_seen: None,
                        })
                        .collect(),
                });
            }
            let status = Status::from_exit_code(*code);
            let text = if parsed.summary.is_empty() {
                format!("{} printed nothing (exit code {code})", m.display)
            } else {
                parsed.summary
            };
            let summary = if (0..=3).contains(code) {
                text
            } else {
                format!("exit code {code} is not a plugin status (0-3): {text}")
            };
            CheckOutcome::new(status, summary)
        }
    };
    details.push_block("stderr", stderr.trim_end());
    details.note_capture("stdout", &f.stdout);
    details.note_capture("stderr", &f.stderr);

    if !matches!(f.ending, Ending::SpawnFailed(_)) {
        samples.push(Sample::new(DURATION_METRIC, f.elapsed.as_secs_f64(), now).unit("s"));
        facts.insert(
            1,
            Fact::new("duration", "Duration", FactValue::DurationMs(elapsed_ms)),
        );
    }
    if let Some(code) = exit_code {
        samples.push(Sample::new(EXIT_CODE_METRIC, f64::from(code), now));
        let value = u64::try_from(code)
            .map_or_else(|_| FactValue::Text(code.to_string()), FactValue::Count);
        facts.insert(1, Fact::new("exit_code", "Exit Code", value));
    }

    let outcome = outcome.with_details(details.text);
    let mut events = Vec::new();
    if outcome.status != Status::Ok {
        let mut fields = vec![("command".to_string(), m.display.clone())];
        if let Some(code) = exit_code {
            fields.push(("exit_code".to_string(), code.to_string()));
        }
        events.push(Event {
            time: now.plus_millis(elapsed_ms),
            rule: "command".into(),
            status: outcome.status,
            message: outcome.summary.clone(),
            fields,
            location: Some(m.display.clone()),
        });
    }
    Observation {
        outcome,
        samples,
        events,
        fragment: Fragment { facts, sections },
        next_state: None,
    }
}

/// Samples and facts for the performance data; a label seen twice keeps its first value.
fn perfdata(
    values: &[PerfValue],
    now: Timestamp,
    samples: &mut Vec<Sample>,
    facts: &mut Vec<Fact>,
    details: &mut Details,
) {
    let mut seen = HashSet::new();
    let mut keys = HashSet::new();
    for (index, pv) in values.iter().enumerate() {
        if !seen.insert(pv.label.as_str()) {
            details.push(&format!(
                "performance data label `{}` appears more than once; the first value is kept",
                pv.label
            ));
            continue;
        }
        let fact_value = match pv.value {
            Some(value) => FactValue::Number {
                value,
                unit: pv.unit.clone(),
            },
            None => FactValue::Text("undetermined (U)".into()),
        };
        facts.push(Fact::new(
            fact_key(&pv.label, index, &mut keys),
            pv.label.clone(),
            fact_value,
        ));

        let base = pv.normalized();
        let sample = |name: &str, value: f64| {
            let s = Sample::new(name, value, now).label("label", pv.label.clone());
            match &base.unit {
                Some(unit) => s.unit(unit.clone()),
                None => s,
            }
        };
        // `U` means "could not tell": no sample, so the series shows a gap rather than a value.
        if let Some(v) = base.value {
            samples.push(sample(PERFDATA_METRIC, v));
        }
        for (name, range) in [
            (PERFDATA_WARNING_METRIC, base.warn),
            (PERFDATA_CRITICAL_METRIC, base.crit),
        ] {
            let Some(range) = range else { continue };
            for (bound, end) in [("start", range.start), ("end", range.end)] {
                if let Some(end) = end {
                    samples.push(sample(name, end).label("bound", bound));
                }
            }
        }
        if let Some(min) = base.min {
            samples.push(sample(PERFDATA_MIN_METRIC, min));
        }
        if let Some(max) = base.max {
            samples.push(sample(PERFDATA_MAX_METRIC, max));
        }
    }
}

/// A `snake_case` fact key for a perfdata label, unique within the check: `perfdata_load1`,
/// `perfdata_var_log`; labels with nothing usable (`/`) are numbered by position.
fn fact_key(label: &str, index: usize, taken: &mut HashSet<String>) -> String {
    let mut slug = String::new();
    for c in label.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('_') {
            slug.push('_');
        }
    }
    let slug = slug.trim_end_matches('_');
    let key = if slug.is_empty() {
        format!("perfdata_{}", index + 1)
    } else {
        format!("perfdata_{slug}")
    };
    let mut unique = key.clone();
    let mut n = 2;
    while !taken.insert(unique.clone()) {
        unique = format!("{key}_{n}");
        n += 1;
    }
    unique
}

/// The details text, built from blocks separated by newlines.
#[derive(Default)]
struct Details {
    text: String,
}

impl Details {
    fn push(&mut self, block: &str) {
        if block.is_empty() {
            return;
        }
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(block);
    }

    fn push_block(&mut self, title: &str, body: &str) {
        if !body.is_empty() {
            self.push(&format!("{title}:\n{body}"));
        }
    }

    fn note_capture(&mut self, stream: &str, c: &Captured) {
        if c.truncated() {
            self.push(&format!(
                "{stream} was cut: kept the first {} of {} bytes",
                c.bytes.len(),
                c.total
            ));
        }
        if let Some(e) = &c.error {
            self.push(&format!("reading {stream} failed: {e}"));
        }
    }
}

/// A duration as people write it: `1s`, `1m 30s`, `250ms`.
pub(super) fn human(d: Duration) -> String {
    match jiff::SignedDuration::try_from(d) {
        Ok(sd) => format!("{sd:#}"),
        Err(_) => format!("{d:?}"),
    }
}
