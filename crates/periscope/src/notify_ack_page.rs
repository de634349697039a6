//! The pages behind the signed acknowledge link: a confirmation page for `GET`, a result page
//! for the form's `POST`, and pages that say what is wrong.
//!
//! Mail scanners, chat link previews and browsers that prefetch open links nobody clicked, so
//! opening the link only shows where the group stands; a person acknowledges by pressing the
//! button, which posts the form back. The pages are small enough for a phone, carry their CSS
//! inline and load nothing else, and escape every value they show.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use model::Timestamp;
use notify::template::escape_html;

/// The longest name the form takes: it is stored with the acknowledgement and shown again.
pub const MAX_NAME: usize = 200;

/// Who acknowledges when the form names nobody.
pub const DEFAULT_BY: &str = "acknowledge link";

/// The fields of the link's query or of the posted form.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LinkFields {
    /// The group key.
    pub group: Option<String>,
    /// The signature, hex.
    pub sig: Option<String>,
    /// The name typed into the form.
    pub by: Option<String>,
}

/// Reads `application/x-www-form-urlencoded` text (a query string or a form body). The first
/// value of each field counts, so a field added after a valid one cannot replace it.
pub fn fields(urlencoded: &[u8]) -> LinkFields {
    let mut out = LinkFields::default();
    for (name, value) in url::form_urlencoded::parse(urlencoded) {
        let slot = match name.as_ref() {
            "group" => &mut out.group,
            "sig" => &mut out.sig,
            "by" => &mut out.by,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value.into_owned());
        }
    }
    out
}

/// Where a group's escalation stands, as the confirmation page shows it.
#[derive(Debug)]
pub struct Standing {
    /// The group key.
    pub group: String,
    /// The escalation policy.
    pub policy: String,
    /// The receiver.
    pub receiver: String,
    /// When the escalation started.
    pub started_at: Timestamp,
    /// The step last sent, counted from 1, and the policy's number of steps.
    pub step: (usize, usize),
    /// The round, counted from 1, and the policy's number of rounds.
    pub round: (u32, u32),
    /// Who acknowledged, and when.
    pub acknowledged: Option<(String, Timestamp)>,
}

/// The `GET` answer: where the group stands and, while nobody has acknowledged it, the form
/// that does.
pub fn confirm(s: &Standing, sig: &str) -> Response {
    let mut body = group_line(&s.group);
    let rounds = if s.round.1 > 1 {
        format!(", round {} of {}", s.round.0, s.round.1)
    } else {
        String::new()
    };
    body.push_str(&format!(
        "<p>Receiver <b>{}</b>, escalation policy <b>{}</b>, started {}.</p>\n",
        escape_html(&s.receiver),
        escape_html(&s.policy),
        escape_html(&s.started_at.to_string()),
    ));
    match &s.acknowledged {
        Some((by, at)) => body.push_str(&format!(
            "<p class=\"state done\">Already acknowledged by <b>{}</b> at {}. \
             No further escalation steps will be sent.</p>\n",
            escape_html(by),
            escape_html(&at.to_string()),
        )),
        None => {
            body.push_str(&format!(
                "<p class=\"state open\">Escalating: step {} of {} sent{}. \
                 Nobody has acknowledged it yet.</p>\n\
                 <p>Acknowledging stops the next escalation steps for this group. \
                 It does not silence or resolve its alerts.</p>\n",
                s.step.0,
                s.step.1,
                escape_html(&rounds),
            ));
            // A relative action: it resolves to this path however a proxy prefixes it, and
            // keeps the signature out of the address the form posts to.
            body.push_str(&format!(
                "<form method=\"post\" action=\"ack\">\n\
                 <input type=\"hidden\" name=\"group\" value=\"{}\">\n\
                 <input type=\"hidden\" name=\"sig\" value=\"{}\">\n\
                 <label for=\"by\">Your name (optional)</label>\n\
                 <input id=\"by\" name=\"by\" type=\"text\" maxlength=\"{MAX_NAME}\" \
                 autocomplete=\"name\">\n\
                 <button type=\"submit\">Acknowledge</button>\n\
                 </form>\n",
                escape_html(&s.group),
                escape_html(sig),
            ));
        }
    }
    page(StatusCode::OK, "Acknowledge alert group", &body)
}

/// The `POST` answer once the group is acknowledged. `by` is who asked now; `first` is who
/// the escalation records, which differs when someone acknowledged it before.
pub fn done(group: &str, by: &str, first: Option<(&str, Timestamp)>) -> Response {
    let mut body = group_line(group);
    match first {
        Some((earlier, at)) if earlier != by => body.push_str(&format!(
            "<p class=\"state done\">It was already acknowledged by <b>{}</b> at {}. \
             No further escalation steps will be sent.</p>\n",
            escape_html(earlier),
            escape_html(&at.to_string()),
        )),
        _ if by == DEFAULT_BY => body.push_str(
            "<p class=\"state done\">Acknowledged (no name given). \
             No further escalation steps will be sent.</p>\n",
        ),
        _ => body.push_str(&format!(
            "<p class=\"state done\">Acknowledged by <b>{}</b>. \
             No further escalation steps will be sent.</p>\n",
            escape_html(by),
        )),
    }
    page(StatusCode::OK, "Acknowledged", &body)
}

/// A page that says what is wrong.
pub fn problem(status: StatusCode, title: &str, message: &str) -> Response {
    page(
        status,
        title,
        &format!("<p class=\"state error\">{}</p>\n", escape_html(message)),
    )
}

/// The answer for a group with nothing escalating.
pub fn nothing_escalating(group: &str) -> Response {
    let mut body = group_line(group);
    body.push_str(
        "<p class=\"state error\">Nothing is escalating for this group: its alerts resolved, \
         or they never escalated. There is nothing to acknowledge.</p>\n",
    );
    page(StatusCode::NOT_FOUND, "Nothing to acknowledge", &body)
}

fn group_line(group: &str) -> String {
    format!(
        "<p>Alert group</p>\n<p><code>{}</code></p>\n",
        escape_html(group)
    )
}

const STYLE: &str = "body{margin:0;padding:1rem;background:#f4f5f7;color:#1d2125;\
font:16px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}\
main{max-width:32rem;margin:0 auto;background:#fff;border-radius:10px;padding:1.25rem;\
box-shadow:0 1px 3px rgba(0,0,0,.12)}\
h1{font-size:1.3rem;margin:0 0 1rem}\
code{display:block;padding:.5rem;background:#f4f5f7;border-radius:6px;word-break:break-all}\
.state{padding:.6rem .75rem;border-radius:6px}\
.open{background:#fff4e5;border-left:4px solid #d97706}\
.done{background:#e8f5ec;border-left:4px solid #15803d}\
.error{background:#fdecec;border-left:4px solid #b91c1c}\
label{display:block;margin:1rem 0 .3rem}\
input[type=text]{width:100%;box-sizing:border-box;font-size:1rem;padding:.65rem;\
border:1px solid #b8bec6;border-radius:6px}\
button{width:100%;margin-top:1rem;padding:.85rem;font-size:1.1rem;border:0;\
border-radius:6px;background:#b91c1c;color:#fff}";

/// A whole page, with the headers every one of them carries.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex, nofollow\">\n\
         <title>{title} - Periscope</title>\n<style>{STYLE}</style>\n</head>\n\
         <body>\n<main>\n<h1>{title}</h1>\n{body}</main>\n</body>\n</html>\n",
        title = escape_html(title),
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Inline style only; forms post back here; no framing, so no page can overlay the button.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The address holds the signature: keep it out of caches and of other sites' logs.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn text(r: Response) -> String {
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn standing(acknowledged: Option<(String, Timestamp)>) -> Standing {
        Standing {
            group: r#"root:{alertname="<script>x</script>"}"#.into(),
            policy: "ops & co".into(),
            receiver: "ops".into(),
            started_at: Timestamp::from_millis(1_790_000_000_000),
            step: (1, 2),
            round: (1, 1),
            acknowledged,
        }
    }

    #[test]
    fn fields_are_decoded_and_the_first_value_counts() {
        let f = fields(b"group=root%3A%7Ba%3D%22b+c%22%7D&sig=ab12&by=Ann+Lee&sig=ff&x=1");
        assert_eq!(f.group.as_deref(), Some(r#"root:{a="b c"}"#));
        assert_eq!(f.sig.as_deref(), Some("ab12"));
        assert_eq!(f.by.as_deref(), Some("Ann Lee"));
        assert_eq!(fields(b""), LinkFields::default());
    }

    #[tokio::test]
    async fn the_confirmation_page_escapes_what_it_shows_and_posts_the_form_back() {
        let r = confirm(&standing(None), "ab\"12");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let html = text(r).await;
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("root:{alertname=&quot;&lt;script&gt;x&lt;/script&gt;&quot;}"),
            "{html}"
        );
        assert!(html.contains("<b>ops &amp; co</b>"), "{html}");
        assert!(html.contains("step 1 of 2 sent"), "{html}");
        assert!(
            html.contains("<form method=\"post\" action=\"ack\">"),
            "{html}"
        );
        assert!(html.contains("name=\"sig\" value=\"ab&quot;12\""), "{html}");
        assert!(html.contains("name=\"by\""), "{html}");
        // Nothing is loaded from elsewhere.
        assert!(!html.contains("http"), "{html}");
    }

    #[tokio::test]
    async fn an_acknowledged_group_shows_who_and_offers_no_form() {
        let at = Timestamp::from_millis(1_790_000_060_000);
        let html = text(confirm(&standing(Some(("<b>ann</b>".into(), at))), "ab")).await;
        assert!(
            html.contains("Already acknowledged by <b>&lt;b&gt;ann&lt;/b&gt;</b>"),
            "{html}"
        );
        assert!(!html.contains("<form"), "{html}");
    }

    #[tokio::test]
    async fn the_result_page_names_the_first_acknowledgement() {
        let at = Timestamp::from_millis(1_790_000_060_000);
        let html = text(done("g", "bob", Some(("bob", at)))).await;
        assert!(html.contains("Acknowledged by <b>bob</b>"), "{html}");
        let html = text(done("g", "carol", Some(("bob", at)))).await;
        assert!(
            html.contains("already acknowledged by <b>bob</b>"),
            "{html}"
        );
        let r = problem(StatusCode::FORBIDDEN, "Link not valid", "a < b");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(text(r).await.contains("a &lt; b"));
    }
}
