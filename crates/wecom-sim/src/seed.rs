//! The simulated world the simulator starts from: corps with departments, members and self-built
//! apps, delegated-development templates, and service providers with their suites.
//!
//! A seed is read from TOML or JSON (format documented in the crate's README.md and
//! `seed.sample.toml`) or taken from [`Seed::demo`]. It is validated once when loaded; the
//! simulator never changes it — runtime state (authorizations, event URLs set later, tokens...)
//! lives beside it and `POST /_sim/reset` goes back to it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod demo;

pub use demo::{CUSTOMER_CORP_ID, DEMO_CORP_ID, DEMO_TRUSTED_DOMAIN, PROVIDER_CORP_ID};

/// Everything the simulator knows at start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Enterprises (企业), each with its contacts and self-built apps.
    #[serde(default)]
    pub corps: Vec<Corp>,
    /// Delegated-development templates (代开发应用模板, ids `dk…`).
    #[serde(default)]
    pub templates: Vec<Template>,
    /// Service providers (服务商) and their suites (login-authorization / third-party apps).
    #[serde(default)]
    pub providers: Vec<Provider>,
}

/// One enterprise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Corp {
    /// CorpID, starts with `ww` (or the older `wx`).
    pub corp_id: String,
    /// Short name (`corp_name`).
    pub name: String,
    /// Registered full name (`corp_full_name`); defaults to `name`.
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub departments: Vec<Department>,
    #[serde(default)]
    pub members: Vec<Member>,
    /// Self-built apps (自建应用).
    #[serde(default)]
    pub apps: Vec<App>,
    /// Corps linked to this one (企业互联 / 上下游): their members can open this corp's apps, and
    /// `auth/getuserinfo` names them `CorpId/userid` (reference §2.3), with no `user_ticket`.
    #[serde(default)]
    pub linked_corps: Vec<String>,
}

/// A department of the contact tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    pub id: u64,
    pub name: String,
    /// Parent department id; absent for the root.
    #[serde(default)]
    pub parent: Option<u64>,
}

/// A member (成员) of a corp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// UserID: 1–64 bytes, unique in the corp, compared case-insensitively.
    pub userid: String,
    pub name: String,
    #[serde(default)]
    pub mobile: String,
    #[serde(default)]
    pub email: String,
    /// Enterprise mailbox (`biz_mail`).
    #[serde(default)]
    pub biz_mail: String,
    /// `"0"` unknown, `"1"` male, `"2"` female.
    #[serde(default = "default_gender")]
    pub gender: String,
    /// Avatar URL.
    #[serde(default)]
    pub avatar: String,
    /// Department ids the member belongs to; the first is the main department.
    #[serde(default)]
    pub department: Vec<u64>,
    #[serde(default)]
    pub position: String,
    #[serde(default)]
    pub address: String,
    /// The member's encrypted userid (open_userid) as every provider of this seed sees it; derived per
    /// provider, corp and userid when absent (set it only in seeds with one provider: WeCom gives each
    /// provider its own).
    #[serde(default)]
    pub open_userid: Option<String>,
    /// Corp administrator (matters only to the legacy provider login, `usertype`).
    #[serde(default)]
    pub admin: bool,
    /// Activation status (user/get `status`, path/90196): 1 active (default), 2 disabled (禁用: cannot log in),
    /// 4 not yet activated.
    #[serde(default = "default_status")]
    pub status: i64,
}

fn default_gender() -> String {
    "0".to_owned()
}

fn default_status() -> i64 {
    1
}

/// A self-built app (自建应用) of a corp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    pub agent_id: i64,
    pub secret: String,
    pub name: String,
    /// Visible scope (可见范围): users. Empty together with `visible_departments` = everyone.
    #[serde(default)]
    pub visible_users: Vec<String>,
    /// Visible scope: departments (sub-departments included).
    #[serde(default)]
    pub visible_departments: Vec<u64>,
    /// Trusted domain (可信域名): `host` or `host:port`. The redirect_uri host must equal it; its
    /// port must equal only when the domain names one.
    pub trusted_domain: String,
    /// `true` = created before 2022-06-20: `user/get` still returns mobile, email, avatar... .
    #[serde(default)]
    pub legacy_privacy: bool,
    /// Mobile SDK schema (`wwauth…`), informational.
    #[serde(default)]
    pub schema: Option<String>,
    /// API receiving (接收消息 → 设置API接收, path/90930): the URL address-book events (`change_contact`) are
    /// pushed to; needs `token` and `encoding_aes_key`. Also settable later through
    /// `/_sim/apps/{corp_id}/{agent_id}/callback`.
    #[serde(default)]
    pub event_url: Option<String>,
    /// Callback Token (English letters and digits, at most 32).
    #[serde(default)]
    pub token: Option<String>,
    /// Callback EncodingAESKey (43 characters); events are encrypted for receive id = the corp id.
    #[serde(default)]
    pub encoding_aes_key: Option<String>,
}

/// A delegated-development template (代开发应用模板).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Template id, starts with `dk`; used as `suite_id`.
    pub template_id: String,
    /// Used as `suite_secret`.
    pub template_secret: String,
    /// Callback Token.
    pub token: String,
    /// Callback EncodingAESKey (43 characters).
    pub encoding_aes_key: String,
    /// CorpID of the provider that owns the template (receive id of URL verification).
    pub provider_corp_id: String,
    /// Name of the apps created from it.
    #[serde(default = "default_template_name")]
    pub name: String,
    /// Command callback URL; can also be set later through `/_sim/suites/{id}/callback_url`.
    #[serde(default)]
    pub event_url: Option<String>,
    /// Trusted domain given to the apps created from the template.
    pub trusted_domain: String,
    /// `true` = authorizations from before 2022-06-28: plain corp ids and userids everywhere. By default
    /// (as WeCom since then, document 39442) the apps made from the template see the provider's encrypted
    /// corp ids and userids.
    #[serde(default)]
    pub legacy_ids: bool,
}

fn default_template_name() -> String {
    "代开发应用".to_owned()
}

/// A service provider (服务商).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// The provider's own CorpID.
    pub corp_id: String,
    pub provider_secret: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Redirect domain of the legacy provider login (`3rd_qrConnect`); defaults to the first
    /// suite's trusted domain.
    #[serde(default)]
    pub login_trusted_domain: Option<String>,
    #[serde(default)]
    pub suites: Vec<Suite>,
    /// `true` = plain corp ids and userids for the provider's suites and its login (before the 2022 upgrade,
    /// path/96516); by default they see the provider's encrypted ids.
    #[serde(default)]
    pub legacy_ids: bool,
}

/// A suite (应用) of a provider, e.g. its login-authorization suite (登录授权).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    pub suite_id: String,
    pub suite_secret: String,
    pub token: String,
    pub encoding_aes_key: String,
    #[serde(default = "default_suite_name")]
    pub name: String,
    #[serde(default)]
    pub event_url: Option<String>,
    /// Redirect (OAuth / login) trusted domain.
    pub trusted_domain: String,
    /// Corps that already authorized (installed) the suite: `getuserinfo3rd` returns their
    /// members' plain userid instead of a cipher one.
    #[serde(default)]
    pub authorized_corps: Vec<String>,
}

fn default_suite_name() -> String {
    "登录授权".to_owned()
}

/// Why a seed could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot read seed file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("seed file {0} must end in .toml or .json")]
    UnsupportedFormat(PathBuf),
    #[error("invalid TOML seed: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("invalid JSON seed: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid seed: {0}")]
    Invalid(String),
}

impl Seed {
    /// The built-in demo world (see the README for its ids and secrets).
    pub fn demo() -> Seed {
        demo::demo()
    }

    /// Reads a `.toml` or `.json` seed file and validates it.
    pub fn from_file(path: &Path) -> Result<Seed, SeedError> {
        let text = std::fs::read_to_string(path).map_err(|source| SeedError::Io { path: path.to_owned(), source })?;
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("toml") => Seed::from_toml_str(&text),
            Some(ext) if ext.eq_ignore_ascii_case("json") => Seed::from_json_str(&text),
            _ => Err(SeedError::UnsupportedFormat(path.to_owned())),
        }
    }

    /// Parses and validates a TOML seed.
    pub fn from_toml_str(s: &str) -> Result<Seed, SeedError> {
        let seed: Seed = toml::from_str(s)?;
        seed.validate()?;
        Ok(seed)
    }

    /// Parses and validates a JSON seed.
    pub fn from_json_str(s: &str) -> Result<Seed, SeedError> {
        let seed: Seed = serde_json::from_str(s)?;
        seed.validate()?;
        Ok(seed)
    }

    /// Checks ids, references and formats; the first problem found is reported.
    pub fn validate(&self) -> Result<(), SeedError> {
        let invalid = |m: String| Err(SeedError::Invalid(m));
        let mut corp_ids = HashSet::new();
        for corp in &self.corps {
            if !(corp.corp_id.starts_with("ww") || corp.corp_id.starts_with("wx")) {
                return invalid(format!("corp_id {:?} must start with ww or wx", corp.corp_id));
            }
            if !corp_ids.insert(corp.corp_id.clone()) {
                return invalid(format!("corp_id {:?} appears twice", corp.corp_id));
            }
            let dept_ids: HashSet<u64> = corp.departments.iter().map(|d| d.id).collect();
            if dept_ids.len() != corp.departments.len() {
                return invalid(format!("corp {}: duplicate department id", corp.corp_id));
            }
            for d in &corp.departments {
                if let Some(p) = d.parent
                    && !dept_ids.contains(&p)
                {
                    return invalid(format!("corp {}: department {} has unknown parent {p}", corp.corp_id, d.id));
                }
            }
            let mut userids = HashSet::new();
            for m in &corp.members {
                if m.userid.is_empty() || m.userid.len() > 64 {
                    return invalid(format!("corp {}: userid {:?} must be 1 to 64 bytes", corp.corp_id, m.userid));
                }
                if !userids.insert(m.userid.to_lowercase()) {
                    return invalid(format!(
                        "corp {}: userid {:?} appears twice (userids are case-insensitive)",
                        corp.corp_id, m.userid
                    ));
                }
                if !matches!(m.gender.as_str(), "0" | "1" | "2") {
                    return invalid(format!(
                        "corp {}: member {}: gender must be \"0\", \"1\" or \"2\"",
                        corp.corp_id, m.userid
                    ));
                }
                if let Some(d) = m.department.iter().find(|d| !dept_ids.contains(d)) {
                    return invalid(format!("corp {}: member {} is in unknown department {d}", corp.corp_id, m.userid));
                }
                if !valid_status(m.status) {
                    return invalid(format!(
                        "corp {}: member {}: status must be 1 (active), 2 (disabled) or 4 (not activated)",
                        corp.corp_id, m.userid
                    ));
                }
            }
            let mut agents = HashSet::new();
            for app in &corp.apps {
                if !agents.insert(app.agent_id) {
                    return invalid(format!("corp {}: agent_id {} appears twice", corp.corp_id, app.agent_id));
                }
                if app.secret.is_empty() {
                    return invalid(format!("corp {}: app {} has an empty secret", corp.corp_id, app.agent_id));
                }
                check_domain(&app.trusted_domain)?;
                if let Some(u) = app.visible_users.iter().find(|u| !userids.contains(&u.to_lowercase())) {
                    return invalid(format!(
                        "corp {}: app {}: visible user {u:?} is not a member",
                        corp.corp_id, app.agent_id
                    ));
                }
                if let Some(d) = app.visible_departments.iter().find(|d| !dept_ids.contains(d)) {
                    return invalid(format!(
                        "corp {}: app {}: visible department {d} does not exist",
                        corp.corp_id, app.agent_id
                    ));
                }
                let owner = format!("corp {}: app {}", corp.corp_id, app.agent_id);
                if let Some(token) = &app.token {
                    check_token(&owner, token)?;
                }
                if let Some(key) = &app.encoding_aes_key {
                    check_key(&owner, key)?;
                }
                check_url(&owner, app.event_url.as_deref())?;
                if app.event_url.is_some() && (app.token.is_none() || app.encoding_aes_key.is_none()) {
                    return invalid(format!("{owner}: event_url needs token and encoding_aes_key"));
                }
            }
        }
        let mut suite_ids = HashSet::new();
        for t in &self.templates {
            if !t.template_id.starts_with("dk") {
                return invalid(format!("template_id {:?} must start with dk", t.template_id));
            }
            if !suite_ids.insert(t.template_id.clone()) {
                return invalid(format!("template_id {:?} appears twice", t.template_id));
            }
            check_key(&t.template_id, &t.encoding_aes_key)?;
            check_domain(&t.trusted_domain)?;
            check_url(&t.template_id, t.event_url.as_deref())?;
        }
        let mut provider_ids = HashSet::new();
        for p in &self.providers {
            if !provider_ids.insert(p.corp_id.clone()) {
                return invalid(format!("provider corp_id {:?} appears twice", p.corp_id));
            }
            if let Some(d) = &p.login_trusted_domain {
                check_domain(d)?;
            }
            for s in &p.suites {
                if s.suite_id.starts_with("dk") {
                    return invalid(format!("suite_id {:?}: ids starting with dk are templates", s.suite_id));
                }
                if !suite_ids.insert(s.suite_id.clone()) {
                    return invalid(format!("suite_id {:?} appears twice", s.suite_id));
                }
                check_key(&s.suite_id, &s.encoding_aes_key)?;
                check_domain(&s.trusted_domain)?;
                check_url(&s.suite_id, s.event_url.as_deref())?;
                if let Some(c) = s.authorized_corps.iter().find(|c| !corp_ids.contains(*c)) {
                    return invalid(format!("suite {}: authorized corp {c:?} is not in the seed", s.suite_id));
                }
            }
        }
        Ok(())
    }
}

pub(crate) fn check_key(owner: &str, key: &str) -> Result<(), SeedError> {
    wecom::crypto::validate_encoding_aes_key(key)
        .map_err(|e| SeedError::Invalid(format!("{owner}: encoding_aes_key must be 43 base64 characters ({e})")))
}

/// A callback Token as WeCom's console takes it: English letters and digits, at most 32 (path/90930).
pub(crate) fn check_token(owner: &str, token: &str) -> Result<(), SeedError> {
    if !token.is_empty() && token.len() <= 32 && token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(SeedError::Invalid(format!("{owner}: token must be 1 to 32 English letters or digits")))
    }
}

/// A member status the seed and `/_sim` accept: 1 active, 2 disabled, 4 not activated.
pub(crate) fn valid_status(status: i64) -> bool {
    matches!(status, 1 | 2 | 4)
}

fn check_domain(domain: &str) -> Result<(), SeedError> {
    if crate::domain::TrustedDomain::parse(domain).is_some() {
        Ok(())
    } else {
        Err(SeedError::Invalid(format!("trusted_domain {domain:?} must be a host or host:port")))
    }
}

fn check_url(owner: &str, url: Option<&str>) -> Result<(), SeedError> {
    match url {
        Some(u) if url::Url::parse(u).is_err() => {
            Err(SeedError::Invalid(format!("{owner}: event_url {u:?} is not an absolute URL")))
        }
        _ => Ok(()),
    }
}
