//! The `email` channel through a real SMTP conversation: a `MailSender` built on lettre (as the
//! binary's is) sending to `testkit`'s SMTP sink.

use std::sync::Arc;

use lettre::message::MultiPart;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use notify::Channel;
use notify::channel::email::{EmailChannel, EmailSettings};
use notify::channel::{BoxFuture, DeliveryError, Mail, MailSender};
use testkit::{ReceivedMail, SmtpSink};

use super::*;

/// Sends through plain SMTP to the sink, text with an HTML alternative.
struct LettreSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl LettreSender {
    fn to(sink: &SmtpSink) -> Arc<dyn MailSender> {
        Arc::new(LettreSender {
            transport: AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(sink.host())
                .port(sink.port())
                .build(),
        })
    }
}

impl MailSender for LettreSender {
    fn send<'a>(&'a self, mail: &'a Mail) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(async move {
            let refuse = |e: String| DeliveryError::permanent(format!("smtp: {e}"));
            let mut builder = Message::builder()
                .from("Periscope <periscope@example.com>".parse().unwrap())
                .subject(mail.subject.clone());
            for to in &mail.to {
                builder = builder.to(to.parse().map_err(|e| refuse(format!("{to}: {e}")))?);
            }
            let message = match &mail.html {
                Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                    mail.text.clone(),
                    html.clone(),
                )),
                None => builder.body(mail.text.clone()),
            }
            .map_err(|e| refuse(e.to_string()))?;
            self.transport.send(message).await.map_err(|e| {
                if e.is_permanent() {
                    refuse(e.to_string())
                } else {
                    DeliveryError::retryable(format!("smtp: {e}"))
                }
            })?;
            Ok(())
        })
    }
}

/// The parts of a multipart message, each as a mail of its own so `body()` decodes it.
fn parts(mail: &ReceivedMail) -> Vec<ReceivedMail> {
    let content_type = mail.header("Content-Type").unwrap();
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .unwrap()
        .trim_matches('"')
        .to_string();
    mail.data
        .split(&format!("--{boundary}"))
        .skip(1)
        .filter(|p| !p.starts_with("--"))
        .map(|p| ReceivedMail {
            data: p.trim_start_matches("\r\n").to_string(),
            ..mail.clone()
        })
        .collect()
}

/// The decoded text and HTML parts of `mail`.
fn text_and_html(mail: &ReceivedMail) -> (String, String) {
    let parts = parts(mail);
    let find = |kind: &str| {
        parts
            .iter()
            .find(|p| p.header("Content-Type").unwrap().starts_with(kind))
            .map(ReceivedMail::body)
            .unwrap()
    };
    (find("text/plain"), find("text/html"))
}

fn channel(settings: EmailSettings, sink: &SmtpSink) -> EmailChannel {
    let mut ctx = ctx();
    ctx.mail = Some(LettreSender::to(sink));
    settings.build(&ctx).unwrap()
}

#[tokio::test]
async fn mails_the_configured_addresses_and_the_people_on_call() {
    let sink = SmtpSink::start().await;
    let ch = channel(
        EmailSettings {
            to: vec!["ops@example.com".into()],
            subject: None,
        },
        &sink,
    );
    assert_eq!(ch.kind(), "email");
    let mut n = notification();
    n.people.push(Person {
        name: "bob".into(),
        ..Person::default()
    });
    n.people.push(Person {
        name: "carol".into(),
        email: Some("OPS@example.com".into()),
        ..Person::default()
    });
    ch.deliver(&n).await.unwrap();

    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    // bob has no address; carol's is the configured one again.
    assert_eq!(mail.rcpt_to, ["ops@example.com", "alice@example.com"]);
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("[FIRING:1] DiskFull (critical)")
    );
    let (text, html) = text_and_html(mail);
    assert!(text.contains("FIRING DiskFull on db1"), "{text}");
    assert!(text.contains("RESOLVED DiskFull on db2"), "{text}");
    assert!(
        text.contains("Acknowledge: https://periscope.example/ack/abc123"),
        "{text}"
    );
    assert!(!text.contains("template warning"), "{text}");
    // minijinja escapes `/` in HTML as `&#x2f;`, which a mail client reads back as `/`.
    assert!(
        html.replace("&#x2f;", "/")
            .contains(r#"<a href="https://periscope.example/ack/abc123">Acknowledge</a>"#),
        "{html}"
    );
}

#[tokio::test]
async fn a_subject_template_replaces_the_title_and_a_failing_one_falls_back_with_a_warning() {
    let sink = SmtpSink::start().await;
    let ch = channel(
        EmailSettings {
            to: vec!["ops@example.com".into()],
            subject: Some(
                "[{{ level | upper }}] {{ common_labels.alertname }} for {{ receiver }}\n({{ firing | length }} firing)"
                    .into(),
            ),
        },
        &sink,
    );
    ch.deliver(&notification()).await.unwrap();

    let broken = channel(
        EmailSettings {
            to: vec!["ops@example.com".into()],
            subject: Some("{{ alerts | int }}".into()),
        },
        &sink,
    );
    broken.deliver(&notification()).await.unwrap();

    let mails = sink.wait_for(2, Duration::from_secs(10)).await;
    // One line, even though the template has a line break.
    assert_eq!(
        mails[0].header("Subject").as_deref(),
        Some("[CRITICAL] DiskFull for ops (1 firing)")
    );
    assert_eq!(
        mails[1].header("Subject").as_deref(),
        Some("[FIRING:1] DiskFull (critical)")
    );
    let (text, html) = text_and_html(&mails[1]);
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert!(
        last.starts_with("(template warning: the `subject` template failed to render"),
        "{text}"
    );
    assert!(
        html.contains("(template warning: the `subject` template"),
        "{html}"
    );
}

#[tokio::test]
async fn without_smtp_or_recipients_the_mail_is_refused_for_good() {
    // Without an SMTP server the channel is a config error, not a failure at 2 AM.
    let issues = EmailSettings {
        to: vec!["ops@example.com".into()],
        subject: None,
    }
    .build(&ctx())
    .err()
    .unwrap();
    assert_eq!(issues.len(), 1);
    assert!(
        issues[0].message.contains("needs an SMTP server"),
        "{issues:?}"
    );

    let sink = SmtpSink::start().await;
    let nobody = channel(EmailSettings::default(), &sink);
    let mut n = notification();
    n.people.clear();
    let e = nobody.deliver(&n).await.unwrap_err();
    assert!(!e.retryable && e.message.contains("no recipients"), "{e}");
    // With someone on call, the same channel mails them.
    nobody.deliver(&notification()).await.unwrap();
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails[0].rcpt_to, ["alice@example.com"]);
}

#[test]
fn addresses_and_the_subject_template_are_checked_when_built() {
    let issues = EmailSettings {
        to: vec!["ops@example.com".into(), "not-an-address".into()],
        subject: Some("{{ unclosed".into()),
    }
    .build(&ctx())
    .err()
    .unwrap();
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    // The first issue is the missing SMTP server (the test context has none).
    assert_eq!(paths, ["", "to.1", "subject"]);
}
