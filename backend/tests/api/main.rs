//! Black-box API tests: each test starts the real server on port 0 with its own temporary
//! SQLite file (and, where `LATCHKEY_TEST_POSTGRES` allows, PostgreSQL) and talks HTTP to it.

mod account;
mod cli;
mod errors;
mod helpers;
mod login;
mod logout_and_me;
mod openapi;
mod register;
mod security;
mod sessions;
