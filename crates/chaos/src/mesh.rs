//! The links between the servers of a run: for every directed pair (`from` pulls from and
//! relays to `to`), an HTTP middlebox ([`crate::mangle`]) in front of a TCP fault proxy
//! (`innsync-faultproxy`) in front of `to`'s real port. `from` is started with
//! `--peer-url TO=<the middlebox>`, so every byte between two servers crosses both.
//!
//! Cuts are counted, so overlapping faults (a server isolated while one of its links is cut
//! on its own) heal only when the last of them is undone.

use crate::mangle::{MangleStats, Mangler};
use crate::plan::MangleMode;
use innsync_faultproxy::{Proxy, ProxyHandle, ProxyStats};
use std::collections::BTreeMap;
use std::time::Duration;

/// One directed link.
pub struct Link {
    /// The TCP fault proxy.
    pub proxy: ProxyHandle,
    /// The HTTP middlebox in front of it.
    pub mangler: Mangler,
    cuts: u32,
}

/// Every directed link between the servers, by `(from, to)` index.
pub struct Mesh {
    links: BTreeMap<(usize, usize), Link>,
}

/// Why the mesh could not be built.
#[derive(Debug, thiserror::Error)]
#[error("link {from}->{to}: {detail}")]
pub struct MeshError {
    from: usize,
    to: usize,
    detail: String,
}

/// What the links did over a run.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct MeshStats {
    /// Connections refused or severed by cuts.
    pub cut_connections: u64,
    /// Connections dropped at random.
    pub dropped_connections: u64,
    /// Bytes relayed.
    pub bytes: u64,
    /// What the middleboxes did.
    pub mangled: MangleStats,
}

impl Mesh {
    /// Builds the links for servers listening on `ports`.
    pub async fn build(ports: &[u16]) -> Result<Self, MeshError> {
        let mut links = BTreeMap::new();
        for from in 0..ports.len() {
            for (to, port) in ports.iter().enumerate() {
                if from == to {
                    continue;
                }
                let err = |detail: String| MeshError { from, to, detail };
                let upstream = format!("127.0.0.1:{port}")
                    .parse()
                    .map_err(|e: std::net::AddrParseError| err(e.to_string()))?;
                let proxy = Proxy::start("127.0.0.1:0", upstream)
                    .await
                    .map_err(|e| err(e.to_string()))?;
                let mangler = Mangler::start(proxy.addr())
                    .await
                    .map_err(|e| err(e.to_string()))?;
                links.insert(
                    (from, to),
                    Link {
                        proxy,
                        mangler,
                        cuts: 0,
                    },
                );
            }
        }
        Ok(Self { links })
    }

    /// The URL `from` uses to reach `to`.
    pub fn url(&self, from: usize, to: usize) -> Option<String> {
        self.links
            .get(&(from, to))
            .map(|l| format!("http://{}", l.mangler.addr()))
    }

    /// Cuts a link (counted).
    pub fn cut(&mut self, from: usize, to: usize) {
        if let Some(l) = self.links.get_mut(&(from, to)) {
            l.cuts += 1;
            l.proxy.cut();
        }
    }

    /// Undoes one cut of a link; it heals when none is left.
    pub fn uncut(&mut self, from: usize, to: usize) {
        if let Some(l) = self.links.get_mut(&(from, to)) {
            l.cuts = l.cuts.saturating_sub(1);
            if l.cuts == 0 {
                l.proxy.heal();
            }
        }
    }

    /// Every link touching `server`, both ways.
    pub fn touching(&self, server: usize) -> Vec<(usize, usize)> {
        self.links
            .keys()
            .filter(|(f, t)| *f == server || *t == server)
            .copied()
            .collect()
    }

    /// Slows a link.
    pub fn delay(&self, from: usize, to: usize, d: Duration) {
        if let Some(l) = self.links.get(&(from, to)) {
            l.proxy.set_delay(d);
        }
    }

    /// Drops new connections of a link at this rate.
    pub fn drops(&self, from: usize, to: usize, rate: f64, seed: u64) {
        if let Some(l) = self.links.get(&(from, to)) {
            l.proxy.set_drop_rate(rate, seed);
        }
    }

    /// Mistreats a link's HTTP messages, or stops (`None`).
    pub fn mangle(&self, from: usize, to: usize, mode: Option<(MangleMode, u64)>) {
        if let Some(l) = self.links.get(&(from, to)) {
            match mode {
                Some((m, seed)) => l.mangler.set(m, seed),
                None => l.mangler.clear(),
            }
        }
    }

    /// Every link clean: no cut, delay, drops or mangling.
    pub fn heal_all(&mut self) {
        for l in self.links.values_mut() {
            l.cuts = 0;
            l.proxy.heal();
            l.proxy.set_delay(Duration::ZERO);
            l.proxy.set_drop_rate(0.0, 0);
            l.mangler.clear();
        }
    }

    /// What the links did.
    pub fn stats(&self) -> MeshStats {
        let mut s = MeshStats::default();
        for l in self.links.values() {
            let p: ProxyStats = l.proxy.stats();
            s.cut_connections += p.refused_cut + p.severed;
            s.dropped_connections += p.dropped_random;
            s.bytes += p.bytes_up + p.bytes_down;
            let m = l.mangler.stats();
            s.mangled.forwarded += m.forwarded;
            s.mangled.replayed += m.replayed;
            s.mangled.reordered += m.reordered;
            s.mangled.duplicated += m.duplicated;
            s.mangled.upstream_errors += m.upstream_errors;
        }
        s
    }
}
