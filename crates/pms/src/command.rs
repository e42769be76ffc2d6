//! What the sans-I/O cores ask their driver to do. The cores never touch sockets or clocks; they
//! emit these commands in order and the driver (a tokio adapter, or a test) carries them out.

use crate::hotel_log::LogEntry;
use crate::settings::Millis;

/// One instruction from a core to its driver, generic over the application events `E` it delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<E> {
    /// Write these bytes to the link, in order.
    Send(Vec<u8>),
    /// Call the core's `handle_timeout` once the clock reaches this time (replaces any earlier
    /// timer; there is only ever one).
    SetTimer(Millis),
    /// No timer is needed any more.
    ClearTimer,
    /// Hand this event to the application.
    Deliver(E),
    /// A hotel log entry was written (the core keeps the log; this lets the driver trace it).
    HotelLog(LogEntry),
    /// Close the connection (the peer stopped answering keep-alives); the driver reports
    /// `link_down` afterwards as usual.
    CloseLink,
}

/// Most commands one core call may leave undrained; a driver that never drains is a bug.
pub(crate) const MAX_PENDING_COMMANDS: usize = 1 << 20;

/// Tracks the single timer so that `SetTimer` is emitted only when the earliest deadline changes.
#[derive(Debug, Clone, Default)]
pub(crate) struct TimerState {
    armed: Option<Millis>,
}

impl TimerState {
    /// Emits `SetTimer`/`ClearTimer` if `wanted` differs from what the driver already has.
    pub(crate) fn sync<E>(&mut self, wanted: Option<Millis>, out: &mut Vec<Command<E>>) {
        if wanted == self.armed {
            return;
        }
        self.armed = wanted;
        out.push(match wanted {
            Some(at) => Command::SetTimer(at),
            None => Command::ClearTimer,
        });
    }
}

/// The earliest of several optional deadlines.
pub(crate) fn earliest(deadlines: &[Option<Millis>]) -> Option<Millis> {
    deadlines.iter().flatten().copied().min()
}
