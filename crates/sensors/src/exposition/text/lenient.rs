//! Prometheus 0.0.4 family bookkeeping: which family a sample belongs to, and the few metadata
//! rules Prometheus' own text parser enforces (one `TYPE` and one `HELP` per name, `TYPE` before
//! the samples). Families may be interleaved, as Prometheus tolerates it.

use std::collections::HashMap;

use super::Meta;
use super::sample::SampleLine;
use crate::exposition::batch::MetricType;
use crate::exposition::compact::Builder;
use crate::exposition::names::LabelPair;

#[derive(Debug, Default)]
struct State {
    typed: bool,
    helped: bool,
    has_samples: bool,
}

/// The lenient rules' state across lines.
#[derive(Debug, Default)]
pub(crate) struct Families {
    current: Option<u32>,
    by_name: HashMap<String, u32>,
    state: Vec<State>,
}

/// Suffixes a 0.0.4 type adds to the family name.
fn suffixes(kind: MetricType) -> &'static [&'static str] {
    match kind {
        MetricType::Histogram => &["_bucket", "_count", "_sum"],
        MetricType::Summary => &["_count", "_sum"],
        _ => &[],
    }
}

fn belongs(family: &str, kind: MetricType, sample: &str) -> bool {
    match sample.strip_prefix(family) {
        Some("") => true,
        Some(rest) => suffixes(kind).contains(&rest),
        None => false,
    }
}

impl Families {
    pub(crate) fn meta(&mut self, meta: Meta<'_>, builder: &mut Builder) -> Result<(), String> {
        let name = meta.name();
        let family = match self.by_name.get(name) {
            Some(&f) => f,
            None => self.add(name, builder),
        };
        self.current = Some(family);
        let state = &mut self.state[family as usize];
        match meta {
            Meta::Type(_, kind) => {
                if state.typed {
                    return Err(format!("second \"# TYPE\" line for {name:?}"));
                }
                if state.has_samples {
                    return Err(format!(
                        "\"# TYPE\" for {name:?} comes after its samples; it must come first"
                    ));
                }
                state.typed = true;
                builder.family_mut(family).kind = kind;
            }
            Meta::Help(_, help) => {
                if state.helped {
                    return Err(format!("second \"# HELP\" line for {name:?}"));
                }
                state.helped = true;
                builder.family_mut(family).help = (!help.is_empty()).then_some(help);
            }
            // Not part of 0.0.4; the lenient reader never produces it.
            Meta::Unit(..) => {}
        }
        Ok(())
    }

    fn add(&mut self, name: &str, builder: &mut Builder) -> u32 {
        let family = builder.add_family(name, MetricType::Unknown);
        self.by_name.insert(name.to_string(), family);
        self.state.push(State::default());
        family
    }

    /// The family `name` belongs to: the current one, an earlier one, or a new untyped one.
    fn family_of(&mut self, name: &str, builder: &mut Builder) -> u32 {
        if let Some(f) = self.current {
            let fam = builder.family(f);
            if belongs(&fam.name, fam.kind, name) {
                return f;
            }
        }
        if let Some(&f) = self.by_name.get(name) {
            return f;
        }
        for suffix in ["_bucket", "_count", "_sum"] {
            if let Some(base) = name.strip_suffix(suffix)
                && let Some(&f) = self.by_name.get(base)
                && suffixes(builder.family(f).kind).contains(&suffix)
            {
                return f;
            }
        }
        self.add(name, builder)
    }

    pub(crate) fn sample(
        &mut self,
        sample: &SampleLine<'_>,
        pairs: &[LabelPair<'_>],
        line: u32,
        builder: &mut Builder,
    ) {
        let family = self.family_of(sample.name, builder);
        self.current = Some(family);
        self.state[family as usize].has_samples = true;
        let series = builder.series(family, sample.name, pairs);
        builder.sample(series, sample.value, sample.timestamp.map(|t| t.ms), line);
    }
}
