//! The canonical text of an expression: what the fingerprint hashes and messages show. Only the
//! parentheses the tree needs are written, so parsing the text gives the same tree back.

use super::{Literal, Node, NodeKind};
use std::fmt::{self, Write};

/// Binding strength, loosest first; a child weaker than its place needs parentheses.
const OR: u8 = 1;
const AND: u8 = 2;
const NOT: u8 = 3;
const COMPARE: u8 = 4;
const SHIFT: u8 = 5;
const ATOM: u8 = 6;

fn strength(n: &Node) -> u8 {
    match &n.kind {
        NodeKind::Or(_) => OR,
        NodeKind::And(_) => AND,
        NodeKind::Not(_) => NOT,
        NodeKind::Compare { .. } | NodeKind::In { .. } => COMPARE,
        NodeKind::Shift { .. } => SHIFT,
        // `-5` reads as a negative number only where a value starts, which is everywhere it
        // can be written; no parentheses needed.
        _ => ATOM,
    }
}

/// Writes `n` where at least strength `min` binds without parentheses.
pub(super) fn write(f: &mut fmt::Formatter<'_>, n: &Node, min: u8) -> fmt::Result {
    if strength(n) < min {
        f.write_char('(')?;
        write(f, n, 0)?;
        return f.write_char(')');
    }
    match &n.kind {
        NodeKind::Lit(l) => literal(f, l),
        NodeKind::Today => f.write_str("today"),
        NodeKind::Field(path) => f.write_str(&path.join(".")),
        NodeKind::Shift { date, days } => {
            write(f, date, SHIFT)?;
            if *days < 0 {
                write!(f, " - {}d", days.unsigned_abs())
            } else {
                write!(f, " + {days}d")
            }
        }
        NodeKind::Compare { op, left, right } => {
            // Comparisons do not chain: a comparison operand is parenthesised.
            write(f, left, SHIFT)?;
            write!(f, " {} ", op.as_str())?;
            write(f, right, SHIFT)
        }
        NodeKind::In { value, list } => {
            write(f, value, SHIFT)?;
            f.write_str(" in [")?;
            items(f, list)?;
            f.write_char(']')
        }
        // An operand of the same operator is parenthesised: `a and (b and c)` is its own tree.
        NodeKind::And(xs) => joined(f, xs, " and ", NOT),
        NodeKind::Or(xs) => joined(f, xs, " or ", AND),
        NodeKind::Not(x) => {
            f.write_str("not ")?;
            write(f, x, NOT)
        }
        NodeKind::Call { func, args } => {
            f.write_str(func.as_str())?;
            f.write_char('(')?;
            items(f, args)?;
            f.write_char(')')
        }
    }
}

fn joined(f: &mut fmt::Formatter<'_>, xs: &[Node], sep: &str, min: u8) -> fmt::Result {
    for (i, x) in xs.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write(f, x, min)?;
    }
    Ok(())
}

fn items(f: &mut fmt::Formatter<'_>, xs: &[Node]) -> fmt::Result {
    for (i, x) in xs.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write(f, x, 0)?;
    }
    Ok(())
}

fn literal(f: &mut fmt::Formatter<'_>, l: &Literal) -> fmt::Result {
    match l {
        Literal::Null => f.write_str("null"),
        Literal::Bool(b) => write!(f, "{b}"),
        Literal::Int(i) => write!(f, "{i}"),
        Literal::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
        Literal::Text(s) => {
            f.write_char('"')?;
            for c in s.chars() {
                if matches!(c, '"' | '\\') {
                    f.write_char('\\')?;
                }
                f.write_char(c)?;
            }
            f.write_char('"')
        }
    }
}
