//! A shared access-token cache for upstream APIs whose app tokens are throttled: WeCom blocks a caller for an
//! hour after too many `gettoken` calls, DingTalk "不能频繁调用gettoken接口". A broker that fetches a token per
//! login breaks in production. Tokens are cached per key (the protocol crate's: kind, corp or app, hash of the
//! secret) in two levels: in process, and in a [`TokenStore`] the caller shares between instances (wegate uses
//! its database). A refresh is single-flight in the process (one fetch however many callers wait) and across
//! instances under a lease in the store, so a cluster fetches at most once per token lifetime.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

/// A cached token. `expires_at` (Unix seconds) is when it must be refreshed, already ahead of the upstream's
/// `expires_in` by a margin.
#[derive(Clone, PartialEq, Eq)]
pub struct CachedToken {
    pub token: String,
    pub expires_at: i64,
}

impl std::fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedToken").field("token", &"<redacted>").field("expires_at", &self.expires_at).finish()
    }
}

/// Where tokens are shared. Implement it over whatever all your instances reach.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    async fn get(&self, key: &str) -> Result<Option<CachedToken>, String>;
    async fn put(&self, key: &str, token: &CachedToken) -> Result<(), String>;
    /// Deletes the token only if it is still `token` (another instance may have refreshed it meanwhile).
    async fn invalidate(&self, key: &str, token: &str) -> Result<(), String>;
    /// Takes the refresh lease on `key` until `until` if it is free, expired, or already `owner`'s.
    async fn try_lease(&self, key: &str, owner: &str, now: i64, until: i64) -> Result<bool, String>;
    async fn release_lease(&self, key: &str, owner: &str) -> Result<(), String>;
}

/// An in-process [`TokenStore`] (one instance, or tests).
#[derive(Default)]
pub struct MemoryTokenStore {
    tokens: Mutex<HashMap<String, CachedToken>>,
    leases: Mutex<HashMap<String, (String, i64)>>,
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn get(&self, key: &str) -> Result<Option<CachedToken>, String> {
        Ok(self.tokens.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned())
    }
    async fn put(&self, key: &str, token: &CachedToken) -> Result<(), String> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), token.clone());
        Ok(())
    }
    async fn invalidate(&self, key: &str, token: &str) -> Result<(), String> {
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if tokens.get(key).is_some_and(|t| t.token == token) {
            tokens.remove(key);
        }
        Ok(())
    }
    async fn try_lease(&self, key: &str, owner: &str, now: i64, until: i64) -> Result<bool, String> {
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        match leases.get(key) {
            Some((holder, expires)) if holder != owner && *expires > now => Ok(false),
            _ => {
                leases.insert(key.to_string(), (owner.to_string(), until));
                Ok(true)
            }
        }
    }
    async fn release_lease(&self, key: &str, owner: &str) -> Result<(), String> {
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        if leases.get(key).is_some_and(|(holder, _)| holder == owner) {
            leases.remove(key);
        }
        Ok(())
    }
}

/// Where a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// This process's memory.
    Local,
    /// The shared store (another instance fetched it).
    Shared,
    /// The upstream (its token endpoint).
    Fetched,
}

/// Told where each token handed out came from (metrics). The default ignores it.
pub type Watch = Arc<dyn Fn(TokenSource) + Send + Sync>;

/// Another instance held the refresh lease past the wait: the caller's error type says it its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitedTooLong;

impl std::fmt::Display for WaitedTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("timed out waiting for another instance to refresh the access token")
    }
}

/// A secret's short fingerprint for cache keys: a changed secret is a new key (its old token is never handed
/// out for it), and the key never shows the secret.
pub fn secret_fingerprint(secret: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(secret.as_bytes())[..8])
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Refresh this long before the upstream's expiry: 5 minutes, or a quarter of a short lifetime.
fn refresh_margin(expires_in: i64) -> i64 {
    (expires_in / 4).clamp(0, 300)
}

/// How long a fetched token is kept: never past the lifetime the upstream's answer claims (less the refresh
/// margin), never more than a day (a huge claim would overflow the arithmetic, or keep a token long after the
/// upstream dropped it), and a second at least (an answer of 0 refetches at most once a second).
fn kept_for(expires_in: i64) -> i64 {
    let lifetime = expires_in.clamp(1, MAX_KEPT);
    (lifetime - refresh_margin(lifetime)).max(1)
}
const MAX_KEPT: i64 = 86_400;

/// How long one instance may hold the refresh lease (a gettoken call is bounded by the client timeout).
const LEASE_SECS: i64 = 15;
const POLL: Duration = Duration::from_millis(50);

/// The two-level cache. One per protocol client; keys must not collide between the clients sharing a store.
pub struct TokenCache {
    store: Arc<dyn TokenStore>,
    local: Mutex<HashMap<String, CachedToken>>,
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Identifies this process in leases.
    owner: String,
    /// How long to wait for another instance's refresh before giving up.
    wait: Duration,
    watch: Watch,
}

impl TokenCache {
    /// `wait`: how long to wait for another instance's refresh (about twice a token call's timeout).
    pub fn new(store: Arc<dyn TokenStore>, wait: Duration, watch: Watch) -> Self {
        let owner = format!("{:016x}", rand::random::<u64>());
        TokenCache { store, local: Mutex::default(), flights: Mutex::default(), owner, wait, watch }
    }

    /// When the shared cache's token for `key` expires, if one is cached (for status pages).
    pub async fn expiry(&self, key: &str) -> Option<i64> {
        self.store.get(key).await.ok().flatten().map(|t| t.expires_at)
    }

    fn local_fresh(&self, key: &str, now: i64) -> Option<String> {
        let local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        local.get(key).filter(|t| t.expires_at > now).map(|t| t.token.clone())
    }

    fn remember(&self, key: &str, token: &CachedToken) {
        self.local.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), token.clone());
    }

    async fn shared_fresh(&self, key: &str, now: i64) -> Option<CachedToken> {
        match self.store.get(key).await {
            Ok(Some(t)) if t.expires_at > now => Some(t),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "shared token store unreadable; using the local cache only");
                None
            }
        }
    }

    /// The token for `key`, fetching it with `fetch` (→ token, expires_in seconds) when nobody has a fresh one.
    pub async fn token<F, Fut, E>(&self, key: &str, fetch: F) -> Result<String, E>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(String, i64), E>>,
        E: From<WaitedTooLong>,
    {
        if let Some(token) = self.local_fresh(key, unix_now()) {
            (self.watch)(TokenSource::Local);
            return Ok(token);
        }
        let flight = {
            let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
            flights.entry(key.to_string()).or_default().clone()
        };
        let _turn = flight.lock().await;
        // Someone in this process may have refreshed while we queued.
        if let Some(token) = self.local_fresh(key, unix_now()) {
            (self.watch)(TokenSource::Local);
            return Ok(token);
        }
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            let now = unix_now();
            if let Some(shared) = self.shared_fresh(key, now).await {
                self.remember(key, &shared);
                (self.watch)(TokenSource::Shared);
                return Ok(shared.token);
            }
            let leased = match self.store.try_lease(key, &self.owner, now, now + LEASE_SECS).await {
                Ok(leased) => leased,
                Err(e) => {
                    tracing::warn!(error = %e, "shared token store cannot lease; refreshing without it");
                    true
                }
            };
            if leased {
                // Another instance may have stored a token between our read and the lease.
                if let Some(shared) = self.shared_fresh(key, now).await {
                    let _ = self.store.release_lease(key, &self.owner).await;
                    self.remember(key, &shared);
                    (self.watch)(TokenSource::Shared);
                    return Ok(shared.token);
                }
                let fetched = fetch().await;
                let result = match fetched {
                    Ok((token, expires_in)) => {
                        let cached = CachedToken {
                            token: token.clone(),
                            expires_at: unix_now().saturating_add(kept_for(expires_in)),
                        };
                        if let Err(e) = self.store.put(key, &cached).await {
                            tracing::warn!(error = %e, "shared token store unwritable; token kept locally");
                        }
                        self.remember(key, &cached);
                        (self.watch)(TokenSource::Fetched);
                        Ok(token)
                    }
                    Err(e) => Err(e),
                };
                let _ = self.store.release_lease(key, &self.owner).await;
                return result;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(WaitedTooLong.into());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Forgets `token` (the upstream said it is invalid), locally and in the shared store.
    pub async fn invalidate(&self, key: &str, token: &str) {
        {
            let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
            if local.get(key).is_some_and(|t| t.token == token) {
                local.remove(key);
            }
        }
        if let Err(e) = self.store.invalidate(key, token).await {
            tracing::warn!(error = %e, "shared token store: cannot invalidate");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_is_five_minutes_or_a_quarter() {
        assert_eq!(refresh_margin(7200), 300);
        assert_eq!(refresh_margin(8), 2);
    }

    /// An upstream's lifetime of 0 or a negative one refetches at most once a second; an absurd one does not
    /// overflow; none is kept past what the upstream claimed.
    #[tokio::test]
    async fn a_lifetime_out_of_bounds_is_kept_within_them() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        assert_eq!(kept_for(7200), 6900);
        assert_eq!(kept_for(18), 14, "never past the claim");
        assert_eq!(kept_for(0), 1);
        assert_eq!(kept_for(i64::MIN), 1);
        assert_eq!(kept_for(i64::MAX), 86_100);
        for lifetime in [0, -5, i64::MAX] {
            let cache =
                TokenCache::new(Arc::new(MemoryTokenStore::default()), Duration::from_secs(5), Arc::new(|_| {}));
            let fetches = AtomicUsize::new(0);
            for _ in 0..3 {
                let token = cache
                    .token("k", || async {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, WaitedTooLong>(("t".to_string(), lifetime))
                    })
                    .await
                    .unwrap();
                assert_eq!(token, "t");
            }
            // Three calls at once: one fetch, or two when a second went by between them.
            assert!(fetches.load(Ordering::SeqCst) <= 2, "lifetime {lifetime}");
        }
    }

    #[tokio::test]
    async fn memory_store_leases_exclude_other_owners_until_expiry() {
        let s = MemoryTokenStore::default();
        assert!(s.try_lease("k", "a", 100, 110).await.unwrap());
        assert!(!s.try_lease("k", "b", 105, 115).await.unwrap());
        assert!(s.try_lease("k", "a", 105, 115).await.unwrap());
        assert!(s.try_lease("k", "b", 116, 120).await.unwrap());
        s.put("k", &CachedToken { token: "t1".into(), expires_at: 1 }).await.unwrap();
        s.invalidate("k", "other").await.unwrap();
        assert!(s.get("k").await.unwrap().is_some());
        s.invalidate("k", "t1").await.unwrap();
        assert!(s.get("k").await.unwrap().is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_instances_fetch_once_per_lifetime() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let shared: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::default());
        let fetches = Arc::new(AtomicUsize::new(0));
        let quiet: Watch = Arc::new(|_| {});
        let a = Arc::new(TokenCache::new(shared.clone(), Duration::from_secs(5), quiet.clone()));
        let b = Arc::new(TokenCache::new(shared, Duration::from_secs(5), quiet));
        let mut calls = Vec::new();
        for i in 0..20 {
            let cache = if i % 2 == 0 { a.clone() } else { b.clone() };
            let fetches = fetches.clone();
            calls.push(tokio::spawn(async move {
                cache
                    .token("app", || {
                        let fetches = fetches.clone();
                        async move {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            Ok::<_, WaitedTooLong>(("t1".to_string(), 7200))
                        }
                    })
                    .await
            }));
        }
        for call in calls {
            assert_eq!(call.await.unwrap().unwrap(), "t1");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1, "one fetch for two instances and twenty callers");
        // A token the upstream refused is forgotten by both: the next call fetches again.
        a.invalidate("app", "t1").await;
        let again = b.token("app", || async { Ok::<_, WaitedTooLong>(("t2".to_string(), 7200)) }).await.unwrap();
        assert_eq!(again, "t1", "b's own copy is still fresh: the store is only asked when it is not");
        assert_eq!(a.token("app", || async { Ok::<_, WaitedTooLong>(("t2".to_string(), 7200)) }).await.unwrap(), "t2");
    }
}
