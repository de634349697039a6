//! Behaviour tests for every report output, built from one realistic hand-made run.
//!
//! One test binary (modules under `outputs/`) rather than one per file: each binary links the
//! whole dependency tree, and the build machines are small.

#[path = "outputs/email.rs"]
mod email;
#[path = "outputs/end_of_day.rs"]
mod end_of_day;
#[path = "outputs/fixture.rs"]
mod fixture;
#[path = "outputs/snapshot.rs"]
mod snapshot;
#[path = "outputs/summary.rs"]
mod summary;
