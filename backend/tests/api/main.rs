//! Black-box API tests: each test starts the real server on port 0 with its own temporary
//! SQLite file (and, where `LATCHKEY_TEST_POSTGRES` allows, PostgreSQL) and talks HTTP to it.

mod admin_cli;
mod cli;
mod deploy;
mod docs;
mod errors;
mod helpers;
mod import_flask;
mod login;
mod logout_and_me;
mod metrics;
mod openapi;
mod register;
mod sessions;
mod shutdown;
