//! The values that cross the seam between the login flow and a kind: what a login start is made for
//! ([`StartRequest`]), how it starts ([`Start`]), the upstream's answer at the callback ([`Answer`]), and what
//! the upstream says of a person behind a grant ([`Standing`]). Types only, so that a kind's module and the
//! dispatch in `mod.rs` both use them without importing each other.

use std::collections::BTreeMap;

use serde_json::Value;

use super::error::ConnectorError;

/// What a login start is made for.
#[derive(Debug, Clone, Copy)]
pub struct StartRequest<'a> {
    /// The transaction id (random, single-use, `[a-zA-Z0-9]`), sent upstream as `state`.
    pub state: &'a str,
    /// Our `/connections/{identifier}/callback`.
    pub callback: &'a str,
    /// `zh` or `en`, when the app asked for a language (`ui_locales`).
    pub lang: Option<&'a str>,
}

/// How a login starts.
#[derive(Debug)]
pub enum Start {
    /// Send the browser to `url`. `carry` (the PKCE verifier, the nonce) is kept in the login transaction
    /// and handed back to [`finish`].
    Redirect { url: String, carry: Option<Value> },
    /// Show wegate's own page inside a workplace app's browser: it loads the app's JavaScript API from
    /// `script`, asks it for a code for (`corp_id`, `client_id`), and sends that to the callback as `code`
    /// with the `state` — or `error=` when the API refuses (DingTalk's `dd.requestAuthCode`).
    ClientCode { script: String, corp_id: String, client_id: String },
    /// Show wegate's own sign-in form for the upstream (a directory: `username` and `password`, posted back to
    /// the start's URL).
    Form,
}

/// The upstream's answer at the callback.
pub struct Answer<'a> {
    /// The callback's query parameters (the first of each name).
    pub params: &'a BTreeMap<String, String>,
    /// Our callback URL, as sent at the start (`redirect_uri` of the code exchange).
    pub callback: &'a str,
    /// What [`start`] kept (`null` when nothing).
    pub carry: &'a Value,
}

impl Answer<'_> {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// WeCom's `code`; none means the person declined (WeCom sends them back with the state only).
    pub(super) fn wecom_code(&self, name: &str) -> Result<&str, ConnectorError> {
        self.param(name).filter(|c| !c.is_empty()).ok_or(ConnectorError::Cancelled)
    }
}

/// What the upstream says of a person behind a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Still a member the connection's app may sign in.
    Member,
    /// A member, but not for this app any more: out of its visible scope, or the corp's authorization of a
    /// delegated app cancelled.
    NotAdmitted,
    /// Deleted from the corp, disabled, or left.
    Departed,
}
