//! `latchkey import-flask PATH`: brings the users of the original Flask-Login tutorial app
//! (its SQLite `users` table: `id`, `username`, `password` with Werkzeug hashes) into Latchkey,
//! keeping their hashes, so that they log in with the passwords they had; the first successful
//! login rehashes them to PHC.
//!
//! This module reads the foreign file; the import itself is a use case
//! ([`crate::accounts::Accounts::import_users`]): all or nothing, one transaction, idempotent. A
//! row is skipped, with its reason, when its name breaks Latchkey's username rules, when its
//! name is the same as an earlier row's or an existing user's once case and width are folded
//! (Flask compared names byte for byte; Latchkey does not), or when its hash cannot be verified
//! here (Werkzeug's `scrypt:` default since 2.3): such users must reset their password.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::accounts::{ImportOutcome, ImportRow};
use crate::config::Settings;

#[derive(Debug, clap::Args)]
pub struct ImportFlaskArgs {
    /// The Flask app's SQLite database (the tutorial's `instance/db.sqlite`); opened read-only.
    pub path: PathBuf,
    /// Report what would be imported without writing anything.
    #[arg(long)]
    pub dry_run: bool,
}

/// A row of the Flask app's `users` table. The columns are read as nullable text: the file is a
/// foreign schema, and SQLite does not enforce declared types.
#[derive(Debug, QueryableByName)]
struct FlaskUser {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    username: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    password: Option<String>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

pub fn run(args: &ImportFlaskArgs, settings: &Settings) -> anyhow::Result<()> {
    let rows: Vec<ImportRow> = read_flask_users(&args.path)?
        .into_iter()
        .map(|u| ImportRow {
            id: u.id,
            username: u.username,
            password_hash: u.password,
        })
        .collect();
    let dry_run = args.dry_run;
    let report = super::block_on(async {
        let accounts = super::accounts(settings)?;
        accounts
            .import_users(rows, dry_run)
            .await
            .map_err(anyhow::Error::from)
    })?
    .context("importing (nothing was imported)")?;

    let count = |f: fn(&ImportOutcome) -> bool| report.iter().filter(|(_, o)| f(o)).count();
    for (row, outcome) in &report {
        let (what, why) = match outcome {
            ImportOutcome::Imported if dry_run => ("would import", None),
            ImportOutcome::Imported => ("imported", None),
            ImportOutcome::AlreadyPresent => ("already present", None),
            ImportOutcome::Skipped(why) => ("skipped", Some(why)),
        };
        let name = row.username.as_deref().unwrap_or_default();
        match why {
            None => println!("{what:<16} {name:?} (Flask id {})", row.id),
            Some(why) => println!("{what:<16} {name:?} (Flask id {}): {why}", row.id),
        }
    }
    println!(
        "{} {}, {} already present, {} skipped (from {})",
        count(|o| *o == ImportOutcome::Imported),
        if dry_run { "to import" } else { "imported" },
        count(|o| *o == ImportOutcome::AlreadyPresent),
        count(|o| matches!(o, ImportOutcome::Skipped(_))),
        args.path.display()
    );
    Ok(())
}

/// Reads every user of the Flask database, oldest first (the older account wins a conflict).
fn read_flask_users(path: &Path) -> anyhow::Result<Vec<FlaskUser>> {
    // Opening a missing path would create an empty database: check first, and open read-only.
    if !path.is_file() {
        bail!("{} is not a file", path.display());
    }
    let url = format!("file:{}?mode=ro", uri_escape(&path.to_string_lossy()));
    let mut conn = diesel::SqliteConnection::establish(&url)
        .with_context(|| format!("opening {}", path.display()))?;
    let not_flask = || {
        format!(
            "{} has no `users` table with `id`, `username` and `password` columns: is it the \
             Flask app's database?",
            path.display()
        )
    };
    let columns: i64 = diesel::sql_query(
        "SELECT COUNT(*) AS n FROM pragma_table_info('users') \
         WHERE name IN ('id', 'username', 'password')",
    )
    .get_result::<Count>(&mut conn)
    .map_err(|e| match e {
        diesel::result::Error::DatabaseError(_, info)
            if info.message().contains("not a database") =>
        {
            anyhow::anyhow!("{} is not a SQLite database", path.display())
        }
        other => anyhow::Error::new(other).context(format!("reading {}", path.display())),
    })?
    .n;
    if columns != 3 {
        bail!(not_flask());
    }
    diesel::sql_query("SELECT id, username, password FROM users ORDER BY id")
        .load::<FlaskUser>(&mut conn)
        .with_context(not_flask)
}

/// SQLite URI filenames treat `?`, `#` and `%` specially; everything else passes as is.
fn uri_escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_special_characters_are_escaped() {
        assert_eq!(uri_escape("/tmp/a?b#c%d.db"), "/tmp/a%3fb%23c%25d.db");
        assert_eq!(uri_escape("/plain/path.db"), "/plain/path.db");
    }
}
