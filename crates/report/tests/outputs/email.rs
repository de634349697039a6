//! E-mail through a real SMTP exchange with the test sink, and the errors people will meet.

use std::time::Duration;

use jiff::tz::TimeZone;
use report::{EmailError, SmtpSecurity, SmtpSettings, send_email, summary_subject, summary_text};
use testkit::SmtpSink;

use super::fixture::run;

fn settings(port: u16) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::Plain,
        username: None,
        password: None,
        from: "Periscope <periscope@example.com>".into(),
        to: vec![
            "ops@example.com".into(),
            "Dev Team <dev@example.com>".into(),
        ],
        timeout: Duration::from_secs(5),
    }
}

/// A port nothing listens on: bound, then released.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn the_summary_arrives_with_subject_recipients_and_body() {
    let sink = SmtpSink::start().await;
    let (subject, body) = (
        summary_subject(&run()),
        summary_text(&run(), &TimeZone::UTC),
    );
    send_email(&settings(sink.port()), &subject, &body)
        .await
        .unwrap();

    let mails = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.mail_from, "periscope@example.com");
    assert_eq!(mail.rcpt_to, ["ops@example.com", "dev@example.com"]);
    assert_eq!(mail.header("Subject").as_deref(), Some(subject.as_str()));
    assert_eq!(
        mail.header("From").as_deref(),
        Some("Periscope <periscope@example.com>")
    );
    let to = mail.header("To").unwrap();
    assert!(
        to.contains("ops@example.com")
            && to.contains("Dev Team")
            && to.contains("<dev@example.com>"),
        "{to}"
    );
    assert!(
        mail.header("Content-Type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(mail.body().trim_end(), body.trim_end());
    assert_eq!(mail.auth_user, None);
}

#[tokio::test]
async fn non_ascii_text_and_dot_lines_survive_the_trip() {
    let sink = SmtpSink::start().await;
    let body = "Montant: 100000 €\n.\n..leading dots stay\nfin\n";
    send_email(&settings(sink.port()), "Résumé", body)
        .await
        .unwrap();
    let mail = &sink.wait_for(1, Duration::from_secs(5)).await[0];
    assert_eq!(mail.body().trim_end(), body.trim_end());
}

#[tokio::test]
async fn logs_in_when_credentials_are_given() {
    let sink = SmtpSink::start_requiring_auth("periscope", "s3cret").await;
    let mut s = settings(sink.port());
    s.username = Some("periscope".into());
    s.password = Some("s3cret".into());
    send_email(&s, "subject", "body\n").await.unwrap();
    let mail = &sink.wait_for(1, Duration::from_secs(5)).await[0];
    assert_eq!(mail.auth_user.as_deref(), Some("periscope"));

    s.password = Some("wrong".into());
    let err = send_email(&s, "subject", "body\n").await.unwrap_err();
    let msg = err.to_string();
    let server = format!("127.0.0.1:{}", sink.port());
    assert!(
        msg.starts_with(&format!("cannot send e-mail via {server} (plain SMTP): ")),
        "{msg}"
    );
    assert!(msg.contains("535"), "the server's answer is shown: {msg}");
    assert!(!err.is_transient(), "a wrong password stays wrong");
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn a_server_that_is_down_is_named_in_the_error() {
    let port = closed_port().await;
    let err = send_email(&settings(port), "s", "b").await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "cannot send e-mail via 127.0.0.1:{port} (plain SMTP): "
        )),
        "{msg}"
    );
    assert!(msg.to_lowercase().contains("connection refused"), "{msg}");
    assert!(err.is_transient(), "the server may come back");
}

#[tokio::test]
async fn starttls_required_but_not_offered_is_refused_before_anything_is_sent() {
    let sink = SmtpSink::start().await;
    let mut s = settings(sink.port());
    s.security = SmtpSecurity::StartTls;
    s.username = Some("periscope".into());
    s.password = Some("s3cret".into());
    let err = send_email(&s, "s", "b").await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "cannot send e-mail via 127.0.0.1:{} (STARTTLS): ",
            sink.port()
        )),
        "{msg}"
    );
    assert!(msg.contains("does not offer STARTTLS"), "{msg}");
    assert!(
        sink.messages().is_empty(),
        "nothing may go out in clear text"
    );
}

#[tokio::test]
async fn tls_against_a_plain_server_fails_naming_the_server() {
    let sink = SmtpSink::start().await;
    let mut s = settings(sink.port());
    s.security = SmtpSecurity::Tls;
    s.timeout = Duration::from_secs(2);
    let msg = send_email(&s, "s", "b").await.unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!(
            "cannot send e-mail via 127.0.0.1:{} (TLS): ",
            sink.port()
        )),
        "{msg}"
    );
    assert!(msg.contains("did not answer in TLS"), "{msg}");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Accepts connections and says nothing, like a firewall that swallows packets.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let _silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let mut s = settings(port);
    s.timeout = Duration::from_millis(300);
    let err = send_email(&s, "s", "b").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot send e-mail via 127.0.0.1:{port} (plain SMTP): no complete answer within 300 ms"
        )
    );
    assert!(err.is_transient());
}

#[tokio::test]
async fn bad_addresses_and_settings_are_reported_before_connecting() {
    let port = closed_port().await;
    let mut s = settings(port);
    s.to = vec!["ops@example.com".into(), "not an address".into()];
    let err = send_email(&s, "s", "b").await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid to address `not an address`: "),
        "{err}"
    );

    s.to.clear();
    assert_eq!(
        send_email(&s, "s", "b").await.unwrap_err().to_string(),
        "no e-mail recipients configured (`to` is empty)"
    );

    let mut s = settings(port);
    s.from = "periscope@".into();
    assert!(matches!(
        send_email(&s, "s", "b").await,
        Err(EmailError::InvalidAddress { field: "from", .. })
    ));

    let mut s = settings(port);
    s.username = Some("periscope".into());
    assert_eq!(
        send_email(&s, "s", "b").await.unwrap_err().to_string(),
        format!(
            "SMTP login for 127.0.0.1:{port} needs both a username and a password; only the username is set"
        )
    );
}

#[test]
fn settings_never_print_the_password() {
    let mut s = settings(25);
    s.password = Some("s3cret".into());
    let debug = format!("{s:?}");
    assert!(
        !debug.contains("s3cret") && debug.contains("***"),
        "{debug}"
    );
}
