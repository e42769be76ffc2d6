//! Tests over real loopback sockets: an echo server behind the proxy.

use super::*;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a test waits for anything before calling it a hang.
const TEST_TIMEOUT: Duration = Duration::from_secs(5);

/// An echo server on a free loopback port.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// Sends `msg` and reads the echo; `Err` when the connection is refused, closed or reset.
async fn round_trip(s: &mut TcpStream, msg: &[u8]) -> std::io::Result<Vec<u8>> {
    s.write_all(msg).await?;
    let mut got = vec![0u8; msg.len()];
    tokio::time::timeout(TEST_TIMEOUT, s.read_exact(&mut got))
        .await
        .map_err(|_| std::io::Error::other("timed out"))??;
    Ok(got)
}

async fn connect_and_echo(addr: SocketAddr, msg: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr).await?;
    round_trip(&mut s, msg).await
}

#[tokio::test]
async fn relays_both_ways_and_counts_bytes() {
    let proxy = Proxy::start("127.0.0.1:0", echo_server().await)
        .await
        .unwrap();
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut s, b"hello").await.unwrap(), b"hello");
    let big = vec![7u8; 3 * BUFFER_BYTES + 5];
    assert_eq!(round_trip(&mut s, &big).await.unwrap(), big);
    let st = proxy.stats();
    assert_eq!((st.accepted, st.relayed), (1, 1));
    assert_eq!(st.bytes_up, 5 + big.len() as u64);
    assert_eq!(st.bytes_down, 5 + big.len() as u64);
}

#[tokio::test]
async fn cut_drops_open_connections_and_refuses_new_ones_until_healed() {
    let proxy = Proxy::start("127.0.0.1:0", echo_server().await)
        .await
        .unwrap();
    let mut open = TcpStream::connect(proxy.addr()).await.unwrap();
    assert!(round_trip(&mut open, b"before").await.is_ok());

    proxy.cut();
    // The open connection ends: either the write fails or the read sees the end.
    let mut buf = [0u8; 16];
    let _ = open.write_all(b"during").await;
    let n = tokio::time::timeout(TEST_TIMEOUT, open.read(&mut buf))
        .await
        .unwrap();
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    assert!(connect_and_echo(proxy.addr(), b"x").await.is_err());
    let st = proxy.stats();
    assert_eq!(st.severed, 1);
    assert_eq!(st.refused_cut, 1);

    proxy.heal();
    assert_eq!(
        connect_and_echo(proxy.addr(), b"after").await.unwrap(),
        b"after"
    );
}

#[tokio::test]
async fn delay_slows_every_round_trip() {
    let proxy = Proxy::start("127.0.0.1:0", echo_server().await)
        .await
        .unwrap();
    proxy.set_delay(Duration::from_millis(100));
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    let started = Instant::now();
    assert_eq!(round_trip(&mut s, b"slow").await.unwrap(), b"slow");
    // Delayed once up and once down.
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    proxy.set_delay(Duration::ZERO);
    let started = Instant::now();
    round_trip(&mut s, b"fast").await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(200));
}

/// Which of `n` sequential connections survive (echo) under the current drop rate.
async fn survivors(proxy: &ProxyHandle, n: usize) -> Vec<bool> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(connect_and_echo(proxy.addr(), b"?").await.is_ok());
    }
    out
}

#[tokio::test]
async fn drop_rate_is_random_but_replays_with_the_same_seed() {
    let proxy = Proxy::start("127.0.0.1:0", echo_server().await)
        .await
        .unwrap();
    proxy.set_drop_rate(1.0, 1);
    assert_eq!(survivors(&proxy, 3).await, vec![false; 3]);
    proxy.set_drop_rate(0.0, 1);
    assert_eq!(survivors(&proxy, 3).await, vec![true; 3]);

    proxy.set_drop_rate(0.5, 42);
    let first = survivors(&proxy, 16).await;
    proxy.set_drop_rate(0.5, 42);
    let second = survivors(&proxy, 16).await;
    assert_eq!(first, second);
    assert!(first.contains(&true) && first.contains(&false), "{first:?}");
    let dropped = first.iter().filter(|ok| !**ok).count() as u64 * 2 + 3;
    assert_eq!(proxy.stats().dropped_random, dropped);
}

#[tokio::test]
async fn an_unreachable_upstream_closes_the_client() {
    // A port that was free a moment ago: nothing listens there.
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let proxy = Proxy::start("127.0.0.1:0", dead).await.unwrap();
    assert!(connect_and_echo(proxy.addr(), b"x").await.is_err());
    assert_eq!(proxy.stats().upstream_failures, 1);
}

#[tokio::test]
async fn dropping_the_handle_stops_the_proxy() {
    let proxy = Proxy::start("127.0.0.1:0", echo_server().await)
        .await
        .unwrap();
    let addr = proxy.addr();
    let mut open = TcpStream::connect(addr).await.unwrap();
    round_trip(&mut open, b"x").await.unwrap();
    drop(proxy);
    let mut buf = [0u8; 4];
    let n = tokio::time::timeout(TEST_TIMEOUT, open.read(&mut buf))
        .await
        .unwrap();
    assert!(matches!(n, Ok(0) | Err(_)));
}

#[tokio::test]
async fn bad_listen_addresses_are_refused() {
    let up: SocketAddr = "127.0.0.1:1".parse().unwrap();
    assert!(matches!(
        Proxy::start("nowhere", up).await,
        Err(ProxyError::BadAddress { .. })
    ));
}
