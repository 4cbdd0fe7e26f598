//! Encryption at rest of the secrets the store keeps in usable form: connection secrets (app secrets,
//! callback Token and EncodingAESKey, template/suite/provider secrets), permanent codes, the signing key,
//! WeCom access tokens and suite tickets. AES-256-GCM with the key of `WEGATE_ENCRYPTION_KEY`; each value
//! gets a random nonce and is bound to its row by associated data (table, column, key: a sealed secret
//! copied into another row does not open), stored as `enc:v2:<base64(nonce || ciphertext)>`. With a key,
//! nothing else opens: values sealed before rows were bound (`enc:v1:`) and values stored before the key was
//! set (plain) are sealed anew by a pass at start (`SqlStore::seal_legacy_values`), and one found later is
//! refused. Without a key values are stored as given (and the server warns at start); sealed values can be
//! read only with it.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

use super::common::{StoreError, StoreResult};

/// Sealed without associated data (before rows were bound).
const PREFIX_V1: &str = "enc:v1:";
/// Sealed and bound to its row.
const PREFIX: &str = "enc:v2:";

#[derive(Clone, Default)]
pub struct Sealer {
    cipher: Option<Aes256Gcm>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("enabled", &self.cipher.is_some()).finish()
    }
}

impl Sealer {
    pub fn new(key: Option<&[u8; 32]>) -> Sealer {
        Sealer { cipher: key.map(|k| Aes256Gcm::new(k.into())) }
    }

    pub fn enabled(&self) -> bool {
        self.cipher.is_some()
    }

    /// Encrypts `plain` for the row named by `row` (e.g. `connections.secrets|<identifier>`), when a key
    /// is set.
    pub fn seal(&self, plain: &str, row: &str) -> StoreResult<String> {
        let Some(cipher) = &self.cipher else {
            return Ok(plain.to_string());
        };
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain.as_bytes(), aad: row.as_bytes() })
            .map_err(|_| StoreError::Backend("sealing a secret failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// Decrypts a value sealed for `row`. With a key, only values sealed and bound to their row open: a plain
    /// value (written without the key, or by hand into the database) or an unbound `enc:v1` one is refused —
    /// else whoever can write a row could put a secret of their choosing (a signing key, say) in place of
    /// a sealed one. The start-up pass (`SqlStore::seal_legacy_values`) seals such values first. Without a
    /// key, plain values pass through.
    pub fn open(&self, stored: String, row: &str) -> StoreResult<String> {
        if self.cipher.is_some() && !stored.starts_with(PREFIX) {
            return Err(StoreError::Backend(format!(
                "a secret of {} is not sealed for its row although WEGATE_ENCRYPTION_KEY is set (written without \
                 the key or by hand): refused",
                row.split('|').next().unwrap_or_default()
            )));
        }
        self.open_legacy(stored, row)
    }

    /// Whether a stored value is sealed and bound to its row (what [`Sealer::open`] accepts with a key).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }

    /// Reads any value the store ever wrote: bound (`enc:v2`), sealed before rows were bound (`enc:v1`), or
    /// plain. Only for sealing old values anew.
    pub fn open_legacy(&self, stored: String, row: &str) -> StoreResult<String> {
        let (encoded, aad) = match (stored.strip_prefix(PREFIX), stored.strip_prefix(PREFIX_V1)) {
            (Some(encoded), _) => (encoded, row.as_bytes()),
            (None, Some(encoded)) => (encoded, &b""[..]),
            (None, None) => return Ok(stored),
        };
        let Some(cipher) = &self.cipher else {
            return Err(StoreError::Backend(
                "a secret is encrypted at rest; set WEGATE_ENCRYPTION_KEY to read it".into(),
            ));
        };
        let bytes = STANDARD.decode(encoded).map_err(|_| StoreError::Backend("sealed secret is not base64".into()))?;
        if bytes.len() < 12 {
            return Err(StoreError::Backend("sealed secret is truncated".into()));
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let plain = cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad }).map_err(|_| {
            StoreError::Backend(format!(
                "a secret of {} cannot be decrypted: WEGATE_ENCRYPTION_KEY is not the key it was sealed with, \
                 or the value was copied from another row",
                row.split('|').next().unwrap_or_default()
            ))
        })?;
        String::from_utf8(plain).map_err(|_| StoreError::Backend("sealed secret is not UTF-8".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: &str = "authorized_corps.permanent_code|deleg|ww1";

    #[test]
    fn sealed_values_round_trip_and_need_the_key() {
        let sealer = Sealer::new(Some(&[7u8; 32]));
        let sealed = sealer.seal("permanent-code-123", ROW).unwrap();
        assert!(sealed.starts_with(PREFIX) && !sealed.contains("permanent-code-123"));
        assert_ne!(sealed, sealer.seal("permanent-code-123", ROW).unwrap(), "random nonce");
        assert_eq!(sealer.open(sealed.clone(), ROW).unwrap(), "permanent-code-123");
        assert!(Sealer::new(None).open(sealed.clone(), ROW).is_err());
        assert!(Sealer::new(Some(&[8u8; 32])).open(sealed, ROW).is_err());
        assert_eq!(Sealer::new(None).seal("plain", ROW).unwrap(), "plain");
        assert_eq!(Sealer::new(None).open("plain".into(), ROW).unwrap(), "plain", "no key: stored as given");
        assert!(sealer.open("plain".into(), ROW).is_err(), "with a key, a plain value is refused");
        assert_eq!(sealer.open_legacy("plain".into(), ROW).unwrap(), "plain", "until sealed anew at start");
    }

    #[test]
    fn a_sealed_value_copied_into_another_row_does_not_open() {
        let sealer = Sealer::new(Some(&[7u8; 32]));
        let sealed = sealer.seal("secret", "connections.secrets|a").unwrap();
        let err = sealer.open(sealed, "connections.secrets|b").unwrap_err();
        assert!(err.to_string().contains("another row"), "{err}");
    }

    #[test]
    fn values_sealed_before_rows_were_bound_open_only_to_be_sealed_anew() {
        let key = [7u8; 32];
        let cipher = Aes256Gcm::new((&key).into());
        let nonce = [1u8; 12];
        let mut legacy = nonce.to_vec();
        legacy.extend_from_slice(&cipher.encrypt(Nonce::from_slice(&nonce), b"old-secret".as_ref()).unwrap());
        let stored = format!("{PREFIX_V1}{}", STANDARD.encode(legacy));
        let sealer = Sealer::new(Some(&key));
        assert!(sealer.open(stored.clone(), ROW).is_err(), "an unbound value could have come from any row");
        assert_eq!(sealer.open_legacy(stored, ROW).unwrap(), "old-secret");
    }
}
