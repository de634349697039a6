//! Start timestamps in the counter functions (rate, increase, irate, resets).
//!
//! A counter sample may say since when it counts: its start timestamp (the counter's creation
//! time for a cumulative counter, the window start for a delta). Prometheus uses it two ways,
//! and so do we:
//! - **restarts**: a sample whose start lies after the previous sample's time, or exactly on
//!   it when the previous sample had a start of its own (a run of deltas), began counting
//!   afresh: its whole value is the increase, even when it is not lower than the previous one;
//! - **the window's start**: when the first sample in the window started counting inside the
//!   window, the counter was zero then, so the first sample's value is increase too, and no
//!   extrapolation towards the window's start is guessed.
//!
//! A start timestamp is only taken when it is set (`0` means none) and lies before its sample:
//! one equal to or after the sample's own time describes no interval and is treated as absent.
//! A cumulative counter whose start is unknown may send each sample's start as the previous
//! sample's time (OpenTelemetry does); with no usable start on the previous sample that is not
//! a restart.

use crate::promql::Point;

/// `st` when it is a usable start for a sample at `t`: set, and before `t`.
fn usable(st: i64, t: i64) -> Option<i64> {
    (st != 0 && st < t).then_some(st)
}

/// True when the counter restarted between points `i - 1` and `i` by their start timestamps
/// (`starts` is empty when the series has none).
pub(super) fn restarted(points: &[Point], starts: &[i64], i: usize) -> bool {
    if starts.is_empty() || i == 0 {
        return false;
    }
    let (prev, cur) = (points[i - 1], points[i]);
    match usable(starts[i], cur.t) {
        None => false,
        Some(st) if st > prev.t => true,
        Some(st) => st == prev.t && usable(starts[i - 1], prev.t).is_some(),
    }
}

/// When the first point started counting strictly inside the window `(window_start, ...]`:
/// the time the counter was zero.
pub(super) fn counting_since(points: &[Point], starts: &[i64], window_start: i64) -> Option<i64> {
    let (first, st) = (points.first()?, *starts.first()?);
    usable(st, first.t).filter(|&since| since > window_start)
}

/// True when a point's start lies before the previous point's time without being the previous
/// point's start too: the two samples claim overlapping intervals, which no counter produces
/// (two writers on one series, or a misconfigured exporter).
pub(super) fn overlaps(points: &[Point], starts: &[i64]) -> bool {
    if starts.is_empty() {
        return false;
    }
    (1..points.len()).any(|i| {
        let st = starts[i];
        st != 0 && st < points[i - 1].t && st != starts[i - 1]
    })
}

/// The warning [`overlaps`] calls for, naming the metric.
pub(super) fn overlap_warning(metric: &str) -> String {
    format!(
        "sample has start time that overlaps with previous sample timestamp for metric {metric:?}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(times: &[i64]) -> Vec<Point> {
        times.iter().map(|&t| Point { t, v: 1.0 }).collect()
    }

    #[test]
    fn restarts_follow_the_start_timestamps() {
        let p = points(&[60, 120, 180]);
        // A start after the previous sample, or on it after a sample with a start: restart.
        assert!(restarted(&p, &[30, 61, 61], 1));
        assert!(restarted(&p, &[30, 60, 120], 1));
        assert!(restarted(&p, &[30, 60, 120], 2));
        // The same start as before: still counting.
        assert!(!restarted(&p, &[30, 30, 30], 1));
        // On the previous sample's time, which had no usable start: unknown start, no restart.
        assert!(!restarted(&p, &[0, 60, 120], 1));
        assert!(
            !restarted(&p, &[60, 60, 120], 1),
            "a start equal to its time is none"
        );
        assert!(
            !restarted(&p, &[90, 60, 120], 1),
            "a start after its time is none"
        );
        // A start on or after its own sample's time is no start at all.
        assert!(!restarted(&p, &[30, 120, 120], 1));
        assert!(!restarted(&p, &[], 1));
    }

    #[test]
    fn the_window_start_is_only_replaced_from_inside_the_window() {
        let p = points(&[120, 180]);
        assert_eq!(counting_since(&p, &[90, 90], 60), Some(90));
        assert_eq!(
            counting_since(&p, &[60, 60], 60),
            None,
            "on the excluded edge"
        );
        assert_eq!(counting_since(&p, &[30, 30], 60), None);
        assert_eq!(
            counting_since(&p, &[120, 120], 60),
            None,
            "equal to its sample"
        );
        assert_eq!(counting_since(&p, &[0, 0], 60), None);
        assert_eq!(counting_since(&p, &[], 60), None);
    }

    #[test]
    fn overlapping_starts_are_found() {
        let p = points(&[120, 180, 240]);
        assert!(overlaps(&p, &[0, 60, 120]));
        assert!(!overlaps(&p, &[90, 90, 90]), "one cumulative run");
        assert!(!overlaps(&p, &[60, 120, 180]), "deltas back to back");
        assert!(!overlaps(&p, &[0, 0, 0]));
        assert!(!overlaps(&p, &[]));
    }
}

#[cfg(test)]
mod property_tests {
    use proptest::prelude::*;

    use super::super::range::{extrapolated, instant_change};
    use super::restarted;
    use crate::promql::Point;

    /// A counter scraped at irregular times, with restarts (a drop to a small value), and
    /// start timestamps that only say what the values say: one per run, the first run's at or
    /// before the window's start, each later run's between the samples around its restart.
    fn counter_with_starts() -> impl Strategy<Value = (Vec<Point>, Vec<i64>, (i64, i64))> {
        let step = (
            1i64..120_000,
            0u32..100,
            proptest::bool::weighted(0.15),
            0u32..5,
        );
        (
            proptest::collection::vec(step, 2..40),
            1i64..300_000,
            0i64..100_000,
            0i64..60_000,
        )
            .prop_map(|(steps, before, start_lead, after)| {
                let mut t = 1_000_000_000_000i64;
                let (mut v, mut points, mut starts) = (0.0, Vec::new(), Vec::new());
                let first_t = t + steps[0].0;
                let window_start = first_t - before;
                let mut run_start = window_start - start_lead;
                for (i, &(gap, rise, restart, restarted_at)) in steps.iter().enumerate() {
                    let previous = t;
                    t += gap;
                    if i > 0 && restart {
                        v = f64::from(restarted_at);
                        // After the previous sample, before this one.
                        run_start = previous + gap / 2;
                    } else {
                        v += f64::from(rise);
                    }
                    points.push(Point { t, v });
                    starts.push(run_start);
                }
                let window_end = t + after;
                (points, starts, (window_start, window_end))
            })
    }

    proptest! {
        #[test]
        fn start_timestamps_that_say_nothing_new_change_nothing(
            (points, starts, window) in counter_with_starts(),
            rate in proptest::bool::ANY,
        ) {
            // A restart whose value did not drop is one the values cannot show: leave those out.
            let drops_only = (1..points.len())
                .all(|i| !restarted(&points, &starts, i) || points[i].v < points[i - 1].v);
            prop_assume!(drops_only);
            prop_assert_eq!(
                extrapolated(&points, &starts, window, true, rate),
                extrapolated(&points, &[], window, true, rate)
            );
            prop_assert_eq!(
                instant_change(&points, &starts, rate),
                instant_change(&points, &[], rate)
            );
        }
    }
}

#[cfg(test)]
mod script_tests {
    use crate::promqltest::assert_script_passes;

    /// A web server restarted at 12:30 and had served 130 requests by 13:00, more than the
    /// 120 counted before: only its start timestamp shows the restart. A batch counter created
    /// at 9:40 inside the window counts from zero there instead of being extrapolated.
    const DATA: &str = r#"
load 1m
    requests_total     _x10 100 110 120 130 140 150
    requests_total@st  _x10 -5m-1mx2 -30s-1mx2
    jobs_total         _x10 2 4 6 8
    jobs_total@st      _x10 -20s-1mx3
"#;

    #[test]
    fn a_restart_that_does_not_drop_the_value_is_counted() {
        assert_script_passes(
            "restart",
            &format!(
                r#"{DATA}
eval instant at 15m increase(requests_total[5m])
    {{}} 200

eval instant at 15m resets(requests_total[5m])
    {{}} 1

eval instant at 13m irate(requests_total[5m])
    {{}} 2.1666666666666665

eval instant at 15m increase(requests_total[5m:1m])
    {{}} 50
"#
            ),
        );
    }

    #[test]
    fn a_counter_created_inside_the_window_counts_from_zero() {
        assert_script_passes(
            "created",
            &format!(
                r#"{DATA}
eval instant at 13m increase(jobs_total[5m])
    {{}} 8

eval instant at 13m rate(jobs_total[5m])
    {{}} 0.02666666666666667

eval instant at 13m delta(jobs_total[5m])
    {{}} 7

eval instant at 13m start_timestamp(jobs_total)
    {{}} 580

eval instant at 13m start_timestamp(jobs_total * 1)

eval instant at 13m start_timestamp(requests_total)
    {{}} 750
"#
            ),
        );
    }

    #[test]
    fn overlapping_start_timestamps_are_warned_about() {
        assert_script_passes(
            "overlap",
            r#"
load 1m
    hits_total     _ 10 20 30
    hits_total@st  _ -30s -90s -2m
    ok_total       _ 10 20 30
    ok_total@st    _ -30s-1mx2

eval instant at 3m rate(hits_total[3m])
    {} 0.16666666666666666
    expect warn msg: PromQL warning: sample has start time that overlaps with previous sample timestamp for metric "hits_total" (1:6)

eval instant at 3m rate(ok_total[3m])
    {} 0.16666666666666666
    expect no_warn
"#,
        );
    }
}
