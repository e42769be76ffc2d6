//! A small FIAS interface (the vendor's side of the link), written from the public Oracle
//! Hospitality FIAS specification and not from innsync's code, as a PBX or TV vendor's system
//! behaves: it connects to the PMS over TCP, answers `LS` with `LD`, its `LR` link records and
//! `LA`, keeps its own guest table the way vendors store it (`G#` in an integer column, names as
//! the bytes received), applies `GI`/`GO`/`GC`, runs a database resync (`DR` → `DS` … `DE`,
//! where a guest not re-sent has checked out), posts charges (`PS`, answered by `PA`) and ends
//! the link with `LE`. Records are `STX` text `ETX` on TCP, with no ACK/NAK.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const STX: u8 = 0x02;
const ETX: u8 = 0x03;
const PATIENCE: Duration = Duration::from_secs(30);

/// One record as received: its two-letter type and its fields as raw bytes, in wire order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rec {
    pub kind: String,
    pub fields: Vec<(String, Vec<u8>)>,
    pub raw: Vec<u8>,
}

impl Rec {
    /// Splits `XX|F1data|F2data|` (the record id, then fields of a two-character id and data).
    fn parse(raw: &[u8]) -> Rec {
        let mut parts = raw.split(|b| *b == b'|');
        let kind = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
        let fields = parts
            .filter(|p| p.len() >= 2)
            .map(|p| {
                (
                    String::from_utf8_lossy(&p[..2]).into_owned(),
                    p[2..].to_vec(),
                )
            })
            .collect();
        Rec {
            kind,
            fields,
            raw: raw.to_vec(),
        }
    }

    /// A field's bytes (the last occurrence wins).
    pub fn get(&self, id: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .rev()
            .find(|(f, _)| f == id)
            .map(|(_, v)| v.as_slice())
    }

    /// A field as text (for ASCII fields: room, dates, numbers).
    pub fn text(&self, id: &str) -> Option<String> {
        self.get(id)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    pub fn has(&self, id: &str) -> bool {
        self.fields.iter().any(|(f, _)| f == id)
    }

    /// The record as text, lossy, for assertion messages.
    pub fn show(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }
}

/// A guest row as the vendor stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestRow {
    /// `G#`, an integer column of at most 10 digits.
    pub reservation: u64,
    /// `GN` as the bytes received in the vendor's code page.
    pub name: Vec<u8>,
}

/// The vendor's side of one FIAS link.
pub struct FiasPeer {
    stream: TcpStream,
    pending: Vec<u8>,
    /// Room → guest, the vendor's reservation table.
    pub guests: BTreeMap<String, GuestRow>,
    /// Rows its database refused, with the reason (as the MariaDB vendor logs them).
    pub rejected: Vec<String>,
    /// Every record received, in order.
    pub received: Vec<Rec>,
    resync: Option<BTreeMap<String, GuestRow>>,
}

impl FiasPeer {
    /// Connects to the PMS (the PMS is the TCP server in FIAS), retrying while it starts.
    pub async fn connect(addr: &str) -> FiasPeer {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let stream = loop {
            match TcpStream::connect(addr).await {
                Ok(s) => break s,
                Err(e) => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "no FIAS PMS at {addr}: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        FiasPeer {
            stream,
            pending: Vec::new(),
            guests: BTreeMap::new(),
            rejected: Vec::new(),
            received: Vec::new(),
            resync: None,
        }
    }

    /// Sends one record (text between STX and ETX).
    pub async fn send(&mut self, text: &str) {
        let mut frame = vec![STX];
        frame.extend_from_slice(text.as_bytes());
        frame.push(ETX);
        self.stream
            .write_all(&frame)
            .await
            .expect("send to the PMS");
    }

    /// The next record from the PMS, not yet applied.
    pub async fn recv(&mut self) -> Rec {
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == ETX) {
                let frame: Vec<u8> = self.pending.drain(..=end).collect();
                let Some(start) = frame.iter().rposition(|&b| b == STX) else {
                    continue; // bytes outside a frame are ignored
                };
                let rec = Rec::parse(&frame[start + 1..frame.len() - 1]);
                self.received.push(rec.clone());
                return rec;
            }
            let mut buf = [0u8; 4096];
            let n = tokio::time::timeout(PATIENCE, self.stream.read(&mut buf))
                .await
                .expect("the PMS sent no record in time")
                .expect("read from the PMS");
            assert!(n > 0, "the PMS closed the FIAS link");
            self.pending.extend_from_slice(&buf[..n]);
        }
    }

    /// True when the PMS closed the connection (after `LE`).
    pub async fn closed_by_pms(&mut self) -> bool {
        let mut buf = [0u8; 256];
        matches!(
            tokio::time::timeout(PATIENCE, self.stream.read(&mut buf)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }

    /// Link start as the specification describes it: the PMS sends `LS`; we describe ourselves
    /// (`LD`), list the records and fields we want (`LR`), send `LA`; the PMS answers `LA`.
    /// Returns the PMS's `LS` and `LA`.
    pub async fn start_link(&mut self, link_records: &[&str]) -> (Rec, Rec) {
        let ls = self.recv().await;
        assert_eq!(ls.kind, "LS", "{}", ls.show());
        self.send("LD|DA261204|TI120000|V#2.20|IFTV|").await;
        for lr in link_records {
            self.send(lr).await;
        }
        self.send("LA|DA261204|TI120000|").await;
        let la = self.recv().await;
        assert_eq!(la.kind, "LA", "{}", la.show());
        (ls, la)
    }

    /// Applies one guest record to the table, as the vendor's database would.
    fn apply(&mut self, rec: &Rec) {
        let Some(room) = rec.text("RN") else { return };
        let row = || -> Result<GuestRow, String> {
            let g = rec.text("G#").unwrap_or_default();
            // An integer column of 10 digits: anything else is refused by the database.
            let reservation = g
                .parse::<u64>()
                .ok()
                .filter(|n| g.len() <= 10 && *n <= 9_999_999_999)
                .ok_or_else(|| format!("Incorrect integer value: '{g}' for column G#"))?;
            Ok(GuestRow {
                reservation,
                name: rec.get("GN").unwrap_or_default().to_vec(),
            })
        };
        let table = match &mut self.resync {
            Some(t) => t,
            None => &mut self.guests,
        };
        match rec.kind.as_str() {
            "GI" => match row() {
                Ok(r) => {
                    table.insert(room, r);
                }
                Err(e) => self.rejected.push(e),
            },
            "GO" => {
                table.remove(&room);
            }
            "GC" => {
                if let Some(old) = rec.text("RO") {
                    table.remove(&old);
                }
                match row() {
                    Ok(r) => {
                        table.insert(room, r);
                    }
                    Err(e) => self.rejected.push(e),
                }
            }
            _ => {}
        }
    }

    /// Reads and applies records until one of `kind` arrives; returns it.
    pub async fn until(&mut self, kind: &str) -> Rec {
        loop {
            let rec = self.recv().await;
            self.apply(&rec);
            if rec.kind == kind {
                return rec;
            }
        }
    }

    /// Asks for a database resync (`DR`): the PMS answers `DS`, a `GI`/`GO` with `SF` for
    /// every room, `DE`. Guests not re-sent have checked out: the table becomes what was sent.
    /// Returns `DS`, the records in between, and `DE`.
    pub async fn resync(&mut self) -> (Rec, Vec<Rec>, Rec) {
        self.send("DR|DA261204|TI120500|").await;
        let ds = loop {
            let rec = self.recv().await;
            if rec.kind == "DS" {
                break rec;
            }
            // Real-time records before DS are applied as usual.
            self.apply(&rec);
        };
        self.resync = Some(BTreeMap::new());
        let mut body = Vec::new();
        let de = loop {
            let rec = self.recv().await;
            if rec.kind == "DE" {
                break rec;
            }
            self.apply(&rec);
            body.push(rec);
        };
        if let Some(t) = self.resync.take() {
            self.guests = t;
        }
        (ds, body, de)
    }

    /// Posts a charge (`PS`) and waits for the PMS's answer (`PA`).
    pub async fn post(
        &mut self,
        room: &str,
        reservation: Option<u64>,
        amount: i64,
        seq: u32,
    ) -> Rec {
        let g = reservation.map(|r| format!("G#{r}|")).unwrap_or_default();
        self.send(&format!(
            "PS|RN{room}|{g}PTM|TA{amount}|P#{seq}|DA261204|TI121500|"
        ))
        .await;
        self.until("PA").await
    }

    /// Ends the link (`LE`).
    pub async fn end_link(&mut self) {
        self.send("LE|DA261204|TI122000|").await;
    }
}
