//! Capacity-aware forecasting: used space against a capacity series.
//!
//! Forecasting *free* space (or the used fraction) breaks when a disk is resized: free space
//! jumps up, the fitted line turns flat or rising, and the forecast says "never full" while data
//! keeps arriving as fast as before (a false all-clear); a shrink does the opposite. Growing a
//! filesystem does not change how fast data arrives, so the rules here are:
//!
//! 1. **Fit the used series, not the free one.** A resize does not move `used`, so the line
//!    through it is not disturbed; the forecast compares that line with the *current*
//!    capacity (the last capacity sample). Right after a resize the forecast is already right,
//!    with no blind period while points accumulate.
//! 2. **Resizes are detected** (a capacity sample differing from the previous one by more than
//!    [`CapacityOptions::resize_tolerance`] of it) and reported, so an operator can see why the
//!    time until full changed.
//! 3. **A large drop in used space starts a new regime**: data was deleted, or moved away as
//!    part of a migration. Fitting across the drop would flatten the slope and understate the
//!    growth, so only the points from the drop on are fitted. A drop is a fall between
//!    consecutive used samples of more than [`CapacityOptions::drop_fraction`] of the capacity
//!    at that time. Rises are never cut: growth in bursts (backups landing) *is* growth.
//! 4. **Full** means used reaching [`CapacityOptions::full_fraction`] of the capacity (1 by
//!    default; 0.95 leaves the root-reserved blocks of ext4 out, for example).

use super::linear::{Crossing, DEFAULT_MIN_R_SQUARED, Direction, Forecast, LinearFit};
use crate::promql::Point;

/// Default resize tolerance: capacity changes of 1 % or less are reporting noise, not resizes.
pub const DEFAULT_RESIZE_TOLERANCE: f64 = 0.01;
/// Default drop that starts a new regime: 5 % of the capacity between two samples.
pub const DEFAULT_DROP_FRACTION: f64 = 0.05;
/// Default share of the capacity that counts as full.
pub const DEFAULT_FULL_FRACTION: f64 = 1.0;

/// The rules' knobs (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CapacityOptions {
    /// Relative change between consecutive capacity samples above which it is a resize.
    pub resize_tolerance: f64,
    /// Fall in used space between consecutive samples, as a share of the capacity, above which
    /// the fit starts afresh.
    pub drop_fraction: f64,
    /// Share of the capacity that counts as full.
    pub full_fraction: f64,
    /// R² below which the forecast is flagged as a poor fit.
    pub min_r_squared: f64,
}

impl Default for CapacityOptions {
    fn default() -> Self {
        CapacityOptions {
            resize_tolerance: DEFAULT_RESIZE_TOLERANCE,
            drop_fraction: DEFAULT_DROP_FRACTION,
            full_fraction: DEFAULT_FULL_FRACTION,
            min_r_squared: DEFAULT_MIN_R_SQUARED,
        }
    }
}

/// A capacity-aware forecast.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CapacityForecast {
    /// The current capacity: the last capacity sample.
    pub capacity: f64,
    /// The last used sample.
    pub used: f64,
    /// `used / capacity`.
    pub fraction_used: f64,
    /// Time of the first capacity sample after the last resize in the window, if any.
    pub last_resize: Option<i64>,
    /// Time of the first used sample of the fitted regime (after the last large drop, or the
    /// window's first sample).
    pub fit_from: i64,
    /// When used space reaches `full_fraction × capacity`; `None` when the current regime has
    /// fewer than two points (a drop just happened: nothing to extrapolate yet).
    pub forecast: Option<Forecast>,
}

impl CapacityForecast {
    /// Seconds until full: 0 when already full, +Inf when never, NaN when unknown.
    pub fn seconds_until_full(&self) -> f64 {
        self.forecast.map_or(f64::NAN, |f| f.crossing.seconds())
    }
}

/// Forecasts when `used` (ascending by time) reaches the capacity given by `capacity`, seen from
/// `now`. NaN and infinite samples of either series are left out. `None` when either series has
/// no usable sample or the current capacity is not positive.
pub fn time_until_full(
    used: &[Point],
    capacity: &[Point],
    now: i64,
    options: &CapacityOptions,
) -> Option<CapacityForecast> {
    let used: Vec<Point> = used.iter().copied().filter(|p| p.v.is_finite()).collect();
    let capacity: Vec<Point> = capacity
        .iter()
        .copied()
        .filter(|p| p.v.is_finite())
        .collect();
    let last_capacity = capacity.last()?.v;
    let last_used = *used.last()?;
    if last_capacity <= 0.0 {
        return None;
    }
    let last_resize = capacity
        .windows(2)
        .filter(|w| (w[1].v - w[0].v).abs() > options.resize_tolerance * w[0].v.abs())
        .map(|w| w[1].t)
        .next_back();
    let regime_start = used
        .windows(2)
        .enumerate()
        .filter(|(_, w)| {
            let cap = capacity_at(&capacity, w[1].t);
            w[0].v - w[1].v > options.drop_fraction * cap
        })
        .map(|(i, _)| i + 1)
        .next_back()
        .unwrap_or(0);
    let regime = &used[regime_start..];
    let full = options.full_fraction * last_capacity;
    let forecast = LinearFit::fit(regime).map(|fit| {
        let crossing = if last_used.v >= full {
            Crossing::Already
        } else {
            fit.crossing(full, Direction::Rising, now)
        };
        Forecast {
            crossing,
            fit,
            confidence: fit.confidence(options.min_r_squared),
        }
    });
    Some(CapacityForecast {
        capacity: last_capacity,
        used: last_used.v,
        fraction_used: last_used.v / last_capacity,
        last_resize,
        fit_from: regime[0].t,
        forecast,
    })
}

/// The capacity in force at `t`: the last sample at or before it, or the first sample when `t`
/// precedes them all. `capacity` is not empty.
fn capacity_at(capacity: &[Point], t: i64) -> f64 {
    let after = capacity.partition_point(|p| p.t <= t);
    capacity[after.saturating_sub(1)].v
}
