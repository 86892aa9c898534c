//! Queries on `events`: a user's recent security activity, bounded per user.

use diesel::prelude::*;

use super::Conn;
use super::schema::events;
use crate::domain::{EventKind, Origin};

/// The most events the API lists (the newest); how many are kept is a setting
/// (`LATCHKEY_EVENTS_PER_USER`).
pub const SHOWN_PER_USER: i64 = 100;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub id: i32,
    pub kind: String,
    pub at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

/// Records an event at `at` and prunes the user's oldest beyond the newest `kept`, so that the
/// table stays bounded per user.
pub fn record(
    conn: &mut Conn,
    user_id: i32,
    kind: EventKind,
    origin: &Origin,
    at: i64,
    kept: i64,
) -> QueryResult<()> {
    record_with_detail(conn, user_id, kind, None, origin, at, kept)
}

/// [`record`] with a short human-readable detail ("9 recovery codes left").
pub fn record_with_detail(
    conn: &mut Conn,
    user_id: i32,
    kind: EventKind,
    detail: Option<&str>,
    origin: &Origin,
    at: i64,
    kept: i64,
) -> QueryResult<()> {
    diesel::insert_into(events::table)
        .values((
            events::user_id.eq(user_id),
            events::kind.eq(kind.as_str()),
            events::at.eq(at),
            events::ip.eq(origin.ip.as_deref()),
            events::user_agent.eq(origin.user_agent.as_deref()),
            events::detail.eq(detail),
        ))
        .execute(conn)?;
    let cutoff: Option<i32> = events::table
        .filter(events::user_id.eq(user_id))
        .order(events::id.desc())
        .offset(kept)
        .select(events::id)
        .first(conn)
        .optional()?;
    if let Some(cutoff) = cutoff {
        diesel::delete(
            events::table
                .filter(events::user_id.eq(user_id))
                .filter(events::id.le(cutoff)),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// The user's events, newest first.
pub fn recent(conn: &mut Conn, user_id: i32, limit: i64) -> QueryResult<Vec<EventRow>> {
    events::table
        .filter(events::user_id.eq(user_id))
        .order(events::id.desc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(conn)
}
