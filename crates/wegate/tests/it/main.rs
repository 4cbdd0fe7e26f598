//! End-to-end tests: the real server on an ephemeral port with a fresh SQLite file, the real WeCom
//! simulator, and the `openidconnect` crate (or a cookie-keeping HTTP client acting as the browser) as the
//! app. One binary with modules: linking is the slow part on two cores.

// Test code: a failed step is a failed test, so helpers unwrap and panic with what went wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;
mod hostile_op;
mod slapd;

mod admin_api;
mod browser;
mod console;
mod delegated;
mod demo;
mod dingtalk;
mod docs;
mod doors;
mod encrypted_ids;
mod feishu;
mod ldap;
mod lifecycle;
mod oidc_core;
mod oidc_upstream;
mod ops;
mod passwords;
mod scale;
mod sessions;
mod setup_aids;
mod store_core;
mod upgrades;
mod wecom_login;
