//! `ldap`: an LDAP directory or Active Directory, signed in to with wegate's own form (`login::directory`).
//! Search-then-bind, as Dex does: the search account finds the one entry whose login attributes equal what the
//! person typed (escaped, RFC 4515), then a bind as that entry — on a connection of its own, so that the
//! person's bind never becomes the search connection's identity. An empty password is refused before any
//! bind (an unauthenticated bind "succeeds" on Active Directory, RFC 4513 §5.1.2); no entry and several
//! entries are refused like a wrong password, after a bind of the same cost. TLS is always verified: against
//! `ca_pem`, or the public web roots; plain `ldap://` only on this machine.
//!
//! The wrong-password lockout counts per directory entry, before the bind; binds in flight are bounded, with
//! "busy" beyond. The search connection is kept (one per directory, its operations multiplexed) and made
//! again when it breaks.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry, SearchOptions};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::error::ConnectorError;
use crate::accounts::{UpstreamIdentity, Vouched};
use crate::app::App;
use crate::store::{Connection, LdapSettings};

pub const FIELDS: &[&str] = &[
    "url",
    "start_tls",
    "ca_pem",
    "bind_dn",
    "bind_password",
    "user_base_dn",
    "user_filter",
    "login_attributes",
    "id_attribute",
    "name_attribute",
    "email_attribute",
    "phone_attribute",
];

/// One LDAP operation's bound (connect, bind, search): the page answers within seconds when the directory
/// is down.
const OP_TIMEOUT: Duration = Duration::from_secs(5);
/// Binds in flight per directory, and how long a sign-in waits for one before "busy".
const BINDS_IN_FLIGHT: usize = 32;
const BIND_WAIT: Duration = Duration::from_millis(500);

fn attribute_name(value: &str) -> bool {
    !value.is_empty() && value.len() <= 64 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b';')
}

/// A filter the admin wrote: one parenthesised expression, balanced.
fn filter_shape(filter: &str) -> bool {
    let mut depth = 0i32;
    for (i, c) in filter.chars().enumerate() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 || (depth == 0 && i + 1 != filter.chars().count()) {
                    return false;
                }
            }
            _ => {}
        }
    }
    filter.starts_with('(') && depth == 0 && filter.len() <= 1024
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]")
}

pub fn validate(s: &LdapSettings) -> Result<(), String> {
    let url =
        url::Url::parse(&s.url).map_err(|_| "url must be ldaps://host[:port] or ldap://host[:port]".to_string())?;
    let host = url.host_str().unwrap_or_default();
    match url.scheme() {
        "ldaps" if !s.start_tls => {}
        "ldaps" => return Err("start_tls applies to ldap:// URLs; ldaps:// is TLS already".into()),
        "ldap" if s.start_tls || is_loopback(host) => {}
        "ldap" => {
            return Err(
                "a plain ldap:// URL sends passwords in clear: use ldaps://, or set start_tls (plain ldap:// only to this machine)"
                    .into(),
            );
        }
        _ => return Err("url must be ldaps://host[:port] or ldap://host[:port]".into()),
    }
    if host.is_empty() || url.path().len() > 1 || url.query().is_some() {
        return Err("url must be the directory's address only (ldaps://host[:port])".into());
    }
    if let Some(pem) = &s.ca_pem {
        roots(Some(pem))?;
    }
    if s.bind_dn.trim().is_empty() || s.bind_password.is_empty() {
        return Err("bind_dn and bind_password (the search account) are required".into());
    }
    if s.user_base_dn.trim().is_empty() {
        return Err("user_base_dn is required (e.g. ou=people,dc=example,dc=org)".into());
    }
    if !filter_shape(&s.user_filter) {
        return Err("user_filter must be one LDAP filter in parentheses, e.g. (objectClass=person)".into());
    }
    if s.login_attributes.is_empty()
        || s.login_attributes.len() > 8
        || !s.login_attributes.iter().all(|a| attribute_name(a))
    {
        return Err(
            "login_attributes must be 1 to 8 attribute names (uid, mail, sAMAccountName, userPrincipalName)".into()
        );
    }
    for (field, value) in [
        ("id_attribute", &s.id_attribute),
        ("name_attribute", &s.name_attribute),
        ("email_attribute", &s.email_attribute),
        ("phone_attribute", &s.phone_attribute),
    ] {
        if !attribute_name(value) {
            return Err(format!("{field} must be an attribute name"));
        }
    }
    Ok(())
}

/// The trust anchors: the connection's CA, or the public web roots. Never no verification.
fn roots(ca_pem: Option<&str>) -> Result<rustls::RootCertStore, String> {
    let mut store = rustls::RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|_| "ca_pem must be one or more PEM certificates".to_string())?;
            if certs.is_empty() {
                return Err("ca_pem must be one or more PEM certificates".into());
            }
            for cert in certs {
                store.add(cert).map_err(|e| format!("ca_pem: {e}"))?;
            }
        }
        None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(store)
}

fn connection_settings(s: &LdapSettings) -> Result<LdapConnSettings, ConnectorError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectorError::Config(format!("TLS: {e}")))?
        .with_root_certificates(roots(s.ca_pem.as_deref()).map_err(ConnectorError::Config)?)
        .with_no_client_auth();
    Ok(LdapConnSettings::new().set_conn_timeout(OP_TIMEOUT).set_starttls(s.start_tls).set_config(Arc::new(config)))
}

/// Why a directory call failed.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// Unreachable, timed out, TLS refused, the connection dropped.
    #[error("the directory is unreachable: {0}")]
    Unreachable(String),
    /// The directory answered with an error the admin must fix (the search account, the base DN, a filter).
    #[error("the directory refused: {0}")]
    Refused(String),
}

async fn timed<T>(
    what: &str,
    op: impl std::future::Future<Output = ldap3::result::Result<T>>,
) -> Result<T, DirectoryError> {
    match tokio::time::timeout(OP_TIMEOUT, op).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(DirectoryError::Unreachable(format!("{what}: {e}"))),
        Err(_) => Err(DirectoryError::Unreachable(format!("{what}: timed out"))),
    }
}

async fn connect(s: &LdapSettings) -> Result<Ldap, DirectoryError> {
    let settings = connection_settings(s).map_err(|e| DirectoryError::Refused(e.to_string()))?;
    let (conn, ldap) = timed("connect", LdapConnAsync::with_settings(settings, &s.url)).await?;
    ldap3::drive!(conn);
    Ok(ldap)
}

/// The kept search connections, one per directory and search account; the settings' fingerprint tells a kept
/// one made with settings since changed (a new password, another CA), which is replaced — and so closed.
struct Kept {
    fingerprint: String,
    ldap: Ldap,
}

static SEARCHERS: LazyLock<Mutex<HashMap<String, Kept>>> = LazyLock::new(Mutex::default);
/// What wegate keeps per directory (its address): the bound on binds in flight — one directory that stalls
/// does not hold the others' sign-ins — and how long a sign-in of an existing entry takes there.
struct Directory {
    binds: tokio::sync::Semaphore,
    /// A moving average of the time, in microseconds, from the search to the end of the bind of an entry that
    /// exists: what a refusal is padded to, so that a login no entry has (whose stand-in bind the directory
    /// refuses without checking any hash) is not told apart by its speed on a directory with slow hashes.
    entry_attempt_us: std::sync::atomic::AtomicU64,
}

impl Directory {
    fn observe(&self, took: Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        let sample = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let _ = self.entry_attempt_us.fetch_update(Relaxed, Relaxed, |old| {
            Some(if old == 0 { sample } else { (old.saturating_mul(7).saturating_add(sample)) / 8 })
        });
    }

    /// The least time a refusal takes here.
    fn refusal_floor(&self) -> Duration {
        refusal_floor(Duration::from_micros(self.entry_attempt_us.load(std::sync::atomic::Ordering::Relaxed)))
    }
}

/// At least [`INVALID_FLOOR`], and half again the usual time of an existing entry's attempt (bounded well
/// within the sign-in's deadline).
fn refusal_floor(usual_entry_attempt: Duration) -> Duration {
    (usual_entry_attempt * 3 / 2).clamp(INVALID_FLOOR, SIGN_IN_DEADLINE / 2)
}

static DIRECTORIES: LazyLock<Mutex<HashMap<String, Arc<Directory>>>> = LazyLock::new(Mutex::default);

fn account_key(s: &LdapSettings) -> String {
    format!("{}\n{}", s.url.to_lowercase(), s.bind_dn)
}

fn fingerprint(s: &LdapSettings) -> String {
    let mut hash = Sha256::new();
    for part in [
        s.url.as_str(),
        if s.start_tls { "tls" } else { "" },
        s.ca_pem.as_deref().unwrap_or(""),
        &s.bind_dn,
        &s.bind_password,
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex::encode(hash.finalize())
}

fn directory(s: &LdapSettings) -> Arc<Directory> {
    let mut directories = DIRECTORIES.lock().unwrap_or_else(|e| e.into_inner());
    directories
        .entry(s.url.to_lowercase())
        .or_insert_with(|| {
            Arc::new(Directory {
                binds: tokio::sync::Semaphore::new(BINDS_IN_FLIGHT),
                entry_attempt_us: Default::default(),
            })
        })
        .clone()
}

/// A bound search connection: the kept one, or a new one (kept for the next sign-in).
async fn searcher(s: &LdapSettings) -> Result<Ldap, DirectoryError> {
    let (key, print) = (account_key(s), fingerprint(s));
    if let Some(kept) = SEARCHERS.lock().unwrap_or_else(|e| e.into_inner()).get(&key)
        && kept.fingerprint == print
    {
        return Ok(kept.ldap.clone());
    }
    let mut ldap = connect(s).await?;
    let bound = timed("bind as the search account", ldap.simple_bind(&s.bind_dn, &s.bind_password)).await?;
    if bound.rc != 0 {
        return Err(DirectoryError::Refused(format!(
            "the search account's bind was refused (result {}: {})",
            bound.rc, bound.text
        )));
    }
    let kept = Kept { fingerprint: print, ldap: ldap.clone() };
    SEARCHERS.lock().unwrap_or_else(|e| e.into_inner()).insert(key, kept);
    Ok(ldap)
}

fn forget_searcher(s: &LdapSettings) {
    let mut searchers = SEARCHERS.lock().unwrap_or_else(|e| e.into_inner());
    if searchers.get(&account_key(s)).is_some_and(|k| k.fingerprint == fingerprint(s)) {
        searchers.remove(&account_key(s));
    }
}

/// What the search found for a typed login.
enum Found {
    One(Box<SearchEntry>),
    None,
    Several,
}

async fn search_once(s: &LdapSettings, login: &str) -> Result<Found, DirectoryError> {
    let mut ldap = searcher(s).await?;
    let escaped = ldap3::ldap_escape(login);
    let any: String = s.login_attributes.iter().map(|a| format!("({a}={escaped})")).collect();
    let filter = format!("(&{}(|{any}))", s.user_filter);
    let mut attrs: Vec<&str> = vec![&s.id_attribute, &s.name_attribute, &s.email_attribute, &s.phone_attribute];
    attrs.extend(s.login_attributes.iter().map(String::as_str));
    let result = timed(
        "search",
        ldap.with_search_options(SearchOptions::new().sizelimit(2)).search(
            &s.user_base_dn,
            Scope::Subtree,
            &filter,
            attrs,
        ),
    )
    .await?;
    let ldap3::SearchResult(entries, outcome) = result;
    match outcome.rc {
        // 4: sizeLimitExceeded — more than one entry.
        0 | 4 => {}
        rc => return Err(DirectoryError::Refused(format!("the search was refused (result {rc}: {})", outcome.text))),
    }
    Ok(match entries.len() {
        0 => Found::None,
        1 if outcome.rc == 0 => Found::One(Box::new(SearchEntry::construct(
            entries.into_iter().next().ok_or_else(|| DirectoryError::Refused("an empty search answer".into()))?,
        ))),
        _ => Found::Several,
    })
}

/// The search, made again once on a new connection when the kept one broke.
async fn search(s: &LdapSettings, login: &str) -> Result<Found, DirectoryError> {
    retried(s, || search_once(s, login)).await
}

/// A search on the kept connection, made again once on a new one when it fails (a broken connection, or one
/// the directory keeps refusing): the kept one is dropped either way.
async fn retried<T, F, Fut>(s: &LdapSettings, op: F) -> Result<T, DirectoryError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, DirectoryError>>,
{
    match op().await {
        Err(e) => {
            tracing::info!(why = %crate::util::loggable(&e.to_string()), "the kept LDAP search connection failed; connecting again");
            forget_searcher(s);
            let again = op().await;
            if again.is_err() {
                forget_searcher(s);
            }
            again
        }
        ok => ok,
    }
}

/// A bind as `dn` on a connection of its own: Ok(true) for the right password.
async fn bind_as(s: &LdapSettings, dn: &str, password: &str) -> Result<bool, DirectoryError> {
    let mut ldap = connect(s).await?;
    let result = timed("bind", ldap.simple_bind(dn, password)).await;
    let _ = ldap.unbind().await;
    let result = result?;
    match result.rc {
        0 => Ok(true),
        // invalidCredentials, constraintViolation (expired, locked in the directory), unwillingToPerform
        // (unauthenticated bind): a wrong password as far as the person is told.
        49 | 19 | 53 | 50 => Ok(false),
        rc => Err(DirectoryError::Refused(format!("the bind was refused (result {rc}: {})", result.text))),
    }
}

/// The outcome of a directory sign-in.
pub enum Check {
    Valid(Box<UpstreamIdentity>),
    /// Wrong login or password — one answer for both.
    Invalid,
    /// `first`: the try that locked it (the one audited).
    LockedOut {
        retry_after: i64,
        first: bool,
    },
    /// Too many binds in flight.
    Busy,
    /// The directory cannot answer now, or refuses the search account: the reason is for the log.
    Unavailable(DirectoryError),
}

/// Signs `login` in with `password` at the connection's directory.
pub async fn sign_in(
    app: &App,
    connection: &Connection,
    s: &LdapSettings,
    login: &str,
    password: &str,
) -> Result<Check, ConnectorError> {
    let started = tokio::time::Instant::now();
    let login = login.trim();
    if password.is_empty() || login.is_empty() || login.len() > 256 {
        return Ok(Check::Invalid);
    }
    let directory = directory(s);
    let Ok(Ok(permit)) = tokio::time::timeout(BIND_WAIT, directory.binds.acquire()).await else {
        return Ok(Check::Busy);
    };
    let check =
        match tokio::time::timeout(SIGN_IN_DEADLINE, attempt(app, connection, s, &directory, login, password)).await {
            Ok(check) => check?,
            Err(_) => Check::Unavailable(DirectoryError::Unreachable("the sign-in took too long".into())),
        };
    // The slot goes back before the wait below: a refusal that only waits holds none of the directory's binds.
    // (The wait counts from before the slot was asked for, so one that queued for a slot waits no more.)
    drop(permit);
    // Every refusal takes at least as long: whether a login exists must not show in the time it takes.
    if matches!(check, Check::Invalid) {
        tokio::time::sleep_until(started + directory.refusal_floor()).await;
    }
    Ok(check)
}

/// The whole sign-in's bound (search and bind, a reconnect included): the page answers within seconds.
const SIGN_IN_DEADLINE: Duration = Duration::from_secs(8);
/// The least time a refused sign-in takes (more where an existing entry's attempt usually takes longer).
const INVALID_FLOOR: Duration = Duration::from_millis(400);

async fn attempt(
    app: &App,
    connection: &Connection,
    s: &LdapSettings,
    directory: &Directory,
    login: &str,
    password: &str,
) -> Result<Check, ConnectorError> {
    let started = tokio::time::Instant::now();
    let found = match search(s, login).await {
        Ok(found) => found,
        Err(e) => return Ok(Check::Unavailable(e)),
    };
    let entry = match found {
        Found::One(entry) => Some(entry),
        Found::None => None,
        Found::Several => {
            tracing::warn!(connection = %connection.identifier, "several directory entries match one login: refused");
            None
        }
    };
    // Counted before the bind: a locked entry's password is not tried at all.
    // Per directory (its address), not per connection: two connections to one directory share the count. An
    // unknown login is kept hashed (it may be a password typed in the wrong box).
    let key = match &entry {
        Some(entry) => format!("ldap:{}:{}", s.url.to_lowercase(), entry.dn.to_lowercase()),
        None => format!("ldap:{}:?{}", s.url.to_lowercase(), crate::util::sha256_hex(&login.to_lowercase())),
    };
    let (limit, window, now) = (app.settings.lockout_failures, app.settings.lockout_window, app.now());
    if limit > 0 {
        let attempts = app.store.record_login_failure(&key, now, window).await?;
        if i64::from(attempts.failures) > limit {
            let first = i64::from(attempts.failures) == limit + 1;
            return Ok(Check::LockedOut { retry_after: attempts.expires_at - now, first });
        }
    }
    let Some(entry) = entry else {
        // The same work as a real attempt, so that "no such login" takes as long as a wrong password.
        let _ = bind_as(s, &format!("cn=wegate-no-such-entry,{}", s.user_base_dn), password).await;
        return Ok(Check::Invalid);
    };
    let bound = bind_as(s, &entry.dn, password).await;
    if bound.is_ok() {
        directory.observe(started.elapsed());
    }
    match bound {
        Ok(true) => {}
        Ok(false) => return Ok(Check::Invalid),
        Err(e) => return Ok(Check::Unavailable(e)),
    }
    if limit > 0 {
        app.store.clear_login_failures(&key).await?;
    }
    Ok(Check::Valid(Box::new(identity(connection, s, &entry)?)))
}

/// Active Directory's `objectGUID` in its usual string form: the first three groups little-endian.
pub fn guid_string(bytes: &[u8]) -> Option<String> {
    let b: &[u8; 16] = bytes.try_into().ok()?;
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        hex::encode(&b[10..])
    ))
}

fn first(entry: &SearchEntry, attribute: &str) -> Option<String> {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attribute))
        .and_then(|(_, v)| v.first().cloned())
        .filter(|v| !v.trim().is_empty())
}

/// The attribute's value when it has exactly one: an id or a username with several values is no id.
fn only(entry: &SearchEntry, attribute: &str) -> Option<String> {
    let values = entry.attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(attribute)).map(|(_, v)| v)?;
    match values.as_slice() {
        [one] if !one.trim().is_empty() => Some(one.clone()),
        _ => None,
    }
}

fn identity(
    connection: &Connection,
    s: &LdapSettings,
    entry: &SearchEntry,
) -> Result<UpstreamIdentity, ConnectorError> {
    let id = if s.id_attribute.eq_ignore_ascii_case("objectGUID") {
        // Binary; a value that happens to be UTF-8 lands among the text attributes.
        let raw = entry
            .bin_attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("objectGUID"))
            .and_then(|(_, v)| v.first().cloned())
            .or_else(|| first(entry, "objectGUID").map(String::into_bytes));
        raw.as_deref().and_then(guid_string)
    } else {
        only(entry, &s.id_attribute)
    };
    let Some(id) = id else {
        return Err(ConnectorError::Config(format!("the entry {} has no single {}", entry.dn, s.id_attribute)));
    };
    // The first login attribute only (the one the admin lists first, e.g. uid): another, such as a mail its
    // owner may edit, is no username to match accounts on.
    let username = s.login_attributes.first().and_then(|a| only(entry, a));
    Ok(UpstreamIdentity {
        upstream: space(connection, s),
        subject: id,
        username: username.clone(),
        name: first(entry, &s.name_attribute),
        email: first(entry, &s.email_attribute),
        phone: first(entry, &s.phone_attribute),
        picture: None,
        claims: json!({}),
        profile: json!({"dn": entry.dn, "login": username}),
        // The directory's admins assign logins; an email or phone there is whatever was typed in: unverified
        // unless the connection trusts its emails.
        vouched: Vouched { email: false, phone: false, username: true },
    })
}

/// The identity space of a connection's people: the connection and its id attribute (issue 29: identity =
/// (connection, id attribute)). Another id attribute names other values, so the grants made under the old
/// one are not asked about by the new one (where none would be found and everyone would seem gone).
pub fn space(connection: &Connection, s: &LdapSettings) -> String {
    format!("ldap:{}/{}", connection.identifier, s.id_attribute.to_ascii_lowercase())
}

/// The refresh re-check: is the entry of `id` still a person the connection's filter finds? An error is
/// "cannot tell"; so is a directory where the filter finds nobody with the id attribute at all (the search
/// account no longer allowed to read it, a new address that is another directory): that is no departure of
/// every person at once. The whole re-check is bounded like a sign-in.
pub async fn still_there(s: &LdapSettings, id: &str) -> Result<bool, DirectoryError> {
    match tokio::time::timeout(SIGN_IN_DEADLINE, entry_still_there(s, id)).await {
        Ok(answer) => answer,
        Err(_) => Err(DirectoryError::Unreachable("the re-check took too long".into())),
    }
}

async fn entry_still_there(s: &LdapSettings, id: &str) -> Result<bool, DirectoryError> {
    let value = if s.id_attribute.eq_ignore_ascii_case("objectGUID") {
        // The string form back to AD's byte order, each byte escaped (RFC 4515).
        let hex: String = id.chars().filter(char::is_ascii_hexdigit).collect();
        let bytes = hex::decode(&hex).map_err(|_| DirectoryError::Refused(format!("{id} is no GUID")))?;
        if bytes.len() != 16 {
            return Err(DirectoryError::Refused(format!("{id} is no GUID")));
        }
        let order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
        order.iter().map(|&i| format!("\\{:02x}", bytes[i])).collect()
    } else {
        ldap3::ldap_escape(id).into_owned()
    };
    let filter = format!("(&{}({}={value}))", s.user_filter, s.id_attribute);
    match count_upto_2(s, &filter).await? {
        1 => return Ok(true),
        0 => {}
        // Several entries carry the id (an attribute people can set themselves): nobody's departure.
        _ => {
            return Err(DirectoryError::Refused(format!("several entries carry {} {id}: cannot tell", s.id_attribute)));
        }
    }
    let anyone = format!("(&{}({}=*))", s.user_filter, s.id_attribute);
    if count_upto_2(s, &anyone).await? == 0 {
        return Err(DirectoryError::Refused(format!(
            "the user filter finds nobody with {} under {}: cannot tell who left",
            s.id_attribute, s.user_base_dn
        )));
    }
    Ok(false)
}

/// How many entries under the base `filter` finds: 0, 1, or 2 for more.
async fn count_upto_2(s: &LdapSettings, filter: &str) -> Result<usize, DirectoryError> {
    retried(s, || async {
        let mut ldap = searcher(s).await?;
        let result = timed(
            "search",
            ldap.with_search_options(SearchOptions::new().sizelimit(2)).search(
                &s.user_base_dn,
                Scope::Subtree,
                filter,
                vec!["1.1"],
            ),
        )
        .await?;
        let ldap3::SearchResult(entries, outcome) = result;
        match outcome.rc {
            // 4: sizeLimitExceeded — more than two.
            0 | 4 => Ok(entries.len().min(2)),
            rc => Err(DirectoryError::Refused(format!("the search was refused (result {rc}: {})", outcome.text))),
        }
    })
    .await
}

/// The console's "test connection": binds the search account and counts the entries the user filter finds.
pub async fn test(s: &LdapSettings) -> Result<String, String> {
    forget_searcher(s);
    let mut ldap = searcher(s).await.map_err(|e| e.to_string())?;
    let result = timed(
        "search",
        ldap.with_search_options(SearchOptions::new().sizelimit(1000)).search(
            &s.user_base_dn,
            Scope::Subtree,
            &s.user_filter,
            vec!["1.1"],
        ),
    )
    .await
    .map_err(|e| e.to_string())?;
    let ldap3::SearchResult(entries, outcome) = result;
    match outcome.rc {
        0 => Ok(format!(
            "bound as {}; {} entries match the user filter under {}",
            s.bind_dn,
            entries.len(),
            s.user_base_dn
        )),
        4 => Ok(format!(
            "bound as {}; more than {} entries match the user filter under {}",
            s.bind_dn,
            entries.len(),
            s.user_base_dn
        )),
        rc => Err(format!("the search was refused (result {rc}: {})", outcome.text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_guid_reads_as_active_directory_writes_it() {
        // {d1e3f72b-4a1f-4c33-9b1c-0123456789ab} as the bytes AD stores.
        let bytes = [0x2b, 0xf7, 0xe3, 0xd1, 0x1f, 0x4a, 0x33, 0x4c, 0x9b, 0x1c, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab];
        assert_eq!(guid_string(&bytes).unwrap(), "d1e3f72b-4a1f-4c33-9b1c-0123456789ab");
        assert!(guid_string(&bytes[..15]).is_none());
    }

    #[test]
    fn a_refusal_takes_as_long_as_an_existing_entrys_usual_attempt() {
        let directory = Directory { binds: tokio::sync::Semaphore::new(1), entry_attempt_us: Default::default() };
        assert_eq!(directory.refusal_floor(), INVALID_FLOOR, "nothing observed yet");
        // A directory whose hashes take 0.9 s: a login no entry has (refused at once) waits longer than that.
        for _ in 0..20 {
            directory.observe(Duration::from_millis(900));
        }
        assert!(directory.refusal_floor() >= Duration::from_millis(1300), "{:?}", directory.refusal_floor());
        // Bounded within the sign-in's deadline, whatever the directory did once.
        directory.observe(Duration::from_secs(3600));
        assert_eq!(directory.refusal_floor(), SIGN_IN_DEADLINE / 2);
        // A fast directory keeps the least floor.
        assert_eq!(refusal_floor(Duration::from_millis(3)), INVALID_FLOOR);
    }

    #[test]
    fn filters_and_urls_are_checked() {
        assert!(filter_shape("(objectClass=person)"));
        assert!(filter_shape("(&(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"));
        assert!(!filter_shape("objectClass=person"));
        assert!(!filter_shape("(a=b))(c=d"));
        assert!(!filter_shape("(a=b)(c=d)"));
    }
}
