//! The processes under test: `periscope serve` (release), and Prometheus with Alertmanager when
//! installed. Each runs in its own temporary directory on free loopback ports, is stopped with
//! SIGTERM (SIGKILL after a timeout), and is killed when dropped, so a panicking bench leaves
//! no child behind.

use std::fs::{self, File};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::http_get_status;
pub use crate::support::{find_binary, free_port};

/// How long a server may take to accept connections and say it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A child process with its log file.
pub struct Proc {
    pub name: &'static str,
    child: Child,
    log: PathBuf,
    pub port: u16,
}

impl Proc {
    /// Starts `binary ARGS` in `dir` with stderr (and stdout) into `dir/NAME.log`.
    pub fn spawn(
        name: &'static str,
        binary: &Path,
        args: &[String],
        dir: &Path,
        port: u16,
    ) -> Result<Proc, String> {
        let log = dir.join(format!("{name}.log"));
        let out =
            File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("cannot share {}: {e}", log.display()))?;
        let child = Command::new(binary)
            .args(args)
            .current_dir(dir)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        Ok(Proc {
            name,
            child,
            log,
            port,
        })
    }

    /// Waits until the port accepts connections (`path: None`) or `GET path` answers 200.
    pub fn wait_ready(&mut self, path: Option<&str>) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "{} exited with {status} before it was ready; its log:\n{}",
                    self.name,
                    self.log_tail(20)
                ));
            }
            let ready = match path {
                None => TcpStream::connect(("127.0.0.1", self.port)).is_ok(),
                Some(path) => http_get_status(self.port, path) == Some(200),
            };
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} not ready on port {} after {START_TIMEOUT:?}; its log:\n{}",
                    self.name,
                    self.port,
                    self.log_tail(20)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The last `n` lines of its log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// SIGTERM, then SIGKILL after the timeout; says how it ended.
    pub fn stop(mut self) -> String {
        let start = Instant::now();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    return format!(
                        "{status} {:.1} s after SIGTERM",
                        start.elapsed().as_secs_f64()
                    );
                }
                Ok(None) if start.elapsed() < STOP_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return format!("killed: still running {STOP_TIMEOUT:?} after SIGTERM");
                }
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // After `stop` this finds the child gone; otherwise (an early return, a panic) it must
        // not outlive the bench.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The first line `binary --version` prints, for the record.
pub fn version(binary: &Path) -> String {
    crate::support::first_output_line(binary, "--version")
        .unwrap_or_else(|| "version unknown".into())
}

/// Writes `text` to `dir/name`.
pub fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf, String> {
    let path = dir.join(name);
    fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}
