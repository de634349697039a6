//! Sending report text by SMTP.
//!
//! One message per call, one connection per message: reports go out at most a few times an
//! hour, so a connection pool would only keep sockets open for nothing. Errors name the server
//! and what failed, and say whether trying again later can help, because the caller (the
//! `report` and `alerts` modes) decides between retrying and giving up.
//!
//! TLS (STARTTLS or SMTPS) verifies the server's certificate against the public web roots
//! (Mozilla's, built in), or, when `ca_file` is set, against the CA certificates of that file
//! *instead*: a server signed by an internal CA is trusted without also trusting the whole public
//! web PKI for it, and a public certificate for that host cannot stand in for the internal one.
//! There is deliberately no switch to turn verification off.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// How the connection to the SMTP server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// No encryption (a relay on localhost or a trusted network; typically port 25).
    Plain,
    /// Plain connection upgraded with STARTTLS, which is required: a server that does not
    /// offer it is an error, never a silent fallback to plain text (typically port 587).
    StartTls,
    /// TLS from the first byte, "SMTPS" (typically port 465).
    Tls,
}

impl fmt::Display for SmtpSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SmtpSecurity::Plain => "plain SMTP",
            SmtpSecurity::StartTls => "STARTTLS",
            SmtpSecurity::Tls => "TLS",
        })
    }
}

/// Where and how to send mail.
#[derive(Clone)]
pub struct SmtpSettings {
    /// Server host name or address; also the name its TLS certificate must match.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Connection protection.
    pub security: SmtpSecurity,
    /// Login name, when the server wants one (together with `password`).
    pub username: Option<String>,
    /// Password for `username`.
    pub password: Option<String>,
    /// Sender, `reports@example.com` or `Periscope <reports@example.com>`.
    pub from: String,
    /// Recipients, in the same forms as `from`.
    pub to: Vec<String>,
    /// How long connecting and the whole exchange may take.
    pub timeout: Duration,
    /// PEM file with one or more CA certificates to trust for the server's certificate
    /// *instead of* the built-in public roots (an internal mail server signed by a private CA).
    /// `None`: the public roots. Read at each send, so a renewed CA needs no restart. Unused
    /// with [`SmtpSecurity::Plain`].
    pub ca_file: Option<PathBuf>,
}

impl fmt::Debug for SmtpSettings {
    // By hand, so the password never lands in a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("from", &self.from)
            .field("to", &self.to)
            .field("timeout", &self.timeout)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl SmtpSettings {
    /// `host:port`, as errors name the server.
    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Why an e-mail was not sent.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// `to` is empty.
    #[error("no e-mail recipients configured (`to` is empty)")]
    NoRecipients,
    /// A sender or recipient address does not parse.
    #[error("invalid {field} address `{address}`: {reason}")]
    InvalidAddress {
        /// `from` or `to`.
        field: &'static str,
        /// The address as configured.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Only one of username and password is set.
    #[error(
        "SMTP login for {server} needs both a username and a password; only the {present} is set"
    )]
    IncompleteLogin {
        /// `host:port`.
        server: String,
        /// `username` or `password`.
        present: &'static str,
    },
    /// The message could not be assembled (e.g. a header value lettre refuses).
    #[error("cannot build the e-mail: {reason}")]
    Message {
        /// What lettre said.
        reason: String,
    },
    /// TLS could not be set up for the host name (before any connection).
    #[error("cannot set up TLS for {server}: {reason}")]
    Tls {
        /// `host:port`.
        server: String,
        /// What failed.
        reason: String,
    },
    /// The `ca_file` cannot be used (before any connection).
    #[error("cannot set up TLS for {server}: {error}")]
    CaFile {
        /// `host:port`.
        server: String,
        /// What is wrong with the file; names it.
        #[source]
        error: CaFileError,
    },
    /// Connecting, securing, logging in or delivering failed.
    #[error("cannot send e-mail via {server} ({security}): {reason}")]
    Send {
        /// `host:port`.
        server: String,
        /// The security that was asked for.
        security: SmtpSecurity,
        /// What failed, with the server's answer when it gave one.
        reason: String,
        /// Whether trying again later may succeed (connection trouble, timeouts, 4xx replies).
        transient: bool,
    },
}

/// Why a CA file cannot be used; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum CaFileError {
    /// The file cannot be read (missing, unreadable).
    #[error("cannot read CA file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A `CERTIFICATE` section is not valid PEM.
    #[error("CA file {} is not a valid PEM certificate bundle: {reason}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What the PEM parser said.
        reason: String,
    },
    /// No `-----BEGIN CERTIFICATE-----` section (e.g. a DER file, or a key).
    #[error("CA file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A certificate parses as PEM but cannot serve as a trust anchor.
    #[error("CA file {} holds a certificate that cannot be trusted as a CA: {reason}", path.display())]
    Unusable {
        /// The file.
        path: PathBuf,
        /// What the TLS library said.
        reason: String,
    },
}

/// Checks that `path` is a PEM file of CA certificates that [`send_email`] can trust, as the
/// configuration does at load time; returns how many certificates it holds.
pub fn check_ca_file(path: &Path) -> Result<usize, CaFileError> {
    let certs = read_ca_file(path)?;
    let count = certs.len();
    // The same construction `send_email` uses, so what passes here is accepted there.
    match tls_parameters("localhost", Some((path, certs))) {
        Ok(_) => Ok(count),
        Err(TlsSetupError::CaFile(e)) => Err(e),
        Err(TlsSetupError::Host(reason)) => Err(CaFileError::Unusable {
            path: path.to_path_buf(),
            reason,
        }),
    }
}

/// The certificates of a PEM file, at least one.
fn read_ca_file(path: &Path) -> Result<Vec<Certificate>, CaFileError> {
    let pem = std::fs::read(path).map_err(|source| CaFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let ders = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CaFileError::Pem {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if ders.is_empty() {
        return Err(CaFileError::Empty {
            path: path.to_path_buf(),
        });
    }
    ders.into_iter()
        .map(|der| {
            Certificate::from_der(der.to_vec()).map_err(|e| CaFileError::Unusable {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        })
        .collect()
}

/// Where TLS failed to build: the CA file's certificates, or the host name.
enum TlsSetupError {
    CaFile(CaFileError),
    Host(String),
}

/// TLS parameters for `host`: the public roots, or only the certificates read from a CA file.
fn tls_parameters(
    host: &str,
    ca: Option<(&Path, Vec<Certificate>)>,
) -> Result<TlsParameters, TlsSetupError> {
    let builder = TlsParameters::builder(host.to_string());
    let Some((path, certs)) = ca else {
        return builder
            .certificate_store(CertificateStore::WebpkiRoots)
            .build_rustls()
            .map_err(|e| TlsSetupError::Host(e.to_string()));
    };
    let builder = certs.into_iter().fold(
        builder.certificate_store(CertificateStore::None),
        |b, cert| b.add_root_certificate(cert),
    );
    // With only our own roots, the certificates are what can fail.
    builder.build_rustls().map_err(|e| {
        TlsSetupError::CaFile(CaFileError::Unusable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    })
}

impl EmailError {
    /// Whether trying again later may succeed. Configuration mistakes and permanent (5xx)
    /// refusals will fail the same way every time.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            EmailError::Send {
                transient: true,
                ..
            }
        )
    }
}

/// Sends one plain-text mail with `subject` and `text_body` to every recipient in `settings`.
pub async fn send_email(
    settings: &SmtpSettings,
    subject: &str,
    text_body: &str,
) -> Result<(), EmailError> {
    send_message(settings, &settings.to, subject, text_body, None).await
}

/// Sends one mail to `to` (instead of the settings' recipients) with a plain-text body and,
/// when given, an HTML alternative: the notifier's messages, which read well in any client.
pub async fn send_message(
    settings: &SmtpSettings,
    to: &[String],
    subject: &str,
    text_body: &str,
    html_body: Option<&str>,
) -> Result<(), EmailError> {
    let message = build_message(settings, to, subject, text_body, html_body)?;
    let transport = transport(settings)?;
    // lettre's timeout covers connecting only; this one also covers a server that accepts the
    // connection and then never answers.
    let sent = tokio::time::timeout(settings.timeout, transport.send(message)).await;
    transport.shutdown().await;
    match sent {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(send_error(settings, &e)),
        Err(_) => Err(EmailError::Send {
            server: settings.server(),
            security: settings.security,
            reason: format!(
                "no complete answer within {}",
                crate::value::duration(millis(settings.timeout))
            ),
            transient: true,
        }),
    }
}

fn build_message(
    settings: &SmtpSettings,
    to: &[String],
    subject: &str,
    text_body: &str,
    html_body: Option<&str>,
) -> Result<Message, EmailError> {
    if to.is_empty() {
        return Err(EmailError::NoRecipients);
    }
    let mut builder = Message::builder()
        .from(mailbox("from", &settings.from)?)
        .subject(subject);
    for address in to {
        builder = builder.to(mailbox("to", address)?);
    }
    let built = match html_body {
        None => builder
            .header(ContentType::TEXT_PLAIN)
            .body(text_body.to_string()),
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            text_body.to_string(),
            html.to_string(),
        )),
    };
    built.map_err(|e| EmailError::Message {
        reason: e.to_string(),
    })
}

fn mailbox(field: &'static str, address: &str) -> Result<Mailbox, EmailError> {
    address
        .trim()
        .parse::<Mailbox>()
        .map_err(|e| EmailError::InvalidAddress {
            field,
            address: address.to_string(),
            reason: e.to_string(),
        })
}

fn transport(settings: &SmtpSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, EmailError> {
    let server = settings.server();
    let tls = |wrap: fn(TlsParameters) -> Tls| tls_for(settings, &server).map(wrap);
    let tls = match settings.security {
        SmtpSecurity::Plain => Tls::None,
        SmtpSecurity::StartTls => tls(Tls::Required)?,
        SmtpSecurity::Tls => tls(Tls::Wrapper)?,
    };
    // `builder_dangerous` is the plain builder; `relay`/`starttls_relay` are it plus the TLS
    // mode set above, with the port set explicitly below either way.
    let mut builder =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.clone())
            .port(settings.port)
            .tls(tls)
            .timeout(Some(settings.timeout));
    match (&settings.username, &settings.password) {
        (Some(user), Some(password)) => {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        (None, None) => {}
        (Some(_), None) => {
            return Err(EmailError::IncompleteLogin {
                server,
                present: "username",
            });
        }
        (None, Some(_)) => {
            return Err(EmailError::IncompleteLogin {
                server,
                present: "password",
            });
        }
    }
    Ok(builder.build())
}

/// The TLS parameters `settings` ask for; errors name `server` (and the CA file).
fn tls_for(settings: &SmtpSettings, server: &str) -> Result<TlsParameters, EmailError> {
    let ca_error = |error| EmailError::CaFile {
        server: server.to_string(),
        error,
    };
    let ca = match &settings.ca_file {
        Some(path) => Some((path.as_path(), read_ca_file(path).map_err(ca_error)?)),
        None => None,
    };
    tls_parameters(&settings.host, ca).map_err(|e| match e {
        TlsSetupError::CaFile(error) => ca_error(error),
        TlsSetupError::Host(reason) => EmailError::Tls {
            server: server.to_string(),
            reason,
        },
    })
}

fn send_error(settings: &SmtpSettings, e: &lettre::transport::smtp::Error) -> EmailError {
    let mut reason = if e.is_timeout() {
        format!(
            "no answer within {}",
            crate::value::duration(millis(settings.timeout))
        )
    } else {
        // lettre nests its errors and repeats itself ("Connection error: Connection error: ...").
        let text = e.to_string();
        let mut parts: Vec<&str> = Vec::new();
        for part in text.split(": ") {
            if parts.last() != Some(&part) {
                parts.push(part);
            }
        }
        parts.join(": ")
    };
    // A plain-text greeting where TLS was expected: most likely the STARTTLS port.
    if settings.security == SmtpSecurity::Tls && reason.contains("InvalidContentType") {
        reason.push_str(
            " (the server did not answer in TLS; if it expects STARTTLS, usually on port 587, \
             use security \"starttls\")",
        );
    }
    // lettre reports a missing STARTTLS as an internal error; say what it means and what to do.
    if settings.security == SmtpSecurity::StartTls && reason.contains("STARTTLS is not supported") {
        reason = "the server does not offer STARTTLS, and it is required; use security \"tls\" if the \
                  server speaks TLS from the start (port 465), or \"plain\" only for a trusted relay"
            .to_string();
    }
    // lettre reports rustls' verdict as a connection error; retrying soon will not change it.
    let bad_certificate = reason.contains("invalid peer certificate");
    // The usual certificate trouble with an internal mail server: say which roots were used.
    if bad_certificate && reason.contains("UnknownIssuer") {
        match &settings.ca_file {
            None => reason.push_str(
                " (the server's certificate is not signed by a public CA; for an internal CA, \
                 set ca_file to that CA's PEM file)",
            ),
            Some(path) => reason.push_str(&format!(
                " (the server's certificate is not signed by a CA in {})",
                path.display()
            )),
        }
    }
    let transient = e.is_transient()
        || e.is_timeout()
        || !(bad_certificate || e.is_permanent() || e.is_client() || e.is_tls() || e.is_response());
    EmailError::Send {
        server: settings.server(),
        security: settings.security,
        reason,
        transient,
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
