//! `latchkey import-flask PATH`: brings the users of the original Flask-Login tutorial app
//! (its SQLite `users` table: `id`, `username`, `password` with Werkzeug hashes) into Latchkey,
//! keeping their hashes, so that they log in with the passwords they had; the first successful
//! login rehashes them to PHC.
//!
//! All or nothing: the whole import runs in one write transaction. Running it twice changes
//! nothing the second time (users already imported with the same hash are "already present").
//! A row is skipped, with its reason, when its name breaks Latchkey's username rules, when its
//! name is the same as an earlier row's or an existing user's once case and width are folded
//! (Flask compared names byte for byte; Latchkey does not), or when its hash cannot be verified
//! here (Werkzeug's `scrypt:` default since 2.3): such users must reset their password.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::config::Settings;
use crate::db::{self, Conn, users};
use crate::domain::{PasswordHash, Username};
use crate::startup::connect_and_migrate;

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

/// What happened to one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Imported,
    AlreadyPresent,
    Skipped(String),
}

#[derive(Debug, Clone)]
pub struct ReportLine {
    pub flask_id: i64,
    pub username: String,
    pub outcome: Outcome,
}

pub fn run(args: &ImportFlaskArgs, settings: &Settings) -> anyhow::Result<()> {
    let rows = read_flask_users(&args.path)?;
    let pool = connect_and_migrate(settings)?;
    let mut conn = pool.get().context("connecting to the database")?;
    let dry_run = args.dry_run;
    let report = db::write_transaction(&mut conn, |c| import(c, &rows, dry_run))
        .context("importing (nothing was imported)")?;

    let count = |f: fn(&Outcome) -> bool| report.iter().filter(|l| f(&l.outcome)).count();
    for line in &report {
        let (what, why) = match &line.outcome {
            Outcome::Imported if dry_run => ("would import", None),
            Outcome::Imported => ("imported", None),
            Outcome::AlreadyPresent => ("already present", None),
            Outcome::Skipped(why) => ("skipped", Some(why)),
        };
        match why {
            None => println!(
                "{what:<16} {:?} (Flask id {})",
                line.username, line.flask_id
            ),
            Some(why) => println!(
                "{what:<16} {:?} (Flask id {}): {why}",
                line.username, line.flask_id
            ),
        }
    }
    println!(
        "{} {}, {} already present, {} skipped (from {})",
        count(|o| *o == Outcome::Imported),
        if dry_run { "to import" } else { "imported" },
        count(|o| *o == Outcome::AlreadyPresent),
        count(|o| matches!(o, Outcome::Skipped(_))),
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

/// Decides and (unless `dry_run`) inserts every row, inside the caller's transaction.
fn import(conn: &mut Conn, rows: &[FlaskUser], dry_run: bool) -> QueryResult<Vec<ReportLine>> {
    let now = db::now();
    // Names already claimed by an earlier row of the file: key -> (Flask id, name).
    let mut claimed: HashMap<String, (i64, String)> = HashMap::new();
    let mut report = Vec::with_capacity(rows.len());
    for row in rows {
        let raw = row.username.clone().unwrap_or_default();
        let outcome = decide(conn, row, &raw, &mut claimed)?;
        if let Decision::Import(name, hash) = &outcome {
            if !dry_run {
                users::insert_imported(conn, name.display(), name.key(), hash, now)?;
            }
        }
        report.push(ReportLine {
            flask_id: row.id,
            username: raw,
            outcome: match outcome {
                Decision::Import(..) => Outcome::Imported,
                Decision::Present => Outcome::AlreadyPresent,
                Decision::Skip(why) => Outcome::Skipped(why),
            },
        });
    }
    Ok(report)
}

enum Decision {
    Import(Username, String),
    Present,
    Skip(String),
}

fn decide(
    conn: &mut Conn,
    row: &FlaskUser,
    raw: &str,
    claimed: &mut HashMap<String, (i64, String)>,
) -> QueryResult<Decision> {
    let name = match Username::parse(raw) {
        Ok(name) => name,
        Err(e) => {
            return Ok(Decision::Skip(format!(
                "invalid username ({}): {}",
                e.code, e.message
            )));
        }
    };
    if let Some((id, first)) = claimed.get(name.key()) {
        return Ok(Decision::Skip(format!(
            "same name as {first:?} (Flask id {id}) once case and width are ignored, as \
             Latchkey compares names; that older account was taken"
        )));
    }
    claimed.insert(name.key().to_owned(), (row.id, raw.to_owned()));
    let hash = row.password.clone().unwrap_or_default();
    if let Err(why) = check_hash(&hash) {
        return Ok(Decision::Skip(why));
    }
    match users::find_credentials(conn, name.key())? {
        None => Ok(Decision::Import(name, hash)),
        Some(existing) if existing.password_hash == hash => Ok(Decision::Present),
        Some(existing) => Ok(Decision::Skip(format!(
            "the name is taken in Latchkey by {:?} (id {}) with a different password: another \
             account, or this user changed or upgraded their password since an earlier import",
            existing.username, existing.id
        ))),
    }
}

/// Whether Latchkey can verify this stored hash; the reason to skip the row when not. Never
/// prints the hash itself (a column named `password` might hold a plain password).
fn check_hash(stored: &str) -> Result<(), String> {
    let must_reset = "user must reset their password";
    if stored.is_empty() {
        return Err(format!("no password hash, {must_reset}"));
    }
    let scheme = werkzeug_method(stored);
    match PasswordHash::parse(stored) {
        Ok(_) => Ok(()),
        Err(_) if scheme.is_none() => Err(format!("not a Werkzeug password hash, {must_reset}")),
        Err(_) => {
            let scheme = scheme.unwrap_or_default();
            if scheme.starts_with("pbkdf2:sha256") {
                Err(format!("malformed {scheme} hash, {must_reset}"))
            } else {
                Err(format!("cannot verify ({scheme}), {must_reset}"))
            }
        }
    }
}

/// The hash method of a Werkzeug string without its parameters (`scrypt:32768:8:1$…` is
/// `scrypt`, `pbkdf2:sha1:260000$…` is `pbkdf2:sha1`), when it looks like one.
fn werkzeug_method(stored: &str) -> Option<String> {
    let (method, rest) = stored.split_once('$')?;
    if rest.is_empty() || method.is_empty() || method.len() > 64 {
        return None;
    }
    let parts: Vec<&str> = method
        .split(':')
        .filter(|p| !p.chars().all(|c| c.is_ascii_digit()))
        .collect();
    let ok = parts
        .iter()
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    ok.then(|| parts.join(":"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_that_cannot_be_verified_are_named_not_printed() {
        assert_eq!(
            check_hash("scrypt:32768:8:1$saltsalt$abcdef"),
            Err("cannot verify (scrypt), user must reset their password".to_owned())
        );
        assert_eq!(
            check_hash("pbkdf2:sha1:260000$salt$abcdef"),
            Err("cannot verify (pbkdf2:sha1), user must reset their password".to_owned())
        );
        let plain = check_hash("hunter2").expect_err("plain text");
        assert!(!plain.contains("hunter2"), "{plain}");
        assert!(check_hash("").is_err());
        assert!(
            check_hash("pbkdf2:sha256:1000$salt$nothex")
                .expect_err("bad hex")
                .starts_with("malformed pbkdf2:sha256")
        );
        assert_eq!(
            check_hash(
                "pbkdf2:sha256:1000$abcdefghijklmnop$\
                 b2443c0df37736fc59aed4783ee8904c248ba8cd98ccdfdaa46a3b89739cd13b"
            ),
            Ok(())
        );
    }

    #[test]
    fn uri_special_characters_are_escaped() {
        assert_eq!(uri_escape("/tmp/a?b#c%d.db"), "/tmp/a%3fb%23c%25d.db");
        assert_eq!(uri_escape("/plain/path.db"), "/plain/path.db");
    }
}
