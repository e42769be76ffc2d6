//! A copy's fields from its source record (`[rules.map]`): every field not dropped, renamed
//! where asked, then constants, then computed fields. The environment file is refused at start
//! when a mapping names unknown fields or loses a required field of the target kind; `apply`
//! still refuses a copy whose required field came out empty for one record.

use super::expr::Expr;
use super::schema;
use chrono::NaiveDate;
use innsync_core::RecordKind;
use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, BTreeSet};

/// How a copy's fields are made from the source record's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// The kind of record the target makes (the rule's kind unless `to_kind` says otherwise).
    pub to_kind: RecordKind,
    /// Source field → target field.
    pub rename: BTreeMap<String, String>,
    /// Source fields not copied.
    pub drop: BTreeSet<String>,
    /// Target field → a constant (a string, whole number or bool).
    pub set: BTreeMap<String, Json>,
    /// Target field → an expression over the source record.
    pub compute: BTreeMap<String, Expr>,
}

/// Why one record could not be mapped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// The record's JSON is not an object.
    #[error("the record is not a JSON object")]
    NotAnObject,
    /// A field the target kind requires came out absent or null for this record.
    #[error("the copy lacks required field `{field}` of {}", .kind.as_str())]
    MissingRequired {
        /// The field.
        field: &'static str,
        /// The target kind.
        kind: RecordKind,
    },
}

impl Mapping {
    /// The target record's fields from a source record's JSON: every field of the source not
    /// dropped (renamed where asked), then `set`, then `compute` (evaluated over the source);
    /// never the source's id, owner, version, kind or provenance — the copy gets its own.
    pub fn apply(&self, record: &Json, today: NaiveDate) -> Result<Map<String, Json>, MapError> {
        let source = record.as_object().ok_or(MapError::NotAnObject)?;
        let mut out = Map::new();
        for (key, value) in source {
            if schema::is_meta(key) || self.drop.contains(key) {
                continue;
            }
            let to = self.rename.get(key).unwrap_or(key);
            out.insert(to.clone(), value.clone());
        }
        for (key, value) in &self.set {
            out.insert(key.clone(), value.clone());
        }
        for (key, expr) in &self.compute {
            out.insert(key.clone(), expr.eval(record, today).to_json());
        }
        if let Some(missing) =
            schema::required(self.to_kind).find(|f| out.get(f.name).is_none_or(Json::is_null))
        {
            return Err(MapError::MissingRequired {
                field: missing.name,
                kind: self.to_kind,
            });
        }
        Ok(out)
    }

    /// How many entries it has, for [`crate::limits::MAX_MAP_ENTRIES`].
    pub fn entries(&self) -> usize {
        self.rename.len() + self.drop.len() + self.set.len() + self.compute.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
    }

    fn guest() -> Json {
        json!({"kind": "guest", "id": "WB-000007", "owner": "env", "version": 3,
               "name": "  ann smith ", "email": "ann@example.com", "phone": "123",
               "provenance": {"from": "RS"}})
    }

    fn mapping() -> Mapping {
        Mapping {
            to_kind: RecordKind::Guest,
            rename: BTreeMap::from([("email".to_string(), "phone".to_string())]),
            drop: BTreeSet::from(["phone".to_string()]),
            set: BTreeMap::from([("email".to_string(), json!("kraal@example.com"))]),
            compute: BTreeMap::from([(
                "name".to_string(),
                Expr::parse("upper(trim(name))").unwrap(),
            )]),
        }
    }

    #[test]
    fn rename_drop_set_compute_in_that_order() {
        let out = mapping().apply(&guest(), today()).unwrap();
        assert_eq!(
            Json::Object(out),
            json!({"name": "ANN SMITH", "phone": "ann@example.com", "email": "kraal@example.com"})
        );
    }

    #[test]
    fn identity_and_provenance_are_never_copied() {
        let plain = Mapping {
            to_kind: RecordKind::Guest,
            rename: BTreeMap::new(),
            drop: BTreeSet::new(),
            set: BTreeMap::new(),
            compute: BTreeMap::new(),
        };
        let out = plain.apply(&guest(), today()).unwrap();
        for k in schema::META_KEYS {
            assert!(!out.contains_key(*k), "{k}");
        }
        assert_eq!(out.len(), 3);
        assert_eq!(plain.entries(), 0);
        assert_eq!(mapping().entries(), 4);
    }

    #[test]
    fn a_required_field_that_comes_out_empty_is_refused() {
        let mut m = mapping();
        m.compute
            .insert("name".into(), Expr::parse("upper(nick)").unwrap());
        assert_eq!(
            m.apply(&guest(), today()),
            Err(MapError::MissingRequired {
                field: "name",
                kind: RecordKind::Guest
            })
        );
        let mut dropped = mapping();
        dropped.compute.clear();
        dropped.drop.insert("name".into());
        assert!(dropped.apply(&guest(), today()).is_err());
        assert_eq!(
            mapping().apply(&json!([1]), today()),
            Err(MapError::NotAnObject)
        );
        assert_eq!(
            MapError::MissingRequired {
                field: "name",
                kind: RecordKind::Guest
            }
            .to_string(),
            "the copy lacks required field `name` of guest"
        );
    }

    #[test]
    fn computed_dates_are_written_as_dates() {
        let m = Mapping {
            to_kind: RecordKind::Note,
            rename: BTreeMap::from([("id".to_string(), "booking".to_string())]),
            drop: BTreeSet::new(),
            set: BTreeMap::from([("text".to_string(), json!("moved"))]),
            compute: BTreeMap::from([("at".to_string(), Expr::parse("today + 1d").unwrap())]),
        };
        // `id` is identity: even renamed, it is not copied, so `booking` is missing.
        assert!(m.apply(&guest(), today()).is_err());
        let mut with_booking = guest();
        with_booking["booking"] = json!("WB-000001");
        let out = m.apply(&with_booking, today()).unwrap();
        assert_eq!(out["at"], json!("2026-03-02"));
    }
}
