//! The half-duplex ENQ/ACK/NAK exchange shared by both sides: one outgoing message at a time,
//! answer timeouts, resends after `NAK`, and the collision rule (the system yields to the PMS).
//! It does not judge texts: it surfaces each received text and the owner answers `ACK` or `NAK`.

use crate::command::Command;
use crate::frame::{encode_text, FrameDecoder, Token, ACK, ENQ, NAK};
use crate::settings::{Millis, Settings};

/// Which end of the link we are; decides who wins a collision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The PMS: keeps its `ENQ` on collision.
    Pms,
    /// The system: yields on collision.
    System,
}

/// Why a message could not be delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFailure {
    /// Nobody answered `ENQ` after all retries.
    EnqNotAnswered,
    /// `ENQ` was refused with `NAK` on every try.
    EnqRefused,
    /// The text was refused with `NAK` on every try (bad message or busy).
    TextRefused,
    /// The text was never answered.
    TextNotAnswered,
    /// The link went down before the message was acknowledged.
    LinkDown,
}

impl std::fmt::Display for SendFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SendFailure::EnqNotAnswered => "ENQ not answered",
            SendFailure::EnqRefused => "ENQ refused",
            SendFailure::TextRefused => "text refused with NAK after all resends",
            SendFailure::TextNotAnswered => "text not answered",
            SendFailure::LinkDown => "link down",
        })
    }
}

/// What the owner must react to after feeding a byte or a timeout.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Nothing for the owner.
    Nothing,
    /// A text arrived; the owner must call [`LinkCore::answer`] before feeding more bytes.
    Text(Vec<u8>),
    /// The outgoing message was acknowledged.
    Delivered,
    /// The outgoing message was given up.
    Failed(SendFailure),
    /// Some byte arrived from the peer (for inactivity tracking only).
    Activity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tx {
    Idle,
    AwaitEnqAnswer,
    AwaitTextAnswer,
    /// We lost a collision: our message waits until the peer's exchange is over.
    Yielded,
}

/// The link-layer state machine.
#[derive(Debug, Clone)]
pub(crate) struct LinkCore {
    role: Role,
    answer_timeout: Millis,
    max_resends: u32,
    max_enq_retries: u32,
    decoder: FrameDecoder,
    tx: Tx,
    frame: Option<Vec<u8>>,
    enq_retries: u32,
    resends: u32,
    tx_deadline: Option<Millis>,
    /// We answered the peer's `ENQ` (or `NAK`ed its text) and expect a text until then.
    rx_until: Option<Millis>,
    /// A surfaced text still waits for its answer.
    answer_owed: bool,
}

impl LinkCore {
    pub(crate) fn new(role: Role, settings: &Settings) -> Self {
        LinkCore {
            role,
            answer_timeout: settings.answer_timeout_ms,
            max_resends: settings.max_resends,
            max_enq_retries: settings.max_enq_retries,
            decoder: FrameDecoder::new(settings.max_text_len),
            tx: Tx::Idle,
            frame: None,
            enq_retries: 0,
            resends: 0,
            tx_deadline: None,
            rx_until: None,
            answer_owed: false,
        }
    }

    /// True when a new message may be started: not sending, not in the middle of receiving.
    pub(crate) fn is_idle(&self) -> bool {
        self.tx == Tx::Idle && self.rx_until.is_none()
    }

    /// The next time [`LinkCore::on_timeout`] has work.
    pub(crate) fn deadline(&self) -> Option<Millis> {
        crate::command::earliest(&[self.tx_deadline, self.rx_until])
    }

    /// Starts sending `text`: emits `ENQ`. Only call when [`LinkCore::is_idle`].
    pub(crate) fn start<E>(&mut self, now: Millis, text: &[u8], out: &mut Vec<Command<E>>) {
        assert!(self.is_idle(), "link started while busy");
        self.frame = Some(encode_text(text));
        self.enq_retries = 0;
        self.resends = 0;
        self.send_enq(now, out);
    }

    /// Forgets everything (the link dropped); the owner decides what the lost message means.
    pub(crate) fn reset(&mut self) {
        self.decoder.reset();
        self.tx = Tx::Idle;
        self.frame = None;
        self.tx_deadline = None;
        self.rx_until = None;
        self.answer_owed = false;
    }

    /// Feeds one received byte.
    pub(crate) fn on_byte<E>(
        &mut self,
        now: Millis,
        byte: u8,
        out: &mut Vec<Command<E>>,
    ) -> Signal {
        debug_assert!(
            !self.answer_owed,
            "byte fed before the previous text was answered"
        );
        let Some(token) = self.decoder.push(byte) else {
            return Signal::Activity;
        };
        match token {
            Token::Enq => self.on_enq(now, out),
            Token::Ack => self.on_ack(now, out),
            Token::Nak => self.on_nak(now, out),
            Token::Text(text) => {
                if matches!(self.tx, Tx::AwaitEnqAnswer | Tx::AwaitTextAnswer) {
                    // We hold the line; a text now is a protocol error. Ignore it.
                    return Signal::Activity;
                }
                self.answer_owed = true;
                Signal::Text(text)
            }
            Token::Oversize => {
                if matches!(self.tx, Tx::AwaitEnqAnswer | Tx::AwaitTextAnswer) {
                    return Signal::Activity;
                }
                self.answer_owed = true;
                self.answer(now, false, out);
                Signal::Activity
            }
        }
    }

    /// Answers the text surfaced by the last [`Signal::Text`].
    pub(crate) fn answer<E>(&mut self, now: Millis, accept: bool, out: &mut Vec<Command<E>>) {
        assert!(self.answer_owed, "answer without a text");
        self.answer_owed = false;
        out.push(Command::Send(vec![if accept { ACK } else { NAK }]));
        if accept {
            self.rx_until = None;
            if self.tx == Tx::Yielded {
                self.send_enq(now, out);
            }
        } else {
            // The peer may resend the text without a new ENQ.
            self.rx_until = Some(now.saturating_add(self.answer_timeout));
        }
    }

    /// Handles the clock reaching a deadline.
    pub(crate) fn on_timeout<E>(&mut self, now: Millis, out: &mut Vec<Command<E>>) -> Signal {
        if self.rx_until.is_some_and(|t| t <= now) {
            self.rx_until = None;
            if self.tx == Tx::Yielded {
                self.send_enq(now, out);
                return Signal::Nothing;
            }
        }
        if self.tx_deadline.is_none_or(|t| t > now) {
            return Signal::Nothing;
        }
        match self.tx {
            Tx::AwaitEnqAnswer => {
                self.enq_retries += 1;
                if self.enq_retries > self.max_enq_retries {
                    return self.fail(SendFailure::EnqNotAnswered);
                }
                self.send_enq(now, out);
                Signal::Nothing
            }
            Tx::AwaitTextAnswer => {
                self.resends += 1;
                if self.resends > self.max_resends {
                    return self.fail(SendFailure::TextNotAnswered);
                }
                self.send_frame(now, out);
                Signal::Nothing
            }
            Tx::Idle | Tx::Yielded => {
                self.tx_deadline = None;
                Signal::Nothing
            }
        }
    }

    fn on_enq<E>(&mut self, now: Millis, out: &mut Vec<Command<E>>) -> Signal {
        match (self.tx, self.role) {
            // Collision: the PMS keeps the line and waits for its answer.
            (Tx::AwaitEnqAnswer, Role::Pms) => {}
            // Collision: the system yields, answers, and retries after the peer's exchange.
            (Tx::AwaitEnqAnswer, Role::System) => {
                self.tx = Tx::Yielded;
                self.tx_deadline = None;
                self.ack_enq(now, out);
            }
            (Tx::Idle | Tx::Yielded, _) => self.ack_enq(now, out),
            (Tx::AwaitTextAnswer, _) => {}
        }
        Signal::Activity
    }

    fn ack_enq<E>(&mut self, now: Millis, out: &mut Vec<Command<E>>) {
        out.push(Command::Send(vec![ACK]));
        self.rx_until = Some(now.saturating_add(self.answer_timeout));
    }

    fn on_ack<E>(&mut self, now: Millis, out: &mut Vec<Command<E>>) -> Signal {
        match self.tx {
            Tx::AwaitEnqAnswer => {
                self.send_frame(now, out);
                Signal::Activity
            }
            Tx::AwaitTextAnswer => {
                self.tx = Tx::Idle;
                self.frame = None;
                self.tx_deadline = None;
                Signal::Delivered
            }
            Tx::Idle | Tx::Yielded => Signal::Activity,
        }
    }

    fn on_nak<E>(&mut self, now: Millis, out: &mut Vec<Command<E>>) -> Signal {
        match self.tx {
            Tx::AwaitEnqAnswer => {
                self.enq_retries += 1;
                if self.enq_retries > self.max_enq_retries {
                    return self.fail(SendFailure::EnqRefused);
                }
                self.send_enq(now, out);
                Signal::Activity
            }
            Tx::AwaitTextAnswer => {
                self.resends += 1;
                if self.resends > self.max_resends {
                    return self.fail(SendFailure::TextRefused);
                }
                self.send_frame(now, out);
                Signal::Activity
            }
            Tx::Idle | Tx::Yielded => Signal::Activity,
        }
    }

    fn fail(&mut self, why: SendFailure) -> Signal {
        self.tx = Tx::Idle;
        self.frame = None;
        self.tx_deadline = None;
        Signal::Failed(why)
    }

    fn send_enq<E>(&mut self, now: Millis, out: &mut Vec<Command<E>>) {
        debug_assert!(self.frame.is_some());
        out.push(Command::Send(vec![ENQ]));
        self.tx = Tx::AwaitEnqAnswer;
        self.tx_deadline = Some(now.saturating_add(self.answer_timeout));
    }

    fn send_frame<E>(&mut self, now: Millis, out: &mut Vec<Command<E>>) {
        let Some(frame) = &self.frame else {
            debug_assert!(false, "no frame to send");
            self.tx = Tx::Idle;
            return;
        };
        out.push(Command::Send(frame.clone()));
        self.tx = Tx::AwaitTextAnswer;
        self.tx_deadline = Some(now.saturating_add(self.answer_timeout));
    }
}
