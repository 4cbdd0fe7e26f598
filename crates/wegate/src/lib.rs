//! wegate: an identity broker that signs a company's apps in with WeCom through plain OpenID Connect.
//! See ARCHITECTURE.md for the map of the modules and how a login flows through them.

// Error pages and early HTTP answers are the cold path of a request; boxing them everywhere would add
// noise for no measurable gain.
#![allow(clippy::result_large_err)]

pub mod accounts;
pub mod api;
pub mod app;
pub mod audit;
pub mod check;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connectors;
pub mod console;
pub mod demo;
pub mod inbound;
pub mod login;
pub mod metrics;
pub mod oidc;
pub mod ops;
pub mod passwords;
pub mod router;
pub mod server;
pub mod store;
pub mod util;
pub mod web;
