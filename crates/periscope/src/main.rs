//! Periscope: one binary that watches logs, commands and services, and reports what happened.
//!
//! This crate is the binary: the command line ([`cli`]), loading and validating the
//! configuration ([`config`]), joining the parts ([`wire`]) and the run modes ([`run`],
//! [`serve`], [`demo`]). The one decision behind it: the library crates never know each other;
//! everything that connects them lives here, and only `wire.rs` knows every monitor kind.

mod check_metrics;
mod check_rules;
mod cli;
mod commands;
mod config;
mod demo;
mod http_access;
mod http_server;
mod ingest;
mod notify_ack_page;
mod notify_api;
mod notify_cli;
mod notify_remote;
mod notify_wire;
mod promql_test;
mod query;
mod query_api;
mod rule_loop;
mod run;
mod schedule;
mod serve;
mod state;
mod test_rules;
mod transfer;
mod wire;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use cli::{Cli, Command, LogFormat, MonitorCommand, OncallCommand, SilenceCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.log_format, cli.global.log_level.as_deref());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("periscope: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let code = runtime.block_on(dispatch(cli));
    ExitCode::from(code)
}

async fn dispatch(cli: Cli) -> u8 {
    let g = &cli.global;
    let load = config::LoadOptions {
        path: g.config.clone(),
        env: g.env.clone(),
        state_dir: g.state_dir.clone(),
        secrets: config::Secrets::Required,
    };
    // What reads history or asks a running `serve` needs none of the server's secrets.
    let reader = config::LoadOptions {
        secrets: config::Secrets::NotNeeded,
        ..load.clone()
    };
    match cli.command {
        Command::Serve => serve::serve(&load).await,
        Command::Run { mode, quiet } => commands::run(&load, mode, quiet).await,
        Command::CheckConfig => commands::check_config(&load),
        Command::Monitor(MonitorCommand::Run {
            name,
            format,
            commit,
        }) => commands::monitor_run(&load, &name, format, commit).await,
        Command::Monitor(MonitorCommand::List) => commands::monitor_list(&reader),
        Command::Demo { dir } => demo::demo(dir).await,
        Command::CheckPerfdata { file } => commands::check_perfdata(file.as_deref()),
        Command::Query {
            selector,
            range,
            format,
        } => query::query(&reader, &selector, &range, format),
        Command::Export {
            selector,
            range,
            output,
        } => transfer::export(&reader, selector.as_deref(), &range, output.as_deref()),
        Command::Import { file } => transfer::import(&reader, &file),
        Command::CheckMetrics { format, file } => {
            check_metrics::check_metrics(format, file.as_deref())
        }
        Command::PromqlTest { files, verbose } => promql_test::promql_test(&files, verbose),
        Command::TestRules {
            files,
            run,
            ignore_unknown_fields,
        } => test_rules::test_rules(&files, &run, ignore_unknown_fields),
        Command::CheckRules {
            files,
            warnings_fatal,
        } => check_rules::check_rules(&files, warnings_fatal),
        Command::TestRoute {
            labels,
            at,
            url,
            offline,
        } => notify_cli::test_route(&reader, &labels, at.as_deref(), url.as_deref(), offline).await,
        Command::Oncall(OncallCommand::Who { schedule, at }) => {
            notify_cli::oncall_who(&reader, schedule.as_deref(), at.as_deref())
        }
        Command::Silence(SilenceCommand::Add {
            matchers,
            duration,
            author,
            comment,
            url,
        }) => {
            let req = notify_remote::SilenceRequest {
                matchers,
                duration,
                author,
                comment,
            };
            notify_remote::silence_add(&reader, url.as_deref(), req).await
        }
        Command::Silence(SilenceCommand::List { expired, url }) => {
            notify_remote::silence_list(&reader, url.as_deref(), expired).await
        }
        Command::Silence(SilenceCommand::Expire { id, url }) => {
            notify_remote::silence_expire(&reader, url.as_deref(), &id).await
        }
        Command::Ack { group, by, url } => {
            notify_remote::ack(&reader, url.as_deref(), &group, &by).await
        }
    }
}

/// Logs go to stderr so stdout stays for results; the level comes from `--log-level`, then
/// `RUST_LOG`, then `info`.
fn init_logging(format: LogFormat, level: Option<&str>) {
    let filter = level
        .map(EnvFilter::new)
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
