//! Copying one direction of a connection through a fixed buffer, with the injected delay.

use crate::faults::Faults;
use crate::BUFFER_BYTES;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Copies `from` to `to` until end of stream or an error, then shuts `to` down so the other
/// side sees the end too.
pub(crate) async fn pump<R, W>(mut from: R, mut to: W, faults: &Faults, bytes: &AtomicU64)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; BUFFER_BYTES];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let delay = faults.delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
        bytes.fetch_add(n as u64, Ordering::Relaxed);
    }
    let _ = to.shutdown().await;
}
