//! The model answers the core's reads ([`StateView`]) from its maps, as the store answers them
//! from SQL: the same questions, so the same decisions.

use super::MemState;
use crate::allotment::HolderFacts;
use crate::dates::Nights;
use crate::ids::{Authority, RecordId};
use crate::record::{
    AllotmentGrant, Booking, Guest, Property, RatePlan, Record, RecordKind, Room, RoomType, User,
};
use crate::state_view::{StateView, ViewResult};
use crate::stock::{NightStock, Occupancy};
use chrono::{DateTime, NaiveDate, Utc};

fn typed<T>(r: Option<&Record>, pick: impl Fn(&Record) -> Option<&T>) -> Option<T>
where
    T: Clone,
{
    r.and_then(pick).cloned()
}

impl StateView for MemState {
    fn property(&self, code: &str) -> ViewResult<Option<Property>> {
        Ok(typed(self.get(RecordKind::Property, code), |r| match r {
            Record::Property(p) => Some(p),
            _ => None,
        }))
    }

    fn room_type(&self, property: &str, code: &str) -> ViewResult<Option<RoomType>> {
        let key = format!("{property}/{code}");
        Ok(typed(self.get(RecordKind::RoomType, &key), |r| match r {
            Record::RoomType(t) => Some(t),
            _ => None,
        }))
    }

    fn room(&self, property: &str, number: &str) -> ViewResult<Option<Room>> {
        let key = format!("{property}/{number}");
        Ok(typed(self.get(RecordKind::Room, &key), |r| match r {
            Record::Room(t) => Some(t),
            _ => None,
        }))
    }

    fn rate_plan(&self, property: &str, room_type: &str) -> ViewResult<Option<RatePlan>> {
        let key = format!("{property}/{room_type}");
        Ok(typed(self.get(RecordKind::RatePlan, &key), |r| match r {
            Record::RatePlan(t) => Some(t),
            _ => None,
        }))
    }

    fn guest(&self, id: &RecordId) -> ViewResult<Option<Guest>> {
        Ok(typed(
            self.get(RecordKind::Guest, id.as_str()),
            |r| match r {
                Record::Guest(t) => Some(t),
                _ => None,
            },
        ))
    }

    fn booking(&self, id: &RecordId) -> ViewResult<Option<Booking>> {
        Ok(typed(
            self.get(RecordKind::Booking, id.as_str()),
            |r| match r {
                Record::Booking(t) => Some(t),
                _ => None,
            },
        ))
    }

    fn folio_entries(&self, booking: &RecordId) -> ViewResult<Vec<crate::ledger::FolioEntry>> {
        let prefix = format!("{booking}/");
        Ok(self
            .records
            .range((RecordKind::FolioEntry, prefix.clone())..)
            .take_while(|((k, key), _)| *k == RecordKind::FolioEntry && key.starts_with(&prefix))
            .filter_map(|(_, r)| match r {
                Record::FolioEntry(e) => Some(e.clone()),
                _ => None,
            })
            .collect())
    }

    fn invoices_of(&self, booking: &RecordId) -> ViewResult<Vec<crate::ledger::Invoice>> {
        Ok(self
            .records
            .range((RecordKind::Invoice, String::new())..)
            .take_while(|((k, _), _)| *k == RecordKind::Invoice)
            .filter_map(|(_, r)| match r {
                Record::Invoice(i) if &i.booking == booking => Some(i.clone()),
                _ => None,
            })
            .collect())
    }

    fn last_invoice_seq(&self, series: &crate::ids::ServerCode, year: i32) -> ViewResult<u32> {
        Ok(self
            .records
            .values()
            .filter_map(|r| match r {
                Record::Invoice(i) if &i.series == series && i.year == year => Some(i.seq),
                _ => None,
            })
            .max()
            .unwrap_or(0))
    }

    fn bookings_staying(
        &self,
        property: &str,
        night: NaiveDate,
        limit: usize,
    ) -> ViewResult<Vec<Booking>> {
        Ok(self
            .bookings()
            .filter(|b| b.property == property && b.arrival <= night && night < b.departure)
            .take(limit)
            .cloned()
            .collect())
    }

    fn user(&self, username: &str) -> ViewResult<Option<User>> {
        Ok(typed(self.get(RecordKind::User, username), |r| match r {
            Record::User(t) => Some(t),
            _ => None,
        }))
    }

    fn master_token(&self) -> ViewResult<Option<crate::record::MasterToken>> {
        Ok(typed(
            self.get(RecordKind::MasterToken, "master"),
            |r| match r {
                Record::MasterToken(t) => Some(t),
                _ => None,
            },
        ))
    }

    fn night_stock(
        &self,
        property: &str,
        room_type: &str,
        nights: Nights,
    ) -> ViewResult<Vec<NightStock>> {
        Ok(nights
            .iter()
            .map(|night| {
                let p = property.to_string();
                let t = room_type.to_string();
                let sold: i64 = self
                    .sold
                    .range((p.clone(), t.clone(), night, Authority::Env)..)
                    .take_while(|((kp, kt, kn, _), _)| *kp == p && *kt == t && *kn == night)
                    .map(|(_, v)| *v)
                    .sum();
                NightStock {
                    night,
                    in_service: u32::try_from(self.in_service(property, room_type, night))
                        .unwrap_or(0),
                    sold: u32::try_from(sold).unwrap_or(u32::MAX),
                }
            })
            .collect())
    }

    fn room_occupancy(
        &self,
        property: &str,
        room: &str,
        nights: Nights,
    ) -> ViewResult<Vec<Occupancy>> {
        Ok(nights
            .iter()
            .filter_map(|night| {
                self.room_nights
                    .get(&(property.to_string(), room.to_string(), night))
                    .map(|b| Occupancy {
                        night,
                        booking: b.clone(),
                    })
            })
            .collect())
    }

    fn holder_facts(
        &self,
        property: &str,
        room_type: &str,
        holder: &Authority,
        nights: Nights,
    ) -> ViewResult<Vec<HolderFacts>> {
        Ok(self.facts(property, room_type, holder, nights))
    }

    fn allotment_grant(&self, id: &RecordId) -> ViewResult<Option<AllotmentGrant>> {
        Ok(typed(
            self.get(RecordKind::AllotmentGrant, id.as_str()),
            |r| match r {
                Record::AllotmentGrant(g) => Some(g),
                _ => None,
            },
        ))
    }

    fn record(&self, kind: RecordKind, key: &str) -> ViewResult<Option<Record>> {
        Ok(self.get(kind, key).cloned())
    }

    fn find_copy(
        &self,
        kind: RecordKind,
        from_environment: Option<&str>,
        from_id: &RecordId,
    ) -> ViewResult<Option<Record>> {
        Ok(self
            .records
            .range((kind, String::new())..)
            .take_while(|((k, _), _)| *k == kind)
            .map(|(_, r)| r)
            .find(|r| {
                r.meta().provenance.as_ref().is_some_and(|p| {
                    p.from_environment.as_deref() == from_environment && &p.from_id == from_id
                })
            })
            .cloned())
    }

    fn find_by_fields(
        &self,
        kind: RecordKind,
        fields: &[(String, serde_json::Value)],
    ) -> ViewResult<Option<Record>> {
        Ok(self
            .records
            .range((kind, String::new())..)
            .take_while(|((k, _), _)| *k == kind)
            .map(|(_, r)| r)
            .find(|r| {
                let v = serde_json::to_value(r).unwrap_or_default();
                fields.iter().all(|(f, want)| v.get(f) == Some(want))
            })
            .cloned())
    }

    fn guest_in_use(&self, id: &RecordId) -> ViewResult<bool> {
        Ok(self.bookings().any(|b| &b.guest_id == id))
    }

    fn guest_bookings(&self, guest: &RecordId, limit: usize) -> ViewResult<Vec<RecordId>> {
        let mut ids: Vec<RecordId> = self
            .bookings()
            .filter(|b| &b.guest_id == guest)
            .map(|b| b.meta.id.clone())
            .collect();
        ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        ids.truncate(limit);
        Ok(ids)
    }

    fn reservation_lines(&self, reservation: &RecordId, limit: usize) -> ViewResult<Vec<RecordId>> {
        let mut ids: Vec<RecordId> = self
            .bookings()
            .filter(|b| b.reservation.as_ref() == Some(reservation))
            .map(|b| b.meta.id.clone())
            .collect();
        ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        ids.truncate(limit);
        Ok(ids)
    }

    fn room_type_codes(&self, property: &str) -> ViewResult<Vec<String>> {
        Ok(self
            .records
            .values()
            .filter_map(|r| match r {
                Record::RoomType(t) if t.property == property => Some(t.code.clone()),
                _ => None,
            })
            .collect())
    }

    fn lapsed_holds(&self, now: DateTime<Utc>, limit: usize) -> ViewResult<Vec<RecordId>> {
        Ok(self
            .bookings()
            .filter(|b| {
                b.status == crate::record::BookingStatus::Provisional
                    && b.hold_until.is_some_and(|h| h <= now)
            })
            .map(|b| b.meta.id.clone())
            .take(limit)
            .collect())
    }
}
