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
        check_url("authorization_endpoint", &metadata.authorization_endpoint)?;
        check_url("token_endpoint", &metadata.token_endpoint)?;
        check_url("jwks_uri", &metadata.jwks_uri)?;
        if let Some(userinfo) = &metadata.userinfo_endpoint {
            check_url("userinfo_endpoint", userinfo)?;
        }
        Ok(metadata)
    }
}

/// What one issuer publishes, as last fetched.
struct Published {
    metadata: Arc<Metadata>,
    metadata_at: i64,
    keys: Arc<JwkSet>,
    keys_at: i64,
}

/// The cache of every issuer this instance signs people in through.
pub struct Providers {
    http: Http,
    entries: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Published>>>>>,
}

impl Providers {
    pub fn new(http: Http) -> Providers {
        Providers { http, entries: Mutex::new(HashMap::new()) }
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    fn entry(&self, issuer: &str) -> Arc<tokio::sync::Mutex<Option<Published>>> {
        // A poisoned map only means another thread panicked mid-insert: the map itself is still whole.
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.entry(issuer.to_string()).or_default().clone()
    }

    /// The issuer's discovery document, fetched when absent or older than [`TTL`].
    pub async fn metadata(&self, issuer: &str, now: i64) -> Result<Arc<Metadata>, Error> {
        let entry = self.entry(issuer);
        // One fetch at a time per issuer: the others wait for it and use its answer.
        let mut slot = entry.lock().await;
        self.refresh(issuer, &mut slot, now).await?;
        match slot.as_ref() {
            Some(p) => Ok(p.metadata.clone()),
            None => Err(Error::unavailable("discovery", "nothing cached")),
        }
    }

    /// The issuer's keys, for verifying a token naming `kid`: fetched when stale, and once more when `kid`
    /// is not among them (rate-limited).
    pub async fn keys(&self, issuer: &str, kid: Option<&str>, now: i64) -> Result<Arc<JwkSet>, Error> {
        let entry = self.entry(issuer);
        let mut slot = entry.lock().await;
        self.refresh(issuer, &mut slot, now).await?;
        let Some(published) = slot.as_mut() else { return Err(Error::unavailable("jwks", "nothing cached")) };
        let unknown = kid.is_some_and(|kid| published.keys.find(kid).is_none());
        if unknown && now - published.keys_at >= KID_REFETCH_INTERVAL {
            tracing::info!(issuer, kid, "a token names a key id not in the cached key set: fetching the keys again");
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

    async fn refresh(&self, issuer: &str, slot: &mut Option<Published>, now: i64) -> Result<(), Error> {
        let metadata_stale = slot.as_ref().is_none_or(|p| now - p.metadata_at >= TTL);
        if metadata_stale {
            match self.fetch_metadata(issuer).await {
                Ok(metadata) => {
                    let metadata = Arc::new(metadata);
                    match slot {
                        Some(p) if p.metadata.jwks_uri == metadata.jwks_uri => {
                            p.metadata = metadata;
                            p.metadata_at = now;
                        }
                        _ => {
                            let keys = Arc::new(self.fetch_keys(&metadata.jwks_uri).await?);
                            *slot = Some(Published { metadata, metadata_at: now, keys, keys_at: now });
                        }
                    }
                }
                Err(e) if slot.is_some() => {
                    tracing::warn!(issuer, error = %e, "refetching discovery failed; using the cached document")
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(p) = slot.as_mut()
            && now - p.keys_at >= TTL
        {
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
        Ok(())
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
        let mut d = doc("https://idp.example.com");
        d.remove("jwks_uri");
        assert!(Metadata::parse("https://idp.example.com", &d).is_err());
    }
}
