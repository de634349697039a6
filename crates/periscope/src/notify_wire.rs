//! Joins the response side to the rest: e-mail through the reports' SMTP client, the
//! acknowledge-link secret, the pipeline restored from the state database, rule transitions
//! turned into alerts, and every delivery logged and counted.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use model::Clock;
use model::alert::{AlertKey, AlertRecord, DocumentStore, Transition};
use model::level::Level;
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

/// Delivery counters, for the self metrics and the status API.
#[derive(Default)]
pub struct DeliveryStats {
    /// Messages delivered.
    pub delivered: AtomicU64,
    /// Failed attempts that will be retried.
    pub retried: AtomicU64,
    /// Messages given up.
    pub failed: AtomicU64,
}

/// Logs every delivery the way operators grep for it, and counts it.
pub struct LogObserver(pub Arc<DeliveryStats>);

impl Observer for LogObserver {
    fn delivery(&self, e: &DeliveryEvent) {
        match &e.outcome {
            Finished::Delivered => {
                self.0.delivered.fetch_add(1, Ordering::Relaxed);
                tracing::info!(channel = %e.integration, group = %e.group_key, alerts = e.alerts, attempt = e.attempt, "notification delivered");
            }
            Finished::Retrying(at) => {
                self.0.retried.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(channel = %e.integration, group = %e.group_key, attempt = e.attempt, retry_at = %at, error = e.error.as_deref().unwrap_or(""), "notification failed; will retry");
            }
            Finished::Failed => {
                self.0.failed.fetch_add(1, Ordering::Relaxed);
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
