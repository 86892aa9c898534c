//! `Application::build` turns settings into a running server: the pool and migrations, the
//! hashing pool, the session middleware and the routes, bound to a listener that knows its port
//! (port 0 in tests).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use actix_identity::IdentityMiddleware;
use actix_session::SessionMiddleware;
use actix_session::config::{BrowserSession, CookieContentSecurity, TtlExtensionPolicy};
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use base64::Engine as _;
use secrecy::ExposeSecret as _;

use crate::accounts::Accounts;
use crate::auth::{HashPool, Passwords, RelyingParty};
use crate::clock::{Clock, secs};
use crate::config::{DatabaseUrl, RECOMMENDED_MIN_ITERATIONS, Settings};
use crate::db::{self, Db, DbPool};
use crate::http::csrf::cross_origin_guard;
use crate::http::limits::{ConnectionCounter, RequestLimits, on_connect, request_limits};
use crate::http::middleware::{observe, problem_fallback};
use crate::http::rate_limit::ClientRateLimiter;
use crate::http::session::{DbSessionStore, remember_cookie};
use crate::metrics::{Metrics, UPKEEP_EVERY};
use crate::routes::{self, AllowedMethods, frontend::FrontendSource, operations::OpenApiJson};
use crate::state::AppState;

/// How long a client may take to send the request head (actix-web's default, made explicit).
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// How long in-flight requests may take to finish after SIGTERM/SIGINT.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// How often expired sessions are deleted.
const CLEANUP_EVERY: Duration = Duration::from_secs(600);

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        if settings.pbkdf2_iterations < RECOMMENDED_MIN_ITERATIONS {
            tracing::warn!(
                iterations = settings.pbkdf2_iterations,
                "LATCHKEY_PBKDF2_ITERATIONS is below OWASP's floor of 600000: for tests only"
            );
        }
        settings
            .check_consistency()
            .map_err(|problem| anyhow::anyhow!(problem))?;
        let secret = resolve_secret_key(&settings)?;
        let metrics = Metrics::new();
        let accounts = accounts(
            &settings,
            settings.hash_threads(),
            Clock::system(),
            metrics.clone(),
        )?
        .with_secret_key(&secret);
        let filled = accounts
            .backfill_skeletons()
            .await
            .context("storing the look-alike keys of existing usernames")?;
        if filled > 0 {
            tracing::info!(
                users = filled,
                "stored the look-alike keys of existing usernames"
            );
        }
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let relying_party = settings
            .passkey_origin(port)
            .and_then(|(origin, rp_id)| RelyingParty::new(&origin, &rp_id, &settings.totp_issuer));
        match &relying_party {
            Ok(rp) => tracing::info!(origin = rp.origin(), "passkeys accepted from this origin"),
            Err(why) => tracing::warn!("passkeys are off: {why}"),
        }
        let accounts = accounts.with_relying_party(relying_party);
        let settings = Arc::new(settings);
        let state = AppState {
            accounts: accounts.clone(),
            settings: settings.clone(),
            metrics: metrics.clone(),
            rate_limiter: ClientRateLimiter::per_minute(settings.rate_limit_per_minute)
                .map(Arc::new),
            connections: Arc::new(ConnectionCounter::default()),
        };

        let key = Key::from(&secret);
        let store = DbSessionStore::new(accounts);
        let state_data = web::Data::new(state.clone());
        let document = crate::openapi::document();
        let allowed = web::Data::new(AllowedMethods::from_document(&document));
        let openapi = web::Data::new(OpenApiJson(
            document
                .to_pretty_json()
                .context("serialising the OpenAPI document")?,
        ));
        let frontend = web::Data::new(FrontendSource::from_settings(
            settings.frontend_dir.as_ref(),
        ));
        let max_age = settings.session_max_age;
        let cookie_ttl = actix_web::cookie::time::Duration::seconds(secs(max_age));
        let cookie_name = settings.cookie_name();
        let hsts = settings.cookie_is_secure();
        let limits = RequestLimits::from_settings(&settings);
        let workers = std::thread::available_parallelism().map_or(1, usize::from);
        let connections_per_worker = (settings.max_connections as usize).div_ceil(workers);
        let count_connections = on_connect(
            state.connections.clone(),
            settings.max_connections_per_client,
            settings.trusted_proxies.clone(),
        );

        let server = HttpServer::new(move || {
            let session = SessionMiddleware::builder(store.clone(), key.clone())
                .cookie_name(cookie_name.to_owned())
                .cookie_secure(settings.cookie_is_secure())
                .cookie_http_only(true)
                .cookie_same_site(SameSite::Lax)
                .cookie_path("/".to_owned())
                .cookie_domain(settings.cookie_domain.clone())
                .cookie_content_security(CookieContentSecurity::Signed)
                .session_lifecycle(
                    BrowserSession::default()
                        .state_ttl(cookie_ttl)
                        .state_ttl_extension_policy(TtlExtensionPolicy::OnStateChanges),
                )
                .build();
            // The absolute lifetime is also enforced by the session check; the idle timeout
            // only there, because actix-identity's visit deadline would write the session on
            // every request.
            let identity = IdentityMiddleware::builder()
                .login_deadline(Some(max_age))
                .visit_deadline(None)
                .build();
            let guard_settings = settings.clone();
            let metrics = metrics.clone();
            App::new()
                .app_data(state_data.clone())
                .app_data(openapi.clone())
                .app_data(frontend.clone())
                .app_data(allowed.clone())
                .configure(|cfg| {
                    routes::api(&mut utoipa_actix_web::service_config::ServiceConfig::new(
                        cfg,
                    ))
                })
                .default_service(web::to(routes::fallback))
                .wrap(identity)
                .wrap(session)
                .wrap(from_fn(move |req, next| {
                    remember_cookie(cookie_name, req, next)
                }))
                .wrap(from_fn(move |req, next| {
                    cross_origin_guard(guard_settings.clone(), req, next)
                }))
                .wrap(from_fn(move |req, next| request_limits(limits, req, next)))
                .wrap(from_fn(problem_fallback))
                .wrap(from_fn(move |req, next| {
                    observe(metrics.clone(), hsts, req, next)
                }))
        })
        .workers(workers)
        .max_connections(connections_per_worker)
        .client_request_timeout(HEAD_TIMEOUT)
        .on_connect(count_connections)
        .listen(listener)?
        .shutdown_timeout(SHUTDOWN_TIMEOUT.as_secs())
        // `run_until_stopped` handles the signals, to log what the shutdown did.
        .disable_signals()
        .run();

        tokio::spawn(clean_up_periodically(state.clone()));
        tokio::spawn(upkeep_metrics(state.metrics.clone()));
        tracing::info!(
            address = %state.settings.bind,
            port,
            database = %database_label(&state.settings.database_url),
            "latchkey listening"
        );
        Ok(Self {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server from elsewhere (tests, signal handlers).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until stopped through [`Self::handle`] (tests); no signal handling.
    pub async fn serve(self) -> std::io::Result<()> {
        self.server.await
    }

    /// Serves until SIGINT/SIGTERM (or [`Self::handle`]'s stop), then stops accepting
    /// connections and lets the requests in flight finish, for up to 10 s. Logs one line when
    /// the signal arrives and one when the server has stopped, with how many requests were
    /// drained and how many had to be abandoned.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let metrics = self.state.metrics.clone();
        let mut server = self.server;
        let signal = tokio::select! {
            result = &mut server => return result,
            signal = shutdown_signal() => signal?,
        };
        let in_flight = metrics.requests_in_flight();
        let finished_before = metrics.requests_finished();
        tracing::info!(
            signal,
            in_flight,
            timeout_secs = SHUTDOWN_TIMEOUT.as_secs(),
            "shutting down: no new connections, finishing the requests in flight"
        );
        // The server future runs the stop (it is the server's command loop), so both are polled.
        let ((), result) = tokio::join!(handle.stop(true), server);
        tracing::info!(
            drained = metrics.requests_finished() - finished_before,
            abandoned = metrics.requests_in_flight(),
            "latchkey stopped"
        );
        result
    }
}

/// The name of the first of SIGINT and SIGTERM to arrive.
async fn shutdown_signal() -> std::io::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    })
}

/// Opens the pool and applies pending migrations.
pub fn connect_and_migrate(settings: &Settings) -> anyhow::Result<DbPool> {
    let pool = db::build_pool(settings)?;
    let mut conn = pool.get().context("connecting to the database")?;
    db::run_migrations(&mut conn)?;
    Ok(pool)
}

/// The use cases over the configured database (migrated first), with `hash_threads` threads
/// computing password hashes. The server and the admin commands both start here.
pub fn accounts(
    settings: &Settings,
    hash_threads: usize,
    clock: Clock,
    metrics: Metrics,
) -> anyhow::Result<Accounts> {
    let pool = connect_and_migrate(settings)?;
    let hash_pool = HashPool::start(hash_threads, settings.hash_queue, metrics.clone())
        .context("starting the hashing threads")?;
    let passwords = Passwords::new(hash_pool, settings.pbkdf2_iterations);
    let db = Db::new(pool, &settings.database_url);
    Ok(Accounts::new(db, passwords, clock, metrics, settings))
}

fn database_label(url: &DatabaseUrl) -> String {
    match url {
        DatabaseUrl::Sqlite(path) => format!("sqlite:{}", path.display()),
        DatabaseUrl::Postgres(_) => "postgres".to_owned(),
    }
}

/// Deletes expired sessions and stale throttle rows, and lets the rate limiter forget idle
/// clients, every [`CLEANUP_EVERY`].
async fn clean_up_periodically(state: AppState) {
    let mut every = tokio::time::interval(CLEANUP_EVERY);
    loop {
        every.tick().await;
        if let Some(limiter) = &state.rate_limiter {
            limiter.forget_idle();
        }
        match state.accounts.clean_up().await {
            Ok((0, 0)) => {}
            Ok((sessions, others)) => {
                tracing::info!(
                    sessions,
                    others,
                    "expired rows removed (sessions; throttles, pending logins, set-ups)"
                )
            }
            Err(e) => tracing::warn!(error = ?e, "periodic cleanup failed"),
        }
    }
}

/// Folds buffered histogram samples in, so that they do not pile up between scrapes.
async fn upkeep_metrics(metrics: Metrics) {
    let mut every = tokio::time::interval(UPKEEP_EVERY);
    loop {
        every.tick().await;
        metrics.run_upkeep();
    }
}

/// Where the generated secret key lives: beside the SQLite database.
pub fn secret_key_path(db_path: &Path) -> PathBuf {
    let mut name = db_path.file_name().unwrap_or_default().to_os_string();
    name.push(".secret");
    db_path.with_file_name(name)
}

/// The cookie signing key: `LATCHKEY_SECRET_KEY`, or a key generated once into a `0600` file
/// beside the SQLite database. PostgreSQL deployments (several instances) must set it.
fn resolve_secret_key(settings: &Settings) -> anyhow::Result<Vec<u8>> {
    if let Some(key) = &settings.secret_key {
        return Ok(key.0.expose_secret().to_vec());
    }
    let path = match &settings.database_url {
        DatabaseUrl::Sqlite(path) => secret_key_path(path),
        DatabaseUrl::Postgres(_) => anyhow::bail!(
            "LATCHKEY_SECRET_KEY must be set with PostgreSQL: every instance has to sign cookies \
             with the same key (generate one with: openssl rand -base64 64)"
        ),
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = b64
                .decode(text.trim())
                .with_context(|| format!("{} is not valid base64", path.display()))?;
            anyhow::ensure!(
                key.len() >= 64,
                "{} holds fewer than 64 bytes",
                path.display()
            );
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut key = vec![0u8; 64];
            rand::fill(key.as_mut_slice());
            write_private(&path, &b64.encode(&key))
                .with_context(|| format!("writing the secret key to {}", path.display()))?;
            tracing::warn!(
                path = %path.display(),
                "LATCHKEY_SECRET_KEY is not set: generated a key into this file (mode 0600); \
                 keep it with the database, or set LATCHKEY_SECRET_KEY"
            );
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}
