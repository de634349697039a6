//! What the channels of this family send: Alertmanager's webhook payload (version 4), and
//! rendered texts that keep their template warnings.
//!
//! The payload is built in one place because two channels send it (the webhook POSTs it, the
//! command channel writes it on stdin) and because receivers written for Alertmanager must be
//! able to read Periscope's notifications unchanged: the v4 fields are exactly Alertmanager's,
//! and whatever Periscope adds lives in a separate top-level `periscope` object.
//!
//! A template that fails to render falls back to the default wording ([`Rendered::warning`]);
//! [`Texts`] collects those warnings so every channel can append them to what it sends, because
//! the people reading the message are the ones who can fix the template.

use serde_json::{Map, Value, json};

use crate::alert::Alert;
use crate::channel::Notification;
use crate::template::{Rendered, Templates};

/// The payload version Alertmanager's webhook receiver sends, and this one too.
pub const WEBHOOK_VERSION: &str = "4";

/// How Alertmanager writes the end of an alert that has not ended: Go's zero time.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Alertmanager's `notification_reason` says why a notification was sent; the pipeline does
/// not hand channels a reason yet, so this is Alertmanager's own word for "not known".
pub const UNKNOWN_REASON: &str = "unknown";

/// The JSON an Alertmanager webhook receiver expects (payload version 4), for `notification`.
///
/// When `max_alerts` is non-zero and the notification carries more alerts, only the first
/// `max_alerts` are sent (firing ones come first) and `truncatedAlerts` counts the rest, on top
/// of any the notification itself already left out. Times are RFC 3339 in UTC; a firing alert's
/// `endsAt` is [`ZERO_TIME`]. Periscope's additions (the level, the acknowledge link, the people
/// on call) are under the top-level key `periscope`.
pub fn webhook_payload(notification: &Notification, max_alerts: usize) -> Value {
    let n = notification;
    let keep = if max_alerts == 0 {
        n.alerts.len()
    } else {
        max_alerts.min(n.alerts.len())
    };
    let truncated = n.truncated_alerts + (n.alerts.len() - keep);
    let people: Vec<Value> = n
        .people
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "email": p.email,
                "chat": p.chat,
                "phone": p.phone,
            })
        })
        .collect();
    json!({
        "version": WEBHOOK_VERSION,
        "groupKey": n.group_key,
        "truncatedAlerts": truncated,
        "status": n.status().as_str(),
        "receiver": n.receiver,
        "groupLabels": labels_object(n.group_labels.iter()),
        "commonLabels": labels_object(n.common_labels.iter()),
        "commonAnnotations": labels_object(n.common_annotations.iter()),
        "externalURL": n.external_url,
        "notification_reason": UNKNOWN_REASON,
        "alerts": n.alerts[..keep].iter().map(alert_object).collect::<Vec<_>>(),
        "periscope": {
            "level": n.level.as_str(),
            "ackURL": n.ack_url,
            "people": people,
        },
    })
}

fn alert_object(a: &Alert) -> Value {
    json!({
        "status": a.status().as_str(),
        "labels": labels_object(a.labels.iter()),
        "annotations": labels_object(a.annotations.iter()),
        "startsAt": a.starts_at.to_string(),
        "endsAt": a.ends_at.map_or_else(|| ZERO_TIME.to_string(), |t| t.to_string()),
        "generatorURL": a.generator_url,
        "fingerprint": a.fingerprint.to_string(),
    })
}

fn labels_object<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    Value::Object(
        pairs
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect::<Map<_, _>>(),
    )
}

/// Renders templates for one delivery and remembers every warning on the way.
///
/// The `title` template is rendered (and its warning kept) on creation because every other
/// template embeds the title, and [`Templates::render`] reports only the named template's own
/// failure.
pub struct Texts<'a> {
    templates: &'a Templates,
    notification: &'a Notification,
    title: String,
    warnings: Vec<String>,
}

impl<'a> Texts<'a> {
    /// Starts rendering for `notification`; renders the title at once.
    pub fn new(templates: &'a Templates, notification: &'a Notification) -> Self {
        let mut texts = Texts {
            templates,
            notification,
            title: String::new(),
            warnings: Vec::new(),
        };
        texts.title = texts.render("title");
        texts
    }

    /// The rendered title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Renders template `name`, keeping its warning if it has one.
    pub fn render(&mut self, name: &str) -> String {
        let Rendered { text, warning } = self.templates.render(name, self.notification);
        self.warn(warning);
        text
    }

    /// Keeps `warning` (once) for the message's last line.
    pub fn warn(&mut self, warning: Option<String>) {
        if let Some(w) = warning
            && !self.warnings.contains(&w)
        {
            self.warnings.push(w);
        }
    }

    /// The warnings so far, in the order they happened.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// `text` with the warnings, if any, as its last line: `(template warning: ...)`.
    pub fn with_warnings(&self, text: &str) -> String {
        match self.warning_line() {
            None => text.to_string(),
            Some(line) if text.is_empty() => line,
            Some(line) => format!("{text}\n{line}"),
        }
    }

    /// `(template warning: ...)` naming every warning, or `None` when all went well.
    pub fn warning_line(&self) -> Option<String> {
        (!self.warnings.is_empty())
            .then(|| format!("(template warning: {})", self.warnings.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use model::level::Level;
    use model::{Labels, Timestamp};

    use super::*;
    use crate::channel::Person;

    fn notification(alerts: usize) -> Notification {
        let alerts = (0..alerts)
            .map(|i| {
                let labels: Labels = [("alertname", "DiskFull"), ("instance", &format!("db{i}"))]
                    .into_iter()
                    .collect();
                Alert::firing(labels, Timestamp(1_700_000_000_000))
            })
            .collect();
        Notification {
            receiver: "ops".into(),
            group_key: "{}:{alertname=\"DiskFull\"}".into(),
            group_labels: [("alertname", "DiskFull")].into_iter().collect(),
            common_labels: [("alertname", "DiskFull")].into_iter().collect(),
            common_annotations: BTreeMap::new().into(),
            alerts,
            truncated_alerts: 1,
            external_url: "http://periscope.example".into(),
            level: Level::Critical,
            at: Timestamp(1_700_000_600_000),
            ack_url: None,
            people: vec![Person {
                name: "alice".into(),
                ..Person::default()
            }],
            reference: None,
        }
    }

    #[test]
    fn max_alerts_keeps_the_first_and_counts_the_rest() {
        let n = notification(5);
        let all = webhook_payload(&n, 0);
        assert_eq!(all["alerts"].as_array().map(Vec::len), Some(5));
        assert_eq!(all["truncatedAlerts"], 1);
        let capped = webhook_payload(&n, 2);
        let alerts = capped["alerts"].as_array().cloned().unwrap_or_default();
        assert_eq!(alerts.len(), 2);
        assert_eq!(alerts[0]["labels"]["instance"], "db0");
        assert_eq!(alerts[1]["labels"]["instance"], "db1");
        // Three left out here plus the one the group stage already dropped.
        assert_eq!(capped["truncatedAlerts"], 4);
        // A cap above the count changes nothing.
        assert_eq!(webhook_payload(&n, 50), all);
    }

    #[test]
    fn firing_alerts_end_at_go_zero_time_and_resolved_ones_when_they_ended() {
        let mut n = notification(2);
        n.alerts[1].ends_at = Some(Timestamp(1_700_000_600_000));
        let p = webhook_payload(&n, 0);
        assert_eq!(p["alerts"][0]["endsAt"], ZERO_TIME);
        assert_eq!(p["alerts"][0]["status"], "firing");
        assert_eq!(p["alerts"][1]["endsAt"], "2023-11-14T22:23:20.000Z");
        assert_eq!(p["alerts"][1]["status"], "resolved");
        assert_eq!(p["periscope"]["people"][0]["name"], "alice");
        assert_eq!(p["periscope"]["ackURL"], Value::Null);
    }

    #[test]
    fn broken_templates_leave_a_warning_line() {
        let custom = BTreeMap::from([(
            "chat".to_string(),
            "{{ alerts[0].labels | int }}".to_string(),
        )]);
        let templates = Templates::new(&custom).unwrap_or_default();
        let n = notification(1);
        let mut texts = Texts::new(&templates, &n);
        let chat = texts.render("chat");
        let sent = texts.with_warnings(&chat);
        let last = sent.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("(template warning: template `chat` failed"),
            "{sent}"
        );
        // The default wording still went out above it.
        assert!(sent.starts_with("*[FIRING:1] DiskFull"), "{sent}");

        let fine = Templates::default();
        let mut texts = Texts::new(&fine, &n);
        let chat = texts.render("chat");
        assert_eq!(texts.with_warnings(&chat), chat);
    }
}
