//! Linear and capacity-aware forecasts on constructed series whose answers are known: an exact
//! line, a noisy line, resized disks, deleted data, and the edge cases (no data, one point,
//! NaN, constant).

use super::capacity::{CapacityOptions, time_until_full};
use super::linear::{Confidence, Crossing, Direction, LinearFit, time_until, time_until_in};
use super::rng::SplitMix64;
use crate::promql::Point;

/// Some instant in 2023, so times are epoch-sized as in production.
pub(super) const T0: i64 = 1_700_000_000_000;
pub(super) const MINUTE: i64 = 60_000;
pub(super) const HOUR: i64 = 60 * MINUTE;

/// Points every `step` ms from `T0` for `count` points, valued `f(seconds since T0)`.
pub(super) fn series(count: usize, step: i64, mut f: impl FnMut(f64) -> f64) -> Vec<Point> {
    (0..count as i64)
        .map(|i| Point {
            t: T0 + i * step,
            v: f((i * step) as f64 / 1000.0),
        })
        .collect()
}

/// Standard normal noise, deterministic: the sum of 12 uniforms minus 6 (mean 0, variance 1).
pub(super) fn normal(rng: &mut SplitMix64) -> f64 {
    (0..12)
        .map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
        .sum::<f64>()
        - 6.0
}

fn seconds(c: Crossing) -> f64 {
    c.seconds()
}

#[test]
fn an_exact_line_gives_the_crossing_to_the_millisecond() {
    // 1000 falling by 0.5 per second, every 15 s for 10 minutes: 700 at T0 + 600 s.
    let points = series(41, 15_000, |s| 1000.0 - 0.5 * s);
    let now = T0 + 630_000;
    let f = time_until(&points, 0.0, now).unwrap();
    // At `now` the line is at 685; 685 / 0.5 = 1370 s to reach 0.
    assert!((seconds(f.crossing) - 1370.0).abs() < 0.001, "{f:?}");
    assert_eq!(f.confidence, Confidence::Good);
    assert!((f.fit.slope + 0.5).abs() < 1e-12);
    assert!(f.fit.residual_sd < 1e-9 && f.fit.r_squared > 0.999_999);
}

#[test]
fn direction_decides_between_already_and_never() {
    let points = series(41, 15_000, |s| 1000.0 - 0.5 * s); // ends at 700, falling
    let now = T0 + 600_000;
    let crossing = |threshold, direction| {
        time_until_in(&points, threshold, direction, now)
            .unwrap()
            .crossing
    };
    // Below 800 already; from the current side (below 800) it is moving away.
    assert_eq!(crossing(800.0, Direction::Falling), Crossing::Already);
    assert_eq!(crossing(800.0, Direction::FromCurrentSide), Crossing::Never);
    // Rising to anything: never, the series falls.
    assert_eq!(crossing(2000.0, Direction::Rising), Crossing::Never);
    assert_eq!(
        crossing(2000.0, Direction::FromCurrentSide),
        Crossing::Never
    );
    // Exactly at the threshold is already crossed, whichever way.
    assert_eq!(
        crossing(700.0, Direction::FromCurrentSide),
        Crossing::Already
    );
    assert_eq!(seconds(crossing(500.0, Direction::Falling)), 400.0);
}

#[test]
fn the_line_already_past_the_threshold_reports_zero_not_negative() {
    // The last observation sits above the line (a spike); the line itself crossed 100 already.
    let mut points = series(21, 60_000, |s| 200.0 - s / 6.0); // 200 -> 0 over 20 minutes
    points.last_mut().unwrap().v = 150.0;
    let f = time_until_in(&points, 100.0, Direction::Falling, T0 + 20 * MINUTE).unwrap();
    assert_eq!(f.crossing, Crossing::In(0.0));
}

#[test]
fn a_noisy_line_lands_within_what_the_noise_allows() {
    // Free space falling 2 units a minute with Gaussian noise of 5, one point a minute for 6 h.
    let (sigma, slope_per_s) = (5.0, -2.0 / 60.0);
    let mut rng = SplitMix64::new(7);
    let n = 360usize;
    let points = series(n, MINUTE, |s| {
        2000.0 + slope_per_s * s + sigma * normal(&mut rng)
    });
    let now = points[n - 1].t;
    let f = time_until(&points, 0.0, now).unwrap();
    let truth = (2000.0 + slope_per_s * 359.0 * 60.0) / -slope_per_s;

    // Standard errors of ordinary least squares with equally spaced x (spacing h seconds):
    // Sxx = h² n (n² - 1) / 12; se(slope) = σ / √Sxx; se(line at the last x) =
    // σ √(1/n + (x_last - x̄)² / Sxx). The crossing time moves by (level error + T × slope
    // error) / |slope|; allow four standard errors.
    let (h, nf) = (60.0, n as f64);
    let sxx = h * h * nf * (nf * nf - 1.0) / 12.0;
    let half_span = h * (nf - 1.0) / 2.0;
    let se_level = sigma * (1.0 / nf + half_span * half_span / sxx).sqrt();
    let se_slope = sigma / sxx.sqrt();
    let tolerance = 4.0 * (se_level + truth * se_slope) / -slope_per_s;
    let got = seconds(f.crossing);
    assert!(
        (got - truth).abs() < tolerance,
        "got {got}, truth {truth} ± {tolerance}"
    );
    assert!(
        tolerance < 0.1 * truth,
        "the test would accept nonsense: ±{tolerance}"
    );
    assert!(
        (f.fit.residual_sd - sigma).abs() < 0.15 * sigma,
        "{}",
        f.fit.residual_sd
    );
    assert_eq!(f.confidence, Confidence::Good);
}

#[test]
fn pure_noise_is_flagged_as_a_poor_fit() {
    let mut rng = SplitMix64::new(11);
    let points = series(120, MINUTE, |_| 50.0 + normal(&mut rng));
    let f = time_until(&points, 0.0, points[119].t).unwrap();
    assert_eq!(f.confidence, Confidence::PoorFit);
}

#[test]
fn edge_cases_empty_one_point_nan_constant() {
    let now = T0 + HOUR;
    assert_eq!(time_until(&[], 0.0, now), None);
    assert_eq!(time_until(&series(1, MINUTE, |_| 5.0), 0.0, now), None);
    // Two points at the same instant carry no slope.
    let same_time = [Point { t: T0, v: 1.0 }, Point { t: T0, v: 2.0 }];
    assert_eq!(time_until(&same_time, 0.0, now), None);

    // NaN and infinite samples are left out: the answer is that of the clean series.
    let clean = series(11, MINUTE, |s| 100.0 - s / 60.0);
    let mut dirty = clean.clone();
    dirty[3].v = f64::NAN;
    dirty[7].v = f64::INFINITY;
    let without: Vec<Point> = clean
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 7)
        .map(|(_, p)| *p)
        .collect();
    let (a, b) = (
        time_until(&dirty, 0.0, now).unwrap(),
        time_until(&without, 0.0, now).unwrap(),
    );
    assert_eq!(a.crossing, b.crossing);
    assert!((seconds(a.crossing) - 40.0 * 60.0).abs() < 1e-6); // 1/min: 40 left at 60 min
    assert_eq!(time_until(&series(5, MINUTE, |_| f64::NAN), 0.0, now), None);
    assert_eq!(
        time_until(&clean, f64::NAN, now).unwrap().crossing,
        Crossing::Never
    );

    // A constant series never crosses anything it is not already at, and fits perfectly.
    let flat = series(30, MINUTE, |_| 0.1);
    let f = time_until(&flat, 0.0, now).unwrap();
    assert_eq!(f.crossing, Crossing::Never);
    assert!(f.fit.flat && f.fit.r_squared == 1.0);
    assert_eq!(f.confidence, Confidence::Good);
    assert_eq!(
        time_until(&flat, 0.1, now).unwrap().crossing,
        Crossing::Already
    );

    // Two points: a line, but flagged.
    let two = series(2, MINUTE, |s| 10.0 - s / 60.0);
    let f = time_until(&two, 0.0, T0 + MINUTE).unwrap();
    assert_eq!(f.confidence, Confidence::TooFewPoints);
    assert!((seconds(f.crossing) - 540.0).abs() < 1e-9);
}

#[test]
fn a_symmetric_day_has_no_trend() {
    // Up 10 over 12 h then down 10 over 12 h: a line over the day is flat, not "crossing in
    // 10^20 seconds" from rounding.
    let points = series(289, 5 * MINUTE, |s| triangle(s / 3600.0));
    let f = time_until(&points, 5.0, points[288].t).unwrap();
    assert!(f.fit.flat);
    assert_eq!(f.crossing, Crossing::Never);
}

/// 0 at midnight rising to 10 at noon and back to 0, for `hours` since the first point.
pub(super) fn triangle(hours: f64) -> f64 {
    let h = hours.rem_euclid(24.0);
    if h <= 12.0 {
        10.0 * h / 12.0
    } else {
        10.0 * (24.0 - h) / 12.0
    }
}

const GB: f64 = 1e9;

/// Used space growing `rate` GB an hour from `start` GB, one sample a minute for `hours`.
fn growing(hours: i64, start: f64, rate: f64) -> Vec<Point> {
    series((hours * 60 + 1) as usize, MINUTE, |s| {
        (start + rate * s / 3600.0) * GB
    })
}

/// Capacity `before` GB until `at_hour`, then `after` GB, sampled every minute for `hours`.
fn resized(hours: i64, at_hour: i64, before: f64, after: f64) -> Vec<Point> {
    series((hours * 60 + 1) as usize, MINUTE, |s| {
        if s < (at_hour * 3600) as f64 {
            before * GB
        } else {
            after * GB
        }
    })
}

/// What forecasting free space (capacity minus used) with a plain line would say.
fn naive_free_forecast(used: &[Point], capacity: &[Point], now: i64) -> Crossing {
    let free: Vec<Point> = used
        .iter()
        .zip(capacity)
        .map(|(u, c)| Point {
            t: u.t,
            v: c.v - u.v,
        })
        .collect();
    time_until(&free, 0.0, now).unwrap().crossing
}

/// The points of `p` inside the 6 h window ending at `now` (start excluded, end included).
fn last_six_hours(p: Vec<Point>, now: i64) -> Vec<Point> {
    p.into_iter()
        .filter(|p| p.t > now - 6 * HOUR && p.t <= now)
        .collect()
}

#[test]
fn a_disk_grown_before_filling_is_not_reported_full_soon() {
    // 5 GB/h from 45 GB: 95 GB of 100 at 10 h, when it is grown to 200 GB. Ten minutes later,
    // with 6 h of history, the truth is (200 - 95.83) / 5 ≈ 20.8 h.
    let now = T0 + 10 * HOUR + 10 * MINUTE;
    let used = last_six_hours(growing(16, 45.0, 5.0), now);
    let capacity = last_six_hours(resized(16, 10, 100.0, 200.0), now);
    let f = time_until_full(&used, &capacity, now, &CapacityOptions::default()).unwrap();
    let truth = (200.0 - (95.0 + 5.0 / 6.0)) / 5.0 * 3600.0;
    assert!((f.seconds_until_full() - truth).abs() < 1.0, "{f:?}");
    assert_eq!(f.last_resize, Some(T0 + 10 * HOUR));
    assert!((f.fraction_used - (95.0 + 5.0 / 6.0) / 200.0).abs() < 1e-9);
    // The trap it avoids: a line through free space is still anchored on the hours before the
    // resize and reports full in well under half the real time (about 8 h).
    let naive = naive_free_forecast(&used, &capacity, now).seconds();
    assert!(naive < truth / 2.0, "{naive}");
}

#[test]
fn a_disk_grown_too_little_still_warns() {
    // 5 GB/h from 70 GB: 85 GB of 100 at 3 h, grown to 110 GB. At 6 h it holds 100 GB and is
    // full in 2 h. Free space jumped by 10 GB mid-window, which flattens a line through it:
    // about 5 h, so a "full within 4 h" rule would stay quiet.
    let now = T0 + 6 * HOUR;
    let used = last_six_hours(growing(6, 70.0, 5.0), now);
    let capacity = last_six_hours(resized(6, 3, 100.0, 110.0), now);
    let f = time_until_full(&used, &capacity, now, &CapacityOptions::default()).unwrap();
    assert!((f.seconds_until_full() - 2.0 * 3600.0).abs() < 1.0, "{f:?}");
    assert_eq!(f.last_resize, Some(T0 + 3 * HOUR));
    let naive = naive_free_forecast(&used, &capacity, now).seconds();
    assert!(naive > 4.0 * 3600.0, "{naive}");
}

#[test]
fn deleted_data_restarts_the_fit() {
    // 2 GB/h from 60 GB; at 3 h (66 GB) 30 GB are deleted; growth goes on at 2 GB/h.
    let used = series(6 * 60 + 1, MINUTE, |s| {
        let h = s / 3600.0;
        let grown = 60.0 + 2.0 * h;
        (if h < 3.0 { grown } else { grown - 30.0 }) * GB
    });
    let capacity = resized(6, 99, 100.0, 100.0);
    let now = T0 + 6 * HOUR;
    let f = time_until_full(&used, &capacity, now, &CapacityOptions::default()).unwrap();
    assert_eq!(f.fit_from, T0 + 3 * HOUR);
    assert_eq!(f.last_resize, None);
    // 42 GB at 6 h, 2 GB/h: (100 - 42) / 2 = 29 h.
    assert!(
        (f.seconds_until_full() - 29.0 * 3600.0).abs() < 1.0,
        "{f:?}"
    );
    // Fitting across the deletion would have understated the growth badly.
    let across = time_until(&used, 100.0 * GB, now)
        .unwrap()
        .crossing
        .seconds();
    assert!(across > 2.0 * 29.0 * 3600.0, "{across}");
}

#[test]
fn capacity_edge_cases() {
    let used = growing(1, 50.0, 1.0);
    let capacity = resized(1, 99, 100.0, 100.0);
    let now = T0 + HOUR;
    let options = CapacityOptions::default();
    assert_eq!(time_until_full(&[], &capacity, now, &options), None);
    assert_eq!(time_until_full(&used, &[], now, &options), None);
    let zero = series(3, MINUTE, |_| 0.0);
    assert_eq!(time_until_full(&used, &zero, now, &options), None);

    // Already full: 0, whatever the trend.
    let full = series(10, MINUTE, |s| (120.0 - s / 60.0) * GB);
    let f = time_until_full(&full, &capacity, now, &options).unwrap();
    assert_eq!(f.forecast.unwrap().crossing, Crossing::Already);

    // Capacity jitter under 1 % is not a resize; a fuller-than-full threshold is honoured.
    let jitter = series(61, MINUTE, |s| (100.0 + (s / 60.0) % 2.0 * 0.5) * GB);
    let f = time_until_full(&used, &jitter, now, &options).unwrap();
    assert_eq!(f.last_resize, None);
    let ninety = CapacityOptions {
        full_fraction: 0.9,
        ..options
    };
    let f = time_until_full(&used, &capacity, now, &ninety).unwrap();
    assert!(
        (f.seconds_until_full() - 39.0 * 3600.0).abs() < 1.0,
        "{f:?}"
    );

    // Right after a deletion there is one point to go on: no forecast, but the fraction is known.
    let mut dropped = growing(1, 50.0, 1.0);
    dropped.last_mut().unwrap().v = 10.0 * GB;
    let f = time_until_full(&dropped, &capacity, now, &options).unwrap();
    assert_eq!(f.forecast, None);
    assert!(f.seconds_until_full().is_nan());
    assert!((f.fraction_used - 0.1).abs() < 1e-12);
}

#[test]
fn the_fit_from_a_line_reads_back_its_values() {
    let points = series(5, MINUTE, |s| 3.0 * s + 1.0);
    let fit = LinearFit::fit(&points).unwrap();
    assert!((fit.value_at(T0) - 1.0).abs() < 1e-9);
    assert!((fit.value_at(T0 + 10 * MINUTE) - 1801.0).abs() < 1e-9);
}
