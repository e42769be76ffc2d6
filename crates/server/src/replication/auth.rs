//! How servers of one environment prove who they are: a token derived from the shared secret
//! and the caller's code, sent with the environment's fingerprint. The secret never travels.

/// Header naming the calling server.
pub const SERVER_HEADER: &str = "x-innsync-server";
/// Header carrying the caller's environment fingerprint.
pub const FINGERPRINT_HEADER: &str = "x-innsync-fingerprint";

/// The bearer token server `code` presents to its peers.
pub fn peer_token(secret: &str, code: &str) -> String {
    innsync_cluster::auth::derived_token("innsync-peer", secret, code)
}

/// Compares two tokens in constant time.
pub use innsync_cluster::auth::same;

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
