//! The channels that stay on this machine or its mail relay: `command` runs real `sh` scripts
//! (input on stdin, exit codes, timeouts with children that must be gone afterwards), and
//! `email` sends through a lettre-based `MailSender` to the SMTP sink of `testkit`.

use std::sync::Arc;
use std::time::Duration;

use model::alert::Annotations;
use model::level::Level;
use model::{Labels, Timestamp};
use notify::channel::{ChannelContext, Person};
use notify::template::Templates;
use notify::{Alert, Notification};

#[path = "channels_local/command.rs"]
mod command;
#[path = "channels_local/email.rs"]
mod email;

fn at() -> Timestamp {
    Timestamp::from_jiff("2026-11-21T10:00:00Z".parse().unwrap())
}

fn ctx() -> ChannelContext {
    ChannelContext::new(Arc::new(Templates::default()))
}

/// A firing critical alert `name` on `instance`, started 5 minutes before [`at`].
fn alert(name: &str, instance: &str) -> Alert {
    let labels: Labels = [
        ("alertname", name),
        ("instance", instance),
        ("level", "critical"),
    ]
    .into_iter()
    .collect();
    let mut alert = Alert::firing(labels, at().plus_millis(-300_000));
    alert
        .annotations
        .insert("summary".into(), format!("{name} on {instance}"));
    alert
}

/// `DiskFull` firing on db1 and resolved on db2, for `ops`, with alice (e-mail) on call.
fn notification() -> Notification {
    Notification {
        receiver: "ops".into(),
        group_key: "{}:{alertname=\"DiskFull\"}".into(),
        group_labels: [("alertname", "DiskFull")].into_iter().collect(),
        common_labels: [("alertname", "DiskFull"), ("level", "critical")]
            .into_iter()
            .collect(),
        common_annotations: Annotations::new(),
        alerts: vec![
            alert("DiskFull", "db1"),
            alert("DiskFull", "db2").resolved_at(at().plus_millis(-60_000)),
        ],
        truncated_alerts: 0,
        external_url: "https://periscope.example".into(),
        level: Level::Critical,
        at: at(),
        ack_url: Some("https://periscope.example/ack/abc123".into()),
        people: vec![Person {
            name: "alice".into(),
            email: Some("alice@example.com".into()),
            ..Person::default()
        }],
        reference: None,
    }
}

/// Waits (bounded) until process `pid` is gone or a zombie nobody reaped yet: either way it
/// runs no more. Returns false if it still runs after the bound.
async fn process_ends(pid: u32) -> bool {
    for _ in 0..500 {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            // The state follows the parenthesised command name: `pid (comm) S ...`.
            Ok(stat) => {
                let state = stat.rsplit(')').next().unwrap_or("").trim_start();
                if state.starts_with('Z') || state.starts_with('X') {
                    return true;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}
