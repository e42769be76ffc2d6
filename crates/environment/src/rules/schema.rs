//! Every record kind's fields as they appear in a record's JSON (the serde form of
//! [`innsync_core::Record`]), so that a rule naming a field that does not exist, comparing a date
//! with a number, or mapping a copy that would lack a required field is refused at start instead
//! of silently never matching. A unit test serialises one record of every kind and checks that
//! this table names exactly its keys.

use innsync_core::RecordKind;

/// What a field holds, as far as rules care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// Free text or a code.
    Text,
    /// A whole number.
    Integer,
    /// true or false.
    Bool,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// An RFC 3339 instant.
    DateTime,
    /// `env` or `server:XX`.
    Authority,
    /// A record id such as `WB-000123`.
    Id,
    /// A list (periods, stays, roles…): compared whole, never entered.
    List,
    /// A nested object, whose fields are reached with dots (`price.amount`).
    Object(&'static [Field]),
}

impl FieldType {
    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Integer => "integer",
            Self::Bool => "bool",
            Self::Date => "date",
            Self::DateTime => "datetime",
            Self::Authority => "authority",
            Self::Id => "id",
            Self::List => "list",
            Self::Object(_) => "object",
        }
    }
}

/// One field of a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Its key in the record's JSON.
    pub name: &'static str,
    /// What it holds.
    pub ty: FieldType,
    /// Whether a copy of this kind must carry it to be imported (what creating one by the API
    /// requires).
    pub required: bool,
    /// For a text field with a fixed set of values (a booking's `status`), those values: a rule
    /// comparing it with anything else would never match.
    pub values: &'static [&'static str],
}

const fn f(name: &'static str, ty: FieldType) -> Field {
    Field {
        name,
        ty,
        required: false,
        values: &[],
    }
}

const fn req(name: &'static str, ty: FieldType) -> Field {
    Field {
        name,
        ty,
        required: true,
        values: &[],
    }
}

use FieldType::{Authority as Auth, Bool, Date, DateTime, Id, Integer, List, Object, Text};

/// The fields every record carries: identity and authority. A copy never takes them from its
/// source (it gets its own), see [`is_meta`].
pub const META: &[Field] = &[
    f("id", Id),
    f("owner", Auth),
    f("version", Integer),
    f("kind", Text),
];

/// Keys of a record's JSON that describe the record rather than its content: a copy gets its own
/// (`provenance` is where a copy records where it came from, written by the receiving server).
pub const META_KEYS: &[&str] = &["id", "owner", "version", "kind", "provenance"];

/// Whether `key` is identity or provenance, never copied by a mapping.
pub fn is_meta(key: &str) -> bool {
    META_KEYS.contains(&key)
}

/// The statuses of a booking, as the API names them.
pub const BOOKING_STATUSES: &[&str] = &[
    "provisional",
    "confirmed",
    "cancelled",
    "checked_in",
    "checked_out",
    "no_show",
];

const PROPERTY: &[Field] = &[
    req("code", Text),
    req("name", Text),
    req("timezone", Text),
    f("currency", Text),
];
const ROOM_TYPE: &[Field] = &[
    req("property", Text),
    req("code", Text),
    req("name", Text),
    req("max_occupancy", Integer),
];
const ROOM: &[Field] = &[
    req("property", Text),
    req("number", Text),
    req("room_type", Text),
    f("out_of_order", List),
    f("housekeeping", Text),
    f("message_waiting", Bool),
];
const RATE_PLAN: &[Field] = &[
    req("property", Text),
    req("room_type", Text),
    req("currency", Text),
    f("periods", List),
];
const GUEST: &[Field] = &[req("name", Text), f("email", Text), f("phone", Text)];
const MONEY: &[Field] = &[f("amount", Integer), f("currency", Text)];
const BOOKING: &[Field] = &[
    req("property", Text),
    req("room_type", Text),
    req("arrival", Date),
    req("departure", Date),
    req("units", Integer),
    f("guest_id", Id),
    req("guest_name", Text),
    Field {
        name: "status",
        ty: Text,
        required: false,
        values: BOOKING_STATUSES,
    },
    f("hold_until", DateTime),
    f("holder", Auth),
    f("stays", List),
    f("price", Object(MONEY)),
    f("notes", Text),
    f("cancel_reason", Text),
    f("created_on", Text),
    f("created_at", DateTime),
    f("updated_at", DateTime),
];
const USER: &[Field] = &[
    req("username", Text),
    req("password_hash", Text),
    f("roles", List),
    f("servers", List),
    f("disabled", Bool),
];
const FENCE: &[Field] = &[f("server", Text), f("epoch", Integer), f("seq", Integer)];
const MASTER_TOKEN: &[Field] = &[
    req("server", Text),
    req("epoch", Integer),
    f("granted_by", Text),
    f("reason", Text),
    f("fence", Object(FENCE)),
];
const NOTE: &[Field] = &[
    req("booking", Id),
    req("text", Text),
    f("author", Text),
    f("at", DateTime),
];
const ALLOTMENT_GRANT: &[Field] = &[
    req("property", Text),
    req("room_type", Text),
    req("from", Date),
    req("to", Date),
    req("units", Integer),
    req("giver", Auth),
    req("receiver", Auth),
    f("reason", Text),
    f("at", DateTime),
];

/// The kinds a distribution rule may name. Users and the master token are shared data every
/// server receives by replication, and allotment grants move by the allotment rules.
pub const RULE_KINDS: &[RecordKind] = &[
    RecordKind::Property,
    RecordKind::RoomType,
    RecordKind::Room,
    RecordKind::RatePlan,
    RecordKind::Guest,
    RecordKind::Booking,
    RecordKind::Note,
];

/// Every kind, for parsing names.
pub const ALL_KINDS: &[RecordKind] = &[
    RecordKind::Property,
    RecordKind::RoomType,
    RecordKind::Room,
    RecordKind::RatePlan,
    RecordKind::Guest,
    RecordKind::Booking,
    RecordKind::User,
    RecordKind::MasterToken,
    RecordKind::Note,
    RecordKind::AllotmentGrant,
];

/// The kind named `name` (`booking`, `room_type`…).
pub fn kind_named(name: &str) -> Option<RecordKind> {
    ALL_KINDS.iter().copied().find(|k| k.as_str() == name)
}

/// A kind's own fields (without [`META`]), in the order of its record's JSON.
pub fn own_fields(kind: RecordKind) -> &'static [Field] {
    match kind {
        RecordKind::Property => PROPERTY,
        RecordKind::RoomType => ROOM_TYPE,
        RecordKind::Room => ROOM,
        RecordKind::RatePlan => RATE_PLAN,
        RecordKind::Guest => GUEST,
        RecordKind::Booking => BOOKING,
        RecordKind::User => USER,
        RecordKind::MasterToken => MASTER_TOKEN,
        RecordKind::Note => NOTE,
        RecordKind::AllotmentGrant => ALLOTMENT_GRANT,
        // Deletions and rate plans are not kinds rules act on, nor is the ledger (it
        // replicates whole).
        RecordKind::Tombstone
        | RecordKind::PricingPlan
        | RecordKind::FolioEntry
        | RecordKind::ChargeCatalog
        | RecordKind::Invoice
        | RecordKind::BusinessDay
        | RecordKind::Agent => &[],
    }
}

/// A top-level field of `kind`, [`META`] included.
pub fn top_field(kind: RecordKind, name: &str) -> Option<&'static Field> {
    META.iter()
        .chain(own_fields(kind))
        .find(|fld| fld.name == name)
}

/// The field a dotted path names (`price.amount`), if the kind has it.
pub fn field(kind: RecordKind, path: &[impl AsRef<str>]) -> Option<&'static Field> {
    let (first, rest) = path.split_first()?;
    let mut fld = top_field(kind, first.as_ref())?;
    for part in rest {
        let FieldType::Object(inner) = fld.ty else {
            return None;
        };
        fld = inner.iter().find(|i| i.name == part.as_ref())?;
    }
    Some(fld)
}

/// The names a kind's records carry, for "its fields:" in messages (objects with their dotted
/// fields).
pub fn field_list(kind: RecordKind) -> String {
    let mut names = Vec::new();
    for fld in META.iter().chain(own_fields(kind)) {
        names.push(fld.name.to_string());
        if let FieldType::Object(inner) = fld.ty {
            names.extend(inner.iter().map(|i| format!("{}.{}", fld.name, i.name)));
        }
    }
    names.join(", ")
}

/// The fields a copy of `kind` must carry to be imported.
pub fn required(kind: RecordKind) -> impl Iterator<Item = &'static Field> {
    own_fields(kind).iter().filter(|fld| fld.required)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};
    use innsync_core::record::*;
    use innsync_core::{Authority, RecordId, ServerCode};

    fn meta() -> Meta {
        Meta::new(RecordId::parse("WB-000001").unwrap(), Authority::Env, 1)
    }

    /// One record of every kind, with every optional value present.
    fn samples() -> Vec<Record> {
        let d = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let wb = ServerCode::parse("WB").unwrap();
        vec![
            Record::Property(Property {
                meta: meta(),
                code: "KRL".into(),
                name: "Kraal".into(),
                timezone: "Africa/Johannesburg".into(),
                currency: Some("ZAR".into()),
            }),
            Record::RoomType(RoomType {
                meta: meta(),
                property: "KRL".into(),
                code: "DLX".into(),
                name: "Deluxe".into(),
                max_occupancy: 2,
            }),
            Record::Room(Room {
                meta: meta(),
                property: "KRL".into(),
                number: "1".into(),
                room_type: "DLX".into(),
                out_of_order: vec![],
                housekeeping: Some("clean".into()),
                message_waiting: false,
            }),
            Record::RatePlan(RatePlan {
                meta: meta(),
                property: "KRL".into(),
                room_type: "DLX".into(),
                currency: "ZAR".into(),
                periods: vec![],
            }),
            Record::Guest(Guest::new(
                meta(),
                "Ann".into(),
                Some("a@b".into()),
                Some("1".into()),
            )),
            Record::Booking(Booking {
                meta: meta(),
                property: "KRL".into(),
                room_type: "DLX".into(),
                arrival: d,
                departure: d,
                units: 1,
                guest_id: RecordId::parse("WB-000002").unwrap(),
                guest_name: "Ann".into(),
                reservation_number: None,
                status: BookingStatus::Confirmed,
                hold_until: Some(t),
                holder: Authority::Env,
                stays: vec![],
                price: Some(Money {
                    amount: 1,
                    currency: "ZAR".into(),
                }),
                pricing: None,
                notes: Some("n".into()),
                reservation: None,
                agent: None,
                cancel_reason: Some("r".into()),
                created_on: wb.clone(),
                created_at: t,
                updated_at: t,
            }),
            Record::User(User {
                meta: meta(),
                username: "u".into(),
                password_hash: "h".into(),
                roles: vec![],
                servers: vec![],
                disabled: false,
            }),
            Record::MasterToken(MasterToken {
                meta: meta(),
                server: wb.clone(),
                epoch: 1,
                granted_by: wb.clone(),
                reason: "r".into(),
                fence: Some(Fence {
                    server: wb,
                    epoch: 1,
                    seq: 1,
                }),
            }),
            Record::Note(Note {
                meta: meta(),
                booking: RecordId::parse("WB-000003").unwrap(),
                text: "t".into(),
                author: "a".into(),
                at: t,
            }),
            Record::AllotmentGrant(AllotmentGrant {
                meta: meta(),
                property: "KRL".into(),
                room_type: "DLX".into(),
                from: d,
                to: d,
                units: 1,
                giver: Authority::Env,
                receiver: Authority::Env,
                reason: "r".into(),
                at: t,
            }),
        ]
    }

    #[test]
    fn the_table_names_exactly_the_keys_of_every_kind() {
        let records = samples();
        assert_eq!(records.len(), ALL_KINDS.len());
        for r in records {
            let json = serde_json::to_value(&r).unwrap();
            let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(|k| &**k).collect();
            keys.sort_unstable();
            let mut table: Vec<&str> = META
                .iter()
                .chain(own_fields(r.kind()))
                .map(|f| f.name)
                .collect();
            table.sort_unstable();
            assert_eq!(keys, table, "{:?}", r.kind());
            // Nested objects too.
            for fld in own_fields(r.kind()) {
                if let FieldType::Object(inner) = fld.ty {
                    let mut keys: Vec<&str> = json[fld.name]
                        .as_object()
                        .unwrap()
                        .keys()
                        .map(|k| &**k)
                        .collect();
                    keys.sort_unstable();
                    let mut names: Vec<&str> = inner.iter().map(|i| i.name).collect();
                    names.sort_unstable();
                    assert_eq!(keys, names, "{}", fld.name);
                }
            }
        }
    }

    #[test]
    fn statuses_are_the_cores() {
        let core: Vec<&str> = BookingStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(core, BOOKING_STATUSES);
    }

    #[test]
    fn kinds_and_paths_are_found() {
        for k in ALL_KINDS {
            assert_eq!(kind_named(k.as_str()), Some(*k));
        }
        assert_eq!(kind_named("users"), None);
        let b = RecordKind::Booking;
        assert_eq!(field(b, &["price", "amount"]).unwrap().ty, Integer);
        assert!(field(b, &["price", "cents"]).is_none());
        assert!(field(b, &["units", "x"]).is_none());
        assert!(field(b, &["id"]).is_some());
        let empty: [&str; 0] = [];
        assert!(field(b, &empty).is_none());
        assert!(field_list(b).contains("price.currency"));
        let guest: Vec<&str> = required(RecordKind::Guest).map(|f| f.name).collect();
        assert_eq!(guest, ["name"]);
        // No field is named like a keyword of the expression language.
        for k in ALL_KINDS {
            for fld in META.iter().chain(own_fields(*k)) {
                assert!(
                    !crate::rules::expr::KEYWORDS.contains(&fld.name),
                    "{}",
                    fld.name
                );
            }
        }
    }
}
