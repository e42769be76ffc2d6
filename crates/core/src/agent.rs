//! Agents and tour operators: who sells rooms on a lodge's behalf, on what terms — contact,
//! commission, a contracted rate plan, payment terms — and, when they have a contracted
//! allotment, which server holds it. The allotment itself is **not** a second mechanism: it is
//! the ordinary allotment of that holder, given and released by an `[[allotment_rules]]` rule
//! with its release days; the agent's bookings are sold there (and forwarded there from any
//! other server). A booking made for an agent stores what was agreed ([`BookedAgent`]), decided
//! once like its price.

use crate::ids::ServerCode;
use crate::record::Meta;
use serde::{Deserialize, Serialize};

/// Most basis points a commission may be (100 %).
pub const MAX_COMMISSION_BP: u32 = 10_000;

/// An agent or tour operator, owned where it was written (the environment on the master, or a
/// server's own agent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// Identity.
    #[serde(flatten)]
    pub meta: Meta,
    /// Code, unique in the environment (`SAFARI`); the record's key.
    pub code: String,
    /// What the operator sets.
    #[serde(flatten)]
    pub spec: AgentSpec,
}

/// What an operator sets on an agent (the body of `PUT /api/v1/agents/{code}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSpec {
    /// Display name.
    pub name: String,
    /// Contact person.
    #[serde(default)]
    pub contact: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Telephone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Commission in basis points of the price (1 250 = 12.5 %).
    #[serde(default)]
    pub commission_bp: u32,
    /// The rate plan its bookings are priced on when they name none (the contracted rate).
    #[serde(default)]
    pub rate_plan: Option<String>,
    /// Payment terms, in words (`30 days from invoice`).
    #[serde(default)]
    pub payment_terms: Option<String>,
    /// The server holding the agent's contracted allotment (its `[[allotment_rules]]` holder):
    /// the agent's bookings are sold from that server's allotment, so they are written there.
    #[serde(default)]
    pub holder: Option<ServerCode>,
}

/// The agent of a booking, as agreed when it was booked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookedAgent {
    /// The agent's code.
    pub code: String,
    /// Commission in basis points.
    pub commission_bp: u32,
    /// The commission on the booking's price, in its minor units (rounded half up); absent
    /// when the booking has no price.
    #[serde(default)]
    pub commission: Option<i64>,
}

/// The commission of `bp` basis points on `amount` minor units, rounded half up (integers only).
pub fn commission(amount: i64, bp: u32) -> i64 {
    let v = i128::from(amount) * i128::from(bp);
    let q = v.div_euclid(10_000);
    let r = v.rem_euclid(10_000);
    let rounded = if r * 2 >= 10_000 { q + 1 } else { q };
    i64::try_from(rounded).unwrap_or(if rounded > 0 { i64::MAX } else { i64::MIN })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commission_is_rounded_half_up_in_integers() {
        assert_eq!(commission(100_000, 1_000), 10_000);
        assert_eq!(commission(12_345, 1_250), 1_543); // 1 543.125
        assert_eq!(commission(5, 1_000), 1); // 0.5 rounds up
        assert_eq!(commission(4, 1_000), 0);
        assert_eq!(commission(0, 5_000), 0);
        assert_eq!(commission(i64::MAX, MAX_COMMISSION_BP), i64::MAX);
        for amount in [0i64, 1, 99, 10_000, 1_234_567] {
            for bp in [0u32, 1, 999, 5_000, 10_000] {
                let c = commission(amount, bp);
                assert!(c >= 0 && c <= amount, "{amount} {bp} {c}");
                // Within half a unit of the exact amount.
                let off = i128::from(c) * 10_000 - i128::from(amount) * i128::from(bp);
                assert!(off.abs() <= 5_000, "{amount} {bp} {c}");
            }
        }
    }
}
