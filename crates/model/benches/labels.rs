//! Label set costs: building, cloning, looking up, hashing, comparing, (de)serializing, and
//! the memory a million sets hold, for [`model::Labels`] beside the layout it replaced (a
//! sorted vector of owned `(String, String)` pairs, kept here as [`VecLabels`] with the same
//! operations), in the same process.
//!
//! The sets are like an alert's: 8 labels (`__name__`, `alertname`, `cluster`, `instance`,
//! `job`, `level`, `service`, `team`) with values of 3 to 20 bytes, every set different.
//! Figures are nanoseconds per operation, the median of `PERISCOPE_BENCH_RUNS` runs (5), each
//! over `PERISCOPE_BENCH_SETS` sets (100 000); memory is the growth of the process's resident
//! set while 1 000 000 sets are held, so it includes the allocator's own overhead per block.
//!
//! Run with `cargo bench -p model --bench labels`. Figures: docs/benchmarks/rule-eval.md.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::hint::black_box;
use std::time::Instant;

use model::Labels;

/// The previous layout of a label set, with the operations as they were written.
#[derive(
    Clone,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
struct VecLabels(Vec<(String, String)>);

impl VecLabels {
    fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let (name, value) = (name.into(), value.into());
        match self.0.binary_search_by(|(n, _)| n.as_str().cmp(&name)) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (name, value)),
        }
    }

    fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.set(name, value);
        self
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    fn remove(&mut self, name: &str) -> Option<String> {
        self.0
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.0.remove(i).1)
    }
}

impl<'a> FromIterator<(&'a str, &'a str)> for VecLabels {
    fn from_iter<I: IntoIterator<Item = (&'a str, &'a str)>>(iter: I) -> Self {
        let mut labels = VecLabels::default();
        for (k, v) in iter {
            labels.set(k, v);
        }
        labels
    }
}

/// The pairs of set `i`, in the order a parser meets them (not sorted).
fn pairs(i: usize) -> Vec<(&'static str, String)> {
    vec![
        ("alertname", format!("HighErrorRate{}", i % 50)),
        ("instance", format!("host-{}.example:9100", i % 20_000)),
        ("job", format!("job{}", i % 7)),
        ("service", format!("svc{}", i % 100)),
        ("team", format!("team{}", i % 10)),
        ("cluster", format!("eu-{}", i % 4)),
        ("level", ["critical", "warning", "info"][i % 3].to_string()),
        ("__name__", format!("requests_total_{i}")),
    ]
}

/// One set per index, as owned pair lists (built before anything is timed).
struct Workload {
    raw: Vec<Vec<(&'static str, String)>>,
}

impl Workload {
    fn new(n: usize) -> Self {
        Workload {
            raw: (0..n).map(pairs).collect(),
        }
    }

    fn borrowed(&self, i: usize) -> impl Iterator<Item = (&str, &str)> {
        self.raw[i].iter().map(|(k, v)| (*k, v.as_str()))
    }
}

/// Nanoseconds per operation of `op` over `n` items, median of `runs` runs.
fn time(runs: usize, n: usize, mut op: impl FnMut(usize)) -> f64 {
    let mut per_op: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            for i in 0..n {
                op(i);
            }
            start.elapsed().as_nanos() as f64 / n as f64
        })
        .collect();
    per_op.sort_by(f64::total_cmp);
    per_op[per_op.len() / 2]
}

fn hash_of(value: &impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// Resident set size of this process in bytes (Linux), if readable.
fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Bytes of resident memory per set while `n` sets built by `build` are held.
fn memory_per_set<T>(n: usize, build: impl Fn(usize) -> T) -> Option<f64> {
    let before = rss()?;
    let held: Vec<T> = (0..n).map(&build).collect();
    let after = rss()?;
    let per_set = (after.saturating_sub(before)) as f64 / n as f64;
    drop(black_box(held));
    Some(per_set - std::mem::size_of::<T>() as f64)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Set in a child process that measures one layout's memory and prints bytes per set.
const MEMORY_OF: &str = "PERISCOPE_BENCH_MEMORY_OF";

/// Runs this bench again in a child that only measures `layout`'s memory: a fresh process, so
/// memory freed by earlier work is not reused and hidden from the resident set.
fn memory_in_child(layout: &str) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe)
        .env(MEMORY_OF, layout)
        .output()
        .ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

/// The child's work: hold 1 M sets of `layout` and print the resident bytes per set.
fn measure_memory(layout: &str) {
    let million = 1_000_000;
    let w = Workload::new(million);
    let per_set = if layout == "Labels" {
        memory_per_set(million, |i| w.borrowed(i).collect::<Labels>())
    } else {
        memory_per_set(million, |i| w.borrowed(i).collect::<VecLabels>())
    };
    if let Some(bytes) = per_set {
        println!("{bytes}");
    }
}

fn main() {
    if let Ok(layout) = std::env::var(MEMORY_OF) {
        measure_memory(&layout);
        return;
    }
    let runs = env_usize("PERISCOPE_BENCH_RUNS", 5).max(1);
    let n = env_usize("PERISCOPE_BENCH_SETS", 100_000).max(1);
    let w = Workload::new(n);
    let packed: Vec<Labels> = (0..n).map(|i| w.borrowed(i).collect()).collect();
    let vecs: Vec<VecLabels> = (0..n).map(|i| w.borrowed(i).collect()).collect();
    let json: Vec<String> = packed
        .iter()
        .map(|l| serde_json::to_string(l).expect("labels serialize"))
        .collect();

    println!("label sets of 8 pairs, {n} sets, median of {runs} runs; ns per operation");
    println!("{:<42} {:>10} {:>10}", "operation", "Labels", "Vec (old)");
    let row = |what: &str, new: f64, old: f64| println!("{what:<42} {new:>10.1} {old:>10.1}");

    row(
        "collect from 8 unsorted (&str, &str)",
        time(runs, n, |i| {
            drop(black_box(w.borrowed(i).collect::<Labels>()))
        }),
        time(runs, n, |i| {
            drop(black_box(w.borrowed(i).collect::<VecLabels>()))
        }),
    );
    row(
        "new().with(..) x 8",
        time(runs, n, |i| {
            let l = w.borrowed(i).fold(Labels::new(), |l, (k, v)| l.with(k, v));
            drop(black_box(l));
        }),
        time(runs, n, |i| {
            let l = w
                .borrowed(i)
                .fold(VecLabels::default(), |l, (k, v)| l.with(k, v));
            drop(black_box(l));
        }),
    );
    row(
        "clone + drop",
        time(runs, n, |i| drop(black_box(packed[i].clone()))),
        time(runs, n, |i| drop(black_box(vecs[i].clone()))),
    );
    row(
        "clone + set a new label (alertname-like)",
        time(runs, n, |i| {
            drop(black_box(packed[i].clone().with("zone", "a")))
        }),
        time(runs, n, |i| {
            drop(black_box(vecs[i].clone().with("zone", "a")))
        }),
    );
    row(
        "clone + remove __name__",
        time(runs, n, |i| {
            let mut l = packed[i].clone();
            black_box(l.remove("__name__"));
            drop(black_box(l));
        }),
        time(runs, n, |i| {
            let mut l = vecs[i].clone();
            black_box(l.remove("__name__"));
            drop(black_box(l));
        }),
    );
    row(
        "get (present: service)",
        time(runs, n, |i| {
            black_box(packed[i].get(black_box("service")));
        }),
        time(runs, n, |i| {
            black_box(vecs[i].get(black_box("service")));
        }),
    );
    row(
        "get (absent: zone)",
        time(runs, n, |i| {
            black_box(packed[i].get(black_box("zone")));
        }),
        time(runs, n, |i| {
            black_box(vecs[i].get(black_box("zone")));
        }),
    );
    row(
        "iterate all pairs",
        time(runs, n, |i| {
            for (k, v) in packed[i].iter() {
                black_box((k, v));
            }
        }),
        time(runs, n, |i| {
            for (k, v) in vecs[i].0.iter() {
                black_box((k.as_str(), v.as_str()));
            }
        }),
    );
    row(
        "hash (DefaultHasher)",
        time(runs, n, |i| {
            black_box(hash_of(&packed[i]));
        }),
        time(runs, n, |i| {
            black_box(hash_of(&vecs[i]));
        }),
    );
    row(
        "eq with a neighbour",
        time(runs, n, |i| {
            black_box(packed[i] == packed[(i + 1) % n]);
        }),
        time(runs, n, |i| {
            black_box(vecs[i] == vecs[(i + 1) % n]);
        }),
    );
    row(
        "cmp with a neighbour",
        time(runs, n, |i| {
            black_box(packed[i].cmp(&packed[(i + 1) % n]));
        }),
        time(runs, n, |i| {
            black_box(vecs[i].cmp(&vecs[(i + 1) % n]));
        }),
    );
    row(
        "to JSON",
        time(runs, n, |i| {
            drop(black_box(serde_json::to_string(&packed[i])))
        }),
        time(runs, n, |i| {
            drop(black_box(serde_json::to_string(&vecs[i])))
        }),
    );
    row(
        "from JSON",
        time(runs, n, |i| {
            drop(black_box(serde_json::from_str::<Labels>(&json[i])))
        }),
        time(runs, n, |i| {
            drop(black_box(serde_json::from_str::<VecLabels>(&json[i])))
        }),
    );

    let new_bytes = memory_in_child("Labels");
    let old_bytes = memory_in_child("Vec");
    match (new_bytes, old_bytes) {
        (Some(new), Some(old)) => println!(
            "{:<42} {new:>10.0} {old:>10.0}",
            "heap per set, 1 M held (RSS growth, bytes)"
        ),
        _ => println!("heap per set: not measured (/proc/self/statm unreadable?)"),
    }
    println!(
        "inline size (bytes)                        {:>10} {:>10}",
        std::mem::size_of::<Labels>(),
        std::mem::size_of::<VecLabels>()
    );
}
