//! The short commands: run once, check the config, run or list single monitors, parse plugin
//! output. Each returns the process exit code.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use model::{Status, SystemClock};
use sensors::runner;

use crate::cli::OutputFormat;
use crate::config::{self, Config, LoadOptions};
use crate::run::{self, Mode};
use crate::state::StateStore;
use crate::wire;

/// Exit code when Periscope could not check at all (config broken...): UNKNOWN, like a plugin.
const EXIT_UNKNOWN: u8 = 3;

/// Loads the config or prints every problem.
pub fn load_or_report(load: &LoadOptions) -> Option<Config> {
    match config::load(load) {
        Ok(c) => Some(c),
        Err(errors) => {
            eprint!("{errors}");
            None
        }
    }
}

/// `periscope run --mode MODE`.
pub async fn run(load: &LoadOptions, mode: Mode, quiet: bool) -> u8 {
    let Some(config) = load_or_report(load) else {
        return EXIT_UNKNOWN;
    };
    let outcome = match run::run_once(&config, mode, Arc::new(SystemClock)).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("periscope: run failed: {e:#}");
            return EXIT_UNKNOWN;
        }
    };
    if !quiet && mode != Mode::Silent {
        print!(
            "{}",
            report::summary_text(&outcome.record, &config.timezone)
        );
        for note in &outcome.notes {
            println!("note: {note}");
        }
    }
    for problem in &outcome.problems {
        eprintln!("periscope: {problem}");
    }
    exit_code(outcome.status())
}

fn exit_code(status: Status) -> u8 {
    u8::try_from(status.exit_code()).unwrap_or(EXIT_UNKNOWN)
}

/// `periscope check-config`.
pub fn check_config(load: &LoadOptions) -> u8 {
    match config::load(load) {
        Ok(config) => {
            let enabled = config.enabled().count();
            println!(
                "{}: OK ({} monitor{}, {enabled} enabled; environment {})",
                config.path.display(),
                config.monitors.len(),
                if config.monitors.len() == 1 { "" } else { "s" },
                config.environment
            );
            0
        }
        Err(errors) => {
            eprint!("{errors}");
            1
        }
    }
}

/// `periscope monitor run NAME`.
pub async fn monitor_run(load: &LoadOptions, name: &str, format: OutputFormat, commit: bool) -> u8 {
    let Some(config) = load_or_report(load) else {
        return EXIT_UNKNOWN;
    };
    let Some(entry) = config.monitor(name) else {
        let names: Vec<_> = config.monitors.iter().map(|m| m.name.as_str()).collect();
        eprintln!(
            "periscope: no monitor named `{name}` in {}; configured: {}",
            config.path.display(),
            names.join(", ")
        );
        return EXIT_UNKNOWN;
    };
    if !entry.enabled {
        eprintln!(
            "note: `{name}` is disabled in this environment; running it anyway because you asked"
        );
    }
    let store = match StateStore::open(&config.state_dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("periscope: {e}");
            return EXIT_UNKNOWN;
        }
    };
    let result = runner::check_one(&wire::slot(entry), store.load(name), &SystemClock).await;
    match format {
        OutputFormat::Json => match serde_json::to_string_pretty(&result.run) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("periscope: cannot encode result: {e}"),
        },
        OutputFormat::Text => {
            let record = run::record(
                &config,
                result.run.started,
                result.run.finished,
                std::slice::from_ref(&result),
            );
            print!("{}", report::summary_text(&record, &config.timezone));
        }
    }
    if commit
        && let Some(state) = &result.next_state
        && let Err(e) = store.save(name, state)
    {
        eprintln!("periscope: {e}");
        return EXIT_UNKNOWN;
    }
    exit_code(result.run.outcome.status)
}

/// `periscope monitor list`.
pub fn monitor_list(load: &LoadOptions) -> u8 {
    let Some(config) = load_or_report(load) else {
        return EXIT_UNKNOWN;
    };
    let width = config
        .monitors
        .iter()
        .map(|m| m.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!("{:width$}  {:8}  {:8}  schedule", "name", "kind", "enabled");
    for m in &config.monitors {
        println!(
            "{:width$}  {:8}  {:8}  {}",
            m.name,
            m.kind,
            if m.enabled { "yes" } else { "no" },
            m.schedule
        );
    }
    0
}

/// `periscope check-perfdata [FILE]`.
pub fn check_perfdata(file: Option<&Path>) -> u8 {
    let mut text = String::new();
    let read = match file {
        Some(path) => std::fs::read(path).map(|b| text = String::from_utf8_lossy(&b).into_owned()),
        None => std::io::stdin().read_to_string(&mut text).map(|_| ()),
    };
    if let Err(e) = read {
        eprintln!(
            "periscope: cannot read {}: {e}",
            file.map_or("stdin".into(), |p| p.display().to_string())
        );
        return EXIT_UNKNOWN;
    }
    let parsed = sensors::perfdata::parse_plugin_output(&text);
    // What each value's own thresholds say, so a reader sees how Periscope judges the plugin.
    let statuses: Vec<Option<Status>> = parsed
        .perfdata
        .iter()
        .map(|v| v.threshold_status())
        .collect();
    let shown = serde_json::json!({
        "summary": parsed.summary,
        "long_text": parsed.long_text,
        "perfdata": parsed.perfdata,
        "threshold_status": statuses,
        "problems": parsed.problems,
    });
    match serde_json::to_string_pretty(&shown) {
        Ok(json) => println!("{json}"),
        Err(e) => {
            eprintln!("periscope: cannot encode result: {e}");
            return EXIT_UNKNOWN;
        }
    }
    u8::from(!parsed.problems.is_empty())
}
