//! Which server was master at which epoch, as far as this server knows, and the fencing rule
//! built on it: a change written under authority `env` at epoch `e` by origin `X` is legitimate
//! iff `X` was master at `e` and wrote it before that epoch was closed (by its grant, or by a
//! takeover's fence). Anything else is quarantined as a conflict, never applied nor dropped.

use super::{Epoch, MasterToken};
use crate::limits::MAX_TOKEN_HISTORY;
use innsync_core::{Authority, ServerCode};
use std::collections::BTreeMap;

/// The part of a change that fencing looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeStamp {
    /// The server that wrote it.
    pub origin: ServerCode,
    /// Its position in the origin's log.
    pub seq: u64,
    /// The authority it was written under.
    pub authority: Authority,
    /// The master epoch it was written under.
    pub epoch: Epoch,
}

/// Why a change is quarantined instead of applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConflictReason {
    /// An env write by a server that was not master at its epoch.
    #[error("written by {origin} at epoch {epoch}, when the master was {master}")]
    NotMasterAtEpoch {
        /// The writer.
        origin: ServerCode,
        /// The epoch.
        epoch: Epoch,
        /// The real master then.
        master: ServerCode,
    },
    /// An env write by the master of an epoch after that epoch ended (after its grant, or after
    /// the last change the taking-over server had from it).
    #[error("written by {origin} at epoch {epoch} after that epoch ended (its last change was seq {last_seq})")]
    AfterEpochEnded {
        /// The writer.
        origin: ServerCode,
        /// The epoch.
        epoch: Epoch,
        /// The last legitimate seq of the writer in that epoch.
        last_seq: u64,
    },
    /// Two servers claim the same epoch (concurrent takeovers); its env writes need an operator.
    #[error("epoch {epoch} is claimed by both {first} and {second}")]
    DisputedEpoch {
        /// The epoch.
        epoch: Epoch,
        /// The first claimant learned.
        first: ServerCode,
        /// The second.
        second: ServerCode,
    },
    /// A write to a server-owned record by another server.
    #[error("written by {origin} under authority {authority}, which only {authority} may use")]
    NotOwner {
        /// The writer.
        origin: ServerCode,
        /// The authority claimed.
        authority: Authority,
    },
    /// An epoch older than the history remembers; quarantined because it cannot be proven good.
    #[error("epoch {0} is older than this server remembers")]
    EpochForgotten(Epoch),
}

impl crate::cursor::Sequenced for ChangeStamp {
    fn origin(&self) -> &ServerCode {
        &self.origin
    }
    fn seq(&self) -> u64 {
        self.seq
    }
}

/// The fate of an incoming change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Apply it.
    Legitimate,
    /// Put it in `conflicts` with both versions for an operator.
    Conflict(ConflictReason),
    /// Its epoch is not known here yet (the grant has not arrived): hold it and retry later.
    UnknownEpoch(Epoch),
}

/// What [`TokenHistory::record`] learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Learned {
    /// A higher epoch than any known: it is the current master now.
    NewCurrent,
    /// An older epoch that was missing; the current master is unchanged.
    FilledGap,
    /// Already known; nothing changed (grants arrive along several chains).
    AlreadyKnown,
}

/// Two servers claim one epoch: the sign of concurrent forced takeovers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("epoch {epoch} is claimed by both {known} and {claimed}; env writes at that epoch are quarantined")]
pub struct TokenConflict {
    /// The epoch.
    pub epoch: Epoch,
    /// The master known first.
    pub known: ServerCode,
    /// The other claimant.
    pub claimed: ServerCode,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct EpochEntry {
    master: ServerCode,
    /// The last seq of `master` legitimately written at this epoch, once the epoch has ended.
    last_seq: Option<u64>,
    /// Another server claiming the same epoch.
    disputed_by: Option<ServerCode>,
}

/// The masters of the epochs this server knows, with the end of each closed epoch.
///
/// Bounded by [`MAX_TOKEN_HISTORY`]: the oldest epochs are forgotten, and changes still arriving
/// from them are quarantined rather than trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenHistory {
    entries: BTreeMap<Epoch, EpochEntry>,
    /// The highest epoch's token; also in `entries`, which pruning never empties.
    current: MasterToken,
    forgotten_below: Epoch,
}

impl TokenHistory {
    /// A history that starts from `first` (usually [`MasterToken::initial`]).
    pub fn new(first: MasterToken) -> Self {
        let mut entries = BTreeMap::new();
        entries.insert(
            first.epoch,
            EpochEntry {
                master: first.server.clone(),
                last_seq: None,
                disputed_by: None,
            },
        );
        Self {
            entries,
            current: first,
            forgotten_below: Epoch(0),
        }
    }

    /// The current master: the highest epoch known.
    pub fn current(&self) -> &MasterToken {
        &self.current
    }

    /// The master at `epoch`, if known.
    pub fn master_at(&self, epoch: Epoch) -> Option<&ServerCode> {
        self.entries.get(&epoch).map(|e| &e.master)
    }

    /// Learns a token (from a grant, a takeover or an acceptance record). An equal epoch with
    /// another server is a conflict: the epoch is marked disputed and the error raised as an alert.
    pub fn record(&mut self, token: MasterToken) -> Result<Learned, TokenConflict> {
        if token.epoch < self.forgotten_below {
            return Ok(Learned::AlreadyKnown);
        }
        let newest = self.current.epoch;
        if let Some(e) = self.entries.get_mut(&token.epoch) {
            if e.master == token.server {
                return Ok(Learned::AlreadyKnown);
            }
            e.disputed_by.get_or_insert(token.server.clone());
            return Err(TokenConflict {
                epoch: token.epoch,
                known: e.master.clone(),
                claimed: token.server,
            });
        }
        self.entries.insert(
            token.epoch,
            EpochEntry {
                master: token.server.clone(),
                last_seq: None,
                disputed_by: None,
            },
        );
        self.prune();
        if token.epoch > newest {
            self.current = token;
            Ok(Learned::NewCurrent)
        } else {
            Ok(Learned::FilledGap)
        }
    }

    /// Closes `epoch`: its master's env writes after `last_seq` are not legitimate. Called with
    /// the seq of the grant change, or with a takeover's fence. Closing twice keeps the lower seq
    /// (the stricter fence).
    pub fn close(&mut self, epoch: Epoch, last_seq: u64) {
        if let Some(e) = self.entries.get_mut(&epoch) {
            e.last_seq = Some(e.last_seq.map_or(last_seq, |s| s.min(last_seq)));
        }
    }

    /// Judges an incoming change (DESIGN §4, §6).
    pub fn judge(&self, c: &ChangeStamp) -> Verdict {
        if let Authority::Server(owner) = &c.authority {
            return if owner == &c.origin {
                Verdict::Legitimate
            } else {
                Verdict::Conflict(ConflictReason::NotOwner {
                    origin: c.origin.clone(),
                    authority: c.authority.clone(),
                })
            };
        }
        if c.epoch < self.forgotten_below {
            return Verdict::Conflict(ConflictReason::EpochForgotten(c.epoch));
        }
        let Some(e) = self.entries.get(&c.epoch) else {
            return Verdict::UnknownEpoch(c.epoch);
        };
        if let Some(second) = &e.disputed_by {
            return Verdict::Conflict(ConflictReason::DisputedEpoch {
                epoch: c.epoch,
                first: e.master.clone(),
                second: second.clone(),
            });
        }
        if e.master != c.origin {
            return Verdict::Conflict(ConflictReason::NotMasterAtEpoch {
                origin: c.origin.clone(),
                epoch: c.epoch,
                master: e.master.clone(),
            });
        }
        match e.last_seq {
            Some(last_seq) if c.seq > last_seq => {
                Verdict::Conflict(ConflictReason::AfterEpochEnded {
                    origin: c.origin.clone(),
                    epoch: c.epoch,
                    last_seq,
                })
            }
            _ => Verdict::Legitimate,
        }
    }

    /// Whether `me` may write env-owned records now: it holds the highest epoch known and that
    /// epoch is neither closed nor disputed.
    pub fn may_write_env(&self, me: &ServerCode) -> bool {
        self.entries
            .get(&self.current.epoch)
            .is_some_and(|e| &e.master == me && e.last_seq.is_none() && e.disputed_by.is_none())
    }

    fn prune(&mut self) {
        while self.entries.len() > MAX_TOKEN_HISTORY {
            if let Some((epoch, _)) = self.entries.pop_first() {
                self.forgotten_below = epoch.next().unwrap_or(epoch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> ServerCode {
        ServerCode::parse(s).unwrap()
    }
    fn token(s: &str, e: u64) -> MasterToken {
        MasterToken {
            server: code(s),
            epoch: Epoch(e),
        }
    }
    fn env_change(origin: &str, seq: u64, epoch: u64) -> ChangeStamp {
        ChangeStamp {
            origin: code(origin),
            seq,
            authority: Authority::Env,
            epoch: Epoch(epoch),
        }
    }

    #[test]
    fn env_writes_are_legitimate_only_from_the_master_of_their_epoch() {
        let mut h = TokenHistory::new(token("WB", 1));
        assert_eq!(h.judge(&env_change("WB", 5, 1)), Verdict::Legitimate);
        assert!(matches!(
            h.judge(&env_change("RS", 5, 1)),
            Verdict::Conflict(ConflictReason::NotMasterAtEpoch { .. })
        ));
        assert_eq!(
            h.judge(&env_change("RS", 1, 2)),
            Verdict::UnknownEpoch(Epoch(2))
        );

        // WB grants to RS at epoch 2 with its change seq 9.
        assert_eq!(h.record(token("RS", 2)), Ok(Learned::NewCurrent));
        h.close(Epoch(1), 9);
        assert_eq!(h.judge(&env_change("WB", 9, 1)), Verdict::Legitimate);
        assert!(matches!(
            h.judge(&env_change("WB", 10, 1)),
            Verdict::Conflict(ConflictReason::AfterEpochEnded { last_seq: 9, .. })
        ));
        assert_eq!(h.judge(&env_change("RS", 1, 2)), Verdict::Legitimate);
        assert!(h.may_write_env(&code("RS")));
        assert!(!h.may_write_env(&code("WB")));
        assert_eq!(h.current(), &token("RS", 2));
    }

    #[test]
    fn server_owned_writes_need_their_owner() {
        let h = TokenHistory::new(token("WB", 1));
        let mut c = env_change("PA", 1, 1);
        c.authority = Authority::Server(code("PA"));
        assert_eq!(h.judge(&c), Verdict::Legitimate);
        c.origin = code("WB");
        assert!(matches!(
            h.judge(&c),
            Verdict::Conflict(ConflictReason::NotOwner { .. })
        ));
    }

    #[test]
    fn stale_and_repeated_tokens_change_nothing_and_gaps_fill() {
        let mut h = TokenHistory::new(token("WB", 1));
        assert_eq!(h.record(token("RS", 3)), Ok(Learned::NewCurrent));
        assert_eq!(h.record(token("RS", 3)), Ok(Learned::AlreadyKnown));
        assert_eq!(h.record(token("WB", 1)), Ok(Learned::AlreadyKnown));
        assert_eq!(h.record(token("RA", 2)), Ok(Learned::FilledGap));
        assert_eq!(h.current(), &token("RS", 3));
    }

    #[test]
    fn two_claims_on_one_epoch_quarantine_its_env_writes() {
        let mut h = TokenHistory::new(token("WB", 1));
        h.record(token("RS", 2)).unwrap();
        let err = h.record(token("RA", 2)).unwrap_err();
        assert_eq!(err.known, code("RS"));
        assert!(matches!(
            h.judge(&env_change("RS", 1, 2)),
            Verdict::Conflict(ConflictReason::DisputedEpoch { .. })
        ));
        assert!(!h.may_write_env(&code("RS")));
    }

    #[test]
    fn history_is_bounded_and_forgotten_epochs_are_quarantined() {
        let mut h = TokenHistory::new(token("WB", 1));
        for e in 2..=(MAX_TOKEN_HISTORY as u64 + 10) {
            h.record(token(if e % 2 == 0 { "RS" } else { "WB" }, e))
                .unwrap();
        }
        assert_eq!(h.entries.len(), MAX_TOKEN_HISTORY);
        assert_eq!(
            h.judge(&env_change("WB", 1, 1)),
            Verdict::Conflict(ConflictReason::EpochForgotten(Epoch(1)))
        );
    }
}
