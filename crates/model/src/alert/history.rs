//! The last evaluations of an alert as a compact bit history, for flap detection.

use serde::{Deserialize, Serialize};

/// How many evaluation outcomes an alert remembers: 21, as Nagios and Icinga do, which gives
/// 20 possible state changes between them.
pub const FLAP_HISTORY_LEN: usize = 21;

/// The outcomes (failing or not) of an alert's last [`FLAP_HISTORY_LEN`] evaluations.
///
/// Held in one `u32`: bit 0 is the newest outcome (1 = failing), and one marker bit just above
/// the oldest outcome records how many there are, so the number written to the state database
/// is a single integer ([`FlapHistory::to_bits`]) and the empty history is `1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct FlapHistory(u32);

impl Default for FlapHistory {
    fn default() -> Self {
        FlapHistory(1)
    }
}

impl FlapHistory {
    /// Number of outcomes remembered (at most [`FLAP_HISTORY_LEN`]).
    pub fn len(self) -> usize {
        31 - self.0.leading_zeros() as usize
    }

    /// True before the first evaluation.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Remembers one more outcome, forgetting the oldest once [`FLAP_HISTORY_LEN`] are held.
    pub fn push(&mut self, failing: bool) {
        let len = (self.len() + 1).min(FLAP_HISTORY_LEN);
        let outcomes = ((self.0 << 1) | u32::from(failing)) & ((1 << len) - 1);
        self.0 = (1 << len) | outcomes;
    }

    /// The outcomes, oldest first (`true` = failing).
    pub fn oldest_first(self) -> impl Iterator<Item = bool> {
        (0..self.len()).rev().map(move |i| self.0 & (1 << i) != 0)
    }

    /// True when any remembered outcome was failing.
    pub fn any_failing(self) -> bool {
        self.0 & ((1 << self.len()) - 1) != 0
    }

    /// The single integer stored in the state database.
    pub fn to_bits(self) -> u32 {
        self.0
    }

    /// Reads back [`FlapHistory::to_bits`]; `None` for a number it cannot have written (zero,
    /// or more than [`FLAP_HISTORY_LEN`] outcomes).
    pub fn from_bits(bits: u32) -> Option<FlapHistory> {
        let history = FlapHistory(bits);
        (bits != 0 && history.len() <= FLAP_HISTORY_LEN).then_some(history)
    }
}

impl From<FlapHistory> for u32 {
    fn from(h: FlapHistory) -> u32 {
        h.to_bits()
    }
}

impl TryFrom<u32> for FlapHistory {
    type Error = String;

    fn try_from(bits: u32) -> Result<Self, Self::Error> {
        FlapHistory::from_bits(bits).ok_or_else(|| format!("{bits:#x} is not a flap history"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_21_outcomes_in_order() {
        let mut h = FlapHistory::default();
        assert!(h.is_empty());
        assert_eq!(h.to_bits(), 1);
        let outcomes: Vec<bool> = (0..30).map(|i| i % 3 == 0).collect();
        for &o in &outcomes {
            h.push(o);
        }
        assert_eq!(h.len(), FLAP_HISTORY_LEN);
        let kept: Vec<bool> = h.oldest_first().collect();
        assert_eq!(kept, outcomes[outcomes.len() - FLAP_HISTORY_LEN..]);
        assert_eq!(FlapHistory::from_bits(h.to_bits()), Some(h));
    }

    #[test]
    fn any_failing_looks_only_at_remembered_outcomes() {
        let mut h = FlapHistory::default();
        h.push(true);
        assert!(h.any_failing());
        for _ in 0..FLAP_HISTORY_LEN {
            h.push(false);
        }
        assert!(!h.any_failing());
    }

    #[test]
    fn refuses_numbers_it_cannot_have_written() {
        assert_eq!(FlapHistory::from_bits(0), None);
        assert_eq!(FlapHistory::from_bits(1 << 22), None);
        assert!(FlapHistory::from_bits(1 << 21).is_some());
    }
}
