//! Storage: one connection type over SQLite or PostgreSQL (chosen once, from the scheme of
//! `DATABASE_URL`), an r2d2 pool with per-connection SQLite PRAGMAs, embedded migrations for each
//! backend, and the query functions, grouped by table.
//!
//! Query functions are plain synchronous functions over `&mut Conn` returning `QueryResult`; none
//! of them opens a transaction, so the use cases (`crate::accounts`) compose them inside one
//! transaction of their own with [`Db::write`]. This layer never imports the layers above it
//! (use cases, HTTP, routes): a test in `tests/api/architecture.rs` checks.

pub mod events;
pub mod passkeys;
pub mod schema;
pub mod second_factors;
pub mod sessions;
pub mod throttles;
pub mod users;

use std::time::{Duration, Instant};

use anyhow::Context as _;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{CustomizeConnection, ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::{DatabaseUrl, Settings};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

/// A connection to whichever backend `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum Conn {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

pub type DbPool = Pool<Manager>;
pub type PooledConn = PooledConnection<Manager>;

/// What can go wrong reaching the database, with the cause kept for the log.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no database connection available")]
    Unavailable(#[source] diesel::r2d2::PoolError),
    #[error("database query failed")]
    Query(#[from] DieselError),
    #[error("database task did not finish")]
    Task(#[source] tokio::task::JoinError),
}

/// Opens connections of the backend chosen from the URL's scheme, and only that one: a
/// PostgreSQL URL that cannot be reached fails with what PostgreSQL said, never falls back to a
/// SQLite file that happens to have the URL's name.
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
}

impl Manager {
    pub fn new(url: DatabaseUrl) -> Self {
        Self { url }
    }
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Conn, Self::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => diesel::PgConnection::establish(url).map(Conn::Postgres),
            DatabaseUrl::Sqlite(path) => {
                diesel::SqliteConnection::establish(&path.to_string_lossy()).map(Conn::Sqlite)
            }
        }
        .map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.is_broken()
    }
}

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

/// Builds the pool after one direct connection has worked, so that a wrong URL, a refused
/// connection, an unknown database or bad credentials stop start-up at once with the database's
/// own words. Creates the SQLite file (and its directory) on first run.
pub fn build_pool(settings: &Settings) -> anyhow::Result<DbPool> {
    let url = &settings.database_url;
    if let DatabaseUrl::Sqlite(path) = url
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the database directory {}", dir.display()))?;
    }
    let manager = Manager::new(url.clone());
    manager
        .connect()
        .with_context(|| format!("connecting to {}", url.redacted()))?;
    let pool = Pool::builder()
        .max_size(settings.db_pool_size)
        .min_idle(Some(1))
        .connection_timeout(settings.db_timeout)
        .connection_customizer(Box::new(SqlitePragmas))
        // r2d2's own checkout test would ping before every use, doubling the round trips of
        // every PostgreSQL request; `Db::checkout` decides when a ping is needed instead.
        .test_on_check_out(false)
        .build(manager)
        .with_context(|| format!("connecting to {}", url.redacted()))?;
    Ok(pool)
}

/// Applies the pending migrations of the connection's backend.
pub fn run_migrations(conn: &mut Conn) -> anyhow::Result<()> {
    let applied = match conn {
        Conn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
        Conn::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
    }
    .map_err(|e| anyhow::Error::from_boxed(e).context("applying migrations"))?;
    for version in applied {
        tracing::info!(%version, "applied migration");
    }
    Ok(())
}

/// How long a PostgreSQL connection that just answered is trusted by [`Db::read`] without
/// another ping. Under load every connection answers many times a second, so the session check
/// makes one round trip instead of two; a connection lost within this window costs a retry of
/// the read, never a failed request.
const TRUSTED_FOR: Duration = Duration::from_secs(1);

/// When a pooled connection last answered, kept with it in the pool (r2d2's extensions).
#[derive(Debug, Clone, Copy)]
struct AnsweredAt(Instant);

/// The database as the use cases see it: a pool, and the ways to run work on it: on the
/// blocking pool ([`Db::run`], [`Db::write`], [`Db::read`]) or, for a SQLite read, right on the
/// async worker ([`Db::read_inline`]).
#[derive(Debug, Clone)]
pub struct Db {
    pool: DbPool,
    is_sqlite: bool,
}

impl Db {
    pub fn new(pool: DbPool, url: &DatabaseUrl) -> Self {
        Self {
            pool,
            is_sqlite: matches!(url, DatabaseUrl::Sqlite(_)),
        }
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// Runs `work` on the blocking pool with a connection checked out there. On PostgreSQL the
    /// connection is pinged first (see [`Db::checkout`]): `work` may write, and a write is
    /// never retried, so it must not start on a connection that the server has dropped.
    pub async fn run<T, E>(
        &self,
        work: impl FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.checkout(Duration::ZERO)?;
            work(&mut conn)
        })
        .await
        .map_err(|e| E::from(Error::Task(e)))?
    }

    /// Runs `work` in one write transaction (see [`write_transaction`]): all of it or none.
    pub async fn write<T, E>(
        &self,
        work: impl FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + From<DieselError> + Send + 'static,
    {
        self.run(move |conn| write_transaction(conn, work)).await
    }

    /// Runs a read that may safely run twice on the blocking pool, on a connection trusted
    /// without a ping if it answered within [`TRUSTED_FOR`]. If the connection turns out to be
    /// lost (a PostgreSQL restart or fail-over, a killed backend), it is discarded and the read
    /// runs once more on a connection that has just answered a ping.
    pub async fn read<T>(
        &self,
        work: impl Fn(&mut Conn) -> QueryResult<T> + Send + 'static,
    ) -> Result<T, Error>
    where
        T: Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.checkout(TRUSTED_FOR)?;
            let value = match work(&mut conn) {
                Err(err) if is_connection_lost(&err) => {
                    tracing::warn!(error = %err, "database connection lost; the read is retried");
                    // Back to the pool, which drops it (see `Db::checkout`), before the next
                    // checkout, so that a pool of one is not waiting for itself.
                    drop(conn);
                    conn = db.checkout(Duration::ZERO)?;
                    work(&mut conn)?
                }
                read => read?,
            };
            answered(&mut conn);
            Ok(value)
        })
        .await
        .map_err(Error::Task)?
    }

    /// Runs a read right here when that is cheaper than the hop to the blocking pool: on SQLite,
    /// whose reads in WAL mode never wait for a lock, when a pooled connection is free at once.
    /// `None` means "use [`Db::read`]" (PostgreSQL's network round trip, or no free connection).
    pub fn read_inline<T>(
        &self,
        work: impl FnOnce(&mut Conn) -> QueryResult<T>,
    ) -> Option<QueryResult<T>> {
        if !self.is_sqlite {
            return None;
        }
        let mut conn = self.pool.try_get()?;
        Some(work(&mut conn))
    }

    /// A pooled connection, for blocking code. On PostgreSQL a connection that has not answered
    /// within `trust` is pinged first; one that does not answer is discarded and the next one
    /// tried, so a restarted database server costs no failed request. A SQLite file does not
    /// drop connections the way a server can, so its connections are never pinged.
    ///
    /// A lost connection goes back to the pool only to be dropped: once a query on it has failed,
    /// Diesel finds libpq's transaction status unknown and puts the connection's transaction
    /// manager in its error state, so `Manager::has_broken` (Diesel's `is_broken`) is true. The
    /// killed-connections test in `tests/api/unavailable.rs` fails if that ever stops.
    fn checkout(&self, trust: Duration) -> Result<PooledConn, Error> {
        // Every connection in the pool may be dead (a server restart): each is dropped in turn,
        // and then the pool opens new ones.
        let mut discarded = 0;
        loop {
            let mut conn = self.pool.get().map_err(Error::Unavailable)?;
            if self.is_sqlite
                || PooledConnection::extensions(&conn)
                    .get::<AnsweredAt>()
                    .is_some_and(|at| at.0.elapsed() < trust)
            {
                return Ok(conn);
            }
            match conn.ping() {
                Ok(()) => {
                    answered(&mut conn);
                    return Ok(conn);
                }
                Err(err) => {
                    tracing::warn!(error = %err, "database connection lost; replacing it");
                    discarded += 1;
                    if discarded > self.pool.max_size() {
                        return Err(Error::Query(err));
                    }
                }
            }
        }
    }
}

/// Records that the connection has just answered: in place once the connection has the record,
/// so that the session check allocates nothing for it.
fn answered(conn: &mut PooledConn) {
    let now = Instant::now();
    let extensions = PooledConnection::extensions_mut(conn);
    match extensions.get_mut::<AnsweredAt>() {
        Some(at) => at.0 = now,
        None => {
            extensions.insert(AnsweredAt(now));
        }
    }
}

/// Whether a query failed because the connection to the database server is gone, not because
/// of the query: the request is then "database unavailable" (503), not a bug (500).
pub fn is_connection_lost(err: &DieselError) -> bool {
    matches!(
        err,
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _
        )
    )
}

/// Runs `work` in a transaction that holds the write lock from its first statement: on SQLite a
/// `BEGIN IMMEDIATE` (a deferred transaction that reads and then writes can fail with "database
/// is locked" whatever the busy timeout), on PostgreSQL an ordinary transaction. An `Err` from
/// `work` rolls everything back.
pub fn write_transaction<T, E>(
    conn: &mut Conn,
    work: impl FnOnce(&mut Conn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<DieselError>,
{
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
