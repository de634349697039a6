//! The measured paths. Each iteration causes one new notification and times it: from just
//! before the cause (a line appended, a sample pushed, a value exposed for scraping) to the
//! moment the webhook has the call carrying that iteration's firing alert.
//!
//! Iteration 0 warms up (first evaluation, first delivery, connections) and is not counted.
//! Before each iteration the bench sleeps a random time up to the interval that gates the
//! cause (the poll or evaluation interval): the loop is otherwise locked to the server's ticks
//! (it starts right after the previous call), and every cause would land at the same point of
//! the interval, always just after a tick or always just before one.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use model::Clock as _;

use crate::configs::{self, LOG_ALERT, PUSH_ALERT};
use crate::hook::{Hook, Seen};

/// How many iterations, for how long at most, and how the causes are spread.
pub struct Plan {
    /// Counted iterations (after the warm-up).
    pub iterations: usize,
    /// No iteration starts after this much time.
    pub budget: Duration,
    /// How long one notification may take before it counts as missed.
    pub timeout: Duration,
    /// The random sleep before each iteration is up to this long.
    pub jitter: Duration,
}

/// What one path measured.
#[derive(Default)]
pub struct Measured {
    /// Cause to webhook call, per counted iteration that got its call.
    pub latencies: Vec<Duration>,
    /// Push to HTTP answer (pushed path only).
    pub acks: Vec<Duration>,
    /// Iterations whose call never came, or whose cause failed, and why.
    pub missed: Vec<String>,
    /// Whether the time budget ended the run before the planned iterations.
    pub budget_hit: bool,
    /// Wall time of the counted iterations.
    pub took: Duration,
}

/// A small deterministic generator (xorshift64*): the jitter needs no more, and a fixed seed
/// keeps runs alike.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: Duration) -> Duration {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        bound.mul_f64((x >> 11) as f64 / (1u64 << 53) as f64)
    }
}

/// The loop shared by every path: warm-up, budget, jitter, bookkeeping.
struct Driver<'a> {
    plan: &'a Plan,
    rng: Rng,
    started: Option<Instant>,
    m: Measured,
}

impl<'a> Driver<'a> {
    fn new(plan: &'a Plan) -> Self {
        Driver {
            plan,
            rng: Rng(0x9e37_79b9_7f4a_7c15),
            started: None,
            m: Measured::default(),
        }
    }

    /// Whether iteration `i` runs; sleeps the jitter first.
    async fn next(&mut self, i: usize) -> bool {
        if i > self.plan.iterations {
            return false;
        }
        if i == 1 {
            self.started = Some(Instant::now());
        }
        if self
            .started
            .is_some_and(|s| s.elapsed() >= self.plan.budget)
        {
            self.m.budget_hit = true;
            return false;
        }
        tokio::time::sleep(self.rng.below(self.plan.jitter)).await;
        true
    }

    fn record(&mut self, i: usize, t0: Instant, at: Option<Instant>, what: &str) {
        match at {
            Some(at) if i > 0 => self.m.latencies.push(at.saturating_duration_since(t0)),
            Some(_) => {}
            None => self.m.missed.push(format!(
                "iteration {i}: no {what} call within {:?}",
                self.plan.timeout
            )),
        }
    }

    fn done(mut self) -> Measured {
        self.m.took = self.started.map_or(Duration::ZERO, |s| s.elapsed());
        self.m
    }
}

fn is(alert: &Seen, name: &str, status: &str) -> bool {
    alert.status == status && alert.label("alertname") == name
}

/// A line appended to the watched file; then, untimed, the resolution the window brings, so
/// the next line raises a new alert (the group, emptied by the resolution, is gone with it).
pub async fn log_path(hook: &Hook, file: &Path, plan: &Plan) -> Result<Measured, String> {
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(file)
        .map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    let mut d = Driver::new(plan);
    let mut i = 0;
    while d.next(i).await {
        let line = configs::log_line(&model::SystemClock.now().to_jiff().to_string(), i);
        let from = hook.mark();
        let t0 = Instant::now();
        // As an application writes: appended, no fsync.
        log.write_all(line.as_bytes())
            .map_err(|e| format!("cannot append to {}: {e}", file.display()))?;
        let at = hook
            .wait_for(from, t0 + plan.timeout, |a| is(a, LOG_ALERT, "firing"))
            .await;
        d.record(i, t0, at, "firing");
        let resolved = hook
            .wait_for(from, Instant::now() + plan.timeout, |a| {
                is(a, LOG_ALERT, "resolved")
            })
            .await;
        if resolved.is_none() {
            d.m.missed
                .push(format!("iteration {i}: the alert did not resolve"));
        }
        i += 1;
    }
    Ok(d.done())
}

/// A sample pushed over HTTP (Prometheus text) for a new series; then, untimed and without
/// waiting for its call, a value below the threshold, so firing alerts do not pile up.
pub async fn push_path(hook: &Hook, base: &str, plan: &Plan) -> Result<Measured, String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let url = format!("{base}/api/v1/push");
    let push = |body: String| {
        client
            .post(&url)
            .header("content-type", "text/plain; version=0.0.4")
            .body(body)
            .send()
    };
    let mut d = Driver::new(plan);
    let mut i = 0;
    while d.next(i).await {
        let from = hook.mark();
        let t0 = Instant::now();
        match push(configs::pushed(i, configs::FIRING_VALUE)).await {
            Ok(r) if r.status().is_success() => {
                if i > 0 {
                    d.m.acks.push(t0.elapsed());
                }
            }
            Ok(r) => {
                d.m.missed
                    .push(format!("iteration {i}: push answered {}", r.status()))
            }
            Err(e) => d.m.missed.push(format!("iteration {i}: push failed: {e}")),
        }
        let label = i.to_string();
        let at = hook
            .wait_for(from, t0 + plan.timeout, |a| {
                is(a, PUSH_ALERT, "firing") && a.label("iteration") == label
            })
            .await;
        d.record(i, t0, at, "firing");
        if let Err(e) = push(configs::pushed(i, configs::RESOLVING_VALUE)).await {
            d.m.missed
                .push(format!("iteration {i}: resolving push failed: {e}"));
        }
        i += 1;
    }
    Ok(d.done())
}

/// The peer's path: the bench's `/metrics` starts exposing a new series above the threshold
/// (the previous one disappears, so its alert resolves); Prometheus scrapes it, evaluates,
/// tells Alertmanager, which calls the webhook.
pub async fn scraped_path(hook: &Hook, plan: &Plan) -> Measured {
    let mut d = Driver::new(plan);
    let mut i = 0;
    while d.next(i).await {
        let from = hook.mark();
        let t0 = Instant::now();
        hook.expose(configs::exposed(i));
        let label = i.to_string();
        let at = hook
            .wait_for(from, t0 + plan.timeout, |a| {
                is(a, PUSH_ALERT, "firing") && a.label("iteration") == label
            })
            .await;
        d.record(i, t0, at, "firing");
        i += 1;
    }
    hook.expose(String::new());
    d.done()
}
