//! Message templates (minijinja): a title, a plain-text body, an HTML body and a short chat
//! message, each with a default that reads well on a phone, each replaceable in the config.
//!
//! A user's template is compiled when the config loads, so a syntax error is a config error. A
//! template can still fail while rendering (a filter given the wrong type, a missing
//! attribute under strict undefined): then the default template renders instead and the
//! [`Rendered::warning`] says so, because a page with the default wording beats no page.

use std::collections::BTreeMap;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use crate::alert::Alert;
use crate::channel::Notification;

/// The names of the templates a channel may ask for.
pub const TEMPLATE_NAMES: [&str; 4] = ["title", "text", "html", "chat"];

const DEFAULT_TITLE: &str = "[{{ status | upper }}{% if status == 'firing' %}:{{ firing | length }}{% endif %}] \
{{ common_labels.alertname | default(group_labels | items | map('last') | join(' ')) }}\
{% if common_labels.instance %} on {{ common_labels.instance }}{% endif %} ({{ level }})";

const DEFAULT_TEXT: &str = r#"{% for a in firing -%}
FIRING {{ a.name }}{% if a.labels.instance %} on {{ a.labels.instance }}{% endif %} since {{ a.starts_at }}
{% if a.annotations.summary %}{{ a.annotations.summary }}
{% endif %}{% if a.annotations.description %}{{ a.annotations.description }}
{% endif %}{% if a.value is not none %}value: {{ a.value }}
{% endif %}{% if a.annotations.runbook_url %}runbook: {{ a.annotations.runbook_url }}
{% endif %}
{% endfor -%}
{% for a in resolved -%}
RESOLVED {{ a.name }}{% if a.labels.instance %} on {{ a.labels.instance }}{% endif %} at {{ a.ends_at }}
{% endfor -%}
{% if truncated_alerts %}and {{ truncated_alerts }} more
{% endif %}{% if ack_url %}
Acknowledge: {{ ack_url }}
{% endif %}"#;

const DEFAULT_HTML: &str = r#"<h2>{{ title }}</h2>
{% for a in alerts %}<p><b>{{ a.status | upper }}</b> {{ a.name }}{% if a.labels.instance %} on {{ a.labels.instance }}{% endif %}<br>
{%- if a.annotations.summary %}
{{ a.annotations.summary }}<br>{% endif %}
{%- if a.annotations.description %}
{{ a.annotations.description }}<br>{% endif %}
<small>{% if a.status == 'firing' %}since {{ a.starts_at }}{% else %}resolved at {{ a.ends_at }}{% endif %}</small></p>
{% endfor %}{% if ack_url %}<p><a href="{{ ack_url }}">Acknowledge</a></p>{% endif %}"#;

const DEFAULT_CHAT: &str = r#"*{{ title }}*
{% for a in firing %}• {{ a.annotations.summary | default(a.name) }}{% if a.labels.instance %} ({{ a.labels.instance }}){% endif %}
{% endfor %}{% for a in resolved %}• resolved: {{ a.annotations.summary | default(a.name) }}
{% endfor %}{% if people %}{{ people | map(attribute='mention') | join(' ') }}
{% endif %}{% if ack_url %}<{{ ack_url }}|Acknowledge>{% endif %}"#;

/// A template that does not compile: which one and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("template `{name}`: {message}")]
pub struct TemplateError {
    /// The template's name (`title`, `text`, `html`, `chat`).
    pub name: String,
    /// minijinja's description, with the line.
    pub message: String,
}

/// A rendered message, and what went wrong on the way if anything did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// The text to send.
    pub text: String,
    /// Set when the configured template failed and the default was used instead: why.
    pub warning: Option<String>,
}

/// The four templates, defaults replaced by whatever the config gives.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
    /// Names the config replaced (their defaults live under `default/NAME`).
    custom: Vec<String>,
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new(&BTreeMap::new()).expect("the default templates compile")
    }
}

impl Templates {
    /// The defaults with `custom` (name -> template source) laid over them; every problem in
    /// `custom` is returned at once.
    pub fn new(custom: &BTreeMap<String, String>) -> Result<Self, Vec<TemplateError>> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        // Only the HTML body is escaped: a `<` in a summary must survive in a chat or a title.
        env.set_auto_escape_callback(|name| {
            if name.ends_with("html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        let defaults = [
            ("title", DEFAULT_TITLE),
            ("text", DEFAULT_TEXT),
            ("html", DEFAULT_HTML),
            ("chat", DEFAULT_CHAT),
        ];
        for (name, source) in defaults {
            env.add_template(name, source)
                .expect("the default templates compile");
            env.add_template_owned(format!("default/{name}"), source)
                .expect("the default templates compile");
        }
        let mut errors = Vec::new();
        for (name, source) in custom {
            if !TEMPLATE_NAMES.contains(&name.as_str()) {
                errors.push(TemplateError {
                    name: name.clone(),
                    message: format!("unknown template; one of: {}", TEMPLATE_NAMES.join(", ")),
                });
                continue;
            }
            if let Err(e) = env.add_template_owned(name.clone(), source.clone()) {
                errors.push(TemplateError {
                    name: name.clone(),
                    message: describe(&e),
                });
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Templates {
            env,
            custom: custom.keys().cloned().collect(),
        })
    }

    /// Renders template `name` (one of [`TEMPLATE_NAMES`]) for `notification`. Values are
    /// HTML-escaped in `html` only.
    pub fn render(&self, name: &str, notification: &Notification) -> Rendered {
        let mut ctx = context(notification);
        if name != "title" {
            let title = self.render("title", notification).text;
            ctx.title = Some(title);
        }
        match self.try_render(name, &ctx) {
            Ok(text) => Rendered {
                text,
                warning: None,
            },
            Err(e) if self.custom.iter().any(|c| c == name) => {
                let fallback = self
                    .try_render(&format!("default/{name}"), &ctx)
                    .unwrap_or_else(|e| format!("(default template failed: {e})"));
                Rendered {
                    text: fallback,
                    warning: Some(format!(
                        "template `{name}` failed to render ({}); the default template was used",
                        describe(&e)
                    )),
                }
            }
            Err(e) => Rendered {
                text: format!("{} ({})", ctx.status, describe(&e)),
                warning: Some(format!(
                    "default template `{name}` failed: {}",
                    describe(&e)
                )),
            },
        }
    }

    fn try_render(&self, name: &str, ctx: &Context<'_>) -> Result<String, minijinja::Error> {
        let template = self.env.get_template(name)?;
        Ok(template.render(ctx)?.trim().to_string())
    }
}

/// minijinja's error with its line, on one line.
fn describe(e: &minijinja::Error) -> String {
    match e.line() {
        Some(line) => format!("line {line}: {}", e.detail().unwrap_or(&e.to_string())),
        None => e.to_string(),
    }
}

/// What templates see: the notification's fields in snake_case.
#[derive(Serialize)]
struct Context<'a> {
    receiver: &'a str,
    status: &'static str,
    level: &'static str,
    group_key: &'a str,
    group_labels: BTreeMap<&'a str, &'a str>,
    common_labels: BTreeMap<&'a str, &'a str>,
    common_annotations: &'a model::alert::Annotations,
    alerts: Vec<AlertView<'a>>,
    firing: Vec<AlertView<'a>>,
    resolved: Vec<AlertView<'a>>,
    truncated_alerts: usize,
    external_url: &'a str,
    ack_url: Option<&'a str>,
    people: Vec<PersonView<'a>>,
    title: Option<String>,
}

#[derive(Serialize, Clone)]
struct AlertView<'a> {
    name: &'a str,
    status: &'static str,
    level: &'static str,
    labels: BTreeMap<&'a str, &'a str>,
    annotations: &'a model::alert::Annotations,
    starts_at: String,
    ends_at: Option<String>,
    value: Option<f64>,
    fingerprint: String,
    generator_url: &'a str,
}

#[derive(Serialize)]
struct PersonView<'a> {
    name: &'a str,
    email: Option<&'a str>,
    /// The chat handle when there is one, else the name.
    mention: &'a str,
}

/// What templates see for `n`, with `title` already rendered (for templates kept outside
/// [`Templates`], such as an e-mail channel's `subject`).
pub(crate) fn context_with_title<'a>(n: &'a Notification, title: &str) -> impl Serialize + 'a {
    let mut ctx = context(n);
    ctx.title = Some(title.to_string());
    ctx
}

fn context(n: &Notification) -> Context<'_> {
    let alerts: Vec<AlertView<'_>> = n.alerts.iter().map(alert_view).collect();
    let (firing, resolved) = alerts.iter().cloned().partition(|a| a.status == "firing");
    Context {
        receiver: &n.receiver,
        status: n.status().as_str(),
        level: n.level.as_str(),
        group_key: &n.group_key,
        group_labels: n.group_labels.iter().collect(),
        common_labels: n.common_labels.iter().collect(),
        common_annotations: &n.common_annotations,
        alerts,
        firing,
        resolved,
        truncated_alerts: n.truncated_alerts,
        external_url: &n.external_url,
        ack_url: n.ack_url.as_deref(),
        people: n
            .people
            .iter()
            .map(|p| PersonView {
                name: &p.name,
                email: p.email.as_deref(),
                mention: p.chat.as_deref().unwrap_or(&p.name),
            })
            .collect(),
        title: None,
    }
}

fn alert_view(a: &Alert) -> AlertView<'_> {
    AlertView {
        name: a.name(),
        status: a.status().as_str(),
        level: a.level.as_str(),
        labels: a.labels.iter().collect(),
        annotations: &a.annotations,
        starts_at: a.starts_at.to_string(),
        ends_at: a.ends_at.map(|t| t.to_string()),
        value: a.value,
        fingerprint: a.fingerprint.to_string(),
        generator_url: &a.generator_url,
    }
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
