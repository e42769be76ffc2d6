//! Thin tokio adapters around the sans-I/O cores: they own the socket and the one timer, feed
//! bytes and clock readings in, and carry the emitted commands out. No protocol logic lives here.

pub mod control;
pub mod fias_link;
pub mod gateway;
pub mod pms_link;
pub mod reset_timing;

use std::future::Future;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::time::Instant;

pub use fias_link::{run_fias_pms_link, FiasLinkConfig, FiasLinkEvent, FiasListen, FiasRequest};
pub use gateway::{
    run_gateway, Gateway, GatewayConfig, GatewayControlError, GatewayError, GatewayHandle,
    GatewayNotice,
};
pub use pms_link::{run_pms_link, LinkRole, PmsLinkConfig, PmsLinkError, PmsLinkEvent, PmsRequest};

use crate::settings::Millis;

/// Size of one socket read; bytes are fed to the core as they come.
const READ_CHUNK: usize = 8 * 1024;

/// Turns tokio's monotonic clock into the cores' millisecond clock, from the adapter's start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    epoch: Instant,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Clock {
            epoch: Instant::now(),
        }
    }

    pub(crate) fn now(&self) -> Millis {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) fn instant(&self, at: Millis) -> Instant {
        self.epoch + Duration::from_millis(at)
    }

    /// Completes when the clock reaches `at`; never when there is no timer.
    pub(crate) fn sleep(&self, at: Option<Millis>) -> impl Future<Output = ()> {
        let deadline = at.map(|at| self.instant(at));
        async move {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        }
    }
}

/// Reads from the connection if there is one; pends forever otherwise (for `select!`).
pub(crate) async fn read_some(
    conn: &mut Option<OwnedReadHalf>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    match conn {
        Some(r) => r.read(buf).await,
        None => std::future::pending().await,
    }
}
