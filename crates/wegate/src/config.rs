//! Settings: defaults < TOML file < `WEGATE_*` environment. Every key of the file is the environment
//! variable's name without `WEGATE_`, lowercased (`WEGATE_DATABASE_URL` = `database_url`). Any setting can
//! also be read from a file named by `WEGATE_<NAME>_FILE` (or `<name>_file` in TOML), which is how secrets
//! are usually mounted; a trailing newline in such a file is ignored.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is not valid TOML: {message}")]
    Toml { path: String, message: String },
    #[error("setting {key}: {message}")]
    Invalid { key: String, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// Every setting of the server. `Debug` redacts the admin token and the database password.
#[derive(Clone)]
pub struct Settings {
    /// Address to bind.
    pub listen: String,
    /// The OIDC issuer and public base URL, without a trailing slash.
    pub issuer: String,
    pub database_url: String,
    /// Bearer token of the admin API and console; the API answers 401 to everything when unset.
    pub admin_token: Option<String>,
    /// Bearer token that `/metrics` requires when set (the metrics name apps and connections).
    pub metrics_token: Option<String>,
    /// Audit events older than this many days are deleted by the periodic sweep; 0 keeps them forever.
    pub audit_retention_days: i64,
    /// AES-256 key (base64 of 32 bytes) sealing the secrets the database keeps; unset = stored as given.
    pub encryption_key: Option<[u8; 32]>,
    pub wecom_api_base: String,
    pub wecom_login_base: String,
    pub wecom_oauth_base: String,
    /// DingTalk's new API (`/v1.0/...`).
    pub dingtalk_api_base: String,
    /// DingTalk's legacy API (`/topapi/...`).
    pub dingtalk_oapi_base: String,
    /// DingTalk's login page (`/oauth2/auth`).
    pub dingtalk_login_base: String,
    /// The JSAPI script the in-DingTalk page loads (and its CSP allows).
    pub dingtalk_jsapi_url: String,
    /// Feishu's `/open-apis/...` API (Lark: `https://open.larksuite.com`).
    pub feishu_api_base: String,
    /// Feishu's authorize page host (Lark: `https://accounts.larksuite.com`).
    pub feishu_accounts_base: String,
    /// WeCom's service-provider login page (`/wwopen/sso/3rd_qrConnect`).
    pub wecom_open_base: String,
    /// Timeout of one call to WeCom's API.
    pub wecom_timeout: Duration,
    /// Timeout of one call to an OpenID Connect or OAuth 2.0 provider (discovery, keys, token, userinfo).
    pub upstream_timeout: Duration,
    pub log_format: LogFormat,
    /// `tracing` filter, e.g. `info` or `wegate=debug,info`.
    pub log_level: String,
    pub db_max_connections: u32,
    pub db_acquire_timeout: Duration,
    /// SQLite: `exclusive` (one process owns the file; the default) or `normal` (processes share it).
    pub sqlite_locking: crate::store::sql::SqliteLocking,
    pub access_token_ttl: i64,
    /// Signature of access tokens: `RS256` (default) or `ES256` (a P-256 key; ID tokens stay RS256).
    pub access_token_alg: String,
    pub id_token_ttl: i64,
    pub refresh_token_ttl: i64,
    /// Authorization codes; OAuth 2.0 recommends at most 10 minutes, we keep them shorter.
    pub code_ttl: i64,
    /// Browser single-sign-on session.
    pub session_ttl: i64,
    /// How long a login may take from `/authorize` to the callback.
    pub login_ttl: i64,
    /// Failed password sign-ins of one account within `lockout_window` after which its password sign-in is
    /// refused until the window ends; 0 turns lockout off.
    pub lockout_failures: i64,
    /// Seconds from an account's first failed password sign-in over which failures are counted.
    pub lockout_window: i64,
    /// A refresh re-checks with WeCom that the member is still there when the last check is older than this
    /// many seconds (CONTRACT.md, "Member lifecycle").
    pub membership_recheck: i64,
    /// Seconds between `wegate keys rotate` publishing a key and that key signing (relying parties' cached
    /// key sets have it first).
    pub key_publish_delay: i64,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("issuer", &self.issuer)
            .field("database_url", &redact_url_password(&self.database_url))
            .field("admin_token", &self.admin_token.as_ref().map(|_| "<redacted>"))
            .field("metrics_token", &self.metrics_token.as_ref().map(|_| "<redacted>"))
            .field("encryption_key", &self.encryption_key.as_ref().map(|_| "<redacted>"))
            .field("wecom_api_base", &self.wecom_api_base)
            .field("wecom_login_base", &self.wecom_login_base)
            .field("wecom_oauth_base", &self.wecom_oauth_base)
            .field("dingtalk_api_base", &self.dingtalk_api_base)
            .field("dingtalk_oapi_base", &self.dingtalk_oapi_base)
            .field("dingtalk_login_base", &self.dingtalk_login_base)
            .field("dingtalk_jsapi_url", &self.dingtalk_jsapi_url)
            .field("feishu_api_base", &self.feishu_api_base)
            .field("feishu_accounts_base", &self.feishu_accounts_base)
            .field("wecom_open_base", &self.wecom_open_base)
            .field("log_format", &self.log_format)
            .finish_non_exhaustive()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".into(),
            issuer: "http://127.0.0.1:8080".into(),
            database_url: "sqlite://wegate.db".into(),
            admin_token: None,
            metrics_token: None,
            audit_retention_days: 180,
            membership_recheck: 3600,
            encryption_key: None,
            wecom_api_base: "https://qyapi.weixin.qq.com".into(),
            wecom_login_base: "https://login.work.weixin.qq.com".into(),
            wecom_oauth_base: "https://open.weixin.qq.com".into(),
            dingtalk_api_base: "https://api.dingtalk.com".into(),
            dingtalk_oapi_base: "https://oapi.dingtalk.com".into(),
            dingtalk_login_base: "https://login.dingtalk.com".into(),
            dingtalk_jsapi_url: DINGTALK_JSAPI_URL.into(),
            feishu_api_base: "https://open.feishu.cn".into(),
            feishu_accounts_base: "https://accounts.feishu.cn".into(),
            wecom_open_base: "https://open.work.weixin.qq.com".into(),
            wecom_timeout: Duration::from_secs(5),
            upstream_timeout: Duration::from_secs(10),
            log_format: LogFormat::Human,
            log_level: "info".into(),
            db_max_connections: 10,
            db_acquire_timeout: Duration::from_secs(5),
            sqlite_locking: crate::store::sql::SqliteLocking::Exclusive,
            access_token_ttl: 3600,
            id_token_ttl: 3600,
            refresh_token_ttl: 30 * 24 * 3600,
            code_ttl: 60,
            session_ttl: 8 * 3600,
            login_ttl: 600,
            access_token_alg: "RS256".into(),
            lockout_failures: 10,
            lockout_window: 900,
            key_publish_delay: 3600,
        }
    }
}

impl Settings {
    /// Loads the optional TOML file, then the process environment over it.
    pub fn load(config_file: Option<&Path>) -> Result<Settings, ConfigError> {
        let file = match config_file {
            Some(path) => Some(read_toml(path)?),
            None => None,
        };
        Settings::from_sources(file, |name| std::env::var(name).ok())
    }

    /// Builds settings from a parsed TOML table and an environment lookup (tests pass their own).
    pub fn from_sources(
        file: Option<toml::Table>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let mut raw: BTreeMap<String, String> = BTreeMap::new();
        if let Some(table) = file {
            for (key, value) in table {
                let text = match value {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                };
                raw.insert(key.to_lowercase(), text);
            }
        }
        for (key, _, _) in SETTINGS {
            let var = format!("WEGATE_{}", key.to_uppercase());
            if let Some(value) = env(&var) {
                raw.insert(key.to_string(), value);
                raw.remove(&format!("{key}_file"));
            } else if let Some(path) = env(&format!("{var}_FILE")) {
                raw.insert(format!("{key}_file"), path);
                raw.remove(*key);
            }
        }
        // `<key>_file` (from TOML or environment) reads the value from a file.
        for (key, _, _) in SETTINGS {
            if let Some(path) = raw.remove(&format!("{key}_file")) {
                let content = std::fs::read_to_string(&path)
                    .map_err(|source| ConfigError::Read { path: path.clone(), source })?;
                raw.insert(key.to_string(), content.trim_end_matches(['\n', '\r']).to_string());
            }
        }
        if let Some(unknown) = raw.keys().find(|k| !known(k)) {
            let names: Vec<&str> = SETTINGS.iter().map(|(k, _, _)| *k).collect();
            return Err(ConfigError::Invalid {
                key: unknown.clone(),
                message: format!("unknown setting; known settings are {}", names.join(", ")),
            });
        }

        let mut s = Settings::default();
        let get = |k: &str| raw.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        if let Some(v) = get("listen") {
            s.listen = v;
        }
        s.issuer = match get("issuer") {
            Some(v) => v,
            None => format!("http://{}", s.listen),
        };
        validate_base_url("issuer", &s.issuer)?;
        s.issuer = s.issuer.trim_end_matches('/').to_string();
        if let Some(v) = get("database_url") {
            s.database_url = v;
        }
        if !(s.database_url.starts_with("sqlite:") || s.database_url.starts_with("postgres")) {
            return Err(ConfigError::Invalid {
                key: "database_url".into(),
                message: "must start with sqlite:// or postgres://".into(),
            });
        }
        s.admin_token = get("admin_token");
        s.metrics_token = get("metrics_token").filter(|t| !t.trim().is_empty());
        if let Some(token) = &s.admin_token
            && token.len() < 16
        {
            return Err(ConfigError::Invalid {
                key: "admin_token".into(),
                message: "must be at least 16 characters".into(),
            });
        }
        if let Some(v) = get("encryption_key") {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD.decode(v.as_bytes()).ok();
            s.encryption_key =
                Some(bytes.and_then(|b| <[u8; 32]>::try_from(b).ok()).ok_or_else(|| ConfigError::Invalid {
                    key: "encryption_key".into(),
                    message: "must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)".into(),
                })?);
        }
        for (key, slot) in [
            ("wecom_api_base", &mut s.wecom_api_base),
            ("wecom_login_base", &mut s.wecom_login_base),
            ("wecom_oauth_base", &mut s.wecom_oauth_base),
            ("wecom_open_base", &mut s.wecom_open_base),
            ("dingtalk_api_base", &mut s.dingtalk_api_base),
            ("dingtalk_oapi_base", &mut s.dingtalk_oapi_base),
            ("dingtalk_login_base", &mut s.dingtalk_login_base),
            ("feishu_api_base", &mut s.feishu_api_base),
            ("feishu_accounts_base", &mut s.feishu_accounts_base),
        ] {
            if let Some(v) = get(key) {
                validate_base_url(key, &v)?;
                *slot = v.trim_end_matches('/').to_string();
            }
        }
        if let Some(v) = get("dingtalk_jsapi_url") {
            validate_base_url("dingtalk_jsapi_url", &v)?;
            // It goes into the page's CSP as a source (nothing that could end or widen the policy), and it runs on
            // the login page: https, or plain http on this machine only (a simulator).
            if !crate::web::is_plain_script_url(&v) {
                return Err(ConfigError::Invalid {
                    key: "dingtalk_jsapi_url".into(),
                    message:
                        "must be the https URL of one script file (http only on localhost or 127.0.0.1): no query, no #, not ending in /, without spaces, ; , * or quotes"
                            .into(),
                });
            }
            s.dingtalk_jsapi_url = v;
        }
        if let Some(v) = get("wecom_timeout_ms") {
            s.wecom_timeout = Duration::from_millis(parse_num("wecom_timeout_ms", &v)?);
        }
        if let Some(v) = get("upstream_timeout_ms") {
            s.upstream_timeout = Duration::from_millis(parse_num("upstream_timeout_ms", &v)?);
        }
        if let Some(v) = get("log_format") {
            s.log_format = match v.as_str() {
                "human" | "text" => LogFormat::Human,
                "json" => LogFormat::Json,
                _ => {
                    return Err(ConfigError::Invalid { key: "log_format".into(), message: "human or json".into() });
                }
            };
        }
        if let Some(v) = get("log_level") {
            s.log_level = v;
        }
        if let Some(v) = get("db_max_connections") {
            s.db_max_connections = parse_num("db_max_connections", &v)? as u32;
        }
        if let Some(v) = get("db_acquire_timeout_ms") {
            s.db_acquire_timeout = Duration::from_millis(parse_num("db_acquire_timeout_ms", &v)?);
        }
        if let Some(v) = get("sqlite_locking") {
            s.sqlite_locking = crate::store::sql::SqliteLocking::parse(&v).ok_or_else(|| ConfigError::Invalid {
                key: "sqlite_locking".into(),
                message: "exclusive or normal".into(),
            })?;
        }
        if let Some(v) = get("access_token_alg") {
            let v = v.trim().to_uppercase();
            if v != "RS256" && v != "ES256" {
                return Err(ConfigError::Invalid { key: "access_token_alg".into(), message: "RS256 or ES256".into() });
            }
            s.access_token_alg = v;
        }
        for (key, slot) in [
            ("access_token_ttl", &mut s.access_token_ttl),
            ("id_token_ttl", &mut s.id_token_ttl),
            ("refresh_token_ttl", &mut s.refresh_token_ttl),
            ("code_ttl", &mut s.code_ttl),
            ("session_ttl", &mut s.session_ttl),
            ("login_ttl", &mut s.login_ttl),
            ("lockout_failures", &mut s.lockout_failures),
            ("lockout_window", &mut s.lockout_window),
            ("audit_retention_days", &mut s.audit_retention_days),
            ("membership_recheck", &mut s.membership_recheck),
            ("key_publish_delay", &mut s.key_publish_delay),
        ] {
            if let Some(v) = get(key) {
                *slot = parse_num(key, &v)? as i64;
            }
        }
        if s.code_ttl > 60 {
            return Err(ConfigError::Invalid { key: "code_ttl".into(), message: "at most 60 seconds".into() });
        }
        Ok(s)
    }

    /// How long a superseded signing key stays published: the longest a token it signed lives (ID, access and
    /// back-channel logout tokens), and a minute.
    pub fn key_retire_after(&self) -> i64 {
        self.id_token_ttl.max(self.access_token_ttl).max(LOGOUT_TOKEN_LIFETIME) + 60
    }

    /// Whether cookies must be `Secure` (the issuer is served over https).
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }
}

/// DingTalk's official JSAPI on its CDN (the version other integrations load; 3.0.34 does not exist there).
pub const DINGTALK_JSAPI_URL: &str = "https://g.alicdn.com/dingding/dingtalk-jsapi/3.0.25/dingtalk.open.js";

/// How long a back-channel logout token is valid (a fixed lifetime, not a setting).
pub const LOGOUT_TOKEN_LIFETIME: i64 = 120;

/// Every setting: its key (the `WEGATE_` variable without the prefix, lowercased; also its TOML key), its
/// default, and what it does. The one table: the loader knows these keys and no other, and `wegate serve
/// --help` prints it.
pub const SETTINGS: &[(&str, &str, &str)] = &[
    ("listen", "127.0.0.1:8080", "address to bind"),
    ("issuer", "http:// + listen", "the OIDC issuer and public base URL"),
    ("database_url", "sqlite://wegate.db", "sqlite://… or postgres://…"),
    ("admin_token", "none", "bearer token of the admin API and console (at least 16 characters)"),
    ("metrics_token", "none", "when set, /metrics requires Authorization: Bearer <token>"),
    ("audit_retention_days", "180", "audit events older than this are deleted; 0 keeps them"),
    ("encryption_key", "none", "32 bytes in base64: seals secrets in the database (AES-256-GCM)"),
    ("wecom_api_base", "https://qyapi.weixin.qq.com", "WeCom server API"),
    ("wecom_login_base", "https://login.work.weixin.qq.com", "WeCom PC QR login page"),
    ("wecom_oauth_base", "https://open.weixin.qq.com", "WeCom in-app OAuth page"),
    ("wecom_open_base", "https://open.work.weixin.qq.com", "WeCom service-provider login page"),
    ("wecom_timeout_ms", "5000", "timeout of one WeCom API call"),
    ("dingtalk_api_base", "https://api.dingtalk.com", "DingTalk's /v1.0/... API"),
    ("dingtalk_oapi_base", "https://oapi.dingtalk.com", "DingTalk's legacy /topapi/... API"),
    ("dingtalk_login_base", "https://login.dingtalk.com", "DingTalk's login page (/oauth2/auth)"),
    ("dingtalk_jsapi_url", DINGTALK_JSAPI_URL, "the JSAPI script the in-DingTalk page loads (its CSP allows it)"),
    ("feishu_api_base", "https://open.feishu.cn", "Feishu's /open-apis/... API (Lark: https://open.larksuite.com)"),
    (
        "feishu_accounts_base",
        "https://accounts.feishu.cn",
        "Feishu's authorize page (Lark: https://accounts.larksuite.com)",
    ),
    (
        "upstream_timeout_ms",
        "10000",
        "timeout of one call to DingTalk, Feishu or an OpenID Connect or OAuth 2.0 provider",
    ),
    ("log_format", "human", "human or json"),
    ("log_level", "info", "tracing filter, e.g. info or wegate=debug,info"),
    ("db_max_connections", "10", "PostgreSQL pool size"),
    ("db_acquire_timeout_ms", "5000", "PostgreSQL pool wait"),
    ("sqlite_locking", "exclusive", "exclusive (one process holds the file) or normal (processes share it)"),
    ("access_token_ttl", "3600", "access token lifetime, seconds"),
    ("access_token_alg", "RS256", "RS256 or ES256 for access tokens (ID tokens stay RS256)"),
    ("id_token_ttl", "3600", "ID token lifetime, seconds"),
    ("refresh_token_ttl", "2592000", "refresh token lifetime, seconds (30 days)"),
    ("code_ttl", "60", "authorization code lifetime, seconds"),
    ("session_ttl", "28800", "browser single-sign-on session, seconds (8 hours)"),
    ("login_ttl", "600", "time from /authorize to the callback, seconds"),
    ("lockout_failures", "10", "wrong passwords of one account within the window before lockout; 0 = off"),
    ("lockout_window", "900", "lockout window, seconds"),
    ("membership_recheck", "3600", "seconds after which a refresh re-checks the member upstream"),
    ("key_publish_delay", "3600", "seconds between keys rotate publishing a key and that key signing"),
];

fn known(key: &str) -> bool {
    SETTINGS.iter().any(|(k, _, _)| *k == key)
}

/// The settings as `wegate serve --help` lists them.
pub fn help_table() -> String {
    let mut out = String::from("Settings (environment; the TOML key is the name without WEGATE_, lowercased;\n");
    out.push_str("any of them can be read from a file named by WEGATE_<NAME>_FILE):\n");
    for (key, default, meaning) in SETTINGS {
        out.push_str(&format!("  WEGATE_{:<24} {meaning}\n  {:<31} default: {default}\n", key.to_uppercase(), ""));
    }
    out
}

fn read_toml(path: &Path) -> Result<toml::Table, ConfigError> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: display.clone(), source })?;
    text.parse::<toml::Table>().map_err(|e| ConfigError::Toml { path: display, message: e.to_string() })
}

fn parse_num(key: &str, value: &str) -> Result<u64, ConfigError> {
    value
        .parse::<u64>()
        .map_err(|_| ConfigError::Invalid { key: key.into(), message: format!("{value:?} is not a whole number") })
}

fn validate_base_url(key: &str, value: &str) -> Result<(), ConfigError> {
    match url::Url::parse(value) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() && u.query().is_none() => Ok(()),
        _ => Err(ConfigError::Invalid {
            key: key.into(),
            message: format!("{value:?} must be an http(s) URL without query"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn defaults_follow_the_contract() {
        let s = Settings::from_sources(None, env_of(&[])).unwrap();
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert_eq!(s.issuer, "http://127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite://wegate.db");
        assert_eq!(s.wecom_api_base, "https://qyapi.weixin.qq.com");
        assert_eq!(s.wecom_login_base, "https://login.work.weixin.qq.com");
        assert_eq!(s.wecom_oauth_base, "https://open.weixin.qq.com");
        assert_eq!(s.wecom_open_base, "https://open.work.weixin.qq.com");
        assert!(s.admin_token.is_none());
    }

    #[test]
    fn environment_wins_over_file_and_issuer_follows_listen() {
        let file: toml::Table = "listen = \"0.0.0.0:9000\"\ndatabase_url = \"sqlite://a.db\"".parse().unwrap();
        let s = Settings::from_sources(Some(file), env_of(&[("WEGATE_DATABASE_URL", "sqlite://b.db")])).unwrap();
        assert_eq!(s.listen, "0.0.0.0:9000");
        assert_eq!(s.issuer, "http://0.0.0.0:9000");
        assert_eq!(s.database_url, "sqlite://b.db");
    }

    #[test]
    fn secrets_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "0123456789abcdef-token\n").unwrap();
        let path_str: &'static str = Box::leak(path.display().to_string().into_boxed_str());
        let pairs: &'static [(&'static str, &'static str)] =
            Box::leak(vec![("WEGATE_ADMIN_TOKEN_FILE", path_str)].into_boxed_slice());
        let s = Settings::from_sources(None, env_of(pairs)).unwrap();
        assert_eq!(s.admin_token.as_deref(), Some("0123456789abcdef-token"));
        assert!(!format!("{s:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = Settings::from_sources(None, env_of(&[("WEGATE_ISSUER", "not a url")])).unwrap_err();
        assert!(err.to_string().contains("issuer"));
        let file: toml::Table = "lisen = \"x\"".parse().unwrap();
        let err = Settings::from_sources(Some(file), env_of(&[])).unwrap_err();
        assert!(err.to_string().contains("lisen"));
        let err = Settings::from_sources(None, env_of(&[("WEGATE_CODE_TTL", "600")])).unwrap_err();
        assert!(err.to_string().contains("code_ttl"));
    }

    #[test]
    fn database_password_is_redacted() {
        assert_eq!(redact_url_password("postgres://u:pw@h/db"), "postgres://u:***@h/db");
    }
}
