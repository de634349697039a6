//! The arithmetic of the `anchored` and `smoothed` modifiers on float samples.
//!
//! A modified range selector gives its function more than its window `(start, end]`: the
//! samples up to one lookback before `start` and, when smoothed, up to one lookback after
//! `end` (staleness markers left out). From those:
//! - anchored, the value at `start` is the last sample at or before it, and the value at
//!   `end` the last sample in the window; `increase`, `rate` and `delta` are the difference of
//!   the two (plus counter resets), with no extrapolation, and `changes` and `resets` also count
//!   the step from that first sample into the window;
//! - smoothed, the values at `start` and `end` are interpolated linearly between the samples
//!   around them (a sample beyond the series' end or before its start is not made up: the
//!   nearest sample inside stands for it).
//!
//! A smoothed instant selector interpolates the same way at its instant.

use crate::promql::Point;

/// Linear interpolation at `t` between `p1` and `p2` (`p1.t <= t <= p2.t`). For a counter, a
/// drop from `p1` to `p2` is a reset: the line then runs from zero up to `p2`.
fn interpolate(p1: Point, p2: Point, t: i64, counter: bool) -> f64 {
    let y1 = if counter && p2.v < p1.v { 0.0 } else { p1.v };
    y1 + (p2.v - y1) * (t - p1.t) as f64 / (p2.t - p1.t) as f64
}

/// Index of the last point at or before `start`, or 0 when every point is after it. The last
/// point is never taken, so that one is always left to end the span.
fn first_index(points: &[Point], start: i64) -> usize {
    let n = points.len();
    points[..n - 1]
        .partition_point(|p| p.t <= start)
        .saturating_sub(1)
}

/// Index of the first point at or after `end`, or the last point when none is (smoothed).
fn last_index_smoothed(points: &[Point], end: i64) -> usize {
    let n = points.len();
    points[..n - 1].partition_point(|p| p.t < end)
}

/// Where an anchored `changes` or `resets` starts counting: the last point at or before the
/// window's start (or the first point); `None` when no point is inside the window.
pub(super) fn anchor_index(points: &[Point], start: i64) -> Option<usize> {
    let last = points.last()?;
    (last.t > start).then(|| first_index(points, start))
}

/// The boundary values of the window `(start, end]` and the indexes they were taken from, or
/// `None` when the points do not reach into the window.
struct Bounds {
    first: usize,
    last: usize,
    left: f64,
    right: f64,
}

fn bounds(points: &[Point], window: (i64, i64), smoothed: bool, counter: bool) -> Option<Bounds> {
    let (start, end) = window;
    if points.is_empty() {
        return None;
    }
    let first = first_index(points, start);
    let last = if smoothed {
        last_index_smoothed(points, end)
    } else {
        points.len() - 1
    };
    if points[last].t <= start || (smoothed && points[first].t > end) {
        // All before the window, or (smoothed) all after it.
        return None;
    }
    let left = if smoothed && points[first].t < start {
        interpolate(points[first], points[first + 1], start, counter)
    } else {
        points[first].v
    };
    let right = if smoothed && last > 0 && points[last].t > end {
        interpolate(points[last - 1], points[last], end, counter)
    } else {
        points[last].v
    };
    Some(Bounds {
        first,
        last,
        left,
        right,
    })
}

/// `increase`, `rate` (per second of the window) and `delta` of an anchored or smoothed range:
/// the value at the window's end minus the value at its start, counter resets added back for
/// counters. `None` when no sample reaches into the window.
pub(super) fn extended_rate(
    points: &[Point],
    window: (i64, i64),
    smoothed: bool,
    counter: bool,
    rate: bool,
) -> Option<f64> {
    let b = bounds(points, window, smoothed, counter)?;
    let (start, end) = window;
    let mut result = b.right - b.left;
    if counter {
        // The boundary values already account for a reset between them and their neighbours
        // outside the window; only the points strictly inside are compared one by one.
        let from = if points[b.first].t <= start {
            b.first + 1
        } else {
            b.first
        };
        let to = if points[b.last].t >= end {
            b.last
        } else {
            b.last + 1
        };
        let mut previous = b.left;
        for p in points.get(from..to).unwrap_or_default() {
            if p.v < previous {
                result += previous;
            }
            previous = p.v;
        }
        if b.right < previous {
            result += previous;
        }
    }
    if rate {
        result /= (end - start) as f64 / 1000.0;
    }
    Some(result)
}

/// A modified range selector's own result: each series cut back to `[start, end]`, with a
/// point on each edge holding the value there (the anchor's or the interpolated one).
pub(in crate::promql) fn extend_to_window(
    points: &[Point],
    window: (i64, i64),
    smoothed: bool,
) -> Vec<Point> {
    let (start, end) = window;
    let Some(b) = bounds(points, window, smoothed, false) else {
        return Vec::new();
    };
    let inside = points
        .iter()
        .skip(b.first)
        .take(b.last + 1 - b.first)
        .filter(|p| p.t > start && p.t < end);
    let mut out = Vec::with_capacity(b.last + 3 - b.first);
    out.push(Point {
        t: start,
        v: b.left,
    });
    out.extend(inside.copied());
    out.push(Point { t: end, v: b.right });
    out
}

/// A smoothed instant selector's value at `t`, from the points around it (one lookback on
/// either side): the sample at `t`, else the interpolation between the samples before and
/// after it, else the last sample before it; `None` when there is none before `t`.
pub(in crate::promql) fn smoothed_value(points: &[Point], t: i64) -> Option<f64> {
    let after = points.partition_point(|p| p.t < t);
    match (after.checked_sub(1).map(|i| points[i]), points.get(after)) {
        (_, Some(next)) if next.t == t => Some(next.v),
        (Some(previous), Some(&next)) => Some(interpolate(previous, next, t, false)),
        (Some(previous), None) => Some(previous.v),
        (None, _) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1000;

    fn points(samples: &[(i64, f64)]) -> Vec<Point> {
        samples
            .iter()
            .map(|&(t, v)| Point { t: t * S, v })
            .collect()
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn anchored_increase_is_the_difference_from_the_sample_before_the_window() {
        // A counter 1, 2, 3, 4 every 15 s, then 9 at 75 s; window (20 s, 80 s].
        let p = points(&[
            (0, 1.0),
            (15, 2.0),
            (30, 3.0),
            (45, 4.0),
            (60, 5.0),
            (75, 9.0),
        ]);
        // Anchor: 2 at 15 s; end: 9 at 75 s. No extrapolation: exactly 7.
        let inc = extended_rate(&p, (20 * S, 80 * S), false, true, false);
        assert_eq!(inc, Some(7.0));
        let rate = extended_rate(&p, (20 * S, 80 * S), false, true, true);
        assert!(close(rate, 7.0 / 60.0), "{rate:?}");
    }

    #[test]
    fn anchored_increase_adds_back_resets_inside_and_at_the_edge() {
        // 5, 10 then a reset to 3: 5 -> 10 is 5, 0 -> 3 is 3.
        let p = points(&[(0, 5.0), (30, 10.0), (60, 3.0)]);
        assert_eq!(
            extended_rate(&p, (0, 70 * S), false, true, false),
            Some(8.0)
        );
        // delta is not a counter: 3 - 5.
        assert_eq!(
            extended_rate(&p, (0, 70 * S), false, false, false),
            Some(-2.0)
        );
        // The reset is the window's last step.
        let p = points(&[(0, 5.0), (30, 3.0)]);
        assert_eq!(
            extended_rate(&p, (0, 30 * S), false, true, false),
            Some(3.0)
        );
    }

    #[test]
    fn smoothed_increase_interpolates_both_edges() {
        // 0 at 0 s, 10 at 10 s, 20 at 20 s; window (5 s, 15 s]: 5 -> 15.
        let p = points(&[(0, 0.0), (10, 10.0), (20, 20.0)]);
        let inc = extended_rate(&p, (5 * S, 15 * S), true, true, false);
        assert!(close(inc, 10.0), "{inc:?}");
        // Window (5 s, 12 s]: right edge 12, so 7; per second over 7 s is 1.
        let rate = extended_rate(&p, (5 * S, 12 * S), true, true, true);
        assert!(close(rate, 1.0), "{rate:?}");
    }

    #[test]
    fn smoothed_counter_interpolation_starts_a_reset_from_zero() {
        // 100 at 0 s, reset to 10 at 15 s; window (2 s, 12 s]: the counter ran 0 -> 10 over
        // 15 s, so 2/15*10 at the start and 12/15*10 at the end: 20/3 more.
        let p = points(&[(0, 100.0), (15, 10.0)]);
        let inc = extended_rate(&p, (2 * S, 12 * S), true, true, false);
        assert!(close(inc, 20.0 / 3.0), "{inc:?}");
        // As a gauge (delta) the line runs 100 -> 10: 88 - 28.
        let delta = extended_rate(&p, (2 * S, 12 * S), true, false, false);
        assert!(close(delta, -60.0), "{delta:?}");
    }

    #[test]
    fn no_sample_reaching_into_the_window_gives_nothing() {
        let p = points(&[(0, 1.0), (10, 2.0)]);
        // Anchored: everything at or before the start.
        assert_eq!(
            extended_rate(&p, (10 * S, 20 * S), false, true, false),
            None
        );
        // Smoothed: everything after the end.
        let later = points(&[(30, 1.0), (40, 2.0)]);
        assert_eq!(
            extended_rate(&later, (10 * S, 20 * S), true, true, false),
            None
        );
        assert_eq!(
            extended_rate(&[], (10 * S, 20 * S), true, true, false),
            None
        );
    }

    #[test]
    fn the_anchor_of_changes_is_the_sample_at_or_before_the_start() {
        let p = points(&[(0, 1.0), (60, 1.0), (120, 2.0)]);
        assert_eq!(anchor_index(&p, 60 * S), Some(1));
        assert_eq!(anchor_index(&p, 30 * S), Some(0));
        assert_eq!(anchor_index(&p, 120 * S), None);
    }

    #[test]
    fn a_modified_range_result_has_a_point_on_each_edge() {
        let p = points(&[(0, 0.0), (10, 10.0), (20, 20.0)]);
        // An anchored range holds nothing after its window's end.
        let anchored = extend_to_window(&p[..2], (5 * S, 15 * S), false);
        assert_eq!(anchored, points(&[(5, 0.0), (10, 10.0), (15, 10.0)]));
        let smoothed = extend_to_window(&p, (5 * S, 15 * S), true);
        assert_eq!(smoothed, points(&[(5, 5.0), (10, 10.0), (15, 15.0)]));
    }

    #[test]
    fn a_smoothed_instant_interpolates_or_carries_the_last_value() {
        let p = points(&[(10, 2.0), (20, 3.0)]);
        assert_eq!(smoothed_value(&p, 10 * S), Some(2.0));
        assert_eq!(smoothed_value(&p, 15 * S), Some(2.5));
        assert_eq!(smoothed_value(&p, 25 * S), Some(3.0));
        assert_eq!(smoothed_value(&p, 5 * S), None);
    }
}
