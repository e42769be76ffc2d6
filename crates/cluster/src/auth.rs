//! How the nodes of one cluster prove they belong to it: a token derived from the cluster
//! secret and the server's code (the secret never travels), compared in constant time.

use sha2::{Digest, Sha256};

/// Header carrying the cluster token on every Raft RPC.
pub const TOKEN_HEADER: &str = "x-innsync-cluster-token";

/// A token for `purpose` derived from a secret and a server code: `sha256(purpose, 0, secret,
/// 0, code)` in hex. Servers of an environment (purpose `innsync-peer`) and the nodes of a
/// cluster (`innsync-cluster`) prove themselves with one.
pub fn derived_token(purpose: &str, secret: &str, code: &str) -> String {
    let mut h = Sha256::new();
    h.update(purpose.as_bytes());
    h.update([0]);
    h.update(secret.as_bytes());
    h.update([0]);
    h.update(code.as_bytes());
    hex::encode(h.finalize())
}

/// The token every node of `server`'s cluster presents.
pub fn cluster_token(secret: &str, server: &str) -> String {
    derived_token("innsync-cluster", secret, server)
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
    fn tokens_differ_by_secret_and_server() {
        let a = cluster_token("a long cluster secret", "WB");
        assert!(same(&a, &cluster_token("a long cluster secret", "WB")));
        assert!(!same(&a, &cluster_token("a long cluster secret", "RS")));
        assert!(!same(&a, &cluster_token("another secret", "WB")));
        assert!(!same(&a, &a[1..]));
    }
}
