//! Least squares over a window: the fitted line, how well it fits, and when it reaches a value.
//!
//! The fit centres the times on their mean before summing, so a window of Unix-epoch
//! milliseconds (about 1.7e12) loses no precision to squaring large numbers. (PromQL's
//! `predict_linear` and `deriv` keep Prometheus' own summation, in the evaluator, so their
//! results match Prometheus to the bit; these functions are ours and favour stability.)

use crate::promql::Point;

/// Fewer usable points than this and a forecast is flagged [`Confidence::TooFewPoints`]: a line
/// through two points always fits perfectly, so its R² says nothing.
pub const MIN_CONFIDENT_POINTS: usize = 3;

/// Default R² under which a fit is flagged [`Confidence::PoorFit`]: below it the line explains
/// less than half of the variation in the window.
pub const DEFAULT_MIN_R_SQUARED: f64 = 0.5;

/// A change over the whole window smaller than this share of the values' scale is treated as
/// no change at all. Without it, a series that is flat (or exactly symmetric) would get a slope
/// of 1e-18 from rounding and a "crossing" millions of years away instead of "never".
const FLAT_TOLERANCE: f64 = 1e-9;

/// A least-squares line `v(t) = v_mean + slope * (t - t_mean)` through a window of points.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearFit {
    /// Number of points the line was fitted to (NaN and infinite values are left out).
    pub n: usize,
    /// Time of the first fitted point, milliseconds; the other times are offsets from it.
    pub t_first: i64,
    /// Time of the last fitted point, milliseconds.
    pub t_last: i64,
    /// Mean time of the points, in seconds after `t_first`: the point the line pivots on.
    pub t_mean_s: f64,
    /// Mean value of the points (the line passes through `(t_mean, v_mean)`).
    pub v_mean: f64,
    /// Change per second.
    pub slope: f64,
    /// Standard deviation of the residuals, `sqrt(SS_res / (n - 2))`; 0 with two points.
    pub residual_sd: f64,
    /// Share of the variation the line explains, `1 - SS_res / SS_tot`; 1 for a constant series.
    pub r_squared: f64,
    /// The last fitted point's observed value (not the line's).
    pub v_last: f64,
    /// True when the slope is zero within rounding (see the module's flatness rule).
    pub flat: bool,
}

impl LinearFit {
    /// Fits a line to `points` (ascending by time). NaN and infinite values are left out: they
    /// are not measurements a line can pass through. `None` with fewer than two usable points
    /// or when all usable points share one timestamp.
    pub fn fit(points: &[Point]) -> Option<LinearFit> {
        let usable: Vec<Point> = points.iter().copied().filter(|p| p.v.is_finite()).collect();
        let [first, .., last] = usable.as_slice() else {
            return None;
        };
        let t_first = first.t;
        let x = |p: &Point| (p.t - t_first) as f64 / 1000.0;
        let n = usable.len() as f64;
        let t_mean_s = usable.iter().map(x).sum::<f64>() / n;
        // Values are taken relative to the first one too, so a constant series has deviations
        // of exactly zero (a mean computed from the raw values may differ from them by a
        // rounding error, which would make a flat series look like pure noise).
        let y = |p: &Point| p.v - first.v;
        let y_mean = usable.iter().map(y).sum::<f64>() / n;
        let v_mean = first.v + y_mean;
        let (mut sxx, mut sxv, mut svv) = (0.0, 0.0, 0.0);
        for p in &usable {
            let (dx, dv) = (x(p) - t_mean_s, y(p) - y_mean);
            sxx += dx * dx;
            sxv += dx * dv;
            svv += dv * dv;
        }
        if sxx <= 0.0 {
            return None;
        }
        let mut slope = sxv / sxx;
        let span_s = (last.t - t_first) as f64 / 1000.0;
        let scale = v_mean.abs().max((svv / n).sqrt());
        let flat = (slope * span_s).abs() <= FLAT_TOLERANCE * scale;
        if flat {
            slope = 0.0;
        }
        let ss_res: f64 = usable
            .iter()
            .map(|p| {
                let r = y(p) - y_mean - slope * (x(p) - t_mean_s);
                r * r
            })
            .sum();
        let r_squared = if svv > 0.0 {
            (1.0 - ss_res / svv).clamp(0.0, 1.0)
        } else {
            1.0
        };
        let residual_sd = if usable.len() > 2 {
            (ss_res / (n - 2.0)).sqrt()
        } else {
            0.0
        };
        Some(LinearFit {
            n: usable.len(),
            t_first,
            t_last: last.t,
            t_mean_s,
            v_mean,
            slope,
            residual_sd,
            r_squared,
            v_last: last.v,
            flat,
        })
    }

    /// The line's value at `t` (milliseconds).
    pub fn value_at(&self, t: i64) -> f64 {
        let x = (t - self.t_first) as f64 / 1000.0;
        self.v_mean + self.slope * (x - self.t_mean_s)
    }

    /// How far to trust the line: see [`Confidence`].
    pub fn confidence(&self, min_r_squared: f64) -> Confidence {
        if self.n < MIN_CONFIDENT_POINTS {
            Confidence::TooFewPoints
        } else if self.r_squared < min_r_squared {
            Confidence::PoorFit
        } else {
            Confidence::Good
        }
    }

    /// When the line reaches `threshold` going in `direction`, seen from `now`.
    ///
    /// - [`Direction::Falling`]: already crossed when the last observed value is at or below
    ///   the threshold; never when the line is rising or flat; otherwise the seconds until the
    ///   line comes down to it (0 when the line is already past it at `now`).
    /// - [`Direction::Rising`]: the mirror image.
    /// - [`Direction::FromCurrentSide`]: falling when the last observed value is above the
    ///   threshold, rising when below, already crossed when equal.
    pub fn crossing(&self, threshold: f64, direction: Direction, now: i64) -> Crossing {
        if threshold.is_nan() {
            return Crossing::Never;
        }
        let falling = match direction {
            Direction::Falling => true,
            Direction::Rising => false,
            Direction::FromCurrentSide if self.v_last > threshold => true,
            Direction::FromCurrentSide if self.v_last < threshold => false,
            Direction::FromCurrentSide => return Crossing::Already,
        };
        let (past, heading) = if falling {
            (self.v_last <= threshold, self.slope < 0.0)
        } else {
            (self.v_last >= threshold, self.slope > 0.0)
        };
        if past {
            return Crossing::Already;
        }
        if !heading {
            return Crossing::Never;
        }
        let seconds = (threshold - self.value_at(now)) / self.slope;
        Crossing::In(seconds.max(0.0))
    }
}

/// Which way a crossing goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Toward the threshold from whichever side the last observed value is on.
    FromCurrentSide,
    /// Downward: the value coming down to (or below) the threshold.
    Falling,
    /// Upward: the value going up to (or above) the threshold.
    Rising,
}

/// When a series reaches a threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Crossing {
    /// The last observed value is already at or past the threshold.
    Already,
    /// The fitted line reaches the threshold this many seconds after `now` (0 when the line is
    /// past it at `now` although the last observation is not).
    In(f64),
    /// The line is flat or moving away from the threshold.
    Never,
}

impl Crossing {
    /// Seconds from now: 0 when already crossed, +Inf when never, so `< 3600` reads naturally.
    pub fn seconds(&self) -> f64 {
        match self {
            Crossing::Already => 0.0,
            Crossing::In(s) => *s,
            Crossing::Never => f64::INFINITY,
        }
    }
}

/// How far a forecast can be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confidence {
    /// Enough points, and the line explains at least the required share of the variation.
    Good,
    /// Fewer than [`MIN_CONFIDENT_POINTS`] points: any line through them fits.
    TooFewPoints,
    /// The line explains too little of the variation (noise dominates, or the series curves).
    PoorFit,
}

/// A linear forecast: when the series crosses, the line it was computed from, and how far to
/// trust it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Forecast {
    /// When the threshold is reached.
    pub crossing: Crossing,
    /// The fitted line (its slope, residual spread and R²).
    pub fit: LinearFit,
    /// How far to trust it, judged with [`DEFAULT_MIN_R_SQUARED`] unless the caller chose.
    pub confidence: Confidence,
}

/// Seconds until the least-squares line over `points` crosses `threshold` from the side the
/// series is on now (see [`Direction::FromCurrentSide`]). `None` with fewer than two usable
/// points.
pub fn time_until(points: &[Point], threshold: f64, now: i64) -> Option<Forecast> {
    time_until_in(points, threshold, Direction::FromCurrentSide, now)
}

/// [`time_until`] with an explicit direction.
pub fn time_until_in(
    points: &[Point],
    threshold: f64,
    direction: Direction,
    now: i64,
) -> Option<Forecast> {
    let fit = LinearFit::fit(points)?;
    Some(Forecast {
        crossing: fit.crossing(threshold, direction, now),
        fit,
        confidence: fit.confidence(DEFAULT_MIN_R_SQUARED),
    })
}
