//! Every timer, retry count and size limit of the PMS link, named in one place with the PMS.md
//! defaults, so that operators can tune a site without code changes and tests can shrink them.

use thiserror::Error;

use crate::encoding::TextEncoding;

/// Milliseconds on the caller's clock. The cores never read the OS clock: the caller passes `now`
/// (milliseconds since an epoch of its choosing), which keeps the state machines deterministic.
pub type Millis = u64;

/// Widest extension field any dialect we know uses (PMS.md: 5, up to 7 where configured).
pub const MAX_EXTENSION_WIDTH: usize = 7;

/// Tunables for both sides of the link. Each field says why it exists; defaults follow PMS.md.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// How long a sender waits for `ACK`/`NAK` after `ENQ` or after a text frame (PMS.md: 3 s).
    pub answer_timeout_ms: Millis,
    /// How many times a `NAK`ed (or unanswered) text is resent without a new `ENQ` (PMS.md: 3).
    pub max_resends: u32,
    /// How many times `ENQ` is repeated after a `NAK` or silence before the message is given up.
    pub max_enq_retries: u32,
    /// Longest text accepted between `STX` and `ETX`; longer frames are discarded and `NAK`ed so a
    /// peer cannot make us buffer without bound.
    pub max_text_len: usize,
    /// Width of the extension field (5 by default, up to 7 on sites configured for it).
    pub extension_width: usize,
    /// Longest guest name carried by `NAM`; longer names are cut, since phones show few characters.
    pub max_name_len: usize,
    /// Idle time after which `AYT` is sent as a keep-alive; `None` disables the keep-alive.
    pub keepalive_interval_ms: Option<Millis>,

    /// System side: a General Reset cycle is abandoned when the PMS is silent this long.
    pub grs_inactivity_timeout_ms: Millis,
    /// System side: how long each node takes to commit its cache after `END` (0 = instantly).
    /// Modelled so that busy `NAK`s during the commit are observable and testable.
    pub commit_duration_ms: Millis,
    /// System side: how many times a PMS message is `NAK`ed as busy during a commit before it is
    /// accepted into the busy buffer (the 3300 8.0 UR4 behaviour).
    pub busy_nak_limit: u32,
    /// System side: capacity of the buffer holding PMS messages accepted during a commit.
    pub busy_buffer_capacity: usize,
    /// System side: capacity of the queue of messages the system raises towards the PMS (held
    /// while a cycle runs or the link is down). A full queue refuses new messages.
    pub outbound_queue_capacity: usize,
    /// System side: how many hotel log entries are kept; older ones are dropped and counted.
    pub hotel_log_capacity: usize,
    /// Both sides: most rooms in a database, a cache or a General Reset snapshot.
    pub max_rooms: usize,
    /// System side: most nodes (ICPs) a gateway spreads rooms over.
    pub max_nodes: usize,

    /// PMS side: ask the application for a General Reset each time the link comes up.
    pub reset_on_link_start: bool,
    /// PMS side: pause before retrying a cycle message that failed (e.g. busy after `END`).
    pub cycle_retry_delay_ms: Millis,
    /// PMS side: how many times one cycle message is retried before the cycle is reported failed.
    pub cycle_message_retries: u32,
    /// How long the PMS waits for the application's decision on a charge record before it
    /// answers `NAK` (busy); below `answer_timeout_ms`, so the system hears an answer in time.
    pub charge_answer_timeout_ms: Millis,

    /// FIAS: records held while the link is not alive (they must not be lost); a full buffer
    /// refuses more, so the application's durable outbox keeps them instead.
    pub fias_buffer_capacity: usize,
    /// FIAS: most `LR` link records (record types the other side asks for) remembered.
    pub fias_max_link_records: usize,
    /// FIAS: longest record (between `STX` and `ETX`, in the link's encoding) the other side
    /// accepts; a longer one is skipped and reported rather than cut mid-field.
    pub fias_max_record_len: usize,
    /// How text (guest names) becomes bytes on the wire: ASCII with transliteration by
    /// default, what FIAS vendors and PBXs expect.
    pub encoding: TextEncoding,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            answer_timeout_ms: 3_000,
            max_resends: 3,
            max_enq_retries: 3,
            max_text_len: 256,
            extension_width: 5,
            max_name_len: 20,
            keepalive_interval_ms: Some(30_000),
            grs_inactivity_timeout_ms: 60_000,
            commit_duration_ms: 200,
            busy_nak_limit: 2,
            busy_buffer_capacity: 64,
            outbound_queue_capacity: 1_024,
            hotel_log_capacity: 1_000,
            max_rooms: 100_000,
            max_nodes: 64,
            reset_on_link_start: true,
            cycle_retry_delay_ms: 1_000,
            cycle_message_retries: 3,
            charge_answer_timeout_ms: 2_000,
            fias_buffer_capacity: 1_024,
            fias_max_link_records: 64,
            fias_max_record_len: 256,
            encoding: TextEncoding::Ascii,
        }
    }
}

/// A setting that would make the link misbehave; refused up front rather than discovered live.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SettingsError {
    /// The extension width is outside 1..=7.
    #[error("extension_width must be 1..={MAX_EXTENSION_WIDTH}, got {0}")]
    ExtensionWidth(usize),
    /// A limit that must be positive is zero.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    /// The text limit cannot hold the longest message we print.
    #[error("max_text_len must be between 32 and 65536, got {0}")]
    TextLen(usize),
    /// The FIAS record limit cannot hold a link record.
    #[error("fias_max_record_len must be between 32 and 65536, got {0}")]
    RecordLen(usize),
}

impl Settings {
    /// Checks the invariants the state machines rely on.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if !(1..=MAX_EXTENSION_WIDTH).contains(&self.extension_width) {
            return Err(SettingsError::ExtensionWidth(self.extension_width));
        }
        if !(32..=65_536).contains(&self.max_text_len) {
            return Err(SettingsError::TextLen(self.max_text_len));
        }
        if !(32..=65_536).contains(&self.fias_max_record_len) {
            return Err(SettingsError::RecordLen(self.fias_max_record_len));
        }
        let positive: [(&'static str, u64); 10] = [
            ("charge_answer_timeout_ms", self.charge_answer_timeout_ms),
            ("fias_buffer_capacity", self.fias_buffer_capacity as u64),
            ("fias_max_link_records", self.fias_max_link_records as u64),
            ("answer_timeout_ms", self.answer_timeout_ms),
            ("grs_inactivity_timeout_ms", self.grs_inactivity_timeout_ms),
            ("busy_buffer_capacity", self.busy_buffer_capacity as u64),
            (
                "outbound_queue_capacity",
                self.outbound_queue_capacity as u64,
            ),
            ("hotel_log_capacity", self.hotel_log_capacity as u64),
            ("max_rooms", self.max_rooms as u64),
            ("max_nodes", self.max_nodes as u64),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(SettingsError::Zero(name));
            }
        }
        if self.keepalive_interval_ms == Some(0) {
            return Err(SettingsError::Zero("keepalive_interval_ms"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_follow_pms_md() {
        let s = Settings::default();
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(s.answer_timeout_ms, 3_000);
        assert_eq!(s.max_resends, 3);
        assert_eq!(s.extension_width, 5);
    }

    #[test]
    fn bad_settings_are_refused() {
        let s = Settings {
            extension_width: 8,
            ..Settings::default()
        };
        assert_eq!(s.validate(), Err(SettingsError::ExtensionWidth(8)));
        let s = Settings {
            busy_buffer_capacity: 0,
            ..Settings::default()
        };
        assert_eq!(
            s.validate(),
            Err(SettingsError::Zero("busy_buffer_capacity"))
        );
    }
}
