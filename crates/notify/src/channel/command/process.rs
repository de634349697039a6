//! One run of a notification command: input on stdin, bounded output, a deadline, and nothing
//! left running afterwards.
//!
//! The same approach as the `command` monitor's runner in `sensors` (which this crate does not
//! depend on): the command leads a new process group, so one `kill(-pgid, SIGKILL)` reaches
//! everything it started (a shell's pipeline, a background helper). A [`Group`] guard sends that
//! kill when the run ends for any reason, including the delivery future being dropped by the
//! stage around the channel; the dropped tokio `Child` is then reaped by tokio's orphan queue. A
//! process that calls `setsid` leaves the group on purpose and is out of reach.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::time::Sleep;

/// How long the output pipes may stay open after the command exited (something it started in
/// the background still holds them) before the group is killed to close them.
const LINGER: Duration = Duration::from_millis(200);

/// How long to wait, after killing a timed-out group, for the last output and the exit status.
const AFTER_KILL: Duration = Duration::from_millis(100);

/// What to run.
#[derive(Clone, Debug)]
pub(super) struct Spec {
    /// The program: a path, or a name looked up on `PATH`.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Environment variables set on top of Periscope's own.
    pub env: Vec<(String, String)>,
}

/// How a run ended.
#[derive(Debug)]
pub(super) enum Ending {
    /// The command exited with this code.
    Exited(i32),
    /// A signal ended it.
    Signalled(i32),
    /// It ran past the deadline; its process group was killed.
    TimedOut,
    /// It could not be started, or its exit could not be learned.
    SpawnFailed(io::Error),
}

/// One finished run.
#[derive(Debug)]
pub(super) struct Run {
    /// How it ended.
    pub ending: Ending,
    /// The start of standard output.
    pub stdout: Vec<u8>,
    /// The start of standard error.
    pub stderr: Vec<u8>,
}

/// Runs `spec` with `input` on its standard input for at most `limit`, keeping at most
/// `max_output` bytes of each output stream. Leaves no process of its group running, whether it
/// returns or is dropped.
pub(super) async fn run(spec: &Spec, input: Vec<u8>, limit: Duration, max_output: usize) -> Run {
    let mut cmd = tokio::process::Command::new(&spec.program);
    cmd.args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            return Run {
                ending: Ending::SpawnFailed(e),
                stdout: Vec::new(),
                stderr: Vec::new(),
            };
        }
    };
    // process_group(0) makes the child's pid its group id. Declared after `child` so that on
    // drop the group dies first and the `Child` (with its reaping) goes second.
    let mut group = Group {
        pgid: child.id().and_then(|id| libc::pid_t::try_from(id).ok()),
    };

    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let (stdin, out_pipe, err_pipe) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let mut io = Box::pin(async {
        let feed = async move {
            if let Some(mut stdin) = stdin {
                // A command that does not read its input closes the pipe: not our problem.
                let _ = stdin.write_all(&input).await;
                // Dropping `stdin` here is the end of input the command waits for.
            }
        };
        tokio::join!(
            feed,
            read_into(out_pipe, &mut stdout, max_output),
            read_into(err_pipe, &mut stderr, max_output)
        )
    });
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    let mut linger: Option<Pin<Box<Sleep>>> = None;

    let (mut status, mut io_done) = (None::<io::Result<ExitStatus>>, false);
    let timed_out = loop {
        tokio::select! {
            st = child.wait(), if status.is_none() => {
                status = Some(st);
                linger = Some(Box::pin(tokio::time::sleep(LINGER)));
            }
            _ = &mut io, if !io_done => io_done = true,
            // The command is gone but something it started holds the pipes: end it.
            _ = async { if let Some(l) = linger.as_mut() { l.await } }, if linger.is_some() => {
                group.kill();
                linger = None;
            }
            _ = &mut deadline => break true,
        }
        if status.is_some() && io_done {
            break false;
        }
    };

    if timed_out {
        group.kill();
        // SIGKILL closes the pipes: collect what was written until then, without waiting on a
        // `setsid` escapee that may still hold them.
        if !io_done {
            let _ = tokio::time::timeout(AFTER_KILL, &mut io).await;
        }
        drop(io);
        if let Ok(Ok(_)) = tokio::time::timeout(AFTER_KILL, child.wait()).await {
            // Reaped: the group id may be reused from now on, so no second kill on drop.
            group.disarm();
        }
        return Run {
            ending: Ending::TimedOut,
            stdout,
            stderr,
        };
    }
    drop(io);
    // Whatever the command left running in its group ends with it.
    group.kill();
    group.disarm();

    let ending = match status {
        Some(Ok(st)) => ending_of(st),
        Some(Err(e)) => Ending::SpawnFailed(io::Error::new(
            e.kind(),
            format!("waiting for the process failed: {e}"),
        )),
        None => Ending::SpawnFailed(io::Error::other("internal error: no exit status")),
    };
    Run {
        ending,
        stdout,
        stderr,
    }
}

fn ending_of(st: ExitStatus) -> Ending {
    match (st.code(), st.signal()) {
        (Some(code), _) => Ending::Exited(code),
        (None, Some(signal)) => Ending::Signalled(signal),
        (None, None) => Ending::SpawnFailed(io::Error::other(format!("unknown exit status {st}"))),
    }
}

/// Reads `pipe` to its end, keeping the first `max` bytes, so a chatty command neither fills
/// memory nor blocks on a full pipe.
async fn read_into(pipe: Option<impl AsyncRead + Unpin>, into: &mut Vec<u8>, max: usize) {
    let Some(mut pipe) = pipe else { return };
    let mut chunk = [0u8; 8192];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) => return,
            Ok(n) => {
                let keep = n.min(max.saturating_sub(into.len()));
                into.extend_from_slice(&chunk[..keep]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
    }
}

/// Kills the command's process group when the run ends, however it ends.
struct Group {
    pgid: Option<libc::pid_t>,
}

impl Group {
    fn kill(&self) {
        if let Some(pgid) = self.pgid {
            kill_group(pgid);
        }
    }

    /// No more kills: the group was cleaned up and its id may be reused.
    fn disarm(&mut self) {
        self.pgid = None;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sends SIGKILL to every process in group `pgid` (the leader's pid, which the kernel does not
/// hand out again while any member lives).
#[allow(unsafe_code)]
fn kill_group(pgid: libc::pid_t) {
    // -1 would address every process we may signal, 0 our own group: never send those.
    if pgid <= 1 {
        return;
    }
    // SAFETY: kill(2) takes two integers and touches none of our memory; a negative pid
    // addresses a process group. An error (ESRCH: the group is gone already) needs no handling.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}
