//! All mutable state behind one std mutex (never held across an await), lifetimes, and identifiers.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::control::{Faults, Stats};
use crate::seed::{App, Member, Org, Person, Seed};

// [DT-atok][DT-gettoken][DT-corptok][DT-utok] app and user tokens live 7200 s.
pub(crate) const TOKEN_TTL: i64 = 7200;
// [DT-free][DT-jsapi] 免登 codes: 5 min, single use. [DT-cred] authCode lifetime is UNCONFIRMED: same rule (strict).
pub(crate) const CODE_TTL: i64 = 300;
// [DT-utok] refresh tokens live 30 days.
const REFRESH_TTL: i64 = 30 * 86_400;

pub(crate) struct Inner {
    pub(crate) clock: Clock,
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

/// Who an access token belongs to: the app itself, or a person who signed in to the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Holder {
    App(String),
    User { client_id: String, person: String },
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) holder: Holder,
    pub(crate) expires_at: i64,
}

/// An authCode from the login page: bound to its client_id; `corp` only with scope `openid corpid`.
#[derive(Debug, Clone)]
pub(crate) struct LoginCode {
    pub(crate) client_id: String,
    pub(crate) person: String,
    pub(crate) corp: Option<String>,
    pub(crate) issued_at: i64,
}

/// A 免登 code: bound to the corp it was requested for, and to the app when requested with its `clientId`
/// (`dd.requestAuthCode({corpId, clientId})`, [DT-jsapi]) — that another app's code is refused is INFERRED, the
/// stricter reading.
#[derive(Debug, Clone)]
pub(crate) struct FreeCode {
    pub(crate) person: String,
    pub(crate) corp_id: String,
    pub(crate) client_id: Option<String>,
    pub(crate) issued_at: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) client_id: String,
    pub(crate) person: String,
    pub(crate) expires_at: i64,
}

pub(crate) struct World {
    pub(crate) seed: Seed,
    /// Current app token per client_id; one per app, shared by the three token endpoints.
    app_tokens: HashMap<String, String>,
    /// Current user token per (client_id, person).
    user_tokens: HashMap<(String, String), String>,
    pub(crate) tokens: HashMap<String, Token>,
    pub(crate) refresh: HashMap<String, Grant>,
    pub(crate) login_codes: HashMap<String, LoginCode>,
    pub(crate) free_codes: HashMap<String, FreeCode>,
    pub(crate) faults: Faults,
    pub(crate) stats: Stats,
}

impl World {
    pub(crate) fn new(seed: Seed) -> World {
        World {
            seed,
            app_tokens: HashMap::new(),
            user_tokens: HashMap::new(),
            tokens: HashMap::new(),
            refresh: HashMap::new(),
            login_codes: HashMap::new(),
            free_codes: HashMap::new(),
            faults: Faults::default(),
            stats: Stats::default(),
        }
    }

    pub(crate) fn app(&self, client_id: &str) -> Option<&App> {
        self.seed.apps.iter().find(|a| a.client_id == client_id)
    }

    /// The app with these credentials, if they are right.
    pub(crate) fn app_with(&self, client_id: &str, secret: &str) -> Option<App> {
        self.app(client_id).filter(|a| a.client_secret == secret).cloned()
    }

    pub(crate) fn person(&self, id: &str) -> Option<&Person> {
        self.seed.people.iter().find(|p| p.id == id)
    }

    pub(crate) fn org(&self, corp_id: &str) -> Option<&Org> {
        self.seed.orgs.iter().find(|o| o.corp_id == corp_id)
    }

    /// The person's membership in `corp_id`, internal or external.
    pub(crate) fn member(&self, corp_id: &str, person: &str) -> Option<&Member> {
        self.org(corp_id)?.members.iter().find(|m| m.person == person)
    }

    pub(crate) fn internal_member(&self, corp_id: &str, person: &str) -> Option<&Member> {
        self.member(corp_id, person).filter(|m| !m.external)
    }

    /// Orgs where the person is an internal member, in seed order.
    pub(crate) fn orgs_of(&self, person: &str) -> Vec<&Org> {
        self.seed.orgs.iter().filter(|o| o.members.iter().any(|m| m.person == person && !m.external)).collect()
    }

    fn mint(&mut self, holder: Holder, now: i64) -> String {
        let token = random_hex();
        self.tokens.insert(token.clone(), Token { holder, expires_at: now + TOKEN_TTL });
        token
    }

    /// The app's token and its remaining seconds: the same one while valid, a new one after expiry [DT-atok].
    pub(crate) fn app_token(&mut self, client_id: &str, now: i64) -> (String, i64) {
        self.stats.app_token_fetches += 1;
        if let Some(token) = self.app_tokens.get(client_id)
            && let Some(t) = self.tokens.get(token)
            && t.expires_at > now
        {
            return (token.clone(), t.expires_at - now);
        }
        let token = self.mint(Holder::App(client_id.to_owned()), now);
        self.app_tokens.insert(client_id.to_owned(), token.clone());
        self.stats.app_tokens_issued += 1;
        (token, TOKEN_TTL)
    }

    /// A user token (same rule as app tokens [DT-utok]) plus a fresh refresh token.
    pub(crate) fn user_token(&mut self, client_id: &str, person: &str, now: i64) -> (String, String, i64) {
        let key = (client_id.to_owned(), person.to_owned());
        let current = self.user_tokens.get(&key).and_then(|t| Some((t.clone(), self.tokens.get(t)?.expires_at)));
        let (token, left) = match current {
            Some((t, exp)) if exp > now => (t, exp - now),
            _ => {
                let holder = Holder::User { client_id: key.0.clone(), person: key.1.clone() };
                let t = self.mint(holder, now);
                self.user_tokens.insert(key, t.clone());
                (t, TOKEN_TTL)
            }
        };
        let refresh = random_hex();
        let grant = Grant { client_id: client_id.into(), person: person.into(), expires_at: now + REFRESH_TTL };
        self.refresh.insert(refresh.clone(), grant);
        (token, refresh, left)
    }

    pub(crate) fn mint_free_code(
        &mut self,
        person: &str,
        corp_id: &str,
        client_id: Option<&str>,
        now: i64,
    ) -> Result<String, String> {
        if self.internal_member(corp_id, person).is_none() {
            return Err(format!("{person} is not an internal member of {corp_id}"));
        }
        if let Some(client) = client_id
            && self.app(client).is_none_or(|a| a.corp_id != corp_id)
        {
            return Err(format!("{client} is not an app of {corp_id}"));
        }
        let code = random_hex();
        let free = FreeCode {
            person: person.into(),
            corp_id: corp_id.into(),
            client_id: client_id.map(String::from),
            issued_at: now,
        };
        self.free_codes.insert(code.clone(), free);
        Ok(code)
    }
}

/// 32 random hex characters: tokens, codes.
pub(crate) fn random_hex() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// A request id shaped like DingTalk's (uppercase UUID).
pub(crate) fn request_id() -> String {
    let h = random_hex().to_uppercase();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

fn digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// [DT-byunion] unionId: stable per (developer account, person); the developer account of an internal app
/// is the corp that owns it, so apps of one corp agree and apps of different corps differ.
pub(crate) fn union_id(dev_corp: &str, person: &str) -> String {
    format!("{}iEiE", &digest(&["unionId", dev_corp, person])[..22])
}

/// [DT-sns] openId: per (app, person).
pub(crate) fn open_id(client_id: &str, person: &str) -> String {
    format!("op{}", &digest(&["openId", client_id, person])[..22])
}
