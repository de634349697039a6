//! Forecasting maths: when will a series cross a value, when will a disk be full, and how
//! likely is a crossing within a horizon. Pure functions over [`Point`]s; `now` is always an
//! argument.
//!
//! - [`linear`]: least squares over a window and the time until the line crosses a threshold,
//!   with the fit's residual spread and a confidence flag.
//! - [`capacity`]: used space forecast against a capacity series, so a resize neither raises a
//!   false alarm nor silences a true one.
//! - [`montecarlo`]: resampling observed increments (optionally phase-aligned to a season such
//!   as a day) into many simulated futures: the probability of crossing within a horizon and
//!   percentile crossing times.
//!
//! The PromQL functions that expose these (`time_until`, `time_until_full`,
//! `crossing_probability`, `crossing_time`, ...) are declared to the parser by
//! [`register_parser_functions`] and evaluated by [`evaluate_forecast_function`]. PromQL's own
//! `predict_linear` and `deriv` are ordinary functions of the evaluator
//! (`promql/functions/range.rs`), bit-for-bit Prometheus'. The maths and its limits are written
//! up for operators in `docs/forecast.md`.
//!
//! [`Point`]: crate::promql::Point

pub mod capacity;
pub mod linear;
pub mod montecarlo;
#[cfg(test)]
mod montecarlo_tests;
mod promql_functions;
mod rng;
#[cfg(test)]
mod tests;

pub use capacity::{CapacityForecast, CapacityOptions, time_until_full};
pub use linear::{Confidence, Crossing, Direction, Forecast, LinearFit, time_until, time_until_in};
pub use montecarlo::{
    MonteCarloError, MonteCarloForecast, MonteCarloOptions, Resampling, crossing_probability,
};
pub use promql_functions::{
    FUNCTION_NAMES, RegisterError, evaluate_forecast_function, register_parser_functions,
};
