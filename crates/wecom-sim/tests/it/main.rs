//! End-to-end tests of the WeCom simulator over real HTTP, one module per part of the WeCom
//! reference (`/work/shared/wecom-protocol.md`); test names say which behaviour they hold.

// Test code: a failed step is a failed test, so helpers unwrap and panic with what went wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod auth;
mod console;
mod faults;
mod members;
mod pages;
mod provider;
mod push;
mod seed;
mod service;
mod stats;
mod token;
mod user;
