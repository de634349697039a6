//! Monte Carlo forecasts on constructed series: a daily rhythm that a line cannot see, a noisy
//! trend, and the edge cases.

use super::linear::{Crossing, Direction, time_until};
use super::montecarlo::{MonteCarloError, MonteCarloOptions, Resampling, crossing_probability};
use super::rng::SplitMix64;
use super::tests::{HOUR, MINUTE, T0, normal, series, triangle};
use crate::promql::Point;

const DAY: i64 = 24 * HOUR;

fn seasonal() -> MonteCarloOptions {
    MonteCarloOptions {
        resampling: Resampling::seasonal(DAY),
        ..MonteCarloOptions::default()
    }
}

#[test]
fn a_daily_rhythm_crosses_although_the_line_says_never() {
    // One day, every 5 minutes, from one trough (0) to the next: up 10 by day, down 10 by night.
    // From the trough, +5 is reached 6 h into the next 12 h. A line over the day is flat.
    let day = series(289, 5 * MINUTE, |s| triangle(s / 3600.0));
    let now = day[288].t;
    assert_eq!(
        time_until(&day, 5.0, now).unwrap().crossing,
        Crossing::Never
    );

    let f = crossing_probability(
        &day,
        5.0,
        Direction::FromCurrentSide,
        12.0 * 3600.0,
        now,
        &seasonal(),
    )
    .unwrap()
    .unwrap();
    // With one day of history every path replays it: all cross, at 6 h.
    assert_eq!(f.probability, 1.0);
    for q in [f.p50(), f.p90(), f.p99()] {
        assert!((q.unwrap() - 6.0 * 3600.0).abs() < 1.0, "{q:?}");
    }

    // Shuffling the increments independently forgets the rhythm: ±0.07 steps cancel out.
    let independent = MonteCarloOptions::default();
    let f = crossing_probability(
        &day,
        5.0,
        Direction::FromCurrentSide,
        12.0 * 3600.0,
        now,
        &independent,
    )
    .unwrap()
    .unwrap();
    assert!(f.probability < 0.01, "{}", f.probability);
    assert_eq!(f.p50(), None);
}

#[test]
fn a_noisy_week_of_days_gives_a_sane_probability() {
    // Seven days of the same rhythm with noise of 0.3 (sampled every 5 minutes), now at a trough.
    let mut rng = SplitMix64::new(3);
    let week = series(7 * 288 + 1, 5 * MINUTE, |s| {
        triangle(s / 3600.0) + 0.3 * normal(&mut rng)
    });
    let now = week[week.len() - 1].t;
    let start = week[week.len() - 1].v;
    let threshold = start + 5.0;
    let within = |hours: f64| {
        crossing_probability(
            &week,
            threshold,
            Direction::Rising,
            hours * 3600.0,
            now,
            &seasonal(),
        )
        .unwrap()
        .unwrap()
    };
    let half_day = within(12.0);
    assert!(half_day.probability > 0.9, "{}", half_day.probability);
    let p50 = half_day.p50().unwrap();
    assert!((p50 - 6.0 * 3600.0).abs() < 1.5 * 3600.0, "{p50}");
    // In 3 h the rhythm only climbs 2.5: crossing +5 then would take a lot of noise.
    assert!(within(3.0).probability < 0.1);
    // Percentile times are ordered.
    let (a, b) = (half_day.p50().unwrap(), half_day.p90().unwrap());
    assert!(a <= b);
}

#[test]
fn a_noisy_trend_crosses_around_when_the_line_does() {
    // Falling 1 a minute from 300, noise 2, one point a minute for 3 h: at 120 now, 0 expected in
    // 120 minutes.
    let mut rng = SplitMix64::new(5);
    let points = series(181, MINUTE, |s| 300.0 - s / 60.0 + 2.0 * normal(&mut rng));
    let now = points[180].t;
    let options = MonteCarloOptions::default();
    let f = crossing_probability(
        &points,
        0.0,
        Direction::Falling,
        4.0 * 3600.0,
        now,
        &options,
    )
    .unwrap()
    .unwrap();
    assert!(f.probability > 0.99, "{}", f.probability);
    let p50 = f.p50().unwrap();
    assert!((p50 - 120.0 * 60.0).abs() < 15.0 * 60.0, "{p50}");
    assert!(f.p99().unwrap() >= p50);
    // Within one hour: it would take 60 units of noise.
    let soon = crossing_probability(&points, 0.0, Direction::Falling, 3600.0, now, &options)
        .unwrap()
        .unwrap();
    // Resampling differenced noise as if it were independent overstates the spread (see the
    // limits in docs/forecast.md), so a handful of futures may get there; few do.
    assert!(soon.probability < 0.02, "{}", soon.probability);
}

#[test]
fn the_same_seed_gives_the_same_forecast() {
    let mut rng = SplitMix64::new(9);
    let points = series(100, MINUTE, |s| s / 60.0 + 3.0 * normal(&mut rng));
    let now = points[99].t;
    let run = |seed| {
        let options = MonteCarloOptions {
            seed,
            ..MonteCarloOptions::default()
        };
        crossing_probability(&points, 130.0, Direction::Rising, 1800.0, now, &options)
            .unwrap()
            .unwrap()
    };
    assert_eq!(run(1), run(1));
    let p = run(1).probability;
    assert!(
        p > 0.05 && p < 0.95,
        "a borderline case should be uncertain: {p}"
    );
}

#[test]
fn quantiles_exist_only_for_shares_that_crossed() {
    // A slow climb that only some futures complete in time.
    let mut rng = SplitMix64::new(21);
    let points = series(120, MINUTE, |s| s / 600.0 + normal(&mut rng));
    let now = points[119].t;
    let f = crossing_probability(
        &points,
        30.0,
        Direction::Rising,
        3.0 * 3600.0,
        now,
        &MonteCarloOptions::default(),
    )
    .unwrap()
    .unwrap();
    assert!(
        f.probability > 0.5 && f.probability < 0.9,
        "{}",
        f.probability
    );
    assert!(f.p50().is_some());
    assert_eq!(f.p99(), None);
    assert_eq!(f.quantile(0.0), None);
    assert_eq!(f.quantile(1.5), None);
}

#[test]
fn edge_cases() {
    let now = T0 + HOUR;
    let options = MonteCarloOptions::default();
    let run = |points: &[Point], threshold| {
        crossing_probability(
            points,
            threshold,
            Direction::FromCurrentSide,
            3600.0,
            now,
            &options,
        )
    };
    assert_eq!(run(&[], 1.0), Ok(None));
    assert_eq!(run(&series(1, MINUTE, |_| 0.0), 1.0), Ok(None));
    assert_eq!(run(&series(10, MINUTE, |_| f64::NAN), 1.0), Ok(None));

    // Already past: every future has crossed, at once.
    let rising = series(10, MINUTE, |s| s);
    let f = run(&rising, 540.0).unwrap().unwrap();
    assert_eq!((f.probability, f.p99()), (1.0, Some(0.0)));

    // A constant series has only zero increments: it never moves.
    let flat = series(10, MINUTE, |_| 4.0);
    let f = run(&flat, 5.0).unwrap().unwrap();
    assert_eq!((f.probability, f.p50()), (0.0, None));

    // NaN samples are skipped, not propagated.
    let mut holes = series(30, MINUTE, |s| s / 60.0);
    holes[10].v = f64::NAN;
    let f = crossing_probability(
        &holes,
        40.0,
        Direction::Rising,
        3600.0,
        holes[29].t,
        &options,
    )
    .unwrap()
    .unwrap();
    assert_eq!(f.probability, 1.0);
    assert!((f.p50().unwrap() - 11.0 * 60.0).abs() < 1e-6);

    // Bad arguments are errors that say what was wrong.
    assert_eq!(
        crossing_probability(&rising, 1.0, Direction::Rising, 0.0, now, &options),
        Err(MonteCarloError::Horizon(0.0))
    );
    let no_paths = MonteCarloOptions {
        paths: 0,
        ..options
    };
    assert!(matches!(
        crossing_probability(&rising, 1.0, Direction::Rising, 60.0, now, &no_paths),
        Err(MonteCarloError::Size { .. })
    ));
    let bad_season = MonteCarloOptions {
        resampling: Resampling::seasonal(0),
        ..options
    };
    assert_eq!(
        crossing_probability(&rising, 1.0, Direction::Rising, 60.0, now, &bad_season),
        Err(MonteCarloError::Season(0))
    );
    // A season must span at least two steps, and a seasonal forecast needs one of history.
    let tiny_season = MonteCarloOptions {
        resampling: Resampling::seasonal(MINUTE),
        ..options
    };
    let message = crossing_probability(&rising, 1e6, Direction::Rising, 60.0, now, &tiny_season)
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("the season (60000 ms) must be at least two"),
        "{message}"
    );
    assert_eq!(
        crossing_probability(&rising, 1e6, Direction::Rising, 60.0, now, &seasonal()),
        Ok(None)
    );
}

#[test]
fn a_long_horizon_coarsens_the_step() {
    let points = series(600, MINUTE, |s| s / 60.0);
    let options = MonteCarloOptions {
        max_steps: 100,
        ..MonteCarloOptions::default()
    };
    let f = crossing_probability(
        &points,
        2000.0,
        Direction::Rising,
        86_400.0,
        points[599].t,
        &options,
    )
    .unwrap()
    .unwrap();
    assert!((f.step_s - 864.0).abs() < 1e-9, "{}", f.step_s);
    // Steady growth of 1 a minute still crosses +1401 in about 1401 minutes.
    assert_eq!(f.probability, 1.0);
    assert!((f.p50().unwrap() - 1401.0 * 60.0).abs() < 1.0);
}
