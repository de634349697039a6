//! One HTTP check: send, read a bounded body, judge, and describe what was seen.

use std::error::Error;
use std::time::{Duration, Instant};

use model::{
    CheckOutcome, Event, Fact, FactValue, Fragment, MonitorError, Observation, Sample, Status,
    Timestamp,
};

use super::der::certificate_validity;
use super::{HttpMonitor, MAX_BODY_BYTES, fmt_duration, fmt_expect};

/// 1 when an HTTP response arrived (whatever its status), 0 when none did.
pub const UP_METRIC: &str = "periscope_http_up";
/// The response's status code.
pub const STATUS_CODE_METRIC: &str = "periscope_http_status_code";
/// From sending the request to having read the body (or giving up).
pub const DURATION_METRIC: &str = "periscope_http_duration_seconds";
/// Days until the server certificate's notAfter (negative once expired).
pub const CERT_EXPIRY_METRIC: &str = "periscope_http_tls_cert_expiry_days";

const MS_PER_DAY: f64 = 86_400_000.0;

/// What came back.
struct Response {
    status: reqwest::StatusCode,
    version: reqwest::Version,
    peer_certificate: Option<Vec<u8>>,
    body: Vec<u8>,
    body_cut: bool,
}

/// One finding: how bad, which rule, what.
struct Finding {
    status: Status,
    rule: &'static str,
    message: String,
}

pub(super) async fn check(m: &HttpMonitor, now: Timestamp) -> Result<Observation, MonitorError> {
    let started = Instant::now();
    // The same margin as the command monitor: report the timeout ourselves, before the runner.
    let limit = crate::command::own_deadline(m.timeout);
    let result = tokio::time::timeout(limit, exchange(m)).await;
    let elapsed = started.elapsed();
    let elapsed_ms = i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX);
    let url = m.url.as_str();

    let mut samples = vec![Sample::new(DURATION_METRIC, elapsed.as_secs_f64(), now).unit("s")];
    let mut facts = vec![
        Fact::new("url", "URL", FactValue::Text(url.to_string())),
        Fact::new("duration", "Duration", FactValue::DurationMs(elapsed_ms)),
    ];
    let mut findings = Vec::new();
    let mut details = vec![format!("{} {url}", m.method)];

    let response = match result {
        Err(_elapsed) => {
            findings.push(Finding {
                status: Status::Critical,
                rule: "connection",
                message: format!("no response from {url} within {}", fmt_duration(m.timeout)),
            });
            None
        }
        Ok(Err(e)) => {
            let chain = error_chain(&e);
            let what = if chain.iter().any(|c| c == "dns error") {
                "cannot resolve the host of"
            } else if e.is_connect() {
                "cannot connect to"
            } else {
                "request failed for"
            };
            // The innermost cause says what happened (`Connection refused`, `invalid peer
            // certificate: Expired`); the whole chain goes to the details.
            let cause = chain.last().cloned().unwrap_or_default();
            findings.push(Finding {
                status: Status::Critical,
                rule: "connection",
                message: format!("{what} {url}: {cause}"),
            });
            details.push(format!("error: {}", chain.join("\n  caused by: ")));
            None
        }
        Ok(Ok(r)) => Some(r),
    };
    samples.push(Sample::new(
        UP_METRIC,
        if response.is_some() { 1.0 } else { 0.0 },
        now,
    ));

    if let Some(r) = &response {
        let code = r.status.as_u16();
        samples.push(Sample::new(STATUS_CODE_METRIC, f64::from(code), now));
        facts.push(Fact::new(
            "status_code",
            "Status Code",
            FactValue::Count(u64::from(code)),
        ));
        details[0] = format!(
            "{} {url} -> {:?} {} in {}",
            m.method,
            r.version,
            r.status,
            fmt_ms(elapsed)
        );
        judge_response(m, r, elapsed, &mut findings, &mut details);
        if let Some(der) = &r.peer_certificate {
            judge_certificate(
                m,
                der,
                now,
                &mut samples,
                &mut facts,
                &mut findings,
                &mut details,
            );
        } else if m.url.scheme() == "https" {
            details.push("no peer certificate was available to check its expiry".into());
        }
    }

    let status = findings.iter().fold(Status::Ok, |s, f| s.worst(f.status));
    let summary = match (&response, findings.is_empty()) {
        (Some(r), true) => {
            let mut s = format!("HTTP {} in {}", r.status, fmt_ms(elapsed));
            if let Some(FactValue::Number { value, .. }) = facts
                .iter()
                .find(|f| f.key == "tls_cert_days_left")
                .map(|f| &f.value)
            {
                s.push_str(&format!(", certificate valid for {value:.0} more days"));
            }
            s
        }
        _ => findings
            .iter()
            .map(|f| f.message.as_str())
            .collect::<Vec<_>>()
            .join("; "),
    };
    let events = findings
        .iter()
        .filter(|f| f.status != Status::Ok)
        .map(|f| Event {
            time: now.plus_millis(elapsed_ms),
            rule: f.rule.to_string(),
            status: f.status,
            message: f.message.clone(),
            fields: vec![("url".to_string(), url.to_string())],
            location: Some(url.to_string()),
        })
        .collect();
    Ok(Observation {
        outcome: CheckOutcome::new(status, summary).with_details(details.join("\n")),
        samples,
        events,
        fragment: Fragment {
            facts,
            sections: Vec::new(),
        },
        next_state: None,
    })
}

/// Sends the request and reads at most [`MAX_BODY_BYTES`] of the body.
async fn exchange(m: &HttpMonitor) -> Result<Response, reqwest::Error> {
    let mut request = m
        .client
        .request(m.method.clone(), m.url.clone())
        .headers(m.headers.clone());
    if let Some(body) = &m.body {
        request = request.body(body.clone());
    }
    let mut response = request.send().await?;
    let peer_certificate = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .map(<[u8]>::to_vec);
    let (status, version) = (response.status(), response.version());
    let mut body = Vec::new();
    let mut body_cut = false;
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_BODY_BYTES - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            body_cut = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response {
        status,
        version,
        peer_certificate,
        body,
        body_cut,
    })
}

fn judge_response(
    m: &HttpMonitor,
    r: &Response,
    elapsed: Duration,
    findings: &mut Vec<Finding>,
    details: &mut Vec<String>,
) {
    let code = r.status.as_u16();
    let mut show_body = false;
    if !m.expect.iter().any(|&(a, b)| (a..=b).contains(&code)) {
        findings.push(Finding {
            status: Status::Critical,
            rule: "status",
            message: format!("status {}, expected {}", r.status, fmt_expect(&m.expect)),
        });
        show_body = true;
    }
    let text = String::from_utf8_lossy(&r.body);
    let cut = if r.body_cut {
        format!(" (in the first {MAX_BODY_BYTES} bytes)")
    } else {
        String::new()
    };
    if let Some(needle) = &m.body_contains
        && !text.contains(needle.as_str())
    {
        findings.push(Finding {
            status: Status::Critical,
            rule: "body",
            message: format!("body does not contain {needle:?}{cut}"),
        });
        show_body = true;
    }
    if let Some(re) = &m.body_regex
        && !re.is_match(&text)
    {
        findings.push(Finding {
            status: Status::Critical,
            rule: "body",
            message: format!("body does not match /{re}/{cut}"),
        });
        show_body = true;
    }
    for (limit, status) in [
        (m.latency_critical, Status::Critical),
        (m.latency_warning, Status::Warning),
    ] {
        if let Some(limit) = limit
            && elapsed > limit
        {
            let word = status.as_str().to_ascii_lowercase();
            findings.push(Finding {
                status,
                rule: "latency",
                message: format!(
                    "response took {} ({word} above {})",
                    fmt_ms(elapsed),
                    fmt_duration(limit)
                ),
            });
            break;
        }
    }
    if show_body {
        // Enough of the body to see what the server said, not the whole page.
        let snippet: String = text.chars().take(500).collect();
        let more = if snippet.len() < text.len() {
            "\n..."
        } else {
            ""
        };
        details.push(format!(
            "body ({} bytes read):\n{snippet}{more}",
            r.body.len()
        ));
    }
}

fn judge_certificate(
    m: &HttpMonitor,
    der: &[u8],
    now: Timestamp,
    samples: &mut Vec<Sample>,
    facts: &mut Vec<Fact>,
    findings: &mut Vec<Finding>,
    details: &mut Vec<String>,
) {
    let validity = match certificate_validity(der) {
        Ok(v) => v,
        Err(e) => {
            findings.push(Finding {
                status: Status::Unknown,
                rule: "tls_cert",
                message: format!("cannot read the server certificate's expiry: {e}"),
            });
            return;
        }
    };
    let days = validity.not_after.millis_since(now) as f64 / MS_PER_DAY;
    samples.push(Sample::new(CERT_EXPIRY_METRIC, days, now).unit("d"));
    facts.push(Fact::new(
        "tls_cert_expires",
        "Certificate Expires",
        FactValue::Time(validity.not_after),
    ));
    facts.push(Fact::new(
        "tls_cert_days_left",
        "Certificate Days Left",
        FactValue::Number {
            value: days,
            unit: Some("d".into()),
        },
    ));
    details.push(format!(
        "certificate valid from {} until {}",
        validity.not_before, validity.not_after
    ));
    let until = validity.not_after;
    let finding = if days < 0.0 {
        Some((
            Status::Critical,
            format!("certificate expired {:.0} days ago, on {until}", -days),
        ))
    } else if days < f64::from(m.cert_critical_days) {
        Some((
            Status::Critical,
            format!(
                "certificate expires in {days:.1} days, on {until} (critical below {} days)",
                m.cert_critical_days
            ),
        ))
    } else if days < f64::from(m.cert_warning_days) {
        Some((
            Status::Warning,
            format!(
                "certificate expires in {days:.1} days, on {until} (warning below {} days)",
                m.cert_warning_days
            ),
        ))
    } else {
        None
    };
    if let Some((status, message)) = finding {
        findings.push(Finding {
            status,
            rule: "tls_cert",
            message,
        });
    }
}

/// An error and its causes, outermost first, without the repetitions hyper's layers add.
pub(super) fn error_chain(e: &(dyn Error + 'static)) -> Vec<String> {
    let mut chain: Vec<String> = Vec::new();
    let mut next: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        if !chain.last().is_some_and(|last| last.contains(&text)) {
            chain.push(text);
        }
        next = err.source();
    }
    chain
}

/// Elapsed time at millisecond precision: `12ms`, `1s 234ms`.
fn fmt_ms(d: Duration) -> String {
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    fmt_duration(Duration::from_millis(ms))
}
