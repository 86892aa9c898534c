//! Storage: one connection type over SQLite or PostgreSQL (chosen by `DATABASE_URL` at run time),
//! an r2d2 pool with per-connection SQLite PRAGMAs, embedded migrations for each backend, and the
//! query functions. Handlers never see Diesel: they call the plain functions of `users` and
//! `sessions` inside `web::block`.

pub mod events;
pub mod schema;
pub mod sessions;
pub mod throttles;
pub mod users;

use std::time::Duration;

use anyhow::Context as _;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::{DatabaseUrl, Settings};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

/// A connection to whichever backend `DATABASE_URL` names. SQLite is last: it accepts any URL.
#[derive(diesel::MultiConnection)]
pub enum Conn {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

pub type DbPool = Pool<ConnectionManager<Conn>>;
pub type PooledConn = PooledConnection<ConnectionManager<Conn>>;

/// How long a SQLite writer waits for the write lock before "database is locked".
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

/// Applied to every new SQLite connection, `busy_timeout` first so that the PRAGMAs after it
/// already wait for a lock instead of failing.
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<Conn, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut Conn) -> Result<(), diesel::r2d2::Error> {
        if let Conn::Sqlite(conn) = conn {
            conn.batch_execute(&format!(
                "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS};
                 PRAGMA journal_mode = WAL;
                 PRAGMA foreign_keys = ON;
                 PRAGMA synchronous = NORMAL;"
            ))
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// The URL Diesel connects with.
fn connection_url(url: &DatabaseUrl) -> String {
    match url {
        DatabaseUrl::Postgres(url) => url.clone(),
        DatabaseUrl::Sqlite(path) => path.to_string_lossy().into_owned(),
    }
}

/// Builds the pool and checks that one connection can be made; creates the SQLite file (and
/// its directory) on first run.
pub fn build_pool(settings: &Settings) -> anyhow::Result<DbPool> {
    if let DatabaseUrl::Sqlite(path) = &settings.database_url {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the database directory {}", dir.display()))?;
        }
    }
    let manager = ConnectionManager::<Conn>::new(connection_url(&settings.database_url));
    let pool = Pool::builder()
        .max_size(settings.db_pool_size)
        .min_idle(Some(1))
        .connection_timeout(settings.db_timeout)
        .connection_customizer(Box::new(SqlitePragmas))
        // A checkout ping doubles the queries of every request; a SQLite file does not drop
        // connections the way a server can, so only PostgreSQL pays for it.
        .test_on_check_out(matches!(settings.database_url, DatabaseUrl::Postgres(_)))
        .build(manager)
        .context("connecting to the database")?;
    Ok(pool)
}

/// Applies the pending migrations of the connection's backend.
pub fn run_migrations(conn: &mut Conn) -> anyhow::Result<()> {
    let applied = match conn {
        Conn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
        Conn::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
    }
    .map_err(|e| anyhow::anyhow!("applying migrations: {e}"))?;
    for version in applied {
        tracing::info!(%version, "applied migration");
    }
    Ok(())
}

/// Runs `work` in a transaction that holds the write lock from its first statement: on SQLite a
/// `BEGIN IMMEDIATE` (a deferred transaction that reads and then writes can fail with "database
/// is locked" whatever the busy timeout), on PostgreSQL an ordinary transaction. `work` must not
/// open transactions of its own.
pub fn write_transaction<T>(
    conn: &mut Conn,
    work: impl FnOnce(&mut Conn) -> QueryResult<T>,
) -> QueryResult<T> {
    if !matches!(conn, Conn::Sqlite(_)) {
        return conn.transaction(work);
    }
    conn.batch_execute("BEGIN IMMEDIATE")?;
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&mut *conn))) {
        Ok(Ok(value)) => {
            conn.batch_execute("COMMIT")?;
            Ok(value)
        }
        Ok(Err(err)) => {
            conn.batch_execute("ROLLBACK")?;
            Err(err)
        }
        Err(panic) => {
            // The pooled connection must not go back to the pool inside a transaction.
            let _ = conn.batch_execute("ROLLBACK");
            std::panic::resume_unwind(panic)
        }
    }
}

/// Serialises work on one `key` across every instance, until the end of the current
/// transaction: a transaction-scoped advisory lock on PostgreSQL (whose default isolation would
/// let two read-then-write transactions lose an update); nothing on SQLite, where
/// `BEGIN IMMEDIATE` already admits one writer at a time.
pub fn lock_key(conn: &mut Conn, key: &str) -> QueryResult<()> {
    if let Conn::Postgres(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<diesel::sql_types::Text, _>(key)
            .execute(pg)?;
    }
    Ok(())
}

/// Whether a query failed on a unique index: the database, not a racy pre-check, decides
/// uniqueness.
pub fn is_unique_violation(err: &DieselError) -> bool {
    matches!(
        err,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

/// One cheap query, for `/api/health`.
pub fn ping(conn: &mut Conn) -> QueryResult<()> {
    diesel::sql_query("SELECT 1").execute(conn).map(|_| ())
}

/// The current time as stored: Unix seconds, UTC.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Converts a stored time for the API (RFC 3339, UTC, whole seconds).
pub fn rfc3339(unix: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

/// Seconds in a duration, saturating, as stored.
pub fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_852_800), "2026-11-28T08:00:00Z");
    }
}
