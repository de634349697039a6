//! Reading `serve`'s JSON API in tests: one GET, and polling until an answer shows something.

use std::time::{Duration, Instant};

use serde_json::Value;

/// GETs `url`, requires 200, and reads the JSON answer.
pub async fn get(client: &reqwest::Client, url: &str) -> Value {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200, "{url}");
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

/// Asks `url` until `pick` finds what it wants in the answer; gives up after 30 s, showing
/// `what` and the last answer.
pub async fn wait_for<T>(
    client: &reqwest::Client,
    url: &str,
    what: &str,
    pick: impl Fn(&Value) -> Option<T>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = get(client, url).await;
        if let Some(found) = pick(&body) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "never saw {what}: last answer {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
