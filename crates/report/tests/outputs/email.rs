//! E-mail through a real SMTP exchange with the test sink, and the errors people will meet.

use std::time::Duration;

use jiff::tz::TimeZone;
use report::{
    CaFileError, EmailError, SmtpSecurity, SmtpSettings, check_ca_file, send_email,
    summary_subject, summary_text,
};
use testkit::{SinkOptions, SinkTls, SmtpSink, test_ca_file, unrelated_ca_pem};

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
        ca_file: None,
    }
}

/// Settings for a TLS sink: `security`, trusting the test CA that signed its certificate.
fn tls_settings(port: u16, security: SmtpSecurity) -> SmtpSettings {
    SmtpSettings {
        security,
        ca_file: Some(test_ca_file()),
        ..settings(port)
    }
}

/// What every delivered test mail must show: envelope, headers and body as sent.
fn assert_delivered(mail: &testkit::ReceivedMail, subject: &str, body: &str) {
    assert_eq!(mail.mail_from, "periscope@example.com");
    assert_eq!(mail.rcpt_to, ["ops@example.com", "dev@example.com"]);
    assert_eq!(mail.header("Subject").as_deref(), Some(subject));
    assert_eq!(mail.body().trim_end(), body.trim_end());
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

#[tokio::test]
async fn starttls_upgrades_logs_in_and_delivers_trusting_the_ca_file() {
    let sink = SmtpSink::start_with(SinkOptions {
        login: Some(("periscope".into(), "s3cret".into())),
        tls: SinkTls::StartTls,
    })
    .await;
    let mut s = tls_settings(sink.port(), SmtpSecurity::StartTls);
    s.username = Some("periscope".into());
    s.password = Some("s3cret".into());
    let (subject, body) = (
        summary_subject(&run()),
        summary_text(&run(), &TimeZone::UTC),
    );
    send_email(&s, &subject, &body).await.unwrap();

    let mails = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(mails.len(), 1);
    assert_delivered(&mails[0], &subject, &body);
    assert!(mails[0].tls, "the message went over the upgraded session");
    assert_eq!(mails[0].auth_user.as_deref(), Some("periscope"));
}

#[tokio::test]
async fn implicit_tls_delivers_trusting_the_ca_file() {
    let sink = SmtpSink::start_tls().await;
    let s = tls_settings(sink.port(), SmtpSecurity::Tls);
    let body = "Montant: 100000 €\n.\nfin\n";
    send_email(&s, "Daily summary", body).await.unwrap();

    let mails = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(mails.len(), 1);
    assert_delivered(&mails[0], "Daily summary", body);
    assert!(mails[0].tls);
    assert_eq!(mails[0].auth_user, None);
}

#[tokio::test]
async fn a_certificate_from_an_untrusted_ca_is_refused_naming_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let other_ca = dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, unrelated_ca_pem()).unwrap();
    for (sink, security, label) in [
        (
            SmtpSink::start_starttls().await,
            SmtpSecurity::StartTls,
            "STARTTLS",
        ),
        (SmtpSink::start_tls().await, SmtpSecurity::Tls, "TLS"),
    ] {
        let server = format!("127.0.0.1:{}", sink.port());
        // No ca_file: the public roots, which do not know the test CA.
        let mut s = tls_settings(sink.port(), security);
        s.ca_file = None;
        let err = send_email(&s, "s", "b").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot send e-mail via {server} ({label}): Connection error: invalid peer \
                 certificate: UnknownIssuer (the server's certificate is not signed by a public \
                 CA; for an internal CA, set ca_file to that CA's PEM file)"
            )
        );
        assert!(!err.is_transient(), "the certificate stays untrusted");

        // A ca_file replaces the public roots: another CA does not vouch for this server.
        s.ca_file = Some(other_ca.clone());
        let msg = send_email(&s, "s", "b").await.unwrap_err().to_string();
        assert!(
            msg.starts_with(&format!("cannot send e-mail via {server} ({label}): "))
                && msg.ends_with(&format!(
                    "UnknownIssuer (the server's certificate is not signed by a CA in {})",
                    other_ca.display()
                )),
            "{msg}"
        );
        assert!(
            sink.messages().is_empty(),
            "nothing may go to an unverified server"
        );
    }
}

#[tokio::test]
async fn an_unusable_ca_file_is_named_before_connecting() {
    // Nothing listens: these errors must come before any connection attempt.
    let port = closed_port().await;
    let dir = tempfile::tempdir().unwrap();
    for security in [SmtpSecurity::StartTls, SmtpSecurity::Tls] {
        let missing = dir.path().join("missing-ca.pem");
        let mut s = tls_settings(port, security);
        s.ca_file = Some(missing.clone());
        let err = send_email(&s, "s", "b").await.unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "cannot set up TLS for 127.0.0.1:{port}: cannot read CA file {}: ",
                missing.display()
            )),
            "{msg}"
        );
        assert!(matches!(
            &err,
            EmailError::CaFile {
                error: CaFileError::Read { .. },
                ..
            }
        ));
        assert!(!err.is_transient(), "a missing file stays missing");

        // A file without any certificate, e.g. a key or a DER file given by mistake.
        let key = dir.path().join("key.pem");
        std::fs::write(
            &key,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        s.ca_file = Some(key.clone());
        assert_eq!(
            send_email(&s, "s", "b").await.unwrap_err().to_string(),
            format!(
                "cannot set up TLS for 127.0.0.1:{port}: CA file {} holds no PEM certificate \
                 (-----BEGIN CERTIFICATE-----)",
                key.display()
            )
        );

        // Broken base64 inside a certificate section.
        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        s.ca_file = Some(broken.clone());
        let msg = send_email(&s, "s", "b").await.unwrap_err().to_string();
        assert!(
            msg.contains(&format!(
                "CA file {} is not a valid PEM certificate bundle: ",
                broken.display()
            )),
            "{msg}"
        );
    }
}

#[test]
fn check_ca_file_counts_the_certificates_the_config_will_trust() {
    assert_eq!(check_ca_file(&test_ca_file()).unwrap(), 1);

    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle.pem");
    let ca = std::fs::read_to_string(test_ca_file()).unwrap();
    std::fs::write(&bundle, format!("{ca}{}", unrelated_ca_pem())).unwrap();
    assert_eq!(check_ca_file(&bundle).unwrap(), 2);

    let missing = dir.path().join("nope.pem");
    let err = check_ca_file(&missing).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("cannot read CA file {}: ", missing.display())),
        "{err}"
    );
}

#[tokio::test]
async fn plain_smtp_ignores_the_ca_file() {
    let sink = SmtpSink::start().await;
    let mut s = settings(sink.port());
    s.ca_file = Some("/nonexistent/ca.pem".into());
    send_email(&s, "s", "b\n").await.unwrap();
    let mails = sink.wait_for(1, Duration::from_secs(5)).await;
    assert!(!mails[0].tls);
}
