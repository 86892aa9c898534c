//! `latchkey user list | create | delete | set-password | logout`: what an administrator does
//! without the API. Passwords come from a no-echo terminal prompt, or from the first line of
//! stdin when stdin is not a terminal; never from argv, where `ps` and shell history would show
//! them. Names and passwords follow the API's rules (`Username::parse`, the configured policy).

use std::io::{BufRead as _, IsTerminal as _};

use anyhow::{Context as _, bail, ensure};
use clap::Subcommand;
use secrecy::{ExposeSecret as _, SecretString};

use crate::config::Settings;
use crate::db::events::{self, EventKind};
use crate::db::{self, Conn, rfc3339, sessions, throttles, users};
use crate::domain::{PasswordPolicy, Username, check_new_password, hash_password};
use crate::startup::connect_and_migrate;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List every user with the number of live sessions.
    List,
    /// Create a user; the password is prompted for (or read from stdin).
    Create {
        /// The username (the API's rules: 3–32 letters, digits, '_', '.', '-').
        name: String,
    },
    /// Delete a user and every session of theirs.
    Delete { name: String },
    /// Set a user's password (prompted for, or read from stdin) and end all their sessions.
    SetPassword { name: String },
    /// End every session of a user at once (a compromised account).
    Logout { name: String },
}

pub fn run(command: UserCommand, settings: &Settings) -> anyhow::Result<()> {
    let pool = connect_and_migrate(settings)?;
    let mut conn = pool.get().context("connecting to the database")?;
    match command {
        UserCommand::List => list(&mut conn, settings),
        UserCommand::Create { name } => create(&mut conn, settings, &name),
        UserCommand::Delete { name } => delete(&mut conn, &name),
        UserCommand::SetPassword { name } => set_password(&mut conn, settings, &name),
        UserCommand::Logout { name } => logout(&mut conn, &name),
    }
}

fn list(conn: &mut Conn, settings: &Settings) -> anyhow::Result<()> {
    let all = users::list(conn)?;
    let idle = db::secs(settings.session_idle_timeout);
    let counts = sessions::count_live_by_user(conn, db::now(), idle)?;
    let width = all
        .iter()
        .map(|u| u.username.chars().count())
        .max()
        .unwrap_or(0)
        .max("USERNAME".len());
    println!(
        "{:>6}  {:<width$}  {:<20}  SESSIONS",
        "ID", "USERNAME", "CREATED"
    );
    for user in &all {
        let live = counts
            .iter()
            .find(|(id, _)| *id == user.id)
            .map_or(0, |(_, n)| *n);
        println!(
            "{:>6}  {:<width$}  {:<20}  {live}",
            user.id,
            user.username,
            rfc3339(user.created_at)
        );
    }
    Ok(())
}

fn parse_name(raw: &str) -> anyhow::Result<Username> {
    Username::parse(raw)
        .map_err(|e| anyhow::anyhow!("invalid username {raw:?} ({}): {}", e.code, e.message))
}

fn policy(settings: &Settings) -> PasswordPolicy {
    PasswordPolicy {
        min_length: usize::from(settings.password_min_length),
        min_strength: settings.password_min_strength,
    }
}

/// Reads a new password for `username` and checks it against the configured policy, with the
/// name counted against its strength as the API does.
fn new_password(username: &str, settings: &Settings) -> anyhow::Result<SecretString> {
    let password = read_password(username)?;
    let key = username.to_lowercase();
    check_new_password(
        "password",
        password.expose_secret(),
        &[username, &key],
        policy(settings),
    )
    .map_err(|e| anyhow::anyhow!("password rejected ({}): {}", e.code, e.message))?;
    Ok(password)
}

fn read_password(username: &str) -> anyhow::Result<SecretString> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("New password for {username}: "))
            .context("reading the password from the terminal")?;
        let again = rpassword::prompt_password("Repeat the password: ")
            .context("reading the password from the terminal")?;
        ensure!(first == again, "the two passwords differ; nothing changed");
        return Ok(SecretString::from(first));
    }
    let mut line = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    ensure!(
        read > 0,
        "no password on standard input (pipe it in, or run on a terminal to be prompted)"
    );
    // Only the line ending is removed: passwords are taken exactly as given, spaces included.
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    Ok(SecretString::from(line))
}

fn create(conn: &mut Conn, settings: &Settings, raw: &str) -> anyhow::Result<()> {
    let user = parse_name(raw)?;
    // Refuse a taken name before asking for a password; the unique index still decides races.
    if users::key_exists(conn, user.key())? {
        bail!("username {:?} is taken", user.display());
    }
    let password = new_password(user.display(), settings)?;
    let hash = hash_password(password.expose_secret(), settings.pbkdf2_iterations);
    let row = users::insert(conn, user.display(), user.key(), &hash).map_err(|e| match e {
        users::InsertUserError::UsernameTaken => {
            anyhow::anyhow!("username {:?} is taken", user.display())
        }
        users::InsertUserError::Database(e) => anyhow::Error::new(e).context("creating the user"),
    })?;
    println!("created user {} (id {})", row.username, row.id);
    Ok(())
}

/// How administrator actions appear in the user's security activity.
fn admin_origin() -> events::Origin {
    events::Origin {
        ip: None,
        user_agent: Some("latchkey admin command line".to_owned()),
    }
}

/// The stored user a name refers to, or a clear error.
fn find(conn: &mut Conn, raw: &str) -> anyhow::Result<users::UserRow> {
    let user = parse_name(raw)?;
    users::find_credentials(conn, user.key())?
        .map(|c| c.user())
        .with_context(|| format!("no user named {:?}", user.display()))
}

fn delete(conn: &mut Conn, raw: &str) -> anyhow::Result<()> {
    let user = find(conn, raw)?;
    let ended = db::write_transaction(conn, |c| {
        let ended = sessions::delete_for_user(c, user.id)?;
        users::delete_by_id(c, user.id)?;
        throttles::reset(c, &Username::throttle_key(&user.username))?;
        Ok(ended)
    })?;
    println!(
        "deleted user {} (id {}); {ended} session(s) ended",
        user.username, user.id
    );
    Ok(())
}

fn set_password(conn: &mut Conn, settings: &Settings, raw: &str) -> anyhow::Result<()> {
    let user = find(conn, raw)?;
    let password = new_password(&user.username, settings)?;
    let hash = hash_password(password.expose_secret(), settings.pbkdf2_iterations);
    // One transaction: a reset that left the old sessions alive would not be a reset.
    let ended = db::write_transaction(conn, |c| {
        if !users::set_hash(c, user.id, &hash)? {
            return Err(diesel::result::Error::NotFound);
        }
        events::record(c, user.id, EventKind::PasswordChanged, &admin_origin())?;
        sessions::delete_for_user(c, user.id)
    })
    .map_err(|e| match e {
        diesel::result::Error::NotFound => {
            anyhow::anyhow!("no user named {:?} (deleted meanwhile)", user.username)
        }
        other => anyhow::Error::new(other).context("setting the password"),
    })?;
    println!(
        "password of {} changed; {ended} session(s) ended",
        user.username
    );
    Ok(())
}

fn logout(conn: &mut Conn, raw: &str) -> anyhow::Result<()> {
    let user = find(conn, raw)?;
    let ended = db::write_transaction(conn, |c| {
        events::record(c, user.id, EventKind::SessionsRevoked, &admin_origin())?;
        sessions::delete_for_user(c, user.id)
    })?;
    println!("{ended} session(s) of {} ended", user.username);
    Ok(())
}
