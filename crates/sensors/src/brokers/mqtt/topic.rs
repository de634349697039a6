//! MQTT topic names and filters: the syntax check done at config time, and filter matching,
//! so a dead-letter topic the receiver itself subscribes to is refused before start.

/// Longest topic the protocol can carry (a two-byte length prefix).
const MAX_LEN: usize = 65_535;

/// Checks a topic filter (`wildcards`) or a topic name: not empty, no NUL; in a filter `+` is a
/// whole level and `#` a whole last level; a name has neither.
pub(super) fn check(topic: &str, wildcards: bool) -> Result<(), String> {
    if topic.is_empty() {
        return Err("empty topic".into());
    }
    if topic.len() > MAX_LEN {
        return Err(format!("longer than {MAX_LEN} bytes"));
    }
    if topic.contains('\0') {
        return Err("contains a NUL character".into());
    }
    let levels: Vec<&str> = topic.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        let wildcard = *level == "+" || *level == "#";
        if !wildcard && (level.contains('+') || level.contains('#')) {
            return Err(format!("`{level}`: a wildcard must be a whole level"));
        }
        if wildcard && !wildcards {
            return Err("wildcards are not allowed in a topic to publish to".into());
        }
        if *level == "#" && i + 1 != levels.len() {
            return Err("`#` must be the last level".into());
        }
    }
    Ok(())
}

/// Whether the filter matches the topic name (MQTT 3.1.1 and 5: `+` one level, `#` the parent
/// level and everything below it; wildcards at the start never match `$`-topics).
pub(super) fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut levels = topic.split('/');
    for f in filter.split('/') {
        if f == "#" {
            return true;
        }
        match levels.next() {
            Some(l) if f == "+" || f == l => {}
            _ => return false,
        }
    }
    levels.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_levels() {
        assert!(matches("a/#", "a"));
        assert!(matches("a/#", "a/b/c"));
        assert!(matches("a/+/c", "a/b/c"));
        assert!(!matches("a/+", "a/b/c"));
        assert!(matches("#", "x/y"));
        assert!(!matches("#", "$SYS/x"));
        assert!(!matches("a/b", "a/b/c"));
    }

    #[test]
    fn syntax_is_checked() {
        assert!(check("sensors/+/metrics", true).is_ok());
        assert!(check("sensors/#", true).is_ok());
        assert!(check("sensors/#/x", true).is_err());
        assert!(check("sensors/a+", true).is_err());
        assert!(check("dead/+", false).is_err());
        assert!(check("", true).is_err());
    }
}
