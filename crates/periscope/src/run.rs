//! One run of every enabled monitor, and what each mode does with it.
//!
//! The order matters for "no line lost, none counted twice": monitors run, then every output of
//! the mode is written, and only then is each monitor's new state (e.g. log offsets) committed.
//! A run that dies half-way is repeated in full by the next one.
//!
//! `--mode alerts` also evaluates the rule groups once (`rule_loop::evaluate_once`) and puts the
//! firing alerts in the same mail as the monitors that need attention. Its exit status counts
//! them too: a firing critical alert is CRITICAL, a non-critical one WARNING, a logged one
//! nothing (see [`alerts_status`]).

use std::path::PathBuf;
use std::sync::Arc;

use clap::ValueEnum;
use model::alert::AlertRecord;
use model::level::Level;
use model::{Clock, RunRecord, Sample, Status};
use sensors::runner::{self, CheckResult};

use crate::config::{Config, SnapshotFormat, SnapshotNaming};
use crate::state::StateStore;
use crate::{ingest, rule_loop, wire};

/// What a run does besides checking and writing the snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Check and write the snapshot; tell nobody (e.g. every 15 minutes, 24x7).
    Silent,
    /// As silent, and e-mail the summary report (also written to the summary file).
    Report,
    /// As silent, and append today's figures to the CSV files (e.g. at 23:55).
    EndOfDay,
    /// As silent, evaluate the rules once, and e-mail an alert for monitors that are WARNING or
    /// CRITICAL and for firing alerts.
    Alerts,
}

/// What a run produced.
pub struct RunOutcome {
    /// The run as reports see it.
    pub record: RunRecord,
    /// Files written.
    pub written: Vec<PathBuf>,
    /// Things that went wrong after the checks (an output not written, an e-mail not sent).
    pub problems: Vec<String>,
    /// What happened to e-mail, for the user.
    pub notes: Vec<String>,
    /// Alerts of the rules firing after this run (`--mode alerts` only).
    pub firing: Vec<AlertRecord>,
    /// What the firing alerts make of the run's status ([`alerts_status`]).
    pub firing_status: Status,
}

impl RunOutcome {
    /// The exit status for a scheduler: the worst of the monitors and the firing alerts, and at
    /// least UNKNOWN when an output or a notification failed (the scheduler should notice
    /// either).
    pub fn status(&self) -> Status {
        let worst = self.record.worst().worst(self.firing_status);
        if self.problems.is_empty() {
            worst
        } else {
            worst.worst(Status::Unknown)
        }
    }
}

/// Runs every enabled monitor once and does what `mode` says with the results.
pub async fn run_once(
    config: &Config,
    mode: Mode,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<RunOutcome> {
    let store = StateStore::open(&config.state_dir)?;
    let slots: Vec<_> = config.enabled().map(wire::slot).collect();
    let started = clock.now();
    let results = runner::check_all(&slots, |name| store.load(name), Arc::clone(&clock)).await;
    let record = record(config, started, clock.now(), &results);

    let mut outcome = RunOutcome {
        record,
        written: Vec::new(),
        problems: Vec::new(),
        notes: Vec::new(),
        firing: Vec::new(),
        firing_status: Status::Ok,
    };
    if mode == Mode::Alerts {
        let rules = rule_loop::evaluate_once(config, Arc::clone(&clock)).await;
        let default_level = config
            .notify
            .as_ref()
            .map_or(Level::Critical, |n| n.default_level);
        outcome.firing_status = alerts_status(&rules.firing, default_level);
        outcome.firing = rules.firing;
        outcome.notes.extend(rules.notes);
        outcome.problems.extend(rules.problems);
    }
    write_outputs(config, mode, &mut outcome).await;
    keep_history(config, &results, clock, &mut outcome).await;

    for result in &results {
        if let Some(state) = &result.next_state
            && let Err(e) = store.save(&result.run.name, state)
        {
            outcome.problems.push(e.to_string());
        }
    }
    Ok(outcome)
}

/// The status firing alerts give a run, as a plugin would say it: CRITICAL when one is
/// critical, WARNING when one is non-critical, OK when none fires or all are only logged. An
/// alert's level is the notifier's reading of its labels (`level`, else `severity`, else
/// `default_level`: `[notify] default_level`, critical when unset).
pub fn alerts_status(firing: &[AlertRecord], default_level: Level) -> Status {
    firing
        .iter()
        .map(
            |a| match notify::alert::level_of(&a.key.labels, default_level) {
                Level::Critical => Status::Critical,
                Level::NonCritical => Status::Warning,
                Level::Logged => Status::Ok,
            },
        )
        .fold(Status::Ok, Status::worst)
}

/// Keeps the run's samples in the metric store, then lets the store cut blocks and apply
/// retention (a scheduler-driven installation has no daemon to do it). When `serve` holds the
/// store, the samples are in the snapshot only, which is a note rather than a failure.
async fn keep_history(
    config: &Config,
    results: &[CheckResult],
    clock: Arc<dyn Clock>,
    out: &mut RunOutcome,
) {
    let Some(store_config) = &config.store else {
        return;
    };
    let samples: Vec<Sample> = results
        .iter()
        .flat_map(|r| ingest::run_samples(&r.run))
        .collect();
    if samples.is_empty() {
        return;
    }
    let store = match wire::open_store(store_config, Arc::clone(&clock)) {
        Ok(s) => s,
        Err(store::OpenError::Locked { .. }) => {
            out.notes.push(format!(
                "the metric store {} is in use (by `periscope serve`?): this run's samples are \
                 in the snapshot but not in the history",
                store_config.dir.display()
            ));
            return;
        }
        Err(e) => {
            out.problems.push(format!("samples not kept: {e}"));
            return;
        }
    };
    match ingest::store_samples(&store, &samples).await {
        Ok(stored) if stored.refused > 0 => out.notes.push(format!(
            "{} samples kept in the history, {} refused by the store (see the log)",
            stored.samples, stored.refused
        )),
        Ok(_) => {}
        Err(e) => out.problems.push(format!("samples not kept: {e}")),
    }
    if let Err(e) = store.maintain(clock.now()) {
        out.problems
            .push(format!("metric store maintenance failed: {e}"));
    }
    if let Err(e) = store.close() {
        out.problems
            .push(format!("metric store not closed cleanly: {e}"));
    }
}

/// Builds the run record from results in config order.
pub fn record(
    config: &Config,
    started: model::Timestamp,
    finished: model::Timestamp,
    results: &[CheckResult],
) -> RunRecord {
    RunRecord {
        host: config.host.clone(),
        environment: config.environment.clone(),
        started,
        finished,
        monitors: results.iter().map(|r| r.run.clone()).collect(),
    }
}

/// Writes the snapshots for `record` as the config says.
pub fn write_snapshots(
    config: &Config,
    record: &RunRecord,
) -> Result<Vec<PathBuf>, report::ReportError> {
    let naming = match config.output.naming {
        SnapshotNaming::Daily => report::SnapshotNaming::Daily,
        SnapshotNaming::PerRun => report::SnapshotNaming::PerRun,
    };
    let formats: Vec<_> = config
        .output
        .formats
        .iter()
        .map(|f| match f {
            SnapshotFormat::Xml => report::SnapshotFormat::Xml,
            SnapshotFormat::Json => report::SnapshotFormat::Json,
        })
        .collect();
    report::write_snapshots(
        record,
        &config.output.dir,
        naming,
        &formats,
        &config.timezone,
    )
}

async fn write_outputs(config: &Config, mode: Mode, out: &mut RunOutcome) {
    match write_snapshots(config, &out.record) {
        Ok(paths) => out.written.extend(paths),
        Err(e) => out.problems.push(format!("snapshot not written: {e}")),
    }
    match mode {
        Mode::Silent => {}
        Mode::Report => {
            let text = report::summary_text(&out.record, &config.timezone);
            match report::write_atomically(&config.output.summary_file, text.as_bytes()) {
                Ok(()) => out.written.push(config.output.summary_file.clone()),
                Err(e) => out.problems.push(format!(
                    "summary not written to {}: {e}",
                    config.output.summary_file.display()
                )),
            }
            match &config.email {
                Some(smtp) => {
                    let subject = report::summary_subject(&out.record);
                    send(smtp, &smtp.to, &subject, &text, out).await;
                }
                None => out.notes.push(
                    "no [email] section: the summary was written to the file only".to_string(),
                ),
            }
        }
        Mode::EndOfDay => {
            match report::append_end_of_day(&out.record, &config.output.csv_dir, &config.timezone) {
                Ok(eod) => {
                    out.notes.push(format!(
                        "end of day: {} rows written, {} replaced",
                        eod.rows_written, eod.rows_replaced
                    ));
                    out.written.extend(eod.files);
                }
                Err(e) => out
                    .problems
                    .push(format!("end-of-day CSV not written: {e}")),
            }
        }
        Mode::Alerts => match (alert_mail(config, out), &config.email) {
            (None, _) => out.notes.push(
                "no monitor is WARNING or CRITICAL and no alert is firing: no alert sent"
                    .to_string(),
            ),
            (Some(_), None) => out.problems.push(
                "monitors or alerts need attention but there is no [email] section to alert \
                 through"
                    .to_string(),
            ),
            (Some((subject, body)), Some(smtp)) => {
                send(smtp, &config.alert_recipients, &subject, &body, out).await
            }
        },
    }
}

/// The alert mail: the monitors that need attention (as before) and the firing alerts of the
/// rules; `None` when there is neither.
fn alert_mail(config: &Config, out: &RunOutcome) -> Option<(String, String)> {
    let monitors = report::alert_text(&out.record, &config.timezone);
    if out.firing.is_empty() {
        return monitors;
    }
    let section = firing_text(&out.firing, &config.timezone);
    Some(match monitors {
        Some((subject, body)) => (subject, format!("{body}\n{section}")),
        None => {
            let mut names: Vec<&str> = out.firing.iter().map(|a| a.key.rule.as_str()).collect();
            names.dedup();
            let subject = format!(
                "[Periscope] ALERT FIRING: {} ({})",
                names.join(", "),
                config.host
            );
            (subject, section)
        }
    })
}

/// The firing alerts as plain text: one paragraph per alert with its labels, since when, its
/// value and its annotations.
fn firing_text(firing: &[AlertRecord], tz: &jiff::tz::TimeZone) -> String {
    let mut text = format!("Firing alerts: {}\n", firing.len());
    for alert in firing {
        text.push_str(&format!("\n{}\n", alert.key));
        if let Some(since) = alert
            .active_since
            .and_then(|t| jiff::Timestamp::from_millisecond(t.0).ok())
        {
            let since = since.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S %Z");
            text.push_str(&format!("  firing since {since}\n"));
        }
        if let Some(v) = alert.last_value {
            text.push_str(&format!("  value {v}\n"));
        }
        for (name, value) in &alert.annotations {
            text.push_str(&format!("  {name}: {value}\n"));
        }
    }
    text
}

async fn send(
    smtp: &report::SmtpSettings,
    to: &[String],
    subject: &str,
    body: &str,
    out: &mut RunOutcome,
) {
    let settings = report::SmtpSettings {
        to: to.to_vec(),
        ..smtp.clone()
    };
    match report::send_email(&settings, subject, body).await {
        Ok(()) => out
            .notes
            .push(format!("e-mailed \"{subject}\" to {}", to.join(", "))),
        Err(e) => out.problems.push(format!("e-mail not sent: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use model::alert::AlertKey;
    use model::{Labels, Timestamp};

    use super::*;

    fn firing(labels: &[(&str, &str)]) -> AlertRecord {
        let key = AlertKey::new("A", labels.iter().copied().collect::<Labels>());
        AlertRecord::new(key, Timestamp(0))
    }

    #[test]
    fn firing_alerts_raise_the_status_by_their_level_and_logged_ones_do_not() {
        let logged = firing(&[("level", "logged")]);
        let warning = firing(&[("severity", "warning")]);
        let critical = firing(&[("level", "critical")]);
        let unlabelled = firing(&[]);
        let status = |alerts: &[AlertRecord], default| alerts_status(alerts, default);
        assert_eq!(status(&[], Level::Critical), Status::Ok);
        assert_eq!(
            status(std::slice::from_ref(&logged), Level::Critical),
            Status::Ok
        );
        assert_eq!(
            status(&[logged.clone(), warning.clone()], Level::Critical),
            Status::Warning
        );
        assert_eq!(
            status(&[warning, critical], Level::Logged),
            Status::Critical
        );
        assert_eq!(
            status(std::slice::from_ref(&unlabelled), Level::Critical),
            Status::Critical
        );
        assert_eq!(status(&[unlabelled], Level::NonCritical), Status::Warning);
    }
}
