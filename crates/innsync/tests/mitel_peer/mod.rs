//! A small Mitel-style system (a PBX's call accounting, a minibar) for the PMS link tests,
//! written byte by byte from PMS.md rather than with innsync's own engine: it connects to the
//! PMS over TCP, answers the PMS's `ENQ` with `ACK` and each of its texts with `ACK` (keeping
//! them), and sends its own texts the half-duplex way — `ENQ`, wait for `ACK` (yielding to the
//! PMS on a collision), `STX` text `ETX`, and returns the PMS's answer (`ACK` or `NAK`).
#![allow(dead_code)]

use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const ENQ: u8 = 0x05;
pub const ACK: u8 = 0x06;
pub const NAK: u8 = 0x15;
const STX: u8 = 0x02;
const ETX: u8 = 0x03;
const PATIENCE: Duration = Duration::from_secs(30);

/// The system's end of one connection.
pub struct MitelPeer {
    stream: TcpStream,
    /// Every text the PMS sent, in order (`CHK1   101`, `NAM   101 Ada`, `AYT`).
    pub received: Vec<String>,
}

impl MitelPeer {
    /// Connects to the PMS listening at `address`, trying again while it is not yet listening.
    pub async fn connect(address: &str) -> MitelPeer {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match TcpStream::connect(address).await {
                Ok(stream) => {
                    return MitelPeer {
                        stream,
                        received: vec![],
                    }
                }
                Err(e) => {
                    assert!(Instant::now() < deadline, "connect to {address}: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    async fn byte(&mut self) -> u8 {
        let mut b = [0u8; 1];
        match tokio::time::timeout(PATIENCE, self.stream.read_exact(&mut b)).await {
            Ok(Ok(_)) => b[0],
            Ok(Err(e)) => panic!("the PMS closed the link: {e}"),
            Err(_) => panic!("the PMS sent nothing for {PATIENCE:?}"),
        }
    }

    async fn write(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .await
            .expect("write to the PMS");
    }

    /// The PMS sent `ENQ`: answer it, read its text and acknowledge it.
    async fn take_pms_message(&mut self) {
        self.write(&[ACK]).await;
        while self.byte().await != STX {}
        let mut text = vec![];
        loop {
            match self.byte().await {
                ETX => break,
                b => text.push(b),
            }
        }
        self.received
            .push(String::from_utf8_lossy(&text).into_owned());
        self.write(&[ACK]).await;
    }

    /// Sends `text` with a fresh `ENQ`; the PMS's answer to the text (`ACK` or `NAK`).
    pub async fn send(&mut self, text: &str) -> u8 {
        self.write(&[ENQ]).await;
        loop {
            match self.byte().await {
                ACK => break,
                // Both sent ENQ: the system yields, serves the PMS, then asks again.
                ENQ => {
                    self.take_pms_message().await;
                    self.write(&[ENQ]).await;
                }
                _ => {}
            }
        }
        self.resend(text).await
    }

    /// Sends `text` again without a new `ENQ` (allowed after a `NAK`); the PMS's answer.
    pub async fn resend(&mut self, text: &str) -> u8 {
        let mut frame = vec![STX];
        frame.extend_from_slice(text.as_bytes());
        frame.push(ETX);
        self.write(&frame).await;
        loop {
            if let b @ (ACK | NAK) = self.byte().await {
                return b;
            }
        }
    }
}
