//! Every date a record carries, checked against what the store keeps: the replicated change
//! decoder's half of the one date horizon. A peer (or a corrupted log) cannot make this server
//! store a night it could not read back; such a change is quarantined, never applied.

use crate::dates::storable;
use crate::record::Record;

/// Refuses a record with a date outside [`crate::dates::FIRST_NIGHT`] ..
/// [`crate::dates::LAST_MORNING`], naming the field.
pub fn check_storable(rec: &Record) -> Result<(), String> {
    match rec {
        Record::Booking(b) => {
            storable("arrival", b.arrival)?;
            storable("departure", b.departure)?;
            for s in &b.stays {
                storable("stay from", s.from)?;
                storable("stay to", s.to)?;
            }
        }
        Record::Room(r) => {
            for o in &r.out_of_order {
                storable("out of order from", o.from)?;
                storable("out of order to", o.to)?;
            }
        }
        Record::RatePlan(p) => {
            for period in &p.periods {
                storable("rate from", period.from)?;
                storable("rate to", period.to)?;
            }
        }
        Record::PricingPlan(p) => {
            for season in &p.spec.seasons {
                storable("season from", season.from)?;
                storable("season to", season.to)?;
            }
            for r in &p.spec.restrictions {
                storable("restriction from", r.from)?;
                storable("restriction to", r.to)?;
            }
        }
        Record::FolioEntry(e) => {
            storable("business date", e.business_date)?;
            if let Some(n) = e.night {
                storable("night", n)?;
            }
        }
        Record::BusinessDay(d) => {
            storable("business date", d.date)?;
            if let Some(n) = d.last_audited {
                storable("last audited", n)?;
            }
        }
        Record::AllotmentGrant(g) => {
            storable("grant from", g.from)?;
            storable("grant to", g.to)?;
        }
        Record::Property(_)
        | Record::Agent(_)
        | Record::RoomType(_)
        | Record::Guest(_)
        | Record::User(_)
        | Record::MasterToken(_)
        | Record::Note(_)
        | Record::Tombstone(_)
        | Record::ChargeCatalog(_)
        | Record::Invoice(_) => {}
    }
    Ok(())
}
