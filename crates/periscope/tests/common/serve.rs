//! `periscope serve` as a child process listening on a free port, stopped with SIGTERM (or
//! killed outright, to test what survives a crash).

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::{World, stderr};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `periscope serve`.
pub struct Serve {
    /// Taken by `stop` and `kill`; a test that fails before either kills it on drop, so no
    /// daemon outlives its test.
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Serve {
    /// Starts `serve` in `w` and waits until it listens on `port`.
    pub fn start(w: &World, port: u16) -> Serve {
        let child = w
            .cmd(&["serve"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "serve never listened on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Serve {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// SIGKILL: no shutdown code runs, so only what was already saved survives.
    pub fn kill(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Stops it with SIGTERM, checks the clean exit and returns its log.
    pub fn stop(mut self) -> String {
        let child = self.child.take().unwrap();
        let status = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let out = child.wait_with_output().unwrap();
        let log = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "clean exit on SIGTERM: {log}");
        log
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
