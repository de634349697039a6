//! Tests against servers started here on 127.0.0.1: plain HTTP/1.1 written by hand, and TLS with
//! the certificates in `testdata/` (see `generate.sh`).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use model::{CheckContext, FactValue, Monitor, Observation, Status, Timestamp};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use super::der::certificate_validity;
use super::*;

const NOW: Timestamp = Timestamp(1_800_000_000_000);
const LEAF: &[u8] = include_bytes!("testdata/leaf.der");
const LEAF_KEY: &[u8] = include_bytes!("testdata/leaf.key.der");

/// What the test server answers.
#[derive(Clone)]
struct Reply {
    status: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    delay: Duration,
    /// Never answer (the connection stays open).
    silent: bool,
}

fn reply(status: &'static str, body: &str) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
        delay: Duration::ZERO,
        silent: false,
    }
}

struct Server {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(reply: Reply) -> Server {
    serve_with(reply, None).await
}

async fn serve_tls(reply: Reply) -> Server {
    use tokio_rustls::rustls::{self, pki_types};
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![pki_types::CertificateDer::from(LEAF.to_vec())],
            pki_types::PrivateKeyDer::Pkcs8(pki_types::PrivatePkcs8KeyDer::from(LEAF_KEY.to_vec())),
        )
        .unwrap();
    serve_with(
        reply,
        Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
    )
    .await
}

async fn serve_with(reply: Reply, tls: Option<tokio_rustls::TlsAcceptor>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    let task = tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let (reply, seen, tls) = (reply.clone(), Arc::clone(&seen), tls.clone());
            tokio::spawn(async move {
                match tls {
                    None => answer(socket, &reply, &seen).await,
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(socket).await {
                            answer(stream, &reply, &seen).await;
                        }
                    }
                }
            });
        }
    });
    Server {
        addr,
        requests,
        task,
    }
}

/// Reads one request (head and a Content-Length body) and writes the reply.
async fn answer(
    mut io: impl AsyncRead + AsyncWrite + Unpin,
    reply: &Reply,
    seen: &Mutex<Vec<String>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match io.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match io.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    seen.lock()
        .unwrap()
        .push(String::from_utf8_lossy(&buf).into_owned());
    if reply.silent {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    tokio::time::sleep(reply.delay).await;
    let mut out = format!(
        "HTTP/1.1 {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (name, value) in &reply.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let _ = io.write_all(out.as_bytes()).await;
    if !head.starts_with("head ") {
        let _ = io.write_all(&reply.body).await;
    }
    let _ = io.shutdown().await;
}

fn ctx(timeout: Duration) -> BuildContext {
    BuildContext {
        base_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/testdata"),
        timeout,
    }
}

fn build(settings: HttpSettings) -> HttpMonitor {
    settings
        .build("web", &ctx(Duration::from_secs(10)))
        .unwrap_or_else(|issues| panic!("{issues:?}"))
}

async fn check_at(m: &HttpMonitor, now: Timestamp) -> Observation {
    m.check(CheckContext { now, state: None })
        .await
        .expect("an HTTP check always observes")
}

async fn check(m: &HttpMonitor) -> Observation {
    check_at(m, NOW).await
}

fn value(obs: &Observation, name: &str) -> Option<f64> {
    obs.samples.iter().find(|s| s.name == name).map(|s| s.value)
}

#[tokio::test]
async fn ok_with_body_match() {
    let server = serve(reply("200 OK", "{\"status\":\"up\",\"db\":\"ok\"}")).await;
    let obs = check(&build(HttpSettings {
        body_contains: Some("\"status\":\"up\"".into()),
        body_regex: Some(r#""db":\s*"ok""#.into()),
        ..HttpSettings::new(server.url("http", "/health"))
    }))
    .await;
    assert_eq!(obs.outcome.status, Status::Ok, "{:?}", obs.outcome);
    assert!(
        obs.outcome.summary.starts_with("HTTP 200 OK in "),
        "{}",
        obs.outcome.summary
    );
    assert!(obs.outcome.details.starts_with(&format!(
        "GET {} -> HTTP/1.1 200 OK in ",
        server.url("http", "/health")
    )));
    assert_eq!(value(&obs, "periscope_http_up"), Some(1.0));
    assert_eq!(value(&obs, "periscope_http_status_code"), Some(200.0));
    assert!(value(&obs, "periscope_http_duration_seconds").is_some_and(|d| d > 0.0 && d < 5.0));
    assert!(
        value(&obs, "periscope_http_tls_cert_expiry_days").is_none(),
        "plain HTTP has no certificate"
    );
    assert!(obs.events.is_empty());
    let keys: Vec<&str> = obs.fragment.facts.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, ["url", "duration", "status_code"]);
    let request = &server.requests.lock().unwrap()[0];
    assert!(request.starts_with("GET /health HTTP/1.1\r\n"), "{request}");
    assert!(request.contains("user-agent: periscope/"), "{request}");
}

#[tokio::test]
async fn server_error_is_critical_and_shows_the_body() {
    let server = serve(reply("500 Internal Server Error", "database is down")).await;
    let obs = check(&build(HttpSettings::new(server.url("http", "/")))).await;
    assert_eq!(obs.outcome.status, Status::Critical);
    assert_eq!(
        obs.outcome.summary,
        "status 500 Internal Server Error, expected 200-399"
    );
    assert!(
        obs.outcome
            .details
            .ends_with("body (16 bytes read):\ndatabase is down"),
        "{}",
        obs.outcome.details
    );
    assert_eq!(
        value(&obs, "periscope_http_up"),
        Some(1.0),
        "the server answered"
    );
    assert_eq!(value(&obs, "periscope_http_status_code"), Some(500.0));
    assert_eq!(obs.events.len(), 1);
    assert_eq!(
        (obs.events[0].rule.as_str(), obs.events[0].status),
        ("status", Status::Critical)
    );
}

#[tokio::test]
async fn expected_statuses_can_be_listed() {
    let server = serve(reply("404 Not Found", "")).await;
    let url = server.url("http", "/gone");
    let listed = HttpSettings {
        expect_status: Some(OneOrMany::Many(vec![
            StatusItem::Code(200),
            StatusItem::Text("4xx".into()),
        ])),
        ..HttpSettings::new(&url)
    };
    assert_eq!(check(&build(listed)).await.outcome.status, Status::Ok);
    let only = HttpSettings {
        expect_status: Some(OneOrMany::One(StatusItem::Text("200-204".into()))),
        ..HttpSettings::new(&url)
    };
    assert_eq!(
        check(&build(only)).await.outcome.summary,
        "status 404 Not Found, expected 200-204"
    );
}

#[tokio::test]
async fn body_mismatches_are_critical() {
    let server = serve(reply("200 OK", "maintenance mode")).await;
    let obs = check(&build(HttpSettings {
        body_contains: Some("welcome".into()),
        body_regex: Some("^ok$".into()),
        ..HttpSettings::new(server.url("http", "/"))
    }))
    .await;
    assert_eq!(obs.outcome.status, Status::Critical);
    assert_eq!(
        obs.outcome.summary,
        "body does not contain \"welcome\"; body does not match /^ok$/"
    );
    assert_eq!(obs.events.len(), 2);
    assert!(obs.outcome.details.contains("maintenance mode"));
}

#[tokio::test]
async fn slow_response_against_latency_thresholds() {
    let server = serve(Reply {
        delay: Duration::from_millis(300),
        ..reply("200 OK", "ok")
    })
    .await;
    let url = server.url("http", "/");
    let settings = |w: &str, c: &str| HttpSettings {
        latency_warning: Some(w.parse().unwrap()),
        latency_critical: Some(c.parse().unwrap()),
        ..HttpSettings::new(&url)
    };
    let obs = check(&build(settings("100ms", "5s"))).await;
    assert_eq!(obs.outcome.status, Status::Warning, "{:?}", obs.outcome);
    assert!(
        obs.outcome.summary.starts_with("response took "),
        "{}",
        obs.outcome.summary
    );
    assert!(
        obs.outcome.summary.ends_with(" (warning above 100ms)"),
        "{}",
        obs.outcome.summary
    );
    let obs = check(&build(settings("50ms", "200ms"))).await;
    assert_eq!(obs.outcome.status, Status::Critical);
    assert!(
        obs.outcome.summary.ends_with(" (critical above 200ms)"),
        "{}",
        obs.outcome.summary
    );
    assert_eq!(obs.events.len(), 1, "only the worse latency finding");
    let obs = check(&build(settings("5s", "9s"))).await;
    assert_eq!(obs.outcome.status, Status::Ok);
    assert!(value(&obs, "periscope_http_duration_seconds").is_some_and(|d| d >= 0.3));
}

#[tokio::test]
async fn connection_refused_is_critical_with_the_reason() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let obs = check(&build(HttpSettings::new(&url))).await;
    assert_eq!(obs.outcome.status, Status::Critical);
    assert_eq!(
        obs.outcome.summary,
        format!("cannot connect to {url}: Connection refused (os error 111)")
    );
    assert!(
        obs.outcome.details.contains("caused by"),
        "{}",
        obs.outcome.details
    );
    assert_eq!(value(&obs, "periscope_http_up"), Some(0.0));
    assert_eq!(value(&obs, "periscope_http_status_code"), None);
    assert_eq!(obs.events[0].rule, "connection");
}

#[tokio::test]
async fn no_answer_times_out_as_critical() {
    let server = serve(Reply {
        silent: true,
        ..reply("200 OK", "")
    })
    .await;
    let m = HttpSettings::new(server.url("http", "/"))
        .build("web", &ctx(Duration::from_secs(1)))
        .unwrap();
    let start = Instant::now();
    let obs = check(&m).await;
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(obs.outcome.status, Status::Critical);
    assert_eq!(
        obs.outcome.summary,
        format!("no response from {} within 1s", server.url("http", "/"))
    );
    assert_eq!(value(&obs, "periscope_http_up"), Some(0.0));
}

#[tokio::test]
async fn post_sends_headers_and_body() {
    let server = serve(reply("201 Created", "done")).await;
    let obs = check(&build(HttpSettings {
        method: Some("post".into()),
        headers: [
            ("X-Token".to_string(), "abc".to_string()),
            ("Content-Type".to_string(), "application/json".to_string()),
        ]
        .into(),
        body: Some("{\"ping\":true}".into()),
        ..HttpSettings::new(server.url("http", "/api"))
    }))
    .await;
    assert_eq!(obs.outcome.status, Status::Ok, "{:?}", obs.outcome);
    let request = server.requests.lock().unwrap()[0].clone();
    assert!(request.starts_with("POST /api HTTP/1.1\r\n"), "{request}");
    assert!(
        request.contains("x-token: abc\r\n")
            && request.contains("content-type: application/json\r\n"),
        "{request}"
    );
    assert!(request.ends_with("\r\n\r\n{\"ping\":true}"), "{request}");
}

#[tokio::test]
async fn head_and_redirects() {
    let server = serve(Reply {
        headers: vec![("Location", "/final".into())],
        ..reply("302 Found", "")
    })
    .await;
    let url = server.url("http", "/start");
    let obs = check(&build(HttpSettings {
        method: Some("HEAD".into()),
        ..HttpSettings::new(&url)
    }))
    .await;
    assert_eq!(
        (
            obs.outcome.status,
            value(&obs, "periscope_http_status_code")
        ),
        (Status::Ok, Some(302.0))
    );
    assert!(server.requests.lock().unwrap()[0].starts_with("HEAD /start "));

    // Following the redirect lands on the same server, which redirects again: 10 hops, then an error.
    let obs = check(&build(HttpSettings {
        follow_redirects: true,
        ..HttpSettings::new(&url)
    }))
    .await;
    assert_eq!(obs.outcome.status, Status::Critical);
    assert!(
        obs.outcome.summary.contains("too many redirects"),
        "{}",
        obs.outcome.summary
    );
}

#[tokio::test]
async fn big_bodies_are_read_only_in_part() {
    let mut body = vec![b'x'; 2 * MAX_BODY_BYTES];
    body.extend_from_slice(b"THE END");
    let server = serve(Reply {
        body,
        ..reply("200 OK", "")
    })
    .await;
    let obs = check(&build(HttpSettings {
        body_contains: Some("THE END".into()),
        ..HttpSettings::new(server.url("http", "/"))
    }))
    .await;
    assert_eq!(
        obs.outcome.summary,
        format!("body does not contain \"THE END\" (in the first {MAX_BODY_BYTES} bytes)")
    );
    assert!(
        obs.outcome.details.len() < 2000,
        "the details show a snippet only"
    );
}

// ---- TLS -------------------------------------------------------------------------------------

fn not_after() -> Timestamp {
    certificate_validity(LEAF).unwrap().not_after
}

fn days_before_expiry(days: f64) -> Timestamp {
    not_after().plus_millis(-(days * 86_400_000.0) as i64)
}

#[tokio::test]
async fn certificate_ten_days_from_expiry_warns_without_verification() {
    let server = serve_tls(reply("200 OK", "secure")).await;
    let m = build(HttpSettings {
        tls_verify: false,
        ..HttpSettings::new(server.url("https", "/"))
    });
    let obs = check_at(&m, days_before_expiry(10.0)).await;
    assert_eq!(obs.outcome.status, Status::Warning, "{:?}", obs.outcome);
    assert_eq!(
        obs.outcome.summary,
        format!(
            "certificate expires in 10.0 days, on {} (warning below 21 days)",
            not_after()
        )
    );
    assert_eq!(
        value(&obs, "periscope_http_tls_cert_expiry_days"),
        Some(10.0)
    );
    let unit = obs
        .samples
        .iter()
        .find(|s| s.name == "periscope_http_tls_cert_expiry_days")
        .and_then(|s| s.unit.clone());
    assert_eq!(unit.as_deref(), Some("d"));
    assert_eq!(obs.events[0].rule, "tls_cert");
    let expires = obs
        .fragment
        .facts
        .iter()
        .find(|f| f.key == "tls_cert_expires")
        .map(|f| &f.value);
    assert_eq!(expires, Some(&FactValue::Time(not_after())));

    let obs = check_at(&m, days_before_expiry(3.0)).await;
    assert_eq!(obs.outcome.status, Status::Critical);
    assert!(
        obs.outcome.summary.ends_with("(critical below 7 days)"),
        "{}",
        obs.outcome.summary
    );
    let obs = check_at(&m, days_before_expiry(-2.0)).await;
    assert_eq!(obs.outcome.status, Status::Critical);
    assert_eq!(
        obs.outcome.summary,
        format!("certificate expired 2 days ago, on {}", not_after())
    );
}

#[tokio::test]
async fn certificate_checked_against_a_ca_file() {
    let server = serve_tls(reply("200 OK", "secure")).await;
    let m = build(HttpSettings {
        ca_file: Some("ca.pem".into()),
        ..HttpSettings::new(server.url("https", "/"))
    });
    let obs = check_at(&m, days_before_expiry(10.0)).await;
    assert_eq!(obs.outcome.status, Status::Warning, "{:?}", obs.outcome);
    assert!(
        obs.outcome
            .summary
            .starts_with("certificate expires in 10.0 days"),
        "{}",
        obs.outcome.summary
    );

    let obs = check_at(&m, days_before_expiry(400.0)).await;
    assert_eq!(obs.outcome.status, Status::Ok, "{:?}", obs.outcome);
    assert!(
        obs.outcome
            .summary
            .ends_with(", certificate valid for 400 more days"),
        "{}",
        obs.outcome.summary
    );
    assert!(obs.outcome.details.contains(
        "certificate valid from 2026-11-21T02:36:22.000Z until 2126-10-28T02:36:22.000Z"
    ));
}

#[tokio::test]
async fn untrusted_certificate_is_critical() {
    let server = serve_tls(reply("200 OK", "secure")).await;
    let url = server.url("https", "/");
    let obs = check(&build(HttpSettings::new(&url))).await;
    assert_eq!(obs.outcome.status, Status::Critical, "{:?}", obs.outcome);
    assert!(
        obs.outcome
            .summary
            .starts_with(&format!("cannot connect to {url}: ")),
        "{}",
        obs.outcome.summary
    );
    assert!(
        obs.outcome.summary.to_lowercase().contains("certificate"),
        "{}",
        obs.outcome.summary
    );
    assert_eq!(value(&obs, "periscope_http_up"), Some(0.0));
}

// ---- Settings --------------------------------------------------------------------------------

fn issues(settings: HttpSettings) -> Vec<String> {
    match settings.build("web", &ctx(Duration::from_secs(5))) {
        Ok(m) => panic!("expected issues, built {m:?}"),
        Err(issues) => issues.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn settings_from_toml() {
    let s: HttpSettings = toml::from_str(
        r#"
        url = "https://example.com/health"
        method = "POST"
        headers = { Authorization = "Bearer x" }
        body = "{}"
        expect_status = [200, "3xx", "400-404"]
        body_contains = "up"
        body_regex = "u+p"
        latency_warning = "500ms"
        latency_critical = "2s"
        tls_cert_warning_days = 30
        tls_cert_critical_days = 10
        tls_verify = true
        follow_redirects = true
        "#,
    )
    .unwrap();
    assert_eq!(
        s.latency_warning,
        Some(jiff::SignedDuration::from_millis(500))
    );
    let m = s.build("web", &ctx(Duration::from_secs(5))).unwrap();
    assert_eq!(m.expect, [(200, 200), (300, 399), (400, 404)]);
    assert_eq!(m.latency_critical, Some(Duration::from_secs(2)));
    assert_eq!((m.cert_warning_days, m.cert_critical_days), (30, 10));

    let single: HttpSettings = toml::from_str("url = 'http://x/'\nexpect_status = 204").unwrap();
    assert_eq!(
        single
            .build("web", &ctx(Duration::from_secs(5)))
            .unwrap()
            .expect,
        [(204, 204)]
    );
    let defaults = HttpSettings::new("http://x/")
        .build("web", &ctx(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(
        (defaults.expect.as_slice(), defaults.method.as_str()),
        (&[(200, 399)][..], "GET")
    );
    assert_eq!(
        (defaults.cert_warning_days, defaults.cert_critical_days),
        (21, 7)
    );

    let err = toml::from_str::<HttpSettings>("url = 'http://x/'\ntimeout_ms = 5").unwrap_err();
    assert!(
        err.to_string().contains("unknown field `timeout_ms`"),
        "{err}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let found = issues(HttpSettings {
        url: "ftp://example.com/".into(),
        method: Some("DELETE".into()),
        headers: [
            ("Bad Name".to_string(), "x".to_string()),
            ("X-Ok".to_string(), "line\nbreak".to_string()),
        ]
        .into(),
        body: Some("x".into()),
        expect_status: Some(OneOrMany::Many(vec![
            StatusItem::Code(99),
            StatusItem::Text("3xx".into()),
            StatusItem::Text("299-200".into()),
        ])),
        body_regex: Some("(unclosed".into()),
        latency_warning: Some(jiff::SignedDuration::from_secs(2)),
        latency_critical: Some(jiff::SignedDuration::from_secs(1)),
        tls_cert_warning_days: 3,
        tls_cert_critical_days: 7,
        ca_file: Some("missing.pem".into()),
        ..HttpSettings::default()
    });
    let paths: Vec<&str> = found.iter().map(|i| i.split(':').next().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "url",
            "method",
            "body",
            "headers.Bad Name",
            "headers.X-Ok",
            "expect_status.0",
            "expect_status.2",
            "body_regex",
            "latency_warning",
            "tls_cert_warning_days",
            "ca_file"
        ],
        "{found:#?}"
    );
    assert_eq!(
        found[0],
        "url: unsupported scheme `ftp` in `ftp://example.com/` (hint: use http:// or https://)"
    );
    assert_eq!(
        found[1],
        "method: unsupported method `DELETE` (hint: use GET, HEAD or POST)"
    );
    assert!(
        found[5].starts_with("expect_status.0: 99 is not an HTTP status code"),
        "{}",
        found[5]
    );
    assert!(
        found[6].starts_with("expect_status.2: range `299-200` runs backwards"),
        "{}",
        found[6]
    );
    assert!(
        found[7].starts_with("body_regex: invalid regex: "),
        "{}",
        found[7]
    );
    assert_eq!(
        found[8],
        "latency_warning: latency_warning (2s) is not below latency_critical (1s)"
    );
    assert!(found[10].starts_with(&format!(
        "ca_file: cannot read {}",
        ctx(Duration::ZERO).base_dir.join("missing.pem").display()
    )));
}

#[test]
fn more_setting_problems() {
    assert_eq!(
        issues(HttpSettings::default()),
        ["url: missing (hint: e.g. url = \"https://example.com/health\")"]
    );
    assert!(
        issues(HttpSettings::new("not a url"))[0].starts_with("url: invalid URL `not a url`: ")
    );
    let head = issues(HttpSettings {
        method: Some("HEAD".into()),
        body_contains: Some("x".into()),
        ..HttpSettings::new("http://x/")
    });
    assert_eq!(
        head,
        ["body_contains: HEAD responses have no body to match (hint: use method = \"GET\")"]
    );
    let both = issues(HttpSettings {
        tls_verify: false,
        ca_file: Some("ca.pem".into()),
        ..HttpSettings::new("https://x/")
    });
    assert_eq!(
        both,
        [
            "ca_file: ca_file is set but tls_verify = false, so it would not be used (hint: remove one of them)"
        ]
    );
    let not_pem = issues(HttpSettings {
        ca_file: Some("generate.sh".into()),
        ..HttpSettings::new("https://x/")
    });
    assert!(
        not_pem[0].starts_with("ca_file: ") && not_pem[0].contains("generate.sh"),
        "{not_pem:?}"
    );
    let zero = issues(HttpSettings {
        latency_warning: Some(jiff::SignedDuration::ZERO),
        ..HttpSettings::new("http://x/")
    });
    assert_eq!(zero, ["latency_warning: must be above zero, got 0s"]);
    let empty = issues(HttpSettings {
        expect_status: Some(OneOrMany::Many(vec![])),
        ..HttpSettings::new("http://x/")
    });
    assert!(empty[0].starts_with("expect_status: empty list accepts no status"));
}

#[tokio::test]
async fn unknown_host_is_critical_and_says_so() {
    // `.invalid` never resolves (RFC 6761), with or without network access.
    let obs = check(&build(HttpSettings::new("http://periscope-test.invalid/"))).await;
    assert_eq!(obs.outcome.status, Status::Critical);
    assert!(
        obs.outcome
            .summary
            .starts_with("cannot resolve the host of http://periscope-test.invalid/: "),
        "{}",
        obs.outcome.summary
    );
}
