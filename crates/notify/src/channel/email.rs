//! The `email` channel: one message to the configured addresses and to the e-mail address of
//! every person the notification is for (the one on call, the escalation step's people).
//!
//! The subject is the `title` template (or this channel's own `subject` template), the body the
//! `text` template with the `html` template as its alternative. The message leaves through the
//! [`MailSender`](crate::channel::MailSender) seam of the [`ChannelContext`]: the binary plugs in
//! the SMTP client the reports use, so this file knows nothing of SMTP and a missing SMTP
//! configuration is a refusal that says so, not a crash.
//!
//! ```toml
//! [receivers.ops.email]
//! to = ["ops@example.com"]
//! subject = "[{{ level }}] {{ common_labels.alertname }}"
//! ```

use minijinja::{Environment, UndefinedBehavior};
use model::ConfigIssue;
use serde::Deserialize;

use crate::channel::payload::Texts;
use crate::channel::{
    BoxFuture, Channel, ChannelContext, Delivered, DeliveryError, Mail, Notification,
};
use crate::template::escape_html;

/// Settings of an `email` channel.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// Addresses that get every notification of this receiver. The notification's people with
    /// an e-mail address are added to them; may be empty when the people are enough.
    #[serde(default)]
    pub to: Vec<String>,
    /// A template for the subject line instead of the `title` template. It sees `title` (the
    /// rendered title), `receiver`, `status`, `level`, `group_key`, `group_labels`,
    /// `common_labels`, `common_annotations`, `alerts`/`firing`/`resolved` (each alert with
    /// `name`, `status`, `labels`, `annotations`), `truncated_alerts` and `external_url`.
    #[serde(default)]
    pub subject: Option<String>,
}

impl EmailSettings {
    /// Checks every setting (addresses, the subject template) and builds the channel, or
    /// returns every problem found.
    pub fn build(self, ctx: &ChannelContext) -> Result<EmailChannel, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        if ctx.mail.is_none() {
            issues.push(
                ConfigIssue::new(
                    "",
                    "an e-mail channel needs an SMTP server, and none is configured",
                )
                .hint("add an [email] section with host, port and from"),
            );
        }
        for (i, address) in self.to.iter().enumerate() {
            if let Err(why) = check_address(address) {
                issues
                    .push(ConfigIssue::new(format!("to.{i}"), why).hint("write user@example.com"));
            }
        }
        let mut subject = None;
        if let Some(source) = &self.subject {
            let mut env = Environment::new();
            env.set_undefined_behavior(UndefinedBehavior::Chainable);
            match env.add_template_owned("subject", source.clone()) {
                Ok(()) => subject = Some(env),
                Err(e) => issues.push(ConfigIssue::new(
                    "subject",
                    format!("the template does not compile: {e}"),
                )),
            }
        }
        if !issues.is_empty() {
            return Err(issues);
        }
        Ok(EmailChannel {
            to: self.to.iter().map(|a| a.trim().to_string()).collect(),
            subject,
            ctx: ctx.clone(),
        })
    }
}

/// Why `address` cannot be a recipient, if it cannot.
fn check_address(address: &str) -> Result<(), String> {
    let a = address.trim();
    if a.is_empty() {
        return Err("the address is empty".into());
    }
    if a.chars().any(|c| c.is_control()) {
        return Err(format!("{a:?} contains a line break or control character"));
    }
    match a.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok(()),
        _ => Err(format!("`{a}` is not an e-mail address")),
    }
}

/// A built `email` channel.
pub struct EmailChannel {
    to: Vec<String>,
    /// The compiled `subject` template, when the settings give one.
    subject: Option<Environment<'static>>,
    ctx: ChannelContext,
}

impl EmailChannel {
    /// The message for `notification`: recipients, subject, text and HTML bodies, each body
    /// ending with a line naming any template that failed to render.
    pub fn mail(&self, notification: &Notification) -> Mail {
        let n = notification;
        let mut texts = Texts::new(&self.ctx.templates, n);
        let subject = match &self.subject {
            None => texts.title().to_string(),
            Some(env) => match render_subject(env, n, texts.title()) {
                Ok(s) if !s.trim().is_empty() => s,
                Ok(_) => {
                    texts.warn(Some(
                        "the `subject` template rendered nothing; the title was used".into(),
                    ));
                    texts.title().to_string()
                }
                Err(e) => {
                    texts.warn(Some(format!(
                        "the `subject` template failed to render ({e}); the title was used"
                    )));
                    texts.title().to_string()
                }
            },
        };
        let text = texts.render("text");
        let html = texts.render("html");
        let html = match texts.warning_line() {
            Some(line) => format!("{html}\n<p><small>{}</small></p>", escape_html(&line)),
            None => html,
        };
        Mail {
            to: self.recipients(n),
            // A line break in a header would start a new header: keep the subject on one line.
            subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
            text: texts.with_warnings(&text),
            html: Some(html),
        }
    }

    /// The configured addresses, then the people's, each once (addresses compare without case).
    fn recipients(&self, n: &Notification) -> Vec<String> {
        let mut to: Vec<String> = Vec::new();
        let people = n.people.iter().filter_map(|p| p.email.as_deref());
        for address in self.to.iter().map(String::as_str).chain(people) {
            let address = address.trim();
            if check_address(address).is_ok() && !to.iter().any(|t| t.eq_ignore_ascii_case(address))
            {
                to.push(address.to_string());
            }
        }
        to
    }
}

impl Channel for EmailChannel {
    fn kind(&self) -> &'static str {
        "email"
    }

    fn deliver<'a>(
        &'a self,
        notification: &'a Notification,
    ) -> BoxFuture<'a, Result<Delivered, DeliveryError>> {
        Box::pin(async move {
            let Some(sender) = &self.ctx.mail else {
                return Err(DeliveryError::permanent(
                    "email: SMTP is not configured, so no e-mail can be sent; \
                     configure an SMTP server or remove this channel",
                ));
            };
            let mail = self.mail(notification);
            if mail.to.is_empty() {
                return Err(DeliveryError::permanent(
                    "email: no recipients: `to` is empty and none of the notification's \
                     people has an e-mail address",
                ));
            }
            sender.send(&mail).await?;
            Ok(Delivered::default())
        })
    }
}

/// Renders the `subject` template over what every message template sees, `title` included.
fn render_subject(
    env: &Environment<'static>,
    n: &Notification,
    title: &str,
) -> Result<String, minijinja::Error> {
    env.get_template("subject")?
        .render(crate::template::context_with_title(n, title))
}
