//! Black-box API tests: each test starts the real server on port 0 with its own temporary
//! SQLite file, or its own PostgreSQL database when `LATCHKEY_TEST_DATABASE_URL` names a
//! server (see `helpers::TestDatabase`), and talks HTTP to it.

mod account;
mod admin_cli;
mod architecture;
mod cli;
mod deploy;
mod docs;
mod durability;
mod errors;
mod forward_auth;
mod hardening;
mod helpers;
mod import_flask;
mod login;
mod logout_and_me;
mod metrics;
mod multi_instance;
mod openapi;
mod passkeys;
mod proxies;
mod query_plans;
mod register;
mod second_factor;
mod security;
mod security_doc;
mod sessions;
mod shutdown;
mod soft_authenticator;
mod transactions;
mod unavailable;
