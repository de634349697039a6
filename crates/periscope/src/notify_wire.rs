//! Joins the response side to the rest: e-mail through the reports' SMTP client, the
//! acknowledge-link secret, the pipeline restored from the state database, rule transitions
//! turned into alerts, and every delivery logged and counted.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use model::alert::{AlertKey, AlertRecord, DocumentStore, Transition};
use model::level::Level;
use model::{Clock, Sample, Timestamp};
use notify::Alert;
use notify::ack::AckSigner;
use notify::channel::{BoxFuture, DeliveryError, Mail, MailSender};
use notify::pipeline::{Finished, Pipeline};
use notify::runner::{DeliveryEvent, Notifier, Observer};

use crate::config::{AckSecret, NotifyConfig};

/// The document kinds the pipeline keeps in the state database.
const DOCUMENT_KINDS: [&str; 4] = ["nflog", "outbox", "escalation", "silence"];
/// The file in the state directory holding a generated acknowledge-link secret.
const ACK_SECRET_FILE: &str = "notify-ack-secret";

/// E-mail through the SMTP settings of `[email]`.
pub struct SmtpMailer(pub report::SmtpSettings);

impl MailSender for SmtpMailer {
    fn send<'a>(&'a self, mail: &'a Mail) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(async move {
            report::send_message(
                &self.0,
                &mail.to,
                &mail.subject,
                &mail.text,
                mail.html.as_deref(),
            )
            .await
            .map_err(|e| {
                if e.is_transient() {
                    DeliveryError::retryable(e.to_string())
                } else {
                    DeliveryError::permanent(e.to_string())
                }
            })
        })
    }
}

/// Delivery outcomes per channel, for Periscope's own metrics:
/// `periscope_notifications_total{channel, outcome}` with outcome `delivered`, `retried` (a
/// failed attempt that will be tried again) or `failed` (given up).
#[derive(Default)]
pub struct DeliveryStats {
    counts: Mutex<BTreeMap<(String, &'static str), u64>>,
}

impl DeliveryStats {
    fn count(&self, channel: &str, outcome: &'static str) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry((channel.to_string(), outcome)).or_default() += 1;
    }

    /// The counters as samples at `now`.
    pub fn to_samples(&self, now: Timestamp) -> Vec<Sample> {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .iter()
            .map(|((channel, outcome), n)| {
                Sample::new("periscope_notifications_total", *n as f64, now)
                    .label("channel", channel.as_str())
                    .label("outcome", *outcome)
            })
            .collect()
    }
}

/// Logs every delivery the way operators grep for it, and counts it.
pub struct LogObserver(pub Arc<DeliveryStats>);

impl Observer for LogObserver {
    fn delivery(&self, e: &DeliveryEvent) {
        match &e.outcome {
            Finished::Delivered => {
                self.0.count(&e.integration, "delivered");
                tracing::info!(channel = %e.integration, group = %e.group_key, alerts = e.alerts, attempt = e.attempt, "notification delivered");
            }
            Finished::Retrying(at) => {
                self.0.count(&e.integration, "retried");
                tracing::warn!(channel = %e.integration, group = %e.group_key, attempt = e.attempt, retry_at = %at, error = e.error.as_deref().unwrap_or(""), "notification failed; will retry");
            }
            Finished::Failed => {
                self.0.count(&e.integration, "failed");
                tracing::error!(channel = %e.integration, group = %e.group_key, attempt = e.attempt, error = e.error.as_deref().unwrap_or(""), "notification failed; given up");
            }
            Finished::Unknown => {}
        }
    }

    fn state_error(&self, message: &str) {
        tracing::warn!(
            error = message,
            "notification state not saved; kept for the next try"
        );
    }
}

/// The acknowledge-link signer: from the configured variable or file, or from a secret
/// generated once and kept in the state directory (so links survive a restart).
pub fn ack_signer(secret: &AckSecret, state_dir: &Path) -> Result<AckSigner, String> {
    let bytes = match secret {
        AckSecret::Env(var) => std::env::var(var)
            .map_err(|_| {
                format!("environment variable `{var}` (notify.ack_secret_env) is not set")
            })?
            .into_bytes(),
        AckSecret::File(path) => std::fs::read(path).map_err(|e| {
            format!(
                "cannot read {} (notify.ack_secret_file): {e}",
                path.display()
            )
        })?,
        AckSecret::Generated => {
            let path = state_dir.join(ACK_SECRET_FILE);
            match std::fs::read(&path) {
                Ok(b) => b,
                Err(_) => {
                    let mut b = vec![0u8; 32];
                    use std::io::Read;
                    std::fs::File::open("/dev/urandom")
                        .and_then(|mut f| f.read_exact(&mut b))
                        .map_err(|e| format!("cannot generate the acknowledge secret: {e}"))?;
                    std::fs::create_dir_all(state_dir)
                        .and_then(|()| std::fs::write(&path, &b))
                        .map_err(|e| {
                            format!(
                                "cannot keep the acknowledge secret in {}: {e}",
                                path.display()
                            )
                        })?;
                    b
                }
            }
        }
    };
    AckSigner::new(&bytes).ok_or_else(|| "the acknowledge secret must be at least 16 bytes".into())
}

/// Builds the pipeline, restores what the state database kept and starts it.
pub async fn start(
    config: NotifyConfig,
    state_dir: &Path,
    store: Option<Arc<dyn DocumentStore>>,
    clock: Arc<dyn Clock>,
    stats: Arc<DeliveryStats>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(Notifier, tokio::task::JoinHandle<()>), String> {
    let mut setup = config.setup;
    setup.ack_links = Some(ack_signer(&config.ack_secret, state_dir)?);
    let mut pipeline = Pipeline::new(setup);
    if let Some(store) = &store {
        let mut documents = Vec::new();
        for kind in DOCUMENT_KINDS {
            documents.extend(
                store
                    .load_documents(kind)
                    .await
                    .map_err(|e| format!("cannot read notification state: {e}"))?,
            );
        }
        let restored = documents.len();
        for problem in pipeline.restore(&documents, clock.now()) {
            tracing::warn!(document = %problem, "notification state unreadable; skipped");
        }
        tracing::info!(restored, "notification state restored");
    }
    Ok(Notifier::start(
        pipeline,
        clock,
        store,
        Arc::new(LogObserver(stats)),
        shutdown,
    ))
}

/// Where rule transitions go: the notifier and the level for alerts that name none.
#[derive(Clone)]
pub struct AlertSink {
    /// The running pipeline.
    pub notifier: Notifier,
    /// The level of alerts whose labels name none.
    pub default_level: Level,
}

impl AlertSink {
    /// Hands the notifiable transitions of one evaluation to the pipeline, each as the alert
    /// its record now stands for.
    pub fn transitions(&self, transitions: &[Transition], records: &[AlertRecord]) {
        if !transitions.iter().any(|t| t.notify) {
            return;
        }
        // One lookup per transition: a rule may hold thousands of alerts.
        let by_key: HashMap<&AlertKey, &AlertRecord> =
            records.iter().map(|r| (&r.key, r)).collect();
        let alerts: Vec<Alert> = transitions
            .iter()
            .filter(|t| t.notify)
            .filter_map(|t| Alert::from_record(by_key.get(&t.key)?, self.default_level))
            .collect();
        self.notifier.send(alerts);
    }

    /// Hands alerts restored at start to the pipeline, so their groups form again (the
    /// notification log keeps them from being sent twice).
    pub fn restored(&self, records: &[AlertRecord]) {
        let alerts = records
            .iter()
            .filter(|r| r.notified_firing || r.phase == model::alert::AlertPhase::Firing)
            .filter_map(|r| Alert::from_record(r, self.default_level))
            .collect();
        self.notifier.send(alerts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(channel: &str, outcome: Finished) -> DeliveryEvent {
        DeliveryEvent {
            integration: channel.into(),
            group_key: "root:{}".into(),
            alerts: 1,
            attempt: 1,
            outcome,
            error: None,
        }
    }

    #[test]
    fn every_delivery_outcome_is_counted_per_channel_as_a_metric() {
        let stats = Arc::new(DeliveryStats::default());
        let observer = LogObserver(Arc::clone(&stats));
        let now = Timestamp::from_millis(1_000);
        observer.delivery(&event("ops/0:webhook", Finished::Delivered));
        observer.delivery(&event("ops/0:webhook", Finished::Delivered));
        observer.delivery(&event("ops/1:email", Finished::Retrying(now)));
        observer.delivery(&event("ops/1:email", Finished::Failed));
        observer.delivery(&event("ops/1:email", Finished::Unknown));
        let shown: Vec<String> = stats
            .to_samples(now)
            .iter()
            .map(|s| {
                let labels: Vec<String> =
                    s.labels.iter().map(|(n, v)| format!("{n}={v}")).collect();
                format!("{}{{{}}} {}", s.name, labels.join(","), s.value)
            })
            .collect();
        assert_eq!(
            shown,
            [
                "periscope_notifications_total{channel=ops/0:webhook,outcome=delivered} 2",
                "periscope_notifications_total{channel=ops/1:email,outcome=failed} 1",
                "periscope_notifications_total{channel=ops/1:email,outcome=retried} 1",
            ]
        );
    }
}
