//! The address a cluster target answers on, as a load balancer in front of its nodes would give
//! it: one loopback port whose every connection goes to the node that last said it is the
//! writable leader (`/readyz` 200), or to the next node that takes the connection when that one
//! is dead. Followers relay writes to the leader themselves, so any live node will do; the
//! preference keeps most traffic off the relay path, as a health-checked balancer would.
//!
//! The real balancers (HAProxy, nginx) are what docs/load-balancing.md configures; this one
//! exists so the fault harness can run on a fresh machine with nothing installed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How long a connection to one node may take before the next is tried.
pub const NODE_CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
/// How often the front asks the nodes which one is the leader.
pub const LEADER_POLL: Duration = Duration::from_millis(250);
/// How long one health probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// A running front: its address, and the tasks that accept and probe (stopped on drop).
pub struct Front {
    addr: SocketAddr,
    preferred: Arc<AtomicUsize>,
    tasks: Vec<JoinHandle<()>>,
}

impl Front {
    /// Binds `listener`'s port in front of nodes listening on `node_ports`.
    pub fn start(listener: TcpListener, node_ports: Vec<u16>) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let preferred = Arc::new(AtomicUsize::new(0));
        let ports = Arc::new(node_ports);
        let accept = {
            let (ports, preferred) = (ports.clone(), preferred.clone());
            tokio::spawn(async move {
                while let Ok((inbound, _)) = listener.accept().await {
                    let first = preferred.load(Ordering::Relaxed);
                    tokio::spawn(relay(inbound, ports.clone(), first));
                }
            })
        };
        let probe = {
            let (ports, preferred) = (ports.clone(), preferred.clone());
            tokio::spawn(async move { probe_leader(ports, preferred).await })
        };
        Ok(Self {
            addr,
            preferred,
            tasks: vec![accept, probe],
        })
    }

    /// The port peers and clients use.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The node (index) last seen as the writable leader.
    pub fn leader(&self) -> usize {
        self.preferred.load(Ordering::Relaxed)
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Carries one connection to the first node, from `first` on, that takes it.
async fn relay(mut inbound: TcpStream, ports: Arc<Vec<u16>>, first: usize) {
    for k in 0..ports.len() {
        let port = ports[(first + k) % ports.len()];
        let connect = TcpStream::connect(("127.0.0.1", port));
        if let Ok(Ok(mut upstream)) = tokio::time::timeout(NODE_CONNECT_TIMEOUT, connect).await {
            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut upstream).await;
            return;
        }
    }
}

/// Keeps `preferred` at the node whose `/readyz` answers 200 (the writable leader).
async fn probe_leader(ports: Arc<Vec<u16>>, preferred: Arc<AtomicUsize>) {
    let Ok(http) = reqwest::Client::builder().timeout(PROBE_TIMEOUT).build() else {
        return;
    };
    loop {
        for (i, port) in ports.iter().enumerate() {
            let url = format!("http://127.0.0.1:{port}/readyz");
            if http
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                preferred.store(i, Ordering::Relaxed);
                break;
            }
        }
        tokio::time::sleep(LEADER_POLL).await;
    }
}
