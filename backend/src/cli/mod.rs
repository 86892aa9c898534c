//! The `latchkey` command line: the root parser (server settings plus subcommands), and the
//! administration subcommands `user …`, `import-flask`, `calibrate` and `healthcheck`. This is the
//! top layer: it may use every other, and nothing imports it but `main`.
//!
//! The admin commands use the same settings as the server (`DATABASE_URL`, the password policy,
//! the work factor) and the same use cases (`crate::accounts`); each prints what it did on
//! stdout, and on failure one line `latchkey: …` on stderr with exit status 1 (usage errors are
//! clap's, status 2).

pub mod calibrate;
pub mod healthcheck;
pub mod import_flask;
pub mod user;

use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, FromArgMatches as _, Parser, Subcommand};

use crate::config::Settings;

#[derive(Debug, Parser)]
#[command(
    name = "latchkey",
    version,
    about = "Latchkey: username/password authentication service (JSON API, server-side sessions, \
             PBKDF2-SHA256)",
    long_about = None,
    args_override_self = true,
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default); pending migrations are applied first.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document as YAML.
    Openapi,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page, latchkey(1), in roff (`latchkey man | man -l -`).
    Man,
    #[command(flatten)]
    Admin(AdminCommand),
}

/// Flattened into [`Command`], so these are top-level subcommands.
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

/// Parses the command line and environment. On an invalid setting prints one line naming it and
/// exits with status 2; `--help` and `--version` print and exit 0.
pub fn parse_cli() -> Cli {
    let matches = command()
        .try_get_matches()
        .unwrap_or_else(|err| exit_with(err));
    Cli::from_arg_matches(&matches).unwrap_or_else(|err| exit_with(err))
}

/// The settings each subcommand reads (every other one is accepted but left out of its
/// `--help`); the server, `serve`, reads them all.
const SETTINGS_READ_BY: &[(&str, &[&str])] = &[
    (
        "migrate",
        &["database_url", "db_timeout", "log_filter", "log_format"],
    ),
    ("openapi", &[]),
    ("completions", &[]),
    ("man", &[]),
    (
        "user",
        &[
            "database_url",
            "db_timeout",
            "log_filter",
            "pbkdf2_iterations",
            "password_min_length",
            "password_min_strength",
            "session_idle_timeout",
            "events_per_user",
        ],
    ),
    (
        "import-flask",
        &["database_url", "db_timeout", "log_filter"],
    ),
    ("calibrate", &["pbkdf2_iterations", "log_filter"]),
    ("healthcheck", &["bind"]),
];

/// The full command definition, as parsed and as rendered into completions and the manual:
/// every setting is global (so `latchkey --database-url X user list` works), but a subcommand's
/// help lists only the settings it reads.
pub fn command() -> clap::Command {
    let root = Cli::command();
    let settings: Vec<clap::Arg> = root
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    SETTINGS_READ_BY.iter().fold(root, |root, (name, reads)| {
        root.mut_subcommand(*name, |sub| hide_settings(sub, &settings, reads))
    })
}

/// Gives `cmd` and its subcommands hidden copies of the settings they do not read; clap then
/// propagates only the rest, visibly, from the root.
fn hide_settings(cmd: clap::Command, settings: &[clap::Arg], reads: &[&str]) -> clap::Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    let cmd = settings
        .iter()
        .filter(|a| !reads.contains(&a.get_id().as_str()))
        .fold(cmd, |cmd, a| cmd.arg(a.clone().hide(true)));
    names.into_iter().fold(cmd, |cmd, name| {
        cmd.mut_subcommand(name, |sub| hide_settings(sub, settings, reads))
    })
}

/// `latchkey completions SHELL`.
pub fn print_completions(shell: clap_complete::Shell) -> std::io::Result<()> {
    let mut cmd = command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "latchkey", &mut script);
    std::io::Write::write_all(&mut std::io::stdout(), &script)
}

/// `latchkey man`: the root page, with every subcommand listed.
pub fn print_man_page() -> std::io::Result<()> {
    clap_mangen::Man::new(command()).render(&mut std::io::stdout())
}

fn exit_with(err: clap::Error) -> ! {
    let naming = matches!(
        err.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation | ErrorKind::InvalidSubcommand
    );
    let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg).cloned() else {
        err.exit()
    };
    if !naming {
        err.exit()
    }
    let long = arg.split_whitespace().next().unwrap_or(&arg).to_owned();
    let env = Cli::command()
        .get_arguments()
        .find(|a| a.get_long().is_some_and(|l| format!("--{l}") == long))
        .and_then(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()));
    let value = match err.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(v)) => v.clone(),
        _ => String::new(),
    };
    let reason = std::error::Error::source(&err)
        .map(|e| e.to_string())
        .or_else(|| match err.get(ContextKind::ValidValue) {
            Some(ContextValue::Strings(values)) => {
                Some(format!("expected one of: {}", values.join(", ")))
            }
            _ => None,
        })
        .unwrap_or_else(|| "invalid value".to_owned());
    let name = match env {
        Some(env) => format!("{env} (--{})", long.trim_start_matches('-')),
        None => long,
    };
    let shown = if name.starts_with("LATCHKEY_SECRET_KEY") {
        "[REDACTED]".to_owned()
    } else {
        value
    };
    eprintln!("latchkey: invalid setting {name}={shown:?}: {reason}");
    std::process::exit(2)
}

/// Runs an administration command and turns its outcome into the process's exit status.
pub fn run_admin(command: AdminCommand, settings: &Settings) -> ExitCode {
    init_logging(settings);
    // One connection is all a command needs. A larger pool keeps one connection idle by
    // opening another in a background thread as soon as the first is taken; a command that
    // exits while that thread is inside libpq's connect can die of a signal on its way out.
    let settings = &Settings {
        db_pool_size: 1,
        ..settings.clone()
    };
    let uses_database = matches!(
        command,
        AdminCommand::User { .. } | AdminCommand::ImportFlask(_)
    );
    // Before anything else: an administrator who runs a command from the wrong directory gets
    // told so, not a new empty database.
    if uses_database && let Err(err) = require_database(&settings.database_url) {
        eprintln!("latchkey: {err}");
        return ExitCode::FAILURE;
    }
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

/// Warnings and errors only, on stderr: the commands' output is theirs. `RUST_LOG` (or
/// `--log-filter`) still wins.
fn init_logging(settings: &Settings) {
    crate::telemetry::init_compact(settings.log_filter.as_deref().unwrap_or("warn"));
}

/// The use cases over the configured database (migrated first), with one hashing thread.
pub(crate) fn accounts(settings: &Settings) -> anyhow::Result<crate::accounts::Accounts> {
    crate::startup::accounts(
        settings,
        1,
        crate::clock::Clock::system(),
        crate::metrics::Metrics::new(),
    )
}

/// Fails with one line naming where the SQLite file was looked for and how to create it.
fn require_database(url: &crate::config::DatabaseUrl) -> anyhow::Result<()> {
    let crate::config::DatabaseUrl::Sqlite(path) = url else {
        return Ok(());
    };
    if path.exists() {
        return Ok(());
    }
    let shown = std::path::absolute(path).unwrap_or_else(|_| path.clone());
    anyhow::bail!(
        "no database at {} (DATABASE_URL={}); point DATABASE_URL or --database-url at the \
         server's database, or create a new one with `latchkey migrate`",
        shown.display(),
        path.display()
    )
}

/// A small runtime for the commands that call the (async) use cases.
pub(crate) fn block_on<F: std::future::Future>(work: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(work))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
