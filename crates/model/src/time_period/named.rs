//! Named time periods: defined once (`[time_periods.business_hours]`) and used by name
//! wherever a period is written, also inside other periods (`business_hours except
//! uk_holidays`).
//!
//! Names are resolved when the configuration is built, not when it is deserialized, so a
//! definition may use a name defined after it; cycles and unknown names are configuration
//! errors.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::parse::{self, RawSpec, Spec};
use super::{PeriodError, TimePeriod};
use crate::ConfigIssue;

/// A time period as written in configuration (a one-line string or a table), before names in
/// it are looked up. Turn it into a [`TimePeriod`] with [`TimePeriods::resolve`].
#[derive(Clone, Debug, Deserialize)]
#[serde(transparent)]
pub struct RawTimePeriod(RawSpec);

impl RawTimePeriod {
    /// The one-line form as raw text, e.g. for building a period in code or tests.
    pub fn line(text: impl Into<String>) -> Self {
        RawTimePeriod(RawSpec::Line(text.into()))
    }
}

/// A set of named time periods.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimePeriods {
    by_name: BTreeMap<String, TimePeriod>,
}

impl TimePeriods {
    /// Builds every definition, resolving the names they use among themselves. Every problem
    /// is reported, each at the key path of its definition (the name).
    pub fn build(defs: &BTreeMap<String, RawTimePeriod>) -> Result<Self, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let mut specs: BTreeMap<&str, Spec> = BTreeMap::new();
        for (name, raw) in defs {
            if !parse::is_name(name) {
                issues.push(
                    ConfigIssue::new(name.as_str(), "not a usable time period name")
                        .hint("use letters, digits, '_' and '-', starting with a letter"),
                );
                continue;
            }
            if name.parse::<TimePeriod>().is_ok() {
                issues.push(
                    ConfigIssue::new(
                        name.as_str(),
                        format!("'{name}' already means something in a time period"),
                    )
                    .hint("choose a name that is not a day, month, keyword or time zone"),
                );
                continue;
            }
            match raw.0.read() {
                Ok(spec) => {
                    specs.insert(name.as_str(), spec);
                }
                Err(e) => issues.push(ConfigIssue::new(name.as_str(), e.to_string())),
            }
        }
        let mut built = TimePeriods::default();
        // Build in dependency order: a definition is ready once every defined name it uses
        // is built. Names nobody defines are left for `build` to report.
        let mut pending: BTreeMap<&str, (Spec, BTreeSet<String>)> = specs
            .into_iter()
            .map(|(name, spec)| {
                let mut uses = BTreeSet::new();
                names_used(&spec, &mut uses);
                (name, (spec, uses))
            })
            .collect();
        loop {
            let ready: Vec<&str> = pending
                .iter()
                .filter(|(_, (_, uses))| {
                    uses.iter()
                        .all(|u| built.by_name.contains_key(u) || !defs.contains_key(u.as_str()))
                })
                .map(|(name, _)| *name)
                .collect();
            if ready.is_empty() {
                break;
            }
            for name in ready {
                let Some((spec, _)) = pending.remove(name) else {
                    continue;
                };
                match TimePeriod::build(spec, None, Some(&built)) {
                    Ok(period) => {
                        built.by_name.insert(name.to_string(), period);
                    }
                    Err(e) => issues.push(ConfigIssue::new(name, e.to_string())),
                }
            }
        }
        let failed: BTreeSet<String> = issues.iter().map(|i| i.path.clone()).collect();
        for (name, (_, uses)) in &pending {
            let waiting: Vec<&str> = uses
                .iter()
                .map(String::as_str)
                .filter(|u| !built.by_name.contains_key(*u))
                .collect();
            // Waiting only on definitions that failed is already reported there.
            if waiting.iter().all(|u| failed.contains(*u)) {
                continue;
            }
            issues.push(
                ConfigIssue::new(
                    *name,
                    format!(
                        "time period '{name}' refers, directly or through others, to itself \
                         (waiting on: {})",
                        waiting.join(", ")
                    ),
                )
                .hint("break the cycle of names"),
            );
        }
        if issues.is_empty() {
            Ok(built)
        } else {
            Err(issues)
        }
    }

    /// The period defined as `name`.
    pub fn get(&self, name: &str) -> Option<&TimePeriod> {
        self.by_name.get(name)
    }

    /// The defined names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// A period as written, with the names in it looked up here.
    pub fn resolve(&self, raw: &RawTimePeriod) -> Result<TimePeriod, PeriodError> {
        TimePeriod::build(raw.0.read()?, None, Some(self))
    }

    /// The one-line form, with the names in it looked up here.
    pub fn parse(&self, text: &str) -> Result<TimePeriod, PeriodError> {
        TimePeriod::build(parse::parse_line(text)?, None, Some(self))
    }
}

/// Every name a spec uses, through its exceptions too.
fn names_used(spec: &Spec, out: &mut BTreeSet<String>) {
    if let Some(r) = &spec.named {
        out.insert(r.name.clone());
    }
    for e in &spec.except {
        names_used(e, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;

    fn utc(text: &str) -> Timestamp {
        Timestamp::from_jiff(text.parse().unwrap())
    }

    #[derive(Deserialize)]
    struct Config {
        time_periods: BTreeMap<String, RawTimePeriod>,
    }

    fn build(text: &str) -> Result<TimePeriods, Vec<ConfigIssue>> {
        TimePeriods::build(&toml::from_str::<Config>(text).unwrap().time_periods)
    }

    #[test]
    fn definitions_use_each_other_in_any_order() {
        let periods = build(
            r#"
            [time_periods]
            business_hours = "weekdays 08:00-18:00 Europe/London except uk_holidays"
            uk_holidays = { dates = ["2026-12-25", "2026-12-28"], time_zone = "Europe/London" }
            "#,
        )
        .unwrap();
        let hours = periods.get("business_hours").unwrap();
        assert!(hours.contains(utc("2026-12-24T10:00:00Z")));
        assert!(!hours.contains(utc("2026-12-25T10:00:00Z")));
        assert!(!hours.contains(utc("2026-12-28T10:00:00Z")));
        let eve_off = periods.parse("business_hours except 2026-12-24").unwrap();
        assert!(!eve_off.contains(utc("2026-12-24T10:00:00Z")));
        assert!(eve_off.contains(utc("2026-12-23T10:00:00Z")));
        assert_eq!(
            periods.names().collect::<Vec<_>>(),
            ["business_hours", "uk_holidays"]
        );
        let raw = RawTimePeriod::line("uk_holidays");
        assert_eq!(
            periods.resolve(&raw).as_ref(),
            Ok(periods.get("uk_holidays").unwrap())
        );
    }

    #[test]
    fn cycles_unknown_names_and_bad_names_are_reported_together() {
        let issues = build(
            r#"
            [time_periods]
            a = "daily except b"
            b = "daily except a"
            c = "weekdays except holidayz"
            weekdays = "mon-fri"
            "business hours" = "weekdays 09:00-17:00"
            "#,
        )
        .unwrap_err();
        let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
        let find = |path: &str| {
            text.iter()
                .find(|t| t.starts_with(&format!("{path}: ")))
                .unwrap_or_else(|| panic!("no issue at {path}: {text:?}"))
        };
        assert!(find("a").contains("itself"), "{text:?}");
        assert!(find("b").contains("itself"), "{text:?}");
        assert!(find("c").contains("'holidayz'"), "{text:?}");
        assert!(find("c").contains("defined time period"), "{text:?}");
        assert!(find("weekdays").contains("already means"), "{text:?}");
        assert!(find("business hours").contains("name"), "{text:?}");
        assert_eq!(issues.len(), 5);
    }

    #[test]
    fn without_definitions_a_name_is_an_unknown_word() {
        let err = "business_hours"
            .parse::<TimePeriod>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown word 'business_hours'"), "{err}");
    }

    #[test]
    fn tiers_may_name_defined_periods() {
        use crate::level::{Level, LevelThresholds};
        use crate::time_period::RawTiered;

        #[derive(Deserialize)]
        struct Rule {
            when: RawTiered<LevelThresholds>,
        }
        let periods =
            build("[time_periods]\nbusiness_hours = \"weekdays 08:00-18:00 Europe/London\"")
                .unwrap();
        let text = r#"
            [[when]]
            during = "business_hours"
            critical = 4.0
            [[when]]
            critical = 10.0
        "#;
        let rule: Rule = toml::from_str(text).unwrap();
        let when = rule.when.build(&periods).unwrap();
        let level = |at: &str, v| when.at(utc(at)).and_then(|t| t.level_for(v));
        assert_eq!(level("2026-06-10T09:00:00Z", 5.0), Some(Level::Critical));
        assert_eq!(level("2026-06-10T19:00:00Z", 5.0), None);
        let typo: Rule = toml::from_str(&text.replace("business_hours", "business_hourz")).unwrap();
        let err = typo.when.build(&periods).unwrap_err().to_string();
        assert!(
            err.contains("entry 1") && err.contains("'business_hourz'"),
            "{err}"
        );
    }
}
