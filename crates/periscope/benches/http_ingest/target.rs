//! The servers under test: Periscope's release binary and, when installed, VictoriaMetrics and
//! Prometheus, each started on a free loopback port with a fresh data directory, and stopped
//! with SIGTERM (SIGKILL after a timeout). Shared by the `http_ingest` and `rule_eval` benches.

// Each bench includes this file and uses a different part of it.
#![allow(dead_code)]

use std::fs::{self, File};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{find_binary, free_port, http_get_status};

/// How long a server may take to accept connections and say it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// Which server.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Periscope,
    VictoriaMetrics,
    Prometheus,
}

/// What a start adds to a target's defaults.
#[derive(Default)]
pub struct Setup<'a> {
    /// Prometheus' configuration file, instead of one with no scrape jobs and nothing else.
    /// Relative paths in it (`rule_files`) resolve next to it, where [`Setup::files`] go.
    pub prometheus_config: Option<&'a str>,
    /// Files written next to the configuration before the start, as (name, content).
    pub files: &'a [(&'a str, &'a str)],
}

/// A server that can be started.
pub struct Target {
    pub kind: Kind,
    pub name: &'static str,
    pub binary: PathBuf,
}

impl Target {
    pub fn periscope() -> Target {
        Target {
            kind: Kind::Periscope,
            name: "periscope",
            binary: PathBuf::from(env!("CARGO_BIN_EXE_periscope")),
        }
    }

    /// The peer when its binary is on `PATH` or in `/usr/bin`; otherwise why it is skipped.
    pub fn peer(kind: Kind) -> Result<Target, String> {
        let (name, binary, package) = match kind {
            Kind::Periscope => unreachable!("Periscope is not a peer"),
            Kind::VictoriaMetrics => ("victoria-metrics", "victoria-metrics", "victoria-metrics"),
            Kind::Prometheus => ("prometheus", "prometheus", "prometheus"),
        };
        match find_binary(binary) {
            Some(binary) => Ok(Target { kind, name, binary }),
            None => Err(format!(
                "{name}: `{binary}` not found on PATH or in /usr/bin, skipped \
                 (install: apt-get update && apt-get install -y {package})"
            )),
        }
    }

    /// The version line the binary prints, for the record.
    pub fn version(&self) -> String {
        let arg = match self.kind {
            Kind::Periscope => return "built from this tree (release)".into(),
            Kind::VictoriaMetrics => "-version",
            Kind::Prometheus => "--version",
        };
        crate::support::first_output_line(&self.binary, arg)
            .or_else(|| self.package_version())
            .unwrap_or_else(|| "version unknown".into())
    }

    /// The Debian package's version (Debian's VictoriaMetrics prints an empty `-version`).
    fn package_version(&self) -> Option<String> {
        let out = Command::new("dpkg-query")
            .args(["-W", "-f=${Version}", self.name])
            .output()
            .ok()?;
        let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && !version.is_empty())
            .then(|| format!("Debian package {} {version}", self.name))
    }

    /// Starts the server on a free loopback port with a fresh data directory under `root`,
    /// and waits until it accepts remote-write requests.
    pub fn start(&self, root: &Path) -> Result<Server, String> {
        self.start_with(root, &Setup::default())
    }

    /// [`Target::start`] with `setup`'s configuration and files.
    pub fn start_with(&self, root: &Path, setup: &Setup<'_>) -> Result<Server, String> {
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let dir = tempfile::tempdir_in(root)
            .map_err(|e| format!("cannot create a data dir under {}: {e}", root.display()))?;
        let data = dir.path().join("data");
        let log = dir.path().join("server.log");
        for (name, text) in setup.files {
            let path = dir.path().join(name);
            fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        let mut command = Command::new(&self.binary);
        let ready_path = match self.kind {
            Kind::Periscope => {
                let config = dir.path().join("periscope.toml");
                let text = format!(
                    "[store]\ndir = {data:?}\n\n[http]\nlisten = \"{listen}\"\n",
                    data = data.display().to_string(),
                );
                fs::write(&config, text)
                    .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
                command
                    .arg("serve")
                    .arg("--config")
                    .arg(&config)
                    .env("RUST_LOG", "warn");
                // The port is bound only once the store is open.
                None
            }
            Kind::VictoriaMetrics => {
                command
                    .arg(format!("-storageDataPath={}", data.display()))
                    .arg(format!("-httpListenAddr={listen}"))
                    .arg("-loggerLevel=WARN");
                Some("/health")
            }
            Kind::Prometheus => {
                // No scrape jobs: the remote-write receiver is the only source.
                let config = dir.path().join("prometheus.yml");
                let text = setup
                    .prometheus_config
                    .unwrap_or("global:\n  scrape_interval: 15s\n");
                fs::write(&config, text)
                    .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
                command
                    .arg(format!("--config.file={}", config.display()))
                    .arg(format!("--storage.tsdb.path={}", data.display()))
                    .arg(format!("--web.listen-address={listen}"))
                    .arg("--web.enable-remote-write-receiver")
                    .arg("--log.level=warn");
                Some("/-/ready")
            }
        };
        let log_file =
            File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let child = command
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.binary.display()))?;
        let mut server = Server {
            child,
            port,
            dir,
            data,
            log,
        };
        server.wait_ready(ready_path)?;
        Ok(server)
    }
}

/// A running server.
pub struct Server {
    child: Child,
    port: u16,
    /// Holds the data dir, the config and the log; removed when dropped.
    dir: tempfile::TempDir,
    data: PathBuf,
    log: PathBuf,
}

/// How a server stopped.
pub struct Stopped {
    /// Exit status, or that it had to be killed.
    pub how: String,
    /// Whether it exited by itself with status 0 after SIGTERM.
    pub clean: bool,
    /// SIGTERM to exit.
    pub took: Duration,
    /// Size of the data directory after the stop.
    pub data_bytes: u64,
}

impl Server {
    /// The remote-write URL.
    pub fn write_url(&self) -> String {
        self.url("/api/v1/write")
    }

    /// The URL of `path` (starting with `/`) on the server.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn wait_ready(&mut self, ready_path: Option<&str>) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "exited with {status} before it was ready; its log:\n{}",
                    self.log_tail()
                ));
            }
            let ready = match ready_path {
                None => TcpStream::connect(("127.0.0.1", self.port)).is_ok(),
                Some(path) => http_get_status(self.port, path) == Some(200),
            };
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!(
                    "not ready on port {} after {START_TIMEOUT:?}; its log:\n{}",
                    self.port,
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Peak resident memory so far (`VmHWM`), in bytes.
    pub fn peak_rss(&self) -> Option<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// CPU time the server has used so far.
    pub fn cpu_time(&self) -> Option<Duration> {
        cpu_time(self.child.id())
    }

    /// SIGTERM, then SIGKILL if it has not exited within the timeout.
    pub fn stop(mut self) -> Stopped {
        let start = Instant::now();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = start + STOP_TIMEOUT;
        let (how, clean) = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break (status.to_string(), status.success()),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break (format!("killed after {STOP_TIMEOUT:?}"), false);
                }
            }
        };
        let took = start.elapsed();
        let data_bytes = dir_size(&self.data);
        if !clean {
            eprintln!(
                "  server log ({}):\n{}",
                self.dir.path().display(),
                self.log_tail()
            );
        }
        Stopped {
            how,
            clean,
            took,
            data_bytes,
        }
    }
}

/// CPU time (user + system, all threads) process `pid` has used so far, from
/// `/proc/PID/stat`, assuming Linux' usual 100 ticks per second.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at state (field 3).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Bytes of all files under `dir`.
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}
