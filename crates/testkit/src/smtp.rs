//! A real SMTP server on loopback that accepts every message and keeps it for the test.
//!
//! It speaks enough of RFC 5321 for real clients (lettre, sendmail-alikes): greeting, EHLO/HELO,
//! AUTH PLAIN/LOGIN, MAIL FROM, RCPT TO, DATA with dot-unstuffing, RSET, NOOP and QUIT.
//!
//! By default it does not offer STARTTLS, on purpose: a client that insists on TLS must fail
//! against it, which is exactly what a test of "TLS required" wants to see. With
//! [`SinkTls::StartTls`] it offers STARTTLS (RFC 3207) and upgrades the session; with
//! [`SinkTls::Implicit`] it speaks TLS from the first byte (SMTPS). Either way it presents a
//! certificate for `127.0.0.1` and `localhost` signed by the test CA of [`test_ca_file`], and
//! [`ReceivedMail::tls`] tells whether a message came over an encrypted session.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types};

/// Longest command or data line accepted; longer lines end the session (RFC 5321 allows 1000).
const MAX_LINE: usize = 64 * 1024;

// The TLS sink reuses the HTTP monitor's test PKI (see generate.sh there): a private CA and a
// leaf for `localhost` and `127.0.0.1`, valid for 100 years. Test artefacts, not secrets.
/// The sink's certificate (DER), for `localhost` and `127.0.0.1`.
const LEAF: &[u8] = include_bytes!("../../sensors/src/http/testdata/leaf.der");
/// Its private key (PKCS#8 DER).
const LEAF_KEY: &[u8] = include_bytes!("../../sensors/src/http/testdata/leaf.key.der");
/// Where the CA lives, relative to this crate.
const TEST_CA_FILE: &str = "../sensors/src/http/testdata/ca.pem";

/// The PEM file of the private test CA that signed the TLS sink's certificate: what a client
/// must trust (e.g. as its `ca_file`) to talk to [`SinkTls::StartTls`] or [`SinkTls::Implicit`].
/// Without it, the certificate is untrusted, as a self-signed one would be.
pub fn test_ca_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(TEST_CA_FILE)
}

/// A PEM certificate that did NOT sign the sink's certificate (a self-signed one for
/// `utctime.example`): a `ca_file` holding it must make a client refuse the sink.
pub fn unrelated_ca_pem() -> String {
    let der = include_bytes!("../../sensors/src/http/testdata/utc.der");
    let base64 = encode_base64(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in base64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// Whether and how the sink speaks TLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SinkTls {
    /// Plain text only; STARTTLS is not offered.
    #[default]
    None,
    /// Plain greeting, STARTTLS offered in the EHLO reply and upgraded on request (port 587
    /// style). Clients may still send without upgrading; [`ReceivedMail::tls`] tells.
    StartTls,
    /// TLS from the first byte (SMTPS, port 465 style).
    Implicit,
}

/// How a sink behaves; `SinkOptions::default()` is [`SmtpSink::start`]'s plain, open sink.
#[derive(Clone, Debug, Default)]
pub struct SinkOptions {
    /// When set, `MAIL FROM` is refused until the client logged in with this user and password.
    pub login: Option<(String, String)>,
    /// TLS mode.
    pub tls: SinkTls,
}

/// One message as the sink received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope sender from `MAIL FROM:<...>` (empty for the null sender).
    pub mail_from: String,
    /// The envelope recipients from `RCPT TO:<...>`, in order.
    pub rcpt_to: Vec<String>,
    /// The message after dot-unstuffing, headers and body, line endings as sent (CRLF).
    pub data: String,
    /// The user name the client authenticated as, if it did.
    pub auth_user: Option<String>,
    /// Whether the message came over an encrypted session (implicit TLS, or after STARTTLS).
    pub tls: bool,
}

impl ReceivedMail {
    /// The first header called `name` (case-insensitive), unfolded, without MIME decoding.
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = split_message(&self.data);
        let mut found: Option<String> = None;
        for line in head.lines() {
            if let Some(value) = found.as_mut() {
                // Folded continuation lines start with white space (RFC 5322 section 2.2.3).
                if line.starts_with([' ', '\t']) {
                    value.push(' ');
                    value.push_str(line.trim());
                    continue;
                }
                break;
            }
            if let Some((n, v)) = line.split_once(':')
                && n.eq_ignore_ascii_case(name)
            {
                found = Some(v.trim().to_string());
            }
        }
        found
    }

    /// The body, decoded from its `Content-Transfer-Encoding` (quoted-printable, base64 or
    /// none), with line endings turned into `\n`, so tests can compare it with what was sent.
    pub fn body(&self) -> String {
        let (_, body) = split_message(&self.data);
        let encoding = self
            .header("Content-Transfer-Encoding")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let bytes = match encoding.as_str() {
            "quoted-printable" => decode_quoted_printable(body),
            "base64" => decode_base64(body).unwrap_or_else(|| body.as_bytes().to_vec()),
            _ => body.as_bytes().to_vec(),
        };
        String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
    }
}

struct Shared {
    rules: SinkOptions,
    /// Present for the TLS modes.
    acceptor: Option<TlsAcceptor>,
    mails: Mutex<Vec<ReceivedMail>>,
    count: watch::Sender<usize>,
}

impl Shared {
    fn record(&self, mail: ReceivedMail) {
        let mut mails = self.mails.lock().unwrap_or_else(|e| e.into_inner());
        mails.push(mail);
        self.count.send_replace(mails.len());
    }
}

/// An SMTP server on `127.0.0.1` that records what it receives. Stops when dropped.
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl SmtpSink {
    /// Starts a sink that accepts any client, authenticated or not.
    ///
    /// Panics when no loopback port can be bound: a test cannot go on without it.
    pub async fn start() -> SmtpSink {
        Self::start_with(SinkOptions::default()).await
    }

    /// Starts a sink that refuses mail until the client logs in as `user` with `password`.
    pub async fn start_requiring_auth(user: &str, password: &str) -> SmtpSink {
        Self::start_with(SinkOptions {
            login: Some((user.to_string(), password.to_string())),
            ..SinkOptions::default()
        })
        .await
    }

    /// Starts an open sink that offers STARTTLS (trust [`test_ca_file`] to verify it).
    pub async fn start_starttls() -> SmtpSink {
        Self::start_with(SinkOptions {
            tls: SinkTls::StartTls,
            ..SinkOptions::default()
        })
        .await
    }

    /// Starts an open sink that speaks TLS from the first byte (trust [`test_ca_file`]).
    pub async fn start_tls() -> SmtpSink {
        Self::start_with(SinkOptions {
            tls: SinkTls::Implicit,
            ..SinkOptions::default()
        })
        .await
    }

    /// Starts a sink with any combination of options.
    ///
    /// Panics when no loopback port can be bound: a test cannot go on without it.
    pub async fn start_with(rules: SinkOptions) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an SMTP sink on 127.0.0.1");
        let addr = listener.local_addr().expect("SMTP sink address");
        let acceptor = (rules.tls != SinkTls::None).then(tls_acceptor);
        let shared = Arc::new(Shared {
            rules,
            acceptor,
            mails: Mutex::new(Vec::new()),
            count: watch::channel(0).0,
        });
        let accept_shared = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            // The sessions live in this set, so aborting the accept task ends them too.
            let mut sessions = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let shared = Arc::clone(&accept_shared);
                        sessions.spawn(async move {
                            // A session that breaks only ends itself; the test sees the missing mail.
                            let _ = serve(stream, &shared).await;
                        });
                    }
                    Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
                }
            }
        });
        SmtpSink { addr, shared, task }
    }

    /// The host to connect to: always `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// The port the sink listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every message received so far, in order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.shared
            .mails
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until at least `n` messages arrived and returns them all.
    ///
    /// Panics after `timeout` with what did arrive, so a failing test says what it saw.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let mut rx = self.shared.count.subscribe();
        let arrived = tokio::time::timeout(timeout, rx.wait_for(|count| *count >= n)).await;
        if !matches!(arrived, Ok(Ok(_))) {
            panic!(
                "SMTP sink: expected {n} message(s) within {timeout:?}, got {:#?}",
                self.messages()
            );
        }
        self.messages()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The server side of TLS with the test certificate.
fn tls_acceptor() -> TlsAcceptor {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions of the SMTP sink")
        .with_no_client_auth()
        .with_single_cert(
            vec![pki_types::CertificateDer::from(LEAF.to_vec())],
            pki_types::PrivateKeyDer::Pkcs8(pki_types::PrivatePkcs8KeyDer::from(LEAF_KEY.to_vec())),
        )
        .expect("the SMTP sink's test certificate and key");
    TlsAcceptor::from(Arc::new(config))
}

/// A plain or TLS connection, so one session loop serves both.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// The connection of a session, buffered for line reading; writes go straight through.
type Conn = BufReader<Box<dyn Stream>>;

/// How a session loop ended.
enum Ended {
    /// The client quit or the connection closed.
    Closed,
    /// The client asked for STARTTLS and got `220`: the handshake comes next.
    StartTls(Conn),
}

/// One connection, from the first byte (or TLS handshake) to the end.
async fn serve(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let plain: Box<dyn Stream> = Box::new(stream);
    let Some(acceptor) = &shared.acceptor else {
        return session(BufReader::new(plain), shared, false)
            .await
            .map(drop);
    };
    if shared.rules.tls == SinkTls::Implicit {
        let tls = acceptor.accept(plain).await?;
        return session(BufReader::new(Box::new(tls)), shared, true)
            .await
            .map(drop);
    }
    let Ended::StartTls(conn) = session(BufReader::new(plain), shared, false).await? else {
        return Ok(());
    };
    // RFC 3207 section 4.2: nothing the client sent before the handshake may be carried into
    // the encrypted session (that would be plain-text command injection).
    if !conn.buffer().is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "data pipelined after STARTTLS",
        ));
    }
    let tls = acceptor.accept(conn.into_inner()).await?;
    // After the upgrade the client starts over with EHLO, without a new greeting.
    session(BufReader::new(Box::new(tls)), shared, true)
        .await
        .map(drop)
}

/// Writes one reply and flushes it (TLS buffers what it encrypts).
async fn reply(conn: &mut Conn, text: &str) -> std::io::Result<()> {
    conn.write_all(text.as_bytes()).await?;
    conn.flush().await
}

/// One SMTP session on `conn`: returns when the client quits, the connection breaks, or the
/// client starts TLS. `tls` says whether `conn` is already encrypted; an unencrypted session
/// starts with the greeting, an encrypted one after STARTTLS does not (implicit TLS does).
async fn session(mut conn: Conn, shared: &Shared, tls: bool) -> std::io::Result<Ended> {
    let upgraded = tls && shared.rules.tls == SinkTls::StartTls;
    if !upgraded {
        reply(&mut conn, "220 periscope-sink ESMTP ready\r\n").await?;
    }
    let offer_starttls = shared.rules.tls == SinkTls::StartTls && !tls;
    let mut from: Option<String> = None;
    let mut rcpt: Vec<String> = Vec::new();
    let mut auth_user: Option<String> = None;

    while let Some(line) = read_line(&mut conn).await? {
        let (verb, arg) = match line.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim().to_string()),
            None => (line.to_ascii_uppercase(), String::new()),
        };
        let answer: String = match verb.as_str() {
            "EHLO" => {
                (from, rcpt) = (None, Vec::new());
                let starttls = if offer_starttls {
                    "250-STARTTLS\r\n"
                } else {
                    ""
                };
                format!(
                    "250-periscope-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n{starttls}250-AUTH PLAIN LOGIN\r\n250 HELP\r\n"
                )
            }
            "HELO" => {
                (from, rcpt) = (None, Vec::new());
                "250 periscope-sink\r\n".into()
            }
            "STARTTLS" if offer_starttls => {
                reply(&mut conn, "220 2.0.0 Ready to start TLS\r\n").await?;
                return Ok(Ended::StartTls(conn));
            }
            "STARTTLS" if tls => "503 5.5.1 TLS already active\r\n".into(),
            "AUTH" => match authenticate(&arg, &mut conn, &shared.rules).await? {
                Some(user) => {
                    auth_user = Some(user);
                    "235 2.7.0 Authentication successful\r\n".into()
                }
                None => "535 5.7.8 Authentication credentials invalid\r\n".into(),
            },
            "MAIL" => match path_arg(&arg, "FROM:") {
                _ if shared.rules.login.is_some() && auth_user.is_none() => {
                    "530 5.7.0 Authentication required\r\n".into()
                }
                Some(addr) => {
                    (from, rcpt) = (Some(addr), Vec::new());
                    "250 2.1.0 OK\r\n".into()
                }
                None => "501 5.5.4 Syntax: MAIL FROM:<address>\r\n".into(),
            },
            "RCPT" => match path_arg(&arg, "TO:") {
                _ if from.is_none() => "503 5.5.1 MAIL first\r\n".into(),
                Some(addr) => {
                    rcpt.push(addr);
                    "250 2.1.5 OK\r\n".into()
                }
                None => "501 5.5.4 Syntax: RCPT TO:<address>\r\n".into(),
            },
            "DATA" if rcpt.is_empty() => "503 5.5.1 RCPT first\r\n".into(),
            "DATA" => {
                reply(&mut conn, "354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                let Some(data) = read_data(&mut conn).await? else {
                    return Ok(Ended::Closed);
                };
                shared.record(ReceivedMail {
                    mail_from: from.take().unwrap_or_default(),
                    rcpt_to: std::mem::take(&mut rcpt),
                    data,
                    auth_user: auth_user.clone(),
                    tls,
                });
                "250 2.0.0 OK queued\r\n".into()
            }
            "RSET" => {
                (from, rcpt) = (None, Vec::new());
                "250 2.0.0 OK\r\n".into()
            }
            "NOOP" => "250 2.0.0 OK\r\n".into(),
            "QUIT" => {
                reply(&mut conn, "221 2.0.0 Bye\r\n").await?;
                return Ok(Ended::Closed);
            }
            _ => "502 5.5.2 Command not implemented\r\n".into(),
        };
        reply(&mut conn, &answer).await?;
    }
    Ok(Ended::Closed)
}

/// Runs an AUTH exchange; returns the user name when the credentials are accepted.
async fn authenticate(
    arg: &str,
    conn: &mut Conn,
    rules: &SinkOptions,
) -> std::io::Result<Option<String>> {
    let (mechanism, initial) = match arg.split_once(' ') {
        Some((m, i)) => (m.to_ascii_uppercase(), Some(i.trim().to_string())),
        None => (arg.to_ascii_uppercase(), None),
    };
    let (user, password) = match mechanism.as_str() {
        "PLAIN" => {
            let response = match initial {
                Some(i) => i,
                None => {
                    reply(conn, "334 \r\n").await?;
                    read_line(conn).await?.unwrap_or_default()
                }
            };
            // authzid NUL authcid NUL passwd (RFC 4616).
            let decoded = decode_base64(&response).unwrap_or_default();
            let mut parts = decoded.split(|b| *b == 0).skip(1);
            let user = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            let password = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            (user, password)
        }
        "LOGIN" => {
            reply(conn, "334 VXNlcm5hbWU6\r\n").await?; // "Username:"
            let user = read_line(conn).await?.unwrap_or_default();
            reply(conn, "334 UGFzc3dvcmQ6\r\n").await?; // "Password:"
            let password = read_line(conn).await?.unwrap_or_default();
            let text = |s: &str| {
                String::from_utf8_lossy(&decode_base64(s).unwrap_or_default()).into_owned()
            };
            (text(&user), text(&password))
        }
        _ => return Ok(None),
    };
    let accepted = match &rules.login {
        Some((u, p)) => *u == user && *p == password,
        None => true,
    };
    Ok(accepted.then_some(user))
}

/// Reads one line without its line ending; `None` at end of stream.
async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = (&mut *reader)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut buf)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if !buf.ends_with(b"\n") && n >= MAX_LINE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "SMTP line too long",
        ));
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

/// Reads DATA up to the lone `.` line, undoing dot-stuffing; `None` if the client went away.
async fn read_data<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
) -> std::io::Result<Option<String>> {
    let mut data = String::new();
    while let Some(line) = read_line(reader).await? {
        if line == "." {
            return Ok(Some(data));
        }
        // RFC 5321 section 4.5.2: the client doubled every leading dot.
        data.push_str(line.strip_prefix('.').unwrap_or(&line));
        data.push_str("\r\n");
    }
    Ok(None)
}

/// The address inside `FROM:<addr> params` or `TO:<addr>`.
fn path_arg(arg: &str, prefix: &str) -> Option<String> {
    let head = arg.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = arg[prefix.len()..].trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_string())
}

/// Splits a message at the first empty line into header block and body.
fn split_message(data: &str) -> (&str, &str) {
    if let Some(i) = data.find("\r\n\r\n") {
        (&data[..i], &data[i + 4..])
    } else if let Some(i) = data.find("\n\n") {
        (&data[..i], &data[i + 2..])
    } else {
        (data, "")
    }
}

/// Standard base64 with padding.
fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 with padding; white space ignored. `None` on any other character.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Quoted-printable (RFC 2045 section 6.7): `=XX` escapes and `=` soft line breaks.
fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            let rest = &bytes[i + 1..];
            if rest.starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if rest.starts_with(b"\n") {
                i += 2;
                continue;
            }
            let hex = rest.get(..2).and_then(|h| std::str::from_utf8(h).ok());
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpStream;

    use super::*;

    /// Sends `lines` one at a time and returns every reply line the server wrote.
    async fn converse(port: u16, lines: &[&str]) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut transcript = String::new();
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).await.unwrap();
        transcript.push_str(&String::from_utf8_lossy(&buf[..n]));
        let mut in_data = false;
        for line in lines {
            stream
                .write_all(format!("{line}\r\n").as_bytes())
                .await
                .unwrap();
            // Message lines get no reply of their own; the closing dot does.
            if in_data && *line != "." {
                continue;
            }
            in_data = *line == "DATA";
            let n = stream.read(&mut buf).await.unwrap();
            transcript.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        transcript
    }

    #[tokio::test]
    async fn records_a_raw_exchange_with_dot_unstuffing() {
        let sink = SmtpSink::start().await;
        let transcript = converse(
            sink.port(),
            &[
                "EHLO test",
                "MAIL FROM:<a@example.com> SIZE=100",
                "RCPT TO:<b@example.com>",
                "RCPT TO:<c@example.com>",
                "DATA",
                "Subject: hi",
                "",
                "..leading dot",
                ".",
                "QUIT",
            ],
        )
        .await;
        assert!(transcript.starts_with("220 "), "{transcript}");
        assert!(transcript.contains("250-AUTH PLAIN LOGIN"), "{transcript}");
        assert!(transcript.contains("221 "), "{transcript}");
        let mails = sink.wait_for(1, Duration::from_secs(5)).await;
        assert_eq!(mails[0].mail_from, "a@example.com");
        assert_eq!(mails[0].rcpt_to, vec!["b@example.com", "c@example.com"]);
        assert_eq!(mails[0].data, "Subject: hi\r\n\r\n.leading dot\r\n");
        assert_eq!(mails[0].header("subject").as_deref(), Some("hi"));
        assert_eq!(mails[0].body(), ".leading dot\n");
    }

    #[tokio::test]
    async fn refuses_mail_without_login_when_credentials_are_required() {
        let sink = SmtpSink::start_requiring_auth("u", "p").await;
        // base64("\0u\0wrong") then base64("\0u\0p")
        let transcript = converse(
            sink.port(),
            &[
                "EHLO t",
                "MAIL FROM:<a@x>",
                "AUTH PLAIN AHUAd3Jvbmc=",
                "AUTH PLAIN AHUAcA==",
                "MAIL FROM:<a@x>",
            ],
        )
        .await;
        let codes: Vec<&str> = transcript
            .lines()
            .filter(|l| !l.starts_with("250-"))
            .map(|l| &l[..3])
            .collect();
        assert_eq!(
            codes,
            ["220", "250", "530", "535", "235", "250"],
            "{transcript}"
        );
    }

    #[tokio::test]
    async fn offers_starttls_only_in_starttls_mode() {
        let plain = SmtpSink::start().await;
        let transcript = converse(plain.port(), &["EHLO t", "STARTTLS"]).await;
        assert!(!transcript.contains("STARTTLS"), "{transcript}");
        assert!(transcript.ends_with("502 5.5.2 Command not implemented\r\n"));

        let sink = SmtpSink::start_starttls().await;
        let transcript = converse(sink.port(), &["EHLO t", "STARTTLS"]).await;
        assert!(transcript.contains("250-STARTTLS\r\n"), "{transcript}");
        assert!(
            transcript.ends_with("220 2.0.0 Ready to start TLS\r\n"),
            "{transcript}"
        );
    }

    #[test]
    fn the_test_ca_file_is_there() {
        let pem = std::fs::read_to_string(test_ca_file()).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    }

    #[test]
    fn base64_round_trips() {
        for text in ["", "h", "he", "hel", "hello world", "\u{0}\u{ff}é"] {
            let encoded = encode_base64(text.as_bytes());
            assert_eq!(
                decode_base64(&encoded).unwrap(),
                text.as_bytes(),
                "{encoded}"
            );
        }
        assert_eq!(encode_base64(b"hello world"), "aGVsbG8gd29ybGQ=");
        assert!(unrelated_ca_pem().starts_with("-----BEGIN CERTIFICATE-----\nMII"));
    }

    #[test]
    fn decodes_mime_bodies() {
        assert_eq!(decode_base64("aGVsbG8gd29ybGQ=").unwrap(), b"hello world");
        assert_eq!(
            decode_quoted_printable("caf=C3=A9 long=\r\nline"),
            "café longline".as_bytes()
        );
    }

    #[test]
    fn unfolds_headers() {
        let mail = ReceivedMail {
            mail_from: String::new(),
            rcpt_to: vec![],
            data: "Subject: a\r\n b\r\nTo: x\r\n\r\nbody".into(),
            auth_user: None,
            tls: false,
        };
        assert_eq!(mail.header("SUBJECT").as_deref(), Some("a b"));
        assert_eq!(mail.header("to").as_deref(), Some("x"));
        assert_eq!(mail.header("cc"), None);
    }
}
