//! The query API's backend: PromQL through the rule engine's evaluator, series and labels
//! straight from the store. `web` knows the HTTP shapes; this file joins it to `rules` and the
//! store (the only place allowed to, by the workspace's dependency rule).

use std::collections::BTreeSet;
use std::sync::Arc;

use model::query::Value;
use model::{Labels, Matcher, Querier, StoreError, TimeRange, Timestamp};
use rules::promql::{Annotations, Engine, EvalError};
use web::prom_api::{AlertView, QueryAnswer, QueryBackend, QueryError, RuleGroupView};

use crate::query::parse_selector;
use crate::rule_loop::{RulesSnapshot, all_alerts};

/// Answers the Prometheus API from a querier (the live store in `serve`).
pub struct PromBackend {
    querier: Arc<dyn Querier>,
    engine: Engine,
    /// The rule groups' latest state, when rules are evaluated.
    rules: Option<RulesSnapshot>,
}

impl PromBackend {
    /// A backend reading `querier` with the default evaluator limits.
    pub fn new(querier: Arc<dyn Querier>) -> Self {
        PromBackend {
            querier,
            engine: Engine::default(),
            rules: None,
        }
    }

    /// The same backend answering `/api/v1/rules` and `/api/v1/alerts` from `rules`.
    pub fn with_rules(mut self, rules: RulesSnapshot) -> Self {
        self.rules = Some(rules);
        self
    }

    /// A copy of the rule groups' views (empty when no rules are evaluated).
    fn groups(&self) -> Vec<RuleGroupView> {
        match &self.rules {
            Some(rules) => rules.read().unwrap_or_else(|e| e.into_inner()).clone(),
            None => Vec::new(),
        }
    }

    /// The sorted union of `lookup` over the `match[]` selectors (everything when none).
    fn union_over(
        selectors: &[String],
        lookup: impl Fn(&[Matcher]) -> Result<Vec<String>, StoreError>,
    ) -> Result<Vec<String>, QueryError> {
        let mut sets = Self::matcher_sets(selectors)?;
        if sets.is_empty() {
            sets.push(Vec::new());
        }
        let mut found = BTreeSet::new();
        for matchers in sets {
            found.extend(lookup(&matchers).map_err(store_error)?);
        }
        Ok(found.into_iter().collect())
    }

    /// Matcher lists for `match[]` selectors; an empty list selects everything.
    fn matcher_sets(selectors: &[String]) -> Result<Vec<Vec<Matcher>>, QueryError> {
        selectors
            .iter()
            .map(|s| parse_selector(s).map_err(QueryError::BadData))
            .collect()
    }
}

fn range(start: i64, end: i64) -> TimeRange {
    TimeRange::new(Timestamp(start), Timestamp(end))
}

/// The result with its annotations rendered against the query's text (for their positions).
fn answer(query: &str, value: Value, notes: &Annotations) -> QueryAnswer {
    QueryAnswer {
        value,
        warnings: notes.warnings(query),
        infos: notes.infos(query),
    }
}

fn eval_error(e: EvalError) -> QueryError {
    match e {
        EvalError::Parse(_) => QueryError::BadData(e.to_string()),
        EvalError::Storage(StoreError::Unavailable(_)) => QueryError::Unavailable(e.to_string()),
        _ => QueryError::Execution(e.to_string()),
    }
}

fn store_error(e: StoreError) -> QueryError {
    if e.is_retryable() {
        QueryError::Unavailable(e.to_string())
    } else {
        QueryError::Execution(e.to_string())
    }
}

impl QueryBackend for PromBackend {
    fn instant(&self, query: &str, t: i64) -> Result<QueryAnswer, QueryError> {
        let expr = rules::promql::parse(query).map_err(eval_error)?;
        let (value, notes) = self
            .engine
            .instant_annotated(self.querier.as_ref(), &expr, t)
            .map_err(eval_error)?;
        Ok(answer(query, value, &notes))
    }

    fn range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryAnswer, QueryError> {
        // step() and range() in duration expressions are this range query's own.
        let context = rules::promql::DurationContext::range_query(start, end, step);
        let expr = rules::promql::parse_for(query, context).map_err(eval_error)?;
        let (value, notes) = self
            .engine
            .range_annotated(self.querier.as_ref(), &expr, start, end, step)
            .map_err(eval_error)?;
        Ok(answer(query, value, &notes))
    }

    fn series(
        &self,
        selectors: &[String],
        start: i64,
        end: i64,
    ) -> Result<Vec<Labels>, QueryError> {
        let mut found = BTreeSet::new();
        for matchers in Self::matcher_sets(selectors)? {
            let series = self
                .querier
                .select(&matchers, range(start, end))
                .map_err(store_error)?;
            found.extend(series.into_iter().map(|s| s.labels));
        }
        Ok(found.into_iter().collect())
    }

    fn label_names(
        &self,
        selectors: &[String],
        start: i64,
        end: i64,
    ) -> Result<Vec<String>, QueryError> {
        Self::union_over(selectors, |matchers| {
            self.querier.label_names(matchers, range(start, end))
        })
    }

    fn label_values(
        &self,
        name: &str,
        selectors: &[String],
        start: i64,
        end: i64,
    ) -> Result<Vec<String>, QueryError> {
        Self::union_over(selectors, |matchers| {
            self.querier.label_values(name, matchers, range(start, end))
        })
    }

    fn rule_groups(&self) -> Vec<RuleGroupView> {
        self.groups()
    }

    fn alerts(&self) -> Vec<AlertView> {
        match &self.rules {
            Some(rules) => all_alerts(&rules.read().unwrap_or_else(|e| e.into_inner())),
            None => Vec::new(),
        }
    }
}
