//! Tests of `plan` (the issue's typical uses, target resolution, triggers, `not_before`) and
//! `receives` (partial replication), over the typical environment of the config tests.

use super::*;
use crate::config::rule_tests::RULES_GOOD;
use crate::config::Environment;
use chrono::{DateTime, TimeZone, Utc};
use innsync_core::{RecordKind, ServerCode};
use proptest::prelude::*;
use serde_json::json;

fn env() -> Environment {
    Environment::parse(RULES_GOOD).unwrap_or_else(|e| panic!("{e}"))
}

/// Booking rules on updates, beside the typical ones: one that expands to a group, and a
/// gathered update (bookings are neither copied nor updated as bookings, so the update goes to
/// the partner as a guest).
const BOOKING_UPDATES: &str = r#"[[rules]]
name = "cancelled-deleted"
kind = "booking"
on = "update"
when = 'status = "cancelled"'
operation = "delete"
target = "group:offices"
mode = "data_only"
[[rules]]
name = "confirmed-guests-to-safari"
kind = "booking"
on = "update"
when = 'status = "confirmed"'
operation = "update"
target = "partner:safari"
mode = "data_only"
updates = "hourly"
[rules.map]
to_kind = "guest"
drop = ["property", "room_type", "arrival", "departure", "units", "guest_id", "status", "hold_until", "holder", "stays", "price", "notes", "cancel_reason", "created_on", "created_at", "updated_at"]
rename = { guest_name = "name" }
"#;

/// The typical environment with `extra` rules appended.
fn env_with(extra: &str) -> Environment {
    Environment::parse(&format!("{RULES_GOOD}{extra}")).unwrap_or_else(|e| panic!("{e}"))
}

fn guest() -> serde_json::Value {
    json!({"kind": "guest", "id": "RS-000004", "owner": "server:RS", "version": 2,
           "name": "ann", "email": "ann@example.com", "phone": "123"})
}

fn code(s: &str) -> ServerCode {
    ServerCode::parse(s).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 10, 15, 30).unwrap()
}

fn booking(property: &str, status: &str, departure: &str) -> serde_json::Value {
    json!({"kind": "booking", "id": "WB-000001", "owner": "server:WB", "version": 1,
           "property": property, "room_type": "DLX", "arrival": "2026-01-01",
           "departure": departure, "units": 1, "guest_id": "WB-000002",
           "guest_name": "Ann", "status": status})
}

fn op(rule: &str, operation: Operation, target: Resolved, mode: Mode, pool: &str) -> PlannedOp {
    PlannedOp {
        rule: rule.into(),
        operation,
        target,
        mode,
        pool: pool.into(),
        not_before: None,
    }
}

fn server(s: &str) -> Resolved {
    Resolved::Server(code(s))
}

#[test]
fn bookings_created_for_a_lodge_move_to_its_server_with_ownership() {
    let env = env();
    let b = booking("KRL", "confirmed", "2026-07-01");
    let ops = plan(
        &env,
        &code("WB"),
        RecordKind::Booking,
        Event::Created,
        &b,
        now(),
    );
    assert_eq!(
        ops,
        vec![op(
            "lodge-bookings-to-lodge",
            Operation::Transfer,
            server("PA"),
            Mode::DataAndOwnership,
            "lodge"
        )]
    );
    // The other lodge's booking goes to the other lodge.
    let ldg = booking("LDG", "confirmed", "2026-07-01");
    let ops = plan(
        &env,
        &code("RS"),
        RecordKind::Booking,
        Event::Created,
        &ldg,
        now(),
    );
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].target, server("PB"));
    // On the lodge itself: it is the owner already.
    assert!(plan(
        &env,
        &code("PA"),
        RecordKind::Booking,
        Event::Created,
        &b,
        now()
    )
    .is_empty());
    // A property no lodge owns (env-owned), or no property at all: nowhere to go.
    for record in [
        booking("XYZ", "confirmed", "2026-07-01"),
        json!({"units": 1}),
    ] {
        assert!(plan(
            &env,
            &code("WB"),
            RecordKind::Booking,
            Event::Created,
            &record,
            now()
        )
        .is_empty());
    }
    // `on = create`: an update does not move it; neither does another kind.
    assert!(plan(
        &env,
        &code("WB"),
        RecordKind::Booking,
        Event::Updated,
        &b,
        now()
    )
    .iter()
    .all(|o| o.rule != "lodge-bookings-to-lodge"));
    assert!(plan(
        &env,
        &code("WB"),
        RecordKind::Room,
        Event::Created,
        &b,
        now()
    )
    .is_empty());
}

#[test]
fn closed_bookings_move_to_the_archive_on_schedule() {
    let env = env();
    let old = booking("KRL", "checked_out", "2026-02-01");
    let archive = op(
        "closed-to-archive",
        Operation::Transfer,
        server("AR"),
        Mode::DataAndOwnership,
        "archive",
    );
    for me in ["WB", "RS", "PA", "PB"] {
        let ops = plan(
            &env,
            &code(me),
            RecordKind::Booking,
            Event::Scheduled,
            &old,
            now(),
        );
        assert_eq!(ops, vec![archive.clone()], "{me}");
    }
    // Not on the archive itself, not before 90 days, not if not checked out, not on a write.
    assert!(plan(
        &env,
        &code("AR"),
        RecordKind::Booking,
        Event::Scheduled,
        &old,
        now()
    )
    .is_empty());
    let recent = booking("KRL", "checked_out", "2026-03-04");
    assert!(plan(
        &env,
        &code("PA"),
        RecordKind::Booking,
        Event::Scheduled,
        &recent,
        now()
    )
    .is_empty());
    let boundary = booking("KRL", "checked_out", "2026-03-02");
    assert_eq!(
        plan(
            &env,
            &code("PA"),
            RecordKind::Booking,
            Event::Scheduled,
            &boundary,
            now()
        )
        .len(),
        1
    );
    let confirmed = booking("KRL", "confirmed", "2026-02-01");
    assert!(plan(
        &env,
        &code("PA"),
        RecordKind::Booking,
        Event::Scheduled,
        &confirmed,
        now()
    )
    .is_empty());
    assert!(plan(
        &env,
        &code("PA"),
        RecordKind::Booking,
        Event::Updated,
        &old,
        now()
    )
    .iter()
    .all(|o| o.rule != "closed-to-archive"));
    // "today" is `now`'s date in UTC: one second before midnight it is still the day before.
    let late = Utc.with_ymd_and_hms(2026, 5, 2, 23, 59, 59).unwrap();
    let edge = booking("KRL", "checked_out", "2026-02-01");
    assert!(plan(
        &env,
        &code("PA"),
        RecordKind::Booking,
        Event::Scheduled,
        &edge,
        late
    )
    .is_empty());
    let midnight = Utc.with_ymd_and_hms(2026, 5, 3, 0, 0, 0).unwrap();
    assert_eq!(
        plan(
            &env,
            &code("PA"),
            RecordKind::Booking,
            Event::Scheduled,
            &edge,
            midnight
        )
        .len(),
        1
    );
}

#[test]
fn guests_are_copied_to_the_partner_with_the_mapping() {
    let env = env();
    let guest = guest();
    let copy = op(
        "guests-to-safari",
        Operation::Transfer,
        Resolved::Partner("safari".into()),
        Mode::IndependentCopy,
        "default",
    );
    let ops = plan(
        &env,
        &code("RS"),
        RecordKind::Guest,
        Event::Created,
        &guest,
        now(),
    );
    assert_eq!(ops, vec![copy.clone()]);
    // On an update the linked copy of a guest with an email is refreshed too, at the next hour.
    let ops = plan(
        &env,
        &code("RS"),
        RecordKind::Guest,
        Event::Updated,
        &guest,
        now(),
    );
    let mut refresh = op(
        "vip-guests-to-safari",
        Operation::Update,
        Resolved::Partner("safari".into()),
        Mode::DataOnly,
        "default",
    );
    refresh.not_before = Some(Utc.with_ymd_and_hms(2026, 6, 1, 11, 0, 0).unwrap());
    assert_eq!(ops, vec![copy.clone(), refresh]);
    let no_email = json!({"kind": "guest", "id": "RS-000005", "owner": "server:RS", "version": 1,
                          "name": "bob", "email": null});
    assert_eq!(
        plan(
            &env,
            &code("RS"),
            RecordKind::Guest,
            Event::Updated,
            &no_email,
            now()
        ),
        vec![copy]
    );
    assert!(plan(
        &env,
        &code("RS"),
        RecordKind::Guest,
        Event::Scheduled,
        &guest,
        now()
    )
    .is_empty());
    // The partner is resolved also from the archive: a plain copy gives nothing away.
    assert_eq!(
        plan(
            &env,
            &code("AR"),
            RecordKind::Guest,
            Event::Created,
            &guest,
            now()
        )
        .len(),
        1
    );
    let rule = env.rule("guests-to-safari").unwrap();
    let copy = rule
        .mapping
        .as_ref()
        .unwrap()
        .apply(&guest, now().date_naive())
        .unwrap();
    assert_eq!(
        serde_json::Value::Object(copy),
        json!({"name": "ANN (kraal)", "email": "ann@example.com"})
    );
    assert_eq!(
        env.partner("safari").unwrap().url.as_str(),
        "http://127.0.0.1:7100/"
    );
}

#[test]
fn groups_and_all_expand_to_other_servers_in_file_order() {
    let b = booking("KRL", "cancelled", "2026-07-01");
    let targets = |env: &Environment, me: &str, kind, record: &serde_json::Value| {
        plan(env, &code(me), kind, Event::Updated, record, now())
            .into_iter()
            .map(|o| o.target)
            .collect::<Vec<_>>()
    };
    let env = env_with(BOOKING_UPDATES);
    let ops = |me: &str| targets(&env, me, RecordKind::Booking, &b);
    assert_eq!(ops("WB"), vec![server("RS")]);
    assert_eq!(ops("RS"), vec![server("WB")]);
    assert_eq!(ops("PA"), vec![server("WB"), server("RS")]);
    // Copies expand the same way (after the typical partner copy, which comes first in the file).
    let copies = r#"[[rules]]
name = "guests-to-offices"
kind = "guest"
on = "update"
operation = "transfer"
target = "group:offices"
mode = "independent_copy"
"#;
    let env = env_with(copies);
    let guest = json!({"kind": "guest", "id": "RS-000005", "owner": "server:RS", "version": 1,
                       "name": "bob", "email": null});
    let copied = |me: &str| targets(&env, me, RecordKind::Guest, &guest);
    let safari = Resolved::Partner("safari".into());
    assert_eq!(copied("WB"), vec![safari.clone(), server("RS")]);
    assert_eq!(copied("RS"), vec![safari.clone(), server("WB")]);
    assert_eq!(copied("PA"), vec![safari, server("WB"), server("RS")]);
    // A broadcast: everyone but me, the archive included.
    let all = BOOKING_UPDATES.replacen("target = \"group:offices\"", "target = \"all\"", 1);
    let env = env_with(&all);
    assert_eq!(
        targets(&env, "RS", RecordKind::Booking, &b),
        vec![server("WB"), server("PA"), server("PB"), server("AR")]
    );
    // An explicit server that is me is skipped.
    let to_rs = BOOKING_UPDATES.replacen("target = \"group:offices\"", "target = \"RS\"", 1);
    let env = env_with(&to_rs);
    assert!(targets(&env, "RS", RecordKind::Booking, &b).is_empty());
    assert_eq!(
        targets(&env, "WB", RecordKind::Booking, &b),
        vec![server("RS")]
    );
}

#[test]
fn gathered_updates_wait_for_the_next_hour_or_midnight() {
    let guest = guest();
    let at = |h: u32, m: u32, s: u32| Utc.with_ymd_and_hms(2026, 6, 1, h, m, s).unwrap();
    // The typical guest update rule, with `updates` and `operation` as given: its one op.
    let vip = |src: &str, now: DateTime<Utc>| {
        let env = Environment::parse(src).unwrap_or_else(|e| panic!("{e}"));
        let ops: Vec<PlannedOp> = plan(
            &env,
            &code("WB"),
            RecordKind::Guest,
            Event::Updated,
            &guest,
            now,
        )
        .into_iter()
        .filter(|o| o.rule == "vip-guests-to-safari")
        .collect();
        assert_eq!(ops.len(), 1);
        ops[0].clone()
    };
    let not_before = |updates: &str, now: DateTime<Utc>| {
        let src = RULES_GOOD.replacen(
            "updates = \"hourly\"",
            &format!("updates = \"{updates}\""),
            1,
        );
        vip(&src, now).not_before
    };
    assert_eq!(not_before("hourly", at(10, 15, 30)), Some(at(11, 0, 0)));
    assert_eq!(not_before("hourly", at(10, 0, 0)), Some(at(11, 0, 0)));
    assert_eq!(
        not_before("hourly", at(23, 59, 59)),
        Some(Utc.with_ymd_and_hms(2026, 6, 2, 0, 0, 0).unwrap())
    );
    assert_eq!(
        not_before("daily", at(10, 15, 30)),
        Some(Utc.with_ymd_and_hms(2026, 6, 2, 0, 0, 0).unwrap())
    );
    assert_eq!(
        not_before("daily", at(0, 0, 0)),
        Some(Utc.with_ymd_and_hms(2026, 6, 2, 0, 0, 0).unwrap())
    );
    assert_eq!(not_before("immediately", at(10, 15, 30)), None);
    // Only `update` operations wait: a transfer with an hourly policy goes now (its later
    // updates are what the policy gathers).
    let transfer = RULES_GOOD.replacen("operation = \"update\"", "operation = \"transfer\"", 1);
    let o = vip(&transfer, now());
    assert_eq!(o.operation, Operation::Transfer);
    assert_eq!(o.not_before, None);
}

#[test]
fn triggers_fit_events_exactly() {
    use Trigger::*;
    for (event, fits) in [
        (Event::Created, [Create, Change]),
        (Event::Updated, [Update, Change]),
    ] {
        for on in Trigger::ALL {
            let src = RULES_GOOD.replacen("on = \"update\"", &format!("on = \"{on}\""), 1);
            let env = Environment::parse(&src).unwrap();
            let hit = plan(&env, &code("WB"), RecordKind::Guest, event, &guest(), now())
                .iter()
                .any(|o| o.rule == "vip-guests-to-safari");
            assert_eq!(hit, fits.contains(on), "{event:?} {on}");
        }
    }
    let src = RULES_GOOD.replacen("on = \"update\"", "on = \"schedule\"", 1);
    let env = Environment::parse(&src).unwrap();
    let ops = plan(
        &env,
        &code("WB"),
        RecordKind::Guest,
        Event::Scheduled,
        &guest(),
        now(),
    );
    assert_eq!(
        ops.iter().map(|o| o.rule.as_str()).collect::<Vec<_>>(),
        vec!["vip-guests-to-safari"]
    );
}

#[test]
fn owner_of_a_property_record_is_its_own_code_and_rules_keep_their_order() {
    let extra = r#"[[rules]]
name = "properties-home"
kind = "property"
on = "change"
operation = "transfer"
target = "owner"
mode = "independent_copy"
[[rules]]
name = "bookings-archived-first"
kind = "booking"
on = "create"
operation = "transfer"
target = "AR"
mode = "data_and_ownership"
pool = "archive"
"#;
    let env = Environment::parse(&format!("{RULES_GOOD}{extra}")).unwrap_or_else(|e| panic!("{e}"));
    let krl = json!({"kind": "property", "code": "KRL", "name": "Kraal", "timezone": "UTC"});
    let ops = plan(
        &env,
        &code("WB"),
        RecordKind::Property,
        Event::Created,
        &krl,
        now(),
    );
    assert_eq!(
        ops,
        vec![op(
            "properties-home",
            Operation::Transfer,
            server("PA"),
            Mode::IndependentCopy,
            "default"
        )]
    );
    let b = booking("KRL", "confirmed", "2026-07-01");
    let rules: Vec<String> = plan(
        &env,
        &code("WB"),
        RecordKind::Booking,
        Event::Created,
        &b,
        now(),
    )
    .into_iter()
    .map(|o| o.rule)
    .collect();
    assert_eq!(
        rules,
        vec!["lodge-bookings-to-lodge", "bookings-archived-first"]
    );
}

#[test]
fn the_archive_gives_nothing_away() {
    // Guests, which may be moved, deleted and copied.
    let extra = r#"[[rules]]
name = "guests-archived"
kind = "guest"
on = "schedule"
operation = "transfer"
target = "AR"
mode = "data_and_ownership"
[[rules]]
name = "archive-returns"
kind = "guest"
on = "schedule"
operation = "return"
target = "WB"
mode = "data_and_ownership"
[[rules]]
name = "archive-deletes"
kind = "guest"
on = "schedule"
operation = "delete"
target = "WB"
mode = "data_only"
[[rules]]
name = "archive-copies"
kind = "guest"
on = "schedule"
operation = "transfer"
target = "WB"
mode = "independent_copy"
[[rules]]
name = "archive-refreshes"
kind = "guest"
on = "schedule"
operation = "update"
target = "partner:safari"
mode = "data_only"
updates = "immediately"
"#;
    let env = env_with(extra);
    let on = |me: &str| -> Vec<String> {
        plan(
            &env,
            &code(me),
            RecordKind::Guest,
            Event::Scheduled,
            &guest(),
            now(),
        )
        .into_iter()
        .map(|o| o.rule)
        .collect()
    };
    assert_eq!(on("AR"), vec!["archive-copies", "archive-refreshes"]);
    assert_eq!(
        on("RS"),
        vec![
            "guests-archived",
            "archive-returns",
            "archive-deletes",
            "archive-copies",
            "archive-refreshes"
        ]
    );
}

#[test]
fn partial_replication_takes_own_properties_and_shared_data() {
    let env = env();
    let pa = code("PA");
    let take = |kind, record: serde_json::Value, flag| receives(&env, &pa, kind, &record, flag);
    use RecordKind::*;
    assert!(take(
        Booking,
        booking("KRL", "confirmed", "2026-07-01"),
        false
    ));
    assert!(!take(
        Booking,
        booking("LDG", "confirmed", "2026-07-01"),
        false
    ));
    assert!(!take(
        Booking,
        booking("LDG", "confirmed", "2026-07-01"),
        true
    ));
    for kind in [RoomType, Room, RatePlan, AllotmentGrant] {
        assert!(take(kind, json!({"property": "KRL"}), false), "{kind:?}");
        assert!(!take(kind, json!({"property": "LDG"}), false), "{kind:?}");
        assert!(!take(kind, json!({}), false), "{kind:?}");
    }
    // Shared reference data, whatever it says.
    for kind in [User, MasterToken, Property] {
        assert!(take(kind, json!({"code": "LDG"}), false), "{kind:?}");
    }
    // Guests and notes: as the caller knows from the bookings.
    for kind in [Guest, Note] {
        assert!(take(kind, json!({"name": "x"}), true), "{kind:?}");
        assert!(!take(kind, json!({"name": "x"}), false), "{kind:?}");
    }
    // Its own records, always.
    assert!(take(Note, json!({"owner": "server:PA"}), false));
    assert!(take(
        Booking,
        json!({"owner": "server:PA", "property": "LDG"}),
        false
    ));
    assert!(!take(Note, json!({"owner": "server:PB"}), false));
    // Servers receiving all, and servers the file does not list, take everything.
    let ldg = booking("LDG", "confirmed", "2026-07-01");
    for s in ["PB", "WB", "AR", "ZZ"] {
        assert!(receives(&env, &code(s), Booking, &ldg, false), "{s}");
        assert!(receives(&env, &code(s), Guest, &json!({}), false), "{s}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Over random bookings, servers, events and times: never a target that is the planner,
    /// every op's rule fits the event, the two booking moves happen exactly when they should,
    /// and so do the group delete (never on the archive) and the gathered update.
    #[test]
    fn plans_follow_the_rules(
        me in proptest::sample::select(vec!["WB", "RS", "PA", "PB", "AR"]),
        property in proptest::sample::select(vec!["KRL", "LDG", "XYZ"]),
        status in proptest::sample::select(crate::rules::schema::BOOKING_STATUSES.to_vec()),
        event in proptest::sample::select(vec![Event::Created, Event::Updated, Event::Scheduled]),
        departure_days in -400i64..400,
        now_secs in 0i64..(3 * 365 * 86_400),
    ) {
        let env = env_with(BOOKING_UPDATES);
        let now = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(now_secs);
        let departure = now.date_naive() + chrono::Duration::days(departure_days);
        let b = booking(property, status, &departure.to_string());
        let me = code(me);
        let ops = plan(&env, &me, RecordKind::Booking, event, &b, now);
        for o in &ops {
            prop_assert_ne!(&o.target, &Resolved::Server(me.clone()));
            let rule = env.rule(&o.rule).unwrap();
            prop_assert_eq!(rule.kind, RecordKind::Booking);
            prop_assert_eq!(rule.mode, o.mode);
            prop_assert_eq!(&rule.pool, &o.pool);
            prop_assert_eq!(o.not_before.is_some(), rule.operation == Operation::Update);
            if let Some(t) = o.not_before {
                prop_assert!(t > now && t - now <= chrono::Duration::hours(1));
            }
        }
        let has = |name: &str| ops.iter().any(|o| o.rule == name);
        let owner = env.property_owner(property);
        let moves_home = event == Event::Created && me.as_str() != "AR" && owner.is_some_and(|o| *o != me);
        prop_assert_eq!(has("lodge-bookings-to-lodge"), moves_home);
        if moves_home {
            let home = ops.iter().find(|o| o.rule == "lodge-bookings-to-lodge").unwrap();
            prop_assert_eq!(&home.target, &Resolved::Server(owner.unwrap().clone()));
        }
        let archived = event == Event::Scheduled && me.as_str() != "AR" && status == "checked_out"
            && departure < now.date_naive() - chrono::Duration::days(90);
        prop_assert_eq!(has("closed-to-archive"), archived);
        let deleted = event == Event::Updated && status == "cancelled" && me.as_str() != "AR";
        let expected = if deleted { if ["WB", "RS"].contains(&me.as_str()) { 1 } else { 2 } } else { 0 };
        prop_assert_eq!(ops.iter().filter(|o| o.rule == "cancelled-deleted").count(), expected);
        let refreshed = event == Event::Updated && status == "confirmed";
        prop_assert_eq!(
            ops.iter().filter(|o| o.rule == "confirmed-guests-to-safari").count(),
            usize::from(refreshed)
        );
    }
}
