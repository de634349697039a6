//! Periscope's vocabulary and the seams between its parts.
//!
//! Every other crate depends on this one and on nothing of each other: sensors produce
//! [`Observation`]s, the runner wraps them into [`MonitorRun`]s, reports read [`RunRecord`]s.
//! The one decision behind it: this crate does no I/O and knows no runtime, so the types here
//! can be built and checked in tests without files, sockets or a clock ([`Clock`] is the only
//! way to learn the time, and only [`SystemClock`] reads it).

pub mod alert;
mod clock;
mod config_issue;
pub mod duration;
mod event;
mod ingest;
mod labels;
pub mod level;
mod monitor;
mod outcome;
mod pairs;
pub mod query;
mod sample;
mod snapshot;
mod storage;
pub mod time_period;

pub use clock::{Clock, SystemClock, Timestamp};
pub use config_issue::ConfigIssue;
pub use event::Event;
pub use ingest::{IngestError, IngestReceipt, Payload, PayloadFormat, PayloadSink};
pub use monitor::{
    BoxFuture, CheckContext, Monitor, MonitorError, MonitorRun, Observation, RunRecord,
};
pub use outcome::{CheckOutcome, Status};
pub use sample::{Labels, Sample};
pub use snapshot::{ErrorGroup, Fact, FactValue, Fragment, Section};
pub use storage::{
    AnchoredRegex, Appender, CommitSummary, METRIC_NAME_LABEL, MatchOp, Matcher, Querier,
    Rejection, SeriesData, SeriesRef, Storage, StoreError, TimeRange,
};
