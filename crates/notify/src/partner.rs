//! Partners: the outside organisations whose systems ours depend on, each with the way of
//! being told that was agreed with them.
//!
//! A partner is configured once (`[partner.NAME]`): contacts, the channels that reach them,
//! hours of availability, a downtime schedule, expected failure modes and a notification rule.
//! Alerts carrying `partner="NAME"` then follow it:
//!
//! - The partner hears of them on its own channels, besides whatever the routing tree sends
//!   to our own people, as its own route (`partner:NAME`), grouped and deduplicated like any
//!   other, so it also hears the resolution of everything it was told.
//! - The rule decides when: at once (`notify = "always"`, the default); never (`"never"`: they
//!   know before we do); only once the problem has lasted `after` ("call them if still failing
//!   after an hour"); only inside their `hours` (`only_in_hours`). A failure mode may carry a
//!   rule of its own, which wins for the alerts it matches.
//! - Alerts matching a failure mode carry its name and the agreed response as the annotations
//!   `failure_mode` and `response`, for everyone who reads them.
//! - During the partner's downtime its alerts are muted for everyone: planned work is expected.
//!
//! [`Partner::decide`] is pure: the pipeline asks it per alert and per flush, and it answers
//! now, never, or a time, at which the pipeline flushes the group again.

use std::collections::BTreeMap;
use std::time::Duration;

use model::duration::{format_duration, parse_duration};
use model::time_period::{TimePeriod, TimePeriods};
use model::{ConfigIssue, Timestamp};
use serde::Deserialize;

use crate::alert::Alert;
use crate::channel::Person;
use crate::maintenance::{MaintenanceWindows, RawWindow};
use crate::matcher::{self, Matchers};
use crate::route::RawRoute;

/// The label that names an alert's partner.
pub const PARTNER_LABEL: &str = "partner";
/// The annotation that names the failure mode an alert matched.
pub const FAILURE_MODE_ANNOTATION: &str = "failure_mode";
/// The annotation that carries the response agreed for the failure mode.
pub const RESPONSE_ANNOTATION: &str = "response";

/// `[partner.NAME]` as written.
///
/// `C` is how a channel is written (`[[partner.NAME.channel]]`, as a receiver's): the binary
/// reads and builds channels, this crate only carries them.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPartner<C = ()> {
    /// What the partner provides, for people reading the config and the messages.
    pub description: Option<String>,
    /// The people to reach there (`[[partner.NAME.contact]]`).
    #[serde(default)]
    pub contact: Vec<RawContact>,
    /// Hours of availability: a `[time_period.NAME]` or a one-line period.
    pub hours: Option<String>,
    /// The notification rule: `always` (default) or `never`.
    pub notify: Option<String>,
    /// Tell them only once the problem has lasted this long (`"1h"`).
    pub after: Option<String>,
    /// Tell them only inside their `hours`.
    pub only_in_hours: Option<bool>,
    /// Their planned downtime (`[[partner.NAME.downtime]]`, written like `[[notify.maintenance]]`).
    #[serde(default)]
    pub downtime: Vec<RawWindow>,
    /// The failure modes agreed with them (`[[partner.NAME.failure_mode]]`).
    #[serde(default)]
    pub failure_mode: Vec<RawFailureMode>,
    /// How the partner's messages are grouped; default: by `alertname`.
    pub group_by: Option<Vec<String>>,
    /// Grouping timing, as on a route; default: the root route's.
    pub group_wait: Option<String>,
    /// See [`RawPartner::group_wait`].
    pub group_interval: Option<String>,
    /// See [`RawPartner::group_wait`].
    pub repeat_interval: Option<String>,
    /// The channels that reach them; without any, e-mail to the contacts' addresses.
    #[serde(default = "Vec::new")]
    pub channel: Vec<C>,
}

impl<C> Default for RawPartner<C> {
    fn default() -> Self {
        RawPartner {
            description: None,
            contact: Vec::new(),
            hours: None,
            notify: None,
            after: None,
            only_in_hours: None,
            downtime: Vec::new(),
            failure_mode: Vec::new(),
            group_by: None,
            group_wait: None,
            group_interval: None,
            repeat_interval: None,
            channel: Vec::new(),
        }
    }
}

/// `[[partner.NAME.contact]]`: someone at the partner.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContact {
    /// Who they are (a person or a desk: "ACME NOC").
    pub name: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Chat handle.
    pub chat: Option<String>,
}

/// A notification rule as written, on a partner or a failure mode.
struct RawRule<'a> {
    notify: Option<&'a str>,
    after: Option<&'a str>,
    only_in_hours: Option<bool>,
}

/// `[[partner.NAME.failure_mode]]`: a kind of failure expected of the partner.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFailureMode {
    /// Its name, e.g. "rating system outage".
    pub name: String,
    /// Which of the partner's alerts it covers (Alertmanager matcher syntax); empty: all.
    #[serde(default)]
    pub matchers: Vec<String>,
    /// The response agreed for it, shown with the alert.
    pub response: Option<String>,
    /// Its own notification rule (`always` or `never`); what it leaves out comes from the
    /// partner's.
    pub notify: Option<String>,
    /// See [`RawPartner::after`].
    pub after: Option<String>,
    /// See [`RawPartner::only_in_hours`].
    pub only_in_hours: Option<bool>,
}

/// When a partner is told.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    /// False: never.
    pub notify: bool,
    /// Only once the alert has fired this long.
    pub after: Option<Duration>,
    /// Only inside the partner's hours.
    pub only_in_hours: bool,
}

/// A failure mode, built.
#[derive(Clone, Debug)]
pub struct FailureMode {
    /// Its name.
    pub name: String,
    /// Which alerts it covers.
    pub matchers: Matchers,
    /// The agreed response.
    pub response: Option<String>,
    /// The rule for its alerts.
    pub rule: Rule,
}

/// What the partner's rule says about telling them of one alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Tell them now.
    Now,
    /// Not yet: ask again at this time.
    At(Timestamp, String),
    /// Never, for this reason.
    Never(String),
}

impl Decision {
    /// `None` when the partner is told now; otherwise held, until the time given or (inner
    /// `None`) for good.
    pub fn held_until(&self) -> Option<Option<Timestamp>> {
        match self {
            Decision::Now => None,
            Decision::At(at, _) => Some(Some(*at)),
            Decision::Never(_) => Some(None),
        }
    }
}

/// A partner, built.
#[derive(Clone, Debug)]
pub struct Partner {
    /// Its name (`[partner.NAME]`).
    pub name: String,
    /// What it provides.
    pub description: Option<String>,
    /// Its contacts, as people the channels can address.
    pub contacts: Vec<Person>,
    /// Its hours of availability, by name.
    pub hours: Option<(String, TimePeriod)>,
    /// Its rule, for alerts no failure mode covers.
    pub rule: Rule,
    /// Its failure modes, first match wins.
    pub failure_modes: Vec<FailureMode>,
}

impl Partner {
    /// The receiver name of the partner's route.
    pub fn receiver_name(name: &str) -> String {
        format!("partner:{name}")
    }

    /// The first failure mode covering `alert`.
    pub fn failure_mode(&self, alert: &Alert) -> Option<&FailureMode> {
        self.failure_modes
            .iter()
            .find(|m| m.matchers.matches(&alert.labels))
    }

    /// Whether to tell the partner of firing `alert` at `now`.
    pub fn decide(&self, alert: &Alert, now: Timestamp) -> Decision {
        let mode = self.failure_mode(alert);
        let rule = mode.map_or(&self.rule, |m| &m.rule);
        let why = match mode {
            Some(m) => format!("failure mode {:?}", m.name),
            None => format!("partner {}", self.name),
        };
        if !rule.notify {
            return Decision::Never(format!("{why}: never notified (they know before we do)"));
        }
        let mut at = now;
        let mut reasons = Vec::new();
        if let Some(after) = rule.after {
            let due = alert.starts_at.plus_millis(after.as_millis() as i64);
            if due > now {
                at = due;
                reasons.push(format!(
                    "only if still failing {} after it began",
                    format_duration(after)
                ));
            }
        }
        if rule.only_in_hours
            && let Some((name, hours)) = &self.hours
            && !hours.contains(at)
        {
            match hours.next_change(at) {
                Some(open) => {
                    at = open;
                    reasons.push(format!("only during their hours ({name})"));
                }
                None => return Decision::Never(format!("{why}: their hours ({name}) never begin")),
            }
        }
        if at == now {
            Decision::Now
        } else {
            Decision::At(at, format!("{why}: {}", reasons.join(", ")))
        }
    }

    /// Adds the failure mode's name and response to `alert`'s annotations, where absent.
    pub fn annotate(&self, alert: &mut Alert) {
        let Some(mode) = self.failure_mode(alert) else {
            return;
        };
        let (name, response) = (mode.name.clone(), mode.response.clone());
        let annotations = &mut alert.annotations;
        if !annotations.contains_key(FAILURE_MODE_ANNOTATION) {
            annotations.insert(FAILURE_MODE_ANNOTATION.to_string(), name);
        }
        if let Some(response) = response
            && !annotations.contains_key(RESPONSE_ANNOTATION)
        {
            annotations.insert(RESPONSE_ANNOTATION.to_string(), response);
        }
    }
}

/// Every partner, by name.
#[derive(Clone, Debug, Default)]
pub struct Partners {
    partners: BTreeMap<String, std::sync::Arc<Partner>>,
}

/// Partners built from the config, with what the rest of the pipeline needs from them.
pub struct Built {
    /// The partners.
    pub partners: Partners,
    /// Their downtime, as maintenance windows matching `partner="NAME"`.
    pub downtime: MaintenanceWindows,
    /// One route per partner, receiver [`Partner::receiver_name`], tried for every alert.
    pub routes: Vec<(String, RawRoute)>,
}

impl Partners {
    /// Checks and builds every partner. Problems are reported at `NAME.field` paths.
    pub fn build<C>(
        raw: &BTreeMap<String, RawPartner<C>>,
        periods: &TimePeriods,
    ) -> Result<Built, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let mut partners = BTreeMap::new();
        let mut downtime = MaintenanceWindows::default();
        let mut downtime_issues = Vec::new();
        let mut routes = Vec::new();
        for (name, p) in raw {
            let at = |field: &str| format!("{name}.{field}");
            let before = issues.len();
            let hours = p.hours.as_ref().and_then(|text| {
                periods
                    .parse(text)
                    .map(|period| (text.clone(), period))
                    .map_err(|e| issues.push(ConfigIssue::new(at("hours"), e.to_string())))
                    .ok()
            });
            let default = Rule {
                notify: true,
                after: None,
                only_in_hours: false,
            };
            let raw_rule = RawRule {
                notify: p.notify.as_deref(),
                after: p.after.as_deref(),
                only_in_hours: p.only_in_hours,
            };
            let rule = build_rule(&raw_rule, &default, hours.is_some(), name, "", &mut issues);
            let mut failure_modes = Vec::new();
            for (i, m) in p.failure_mode.iter().enumerate() {
                let prefix = format!("failure_mode.{i}.");
                if m.name.trim().is_empty() {
                    issues.push(ConfigIssue::new(
                        at(&format!("{prefix}name")),
                        "a failure mode needs a name",
                    ));
                }
                let mut all = Vec::new();
                for (j, text) in m.matchers.iter().enumerate() {
                    match matcher::parse(text) {
                        Ok(parsed) => all.extend(parsed.0),
                        Err(e) => issues.push(ConfigIssue::new(
                            at(&format!("{prefix}matchers.{j}")),
                            e.to_string(),
                        )),
                    }
                }
                let raw_rule = RawRule {
                    notify: m.notify.as_deref(),
                    after: m.after.as_deref(),
                    only_in_hours: m.only_in_hours,
                };
                let rule = build_rule(
                    &raw_rule,
                    &rule,
                    hours.is_some(),
                    name,
                    &prefix,
                    &mut issues,
                );
                failure_modes.push(FailureMode {
                    name: m.name.clone(),
                    matchers: Matchers(all),
                    response: m.response.clone(),
                    rule,
                });
            }
            let contacts = p
                .contact
                .iter()
                .map(|c| Person {
                    name: c.name.clone(),
                    email: c.email.clone(),
                    chat: c.chat.clone(),
                    phone: c.phone.clone(),
                })
                .collect();
            let selector = format!("{PARTNER_LABEL}={name:?}");
            let windows: Vec<RawWindow> = p
                .downtime
                .iter()
                .map(|w| {
                    let mut w = w.clone();
                    w.matchers.push(selector.clone());
                    if w.comment.as_deref().is_none_or(|c| c.trim().is_empty()) {
                        w.comment = Some(format!("partner {name} downtime"));
                    }
                    w
                })
                .collect();
            match MaintenanceWindows::build(&windows, periods) {
                Ok(windows) => downtime.extend(windows),
                // Reported after every other problem, as the config lists them.
                Err(found) => downtime_issues.extend(
                    found
                        .into_iter()
                        .map(|i| i.under(&format!("{name}.downtime"))),
                ),
            }
            routes.push((
                name.clone(),
                RawRoute {
                    receiver: Some(Partner::receiver_name(name)),
                    matchers: vec![selector],
                    group_by: Some(
                        p.group_by
                            .clone()
                            .unwrap_or_else(|| vec!["alertname".into()]),
                    ),
                    group_wait: p.group_wait.clone(),
                    group_interval: p.group_interval.clone(),
                    repeat_interval: p.repeat_interval.clone(),
                    ..RawRoute::default()
                },
            ));
            if issues.len() == before {
                partners.insert(
                    name.clone(),
                    std::sync::Arc::new(Partner {
                        name: name.clone(),
                        description: p.description.clone(),
                        contacts,
                        hours,
                        rule,
                        failure_modes,
                    }),
                );
            }
        }
        issues.extend(downtime_issues);
        if issues.is_empty() {
            Ok(Built {
                partners: Partners { partners },
                downtime,
                routes,
            })
        } else {
            Err(issues)
        }
    }

    /// The partner with this name.
    pub fn get(&self, name: &str) -> Option<&std::sync::Arc<Partner>> {
        self.partners.get(name)
    }

    /// The partner `alert` names, if it is a configured one.
    pub fn of(&self, alert: &Alert) -> Option<&std::sync::Arc<Partner>> {
        alert
            .labels
            .get(PARTNER_LABEL)
            .and_then(|name| self.partners.get(name))
    }

    /// Every partner, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &std::sync::Arc<Partner>)> {
        self.partners.iter()
    }

    /// True when no partner is configured.
    pub fn is_empty(&self) -> bool {
        self.partners.is_empty()
    }
}

/// A rule from `raw`, taking what it leaves out from `inherited`.
fn build_rule(
    raw: &RawRule<'_>,
    inherited: &Rule,
    has_hours: bool,
    partner: &str,
    prefix: &str,
    issues: &mut Vec<ConfigIssue>,
) -> Rule {
    let at = |field: &str| format!("{partner}.{prefix}{field}");
    let mut rule = inherited.clone();
    match raw.notify {
        None => {}
        Some("always") => rule.notify = true,
        Some("never") => rule.notify = false,
        Some(other) => issues.push(
            ConfigIssue::new(at("notify"), format!("`{other}` is not a notification rule"))
                .hint("\"always\" or \"never\"; refine \"always\" with after = \"1h\" and only_in_hours = true"),
        ),
    }
    if let Some(text) = raw.after {
        match parse_duration(text) {
            Ok(d) => rule.after = (!d.is_zero()).then_some(d),
            Err(e) => issues.push(ConfigIssue::new(at("after"), e.to_string())),
        }
    }
    if let Some(only) = raw.only_in_hours {
        if only && !has_hours {
            issues.push(
                ConfigIssue::new(
                    at("only_in_hours"),
                    "only_in_hours needs the partner's hours",
                )
                .hint(format!(
                    "set [partner.{partner}] hours = \"weekdays 08:00-18:00 Europe/London\" or a [time_period.NAME]"
                )),
            );
        }
        rule.only_in_hours = only;
    }
    rule
}

#[cfg(test)]
mod tests;
