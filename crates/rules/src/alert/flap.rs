//! The weighted share of state changes behind flap detection.

use model::alert::{FLAP_HISTORY_LEN, FlapHistory};

/// Weight of the oldest of the 20 possible changes.
const OLDEST_WEIGHT: f64 = 0.8;
/// Weight of the newest change.
const NEWEST_WEIGHT: f64 = 1.2;

/// The weighted share of changes between neighbouring outcomes in `history`, in percent
/// (0 to 100).
///
/// Changes are weighted by age, from 1.2 for the change into the newest outcome down to 0.8
/// for the oldest of the 20 possible ones, and the sum is divided by 20. The weights average 1,
/// so a history that changes at every step scores exactly 100 %. A short history (a new alert)
/// is divided by 20 all the same, so a few evaluations cannot make an alert flap.
pub fn weighted_change_percent(history: FlapHistory) -> f64 {
    let possible = (FLAP_HISTORY_LEN - 1) as f64;
    let outcomes: Vec<bool> = history.oldest_first().collect();
    let newest = outcomes.len().saturating_sub(1);
    let weighted: f64 = outcomes
        .windows(2)
        .enumerate()
        .filter(|(_, pair)| pair[0] != pair[1])
        .map(|(i, _)| {
            // `i` is the index of the change; the newest change has age 0.
            let age = (newest - 1 - i) as f64;
            NEWEST_WEIGHT - (NEWEST_WEIGHT - OLDEST_WEIGHT) * age / (possible - 1.0)
        })
        .sum();
    weighted * 100.0 / possible
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(outcomes: &str) -> FlapHistory {
        let mut h = FlapHistory::default();
        for c in outcomes.chars() {
            h.push(c == 'F');
        }
        h
    }

    #[test]
    fn steady_alerts_score_zero_and_alternating_ones_score_100() {
        assert_eq!(weighted_change_percent(history("")), 0.0);
        assert_eq!(
            weighted_change_percent(history("FFFFFFFFFFFFFFFFFFFFF")),
            0.0
        );
        assert_eq!(
            weighted_change_percent(history(".....................")),
            0.0
        );
        let all = weighted_change_percent(history("F.F.F.F.F.F.F.F.F.F.F"));
        assert!((all - 100.0).abs() < 1e-9, "{all}");
    }

    #[test]
    fn recent_changes_weigh_more_than_old_ones() {
        // One change into the newest outcome: 1.2 / 20 = 6 %; as the oldest change: 4 %.
        let recent = weighted_change_percent(history("....................F"));
        let old = weighted_change_percent(history("F....................")); // F then 20 goods
        assert!((recent - 6.0).abs() < 1e-9, "{recent}");
        assert!((old - 4.0).abs() < 1e-9, "{old}");
    }

    #[test]
    fn a_short_history_counts_against_twenty_possible_changes() {
        // Three outcomes, two changes (weights 1.2 and 1.2 - 0.4/19): about 11.9 %, not 100 %.
        let share = weighted_change_percent(history("F.F"));
        let expected = (1.2 + 1.2 - 0.4 / 19.0) * 100.0 / 20.0;
        assert!((share - expected).abs() < 1e-9, "{share}");
    }
}
