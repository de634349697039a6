//! Validation of a read rule file, following promtool's `check rules` and collecting every
//! problem instead of stopping at the first.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde_saphyr::Spanned;

use super::raw::{RawGroup, RawRule, at, read};
use super::{
    AlertingRule, Problem, ReadOptions, RecordingRule, Rule, RuleFile, RuleGroup, RuleRef,
    Severity, parse_duration,
};
use crate::template::{Template, TemplateError};

/// Reads and validates `text`. The file is returned whenever the YAML could be read (with what
/// could be understood of it, so rules can be counted); problems include warnings.
pub(super) fn parse_and_validate(
    name: &str,
    text: &str,
    options: ReadOptions,
) -> (Option<RuleFile>, Vec<Problem>) {
    let mut v = Validator {
        file: name.to_string(),
        problems: Vec::new(),
    };
    let raw = match read(text, options.ignore_unknown_fields) {
        Ok(raw) => raw,
        Err(e) => {
            let (message, hint) = explain_read_error(&e.message);
            v.problems.push(Problem {
                severity: Severity::Error,
                file: v.file.clone(),
                line: e.line,
                column: e.column,
                group: None,
                rule: None,
                message,
                hint,
            });
            return (None, v.problems);
        }
    };
    let groups = raw.groups.unwrap_or_default();
    if groups.is_empty() {
        v.push(
            Severity::Warning,
            (0, 0),
            None,
            None,
            "the file has no rule groups",
            None,
        );
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for group in &groups {
        out.push(v.group(group, &mut seen));
    }
    v.duplicates(&out);
    // File order reads best; the validator finds some problems out of order.
    v.problems.sort_by_key(|p| (p.line, p.column));
    let file = RuleFile {
        name: name.to_string(),
        groups: out,
        warnings: Vec::new(),
    };
    (Some(file), v.problems)
}

/// Rewords the YAML reader's messages that speak Rust rather than rule files.
fn explain_read_error(message: &str) -> (String, Option<String>) {
    let (message, hint) = if message.starts_with("unknown field") {
        (
            message.to_string(),
            "Prometheus rejects unknown fields in rule files; check the spelling or remove it",
        )
    } else if message.contains("null into string") {
        (
            "a value is empty where text is expected".into(),
            "write a value after the colon, or remove the key",
        )
    } else if message.contains("multiple YAML documents") {
        (
            "the file holds more than one YAML document (`---`)".into(),
            "Prometheus reads only the first document; put every group under one `groups:`",
        )
    } else if message.contains("invalid i64") {
        (
            format!("wrong type: {message}"),
            "`limit` is a whole number (0 means no limit)",
        )
    } else if message.starts_with("expected") || message.contains("invalid type") {
        (
            format!("wrong type: {message}"),
            "a rule file is `groups:` with a list of groups, each with `name:` and a list of `rules:`; text values that look like lists or maps need quotes",
        )
    } else {
        return (format!("invalid YAML: {message}"), None);
    };
    (message, Some(hint.to_string()))
}

/// What makes two rules duplicates: the name and the labels (group labels included).
type RuleKey = (String, Vec<(String, String)>);

struct Validator {
    file: String,
    problems: Vec<Problem>,
}

/// Where a rule is, for problems about it.
#[derive(Clone)]
struct Place {
    group: Option<String>,
    rule: Option<RuleRef>,
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

impl Validator {
    fn push(
        &mut self,
        severity: Severity,
        (line, column): (usize, usize),
        group: Option<String>,
        rule: Option<RuleRef>,
        message: impl Into<String>,
        hint: Option<&str>,
    ) {
        self.problems.push(Problem {
            severity,
            file: self.file.clone(),
            line,
            column: (column > 0).then_some(column),
            group,
            rule,
            message: message.into(),
            hint: hint.map(str::to_string),
        });
    }

    fn error(
        &mut self,
        pos: (usize, usize),
        place: &Place,
        message: impl Into<String>,
        hint: Option<&str>,
    ) {
        self.push(
            Severity::Error,
            pos,
            place.group.clone(),
            place.rule.clone(),
            message,
            hint,
        );
    }

    fn duration(
        &mut self,
        value: Option<&Spanned<String>>,
        what: &str,
        place: &Place,
    ) -> Option<Duration> {
        let value = value?;
        match parse_duration(&value.value) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(at(value), place, format!("invalid `{what}`: {e}"), None);
                None
            }
        }
    }

    fn labels(
        &mut self,
        labels: Option<&BTreeMap<String, Spanned<String>>>,
        place: &Place,
        what: &str,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in labels.into_iter().flatten() {
            if k.is_empty() || (what == "label" && k == "__name__") {
                self.error(
                    at(v),
                    place,
                    format!("invalid {what} name: {k:?}"),
                    Some("`__name__` and empty names are not allowed"),
                );
            } else if !is_label_name(k) {
                self.push(
                    Severity::Warning,
                    at(v),
                    place.group.clone(),
                    place.rule.clone(),
                    format!("{what} name {k:?} is not a classic label name"),
                    Some("Prometheus 3 accepts any UTF-8 name, but PromQL then needs it quoted and older tools reject it; classic names use only letters, digits and `_`"),
                );
            }
            out.insert(k.clone(), v.value.clone());
        }
        out
    }

    fn group(&mut self, group: &Spanned<RawGroup>, seen: &mut HashSet<String>) -> RuleGroup {
        let g = &group.value;
        let pos = at(group);
        let name = g.name.as_ref().map(|n| n.value.clone()).unwrap_or_default();
        let place = Place {
            group: (!name.is_empty()).then(|| name.clone()),
            rule: None,
        };
        if name.is_empty() {
            let npos = g.name.as_ref().map_or(pos, at);
            self.error(
                npos,
                &place,
                "group name must not be empty",
                Some("add `name:` with a name unique in this file"),
            );
        } else if !seen.insert(name.clone()) {
            let npos = g.name.as_ref().map_or(pos, at);
            self.error(
                npos,
                &place,
                format!("group name {name:?} is repeated in the same file"),
                Some("group names must be unique within a file"),
            );
        }
        let interval = self.duration(g.interval.as_ref(), "interval", &place);
        let query_offset = self.duration(g.query_offset.as_ref(), "query_offset", &place);
        let labels = self.labels(g.labels.as_ref(), &place, "label");
        let raw_rules = g.rules.as_deref().unwrap_or_default();
        if raw_rules.is_empty() {
            self.push(
                Severity::Warning,
                pos,
                place.group.clone(),
                None,
                "the group has no rules",
                None,
            );
        }
        let mut rules = Vec::new();
        for (i, rule) in raw_rules.iter().enumerate() {
            if let Some(r) = self.rule(rule, i + 1, &place) {
                rules.push(r);
            }
        }
        RuleGroup {
            name,
            interval,
            query_offset,
            limit: g.limit.as_ref().map_or(0, |l| l.value),
            labels,
            rules,
            line: pos.0,
        }
    }

    fn rule(&mut self, rule: &Spanned<RawRule>, index: usize, group: &Place) -> Option<Rule> {
        let r = &rule.value;
        let pos = at(rule);
        let record = r.record.as_ref().filter(|s| !s.value.is_empty());
        let alert = r.alert.as_ref().filter(|s| !s.value.is_empty());
        let name = alert
            .or(record)
            .map(|s| s.value.clone())
            .unwrap_or_default();
        let place = Place {
            group: group.group.clone(),
            rule: Some(RuleRef {
                index,
                name: name.clone(),
            }),
        };
        let mut ok = true;
        match (record, alert) {
            (Some(_), Some(_)) => {
                self.error(pos, &place, "only one of `record` and `alert` may be set", Some("a rule either records a series or raises an alert; split it into two rules"));
                ok = false;
            }
            (None, None) => {
                self.error(pos, &place, "one of `record` or `alert` must be set", None);
                ok = false;
            }
            _ => {}
        }
        let expr = r
            .expr
            .as_ref()
            .map(|e| e.value.trim().to_string())
            .unwrap_or_default();
        match &r.expr {
            Some(e) if !expr.is_empty() => ok &= self.promql(e, &place),
            _ => {
                let epos = r.expr.as_ref().map_or(pos, at);
                self.error(
                    epos,
                    &place,
                    "field `expr` must be set in rule",
                    Some("`expr:` holds the PromQL expression the rule evaluates"),
                );
                ok = false;
            }
        }
        let for_duration = self.duration(r.for_duration.as_ref(), "for", &place);
        let keep_firing_for = self.duration(r.keep_firing_for.as_ref(), "keep_firing_for", &place);
        let labels = self.labels(r.labels.as_ref(), &place, "label");
        let annotations = self.labels(r.annotations.as_ref(), &place, "annotation");
        if let Some(record) = record.filter(|_| alert.is_none()) {
            ok &= self.recording(record, r, for_duration, keep_firing_for, &place);
            return ok.then_some(Rule::Recording(RecordingRule {
                name,
                expr,
                labels,
                line: pos.0,
            }));
        }
        for (what, map) in [("label", &r.labels), ("annotation", &r.annotations)] {
            for (k, v) in map.iter().flatten() {
                if let Err(e) = Template::parse(&v.value) {
                    self.template_error(v, what, k, &e, &place);
                    ok = false;
                }
            }
        }
        (ok && alert.is_some()).then(|| {
            Rule::Alerting(AlertingRule {
                name,
                expr,
                for_duration: for_duration.unwrap_or_default(),
                keep_firing_for: keep_firing_for.unwrap_or_default(),
                labels,
                annotations,
                line: pos.0,
            })
        })
    }

    /// Checks what only recording rules must satisfy; returns whether it holds.
    fn recording(
        &mut self,
        record: &Spanned<String>,
        r: &RawRule,
        for_duration: Option<Duration>,
        keep_firing_for: Option<Duration>,
        place: &Place,
    ) -> bool {
        let mut ok = true;
        let name = &record.value;
        if name.contains(['{', '}']) {
            self.error(
                at(record),
                place,
                format!("braces present in the recording rule name {name:?}"),
                Some("label matchers belong in `expr`, not in `record`"),
            );
            ok = false;
        } else if !is_metric_name(name) {
            // Prometheus 3 accepts any UTF-8 metric name, so this only warns; a dash is far more
            // often a typo for `_` or `:` than intent.
            self.push(
                Severity::Warning,
                at(record),
                place.group.clone(),
                place.rule.clone(),
                format!("recording rule name {name:?} is not a classic metric name"),
                Some("Prometheus 3 accepts any UTF-8 name, but PromQL must then quote it ({\"a-b\"}) and Prometheus 2 rejects it; classic names use letters, digits, `_` and `:` (e.g. `job:http_requests:rate5m`)"),
            );
        }
        if let Some(first) = r.annotations.as_ref().and_then(|a| a.values().next()) {
            self.error(
                at(first),
                place,
                "invalid field `annotations` in recording rule",
                Some("only alerting rules have annotations"),
            );
            ok = false;
        }
        for (what, d, raw) in [
            ("for", for_duration, &r.for_duration),
            ("keep_firing_for", keep_firing_for, &r.keep_firing_for),
        ] {
            if d.is_some_and(|d| !d.is_zero()) {
                let pos = raw.as_ref().map_or((0, 0), at);
                self.error(pos, place, format!("invalid field `{what}` in recording rule"), Some("only alerting rules wait or keep firing; remove it or make the rule an `alert:`"));
                ok = false;
            }
        }
        ok
    }

    fn template_error(
        &mut self,
        v: &Spanned<String>,
        what: &str,
        key: &str,
        e: &TemplateError,
        place: &Place,
    ) {
        let hint = match e {
            TemplateError::Parse { message, .. } if message.starts_with("undefined variable") => {
                Some(
                    "alert templates predeclare $labels, $value, $externalLabels and $externalURL; declare others with {{ $x := ... }}",
                )
            }
            TemplateError::Parse { message, .. } if message.starts_with("function") => Some(
                "see Prometheus' template reference for the functions available (humanize, printf, toUpper, ...)",
            ),
            _ => None,
        };
        self.error(at(v), place, format!("{what} {key:?}: {e}"), hint);
    }

    /// Parses an expression as promtool does (Periscope's forecast functions known too);
    /// returns whether it is valid.
    fn promql(&mut self, expr: &Spanned<String>, place: &Place) -> bool {
        match crate::promql::parse_standard(&expr.value) {
            Ok(_) => true,
            Err(err) => {
                let e = match err {
                    crate::promql::EvalError::Parse(message) => message,
                    other => other.to_string(),
                };
                let hint = promql_hint(&expr.value).or_else(|| experimental_hint(&e));
                self.error(
                    at(expr),
                    place,
                    format!("could not parse expression {:?}: {e}", expr.value.trim()),
                    hint.as_deref(),
                );
                false
            }
        }
    }

    /// promtool's duplicate check: rules with the same name and labels (group labels
    /// included), across the file.
    fn duplicates(&mut self, groups: &[RuleGroup]) {
        let mut seen: BTreeMap<RuleKey, Vec<(String, usize, usize)>> = BTreeMap::new();
        for g in groups {
            for (i, r) in g.rules.iter().enumerate() {
                let mut labels = g.labels.clone();
                labels.extend(r.labels().iter().map(|(k, v)| (k.clone(), v.clone())));
                let line = match r {
                    Rule::Alerting(a) => a.line,
                    Rule::Recording(r) => r.line,
                };
                seen.entry((r.name().to_string(), labels.into_iter().collect()))
                    .or_default()
                    .push((g.name.clone(), i + 1, line));
            }
        }
        for ((name, labels), places) in seen {
            if places.len() < 2 {
                continue;
            }
            let (group, index, line) = places[1].clone();
            let list: Vec<String> = places
                .iter()
                .map(|(g, i, l)| format!("group {g:?} rule {i} (line {l})"))
                .collect();
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            self.push(
                Severity::Warning,
                (line, 0),
                Some(group),
                Some(RuleRef { index, name: name.clone() }),
                format!(
                    "duplicate rule: {name:?} with labels {{{}}} is defined {} times: {}",
                    labels.join(", "),
                    places.len(),
                    list.join(", ")
                ),
                Some("rules with the same name and labels overwrite each other's output; remove the copies or give them distinguishing labels"),
            );
        }
    }
}

/// A hint for a modifier that Prometheus only parses with an experimental feature turned on.
fn experimental_hint(message: &str) -> Option<String> {
    ["anchored", "smoothed"]
        .iter()
        .any(|word| message.contains(&format!("unexpected {word:?}")))
        .then(|| {
            "the anchored and smoothed range modifiers are experimental in Prometheus, and promtool \
             refuses them in rule files unless its extended range selectors feature is on; \
             Periscope's queries and TOML rules accept them"
                .into()
        })
}

/// A hint for the PromQL parser's terse messages: unbalanced brackets or a dangling operator.
pub(super) fn promql_hint(expr: &str) -> Option<String> {
    let mut stack = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in expr.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && q != '`' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '(' | '[' | '{' => stack.push(c),
            ')' | ']' | '}' => {
                let want = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if stack.pop() != Some(want) {
                    return Some(format!("unbalanced {c:?}"));
                }
            }
            _ => {}
        }
    }
    if quote.is_some() {
        return Some("unterminated string".into());
    }
    if let Some(open) = stack.pop() {
        return Some(format!("{open:?} is never closed"));
    }
    let trimmed = expr.trim_end();
    let ends_with_op = [
        "+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", "and", "or", "unless",
    ]
    .iter()
    .any(|op| {
        let Some(before) = trimmed.strip_suffix(op) else {
            return false;
        };
        let word = op.starts_with(|c: char| c.is_ascii_alphabetic());
        !word || before.ends_with(|c: char| c.is_whitespace() || c == ')')
    });
    ends_with_op
        .then(|| "the expression ends with an operator; its right-hand side is missing".into())
}
