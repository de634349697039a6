//! Which series a rule stopped writing: the group compares each evaluation's output with the
//! last one's, and writes a staleness marker for every series that ended, as Prometheus does.
//!
//! Both sides are kept as sorted lists, so the comparison is a merge of two short lists and,
//! in the steady state (the same series every time), a byte comparison per series: no label
//! set is hashed or cloned.

use model::Labels;

use super::OutputSample;

/// Makes `previous` (sorted, each set once) the series of `samples`, and returns those of the
/// old `previous` that are no longer among them, sorted.
pub(super) fn ended_series(previous: &mut Vec<Labels>, samples: &[OutputSample]) -> Vec<Labels> {
    let mut current: Vec<&Labels> = samples.iter().map(|s| &s.labels).collect();
    current.sort_unstable();
    current.dedup();
    if current.len() == previous.len() && current.iter().zip(previous.iter()).all(|(c, p)| *c == p)
    {
        return Vec::new();
    }
    let mut kept = Vec::with_capacity(current.len());
    let mut ended = Vec::new();
    let mut old = std::mem::take(previous).into_iter().peekable();
    for c in current {
        while let Some(p) = old.next_if(|p| p < c) {
            ended.push(p);
        }
        kept.push(old.next_if(|p| p == c).unwrap_or_else(|| c.clone()));
    }
    ended.extend(old);
    *previous = kept;
    ended
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(names: &[&str]) -> Vec<OutputSample> {
        names
            .iter()
            .map(|n| OutputSample {
                labels: Labels::new().with("__name__", "x").with("i", *n),
                t: 0,
                value: 1.0,
            })
            .collect()
    }

    fn names(labels: &[Labels]) -> Vec<&str> {
        labels.iter().map(|l| l.get("i").unwrap()).collect()
    }

    #[test]
    fn series_missing_from_the_next_output_end_once_in_label_order() {
        let mut previous = Vec::new();
        assert!(ended_series(&mut previous, &samples(&["c", "a", "b", "a"])).is_empty());
        assert_eq!(names(&previous), ["a", "b", "c"]);
        assert!(ended_series(&mut previous, &samples(&["b", "c", "a"])).is_empty());
        let ended = ended_series(&mut previous, &samples(&["d", "b"]));
        assert_eq!(names(&ended), ["a", "c"]);
        assert_eq!(names(&previous), ["b", "d"]);
        assert!(ended_series(&mut previous, &samples(&["b", "d"])).is_empty());
        assert_eq!(names(&ended_series(&mut previous, &[])), ["b", "d"]);
        assert!(previous.is_empty());
    }
}
