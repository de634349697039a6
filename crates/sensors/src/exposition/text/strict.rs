//! OpenMetrics 1.0 family rules: which lines may follow which, and what each type's samples
//! must look like.
//!
//! The spec's vocabulary is used as is: a *family* (one name and its metadata) holds *metrics*
//! (one label set each, without the per-point labels `le`, `quantile` or the stateset's own),
//! which hold *points* (samples sharing a metric and a timestamp: a histogram point is its
//! buckets, count, sum and created). The rules, each from the spec:
//!
//! - metadata comes before the family's samples, once per kind; `UNIT` is a suffix of the name
//!   and not for info or stateset families;
//! - a sample belongs to the current family if its name is the family name plus one of the
//!   type's suffixes, otherwise it starts a new family of type unknown;
//! - families, metrics and points are not interleaved, and no two families can produce the
//!   same sample name ("clashing names");
//! - within a metric, points have timestamps or none, and timestamps never go backwards; points
//!   whose timestamps are equal once truncated to milliseconds keep only the first (the spec's
//!   "earliest timestamp MUST be used");
//! - counters, histogram buckets/counts/sums and summary counts/sums are never NaN or negative;
//!   counts and buckets are integers; buckets ascend by `le`, are cumulative and end at `+Inf`;
//!   `_count` equals the `+Inf` bucket and appears with `_sum`; negative buckets forbid `_sum`;
//! - quantiles are numbers in [0, 1], stateset values 0 or 1, info values 1;
//! - exemplars only on counter totals and histogram buckets, within the bucket.
//!
//! This file keeps the state across lines (current family, point, metrics seen); the rules of
//! one sample and one point are in `strict/rules.rs`.

mod rules;

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use model::METRIC_NAME_LABEL;

use self::rules::{
    LineResult, Point, Role, Slot, check_value, finish_point, role_label, role_of, sample_names,
    show_le, slot_of, suffixes,
};
use super::Meta;
use super::sample::SampleLine;
use crate::exposition::batch::MetricType;
use crate::exposition::compact::Builder;
use crate::exposition::error::Problems;
use crate::exposition::names::LabelPair;

/// The family being read.
#[derive(Debug)]
struct Current {
    family: u32,
    name: String,
    kind: MetricType,
    typed: bool,
    helped: bool,
    unit: Option<String>,
    united: bool,
    has_samples: bool,
    line: u32,
    point: Option<Point>,
}

/// The OpenMetrics rules' state across lines.
#[derive(Debug, Default)]
pub(crate) struct Families {
    current: Option<Current>,
    /// Every sample name an earlier family can produce.
    claimed: HashSet<String>,
    /// Metrics of the current family met so far.
    seen: SeenMetrics,
}

/// Metrics of one family met so far, to catch interleaving.
#[derive(Debug, Default)]
struct SeenMetrics {
    /// Hash of the metric labels -> a series of that metric.
    first: HashMap<u64, u32>,
    /// Metrics whose hash was already taken by another (kept apart so a collision is never
    /// mistaken for a repeat).
    collided: Vec<u32>,
}

impl Families {
    /// A `# TYPE`, `# HELP` or `# UNIT` line.
    pub(crate) fn meta(
        &mut self,
        meta: Meta<'_>,
        line: u32,
        builder: &mut Builder,
        problems: &mut Problems,
    ) -> Result<(), String> {
        let name = meta.name();
        match &self.current {
            Some(cur) if cur.name == name => {
                if cur.has_samples {
                    return Err(format!(
                        "\"# {}\" for {name:?} comes after its samples; metadata must come first",
                        meta.keyword()
                    ));
                }
            }
            _ => {
                self.close(builder, problems);
                self.start(name, MetricType::Unknown, line, builder);
            }
        }
        let Some(cur) = self.current.as_mut() else {
            return Ok(());
        };
        match meta {
            Meta::Type(_, kind) => {
                if cur.typed {
                    return Err(format!("second \"# TYPE\" line for {name:?}"));
                }
                cur.typed = true;
                cur.kind = kind;
                builder.family_mut(cur.family).kind = kind;
            }
            Meta::Help(_, help) => {
                if cur.helped {
                    return Err(format!("second \"# HELP\" line for {name:?}"));
                }
                cur.helped = true;
                builder.family_mut(cur.family).help = (!help.is_empty()).then_some(help);
            }
            Meta::Unit(_, unit) => {
                if cur.united {
                    return Err(format!("second \"# UNIT\" line for {name:?}"));
                }
                cur.united = true;
                if !unit.is_empty() {
                    if !name.ends_with(unit) || !name[..name.len() - unit.len()].ends_with('_') {
                        return Err(format!(
                            "unit {unit:?} must be the end of the metric name after an underscore (e.g. {name}_{unit})"
                        ));
                    }
                    cur.unit = Some(unit.to_string());
                    builder.family_mut(cur.family).unit = Some(unit.to_string());
                }
            }
        }
        Ok(())
    }

    fn start(&mut self, name: &str, kind: MetricType, line: u32, builder: &mut Builder) {
        let family = builder.add_family(name, kind);
        self.current = Some(Current {
            family,
            name: name.to_string(),
            kind,
            typed: false,
            helped: false,
            unit: None,
            united: false,
            has_samples: false,
            line,
            point: None,
        });
    }

    /// Ends the current family: its last point, unit and name rules.
    pub(crate) fn close(&mut self, builder: &mut Builder, problems: &mut Problems) {
        let Some(mut cur) = self.current.take() else {
            return;
        };
        if let Some(point) = cur.point.take() {
            finish_point(&cur.name, cur.kind, point, builder, problems);
        }
        if cur.unit.is_some() && matches!(cur.kind, MetricType::Info | MetricType::StateSet) {
            problems.at_line(
                cur.line,
                format!(
                    "{} families cannot have a unit ({:?} has one)",
                    cur.kind.as_str(),
                    cur.name
                ),
            );
        }
        // The bare name is claimed by every type: family names are unique.
        let mut names: Vec<String> = suffixes(cur.kind)
            .iter()
            .filter(|(suffix, _)| !suffix.is_empty())
            .map(|(suffix, _)| format!("{}{suffix}", cur.name))
            .collect();
        names.push(cur.name.clone());
        let clash = names.iter().find(|n| self.claimed.contains(*n)).cloned();
        self.claimed.extend(names);
        if let Some(full) = clash {
            let message = if full == cur.name {
                format!(
                    "metric family {:?} appears twice, or clashes with an earlier family's samples; a family's lines must be together",
                    cur.name
                )
            } else {
                format!(
                    "metric family {:?} clashes with an earlier family: both could have samples named {full:?}",
                    cur.name
                )
            };
            problems.at_line(cur.line, message);
        }
        self.seen.first.clear();
        self.seen.collided.clear();
    }

    /// A sample line, already read.
    pub(crate) fn sample(
        &mut self,
        sample: &SampleLine<'_>,
        pairs: &[LabelPair<'_>],
        line: u32,
        builder: &mut Builder,
        problems: &mut Problems,
    ) -> LineResult {
        let role = self
            .current
            .as_ref()
            .and_then(|c| role_of(&c.name, c.kind, sample.name));
        let role = match role {
            Some(r) => r,
            None if self.current.as_ref().is_some_and(|c| c.name == sample.name) => {
                // A new family of the same name would clash anyway; say what was meant.
                let (kind, allowed) = self
                    .current
                    .as_ref()
                    .map_or((MetricType::Unknown, String::new()), |c| {
                        (c.kind, sample_names(&c.name, c.kind))
                    });
                return Err((
                    0,
                    format!(
                        "{:?} is a family of type {}: its samples are named {allowed}",
                        sample.name,
                        kind.as_str()
                    ),
                ));
            }
            None => {
                self.close(builder, problems);
                self.start(sample.name, MetricType::Unknown, line, builder);
                Role::Value
            }
        };
        let Families { current, seen, .. } = self;
        let Some(cur) = current.as_mut() else {
            return Ok(());
        };
        cur.has_samples = true;
        let kind = cur.kind;
        let exclude: Option<&str> = match kind {
            MetricType::Histogram | MetricType::GaugeHistogram => Some("le"),
            MetricType::Summary => Some("quantile"),
            MetricType::StateSet => Some(cur.name.as_str()),
            _ => None,
        };
        let slot = slot_of(kind, role, &cur.name, pairs)?;
        check_value(kind, role, sample.value, sample.value_at)?;
        if let Some(ex) = &sample.exemplar {
            match (role, slot) {
                (Role::Total, _) if kind == MetricType::Counter => {}
                (Role::Bucket, Slot::Le(le)) => {
                    // NaN is in no bucket: only a value at or below `le` is.
                    if ex.value.partial_cmp(&le).is_none_or(|o| o.is_gt()) {
                        return Err((
                            ex.at,
                            format!(
                                "exemplar value {} is not in the bucket (le {})",
                                ex.value,
                                show_le(le)
                            ),
                        ));
                    }
                }
                _ => {
                    return Err((
                        ex.at,
                        "exemplars are only allowed on counter _total and histogram _bucket samples"
                            .into(),
                    ));
                }
            }
        }

        // Set when this sample starts a metric: the key under which the family remembers it.
        let mut new_metric_hash = 0;
        let same_metric = cur
            .point
            .as_ref()
            .is_some_and(|p| metric_eq(builder, p.metric, pairs, exclude));
        if same_metric {
            let Some(point) = cur.point.as_mut() else {
                return Ok(());
            };
            if point.ts.is_some() != sample.timestamp.is_some() {
                return Err((
                    sample.value_at,
                    "the samples of a metric must all have a timestamp, or none".into(),
                ));
            }
            let taken = match slot {
                Slot::Le(le) => {
                    if le > point.last_le {
                        false
                    } else if point.inf.is_some() {
                        true
                    } else {
                        return Err((
                            sample.value_at,
                            format!(
                                "buckets must be in increasing order of \"le\": {} comes after {}",
                                show_le(le),
                                show_le(point.last_le)
                            ),
                        ));
                    }
                }
                Slot::Quantile(q) => point.quantiles.contains(&q),
                Slot::State(s) => point.states.iter().any(|t| t == s),
                Slot::None => point.roles & role.bit() != 0,
            };
            let new_point = taken || point.ts.map(|t| t.order) != sample.timestamp.map(|t| t.order);
            if new_point {
                let drop = match (point.ts, sample.timestamp) {
                    (Some(prev), Some(now)) => {
                        if now.order < prev.order {
                            return Err((
                                sample.value_at,
                                "timestamps of a metric must not go backwards".into(),
                            ));
                        }
                        now.ms == prev.ms
                    }
                    _ => {
                        return Err((
                            sample.value_at,
                            format!(
                                "{} {} already has a value; several points of a metric need increasing timestamps",
                                sample.name,
                                role_label(role, slot)
                            ),
                        ));
                    }
                };
                let metric = point.metric;
                let old =
                    std::mem::replace(point, Point::new(metric, line, sample.timestamp, drop));
                finish_point(&cur.name, cur.kind, old, builder, problems);
            }
        } else {
            if let Some(old) = cur.point.take() {
                finish_point(&cur.name, cur.kind, old, builder, problems);
            }
            new_metric_hash = metric_hash(pairs, exclude);
            if seen.contains(builder, new_metric_hash, pairs, exclude) {
                return Err((
                    0,
                    format!(
                        "the samples of metric {} are not together: they must not be interleaved with other metrics",
                        describe_metric(&cur.name, pairs, exclude)
                    ),
                ));
            }
        }

        let point = match &mut cur.point {
            Some(p) => p,
            None => {
                let series = builder.series(cur.family, sample.name, pairs);
                seen.remember(series, new_metric_hash);
                cur.point
                    .insert(Point::new(series, line, sample.timestamp, false))
            }
        };
        match slot {
            Slot::Le(le) => {
                if sample.value < point.last_bucket {
                    return Err((
                        sample.value_at,
                        format!(
                            "bucket values must not decrease: le {} has {} after {}",
                            show_le(le),
                            sample.value,
                            point.last_bucket
                        ),
                    ));
                }
                point.buckets += 1;
                point.last_le = le;
                point.last_bucket = sample.value;
                if le == f64::INFINITY {
                    point.inf = Some(sample.value);
                }
                if le < 0.0 {
                    point.negative_le = true;
                }
            }
            Slot::Quantile(q) => point.quantiles.push(q),
            Slot::State(s) => point.states.push(s.to_string()),
            Slot::None => point.roles |= role.bit(),
        }
        match role {
            Role::Count | Role::GCount => point.count = Some(sample.value),
            Role::Sum | Role::GSum => point.sum = Some(sample.value),
            _ => {}
        }
        if !point.drop {
            let series = builder.series(cur.family, sample.name, pairs);
            builder.sample(series, sample.value, sample.timestamp.map(|t| t.ms), line);
        }
        Ok(())
    }
}

impl SeenMetrics {
    /// True when the family already had this metric (before the current one).
    fn contains(
        &self,
        builder: &Builder,
        hash: u64,
        pairs: &[LabelPair<'_>],
        exclude: Option<&str>,
    ) -> bool {
        match self.first.get(&hash) {
            None => false,
            Some(&series) => {
                metric_eq(builder, series, pairs, exclude)
                    || self
                        .collided
                        .iter()
                        .any(|&s| metric_eq(builder, s, pairs, exclude))
            }
        }
    }

    fn remember(&mut self, series: u32, hash: u64) {
        match self.first.entry(hash) {
            std::collections::hash_map::Entry::Occupied(_) => self.collided.push(series),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(series);
            }
        }
    }
}

/// True when series `series` has the metric labels of `pairs` (both without the point label).
fn metric_eq(
    builder: &Builder,
    series: u32,
    pairs: &[LabelPair<'_>],
    exclude: Option<&str>,
) -> bool {
    let stored = builder
        .view(series)
        .labels()
        .filter(|(n, _)| *n != METRIC_NAME_LABEL && Some(*n) != exclude);
    let given = pairs
        .iter()
        .filter(|p| Some(p.name) != exclude)
        .map(|p| (p.name, p.value.as_ref()));
    stored.eq(given)
}

fn metric_hash(pairs: &[LabelPair<'_>], exclude: Option<&str>) -> u64 {
    let mut h = DefaultHasher::new();
    for p in pairs.iter().filter(|p| Some(p.name) != exclude) {
        p.name.hash(&mut h);
        p.value.as_ref().hash(&mut h);
    }
    h.finish()
}

fn describe_metric(name: &str, pairs: &[LabelPair<'_>], exclude: Option<&str>) -> String {
    let labels: Vec<String> = pairs
        .iter()
        .filter(|p| Some(p.name) != exclude)
        .map(|p| format!("{}={:?}", p.name, p.value))
        .collect();
    format!("{name}{{{}}}", labels.join(","))
}
