//! Tests of parsing, validation and the fingerprint.

use super::*;

const GOOD: &str = r#"
name = "kraal"
secret = "a long shared secret"      # servers authenticate to each other with it
initial_master = "WB"
[[servers]]
code = "WB"
role = "web"                         # web | reservation | property | archive
url = "http://127.0.0.1:7000"
[[servers]]
code = "RS"
role = "reservation"
url = "http://127.0.0.1:7001"
[[servers]]
code = "PA"
role = "property"
url = "http://127.0.0.1:7002"
properties = ["KRL"]                 # PA owns these properties' bookings and inventory
[[timetable]]
at = "08:00"
tz = "Africa/Johannesburg"
master = "RS"
"#;

fn code(s: &str) -> ServerCode {
    ServerCode::parse(s).unwrap()
}

/// Parses `src`, expecting exactly one problem; returns it with its position.
fn one_problem(src: &str) -> Located {
    let err = Environment::parse(src).expect_err("should be refused");
    assert_eq!(err.problems.len(), 1, "{err}");
    err.problems[0].clone()
}

/// GOOD with `from` replaced by `to`.
fn edit(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from}");
    GOOD.replacen(from, to, 1)
}

#[test]
fn the_api_example_parses() {
    let env = Environment::parse(GOOD).unwrap();
    assert_eq!(env.name, "kraal");
    assert_eq!(env.initial_master, code("WB"));
    assert_eq!(env.servers.len(), 3);
    assert_eq!(
        env.server(&code("RS")).unwrap().role,
        ServerRole::Reservation
    );
    assert_eq!(
        env.server(&code("WB")).unwrap().url.as_str(),
        "http://127.0.0.1:7000/"
    );
    assert_eq!(env.property_owner("KRL"), Some(&code("PA")));
    assert_eq!(env.property_owner("XYZ"), None);
    assert!(env.may_be_master(&code("RS")));
    assert!(!env.may_be_master(&code("PA")));
    assert!(!env.may_be_master(&code("ZZ")));
    assert_eq!(env.timetable.len(), 1);
    assert_eq!(env.timetable[0].tz, chrono_tz::Africa::Johannesburg);
    assert_eq!(env.peers(&code("WB")).count(), 2);
    assert!(!format!("{env:?}").contains("long shared"), "secret leaked");
    assert_eq!(
        env.require_server(&code("PA")).unwrap().properties,
        vec!["KRL"]
    );
    assert_eq!(
        env.require_server(&code("RA")).unwrap_err().to_string(),
        "server RA is not listed in environment kraal (servers: WB, RS, PA)"
    );
}

#[test]
fn unknown_keys_are_refused_with_their_position() {
    let l = one_problem(&edit(
        "role = \"reservation\"",
        "role = \"reservation\"\nrol = \"x\"",
    ));
    assert_eq!(
        l.at,
        Position {
            line: 12,
            column: 1
        }
    );
    assert!(
        matches!(&l.problem, Problem::UnknownKey { key, section: "[[servers]]", .. } if key == "rol")
    );
    assert!(
        l.to_string()
            .starts_with("line 12, column 1: unknown key `rol`"),
        "{l}"
    );

    let l = one_problem(&format!("colour = \"blue\"\n{GOOD}"));
    assert_eq!(l.at, Position { line: 1, column: 1 });
    let l = one_problem(&edit("master = \"RS\"", "master = \"RS\"\nminute = 3"));
    assert!(matches!(
        &l.problem,
        Problem::UnknownKey {
            section: "[[timetable]]",
            ..
        }
    ));
}

#[test]
fn syntax_errors_carry_a_position() {
    let l = one_problem("name = \"kraal\"\nsecret = \n");
    assert_eq!(l.at.line, 2);
    assert!(matches!(l.problem, Problem::Syntax(_)));
}

#[test]
fn bad_values_are_refused_at_the_value() {
    /// The edited file, the line of the problem, and what the problem must be.
    type Case = (String, usize, fn(&Problem) -> bool);
    let cases: Vec<Case> = vec![
        (edit("code = \"RS\"", "code = \"rs\""), 10, |p| {
            matches!(p, Problem::BadServerCode(_))
        }),
        (
            edit("role = \"reservation\"", "role = \"office\""),
            11,
            |p| matches!(p, Problem::BadRole(_)),
        ),
        (
            edit("http://127.0.0.1:7001", "ftp://127.0.0.1:7001"),
            12,
            |p| matches!(p, Problem::BadUrl { .. }),
        ),
        (edit("http://127.0.0.1:7001", "not a url"), 12, |p| {
            matches!(p, Problem::BadUrl { .. })
        }),
        (edit("http://127.0.0.1:7001", "http://u:p@h:1"), 12, |p| {
            matches!(p, Problem::BadUrl { .. })
        }),
        (edit("\"08:00\"", "\"8:00\""), 19, |p| {
            matches!(p, Problem::BadTime(_))
        }),
        (edit("\"08:00\"", "\"24:00\""), 19, |p| {
            matches!(p, Problem::BadTime(_))
        }),
        (edit("Africa/Johannesburg", "Africa/Atlantis"), 20, |p| {
            matches!(p, Problem::BadTimeZone(_))
        }),
        (edit("[\"KRL\"]", "[\"krl\"]"), 17, |p| {
            matches!(p, Problem::BadPropertyCode(_))
        }),
        (edit("a long shared secret", "short"), 3, |p| {
            matches!(p, Problem::SecretTooShort { chars: 5, min: 16 })
        }),
        (edit("a long shared secret", ""), 3, |p| {
            matches!(p, Problem::SecretTooShort { chars: 0, .. })
        }),
        (edit("name = \"kraal\"", "name = 7"), 2, |p| {
            matches!(p, Problem::WrongType { .. })
        }),
        (edit("name = \"kraal\"", "name = \"kr aal\""), 2, |p| {
            matches!(p, Problem::BadText { .. })
        }),
    ];
    for (src, line, is) in cases {
        let l = one_problem(&src);
        assert_eq!(l.at.line, line, "{l}");
        assert!(is(&l.problem), "{l}");
    }
}

#[test]
fn missing_keys_point_at_their_table() {
    let l = one_problem(&edit("url = \"http://127.0.0.1:7001\"\n", ""));
    assert_eq!(l.at, Position { line: 9, column: 1 });
    assert_eq!(
        l.problem,
        Problem::MissingKey {
            key: "url",
            section: "[[servers]]"
        }
    );
}

#[test]
fn relations_between_entries_are_checked() {
    let dup_code = edit("code = \"RS\"", "code = \"WB\"");
    let err = Environment::parse(&dup_code).unwrap_err();
    assert!(
        err.problems.iter().any(|l| l.at.line == 10
            && l.problem
                == Problem::DuplicateServerCode {
                    code: "WB".into(),
                    first_line: 6
                }),
        "{err}"
    );

    let l = one_problem(&edit("http://127.0.0.1:7001", "HTTP://127.0.0.1:7000/"));
    assert!(
        matches!(&l.problem, Problem::DuplicateUrl { first, second, .. } if first == "WB" && second == "RS"),
        "{l}"
    );

    let two_owners = edit(
        "[[timetable]]",
        "[[servers]]\ncode = \"PB\"\nrole = \"property\"\nurl = \"http://h:1\"\nproperties = [\"A\", \"KRL\"]\n[[timetable]]",
    );
    let l = one_problem(&two_owners);
    assert_eq!(
        l.at,
        Position {
            line: 22,
            column: 20
        }
    );
    assert!(
        matches!(&l.problem, Problem::PropertyListedTwice { property, first, second } if property == "KRL" && first == "PA" && second == "PB")
    );

    let l = one_problem(&edit(
        "role = \"reservation\"",
        "role = \"reservation\"\nproperties = [\"X\"]",
    ));
    assert!(matches!(
        l.problem,
        Problem::PropertiesOnNonPropertyServer {
            role: "reservation",
            ..
        }
    ));

    let l = one_problem(&edit("initial_master = \"WB\"", "initial_master = \"XX\""));
    assert_eq!(
        l.problem,
        Problem::UnknownServer {
            key: "initial_master",
            code: "XX".into()
        }
    );
    let l = one_problem(&edit("initial_master = \"WB\"", "initial_master = \"PA\""));
    assert!(matches!(
        l.problem,
        Problem::NotEligibleForMaster {
            role: "property",
            ..
        }
    ));
    let l = one_problem(&edit("master = \"RS\"", "master = \"PA\""));
    assert_eq!(l.at.line, 21);
    assert!(matches!(
        l.problem,
        Problem::NotEligibleForMaster { key: "master", .. }
    ));
    let archive = edit("role = \"reservation\"", "role = \"archive\"");
    let err = Environment::parse(&archive).unwrap_err();
    assert!(err.problems.iter().all(|l| matches!(
        l.problem,
        Problem::NotEligibleForMaster {
            role: "archive",
            ..
        }
    )));
}

#[test]
fn two_entries_at_one_local_minute_are_refused() {
    let src = format!(
        "{GOOD}[[timetable]]\nat = \"08:00\"\ntz = \"Africa/Johannesburg\"\nmaster = \"WB\"\n"
    );
    let l = one_problem(&src);
    assert_eq!(l.at.line, 22);
    assert_eq!(
        l.problem,
        Problem::SameLocalMinute {
            at: "08:00".into(),
            tz: "Africa/Johannesburg".into(),
            first_line: 18
        }
    );
    // The same minute in another zone is another instant.
    let other_zone = src.replace(
        "tz = \"Africa/Johannesburg\"\nmaster = \"WB\"",
        "tz = \"Europe/London\"\nmaster = \"WB\"",
    );
    assert!(Environment::parse(&other_zone).is_ok());
}

#[test]
fn every_problem_is_reported_in_file_order() {
    let src = edit("code = \"RS\"", "code = \"r\"").replace("Africa/Johannesburg", "Nowhere/Land");
    let err = Environment::parse(&src).unwrap_err();
    let lines: Vec<usize> = err.problems.iter().map(|l| l.at.line).collect();
    assert_eq!(lines, vec![10, 20], "{err}");
    assert!(err.to_string().contains("2 problems"));
}

#[test]
fn inline_server_lists_are_accepted() {
    let src = r#"
name = "small"
secret = "0123456789abcdef"
initial_master = "WB"
servers = [ { code = "WB", role = "web", url = "https://wb.example.com", group = "online" } ]
"#;
    let env = Environment::parse(src).unwrap();
    assert_eq!(env.group("online").count(), 1);
}

#[test]
fn fingerprint_ignores_layout_but_not_meaning() {
    let a = Environment::parse(GOOD).unwrap();
    // Reordered servers, no comments, other whitespace, non-normalised URL spelling.
    let b_src = r#"secret="a long shared secret"
name="kraal"
initial_master="WB"
[[servers]]
url="http://127.0.0.1:7002/"
code="PA"
role="property"
properties=["KRL"]
[[servers]]
code="RS"
role="reservation"
url="HTTP://127.0.0.1:7001"
[[servers]]
code="WB"
role="web"
url="http://127.0.0.1:7000"
[[timetable]]
master="RS"
tz="Africa/Johannesburg"
at="08:00"
"#;
    let b = Environment::parse(b_src).unwrap();
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert!(a.canonical().differences(&b.canonical()).is_empty());

    let c = Environment::parse(&edit("http://127.0.0.1:7001", "http://127.0.0.1:7005")).unwrap();
    assert_ne!(a.fingerprint(), c.fingerprint());
    let diff = a.canonical().differences(&c.canonical());
    assert_eq!(diff.len(), 1);
    assert_eq!(
        diff[0].to_string(),
        "server RS: url is \"http://127.0.0.1:7001/\" here but \"http://127.0.0.1:7005/\" there"
    );

    let d = Environment::parse(&edit("master = \"RS\"", "master = \"WB\"")).unwrap();
    let diff: Vec<String> = a
        .canonical()
        .differences(&d.canonical())
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(
        diff,
        vec![
            "timetable entry 08:00 Africa/Johannesburg → RS is here but not there",
            "timetable entry 08:00 Africa/Johannesburg → WB is there but not here"
        ]
    );

    // The fingerprint round-trips as hex, as peers send it.
    let fp = a.fingerprint();
    assert_eq!(Fingerprint::parse(&fp.to_string()).unwrap(), fp);
    assert!(Fingerprint::parse("abc").is_err());
    // The secret does not count (authentication checks it).
    let e = Environment::parse(&edit("a long shared secret", "another long secret")).unwrap();
    assert_eq!(a.fingerprint(), e.fingerprint());
}

#[test]
fn oversized_files_are_refused_before_parsing() {
    let big = format!("{GOOD}#{}", "x".repeat(crate::limits::MAX_FILE_BYTES));
    assert!(matches!(
        one_problem(&big).problem,
        Problem::TooLarge { .. }
    ));
}

#[test]
fn load_reports_the_path() {
    let dir = std::env::temp_dir().join(format!("innsync-env-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("environment.toml");
    std::fs::write(
        &path,
        GOOD.replace("\"WB\"\n[[servers]]", "\"WX\"\n[[servers]]"),
    )
    .unwrap();
    let load = |p: &std::path::Path| Environment::from_file(p, std::fs::read(p).unwrap());
    let err = load(&path).unwrap_err();
    assert!(err.to_string().contains("environment.toml"), "{err}");
    std::fs::write(&path, GOOD).unwrap();
    assert!(load(&path).is_ok());
    assert!(matches!(
        Environment::from_file(&path, vec![0xff, 0xfe]),
        Err(LoadError::Read { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn wrong_shapes_are_named() {
    let l = one_problem(&edit("[\"KRL\"]", "\"KRL\""));
    assert_eq!(
        l.problem,
        Problem::WrongType {
            key: "properties".into(),
            expected: "a list of property codes",
            found: "string"
        }
    );
    let single = "name = \"k\"\nsecret = \"0123456789abcdef\"\ninitial_master = \"WB\"\n[servers]\ncode = \"WB\"\n";
    let err = Environment::parse(single).unwrap_err();
    assert!(err.problems.iter().any(|l| matches!(&l.problem, Problem::WrongType { key, found: "table", .. } if key == "servers")), "{err}");
    let nested = edit(
        "properties = [\"KRL\"]",
        "properties = [\"KRL\"]\n[servers.extra]\nx = 1",
    );
    let l = one_problem(&nested);
    assert!(
        matches!(&l.problem, Problem::UnknownKey { key, .. } if key == "extra"),
        "{l}"
    );
}

#[test]
fn too_many_servers_are_refused() {
    let mut src =
        String::from("name = \"big\"\nsecret = \"0123456789abcdef\"\ninitial_master = \"AA\"\n");
    for i in 0..=crate::limits::MAX_SERVERS {
        let a = (b'A' + (i / 26) as u8) as char;
        let b = (b'A' + (i % 26) as u8) as char;
        src.push_str(&format!(
            "[[servers]]\ncode = \"{a}{b}\"\nrole = \"web\"\nurl = \"http://h:{}\"\n",
            1000 + i
        ));
    }
    let err = Environment::parse(&src).unwrap_err();
    assert!(
        err.problems.iter().any(|l| matches!(
            l.problem,
            Problem::TooMany {
                what: "servers",
                ..
            }
        )),
        "{err}"
    );
}

const RULE: &str = r#"
[[allotment_rules]]
name = "web-keeps-2"
property = "KRL"
room_types = ["DLX"]
holder = "env"
units = 2
days_ahead = 180
release_days = 3
"#;

#[test]
fn allotment_rules_parse_with_defaults() {
    let src = format!("{GOOD}{RULE}[[allotment_rules]]\nname = \"rs-float\"\nproperty = \"KRL\"\nholder = \"RS\"\nunits = 1\n");
    let env = Environment::parse(&src).unwrap();
    assert_eq!(env.allotment_rules.len(), 2);
    let r = &env.allotment_rules[0];
    assert_eq!(
        (r.property.as_str(), r.units, r.days_ahead, r.release_days),
        ("KRL", 2, 180, 3)
    );
    assert_eq!(r.holder, innsync_core::Authority::Env);
    assert_eq!(r.room_types, vec!["DLX"]);
    let f = &env.allotment_rules[1];
    assert_eq!(
        (f.days_ahead, f.release_days, f.room_types.len()),
        (DEFAULT_DAYS_AHEAD, 0, 0)
    );
    assert_eq!(f.holder, innsync_core::Authority::Server(code("RS")));
    // Rules are part of the file's meaning.
    assert_ne!(
        env.fingerprint(),
        Environment::parse(GOOD).unwrap().fingerprint()
    );
    let other = Environment::parse(&src.replace("units = 2", "units = 3")).unwrap();
    assert_eq!(
        env.differences(&other)
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>(),
        vec!["allotment rule \"web-keeps-2\" differs between here and there"]
    );
}

#[test]
fn bad_allotment_rules_are_refused_at_their_line() {
    let rule_line = GOOD.lines().count() + 1;
    for (from, to, expect, line_offset) in [
        (
            "holder = \"env\"",
            "holder = \"ZZ\"",
            "not in [[servers]]",
            5,
        ),
        ("holder = \"env\"", "holder = \"PA\"", "owns KRL", 5),
        (
            "holder = \"env\"",
            "holder = \"pa\"",
            "`holder` must be env",
            5,
        ),
        ("units = 2", "units = 0", "from 1 to 10000", 6),
        ("units = 2", "units = \"2\"", "a whole number", 6),
        (
            "release_days = 3",
            "release_days = 180",
            "must be less than",
            7,
        ),
        (
            "name = \"web-keeps-2\"",
            "nom = \"x\"",
            "unknown key `nom`",
            2,
        ),
    ] {
        let src = format!("{GOOD}{}", RULE.replacen(from, to, 1));
        let err = Environment::parse(&src).expect_err(to);
        let hit = err
            .problems
            .iter()
            .find(|l| l.problem.to_string().contains(expect))
            .unwrap_or_else(|| panic!("{to}: {err}"));
        assert_eq!(hit.at.line, rule_line + line_offset, "{to}: {err}");
    }
    // Two rules topping up one holder on one room type would each give it units.
    let twice = format!("{GOOD}{RULE}{}", RULE.replace("web-keeps-2", "again"));
    let err = Environment::parse(&twice).unwrap_err();
    assert!(
        err.to_string().contains("already keeps KRL units for env"),
        "{err}"
    );
    let same_name = format!("{GOOD}{RULE}{}", RULE.replace("\"env\"", "\"RS\""));
    assert!(Environment::parse(&same_name)
        .unwrap_err()
        .to_string()
        .contains("declared twice"));
}

#[test]
fn a_rotating_secret_is_checked_like_the_secret_and_does_not_change_the_fingerprint() {
    let a = Environment::parse(GOOD).unwrap();
    assert!(a.rotating_secret.is_none());
    let with = edit(
        "secret = \"a long shared secret\"",
        "secret = \"a long shared secret\"\nrotating_secret = \"the next long secret\"",
    );
    let b = Environment::parse(&with).unwrap();
    assert_eq!(
        b.rotating_secret.as_ref().map(Secret::expose),
        Some("the next long secret")
    );
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert!(!format!("{b:?}").contains("next long"), "secret leaked");
    let short = edit(
        "secret = \"a long shared secret\"",
        "secret = \"a long shared secret\"\nrotating_secret = \"short\"",
    );
    assert!(Environment::parse(&short).is_err());
}
