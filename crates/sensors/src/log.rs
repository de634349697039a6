//! The log-file monitor (`kind = "log"`): follows files read-only, survives rotation, joins
//! multi-line records, counts the records each rule matches, and reports them as samples,
//! events, facts and one section per rule.
//!
//! The decision behind it: a check is a pure function of the files and the previous cursor
//! (`CheckContext::state`). It reads from the saved offsets, never writes anything, and returns
//! the new cursors in `next_state`; the runner stores them only after the run's outputs are
//! written, so a check cut short is repeated, never lost, and no record is counted twice.
//!
//! Layout: [`settings`](LogSettings) checks the config and builds the monitor; `files` finds
//! the files and plans reads across rotations; `scan` turns bytes into records (the hot path);
//! `rules` is the literal prefilter and exact matching; `timestamp` parses record times;
//! `tally` accumulates and builds the observation (sample names are listed there).

mod files;
mod rules;
mod scan;
mod settings;
mod tally;
mod timestamp;

#[cfg(test)]
mod tests;

use std::io::{Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use model::{BoxFuture, CheckContext, Monitor, MonitorError, Observation};
use regex::bytes::Regex;

pub use settings::{LogSettings, RuleSettings, TimestampSettings};

use files::{Cursor, State};
use rules::Matcher;
use scan::{Flush, Position, Scanner, Stamper};
use tally::Tally;
use timestamp::{Layout, Parser, Zone};

/// A log-file monitor, built by [`LogSettings::build`].
pub struct LogMonitor {
    name: String,
    compiled: Arc<Compiled>,
}

/// One configured path.
#[derive(Clone, Debug)]
pub(crate) struct PathSpec {
    /// As written in the config (quoted in messages).
    pub configured: String,
    /// Resolved against the config file's directory.
    pub resolved: PathBuf,
    /// Holds wildcards.
    pub is_glob: bool,
}

/// How record timestamps are found.
#[derive(Clone, Debug)]
pub(crate) struct TimestampConfig {
    pub layouts: Vec<Layout>,
    /// Detect the layout among `layouts` (no `timestamp` configured).
    pub auto: bool,
    /// Regex locating the timestamp, and the group holding it.
    pub pattern: Option<(Regex, usize)>,
    pub zone: Zone,
}

/// Everything `build` checked, ready to run.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub paths: Vec<PathSpec>,
    pub allow_missing: bool,
    pub record_start: Option<Regex>,
    pub timestamp: TimestampConfig,
    pub flush_after_ms: i64,
    pub max_events: usize,
    pub matcher: Matcher,
    /// The runner's timeout for this monitor; a check reads for at most half of it.
    pub timeout: Duration,
}

impl Monitor for LogMonitor {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "log"
    }

    fn check(&self, ctx: CheckContext) -> BoxFuture<'_, Result<Observation, MonitorError>> {
        let compiled = Arc::clone(&self.compiled);
        Box::pin(async move {
            // When the runner gives up on this check (timeout) it drops this future; the flag
            // tells the blocking scan to stop instead of reading on for nobody.
            let cancelled = Arc::new(AtomicBool::new(false));
            let _guard = CancelOnDrop(Arc::clone(&cancelled));
            let task =
                tokio::task::spawn_blocking(move || check_blocking(&compiled, &ctx, &cancelled));
            match task.await {
                Ok(result) => result,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => Err(MonitorError::new(format!("log scan did not finish: {e}"))),
            }
        })
    }
}

struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Share of the monitor's timeout a check spends reading before it stops at a record boundary
/// and leaves the rest for the next check. Without it a backlog bigger than one timeout's worth
/// would be retried from the same offset forever.
const READ_BUDGET_SHARE: u32 = 2;

/// Plans to make before giving up when files keep changing identity while looked at.
const PLAN_ATTEMPTS: usize = 3;

/// Finds the files and plans the reads, again if a rotation happened in between.
fn plan_with_retries(c: &Compiled, prev: &State) -> Result<files::Plan, MonitorError> {
    for _ in 0..PLAN_ATTEMPTS {
        let found = files::discover(&c.paths, c.allow_missing)?;
        match files::plan(found, prev) {
            Ok(plan) => return Ok(plan),
            Err(files::PlanError::Changed) => continue,
            Err(files::PlanError::Failed(e)) => return Err(e),
        }
    }
    Err(MonitorError::new(format!(
        "files kept changing while being looked at ({PLAN_ATTEMPTS} attempts); rotating too often?"
    )))
}

fn start_of(task: &files::Task) -> Position {
    Position {
        offset: task.offset,
        line: task.line,
    }
}

/// One check, synchronously (file I/O blocks).
fn check_blocking(
    c: &Compiled,
    ctx: &CheckContext,
    cancelled: &AtomicBool,
) -> Result<Observation, MonitorError> {
    let started = Instant::now();
    let budget = c.timeout / READ_BUDGET_SHARE;
    let mut tally = Tally::new(c, ctx.now);
    let prev = match ctx.state.as_deref().map(State::decode) {
        None => State::new(),
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            // Refusing to run would repeat the failure forever; reading again from the start
            // may count some records twice, and says so.
            tally.notes.push(format!(
                "previous state unreadable ({e}); files read from their start"
            ));
            State::new()
        }
    };
    let plan = plan_with_retries(c, &prev)?;
    tally.notes.extend(plan.notes);

    let ts = &c.timestamp;
    let stamper = Stamper {
        parser: Parser::new(ts.layouts.clone(), ts.auto, ts.zone.clone(), ctx.now),
        pattern: ts
            .pattern
            .as_ref()
            .map(|(re, g)| (re.clone(), *g, re.capture_locations())),
    };
    let mut scanner = Scanner::new(&c.matcher, c.record_start.as_ref(), Some(stamper));
    let mut next = State::new();
    let mut out_of_time = false;
    for task in plan.tasks {
        let path_text = task.path.display().to_string();
        if out_of_time {
            tally.backlog += task.size.saturating_sub(task.offset);
            next.files.push(task.unchanged());
            continue;
        }
        let Some((mut file, meta)) = files::open_same(&task.path, task.id)? else {
            // Rotated between planning and now: leave it as it was for the next check, which
            // sees the rotation whole.
            tally.notes.push(format!(
                "{path_text}: changed while being checked; read next time"
            ));
            next.files.push(task.unchanged());
            continue;
        };
        let read_error =
            |e: std::io::Error| MonitorError::new(format!("cannot read {path_text}: {e}"));
        file.seek(SeekFrom::Start(task.offset))
            .map_err(read_error)?;
        let (size, mtime) = (meta.len(), files::mtime(&meta));
        // `flush_after = "0s"` means "finished files": no clock comparison, which could fail
        // when the file's clock (a share) runs ahead of ours.
        let quiet = c.flush_after_ms == 0
            || mtime.is_some_and(|m| ctx.now.millis_since(m) >= c.flush_after_ms);
        let flush = if task.is_final() {
            Flush::Always
        } else if quiet {
            Flush::IfEndsAt(size)
        } else {
            Flush::No
        };
        tally.path.clone_from(&path_text);
        let mut stop = || cancelled.load(Ordering::Relaxed) || started.elapsed() >= budget;
        let end = scanner
            .scan(&mut file, start_of(&task), flush, &mut stop, &mut tally)
            .map_err(read_error)?;
        if cancelled.load(Ordering::Relaxed) {
            return Err(MonitorError::new("log check cancelled"));
        }
        tally.files += 1;
        tally.bytes += end.next.offset.saturating_sub(task.offset);
        let size_now = file
            .metadata()
            .map(|m| m.len())
            .unwrap_or(size)
            .max(end.next.offset);
        tally.backlog += size_now - end.next.offset;
        match task.why {
            files::Why::RotatedAway => tally.notes.push(format!(
                "{path_text}: rotated away, finished from offset {}",
                task.offset
            )),
            files::Why::Copy => tally.notes.push(format!(
                "{path_text}: copy left by copytruncate, finished from offset {}",
                task.offset
            )),
            files::Why::Truncated => tally.notes.push(format!(
                "{path_text}: truncated or rewritten, read again from the start"
            )),
            files::Why::Continue | files::Why::New => {}
        }
        if !end.complete {
            out_of_time = true;
            tally.notes.push(format!(
                "stopped reading after {} s (half the monitor's timeout); the rest is read by the next checks",
                budget.as_secs()
            ));
        }
        // A rotated-away file outside the configured set is forgotten once finished, unless it
        // was written to recently: the application may not have reopened its log yet.
        if task.in_set || !end.complete || !quiet {
            let fp = match task.fp {
                Some(fp) if fp.0 >= files::FP_LEN => fp,
                _ => files::fingerprint(&mut file, size_now).map_err(read_error)?,
            };
            next.files.push(Cursor {
                path: task.path.clone(),
                dev: task.id.0,
                ino: task.id.1,
                offset: end.next.offset,
                line: end.next.line,
                size: size_now,
                fp_len: fp.0,
                fp: fp.1,
            });
        }
    }
    Ok(tally.finish(next.encode()))
}
