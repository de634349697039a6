//! Alertmanager's half: the Debian package's binary started on a free loopback port with a
//! temporary storage directory and the workload's routes and inhibition rules written as
//! `alertmanager.yml`, the same silences made over `POST /api/v2/silences`, then the same
//! alerts and updates posted to `POST /api/v2/alerts` in batches of [`BATCH`] by
//! [`CLIENTS`] concurrent clients. Measured: accepted alerts per second of wall time, and per
//! CPU-second of the Alertmanager process (utime + stime from `/proc/PID/stat`, until its CPU
//! use settles after the last batch), and its RSS at the end.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use model::Timestamp;
use serde_json::{Map, Value};

use crate::workload::{self, M, RouteSpec};

/// Alerts per request, as Prometheus batches them (its default is 64; bigger batches favour
/// the peer).
pub const BATCH: usize = 1000;
/// Requests in flight at once.
pub const CLIENTS: usize = 4;
/// Most alerts for which the API census of muted alerts is taken.
pub const CENSUS_MAX: usize = 100_000;
/// How long the whole half may take.
pub const GIVE_UP: Duration = Duration::from_secs(300);

/// The binary, when installed: `alertmanager` upstream, `prometheus-alertmanager` in Debian.
pub fn find() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]);
    for dir in dirs {
        for name in ["alertmanager", "prometheus-alertmanager"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// The version line the binary prints.
pub fn version(binary: &Path) -> String {
    Command::new(binary)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            let text = [o.stdout, o.stderr].concat();
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .map(|l| l.trim().to_string())
        })
        .unwrap_or_else(|| "version unknown".into())
}

fn yaml_matchers(out: &mut String, indent: &str, matchers: &[M]) {
    for m in matchers {
        let _ = writeln!(out, "{indent}  - '{}'", m.text());
    }
}

fn yaml_route(out: &mut String, spec: &RouteSpec, indent: &str) {
    let _ = writeln!(out, "{indent}- receiver: {}", spec.receiver);
    let inner = format!("{indent}  ");
    if !spec.matchers.is_empty() {
        let _ = writeln!(out, "{inner}matchers:");
        yaml_matchers(out, &inner, &spec.matchers);
    }
    if spec.continue_matching {
        let _ = writeln!(out, "{inner}continue: true");
    }
    if !spec.children.is_empty() {
        let _ = writeln!(out, "{inner}routes:");
        for c in &spec.children {
            yaml_route(out, c, &inner);
        }
    }
}

/// `alertmanager.yml` with the workload's tree, plus a first route sending `logged` alerts to
/// a receiver with no integrations (Periscope drops them before routing).
pub fn config() -> String {
    let spec = workload::routes();
    let mut out = String::from("global:\n  resolve_timeout: 5m\nroute:\n");
    let _ = writeln!(out, "  receiver: {}", spec.receiver);
    let _ = writeln!(out, "  group_by: [{}]", workload::GROUP_BY.join(", "));
    out.push_str("  group_wait: 30s\n  group_interval: 5m\n  repeat_interval: 4h\n  routes:\n");
    out.push_str("  - receiver: blackhole\n    matchers:\n      - 'level=\"logged\"'\n");
    for c in &spec.children {
        yaml_route(&mut out, c, "  ");
    }
    out.push_str("receivers:\n  - name: blackhole\n");
    for name in workload::receivers(&spec) {
        let _ = writeln!(out, "  - name: {name}");
    }
    out.push_str("inhibit_rules:\n");
    for rule in workload::inhibit_rules() {
        out.push_str("  - source_matchers:\n");
        yaml_matchers(&mut out, "    ", &rule.source);
        out.push_str("    target_matchers:\n");
        yaml_matchers(&mut out, "    ", &rule.target);
        let _ = writeln!(out, "    equal: [{}]", rule.equal.join(", "));
    }
    out
}

/// One request's body and how many alerts it carries.
pub struct Batch {
    pub body: Vec<u8>,
    pub alerts: usize,
}

/// The JSON of one `POST /api/v2/alerts` batch of alerts `indexes` (version 0 or 1, see
/// [`workload::alert`]); times are real, as Alertmanager expires alerts by the wall clock.
fn batch(indexes: &[usize], version: u32, starts_at: Timestamp, at: Timestamp) -> Batch {
    let alerts: Vec<Value> = indexes
        .iter()
        .map(|&i| {
            let a = workload::alert(i, version, starts_at, at);
            let labels: Map<String, Value> = a
                .labels
                .iter()
                .map(|(k, v)| (k.to_string(), Value::from(v)))
                .collect();
            let annotations: Map<String, Value> = a
                .annotations
                .iter()
                .map(|(k, v)| (k.to_string(), Value::from(v)))
                .collect();
            let mut o = Map::new();
            o.insert("labels".into(), labels.into());
            o.insert("annotations".into(), annotations.into());
            o.insert("startsAt".into(), a.starts_at.to_string().into());
            if let Some(end) = a.ends_at {
                o.insert("endsAt".into(), end.to_string().into());
            }
            o.insert("generatorURL".into(), a.generator_url.into());
            Value::Object(o)
        })
        .collect();
    Batch {
        body: serde_json::to_vec(&alerts).unwrap_or_default(),
        alerts: alerts.len(),
    }
}

/// The batches of a pass over alerts in `order`.
pub fn batches(order: &[usize], version: u32, starts_at: Timestamp, at: Timestamp) -> Vec<Batch> {
    order
        .chunks(BATCH)
        .map(|c| batch(c, version, starts_at, at))
        .collect()
}

/// A running Alertmanager.
pub struct Server {
    child: Child,
    pub base: String,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts `binary` with `config` on a free loopback port, clustering off, and waits until
    /// it says it is ready.
    pub async fn start(
        binary: &Path,
        config: &str,
        client: &reqwest::Client,
    ) -> Result<Server, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temp dir: {e}"))?;
        let config_path = dir.path().join("alertmanager.yml");
        std::fs::write(&config_path, config)
            .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free loopback port: {e}"))?
            .port();
        let log = dir.path().join("alertmanager.log");
        let log_file = std::fs::File::create(&log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "alertmanager exited at start ({status}): {}",
                    server.log_tail()
                ));
            }
            let ready = client.get(format!("{}/-/ready", server.base)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "alertmanager not ready after 60 s: {}",
                    server.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of its log, to say why it failed.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    }

    /// Its CPU time so far (user + system).
    pub fn cpu(&self) -> Duration {
        process_cpu(self.pid()).unwrap_or_default()
    }

    /// Waits until its CPU use settles (under 3 % of a core over one second), at most
    /// `limit`; returns its CPU time then.
    pub async fn settle(&self, limit: Duration) -> Duration {
        let until = Instant::now() + limit;
        let mut last = self.cpu();
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = self.cpu();
            if now.saturating_sub(last) < Duration::from_millis(30) || Instant::now() > until {
                return now;
            }
            last = now;
        }
    }

    /// The value of the sample `series` (name and labels exactly as exposed) on `/metrics`.
    pub async fn metric(&self, client: &reqwest::Client, series: &str) -> Option<f64> {
        let text = client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines().find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
    }

    /// Alerts other than `logged` ones that are silenced, and that are inhibited but not
    /// silenced, from `GET /api/v2/alerts` (which works the status out as it answers).
    pub async fn census(&self, client: &reqwest::Client) -> Result<(usize, usize), String> {
        let text = client
            .get(format!("{}/api/v2/alerts", self.base))
            .send()
            .await
            .map_err(|e| format!("GET /api/v2/alerts: {e}"))?
            .text()
            .await
            .map_err(|e| format!("GET /api/v2/alerts: {e}"))?;
        let alerts: Vec<Value> =
            serde_json::from_str(&text).map_err(|e| format!("GET /api/v2/alerts answer: {e}"))?;
        let by = |a: &Value, field: &str| {
            a["status"][field]
                .as_array()
                .is_some_and(|ids| !ids.is_empty())
        };
        let (mut silenced, mut inhibited) = (0, 0);
        for a in alerts.iter().filter(|a| a["labels"]["level"] != "logged") {
            if by(a, "silencedBy") {
                silenced += 1;
            } else if by(a, "inhibitedBy") {
                inhibited += 1;
            }
        }
        Ok((silenced, inhibited))
    }

    /// Makes one silence; its id.
    pub async fn silence(
        &self,
        client: &reqwest::Client,
        matchers: &[M],
        starts_at: Timestamp,
        ends_at: Timestamp,
    ) -> Result<String, String> {
        let body = serde_json::json!({
            "matchers": matchers.iter().map(|m| serde_json::json!({
                "name": m.name,
                "value": m.value,
                "isRegex": m.op.ends_with('~'),
                "isEqual": m.op.starts_with('='),
            })).collect::<Vec<_>>(),
            "startsAt": starts_at.to_string(),
            "endsAt": ends_at.to_string(),
            "createdBy": "bench",
            "comment": "maintenance",
        });
        let response = client
            .post(format!("{}/api/v2/silences", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("POST /api/v2/silences: {e}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!("POST /api/v2/silences answered {status}: {text}"));
        }
        let value: Value =
            serde_json::from_str(&text).map_err(|e| format!("silence answer {text:?}: {e}"))?;
        Ok(value["silenceID"].as_str().unwrap_or_default().to_string())
    }

    /// Posts `batches`, dealt round-robin to [`CLIENTS`] clients that each keep one request
    /// in flight, until done or `deadline`; the alerts accepted (answered 200) and the wall
    /// time taken.
    pub async fn post(
        &self,
        client: &reqwest::Client,
        batches: Vec<Batch>,
        deadline: Instant,
    ) -> Result<(usize, Duration), String> {
        let url = format!("{}/api/v2/alerts", self.base);
        let mut dealt: Vec<Vec<Batch>> = (0..CLIENTS).map(|_| Vec::new()).collect();
        for (k, b) in batches.into_iter().enumerate() {
            dealt[k % CLIENTS].push(b);
        }
        let started = Instant::now();
        let mut tasks = Vec::new();
        for mine in dealt {
            let (client, url) = (client.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                let mut accepted = 0usize;
                for batch in mine {
                    if Instant::now() > deadline {
                        return Err(format!("gave up after {} s", GIVE_UP.as_secs()));
                    }
                    let response = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(batch.body)
                        .send()
                        .await
                        .map_err(|e| format!("POST /api/v2/alerts: {e}"))?;
                    let status = response.status();
                    if !status.is_success() {
                        let text = response.text().await.unwrap_or_default();
                        return Err(format!("POST /api/v2/alerts answered {status}: {text}"));
                    }
                    accepted += batch.alerts;
                }
                Ok(accepted)
            }));
        }
        let mut accepted = 0;
        for t in tasks {
            accepted += t.await.map_err(|e| format!("a client failed: {e}"))??;
        }
        Ok((accepted, started.elapsed()))
    }

    /// Stops it: SIGTERM, then SIGKILL after 10 s.
    pub fn stop(mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on the id of a child this bench started and has not reaped.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User plus system CPU time of process `pid`, from `/proc/PID/stat`.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3, `state`.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let per_second = u64::try_from(per_second).ok().filter(|&t| t > 0)?;
    Some(Duration::from_nanos(ticks * 1_000_000_000 / per_second))
}

/// One pass of posts.
pub struct Pass {
    /// Alerts accepted.
    pub accepted: usize,
    /// Wall time from the first request to the last answer.
    pub wall: Duration,
    /// Alertmanager's CPU time from just before the first request until its CPU use settled.
    pub cpu: Duration,
}

/// What the half measured.
pub struct Measured {
    pub insert: Pass,
    /// CPU time after the insert pass settled until the first flush (`group_wait` after the
    /// groups formed) settled; zero when that flush fell inside the insert pass.
    pub flush_cpu: Duration,
    pub update: Pass,
    /// `alertmanager_dispatcher_aggregation_groups` after the insert pass.
    pub groups: Option<f64>,
    /// After the first flush, alerts other than `logged` ones that are silenced, and that
    /// are inhibited and not silenced, as its API shows them; taken only up to
    /// [`CENSUS_MAX`] alerts (the listing of a million alerts would dwarf the bench).
    pub census: Option<(usize, usize)>,
    /// RSS and peak RSS at the end, kB.
    pub rss_kb: u64,
    pub hwm_kb: u64,
}

/// Runs the half with `n` alerts; gives up after [`GIVE_UP`].
pub fn run(binary: &Path, n: usize) -> Result<Measured, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("no tokio runtime: {e}"))?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("no HTTP client: {e}"))?;
        let deadline = Instant::now() + GIVE_UP;
        let server = Server::start(binary, &config(), &client).await?;
        let result = measure(&server, &client, n, deadline).await;
        let result = result.map_err(|e| format!("{e} (log: {})", server.log_tail()));
        server.stop();
        result
    })
}

async fn measure(
    server: &Server,
    client: &reqwest::Client,
    n: usize,
    deadline: Instant,
) -> Result<Measured, String> {
    use model::Clock as _;
    let now = model::SystemClock.now();
    let starts_at = now.plus_millis(-60_000);
    for matchers in workload::silences() {
        server
            .silence(
                client,
                &matchers,
                now.plus_millis(-1_000),
                now.plus_millis(86_400_000),
            )
            .await?;
    }
    let order: Vec<usize> = (0..n).collect();
    let inserts = batches(&order, 0, starts_at, starts_at);
    let cpu0 = server.cpu();
    let posted_at = Instant::now();
    let (accepted, wall) = server.post(client, inserts, deadline).await?;
    let cpu1 = server.settle(Duration::from_secs(30)).await;
    let insert = Pass {
        accepted,
        wall,
        cpu: cpu1.saturating_sub(cpu0),
    };
    let groups = server
        .metric(client, "alertmanager_dispatcher_aggregation_groups")
        .await;
    // Every group forms within the first few thousand alerts: its first flush is due 30 s
    // after the first request.
    let flush_due = posted_at + Duration::from_secs(32);
    if let Some(wait) = flush_due.checked_duration_since(Instant::now()) {
        tokio::time::sleep(wait).await;
    }
    let cpu2 = server.settle(Duration::from_secs(30)).await;
    let census = if n <= CENSUS_MAX {
        Some(server.census(client).await?)
    } else {
        None
    };
    let order: Vec<usize> = workload::update_order(n).collect();
    let at = model::SystemClock.now();
    let updates = batches(&order, 1, starts_at, at);
    drop(order);
    let cpu3 = server.cpu();
    let (accepted, wall) = server.post(client, updates, deadline).await?;
    let cpu4 = server.settle(Duration::from_secs(30)).await;
    let update = Pass {
        accepted,
        wall,
        cpu: cpu4.saturating_sub(cpu3),
    };
    let status = crate::proc_status(server.pid());
    Ok(Measured {
        insert,
        flush_cpu: cpu2.saturating_sub(cpu1),
        update,
        groups,
        census,
        rss_kb: status.0,
        hwm_kb: status.1,
    })
}
