//! What the client tells whoever watches it (wegate's metrics): every API call with its outcome and time,
//! and where each access token came from. The crate counts nothing itself; the default watcher ignores all.

use std::time::Duration;

pub use token_cache::TokenSource;

use crate::Error;

pub trait Observer: Send + Sync {
    /// One HTTP call to `api` (the path under `/cgi-bin/`), failed or not, and how long it took.
    fn call(&self, api: &'static str, failure: Option<&Error>, elapsed: Duration) {
        let _ = (api, failure, elapsed);
    }
    /// A token handed to a call.
    fn token(&self, source: TokenSource) {
        let _ = source;
    }
}

/// Watches nothing.
pub struct Unobserved;

impl Observer for Unobserved {}

/// A failure's short code for labels: WeCom's errcode, or the kind of transport failure.
pub fn failure_code(error: &Error) -> String {
    match error {
        Error::Api { errcode, .. } => errcode.to_string(),
        Error::Timeout { .. } => "timeout".into(),
        Error::Http { .. } => "http".into(),
        Error::Decode { .. } => "decode".into(),
        Error::Cache(_) => "token_cache".into(),
    }
}
