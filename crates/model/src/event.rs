//! Discrete happenings a monitor saw: an error line, a failed step, a crash.

use serde::{Deserialize, Serialize};

use crate::{Status, Timestamp};

/// One discrete entry, e.g. a log line that matched an error rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened: the record's own timestamp when the source has one, else when seen.
    pub time: Timestamp,
    /// The rule or section that produced it (`timeout`, `get-loans`...).
    pub rule: String,
    /// How serious the producing rule says it is.
    pub status: Status,
    /// The message, e.g. the matched log record (multi-line records keep their lines).
    pub message: String,
    /// Named fields: regex captures, parsed columns, and so on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<(String, String)>,
    /// Where it came from, e.g. `/var/log/app.log:1234`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}
