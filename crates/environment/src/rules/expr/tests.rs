//! Tests of the expression language: parsing (with the offset of every error), the canonical
//! text, evaluation over JSON, typing against the schema, and properties over thousands of
//! generated expressions.

use super::*;
use crate::limits::{MAX_EXPR_CHARS, MAX_EXPR_DEPTH, MAX_SHIFT_DAYS};
use innsync_core::RecordKind;
use proptest::prelude::*;
use serde_json::json;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn today() -> NaiveDate {
    date(2026, 6, 1)
}

fn booking() -> serde_json::Value {
    json!({
        "kind": "booking", "id": "WB-000012", "owner": "server:WB", "version": 4,
        "property": "KRL", "room_type": "DLX",
        "arrival": "2026-02-20", "departure": "2026-02-25", "units": 2,
        "guest_id": "WB-000011", "guest_name": " Ann Smith ",
        "status": "checked_out", "hold_until": null, "holder": "server:WB",
        "stays": [], "price": {"amount": 120000, "currency": "ZAR"},
        "notes": null, "cancel_reason": null, "created_on": "WB",
        "created_at": "2026-01-10T09:30:00Z", "updated_at": "2026-02-25T23:30:00-02:00"
    })
}

fn eval_str(src: &str) -> Value {
    Expr::parse(src)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .eval(&booking(), today())
}

fn is_true(src: &str) -> bool {
    let e = Expr::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    e.matches(&booking(), today())
}

#[test]
fn the_issue_example_parses_and_reads_canonically() {
    let e = Expr::parse("status=\"checked_out\"  and departure<today-90d").unwrap();
    assert_eq!(
        e.to_string(),
        "status = \"checked_out\" and departure < today - 90d"
    );
    assert_eq!(
        e.source(),
        "status=\"checked_out\"  and departure<today-90d"
    );
    // Same meaning, other spelling: equal.
    assert_eq!(
        e,
        Expr::parse("(status = 'checked_out') and (departure < (today - 90d))").unwrap()
    );
    assert_ne!(e, Expr::parse("status = \"checked_out\"").unwrap());
}

#[test]
fn canonical_text_keeps_only_needed_parentheses() {
    for (src, canonical) in [
        ("a or b and c", "a or b and c"),
        ("(a or b) and c", "(a or b) and c"),
        ("a and (b and c)", "a and (b and c)"),
        ("a and b and c", "a and b and c"),
        ("not not a", "not not a"),
        ("not (a and b)", "not (a and b)"),
        ("(not a) = b", "(not a) = b"),
        ("(a = b) = c", "(a = b) = c"),
        ("x in [1, 'a', null]", "x in [1, \"a\", null]"),
        ("departure - 0d + 3d", "departure + 0d + 3d"),
        ("concat(a, upper(b))", "concat(a, upper(b))"),
        ("-5 < units", "-5 < units"),
        ("'say \"hi\"'", "\"say \\\"hi\\\"\""),
        ("price.amount >= 100", "price.amount >= 100"),
        ("x = 2026-01-31", "x = 2026-01-31"),
        ("x in []", "x in []"),
    ] {
        let e = Expr::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(e.to_string(), canonical, "{src}");
        assert_eq!(Expr::parse(canonical).unwrap(), e, "{src}");
    }
}

#[test]
fn parse_errors_carry_their_byte_offset() {
    for (src, offset, says) in [
        ("", 0, "empty"),
        ("   ", 0, "empty"),
        ("status = ", 9, "expected a value at the end"),
        ("status == 'x'", 7, "use `=`"),
        ("a <> b", 2, "use `!=`"),
        ("a = 'x", 4, "never closed"),
        ("a = 'x\\n'", 6, "unknown escape"),
        ("a < b < c", 6, "do not chain"),
        ("today - 90", 8, "number of days"),
        ("today - ", 6, "number of days like 90d at the end"),
        ("90d", 0, "number of days"),
        ("a = 2026-02-30", 4, "not a date"),
        ("a = 12abc", 4, "must stand alone"),
        ("frobnicate(a)", 0, "unknown function `frobnicate`"),
        ("upper(a, b)", 0, "exactly one argument"),
        ("concat()", 0, "at least one"),
        ("(a = 1", 6, "expected `)` at the end"),
        ("a in 1", 5, "`[`"),
        ("a in [1 2]", 8, "expected `,` or `]`"),
        ("a in [1,", 8, "expected a value at the end"),
        ("a in [1", 5, "never closed"),
        ("a and", 5, "expected a value at the end"),
        ("a and or", 6, "found `or`"),
        ("price.", 6, "field name after `.`"),
        ("price.and", 6, "field name after `.`"),
        ("a = 1 b", 6, "unexpected `b`"),
        ("a # b", 2, "unexpected character '#'"),
        ("a = é", 4, "unexpected character 'é'"),
        ("- a", 0, "negative number"),
        ("a = 99999999999999999999", 4, "beyond the whole numbers"),
        ("today + 99999999d", 8, "more days than"),
    ] {
        let err = Expr::parse(src).expect_err(src);
        assert_eq!(err.offset, offset, "{src}: {err}");
        assert!(err.message.contains(says), "{src}: {err}");
    }
    assert_eq!(
        Expr::parse("a = ").unwrap_err().to_string(),
        "at byte 4: expected a value at the end of the expression"
    );
}

#[test]
fn limits_on_length_and_depth() {
    let long = format!("a = '{}'", "x".repeat(MAX_EXPR_CHARS));
    let err = Expr::parse(&long).unwrap_err();
    assert_eq!(err.offset, MAX_EXPR_CHARS);
    // The limit counts characters, not bytes.
    let wide = format!("a = '{}'", "é".repeat(MAX_EXPR_CHARS - 6));
    assert!(Expr::parse(&wide).is_ok());
    let deep_ok = format!(
        "{}a{}",
        "(".repeat(MAX_EXPR_DEPTH),
        ")".repeat(MAX_EXPR_DEPTH)
    );
    assert!(Expr::parse(&deep_ok).is_ok());
    let deep = format!(
        "{}a{}",
        "(".repeat(MAX_EXPR_DEPTH + 1),
        ")".repeat(MAX_EXPR_DEPTH + 1)
    );
    let err = Expr::parse(&deep).unwrap_err();
    assert_eq!(err.offset, MAX_EXPR_DEPTH, "{err}");
    let nots = format!("{}a", "not ".repeat(MAX_EXPR_DEPTH + 1));
    assert!(Expr::parse(&nots).unwrap_err().message.contains("deeper"));
    let calls = format!("{}a{}", "upper(".repeat(40), ")".repeat(40));
    assert!(Expr::parse(&calls).is_err());
    // Long flat chains are fine: they do not nest.
    let chain = vec!["a = 1"; 150].join(" and ");
    assert!(Expr::parse(&chain).is_ok());
    assert!(Expr::parse(&format!("today - {MAX_SHIFT_DAYS}d")).is_ok());
}

#[test]
fn fields_literals_and_missing_fields() {
    assert_eq!(eval_str("units"), Value::Int(2));
    assert_eq!(eval_str("property"), Value::Text("KRL".into()));
    assert_eq!(eval_str("price.amount"), Value::Int(120000));
    assert_eq!(eval_str("price.nothing"), Value::Null);
    assert_eq!(eval_str("units.deeper"), Value::Null);
    assert_eq!(eval_str("nowhere"), Value::Null);
    assert_eq!(eval_str("notes"), Value::Null);
    assert_eq!(eval_str("stays"), Value::List(vec![]));
    assert!(matches!(eval_str("price"), Value::Object(m) if m.len() == 2));
    assert_eq!(eval_str("2026-01-02"), Value::Date(date(2026, 1, 2)));
    assert_eq!(eval_str("-7"), Value::Int(-7));
    assert_eq!(eval_str("today"), Value::Date(today()));
    // null semantics: = and != test for null; orders are false.
    assert!(is_true("notes = null"));
    assert!(is_true("nowhere = null"));
    assert!(is_true("null = null"));
    assert!(!is_true("null != null"));
    assert!(is_true("units != null"));
    assert!(!is_true("units = null"));
    assert!(!is_true("nowhere < 3"));
    assert!(!is_true("nowhere >= 3"));
    assert!(!is_true("nowhere = 3"));
    assert!(is_true("nowhere != 3"));
    assert!(!is_true("nowhere"));
    assert!(is_true("not nowhere"));
}

#[test]
fn comparisons_by_type() {
    // Numbers as numbers, texts as texts.
    assert!(is_true("units = 2"));
    assert!(is_true("units < 10"));
    assert!(is_true("price.amount > 99999"));
    assert!(is_true("property = 'KRL'"));
    assert!(is_true("property < 'KZ'"));
    assert!(is_true("'10' < '9'"));
    // Dates as dates, also when the record holds a text.
    assert!(is_true("departure = 2026-02-25"));
    assert!(is_true("departure > arrival"));
    assert!(is_true("2026-02-25 = departure"));
    assert!(is_true("arrival < 2026-10-01"));
    assert!(!is_true("arrival < 2026-01-01"));
    // An instant counts as its UTC date.
    assert!(is_true("created_at = 2026-01-10"));
    assert!(is_true("updated_at = 2026-02-26"));
    assert!(is_true("created_at < today"));
    // Incompatible types are false, both ways, also for !=.
    assert!(!is_true("units = '2'"));
    assert!(!is_true("units != '2'"));
    assert!(!is_true("property = 3"));
    assert!(!is_true("property < 2026-01-01"));
    assert!(!is_true("property != 2026-01-01"));
    assert!(!is_true("true < false"));
    assert!(is_true("true != false"));
    assert!(is_true("stays = stays"));
    assert!(!is_true("stays < stays"));
    assert!(is_true("price = price"));
    assert!(!is_true("price = stays"));
    for op in CmpOp::ALL {
        // Every operator reads back as itself.
        let src = format!("units {} 2", op.as_str());
        assert_eq!(Expr::parse(&src).unwrap().to_string(), src);
    }
}

#[test]
fn date_arithmetic() {
    assert_eq!(eval_str("today - 90d"), Value::Date(date(2026, 3, 3)));
    assert_eq!(eval_str("departure + 3d"), Value::Date(date(2026, 2, 28)));
    assert_eq!(
        eval_str("departure + 3d - 1d"),
        Value::Date(date(2026, 2, 27))
    );
    assert_eq!(eval_str("created_at + 0d"), Value::Date(date(2026, 1, 10)));
    assert_eq!(eval_str("nowhere + 1d"), Value::Null);
    assert_eq!(eval_str("units + 1d"), Value::Null);
    assert_eq!(eval_str("property + 1d"), Value::Null);
    assert!(is_true("departure < today - 90d"));
    assert!(!is_true("departure < today - 120d"));
    // The issue's archive rule.
    assert!(is_true(
        "status = \"checked_out\" and departure < today - 90d"
    ));
    let e = Expr::parse("departure < today - 90d").unwrap();
    assert!(!e.matches(&booking(), date(2026, 5, 26)));
    assert!(e.matches(&booking(), date(2026, 5, 27)));
    // The extremes the language can write stay inside the calendar.
    let end = Expr::parse("9999-12-31 + 36600d").unwrap();
    assert!(matches!(end.eval(&json!({}), today()), Value::Date(_)));
    let start = Expr::parse("0001-01-01 - 36600d").unwrap();
    assert!(matches!(start.eval(&json!({}), today()), Value::Date(_)));
}

#[test]
fn in_lists_and_boolean_logic() {
    assert!(is_true("status in ['checked_out', 'cancelled']"));
    assert!(!is_true("status in ['confirmed']"));
    assert!(!is_true("status in []"));
    assert!(is_true("units in [1, 2]"));
    assert!(!is_true("units in ['2']"));
    assert!(is_true("notes in [null]"));
    assert!(is_true("departure in [2026-02-25]"));
    assert!(is_true("not status in ['confirmed']"));
    assert!(is_true("units = 2 and property = 'KRL'"));
    assert!(!is_true("units = 2 and property = 'X'"));
    assert!(is_true("units = 3 or property = 'KRL'"));
    assert!(!is_true("units = 3 or property = 'X'"));
    assert!(is_true("not (units = 3 or property = 'X')"));
    assert!(is_true("true"));
    assert!(!is_true("false"));
    // Only `true` is true.
    assert!(!is_true("units"));
    assert!(!is_true("units and true"));
    assert!(is_true("units or true"));
    assert_eq!(eval_str("units and true"), Value::Bool(false));
    assert_eq!(eval_str("not 3"), Value::Bool(true));
}

#[test]
fn functions() {
    assert_eq!(
        eval_str("upper(guest_name)"),
        Value::Text(" ANN SMITH ".into())
    );
    assert_eq!(eval_str("lower(property)"), Value::Text("krl".into()));
    assert_eq!(
        eval_str("trim(guest_name)"),
        Value::Text("Ann Smith".into())
    );
    assert_eq!(eval_str("upper(units)"), Value::Null);
    assert_eq!(eval_str("upper(nowhere)"), Value::Null);
    assert_eq!(
        eval_str("concat(property, '-', units, '-', departure + 1d, nowhere, true)"),
        Value::Text("KRL-2-2026-02-26true".into())
    );
    assert_eq!(
        eval_str("concat(price)"),
        Value::Text("{\"amount\":120000,\"currency\":\"ZAR\"}".into())
    );
    assert!(is_true("upper(trim(guest_name)) = 'ANN SMITH'"));
}

#[test]
fn values_round_trip_through_json() {
    let v = Value::from_json(&booking());
    assert_eq!(Value::from_json(&v.to_json()), v);
    assert_eq!(Value::Date(date(2026, 1, 2)).to_json(), json!("2026-01-02"));
    assert_eq!(Value::from_json(&json!(1.5)), Value::Null);
    assert_eq!(Value::from_json(&json!(u64::MAX)), Value::Null);
    assert_eq!(Value::Text("x".into()).as_date(), None);
    assert_eq!(
        Value::Text("2026-01-02T23:00:00-03:00".into()).as_date(),
        Some(date(2026, 1, 3))
    );
}

/// `check` over bookings: the type, or the error's offset and words.
#[test]
fn typing_against_the_schema() {
    let b = RecordKind::Booking;
    let ty = |src: &str| check(&Expr::parse(src).unwrap(), b);
    assert_eq!(ty("status = 'checked_out'"), Ok(Ty::Bool));
    assert_eq!(ty("upper(guest_name)"), Ok(Ty::Text));
    assert_eq!(ty("departure - 3d"), Ok(Ty::Date));
    assert_eq!(ty("'2026-01-01' + 3d"), Ok(Ty::Date));
    assert_eq!(ty("units"), Ok(Ty::Int));
    assert_eq!(ty("price"), Ok(Ty::Object));
    assert_eq!(ty("id"), Ok(Ty::Text));
    assert_eq!(ty("hold_until < 2026-01-01"), Ok(Ty::Bool));
    assert_eq!(ty("hold_until = null"), Ok(Ty::Bool));
    assert_eq!(ty("arrival = '2026-01-01'"), Ok(Ty::Bool));
    assert_eq!(ty("created_at < updated_at"), Ok(Ty::Bool));
    assert_eq!(ty("status in ['confirmed', 'no_show']"), Ok(Ty::Bool));
    assert_eq!(ty("concat(units, price)"), Ok(Ty::Text));
    for (src, offset, says) in [
        (
            "propery = 'KRL'",
            0,
            "booking has no field `propery`; its fields: id, owner",
        ),
        ("price.cents > 1", 0, "no field `price.cents`"),
        ("units.x = 1", 0, "no field `units.x`"),
        (
            "units = '2'",
            0,
            "cannot compare `units` (a whole number) with \"2\" (a text)",
        ),
        ("property < 3", 0, "cannot compare"),
        ("arrival < 'soon'", 10, "\"soon\" is not a date"),
        ("arrival < property", 0, "cannot compare `arrival` (a date)"),
        ("hold_until < '2026-01-01'", 13, "compare it with a date"),
        ("units < null", 0, "with = or != only"),
        ("true < false", 0, "does not order true/false"),
        ("stays > stays", 0, "does not order lists"),
        ("status = 'checkedout'", 9, "`status` is one of provisional"),
        ("status in ['confirmed', 'gone']", 24, "\"gone\" is not"),
        ("units + 3d", 0, "`+ 3d` needs a date"),
        ("property - 3d = today", 0, "`- 3d` needs a date"),
        ("units and true", 0, "`and` needs true/false"),
        ("true or guest_name", 8, "`or` needs true/false"),
        ("not units", 4, "`not` needs true/false"),
        ("upper(units) = 'X'", 6, "upper() takes a text"),
        ("units in [1, 'x']", 13, "cannot compare"),
    ] {
        let err = ty(src).expect_err(src);
        assert_eq!(err.offset, offset, "{src}: {err}");
        assert!(err.message.contains(says), "{src}: {err}");
    }
    // Fields differ by kind.
    let g = Expr::parse("email = 'x'").unwrap();
    assert!(check(&g, RecordKind::Guest).is_ok());
    assert!(check(&g, RecordKind::Booking).is_err());
}

// ---- properties ----

fn ident() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,6}".prop_filter("not a keyword", |s| {
        !KEYWORDS.contains(&s.as_str()) && Func::named(s).is_none()
    })
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Null),
        any::<bool>().prop_map(Literal::Bool),
        any::<i64>().prop_map(Literal::Int),
        "[ -~é\"'\\\\]{0,8}".prop_map(Literal::Text),
        (1000i32..=9999, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| Literal::Date(date(y, m, d))),
    ]
}

fn node(kind: NodeKind) -> Node {
    Node::new(0, kind)
}

fn leaf() -> impl Strategy<Value = Node> {
    prop_oneof![
        literal().prop_map(|l| node(NodeKind::Lit(l))),
        Just(node(NodeKind::Today)),
        proptest::collection::vec(ident(), 1..=3).prop_map(|p| node(NodeKind::Field(p))),
    ]
}

fn tree() -> impl Strategy<Value = Node> {
    leaf().prop_recursive(4, 48, 4, |inner| {
        let op = proptest::sample::select(CmpOp::ALL.to_vec());
        let func = proptest::sample::select(Func::ALL.to_vec());
        prop_oneof![
            (inner.clone(), -MAX_SHIFT_DAYS..=MAX_SHIFT_DAYS).prop_map(|(d, days)| node(
                NodeKind::Shift {
                    date: Box::new(d),
                    days
                }
            )),
            (op, inner.clone(), inner.clone()).prop_map(|(op, l, r)| node(NodeKind::Compare {
                op,
                left: Box::new(l),
                right: Box::new(r)
            })),
            (
                inner.clone(),
                proptest::collection::vec(inner.clone(), 0..3)
            )
                .prop_map(|(v, list)| node(NodeKind::In {
                    value: Box::new(v),
                    list
                })),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(|xs| node(NodeKind::And(xs))),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(|xs| node(NodeKind::Or(xs))),
            inner.clone().prop_map(|x| node(NodeKind::Not(Box::new(x)))),
            (func, proptest::collection::vec(inner, 1..4)).prop_map(|(func, mut args)| {
                if func != Func::Concat {
                    args.truncate(1);
                }
                node(NodeKind::Call { func, args })
            }),
        ]
    })
}

/// A record with a few fields the generated names may hit.
fn record() -> impl Strategy<Value = serde_json::Value> {
    let scalar = prop_oneof![
        Just(json!(null)),
        any::<bool>().prop_map(|b| json!(b)),
        (-5i64..5).prop_map(|i| json!(i)),
        "[a-c]{0,2}".prop_map(|s| json!(s)),
        (2025i32..2027, 1u32..=12, 1u32..=28)
            .prop_map(|(y, m, d)| json!(date(y, m, d).to_string())),
    ];
    proptest::collection::btree_map("[a-c_]{1,2}", scalar, 0..6)
        .prop_map(|m| serde_json::Value::Object(m.into_iter().collect()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// The canonical text parses back to the same tree, and is a fixed point.
    #[test]
    fn display_parses_back(root in tree()) {
        let e = Expr { src: String::new(), root };
        let text = e.to_string();
        let back = Expr::parse(&text).map_err(|err| TestCaseError::fail(format!("{text}: {err}")))?;
        prop_assert_eq!(&back, &e, "{}", text);
        prop_assert_eq!(back.to_string(), text);
    }

    /// Evaluation never panics, `matches` is `eval == true`, and the canonical text evaluates
    /// the same as the tree.
    #[test]
    fn evaluation_is_total_and_consistent(root in tree(), rec in record(), days in -800i64..800) {
        let today = date(2026, 1, 1) + chrono::Duration::days(days);
        let e = Expr { src: String::new(), root };
        let v = e.eval(&rec, today);
        prop_assert_eq!(e.matches(&rec, today), v == Value::Bool(true));
        let back = Expr::parse(&e.to_string()).unwrap();
        prop_assert_eq!(back.eval(&rec, today), v);
    }

    /// Any text: a tree or an error at a character boundary inside the text, never a panic.
    #[test]
    fn parsing_any_text_is_safe(src in "[ -~é\\t\\n]{0,40}") {
        if let Err(e) = Expr::parse(&src) {
            prop_assert!(e.offset <= src.len());
            prop_assert!(src.is_char_boundary(e.offset));
        }
    }

    /// Comparisons agree with Rust's on numbers, texts and dates, literal or read from a record.
    #[test]
    fn comparisons_agree_with_rust(a in any::<i64>(), b in any::<i64>(),
                                   s in "[a-z]{0,3}", t in "[a-z]{0,3}",
                                   d1 in 0i64..2000, d2 in 0i64..2000, k in -50i64..50) {
        let base = date(2025, 1, 1);
        let (x, y) = (base + chrono::Duration::days(d1), base + chrono::Duration::days(d2));
        let rec = json!({"a": a, "b": b, "s": s, "t": t, "x": x.to_string(), "y": y.to_string()});
        let check = |src: String, want: bool| -> Result<(), TestCaseError> {
            let got = Expr::parse(&src).unwrap().matches(&rec, base);
            prop_assert_eq!(got, want, "{}", src);
            Ok(())
        };
        check("a < b".into(), a < b)?;
        check("a >= b".into(), a >= b)?;
        check(format!("a = {b}"), a == b)?;
        check("s <= t".into(), s <= t)?;
        check(format!("s != \"{t}\""), s != t)?;
        check("x < y".into(), x < y)?;
        check(format!("x > {y}"), x > y)?;
        let shifted = x.checked_add_signed(chrono::Duration::days(k)).unwrap();
        let sign = if k < 0 { "-" } else { "+" };
        check(format!("x {sign} {}d = {shifted}", k.abs()), true)?;
        check(format!("today {sign} {}d < y", k.abs()), base + chrono::Duration::days(k) < y)?;
        check(format!("a in [{b}, {a}]"), true)?;
        check(format!("a in [{b}]"), a == b)?;
    }

    /// Boolean laws over true, false and null (which is not true).
    #[test]
    fn boolean_laws(p in 0u8..3, q in 0u8..3) {
        let lit = |v: u8| ["true", "false", "null"][v as usize];
        let truth = |src: String| Expr::parse(&src).unwrap().matches(&json!({}), today());
        let (p, q) = (lit(p), lit(q));
        prop_assert_eq!(truth(format!("not ({p} and {q})")), truth(format!("not {p} or not {q}")));
        prop_assert_eq!(truth(format!("not ({p} or {q})")), truth(format!("not {p} and not {q}")));
        prop_assert_eq!(truth(format!("{p} and {q}")), truth(format!("{q} and {p}")));
        prop_assert_eq!(truth(format!("{p} or {q}")), truth(p.to_string()) || truth(q.to_string()));
        prop_assert_eq!(truth(format!("not not {p}")), truth(p.to_string()));
    }
}
