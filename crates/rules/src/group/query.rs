//! [`TemplateQuery`] over the evaluator, so `{{ query "..." }}` in an alert template runs a
//! real instant query at the evaluation time.

use std::collections::BTreeMap;

use model::Querier;

use crate::promql::{self, Engine, Value};
use crate::template::{QuerySample, TemplateQuery};

/// Runs template queries with an [`Engine`] over a querier at one instant.
pub struct EngineTemplateQuery<'a> {
    engine: &'a Engine,
    querier: &'a dyn Querier,
    t: i64,
}

impl<'a> EngineTemplateQuery<'a> {
    /// Queries run by `engine` over `querier` at `t` (ms).
    pub fn new(engine: &'a Engine, querier: &'a dyn Querier, t: i64) -> Self {
        EngineTemplateQuery { engine, querier, t }
    }
}

impl TemplateQuery for EngineTemplateQuery<'_> {
    /// An instant vector gives one sample per series; a scalar gives one sample without
    /// labels, as in Prometheus' templates.
    fn query(&self, expr: &str) -> Result<Vec<QuerySample>, String> {
        let parsed = promql::parse(expr).map_err(|e| e.to_string())?;
        let labels = |l: &model::Labels| -> BTreeMap<String, String> {
            l.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        match self.engine.instant(self.querier, &parsed, self.t) {
            Ok(Value::Vector(v)) => Ok(v
                .iter()
                .map(|s| QuerySample {
                    labels: labels(&s.labels),
                    value: s.value,
                })
                .collect()),
            Ok(Value::Scalar { v, .. }) => Ok(vec![QuerySample {
                labels: BTreeMap::new(),
                value: v,
            }]),
            Ok(_) => Err(format!(
                "query {expr:?} gave neither an instant vector nor a scalar"
            )),
            Err(e) => Err(e.to_string()),
        }
    }
}
