//! Queries on `sessions`. Rows are found by the SHA-256 of the cookie's key, never the key.
//!
//! A session is live while it is neither past its absolute expiry (`expires_at`) nor idle for
//! longer than the idle timeout (`last_seen_at`): [`Liveness`] is that rule, in one place, for
//! every query that filters on it.

use diesel::dsl::{And, Gt, LtEq, Or};
use diesel::prelude::*;

use super::Conn;
use super::schema::{sessions, users};

/// A session row with the user it belongs to (one indexed read, joined on the primary key).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: i32,
    pub public_id: String,
    pub user_id: i32,
    pub remember: bool,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub logged_in_at: i64,
}

/// What the session check reads: the row and its user's name and creation time.
#[derive(Debug, Clone, Queryable)]
pub struct SessionWithUser {
    pub session: SessionRow,
    pub username: String,
    pub user_created_at: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    pub public_id: &'a str,
    pub key_hash: &'a str,
    pub user_id: i32,
    pub remember: bool,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub logged_in_at: i64,
}

/// The rule for a live session at `now` with an idle timeout of `idle_secs`.
#[derive(Debug, Clone, Copy)]
pub struct Liveness {
    pub now: i64,
    pub idle_secs: i64,
}

type LiveFilter = And<Gt<sessions::expires_at, i64>, Gt<sessions::last_seen_at, i64>>;
type EndedFilter = Or<LtEq<sessions::expires_at, i64>, LtEq<sessions::last_seen_at, i64>>;

impl Liveness {
    /// The SQL condition of a live row.
    fn filter(self) -> LiveFilter {
        sessions::expires_at
            .gt(self.now)
            .and(sessions::last_seen_at.gt(self.idle_cutoff()))
    }

    /// The SQL condition of a row that is no longer live: the negation of [`Self::filter`],
    /// spelt as an `OR` of two indexed ranges so that a database can answer it from the indexes.
    fn ended(self) -> EndedFilter {
        sessions::expires_at
            .le(self.now)
            .or(sessions::last_seen_at.le(self.idle_cutoff()))
    }

    /// The same rule for a row already read.
    pub fn is_live(self, row: &SessionRow) -> bool {
        row.expires_at > self.now && row.last_seen_at > self.idle_cutoff()
    }

    /// When a row ends unless used again: the earlier of its idle and absolute expiry.
    pub fn ends_at(self, row: &SessionRow) -> i64 {
        row.expires_at
            .min(row.last_seen_at.saturating_add(self.idle_secs))
    }

    fn idle_cutoff(self) -> i64 {
        self.now.saturating_sub(self.idle_secs)
    }
}

pub fn insert(conn: &mut Conn, session: &NewSession<'_>) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(session)
        .execute(conn)
        .map(|_| ())
}

/// The session check of every authenticated request, so it runs on the backend's own connection
/// type: Diesel then reuses the prepared statement instead of translating and preparing the
/// query through the multi-backend layer each time. `key_hash` is unique, so the query has no
/// `LIMIT`: Diesel binds `.first()`'s `LIMIT ?` anew on each run, and SQLite re-prepares a
/// statement whose bound `LIMIT` value changed its plan (the profile showed the SQL parser on
/// every request).
pub fn find_by_key_hash(conn: &mut Conn, key_hash: &str) -> QueryResult<Option<SessionWithUser>> {
    macro_rules! find {
        ($conn:expr) => {
            sessions::table
                .inner_join(users::table)
                .filter(sessions::key_hash.eq(key_hash))
                .select((SessionRow::as_select(), users::username, users::created_at))
                .get_result::<(SessionRow, String, i64)>($conn)
                .optional()
        };
    }
    let found = match conn {
        Conn::Sqlite(c) => find!(c),
        Conn::Postgres(c) => find!(c),
    }?;
    Ok(
        found.map(|(session, username, user_created_at)| SessionWithUser {
            session,
            username,
            user_created_at,
        }),
    )
}

pub fn touch(conn: &mut Conn, id: i32, at: i64) -> QueryResult<()> {
    diesel::update(sessions::table.find(id))
        .set(sessions::last_seen_at.eq(at))
        .execute(conn)
        .map(|_| ())
}

pub fn delete_by_key_hash(conn: &mut Conn, key_hash: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::key_hash.eq(key_hash))).execute(conn)
}

pub fn delete_by_id(conn: &mut Conn, id: i32) -> QueryResult<usize> {
    diesel::delete(sessions::table.find(id)).execute(conn)
}

/// Deletes up to `limit` sessions that are no longer live; returns how many. Found through the
/// indexes on `expires_at` and `last_seen_at`, so a batch costs the same however large the
/// table is, and holds the write lock only for its own rows.
pub fn delete_expired(conn: &mut Conn, live: Liveness, limit: i64) -> QueryResult<usize> {
    let ids: Vec<i32> = sessions::table
        .filter(live.ended())
        .select(sessions::id)
        .limit(limit)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(sessions::table.filter(sessions::id.eq_any(ids))).execute(conn)
}

/// The user's live sessions, oldest first.
pub fn live_for_user(
    conn: &mut Conn,
    user_id: i32,
    live: Liveness,
) -> QueryResult<Vec<SessionRow>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(live.filter())
        .order(sessions::id.asc())
        .select(SessionRow::as_select())
        .load(conn)
}

/// Deletes one session of the user by its public id; returns whether it existed.
pub fn delete_one_for_user(conn: &mut Conn, user_id: i32, public_id: &str) -> QueryResult<bool> {
    diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::public_id.eq(public_id)),
    )
    .execute(conn)
    .map(|n| n > 0)
}

/// Deletes every session of the user except `keep` (a public id; `None` keeps none); returns
/// how many.
pub fn delete_others(conn: &mut Conn, user_id: i32, keep: Option<&str>) -> QueryResult<usize> {
    let Some(keep) = keep else {
        return delete_for_user(conn, user_id);
    };
    diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::public_id.ne(keep)),
    )
    .execute(conn)
}

/// Keeps the user's `keep` most recently used sessions and deletes the rest; returns how many
/// were deleted.
pub fn keep_newest_for_user(conn: &mut Conn, user_id: i32, keep: i64) -> QueryResult<usize> {
    let extra: Vec<i32> = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .order((sessions::last_seen_at.desc(), sessions::id.desc()))
        .offset(keep)
        .select(sessions::id)
        .load(conn)?;
    if extra.is_empty() {
        return Ok(0);
    }
    diesel::delete(sessions::table.filter(sessions::id.eq_any(extra))).execute(conn)
}

/// Deletes every session of a user.
pub fn delete_for_user(conn: &mut Conn, user_id: i32) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)
}

/// Live sessions across all users.
pub fn count_live(conn: &mut Conn, live: Liveness) -> QueryResult<i64> {
    sessions::table
        .filter(live.filter())
        .count()
        .get_result(conn)
}

/// Live sessions per user id (users without any are absent).
pub fn count_live_by_user(conn: &mut Conn, live: Liveness) -> QueryResult<Vec<(i32, i64)>> {
    sessions::table
        .filter(live.filter())
        .group_by(sessions::user_id)
        .select((sessions::user_id, diesel::dsl::count_star()))
        .load(conn)
}
