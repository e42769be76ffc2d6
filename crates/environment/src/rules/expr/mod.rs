//! The small expression language of distribution rules: a rule's condition
//! (`status = "checked_out" and departure < today - 90d`) and a mapping's computed fields
//! (`upper(name)`), both over a record's JSON.
//!
//! - literals: strings `"…"` or `'…'` (`\"`, `\'` and `\\` escape), whole numbers, `true`,
//!   `false`, `null`, dates `2026-12-01`; `today`; date arithmetic `today - 90d`, `departure + 3d`;
//! - field references, with dots into nested objects (`price.amount`); a missing field is `null`;
//! - comparisons `= != < <= > >=` (dates as dates — a text holding a date or an RFC 3339 instant
//!   counts as that date —, numbers as numbers, texts as texts; anything else is false, except
//!   that `=`/`!=` with `null` test for null), `x in [a, b]`;
//! - `and`, `or`, `not` (only `true` is true: `not null` is true), parentheses;
//! - functions `upper(x)`, `lower(x)`, `trim(x)` (of a text; `null` otherwise) and
//!   `concat(a, b, …)` (texts of its arguments, `null` as nothing).
//!
//! Parsing knows no schema; [`check`] types an expression against a record kind so that the
//! environment file is refused at start when a rule names an unknown field or compares a date
//! with a number. Evaluation never fails: it works on whatever JSON arrives.
//! Sizes are bounded by [`crate::limits::MAX_EXPR_CHARS`] and [`crate::limits::MAX_EXPR_DEPTH`].

mod check;
mod display;
mod eval;
mod lex;
mod parse;

#[cfg(test)]
mod tests;

pub(crate) use check::{check, Ty};
pub use eval::Value;

use chrono::NaiveDate;
use std::fmt;

/// Words of the language that cannot name a field.
pub const KEYWORDS: &[&str] = &["and", "or", "not", "in", "true", "false", "null", "today"];

/// A parsed expression. Two expressions are equal when they mean the same (their trees are
/// equal), whatever their spacing and parentheses: `a=1` equals `(a = 1)`.
#[derive(Clone, Debug)]
pub struct Expr {
    src: String,
    root: Node,
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.root == other.root
    }
}

impl Eq for Expr {}

/// Why an expression was refused: where (a byte offset into its text) and what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {message}")]
pub struct ExprError {
    /// Byte offset into the expression's text, at a character boundary.
    pub offset: usize,
    /// What is wrong, for an operator.
    pub message: String,
}

impl ExprError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> Self {
        Self {
            offset,
            message: message.into(),
        }
    }
}

impl Expr {
    /// Parses an expression, refusing bad syntax, unknown functions and anything beyond the
    /// limits, with the byte offset of the problem.
    pub fn parse(src: &str) -> Result<Expr, ExprError> {
        let root = parse::parse(src)?;
        Ok(Expr {
            src: src.to_string(),
            root,
        })
    }

    /// The value of the expression for a record's JSON, `today` being `today`.
    pub fn eval(&self, record: &serde_json::Value, today: NaiveDate) -> Value {
        eval::eval(&self.root, record, today)
    }

    /// Whether the expression is true for the record: its value is exactly `true`.
    pub fn matches(&self, record: &serde_json::Value, today: NaiveDate) -> bool {
        self.eval(record, today) == Value::Bool(true)
    }

    /// The text it was parsed from.
    pub fn source(&self) -> &str {
        &self.src
    }
}

/// The canonical text: single spaces, double quotes, only the parentheses the meaning needs.
/// Parsing it gives an equal expression; the fingerprint uses it so layout does not count.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        display::write(f, &self.root, 0)
    }
}

/// A node of the tree, with the byte offset of its text (for error messages only: equality
/// ignores it).
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub at: usize,
    pub kind: NodeKind,
}

impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

impl Eq for Node {}

impl Node {
    pub(crate) fn new(at: usize, kind: NodeKind) -> Self {
        Self { at, kind }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Text(String),
    Date(NaiveDate),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    #[cfg(test)]
    pub(crate) const ALL: [CmpOp; 6] = [Self::Eq, Self::Ne, Self::Lt, Self::Le, Self::Gt, Self::Ge];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }

    /// Whether it asks for an order (`<`…) rather than (in)equality.
    pub(crate) fn is_order(self) -> bool {
        !matches!(self, Self::Eq | Self::Ne)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Func {
    Upper,
    Lower,
    Trim,
    Concat,
}

impl Func {
    pub(crate) const ALL: [Func; 4] = [Self::Upper, Self::Lower, Self::Trim, Self::Concat];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Upper => "upper",
            Self::Lower => "lower",
            Self::Trim => "trim",
            Self::Concat => "concat",
        }
    }

    pub(crate) fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NodeKind {
    Lit(Literal),
    Today,
    /// A field path, at least one part.
    Field(Vec<String>),
    /// A date moved by a number of days (negative for `-`).
    Shift {
        date: Box<Node>,
        days: i64,
    },
    Compare {
        op: CmpOp,
        left: Box<Node>,
        right: Box<Node>,
    },
    In {
        value: Box<Node>,
        list: Vec<Node>,
    },
    /// At least two operands.
    And(Vec<Node>),
    /// At least two operands.
    Or(Vec<Node>),
    Not(Box<Node>),
    Call {
        func: Func,
        args: Vec<Node>,
    },
}
