//! How much a rule or monitor matters: the three [`Level`]s, and [`LevelThresholds`], which say
//! which level a measured value reaches.
//!
//! Levels decide notification downstream (issue 5): the level is part of what a rule or monitor
//! produces, never something a channel guesses. Thresholds that change with the time of day are
//! a [`Tiered`](crate::time_period::Tiered)`<LevelThresholds>`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How much an alert matters, and therefore who hears about it and when.
///
/// Ordered by urgency: `Logged < NonCritical < Critical`, so "the worst of several" is `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Recorded and visible on the dashboard; nobody is notified.
    Logged,
    /// Goes to the dashboard queue, and to people only inside their business hours; what
    /// arrives outside them waits for the next business day's digest.
    NonCritical,
    /// Notifies now, 24x7, through the on-call schedule and escalation.
    Critical,
}

impl Level {
    /// Every level, least urgent first.
    pub const ALL: [Level; 3] = [Level::Logged, Level::NonCritical, Level::Critical];

    /// The word used in configuration and output: `logged`, `non-critical` or `critical`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Logged => "logged",
            Level::NonCritical => "non-critical",
            Level::Critical => "critical",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not a level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownLevel(pub String);

impl fmt::Display for UnknownLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown level '{}': expected logged, non-critical or critical",
            self.0
        )
    }
}

impl std::error::Error for UnknownLevel {}

impl FromStr for Level {
    type Err = UnknownLevel;

    /// Exactly the configuration words; case and `_` for `-` are forgiven because both are
    /// typed by hand on command lines (`--level NON_CRITICAL`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "logged" => Ok(Level::Logged),
            "non-critical" => Ok(Level::NonCritical),
            "critical" => Ok(Level::Critical),
            _ => Err(UnknownLevel(s.to_string())),
        }
    }
}

/// Which side of a threshold is bad.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Values strictly above a threshold reach it (latency, error ratio, disk used).
    #[default]
    Above,
    /// Values strictly below a threshold reach it (free space, throughput, hit ratio).
    Below,
}

/// Up to three thresholds on one value, one per level: the value reaches the most urgent level
/// whose threshold it passes.
///
/// Written in TOML as `critical = 4.0`, `non_critical = 2.0`, `logged = 1.0` and optionally
/// `direction = "below"`; at least one threshold is required, and they must be ordered (for
/// `above`: logged <= non_critical <= critical) so that a worse value never means a lower level.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawThresholds", into = "RawThresholds")]
pub struct LevelThresholds {
    logged: Option<f64>,
    non_critical: Option<f64>,
    critical: Option<f64>,
    direction: Direction,
}

/// The TOML shape of [`LevelThresholds`], checked by `TryFrom`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    /// Values beyond this are recorded at level `logged`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    logged: Option<f64>,
    /// Values beyond this are `non-critical`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    non_critical: Option<f64>,
    /// Values beyond this are `critical`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    critical: Option<f64>,
    /// `above` (default) or `below`: which side of the thresholds is bad.
    #[serde(default)]
    direction: Direction,
}

/// Why a set of thresholds was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThresholdError(String);

impl fmt::Display for ThresholdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ThresholdError {}

impl LevelThresholds {
    /// Checked thresholds: at least one, none NaN or infinite, ordered with the direction.
    pub fn new(
        logged: Option<f64>,
        non_critical: Option<f64>,
        critical: Option<f64>,
        direction: Direction,
    ) -> Result<Self, ThresholdError> {
        let named = [
            ("logged", logged),
            ("non_critical", non_critical),
            ("critical", critical),
        ];
        let set: Vec<(&str, f64)> = named
            .iter()
            .filter_map(|(n, v)| v.map(|v| (*n, v)))
            .collect();
        if set.is_empty() {
            return Err(ThresholdError(
                "no threshold: set at least one of logged, non_critical, critical".into(),
            ));
        }
        if let Some((n, v)) = set.iter().find(|(_, v)| !v.is_finite()) {
            return Err(ThresholdError(format!("{n} = {v} is not a finite number")));
        }
        for pair in set.windows(2) {
            let ((lo_name, lo), (hi_name, hi)) = (pair[0], pair[1]);
            let ordered = match direction {
                Direction::Above => lo <= hi,
                Direction::Below => lo >= hi,
            };
            if !ordered {
                let (word, rel) = match direction {
                    Direction::Above => ("above", "at most"),
                    Direction::Below => ("below", "at least"),
                };
                return Err(ThresholdError(format!(
                    "{lo_name} = {lo} must be {rel} {hi_name} = {hi} with direction = \"{word}\": \
                     a worse value must never mean a lower level"
                )));
            }
        }
        Ok(LevelThresholds {
            logged,
            non_critical,
            critical,
            direction,
        })
    }

    /// The threshold for `level`, if one is set.
    pub fn threshold(&self, level: Level) -> Option<f64> {
        match level {
            Level::Logged => self.logged,
            Level::NonCritical => self.non_critical,
            Level::Critical => self.critical,
        }
    }

    /// Which side of the thresholds is bad.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The most urgent level whose threshold `value` passes (strictly: `critical = 4.0` is not
    /// reached by 4.0), or `None` when it passes none. NaN passes none.
    pub fn level_for(&self, value: f64) -> Option<Level> {
        Level::ALL.into_iter().rev().find(|&level| {
            self.threshold(level).is_some_and(|t| match self.direction {
                Direction::Above => value > t,
                Direction::Below => value < t,
            })
        })
    }
}

impl TryFrom<RawThresholds> for LevelThresholds {
    type Error = ThresholdError;

    fn try_from(r: RawThresholds) -> Result<Self, Self::Error> {
        LevelThresholds::new(r.logged, r.non_critical, r.critical, r.direction)
    }
}

impl From<LevelThresholds> for RawThresholds {
    fn from(t: LevelThresholds) -> Self {
        RawThresholds {
            logged: t.logged,
            non_critical: t.non_critical,
            critical: t.critical,
            direction: t.direction,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_through_display_fromstr_and_toml() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Doc {
            level: Level,
        }
        for level in Level::ALL {
            assert_eq!(level.to_string().parse::<Level>(), Ok(level));
            let text = toml::to_string(&Doc { level }).unwrap();
            assert_eq!(text.trim(), format!("level = \"{level}\""));
            assert_eq!(toml::from_str::<Doc>(&text).unwrap(), Doc { level });
        }
        assert_eq!("NON_CRITICAL".parse::<Level>(), Ok(Level::NonCritical));
        let err = toml::from_str::<Doc>("level = \"page\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("non-critical"), "{err}");
    }

    #[test]
    fn thresholds_from_toml_are_strict() {
        let t: LevelThresholds = toml::from_str("critical = 4.0\nnon_critical = 2").unwrap();
        assert_eq!(t.level_for(3.0), Some(Level::NonCritical));
        let err = toml::from_str::<LevelThresholds>("critcal = 4.0")
            .unwrap_err()
            .to_string();
        assert!(err.contains("critcal"), "{err}");
        let err = toml::from_str::<LevelThresholds>("critical = 1.0\nnon_critical = 2.0")
            .unwrap_err()
            .to_string();
        assert!(err.contains("must be at most"), "{err}");
    }

    #[test]
    fn unknown_word_lists_the_accepted_ones() {
        let err = "urgent".parse::<Level>().unwrap_err().to_string();
        assert!(err.contains("'urgent'"), "{err}");
        assert!(err.contains("logged, non-critical or critical"), "{err}");
    }

    #[test]
    fn levels_are_ordered_by_urgency() {
        assert!(Level::Logged < Level::NonCritical);
        assert!(Level::NonCritical < Level::Critical);
        assert_eq!(
            [Level::Critical, Level::Logged].into_iter().max(),
            Some(Level::Critical)
        );
    }

    #[test]
    fn value_reaches_the_most_urgent_level_it_passes() {
        let t = LevelThresholds::new(Some(1.0), Some(2.0), Some(4.0), Direction::Above).unwrap();
        assert_eq!(t.level_for(0.5), None);
        assert_eq!(t.level_for(1.5), Some(Level::Logged));
        assert_eq!(t.level_for(3.0), Some(Level::NonCritical));
        assert_eq!(t.level_for(4.0), Some(Level::NonCritical), "strictly above");
        assert_eq!(t.level_for(4.1), Some(Level::Critical));
        assert_eq!(t.level_for(f64::NAN), None);
    }

    #[test]
    fn below_thresholds_trigger_on_small_values() {
        let t = LevelThresholds::new(None, Some(20.0), Some(5.0), Direction::Below).unwrap();
        assert_eq!(t.level_for(50.0), None);
        assert_eq!(t.level_for(10.0), Some(Level::NonCritical));
        assert_eq!(t.level_for(1.0), Some(Level::Critical));
    }

    #[test]
    fn misordered_or_missing_thresholds_are_refused() {
        let err = LevelThresholds::new(None, Some(5.0), Some(4.0), Direction::Above)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("non_critical = 5") && err.contains("critical = 4"),
            "{err}"
        );
        let err = LevelThresholds::new(None, None, None, Direction::Above)
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least one"), "{err}");
        assert!(LevelThresholds::new(None, None, Some(f64::NAN), Direction::Above).is_err());
    }
}
