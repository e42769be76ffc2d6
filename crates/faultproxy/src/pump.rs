//! Copying one direction of a connection through a fixed buffer, with the link's delay, rate and
//! loss. Reading and writing are pipelined (as on a real link, many chunks are in flight at
//! once), through a bounded queue of chunks each stamped with its arrival time; a chunk never
//! overtakes the one before it (TCP delivers in order).

use crate::faults::{Dir, Faults};
use crate::BUFFER_BYTES;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// Chunks in flight per direction of a connection: at most this many × [`BUFFER_BYTES`] are
/// buffered inside the proxy.
pub(crate) const IN_FLIGHT_CHUNKS: usize = 8;

/// What a pump counts.
pub(crate) struct PumpCounters<'a> {
    /// Bytes delivered.
    pub bytes: &'a AtomicU64,
    /// Chunks stalled by a simulated loss.
    pub stalls: &'a AtomicU64,
}

/// Copies `from` to `to` until end of stream or an error, then shuts `to` down so the other
/// side sees the end too.
pub(crate) async fn pump<R, W>(
    mut from: R,
    mut to: W,
    faults: &Faults,
    dir: Dir,
    counters: PumpCounters<'_>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (tx, mut rx) = mpsc::channel::<(Option<Instant>, Vec<u8>)>(IN_FLIGHT_CHUNKS);
    let reader = async move {
        let mut last: Option<Instant> = None;
        loop {
            let mut buf = vec![0u8; BUFFER_BYTES];
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            buf.truncate(n);
            let at = faults.schedule(dir, Instant::now(), n).map(|d| {
                if d.stalled {
                    counters.stalls.fetch_add(1, Ordering::Relaxed);
                }
                // In order: never before the previous chunk of this connection.
                let at = last.map_or(d.at, |l| l.max(d.at));
                last = Some(at);
                at
            });
            if tx.send((at, buf)).await.is_err() {
                break;
            }
        }
    };
    let writer = async {
        while let Some((at, chunk)) = rx.recv().await {
            if let Some(at) = at {
                tokio::time::sleep_until(at.into()).await;
            }
            if to.write_all(&chunk).await.is_err() {
                return;
            }
            counters
                .bytes
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
        let _ = to.shutdown().await;
    };
    tokio::pin!(reader);
    tokio::pin!(writer);
    // The end of the stream lets the writer drain what is in flight; a failed write ends both.
    tokio::select! {
        _ = &mut reader => writer.await,
        _ = &mut writer => {}
    }
}
