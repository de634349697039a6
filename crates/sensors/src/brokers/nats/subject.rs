//! NATS subjects: the syntax check done at config time, and wildcard matching, so a
//! dead-letter subject that the consumed stream would capture again is refused before start.

/// Checks `subject`: dot-separated non-empty tokens without whitespace; with `wildcards`, a
/// token may be `*` and the last one `>`.
pub(super) fn check(subject: &str, wildcards: bool) -> Result<(), String> {
    if subject.is_empty() {
        return Err("empty subject".into());
    }
    let tokens: Vec<&str> = subject.split('.').collect();
    for (i, token) in tokens.iter().enumerate() {
        if token.is_empty() {
            return Err("empty token (two dots, or a dot at either end)".into());
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("subjects cannot contain whitespace".into());
        }
        let wildcard = *token == "*" || *token == ">";
        if wildcard && !wildcards {
            return Err("wildcards are not allowed here".into());
        }
        if *token == ">" && i + 1 != tokens.len() {
            return Err("`>` must be the last token".into());
        }
        if !wildcard && (token.contains('*') || token.contains('>')) {
            return Err(format!("`{token}`: a wildcard must be a whole token"));
        }
    }
    Ok(())
}

/// Whether the filter `pattern` (with `*` and `>`) matches the literal `subject`.
pub(super) fn matches(pattern: &str, subject: &str) -> bool {
    let mut subject = subject.split('.');
    for token in pattern.split('.') {
        match (token, subject.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (t, Some(s)) if t == s => {}
            _ => return false,
        }
    }
    subject.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_tokens() {
        assert!(matches("m.>", "m.a.b"));
        assert!(!matches("m.>", "m"));
        assert!(matches("m.*.x", "m.a.x"));
        assert!(!matches("m.*.x", "m.a.b.x"));
        assert!(matches("a.b", "a.b"));
        assert!(!matches("a.b", "a.b.c"));
        assert!(!matches("a.b.c", "a.b"));
    }

    #[test]
    fn syntax_is_checked() {
        assert!(check("metrics.>", true).is_ok());
        assert!(check("metrics.*.cpu", true).is_ok());
        assert!(check("metrics.>", false).is_err());
        assert!(check(">.a", true).is_err());
        assert!(check("a..b", true).is_err());
        assert!(check("a b", true).is_err());
        assert!(check("a.b*", true).is_err());
    }
}
