//! Queries on `login_throttles`: the per-account login throttle, in the database so that every
//! instance sees the same counts.
//!
//! An attempt is counted *before* its password is checked ([`begin_attempt`], inside the
//! caller's write transaction, behind a per-key lock, see [`super::lock_key`]): so parallel
//! attempts on any number of instances cannot slip past the limit while their hashes are being
//! computed, and the decision to refuse is made without computing any hash. A success deletes
//! the row ([`reset`]).

use diesel::prelude::*;

use super::Conn;
use super::schema::login_throttles;

/// A streak of failures older than this is forgotten.
pub const STREAK_WINDOW_SECS: i64 = 24 * 3600;
/// The first lock lasts this long; each further failure doubles it.
const BASE_LOCK_SECS: i64 = 2;
/// No lock lasts longer than 15 minutes.
pub const MAX_LOCK_SECS: i64 = 15 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Go ahead and check the password; `failures` now counts this attempt.
    Allowed { failures: i32 },
    /// Refused without checking: try again in `retry_after` seconds.
    Locked { retry_after: u64 },
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = login_throttles)]
struct Row {
    failures: i32,
    locked_until_ms: i64,
    updated_at: i64,
}

/// How long the account stays locked after `failures` consecutive failures (`threshold` ≥ 1).
pub fn lock_secs(failures: i32, threshold: u32) -> i64 {
    let excess = i64::from(failures) - i64::from(threshold);
    if excess < 0 {
        return 0;
    }
    let doublings = u32::try_from(excess.min(20)).unwrap_or(20);
    (BASE_LOCK_SECS << doublings).min(MAX_LOCK_SECS)
}

/// Records an attempt for `key` at `now_ms` (milliseconds) and decides whether it may proceed.
/// Call it inside a write transaction. A lock's end is kept to the millisecond, so a "2 s" lock
/// lasts 2 s.
pub fn begin_attempt(
    conn: &mut Conn,
    key: &str,
    now_ms: i64,
    threshold: u32,
) -> QueryResult<Attempt> {
    super::lock_key(conn, &format!("login_throttle:{key}"))?;
    let now = now_ms.div_euclid(1000);
    let row: Option<Row> = login_throttles::table
        .find(key)
        .select(Row::as_select())
        .get_result(conn)
        .optional()?;
    if let Some(row) = &row {
        let left_ms = row.locked_until_ms - now_ms;
        if left_ms > 0 {
            return Ok(Attempt::Locked {
                retry_after: u64::try_from((left_ms + 999) / 1000).unwrap_or(1),
            });
        }
    }
    let previous = match &row {
        Some(r) if now - r.updated_at < STREAK_WINDOW_SECS => r.failures,
        _ => 0,
    };
    let failures = previous.saturating_add(1);
    let lock = lock_secs(failures, threshold);
    let locked_until_ms = if lock > 0 { now_ms + lock * 1000 } else { 0 };
    if row.is_some() {
        diesel::update(login_throttles::table.find(key))
            .set((
                login_throttles::failures.eq(failures),
                login_throttles::locked_until_ms.eq(locked_until_ms),
                login_throttles::updated_at.eq(now),
            ))
            .execute(conn)?;
    } else {
        diesel::insert_into(login_throttles::table)
            .values((
                login_throttles::username_key.eq(key),
                login_throttles::failures.eq(failures),
                login_throttles::locked_until_ms.eq(locked_until_ms),
                login_throttles::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(Attempt::Allowed { failures })
}

/// Forgives the streak (a successful login), or forgets the name (an account deleted).
pub fn reset(conn: &mut Conn, key: &str) -> QueryResult<()> {
    diesel::delete(login_throttles::table.find(key))
        .execute(conn)
        .map(|_| ())
}

/// Deletes rows that no longer lock anything and whose streak has expired.
pub fn delete_stale(conn: &mut Conn, now: i64) -> QueryResult<usize> {
    diesel::delete(
        login_throttles::table
            .filter(login_throttles::locked_until_ms.le(now.saturating_mul(1000)))
            .filter(login_throttles::updated_at.lt(now - STREAK_WINDOW_SECS)),
    )
    .execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_grow_exponentially_to_fifteen_minutes() {
        assert_eq!(lock_secs(4, 5), 0);
        assert_eq!(lock_secs(5, 5), 2);
        assert_eq!(lock_secs(6, 5), 4);
        assert_eq!(lock_secs(7, 5), 8);
        assert_eq!(lock_secs(13, 5), 512);
        assert_eq!(lock_secs(14, 5), MAX_LOCK_SECS);
        assert_eq!(lock_secs(i32::MAX, 5), MAX_LOCK_SECS);
        assert_eq!(lock_secs(1, 1), 2);
    }
}
