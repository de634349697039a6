//! `periscope silence add|list|expire` and `periscope ack`: the running `serve` is asked over
//! its HTTP API (it holds the silences and escalations), found at `--url` or at the config's
//! `[http] listen`.

use serde_json::{Value, json};

use crate::commands::load_or_report;
use crate::config::{HttpConfig, LoadOptions};

/// What `silence add` asks for.
pub struct SilenceRequest {
    /// Matchers as written.
    pub matchers: Vec<String>,
    /// How long, e.g. `2h`.
    pub duration: String,
    /// Who.
    pub author: String,
    /// Why.
    pub comment: String,
}

/// The API's base URL: `--url`, else the config's `[http] listen`.
fn base_url(load: &LoadOptions, url: Option<&str>) -> Result<String, String> {
    if url.is_some() {
        return base_url_of(None, url);
    }
    let config = load_or_report(load).ok_or("the config has problems (listed above)")?;
    base_url_of(config.http.as_ref(), url)
}

/// [`base_url`] from a config already loaded: `--url`, else `http`'s listen address.
pub(crate) fn base_url_of(http: Option<&HttpConfig>, url: Option<&str>) -> Result<String, String> {
    if let Some(url) = url {
        return Ok(url.trim_end_matches('/').to_string());
    }
    let http =
        http.ok_or("no --url given and the config has no [http] listen to find `serve` at")?;
    let addr = http.listen;
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    Ok(format!("http://{host}:{}", addr.port()))
}

/// Longest wait for `serve` to answer: it answers these from memory.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The environment variable a command that talks to `serve` takes its API token from.
pub const TOKEN_ENV: &str = "PERISCOPE_TOKEN";

pub(crate) async fn call(
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let client = reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .build()
        .map_err(|e| format!("cannot set up an HTTP client: {e}"))?;
    let mut req = client.request(method, url);
    // From the environment rather than an argument, so the secret stays out of `ps`.
    let token = std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty());
    if let Some(token) = &token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = req
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {}", e.without_url()))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let value: Value = serde_json::from_str(&text)
        .map_err(|_| format!("{url} answered {status} with something that is not JSON"))?;
    if status.is_success() {
        return Ok(value);
    }
    let message = value["error"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("{url} answered {status}"));
    if status == reqwest::StatusCode::UNAUTHORIZED && token.is_none() {
        return Err(format!(
            "{message}\n  hint: export {TOKEN_ENV}=... with a token of this server's [http.token.NAME]"
        ));
    }
    Err(message)
}

/// Asks `serve` at `--url` or the config's address: `request` builds the call from the base
/// URL; `print` shows a successful answer. Exit codes: 0 done, 1 refused, 3 not found.
async fn ask<F>(
    load: &LoadOptions,
    url: Option<&str>,
    request: impl FnOnce(&str) -> F,
    print: impl FnOnce(&Value),
) -> u8
where
    F: std::future::Future<Output = Result<Value, String>>,
{
    match base_url(load, url) {
        Ok(base) => report(request(&base).await, print),
        Err(e) => {
            eprintln!("periscope: {e}");
            3
        }
    }
}

fn report(result: Result<Value, String>, print: impl FnOnce(&Value)) -> u8 {
    match result {
        Ok(v) => {
            print(&v);
            0
        }
        Err(e) => {
            eprintln!("periscope: {e}");
            1
        }
    }
}

/// `periscope silence add`.
pub async fn silence_add(load: &LoadOptions, url: Option<&str>, req: SilenceRequest) -> u8 {
    let body = json!({
        "matchers": req.matchers,
        "duration": req.duration,
        "created_by": req.author,
        "comment": req.comment,
    });
    let request = |base: &str| {
        let url = format!("{base}/api/v1/silences");
        async move { call(reqwest::Method::POST, &url, Some(body)).await }
    };
    ask(load, url, request, |v| {
        println!("{}", v["id"].as_str().unwrap_or_default())
    })
    .await
}

/// `periscope silence list`.
pub async fn silence_list(load: &LoadOptions, url: Option<&str>, expired: bool) -> u8 {
    let request = |base: &str| {
        let url = format!("{base}/api/v1/silences?expired={expired}");
        async move { call(reqwest::Method::GET, &url, None).await }
    };
    ask(load, url, request, print_silences).await
}

/// The matchers of a silence as the API lists it, as written.
pub(crate) fn silence_matchers(silence: &Value) -> Vec<&str> {
    silence["matchers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn print_silences(v: &Value) {
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::ASCII_FULL_CONDENSED);
    table.set_header(["ID", "STATE", "MATCHERS", "ENDS", "BY", "COMMENT"]);
    for s in v["data"].as_array().into_iter().flatten() {
        let matchers = silence_matchers(s);
        table.add_row([
            s["id"].as_str().unwrap_or_default(),
            s["state"].as_str().unwrap_or_default(),
            &matchers.join(", "),
            s["ends_at"].as_str().unwrap_or_default(),
            s["created_by"].as_str().unwrap_or_default(),
            s["comment"].as_str().unwrap_or_default(),
        ]);
    }
    println!("{table}");
}

/// `periscope silence expire ID`.
pub async fn silence_expire(load: &LoadOptions, url: Option<&str>, id: &str) -> u8 {
    let request = |base: &str| {
        let url = format!("{base}/api/v1/silence/{}", notify::ack::percent_encode(id));
        async move { call(reqwest::Method::DELETE, &url, None).await }
    };
    ask(load, url, request, |_| println!("expired {id}")).await
}

/// `periscope ack GROUP --by NAME`.
pub async fn ack(load: &LoadOptions, url: Option<&str>, group: &str, by: &str) -> u8 {
    let body = json!({ "group": group, "by": by });
    let request = |base: &str| {
        let url = format!("{base}{}", notify::ack::ACK_PATH);
        async move { call(reqwest::Method::POST, &url, Some(body)).await }
    };
    ask(load, url, request, |_| {
        println!("acknowledged {group}: no further escalation steps")
    })
    .await
}
