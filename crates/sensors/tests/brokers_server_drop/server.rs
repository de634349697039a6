//! A broker server process owned by one test: started on a free loopback port with its data in
//! the test's temporary directory, killed (SIGKILL or SIGTERM) and started again on the same
//! port and data, and always killed when the guard is dropped, so a failing test leaves no
//! server behind.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a started server may take to accept connections, and a stopped one to exit.
const READY_WAIT: Duration = Duration::from_secs(10);

/// How the server goes away.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    /// SIGKILL: a crash, nothing flushed on the way out.
    Kill,
    /// SIGTERM: an orderly shutdown (the server saves what it keeps in memory).
    Terminate,
}

/// A server process started by a test; killed on drop.
pub struct ServerProcess {
    what: &'static str,
    program: PathBuf,
    args: Vec<String>,
    port: u16,
    log: PathBuf,
    child: Option<Child>,
}

impl ServerProcess {
    /// A server of `program` (None when it is not installed: the caller skips, saying so),
    /// listening on `port`, with output appended to `log`. Not started yet.
    pub fn new(
        what: &'static str,
        program: &str,
        args: Vec<String>,
        port: u16,
        log: PathBuf,
    ) -> Option<Self> {
        let program = PathBuf::from(program);
        if !program.is_file() {
            eprintln!(
                "SKIPPED: {what} is not installed at {}; this test needs its own server process",
                program.display()
            );
            return None;
        }
        Some(ServerProcess {
            what,
            program,
            args,
            port,
            log,
            child: None,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Starts the server and waits until it accepts connections.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.what);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.log.display()));
        let err = log.try_clone().expect("a second handle on the log");
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.program.display()));
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let start = Instant::now();
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                panic!(
                    "{} exited ({status}) instead of listening on {addr}; its log:\n{}",
                    self.what,
                    self.log_text()
                );
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            assert!(
                start.elapsed() < READY_WAIT,
                "{} does not listen on {addr} after {READY_WAIT:?}; its log:\n{}",
                self.what,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the server `how` and waits until the process is gone.
    pub async fn stop(&mut self, how: Stop) {
        let Some(mut child) = self.child.take() else {
            panic!("{} is not running", self.what);
        };
        match how {
            Stop::Kill => child.kill().expect("SIGKILL the server"),
            Stop::Terminate => {
                // `kill(1)` rather than a raw syscall: the workspace has no unsafe code.
                let status = Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status()
                    .expect("kill(1) runs");
                assert!(status.success(), "kill -TERM {}: {status}", child.id());
            }
        }
        let start = Instant::now();
        while child.try_wait().expect("wait for the server").is_none() {
            if start.elapsed() > READY_WAIT {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} did not exit within {READY_WAIT:?} of {how:?}",
                    self.what
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The server's output so far, for failure messages.
    pub fn log_text(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = File::open(&self.log) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("{} log:\n{}", self.what, self.log_text());
        }
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// `nats-server` with JetStream, its store in `dir` so streams and consumers survive a restart.
pub fn nats_server(dir: &Path) -> Option<ServerProcess> {
    let port = free_port();
    let args = [
        "-a",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-js",
        "-sd",
        &dir.join("jetstream").display().to_string(),
    ]
    .map(String::from)
    .to_vec();
    ServerProcess::new(
        "nats-server",
        "/usr/sbin/nats-server",
        args,
        port,
        dir.join("nats-server.log"),
    )
}

/// `mosquitto` with persistence in `dir`, so the receiver's session and its queued QoS 1
/// messages survive a restart.
pub fn mosquitto(dir: &Path) -> Option<ServerProcess> {
    let port = free_port();
    let conf = dir.join("mosquitto.conf");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).expect("create the mosquitto data directory");
    std::fs::write(&conf, mosquitto_conf(port, &data)).expect("write mosquitto.conf");
    ServerProcess::new(
        "mosquitto",
        "/usr/sbin/mosquitto",
        vec!["-c".to_string(), conf.display().to_string()],
        port,
        dir.join("mosquitto.log"),
    )
}

fn mosquitto_conf(port: u16, data: &Path) -> String {
    // Mosquitto keeps sessions and queued messages in memory and writes them out at exit; a
    // SIGKILL would lose everything since the last autosave, which by default is 30 minutes
    // old. Saving after every change makes it a broker that survives a crash, so the tests see
    // the receiver's behaviour rather than the broker's losses.
    //
    // Mosquitto started by root switches to the `mosquitto` user, who could not write the
    // test's directory; `user root` keeps it as it is (the setting means nothing to others).
    format!(
        "listener {port} 127.0.0.1\n\
         allow_anonymous true\n\
         persistence true\n\
         persistence_location {}/\n\
         autosave_on_changes true\n\
         autosave_interval 1\n\
         user root\n\
         log_dest stderr\n",
        data.display()
    )
}
