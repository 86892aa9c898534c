//! Every query a request can run is answered from an index, at any table size: the test runs the
//! real query functions of `latchkey::db` on the test database, captures the SQL Diesel sends
//! (its instrumentation), and asks the database for each statement's plan. A plan that reads a
//! whole table (SQLite `SCAN users`, PostgreSQL `Seq Scan on users`) fails the test, so an index
//! can never silently go missing or stop being usable.
//!
//! SQLite plans statements with unbound parameters; PostgreSQL plans them as prepared statements
//! with a generic plan (`plan_cache_mode = force_generic_plan`, the plan for any value) and
//! sequential scans priced out (`enable_seqscan = off`), so that a tiny test table cannot make a
//! sequential scan the cheaper choice: a `Seq Scan` then means no index can answer.

use std::sync::{Arc, Mutex};

use diesel::connection::{Connection as _, InstrumentationEvent};
use diesel::prelude::*;
use diesel::sql_types::Text;
use latchkey::config::DatabaseUrl;
use latchkey::db::sessions::{Liveness, NewSession};
use latchkey::db::users::NewUser;
use latchkey::db::{self, Conn, events, passkeys, second_factors, sessions, throttles, users};
use latchkey::domain::{EventKind, Origin};

use crate::helpers::TestDatabase;

const TABLES: [&str; 7] = [
    "users",
    "sessions",
    "events",
    "login_throttles",
    "totp_factors",
    "recovery_codes",
    "pending_logins",
];

/// Runs every query function that a request (or the periodic cleanup) can reach, and returns the
/// SQL of each statement sent.
fn statements_of_the_request_paths(conn: &mut Conn) -> Vec<String> {
    let sent = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = sent.clone();
    let record = move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            let sql = query.to_string();
            let sql = sql
                .split(" -- binds:")
                .next()
                .unwrap_or_default()
                .to_owned();
            sink.lock().expect("lock").push(sql);
        }
    };
    match conn {
        Conn::Sqlite(c) => c.set_instrumentation(record),
        Conn::Postgres(c) => c.set_instrumentation(record),
    }

    let user = users::insert(
        conn,
        &NewUser {
            username: "Plan",
            username_key: "plan",
            username_skeleton: Some("plan"),
            password_hash: "$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA",
            created_at: 1,
            updated_at: 1,
        },
    )
    .expect("insert user");
    users::name_taken(conn, "plan", "plan").expect("name taken");
    users::find_by_skeleton(conn, "plan").expect("skeleton");
    users::find_credentials(conn, "plan").expect("credentials");
    users::find_credentials_by_id(conn, user.id).expect("credentials by id");
    users::replace_hash(conn, user.id, "old", "new", 2).expect("replace hash");
    users::set_hash(conn, user.id, "new", 2).expect("set hash");
    sessions::insert(
        conn,
        &NewSession {
            public_id: "pub",
            key_hash: "hash",
            user_id: user.id,
            remember: false,
            user_agent: None,
            ip: None,
            created_at: 1,
            last_seen_at: 1,
            expires_at: 100,
            logged_in_at: 1,
        },
    )
    .expect("insert session");
    let live = Liveness {
        now: 2,
        idle_secs: 60,
    };
    let found = sessions::find_by_key_hash(conn, "hash")
        .expect("find session")
        .expect("the session");
    sessions::touch(conn, found.session.id, 2).expect("touch");
    sessions::live_for_user(conn, user.id, live).expect("live for user");
    sessions::keep_newest_for_user(conn, user.id, 0).expect("keep newest");
    sessions::delete_one_for_user(conn, user.id, "pub").expect("delete one");
    sessions::delete_others(conn, user.id, Some("pub")).expect("delete others");
    sessions::delete_by_key_hash(conn, "hash").expect("delete by key hash");
    sessions::delete_by_id(conn, found.session.id).expect("delete by id");
    sessions::delete_for_user(conn, user.id).expect("delete for user");
    sessions::delete_expired(conn, live, 10).expect("delete expired");
    throttles::begin_attempt(conn, "plan", 2000, 5).expect("throttle");
    throttles::reset(conn, "plan").expect("reset");
    throttles::delete_stale(conn, 2).expect("stale throttles");
    let origin = Origin {
        ip: None,
        user_agent: None,
    };
    events::record(conn, user.id, EventKind::Login, &origin, 2, 100).expect("event");
    events::recent(conn, user.id, 100).expect("recent events");
    second_factors::begin_enrolment(conn, user.id, b"sealed", 2).expect("enrol");
    second_factors::find_totp(conn, user.id).expect("find totp");
    second_factors::confirm(conn, user.id, 1, 2).expect("confirm");
    second_factors::use_step(conn, user.id, 2).expect("use step");
    second_factors::replace_recovery_codes(conn, user.id, &["h".to_owned()], 2).expect("codes");
    second_factors::use_recovery_code(conn, user.id, "h", 2).expect("use code");
    second_factors::unused_recovery_codes(conn, user.id).expect("count codes");
    second_factors::insert_pending(
        conn,
        &second_factors::NewPending {
            token_hash: "pending",
            user_id: user.id,
            remember: false,
            created_at: 2,
            expires_at: 3,
        },
    )
    .expect("pending");
    let pending = second_factors::find_pending(conn, "pending", 2)
        .expect("find pending")
        .expect("found");
    second_factors::delete_pending(conn, pending.id).expect("delete pending");
    second_factors::delete_pending_for_user(conn, user.id).expect("delete pending for user");
    second_factors::delete_expired(conn, 4, 1, 10).expect("expired pending and set-ups");
    second_factors::delete_totp(conn, user.id).expect("delete totp");
    second_factors::delete_recovery_codes(conn, user.id).expect("delete codes");
    passkeys::ensure_handle(conn, user.id, "handle").expect("ensure handle");
    passkeys::find_handle(conn, user.id).expect("find handle");
    passkeys::user_by_handle(conn, "handle").expect("user by handle");
    let passkey = passkeys::insert(
        conn,
        &passkeys::NewPasskey {
            public_id: "pk",
            user_id: user.id,
            credential_id: "cred",
            credential: "{}",
            name: "Passkey 1",
            sign_count: 0,
            backup_eligible: false,
            backed_up: false,
            created_at: 1,
        },
    )
    .expect("insert passkey");
    passkeys::for_user(conn, user.id).expect("passkeys of user");
    passkeys::count_for_user(conn, user.id).expect("count passkeys");
    passkeys::by_credential_id(conn, "cred").expect("by credential id");
    passkeys::find_for_user(conn, user.id, "pk").expect("find passkey");
    passkeys::record_use(
        conn,
        passkey.id,
        &passkeys::Use {
            credential: Some("{}"),
            sign_count: 1,
            backup_eligible: false,
            backed_up: false,
            at: 2,
        },
    )
    .expect("record use");
    passkeys::rename(conn, user.id, "pk", "Laptop").expect("rename");
    passkeys::delete(conn, user.id, "pk").expect("delete passkey");
    passkeys::delete_for_user(conn, user.id).expect("delete passkeys");
    passkeys::insert_ceremony(
        conn,
        &passkeys::NewCeremony {
            token_hash: "ceremony",
            kind: "login",
            user_id: None,
            state: "{}",
            created_at: 1,
            expires_at: 100,
        },
    )
    .expect("insert ceremony");
    passkeys::take_ceremony(conn, "ceremony", 2).expect("take ceremony");
    passkeys::delete_ceremonies_for_user(conn, user.id).expect("ceremonies of user");
    passkeys::delete_expired_ceremonies(conn, 2, 10).expect("expired ceremonies");
    users::delete_by_id(conn, user.id).expect("delete user");

    let quiet = |_: InstrumentationEvent<'_>| {};
    match conn {
        Conn::Sqlite(c) => c.set_instrumentation(quiet),
        Conn::Postgres(c) => c.set_instrumentation(quiet),
    }
    let sent = sent.lock().expect("lock").clone();
    sent.into_iter()
        .filter(|sql| {
            let head = sql.trim_start().to_ascii_uppercase();
            // Reads and writes that find rows; plain INSERT … VALUES finds none.
            ["SELECT", "UPDATE", "DELETE", "WITH"]
                .iter()
                .any(|verb| head.starts_with(verb))
                && !head.contains("PG_ADVISORY_XACT_LOCK")
        })
        .collect()
}

#[derive(QueryableByName)]
struct SqlitePlanRow {
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct PgPlanRow {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

fn plan_of(conn: &mut Conn, sql: &str) -> Vec<String> {
    match conn {
        Conn::Sqlite(c) => diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .load::<SqlitePlanRow>(c)
            .unwrap_or_else(|e| panic!("EXPLAIN QUERY PLAN {sql}: {e}"))
            .into_iter()
            .map(|r| r.detail)
            .collect(),
        Conn::Postgres(c) => {
            let params = (1..=64)
                .take_while(|n| sql.contains(&format!("${n}")))
                .count();
            diesel::sql_query(format!("PREPARE latchkey_plan AS {sql}"))
                .execute(c)
                .unwrap_or_else(|e| panic!("PREPARE {sql}: {e}"));
            let nulls = vec!["NULL"; params].join(", ");
            let execute = if params == 0 {
                "EXPLAIN EXECUTE latchkey_plan".to_owned()
            } else {
                format!("EXPLAIN EXECUTE latchkey_plan({nulls})")
            };
            let lines = diesel::sql_query(execute)
                .load::<PgPlanRow>(c)
                .unwrap_or_else(|e| panic!("EXPLAIN {sql}: {e}"))
                .into_iter()
                .map(|r| r.line)
                .collect();
            diesel::sql_query("DEALLOCATE latchkey_plan")
                .execute(c)
                .expect("deallocate");
            lines
        }
    }
}

/// The plan lines that read a whole table: SQLite's `SCAN t` (with or without `USING INDEX`:
/// a walk of a whole index is no better); PostgreSQL's `Seq Scan on t`, and an `Index Scan` or
/// `Index Only Scan` on `t` without an `Index Cond` (a walk of a whole index).
fn full_scans(plan: &[String]) -> Vec<String> {
    let on_our_table = |line: &str| {
        TABLES
            .iter()
            .any(|t| line.contains(&format!(" on {t} ")) || line.ends_with(&format!(" on {t}")))
    };
    let mut found = Vec::new();
    for (i, line) in plan.iter().enumerate() {
        let node = line.trim_start_matches([' ', '-', '>']);
        if TABLES
            .iter()
            .any(|table| node.starts_with(&format!("SCAN {table}")))
        {
            found.push(line.clone());
            continue;
        }
        let node_name = node.split("  (").next().unwrap_or(node);
        if node.starts_with("Seq Scan on ") && on_our_table(node_name) {
            found.push(line.clone());
        } else if (node.starts_with("Index Scan ") || node.starts_with("Index Only Scan "))
            && on_our_table(node_name)
        {
            // The node's own detail lines run to the next node (`->`).
            let bounded = plan[i + 1..]
                .iter()
                .take_while(|l| !l.contains("->"))
                .any(|l| l.trim_start().starts_with("Index Cond:"));
            if !bounded {
                found.push(line.clone());
            }
        }
    }
    found
}

/// A migrated connection to the test's database, set up for the plan check (module
/// documentation).
fn connect(database: &TestDatabase) -> Conn {
    use diesel::r2d2::ManageConnection as _;
    let url = match database.sqlite_path() {
        Some(path) => DatabaseUrl::Sqlite(path.to_owned()),
        None => DatabaseUrl::Postgres(database.url()),
    };
    let mut conn = db::Manager::new(url).connect().expect("connect");
    db::run_migrations(&mut conn).expect("migrate");
    if let Conn::Postgres(c) = &mut conn {
        for setting in [
            "SET enable_seqscan = off",
            "SET plan_cache_mode = force_generic_plan",
        ] {
            diesel::sql_query(setting).execute(c).expect(setting);
        }
    }
    conn
}

#[test]
fn every_query_of_the_request_paths_is_answered_from_an_index() {
    let database = TestDatabase::create();
    let mut conn = connect(&database);
    let statements = statements_of_the_request_paths(&mut conn);
    assert!(
        statements.len() >= 20,
        "the instrumentation saw the queries: {statements:#?}"
    );
    let mut failures = Vec::new();
    for sql in &statements {
        let plan = plan_of(&mut conn, sql);
        assert!(!plan.is_empty(), "a plan for {sql}");
        let scans = full_scans(&plan);
        if !scans.is_empty() {
            failures.push(format!("{sql}\n    {}", plan.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "queries that read a whole table:\n{}",
        failures.join("\n\n")
    );
}

#[test]
fn the_plan_check_sees_a_full_scan() {
    // The check itself can fail: a query on an unindexed column is caught.
    let database = TestDatabase::create();
    let mut conn = connect(&database);
    let sql = match conn {
        Conn::Sqlite(_) => "SELECT id FROM users WHERE password_hash = ?",
        Conn::Postgres(_) => "SELECT id FROM users WHERE password_hash = $1",
    };
    let plan = plan_of(&mut conn, sql);
    assert_eq!(full_scans(&plan).len(), 1, "{plan:?}");
    // And an indexed lookup is not.
    let lookup = sql.replace("password_hash", "username_key");
    let plan = plan_of(&mut conn, &lookup);
    assert_eq!(full_scans(&plan).len(), 0, "{plan:?}");
    // A walk of a whole index is a full scan too.
    let walk = match conn {
        Conn::Sqlite(_) => "SELECT username_key FROM users ORDER BY username_key",
        Conn::Postgres(_) => "SELECT id FROM users ORDER BY id",
    };
    let plan = plan_of(&mut conn, walk);
    assert_eq!(full_scans(&plan).len(), 1, "{plan:?}");
}
