//! `periscope demo`: Periscope working on realistic logs, with nothing to install or configure.
//!
//! It writes a small world into a folder (application logs and a commented config), runs the
//! monitors once, rotates a log the way logrotate does while lines are still being written,
//! runs again, and shows what a user would get: the summary, the snapshot files, the CSV, and
//! what to try next. It uses the same config loader and run path as `periscope run`.

mod logs;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use model::{Clock, SystemClock};

use crate::config::{self, LoadOptions};
use crate::run::{self, Mode};

/// The demo's config; the generated logs live in `logs/` beside it.
const DEMO_CONFIG: &str = include_str!("demo/periscope.toml");

/// Runs the demo in `dir` (a new temp folder when `None`) and returns the exit code.
pub async fn demo(dir: Option<PathBuf>) -> u8 {
    match run_demo(dir).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("periscope demo: {e:#}");
            1
        }
    }
}

async fn run_demo(dir: Option<PathBuf>) -> anyhow::Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now();
    let dir = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("periscope-demo-{}", now.as_millis())),
    };
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", logs.display()))?;
    let config_path = dir.join("periscope.toml");
    write(&config_path, DEMO_CONFIG)?;

    let an_hour_ago = now.plus_millis(-3_600_000);
    write(
        &logs.join("loan-importer.log"),
        &logs::loan_importer(an_hour_ago),
    )?;
    write(
        &logs.join("payments.log"),
        &logs::payments(an_hour_ago, 0, 400),
    )?;
    write(
        &logs.join("nightly-batch.log"),
        &logs::nightly_batch(an_hour_ago),
    )?;

    let load = LoadOptions {
        path: config_path.clone(),
        env: None,
        state_dir: None,
        secrets: crate::config::Secrets::Required,
    };
    let config = config::load(&load)
        .map_err(|e| anyhow::anyhow!("the demo config is broken (a bug):\n{e}"))?;

    println!("Periscope demo in {}\n", dir.display());
    println!("1. Logs written for a loan importer, a payment gateway and a nightly batch; a queue");
    println!("   check runs as a Nagios-style plugin. First run, in report mode:\n");
    let first = run::run_once(&config, Mode::Report, Arc::clone(&clock)).await?;
    println!("{}", rule("summary report (what --mode report e-mails)"));
    print!("{}", report::summary_text(&first.record, &config.timezone));
    println!("{}\n", rule(""));

    // logrotate-style rename rotation with late writes: lines land in the old file after the
    // rename, then the application reopens payments.log. Periscope must count each line once.
    let payments = logs.join("payments.log");
    let rotated = logs.join("payments.log.1");
    std::fs::rename(&payments, &rotated)?;
    append(
        &rotated,
        &logs::payments(now.plus_millis(-600_000), 400, 60),
    )?;
    write(
        &payments,
        &logs::payments(now.plus_millis(-300_000), 460, 140),
    )?;
    println!("2. payments.log rotated to payments.log.1 while 60 more requests were still written");
    println!("   to it, then 140 requests went to a new payments.log.\n");

    let second = run::run_once(&config, Mode::EndOfDay, Arc::clone(&clock)).await?;
    println!(
        "3. Second run, in end-of-day mode (appends the day's figures to CSV files): only the"
    );
    println!("   new records are read, from both files; nothing lost, nothing counted twice.\n");
    for m in &second.record.monitors {
        println!(
            "   {:14} {:8} {}",
            m.name,
            m.outcome.status.as_str(),
            m.outcome.summary
        );
    }
    println!();
    let mut written = first.written;
    written.extend(
        second
            .written
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "csv")),
    );
    print!(
        "{}",
        files_and_next_steps(&dir, &config_path, &written, &config.state_dir)
    );
    Ok(())
}

fn rule(title: &str) -> String {
    if title.is_empty() {
        "-".repeat(60)
    } else {
        format!(
            "---- {title} {}",
            "-".repeat(54usize.saturating_sub(title.len()))
        )
    }
}

fn files_and_next_steps(dir: &Path, config: &Path, written: &[PathBuf], state: &Path) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Files:");
    let _ = writeln!(s, "  config     {}", config.display());
    for f in written {
        let kind = if f.extension().is_some_and(|e| e == "csv") {
            "csv"
        } else {
            "output"
        };
        let _ = writeln!(s, "  {kind:10} {}", f.display());
    }
    let _ = writeln!(
        s,
        "  state      {} (log offsets: the next run continues from here)",
        state.display()
    );
    let c = config.display();
    let _ = writeln!(s, "\nTry next:");
    let _ = writeln!(
        s,
        "  periscope monitor run payments --config {c}      # one monitor, now"
    );
    let _ = writeln!(
        s,
        "  periscope query '{{monitor=\"payments\"}}' --from -1h --config {c}   # the history kept"
    );
    let _ = writeln!(
        s,
        "  periscope run --mode report --config {c}         # all monitors, summary"
    );
    let _ = writeln!(
        s,
        "  periscope serve --config {c}                     # daemon with schedules"
    );
    let _ = writeln!(s, "\nYour own setup:");
    let _ = writeln!(
        s,
        "  1. Copy {} and point the monitors at your logs and commands",
        c
    );
    let _ = writeln!(
        s,
        "     (every setting is explained in config/periscope.toml of the source tree)."
    );
    let _ = writeln!(s, "  2. periscope check-config --config periscope.toml");
    let _ = writeln!(s, "  3. Schedule it with cron, e.g.:");
    let _ = writeln!(
        s,
        "       */15 * * * *  periscope run --mode silent --config /etc/periscope/periscope.toml"
    );
    let _ = writeln!(
        s,
        "       30 5-19 * * * periscope run --mode report --config /etc/periscope/periscope.toml"
    );
    let _ = writeln!(
        s,
        "       55 23 * * *   periscope run --mode end-of-day --config /etc/periscope/periscope.toml"
    );
    let _ = writeln!(
        s,
        "     or run `periscope serve` under systemd (see README.md)."
    );
    let _ = writeln!(
        s,
        "\nThe demo folder is {}; delete it when done.",
        dir.display()
    );
    s
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot append to {}: {e}", path.display()))
}
