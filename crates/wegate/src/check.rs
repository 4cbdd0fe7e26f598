//! `wegate check-config`: the settings read as `serve` reads them and checked without serving — issuer and
//! listen address, secrets' form and strength, the database (reachable, its schema this binary's or one it
//! migrates), and every stored connection (its settings valid, sealed secrets opening with the key, and the
//! same `warnings` the API shows). One finding a line; any error means `serve` would not start (or would
//! start broken). `serve` logs the settings' own findings at start.

use std::net::ToSocketAddrs;
use std::path::Path;

use crate::config::Settings;
use crate::store::sql::{PoolSettings, SchemaState, SqlStore, schema_state, schema_version};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warning,
    Error,
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub level: Level,
    pub subject: String,
    pub message: String,
}

impl Finding {
    fn new(level: Level, subject: &str, message: impl Into<String>) -> Finding {
        Finding { level, subject: subject.to_string(), message: message.into() }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.level {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Error => "error",
        };
        write!(f, "{level}: {}: {}", self.subject, self.message)
    }
}

/// Everything, from the settings' sources to the stored connections.
pub async fn run(config: Option<&Path>) -> Vec<Finding> {
    let settings = match Settings::load(config) {
        Ok(s) => s,
        Err(e) => return vec![Finding::new(Level::Error, "settings", e.to_string())],
    };
    let mut findings = vec![Finding::new(Level::Ok, "settings", "read (defaults < file < environment)")];
    findings.extend(settings_findings(&settings));
    findings.extend(database_findings(&settings).await);
    findings
}

/// What the settings alone say: no network, no database.
pub fn settings_findings(s: &Settings) -> Vec<Finding> {
    let mut out = Vec::new();
    match url::Url::parse(&s.issuer) {
        Ok(u) if !matches!(u.scheme(), "http" | "https") || u.host().is_none() => {
            out.push(Finding::new(Level::Error, "issuer", format!("{} must be an http(s) URL with a host", s.issuer)))
        }
        Ok(u) if u.query().is_some() || u.fragment().is_some() || s.issuer.ends_with('/') => out.push(Finding::new(
            Level::Error,
            "issuer",
            format!("{} must have no query, no fragment and no trailing slash", s.issuer),
        )),
        Ok(u) if u.scheme() == "http" && !is_loopback(&u) => out.push(Finding::new(
            Level::Warning,
            "issuer",
            format!(
                "{} is plain http: cookies are not Secure and tokens cross the network in clear; serve it over https",
                s.issuer
            ),
        )),
        Ok(_) => out.push(Finding::new(Level::Ok, "issuer", s.issuer.clone())),
        Err(e) => out.push(Finding::new(Level::Error, "issuer", format!("{} is not a URL: {e}", s.issuer))),
    }
    let bindable = s.listen.to_socket_addrs().is_ok_and(|mut addrs| addrs.next().is_some());
    if bindable {
        out.push(Finding::new(Level::Ok, "listen", s.listen.clone()));
    } else {
        out.push(Finding::new(Level::Error, "listen", format!("{} is not an address to bind (host:port)", s.listen)));
    }
    match &s.admin_token {
        None => out.push(Finding::new(
            Level::Warning,
            "admin_token",
            "not set: the admin API and the console's token sign-in answer 401 to everything",
        )),
        Some(t) if distinct_chars(t) < 8 => out.push(Finding::new(
            Level::Warning,
            "admin_token",
            "has fewer than 8 distinct characters: use a random one (openssl rand -base64 32)",
        )),
        Some(_) => out.push(Finding::new(Level::Ok, "admin_token", "set")),
    }
    match s.encryption_key {
        None => out.push(Finding::new(
            Level::Warning,
            "encryption_key",
            "not set: connection secrets, permanent codes and the signing key are stored unencrypted",
        )),
        Some(_) => out.push(Finding::new(Level::Ok, "encryption_key", "set (32 bytes)")),
    }
    out
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn distinct_chars(text: &str) -> usize {
    let mut chars: Vec<char> = text.chars().collect();
    chars.sort_unstable();
    chars.dedup();
    chars.len()
}

fn pool_of(s: &Settings) -> PoolSettings {
    PoolSettings {
        max_connections: s.db_max_connections,
        acquire_timeout: s.db_acquire_timeout,
        sqlite_locking: s.sqlite_locking,
        ..PoolSettings::default()
    }
}

/// The database's schema, then the stored connections (only when the schema is this binary's: an older one
/// is read after `serve` migrates it).
pub async fn database_findings(s: &Settings) -> Vec<Finding> {
    let url = crate::config::redact_url_password(&s.database_url);
    let pool = pool_of(s);
    let known = schema_version();
    let applied = match schema_state(&s.database_url, &pool).await {
        Ok(SchemaState::Absent) => {
            return vec![Finding::new(Level::Ok, "database", format!("{url} does not exist yet: created at start"))];
        }
        Ok(SchemaState::Applied(applied)) => applied,
        Err(e) => return vec![Finding::new(Level::Error, "database", format!("{url}: {e}"))],
    };
    if let Some((version, _)) = applied.iter().find(|(_, success)| !success) {
        return vec![Finding::new(
            Level::Error,
            "database",
            format!("{url}: migration {version} failed part-way; restore the backup taken before the upgrade"),
        )];
    }
    let at = applied.iter().map(|(v, _)| *v).max().unwrap_or(0);
    if at > known {
        return vec![Finding::new(
            Level::Error,
            "database",
            format!("{url} is at schema {at}, written by a newer wegate; this binary knows {known}"),
        )];
    }
    if at < known {
        let from = if at == 0 { "empty".to_string() } else { format!("at schema {at}") };
        return vec![Finding::new(Level::Ok, "database", format!("{url} is {from}: serve migrates it to {known}"))];
    }
    let mut out = vec![Finding::new(Level::Ok, "database", format!("{url} at schema {known}, this binary's"))];
    out.extend(connection_findings(s, &pool).await);
    out
}

/// The stored connections and signing keys, read as `serve` reads them (sealed values opened with the key).
async fn read_stored(
    s: &Settings,
    pool: &PoolSettings,
    key: Option<&[u8; 32]>,
) -> Result<(Vec<crate::store::Connection>, Vec<crate::store::SigningKey>), String> {
    let mut store = SqlStore::connect_existing(&s.database_url, pool).await.map_err(|e| e.to_string())?;
    if let Some(key) = key {
        store = store.with_encryption_key(key);
    }
    let read = async {
        let connections = crate::store::all_connections(&store).await.map_err(|e| e.to_string())?;
        let keys = crate::store::KeyStore::list_signing_keys(&store).await.map_err(|e| e.to_string())?;
        Ok((connections, keys))
    }
    .await;
    store.close().await;
    read
}

async fn connection_findings(s: &Settings, pool: &PoolSettings) -> Vec<Finding> {
    let mut out = Vec::new();
    let (connections, keys) = match read_stored(s, pool, s.encryption_key.as_ref()).await {
        Ok(stored) => stored,
        // Values stored before the key was set are sealed by `serve` at start: not an error.
        Err(sealed) if s.encryption_key.is_some() => match read_stored(s, pool, None).await {
            Ok(stored) => {
                out.push(Finding::new(
                    Level::Ok,
                    "encryption_key",
                    "secrets are stored unsealed: serve seals them with this key at start",
                ));
                stored
            }
            Err(_) => return vec![unreadable(&sealed)],
        },
        Err(e) => return vec![unreadable(&e)],
    };
    for key in &keys {
        if let Err(e) = crate::oidc::keys::usable(key) {
            out.push(Finding::new(Level::Error, "signing keys", e.to_string()));
        }
    }
    if !keys.is_empty() && out.iter().all(|f| f.subject != "signing keys") {
        out.push(Finding::new(Level::Ok, "signing keys", format!("{} stored, all usable", keys.len())));
    }
    for c in &connections {
        let subject = format!("connection {}", c.identifier);
        if let Err(e) = crate::connectors::validate(&c.settings) {
            out.push(Finding::new(Level::Error, &subject, format!("{}: {e}", c.kind())));
            continue;
        }
        let warnings = crate::connectors::advice::warnings(c);
        if warnings.is_empty() {
            out.push(Finding::new(Level::Ok, &subject, c.kind()));
        }
        out.extend(warnings.into_iter().map(|w| Finding::new(Level::Warning, &subject, w)));
    }
    out
}

fn unreadable(e: &str) -> Finding {
    Finding::new(
        Level::Error,
        "connections",
        format!("cannot be read: {e} (sealed with another WEGATE_ENCRYPTION_KEY, or stored by a newer wegate?)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings { admin_token: Some("kq93-Lx02-mZ7a-Pq4w".into()), ..Settings::default() }
    }

    fn level_of(findings: &[Finding], subject: &str) -> Level {
        findings.iter().find(|f| f.subject == subject).map(|f| f.level).unwrap()
    }

    #[test]
    fn each_setting_has_its_finding() {
        let ok = settings_findings(&settings());
        assert_eq!(level_of(&ok, "issuer"), Level::Ok);
        assert_eq!(level_of(&ok, "listen"), Level::Ok);
        assert_eq!(level_of(&ok, "admin_token"), Level::Ok);
        assert_eq!(level_of(&ok, "encryption_key"), Level::Warning);
        let bad = Settings {
            issuer: "https://sso.example.com/".into(),
            listen: "nowhere".into(),
            admin_token: Some("aaaaaaaaaaaaaaaaaaaa".into()),
            ..Settings::default()
        };
        let found = settings_findings(&bad);
        assert_eq!(level_of(&found, "issuer"), Level::Error, "trailing slash");
        assert_eq!(level_of(&found, "listen"), Level::Error);
        assert_eq!(level_of(&found, "admin_token"), Level::Warning, "weak");
        let plain = Settings { issuer: "http://sso.example.com".into(), ..settings() };
        assert_eq!(level_of(&settings_findings(&plain), "issuer"), Level::Warning);
    }
}
