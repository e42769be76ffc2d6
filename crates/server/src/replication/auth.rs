//! How servers of one environment prove who they are: a token derived from the shared secret
//! and the caller's code, sent with the environment's fingerprint. The secret never travels.

use sha2::{Digest, Sha256};

/// Header naming the calling server.
pub const SERVER_HEADER: &str = "x-innsync-server";
/// Header carrying the caller's environment fingerprint.
pub const FINGERPRINT_HEADER: &str = "x-innsync-fingerprint";

/// The bearer token server `code` presents to its peers.
pub fn peer_token(secret: &str, code: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"innsync-peer\0");
    h.update(secret.as_bytes());
    h.update([0]);
    h.update(code.as_bytes());
    hex::encode(h.finalize())
}

/// Compares two tokens in constant time.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_differ_by_server_and_secret() {
        let a = peer_token("a long shared secret", "WB");
        assert_eq!(a, peer_token("a long shared secret", "WB"));
        assert_ne!(a, peer_token("a long shared secret", "RS"));
        assert_ne!(a, peer_token("another long secret!", "WB"));
        assert!(same(&a, &a.clone()) && !same(&a, &a[1..]));
    }
}
