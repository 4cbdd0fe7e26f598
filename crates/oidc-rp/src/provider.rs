//! What a provider publishes, cached per issuer: its discovery document and its signing keys. Both are
//! fetched on first use and again once older than [`TTL`]; the keys are fetched again at once when a token
//! names a key id the cache does not know — at most once per [`KID_REFETCH_INTERVAL`], so that tokens with
//! made-up key ids cannot make the broker hammer the provider. A failed refetch keeps serving what was
//! cached (the provider's keys do not vanish because its server hiccupped), and logs it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jsonwebtoken::jwk::JwkSet;
use serde_json::Value;

use crate::{Error, Http, check_url};

/// How long a discovery document and a key set are used before they are fetched again.
pub const TTL: i64 = 3600;
/// The least time between two key fetches caused by an unknown key id (CONTRACT.md: 30 s).
pub const KID_REFETCH_INTERVAL: i64 = 30;

/// The parts of a discovery document (OpenID Connect Discovery 1.0 §3) a relying party uses.
#[derive(Debug, Clone)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    pub code_challenge_methods_supported: Option<Vec<String>>,
}

impl Metadata {
    /// Parses a discovery document fetched for `issuer`: its `issuer` must be exactly the one asked for
    /// (Discovery §4.3), and every endpoint https (or loopback http).
    pub fn parse(issuer: &str, doc: &serde_json::Map<String, Value>) -> Result<Metadata, Error> {
        let text = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_string);
        let required = |name: &str| {
            text(name).ok_or_else(|| Error::Invalid(format!("the discovery document of {issuer} has no {name}")))
        };
        let published = required("issuer")?;
        if published != issuer {
            return Err(Error::Config(format!(
                "the discovery document of {issuer} names the issuer {published:?}; the connection's issuer must be \
                 exactly that (for Microsoft Entra ID, use your tenant's issuer, not common or organizations)"
            )));
        }
        let list = |name: &str| {
            doc.get(name)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect())
        };
        let metadata = Metadata {
            issuer: published,
            authorization_endpoint: required("authorization_endpoint")?,
            token_endpoint: required("token_endpoint")?,
            userinfo_endpoint: text("userinfo_endpoint"),
            jwks_uri: required("jwks_uri")?,
            token_endpoint_auth_methods_supported: list("token_endpoint_auth_methods_supported"),
            code_challenge_methods_supported: list("code_challenge_methods_supported"),
        };
        // An https issuer's endpoints are https too: a remote provider's document may not point the broker
        // (with its client secret) at plain-http services beside it on loopback.
        let https = issuer.starts_with("https://");
        let endpoint = |what: &str, url: &str| {
            check_url(what, url)?;
            if https && !url.starts_with("https://") {
                return Err(Error::Config(format!("the discovery document of {issuer} gives an http {what}: {url}")));
            }
            Ok(())
        };
        endpoint("authorization_endpoint", &metadata.authorization_endpoint)?;
        endpoint("token_endpoint", &metadata.token_endpoint)?;
        endpoint("jwks_uri", &metadata.jwks_uri)?;
        if let Some(userinfo) = &metadata.userinfo_endpoint {
            endpoint("userinfo_endpoint", userinfo)?;
        }
        Ok(metadata)
    }
}

/// What one issuer publishes, as last fetched, and when fetching was last tried.
struct Published {
    metadata: Arc<Metadata>,
    metadata_at: i64,
    metadata_tried_at: i64,
    keys: Arc<JwkSet>,
    keys_at: i64,
    keys_tried_at: i64,
}

impl Published {
    /// Both fetched at `now`.
    fn fetched(metadata: Metadata, keys: JwkSet, now: i64) -> Published {
        Published {
            metadata: Arc::new(metadata),
            metadata_at: now,
            metadata_tried_at: now,
            keys: Arc::new(keys),
            keys_at: now,
            keys_tried_at: now,
        }
    }
}

/// One issuer's cache entry: what it published, or when fetching it last failed.
#[derive(Default)]
struct Entry {
    published: Option<Published>,
    failed_at: Option<i64>,
}

/// After a failed first fetch, sign-ins fail at once for this long instead of each waiting for a timeout.
pub const FAILURE_MEMORY: i64 = 10;
/// A stale copy is used while refetching fails, but never older than this: keys a provider withdrew are
/// not trusted for ever because its server cannot be reached.
pub const MAX_STALE: i64 = 24 * 3600;

/// The cache of every issuer this instance signs people in through.
pub struct Providers {
    http: Http,
    entries: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Entry>>>>,
}

impl Providers {
    pub fn new(http: Http) -> Providers {
        Providers { http, entries: Mutex::new(HashMap::new()) }
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    fn entry(&self, issuer: &str) -> Arc<tokio::sync::Mutex<Entry>> {
        // A poisoned map only means another thread panicked mid-insert: the map itself is still whole.
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.entry(issuer.to_string()).or_default().clone()
    }

    /// The issuer's discovery document, fetched when absent or older than [`TTL`].
    pub async fn metadata(&self, issuer: &str, now: i64) -> Result<Arc<Metadata>, Error> {
        let entry = self.entry(issuer);
        // One fetch at a time per issuer: the others wait for it and use its answer.
        let mut slot = entry.lock().await;
        let published = self.refresh(issuer, &mut slot, now).await?;
        Ok(published.metadata.clone())
    }

    /// The issuer's keys, for verifying a token naming `kid`: fetched when stale, and once more when `kid`
    /// is not among them — unless keys were fetched (or tried) less than [`KID_REFETCH_INTERVAL`] ago.
    pub async fn keys(&self, issuer: &str, kid: Option<&str>, now: i64) -> Result<Arc<JwkSet>, Error> {
        let entry = self.entry(issuer);
        let mut slot = entry.lock().await;
        let published = self.refresh(issuer, &mut slot, now).await?;
        let unknown = kid.is_some_and(|kid| published.keys.find(kid).is_none());
        if unknown && now - published.keys_tried_at >= KID_REFETCH_INTERVAL {
            tracing::info!(issuer, kid, "a token names a key id not in the cached key set: fetching the keys again");
            published.keys_tried_at = now;
            match self.fetch_keys(&published.metadata.jwks_uri).await {
                Ok(keys) => {
                    published.keys = Arc::new(keys);
                    published.keys_at = now;
                }
                Err(e) => tracing::warn!(issuer, error = %e, "refetching the provider's keys failed"),
            }
        }
        Ok(published.keys.clone())
    }

    /// What the issuer publishes, fetched again where stale; a stale copy serves while refetching fails,
    /// up to [`MAX_STALE`].
    async fn refresh<'a>(&self, issuer: &str, slot: &'a mut Entry, now: i64) -> Result<&'a mut Published, Error> {
        if slot.published.is_none() {
            if slot.failed_at.is_some_and(|at| now - at < FAILURE_MEMORY) {
                return Err(Error::unavailable("discovery", "the provider failed moments ago; not asked again yet"));
            }
            match self.fetch_all(issuer, now).await {
                Ok(published) => {
                    slot.failed_at = None;
                    slot.published = Some(published);
                }
                Err(e) => {
                    slot.failed_at = Some(now);
                    return Err(e);
                }
            }
        }
        let Some(p) = slot.published.as_mut() else {
            return Err(Error::unavailable("discovery", "nothing cached"));
        };
        if now - p.metadata_at >= TTL && now - p.metadata_tried_at >= KID_REFETCH_INTERVAL {
            p.metadata_tried_at = now;
            match self.fetch_metadata(issuer).await {
                Ok(metadata) if metadata.jwks_uri == p.metadata.jwks_uri => {
                    p.metadata = Arc::new(metadata);
                    p.metadata_at = now;
                }
                // Keys move with their jwks_uri: fetched from the new one before the document is used.
                Ok(metadata) => match self.fetch_keys(&metadata.jwks_uri).await {
                    Ok(keys) => *p = Published::fetched(metadata, keys, now),
                    Err(e) => tracing::warn!(issuer, error = %e, "fetching the keys of a new jwks_uri failed"),
                },
                Err(e) => tracing::warn!(issuer, error = %e, "refetching discovery failed; using the cached document"),
            }
        }
        if now - p.keys_at >= TTL && now - p.keys_tried_at >= KID_REFETCH_INTERVAL {
            p.keys_tried_at = now;
            match self.fetch_keys(&p.metadata.jwks_uri).await {
                Ok(keys) => {
                    p.keys = Arc::new(keys);
                    p.keys_at = now;
                }
                Err(e) => {
                    tracing::warn!(issuer, error = %e, "refetching the provider's keys failed; using the cached ones")
                }
            }
        }
        if now - p.metadata_at > MAX_STALE || now - p.keys_at > MAX_STALE {
            return Err(Error::unavailable(
                "discovery",
                "the provider has not answered for a day; its cached keys are no longer trusted",
            ));
        }
        Ok(p)
    }

    async fn fetch_all(&self, issuer: &str, now: i64) -> Result<Published, Error> {
        let metadata = self.fetch_metadata(issuer).await?;
        let keys = self.fetch_keys(&metadata.jwks_uri).await?;
        Ok(Published::fetched(metadata, keys, now))
    }

    async fn fetch_metadata(&self, issuer: &str) -> Result<Metadata, Error> {
        check_url("issuer", issuer)?;
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let doc = self.http.get_json("discovery", &url).await?;
        Metadata::parse(issuer, &doc)
    }

    async fn fetch_keys(&self, jwks_uri: &str) -> Result<JwkSet, Error> {
        let doc = self.http.get_json("jwks", jwks_uri).await?;
        // Keys of a type this crate does not know are skipped, not a reason to refuse the whole set.
        let keys = match doc.get("keys") {
            Some(Value::Array(keys)) => keys,
            _ => return Err(Error::unavailable("jwks", "the key set has no keys array")),
        };
        let keys = keys.iter().filter_map(|k| serde_json::from_value(k.clone()).ok()).collect();
        Ok(JwkSet { keys })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc(issuer: &str) -> serde_json::Map<String, Value> {
        json!({
            "issuer": issuer,
            "authorization_endpoint": "https://idp.example.com/authorize",
            "token_endpoint": "https://idp.example.com/token",
            "jwks_uri": "https://idp.example.com/jwks",
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    #[test]
    fn the_published_issuer_must_be_the_one_asked_for() {
        assert!(Metadata::parse("https://idp.example.com", &doc("https://idp.example.com")).is_ok());
        // Entra's multi-tenant documents publish a template, never a real issuer.
        let azure = "https://login.microsoftonline.com/{tenantid}/v2.0";
        let err = Metadata::parse("https://login.microsoftonline.com/common/v2.0", &doc(azure)).unwrap_err();
        assert!(err.to_string().contains("tenant"), "{err}");
        assert!(Metadata::parse("https://idp.example.com/", &doc("https://idp.example.com")).is_err());
    }

    #[test]
    fn endpoints_must_be_https() {
        let mut d = doc("https://idp.example.com");
        d.insert("token_endpoint".into(), json!("http://idp.example.com/token"));
        assert!(Metadata::parse("https://idp.example.com", &d).is_err());
        // Not even loopback http, for an https issuer.
        d.insert("token_endpoint".into(), json!("http://127.0.0.1:8080/token"));
        assert!(Metadata::parse("https://idp.example.com", &d).is_err());
        let mut d = doc("https://idp.example.com");
        d.remove("jwks_uri");
        assert!(Metadata::parse("https://idp.example.com", &d).is_err());
    }
}
