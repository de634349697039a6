//! The silences of a running `serve`, for `test-route`: the config says where an alert would
//! go, and only the server knows which silences are in force.

use std::fmt::Write as _;

use model::{Labels, Timestamp};
use notify::matcher::Matchers;
use serde_json::Value;

use crate::config::HttpConfig;
use crate::notify_remote::{base_url_of, call, silence_matchers};

/// What the server said, or why it was not asked.
pub enum Live {
    /// `--offline`.
    Skipped,
    /// Not reachable, and nobody asked for it by `--url`.
    Unavailable(String),
    /// The server's silences (active and pending).
    Silences { url: String, list: Vec<Value> },
}

/// Asks `--url`, else the config's `[http] listen`, for its silences. An unreachable server is
/// an error only when `--url` named it: without it, `test-route` still explains the config.
pub async fn fetch(http: Option<&HttpConfig>, url: Option<&str>) -> Result<Live, String> {
    let base = match base_url_of(http, url) {
        Ok(base) => base,
        Err(e) if url.is_none() => return Ok(Live::Unavailable(e)),
        Err(e) => return Err(e),
    };
    let list_url = format!("{base}/api/v1/silences");
    match call(reqwest::Method::GET, &list_url, None).await {
        Ok(v) => Ok(Live::Silences {
            url: base,
            list: v["data"].as_array().cloned().unwrap_or_default(),
        }),
        Err(e) if url.is_none() => Ok(Live::Unavailable(e)),
        Err(e) => Err(e),
    }
}

/// The lines `test-route` prints about live silences for `labels` at `at`.
pub fn explain(live: &Live, labels: &Labels, at: Timestamp) -> String {
    let mut out = String::new();
    let (url, list) = match live {
        Live::Skipped => return out,
        Live::Unavailable(why) => {
            let _ = writeln!(out, "Live silences: not checked ({why})");
            return out;
        }
        Live::Silences { url, list } => (url, list),
    };
    let mut silencing = 0;
    for s in list {
        let Some((starts, ends)) = window(s) else {
            continue;
        };
        if at >= ends {
            continue;
        }
        let matchers = silence_matchers(s);
        let Ok(parsed) = Matchers::parse_all(&matchers) else {
            continue;
        };
        if parsed.is_empty() || !parsed.matches(labels) {
            continue;
        }
        let field = |k: &str| s[k].as_str().unwrap_or_default().to_string();
        let (what, when) = if at < starts {
            ("Pending silence", format!("from {}", field("starts_at")))
        } else {
            silencing += 1;
            ("SILENCED by", format!("until {}", field("ends_at")))
        };
        let _ = writeln!(
            out,
            "{what} {} {} {when}: {} ({})",
            field("id"),
            matchers.join(", "),
            field("comment"),
            field("created_by"),
        );
    }
    if silencing > 0 {
        let _ = writeln!(
            out,
            "  while silenced nobody is notified; the routes below apply once it ends"
        );
    } else {
        let _ = writeln!(out, "Live silences ({url}): none silences this alert now");
    }
    out
}

/// A silence's start and end.
fn window(s: &Value) -> Option<(Timestamp, Timestamp)> {
    let time = |k: &str| -> Option<Timestamp> {
        let text = s[k].as_str()?;
        Some(Timestamp::from_jiff(text.parse().ok()?))
    };
    Some((time("starts_at")?, time("ends_at")?))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::from_jiff(text.parse().unwrap())
    }

    fn silences() -> Live {
        Live::Silences {
            url: "http://127.0.0.1:9464".into(),
            list: vec![
                json!({"id": "a1", "matchers": ["service=\"db\""], "comment": "disk swap",
                       "created_by": "alice", "starts_at": "2026-11-21T10:00:00Z",
                       "ends_at": "2026-11-21T12:00:00Z"}),
                json!({"id": "b2", "matchers": ["service=~\"web|api\""], "comment": "deploy",
                       "created_by": "bob", "starts_at": "2026-11-21T13:00:00Z",
                       "ends_at": "2026-11-21T14:00:00Z"}),
            ],
        }
    }

    #[test]
    fn a_matching_silence_in_force_is_named_with_its_author_and_end() {
        let labels: Labels = [("service", "db")].into_iter().collect();
        let text = explain(&silences(), &labels, at("2026-11-21T11:00:00Z"));
        assert!(
            text.contains(
                "SILENCED by a1 service=\"db\" until 2026-11-21T12:00:00Z: disk swap (alice)"
            ),
            "{text}"
        );
        assert!(text.contains("nobody is notified"), "{text}");
        // Once it has ended it is not mentioned.
        let later = explain(&silences(), &labels, at("2026-11-21T12:00:00Z"));
        assert!(!later.contains("SILENCED"), "{later}");
        assert!(later.contains("none silences this alert now"), "{later}");
    }

    #[test]
    fn a_pending_silence_is_shown_but_does_not_silence() {
        let labels: Labels = [("service", "api")].into_iter().collect();
        let text = explain(&silences(), &labels, at("2026-11-21T11:00:00Z"));
        assert!(
            text.contains("Pending silence b2 service=~\"web|api\" from 2026-11-21T13:00:00Z"),
            "{text}"
        );
        assert!(text.contains("none silences this alert now"), "{text}");
    }

    #[test]
    fn an_unreachable_server_is_said_and_offline_says_nothing() {
        let labels = Labels::new();
        let noon = at("2026-11-21T11:00:00Z");
        let text = explain(&Live::Unavailable("cannot reach x".into()), &labels, noon);
        assert_eq!(text, "Live silences: not checked (cannot reach x)\n");
        assert_eq!(explain(&Live::Skipped, &labels, noon), "");
    }
}
