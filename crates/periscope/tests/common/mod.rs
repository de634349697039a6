//! Helpers for running the real `periscope` binary against a temporary world.

#![allow(dead_code)] // each test file uses a different subset

pub mod api;
pub mod notify;
pub mod postgres;
pub mod serve;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary folder with a config and logs, and the binary pointed at it.
pub struct World {
    pub dir: tempfile::TempDir,
}

impl World {
    /// A world whose `periscope.toml` is `config`.
    pub fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let world = World { dir };
        world.write("periscope.toml", config);
        world
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    pub fn append(&self, rel: &str, text: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.path(rel))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// A `periscope` command with `--config` pointing at this world.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_periscope"));
        c.args(args)
            .arg("--config")
            .arg(self.path("periscope.toml"))
            .env("RUST_LOG", "warn");
        c
    }

    /// Runs `periscope ARGS` to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run periscope")
    }

    /// Masks what changes from run to run (times, durations, the temp path, the host).
    pub fn settings(&self) -> insta::Settings {
        let mut s = insta::Settings::clone_current();
        let dir = regex_escape(&self.dir.path().display().to_string());
        s.add_filter(&dir, "[DIR]");
        s.add_filter(
            r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?Z?",
            "[TIME]",
        );
        s.add_filter(r"\d{8}T\d{6}(\.\d+)?Z", "[STAMP]");
        s.add_filter(r"\d{4}-\d{2}-\d{2}", "[DATE]");
        s.add_filter(&regex_escape(&host()), "[HOST]");
        // Durations differ from run to run; the shape around them is what the goldens hold.
        s.add_filter(r"(took|Elapsed:|Duration:) [^\n]*", "$1 [ELAPSED]");
        s.add_filter(r"<ElapsedMs>\d+</ElapsedMs>", "<ElapsedMs>[MS]</ElapsedMs>");
        s.add_filter(r"(<Duration [^>]*>)\d+", "$1[MS]");
        s.add_filter(r#""elapsed_ms": \d+"#, r#""elapsed_ms": [MS]"#);
        s.add_filter(r#"("type": "duration",\s*"value": )\d+"#, "$1[MS]");
        s.add_filter(r",\d{2}:\d{2}:\d{2},", ",[CLOCK],");
        s.add_filter(r"(elapsed_ms,,)\d+", "$1[MS]");
        s.add_filter(r"(duration_seconds,,)[\d.]+", "$1[S]");
        s
    }
}

pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

fn regex_escape(s: &str) -> String {
    s.chars().fold(String::new(), |mut out, c| {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The single file in `dir` whose name ends with `suffix`.
pub fn only_file(dir: &Path, suffix: &str) -> PathBuf {
    let found: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one *{suffix} in {}: {found:?}",
        dir.display()
    );
    found.into_iter().next().unwrap()
}
