//! `latchkey user list | create | delete | set-password | logout | reset-second-factor`: what an administrator does
//! without the API, through the same use cases. Passwords come from a no-echo terminal prompt, or
//! from the first line of stdin when stdin is not a terminal; never from argv, where `ps` and
//! shell history would show them. Names and passwords follow the API's rules.

use std::io::{BufRead as _, IsTerminal as _};

use anyhow::{Context as _, bail, ensure};
use clap::Subcommand;
use secrecy::SecretString;

use crate::accounts::{Accounts, Registration};
use crate::clock::rfc3339;
use crate::config::Settings;
use crate::domain::{Origin, Username};
use crate::error::ApiError;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List every user with the number of live sessions and whether they have two-step
    /// verification.
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
    /// Remove a user's two-step verification and passkeys (a lost or stolen device): the
    /// authenticator app, the recovery codes and every passkey go, every session ends, and the
    /// user logs in with the password alone until they set them up again.
    ResetSecondFactor { name: String },
}

pub fn run(command: UserCommand, settings: &Settings) -> anyhow::Result<()> {
    super::block_on(async move {
        let accounts = super::accounts(settings)?;
        match command {
            UserCommand::List => list(&accounts).await,
            UserCommand::Create { name } => create(&accounts, &name).await,
            UserCommand::Delete { name } => delete(&accounts, &name).await,
            UserCommand::SetPassword { name } => set_password(&accounts, &name).await,
            UserCommand::Logout { name } => logout(&accounts, &name).await,
            UserCommand::ResetSecondFactor { name } => reset_second_factor(&accounts, &name).await,
        }
    })?
}

async fn list(accounts: &Accounts) -> anyhow::Result<()> {
    let all = accounts.list_users().await.map_err(explain)?;
    let width = all
        .iter()
        .map(|u| u.user.username.chars().count())
        .max()
        .unwrap_or(0)
        .max("USERNAME".len());
    println!(
        "{:>6}  {:<width$}  {:<20}  {:>8}  {:>8}  SECOND FACTOR",
        "ID", "USERNAME", "CREATED", "SESSIONS", "PASSKEYS"
    );
    for listing in &all {
        let user = &listing.user;
        println!(
            "{:>6}  {:<width$}  {:<20}  {:>8}  {:>8}  {}",
            user.id,
            user.username,
            rfc3339(user.created_at),
            listing.live_sessions,
            listing.passkeys,
            if listing.totp { "totp" } else { "-" }
        );
    }
    Ok(())
}

fn parse_name(raw: &str) -> anyhow::Result<Username> {
    Username::parse(raw)
        .map_err(|e| anyhow::anyhow!("invalid username {raw:?} ({}): {}", e.code, e.message))
}

/// One line for an error of a use case, as an administrator should read it.
fn explain(err: ApiError) -> anyhow::Error {
    match err {
        ApiError::Validation(errors) => {
            let reasons: Vec<String> = errors
                .iter()
                .map(|e| format!("{} rejected ({}): {}", e.field, e.code, e.message))
                .collect();
            anyhow::anyhow!("{}", reasons.join("; "))
        }
        ApiError::Unavailable(cause) | ApiError::Internal(cause) => cause,
        other => anyhow::Error::from(other),
    }
}

/// The user a name refers to, or a clear error.
fn not_found(name: &Username) -> impl Fn(ApiError) -> anyhow::Error + '_ {
    move |err| match err {
        ApiError::NotFound => anyhow::anyhow!("no user named {:?}", name.display()),
        other => explain(other),
    }
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

async fn create(accounts: &Accounts, raw: &str) -> anyhow::Result<()> {
    let name = parse_name(raw)?;
    // Refuse a taken name before asking for a password; the unique index still decides races.
    if !accounts.username_available(&name).await.map_err(explain)? {
        bail!("username {:?} is taken", name.display());
    }
    let password = read_password(name.display())?;
    let registration = Registration {
        username: name.display().to_owned(),
        password,
    };
    let user = accounts
        .register(registration, Origin::admin_command_line())
        .await
        .map_err(|e| match e {
            ApiError::UsernameTaken => anyhow::anyhow!("username {:?} is taken", name.display()),
            other => explain(other),
        })?;
    println!("created user {} (id {})", user.username, user.id);
    Ok(())
}

async fn delete(accounts: &Accounts, raw: &str) -> anyhow::Result<()> {
    let name = parse_name(raw)?;
    let (user, ended) = accounts
        .admin_delete_user(&name)
        .await
        .map_err(not_found(&name))?;
    println!(
        "deleted user {} (id {}); {ended} session(s) ended",
        user.username, user.id
    );
    Ok(())
}

async fn set_password(accounts: &Accounts, raw: &str) -> anyhow::Result<()> {
    let name = parse_name(raw)?;
    let user = accounts.find_user(&name).await.map_err(not_found(&name))?;
    let password = read_password(&user.username)?;
    let (user, ended) =
        accounts
            .admin_set_password(&name, password)
            .await
            .map_err(|e| match e {
                ApiError::NotFound => {
                    anyhow::anyhow!("no user named {:?} (deleted meanwhile)", name.display())
                }
                other => explain(other),
            })?;
    println!(
        "password of {} changed; {ended} session(s) ended",
        user.username
    );
    Ok(())
}

async fn logout(accounts: &Accounts, raw: &str) -> anyhow::Result<()> {
    let name = parse_name(raw)?;
    let (user, ended) = accounts
        .admin_logout(&name)
        .await
        .map_err(not_found(&name))?;
    println!("{ended} session(s) of {} ended", user.username);
    Ok(())
}

async fn reset_second_factor(accounts: &Accounts, raw: &str) -> anyhow::Result<()> {
    let name = parse_name(raw)?;
    let (user, ended) = accounts
        .admin_reset_second_factor(&name)
        .await
        .map_err(not_found(&name))?;
    match ended {
        Some(ended) => println!(
            "two-step verification and passkeys of {} removed; {ended} session(s) ended",
            user.username
        ),
        None => println!(
            "{} has neither two-step verification nor a passkey; nothing changed",
            user.username
        ),
    }
    Ok(())
}
