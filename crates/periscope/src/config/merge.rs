//! Deep merge of an environment overlay onto the main config.
//!
//! Tables merge key by key, recursively; any other value in the overlay replaces the base's.
//! So `periscope.test.toml` can say just `[monitor.payments] enabled = false`.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Merges `overlay` into `base`.
pub fn merge_tables<'i>(base: &mut DeTable<'i>, overlay: DeTable<'i>) {
    for (key, value) in overlay {
        let both_tables = matches!(
            (
                base.get(key.get_ref().as_ref()).map(|v| v.get_ref()),
                value.get_ref()
            ),
            (Some(DeValue::Table(_)), DeValue::Table(_))
        );
        if both_tables {
            let existing = base.get_mut(key.get_ref().as_ref()).expect("checked above");
            if let (DeValue::Table(b), DeValue::Table(o)) = (existing.get_mut(), value.into_inner())
            {
                merge_tables(b, o);
            }
        } else if let Some(slot) = base.get_mut(key.get_ref().as_ref()) {
            *slot = value; // in place: the key keeps its position in the file's order
        } else {
            base.insert(key, value);
        }
    }
}

/// A table value with the given span.
pub fn table_value<'i>(span: std::ops::Range<usize>, table: DeTable<'i>) -> Spanned<DeValue<'i>> {
    Spanned::new(span, DeValue::Table(table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_merge_and_scalars_replace() {
        let base = DeTable::parse("[a]\nx = 1\ny = 2\n[b]\nz = 3\n")
            .unwrap()
            .into_inner();
        let overlay = DeTable::parse("[a]\ny = 20\nw = 4\nb = 5\n")
            .unwrap()
            .into_inner();
        let mut merged = base;
        merge_tables(&mut merged, overlay);
        let a = merged.get("a").unwrap().get_ref().as_table().unwrap();
        let int = |t: &DeTable<'_>, k: &str| match t.get(k).unwrap().get_ref() {
            DeValue::Integer(i) => i.as_str().parse::<i64>().unwrap(),
            other => panic!("{other:?}"),
        };
        assert_eq!(int(a, "x"), 1);
        assert_eq!(int(a, "y"), 20);
        assert_eq!(int(a, "w"), 4);
        assert!(merged.contains_key("b"));
    }
}
