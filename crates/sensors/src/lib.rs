//! Everything in Periscope that produces data, and the runner that runs it.
//!
//! Each monitor kind is one module implementing [`model::Monitor`] with a strict settings struct
//! (`XxxSettings`, deserialized with `deny_unknown_fields`) whose `build` checks every setting and
//! returns all problems at once as [`model::ConfigIssue`]s. The one decision behind it: timeouts,
//! panics, concurrency and persistence of monitor state are written once, in [`runner`], around
//! the trait, so a monitor only collects.

pub mod brokers;
pub mod command;
pub mod exposition;
pub mod http;
pub mod log;
pub mod perfdata;
pub mod push;
pub mod runner;

use std::path::PathBuf;
use std::time::Duration;

/// What a monitor's `build` may need besides its own settings.
#[derive(Clone, Debug)]
pub struct BuildContext {
    /// Directory relative paths in settings are resolved against (the config file's directory).
    pub base_dir: PathBuf,
    /// The monitor's timeout, as the runner will enforce it.
    pub timeout: Duration,
}
