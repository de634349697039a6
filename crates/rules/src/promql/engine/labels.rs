//! Label-set helpers shared by vector matching and aggregation: match-group signatures, the
//! label sets `by`/`without`/`on`/`ignoring` produce, and the duplicate-series check.

use model::{Labels, METRIC_NAME_LABEL};

use crate::promql::name_drop::DROP_NAME_LABEL;
use promql_parser::parser::LabelModifier;

/// Which labels identify a group: `on(...)`/`by(...)` keep only the listed ones;
/// `ignoring(...)`/`without(...)` keep all but the listed ones and the metric name. The mark of
/// a name to be removed never takes part.
#[derive(Clone, Copy)]
pub(super) enum Grouping<'a> {
    /// Only these labels.
    Only(&'a [String]),
    /// Every label except these and `__name__`.
    AllBut(&'a [String]),
}

impl<'a> Grouping<'a> {
    /// The grouping a modifier asks for; none means "all labels but the name".
    pub(super) fn of(modifier: Option<&'a LabelModifier>) -> Self {
        match modifier {
            None => Grouping::AllBut(&[]),
            Some(LabelModifier::Include(l)) => Grouping::Only(&l.labels),
            Some(LabelModifier::Exclude(l)) => Grouping::AllBut(&l.labels),
        }
    }

    /// True when `name` takes part in the grouping.
    fn keeps(&self, name: &str) -> bool {
        match self {
            Grouping::Only(names) => names.iter().any(|n| n == name),
            Grouping::AllBut(names) => {
                name != METRIC_NAME_LABEL
                    && name != DROP_NAME_LABEL
                    && !names.iter().any(|n| n == name)
            }
        }
    }

    /// A key equal for two label sets exactly when they fall into the same group. An absent
    /// label and an empty one are the same, as in Prometheus.
    pub(super) fn signature<'l>(&self, labels: &'l Labels) -> Vec<&'l str> {
        match self {
            Grouping::Only(names) => names.iter().map(|n| labels.get(n).unwrap_or("")).collect(),
            Grouping::AllBut(_) => labels
                .iter()
                .filter(|(n, v)| !v.is_empty() && self.keeps(n))
                .flat_map(|(n, v)| [n, v])
                .collect(),
        }
    }

    /// The labels of a group: the grouping labels of one of its members.
    pub(super) fn group_labels(&self, labels: &Labels) -> Labels {
        match self {
            Grouping::Only(names) => {
                let mut out = Labels::new();
                for n in names.iter() {
                    if let Some(v) = labels.get(n).filter(|v| !v.is_empty()) {
                        out.set(n.as_str(), v);
                    }
                }
                out
            }
            Grouping::AllBut(_) => {
                let mut out = labels.clone();
                out.retain(|n, _| self.keeps(n));
                out
            }
        }
    }
}

/// A label set as Prometheus prints it in messages: `{__name__="up", job="api"}`.
pub(in crate::promql) fn display(labels: &Labels) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .filter(|(n, _)| *n != DROP_NAME_LABEL)
        .map(|(n, v)| format!("{n}={v:?}"))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}
