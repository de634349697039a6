//! Parsing a test script into commands: `load`, `clear`, `eval` with its expectations, and
//! `ignore`/`resume`.
//!
//! The layout rules are Prometheus': lines are trimmed, a line starting with `#` counts as an
//! empty line, and a block (`load` data, `eval` expectations) ends at the first empty line.
//! Expressions are not parsed here: an expression our parser cannot read is a failed case, not
//! a broken script, because Prometheus reads every expression in its own test files.

use std::collections::BTreeMap;

use model::Labels;
use regex::Regex;

use super::ScriptError;
use super::series::{SeqValue, parse_duration, parse_number, parse_series, unquote};
use super::start_times::{is_start_time_line, parse_start_time_line};

/// One command of a script.
#[derive(Debug)]
pub(crate) enum Command {
    /// Add series.
    Load(Load),
    /// Remove every loaded series.
    Clear,
    /// Evaluate and compare.
    Eval(Box<EvalCmd>),
    /// Skip the following commands until `resume`.
    Ignore,
    /// Run commands again.
    Resume,
}

/// A `load <step>` block.
#[derive(Debug)]
pub(crate) struct Load {
    /// Milliseconds between the values of a series; the first is at 0.
    pub step_ms: i64,
    /// `load_with_nhcb`: classic histograms are also loaded as native ones.
    pub with_nhcb: bool,
    /// The series; a label set given twice keeps the later line, as in Prometheus.
    pub series: BTreeMap<Labels, Vec<SeqValue>>,
    /// `metric@st` lines: per series, each position's start timestamp as an offset (ms) from
    /// the sample's time, `None` where the sample has none.
    pub start_times: BTreeMap<Labels, Vec<Option<i64>>>,
}

/// How an expected message is matched.
#[derive(Debug)]
pub(crate) enum TextMatch {
    /// The whole message, exactly.
    Exact(String),
    /// An unanchored regular expression.
    Pattern(Regex),
}

impl TextMatch {
    /// True when `text` satisfies this expectation.
    pub fn matches(&self, text: &str) -> bool {
        match self {
            TextMatch::Exact(m) => m == text,
            TextMatch::Pattern(r) => r.is_match(text),
        }
    }
}

impl std::fmt::Display for TextMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TextMatch::Exact(m) => write!(f, "{m:?}"),
            TextMatch::Pattern(r) => write!(f, "matching /{}/", r.as_str()),
        }
    }
}

/// One expected series of an `eval`.
#[derive(Debug)]
pub(crate) struct ExpectedSeries {
    /// 1-based position among the block's lines, for `expect ordered`.
    pub pos: usize,
    /// The values: one for an instant vector, one per step for a matrix.
    pub values: Vec<SeqValue>,
}

/// An `eval instant` or `eval range` command with its expectations.
#[derive(Debug)]
pub(crate) struct EvalCmd {
    /// 1-based line of the `eval` line.
    pub line: usize,
    /// The expression as written.
    pub expr: String,
    /// A range query (`eval range`) rather than an instant one.
    pub is_range: bool,
    /// Instant queries: the evaluation time (ms).
    pub eval_at: i64,
    /// Range queries and `expect range vector`: where expected points start, end and step (ms).
    /// For a plain instant query `end` and `step` stay 0, as in Prometheus.
    pub start: i64,
    /// See `start`.
    pub end: i64,
    /// See `start`.
    pub step: i64,
    /// Results must come in the order written.
    pub ordered: bool,
    /// The query must fail.
    pub fail: bool,
    /// What the failure's message must satisfy (all of them).
    pub fail_matches: Vec<TextMatch>,
    /// A warning annotation is expected.
    pub warn: bool,
    /// An info annotation is expected.
    pub info: bool,
    /// What the warnings must include: each matcher satisfied by one of them.
    pub warn_matches: Vec<TextMatch>,
    /// What the infos must include.
    pub info_matches: Vec<TextMatch>,
    /// No warning may be given (`expect no_warn`).
    pub no_warn: bool,
    /// No info may be given (`expect no_info`).
    pub no_info: bool,
    /// The expected series by label set.
    pub expected: BTreeMap<Labels, ExpectedSeries>,
    /// A scalar result is expected (a bare number line).
    pub scalar: Option<f64>,
    /// The expected string result (`expect string`), empty when not given.
    pub string: String,
    /// Do not also run an instant query as a range query (range vectors and strings).
    pub exclude_from_range_mode: bool,
}

impl EvalCmd {
    /// True when an expected value is a native histogram sample.
    pub fn expects_histograms(&self) -> bool {
        self.expected
            .values()
            .any(|s| s.values.contains(&SeqValue::Histogram))
    }
}

/// The patterns of the command lines, as Prometheus' runner defines them.
struct Patterns {
    load: Regex,
    eval_instant: Regex,
    eval_range: Regex,
    expect: Regex,
    expect_range: Regex,
}

impl Patterns {
    fn new() -> Self {
        let re = |p: &str| Regex::new(p).unwrap_or_else(|e| panic!("pattern {p}: {e}"));
        Patterns {
            load: re(r"^load(?:_(with_nhcb))?\s+(.+?)$"),
            eval_instant: re(
                r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$",
            ),
            eval_range: re(
                r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$",
            ),
            expect: re(
                r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$",
            ),
            expect_range: re(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$"),
        }
    }
}

/// Parses a whole script.
pub(crate) fn parse_script(name: &str, text: &str) -> Result<Vec<Command>, ScriptError> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') { "" } else { l }
        })
        .collect();
    let patterns = Patterns::new();
    let err = |i: usize, message: String| ScriptError {
        script: name.to_string(),
        line: i + 1,
        message,
    };
    let mut commands = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.is_empty() {
            i += 1;
            continue;
        }
        let word = line
            .split([' ', '\t'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let command = match word.as_str() {
            "clear" => Command::Clear,
            "ignore" => Command::Ignore,
            "resume" => Command::Resume,
            w if w.starts_with("load") => {
                let (end, load) = parse_load(&patterns, &lines, i).map_err(|(l, m)| err(l, m))?;
                i = end;
                Command::Load(load)
            }
            w if w.starts_with("eval") => {
                let (end, eval) = parse_eval(&patterns, &lines, i).map_err(|(l, m)| err(l, m))?;
                i = end;
                Command::Eval(Box::new(eval))
            }
            _ => return Err(err(i, format!("invalid command {line:?}"))),
        };
        commands.push(command);
        i += 1;
    }
    Ok(commands)
}

/// A problem at a 0-based line index.
type LineError = (usize, String);

/// Parses a `load` block starting at `i`; returns the index of its last line.
fn parse_load(p: &Patterns, lines: &[&str], mut i: usize) -> Result<(usize, Load), LineError> {
    let caps = p.load.captures(lines[i]).ok_or_else(|| {
        (
            i,
            "invalid load command, expected load[_with_nhcb] <step>".to_string(),
        )
    })?;
    let step = &caps[2];
    let step_ms = parse_duration(step).map_err(|e| (i, format!("invalid step {step:?}: {e}")))?;
    let mut load = Load {
        step_ms,
        with_nhcb: caps.get(1).is_some(),
        series: BTreeMap::new(),
        start_times: BTreeMap::new(),
    };
    while i + 1 < lines.len() && !lines[i + 1].is_empty() {
        i += 1;
        let line = lines[i];
        if is_start_time_line(line) {
            let (labels, offsets) = parse_start_time_line(line).map_err(|e| (i, e))?;
            load.start_times.insert(labels, offsets);
            continue;
        }
        let (labels, values) = parse_series(line).map_err(|e| (i, e))?;
        load.series.insert(labels, values);
    }
    Ok((i, load))
}

/// A duration of an `eval` line, with the line on error.
fn duration(i: usize, what: &str, text: &str) -> Result<i64, LineError> {
    parse_duration(text).map_err(|e| (i, format!("invalid {what} {text:?}: {e}")))
}

/// Parses an `eval` command and its block starting at `i`; returns the index of its last line.
fn parse_eval(p: &Patterns, lines: &[&str], mut i: usize) -> Result<(usize, EvalCmd), LineError> {
    let line = lines[i];
    let (modifier, expr, is_range) = if let Some(c) = p.eval_instant.captures(line) {
        (c.get(1).map(|m| m.as_str()), c[3].to_string(), false)
    } else if let Some(c) = p.eval_range.captures(line) {
        (c.get(1).map(|m| m.as_str()), c[5].to_string(), true)
    } else {
        return Err((
            i,
            "invalid eval command, expected 'eval[_fail|_warn|_info|_ordered] instant at <time> <query>' \
             or 'eval[_fail|_warn|_info] range from <start> to <end> step <step> <query>'"
                .into(),
        ));
    };
    let mut cmd = EvalCmd {
        line: i + 1,
        expr,
        is_range,
        eval_at: 0,
        start: 0,
        end: 0,
        step: 0,
        ordered: modifier == Some("ordered"),
        fail: modifier == Some("fail"),
        fail_matches: Vec::new(),
        warn: modifier == Some("warn"),
        info: modifier == Some("info"),
        warn_matches: Vec::new(),
        info_matches: Vec::new(),
        no_warn: false,
        no_info: false,
        expected: BTreeMap::new(),
        scalar: None,
        string: String::new(),
        exclude_from_range_mode: false,
    };
    if is_range {
        let c = p.eval_range.captures(line).ok_or((i, String::new()))?;
        cmd.start = duration(i, "start", &c[2])?;
        cmd.end = duration(i, "end", &c[3])?;
        cmd.step = duration(i, "step", &c[4])?;
        if cmd.end < cmd.start {
            return Err((i, "the end of the range is before its start".into()));
        }
    } else {
        let c = p.eval_instant.captures(line).ok_or((i, String::new()))?;
        let at = c.get(2).map_or("", |m| m.as_str());
        cmd.eval_at = duration(i, "time", at)?;
        cmd.start = cmd.eval_at;
    }
    let mut range_vector = false;
    let (mut no_warn, mut no_info, mut fail_lines) = (false, false, 0);
    let mut pos = 1;
    while i + 1 < lines.len() && !lines[i + 1].is_empty() {
        i += 1;
        let line = lines[i];
        if cmd.fail && line.starts_with("expected_fail_message") {
            let m = line.trim_start_matches("expected_fail_message").trim();
            cmd.fail_matches.push(TextMatch::Exact(m.to_string()));
            break;
        }
        if cmd.fail && line.starts_with("expected_fail_regexp") {
            let m = line.trim_start_matches("expected_fail_regexp").trim();
            let re = Regex::new(m).map_err(|e| (i, format!("invalid regex {m:?}: {e}")))?;
            cmd.fail_matches.push(TextMatch::Pattern(re));
            break;
        }
        if line.starts_with("expect range vector") {
            let c = p
                .expect_range
                .captures(line)
                .ok_or_else(|| (i, format!("invalid range vector definition {line:?}")))?;
            cmd.start = duration(i, "start", &c[1])?;
            cmd.end = duration(i, "end", &c[2])?;
            cmd.step = duration(i, "step", &c[3])?;
            if cmd.end < cmd.start {
                return Err((i, "the end of the range is before its start".into()));
            }
            cmd.eval_at = cmd.end;
            cmd.exclude_from_range_mode = true;
            range_vector = true;
            pos += 1;
            continue;
        }
        if let Some(rest) = line.strip_prefix("expect string") {
            cmd.string = unquote(rest.trim()).map_err(|e| (i, format!("expect string: {e}")))?;
            cmd.exclude_from_range_mode = true;
            pos += 1;
            continue;
        }
        if line.split(' ').next() == Some("expect") {
            let c = p.expect.captures(line).ok_or_else(|| {
                (
                    i,
                    "invalid expect line, expected 'expect <type> [msg|regex: <text>]'".to_string(),
                )
            })?;
            let text = c.get(3).map(|m| m.as_str().trim());
            let matcher = match (c.get(2).map(|m| m.as_str()), text) {
                (Some("msg"), Some(t)) => Some(TextMatch::Exact(t.to_string())),
                (Some(_), Some(t)) => Some(TextMatch::Pattern(
                    Regex::new(t).map_err(|e| (i, format!("invalid regex {t:?}: {e}")))?,
                )),
                _ => None,
            };
            match &c[1] {
                "ordered" => cmd.ordered = true,
                "fail" => {
                    fail_lines += 1;
                    if fail_lines > 1 {
                        return Err((i, "more than one 'expect fail' line".into()));
                    }
                    cmd.fail = true;
                    cmd.fail_matches.extend(matcher);
                }
                "warn" => {
                    cmd.warn = true;
                    cmd.warn_matches.extend(matcher);
                }
                "info" => {
                    cmd.info = true;
                    cmd.info_matches.extend(matcher);
                }
                "no_warn" => no_warn = true,
                _ => no_info = true,
            }
            cmd.no_warn = no_warn;
            cmd.no_info = no_info;
            if cmd.warn && no_warn {
                return Err((i, "'expect warn' and 'expect no_warn' together".into()));
            }
            if cmd.info && no_info {
                return Err((i, "'expect info' and 'expect no_info' together".into()));
            }
            continue;
        }
        if let Some(v) = parse_number(line) {
            cmd.scalar = Some(v);
            break;
        }
        let (labels, values) = parse_series(line).map_err(|e| (i, e))?;
        if values.len() > 1 && !is_range && !range_vector {
            return Err((
                i,
                "several values in an instant evaluation need 'expect range vector'".into(),
            ));
        }
        cmd.expected.insert(labels, ExpectedSeries { pos, values });
        pos += 1;
    }
    Ok((i, cmd))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str) -> EvalCmd {
        match parse_script("t", text).unwrap().pop() {
            Some(Command::Eval(e)) => *e,
            other => panic!("not an eval: {other:?}"),
        }
    }

    #[test]
    fn eval_blocks_and_expectations() {
        let e = eval(
            "eval instant at 1m30s sum(foo)\n  expect fail regex: bad.*thing\n  expect no_warn\n",
        );
        assert_eq!(
            (e.line, e.eval_at, e.fail, e.is_range),
            (1, 90_000, true, false)
        );
        assert!(e.fail_matches[0].matches("a bad  thing"));

        let e = eval(
            "\n# c\neval range from 0 to 2m step 1m foo\n  foo{a=\"1\"} 1 2 3\n  {b=\"x\"} _ 1x1\n\n",
        );
        assert_eq!((e.line, e.start, e.end, e.step), (3, 0, 120_000, 60_000));
        assert_eq!(e.expected.len(), 2);

        let e = eval("eval instant at 5m x\n  expect ordered\n  a 1\n  b 2\n  3");
        assert!(e.ordered);
        assert_eq!(e.scalar, Some(3.0));
        assert_eq!(
            e.expected
                .get(&Labels::new().with("__name__", "b"))
                .map(|s| s.pos),
            Some(2)
        );
    }

    #[test]
    fn a_number_line_ends_the_block() {
        let e = parse_script("t", "eval instant at 5m x\n  3\n  c 4").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (3, "invalid command \"c 4\""));
    }

    #[test]
    fn load_blocks_and_errors_name_the_line() {
        let cmds = parse_script("t", "load 1m\n  a 1 2\n  a 3\n  a@st _ 1m\n\nclear\n").unwrap();
        match &cmds[0] {
            Command::Load(l) => {
                assert_eq!(l.step_ms, 60_000);
                assert_eq!(l.series.len(), 1, "the later line of a label set wins");
                let a = Labels::new().with("__name__", "a");
                assert_eq!(l.start_times[&a], [None, Some(60_000)]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(cmds[1], Command::Clear));

        let e = parse_script("s.test", "load 1m\n  a 1\n\nbogus 1\n").unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.to_string().starts_with("s.test:4:"), "{e}");
        let e = parse_script("s.test", "eval instant at 1m a\n  a 1 2\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse_script("s.test", "eval instant at 1x a\n").unwrap_err();
        assert_eq!(e.line, 1);
    }
}
