//! Rules compiled for the hot path: one literal prefilter for all rules, exact verification only
//! on the records the prefilter points at.
//!
//! The decision behind it: running every rule's regex on every line is ~15x slower than a
//! multi-literal search that skips through whole blocks at memory speed. So every rule is reduced
//! to a set of *necessary literals* (a match cannot exist without one of them in the record):
//! phrases are their own literals, and regexes get theirs from `regex-syntax`'s literal extractor
//! (prefixes, suffixes, or the best inner literal of a concatenation). One Aho-Corasick automaton
//! per case mode finds the lines holding any literal; a record with such a line is then checked
//! exactly (an overlapping search tells which phrases are there, the regex confirms a regex
//! rule). Only a regex without usable literals (e.g. `\d+ms`) runs on every record.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Input, MatchKind};
use memchr::{memchr, memrchr};
use regex::bytes::{CaptureLocations, Regex};
use regex_syntax::hir::literal::{ExtractKind, Extractor, Seq};
use regex_syntax::hir::{Hir, HirKind};

/// How a rule recognises its records.
#[derive(Debug)]
pub(crate) enum Test {
    /// Literal phrases: the record matches when one of them occurs (the prefilter alone decides).
    Phrases,
    /// A regex, confirmed on prefiltered records (or run on every record when it has no
    /// usable literals).
    Regex { re: Regex },
}

/// One compiled rule.
#[derive(Debug)]
pub(crate) struct Rule {
    /// The rule's name in the config (the `rule` label and event rule).
    pub name: String,
    /// Section key: the name in `snake_case`.
    pub key: String,
    /// Section heading.
    pub title: String,
    /// How records are recognised.
    pub test: Test,
    /// Count at or above which the monitor is WARNING.
    pub warning: Option<u64>,
    /// Count at or above which the monitor is CRITICAL.
    pub critical: Option<u64>,
    /// Capture group index whose value groups messages in the section.
    pub group_by: Option<usize>,
}

impl Rule {
    /// The regex, for regex rules.
    pub fn regex(&self) -> Option<&Regex> {
        match &self.test {
            Test::Regex { re } => Some(re),
            Test::Phrases => None,
        }
    }
}

/// One Aho-Corasick automaton pair over the literals of one case mode.
#[derive(Debug)]
struct LiteralSet {
    /// Leftmost-first: the fast skipping search that finds candidate lines.
    find: AhoCorasick,
    /// Standard semantics: the overlapping search that tells every phrase present in a record
    /// (leftmost search hides a phrase that overlaps another, e.g. `ERROR` in `ERROR GetLoans`).
    all: AhoCorasick,
    /// Pattern index → rule index.
    rule_of: Vec<usize>,
}

/// All rules with their shared prefilter.
#[derive(Debug)]
pub(crate) struct Matcher {
    pub rules: Vec<Rule>,
    sets: Vec<LiteralSet>,
    /// Rules that must be checked on every record.
    unfiltered: Vec<usize>,
}

/// Per-check scratch space, so matching allocates nothing per record.
pub(crate) struct Scratch {
    stamp: Vec<u64>,
    generation: u64,
    pub matched: Vec<usize>,
    pub locs: Vec<Option<CaptureLocations>>,
}

/// A rule before compilation into the matcher: its literals and case mode.
pub(crate) struct RuleSpec {
    pub rule: Rule,
    /// Necessary literals (empty: no usable literals, check every record).
    pub literals: Vec<Vec<u8>>,
    /// Literals are matched ignoring ASCII case (phrases with `ignore_case`).
    pub ascii_ci: bool,
}

impl Matcher {
    /// Builds the prefilter over all rules' literals.
    pub fn new(specs: Vec<RuleSpec>) -> Result<Matcher, String> {
        let mut rules = Vec::with_capacity(specs.len());
        let mut by_case: [(Vec<Vec<u8>>, Vec<usize>); 2] = Default::default();
        let mut unfiltered = Vec::new();
        for (idx, spec) in specs.into_iter().enumerate() {
            if spec.literals.is_empty() {
                unfiltered.push(idx);
            } else {
                let (pats, owners) = &mut by_case[usize::from(spec.ascii_ci)];
                for lit in spec.literals {
                    pats.push(lit);
                    owners.push(idx);
                }
            }
            rules.push(spec.rule);
        }
        let mut sets = Vec::new();
        for (ci, (pats, rule_of)) in by_case.into_iter().enumerate() {
            if pats.is_empty() {
                continue;
            }
            let build = |kind| {
                AhoCorasickBuilder::new()
                    .match_kind(kind)
                    .ascii_case_insensitive(ci == 1)
                    .build(&pats)
                    .map_err(|e| format!("cannot build the literal prefilter: {e}"))
            };
            sets.push(LiteralSet {
                find: build(MatchKind::LeftmostFirst)?,
                all: build(MatchKind::Standard)?,
                rule_of,
            });
        }
        Ok(Matcher {
            rules,
            sets,
            unfiltered,
        })
    }

    /// Whether some literal search narrows down the records to check.
    pub fn has_prefilter(&self) -> bool {
        !self.sets.is_empty()
    }

    /// Whether some rule must look at every record (no literals to search for).
    pub fn checks_every_record(&self) -> bool {
        !self.unfiltered.is_empty()
    }

    /// Whether rule `idx` runs its regex on every record.
    pub fn is_unfiltered(&self, idx: usize) -> bool {
        self.unfiltered.contains(&idx)
    }

    /// Fresh scratch space for one check.
    pub fn scratch(&self) -> Scratch {
        Scratch {
            stamp: vec![0; self.rules.len()],
            generation: 0,
            matched: Vec::new(),
            locs: self
                .rules
                .iter()
                .map(|r| r.regex().map(Regex::capture_locations))
                .collect(),
        }
    }

    /// Appends to `out` the start of every line in `hay[start..end]` holding a literal, in
    /// increasing order. `hay[start..end]` must be whole lines (`end` just past a newline).
    ///
    /// After a hit the search resumes at the next line, so a line full of hits costs one search.
    pub fn candidate_lines(&self, hay: &[u8], start: usize, end: usize, out: &mut Vec<usize>) {
        let first = out.len();
        for set in &self.sets {
            let mut at = start;
            while at < end {
                let Some(m) = set.find.find(Input::new(&hay[..end]).range(at..end)) else {
                    break;
                };
                let line_start =
                    memrchr(b'\n', &hay[start..m.start()]).map_or(start, |i| start + i + 1);
                let line_end = memchr(b'\n', &hay[m.start()..end]).map_or(end, |i| m.start() + i);
                out.push(line_start);
                at = line_end + 1;
            }
        }
        if self.sets.len() > 1 {
            out[first..].sort_unstable();
            let mut w = first;
            for r in first..out.len() {
                if w == first || out[w - 1] != out[r] {
                    out[w] = out[r];
                    w += 1;
                }
            }
            out.truncate(w);
        }
    }

    /// Whether `text` holds a literal (for lines handled outside a block, e.g. very long ones).
    pub fn any_literal(&self, text: &[u8]) -> bool {
        self.sets.iter().any(|s| s.find.is_match(text))
    }

    /// Fills `scratch.matched` with the rules `record` matches, in rule order. `candidate` says
    /// the prefilter saw a literal in one of the record's lines.
    pub fn match_record(&self, record: &[u8], candidate: bool, scratch: &mut Scratch) {
        scratch.matched.clear();
        if !candidate && self.unfiltered.is_empty() {
            return;
        }
        scratch.generation += 1;
        let generation = scratch.generation;
        if candidate {
            for set in &self.sets {
                for m in set.all.find_overlapping_iter(record) {
                    let rule = set.rule_of[m.pattern().as_usize()];
                    if scratch.stamp[rule] != generation {
                        scratch.stamp[rule] = generation;
                        scratch.matched.push(rule);
                    }
                }
            }
        }
        for &rule in &self.unfiltered {
            scratch.stamp[rule] = generation;
            scratch.matched.push(rule);
        }
        let rules = &self.rules;
        scratch.matched.retain(|&r| match &rules[r].test {
            Test::Phrases => true,
            Test::Regex { re } => re.is_match(record),
        });
        scratch.matched.sort_unstable();
    }
}

/// Literal sets with a shorter literal than this are not worth searching for: they would hit
/// most lines and the regex would run anyway.
const MIN_LITERAL: usize = 2;
/// More literals than this (e.g. a case-insensitive word exploded into variants) and the
/// automaton gets slow; the regex then runs on every record instead.
const MAX_LITERALS: usize = 128;

/// Literals one of which every match of `pattern` contains, when there is a usable set.
///
/// `utf8(false)` parses the way `regex::bytes` does, so the literals are sound for byte input.
pub(crate) fn necessary_literals(pattern: &str, case_insensitive: bool) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::ParserBuilder::new()
        .utf8(false)
        .case_insensitive(case_insensitive)
        .build()
        .parse(pattern)
        .ok()?;
    best(&hir)
}

/// The best usable literal set for `hir`: whole-pattern prefixes or suffixes, else the best of
/// the parts that every match must contain.
fn best(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    let mut candidates = Vec::new();
    for kind in [ExtractKind::Prefix, ExtractKind::Suffix] {
        let mut ex = Extractor::new();
        ex.kind(kind).limit_total(MAX_LITERALS * 2);
        if let Some(lits) = usable(ex.extract(hir)) {
            candidates.push(lits);
        }
    }
    match hir.kind() {
        HirKind::Capture(c) => candidates.extend(best(&c.sub)),
        HirKind::Repetition(r) if r.min >= 1 => candidates.extend(best(&r.sub)),
        HirKind::Concat(parts) => candidates.extend(parts.iter().filter_map(best)),
        HirKind::Alternation(alts) => {
            // Every branch must contribute, or a match could avoid all literals.
            let mut union = Vec::new();
            for alt in alts {
                union.extend(best(alt)?);
            }
            union.sort();
            union.dedup();
            if union.len() <= MAX_LITERALS {
                candidates.push(union);
            }
        }
        _ => {}
    }
    // Prefer the set whose shortest literal is longest (fewest false hits), then fewer literals.
    candidates.into_iter().max_by(|a, b| {
        let short = |v: &Vec<Vec<u8>>| v.iter().map(Vec::len).min().unwrap_or(0);
        short(a).cmp(&short(b)).then(b.len().cmp(&a.len()))
    })
}

/// The literals of `seq` if they are few, long enough and free of newlines (the prefilter maps
/// hits to lines, so a literal must not span two).
fn usable(seq: Seq) -> Option<Vec<Vec<u8>>> {
    let lits = seq.literals()?;
    if lits.is_empty() || lits.len() > MAX_LITERALS {
        return None;
    }
    let out: Vec<Vec<u8>> = lits.iter().map(|l| l.as_bytes().to_vec()).collect();
    let ok = out
        .iter()
        .all(|l| l.len() >= MIN_LITERAL && !l.contains(&b'\n'));
    ok.then_some(out)
}

/// `Get Loans-errors` → `get_loans_errors`: a stable key for XML elements and JSON.
pub(crate) fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "rule_");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(p: &str) -> Option<Vec<String>> {
        necessary_literals(p, false).map(|v| {
            v.into_iter()
                .map(|l| String::from_utf8(l).unwrap())
                .collect()
        })
    }

    #[test]
    fn extracts_prefix_suffix_and_inner_literals() {
        assert_eq!(
            lits(r"Timeout after (?P<ms>\d+) ms"),
            Some(vec!["Timeout after ".into()])
        );
        assert_eq!(lits(r"\d+ ms timeout"), Some(vec![" ms timeout".into()]));
        assert_eq!(
            lits(r"\w+ GetLoans \w+ failed"),
            Some(vec![" GetLoans ".into()])
        );
        let alt = lits(r"disk (full|quota exceeded)").unwrap();
        assert!(
            alt.contains(&"disk full".to_string()) && alt.len() == 2,
            "{alt:?}"
        );
        assert_eq!(lits(r"\d+"), None);
        assert_eq!(lits(r".*"), None);
        assert!(necessary_literals("error", true).unwrap().len() >= 32);
    }

    #[test]
    fn snake_case_keys() {
        assert_eq!(snake_case("get-loans"), "get_loans");
        assert_eq!(snake_case("Get Loans Errors!"), "get_loans_errors");
        assert_eq!(snake_case("--"), "rule_");
        assert_eq!(snake_case("5xx"), "rule_5xx");
    }

    fn phrase_rule(name: &str) -> Rule {
        Rule {
            name: name.into(),
            key: name.into(),
            title: name.into(),
            test: Test::Phrases,
            warning: None,
            critical: None,
            group_by: None,
        }
    }

    #[test]
    fn overlapping_phrases_are_all_reported() {
        let m = Matcher::new(vec![
            RuleSpec {
                rule: phrase_rule("a"),
                literals: vec![b"ERROR".to_vec()],
                ascii_ci: false,
            },
            RuleSpec {
                rule: phrase_rule("b"),
                literals: vec![b"ERROR GetLoans".to_vec()],
                ascii_ci: false,
            },
            RuleSpec {
                rule: phrase_rule("c"),
                literals: vec![b"warn".to_vec()],
                ascii_ci: true,
            },
        ])
        .unwrap();
        let mut s = m.scratch();
        m.match_record(b"x ERROR GetLoans WARN", true, &mut s);
        assert_eq!(s.matched, vec![0, 1, 2]);
        let hay = b"ok\nERROR x\nfine\nwarn y\n";
        let mut out = Vec::new();
        m.candidate_lines(hay, 0, hay.len(), &mut out);
        assert_eq!(out, vec![3, 16]);
    }
}
