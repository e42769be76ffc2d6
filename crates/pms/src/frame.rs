//! The byte-level framing shared by both dialects: `ENQ`, `ACK`, `NAK` and `STX` text `ETX`.
//! The decoder works one byte at a time with a bounded buffer, ignores bytes outside a frame, and
//! never fails: anything it cannot use is dropped or reported as an oversized frame.

/// Enquiry: "may I send?"
pub const ENQ: u8 = 0x05;
/// Positive answer to `ENQ` or to a text frame.
pub const ACK: u8 = 0x06;
/// Negative answer to `ENQ` or to a text frame (bad frame, bad field, or busy).
pub const NAK: u8 = 0x15;
/// Start of text.
pub const STX: u8 = 0x02;
/// End of text.
pub const ETX: u8 = 0x03;

/// One unit the link layer acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// The peer wants to send.
    Enq,
    /// The peer accepted.
    Ack,
    /// The peer refused.
    Nak,
    /// A complete text frame (without `STX`/`ETX`).
    Text(Vec<u8>),
    /// A frame longer than the limit was discarded; the receiver should `NAK` it.
    Oversize,
}

/// Turns a byte stream into [`Token`]s, holding at most `max_text_len` bytes.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max_text_len: usize,
    buf: Vec<u8>,
    in_frame: bool,
    overflow: bool,
}

impl FrameDecoder {
    /// A decoder that refuses frames longer than `max_text_len`, so memory stays bounded.
    pub fn new(max_text_len: usize) -> Self {
        FrameDecoder {
            max_text_len,
            buf: Vec::new(),
            in_frame: false,
            overflow: false,
        }
    }

    /// Feeds one byte; returns a token when one is complete. A stray `STX` restarts the frame and
    /// a control byte inside a frame aborts it (the partial text is garbage).
    pub fn push(&mut self, byte: u8) -> Option<Token> {
        let token = match byte {
            STX => {
                self.start_frame();
                None
            }
            ETX if self.in_frame => {
                self.in_frame = false;
                if std::mem::take(&mut self.overflow) {
                    self.buf.clear();
                    Some(Token::Oversize)
                } else {
                    Some(Token::Text(std::mem::take(&mut self.buf)))
                }
            }
            ENQ | ACK | NAK => {
                self.abort_frame();
                Some(match byte {
                    ENQ => Token::Enq,
                    ACK => Token::Ack,
                    _ => Token::Nak,
                })
            }
            _ if self.in_frame => {
                if self.buf.len() < self.max_text_len {
                    self.buf.push(byte);
                } else {
                    self.overflow = true;
                }
                None
            }
            _ => None,
        };
        debug_assert!(self.buf.len() <= self.max_text_len);
        token
    }

    /// Forgets any partial frame, e.g. when the link drops.
    pub fn reset(&mut self) {
        self.abort_frame();
    }

    fn start_frame(&mut self) {
        self.in_frame = true;
        self.overflow = false;
        self.buf.clear();
    }

    fn abort_frame(&mut self) {
        self.in_frame = false;
        self.overflow = false;
        self.buf.clear();
    }
}

/// Wraps a text in `STX`…`ETX` for sending.
pub fn encode_text(text: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(text.len() + 2);
    frame.push(STX);
    frame.extend_from_slice(text);
    frame.push(ETX);
    frame
}

/// FIAS serial check byte: XOR of every byte after `STX` up to and including `ETX`.
pub fn lrc(text: &[u8]) -> u8 {
    text.iter().fold(ETX, |acc, b| acc ^ b)
}

/// Wraps a text for FIAS over serial: `STX` text `ETX` LRC.
pub fn encode_text_with_lrc(text: &[u8]) -> Vec<u8> {
    let mut frame = encode_text(text);
    frame.push(lrc(text));
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lrc_covers_text_and_etx() {
        assert_eq!(lrc(b""), ETX);
        assert_eq!(lrc(b"A"), b'A' ^ ETX);
        let frame = encode_text_with_lrc(b"LS|");
        assert_eq!(frame.last().copied(), Some(b'L' ^ b'S' ^ b'|' ^ ETX));
    }

    fn decode_all(max: usize, bytes: &[u8]) -> Vec<Token> {
        let mut d = FrameDecoder::new(max);
        bytes.iter().filter_map(|&b| d.push(b)).collect()
    }

    #[test]
    fn garbage_between_frames_is_ignored() {
        let mut bytes = b"noise".to_vec();
        bytes.push(ENQ);
        bytes.extend(b"more");
        bytes.extend(encode_text(b"CHK1  1234"));
        bytes.extend(b"\r\n");
        bytes.push(ACK);
        assert_eq!(
            decode_all(64, &bytes),
            vec![Token::Enq, Token::Text(b"CHK1  1234".to_vec()), Token::Ack]
        );
    }

    #[test]
    fn oversize_frame_is_reported_and_the_next_one_decodes() {
        let mut bytes = encode_text(&[b'x'; 40]);
        bytes.extend(encode_text(b"GRS"));
        assert_eq!(
            decode_all(32, &bytes),
            vec![Token::Oversize, Token::Text(b"GRS".to_vec())]
        );
    }

    #[test]
    fn control_byte_inside_frame_aborts_it() {
        let bytes = [STX, b'A', NAK, b'B', ETX];
        assert_eq!(decode_all(32, &bytes), vec![Token::Nak]);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_stay_bounded(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            for token in decode_all(64, &bytes) {
                if let Token::Text(t) = token {
                    prop_assert!(t.len() <= 64);
                    prop_assert!(!t.iter().any(|b| [STX, ETX, ENQ, ACK, NAK].contains(b)));
                }
            }
        }

        #[test]
        fn encoded_text_round_trips(text in proptest::collection::vec(0x20u8..0x7f, 0..64), noise in proptest::collection::vec(0x20u8..0x7f, 0..16)) {
            let mut bytes = noise.clone();
            bytes.extend(encode_text(&text));
            prop_assert_eq!(decode_all(64, &bytes), vec![Token::Text(text)]);
        }
    }
}
