//! Typing an expression against a record kind's schema, so the environment file is refused at
//! start when a rule names an unknown field or compares what never compares (evaluation would
//! only ever answer false, and the rule would silently never match).

use super::{CmpOp, Expr, ExprError, Func, Literal, Node, NodeKind};
use crate::rules::schema::{self, Field, FieldType};
use innsync_core::RecordKind;

/// What an expression yields, as far as the schema tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    Null,
    Bool,
    Int,
    Text,
    Date,
    DateTime,
    List,
    Object,
}

impl Ty {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool => "true/false",
            Self::Int => "a whole number",
            Self::Text => "a text",
            Self::Date => "a date",
            Self::DateTime => "an instant",
            Self::List => "a list",
            Self::Object => "an object",
        }
    }

    pub(crate) fn of_field(t: FieldType) -> Self {
        match t {
            FieldType::Text | FieldType::Authority | FieldType::Id => Self::Text,
            FieldType::Integer => Self::Int,
            FieldType::Bool => Self::Bool,
            FieldType::Date => Self::Date,
            FieldType::DateTime => Self::DateTime,
            FieldType::List => Self::List,
            FieldType::Object(_) => Self::Object,
        }
    }

    fn is_dated(self) -> bool {
        matches!(self, Self::Date | Self::DateTime)
    }
}

/// A typed node: its type, the field it reads and the text literal it is, when it is one.
struct Typed<'a> {
    ty: Ty,
    field: Option<(&'a [String], &'static Field)>,
    text: Option<&'a str>,
    at: usize,
}

impl Typed<'_> {
    fn describe(&self) -> String {
        match (self.field, self.text) {
            (Some((path, _)), _) => format!("`{}` ({})", path.join("."), self.ty.name()),
            (_, Some(t)) => format!("{t:?} ({})", self.ty.name()),
            _ => self.ty.name().to_string(),
        }
    }
}

/// The type of `expr` over records of `kind`, or the first problem with its offset.
pub(crate) fn check(expr: &Expr, kind: RecordKind) -> Result<Ty, ExprError> {
    Ok(typed(&expr.root, kind)?.ty)
}

fn typed(n: &Node, kind: RecordKind) -> Result<Typed<'_>, ExprError> {
    let plain = |ty| Typed {
        ty,
        field: None,
        text: None,
        at: n.at,
    };
    Ok(match &n.kind {
        NodeKind::Lit(Literal::Null) => plain(Ty::Null),
        NodeKind::Lit(Literal::Bool(_)) => plain(Ty::Bool),
        NodeKind::Lit(Literal::Int(_)) => plain(Ty::Int),
        NodeKind::Lit(Literal::Date(_)) | NodeKind::Today => plain(Ty::Date),
        NodeKind::Lit(Literal::Text(s)) => Typed {
            text: Some(s),
            ..plain(Ty::Text)
        },
        NodeKind::Field(path) => {
            let Some(field) = schema::field(kind, path) else {
                return Err(ExprError::new(
                    n.at,
                    format!(
                        "{} has no field `{}`; its fields: {}",
                        kind.as_str(),
                        path.join("."),
                        schema::field_list(kind)
                    ),
                ));
            };
            Typed {
                field: Some((path, field)),
                ..plain(Ty::of_field(field.ty))
            }
        }
        NodeKind::Shift { date, days } => {
            let d = typed(date, kind)?;
            let ok = d.ty.is_dated()
                || d.ty == Ty::Null
                || d.text
                    .is_some_and(|t| super::eval::date_of_text(t).is_some());
            if !ok {
                let sign = if *days < 0 { '-' } else { '+' };
                return Err(ExprError::new(
                    d.at,
                    format!(
                        "`{sign} {}d` needs a date, but this is {}",
                        days.unsigned_abs(),
                        d.describe()
                    ),
                ));
            }
            plain(Ty::Date)
        }
        NodeKind::Compare { op, left, right } => {
            let l = typed(left, kind)?;
            let r = typed(right, kind)?;
            comparable(*op, &l, &r, n.at)?;
            plain(Ty::Bool)
        }
        NodeKind::In { value, list } => {
            let v = typed(value, kind)?;
            for item in list {
                comparable(CmpOp::Eq, &v, &typed(item, kind)?, item.at)?;
            }
            plain(Ty::Bool)
        }
        NodeKind::And(xs) | NodeKind::Or(xs) => {
            let word = if matches!(n.kind, NodeKind::And(_)) {
                "and"
            } else {
                "or"
            };
            for x in xs {
                boolean(&typed(x, kind)?, word)?;
            }
            plain(Ty::Bool)
        }
        NodeKind::Not(x) => {
            boolean(&typed(x, kind)?, "not")?;
            plain(Ty::Bool)
        }
        NodeKind::Call { func, args } => {
            for a in args {
                let t = typed(a, kind)?;
                if *func != Func::Concat && !matches!(t.ty, Ty::Text | Ty::Null) {
                    return Err(ExprError::new(
                        t.at,
                        format!(
                            "{}() takes a text, but this is {}",
                            func.as_str(),
                            t.describe()
                        ),
                    ));
                }
            }
            plain(Ty::Text)
        }
    })
}

fn boolean(t: &Typed<'_>, word: &str) -> Result<(), ExprError> {
    if t.ty == Ty::Bool {
        Ok(())
    } else {
        Err(ExprError::new(
            t.at,
            format!("`{word}` needs true/false, but this is {}", t.describe()),
        ))
    }
}

/// Whether `l op r` can ever be true; also that a text compared with a field of fixed values
/// is one of them.
fn comparable(op: CmpOp, l: &Typed<'_>, r: &Typed<'_>, at: usize) -> Result<(), ExprError> {
    use Ty::*;
    for (a, b) in [(l, r), (r, l)] {
        if let (Some((path, field)), Some(text)) = (a.field, b.text) {
            if !field.values.is_empty() && !field.values.contains(&text) {
                return Err(ExprError::new(
                    b.at,
                    format!(
                        "`{}` is one of {}; {text:?} is not",
                        path.join("."),
                        field.values.join(", ")
                    ),
                ));
            }
        }
    }
    if l.ty == Null || r.ty == Null {
        return if op.is_order() {
            Err(ExprError::new(
                at,
                format!(
                    "`null` is compared with = or != only, not `{}`",
                    op.as_str()
                ),
            ))
        } else {
            Ok(())
        };
    }
    let unordered = |what: &str| {
        if op.is_order() {
            Err(ExprError::new(
                at,
                format!("`{}` does not order {what}; use = or !=", op.as_str()),
            ))
        } else {
            Ok(())
        }
    };
    match (l.ty, r.ty) {
        (Int, Int) | (Text, Text) => Ok(()),
        (a, b) if a.is_dated() && b.is_dated() => Ok(()),
        (Date, Text) | (Text, Date) => {
            let (text_side, date_side) = if l.ty == Text { (l, r) } else { (r, l) };
            match text_side.text {
                Some(t) if t.len() == 10 && super::eval::date_of_text(t).is_some() => Ok(()),
                Some(t) => Err(ExprError::new(
                    text_side.at,
                    format!("{t:?} is not a date; write dates like 2026-12-01"),
                )),
                None => Err(ExprError::new(
                    at,
                    format!(
                        "cannot compare {} with {}",
                        date_side.describe(),
                        text_side.describe()
                    ),
                )),
            }
        }
        (DateTime, Text) | (Text, DateTime) => {
            let (dt, other) = if l.ty == DateTime { (l, r) } else { (r, l) };
            Err(ExprError::new(
                other.at,
                format!(
                    "cannot compare {} with {}; compare it with a date such as 2026-12-01 (unquoted)",
                    dt.describe(),
                    other.describe()
                ),
            ))
        }
        (Bool, Bool) => unordered("true/false"),
        (List, List) => unordered("lists"),
        (Object, Object) => unordered("objects"),
        _ => Err(ExprError::new(
            at,
            format!("cannot compare {} with {}", l.describe(), r.describe()),
        )),
    }
}
