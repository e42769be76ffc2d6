//! This server's reservation numbers (FIAS `G#`): the next one of its range, from the
//! writer's copy of the `last_reservation` counter, saved in `meta` in the batch's transaction
//! so a number is never handed out twice. After a restore the counter may lag bookings this server already
//! numbered (they come back through replication or a backup replay), so the highest number of
//! its own range found in the change log — an indexed lookup ([`crate::schema`]'s
//! `V_CHANGE_RESERVATION_KEYS`) — also bounds the next one.

use innsync_core::{ReservationNumber, ReservationNumberError, ServerCode};
use rusqlite::{params, Connection, OptionalExtension};

/// The `meta` key of the last sequence handed out.
pub(crate) const LAST_RESERVATION_KEY: &str = "last_reservation";

fn failed(e: impl std::fmt::Display) -> ReservationNumberError {
    ReservationNumberError::Counter(e.to_string())
}

/// Hands out the next reservation number of `server`. `last` is the writer's copy of the
/// counter (in its `Counters`, put back with them when a command or batch fails); `None` makes
/// it read the counter and the log again — at open, and after changes from elsewhere landed,
/// which may hold numbers this server gave out before a restore. The counter reaches `meta`
/// once per batch ([`save`]), not once per booking.
pub(crate) fn next(
    conn: &Connection,
    server: &ServerCode,
    last: &mut Option<u64>,
) -> Result<ReservationNumber, ReservationNumberError> {
    let high = match *last {
        Some(h) => h,
        None => high_water(conn, server)?,
    };
    let number = ReservationNumber::new(server, high + 1)?;
    *last = Some(high + 1);
    Ok(number)
}

/// The last sequence of `server`'s range in use: the counter, or past it the highest number of
/// the range in the change log.
fn high_water(conn: &Connection, server: &ServerCode) -> Result<u64, ReservationNumberError> {
    let counter: u64 = conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")
        .and_then(|mut st| {
            st.query_row([LAST_RESERVATION_KEY], |r| r.get::<_, String>(0))
                .optional()
        })
        .map_err(failed)?
        .map(|v| v.parse().map_err(failed))
        .transpose()?
        .unwrap_or(0);
    let (first, last) = ReservationNumber::range(server);
    let highest: Option<i64> = conn
        .prepare_cached(
            "SELECT MAX(reservation_number) FROM changes
             WHERE reservation_number BETWEEN ?1 AND ?2",
        )
        .and_then(|mut st| st.query_row(params![first as i64, last as i64], |r| r.get(0)))
        .map_err(failed)?;
    let seen = highest
        .and_then(|h| u64::try_from(h).ok())
        .map_or(0, |h| h + 1 - first);
    Ok(counter.max(seen))
}

/// Stores the counter in the batch's transaction.
pub(crate) fn save(conn: &Connection, last: u64) -> Result<(), rusqlite::Error> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
    )?
    .execute(params![LAST_RESERVATION_KEY, last.to_string()])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::schema::open_writer(&dir.path().join("db.sqlite")).unwrap();
        (dir, conn)
    }

    #[test]
    fn numbers_follow_the_counter_and_skip_past_numbers_already_logged() {
        let (_dir, conn) = store();
        let wb = ServerCode::parse("WB").unwrap();
        let (first, _) = ReservationNumber::range(&wb);
        let mut last = None;
        assert_eq!(next(&conn, &wb, &mut last).unwrap().get(), first);
        assert_eq!(next(&conn, &wb, &mut last).unwrap().get(), first + 1);
        // Saved at the batch's end; read back by a writer that holds no copy.
        save(&conn, last.unwrap()).unwrap();
        assert_eq!(next(&conn, &wb, &mut None).unwrap().get(), first + 2);
        // A restored store: the log holds a higher number of this server than the counter.
        let logged = |origin: &str, id: &str, number: u64| {
            conn.execute(
                "INSERT INTO changes (origin, seq, epoch, authority, kind, record_id, version, at,
                    actor, action, detail, body, reservation_number)
                 VALUES (?1, 1, 1, 'server:' || ?1, 'booking', ?2, 1, 't', 'a', 'x', '', ?3, ?4)",
                params![
                    origin,
                    id,
                    format!(r#"{{"kind":"booking","reservation_number":{number}}}"#),
                    number as i64
                ],
            )
            .unwrap();
        };
        logged("WB", "WB-000009", first + 49);
        // Another server's number in the log does not matter.
        logged(
            "PA",
            "PA-000001",
            ReservationNumber::range(&ServerCode::parse("PA").unwrap()).0 + 900,
        );
        // A writer's copy is trusted (it is dropped when changes from elsewhere land)…
        assert_eq!(next(&conn, &wb, &mut last).unwrap().get(), first + 2);
        // …and without one, the log bounds the next number.
        assert_eq!(next(&conn, &wb, &mut None).unwrap().get(), first + 50);
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT MAX(reservation_number) FROM changes
                 WHERE reservation_number BETWEEN 1 AND 2",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("changes_by_reservation_no"), "{plan}");
    }

    #[test]
    fn the_range_runs_out_with_a_typed_error() {
        let (_dir, conn) = store();
        let wb = ServerCode::parse("WB").unwrap();
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            params![
                LAST_RESERVATION_KEY,
                (innsync_core::ids::RESERVATIONS_PER_SERVER - 2).to_string()
            ],
        )
        .unwrap();
        let (_, last) = ReservationNumber::range(&wb);
        let mut copy = None;
        assert_eq!(next(&conn, &wb, &mut copy).unwrap().get(), last);
        assert_eq!(
            next(&conn, &wb, &mut copy),
            Err(ReservationNumberError::Exhausted { server: wb })
        );
        // The refused number is not counted as given out.
        assert_eq!(copy, Some(innsync_core::ids::RESERVATIONS_PER_SERVER - 1));
    }
}
