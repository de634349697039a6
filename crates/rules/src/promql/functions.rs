//! PromQL functions. The evaluator evaluates the arguments and calls [`call`]; each family of
//! functions lives in its own file under `functions/`.

use promql_parser::parser::Expr;

use super::{EvalError, Matrix, Value, Vector};

/// A function argument after evaluation at one instant.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    /// A number.
    Scalar(f64),
    /// A string.
    String(String),
    /// An instant vector.
    Vector(Vector),
    /// A range vector: the points of each series inside [`CallContext::window`].
    Matrix(Matrix),
}

/// What a function may need besides its arguments.
#[derive(Clone, Copy, Debug)]
pub struct CallContext<'a> {
    /// The evaluation instant, in milliseconds.
    pub t: i64,
    /// For a function taking a range vector: the window its points were taken from, as
    /// `(start, end)` with `start` excluded and `end` included (offset and `@` already applied).
    pub window: Option<(i64, i64)>,
    /// The unevaluated argument expressions (`absent` builds its labels from the selector).
    pub arg_exprs: &'a [Box<Expr>],
}

/// Calls the function `name` (as the parser spells it) with evaluated arguments.
pub fn call(name: &str, args: Vec<Arg>, ctx: &CallContext<'_>) -> Result<Value, EvalError> {
    let _ = (args, ctx);
    Err(EvalError::Invalid(format!(
        "function {name}() is not supported yet"
    )))
}
