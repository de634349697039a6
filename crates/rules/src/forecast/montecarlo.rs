//! Monte Carlo forecasts: many simulated futures built by resampling the increments the series
//! actually showed, giving the probability of crossing a threshold within a horizon and the
//! times by which given shares of the futures have crossed.
//!
//! Method, in order:
//! 1. The usable points (finite values) are put on a regular grid of `step` by linear
//!    interpolation, from the first point; `step` is the median interval between points,
//!    widened when the horizon would otherwise need more than `max_steps` steps. The grid's
//!    differences are the observed increments (each the change over one step).
//! 2. Each path starts from the last observed value at the last point's time and adds one
//!    resampled increment per step until it crosses the threshold or passes `now + horizon`.
//!    Where a step crosses, the crossing time is interpolated inside the step.
//! 3. Increments are drawn either independently ([`Resampling::Independent`]), or in blocks
//!    aligned to a season ([`Resampling::Seasonal`]): for a future step at time `τ`, a block
//!    starts at the increment observed at `τ - m × period` for a random whole number of
//!    periods `m` (nearest grid step), and carries on with the increments that followed it for
//!    `block` long. A daily rhythm is therefore replayed at the right time of day.
//! 4. The probability is the share of paths that crossed; the q-quantile crossing time is the
//!    time by which a share q of *all* paths had crossed (nearest rank), and does not exist when
//!    fewer than that share crossed within the horizon.
//!
//! The generator is seeded ([`MonteCarloOptions::seed`]), so the same data gives the same answer.

use super::linear::Direction;
use super::rng::SplitMix64;
use crate::promql::Point;

/// Default number of simulated paths.
pub const DEFAULT_PATHS: usize = 1000;
/// Default seed: fixed, so rule evaluations over the same data agree.
pub const DEFAULT_SEED: u64 = 0x5045_5249_5343_4f50;
/// Default cap on steps per path; a long horizon over finely sampled data uses a coarser step.
pub const DEFAULT_MAX_STEPS: usize = 1440;
/// Default block length as a share of the season: a day is replayed in one-hour blocks.
pub const DEFAULT_BLOCKS_PER_SEASON: i64 = 24;
/// Seasonal resampling draws from at most this many of the most recent seasons.
pub const MAX_SEASONS: i64 = 256;

/// How simulated increments are drawn from the observed ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resampling {
    /// Every step draws any observed increment, independently: keeps the drift and spread of
    /// the changes, forgets their order (and so any daily rhythm).
    Independent,
    /// Blocks of `block_ms` aligned to a season of `period_ms` (see the module doc): keeps a
    /// daily (or weekly) rhythm. Needs at least one season of history.
    Seasonal {
        /// Length of the season, milliseconds (a day: 86 400 000).
        period_ms: i64,
        /// Length of a resampled block, milliseconds (at least one step is always taken).
        block_ms: i64,
    },
}

impl Resampling {
    /// Seasonal resampling with the default block length (a 24th of the season).
    pub fn seasonal(period_ms: i64) -> Self {
        Resampling::Seasonal {
            period_ms,
            block_ms: period_ms / DEFAULT_BLOCKS_PER_SEASON,
        }
    }
}

/// Knobs of a Monte Carlo forecast.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MonteCarloOptions {
    /// Number of simulated paths.
    pub paths: usize,
    /// Seed of the generator.
    pub seed: u64,
    /// How increments are drawn.
    pub resampling: Resampling,
    /// Most steps one path may take; the step widens to fit the horizon in this many.
    pub max_steps: usize,
}

impl Default for MonteCarloOptions {
    fn default() -> Self {
        MonteCarloOptions {
            paths: DEFAULT_PATHS,
            seed: DEFAULT_SEED,
            resampling: Resampling::Independent,
            max_steps: DEFAULT_MAX_STEPS,
        }
    }
}

/// Why a Monte Carlo forecast could not be computed with the arguments given.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MonteCarloError {
    /// The horizon is not a positive, finite number of seconds.
    #[error("the horizon must be a positive number of seconds, got {0}")]
    Horizon(f64),
    /// No paths, or no steps, were asked for.
    #[error("paths and max_steps must both be at least 1 (got {paths} and {max_steps})")]
    Size {
        /// Paths asked for.
        paths: usize,
        /// Steps allowed.
        max_steps: usize,
    },
    /// The season is not a positive duration.
    #[error("the season must be a positive duration, got {0} ms")]
    Season(i64),
    /// The season is too short to have phases at the simulation's step.
    #[error(
        "the season ({period_ms} ms) must be at least two simulation steps ({step_ms} ms each); \
         use a longer season or a shorter horizon"
    )]
    SeasonTooShort {
        /// The season asked for.
        period_ms: i64,
        /// The simulation step (the samples' median interval, or wider for a long horizon).
        step_ms: i64,
    },
}

/// The outcome of a Monte Carlo forecast.
#[derive(Clone, Debug, PartialEq)]
pub struct MonteCarloForecast {
    /// Share of paths that crossed within the horizon, 0 to 1.
    pub probability: f64,
    /// Number of paths simulated.
    pub paths: usize,
    /// The simulation step, seconds (the resolution of the crossing times, before
    /// interpolation inside a step).
    pub step_s: f64,
    /// Crossing times of the paths that crossed, seconds after `now`, ascending.
    crossing_times: Vec<f64>,
}

impl MonteCarloForecast {
    /// Seconds after `now` by which a share `q` (0 < q ≤ 1) of all paths had crossed; `None`
    /// when fewer than that share crossed within the horizon, or `q` is out of range.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if !(q > 0.0 && q <= 1.0) {
            return None;
        }
        // Nearest rank over all paths: the rank-th earliest crossing, counting from 1.
        let rank = (q * self.paths as f64).ceil().max(1.0) as usize;
        self.crossing_times.get(rank - 1).copied()
    }

    /// Median crossing time: half of the futures have crossed by then.
    pub fn p50(&self) -> Option<f64> {
        self.quantile(0.5)
    }

    /// 90th percentile crossing time.
    pub fn p90(&self) -> Option<f64> {
        self.quantile(0.9)
    }

    /// 99th percentile crossing time.
    pub fn p99(&self) -> Option<f64> {
        self.quantile(0.99)
    }
}

/// Simulates `options.paths` futures of the series in `points` (ascending by time) and reports
/// how many reach `threshold` in `direction` within `horizon_s` seconds after `now`.
///
/// `Ok(None)` when the data cannot support a simulation: fewer than two usable points, a
/// history shorter than one step, or (seasonal) shorter than one season. When the last observed
/// value is already at or past the threshold, every path has crossed at time 0.
pub fn crossing_probability(
    points: &[Point],
    threshold: f64,
    direction: Direction,
    horizon_s: f64,
    now: i64,
    options: &MonteCarloOptions,
) -> Result<Option<MonteCarloForecast>, MonteCarloError> {
    if !(horizon_s.is_finite() && horizon_s > 0.0) {
        return Err(MonteCarloError::Horizon(horizon_s));
    }
    if options.paths == 0 || options.max_steps == 0 {
        return Err(MonteCarloError::Size {
            paths: options.paths,
            max_steps: options.max_steps,
        });
    }
    if let Resampling::Seasonal { period_ms, .. } = options.resampling
        && period_ms <= 0
    {
        return Err(MonteCarloError::Season(period_ms));
    }
    let usable: Vec<Point> = points.iter().copied().filter(|p| p.v.is_finite()).collect();
    let Some(&last) = usable.last() else {
        return Ok(None);
    };
    let Some(median_interval) = median_interval(&usable) else {
        return Ok(None);
    };
    let mut result = MonteCarloForecast {
        probability: 0.0,
        paths: options.paths,
        step_s: median_interval as f64 / 1000.0,
        crossing_times: Vec::new(),
    };
    let falling = match direction {
        Direction::Falling => true,
        Direction::Rising => false,
        Direction::FromCurrentSide => last.v > threshold,
    };
    let already = if falling {
        last.v <= threshold
    } else {
        last.v >= threshold
    };
    if threshold.is_nan() {
        return Ok(Some(result));
    }
    if already {
        result.probability = 1.0;
        result.crossing_times = vec![0.0; options.paths];
        return Ok(Some(result));
    }

    let end = now.saturating_add((horizon_s * 1000.0).round() as i64);
    let span = end - last.t;
    if span <= 0 {
        return Ok(Some(result));
    }
    let max_steps = i64::try_from(options.max_steps).unwrap_or(i64::MAX);
    let step = median_interval.max(ceil_div(span, max_steps));
    result.step_s = step as f64 / 1000.0;
    let increments = grid_increments(&usable, step);
    if increments.is_empty() {
        return Ok(None);
    }
    let steps = ceil_div(span, step);
    let sources = match options.resampling {
        Resampling::Independent => Sources::Any,
        Resampling::Seasonal {
            period_ms,
            block_ms,
        } => {
            if period_ms < 2 * step {
                return Err(MonteCarloError::SeasonTooShort {
                    period_ms,
                    step_ms: step,
                });
            }
            if last.t - usable[0].t < period_ms - step {
                return Ok(None);
            }
            let starts = (1..=steps)
                .map(|k| {
                    seasonal_starts(
                        usable[0].t,
                        step,
                        increments.len(),
                        last.t + k * step,
                        period_ms,
                    )
                })
                .collect();
            Sources::Seasonal {
                starts,
                block_steps: (block_ms / step).max(1),
            }
        }
    };

    let mut rng = SplitMix64::new(options.seed);
    for _ in 0..options.paths {
        let crossed = simulate(
            last.v,
            &increments,
            &sources,
            &mut rng,
            steps,
            |k, before, after| {
                let reached = if falling {
                    after <= threshold
                } else {
                    after >= threshold
                };
                if !reached {
                    return None;
                }
                // Where inside step k the straight line from `before` to `after` meets the
                // threshold; `before` is strictly on the near side, so the share is in (0, 1].
                let share = (threshold - before) / (after - before);
                Some(last.t as f64 + ((k - 1) as f64 + share) * step as f64)
            },
        );
        if let Some(at) = crossed
            && at <= end as f64
        {
            result
                .crossing_times
                .push(((at - now as f64) / 1000.0).max(0.0));
        }
    }
    result.crossing_times.sort_by(f64::total_cmp);
    result.probability = result.crossing_times.len() as f64 / options.paths as f64;
    Ok(Some(result))
}

/// Where each simulated step may take its increment from.
enum Sources {
    /// Any observed increment.
    Any,
    /// For future step `k` (from 1), the increment indices a block may start at; a block then
    /// runs on for `block_steps` increments or until the history ends.
    Seasonal {
        starts: Vec<Vec<usize>>,
        block_steps: i64,
    },
}

/// Runs one path of `steps` steps from `start`, calling `crossed(k, before, after)` after
/// step `k` (from 1) with the path's value before and after it; stops at the first `Some`.
fn simulate(
    start: f64,
    increments: &[f64],
    sources: &Sources,
    rng: &mut SplitMix64,
    steps: i64,
    crossed: impl Fn(i64, f64, f64) -> Option<f64>,
) -> Option<f64> {
    let mut value = start;
    // The next increment of the current block and how many more the block may take.
    let mut block: Option<(usize, i64)> = None;
    for k in 1..=steps {
        let index = match sources {
            Sources::Any => rng.below(increments.len()),
            Sources::Seasonal {
                starts,
                block_steps,
            } => match block {
                Some((next, left)) if left > 0 && next < increments.len() => {
                    block = Some((next + 1, left - 1));
                    next
                }
                _ => {
                    let candidates = &starts[(k - 1) as usize];
                    // No observed step at this phase (a history just short of a season):
                    // any increment is better than stopping the path.
                    let first = if candidates.is_empty() {
                        rng.below(increments.len())
                    } else {
                        candidates[rng.below(candidates.len())]
                    };
                    block = Some((first + 1, block_steps - 1));
                    first
                }
            },
        };
        let before = value;
        value += increments[index];
        if let Some(at) = crossed(k, before, value) {
            return Some(at);
        }
    }
    None
}

/// Median of the positive intervals between consecutive points, milliseconds.
fn median_interval(points: &[Point]) -> Option<i64> {
    let mut intervals: Vec<i64> = points
        .windows(2)
        .map(|w| w[1].t - w[0].t)
        .filter(|&d| d > 0)
        .collect();
    if intervals.is_empty() {
        return None;
    }
    let mid = intervals.len() / 2;
    Some(*intervals.select_nth_unstable(mid).1)
}

/// The series on a grid of `step` from its first point (linear interpolation between points),
/// differenced: element `j` is the change from grid time `j` to grid time `j + 1`.
fn grid_increments(points: &[Point], step: i64) -> Vec<f64> {
    let t0 = points[0].t;
    let cells = (points[points.len() - 1].t - t0) / step;
    let mut values = Vec::with_capacity(cells as usize + 1);
    let mut cursor = 0;
    for j in 0..=cells {
        let t = t0 + j * step;
        while cursor + 1 < points.len() && points[cursor + 1].t <= t {
            cursor += 1;
        }
        let a = points[cursor];
        let v = match points.get(cursor + 1) {
            Some(b) if b.t > a.t && t > a.t => {
                a.v + (b.v - a.v) * (t - a.t) as f64 / (b.t - a.t) as f64
            }
            _ => a.v,
        };
        values.push(v);
    }
    values.windows(2).map(|w| w[1] - w[0]).collect()
}

/// Increment indices whose step ends at the same phase of the season as a future step ending at
/// `tau`: one per earlier season, the nearest grid step within one step of `tau - m × period`.
fn seasonal_starts(t0: i64, step: i64, count: usize, tau: i64, period: i64) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut m = 1;
    // Only the most recent seasons: bounds the work for a short season over a long window.
    while m <= MAX_SEASONS {
        let t = tau - m * period;
        if t < t0 - step {
            break;
        }
        // Increment `i` ends at grid time `i + 1`.
        let end_index = ((t - t0) as f64 / step as f64).round() as i64;
        let i = (end_index - 1).clamp(0, count as i64 - 1);
        let ends_at = t0 + (i + 1) * step;
        if (ends_at - t).abs() <= step {
            starts.push(i as usize);
        }
        m += 1;
    }
    starts
}

/// `a / b` rounded up, for positive `a` and `b`.
fn ceil_div(a: i64, b: i64) -> i64 {
    a / b + i64::from(a % b != 0)
}
