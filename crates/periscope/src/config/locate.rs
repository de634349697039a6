//! Between key paths and positions: which key an error points at, and where a key is.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Span of the value at dotted `path` under `value`, or of the deepest prefix that exists.
pub fn span_of_path(value: &Spanned<DeValue<'_>>, path: &str) -> Range<usize> {
    let mut current = value;
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let next = match current.get_ref() {
            DeValue::Table(t) => t.get(segment),
            DeValue::Array(a) => segment.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        match next {
            Some(v) => current = v,
            None => break,
        }
    }
    current.span()
}

/// The dotted path of the deepest key under `table` whose key or value contains `offset`.
///
/// Every entry is visited: the span of a table opened by a `[a.b]` header covers the header,
/// not the lines below it, so containment of parents says nothing about their children.
pub fn path_at(table: &DeTable<'_>, offset: usize) -> String {
    let mut best: Vec<String> = Vec::new();
    let mut path = Vec::new();
    walk(table, offset, &mut path, &mut best);
    best.join(".")
}

fn walk(table: &DeTable<'_>, offset: usize, path: &mut Vec<String>, best: &mut Vec<String>) {
    for (key, value) in table.iter() {
        path.push(key.get_ref().to_string());
        consider(
            key.span().contains(&offset) || value.span().contains(&offset),
            path,
            best,
        );
        descend(value.get_ref(), offset, path, best);
        path.pop();
    }
}

fn descend(value: &DeValue<'_>, offset: usize, path: &mut Vec<String>, best: &mut Vec<String>) {
    match value {
        DeValue::Table(t) => walk(t, offset, path, best),
        DeValue::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                path.push(i.to_string());
                consider(item.span().contains(&offset), path, best);
                descend(item.get_ref(), offset, path, best);
                path.pop();
            }
        }
        _ => {}
    }
}

fn consider(hit: bool, path: &[String], best: &mut Vec<String>) {
    if hit && path.len() > best.len() {
        *best = path.to_vec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "[monitor.app]\nkind = \"log\"\n[monitor.app.rules.x]\nregex = \"(\"\n";

    #[test]
    fn finds_path_of_offset_and_span_of_path() {
        let t = DeTable::parse(DOC).unwrap();
        let at = DOC.find("\"(\"").unwrap() + 1;
        assert_eq!(path_at(t.get_ref(), at), "monitor.app.rules.x.regex");
        let root = Spanned::new(t.span(), DeValue::Table(t.into_inner()));
        let span = span_of_path(&root, "monitor.app.rules.x.regex");
        assert_eq!(&DOC[span], "\"(\"");
        let fallback = span_of_path(&root, "monitor.app.rules.nope");
        let line = DOC[..fallback.start].matches('\n').count() + 1;
        assert_eq!(
            line, 3,
            "falls back to the header of the deepest existing table"
        );
    }
}
