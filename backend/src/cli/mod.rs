//! The administration subcommands of the `latchkey` binary: `user …`, `import-flask`,
//! `calibrate` and `healthcheck`. They use the same settings as the server (`DATABASE_URL`, the
//! password policy, the work factor) and the same domain rules; each prints what it did on
//! stdout, and on failure one line `latchkey: …` on stderr with exit status 1 (usage errors
//! are clap's, status 2).

pub mod calibrate;
pub mod healthcheck;
pub mod import_flask;
pub mod user;

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Settings;

/// Flattened into [`crate::config::Command`], so these are top-level subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Manage users: list, create, delete, set a password, end their sessions.
    User {
        #[command(subcommand)]
        command: user::UserCommand,
    },
    /// Import the users of the original Flask app's SQLite database, keeping their hashes.
    ImportFlask(import_flask::ImportFlaskArgs),
    /// Print the PBKDF2 iteration count that takes about N milliseconds on this machine.
    Calibrate(calibrate::CalibrateArgs),
    /// Exit 0 when the server on LATCHKEY_BIND's port answers /api/health with 200 (for
    /// container health checks: needs no curl).
    Healthcheck(healthcheck::HealthcheckArgs),
}

/// Runs an administration command and turns its outcome into the process's exit status.
pub fn main(command: AdminCommand, settings: &Settings) -> ExitCode {
    init_logging();
    // One connection is all a command needs. A larger pool keeps one connection idle by
    // opening another in a background thread as soon as the first is taken; a command that
    // exits while that thread is inside libpq's connect can die of a signal on its way out.
    let settings = &Settings {
        db_pool_size: 1,
        ..settings.clone()
    };
    let result = match command {
        AdminCommand::User { command } => user::run(command, settings),
        AdminCommand::ImportFlask(args) => import_flask::run(&args, settings),
        AdminCommand::Calibrate(args) => calibrate::run(&args, settings.pbkdf2_iterations),
        AdminCommand::Healthcheck(args) => healthcheck::run(&args, settings),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line: the context chain joined by ": ".
            let line = format!("{err:#}").replace('\n', " ");
            eprintln!("latchkey: {line}");
            ExitCode::FAILURE
        }
    }
}

/// Warnings and errors only, on stderr: the commands' output is theirs. `RUST_LOG` still wins.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .compact()
        .try_init();
}
