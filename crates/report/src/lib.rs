//! Periscope's outputs for people and tools: the summary report, alert mail, XML/JSON snapshots,
//! end-of-day CSV and the SMTP sending that carries the text ones.
//!
//! It owns how a [`model::RunRecord`] reads, never what it says: monitors describe what they
//! know as data ([`model::Fragment`]), and every format here is a pure function of the record
//! (plus a time zone for people). The one decision behind it: **no output reads the clock or
//! the world** — times come from the record, so the same record always gives the same bytes,
//! golden files can pin every format, and a report re-rendered tomorrow still says what the run
//! saw. Writing is separate from rendering, and every file is replaced atomically, because a
//! dashboard or a chart reads these files while Periscope writes them.

mod alert;
mod atomic;
mod email;
mod end_of_day;
mod error;
mod snapshot;
mod summary;
mod text;
mod value;

pub use alert::alert_text;
pub use atomic::write_atomically;
pub use email::{
    CaFileError, EmailError, SmtpSecurity, SmtpSettings, check_ca_file, send_email, send_message,
};
pub use end_of_day::{CSV_HEADER, EndOfDayOutcome, append_end_of_day};
pub use error::ReportError;
pub use snapshot::{SnapshotFormat, SnapshotNaming, snapshot_json, snapshot_xml, write_snapshots};
pub use summary::{summary_subject, summary_text};
