//! The OpenMetrics rules of one sample and one point: which suffixes a type allows, the label a
//! point's samples are told apart by (`le`, `quantile`, the stateset state), value rules, and
//! the checks a point gets once all its samples are in (buckets, counts, sums).

use model::METRIC_NAME_LABEL;

use crate::exposition::batch::MetricType;
use crate::exposition::compact::Builder;
use crate::exposition::error::Problems;
use crate::exposition::names::LabelPair;
use crate::exposition::number::is_realnumber;
use crate::exposition::text::sample::Stamp;

pub(super) type LineResult = Result<(), (usize, String)>;

/// What a sample is within its family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    /// No suffix: gauge, unknown and stateset values, summary quantiles.
    Value,
    Total,
    Created,
    Count,
    Sum,
    Bucket,
    GCount,
    GSum,
    Info,
}

impl Role {
    pub(super) fn bit(self) -> u16 {
        1 << (self as u16)
    }

    pub(super) fn describe(self) -> &'static str {
        match self {
            Role::Value => "value",
            Role::Total => "_total",
            Role::Created => "_created",
            Role::Count => "_count",
            Role::Sum => "_sum",
            Role::Bucket => "_bucket",
            Role::GCount => "_gcount",
            Role::GSum => "_gsum",
            Role::Info => "_info",
        }
    }
}

/// The sample names a type allows: the family name plus one of these.
pub(super) fn suffixes(kind: MetricType) -> &'static [(&'static str, Role)] {
    match kind {
        MetricType::Counter => &[("_total", Role::Total), ("_created", Role::Created)],
        MetricType::Summary => &[
            ("", Role::Value),
            ("_count", Role::Count),
            ("_sum", Role::Sum),
            ("_created", Role::Created),
        ],
        MetricType::Histogram => &[
            ("_bucket", Role::Bucket),
            ("_count", Role::Count),
            ("_sum", Role::Sum),
            ("_created", Role::Created),
        ],
        MetricType::GaugeHistogram => &[
            ("_bucket", Role::Bucket),
            ("_gcount", Role::GCount),
            ("_gsum", Role::GSum),
        ],
        MetricType::Info => &[("_info", Role::Info)],
        MetricType::Gauge | MetricType::StateSet | MetricType::Unknown => &[("", Role::Value)],
    }
}

pub(super) fn role_of(family: &str, kind: MetricType, sample: &str) -> Option<Role> {
    let rest = sample.strip_prefix(family)?;
    suffixes(kind)
        .iter()
        .find(|(suffix, _)| *suffix == rest)
        .map(|&(_, role)| role)
}

/// The point being read.
#[derive(Debug)]
pub(super) struct Point {
    /// A series of this point's metric, to compare metric label sets with.
    pub(super) metric: u32,
    pub(super) line: u32,
    pub(super) ts: Option<Stamp>,
    /// A repeat of the previous point at the same millisecond: checked, not kept.
    pub(super) drop: bool,
    pub(super) roles: u16,
    pub(super) quantiles: Vec<f64>,
    pub(super) states: Vec<String>,
    pub(super) buckets: u32,
    pub(super) last_le: f64,
    pub(super) last_bucket: f64,
    pub(super) inf: Option<f64>,
    pub(super) negative_le: bool,
    pub(super) count: Option<f64>,
    pub(super) sum: Option<f64>,
}

impl Point {
    pub(super) fn new(metric: u32, line: u32, ts: Option<Stamp>, drop: bool) -> Self {
        Point {
            metric,
            line,
            ts,
            drop,
            roles: 0,
            quantiles: Vec::new(),
            states: Vec::new(),
            buckets: 0,
            last_le: f64::NEG_INFINITY,
            last_bucket: 0.0,
            inf: None,
            negative_le: false,
            count: None,
            sum: None,
        }
    }
}

/// What the point's own label says (`le`, `quantile`, the stateset state).
#[derive(Clone, Copy, Debug)]
pub(super) enum Slot<'s> {
    None,
    Le(f64),
    Quantile(f64),
    State(&'s str),
}

/// The point label a sample must (or must not) have, checked.
pub(super) fn slot_of<'s>(
    kind: MetricType,
    role: Role,
    family: &str,
    pairs: &'s [LabelPair<'_>],
) -> Result<Slot<'s>, (usize, String)> {
    let find = |name: &str| pairs.iter().find(|p| p.name == name);
    match kind {
        MetricType::Histogram | MetricType::GaugeHistogram => {
            let le = find("le");
            if role != Role::Bucket {
                return match le {
                    Some(p) => Err((p.at, "only _bucket samples may have an \"le\" label".into())),
                    None => Ok(Slot::None),
                };
            }
            let Some(le) = le else {
                return Err((0, "histogram buckets need an \"le\" label".into()));
            };
            let v = le.value.as_ref();
            let parsed = match v {
                "+Inf" => Some(f64::INFINITY),
                "-Inf" => Some(f64::NEG_INFINITY),
                _ if is_realnumber(v.as_bytes()) => v.parse().ok(),
                _ => None,
            };
            parsed.map(Slot::Le).ok_or_else(|| {
                (
                    le.at,
                    format!("\"le\" value {v:?} is not a number (infinity is written +Inf)"),
                )
            })
        }
        MetricType::Summary => {
            let q = find("quantile");
            if role != Role::Value {
                return match q {
                    Some(p) => Err((
                        p.at,
                        "only the quantile samples of a summary may have a \"quantile\" label"
                            .into(),
                    )),
                    None => Ok(Slot::None),
                };
            }
            let Some(q) = q else {
                return Err((
                    0,
                    "summary samples without suffix are quantiles and need a \"quantile\" label"
                        .into(),
                ));
            };
            let v = q.value.as_ref();
            match is_realnumber(v.as_bytes())
                .then(|| v.parse::<f64>().ok())
                .flatten()
            {
                Some(x) if (0.0..=1.0).contains(&x) => Ok(Slot::Quantile(x)),
                _ => Err((
                    q.at,
                    format!("\"quantile\" value {v:?} is not a number between 0 and 1"),
                )),
            }
        }
        MetricType::StateSet => match find(family) {
            Some(p) => Ok(Slot::State(p.value.as_ref())),
            None => Err((
                0,
                format!("stateset samples need a label named like the family ({family:?})"),
            )),
        },
        _ => Ok(Slot::None),
    }
}

/// Value rules by type and role.
pub(super) fn check_value(kind: MetricType, role: Role, v: f64, at: usize) -> LineResult {
    let fail = |message: String| Err((at, message));
    let counter_like = matches!(
        role,
        Role::Total | Role::Count | Role::GCount | Role::Sum | Role::Bucket
    );
    if (counter_like || role == Role::GSum) && v.is_nan() {
        return fail(format!("{} values must not be NaN", role.describe()));
    }
    if counter_like && v < 0.0 {
        return fail(format!("{} values must not be negative", role.describe()));
    }
    if matches!(role, Role::Count | Role::GCount | Role::Bucket)
        && (v.fract() != 0.0 || v.is_infinite())
    {
        return fail(format!(
            "{} values must be integers, not {v}",
            role.describe()
        ));
    }
    match (kind, role) {
        (MetricType::Summary, Role::Value) if v < 0.0 => {
            fail("quantile values must not be negative".into())
        }
        (MetricType::StateSet, _) if v != 0.0 && v != 1.0 => {
            fail(format!("stateset values must be 0 or 1, not {v}"))
        }
        (MetricType::Info, _) if v != 1.0 => fail(format!("info values must be 1, not {v}")),
        _ => Ok(()),
    }
}

/// A point's own rules, once all its samples are in.
pub(super) fn finish_point(
    family: &str,
    kind: MetricType,
    p: Point,
    builder: &Builder,
    problems: &mut Problems,
) {
    let metric = || {
        let pairs: Vec<String> = builder
            .view(p.metric)
            .labels()
            .filter(|(n, _)| *n != METRIC_NAME_LABEL && !is_point_label(family, kind, n))
            .map(|(n, v)| format!("{n}={v:?}"))
            .collect();
        format!("{family}{{{}}}", pairs.join(","))
    };
    let mut fail = |message: String| problems.at_line(p.line, message);
    let what = if kind == MetricType::Histogram {
        "histogram"
    } else {
        "gauge histogram"
    };
    match kind {
        MetricType::Counter if p.roles & Role::Total.bit() == 0 => {
            fail(format!("counter {} has no _total sample", metric()));
        }
        MetricType::Histogram | MetricType::GaugeHistogram => {
            let (count, sum) = if kind == MetricType::Histogram {
                ("_count", "_sum")
            } else {
                ("_gcount", "_gsum")
            };
            if p.buckets == 0 {
                fail(format!("{what} {} has no buckets", metric()));
                return;
            }
            let Some(inf) = p.inf else {
                fail(format!("{what} {} has no +Inf bucket", metric()));
                return;
            };
            match (p.count, p.sum) {
                (Some(_), None) => fail(format!("{what} {} has {count} but no {sum}", metric())),
                (None, Some(_)) => fail(format!("{what} {} has {sum} but no {count}", metric())),
                _ => {}
            }
            if let Some(c) = p.count
                && c != inf
            {
                fail(format!(
                    "{what} {}: {count} is {c} but the +Inf bucket is {inf}",
                    metric()
                ));
            }
            if let Some(s) = p.sum {
                if kind == MetricType::Histogram && p.negative_le {
                    fail(format!(
                        "histogram {} has negative buckets, so it must not have {sum}",
                        metric()
                    ));
                } else if kind == MetricType::GaugeHistogram && s < 0.0 && !p.negative_le {
                    fail(format!(
                        "gauge histogram {}: {sum} is negative but no bucket is",
                        metric()
                    ));
                }
            }
        }
        _ => {}
    }
}

fn is_point_label(family: &str, kind: MetricType, name: &str) -> bool {
    match kind {
        MetricType::Histogram | MetricType::GaugeHistogram => name == "le",
        MetricType::Summary => name == "quantile",
        MetricType::StateSet => name == family,
        _ => false,
    }
}

/// `le` as the format writes it.
pub(super) fn show_le(le: f64) -> String {
    match le {
        f64::INFINITY => "+Inf".into(),
        f64::NEG_INFINITY => "-Inf".into(),
        _ => le.to_string(),
    }
}

/// The sample names a family allows, for messages: `a_total or a_created`.
pub(super) fn sample_names(family: &str, kind: MetricType) -> String {
    let names: Vec<String> = suffixes(kind)
        .iter()
        .map(|(suffix, _)| format!("{family}{suffix}"))
        .collect();
    names.join(" or ")
}

pub(super) fn role_label(role: Role, slot: Slot<'_>) -> String {
    match slot {
        Slot::Le(le) => format!("bucket le {le}"),
        Slot::Quantile(q) => format!("quantile {q}"),
        Slot::State(s) => format!("state {s:?}"),
        Slot::None => format!("({})", role.describe()),
    }
}
