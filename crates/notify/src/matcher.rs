//! Label matchers written as Alertmanager writes them: `service="payments"`, `level!="logged"`,
//! `team=~"db|storage"`, `instance!~"test-.*"`, one per string or several in braces
//! (`{service="payments", level="critical"}`).
//!
//! Routes, silences and inhibition rules all select alerts this way. The matcher itself is
//! `model`'s ([`Matcher`]), the one the metric store uses, so a regex means the same thing in a
//! query and in a route: anchored at both ends.

use std::fmt;

use model::{AnchoredRegex, Labels, MatchOp, Matcher};

/// A matcher that could not be read: the text and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("matcher {text:?}: {message}")]
pub struct MatcherError {
    /// The text as written.
    pub text: String,
    /// What is wrong and what would be accepted.
    pub message: String,
}

/// A conjunction of matchers: an alert is selected when every one matches. Empty selects all.
#[derive(Clone, Debug, Default)]
pub struct Matchers(pub Vec<Matcher>);

impl Matchers {
    /// Reads each string as one matcher or a braced list, e.g.
    /// `["service=\"db\"", "{team=~\"a|b\"}"]`.
    pub fn parse_all<S: AsRef<str>>(texts: &[S]) -> Result<Self, MatcherError> {
        let mut all = Vec::new();
        for text in texts {
            all.extend(parse(text.as_ref())?.0);
        }
        Ok(Matchers(all))
    }

    /// True when every matcher accepts `labels` (an absent label reads as `""`).
    pub fn matches(&self, labels: &Labels) -> bool {
        Matcher::all_match(&self.0, labels)
    }

    /// True when there is no matcher (everything matches).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Matchers {
    /// `{a="1", b=~"x|y"}`, which [`parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", Show(m))?;
        }
        f.write_str("}")
    }
}

/// Shows one matcher as `name op "value"`.
pub struct Show<'a>(pub &'a Matcher);

impl fmt::Display for Show<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (op, value) = match &self.0.op {
            MatchOp::Equal(v) => ("=", v.as_str()),
            MatchOp::NotEqual(v) => ("!=", v.as_str()),
            MatchOp::Regex(r) => ("=~", r.as_str()),
            MatchOp::NotRegex(r) => ("!~", r.as_str()),
        };
        write!(f, "{}{op}{value:?}", self.0.name)
    }
}

/// Reads one matcher (`a="b"`) or a braced, comma-separated list of them.
pub fn parse(text: &str) -> Result<Matchers, MatcherError> {
    let err = |message: String| MatcherError {
        text: text.to_string(),
        message,
    };
    let trimmed = text.trim();
    let inner = match trimmed.strip_prefix('{') {
        Some(rest) => rest
            .strip_suffix('}')
            .ok_or_else(|| err("a list opened with `{` must end with `}`".into()))?,
        None => trimmed,
    };
    let mut reader = Reader {
        rest: inner,
        text: inner,
    };
    let mut out = Vec::new();
    loop {
        reader.skip_space();
        if reader.rest.is_empty() {
            break;
        }
        out.push(reader.matcher().map_err(err)?);
        reader.skip_space();
        if let Some(rest) = reader.rest.strip_prefix(',') {
            reader.rest = rest;
        } else if !reader.rest.is_empty() {
            return Err(err(format!(
                "expected `,` or the end after a matcher, found {:?}",
                reader.rest
            )));
        }
    }
    if out.is_empty() && trimmed.strip_prefix('{').is_none() {
        return Err(err(
            "empty matcher: write name=\"value\" (operators = != =~ !~)".into(),
        ));
    }
    Ok(Matchers(out))
}

struct Reader<'a> {
    rest: &'a str,
    text: &'a str,
}

impl Reader<'_> {
    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn matcher(&mut self) -> Result<Matcher, String> {
        let name = self.name()?;
        self.skip_space();
        let op = ["=~", "!~", "!=", "="]
            .into_iter()
            .find(|op| self.rest.starts_with(op))
            .ok_or_else(|| format!("after the label name `{name}` expected one of = != =~ !~"))?;
        self.rest = &self.rest[op.len()..];
        self.skip_space();
        let value = self.value()?;
        let regex =
            |v: &str| AnchoredRegex::new(v).map_err(|e| format!("invalid regex {v:?}: {e}"));
        let op = match op {
            "=" => MatchOp::Equal(value),
            "!=" => MatchOp::NotEqual(value),
            "=~" => MatchOp::Regex(regex(&value)?),
            _ => MatchOp::NotRegex(regex(&value)?),
        };
        Ok(Matcher { name, op })
    }

    fn name(&mut self) -> Result<String, String> {
        if self.rest.starts_with('"') {
            return self.quoted();
        }
        let end = self
            .rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.rest.len());
        let name = &self.rest[..end];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            let at = self.text.len() - self.rest.len();
            return Err(format!(
                "expected a label name (letters, digits, `_`, not starting with a digit) at byte {at}"
            ));
        }
        self.rest = &self.rest[end..];
        Ok(name.to_string())
    }

    /// A quoted value with Go-style escapes, or an unquoted run up to `,` or the end.
    fn value(&mut self) -> Result<String, String> {
        if self.rest.starts_with('"') {
            return self.quoted();
        }
        let end = self.rest.find(',').unwrap_or(self.rest.len());
        let value = self.rest[..end].trim_end();
        self.rest = &self.rest[end..];
        Ok(value.to_string())
    }

    fn quoted(&mut self) -> Result<String, String> {
        let mut out = String::new();
        let mut chars = self.rest.char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = &self.rest[i + 1..];
                    return Ok(out);
                }
                '\\' => match chars.next().map(|(_, c)| c) {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(c @ ('\\' | '"')) => out.push(c),
                    Some(other) => {
                        // Regexes keep their own escapes (`\d`, `\.`).
                        out.push('\\');
                        out.push(other);
                    }
                    None => break,
                },
                c => out.push(c),
            }
        }
        Err("a quoted string is not closed with `\"`".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().copied().collect()
    }

    #[test]
    fn reads_every_operator_and_both_forms() {
        let m = Matchers::parse_all(&[
            r#"service="payments""#,
            r#"{team=~"db|storage", level != "logged"}"#,
            "instance!~test-.*",
        ])
        .unwrap();
        assert_eq!(m.0.len(), 4);
        let yes = labels(&[("service", "payments"), ("team", "db"), ("instance", "db1")]);
        assert!(m.matches(&yes));
        let test_host = labels(&[
            ("service", "payments"),
            ("team", "db"),
            ("instance", "test-1"),
        ]);
        assert!(!m.matches(&test_host));
        let logged = labels(&[("service", "payments"), ("team", "db"), ("level", "logged")]);
        assert!(!m.matches(&logged));
        // Regexes are anchored: `db` does not match `dbx`.
        let partial = labels(&[("service", "payments"), ("team", "dbx")]);
        assert!(!m.matches(&partial));
    }

    #[test]
    fn escapes_and_display_round_trip() {
        let m = parse(r#"{msg="say \"hi\"", path=~"/a\.b"}"#).unwrap();
        assert!(m.matches(&labels(&[("msg", "say \"hi\""), ("path", "/a.b")])));
        assert!(!m.matches(&labels(&[("msg", "say \"hi\""), ("path", "/axb")])));
        let again = parse(&m.to_string()).unwrap();
        assert_eq!(again.to_string(), m.to_string());
    }

    #[test]
    fn bad_matchers_say_what_is_wrong() {
        for (text, says) in [
            ("", "empty matcher"),
            ("service", "expected one of"),
            ("=x", "expected a label name"),
            (r#"a="open"#, "not closed"),
            (r#"a=~"(""#, "invalid regex"),
            (r#"{a="1""#, "must end with `}`"),
            (r#"a="1" b="2""#, "expected `,`"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.to_string().contains(says), "{text:?}: {e}");
        }
        // An empty list is allowed: it matches everything.
        assert!(parse("{}").unwrap().matches(&Labels::new()));
    }

    proptest! {
        #[test]
        fn the_parser_never_panics(text in "\\PC{0,40}") {
            let _ = parse(&text);
        }

        #[test]
        fn displayed_matchers_parse_back_to_the_same_selection(
            name in "[a-z_][a-z0-9_]{0,8}",
            value in "[ -~]{0,12}",
            probe in "[ -~]{0,12}",
        ) {
            let m = Matchers(vec![Matcher::equal(name.clone(), value.clone())]);
            let back = parse(&m.to_string()).unwrap();
            let l = labels(&[(name.as_str(), probe.as_str())]);
            prop_assert_eq!(back.matches(&l), m.matches(&l));
        }
    }
}
