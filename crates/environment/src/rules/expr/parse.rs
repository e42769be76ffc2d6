//! Recursive-descent parsing, lowest precedence first:
//!
//! ```text
//! expr    := and ("or" and)*
//! and     := not ("and" not)*
//! not     := "not" not | compare
//! compare := shift ((= | != | < | <= | > | >=) shift | "in" "[" list "]")?
//! shift   := primary (("+" | "-") DAYS)*
//! primary := literal | "today" | field ("." field)* | func "(" list ")" | "(" expr ")" | "-" DIGITS
//! ```
//!
//! Comparisons do not chain (`a < b < c` is refused). Nesting is bounded by
//! [`MAX_EXPR_DEPTH`], length by [`MAX_EXPR_CHARS`].

use super::lex::{lex, Tok};
use super::{ExprError, Func, Literal, Node, NodeKind, KEYWORDS};
use crate::limits::{MAX_EXPR_CHARS, MAX_EXPR_DEPTH, MAX_SHIFT_DAYS};

pub(super) fn parse(src: &str) -> Result<Node, ExprError> {
    if let Some((cut, _)) = src.char_indices().nth(MAX_EXPR_CHARS) {
        return Err(ExprError::new(
            cut,
            format!("an expression is at most {MAX_EXPR_CHARS} characters"),
        ));
    }
    let toks = lex(src)?;
    if toks.is_empty() {
        return Err(ExprError::new(0, "the expression is empty"));
    }
    let mut p = Parser {
        toks,
        next: 0,
        depth: 0,
        end: src.len(),
    };
    let root = p.expr()?;
    if let Some((at, tok)) = p.peek_at() {
        let hint = match tok {
            Tok::Cmp(_) => "; comparisons do not chain: join them with `and`",
            _ => "",
        };
        return Err(ExprError::new(
            at,
            format!(
                "unexpected {} after a complete expression{hint}",
                tok.describe()
            ),
        ));
    }
    Ok(root)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    next: usize,
    depth: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.next).map(|(_, t)| t)
    }

    fn peek_at(&self) -> Option<(usize, &Tok)> {
        self.toks.get(self.next).map(|(a, t)| (*a, t))
    }

    /// Offset of the next token, or the end of the text.
    fn here(&self) -> usize {
        self.toks.get(self.next).map_or(self.end, |(a, _)| *a)
    }

    fn bump(&mut self) -> Option<(usize, Tok)> {
        let t = self.toks.get(self.next).cloned();
        if t.is_some() {
            self.next += 1;
        }
        t
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if w == word)
    }

    fn expect(&mut self, want: Tok, what: &str) -> Result<usize, ExprError> {
        match self.bump() {
            Some((at, t)) if t == want => Ok(at),
            Some((at, t)) => Err(ExprError::new(
                at,
                format!("expected {what}, found {}", t.describe()),
            )),
            None => Err(ExprError::new(
                self.end,
                format!("expected {what} at the end"),
            )),
        }
    }

    /// Enters one level of nesting, refusing beyond the limit.
    fn descend(&mut self, at: usize) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_EXPR_DEPTH {
            return Err(ExprError::new(
                at,
                format!("the expression nests deeper than {MAX_EXPR_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Node, ExprError> {
        let first = self.and()?;
        if !self.is_word("or") {
            return Ok(first);
        }
        let at = first.at;
        let mut items = vec![first];
        while self.is_word("or") {
            self.bump();
            items.push(self.and()?);
        }
        Ok(Node::new(at, NodeKind::Or(items)))
    }

    fn and(&mut self) -> Result<Node, ExprError> {
        let first = self.not()?;
        if !self.is_word("and") {
            return Ok(first);
        }
        let at = first.at;
        let mut items = vec![first];
        while self.is_word("and") {
            self.bump();
            items.push(self.not()?);
        }
        Ok(Node::new(at, NodeKind::And(items)))
    }

    fn not(&mut self) -> Result<Node, ExprError> {
        if !self.is_word("not") {
            return self.compare();
        }
        let at = self.here();
        self.bump();
        self.descend(at)?;
        let inner = self.not()?;
        self.depth -= 1;
        Ok(Node::new(at, NodeKind::Not(Box::new(inner))))
    }

    fn compare(&mut self) -> Result<Node, ExprError> {
        let left = self.shift()?;
        let at = left.at;
        match self.peek() {
            Some(Tok::Cmp(op)) => {
                let op = *op;
                self.bump();
                let right = self.shift()?;
                Ok(Node::new(
                    at,
                    NodeKind::Compare {
                        op,
                        left: Box::new(left),
                        right: Box::new(right),
                    },
                ))
            }
            Some(Tok::Ident(w)) if w == "in" => {
                self.bump();
                let open = self.expect(Tok::LBracket, "`[` to start the list after `in`")?;
                let list = self.list(open, Tok::RBracket, "`]`")?;
                Ok(Node::new(
                    at,
                    NodeKind::In {
                        value: Box::new(left),
                        list,
                    },
                ))
            }
            _ => Ok(left),
        }
    }

    fn shift(&mut self) -> Result<Node, ExprError> {
        let mut node = self.primary()?;
        loop {
            let sign = match self.peek() {
                Some(Tok::Plus) => 1,
                Some(Tok::Minus) => -1,
                _ => return Ok(node),
            };
            let (op_at, _) = self.bump().unwrap_or((self.end, Tok::Plus));
            let days = match self.bump() {
                Some((at, Tok::Days(d))) => day_count(&d, at)?,
                Some((at, t)) => {
                    return Err(ExprError::new(
                        at,
                        format!(
                            "expected a number of days like 90d after `{}`, found {}",
                            if sign > 0 { "+" } else { "-" },
                            t.describe()
                        ),
                    ))
                }
                None => {
                    return Err(ExprError::new(
                        op_at,
                        "expected a number of days like 90d at the end",
                    ))
                }
            };
            let at = node.at;
            node = Node::new(
                at,
                NodeKind::Shift {
                    date: Box::new(node),
                    days: sign * days,
                },
            );
        }
    }

    /// Comma-separated expressions up to `close` (the opening token at `open` already taken).
    fn list(&mut self, open: usize, close: Tok, what: &str) -> Result<Vec<Node>, ExprError> {
        self.descend(open)?;
        let mut items = Vec::new();
        if self.peek() == Some(&close) {
            self.bump();
        } else {
            loop {
                items.push(self.expr()?);
                match self.bump() {
                    Some((_, Tok::Comma)) => continue,
                    Some((_, t)) if t == close => break,
                    Some((at, t)) => {
                        return Err(ExprError::new(
                            at,
                            format!("expected `,` or {what}, found {}", t.describe()),
                        ))
                    }
                    None => {
                        return Err(ExprError::new(
                            open,
                            format!("this list is never closed with {what}"),
                        ))
                    }
                }
            }
        }
        self.depth -= 1;
        Ok(items)
    }

    fn primary(&mut self) -> Result<Node, ExprError> {
        let Some((at, tok)) = self.bump() else {
            return Err(ExprError::new(
                self.end,
                "expected a value at the end of the expression",
            ));
        };
        let kind = match tok {
            Tok::Str(s) => NodeKind::Lit(Literal::Text(s)),
            Tok::Date(d) => NodeKind::Lit(Literal::Date(d)),
            Tok::Digits(d) => NodeKind::Lit(Literal::Int(integer(&d, false, at)?)),
            Tok::Minus => match self.bump() {
                Some((_, Tok::Digits(d))) => NodeKind::Lit(Literal::Int(integer(&d, true, at)?)),
                _ => return Err(ExprError::new(at, "`-` here must start a negative number")),
            },
            Tok::LParen => {
                self.descend(at)?;
                let inner = self.expr()?;
                self.depth -= 1;
                self.expect(Tok::RParen, "`)`")?;
                // The group's own offset is where its content starts.
                return Ok(inner);
            }
            Tok::Days(d) => {
                return Err(ExprError::new(
                    at,
                    format!("{d}d is a number of days: write it after a date, like today - {d}d"),
                ))
            }
            Tok::Ident(word) => return self.word(at, word),
            t => {
                return Err(ExprError::new(
                    at,
                    format!("expected a value, found {}", t.describe()),
                ))
            }
        };
        Ok(Node::new(at, kind))
    }

    /// A keyword literal, a function call or a field path.
    fn word(&mut self, at: usize, word: String) -> Result<Node, ExprError> {
        let kind = match word.as_str() {
            "true" => NodeKind::Lit(Literal::Bool(true)),
            "false" => NodeKind::Lit(Literal::Bool(false)),
            "null" => NodeKind::Lit(Literal::Null),
            "today" => NodeKind::Today,
            w if KEYWORDS.contains(&w) => {
                return Err(ExprError::new(at, format!("expected a value, found `{w}`")))
            }
            _ if self.peek() == Some(&Tok::LParen) => {
                let Some(func) = Func::named(&word) else {
                    let known: Vec<&str> = Func::ALL.iter().map(|f| f.as_str()).collect();
                    return Err(ExprError::new(
                        at,
                        format!("unknown function `{word}`; functions: {}", known.join(", ")),
                    ));
                };
                let (open, _) = self.bump().unwrap_or((at, Tok::LParen));
                let args = self.list(open, Tok::RParen, "`)`")?;
                let ok = match func {
                    Func::Concat => !args.is_empty(),
                    _ => args.len() == 1,
                };
                if !ok {
                    let want = match func {
                        Func::Concat => "at least one argument",
                        _ => "exactly one argument",
                    };
                    return Err(ExprError::new(
                        at,
                        format!("{}() takes {want}, got {}", func.as_str(), args.len()),
                    ));
                }
                NodeKind::Call { func, args }
            }
            _ => {
                let mut path = vec![word];
                while self.peek() == Some(&Tok::Dot) {
                    self.bump();
                    match self.bump() {
                        Some((_, Tok::Ident(w))) if !KEYWORDS.contains(&w.as_str()) => path.push(w),
                        Some((a, t)) => {
                            return Err(ExprError::new(
                                a,
                                format!("expected a field name after `.`, found {}", t.describe()),
                            ))
                        }
                        None => {
                            return Err(ExprError::new(self.end, "expected a field name after `.`"))
                        }
                    }
                }
                NodeKind::Field(path)
            }
        };
        Ok(Node::new(at, kind))
    }
}

fn integer(digits: &str, negative: bool, at: usize) -> Result<i64, ExprError> {
    let text = if negative {
        format!("-{digits}")
    } else {
        digits.to_string()
    };
    text.parse::<i64>().map_err(|_| {
        ExprError::new(
            at,
            format!("{text} is beyond the whole numbers a rule can use"),
        )
    })
}

fn day_count(digits: &str, at: usize) -> Result<i64, ExprError> {
    match digits.parse::<i64>() {
        Ok(n) if n <= MAX_SHIFT_DAYS => Ok(n),
        _ => Err(ExprError::new(
            at,
            format!("{digits}d is more days than a rule may count (at most {MAX_SHIFT_DAYS}d)"),
        )),
    }
}
