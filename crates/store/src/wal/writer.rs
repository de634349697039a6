//! The WAL thread: group commit.
//!
//! Appenders encode their records on their own threads and queue them here. The thread writes
//! whatever is queued, and syncs at most once per commit window: when a commit arrives after a
//! quiet spell it is synced at once, under load everything that arrived during the window
//! shares one `fdatasync`. Only after the sync are the samples applied to the head (so nothing
//! is visible before it is durable) and the waiting commits resolved.
//!
//! A failed write or sync stops the thread for good: every waiting and later commit gets
//! `StoreError::Unavailable`, because after a failed fsync the file's state is unknown.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use model::{CommitSummary, StoreError};

use super::record::{KIND_SEGMENT, header};
use super::{encode_head_image, segment_path, sync_dir};
use crate::oneshot::Sender;
use crate::store::Core;

/// A commit waiting for its sync.
pub struct Commit {
    /// Framed WAL records (samples).
    pub bytes: Vec<u8>,
    /// The samples, applied to the head after the sync.
    pub samples: Vec<(u32, i64, f64)>,
    /// What the caller is told on success.
    pub summary: CommitSummary,
    /// Identical samples found already stored at append time: counted on success.
    pub duplicates: u64,
    pub reply: Sender<Result<CommitSummary, StoreError>>,
}

/// A head image taken right after a segment switch: every segment from `first_segment` on
/// holds what happened after it.
pub struct CheckpointImage {
    pub first_segment: u64,
    /// A complete checkpoint file (header + records).
    pub bytes: Vec<u8>,
}

/// Work for the WAL thread.
pub enum Job {
    /// Records to write with the next batch, nobody waiting (series definitions).
    Bytes(Vec<u8>),
    /// Records whose caller waits for the sync.
    Commit(Commit),
    /// Switch segments and image the head.
    Checkpoint {
        head_cut_seq: u64,
        reply: Sender<Result<CheckpointImage, String>>,
    },
    /// Sync and stop.
    Close(Sender<Result<(), String>>),
}

#[derive(Default)]
struct QueueState {
    jobs: Vec<Job>,
    /// Why the thread no longer takes work.
    stopped: Option<String>,
}

struct Queue {
    state: Mutex<QueueState>,
    cv: Condvar,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The handle appenders and maintenance use to reach the WAL thread.
pub struct Wal {
    queue: Arc<Queue>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Settings of the WAL thread.
pub struct WalConfig {
    pub dir: PathBuf,
    pub first_segment: u64,
    pub window: Duration,
    pub segment_bytes: u64,
}

impl Wal {
    /// Creates segment `first_segment` and starts the thread.
    pub fn start(cfg: WalConfig, core: Arc<Core>) -> std::io::Result<Wal> {
        let segment = Segment::create(&cfg.dir, cfg.first_segment)?;
        let queue = Arc::new(Queue {
            state: Mutex::new(QueueState::default()),
            cv: Condvar::new(),
        });
        let q = queue.clone();
        let thread = std::thread::Builder::new()
            .name("periscope-wal".into())
            .spawn(move || {
                Writer {
                    queue: q,
                    core,
                    cfg,
                    segment,
                    last_sync: None,
                }
                .run()
            })?;
        Ok(Wal {
            queue,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues a job; gives it back when the thread has stopped.
    pub fn submit(&self, job: Job) -> Result<(), (Job, String)> {
        let mut st = self.queue.lock();
        if let Some(why) = &st.stopped {
            return Err((job, why.clone()));
        }
        st.jobs.push(job);
        drop(st);
        self.queue.cv.notify_one();
        Ok(())
    }

    /// Why the WAL no longer accepts work, if it does not.
    pub fn stopped(&self) -> Option<String> {
        self.queue.lock().stopped.clone()
    }

    /// Syncs everything queued and stops the thread; later commits are refused.
    pub fn close(&self) -> Result<(), String> {
        let (tx, rx) = crate::oneshot::channel();
        let result = match self.submit(Job::Close(tx)) {
            Ok(()) => rx
                .wait()
                .unwrap_or_else(|| Err("WAL thread ended without answering".into())),
            Err((_, why)) if why == CLOSED => Ok(()),
            Err((_, why)) => Err(why),
        };
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle
            && h.join().is_err()
        {
            return Err("WAL thread panicked".into());
        }
        result
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// The reason given once the store was closed on purpose.
pub const CLOSED: &str = "the store is closed";

struct Segment {
    file: File,
    n: u64,
    size: u64,
}

impl Segment {
    fn create(dir: &Path, n: u64) -> std::io::Result<Segment> {
        let path = segment_path(dir, n);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)?;
        file.write_all(&header(KIND_SEGMENT))?;
        file.sync_all()?;
        sync_dir(dir)?;
        Ok(Segment {
            file,
            n,
            size: header(KIND_SEGMENT).len() as u64,
        })
    }
}

struct Writer {
    queue: Arc<Queue>,
    core: Arc<Core>,
    cfg: WalConfig,
    segment: Segment,
    last_sync: Option<Instant>,
}

/// What one round gathered.
#[derive(Default)]
struct Round {
    buf: Vec<u8>,
    commits: Vec<Commit>,
    checkpoint: Option<(u64, Sender<Result<CheckpointImage, String>>)>,
    close: Option<Sender<Result<(), String>>>,
}

impl Round {
    fn absorb(&mut self, jobs: Vec<Job>) {
        for job in jobs {
            match job {
                Job::Bytes(b) => self.buf.extend_from_slice(&b),
                Job::Commit(c) => {
                    self.buf.extend_from_slice(&c.bytes);
                    self.commits.push(Commit {
                        bytes: Vec::new(),
                        ..c
                    });
                }
                Job::Checkpoint {
                    head_cut_seq,
                    reply,
                } => match self.checkpoint {
                    // Two at once cannot happen (maintenance is serialized); answer the extra.
                    Some(_) => reply.send(Err("another checkpoint is in progress".into())),
                    None => self.checkpoint = Some((head_cut_seq, reply)),
                },
                Job::Close(reply) => self.close = Some(reply),
            }
        }
    }

    /// Something that must not wait for the window.
    fn urgent(&self) -> bool {
        self.checkpoint.is_some() || self.close.is_some()
    }
}

impl Writer {
    fn take(&self, deadline: Option<Instant>) -> Vec<Job> {
        let mut st = self.queue.lock();
        loop {
            if !st.jobs.is_empty() {
                return std::mem::take(&mut st.jobs);
            }
            match deadline {
                None => st = self.queue.cv.wait(st).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Vec::new();
                    }
                    st = self
                        .queue
                        .cv
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
    }

    fn run(mut self) {
        loop {
            let mut round = Round::default();
            round.absorb(self.take(None));
            if !round.commits.is_empty() && !round.urgent() {
                // Group commit: gather until one window after the previous sync.
                if let Some(last) = self.last_sync {
                    let deadline = last + self.cfg.window;
                    while Instant::now() < deadline && !round.urgent() {
                        round.absorb(self.take(Some(deadline)));
                    }
                }
            }
            let result = self.write_and_sync(&round);
            if let Err(e) = &result {
                self.stop(format!(
                    "writing WAL segment {}: {e}",
                    segment_path(&self.cfg.dir, self.segment.n).display()
                ));
            }
            self.finish_commits(&mut round, result.is_ok());
            let mut failed = result.is_err();
            if !failed
                && self.segment.size >= self.cfg.segment_bytes
                && let Err(e) = self.rotate()
            {
                self.stop(format!("starting a new WAL segment: {e}"));
                failed = true;
            }
            if failed {
                // Nothing more can be written: answer what this round holds and end the
                // thread (submit refuses new work from now on).
                let why = self.queue.lock().stopped.clone().unwrap_or_default();
                if let Some((_, reply)) = round.checkpoint.take() {
                    reply.send(Err(why.clone()));
                }
                if let Some(reply) = round.close.take() {
                    reply.send(Err(why));
                }
                return;
            }
            if let Some((seq, reply)) = round.checkpoint.take() {
                reply.send(self.checkpoint(seq));
                if let Some(why) = self.queue.lock().stopped.clone() {
                    if let Some(reply) = round.close.take() {
                        reply.send(Err(why));
                    }
                    return;
                }
            }
            if let Some(reply) = round.close.take() {
                let stopped = self.queue.lock().stopped.clone();
                self.stop(CLOSED.into());
                reply.send(match stopped {
                    Some(why) if why != CLOSED => Err(why),
                    _ => Ok(()),
                });
                return;
            }
        }
    }

    fn write_and_sync(&mut self, round: &Round) -> std::io::Result<()> {
        if self.queue.lock().stopped.is_some() {
            return Err(std::io::Error::other("WAL stopped earlier"));
        }
        if !round.buf.is_empty() {
            self.segment.file.write_all(&round.buf)?;
            self.segment.size += round.buf.len() as u64;
            self.core
                .counters
                .wal_bytes
                .fetch_add(round.buf.len() as u64, Relaxed);
        }
        if !round.commits.is_empty() || round.urgent() {
            self.segment.file.sync_data()?;
            self.core.counters.wal_fsyncs.fetch_add(1, Relaxed);
            self.last_sync = Some(Instant::now());
        }
        Ok(())
    }

    fn finish_commits(&self, round: &mut Round, synced: bool) {
        if round.commits.is_empty() {
            return;
        }
        if !synced {
            let why = self.queue.lock().stopped.clone().unwrap_or_default();
            for c in round.commits.drain(..) {
                c.reply.send(Err(StoreError::Unavailable(why.clone())));
            }
            return;
        }
        let c = &self.core.counters;
        for commit in round.commits.drain(..) {
            let applied = self.core.head.apply(&commit.samples);
            // A commit that lost a race to store a different value at the same timestamp.
            c.reject(model::Rejection::ConflictingDuplicate, applied.conflicts);
            let duplicates = applied.duplicates + commit.duplicates;
            c.samples_appended
                .fetch_add(applied.new + duplicates, Relaxed);
            c.duplicates.fetch_add(duplicates, Relaxed);
            c.commits.fetch_add(1, Relaxed);
            commit.reply.send(Ok(commit.summary));
        }
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.segment = Segment::create(&self.cfg.dir, self.segment.n + 1)?;
        Ok(())
    }

    fn checkpoint(&mut self, head_cut_seq: u64) -> Result<CheckpointImage, String> {
        if let Some(why) = self.queue.lock().stopped.clone() {
            return Err(why);
        }
        // Everything written so far was synced above; the image covers it, and every later
        // commit goes to the new segment.
        if let Err(e) = self.rotate() {
            let why = format!("starting a new WAL segment for a checkpoint: {e}");
            self.stop(why.clone());
            return Err(why);
        }
        let mut bytes = Vec::new();
        encode_head_image(&self.core.head, self.segment.n, head_cut_seq, &mut bytes);
        Ok(CheckpointImage {
            first_segment: self.segment.n,
            bytes,
        })
    }

    fn stop(&self, why: String) {
        let pending = {
            let mut st = self.queue.lock();
            if st.stopped.is_none() {
                st.stopped = Some(why.clone());
            }
            std::mem::take(&mut st.jobs)
        };
        let why = self.queue.lock().stopped.clone().unwrap_or(why);
        for job in pending {
            match job {
                Job::Commit(c) => c.reply.send(Err(StoreError::Unavailable(why.clone()))),
                Job::Checkpoint { reply, .. } => reply.send(Err(why.clone())),
                Job::Close(reply) => reply.send(Ok(())),
                Job::Bytes(_) => {}
            }
        }
    }
}
