//! Named link profiles — the links innsync's properties actually sit on (issue 22) — turned into
//! the two directions' [`Shape`]s of a relay. The kernel's `netem` is not assumed (it is missing
//! on some CI machines); the proxy models delay, jitter, loss and drop-outs itself, and the rate
//! with its token bucket.

use crate::shape::{Dropouts, Shape};
use std::time::Duration;

/// A link between a remote site (a lodge, an office) and the rest of the environment.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkProfile {
    /// Its name (`satellite`, `adsl`, `3g`, `loopback`).
    pub name: &'static str,
    /// Round trip without jitter.
    pub rtt: Duration,
    /// The round trip varies by up to this much either way (split between the directions).
    pub jitter: Duration,
    /// Bytes per second the site can send; `None` is unlimited.
    pub site_up: Option<u64>,
    /// Bytes per second the site can receive; `None` is unlimited.
    pub site_down: Option<u64>,
    /// Probability a TCP segment is lost, each way.
    pub loss: f64,
    /// Periodic drop-outs, if the link has them.
    pub dropouts: Option<Dropouts>,
}

/// Kilobits per second as bytes per second.
const fn kbit(k: u64) -> Option<u64> {
    Some(k * 1000 / 8)
}

/// A geostationary satellite link: 700 ms round trip, 256 kbit/s each way, 3% loss.
pub const SATELLITE: LinkProfile = LinkProfile {
    name: "satellite",
    rtt: Duration::from_millis(700),
    jitter: Duration::ZERO,
    site_up: kbit(256),
    site_down: kbit(256),
    loss: 0.03,
    dropouts: None,
};

/// Rural ADSL: 60 ms, 1 Mbit/s up, 1% loss (8 Mbit/s down assumed: ADSL is asymmetric).
pub const ADSL: LinkProfile = LinkProfile {
    name: "adsl",
    rtt: Duration::from_millis(60),
    jitter: Duration::ZERO,
    site_up: kbit(1_000),
    site_down: kbit(8_000),
    loss: 0.01,
    dropouts: None,
};

/// 3G: 150 ms ± 80 ms, 384 kbit/s each way, 2% loss, and a 30 s drop-out every 2 minutes.
pub const THREE_G: LinkProfile = LinkProfile {
    name: "3g",
    rtt: Duration::from_millis(150),
    jitter: Duration::from_millis(80),
    site_up: kbit(384),
    site_down: kbit(384),
    loss: 0.02,
    dropouts: Some(Dropouts {
        every: Duration::from_secs(120),
        lasting: Duration::from_secs(30),
    }),
};

/// No shaping at all: the reference.
pub const LOOPBACK: LinkProfile = LinkProfile {
    name: "loopback",
    rtt: Duration::ZERO,
    jitter: Duration::ZERO,
    site_up: None,
    site_down: None,
    loss: 0.0,
    dropouts: None,
};

/// Every named profile.
pub const PROFILES: [LinkProfile; 4] = [LOOPBACK, SATELLITE, ADSL, THREE_G];

/// Which end of a relay is the remote site (the relay's client pulls through it, or it is
/// pulled from through the relay).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Site {
    /// The relay's client is the site: what it sends goes up the site's uplink.
    Client,
    /// The relay's upstream is the site: its answers go up the site's uplink.
    Upstream,
}

impl LinkProfile {
    /// The profile named `name`, if there is one.
    pub fn by_name(name: &str) -> Option<LinkProfile> {
        PROFILES.into_iter().find(|p| p.name == name)
    }

    /// The same link with every time (round trip, jitter, drop-outs) multiplied by `factor`,
    /// rates and loss kept: for tests that must finish in seconds.
    pub fn scaled(&self, factor: f64) -> LinkProfile {
        let f = if factor.is_finite() && factor > 0.0 {
            factor
        } else {
            1.0
        };
        let t = |d: Duration| Duration::from_secs_f64(d.as_secs_f64() * f);
        LinkProfile {
            rtt: t(self.rtt),
            jitter: t(self.jitter),
            dropouts: self.dropouts.map(|d| Dropouts {
                every: t(d.every),
                lasting: t(d.lasting),
            }),
            ..self.clone()
        }
    }

    /// The shapes of a relay's two directions: `(client → upstream, upstream → client)`.
    pub fn shapes(&self, site: Site) -> (Shape, Shape) {
        let one = |rate: Option<u64>| Shape {
            rate,
            one_way: self.rtt / 2,
            jitter: self.jitter / 2,
            loss: self.loss,
            stall: self.rtt,
            ..Shape::default()
        };
        match site {
            Site::Client => (one(self.site_up), one(self.site_down)),
            Site::Upstream => (one(self.site_down), one(self.site_up)),
        }
    }
}
