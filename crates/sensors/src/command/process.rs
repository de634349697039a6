//! Running one command: its own process group, bounded output, a deadline, nothing left behind.
//!
//! The command runs as the leader of a new process group, so everything it starts (a shell's
//! pipeline, a plugin's helper) can be killed with one `kill(-pgid, SIGKILL)`. A [`GroupGuard`]
//! does that when the run ends for any reason, including the runner dropping the check's future
//! at its timeout: the guard's `Drop` kills the group, and the dropped tokio `Child` is handed to
//! tokio's orphan queue, which reaps it. A process that calls `setsid` leaves the group on
//! purpose and is out of reach (cgroups would be needed for that).

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};

/// How long the output pipes may stay open after the command exited (a background child still
/// holding them) before the group is killed to close them.
const LINGER: Duration = Duration::from_millis(200);

/// What to run.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    /// The program, as an absolute path (resolved when the monitor was built).
    pub program: PathBuf,
    /// Its arguments (without the program itself).
    pub args: Vec<String>,
    /// Environment variables set on top of Periscope's own.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub workdir: PathBuf,
}

/// How the command ended.
#[derive(Debug)]
pub(crate) enum Ending {
    /// It exited with this code.
    Exited(i32),
    /// A signal ended it.
    Signalled { signal: i32, core_dumped: bool },
    /// It ran past the deadline; its process group was killed.
    TimedOut,
    /// It could not be started at all.
    SpawnFailed(io::Error),
}

/// Output captured from one pipe, up to a limit.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    /// The first bytes, up to the limit.
    pub bytes: Vec<u8>,
    /// How many bytes the command wrote in total.
    pub total: u64,
    /// Why reading stopped early, if it did.
    pub error: Option<String>,
}

impl Captured {
    /// True when more was written than kept.
    pub fn truncated(&self) -> bool {
        self.total > self.bytes.len() as u64
    }
}

/// One finished run.
#[derive(Debug)]
pub(crate) struct Finished {
    /// How it ended.
    pub ending: Ending,
    /// Standard output.
    pub stdout: Captured,
    /// Standard error.
    pub stderr: Captured,
    /// From spawn to the end of the run.
    pub elapsed: Duration,
}

/// Runs `spec` for at most `limit`, keeping at most `max_output` bytes of each output stream.
///
/// Never leaves a process of the group running, whether it returns or is dropped.
pub(crate) async fn run(spec: &Spec, limit: Duration, max_output: usize) -> Finished {
    let started = Instant::now();
    let mut cmd = tokio::process::Command::new(&spec.program);
    cmd.args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.workdir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            return Finished {
                ending: Ending::SpawnFailed(e),
                stdout: Captured::default(),
                stderr: Captured::default(),
                elapsed: started.elapsed(),
            };
        }
    };
    // With process_group(0) the group id is the child's pid. Declared after `child`, so on drop
    // the group is killed first and the `Child` (and its orphan-queue reaping) goes second.
    let mut group = GroupGuard {
        pgid: child.id().and_then(|id| libc::pid_t::try_from(id).ok()),
    };

    let (mut stdout, mut stderr) = (Captured::default(), Captured::default());
    let (out_pipe, err_pipe) = (child.stdout.take(), child.stderr.take());
    let mut reading = Box::pin(async {
        tokio::join!(
            read_into(out_pipe, &mut stdout, max_output),
            read_into(err_pipe, &mut stderr, max_output)
        )
    });
    let deadline = tokio::time::sleep(limit);
    let linger = tokio::time::sleep(Duration::MAX);
    tokio::pin!(deadline, linger);

    let (mut status, mut read_done, mut lingering) = (None::<io::Result<ExitStatus>>, false, false);
    let timed_out = loop {
        tokio::select! {
            st = child.wait(), if status.is_none() => {
                status = Some(st);
                linger.as_mut().reset(tokio::time::Instant::now() + LINGER);
                lingering = true;
            }
            _ = &mut reading, if !read_done => read_done = true,
            // The command is gone but something it started still holds the pipes: end it.
            _ = &mut linger, if lingering => {
                group.kill();
                lingering = false;
            }
            _ = &mut deadline => break true,
        }
        if status.is_some() && read_done {
            break false;
        }
    };

    if timed_out {
        group.kill();
        // SIGKILL closes the pipes and ends the leader at once; wait briefly for both so the
        // partial output is complete, but never long (a `setsid` escapee may hold the pipes).
        let _ = tokio::time::timeout(Duration::from_millis(100), async {
            if !read_done {
                (&mut reading).await;
            }
        })
        .await;
        drop(reading);
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(100), child.wait()).await {
            // Reaped: the group is dead and its id may be reused, so no second kill on drop.
            group.disarm();
        }
        return Finished {
            ending: Ending::TimedOut,
            stdout,
            stderr,
            elapsed: started.elapsed(),
        };
    }
    drop(reading);
    // Nothing the command started outlives the check (see the module doc).
    group.kill();
    group.disarm();

    let ending = match status {
        Some(Ok(st)) => ending_of(st),
        Some(Err(e)) => Ending::SpawnFailed(io::Error::new(
            e.kind(),
            format!("waiting for the process failed: {e}"),
        )),
        // The loop only ends without timing out once the status is known.
        None => Ending::SpawnFailed(io::Error::other("internal error: no exit status")),
    };
    Finished {
        ending,
        stdout,
        stderr,
        elapsed: started.elapsed(),
    }
}

fn ending_of(st: ExitStatus) -> Ending {
    match (st.code(), st.signal()) {
        (Some(code), _) => Ending::Exited(code),
        (None, Some(signal)) => Ending::Signalled {
            signal,
            core_dumped: st.core_dumped(),
        },
        (None, None) => {
            Ending::SpawnFailed(io::Error::other(format!("unrecognised exit status {st}")))
        }
    }
}

/// Reads `pipe` to its end, keeping the first `max` bytes and counting the rest, so a command
/// that writes without end neither fills memory nor blocks on a full pipe.
async fn read_into(pipe: Option<impl AsyncRead + Unpin>, into: &mut Captured, max: usize) {
    let Some(mut pipe) = pipe else { return };
    let mut chunk = [0u8; 8192];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) => return,
            Ok(n) => {
                let keep = n.min(max.saturating_sub(into.bytes.len()));
                into.bytes.extend_from_slice(&chunk[..keep]);
                into.total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                into.error = Some(e.to_string());
                return;
            }
        }
    }
}

/// Kills the command's whole process group when the run ends, however it ends.
struct GroupGuard {
    pgid: Option<libc::pid_t>,
}

impl GroupGuard {
    fn kill(&self) {
        if let Some(pgid) = self.pgid {
            kill_group(pgid);
        }
    }

    /// No more kills: the run is over and the group was cleaned up.
    fn disarm(&mut self) {
        self.pgid = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sends SIGKILL to every process in group `pgid`.
///
/// The group id is the leader's pid. While any member lives the kernel does not hand that number
/// out again, and the leader is reaped only after this kill or just before the final one, so the
/// signal cannot reach an unrelated group in practice.
#[allow(unsafe_code)]
fn kill_group(pgid: libc::pid_t) {
    // -1 would mean "every process we may signal" and 0 our own group: never send those.
    if pgid <= 1 {
        return;
    }
    // SAFETY: kill(2) takes two integers and touches no memory of ours; a negative pid addresses
    // the process group. Errors (ESRCH: the group is already gone) need no handling.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// The conventional name of a signal number, for messages.
pub(crate) fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        _ => "signal",
    }
}
