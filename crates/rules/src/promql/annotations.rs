//! What a query says besides its result (Prometheus calls them annotations): the result
//! stands, but the reader should know something about it: a quantile asked outside [0, 1], a
//! bucket series without a usable `le`, a histogram that had to be made monotonic, a sort that
//! a range query ignores. The query API returns them as `warnings`/`infos`; Grafana shows them.

use std::cell::RefCell;

use super::Expr;

/// How much an annotation matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The result may not be what the query's author meant.
    Warning,
    /// Worth knowing; the result is sound.
    Info,
}

/// One annotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    /// Warning or info.
    pub severity: Severity,
    /// What happened, without the `PromQL warning:` prefix.
    pub message: String,
    /// The expression it is about, as printed, to find its position in the query text.
    pub about: Option<String>,
}

impl Annotation {
    /// As Prometheus prints it: `PromQL warning: MESSAGE (LINE:COLUMN)`, the position being where
    /// the expression it is about starts in `query`; left out when that text is not found there
    /// (the query was written with other spacing than the printed form).
    pub fn render(&self, query: &str) -> String {
        let kind = match self.severity {
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        let position = self
            .about
            .as_deref()
            .and_then(|text| query.find(text))
            .map(|at| {
                let before = &query[..at];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!(" ({line}:{column})")
            })
            .unwrap_or_default();
        format!("PromQL {kind}: {}{position}", self.message)
    }
}

/// The annotations of one query, each once, in the order they were first given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Annotations(Vec<Annotation>);

impl Annotations {
    /// All of them.
    pub fn iter(&self) -> impl Iterator<Item = &Annotation> {
        self.0.iter()
    }

    /// The warnings, rendered against `query`.
    pub fn warnings(&self, query: &str) -> Vec<String> {
        self.rendered(Severity::Warning, query)
    }

    /// The infos, rendered against `query`.
    pub fn infos(&self, query: &str) -> Vec<String> {
        self.rendered(Severity::Info, query)
    }

    /// True when the query said nothing besides its result.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn rendered(&self, severity: Severity, query: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|a| a.severity == severity)
            .map(|a| a.render(query))
            .collect()
    }

    fn add(&mut self, annotation: Annotation) {
        if !self.0.contains(&annotation) {
            self.0.push(annotation);
        }
    }
}

/// Where evaluation collects annotations. Shared by reference through the evaluator and the
/// function calls of one query (one thread), so adding one needs no `&mut` threading.
#[derive(Debug, Default)]
pub struct Notes(RefCell<Annotations>);

impl Notes {
    /// Adds a warning about `about` (the expression the position points at).
    pub fn warn(&self, message: impl Into<String>, about: Option<&Expr>) {
        self.add(Severity::Warning, message.into(), about);
    }

    /// Adds an info about `about`.
    pub fn info(&self, message: impl Into<String>, about: Option<&Expr>) {
        self.add(Severity::Info, message.into(), about);
    }

    /// What was collected.
    pub fn take(&self) -> Annotations {
        self.0.take()
    }

    fn add(&self, severity: Severity, message: String, about: Option<&Expr>) {
        self.0.borrow_mut().add(Annotation {
            severity,
            message,
            about: about.map(super::query_text::display),
        });
    }
}

/// A number as Prometheus prints it in messages (`NaN`, `+Inf`, shortest form).
pub fn show_number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_render_with_the_position_of_their_expression() {
        let notes = Notes::default();
        let query = "sum(\n  histogram_quantile(2, series))";
        let about = crate::promql::parse("series").unwrap();
        notes.warn(
            "quantile value should be between 0 and 1, got 2",
            Some(&about),
        );
        notes.warn(
            "quantile value should be between 0 and 1, got 2",
            Some(&about),
        );
        notes.info("input to histogram_quantile needed to be fixed", None);
        let annotations = notes.take();
        assert_eq!(
            annotations.warnings(query),
            ["PromQL warning: quantile value should be between 0 and 1, got 2 (2:25)"]
        );
        assert_eq!(
            annotations.infos(query),
            ["PromQL info: input to histogram_quantile needed to be fixed"]
        );
        assert!(notes.take().is_empty(), "taking empties the collection");
    }
}
