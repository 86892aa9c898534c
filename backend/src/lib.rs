//! Latchkey: a username/password authentication service.
//!
//! A JSON API on actix-web (register, login, logout, the current user) over Diesel (SQLite by
//! default, PostgreSQL for several instances), PBKDF2-HMAC-SHA256 hashes computed on a bounded
//! pool of their own, and server-side sessions kept in the database behind actix-session and
//! actix-identity. The HTTP contract is `openapi.yaml` (generated from this crate), the README and
//! `docs/`; `docs/ARCHITECTURE.md` says which module owns what and which may import which.

pub mod accounts;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
