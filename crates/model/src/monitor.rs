//! The monitor seam: one small trait every data collector implements.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::{CheckOutcome, Event, Fragment, Sample, Status, Timestamp};

/// A boxed, sendable future: what [`Monitor::check`] returns, so monitors can live behind `dyn`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the runner hands a monitor for one check.
#[derive(Clone, Debug)]
pub struct CheckContext {
    /// When this check started. Monitors use it instead of reading a clock.
    pub now: Timestamp,
    /// The state this monitor returned from its last accepted check (e.g. log offsets), if any.
    pub state: Option<Vec<u8>>,
}

/// One data collector: a log follower, a command, an HTTP check...
///
/// The runner owns timeouts, panics, concurrency and persistence of state, written once around
/// this trait; an implementation only collects. A check must not persist anything itself: it
/// returns its next state in [`Observation::next_state`], and the runner stores it only after the
/// run's outputs are written, so a run that is cut short is repeated rather than lost.
pub trait Monitor: Send + Sync {
    /// Unique name from the config, e.g. `loan-importer`.
    fn name(&self) -> &str;
    /// What kind of monitor this is, e.g. `log`, `command`, `http`.
    fn kind(&self) -> &'static str;
    /// Collects once.
    fn check(&self, ctx: CheckContext) -> BoxFuture<'_, Result<Observation, MonitorError>>;
}

/// Why a check could not produce an observation. The runner reports it as UNKNOWN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorError {
    /// What went wrong and where, e.g. `cannot open /mnt/logs/app.log: permission denied`.
    pub reason: String,
}

impl MonitorError {
    /// An error with this reason.
    pub fn new(reason: impl Into<String>) -> Self {
        MonitorError {
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for MonitorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for MonitorError {}

/// Everything one check produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// The verdict.
    pub outcome: CheckOutcome,
    /// Measurements (the runner adds the `monitor` label).
    pub samples: Vec<Sample>,
    /// Discrete entries seen, e.g. matched error records (bounded by the monitor).
    pub events: Vec<Event>,
    /// The snapshot and summary contribution.
    pub fragment: Fragment,
    /// State to hand to the next check once this one is accepted (e.g. file offsets).
    pub next_state: Option<Vec<u8>>,
}

impl Observation {
    /// An observation with only an outcome.
    pub fn from_outcome(outcome: CheckOutcome) -> Self {
        Observation {
            outcome,
            samples: Vec::new(),
            events: Vec::new(),
            fragment: Fragment::default(),
            next_state: None,
        }
    }
}

/// One monitor's check as the runner saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MonitorRun {
    /// The monitor's name.
    pub name: String,
    /// The monitor's kind.
    pub kind: String,
    /// What the monitor watches, in a few words (from its config's `description`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// When the check started.
    pub started: Timestamp,
    /// When it finished, or was given up on.
    pub finished: Timestamp,
    /// The verdict (UNKNOWN with the reason when the check failed, hung or panicked).
    pub outcome: CheckOutcome,
    /// Measurements.
    pub samples: Vec<Sample>,
    /// Discrete entries.
    pub events: Vec<Event>,
    /// Snapshot contribution.
    pub fragment: Fragment,
}

impl MonitorRun {
    /// Elapsed milliseconds.
    pub fn elapsed_ms(&self) -> i64 {
        self.finished.millis_since(self.started)
    }
}

/// A whole run: every monitor checked once, as reports see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Host the run happened on.
    pub host: String,
    /// Environment name (`production` unless `--env` said otherwise).
    pub environment: String,
    /// When the run started.
    pub started: Timestamp,
    /// When the last monitor finished.
    pub finished: Timestamp,
    /// One entry per enabled monitor, in config order.
    pub monitors: Vec<MonitorRun>,
}

impl RunRecord {
    /// The worst status over all monitors (OK when there are none).
    pub fn worst(&self) -> Status {
        self.monitors
            .iter()
            .fold(Status::Ok, |w, m| w.worst(m.outcome.status))
    }
}
