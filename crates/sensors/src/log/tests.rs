//! Tests of the log monitor as a user runs it: settings from TOML, files in a temporary
//! directory, and checks fed the state the previous check returned (as the runner does).

mod config;
mod loghub;
mod prop;
mod records;
mod rotation;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use model::{
    CheckContext, ConfigIssue, Event, FactValue, Monitor, Observation, Section, Timestamp,
};
use tempfile::TempDir;

use super::{LogMonitor, LogSettings};
use crate::BuildContext;

/// Before any file's modification time (2001): unfinished ends are never read.
pub(super) const EARLY: Timestamp = Timestamp(1_000_000_000_000);
/// After every file's modification time (2100): every file counts as quiet.
pub(super) const LATE: Timestamp = Timestamp(4_102_444_800_000);

/// Parses settings the way the binary hands them over (common keys already removed).
pub(super) fn settings(text: &str) -> LogSettings {
    toml::from_str(text).unwrap_or_else(|e| panic!("settings do not parse: {e}\n{text}"))
}

/// Builds a monitor whose relative paths resolve in `dir`.
pub(super) fn build(dir: &Path, text: &str) -> Result<LogMonitor, Vec<ConfigIssue>> {
    settings(text).build(
        "test",
        &BuildContext {
            base_dir: dir.to_path_buf(),
            timeout: Duration::from_secs(60),
        },
    )
}

/// A monitor over a temporary directory, carrying its state from check to check.
pub(super) struct Harness {
    pub dir: TempDir,
    pub monitor: LogMonitor,
    pub state: Option<Vec<u8>>,
    pub now: Timestamp,
}

impl Harness {
    pub fn new(text: &str) -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let monitor =
            build(dir.path(), text).unwrap_or_else(|e| panic!("settings rejected: {e:?}"));
        Harness {
            dir,
            monitor,
            state: None,
            now: EARLY,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Creates or replaces a file.
    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) {
        fs::write(self.path(name), content).expect("write");
    }

    pub fn append(&self, name: &str, content: impl AsRef<[u8]>) {
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.path(name))
            .expect("open for append");
        f.write_all(content.as_ref()).expect("append");
    }

    /// Empties a file in place (same inode), as `copytruncate` and `> app.log` do.
    pub fn truncate(&self, name: &str) {
        OpenOptions::new()
            .write(true)
            .open(self.path(name))
            .expect("open")
            .set_len(0)
            .expect("truncate");
    }

    pub fn rename(&self, from: &str, to: &str) {
        fs::rename(self.path(from), self.path(to)).expect("rename");
    }

    /// One check that must succeed; its next state becomes the state of the next check.
    pub async fn check(&mut self) -> Observation {
        let ctx = CheckContext {
            now: self.now,
            state: self.state.clone(),
        };
        let obs = self
            .monitor
            .check(ctx)
            .await
            .unwrap_or_else(|e| panic!("check failed: {e}"));
        self.state = obs.next_state.clone();
        obs
    }

    /// One check that must fail: its reason.
    pub async fn check_err(&mut self) -> String {
        let ctx = CheckContext {
            now: self.now,
            state: self.state.clone(),
        };
        match self.monitor.check(ctx).await {
            Ok(o) => panic!("check succeeded: {}", o.outcome.summary),
            Err(e) => e.reason,
        }
    }
}

/// A count or number fact by key.
pub(super) fn fact(o: &Observation, key: &str) -> u64 {
    let f = o
        .fragment
        .facts
        .iter()
        .find(|f| f.key == key)
        .unwrap_or_else(|| panic!("no fact {key}"));
    match &f.value {
        FactValue::Count(n) => *n,
        FactValue::Number { value, .. } => *value as u64,
        other => panic!("fact {key} is {other:?}"),
    }
}

/// Records the rule matched, from the samples.
pub(super) fn matches(o: &Observation, rule: &str) -> u64 {
    o.samples
        .iter()
        .find(|s| s.name == "periscope_log_matches" && s.labels.get("rule") == Some(rule))
        .unwrap_or_else(|| panic!("no match sample for {rule}"))
        .value as u64
}

pub(super) fn events<'a>(o: &'a Observation, rule: &str) -> Vec<&'a Event> {
    o.events.iter().filter(|e| e.rule == rule).collect()
}

pub(super) fn section<'a>(o: &'a Observation, key: &str) -> &'a Section {
    o.fragment
        .sections
        .iter()
        .find(|s| s.key == key)
        .unwrap_or_else(|| panic!("no section {key}"))
}

/// `n` numbered lines, `prefix` first, each ending in a newline.
pub(super) fn lines(prefix: &str, range: std::ops::Range<usize>) -> String {
    range.map(|i| format!("{prefix} line {i}\n")).collect()
}
