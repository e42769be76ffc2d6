//! Tests of `[[rules]]`, `[[partners]]` and `receive`: parsing, every refusal at its exact line
//! and column (inside the string for expressions), and their part in the fingerprint.

use super::*;
use crate::rules::{DuplicatePolicy, Mode, Operation, Receive, Target, Trigger, UpdatePolicy};
use innsync_core::RecordKind;

/// Five servers (two offices in a group, two lodges, an archive), a partner, and the issue's
/// typical rules.
pub(crate) const RULES_GOOD: &str = r#"
name = "kraal"
secret = "a long shared secret"
initial_master = "WB"
[[servers]]
code = "WB"
role = "web"
url = "http://127.0.0.1:7000"
group = "offices"
[[servers]]
code = "RS"
role = "reservation"
url = "http://127.0.0.1:7001"
group = "offices"
[[servers]]
code = "PA"
role = "property"
url = "http://127.0.0.1:7002"
properties = ["KRL"]
receive = "own"
[[servers]]
code = "PB"
role = "property"
url = "http://127.0.0.1:7003"
properties = ["LDG"]
[[servers]]
code = "AR"
role = "archive"
url = "http://127.0.0.1:7009"
[[partners]]
name = "safari"
url = "http://127.0.0.1:7100"
token = "isk_secret_token_value"
[[rules]]
name = "lodge-bookings-to-lodge"
kind = "booking"
on = "create"
operation = "transfer"
target = "owner"
mode = "data_and_ownership"
pool = "lodge"
[[rules]]
name = "closed-to-archive"
kind = "booking"
on = "schedule"
when = 'status = "checked_out" and departure < today - 90d'
operation = "transfer"
target = "AR"
mode = "data_and_ownership"
pool = "archive"
[[rules]]
name = "guests-to-safari"
kind = "guest"
on = "change"
operation = "transfer"
target = "partner:safari"
mode = "independent_copy"
duplicates = "new_id"
match = ["email"]
[rules.map]
drop = ["phone"]
compute = { name = 'concat(upper(name), " (kraal)")' }
[[rules]]
name = "vip-guests-to-safari"
kind = "guest"
on = "update"
when = 'email != null'
operation = "update"
target = "partner:safari"
mode = "data_only"
updates = "hourly"
"#;

/// RULES_GOOD with one more entry appended.
fn with(extra: &str) -> String {
    format!("{RULES_GOOD}{extra}")
}

/// A minimal valid rule, to be edited by each case: a booking move to the archive (no cycle
/// with the owner rule, which a move to an office would close).
const RULE: &str = r#"[[rules]]
name = "extra"
kind = "booking"
on = "change"
operation = "transfer"
target = "AR"
mode = "data_and_ownership"
"#;

/// A minimal valid copy, to be edited by the cases that need one: an independent copy of guests
/// to the partner (copies become guests, properties or room types; data_only ones go only to
/// partners).
const COPY: &str = r#"[[rules]]
name = "extra"
kind = "guest"
on = "change"
operation = "transfer"
target = "partner:safari"
mode = "independent_copy"
"#;

/// `RULE` with `from` replaced by `to`, appended to RULES_GOOD.
fn rule_with(from: &str, to: &str) -> String {
    assert!(RULE.contains(from), "{from}");
    with(&RULE.replacen(from, to, 1))
}

/// `COPY` with each `(from, to)` replaced in turn, appended to RULES_GOOD.
fn copy_with(edits: &[(&str, &str)]) -> String {
    let mut r = COPY.to_string();
    for (from, to) in edits {
        assert!(r.contains(from), "{from}");
        r = r.replacen(from, to, 1);
    }
    with(&r)
}

/// The 1-based line and column of the first occurrence of `needle` at or after the last
/// occurrence of `after` (so a needle in the appended entry is found, not one in RULES_GOOD).
fn locate(src: &str, after: &str, needle: &str) -> Position {
    let base = src
        .rfind(after)
        .unwrap_or_else(|| panic!("{after} not in source"));
    let at = base
        + src[base..]
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} not after {after}"));
    Position::of_offset(src, at)
}

/// Parses `src`, expecting a problem whose text contains `says` at `at`.
fn refused_at(src: &str, at: Position, says: &str) -> Located {
    let err = Environment::parse(src).expect_err(says);
    let hit = err
        .problems
        .iter()
        .find(|l| l.problem.to_string().contains(says))
        .unwrap_or_else(|| panic!("no problem says {says:?}: {err}"));
    assert_eq!(hit.at, at, "{says}: {err}");
    hit.clone()
}

/// The appended entry must be refused with exactly one problem, at `needle`, saying `says`.
fn only_problem(src: &str, needle: &str, says: &str) -> Located {
    let err = Environment::parse(src).expect_err(says);
    assert_eq!(err.problems.len(), 1, "{says}: {err}");
    refused_at(src, locate(src, "[[rules]]", needle), says)
}

#[test]
fn the_typical_rules_parse() {
    let env = Environment::parse(RULES_GOOD).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(env.rules.len(), 4);
    let lodge = &env.rules[0];
    assert_eq!(lodge.name, "lodge-bookings-to-lodge");
    assert_eq!(lodge.kind, RecordKind::Booking);
    assert_eq!(lodge.on, Trigger::Create);
    assert_eq!(lodge.condition, None);
    assert_eq!(lodge.operation, Operation::Transfer);
    assert_eq!(lodge.target, Target::Owner);
    assert_eq!(lodge.mode, Mode::DataAndOwnership);
    // Defaults.
    assert_eq!(lodge.updates, UpdatePolicy::Never);
    assert_eq!(lodge.duplicates, DuplicatePolicy::Error);
    assert!(lodge.match_fields.is_empty());
    assert!(lodge.mapping.is_none());
    assert_eq!(lodge.pool, "lodge");
    assert_eq!(lodge.target_kind(), RecordKind::Booking);

    let archive = env.rule("closed-to-archive").unwrap();
    assert_eq!(archive.on, Trigger::Schedule);
    assert_eq!(
        archive.condition.as_ref().unwrap().to_string(),
        "status = \"checked_out\" and departure < today - 90d"
    );
    assert_eq!(
        archive.target,
        Target::Server(innsync_core::ServerCode::parse("AR").unwrap())
    );

    let guests = env.rule("guests-to-safari").unwrap();
    assert_eq!(guests.target, Target::Partner("safari".into()));
    assert_eq!(guests.duplicates, DuplicatePolicy::NewId);
    assert_eq!(guests.match_fields, vec!["email"]);
    let map = guests.mapping.as_ref().unwrap();
    assert_eq!(map.to_kind, RecordKind::Guest);
    assert!(map.drop.contains("phone"));
    assert_eq!(
        map.compute["name"].to_string(),
        "concat(upper(name), \" (kraal)\")"
    );
    assert_eq!(guests.pool, crate::rules::DEFAULT_POOL);

    let vip = env.rule("vip-guests-to-safari").unwrap();
    assert_eq!(vip.kind, RecordKind::Guest);
    assert_eq!(vip.on, Trigger::Update);
    assert_eq!(vip.condition.as_ref().unwrap().to_string(), "email != null");
    assert_eq!(vip.operation, Operation::Update);
    assert_eq!(vip.target, Target::Partner("safari".into()));
    assert_eq!(vip.mode, Mode::DataOnly);
    assert_eq!(vip.updates, UpdatePolicy::Hourly);
    assert!(vip.mapping.is_none());

    assert_eq!(env.partners.len(), 1);
    let safari = env.partner("safari").unwrap();
    assert_eq!(safari.url.as_str(), "http://127.0.0.1:7100/");
    assert_eq!(safari.token.expose(), "isk_secret_token_value");
    assert!(env.partner("nobody").is_none());
    let shown = format!("{env:?}");
    assert!(!shown.contains("isk_secret"), "token leaked: {shown}");

    let code = |s| innsync_core::ServerCode::parse(s).unwrap();
    assert_eq!(env.server(&code("PA")).unwrap().receive, Receive::Own);
    assert_eq!(env.server(&code("PB")).unwrap().receive, Receive::All);
    // The base example of the crate still parses, with no rules.
    let plain =
        Environment::parse(&RULES_GOOD[..RULES_GOOD.find("[[partners]]").unwrap()]).unwrap();
    assert!(plain.rules.is_empty() && plain.partners.is_empty());
}

#[test]
fn closed_choices_are_refused_at_the_value() {
    for (from, to, needle, says) in [
        ("kind = \"booking\"", "kind = \"bookings\"", "\"bookings\"", "`kind` must be one of property, room_type, room, rate_plan, guest, booking, note; got \"bookings\""),
        ("on = \"change\"", "on = \"delete\"", "\"delete\"", "`on` must be one of create, update, change, schedule"),
        ("operation = \"transfer\"", "operation = \"move\"", "\"move\"", "`operation` must be one of transfer, update, return, delete"),
        ("mode = \"data_and_ownership\"", "mode = \"copy\"", "\"copy\"", "`mode` must be one of data_only, data_and_ownership, independent_copy"),
        ("mode = \"data_and_ownership\"", "mode = \"data_and_ownership\"\nupdates = \"weekly\"", "\"weekly\"", "`updates` must be one of immediately, hourly, daily, on_return, never"),
        ("mode = \"data_and_ownership\"", "mode = \"data_and_ownership\"\nduplicates = \"ignore\"", "\"ignore\"", "`duplicates` must be one of error, new_id, overwrite"),
        ("target = \"AR\"", "target = \"rs\"", "\"rs\"", "`target` must be a server code (like RS), group:NAME, all, owner or partner:NAME"),
        ("target = \"AR\"", "target = \"group:bad name\"", "\"group:", "`target` must be 1 to 64"),
        ("name = \"extra\"", "name = \"no spaces\"", "\"no spaces\"", "`name` must be 1 to 64"),
        ("mode = \"data_and_ownership\"", "mode = \"data_and_ownership\"\npool = \"\"", "\"\"", "`pool` must be 1 to 64"),
        ("mode = \"data_and_ownership\"", "mode = \"data_and_ownership\"\npool = 3", "3", "`pool` must be a string"),
        ("kind = \"booking\"", "kind = \"user\"", "\"user\"", "records of kind user are not distributed by rules"),
        ("kind = \"booking\"", "kind = \"master_token\"", "\"master_token\"", "kind master_token are not distributed"),
        ("kind = \"booking\"", "kind = \"allotment_grant\"", "\"allotment_grant\"", "[[allotment_rules]]"),
        ("name = \"extra\"", "name = \"extra\"\ncolour = \"red\"", "colour", "unknown key `colour` in [[rules]]"),
    ] {
        only_problem(&rule_with(from, to), needle, says);
    }
    // Missing keys point at the entry.
    let src = rule_with("operation = \"transfer\"\n", "");
    let err = Environment::parse(&src).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert_eq!(err.problems[0].at, locate(&src, "[[rules]]", "[[rules]]"));
    assert_eq!(
        err.problems[0].problem,
        Problem::MissingKey {
            key: "operation",
            section: "[[rules]]"
        }
    );
}

#[test]
fn targets_must_exist() {
    // A move for a server; a copy for a group and a partner (ownership goes to one server of the
    // environment, so a move there would be refused for that too).
    let to_zz = rule_with("target = \"AR\"", "target = \"ZZ\"");
    let to_nobody = copy_with(&[("target = \"partner:safari\"", "target = \"group:nobody\"")]);
    let to_stranger = copy_with(&[("target = \"partner:safari\"", "target = \"partner:nobody\"")]);
    let guest_home = with(
        &RULE
            .replacen("target = \"AR\"", "target = \"owner\"\nkind = \"guest\"", 1)
            .replacen("kind = \"booking\"\n", "", 1),
    );
    for (src, needle, says) in [
        (to_zz, "\"ZZ\"", "`target` names ZZ, which is not in [[servers]]"),
        (to_nobody, "\"group:nobody\"", "`target` names group:nobody, but no server has group = \"nobody\""),
        (to_stranger, "\"partner:nobody\"", "`target` names partner:nobody, which is not in [[partners]]"),
        (guest_home, "\"owner\"", "`target = \"owner\"` sends a record to its property's server, but guest records name no property"),
    ] {
        only_problem(&src, needle, says);
    }
    // Owner works for every kind that names a property, and for properties themselves, each in
    // a rule its kind allows: copies of properties and room types, moves of bookings, deletes
    // of rooms and rate plans (which neither move nor become copies).
    let delete = RULE.replacen("operation = \"transfer\"", "operation = \"delete\"", 1);
    for (kind, rule, from) in [
        ("property", COPY, "partner:safari"),
        ("room_type", COPY, "partner:safari"),
        ("booking", RULE, "AR"),
        ("room", delete.as_str(), "AR"),
        ("rate_plan", delete.as_str(), "AR"),
    ] {
        let original = if rule.contains("\"guest\"") {
            "\"guest\""
        } else {
            "\"booking\""
        };
        let src = with(
            &rule
                .replacen(&format!("target = \"{from}\""), "target = \"owner\"", 1)
                .replacen(original, &format!("\"{kind}\""), 1),
        );
        let env = Environment::parse(&src).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(env.rule("extra").unwrap().target, Target::Owner, "{kind}");
    }
}

#[test]
fn ownership_stays_in_the_environment_with_one_owner() {
    let own = |target: &str| RULE.replacen("target = \"AR\"", &format!("target = \"{target}\""), 1);
    only_problem(
        &with(&own("partner:safari")),
        "\"partner:safari\"",
        "data_and_ownership cannot go to partner:safari: ownership never leaves the environment",
    );
    only_problem(
        &with(&own("all")),
        "\"all\"",
        "data_and_ownership needs one new owner, but `target` all may be several servers",
    );
    only_problem(
        &with(&own("group:offices")),
        "\"group:offices\"",
        "`target` group:offices may be several servers",
    );
    // A mapping is for copies.
    let mapped = format!("{}[rules.map]\ndrop = [\"notes\"]\n", own("AR"));
    only_problem(
        &with(&mapped),
        "[rules.map]",
        "[rules.map] makes copies (data_only, independent_copy)",
    );
}

#[test]
fn the_archive_takes_moves_and_plain_copies() {
    let copy = |target: &str| {
        copy_with(&[(
            "target = \"partner:safari\"",
            &format!("target = \"{target}\""),
        )])
    };
    only_problem(&copy("AR"), "\"AR\"", "`target` reaches archive server AR, which takes only data_and_ownership moves, not independent_copy");
    // `all` reaches the archive too.
    only_problem(&copy("all"), "\"all\"", "archive server AR");
    // A data_only copy to the archive is refused as every data_only copy inside the
    // environment is (it is not an archive problem).
    let plain = copy_with(&[
        ("target = \"partner:safari\"", "target = \"AR\""),
        ("mode = \"independent_copy\"", "mode = \"data_only\""),
    ]);
    only_problem(
        &plain,
        "\"AR\"",
        "data_only copies go to partner environments",
    );
    // A move to the archive, and an independent copy elsewhere, are fine.
    let env = Environment::parse(&with(RULE)).unwrap();
    assert_eq!(
        env.rule("extra").unwrap().target,
        Target::Server(innsync_core::ServerCode::parse("AR").unwrap())
    );
    let env = Environment::parse(&copy("group:offices")).unwrap();
    assert_eq!(
        env.rule("extra").unwrap().target,
        Target::Group("offices".into())
    );
    Environment::parse(&copy("partner:safari")).unwrap();
}

#[test]
fn operations_modes_and_updates_must_fit() {
    // Guests, which may both move and be copied: moves of ownership go to the archive (no cycle),
    // copies to the partner (the only place data_only copies go).
    let edit = |op: &str, mode: &str, updates: Option<&str>| {
        let target = if mode == "data_and_ownership" {
            "AR"
        } else {
            "partner:safari"
        };
        let mut r = COPY
            .replacen(
                "target = \"partner:safari\"",
                &format!("target = \"{target}\""),
                1,
            )
            .replacen(
                "operation = \"transfer\"",
                &format!("operation = \"{op}\""),
                1,
            )
            .replacen(
                "mode = \"independent_copy\"",
                &format!("mode = \"{mode}\""),
                1,
            );
        if let Some(u) = updates {
            r.push_str(&format!("updates = \"{u}\"\n"));
        }
        with(&r)
    };
    for (op, mode, updates, needle, says) in [
        ("return", "data_only", None, "\"return\"", "`operation = \"return\"` gives ownership back, so `mode` must be data_and_ownership, not data_only"),
        ("return", "independent_copy", None, "\"return\"", "must be data_and_ownership, not independent_copy"),
        ("transfer", "data_and_ownership", Some("hourly"), "\"hourly\"", "with data_and_ownership the new owner sends updates by normal replication; `updates` must be never or on_return, not hourly"),
        ("transfer", "data_and_ownership", Some("immediately"), "\"immediately\"", "not immediately"),
        ("transfer", "data_only", Some("on_return"), "\"on_return\"", "`updates = \"on_return\"` needs mode data_and_ownership"),
        ("transfer", "independent_copy", Some("daily"), "\"daily\"", "an independent copy is not linked to its source: it is never updated"),
        ("update", "independent_copy", None, "\"update\"", "an independent copy is not linked to its source: there is no copy to update"),
        ("delete", "independent_copy", None, "\"delete\"", "there is no copy to delete"),
        ("update", "data_and_ownership", None, "\"update\"", "`operation = \"update\"` sends later changes to data_only copies, so `mode` must be data_only, not data_and_ownership"),
        ("update", "data_only", Some("never"), "\"never\"", "would never send anything"),
    ] {
        only_problem(&edit(op, mode, updates), needle, says);
    }
    // An update rule without `updates` defaults to never: refused at the entry.
    let src = edit("update", "data_only", None);
    refused_at(
        &src,
        locate(&src, "[[rules]]", "[[rules]]"),
        "would never send anything",
    );
    // What fits.
    for (op, mode, updates) in [
        ("transfer", "data_only", "immediately"),
        ("transfer", "data_only", "daily"),
        ("transfer", "data_and_ownership", "on_return"),
        ("return", "data_and_ownership", "never"),
        ("update", "data_only", "immediately"),
        ("delete", "data_only", "never"),
        ("delete", "data_and_ownership", "never"),
        ("transfer", "independent_copy", "never"),
    ] {
        let src = edit(op, mode, Some(updates));
        Environment::parse(&src).unwrap_or_else(|e| panic!("{op} {mode} {updates}: {e}"));
    }
}

#[test]
#[allow(clippy::too_many_lines, reason = "a table of cases")]
fn only_what_the_servers_carry_out_is_accepted() {
    // data_only copies go to partners only: inside the environment every server receives the
    // records meant for it by replication. At the target; for transfers and updates alike.
    let linked = "data_only copies go to partner environments: every server of this environment receives the records meant for it already";
    for target in ["RS", "AR", "group:offices", "all"] {
        let src = copy_with(&[
            (
                "target = \"partner:safari\"",
                &format!("target = \"{target}\""),
            ),
            ("mode = \"independent_copy\"", "mode = \"data_only\""),
        ]);
        only_problem(&src, &format!("\"{target}\""), linked);
        let src = copy_with(&[
            (
                "target = \"partner:safari\"",
                &format!("target = \"{target}\""),
            ),
            ("operation = \"transfer\"", "operation = \"update\""),
            (
                "mode = \"independent_copy\"",
                "mode = \"data_only\"\nupdates = \"daily\"",
            ),
        ]);
        only_problem(&src, &format!("\"{target}\""), linked);
    }
    let src = copy_with(&[
        ("kind = \"guest\"", "kind = \"property\""),
        ("target = \"partner:safari\"", "target = \"owner\""),
        ("mode = \"independent_copy\"", "mode = \"data_only\""),
    ]);
    let l = only_problem(&src, "\"owner\"", linked);
    assert_eq!(
        l.problem,
        Problem::Rule(RuleProblem::LinkedCopyInEnvironment)
    );
    // To a partner they are fine, and so is deleting, anywhere.
    Environment::parse(&copy_with(&[(
        "mode = \"independent_copy\"",
        "mode = \"data_only\"",
    )]))
    .unwrap();
    for target in ["RS", "all", "partner:safari"] {
        let src = copy_with(&[
            (
                "target = \"partner:safari\"",
                &format!("target = \"{target}\""),
            ),
            ("operation = \"transfer\"", "operation = \"delete\""),
            ("mode = \"independent_copy\"", "mode = \"data_only\""),
        ]);
        Environment::parse(&src).unwrap_or_else(|e| panic!("{target}: {e}"));
    }

    // Ownership moves (transfer and return) only for bookings, guests and notes: a property's
    // own records stay with its owner. At the kind.
    for kind in ["property", "room_type", "room", "rate_plan"] {
        for op in ["transfer", "return"] {
            let src = with(
                &RULE
                    .replacen("\"booking\"", &format!("\"{kind}\""), 1)
                    .replacen("\"transfer\"", &format!("\"{op}\""), 1),
            );
            let l = only_problem(
                &src,
                &format!("\"{kind}\""),
                &format!("{kind} records stay with their property's owner; only bookings, guests and notes change owner"),
            );
            assert_eq!(l.at.column, 8, "{kind} {op}");
        }
    }
    for kind in ["booking", "guest", "note"] {
        Environment::parse(&with(&RULE.replacen(
            "\"booking\"",
            &format!("\"{kind}\""),
            1,
        )))
        .unwrap_or_else(|e| panic!("{kind}: {e}"));
    }

    // Copies (independent or data_only, transfer or update) become guests, properties or room
    // types: the kind, or the mapping's `to_kind`. At the kind.
    let not_copyable = |kind: &str| {
        format!("a copy becomes a guest, property or room type at its target, not a {kind}")
    };
    for kind in ["booking", "room", "rate_plan", "note"] {
        let src = copy_with(&[("\"guest\"", &format!("\"{kind}\""))]);
        only_problem(&src, &format!("\"{kind}\""), &not_copyable(kind));
        let src = copy_with(&[
            ("\"guest\"", &format!("\"{kind}\"")),
            ("operation = \"transfer\"", "operation = \"update\""),
            (
                "mode = \"independent_copy\"",
                "mode = \"data_only\"\nupdates = \"immediately\"",
            ),
        ]);
        only_problem(&src, &format!("\"{kind}\""), &not_copyable(kind));
    }
    for kind in ["guest", "property", "room_type"] {
        Environment::parse(&copy_with(&[("\"guest\"", &format!("\"{kind}\""))]))
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
    // Mapped: what it becomes counts, not what it was. A guest made into a note is refused, at
    // the kind; a room made into a room type is accepted.
    let src = copy_with(&[(
        "mode = \"independent_copy\"\n",
        "mode = \"independent_copy\"\n[rules.map]\nto_kind = \"note\"\nrename = { name = \"text\", email = \"author\" }\ndrop = [\"phone\"]\ncompute = { booking = 'id' }\n",
    )]);
    let l = only_problem(&src, "\"guest\"", &not_copyable("note"));
    assert_eq!(l.problem, Problem::Rule(RuleProblem::NotCopyable("note")));
    let src = copy_with(&[
        ("\"guest\"", "\"room\""),
        (
            "mode = \"independent_copy\"\n",
            "mode = \"independent_copy\"\n[rules.map]\nto_kind = \"room_type\"\nrename = { number = \"code\", room_type = \"name\" }\ndrop = [\"out_of_order\", \"housekeeping\", \"message_waiting\"]\nset = { max_occupancy = 2 }\n",
        ),
    ]);
    let env = Environment::parse(&src).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        env.rule("extra").unwrap().target_kind(),
        RecordKind::RoomType
    );
    // A move is no copy.
    Environment::parse(&rule_with("\"booking\"", "\"note\"")).unwrap();
}

#[test]
fn ownership_cycles_are_refused_naming_their_rules() {
    let mover = |name: &str, target: &str| {
        RULE.replacen("name = \"extra\"", &format!("name = \"{name}\""), 1)
            .replacen("target = \"AR\"", &format!("target = \"{target}\""), 1)
    };
    // The issue's example: A moves bookings to RS, B moves them back to WB.
    let src = format!("{RULES_GOOD}{}{}", mover("a", "RS"), mover("b", "WB"));
    let err = Environment::parse(&src).unwrap_err();
    let cycles: Vec<&Located> = err
        .problems
        .iter()
        .filter(|l| matches!(l.problem, Problem::Rule(RuleProblem::OwnershipCycle { .. })))
        .collect();
    // `a` already closes a cycle with the owner rule (RS → PA by owner, PA → RS by a); `b`
    // closes one of its own. Each is reported at its own target.
    assert_eq!(cycles.len(), 2, "{err}");
    assert_eq!(cycles[1].at, locate(&src, "name = \"b\"", "\"WB\""));
    let text = cycles[1].problem.to_string();
    assert!(
        text.starts_with(
            "data_and_ownership transfers of booking records could go round in a cycle: "
        ),
        "{text}"
    );
    assert!(text.contains("(b)"), "{text}");

    // Without the owner rule, A alone is fine and B closes the cycle WB → RS → WB.
    let no_owner = RULES_GOOD.replacen("target = \"owner\"", "target = \"AR\"", 1);
    let src = format!("{no_owner}{}{}", mover("a", "RS"), mover("b", "WB"));
    let err = Environment::parse(&src).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    let l = &err.problems[0];
    assert_eq!(l.at, locate(&src, "name = \"b\"", "\"WB\""));
    let Problem::Rule(RuleProblem::OwnershipCycle { kind, path, rules }) = &l.problem else {
        panic!("{l}");
    };
    assert_eq!(*kind, "booking");
    assert_eq!(rules, &vec!["a".to_string(), "b".to_string()]);
    assert_eq!(path, "WB → RS (a) → WB (b)");

    // Other kinds have their own graph; other modes, `return` and `delete` are not moves of
    // ownership. Each of these would close WB → RS → WB if it were (bookings by `a`, guests by
    // `g`).
    let guest_move = mover("g", "RS").replacen("\"booking\"", "\"guest\"", 1);
    let back = mover("r", "WB").replacen("\"transfer\"", "\"return\"", 1);
    let delete = mover("d", "WB").replacen("\"transfer\"", "\"delete\"", 1);
    let copy = COPY
        .replacen("name = \"extra\"", "name = \"c\"", 1)
        .replacen("target = \"partner:safari\"", "target = \"WB\"", 1);
    let src = format!(
        "{no_owner}{}{guest_move}{back}{delete}{copy}",
        mover("a", "RS")
    );
    Environment::parse(&src).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn receive_is_for_property_servers() {
    let src = RULES_GOOD.replacen(
        "group = \"offices\"\n[[servers]]\ncode = \"RS\"",
        "group = \"offices\"\nreceive = \"own\"\n[[servers]]\ncode = \"RS\"",
        1,
    );
    let err = Environment::parse(&src).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert_eq!(
        err.problems[0].to_string(),
        "line 10, column 11: `receive = \"own\"` is for property servers (they receive their own properties' records); WB is a web server"
    );
    let src = RULES_GOOD.replacen("receive = \"own\"", "receive = \"some\"", 1);
    let l = &Environment::parse(&src).unwrap_err().problems[0];
    assert_eq!(
        l.at,
        Position {
            line: 20,
            column: 11
        }
    );
    assert!(
        l.to_string().contains("`receive` must be one of all, own"),
        "{l}"
    );
    let src = RULES_GOOD.replacen("receive = \"own\"", "receive = \"all\"", 1);
    assert!(Environment::parse(&src)
        .unwrap()
        .servers
        .iter()
        .all(|s| s.receive == Receive::All));
}

#[test]
fn expression_problems_point_inside_the_string() {
    // Literal strings: the column of the offending character.
    let src = rule_with(
        "mode = \"data_and_ownership\"",
        "mode = \"data_and_ownership\"\nwhen = 'propery = \"KRL\"'",
    );
    let l = only_problem(
        &src,
        "propery",
        "in `when`: booking has no field `propery`; its fields: id, owner, version, kind, property",
    );
    assert_eq!(l.at.column, 9);
    only_problem(
        &rule_with(
            "mode = \"data_and_ownership\"",
            "mode = \"data_and_ownership\"\nwhen = 'units > 2 and and'",
        ),
        "and'",
        "in `when`: expected a value, found `and`",
    );
    only_problem(
        &rule_with("mode = \"data_and_ownership\"", "mode = \"data_and_ownership\"\nwhen = 'status = \"checkedout\"'"),
        "\"checkedout\"",
        "`status` is one of provisional, confirmed, cancelled, checked_in, checked_out, no_show; \"checkedout\" is not",
    );
    // Basic strings with escapes: the escaped quote is where it is written.
    only_problem(
        &rule_with(
            "mode = \"data_and_ownership\"",
            "mode = \"data_and_ownership\"\nwhen = \"units > 1 and status = \\\"gone\\\"\"",
        ),
        "\\\"gone",
        "\"gone\" is not",
    );
    // Multi-line strings: the line inside the string.
    let src = rule_with(
        "mode = \"data_and_ownership\"",
        "mode = \"data_and_ownership\"\nwhen = '''\n  status = \"confirmed\"\n  and bogus = 1'''",
    );
    let l = only_problem(&src, "bogus", "no field `bogus`");
    assert_eq!(l.at.column, 7);
    // A condition must be true or false.
    only_problem(
        &rule_with(
            "mode = \"data_and_ownership\"",
            "mode = \"data_and_ownership\"\nwhen = 'upper(guest_name)'",
        ),
        "upper",
        "in `when`: a condition must be true or false, but this is a text",
    );
    only_problem(
        &rule_with(
            "mode = \"data_and_ownership\"",
            "mode = \"data_and_ownership\"\nwhen = 3",
        ),
        "3",
        "`when` must be a string",
    );
    // Syntax errors are found even when the kind is bad (fields cannot be checked then).
    let src = rule_with("kind = \"booking\"", "kind = \"bokking\"\nwhen = 'a = = b'");
    let err = Environment::parse(&src).unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
    refused_at(
        &src,
        locate(&src, "[[rules]]", "= b"),
        "expected a value, found `=`",
    );
}

/// A guest copy rule with this `[rules.map]` body (a partner copy, like the typical one).
fn guest_map(body: &str) -> String {
    guest_rule("", body)
}

/// A guest copy rule with extra keys and this `[rules.map]` body.
fn guest_rule(keys: &str, body: &str) -> String {
    with(&format!(
        "[[rules]]\nname = \"g\"\nkind = \"guest\"\non = \"create\"\noperation = \"transfer\"\ntarget = \"partner:safari\"\nmode = \"data_only\"\n{keys}[rules.map]\n{body}\n"
    ))
}

#[test]
fn mappings_name_real_fields_and_keep_required_ones() {
    for (body, needle, says) in [
        ("drop = [\"name\"]", "[rules.map]", "mapping loses required field `name` of guest"),
        ("rename = { name = \"email\" }", "[rules.map]", "the copy's `email` would come from both `name` and `email`"),
        ("rename = { nme = \"name\" }", "nme", "`rename` names `nme`, but guest has no such field; its fields: id, owner, version, kind, name, email, phone"),
        ("rename = { email = \"mail\" }", "\"mail\"", "`rename` names `mail`, but guest has no such field"),
        ("rename = { id = \"name\" }", "id", "`rename` names `id`, which a copy never takes from its source"),
        ("drop = [\"owner\"]", "\"owner\"", "`drop` names `owner`, which a copy never takes"),
        ("drop = [\"fax\"]", "\"fax\"", "`drop` names `fax`, but guest has no such field"),
        ("rename = { email = \"phone\" }\ndrop = [\"phone\", \"email\"]", "\"email\"]", "`email` is both dropped and renamed"),
        ("set = { name = \"x\" }\ncompute = { name = 'upper(name)' }", "name = 'upper", "`name` is both set and computed"),
        ("set = { name = 3 }", "3", "`set.name` must be a string for guest"),
        ("set = { name = 1.5 }", "1.5", "`set.name` must be a string, a whole number or true/false"),
        ("set = { version = 1 }", "version", "`set` names `version`, which a copy never takes"),
        ("compute = { name = 'upper(nme)' }", "nme)", "in `compute.name`: guest has no field `nme`"),
        ("compute = { email = 'name = \"x\"' }", "name = \"x", "in `compute.email`: this gives true/false, but `email` of guest holds text"),
        ("compute = { email = 'upper(' }", "' }", "in `compute.email`: expected a value at the end"),
        ("rename = \"x\"", "\"x\"", "`rename` must be a table"),
        ("drop = \"phone\"", "\"phone\"", "`drop` must be a list of field names"),
        ("to_kind = \"user\"", "\"user\"", "records of kind user are not distributed"),
        ("to_kind = \"guests\"", "\"guests\"", "`to_kind` must be one of property"),
        ("rules = 1", "rules = 1", "unknown key `rules` in [rules.map]; expected one of: rename, drop, set, compute, to_kind"),
    ] {
        let src = guest_map(body);
        let at = if needle == "[rules.map]" {
            locate(&src, "name = \"g\"", "[rules.map]")
        } else {
            locate(&src, "[rules.map]", needle)
        };
        refused_at(&src, at, says);
    }
    // A copy into another kind must drop or rename what that kind lacks, and fill what it
    // requires: a booking's guest, copied as a guest.
    let guest_of = |body: &str| {
        with(&format!(
            "[[rules]]\nname = \"n\"\nkind = \"booking\"\non = \"create\"\noperation = \"transfer\"\ntarget = \"RS\"\nmode = \"independent_copy\"\n[rules.map]\nto_kind = \"guest\"\n{body}\n"
        ))
    };
    let src = guest_of("");
    let err = Environment::parse(&src).unwrap_err();
    let at = locate(&src, "name = \"n\"", "[rules.map]");
    refused_at(&src, at, "the mapping copies property, room_type, arrival, departure, units, guest_id, guest_name, status, hold_until, holder, stays, price, notes, cancel_reason, created_on, created_at, updated_at of booking into guest, which has no such field; drop or rename them");
    refused_at(&src, at, "mapping loses required field `name` of guest");
    assert_eq!(err.problems.len(), 2, "{err}");
    let ok = guest_of(
        "drop = [\"property\", \"room_type\", \"arrival\", \"departure\", \"units\", \"guest_id\", \"status\", \"hold_until\", \"holder\", \"stays\", \"price\", \"notes\", \"cancel_reason\", \"created_on\", \"created_at\", \"updated_at\"]\nrename = { guest_name = \"name\" }\ncompute = { email = 'concat(lower(trim(guest_name)), \"@\", lower(property), \".example\")' }",
    );
    let env = Environment::parse(&ok).unwrap_or_else(|e| panic!("{e}"));
    let m = env.rule("n").unwrap().mapping.as_ref().unwrap();
    assert_eq!(m.to_kind, RecordKind::Guest);
    assert_eq!(env.rule("n").unwrap().target_kind(), RecordKind::Guest);
    assert_eq!(m.rename["guest_name"], "name");
    // Constants are checked against their field's type.
    let room_type = |set: &str| {
        with(&format!(
            "[[rules]]\nname = \"t\"\nkind = \"room_type\"\non = \"create\"\noperation = \"transfer\"\ntarget = \"partner:safari\"\nmode = \"data_only\"\n[rules.map]\nset = {{ {set} }}\n"
        ))
    };
    Environment::parse(&room_type("max_occupancy = 4, name = \"Tent\"")).unwrap();
    let src = room_type("max_occupancy = \"4\"");
    refused_at(
        &src,
        locate(&src, "[rules.map]", "\"4\""),
        "`set.max_occupancy` must be a whole number for room_type",
    );
    // Bookings' constants (dates, holders, ids, instants) are checked too, although a copy never
    // becomes a booking: good ones leave that the only problem.
    let booking = |set: &str| {
        with(&format!(
            "[[rules]]\nname = \"b\"\nkind = \"booking\"\non = \"create\"\noperation = \"transfer\"\ntarget = \"partner:safari\"\nmode = \"data_only\"\n[rules.map]\nset = {{ {set} }}\n"
        ))
    };
    let not_copyable = "a copy becomes a guest, property or room type at its target, not a booking";
    only_problem(
        &booking("arrival = \"2026-12-01\", holder = \"server:PA\", guest_id = \"WB-000001\", hold_until = \"2026-12-01T10:00:00Z\""),
        "\"booking\"",
        not_copyable,
    );
    for (set, says) in [
        (
            "arrival = \"soon\"",
            "`set.arrival` must be a date string like \"2026-12-01\" for booking",
        ),
        (
            "holder = \"PA\"",
            "`set.holder` must be env or server:XX for booking",
        ),
        ("guest_id = \"42\"", "a record id like"),
        ("hold_until = \"2026-12-01\"", "an RFC 3339 instant"),
        ("stays = \"x\"", "which `set` cannot give"),
        ("units = true", "`set.units` must be a whole number"),
    ] {
        let src = booking(set);
        let err = Environment::parse(&src).unwrap_err();
        assert!(err.to_string().contains(says), "{set}: {err}");
        assert!(err.to_string().contains(not_copyable), "{set}: {err}");
        assert_eq!(err.problems.len(), 2, "{set}: {err}");
    }
}

#[test]
fn match_names_fields_of_the_target_kind() {
    only_problem(
        &rule_with(
            "mode = \"data_and_ownership\"",
            "mode = \"data_and_ownership\"\nmatch = [\"guest_name\", \"emial\"]",
        ),
        "\"emial\"",
        "`match` names `emial`, but booking has no such field",
    );
    let env = Environment::parse(&rule_with(
        "mode = \"data_and_ownership\"",
        "mode = \"data_and_ownership\"\nmatch = [\"price.amount\", \"guest_name\", \"guest_name\"]",
    ))
    .unwrap();
    assert_eq!(
        env.rule("extra").unwrap().match_fields,
        vec!["guest_name", "price.amount"]
    );
    // Against the mapping's kind.
    let src = guest_rule("match = [\"units\"]\n", "drop = [\"phone\"]");
    refused_at(
        &src,
        locate(&src, "name = \"g\"", "\"units\""),
        "`match` names `units`, but guest has no such field",
    );
    // Also when the mapping itself has a problem: both are reported.
    let src = guest_rule("match = [\"emial\"]\n", "set = { source = \"kraal\" }");
    let err = Environment::parse(&src).unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
    refused_at(
        &src,
        locate(&src, "name = \"g\"", "\"emial\""),
        "`match` names `emial`",
    );
    refused_at(
        &src,
        locate(&src, "[rules.map]", "source"),
        "`set` names `source`, but guest has no such field",
    );
    let many: Vec<String> = (0..=crate::limits::MAX_MATCH_FIELDS)
        .map(|_| "\"id\"".to_string())
        .collect();
    let src = rule_with(
        "mode = \"data_and_ownership\"",
        &format!(
            "mode = \"data_and_ownership\"\nmatch = [{}]",
            many.join(", ")
        ),
    );
    refused_at(
        &src,
        locate(&src, "[[rules]]", "[\"id\""),
        "too many fields in `match`: at most 16",
    );
}

#[test]
fn names_are_unique_and_counts_bounded() {
    let src = with(&RULE.replacen("\"extra\"", "\"closed-to-archive\"", 1));
    let l = only_problem(
        &src,
        "\"closed-to-archive\"",
        "distribution rule \"closed-to-archive\" is declared twice (first at line 43)",
    );
    assert_eq!(l.at.column, 8);

    let mut many = String::from(RULES_GOOD);
    for i in 0..crate::limits::MAX_RULES {
        many.push_str(&RULE.replacen("\"extra\"", &format!("\"r{i}\""), 1));
    }
    let err = Environment::parse(&many).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert_eq!(
        err.problems[0].problem,
        Problem::TooMany {
            what: "distribution rules",
            max: crate::limits::MAX_RULES
        }
    );
    // Reported at the first rule beyond the limit.
    let beyond = many
        .match_indices("[[rules]]")
        .nth(crate::limits::MAX_RULES)
        .unwrap()
        .0;
    assert_eq!(err.problems[0].at, Position::of_offset(&many, beyond));

    let drops: Vec<String> = (0..=crate::limits::MAX_MAP_ENTRIES)
        .map(|i| format!("\"f{i}\""))
        .collect();
    let src = guest_map(&format!("drop = [{}]", drops.join(", ")));
    let err = Environment::parse(&src).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    refused_at(
        &src,
        locate(&src, "name = \"g\"", "[rules.map]"),
        "too many entries in one [rules.map]: at most 64",
    );
}

const PARTNER: &str = "[[partners]]\nname = \"lodges\"\nurl = \"https://lodges.example.com\"\ntoken = \"isk_other\"\n";

#[test]
fn partners_are_checked() {
    let edit = |from: &str, to: &str| {
        assert!(PARTNER.contains(from), "{from}");
        with(&PARTNER.replacen(from, to, 1))
    };
    // Everything after RULES_GOOD's last line is the appended partner.
    let at = |src: &str, needle: &str| locate(src, "updates = \"hourly\"", needle);
    let env = Environment::parse(&with(PARTNER)).unwrap();
    assert_eq!(env.partners.len(), 2);
    for (src, needle, says) in [
        (edit("\"lodges\"", "\"safari\""), "\"safari\"", "partner \"safari\" is declared twice (first at line 31)"),
        (edit("https://lodges.example.com", "http://127.0.0.1:7001"), "\"http", "partner url http://127.0.0.1:7001/ is the url of server RS; a partner is another environment"),
        (edit("https://lodges.example.com", "HTTP://127.0.0.1:7100/"), "\"HTTP", "url http://127.0.0.1:7100/ is used by both safari and lodges"),
        (edit("https://lodges.example.com", "ftp://x"), "\"ftp", "the scheme must be http or https"),
        (edit("isk_other", "isk other"), "\"isk", "`token` must be 1 to 1024 characters without spaces or control characters; got \"9 characters\""),
        (edit("isk_other", ""), "\"\"", "`token` must be 1 to 1024"),
        (edit("name = \"lodges\"", "name = \"lodges\"\nsecret = \"x\""), "secret", "unknown key `secret` in [[partners]]; expected one of: name, url, token"),
        (edit("name = \"lodges\"", "name = \"a b\""), "\"a b\"", "`name` must be 1 to 64"),
    ] {
        let l = refused_at(&src, at(&src, needle), says);
        assert!(!l.to_string().contains("isk"), "token echoed: {l}");
    }
    let src = edit("token = \"isk_other\"\n", "");
    refused_at(
        &src,
        at(&src, "[[partners]]"),
        "missing key `token` in [[partners]]",
    );
    let mut many = String::from(RULES_GOOD);
    for i in 0..crate::limits::MAX_PARTNERS {
        many.push_str(&format!(
            "[[partners]]\nname = \"p{i}\"\nurl = \"http://p{i}.example.com\"\ntoken = \"t\"\n"
        ));
    }
    let err = Environment::parse(&many).unwrap_err();
    assert!(
        err.to_string().contains("too many partners: at most 32"),
        "{err}"
    );
}

#[test]
fn rules_and_partners_are_part_of_the_fingerprint() {
    assert_eq!(CANONICAL_FORMAT, 3);
    let a = Environment::parse(RULES_GOOD).unwrap();
    // Layout, expression spelling, rule and partner order, and the token do not count.
    let respelled = RULES_GOOD
        .replacen(
            "when = 'status = \"checked_out\" and departure < today - 90d'",
            "when = \"(status='checked_out') and (departure<today-90d)\"",
            1,
        )
        .replacen("isk_secret_token_value", "another_token", 1)
        .replacen("match = [\"email\"]", "match = [\"email\", \"email\"]", 1);
    let b = Environment::parse(&respelled).unwrap();
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert!(a.differences(&b).is_empty());
    let first = RULES_GOOD.find("[[rules]]").unwrap();
    let second = RULES_GOOD[first + 1..].find("[[rules]]").unwrap() + first + 1;
    let reordered = format!(
        "{}{}{}",
        &RULES_GOOD[..first],
        &RULES_GOOD[second..],
        &RULES_GOOD[first..second]
    );
    let c = Environment::parse(&reordered).unwrap();
    assert_eq!(c.rules[0].name, "closed-to-archive");
    assert_eq!(a.fingerprint(), c.fingerprint());
    assert!(!a.canonical().canonical_text().contains("isk_"));

    let differ = |edited: &str| -> Vec<String> {
        let other = Environment::parse(edited).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(a.fingerprint(), other.fingerprint());
        a.differences(&other)
            .iter()
            .map(|d| d.to_string())
            .collect()
    };
    assert_eq!(
        differ(
            &RULES_GOOD
                .replacen("departure < today - 90d", "departure < today - 30d", 1)
                .replacen("pool = \"archive\"", "pool = \"slow\"", 1)
        ),
        vec!["distribution rule \"closed-to-archive\" differs between here and there (when, pool)"]
    );
    assert_eq!(
        differ(&RULES_GOOD.replacen("drop = [\"phone\"]", "drop = [\"email\"]", 1)),
        vec!["distribution rule \"guests-to-safari\" differs between here and there (map)"]
    );
    assert_eq!(
        differ(&RULES_GOOD.replacen(
            "name = \"vip-guests-to-safari\"",
            "name = \"vips-to-safari\"",
            1
        )),
        vec![
            "distribution rule \"vip-guests-to-safari\" is here but not there",
            "distribution rule \"vips-to-safari\" is there but not here"
        ]
    );
    assert_eq!(
        differ(&RULES_GOOD.replacen("http://127.0.0.1:7100", "http://127.0.0.1:7101", 1)),
        vec!["partner \"safari\": url is \"http://127.0.0.1:7100/\" here but \"http://127.0.0.1:7101/\" there"]
    );
    assert_eq!(
        differ(&with(PARTNER)),
        vec!["partner \"lodges\" is there but not here"]
    );
    assert_eq!(
        differ(&RULES_GOOD.replacen("receive = \"own\"\n", "", 1)),
        vec!["server PA: receive is \"own\" here but \"all\" there"]
    );
    // The canonical form survives JSON, as peers exchange it.
    let canonical = a.canonical();
    let json = serde_json::to_string(&canonical).unwrap();
    let back: CanonicalEnvironment = serde_json::from_str(&json).unwrap();
    assert_eq!(back, canonical);
    assert_eq!(back.fingerprint(), a.fingerprint());
}
