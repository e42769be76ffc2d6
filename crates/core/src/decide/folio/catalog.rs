//! The charge catalogue of a property: its tax codes (basis points, inclusive or exclusive) and
//! its items with prices, written whole where the property's records are written.

use super::entries::{catalog_of, invalid, property_of};
use crate::decide::{bumped, fresh, validate, Ctx, Decision};
use crate::error::DomainError;
use crate::ids::IdSource;
use crate::ledger::{
    ChargeCatalog, ChargeItem, TaxCode, MAX_CATALOG_ITEMS, MAX_ENTRY_AMOUNT, MAX_TAX_BP,
};
use crate::record::Record;
use crate::view::StateView;
use std::collections::BTreeSet;

/// Decides `SetChargeCatalog`: the property's taxes and items, replaced whole.
pub(in crate::decide) fn catalog(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    property: &str,
    taxes: &[TaxCode],
    items: &[ChargeItem],
) -> Result<Decision, DomainError> {
    let p = property_of(view, property)?;
    let owner = ctx.property_authority(&p.code);
    ctx.ensure_writable(&owner)?;
    if taxes.len() > MAX_CATALOG_ITEMS || items.len() > MAX_CATALOG_ITEMS {
        return Err(invalid(format!(
            "a catalogue holds at most {MAX_CATALOG_ITEMS} items and {MAX_CATALOG_ITEMS} tax codes"
        )));
    }
    let mut tax_codes = BTreeSet::new();
    for t in taxes {
        validate::code("tax code", &t.code)?;
        validate::name("tax name", &t.name)?;
        if t.rate_bp > MAX_TAX_BP {
            return Err(invalid(format!(
                "tax {} rate is {} basis points; at most {MAX_TAX_BP}",
                t.code, t.rate_bp
            )));
        }
        if !tax_codes.insert(t.code.as_str()) {
            return Err(invalid(format!("tax code {} appears twice", t.code)));
        }
    }
    let mut item_codes = BTreeSet::new();
    for i in items {
        validate::code("item code", &i.code)?;
        validate::name("item name", &i.name)?;
        validate::code("item group", &i.group.to_ascii_uppercase())?;
        if let Some(pr) = i.price {
            if !(0..=MAX_ENTRY_AMOUNT).contains(&pr) {
                return Err(invalid(format!(
                    "item {} price must be between 0 and {MAX_ENTRY_AMOUNT}",
                    i.code
                )));
            }
        }
        if let Some(t) = &i.tax {
            if !tax_codes.contains(t.as_str()) {
                return Err(invalid(format!(
                    "item {} names tax {t}, which the catalogue does not define",
                    i.code
                )));
            }
        }
        if !item_codes.insert(i.code.as_str()) {
            return Err(invalid(format!("item code {} appears twice", i.code)));
        }
    }
    let meta = match catalog_of(view, &p.code)? {
        Some(old) => {
            let mut m = bumped(&old.meta);
            m.owner = owner;
            m
        }
        None => fresh(ids, owner),
    };
    let cat = ChargeCatalog {
        meta,
        property: p.code.clone(),
        taxes: taxes.to_vec(),
        items: items.to_vec(),
    };
    let detail = format!(
        "charge catalogue of {}: {} items, {} tax codes",
        p.code,
        items.len(),
        taxes.len()
    );
    Ok(Decision::one(
        Record::ChargeCatalog(cat),
        "catalog.set",
        detail,
    ))
}
