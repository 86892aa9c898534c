//! Latchkey: a username/password authentication service.
//!
//! A JSON API on actix-web (register, login, logout, the current user) over Diesel (SQLite by
//! default, PostgreSQL for several instances), PBKDF2-HMAC-SHA256 hashes computed on a bounded
//! pool of their own, and server-side sessions kept in the database behind actix-session and
//! actix-identity. The HTTP contract is `shared/spec/API.md`; `openapi.yaml` is its
//! machine-readable copy, generated from this crate.

pub mod auth;
pub mod cli;
pub mod client_ip;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
