//! All mutable state behind one std mutex (never held across an await), lifetimes, and token minting.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::SimConfig;
use crate::clock::Clock;
use crate::control::{Faults, Stats};
use crate::seed::{App, Seed, Tenant, User};

// [FS-authz] codes live 5 minutes.
pub(crate) const CODE_TTL: i64 = 300;
// [FS-aat-int][FS-tat-int][FS-tok] app, tenant and user tokens: 2 h.
pub(crate) const TOKEN_TTL: i64 = 7200;
// [FS-aat-int] with less than 30 min left a fetch mints a new token (the old one stays valid).
const RENEW_BELOW: i64 = 1800;
// [FS-tok] refresh_token_expires_in in the doc's example.
pub(crate) const REFRESH_TTL: i64 = 604_800;

pub(crate) struct Inner {
    pub(crate) clock: Clock,
    pub(crate) config: SimConfig,
    /// Sends event pushes; 2 s to connect [FS-evt].
    pub(crate) http: reqwest::Client,
    pub(crate) world: Mutex<World>,
}

impl Inner {
    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Who a token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Holder {
    App(String),
    Tenant { app_id: String, tenant_key: String },
    User { app_id: String, user: String, scopes: Vec<String> },
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) holder: Holder,
    pub(crate) expires_at: i64,
}

/// An authorization code and everything it is bound to [FS-authz].
#[derive(Debug, Clone)]
pub(crate) struct Code {
    pub(crate) app_id: String,
    pub(crate) user: String,
    pub(crate) redirect_uri: String,
    /// (code_challenge, is S256).
    pub(crate) challenge: Option<(String, bool)>,
    /// The scopes of this authorize request: what the exchange may narrow to [FS-tok] 20068.
    pub(crate) requested: Vec<String>,
    /// Everything the user has granted the app so far: grants are cumulative [FS-authz].
    pub(crate) granted: Vec<String>,
    pub(crate) issued_at: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct Refresh {
    pub(crate) app_id: String,
    pub(crate) user: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) expires_at: i64,
}

#[derive(Default)]
pub(crate) struct World {
    pub(crate) seed: Seed,
    pub(crate) tokens: HashMap<String, Token>,
    /// The current app token (tenant None) or tenant token per (app, tenant).
    current: HashMap<(String, Option<String>), String>,
    pub(crate) codes: HashMap<String, Code>,
    /// Redeemed codes, so a replay answers 20065 rather than 20003 [FS-tok].
    pub(crate) spent_codes: HashSet<String>,
    pub(crate) refresh: HashMap<String, Refresh>,
    /// Used refresh tokens: a replay answers 20073 [FS-refresh].
    pub(crate) spent_refresh: HashSet<String>,
    /// Scopes granted so far per (app, user) [FS-authz].
    pub(crate) grants: HashMap<(String, String), Vec<String>>,
    /// The latest app_ticket per marketplace app.
    pub(crate) tickets: HashMap<String, String>,
    /// Verified event request URLs per app.
    pub(crate) event_urls: HashMap<String, String>,
    pub(crate) faults: Faults,
    pub(crate) stats: Stats,
}

impl World {
    pub(crate) fn new(seed: Seed) -> World {
        World { seed, ..World::default() }
    }

    pub(crate) fn app(&self, app_id: &str) -> Option<&App> {
        self.seed.apps.iter().find(|a| a.app_id == app_id)
    }

    pub(crate) fn app_mut(&mut self, app_id: &str) -> Option<&mut App> {
        self.seed.apps.iter_mut().find(|a| a.app_id == app_id)
    }

    /// A user and their tenant.
    pub(crate) fn user(&self, id: &str) -> Option<(&Tenant, &User)> {
        self.seed.tenants.iter().find_map(|t| t.users.iter().find(|u| u.id == id).map(|u| (t, u)))
    }

    pub(crate) fn user_mut(&mut self, id: &str) -> Option<&mut User> {
        self.seed.tenants.iter_mut().flat_map(|t| t.users.iter_mut()).find(|u| u.id == id)
    }

    /// A live (unexpired) token's holder.
    pub(crate) fn live(&self, token: &str, now: i64) -> Option<&Holder> {
        self.tokens.get(token).filter(|t| t.expires_at > now).map(|t| &t.holder)
    }

    /// The app token (`tenant` None) or a tenant token, with its remaining seconds: the same token while at
    /// least 30 min are left, else a new one while the old stays valid until its own expiry [FS-aat-int].
    pub(crate) fn app_level_token(&mut self, app_id: &str, tenant: Option<&str>, now: i64) -> (String, i64) {
        let key = (app_id.to_owned(), tenant.map(String::from));
        if let Some(t) = self.current.get(&key)
            && let Some(tok) = self.tokens.get(t)
            && tok.expires_at - now >= RENEW_BELOW
        {
            return (t.clone(), tok.expires_at - now);
        }
        let (prefix, holder) = match tenant {
            None => ("a-", Holder::App(app_id.into())),
            Some(t) => ("t-", Holder::Tenant { app_id: app_id.into(), tenant_key: t.into() }),
        };
        let token = random_token(prefix, 30);
        self.tokens.insert(token.clone(), Token { holder, expires_at: now + TOKEN_TTL });
        self.current.insert(key, token.clone());
        self.stats.tokens_issued += 1;
        (token, TOKEN_TTL)
    }
}

/// `prefix` + `bytes` random bytes in base64url: the charset [A-Za-z0-9-_] of codes [FS-authz].
pub(crate) fn random_token(prefix: &str, bytes: usize) -> String {
    let raw: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(raw))
}
