//! `[notify]`, `[person.*]`, `[schedule.*]` and `[escalation.*]`: the response side's config,
//! checked strictly and built while the config loads, so a config that loads routes, mutes
//! and delivers (see `docs/notify.md`).
//!
//! Channel secrets never have to be written inline: any channel setting `X` may be given as
//! `X_env = "VARIABLE"` or `X_file = "path"` instead (read when the config loads).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use model::ConfigIssue;
use model::level::Level;
use model::time_period::TimePeriods;
use notify::channel::{self, BuildError, ChannelContext, MailSender};
use notify::escalation::{EscalationPolicies, RawPolicy};
use notify::inhibit::{Inhibitor, RawInhibitRule};
use notify::maintenance::{MaintenanceWindows, RawWindow};
use notify::mute::Dependencies;
use notify::oncall::{OnCall, RawPerson, RawSchedule};
use notify::partner::RawPartner;
use notify::pipeline::{ChannelSlot, Receiver, Setup};
use notify::route::{RawRoute, RouteTree};
use notify::template::Templates;
use serde::Deserialize;
use toml::Spanned;
use toml::de::DeValue;

mod partners;

use super::Secrets;
use super::errors::ConfigError;
use super::locate;
use super::sources::Sources;

/// The default timeout of one delivery.
pub const DEFAULT_DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// `[notify]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotifySection {
    /// Periscope's address as people reach it, for links in messages.
    external_url: Option<String>,
    /// Where the secret that signs acknowledge links comes from.
    ack_secret_env: Option<String>,
    ack_secret_file: Option<String>,
    /// The level of alerts whose labels name none (`level` or `severity`).
    default_level: Option<String>,
    /// How long one delivery may take.
    timeout: Option<String>,
    /// Replacements for the default message templates, by name.
    #[serde(default)]
    templates: BTreeMap<String, String>,
    /// Services and the services they depend on.
    #[serde(default)]
    depends_on: BTreeMap<String, Vec<String>>,
    route: Option<RawRoute>,
    #[serde(default)]
    inhibit: Vec<RawInhibitRule>,
    #[serde(default)]
    maintenance: Vec<RawWindow>,
    #[serde(default)]
    receiver: BTreeMap<String, RawReceiver>,
}

/// `[notify.receiver.NAME]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReceiver {
    /// A `[time_period.NAME]` or a one-line period: when non-critical news is delivered.
    hours: Option<String>,
    /// The `[escalation.NAME]` critical alerts follow.
    escalation: Option<String>,
    /// Most alerts per message (0: all).
    #[serde(default)]
    max_alerts: usize,
    /// The channels (`[[notify.receiver.NAME.channel]]`), each with a `kind`.
    #[serde(default)]
    channel: Vec<toml::Table>,
}

/// Where the acknowledge-link secret comes from.
#[derive(Clone, Debug)]
pub enum AckSecret {
    /// Read from this environment variable.
    Env(String),
    /// Read from this file.
    File(std::path::PathBuf),
    /// Generated once and kept in the state directory.
    Generated,
}

/// The response side, built.
pub struct NotifyConfig {
    /// Everything the pipeline is built from.
    pub setup: Setup,
    /// The level of alerts whose labels name none.
    pub default_level: Level,
    /// Where the acknowledge-link secret comes from.
    pub ack_secret: AckSecret,
}

/// Everything read from the response-side sections.
pub struct Loaded {
    /// `[notify]` built, when it is there.
    pub notify: Option<NotifyConfig>,
    /// People and schedules (also without `[notify]`, for `oncall who`).
    pub oncall: Arc<OnCall>,
}

/// Reads and builds the response-side sections of the merged config root.
pub fn load(
    sources: &Sources,
    root: &Spanned<DeValue<'_>>,
    periods: &TimePeriods,
    mail: Option<Arc<dyn MailSender>>,
    base_dir: &Path,
    secrets: Secrets,
    errors: &mut Vec<ConfigError>,
) -> Loaded {
    let mut r = Reader {
        sources,
        root,
        errors,
        secrets,
    };
    let people: BTreeMap<String, RawPerson> = r.section("person").unwrap_or_default();
    let schedules: BTreeMap<String, RawSchedule> = r.section("schedule").unwrap_or_default();
    let policies: BTreeMap<String, RawPolicy> = r.section("escalation").unwrap_or_default();
    // On-call issues carry their full path from the config root already.
    let (oncall, policies) = match OnCall::build(&people, &schedules) {
        Ok(oncall) => {
            let built = EscalationPolicies::build(&policies, &oncall).unwrap_or_else(|issues| {
                r.issues("", issues);
                EscalationPolicies::default()
            });
            (oncall, Some(built))
        }
        Err(issues) => {
            r.issues("", issues);
            // Policies name people and schedules that did not build: checking them now would
            // only add noise; they are checked once the schedules are fixed.
            let empty = OnCall::build(&BTreeMap::new(), &BTreeMap::new());
            (empty.expect("an empty on-call builds"), None)
        }
    };
    let oncall = Arc::new(oncall);
    let partners: BTreeMap<String, RawPartner<toml::Table>> =
        r.section("partner").unwrap_or_default();
    let Some(section) = r.section::<NotifySection>("notify") else {
        if !partners.is_empty() {
            r.error(
                "partner",
                "partners are told through [notify], which is missing",
                Some("add [notify] with a [notify.route] saying where alerts go".into()),
            );
        }
        return Loaded {
            notify: None,
            oncall,
        };
    };
    let notify = r.build(
        section, partners, periods, &oncall, policies, mail, base_dir,
    );
    Loaded { notify, oncall }
}

struct Reader<'a, 'b> {
    sources: &'a Sources,
    root: &'a Spanned<DeValue<'b>>,
    errors: &'a mut Vec<ConfigError>,
    secrets: Secrets,
}

/// What a channel setting holds when its secret is not needed and cannot be read: shaped like
/// the setting (a URL where one is expected) so the channel still builds, and never sent to,
/// since only commands that deliver nothing load the config this way.
fn placeholder(field: &str) -> String {
    if field == "url" || field.ends_with("_url") {
        "http://secret-not-loaded.invalid/".to_string()
    } else {
        "secret-not-loaded".to_string()
    }
}

impl Reader<'_, '_> {
    fn section<T: serde::de::DeserializeOwned>(&mut self, key: &str) -> Option<T> {
        let DeValue::Table(table) = self.root.get_ref() else {
            return None;
        };
        let value = table.get(key)?;
        super::section(self.sources, self.root, key, value, self.errors)
    }

    fn at(&self, path: &str) -> Option<usize> {
        Some(locate::span_of_path(self.root, path).start)
    }

    fn error(&mut self, path: &str, message: impl Into<String>, hint: Option<String>) {
        let mut e = ConfigError::at(self.sources, self.at(path), path.to_string(), message);
        if let Some(h) = hint {
            e = e.hint(h);
        }
        self.errors.push(e);
    }

    /// Records `issues`, whose paths are below `prefix` (`""`: from the root).
    fn issues(&mut self, prefix: &str, issues: Vec<ConfigIssue>) {
        for issue in issues {
            let path = match (prefix.is_empty(), issue.path.is_empty()) {
                (true, _) => issue.path,
                (false, true) => prefix.to_string(),
                (false, false) => format!("{prefix}.{}", issue.path),
            };
            self.error(&path, issue.message, issue.hint);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn build(
        &mut self,
        section: NotifySection,
        partners: BTreeMap<String, RawPartner<toml::Table>>,
        periods: &TimePeriods,
        oncall: &Arc<OnCall>,
        policies: Option<EscalationPolicies>,
        mail: Option<Arc<dyn MailSender>>,
        base_dir: &Path,
    ) -> Option<NotifyConfig> {
        let before = self.errors.len();
        // `None`: the policies could not be checked (broken schedules, already reported).
        let checked = policies.is_some();
        let policies = policies.unwrap_or_default();
        let default_level = match section.default_level.as_deref() {
            None => Level::Critical,
            Some(text) => text.parse().unwrap_or_else(|_| {
                self.error(
                    "notify.default_level",
                    format!("`{text}` is not a level"),
                    Some("one of: logged, non-critical, critical".into()),
                );
                Level::Critical
            }),
        };
        let timeout = match section.timeout.as_deref() {
            None => DEFAULT_DELIVERY_TIMEOUT,
            Some(text) => match model::duration::parse_duration(text) {
                Ok(d) if !d.is_zero() => d,
                Ok(_) => {
                    self.error("notify.timeout", "must be greater than zero", None);
                    DEFAULT_DELIVERY_TIMEOUT
                }
                Err(e) => {
                    self.error("notify.timeout", e.to_string(), None);
                    DEFAULT_DELIVERY_TIMEOUT
                }
            },
        };
        let templates = match Templates::new(&section.templates) {
            Ok(t) => Arc::new(t),
            Err(problems) => {
                for p in problems {
                    self.error(&format!("notify.templates.{}", p.name), p.message, None);
                }
                Arc::new(Templates::default())
            }
        };
        let mut ctx = ChannelContext::new(Arc::clone(&templates));
        ctx.timeout = timeout;
        ctx.mail = mail;
        let mut receivers = HashMap::new();
        for (name, raw) in section.receiver {
            let receiver = self.receiver(
                &name,
                raw,
                periods,
                checked.then_some(&policies),
                &ctx,
                base_dir,
            );
            receivers.insert(name, receiver);
        }
        let partners = self.partners(partners, periods, &ctx, base_dir, &mut receivers);
        let Some(route) = section.route else {
            self.error(
                "notify",
                "[notify] needs a [notify.route] saying where alerts go",
                Some("add [notify.route] with receiver = \"NAME\"".into()),
            );
            return None;
        };
        let mut tree = RouteTree::build(&route, &|r| receivers.contains_key(r), periods)
            .map_err(|issues| self.issues("notify.route", issues))
            .ok();
        let inhibitor = Inhibitor::build(&section.inhibit)
            .map_err(|issues| self.issues("notify.inhibit", issues))
            .ok();
        let mut maintenance = MaintenanceWindows::build(&section.maintenance, periods)
            .map_err(|issues| self.issues("notify.maintenance", issues))
            .ok();
        let partners = match (partners, &mut tree, &mut maintenance) {
            (Some(p), Some(tree), Some(maintenance)) => {
                Some(p.install(self, tree, maintenance, periods))
            }
            _ => None,
        };
        let dependencies = Dependencies::build(&section.depends_on)
            .map_err(|issues| self.issues("notify.depends_on", issues))
            .ok();
        let ack_secret = match (section.ack_secret_env, section.ack_secret_file) {
            (Some(var), None) => AckSecret::Env(var),
            (None, Some(file)) => AckSecret::File(base_dir.join(file)),
            (None, None) => AckSecret::Generated,
            (Some(_), Some(_)) => {
                self.error(
                    "notify.ack_secret_file",
                    "give the acknowledge secret once: ack_secret_env or ack_secret_file",
                    None,
                );
                AckSecret::Generated
            }
        };
        if self.errors.len() > before {
            return None;
        }
        Some(NotifyConfig {
            setup: Setup {
                tree: Arc::new(tree?),
                receivers,
                inhibitor: inhibitor?,
                maintenance: maintenance?,
                dependencies: dependencies?,
                oncall: Arc::clone(oncall),
                policies: Arc::new(policies),
                external_url: section
                    .external_url
                    .unwrap_or_else(|| "http://localhost:9187".into()),
                ack_links: None,
                partners: partners?,
            },
            default_level,
            ack_secret,
        })
    }

    fn receiver(
        &mut self,
        name: &str,
        raw: RawReceiver,
        periods: &TimePeriods,
        policies: Option<&EscalationPolicies>,
        ctx: &ChannelContext,
        base_dir: &Path,
    ) -> Receiver {
        let key = format!("notify.receiver.{name}");
        let mut receiver = Receiver::new(name, Vec::new());
        receiver.max_alerts = raw.max_alerts;
        if let Some(hours) = raw.hours {
            match periods.parse(&hours) {
                Ok(p) => receiver.hours = Some((hours, p)),
                Err(e) => self.error(
                    &format!("{key}.hours"),
                    e.to_string(),
                    Some(
                        "a [time_period.NAME] or e.g. \"weekdays 09:00-17:00 Europe/London\""
                            .into(),
                    ),
                ),
            }
        }
        if let Some(policy) = raw.escalation {
            if let Some(policies) = policies
                && policies.get(&policy).is_none()
            {
                let known: Vec<&str> = policies.names().collect();
                let hint = if known.is_empty() {
                    format!("define [escalation.{policy}]")
                } else {
                    format!("define [escalation.{policy}]; known: {}", known.join(", "))
                };
                self.error(
                    &format!("{key}.escalation"),
                    format!("no escalation policy is called `{policy}`"),
                    Some(hint),
                );
            }
            receiver.escalation = Some(policy);
        }
        if raw.channel.is_empty() {
            self.error(
                &key,
                "a receiver needs at least one channel",
                Some(format!(
                    "add [[{key}.channel]] with kind = \"email\", \"webhook\"..."
                )),
            );
        }
        for (i, table) in raw.channel.into_iter().enumerate() {
            let path = format!("{key}.channel.{i}");
            if let Some(slot) = self.channel(name, i, &path, table, ctx, base_dir) {
                receiver.channels.push(slot);
            }
        }
        receiver
    }

    fn channel(
        &mut self,
        receiver: &str,
        index: usize,
        path: &str,
        mut table: toml::Table,
        ctx: &ChannelContext,
        base_dir: &Path,
    ) -> Option<ChannelSlot> {
        let kinds = channel::KINDS.join(", ");
        let kind = match table.remove("kind") {
            Some(toml::Value::String(k)) => k,
            _ => {
                self.error(
                    &format!("{path}.kind"),
                    "missing `kind`",
                    Some(format!("one of: {kinds}")),
                );
                return None;
            }
        };
        let send_resolved = match table.remove("send_resolved") {
            None => true,
            Some(toml::Value::Boolean(b)) => b,
            Some(_) => {
                self.error(
                    &format!("{path}.send_resolved"),
                    "must be true or false",
                    None,
                );
                return None;
            }
        };
        self.secrets(path, &mut table, base_dir);
        match channel::build(&kind, toml::Value::Table(table), ctx) {
            Ok(channel) => Some(ChannelSlot {
                integration: format!("{receiver}/{index}:{kind}"),
                channel,
                send_resolved,
            }),
            Err(BuildError::UnknownKind) => {
                self.error(
                    &format!("{path}.kind"),
                    format!("unknown channel kind `{kind}`"),
                    Some(format!("one of: {kinds}")),
                );
                None
            }
            Err(BuildError::Shape(message)) => {
                let message = message.trim().to_string();
                self.error(
                    path,
                    message,
                    Some(format!("see docs/notify.md, kind `{kind}`")),
                );
                None
            }
            Err(BuildError::Issues(issues)) => {
                self.issues(path, issues);
                None
            }
        }
    }

    /// Replaces every `X_env`/`X_file` setting by `X` read from the variable or file.
    fn secrets(&mut self, path: &str, table: &mut toml::Table, base_dir: &Path) {
        let keys: Vec<String> = table
            .keys()
            .filter(|k| k.ends_with("_env") || k.ends_with("_file"))
            .cloned()
            .collect();
        for key in keys {
            let Some(toml::Value::String(source)) = table.remove(&key) else {
                self.error(&format!("{path}.{key}"), "must be a string", None);
                continue;
            };
            let (field, value) = if let Some(field) = key.strip_suffix("_env") {
                match std::env::var(&source) {
                    Ok(v) => (field, v),
                    Err(_) if self.secrets == Secrets::NotNeeded => (field, placeholder(field)),
                    Err(_) => {
                        self.error(
                            &format!("{path}.{key}"),
                            format!("environment variable `{source}` is not set"),
                            Some(format!("export {source}=... before starting Periscope")),
                        );
                        continue;
                    }
                }
            } else {
                let field = key.strip_suffix("_file").unwrap_or(&key);
                match std::fs::read_to_string(base_dir.join(&source)) {
                    Ok(text) => (field, text.trim_end_matches(['\n', '\r']).to_string()),
                    Err(_) if self.secrets == Secrets::NotNeeded => (field, placeholder(field)),
                    Err(e) => {
                        self.error(
                            &format!("{path}.{key}"),
                            format!("cannot read `{source}`: {e}"),
                            None,
                        );
                        continue;
                    }
                }
            };
            table.insert(field.to_string(), toml::Value::String(value));
        }
    }
}
