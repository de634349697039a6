//! The inverted label index: label name -> value -> ascending series ids, and the evaluation
//! of Prometheus matchers against it. The head and every block use the same structure.
//!
//! One rule covers all four operators with Prometheus' "absent label equals the empty string"
//! semantics: a matcher that accepts `""` selects every series except those whose value it
//! rejects; a matcher that rejects `""` selects exactly the series whose value it accepts.
//! Regexes therefore run once per distinct value, never once per series.

use model::{MatchOp, Matcher};

use crate::symbols::IdMap;

/// String <-> id lookups of a symbol table (the head's interner or a block's sorted list).
pub trait SymbolLookup {
    /// The id of `s`, if present.
    fn lookup(&self, s: &str) -> Option<u32>;
    /// The string behind `id`.
    fn get(&self, id: u32) -> &str;
}

impl SymbolLookup for crate::symbols::Symbols {
    fn lookup(&self, s: &str) -> Option<u32> {
        crate::symbols::Symbols::lookup(self, s)
    }
    fn get(&self, id: u32) -> &str {
        crate::symbols::Symbols::get(self, id)
    }
}

/// Label name id -> value id -> ascending series ids.
#[derive(Debug, Default)]
pub struct Postings {
    by_name: IdMap<u32, IdMap<u32, Vec<u32>>>,
}

impl Postings {
    /// Records that series `id` has `name=value`. Ids must be added in ascending order per
    /// pair (they are: ids are handed out in increasing order).
    pub fn add(&mut self, name: u32, value: u32, id: u32) {
        let list = self
            .by_name
            .entry(name)
            .or_default()
            .entry(value)
            .or_default();
        debug_assert!(list.last().is_none_or(|&l| l < id));
        list.push(id);
    }

    /// Sets a whole list at once (block loading).
    pub fn set(&mut self, name: u32, value: u32, ids: Vec<u32>) {
        self.by_name.entry(name).or_default().insert(value, ids);
    }

    /// Approximate heap bytes (for stats).
    pub fn heap_bytes(&self) -> usize {
        self.by_name
            .values()
            .map(|vals| {
                vals.capacity() * 40 + vals.values().map(|l| l.capacity() * 4).sum::<usize>()
            })
            .sum()
    }

    /// Ascending ids (below `n`) of the series matching every matcher; all series when
    /// `matchers` is empty.
    ///
    /// Rules select a handful of series by exact labels (`{instance="i-17", code="500"}`), so
    /// the equality lists are borrowed, not copied, and intersected smallest first: the work
    /// follows the smallest list, not the metric name's list of thousands.
    pub fn select(&self, syms: &impl SymbolLookup, matchers: &[Matcher], n: u32) -> Vec<u32> {
        let mut exact: Vec<&[u32]> = Vec::new();
        let mut others: Vec<&Matcher> = Vec::new();
        for m in matchers {
            match self.exact_list(syms, m) {
                Some(list) => exact.push(list),
                None => others.push(m),
            }
        }
        exact.sort_by_key(|l| l.len());
        let mut acc: Option<Vec<u32>> = None;
        for list in exact {
            let next = match &acc {
                None => list.to_vec(),
                Some(a) => intersect(a, list),
            };
            if next.is_empty() {
                return next;
            }
            acc = Some(next);
        }
        // Matchers that reject "" produce small positive sets: intersect those first.
        others.sort_by_key(|m| m.matches_empty());
        for m in others {
            let set = self.matching(syms, m, n);
            let next = match acc {
                None => set,
                Some(a) => intersect(&a, &set),
            };
            if next.is_empty() {
                return next;
            }
            acc = Some(next);
        }
        acc.unwrap_or_else(|| (0..n).collect())
    }

    /// For `name="value"` with a value, the series having exactly that pair (empty when nobody
    /// has it); `None` for every other matcher.
    fn exact_list<'a>(&'a self, syms: &impl SymbolLookup, m: &Matcher) -> Option<&'a [u32]> {
        let MatchOp::Equal(v) = &m.op else {
            return None;
        };
        if v.is_empty() {
            return None;
        }
        let list = syms
            .lookup(&m.name)
            .and_then(|id| self.by_name.get(&id))
            .zip(syms.lookup(v))
            .and_then(|(values, v)| values.get(&v));
        Some(list.map_or(&[], Vec::as_slice))
    }

    fn matching(&self, syms: &impl SymbolLookup, m: &Matcher, n: u32) -> Vec<u32> {
        let empty_ok = m.matches_empty();
        let Some(values) = syms.lookup(&m.name).and_then(|id| self.by_name.get(&id)) else {
            // Nobody has the label: every series has the empty value.
            return if empty_ok {
                (0..n).collect()
            } else {
                Vec::new()
            };
        };
        if let MatchOp::Equal(v) = &m.op
            && !v.is_empty()
        {
            return syms
                .lookup(v)
                .and_then(|id| values.get(&id))
                .cloned()
                .unwrap_or_default();
        }
        // Lists to add (empty rejected) or to take away (empty accepted).
        let lists: Vec<&[u32]> = values
            .iter()
            .filter(|&(&v, _)| m.matches(syms.get(v)) != empty_ok)
            .map(|(_, l)| l.as_slice())
            .collect();
        let picked = union(&lists);
        if empty_ok {
            difference_from_all(n, &picked)
        } else {
            picked
        }
    }
}

/// Sorted, deduplicated union of sorted lists.
pub fn union(lists: &[&[u32]]) -> Vec<u32> {
    match lists {
        [] => Vec::new(),
        [one] => one.to_vec(),
        _ => {
            let mut all: Vec<u32> = lists.iter().flat_map(|l| l.iter().copied()).collect();
            all.sort_unstable();
            all.dedup();
            all
        }
    }
}

/// Sorted intersection of two sorted lists. When one is much shorter, its ids are looked up in
/// the other by binary search (a rule's few series against a metric's thousands).
pub fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if small.len().saturating_mul(16) < large.len() {
        let mut rest = large;
        let mut out = Vec::with_capacity(small.len());
        for &id in small {
            match rest.binary_search(&id) {
                Ok(k) => {
                    out.push(id);
                    rest = &rest[k + 1..];
                }
                Err(k) => rest = &rest[k..],
            }
        }
        return out;
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::with_capacity(small.len()));
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// `0..n` without the ids in sorted `minus`.
fn difference_from_all(n: u32, minus: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity((n as usize).saturating_sub(minus.len()));
    let mut k = 0;
    for id in 0..n {
        while k < minus.len() && minus[k] < id {
            k += 1;
        }
        if k < minus.len() && minus[k] == id {
            continue;
        }
        out.push(id);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symbols::Symbols;
    use model::{AnchoredRegex, Labels};
    use proptest::prelude::*;

    fn build(series: &[Labels]) -> (Symbols, Postings) {
        let (mut syms, mut p) = (Symbols::default(), Postings::default());
        for (id, l) in series.iter().enumerate() {
            for (n, v) in l.iter() {
                let (n, v) = (syms.intern(n), syms.intern(v));
                p.add(n, v, id as u32);
            }
        }
        (syms, p)
    }

    fn matcher(name: &str, op: u8, value: &str) -> Matcher {
        let re = || AnchoredRegex::new(value).unwrap();
        let op = match op % 4 {
            0 => MatchOp::Equal(value.into()),
            1 => MatchOp::NotEqual(value.into()),
            2 => MatchOp::Regex(re()),
            _ => MatchOp::NotRegex(re()),
        };
        Matcher {
            name: name.into(),
            op,
        }
    }

    #[test]
    fn prometheus_semantics_for_absent_labels() {
        let series = vec![
            Labels::new().with("__name__", "up").with("job", "api"),
            Labels::new().with("__name__", "up").with("job", "web"),
            Labels::new().with("__name__", "up"),
        ];
        let (syms, p) = build(&series);
        let sel = |ms: &[Matcher]| p.select(&syms, ms, 3);
        assert_eq!(sel(&[matcher("job", 0, "api")]), vec![0]);
        assert_eq!(sel(&[matcher("job", 0, "")]), vec![2]);
        assert_eq!(sel(&[matcher("job", 1, "")]), vec![0, 1]);
        assert_eq!(sel(&[matcher("job", 1, "api")]), vec![1, 2]);
        assert_eq!(sel(&[matcher("job", 2, "a.*|")]), vec![0, 2]);
        assert_eq!(sel(&[matcher("job", 3, "a.*")]), vec![1, 2]);
        assert_eq!(sel(&[matcher("job", 2, "ap")]), Vec::<u32>::new());
        assert_eq!(sel(&[matcher("zone", 0, "")]), vec![0, 1, 2]);
        assert_eq!(sel(&[matcher("zone", 1, "x")]), vec![0, 1, 2]);
        assert_eq!(sel(&[matcher("zone", 2, "x")]), Vec::<u32>::new());
        assert_eq!(
            sel(&[matcher("__name__", 0, "up"), matcher("job", 3, "web")]),
            vec![0, 2]
        );
        assert_eq!(sel(&[]), vec![0, 1, 2]);
    }

    proptest! {
        #[test]
        fn intersect_equals_set_intersection_for_any_sizes(
            a in proptest::collection::btree_set(0u32..2000, 0..8),
            b in proptest::collection::btree_set(0u32..2000, 0..600),
        ) {
            let (a, b): (Vec<u32>, Vec<u32>) = (a.into_iter().collect(), b.into_iter().collect());
            let want: Vec<u32> = a.iter().copied().filter(|x| b.contains(x)).collect();
            prop_assert_eq!(intersect(&a, &b), want.clone());
            prop_assert_eq!(intersect(&b, &a), want);
        }

        #[test]
        fn select_equals_brute_force(
            series in proptest::collection::vec(
                proptest::collection::vec((0u8..3, 0u8..3), 0..4), 1..30),
            ms in proptest::collection::vec((0u8..4, 0u8..4, 0u8..5), 0..3),
        ) {
            let names = ["a", "b", "c"];
            let values = ["x", "y", "z", ""];
            let series: Vec<Labels> = series
                .iter()
                .map(|pairs| pairs.iter().map(|&(n, v)| (names[n as usize], values[v as usize])).filter(|(_, v)| !v.is_empty()).collect())
                .collect();
            let patterns = ["x", "", "x|y", ".*", "y.*|"];
            let ms: Vec<Matcher> = ms
                .iter()
                .map(|&(n, op, p)| matcher(["a", "b", "c", "d"][n as usize], op, patterns[p as usize]))
                .collect();
            let (syms, p) = build(&series);
            let got = p.select(&syms, &ms, series.len() as u32);
            let want: Vec<u32> = (0..series.len() as u32)
                .filter(|&i| Matcher::all_match(&ms, &series[i as usize]))
                .collect();
            prop_assert_eq!(got, want);
        }
    }
}
