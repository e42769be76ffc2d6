//! Evaluation over a record's JSON. It never fails: a missing field is `null`, a comparison of
//! values that do not compare is false, a function of the wrong kind of value gives `null`.

use super::{CmpOp, Func, Literal, Node, NodeKind};
use chrono::{DateTime, Days, NaiveDate};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// A value of the expression language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Absent or JSON `null` (also numbers beyond 64-bit integers, which no record has).
    Null,
    /// true or false.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A text; it compares as a date with a date when it holds one (`YYYY-MM-DD` or RFC 3339).
    Text(String),
    /// A calendar date (literals, `today`, date arithmetic).
    Date(NaiveDate),
    /// A JSON list.
    List(Vec<Value>),
    /// A JSON object.
    Object(BTreeMap<String, Value>),
}

impl Value {
    /// The value of a piece of JSON.
    pub fn from_json(v: &serde_json::Value) -> Self {
        use serde_json::Value as J;
        match v {
            J::Null => Self::Null,
            J::Bool(b) => Self::Bool(*b),
            J::Number(n) => n.as_i64().map_or(Self::Null, Self::Int),
            J::String(s) => Self::Text(s.clone()),
            J::Array(xs) => Self::List(xs.iter().map(Self::from_json).collect()),
            J::Object(m) => Self::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), Self::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// The JSON of the value, as a mapping writes it into a copy (dates as `YYYY-MM-DD`).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Self::Null => J::Null,
            Self::Bool(b) => J::Bool(*b),
            Self::Int(i) => J::from(*i),
            Self::Text(s) => J::String(s.clone()),
            Self::Date(d) => J::String(d.format("%Y-%m-%d").to_string()),
            Self::List(xs) => J::Array(xs.iter().map(Self::to_json).collect()),
            Self::Object(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    /// The date it stands for: a date, or a text holding a date or an instant (its UTC date).
    pub fn as_date(&self) -> Option<NaiveDate> {
        match self {
            Self::Date(d) => Some(*d),
            Self::Text(s) => date_of_text(s),
            _ => None,
        }
    }

    /// Its text for `concat`: `null` is nothing, lists and objects are JSON.
    fn text(&self) -> String {
        match self {
            Self::Null => String::new(),
            Self::Bool(b) => b.to_string(),
            Self::Int(i) => i.to_string(),
            Self::Text(s) => s.clone(),
            Self::Date(d) => d.format("%Y-%m-%d").to_string(),
            Self::List(_) | Self::Object(_) => self.to_json().to_string(),
        }
    }
}

/// A text as a date: `YYYY-MM-DD`, or an RFC 3339 instant taken at its UTC date.
pub(crate) fn date_of_text(s: &str) -> Option<NaiveDate> {
    if s.len() == 10 {
        return NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.to_utc().date_naive())
}

pub(super) fn eval(n: &Node, record: &serde_json::Value, today: NaiveDate) -> Value {
    match &n.kind {
        NodeKind::Lit(l) => match l {
            Literal::Null => Value::Null,
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Int(i) => Value::Int(*i),
            Literal::Text(s) => Value::Text(s.clone()),
            Literal::Date(d) => Value::Date(*d),
        },
        NodeKind::Today => Value::Date(today),
        NodeKind::Field(path) => {
            let mut v = record;
            for part in path {
                match v.get(part) {
                    Some(inner) => v = inner,
                    None => return Value::Null,
                }
            }
            Value::from_json(v)
        }
        NodeKind::Shift { date, days } => eval(date, record, today)
            .as_date()
            .and_then(|d| shift(d, *days))
            .map_or(Value::Null, Value::Date),
        NodeKind::Compare { op, left, right } => {
            let l = eval(left, record, today);
            let r = eval(right, record, today);
            Value::Bool(compare(*op, &l, &r))
        }
        NodeKind::In { value, list } => {
            let v = eval(value, record, today);
            Value::Bool(
                list.iter()
                    .any(|item| compare(CmpOp::Eq, &v, &eval(item, record, today))),
            )
        }
        NodeKind::And(xs) => Value::Bool(xs.iter().all(|x| is_true(&eval(x, record, today)))),
        NodeKind::Or(xs) => Value::Bool(xs.iter().any(|x| is_true(&eval(x, record, today)))),
        NodeKind::Not(x) => Value::Bool(!is_true(&eval(x, record, today))),
        NodeKind::Call { func, args } => {
            let vals: Vec<Value> = args.iter().map(|a| eval(a, record, today)).collect();
            call(*func, &vals)
        }
    }
}

fn is_true(v: &Value) -> bool {
    *v == Value::Bool(true)
}

fn shift(d: NaiveDate, days: i64) -> Option<NaiveDate> {
    let n = Days::new(days.unsigned_abs());
    if days < 0 {
        d.checked_sub_days(n)
    } else {
        d.checked_add_days(n)
    }
}

/// `l op r`. With `null` on either side only `=` and `!=` answer (does the other side hold
/// nothing?). Otherwise values of one type compare; a date with a text holding a date compares
/// as dates; anything else is false, for `!=` too.
pub(crate) fn compare(op: CmpOp, l: &Value, r: &Value) -> bool {
    use Value::*;
    if matches!(l, Null) || matches!(r, Null) {
        let both = matches!((l, r), (Null, Null));
        return match op {
            CmpOp::Eq => both,
            CmpOp::Ne => !both,
            _ => false,
        };
    }
    let ord = match (l, r) {
        (Int(a), Int(b)) => Some(a.cmp(b)),
        (Text(a), Text(b)) => Some(a.cmp(b)),
        (Date(_), Text(_)) | (Text(_), Date(_)) | (Date(_), Date(_)) => {
            match (l.as_date(), r.as_date()) {
                (Some(a), Some(b)) => Some(a.cmp(&b)),
                _ => None,
            }
        }
        (Bool(a), Bool(b)) if !op.is_order() => Some(a.cmp(b)),
        (List(_), List(_)) | (Object(_), Object(_)) if !op.is_order() => Some(if l == r {
            Ordering::Equal
        } else {
            Ordering::Less
        }),
        _ => None,
    };
    let Some(ord) = ord else {
        return false;
    };
    match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
    }
}

fn call(func: Func, args: &[Value]) -> Value {
    match func {
        Func::Concat => Value::Text(args.iter().map(Value::text).collect()),
        Func::Upper | Func::Lower | Func::Trim => match args.first() {
            Some(Value::Text(s)) => Value::Text(match func {
                Func::Upper => s.to_uppercase(),
                Func::Lower => s.to_lowercase(),
                _ => s.trim().to_string(),
            }),
            _ => Value::Null,
        },
    }
}
