//! Event delivery in HTTP mode [FS-evt-srv][FS-evt][FS-ticket]: the url_verification handshake when an event
//! URL is saved, and app_ticket pushes (periodic, on resend, on demand) with Feishu's encryption, signature,
//! 3-s deadline, retry schedule and at-least-once duplicates.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aes::Aes256;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockEncryptMut, KeyIvInit};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Shared;
use crate::seed::AppKind;
use crate::state::{Inner, random_token};

/// [FS-evt-srv] key = SHA-256(Encrypt Key), AES-256-CBC, PKCS#7, random 16-byte IV; `base64(iv || ct)`.
pub(crate) fn encrypt(encrypt_key: &str, plain: &[u8]) -> Result<String, String> {
    let key = Sha256::digest(encrypt_key.as_bytes());
    let iv: [u8; 16] = rand::random();
    let len = plain.len();
    // PKCS#7 always pads, 1..=16 bytes.
    let mut buf = vec![0u8; len + 16 - len % 16];
    buf[..len].copy_from_slice(plain);
    let ct = cbc::Encryptor::<Aes256>::new(&key, iv.as_slice().into())
        .encrypt_padded_mut::<Pkcs7>(&mut buf, len)
        .map_err(|e| format!("encrypt: {e}"))?;
    let mut out = iv.to_vec();
    out.extend_from_slice(ct);
    Ok(STANDARD.encode(out))
}

/// [FS-evt-srv] X-Lark-Signature = hex(SHA-256(timestamp ‖ nonce ‖ Encrypt Key ‖ raw body)).
pub(crate) fn sign(timestamp: &str, nonce: &str, encrypt_key: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    for part in [timestamp.as_bytes(), nonce.as_bytes(), encrypt_key.as_bytes(), body] {
        h.update(part);
    }
    hex::encode(h.finalize())
}

/// One POST of `payload` to `url`: `{"encrypt": …}` when the app has an Encrypt Key. `signed` adds the
/// X-Lark-Request-Timestamp/Nonce headers and, with a key, X-Lark-Signature; url_verification goes unsigned
/// (§2.4: openclaw/openclaw#58905, larksuite/node-sdk#67).
async fn send(
    inner: &Inner,
    url: &str,
    key: Option<&str>,
    payload: &Value,
    signed: bool,
) -> Result<reqwest::Response, String> {
    let plain = payload.to_string();
    let body = match key {
        Some(k) => json!({"encrypt": encrypt(k, plain.as_bytes())?}).to_string(),
        None => plain,
    };
    let mut req = inner.http.post(url).header("content-type", "application/json; charset=utf-8");
    if signed {
        let (ts, nonce) = (inner.now().to_string(), hex::encode(rand::random::<[u8; 8]>()));
        if let Some(k) = key {
            req = req.header("X-Lark-Signature", sign(&ts, &nonce, k, body.as_bytes()));
        }
        req = req.header("X-Lark-Request-Timestamp", ts).header("X-Lark-Request-Nonce", nonce);
    }
    req.body(body).send().await.map_err(|e| format!("POST {url}: {e}"))
}

/// The app's Encrypt Key and Verification Token.
fn keys(inner: &Inner, app_id: &str) -> Result<(Option<String>, String, AppKind), String> {
    let w = inner.world();
    let app = w.app(app_id).ok_or_else(|| format!("no app {app_id}"))?;
    Ok((app.encrypt_key.clone(), app.verification_token.clone(), app.kind))
}

/// [FS-evt-srv] saving a request URL: POST `{"challenge","token","type":"url_verification"}` (encrypted with a
/// key) and require `{"challenge": <same>}` with HTTP 200 within 1 s; only then is the URL kept.
pub(crate) async fn set_event_url(inner: &Shared, app_id: &str, url: &str) -> Result<(), String> {
    let (key, token, _) = keys(inner, app_id)?;
    let challenge = random_token("", 24);
    let payload = json!({"challenge": challenge, "token": token, "type": "url_verification"});
    let exchange = async {
        let resp = send(inner, url, key.as_deref(), &payload, false).await?;
        if resp.status() != StatusCode::OK {
            return Err(format!("url_verification answered HTTP {}", resp.status()));
        }
        resp.json::<Value>().await.map_err(|e| format!("url_verification answer is not JSON: {e}"))
    };
    let answer = tokio::time::timeout(Duration::from_secs(1), exchange)
        .await
        .map_err(|_| "url_verification: no answer within 1 s".to_owned())??;
    if answer.get("challenge").and_then(Value::as_str) != Some(challenge.as_str()) {
        return Err(format!("url_verification: wrong answer {answer}"));
    }
    inner.world().event_urls.insert(app_id.to_owned(), url.to_owned());
    Ok(())
}

/// Sends one push (twice with `duplicate_pushes`); true if the first copy got HTTP 200 within 3 s [FS-evt].
async fn deliver(inner: &Inner, url: &str, key: Option<&str>, payload: &Value) -> bool {
    let copies = if inner.config.duplicate_pushes { 2 } else { 1 };
    let mut first = None;
    for _ in 0..copies {
        inner.world().stats.tickets_pushed += 1;
        let sent = tokio::time::timeout(Duration::from_secs(3), send(inner, url, key, payload, true)).await;
        let ok = matches!(sent, Ok(Ok(ref r)) if r.status() == StatusCode::OK);
        first.get_or_insert(ok);
    }
    first.unwrap_or(false)
}

/// Mints a new app_ticket (from now on the only one `app_access_token` accepts) and pushes it in the v1
/// envelope [FS-ticket]; a failed delivery is retried in the background per `retry_delays_ms` [FS-evt].
/// Ok((ticket, delivered)); Err when nothing could be sent.
pub(crate) async fn push_ticket(inner: &Shared, app_id: &str) -> Result<(String, bool), String> {
    let (key, token, kind) = keys(inner, app_id)?;
    if kind != AppKind::Marketplace {
        // [FS-ticket] custom apps get no app_ticket.
        return Err(format!("{app_id} is a custom app: no app_ticket"));
    }
    let (url, ticket) = {
        let mut w = inner.world();
        let url = w.event_urls.get(app_id).cloned().ok_or_else(|| format!("{app_id} has no event URL"))?;
        let ticket = random_token("", 24);
        w.tickets.insert(app_id.to_owned(), ticket.clone());
        (url, ticket)
    };
    let frac = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos() / 100).unwrap_or(0);
    let payload = json!({
        "ts": format!("{}.{frac:07}", inner.now()),
        "uuid": hex::encode(rand::random::<[u8; 16]>()),
        "token": token,
        "type": "event_callback",
        "event": {"app_id": app_id, "app_ticket": ticket, "type": "app_ticket"},
    });
    if deliver(inner, &url, key.as_deref(), &payload).await {
        return Ok((ticket, true));
    }
    // The same event (same uuid) again after each delay, until one delivery succeeds.
    let (inner2, delays, app) = (inner.clone(), inner.config.retry_delays_ms.clone(), app_id.to_owned());
    tokio::spawn(async move {
        for ms in delays {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            if deliver(&inner2, &url, key.as_deref(), &payload).await {
                return;
            }
        }
        tracing::warn!(app_id = app, "feishu-sim: app_ticket push given up after all retries");
    });
    Ok((ticket, false))
}

/// Pushes a fresh app_ticket to every marketplace app with an event URL, every `ticket_interval_secs`
/// (hourly in Feishu [FS-ticket]); never returns. 0 = off.
pub(crate) async fn ticket_timer(inner: Shared) {
    let secs = inner.config.ticket_interval_secs;
    if secs == 0 {
        return std::future::pending().await;
    }
    let period = Duration::from_secs(secs);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let apps: Vec<String> = {
            let w = inner.world();
            let due = |a: &&crate::App| a.kind == AppKind::Marketplace && w.event_urls.contains_key(&a.app_id);
            w.seed.apps.iter().filter(due).map(|a| a.app_id.clone()).collect()
        };
        for app in apps {
            let inner = inner.clone();
            tokio::spawn(async move {
                if let Err(e) = push_ticket(&inner, &app).await {
                    tracing::warn!(app_id = app, error = e, "feishu-sim: periodic app_ticket push failed");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use cbc::cipher::BlockDecryptMut;

    use super::*;

    fn decrypt(encrypt_key: &str, b64: &str) -> Vec<u8> {
        let raw = STANDARD.decode(b64).unwrap();
        let key = Sha256::digest(encrypt_key.as_bytes());
        let (iv, ct) = raw.split_at(16);
        let mut buf = ct.to_vec();
        let plain = cbc::Decryptor::<Aes256>::new(&key, iv.into()).decrypt_padded_mut::<Pkcs7>(&mut buf).unwrap();
        plain.to_vec()
    }

    #[test]
    fn doc_test_vector() {
        // [FS-evt-srv] the doc's sample: key "test key".
        assert_eq!(decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="), b"hello world");
        // …and what this simulator encrypts decrypts the same way, with a fresh IV each time.
        let (a, b) = (encrypt("test key", b"hello world").unwrap(), encrypt("test key", b"hello world").unwrap());
        assert!(a != b && decrypt("test key", &a) == b"hello world");
    }
}
