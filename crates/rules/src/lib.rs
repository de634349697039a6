//! Periscope's deciding side: everything between the store and the notifier.
//!
//! - [`promql`]: the PromQL evaluator (parsing is the `promql-parser` crate's; evaluation is
//!   ours), reading series only through [`model::Querier`].
//! - [`promqltest`]: a runner for Prometheus' `load`/`eval` test scripts over an in-memory
//!   querier, used by the conformance script and by our own fixture tests.
//! - [`alert`]: the pure alert state machine (inactive, pending, firing, resolved; soft and hard
//!   states, hysteresis, flapping).
//! - [`forecast`]: forecasting maths (time until a crossing, capacity-aware, Monte Carlo).
//! - [`native`]: Periscope's own rules (`[rule.NAME]` in the TOML config): levels, time-tiered
//!   thresholds, soft/hard states, no data, dependencies and short forms, compiled to PromQL.
//! - [`rulefile`] and [`template`]: Prometheus rule files as they are, and their annotation
//!   templates.
//!
//! The one decision behind the crate: time is always an argument. Nothing here reads the clock
//! or touches a file system or socket except where a caller hands over a path to load, so hours
//! of alert behaviour run in a test in milliseconds.

pub mod alert;
pub mod forecast;
pub mod group;
pub mod native;
pub mod promql;
pub mod promqltest;
pub mod rulefile;
pub mod template;
pub mod unittest;
