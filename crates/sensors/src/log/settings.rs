//! The `kind = "log"` settings as users write them, and `build`, which checks every one of them
//! and reports all problems at once before anything runs.
//!
//! These doc comments are the reference for the config keys: keep them in step with behaviour.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use model::ConfigIssue;
use regex::bytes::{Regex, RegexBuilder};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::rules::{self, Matcher, Rule, RuleSpec, Test};
use super::timestamp::{self, Layout, Zone};
use super::{Compiled, LogMonitor, PathSpec, TimestampConfig};
use crate::BuildContext;

/// Settings of a log-file monitor: the monitor's table minus the keys every monitor has.
///
/// ```toml
/// [monitor.loan-importer]
/// kind = "log"
/// paths = ["/mnt/prodlogs/loans/*.log"]
/// record_start = '^\d{4}-\d{2}-\d{2} '
/// timestamp = { format = "%Y-%m-%d %H:%M:%S,%f", timezone = "Europe/London" }
/// [monitor.loan-importer.rules.get-loans]
/// title = "Get Loans Errors"
/// match = "ERROR GetLoans"
/// warning = 1
/// critical = 10
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// Files to read: paths or glob patterns (`*`, `?`, `[abc]`, `**`), one string or a list.
    /// Relative ones are resolved against the directory of the config file. A path or pattern
    /// matching no file makes the check UNKNOWN unless `allow_missing` is set.
    #[serde(deserialize_with = "one_or_many")]
    pub paths: Vec<String>,
    /// When true, a path or pattern that matches no file is not an error (e.g. today's file is
    /// not created yet). A directory that cannot be read is an error all the same.
    #[serde(default)]
    pub allow_missing: bool,
    /// A regex (Rust syntax): a line matching it starts a new record, other lines (stack traces,
    /// continuation lines) join the record before them. Absent: every line is a record.
    #[serde(default)]
    pub record_start: Option<String>,
    /// Where and how records carry their time. Absent: common layouts (ISO 8601, syslog,
    /// Apache, ...) are recognised at the start of each record.
    #[serde(default)]
    pub timestamp: Option<TimestampSettings>,
    /// How long a file must stay unmodified before its unfinished end is read: a last line
    /// without a newline, or (with `record_start`) the last record, which may still be growing.
    /// A duration such as `"30s"` or `"5m"`; `"0s"` reads the end at once, for files that are no
    /// longer written to. Default `"1m"`.
    #[serde(default)]
    pub flush_after: Option<String>,
    /// Most events kept per rule per check; counts and sections stay exact. Default 100.
    #[serde(default)]
    pub max_events: Option<usize>,
    /// The rules, by name: each one counts the records it matches.
    #[serde(default, deserialize_with = "ordered_rules")]
    pub rules: Vec<(String, RuleSettings)>,
}

/// Where a record's timestamp is and how it is written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimestampSettings {
    /// A strftime-like layout (`%Y %y %m %d %e %H %I %p %M %S %f %.f %b %B %a %z %Z %s %T %F`)
    /// or a preset: `iso8601`, `rfc3339`, `syslog`, `apache_error`, `clf`, `epoch`, `epoch_ms`,
    /// or `none` (records have no timestamp: nothing is parsed or detected, the fastest scan).
    /// A space matches any run of blanks; the text may continue after the timestamp.
    pub format: Option<String>,
    /// A regex locating the timestamp in the record's first line: the group named `ts`, or the
    /// first group. Absent: the timestamp starts the record.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Zone of timestamps without an offset: `UTC` (default), `local`, an IANA name such as
    /// `Europe/Amsterdam`, or a fixed offset such as `+02:00`.
    #[serde(default)]
    pub timezone: Option<String>,
}

/// One counting rule.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSettings {
    /// Heading of the rule's section in reports, e.g. `Get Loans Errors`. Default: the name.
    #[serde(default)]
    pub title: Option<String>,
    /// A literal phrase, or a list of them: a record containing any of them matches.
    #[serde(default, rename = "match", deserialize_with = "opt_one_or_many")]
    pub phrases: Option<Vec<String>>,
    /// A regex (Rust syntax) searched in the record; named groups become event fields. `^` and
    /// `$` are the record's start and end (`(?m)` makes them match at each line).
    #[serde(default)]
    pub regex: Option<String>,
    /// Match without regard to case (ASCII letters for `match`, Unicode for `regex`).
    #[serde(default)]
    pub ignore_case: bool,
    /// Matches per check at or above which the monitor is WARNING.
    #[serde(default)]
    pub warning: Option<u64>,
    /// Matches per check at or above which the monitor is CRITICAL.
    #[serde(default)]
    pub critical: Option<u64>,
    /// A named group of `regex` whose value groups the messages in the rule's section.
    /// Default: the record's first line without its timestamp.
    #[serde(default)]
    pub group_by: Option<String>,
}

/// `flush_after` when unset.
const DEFAULT_FLUSH_AFTER: &str = "1m";
/// `max_events` when unset.
const DEFAULT_MAX_EVENTS: usize = 100;
/// Bound on `max_events`: events are held in memory and written per run.
const MAX_MAX_EVENTS: usize = 100_000;

impl LogSettings {
    /// Checks every setting and builds the monitor, or returns every problem found, each located
    /// by its key path relative to the monitor's table.
    pub fn build(self, name: &str, ctx: &BuildContext) -> Result<LogMonitor, Vec<ConfigIssue>> {
        let mut issues = Vec::new();

        let paths = build_paths(&self.paths, &ctx.base_dir, &mut issues);
        let record_start = self
            .record_start
            .as_deref()
            .and_then(|p| compile_regex(p, false, "record_start", &mut issues));
        let timestamp = build_timestamp(self.timestamp.as_ref(), &mut issues);
        let flush_after = self.flush_after.as_deref().unwrap_or(DEFAULT_FLUSH_AFTER);
        let flush_after_ms = match flush_after.parse::<jiff::SignedDuration>() {
            Ok(d) if d.is_negative() => {
                issues.push(ConfigIssue::new("flush_after", "must not be negative"));
                0
            }
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => {
                issues.push(
                    ConfigIssue::new(
                        "flush_after",
                        format!("invalid duration `{flush_after}`: {e}"),
                    )
                    .hint("write e.g. \"30s\", \"5m\" or \"0s\""),
                );
                0
            }
        };
        let max_events = self.max_events.unwrap_or(DEFAULT_MAX_EVENTS);
        if max_events > MAX_MAX_EVENTS {
            issues.push(
                ConfigIssue::new("max_events", format!("{max_events} is more than {MAX_MAX_EVENTS}"))
                    .hint("events are kept in memory and written on every run; counts stay exact without them"),
            );
        }

        let mut specs = Vec::new();
        let mut keys: Vec<(String, String)> = Vec::new();
        for (rule_name, rule) in self.rules {
            let at = format!("rules.{rule_name}");
            if let Some(spec) = build_rule(&rule_name, rule, &at, &mut issues) {
                if let Some((other, _)) = keys.iter().find(|(_, k)| *k == spec.rule.key) {
                    issues.push(
                        ConfigIssue::new(
                            &at,
                            format!(
                                "its report key `{}` is the same as rule `{other}`'s",
                                spec.rule.key
                            ),
                        )
                        .hint("rule names must differ in more than punctuation and case"),
                    );
                }
                keys.push((rule_name, spec.rule.key.clone()));
                specs.push(spec);
            }
        }
        let matcher = match Matcher::new(specs) {
            Ok(m) => Some(m),
            Err(e) => {
                issues.push(ConfigIssue::new("rules", e));
                None
            }
        };

        if !issues.is_empty() {
            return Err(issues);
        }
        let (Some(timestamp), Some(matcher)) = (timestamp, matcher) else {
            unreachable!("every None above comes with an issue");
        };
        Ok(LogMonitor {
            name: name.to_string(),
            compiled: Arc::new(Compiled {
                paths,
                allow_missing: self.allow_missing,
                record_start,
                timestamp,
                flush_after_ms,
                max_events,
                matcher,
                timeout: ctx.timeout,
            }),
        })
    }
}

fn build_paths(paths: &[String], base: &Path, issues: &mut Vec<ConfigIssue>) -> Vec<PathSpec> {
    if paths.is_empty() {
        issues.push(
            ConfigIssue::new("paths", "no file to read").hint("paths = [\"/var/log/app/*.log\"]"),
        );
    }
    let mut out = Vec::new();
    for (i, p) in paths.iter().enumerate() {
        let at = format!("paths.{i}");
        if p.trim().is_empty() {
            issues.push(ConfigIssue::new(at, "empty path"));
            continue;
        }
        let resolved: PathBuf = base.join(p);
        let Some(text) = resolved.to_str() else {
            issues.push(ConfigIssue::new(at, "path is not valid UTF-8"));
            continue;
        };
        let is_glob = p.contains(['*', '?', '[']);
        if is_glob && let Err(e) = glob::Pattern::new(text) {
            issues.push(
                ConfigIssue::new(at, format!("invalid glob pattern `{p}`: {}", e.msg)).hint(
                    "`*` any name part, `?` one character, `[abc]` a set, `**` any directories",
                ),
            );
            continue;
        }
        out.push(PathSpec {
            configured: p.clone(),
            resolved,
            is_glob,
        });
    }
    out
}

/// Compiles a regex, recording an issue at `at` on failure.
fn compile_regex(
    pattern: &str,
    ci: bool,
    at: &str,
    issues: &mut Vec<ConfigIssue>,
) -> Option<Regex> {
    match RegexBuilder::new(pattern).case_insensitive(ci).build() {
        Ok(re) => Some(re),
        Err(e) => {
            // The regex crate's message is several lines with a caret diagram; keep its last
            // line, which says what is wrong, and show the pattern itself.
            let msg = e.to_string();
            let what = msg
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or(&msg)
                .trim();
            let what = what.strip_prefix("error: ").unwrap_or(what);
            issues.push(
                ConfigIssue::new(at, format!("invalid regex `{pattern}`: {what}"))
                    .hint("Rust regex syntax (https://docs.rs/regex); write it in single quotes in TOML so backslashes stay"),
            );
            None
        }
    }
}

fn build_timestamp(
    ts: Option<&TimestampSettings>,
    issues: &mut Vec<ConfigIssue>,
) -> Option<TimestampConfig> {
    let Some(ts) = ts else {
        return Some(TimestampConfig {
            layouts: Layout::auto(),
            auto: true,
            pattern: None,
            zone: Zone::Fixed(0),
        });
    };
    let before = issues.len();
    let mut default_pattern = None;
    let layout = match ts.format.as_deref() {
        None => {
            issues.push(
                ConfigIssue::new("timestamp.format", "missing").hint(format!(
                    "a layout such as \"%Y-%m-%d %H:%M:%S\" or a preset: {}",
                    timestamp::preset_names()
                )),
            );
            None
        }
        Some("none") => None,
        Some(f) if !f.contains('%') => match Layout::preset(f) {
            Some((layout, pattern)) => {
                default_pattern = pattern;
                Some(layout)
            }
            None => {
                issues.push(
                    ConfigIssue::new("timestamp.format", format!("unknown preset `{f}`")).hint(
                        format!(
                            "a layout with % directives, or one of: {}",
                            timestamp::preset_names()
                        ),
                    ),
                );
                None
            }
        },
        Some(f) => match Layout::compile(f) {
            Ok(layout) => Some(layout),
            Err(e) => {
                issues.push(
                    ConfigIssue::new("timestamp.format", e)
                        .hint("supported: %Y %y %m %d %e %H %I %p %M %S %f %.f %b %B %a %A %z %Z %s %T %F %D %R %%"),
                );
                None
            }
        },
    };
    let pattern = match ts.pattern.as_deref().or(default_pattern) {
        None => None,
        Some(p) => compile_regex(p, false, "timestamp.pattern", issues).and_then(|re| {
            let group = re.capture_names().position(|n| n == Some("ts"));
            let group = group.or((re.captures_len() > 1).then_some(1));
            match group {
                Some(g) => Some((re, g)),
                None => {
                    issues.push(
                        ConfigIssue::new(
                            "timestamp.pattern",
                            "has no group to take the timestamp from",
                        )
                        .hint("name it: '^\\[(?P<ts>[^\\]]+)\\]'"),
                    );
                    None
                }
            }
        }),
    };
    let zone = match ts.timezone.as_deref() {
        None => Some(Zone::Fixed(0)),
        Some(z) => match Zone::parse(z) {
            Ok(zone) => Some(zone),
            Err(e) => {
                issues.push(
                    ConfigIssue::new("timestamp.timezone", e)
                        .hint("UTC, local, an IANA name such as Europe/Amsterdam, or an offset such as +02:00"),
                );
                None
            }
        },
    };
    if issues.len() > before {
        return None;
    }
    // `none`: records carry no timestamp; nothing is parsed (the fastest scan).
    Some(TimestampConfig {
        layouts: layout.into_iter().collect(),
        auto: false,
        pattern,
        zone: zone?,
    })
}

fn build_rule(
    name: &str,
    r: RuleSettings,
    at: &str,
    issues: &mut Vec<ConfigIssue>,
) -> Option<RuleSpec> {
    let before = issues.len();
    if name.trim().is_empty() {
        issues.push(ConfigIssue::new(at, "rule name is empty"));
    }
    let title = r.title.clone().unwrap_or_else(|| name.to_string());
    if title.trim().is_empty() {
        issues.push(ConfigIssue::new(format!("{at}.title"), "empty title"));
    }
    let mut test = None;
    let mut literals = Vec::new();
    let mut ascii_ci = false;
    match (&r.phrases, &r.regex) {
        (None, None) => issues.push(
            ConfigIssue::new(at, "the rule has neither `match` nor `regex`").hint(
                "match = \"ERROR GetLoans\" (a phrase) or regex = 'Timeout after (?P<ms>\\d+) ms'",
            ),
        ),
        (Some(_), Some(_)) => issues.push(
            ConfigIssue::new(at, "the rule has both `match` and `regex`")
                .hint("keep one: `match` for literal phrases, `regex` for patterns and fields"),
        ),
        (Some(phrases), None) => {
            if phrases.is_empty() {
                issues.push(ConfigIssue::new(format!("{at}.match"), "no phrase given"));
            }
            for (i, p) in phrases.iter().enumerate() {
                if p.is_empty() {
                    issues.push(ConfigIssue::new(
                        format!("{at}.match.{i}"),
                        "empty phrase: it would match every record",
                    ));
                } else if p.contains('\n') {
                    issues.push(
                        ConfigIssue::new(format!("{at}.match.{i}"), "a phrase cannot span lines")
                            .hint("match a phrase of one line; records still join with `record_start`"),
                    );
                }
            }
            literals = phrases.iter().map(|p| p.as_bytes().to_vec()).collect();
            ascii_ci = r.ignore_case;
            test = Some(Test::Phrases);
            if r.group_by.is_some() {
                issues.push(
                    ConfigIssue::new(
                        format!("{at}.group_by"),
                        "`group_by` names a group of `regex`, and this rule has none",
                    )
                    .hint("use regex = '...(?P<name>...)...' to group by part of the message"),
                );
            }
        }
        (None, Some(pattern)) => {
            let field = format!("{at}.regex");
            if let Some(re) = compile_regex(pattern, r.ignore_case, &field, issues) {
                literals = rules::necessary_literals(pattern, r.ignore_case).unwrap_or_default();
                test = Some(Test::Regex { re });
            }
        }
    }
    for (key, value) in [("warning", r.warning), ("critical", r.critical)] {
        if value == Some(0) {
            issues.push(
                ConfigIssue::new(format!("{at}.{key}"), "must be at least 1").hint(format!(
                    "leave `{key}` out for a rule that never raises {}",
                    key.to_uppercase()
                )),
            );
        }
    }
    if let (Some(w), Some(c)) = (r.warning, r.critical)
        && c < w
    {
        issues.push(
            ConfigIssue::new(
                format!("{at}.critical"),
                format!("critical ({c}) is below warning ({w})"),
            )
            .hint("critical is the higher count: e.g. warning = 1, critical = 10"),
        );
    }
    let mut group_by = None;
    if let (Some(g), Some(Test::Regex { re })) = (&r.group_by, &test) {
        group_by = re.capture_names().position(|n| n == Some(g.as_str()));
        if group_by.is_none() {
            let names: Vec<&str> = re.capture_names().flatten().collect();
            let hint = if names.is_empty() {
                "the regex has no named group; add one such as (?P<code>\\d+)".to_string()
            } else {
                format!("named groups of the regex: {}", names.join(", "))
            };
            issues.push(
                ConfigIssue::new(
                    format!("{at}.group_by"),
                    format!("the regex has no group named `{g}`"),
                )
                .hint(hint),
            );
        }
    }
    if issues.len() > before {
        return None;
    }
    Some(RuleSpec {
        rule: Rule {
            name: name.to_string(),
            key: rules::snake_case(name),
            title,
            test: test?,
            warning: r.warning,
            critical: r.critical,
            group_by,
        },
        literals,
        ascii_ci,
    })
}

/// A string or a list of strings, as a list.
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string or a list of strings")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(s) = seq.next_element::<String>()? {
                out.push(s);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

fn opt_one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    one_or_many(d).map(Some)
}

/// The `rules` table in the order the deserializer hands it over (document order with a
/// order-preserving TOML reader), so sections read in config order.
fn ordered_rules<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, RuleSettings)>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<(String, RuleSettings)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a table of rules, e.g. [monitor.NAME.rules.errors]")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out: Vec<(String, RuleSettings)> = Vec::new();
            while let Some((k, v)) = map.next_entry::<String, RuleSettings>()? {
                if out.iter().any(|(n, _)| *n == k) {
                    return Err(de::Error::custom(format!("rule `{k}` is defined twice")));
                }
                out.push((k, v));
            }
            Ok(out)
        }
    }
    d.deserialize_map(V)
}
