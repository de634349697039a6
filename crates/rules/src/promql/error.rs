//! Why a query could not be answered.

use model::StoreError;

/// Why a query could not be answered. Every message names what was wrong in the query's terms.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The text is not valid PromQL (the parser's message, with its position).
    #[error("invalid PromQL: {0}")]
    Parse(String),
    /// The store could not be read.
    #[error("reading the store: {0}")]
    Storage(#[from] StoreError),
    /// The query selects more series than the engine allows at once.
    #[error("the query selects more than {limit} series; narrow the selector")]
    TooManySeries {
        /// The configured limit.
        limit: usize,
    },
    /// The query would hold more samples in memory than the engine allows.
    #[error(
        "the query would load more than {limit} samples; shorten the range or narrow the selector"
    )]
    TooManySamples {
        /// The configured limit.
        limit: usize,
    },
    /// A well-formed query that cannot be evaluated: wrong argument type or value, many-to-many
    /// matching, duplicate series after dropping the name, and so on.
    #[error("{0}")]
    Invalid(String),
}
