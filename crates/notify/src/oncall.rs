//! People and on-call schedules: who can be reached how and when, and who is on call at an
//! instant.
//!
//! Schedules have PagerDuty's shape because people who have used one expect it: layers of
//! rotations (later layers on top of earlier ones, each optionally restricted to a time
//! period) and overrides above all layers. Everything is pure: the instant is an argument, and
//! handoffs are local wall-clock times in the schedule's zone, so DST changes move nobody's
//! handoff ([`rotation`]). The config is checked as a whole by [`OnCall::build`], which
//! reports every problem at once.

mod rotation;
mod schedule;

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use model::level::Level;
use model::time_period::TimePeriod;
use model::{ConfigIssue, Timestamp};
use serde::Deserialize;

use crate::channel::Person;

pub use rotation::Handoff;
pub use schedule::{Schedule, Shift};

use rotation::{ACCEPTED_HANDOFF, ACCEPTED_INSTANT, Rotation, local_text, parse_instant};
use schedule::{Layer, Override};

/// What a time period looks like, for error hints.
const PERIOD_HINT: &str = "write a time period such as \"weekdays 08:00-20:00\" or \"mon-fri \
                           09:00-17:30 Europe/London\"";

/// A person as configured under `[person.NAME]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPerson {
    /// E-mail address.
    pub email: String,
    /// Chat handle, e.g. `@alice`.
    #[serde(default)]
    pub chat: Option<String>,
    /// Phone number, for services that call or text.
    #[serde(default)]
    pub phone: Option<String>,
    /// A time period (`"weekdays 09:00-17:30 Europe/London"`): when non-critical alerts may
    /// reach this person. Critical alerts reach them at any time; without it, so do
    /// non-critical ones.
    #[serde(default)]
    pub hours: Option<String>,
}

/// A schedule as configured under `[schedule.NAME]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    /// The IANA time zone handoffs, starts, restrictions and override times are read in;
    /// default UTC.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// The rotations, bottom first: a later layer sits on top of the earlier ones.
    #[serde(default)]
    pub layer: Vec<RawLayer>,
    /// Overrides (`[[schedule.NAME.override]]`), above every layer.
    #[serde(default, rename = "override")]
    pub overrides: Vec<RawOverride>,
}

/// One rotation of a schedule (`[[schedule.NAME.layer]]`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLayer {
    /// The layer's name, shown with whoever it puts on call; default `layer N` (from 0).
    #[serde(default)]
    pub name: Option<String>,
    /// The people in turn; someone may appear more than once.
    #[serde(default)]
    pub people: Vec<String>,
    /// When one person hands over to the next: `"daily 09:00"` or `"weekly mon 09:00"`, local
    /// time in the schedule's zone.
    pub handoff: String,
    /// The date (`YYYY-MM-DD`) the first person's first shift starts, at the handoff time.
    /// Before it the layer has nobody.
    pub start: String,
    /// A time period (`"weekdays 08:00-20:00"`, in the schedule's zone unless it names one):
    /// the layer has nobody outside it, so lower layers show through.
    #[serde(default)]
    pub restrict: Option<String>,
}

/// One override (`[[schedule.NAME.override]]`): somebody on call instead of the layers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOverride {
    /// Who is on call during it.
    pub person: String,
    /// When it starts: a local time in the schedule's zone (`"2026-12-24 18:00"`) or RFC 3339.
    pub from: String,
    /// When it ends (exclusive), written like `from`.
    pub to: String,
    /// Why, shown with the shift (`"holiday swap"`).
    #[serde(default)]
    pub reason: Option<String>,
}

/// A person's addresses and the hours non-critical alerts may reach them.
#[derive(Clone, Debug, PartialEq)]
pub struct Contact {
    /// Name and addresses, as channels use them.
    pub person: Person,
    /// When non-critical alerts may reach them; `None` means at any time.
    pub hours: Option<TimePeriod>,
}

impl Contact {
    /// Whether `at` is inside their hours (always, when they have none).
    pub fn in_hours(&self, at: Timestamp) -> bool {
        self.hours.as_ref().is_none_or(|h| h.contains(at))
    }

    /// Whether an alert of `level` may reach them at `at`: critical ones always, non-critical
    /// ones inside their hours, logged ones never.
    pub fn may_reach(&self, level: Level, at: Timestamp) -> bool {
        match level {
            Level::Critical => true,
            Level::NonCritical => self.in_hours(at),
            Level::Logged => false,
        }
    }
}

/// Everybody who can be notified, by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Directory {
    by_name: BTreeMap<String, Contact>,
}

impl Directory {
    /// The person called `name`.
    pub fn get(&self, name: &str) -> Option<&Contact> {
        self.by_name.get(name)
    }

    /// Everybody, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Contact)> {
        self.by_name.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// How many people there are.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when nobody is defined.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// People and schedules, checked against each other.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OnCall {
    people: Directory,
    schedules: BTreeMap<String, Schedule>,
}

impl OnCall {
    /// Builds people and schedules. Every problem is reported, each at its key path from the
    /// config's root: `person.NAME...` and `schedule.NAME...` (e.g.
    /// `schedule.ops.layer.0.handoff`).
    pub fn build(
        people: &BTreeMap<String, RawPerson>,
        schedules: &BTreeMap<String, RawSchedule>,
    ) -> Result<OnCall, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let mut directory = Directory::default();
        for (name, raw) in people {
            let hours = raw.hours.as_deref().and_then(|text| {
                text.parse::<TimePeriod>()
                    .map_err(|e| {
                        issues.push(
                            ConfigIssue::new(format!("person.{name}.hours"), e.to_string())
                                .hint(PERIOD_HINT),
                        );
                    })
                    .ok()
            });
            let person = Person {
                name: name.clone(),
                email: Some(raw.email.clone()),
                chat: raw.chat.clone(),
                phone: raw.phone.clone(),
            };
            directory
                .by_name
                .insert(name.clone(), Contact { person, hours });
        }
        let mut built = BTreeMap::new();
        for (name, raw) in schedules {
            let mut check = Check {
                path: format!("schedule.{name}"),
                people,
                issues: &mut issues,
            };
            if let Some(schedule) = check.schedule(name, raw) {
                built.insert(name.clone(), schedule);
            }
        }
        if issues.is_empty() {
            Ok(OnCall {
                people: directory,
                schedules: built,
            })
        } else {
            Err(issues)
        }
    }

    /// The person called `name`.
    pub fn person(&self, name: &str) -> Option<&Person> {
        self.people.get(name).map(|c| &c.person)
    }

    /// Everybody, with their hours.
    pub fn people(&self) -> &Directory {
        &self.people
    }

    /// The schedule called `name`.
    pub fn schedule(&self, name: &str) -> Option<&Schedule> {
        self.schedules.get(name)
    }

    /// Every schedule, by name.
    pub fn schedules(&self) -> impl Iterator<Item = (&str, &Schedule)> {
        self.schedules.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// Checks one schedule, collecting issues under `path`.
struct Check<'a> {
    path: String,
    people: &'a BTreeMap<String, RawPerson>,
    issues: &'a mut Vec<ConfigIssue>,
}

impl Check<'_> {
    fn issue(&mut self, key: &str, message: String, hint: &str) {
        self.issues
            .push(ConfigIssue::new(format!("{}.{key}", self.path), message).hint(hint));
    }

    fn person(&mut self, key: &str, name: &str) {
        if !self.people.contains_key(name) {
            let known: Vec<&str> = self.people.keys().map(String::as_str).collect();
            let hint = if known.is_empty() {
                format!("define [person.{name}] with at least an email")
            } else {
                format!(
                    "define [person.{name}], or use one of: {}",
                    known.join(", ")
                )
            };
            self.issue(key, format!("unknown person '{name}'"), &hint);
        }
    }

    /// The schedule, or `None` when anything in it is wrong (every problem is recorded).
    fn schedule(&mut self, name: &str, raw: &RawSchedule) -> Option<Schedule> {
        let before = self.issues.len();
        let zone_name = raw.time_zone.clone().unwrap_or_else(|| "UTC".into());
        // A bad zone is reported once; the rest is still checked, in UTC, to find the rest.
        let (zone_name, zone) = match TimeZone::get(&zone_name) {
            Ok(zone) => (zone_name, zone),
            Err(_) => {
                self.issue(
                    "time_zone",
                    format!("unknown time zone '{zone_name}'"),
                    "an IANA name from the tz database such as Europe/London, \
                     America/New_York or UTC",
                );
                ("UTC".to_string(), TimeZone::UTC)
            }
        };
        if raw.layer.is_empty() {
            self.issue(
                "layer",
                "the schedule has no layers: nobody is ever on call".into(),
                "add a [[schedule.NAME.layer]] with people, handoff and start",
            );
        }
        let layers: Vec<Option<Layer>> = raw
            .layer
            .iter()
            .enumerate()
            .map(|(i, l)| self.layer(i, l, &zone_name, &zone))
            .collect();
        let mut overrides: Vec<(usize, Override)> = raw
            .overrides
            .iter()
            .enumerate()
            .filter_map(|(i, o)| Some((i, self.override_(i, o, &zone)?)))
            .collect();
        overrides.sort_by_key(|(_, o)| o.from);
        for (n, (i, a)) in overrides.iter().enumerate() {
            for (j, b) in &overrides[n + 1..] {
                if b.from < a.until {
                    let (first, second) = ((*i).min(*j), (*i).max(*j));
                    let shared = (b.from, a.until.min(b.until));
                    self.issue(
                        &format!("override.{second}"),
                        format!(
                            "overlapping overrides: override.{first} and override.{second} both \
                             cover {} to {} ({}), so who is on call then is ambiguous",
                            local_text(shared.0, &zone),
                            local_text(shared.1, &zone),
                            zone_name
                        ),
                        "make one override end where the other starts",
                    );
                }
            }
        }
        if self.issues.len() > before {
            return None;
        }
        Some(Schedule {
            name: name.to_string(),
            zone_name,
            zone,
            layers: layers.into_iter().flatten().collect(),
            overrides: overrides.into_iter().map(|(_, o)| o).collect(),
        })
    }

    fn layer(
        &mut self,
        index: usize,
        raw: &RawLayer,
        zone_name: &str,
        zone: &TimeZone,
    ) -> Option<Layer> {
        let at = |key: &str| format!("layer.{index}.{key}");
        let before = self.issues.len();
        if raw.people.is_empty() {
            self.issue(
                &at("people"),
                "empty layer: nobody to put on call".into(),
                "list the people who take turns, e.g. people = [\"alice\", \"bob\"]",
            );
        }
        for (j, name) in raw.people.iter().enumerate() {
            self.person(&at(&format!("people.{j}")), name);
        }
        let handoff = raw
            .handoff
            .parse::<Handoff>()
            .map_err(|e| self.issue(&at("handoff"), e, ACCEPTED_HANDOFF))
            .ok();
        let start = raw
            .start
            .trim()
            .parse::<Date>()
            .map_err(|_| {
                self.issue(
                    &at("start"),
                    format!("'{}' is not a date", raw.start),
                    "write the date the first shift starts as YYYY-MM-DD, e.g. 2026-01-05",
                );
            })
            .ok();
        let restrict = match &raw.restrict {
            None => None,
            Some(text) => parse_in_zone(text, zone_name)
                .map_err(|e| self.issue(&at("restrict"), e, PERIOD_HINT))
                .ok(),
        };
        let (handoff, start) = (handoff?, start?);
        let Some(rotation) = Rotation::new(handoff, start, zone.clone()) else {
            self.issue(
                &at("start"),
                format!("'{}' is too far from today's calendar", raw.start),
                "use a date between 1900 and 2200",
            );
            return None;
        };
        if self.issues.len() > before {
            return None;
        }
        Some(Layer {
            name: raw.name.clone().unwrap_or_else(|| format!("layer {index}")),
            people: raw.people.clone(),
            rotation,
            restrict,
        })
    }

    fn override_(&mut self, index: usize, raw: &RawOverride, zone: &TimeZone) -> Option<Override> {
        let at = |key: &str| format!("override.{index}.{key}");
        self.person(&at("person"), &raw.person);
        let mut instant = |key: &str, text: &str| {
            let parsed = parse_instant(text, zone);
            if parsed.is_none() {
                self.issue(
                    &at(key),
                    format!("'{text}' is not a time"),
                    ACCEPTED_INSTANT,
                );
            }
            parsed
        };
        let from = instant("from", &raw.from);
        let until = instant("to", &raw.to);
        let (from, until) = (from?, until?);
        if until <= from {
            self.issue(
                &at("to"),
                format!(
                    "`to` ({}) is not after `from` ({})",
                    local_text(until, zone),
                    local_text(from, zone)
                ),
                "an override runs from `from` until `to`; swap them or fix the date",
            );
            return None;
        }
        // Kept even with an unknown person (already reported), so overlaps are found too.
        Some(Override {
            person: raw.person.clone(),
            from,
            until,
            reason: raw.reason.clone(),
        })
    }
}

/// A time period that reads `zone` unless it names a zone of its own: the zone goes into the
/// main clause (before any `except`), where the exceptions inherit it from.
fn parse_in_zone(text: &str, zone: &str) -> Result<TimePeriod, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let main_len = words
        .iter()
        .position(|w| w.eq_ignore_ascii_case("except"))
        .unwrap_or(words.len());
    if main_len == 0 {
        return text.parse::<TimePeriod>().map_err(|e| e.to_string());
    }
    let mut zoned: Vec<&str> = words[..main_len].to_vec();
    zoned.push(zone);
    zoned.extend_from_slice(&words[main_len..]);
    if let Ok(period) = zoned.join(" ").parse::<TimePeriod>() {
        return Ok(period);
    }
    // It names its own zone (two zones fail above), or it is wrong: the text as written says.
    text.parse::<TimePeriod>().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
