//! The executor of alert templates: walks the parsed tree over one alert's data.
//!
//! Templates run for every active alert at every evaluation, so the executor borrows what it
//! can: the predeclared variables stand for the alert's data until a template assigns one,
//! and `$labels.job` looks the label up in the alert's labels instead of copying the label set
//! first (see [`Reached`]).

use std::collections::BTreeMap;

use super::funcs::{self, Ctx};
use super::parse::{Arg, Branch, BranchKind, Command, Node, PREDECLARED, Pipeline};
use super::value::Value;
use super::{AlertData, Pos, TemplateError, TemplateQuery};

/// The most iterations `{{range N}}` may run: an annotation has no use for more, and a typo
/// must not stall the evaluator.
const MAX_RANGE: i64 = 100_000;

/// Runs `nodes` over `data`, returning the printed text.
pub(crate) fn execute(
    nodes: &[Node],
    data: &AlertData,
    query: Option<&dyn TemplateQuery>,
) -> Result<String, TemplateError> {
    let mut state = State {
        data,
        ctx: Ctx {
            external_url: &data.external_url,
            query,
        },
        predeclared: Default::default(),
        vars: Vec::new(),
        out: String::new(),
    };
    state.list(nodes, &Value::Alert)?;
    Ok(state.out)
}

struct State<'a> {
    data: &'a AlertData,
    ctx: Ctx<'a>,
    /// The values assigned to the predeclared variables (in [`PREDECLARED`] order); `None`
    /// while a variable still holds what the alert's data says.
    predeclared: [Option<Value>; PREDECLARED.len()],
    /// Variables declared by the template, innermost last; a name may repeat (shadowing).
    /// They shadow the predeclared ones, which live in the outermost scope.
    vars: Vec<(&'a str, Value)>,
    out: String,
}

/// A value an operand reached while following its fields: borrowed from the alert's data or
/// a variable while it can be, so `$labels.job` copies one string, not the label set.
enum Reached<'v> {
    Borrowed(&'v Value),
    /// A label set of the alert's data (`$labels`, `.Labels`, `$externalLabels`).
    Map(&'v BTreeMap<String, String>),
    Owned(Value),
}

impl Reached<'_> {
    fn into_value(self) -> Value {
        match self {
            Reached::Borrowed(v) => v.clone(),
            Reached::Map(m) => Value::Map(m.clone()),
            Reached::Owned(v) => v,
        }
    }
}

fn fail(pos: Pos, message: impl Into<String>) -> TemplateError {
    TemplateError::Exec {
        pos,
        message: message.into(),
    }
}

impl<'a> State<'a> {
    fn list(&mut self, nodes: &'a [Node], dot: &Value) -> Result<(), TemplateError> {
        for node in nodes {
            match node {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(pipe) => {
                    let v = self.pipeline(pipe, dot)?;
                    if pipe.vars.is_empty() {
                        match &v {
                            Value::Str(s) => self.out.push_str(s),
                            other => self.out.push_str(&other.display()),
                        }
                    }
                }
                Node::Branch(b) => self.branch(b, dot)?,
            }
        }
        Ok(())
    }

    fn branch(&mut self, b: &'a Branch, dot: &Value) -> Result<(), TemplateError> {
        let mark = self.vars.len();
        let result = match b.kind {
            BranchKind::If | BranchKind::With => {
                let v = self.pipeline(&b.pipe, dot)?;
                if !v.truth() {
                    self.list(&b.otherwise, dot)
                } else if b.kind == BranchKind::With {
                    self.list(&b.body, &v)
                } else {
                    self.list(&b.body, dot)
                }
            }
            BranchKind::Range => self.range(b, dot),
        };
        self.vars.truncate(mark);
        result
    }

    fn range(&mut self, b: &'a Branch, dot: &Value) -> Result<(), TemplateError> {
        let v = self.pipeline_value(&b.pipe, dot)?;
        let items: Vec<(Value, Value)> = match v {
            Value::Samples(s) => s
                .into_iter()
                .enumerate()
                .map(|(i, s)| {
                    (
                        Value::Int(i64::try_from(i).unwrap_or(i64::MAX)),
                        Value::Sample(s),
                    )
                })
                .collect(),
            Value::Map(m) => m
                .into_iter()
                .map(|(k, v)| (Value::Str(k), Value::Str(v)))
                .collect(),
            Value::Int(n) if n > MAX_RANGE => {
                return Err(fail(
                    b.pipe.pos,
                    format!("range over {n} is more than the {MAX_RANGE} iterations allowed"),
                ));
            }
            Value::Int(n) => (0..n.max(0))
                .map(|i| (Value::Int(i), Value::Int(i)))
                .collect(),
            Value::Missing | Value::Nil => Vec::new(),
            other => {
                return Err(fail(
                    b.pipe.pos,
                    format!("range can't iterate over {}", other.display()),
                ));
            }
        };
        if items.is_empty() {
            return self.list(&b.otherwise, dot);
        }
        let mark = self.vars.len();
        for (key, item) in items {
            self.vars.truncate(mark);
            match b.pipe.vars.as_slice() {
                [] => {}
                [one] => self.vars.push((one, item.clone())),
                [k, v, ..] => {
                    self.vars.push((k, key));
                    self.vars.push((v, item.clone()));
                }
            }
            self.list(&b.body, &item)?;
        }
        Ok(())
    }

    /// Evaluates a pipeline's commands without touching its variables.
    fn pipeline_value(&mut self, pipe: &'a Pipeline, dot: &Value) -> Result<Value, TemplateError> {
        let mut prev = None;
        for cmd in &pipe.cmds {
            prev = Some(self.command(cmd, dot, prev)?);
        }
        prev.ok_or_else(|| fail(pipe.pos, "missing value for command"))
    }

    /// Evaluates a pipeline and declares or assigns its variables.
    fn pipeline(&mut self, pipe: &'a Pipeline, dot: &Value) -> Result<Value, TemplateError> {
        let v = self.pipeline_value(pipe, dot)?;
        if let Some(name) = pipe.vars.first() {
            if pipe.assign {
                if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    slot.1 = v.clone();
                } else if let Some(i) = PREDECLARED.iter().position(|p| p == name) {
                    self.predeclared[i] = Some(v.clone());
                }
            } else {
                self.vars.push((name, v.clone()));
            }
        }
        Ok(v)
    }

    fn command(
        &mut self,
        cmd: &'a Command,
        dot: &Value,
        prev: Option<Value>,
    ) -> Result<Value, TemplateError> {
        if let Some(Arg::Func(name)) = cmd.args.first() {
            let mut args = Vec::with_capacity(cmd.args.len());
            for a in &cmd.args[1..] {
                args.push(self.operand(a, dot, cmd.pos)?);
            }
            args.extend(prev);
            return funcs::call(name, &args, &self.ctx)
                .map_err(|e| fail(cmd.pos, format!("error calling {name}: {e}")));
        }
        if cmd.args.len() > 1 || prev.is_some() {
            return Err(fail(cmd.pos, "can't give argument to non-function"));
        }
        self.operand(&cmd.args[0], dot, cmd.pos)
    }

    fn operand(&mut self, arg: &'a Arg, dot: &Value, pos: Pos) -> Result<Value, TemplateError> {
        let (base, fields) = match arg {
            Arg::Dot(fields) => (Reached::Borrowed(dot), fields.as_slice()),
            Arg::Var(name, fields) => {
                let v = self
                    .variable(name)
                    .ok_or_else(|| fail(pos, format!("undefined variable {name:?}")))?;
                (v, fields.as_slice())
            }
            Arg::Sub(pipe, fields) => (
                Reached::Owned(self.pipeline_value(pipe, dot)?),
                fields.as_slice(),
            ),
            Arg::Str(s) => return Ok(Value::Str(s.clone())),
            Arg::Num(super::lex::Number::Int(i)) => return Ok(Value::Int(*i)),
            Arg::Num(super::lex::Number::Float(f)) => return Ok(Value::Float(*f)),
            Arg::Bool(b) => return Ok(Value::Bool(*b)),
            Arg::Nil => return Err(fail(pos, "nil is not a command")),
            Arg::Func(name) => {
                return funcs::call(name, &[], &self.ctx)
                    .map_err(|e| fail(pos, format!("error calling {name}: {e}")));
            }
        };
        let mut cur = base;
        for f in fields {
            cur = self.field(cur, f).map_err(|m| fail(pos, m))?;
        }
        Ok(cur.into_value())
    }

    /// The variable `name`: the innermost declared one, else a predeclared one.
    fn variable(&self, name: &str) -> Option<Reached<'_>> {
        if let Some((_, v)) = self.vars.iter().rev().find(|(n, _)| *n == name) {
            return Some(Reached::Borrowed(v));
        }
        let i = PREDECLARED.iter().position(|p| *p == name)?;
        if let Some(v) = &self.predeclared[i] {
            return Some(Reached::Borrowed(v));
        }
        Some(match PREDECLARED[i] {
            "$labels" => Reached::Map(&self.data.labels),
            "$externalLabels" => Reached::Map(&self.data.external_labels),
            "$externalURL" => Reached::Owned(Value::Str(self.data.external_url.clone())),
            "$value" => Reached::Owned(Value::Float(self.data.value)),
            _ => Reached::Owned(Value::Alert),
        })
    }

    fn field<'v>(&'v self, v: Reached<'v>, name: &str) -> Result<Reached<'v>, String> {
        let value = match v {
            Reached::Map(m) => return Ok(Reached::Owned(map_field(m, name))),
            Reached::Borrowed(Value::Sample(s)) if name == "Labels" => {
                return Ok(Reached::Map(&s.labels));
            }
            Reached::Owned(Value::Sample(s)) if name == "Labels" => {
                return Ok(Reached::Owned(Value::Map(s.labels)));
            }
            Reached::Borrowed(v) => v,
            Reached::Owned(ref v) => v,
        };
        match value {
            Value::Alert => match name {
                "Labels" => Ok(Reached::Map(&self.data.labels)),
                "ExternalLabels" => Ok(Reached::Map(&self.data.external_labels)),
                "ExternalURL" => Ok(Reached::Owned(Value::Str(self.data.external_url.clone()))),
                "Value" => Ok(Reached::Owned(Value::Float(self.data.value))),
                _ => Err(format!(
                    "can't evaluate field {name} in the alert data (it has Labels, ExternalLabels, ExternalURL and Value)"
                )),
            },
            Value::Map(m) => Ok(Reached::Owned(map_field(m, name))),
            Value::Sample(s) => match name {
                "Value" => Ok(Reached::Owned(Value::Float(s.value))),
                _ => Err(format!(
                    "can't evaluate field {name} in a sample (it has Labels and Value)"
                )),
            },
            Value::Missing | Value::Nil => Err(format!("nil data; no entry for key {name:?}")),
            other => Err(format!(
                "can't evaluate field {name} in type {}",
                other.go_type()
            )),
        }
    }
}

/// A label's value in a label set, or Go's missing value.
fn map_field(m: &BTreeMap<String, String>, name: &str) -> Value {
    m.get(name)
        .map_or(Value::Missing, |s| Value::Str(s.clone()))
}
