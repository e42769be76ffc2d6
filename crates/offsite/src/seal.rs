//! Client-side encryption: every object is sealed with XChaCha20-Poly1305 under a 256-bit key
//! the operator holds (a file of 64 hex digits), so the storage provider sees only ciphertext.
//! The object's name (relative to the archive prefix) is the associated data: an object moved
//! or renamed in the bucket fails to open, as does one altered by a single bit.

use crate::OffsiteError;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use std::path::Path;

/// The first bytes of a sealed object, with the format's version.
const MAGIC: &[u8; 8] = b"INNSEAL1";
const NONCE_LEN: usize = 24;

/// The operator's archive key.
#[derive(Clone)]
pub struct SealKey(XChaCha20Poly1305);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(…)")
    }
}

impl SealKey {
    /// Reads the key from a file holding 64 hex digits (`openssl rand -hex 32 > key`);
    /// surrounding whitespace is ignored. Anything else is refused, naming the file.
    pub fn from_file(path: &Path) -> Result<Self, OffsiteError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            OffsiteError::Config(format!("archive key file {}: {e}", path.display()))
        })?;
        Self::from_hex(text.trim()).map_err(|why| {
            OffsiteError::Config(format!("archive key file {}: {why}", path.display()))
        })
    }

    /// The key from 64 hex digits.
    pub fn from_hex(hex_text: &str) -> Result<Self, String> {
        let bytes = hex::decode(hex_text).map_err(|_| "not hex digits".to_string())?;
        if bytes.len() != 32 {
            return Err(format!(
                "{} bytes; the key is 32 bytes (64 hex digits)",
                bytes.len()
            ));
        }
        XChaCha20Poly1305::new_from_slice(&bytes)
            .map(Self)
            .map_err(|_| "not a key".to_string())
    }

    /// Seals `plain` as the object `name`: magic, a random nonce, then ciphertext and tag.
    pub fn seal(&self, name: &str, plain: &[u8]) -> Result<Vec<u8>, OffsiteError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .0
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| OffsiteError::Sealed(name.to_string()))?;
        let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens the object `name` sealed by [`SealKey::seal`]; refuses anything altered, renamed
    /// or sealed with another key.
    pub fn open(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>, OffsiteError> {
        let bad = || OffsiteError::Sealed(name.to_string());
        let rest = sealed.strip_prefix(MAGIC.as_slice()).ok_or_else(bad)?;
        if rest.len() < NONCE_LEN {
            return Err(bad());
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        self.0
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(d: char) -> SealKey {
        SealKey::from_hex(&d.to_string().repeat(64)).unwrap()
    }

    #[test]
    fn sealed_objects_open_only_unaltered_under_their_name_and_key() {
        let k = key('a');
        let s = k.seal("segments/seg-1", b"bookings").unwrap();
        assert!(!s.windows(8).any(|w| w == b"bookings"), "ciphertext only");
        assert_eq!(k.open("segments/seg-1", &s).unwrap(), b"bookings");
        assert!(k.open("segments/seg-2", &s).is_err(), "renamed");
        assert!(key('b').open("segments/seg-1", &s).is_err(), "other key");
        for i in [0, 9, 40, s.len() - 1] {
            let mut t = s.clone();
            t[i] ^= 1;
            assert!(k.open("segments/seg-1", &t).is_err(), "bit {i} flipped");
        }
        assert!(k.open("segments/seg-1", &s[..20]).is_err(), "truncated");
    }

    #[test]
    fn a_key_is_64_hex_digits() {
        assert!(SealKey::from_hex("abcd").is_err());
        assert!(SealKey::from_hex(&"z".repeat(64)).is_err());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("key");
        std::fs::write(&p, format!("{}\n", "0f".repeat(32))).unwrap();
        assert!(SealKey::from_file(&p).is_ok());
        std::fs::write(&p, "short").unwrap();
        let e = SealKey::from_file(&p).unwrap_err().to_string();
        assert!(e.contains("key file"), "{e}");
    }
}
