//! The HTTP event mode's crypto and envelopes ([FS-evt-srv][FS-evt]): with an Encrypt Key the body is
//! `{"encrypt": base64(iv ‖ AES-256-CBC(SHA-256(key), PKCS#7))}`, and a signed push carries
//! `X-Lark-Signature = hex(SHA-256(timestamp ‖ nonce ‖ key ‖ raw body))`. The `url_verification` challenge is
//! not signed (the brief: seen without `X-Lark-Signature`), so it is checked by its verification token.

use base64::Engine;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error("the body is not JSON, or not an event")]
    Malformed,
    #[error("the body is not encrypted, and this receiver takes encrypted events only")]
    NotEncrypted,
    #[error("the encrypted body does not decrypt with the Encrypt Key")]
    Undecryptable,
    #[error("the signature headers are missing")]
    Unsigned,
    #[error("the signature does not match")]
    BadSignature,
    #[error("the verification token does not match")]
    BadToken,
}

/// What Feishu sent, decrypted and read.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The event URL being saved in the console: answer `{"challenge": …}` within 1 s.
    UrlVerification { challenge: String },
    /// The hourly `app_ticket` of a marketplace app (v1 envelope) [FS-ticket]; `ts` is when Feishu sent it.
    AppTicket { id: String, app_id: String, ticket: String, ts: f64 },
    /// Any other event: its id (v1 `uuid`, v2 `header.event_id`) and type, acknowledged.
    Other { id: String, kind: String },
}

impl Event {
    /// The id Feishu's retries and duplicate deliveries share (at-least-once delivery [FS-evt]).
    pub fn id(&self) -> Option<&str> {
        match self {
            Event::UrlVerification { .. } => None,
            Event::AppTicket { id, .. } | Event::Other { id, .. } => Some(id),
        }
    }
}

/// Decrypts `{"encrypt": …}`'s value with the app's Encrypt Key.
pub fn decrypt(encrypt_key: &str, encrypted: &str) -> Result<Vec<u8>, EventError> {
    let raw =
        base64::engine::general_purpose::STANDARD.decode(encrypted.trim()).map_err(|_| EventError::Undecryptable)?;
    if raw.len() < 32 || raw.len() % 16 != 0 {
        return Err(EventError::Undecryptable);
    }
    let key = Sha256::digest(encrypt_key.as_bytes());
    let (iv, ciphertext) = raw.split_at(16);
    let decryptor = Aes256CbcDec::new_from_slices(&key, iv).map_err(|_| EventError::Undecryptable)?;
    let mut buf = ciphertext.to_vec();
    let plain = decryptor.decrypt_padded_mut::<Pkcs7>(&mut buf).map_err(|_| EventError::Undecryptable)?;
    Ok(plain.to_vec())
}

/// `X-Lark-Signature` of a push.
pub fn signature(timestamp: &str, nonce: &str, encrypt_key: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(timestamp.as_bytes());
    hash.update(nonce.as_bytes());
    hash.update(encrypt_key.as_bytes());
    hash.update(body);
    hex::encode(hash.finalize())
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The signature headers of a push, when present.
pub struct Signed<'a> {
    pub timestamp: &'a str,
    pub nonce: &'a str,
    pub signature: &'a str,
}

/// Reads a push to an encrypted event URL: decrypts it, checks the verification token, and — for anything
/// but the URL verification — the signature over the raw body. Plain (unencrypted) bodies are refused: the
/// token alone travels in clear.
pub fn open(
    encrypt_key: &str,
    verification_token: &str,
    body: &[u8],
    signed: Option<Signed<'_>>,
) -> Result<Event, EventError> {
    let outer: Value = serde_json::from_slice(body).map_err(|_| EventError::Malformed)?;
    let encrypted = outer.get("encrypt").and_then(Value::as_str).ok_or(EventError::NotEncrypted)?;
    let inner: Value = serde_json::from_slice(&decrypt(encrypt_key, encrypted)?).map_err(|_| EventError::Malformed)?;
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
    let token = inner.get("token").or_else(|| inner.pointer("/header/token"));
    if !same(&text(token), verification_token) {
        return Err(EventError::BadToken);
    }
    if inner.get("type").and_then(Value::as_str) == Some("url_verification") {
        let challenge = text(inner.get("challenge"));
        return if challenge.is_empty() {
            Err(EventError::Malformed)
        } else {
            Ok(Event::UrlVerification { challenge })
        };
    }
    let Some(signed) = signed else { return Err(EventError::Unsigned) };
    if !same(&signature(signed.timestamp, signed.nonce, encrypt_key, body), &signed.signature.to_ascii_lowercase()) {
        return Err(EventError::BadSignature);
    }
    // v2: {"schema":"2.0","header":{event_id, event_type, …},"event":{…}}
    if let Some(header) = inner.get("header") {
        let id = text(header.get("event_id"));
        let kind = text(header.get("event_type"));
        return if id.is_empty() { Err(EventError::Malformed) } else { Ok(Event::Other { id, kind }) };
    }
    // v1: {"ts","uuid","token","type":"event_callback","event":{"type", …}}
    let id = text(inner.get("uuid"));
    let event = inner.get("event").ok_or(EventError::Malformed)?;
    let kind = text(event.get("type"));
    if id.is_empty() {
        return Err(EventError::Malformed);
    }
    if kind == "app_ticket" {
        let ts =
            inner.get("ts").and_then(Value::as_str).and_then(|t| t.parse::<f64>().ok()).ok_or(EventError::Malformed)?;
        let (app_id, ticket) = (text(event.get("app_id")), text(event.get("app_ticket")));
        if app_id.is_empty() || ticket.is_empty() {
            return Err(EventError::Malformed);
        }
        return Ok(Event::AppTicket { id, app_id, ticket, ts });
    }
    Ok(Event::Other { id, kind })
}

#[cfg(test)]
mod tests {
    use cbc::cipher::BlockEncryptMut;

    use super::*;

    type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;

    fn encrypt(key: &str, plain: &str) -> String {
        let key = Sha256::digest(key.as_bytes());
        let iv = [7u8; 16];
        let mut buf = plain.as_bytes().to_vec();
        let len = buf.len();
        buf.resize(len + 16, 0);
        let ct = Aes256CbcEnc::new_from_slices(&key, &iv)
            .unwrap()
            .encrypt_padded_mut::<Pkcs7>(&mut buf, len)
            .unwrap()
            .to_vec();
        base64::engine::general_purpose::STANDARD.encode([iv.as_slice(), &ct].concat())
    }

    #[test]
    fn the_documents_test_vector_decrypts() {
        // [FS-evt-srv]: key "test key", this body → "hello world".
        let plain = decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=").unwrap();
        assert_eq!(plain, b"hello world");
        assert_eq!(
            decrypt("other key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="),
            Err(EventError::Undecryptable)
        );
    }

    #[test]
    fn a_ticket_needs_the_token_and_the_signature() {
        let inner = r#"{"ts":"1700000000.5","uuid":"u1","token":"vt","type":"event_callback","event":{"app_id":"cli_a","app_ticket":"tk","type":"app_ticket"}}"#;
        let body = format!(r#"{{"encrypt":"{}"}}"#, encrypt("ek", inner));
        let sig = signature("1700000000", "n1", "ek", body.as_bytes());
        let signed = || Some(Signed { timestamp: "1700000000", nonce: "n1", signature: &sig });
        assert_eq!(
            open("ek", "vt", body.as_bytes(), signed()).unwrap(),
            Event::AppTicket { id: "u1".into(), app_id: "cli_a".into(), ticket: "tk".into(), ts: 1_700_000_000.5 }
        );
        assert_eq!(open("ek", "vt", body.as_bytes(), None), Err(EventError::Unsigned));
        let forged = Some(Signed { timestamp: "1700000001", nonce: "n1", signature: &sig });
        assert_eq!(open("ek", "vt", body.as_bytes(), forged), Err(EventError::BadSignature));
        assert_eq!(open("ek", "other", body.as_bytes(), signed()), Err(EventError::BadToken));
        assert_eq!(open("ek", "vt", inner.as_bytes(), signed()), Err(EventError::NotEncrypted));
        let challenge = format!(
            r#"{{"encrypt":"{}"}}"#,
            encrypt("ek", r#"{"challenge":"c1","token":"vt","type":"url_verification"}"#)
        );
        assert_eq!(
            open("ek", "vt", challenge.as_bytes(), None).unwrap(),
            Event::UrlVerification { challenge: "c1".into() }
        );
    }
}
