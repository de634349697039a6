//! What one check saw, accumulated record by record, then turned into the observation: outcome,
//! samples, events, facts and one section per rule.
//!
//! Counts are always exact; what is kept in memory is bounded: events per rule (`max_events`),
//! distinct messages per rule ([`MAX_GROUPS`]), message and field lengths.
//!
//! Samples (all per check, the runner adds the `monitor` label):
//!
//! | name | labels | meaning |
//! |---|---|---|
//! | `periscope_log_files` | | files read |
//! | `periscope_log_records` | | records read (complete records consumed) |
//! | `periscope_log_records_with_timestamp` | | records whose timestamp was parsed |
//! | `periscope_log_lines` | | lines read |
//! | `periscope_log_bytes` | | bytes consumed (unit `B`) |
//! | `periscope_log_backlog_bytes` | | bytes present but not consumed yet: an unfinished end, or what a time-limited check left (unit `B`) |
//! | `periscope_log_matches` | `rule` | records the rule matched |

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use model::{
    CheckOutcome, ErrorGroup, Event, Fact, FactValue, Fragment, Observation, Sample, Section,
    Status, Timestamp,
};

use super::Compiled;
use super::rules::Scratch;
use super::scan::{Record, Sink, Times};

/// Distinct messages tracked per rule; later new ones are counted together.
pub(crate) const MAX_GROUPS: usize = 1000;
/// Groups listed in a section, most frequent first; the rest are summed in one line.
const SECTION_GROUPS: usize = 50;
/// Bytes of a record kept in an event message.
pub(crate) const MAX_MESSAGE: usize = 4096;
/// Bytes of a grouping key (a first line) kept.
const MAX_KEY: usize = 300;
/// Bytes of a captured field kept.
const MAX_FIELD: usize = 1024;

/// FxHash-style hasher: grouping keys are hashed once per match, so SipHash's cost shows; the
/// keys come from logs we read, not from an attacker who gains anything by colliding them.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

#[derive(Clone, Copy, Default)]
struct Group {
    count: u64,
    first: Option<i64>,
    last: Option<i64>,
}

impl Group {
    fn add(&mut self, time: Option<i64>) {
        self.count += 1;
        if let Some(t) = time {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
    }
    fn merge(&mut self, o: &Group) {
        self.count += o.count;
        for t in [o.first, o.last].into_iter().flatten() {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
    }
}

#[derive(Default)]
struct RuleTally {
    count: u64,
    groups: FastMap<Box<[u8]>, Group>,
    /// Messages first seen after [`MAX_GROUPS`] distinct ones.
    overflow: Group,
    events: Vec<Event>,
}

/// Everything one check accumulates.
pub(crate) struct Tally<'c> {
    c: &'c Compiled,
    now: Timestamp,
    scratch: Scratch,
    key: Vec<u8>,
    /// Path of the file being read, for event locations.
    pub path: String,
    pub files: u64,
    pub records: u64,
    pub with_time: u64,
    pub lines: u64,
    pub bytes: u64,
    pub backlog: u64,
    first: Option<i64>,
    last: Option<i64>,
    rules: Vec<RuleTally>,
    /// Things a person should know: rotations followed, data that could not be read.
    pub notes: Vec<String>,
}

impl<'c> Tally<'c> {
    pub fn new(c: &'c Compiled, now: Timestamp) -> Self {
        Tally {
            c,
            now,
            scratch: c.matcher.scratch(),
            key: Vec::new(),
            path: String::new(),
            files: 0,
            records: 0,
            with_time: 0,
            lines: 0,
            bytes: 0,
            backlog: 0,
            first: None,
            last: None,
            rules: c
                .matcher
                .rules
                .iter()
                .map(|_| RuleTally::default())
                .collect(),
            notes: Vec::new(),
        }
    }

    fn hit(&mut self, idx: usize, rec: &Record<'_>) {
        let rule = &self.c.matcher.rules[idx];
        let tally = &mut self.rules[idx];
        tally.count += 1;
        let keep_event = tally.events.len() < self.c.max_events;
        let needs_captures = keep_event || rule.group_by.is_some();
        let mut captured = false;
        if let (Some(re), true) = (rule.regex(), needs_captures) {
            let locs = self.scratch.locs[idx]
                .as_mut()
                .expect("regex rules have capture slots");
            captured = re.captures_read(locs, rec.text).is_some();
        }
        // The grouping key: the chosen capture, else the first line without its timestamp.
        self.key.clear();
        let group_span = rule
            .group_by
            .filter(|_| captured)
            .and_then(|g| self.scratch.locs[idx].as_ref()?.get(g));
        match group_span {
            Some((s, e)) => self.key.extend_from_slice(&rec.text[s..e]),
            None => {
                let (s, e) = rec.time_span;
                let line = rec.first_line;
                if e > s && e <= line.len() {
                    self.key.extend_from_slice(&line[..s]);
                    self.key.extend_from_slice(&line[e..]);
                } else {
                    self.key.extend_from_slice(line);
                }
                let trimmed_start = self
                    .key
                    .iter()
                    .position(|b| !b" \t-|:,;]".contains(b))
                    .unwrap_or(self.key.len());
                self.key.drain(..trimmed_start);
            }
        }
        while self.key.last().is_some_and(u8::is_ascii_whitespace) {
            self.key.pop();
        }
        self.key.truncate(MAX_KEY);
        if let Some(g) = tally.groups.get_mut(self.key.as_slice()) {
            g.add(rec.time);
        } else if tally.groups.len() < MAX_GROUPS {
            let mut g = Group::default();
            g.add(rec.time);
            tally.groups.insert(self.key.clone().into_boxed_slice(), g);
        } else {
            tally.overflow.add(rec.time);
        }
        if keep_event {
            let mut fields = Vec::new();
            if captured
                && let (Some(re), Some(locs)) = (rule.regex(), self.scratch.locs[idx].as_ref())
            {
                for (i, name) in re.capture_names().enumerate() {
                    if let (Some(name), Some((s, e))) = (name, locs.get(i)) {
                        fields.push((name.to_string(), lossy_capped(&rec.text[s..e], MAX_FIELD)));
                    }
                }
            }
            let mut message = lossy_capped(rec.text, MAX_MESSAGE);
            if rec.truncated && rec.text.len() <= MAX_MESSAGE {
                message.push_str(" […]");
            }
            tally.events.push(Event {
                time: rec.time.map_or(self.now, Timestamp),
                rule: rule.name.clone(),
                status: Status::Ok,
                message,
                fields,
                location: Some(format!("{}:{}", self.path, rec.line)),
            });
        }
    }

    /// The observation, with `next_state` to hand to the next check.
    pub fn finish(self, next_state: Vec<u8>) -> Observation {
        let now = self.now;
        let mut worst = Status::Ok;
        let mut offenders = Vec::new();
        let mut details = Vec::new();
        let mut samples = vec![
            Sample::new("periscope_log_files", self.files as f64, now),
            Sample::new("periscope_log_records", self.records as f64, now),
            Sample::new(
                "periscope_log_records_with_timestamp",
                self.with_time as f64,
                now,
            ),
            Sample::new("periscope_log_lines", self.lines as f64, now),
            Sample::new("periscope_log_bytes", self.bytes as f64, now).unit("B"),
            Sample::new("periscope_log_backlog_bytes", self.backlog as f64, now).unit("B"),
        ];
        let mut events = Vec::new();
        let mut sections = Vec::new();
        for (idx, (rule, t)) in self.c.matcher.rules.iter().zip(self.rules).enumerate() {
            let status = if rule.critical.is_some_and(|c| t.count >= c) {
                Status::Critical
            } else if rule.warning.is_some_and(|w| t.count >= w) {
                Status::Warning
            } else {
                Status::Ok
            };
            worst = worst.worst(status);
            let limits = match (rule.warning, rule.critical) {
                (Some(w), Some(c)) => format!("warning at {w}, critical at {c}"),
                (Some(w), None) => format!("warning at {w}"),
                (None, Some(c)) => format!("critical at {c}"),
                (None, None) => "no thresholds".to_string(),
            };
            if status != Status::Ok {
                offenders.push(format!("{}: {} ({})", rule.title, t.count, status));
            }
            // A rule without literals to search for costs a regex run per record: say so, since
            // it is the usual reason a log monitor is slow.
            let cost = if self.c.matcher.is_unfiltered(idx) {
                "; regex runs on every record"
            } else {
                ""
            };
            details.push(format!(
                "{}: {} ({limits}{cost}) [rule {}]",
                rule.title, t.count, rule.name
            ));
            samples.push(
                Sample::new("periscope_log_matches", t.count as f64, now)
                    .label("rule", rule.name.as_str()),
            );
            events.extend(t.events.into_iter().map(|e| Event { status, ..e }));
            sections.push(section(
                rule.key.clone(),
                rule.title.clone(),
                t.groups,
                t.overflow,
            ));
        }
        let files = plural(self.files, "file");
        let summary = if offenders.is_empty() {
            let tail = if self.c.matcher.rules.is_empty() {
                ""
            } else {
                ", no rule over its threshold"
            };
            format!(
                "{} read from {files}{tail}",
                plural(self.records, "new record")
            )
        } else {
            format!(
                "{}; {} read from {files}",
                offenders.join(", "),
                plural(self.records, "new record")
            )
        };
        details.extend(self.notes);
        let mut facts = vec![
            Fact::new("files", "Files Read", FactValue::Count(self.files)),
            Fact::new("records", "Records Read", FactValue::Count(self.records)),
            Fact::new(
                "records_with_timestamp",
                "Records With Timestamp",
                FactValue::Count(self.with_time),
            ),
            Fact::new("lines", "Lines Read", FactValue::Count(self.lines)),
            Fact::new(
                "bytes",
                "Bytes Read",
                FactValue::Number {
                    value: self.bytes as f64,
                    unit: Some("B".into()),
                },
            ),
        ];
        if let (Some(first), Some(last)) = (self.first, self.last) {
            facts.push(Fact::new(
                "first_record_time",
                "First Record",
                FactValue::Time(Timestamp(first)),
            ));
            facts.push(Fact::new(
                "last_record_time",
                "Last Record",
                FactValue::Time(Timestamp(last)),
            ));
        }
        if self.backlog > 0 {
            facts.push(Fact::new(
                "backlog_bytes",
                "Bytes Not Yet Read",
                FactValue::Number {
                    value: self.backlog as f64,
                    unit: Some("B".into()),
                },
            ));
        }
        Observation {
            outcome: CheckOutcome::new(worst, summary).with_details(details.join("\n")),
            samples,
            events,
            fragment: Fragment { facts, sections },
            next_state: Some(next_state),
        }
    }
}

impl Sink for Tally<'_> {
    #[inline]
    fn record(&mut self, rec: &Record<'_>) {
        self.records += 1;
        self.lines += rec.lines;
        if let Some(t) = rec.time {
            self.with_time += 1;
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
        if !rec.candidate && !self.c.matcher.checks_every_record() {
            return;
        }
        self.c
            .matcher
            .match_record(rec.text, rec.candidate, &mut self.scratch);
        for k in 0..self.scratch.matched.len() {
            let idx = self.scratch.matched[k];
            self.hit(idx, rec);
        }
    }

    #[inline]
    fn plain(&mut self, n: u64, times: &Times) {
        self.records += n;
        self.lines += n;
        if times.count > 0 {
            self.with_time += times.count;
            self.first = Some(self.first.map_or(times.min, |f| f.min(times.min)));
            self.last = Some(self.last.map_or(times.max, |l| l.max(times.max)));
        }
    }
}

fn section(
    key: String,
    title: String,
    groups: FastMap<Box<[u8]>, Group>,
    overflow: Group,
) -> Section {
    let mut all: Vec<(Box<[u8]>, Group)> = groups.into_iter().collect();
    // Most frequent first; ties by first appearance, then text, so output is deterministic.
    all.sort_by(|a, b| {
        b.1.count
            .cmp(&a.1.count)
            .then(a.1.first.cmp(&b.1.first))
            .then(a.0.cmp(&b.0))
    });
    let mut rest = overflow;
    let mut rest_distinct = 0u64;
    for (_, g) in all.iter().skip(SECTION_GROUPS) {
        rest.merge(g);
        rest_distinct += 1;
    }
    let mut out: Vec<ErrorGroup> = all
        .into_iter()
        .take(SECTION_GROUPS)
        .map(|(k, g)| ErrorGroup {
            message: String::from_utf8_lossy(&k).into_owned(),
            count: g.count,
            first_seen: g.first.map(Timestamp),
            last_seen: g.last.map(Timestamp),
        })
        .collect();
    if rest.count > 0 {
        let what = if overflow.count > 0 {
            "other messages".to_string()
        } else {
            format!("{rest_distinct} other distinct messages")
        };
        out.push(ErrorGroup {
            message: format!("({what})"),
            count: rest.count,
            first_seen: rest.first.map(Timestamp),
            last_seen: rest.last.map(Timestamp),
        });
    }
    Section {
        key,
        title,
        groups: out,
    }
}

/// Lossy UTF-8 of at most `max` bytes, cut at a character boundary, marked when cut.
pub(crate) fn lossy_capped(bytes: &[u8], max: usize) -> String {
    if bytes.len() <= max {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut s = String::from_utf8_lossy(&bytes[..max]).into_owned();
    // A multi-byte character cut in half shows as U+FFFD: drop it.
    if s.ends_with('\u{FFFD}') {
        s.pop();
    }
    s.push_str(&format!(" […] ({} bytes)", bytes.len()));
    s
}

fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
