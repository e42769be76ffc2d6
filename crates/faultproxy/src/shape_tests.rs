//! The link model in simulated time (no sockets, no clock), and the profiles over real
//! loopback sockets where time cannot be simulated.

use crate::profile::{self, LinkProfile, Site};
use crate::shape::{Dropouts, Shape, Shaper, SEGMENT_BYTES};
use crate::Proxy;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn the_bucket_lets_a_burst_through_then_holds_to_the_rate() {
    let shape = Shape {
        rate: Some(10_000),
        burst: 2_000,
        ..Shape::default()
    };
    let mut s = Shaper::new(shape, 1);
    let t0 = Instant::now();
    // The burst goes at once.
    assert_eq!(s.schedule(t0, 2_000).at, t0);
    // Then 10 × 1,000 bytes at 10,000 B/s: the last arrives a second later.
    let mut last = t0;
    for _ in 0..10 {
        last = s.schedule(t0, 1_000).at;
    }
    assert_eq!(last - t0, Duration::from_secs(1));
    // An idle spell refills the bucket up to the burst, no more.
    let later = last + Duration::from_secs(10);
    assert_eq!(s.schedule(later, 2_000).at, later);
    assert_eq!(s.schedule(later, 1_000).at - later, ms(100));
}

#[test]
fn delay_and_jitter_stay_in_bounds_and_replay_with_the_seed() {
    let shape = Shape {
        one_way: ms(75),
        jitter: ms(40),
        ..Shape::default()
    };
    let t0 = Instant::now();
    let draw = |seed| {
        let mut s = Shaper::new(shape.clone(), seed);
        (0..200)
            .map(|_| s.schedule(t0, 100).at - t0)
            .collect::<Vec<_>>()
    };
    let a = draw(9);
    assert_eq!(a, draw(9));
    assert_ne!(a, draw(10));
    assert!(a.iter().all(|d| *d >= ms(35) && *d <= ms(115)), "{a:?}");
    assert!(a.iter().any(|d| *d < ms(55)) && a.iter().any(|d| *d > ms(95)));
}

#[test]
fn a_lost_segment_costs_its_chunk_one_round_trip() {
    let shape = Shape {
        one_way: ms(350),
        loss: 0.03,
        stall: ms(700),
        ..Shape::default()
    };
    let mut s = Shaper::new(shape, 3);
    let t0 = Instant::now();
    let n = 10_000;
    let mut stalls = 0;
    for _ in 0..n {
        let d = s.schedule(t0, SEGMENT_BYTES);
        let expect = if d.stalled { ms(1_050) } else { ms(350) };
        assert_eq!(d.at - t0, expect);
        stalls += u32::from(d.stalled);
    }
    // 3% of one-segment chunks, give or take the draw.
    assert!((200..400).contains(&stalls), "{stalls}");
    // A chunk of ten segments is stalled far more often (1 − 0.97¹⁰ ≈ 26%).
    let mut big = 0;
    for _ in 0..1_000 {
        big += u32::from(s.schedule(t0, 10 * SEGMENT_BYTES).stalled);
    }
    assert!((180..340).contains(&big), "{big}");
}

#[test]
fn no_loss_no_stall() {
    let mut s = Shaper::new(Shape::default(), 1);
    let t0 = Instant::now();
    assert!((0..1000).all(|_| s.schedule(t0, 16_000)
        == crate::shape::Delivery {
            at: t0,
            stalled: false
        }));
}

#[test]
fn dropouts_come_at_the_end_of_each_period() {
    let d = Dropouts {
        every: Duration::from_secs(120),
        lasting: Duration::from_secs(30),
    };
    let s = Duration::from_secs;
    assert!(!d.is_out(s(0)) && !d.is_out(s(89)));
    assert!(d.is_out(s(90)) && d.is_out(s(119)));
    assert!(!d.is_out(s(120)) && d.is_out(s(215)));
    assert_eq!(d.next_start(s(0)), Some(s(90)));
    assert_eq!(d.next_start(s(90)), Some(s(210)));
    assert_eq!(d.next_start(s(100)), Some(s(210)));
    let none = Dropouts {
        every: s(0),
        lasting: s(0),
    };
    assert!(!none.is_out(s(5)) && none.next_start(s(5)).is_none());
}

#[test]
fn profiles_are_named_and_shape_the_sites_uplink() {
    let adsl = LinkProfile::by_name("adsl").unwrap();
    let (up, down) = adsl.shapes(Site::Client);
    assert_eq!((up.rate, down.rate), (Some(125_000), Some(1_000_000)));
    let (up, down) = adsl.shapes(Site::Upstream);
    assert_eq!((up.rate, down.rate), (Some(1_000_000), Some(125_000)));
    assert_eq!(up.one_way, ms(30));
    assert_eq!(up.stall, ms(60));
    let sat = profile::SATELLITE.scaled(0.1);
    assert_eq!(sat.rtt, ms(70));
    assert_eq!(sat.site_up, Some(32_000));
    let g = profile::THREE_G.scaled(0.1).dropouts.unwrap();
    assert_eq!(
        (g.every, g.lasting),
        (Duration::from_secs(12), Duration::from_secs(3))
    );
    assert!(LinkProfile::by_name("carrier pigeon").is_none());
}

/// A server that sends `n` bytes to whoever connects, then closes.
async fn source(n: usize) -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let _ = s.write_all(&vec![1u8; n]).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_shaped_relay_carries_at_the_rate_and_pipelines_past_the_delay() {
    let n = 100_000;
    let proxy = Proxy::start("127.0.0.1:0", source(n).await).await.unwrap();
    // 200 kB/s with 150 ms one way: 100 kB take about 0.5 s + 0.15 s, not n/16 kB × 150 ms.
    let down = Shape {
        rate: Some(200_000),
        one_way: ms(150),
        ..Shape::default()
    };
    proxy.set_shapes(Some((Shape::default(), down)), 1);
    let started = Instant::now();
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(got.len(), n);
    assert!(took >= ms(600) && took < ms(1_500), "{took:?}");
    assert_eq!(proxy.stats().bytes_down, n as u64);
}

#[tokio::test]
async fn a_dropout_severs_open_connections_and_refuses_new_ones_until_it_ends() {
    let proxy = Proxy::start("127.0.0.1:0", source(10).await).await.unwrap();
    // Up 300 ms, down 300 ms.
    proxy.set_dropouts(Some(Dropouts {
        every: ms(600),
        lasting: ms(300),
    }));
    let started = Instant::now();
    let mut early = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut buf = [0u8; 10];
    early.read_exact(&mut buf).await.unwrap();
    // Inside the drop-out: refused (closed without a byte).
    tokio::time::sleep_until((started + ms(400)).into()).await;
    let mut during = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), during.read_to_end(&mut got)).await;
    assert!(got.is_empty());
    // After it: served again.
    tokio::time::sleep_until((started + ms(650)).into()).await;
    let mut after = TcpStream::connect(proxy.addr()).await.unwrap();
    after.read_exact(&mut buf).await.unwrap();
    let st = proxy.stats();
    assert!(st.dropouts >= 1 && st.refused_cut >= 1, "{st:?}");
    proxy.set_dropouts(None);
}
