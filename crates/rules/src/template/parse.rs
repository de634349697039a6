//! The parser of alert templates: tokens into a tree of text, actions and control structures.
//!
//! Like Go's parser it rejects at parse time what can be known then: undefined variables,
//! unknown functions, unbalanced `{{if}}`/`{{end}}`, so `check-rules` catches them before an
//! alert ever fires.

use super::lex::{Number, Tok, Token, lex, parse_number};
use super::{Pos, TemplateError, funcs};

/// A node of the parsed template.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// Text printed as it is.
    Text(String),
    /// `{{ pipeline }}`: printed unless it declares or assigns a variable.
    Action(Pipeline),
    /// `{{if}}`, `{{range}}` or `{{with}}`.
    Branch(Box<Branch>),
}

/// Which control structure a [`Branch`] is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum BranchKind {
    /// `{{if p}}`: runs the body when `p` is true.
    If,
    /// `{{range p}}`: runs the body once per element of `p`.
    Range,
    /// `{{with p}}`: runs the body with dot set to `p` when it is true.
    With,
}

/// A control structure with its body and optional `{{else}}` body (an `{{else if}}` is an
/// `else` body holding one nested branch).
#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub(crate) kind: BranchKind,
    pub(crate) pipe: Pipeline,
    pub(crate) body: Vec<Node>,
    pub(crate) otherwise: Vec<Node>,
}

/// A pipeline: optional variable declarations, then commands joined by `|`.
#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    /// Where the pipeline starts, for error messages.
    pub(crate) pos: Pos,
    /// Variables declared (`:=`) or assigned (`=`) by the pipeline.
    pub(crate) vars: Vec<String>,
    /// Whether `vars` are assigned rather than declared.
    pub(crate) assign: bool,
    pub(crate) cmds: Vec<Command>,
}

/// One command: a function with arguments, or a single operand.
#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub(crate) pos: Pos,
    pub(crate) args: Vec<Arg>,
}

/// An operand.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    /// `.` followed by zero or more fields (`.Labels.job`).
    Dot(Vec<String>),
    /// A variable followed by zero or more fields (`$labels.job`).
    Var(String, Vec<String>),
    /// A function name.
    Func(String),
    /// A string constant.
    Str(String),
    /// A number constant.
    Num(Number),
    /// `true` or `false`.
    Bool(bool),
    /// `nil`.
    Nil,
    /// A parenthesised pipeline, possibly followed by fields.
    Sub(Box<Pipeline>, Vec<String>),
}

/// Variables every alert template can use without declaring them, as Prometheus defines them.
pub(crate) const PREDECLARED: [&str; 5] =
    ["$", "$labels", "$externalLabels", "$externalURL", "$value"];

/// Parses a whole template.
pub(crate) fn parse(text: &str) -> Result<Vec<Node>, TemplateError> {
    let tokens = lex(text)?;
    let mut parser = Parser {
        text,
        tokens,
        next: 0,
        vars: PREDECLARED.iter().map(|v| (*v).to_string()).collect(),
        depth: 0,
    };
    let (nodes, end) = parser.list()?;
    match end {
        Stop::Eof => Ok(nodes),
        Stop::End(at) => Err(parser.error_at(at, "unexpected {{end}}")),
        Stop::Else(at, _) => Err(parser.error_at(at, "unexpected {{else}}")),
    }
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    next: usize,
    /// Variables in scope, innermost last.
    vars: Vec<String>,
    /// Nesting of control structures and parentheses, bounded so a hostile template cannot
    /// overflow the stack.
    depth: usize,
}

/// The deepest nesting of `{{if}}`/`{{range}}`/`{{with}}` and parentheses accepted.
const MAX_DEPTH: usize = 100;

/// What ended a list of nodes.
enum Stop {
    Eof,
    End(usize),
    /// `{{else}}`, possibly followed by `if`/`with` (kept as the keyword).
    Else(usize, Option<String>),
}

impl Parser<'_> {
    fn error_at(&self, at: usize, message: impl Into<String>) -> TemplateError {
        TemplateError::parse(Pos::of(self.text, at), message)
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn bump(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.next).cloned();
        self.next += 1;
        t
    }

    fn eof_at(&self) -> usize {
        self.text.len()
    }

    fn expect_close(&mut self, context: &str) -> Result<(), TemplateError> {
        match self.bump() {
            Some(Token {
                kind: Tok::Close, ..
            }) => Ok(()),
            Some(t) => Err(self.error_at(
                t.at,
                format!("unexpected {} in {context}", describe(&t.kind)),
            )),
            None => Err(self.error_at(self.eof_at(), "unclosed action")),
        }
    }

    fn list(&mut self) -> Result<(Vec<Node>, Stop), TemplateError> {
        let mut nodes = Vec::new();
        loop {
            let Some(token) = self.bump() else {
                return Ok((nodes, Stop::Eof));
            };
            match token.kind {
                Tok::Text(s) => nodes.push(Node::Text(s)),
                Tok::Open => {
                    let keyword = match self.peek().map(|t| &t.kind) {
                        Some(Tok::Ident(k)) => Some(k.clone()),
                        _ => None,
                    };
                    match keyword.as_deref() {
                        Some("end") => {
                            self.next += 1;
                            self.expect_close("end")?;
                            return Ok((nodes, Stop::End(token.at)));
                        }
                        Some("else") => {
                            self.next += 1;
                            let chained = match self.peek().map(|t| &t.kind) {
                                Some(Tok::Ident(k)) if k == "if" || k == "with" => {
                                    let k = k.clone();
                                    self.next += 1;
                                    Some(k)
                                }
                                _ => {
                                    self.expect_close("else")?;
                                    None
                                }
                            };
                            return Ok((nodes, Stop::Else(token.at, chained)));
                        }
                        Some(k @ ("if" | "range" | "with")) => {
                            let kind = match k {
                                "if" => BranchKind::If,
                                "range" => BranchKind::Range,
                                _ => BranchKind::With,
                            };
                            self.next += 1;
                            nodes.push(self.branch(kind, token.at)?);
                        }
                        Some(k @ ("define" | "template" | "block" | "break" | "continue")) => {
                            return Err(self.error_at(
                                token.at,
                                format!("{{{{{k}}}}} is not supported in alert templates"),
                            ));
                        }
                        _ => {
                            let pipe = self.pipeline(true)?;
                            self.expect_close("command")?;
                            nodes.push(Node::Action(pipe));
                        }
                    }
                }
                other => {
                    return Err(self.error_at(token.at, format!("unexpected {}", describe(&other))));
                }
            }
        }
    }

    /// Parses a control structure after its keyword, up to and including its `{{end}}`.
    fn branch(&mut self, kind: BranchKind, at: usize) -> Result<Node, TemplateError> {
        self.enter(at)?;
        let result = self.branch_inner(kind, at);
        self.depth -= 1;
        result
    }

    fn enter(&mut self, at: usize) -> Result<(), TemplateError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error_at(
                at,
                format!("template nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        Ok(())
    }

    fn branch_inner(&mut self, kind: BranchKind, at: usize) -> Result<Node, TemplateError> {
        let scope = self.vars.len();
        let pipe = self.pipeline(true)?;
        self.expect_close(name_of(kind))?;
        // Variables of the pipeline stay visible until `{{end}}`, in every branch.
        let after_pipe = self.vars.len();
        let (body, end) = self.list()?;
        let otherwise = match end {
            Stop::Eof => {
                return Err(self.error_at(
                    at,
                    format!(
                        "unexpected EOF: {{{{{}}}}} has no {{{{end}}}}",
                        name_of(kind)
                    ),
                ));
            }
            Stop::End(_) => Vec::new(),
            Stop::Else(_, None) => {
                self.vars.truncate(after_pipe);
                let (otherwise, end) = self.list()?;
                match end {
                    Stop::End(_) => otherwise,
                    Stop::Eof => {
                        return Err(self.error_at(
                            at,
                            format!(
                                "unexpected EOF: {{{{{}}}}} has no {{{{end}}}}",
                                name_of(kind)
                            ),
                        ));
                    }
                    Stop::Else(at, _) => {
                        return Err(self.error_at(at, "unexpected {{else}} after {{else}}"));
                    }
                }
            }
            Stop::Else(else_at, Some(chained)) => {
                if kind == BranchKind::Range {
                    return Err(self.error_at(else_at, "{{else if}} is not allowed in {{range}}"));
                }
                self.vars.truncate(after_pipe);
                let chained_kind = if chained == "if" {
                    BranchKind::If
                } else {
                    BranchKind::With
                };
                // `{{else if x}}...{{end}}` shares the outer `{{end}}`.
                vec![self.branch(chained_kind, else_at)?]
            }
        };
        self.vars.truncate(scope);
        Ok(Node::Branch(Box::new(Branch {
            kind,
            pipe,
            body,
            otherwise,
        })))
    }

    /// Parses a pipeline up to (not including) `}}` or `)`.
    fn pipeline(&mut self, allow_decl: bool) -> Result<Pipeline, TemplateError> {
        let start = self.peek().map_or(self.eof_at(), |t| t.at);
        let mut vars = Vec::new();
        let mut assign = false;
        if allow_decl {
            let save = self.next;
            let mut names = Vec::new();
            while let Some(Token {
                kind: Tok::Var(v), ..
            }) = self.peek().cloned()
            {
                self.next += 1;
                names.push(v);
                match self.peek().map(|t| t.kind.clone()) {
                    Some(Tok::Comma) if names.len() < 2 => {
                        self.next += 1;
                    }
                    Some(Tok::Declare) => {
                        self.next += 1;
                        vars = names;
                        break;
                    }
                    Some(Tok::Assign) => {
                        self.next += 1;
                        for v in &names {
                            if !self.vars.contains(v) {
                                return Err(
                                    self.error_at(start, format!("undefined variable {v:?}"))
                                );
                            }
                        }
                        vars = names;
                        assign = true;
                        break;
                    }
                    _ => break,
                }
            }
            if vars.is_empty() {
                self.next = save;
            }
        }
        let mut cmds = Vec::new();
        loop {
            cmds.push(self.command()?);
            match self.peek().map(|t| &t.kind) {
                Some(Tok::Pipe) => {
                    self.next += 1;
                }
                _ => break,
            }
        }
        if !assign {
            self.vars.extend(vars.iter().cloned());
        }
        Ok(Pipeline {
            pos: Pos::of(self.text, start),
            vars,
            assign,
            cmds,
        })
    }

    fn command(&mut self) -> Result<Command, TemplateError> {
        let start = self.peek().map_or(self.eof_at(), |t| t.at);
        let mut args = Vec::new();
        loop {
            match self.peek().map(|t| &t.kind) {
                None | Some(Tok::Close | Tok::RParen | Tok::Pipe) => break,
                _ => args.push(self.operand()?),
            }
        }
        if args.is_empty() {
            return Err(self.error_at(start, "missing value for command"));
        }
        if args.len() > 1 && !matches!(args[0], Arg::Func(_) | Arg::Dot(_) | Arg::Var(..)) {
            return Err(self.error_at(start, "can't give argument to non-function"));
        }
        Ok(Command {
            pos: Pos::of(self.text, start),
            args,
        })
    }

    /// Fields written directly after an operand (`$x.a.b`, `(f).a`).
    fn fields(&mut self) -> Vec<String> {
        let mut fields = Vec::new();
        while let Some(Token {
            kind: Tok::Field(f),
            spaced: false,
            ..
        }) = self.peek()
        {
            fields.push(f.clone());
            self.next += 1;
        }
        fields
    }

    fn operand(&mut self) -> Result<Arg, TemplateError> {
        let Some(token) = self.bump() else {
            return Err(self.error_at(self.eof_at(), "unclosed action"));
        };
        let arg = match token.kind {
            Tok::Dot => Arg::Dot(self.fields()),
            Tok::Field(f) => {
                let mut fields = vec![f];
                fields.extend(self.fields());
                Arg::Dot(fields)
            }
            Tok::Var(v) => {
                if !self.vars.contains(&v) {
                    return Err(self.error_at(token.at, format!("undefined variable {v:?}")));
                }
                Arg::Var(v, self.fields())
            }
            Tok::Str(s) => Arg::Str(s),
            Tok::Char(c) => Arg::Num(Number::Int(i64::from(u32::from(c)))),
            Tok::Number(n) => match parse_number(&n) {
                Some(n) => Arg::Num(n),
                None => return Err(self.error_at(token.at, format!("bad number syntax: {n:?}"))),
            },
            Tok::Ident(name) => match name.as_str() {
                "true" => Arg::Bool(true),
                "false" => Arg::Bool(false),
                "nil" => Arg::Nil,
                _ if funcs::exists(&name) => Arg::Func(name),
                _ => {
                    let hint = funcs::closest(&name)
                        .map(|c| format!(" (did you mean {c:?}?)"))
                        .unwrap_or_default();
                    let message = format!("function {name:?} not defined{hint}");
                    return Err(self.error_at(token.at, message));
                }
            },
            Tok::LParen => {
                self.enter(token.at)?;
                let pipe = self.pipeline(false)?;
                match self.bump() {
                    Some(Token {
                        kind: Tok::RParen, ..
                    }) => {}
                    _ => return Err(self.error_at(token.at, "unclosed left paren")),
                }
                self.depth -= 1;
                Arg::Sub(Box::new(pipe), self.fields())
            }
            other => {
                return Err(self.error_at(
                    token.at,
                    format!("unexpected {} in operand", describe(&other)),
                ));
            }
        };
        Ok(arg)
    }
}

fn name_of(kind: BranchKind) -> &'static str {
    match kind {
        BranchKind::If => "if",
        BranchKind::Range => "range",
        BranchKind::With => "with",
    }
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Text(_) => "text".into(),
        Tok::Open => "\"{{\"".into(),
        Tok::Close => "\"}}\"".into(),
        Tok::Ident(s) => format!("identifier {s:?}"),
        Tok::Field(s) => format!("field .{s}"),
        Tok::Dot => "\".\"".into(),
        Tok::Var(s) => format!("variable {s}"),
        Tok::Str(s) => format!("string {s:?}"),
        Tok::Number(s) => format!("number {s}"),
        Tok::Char(c) => format!("character {c:?}"),
        Tok::Pipe => "\"|\"".into(),
        Tok::LParen => "\"(\"".into(),
        Tok::RParen => "\")\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Declare => "\":=\"".into(),
        Tok::Assign => "\"=\"".into(),
    }
}
