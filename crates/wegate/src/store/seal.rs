//! Encryption at rest of the secrets the store keeps in usable form: connection secrets (app secrets,
//! callback Token and EncodingAESKey, template/suite/provider secrets), permanent codes and the signing
//! key. AES-256-GCM with the key of `WEGATE_ENCRYPTION_KEY`; each value gets a random nonce and is
//! stored as `enc:v1:<base64(nonce || ciphertext)>`. Without a key values are stored as given (and the
//! server warns at start); values sealed earlier can still be read only with the key.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

use super::common::{StoreError, StoreResult};

const PREFIX: &str = "enc:v1:";

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

    /// Encrypts `plain` when a key is set.
    pub fn seal(&self, plain: &str) -> StoreResult<String> {
        let Some(cipher) = &self.cipher else {
            return Ok(plain.to_string());
        };
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .map_err(|_| StoreError::Backend("sealing a secret failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// Decrypts a sealed value; plain values pass through.
    pub fn open(&self, stored: String) -> StoreResult<String> {
        let Some(encoded) = stored.strip_prefix(PREFIX) else {
            return Ok(stored);
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
        let plain = cipher.decrypt(Nonce::from_slice(nonce), ciphertext).map_err(|_| {
            StoreError::Backend(
                "a secret cannot be decrypted: WEGATE_ENCRYPTION_KEY is not the key it was sealed with".into(),
            )
        })?;
        String::from_utf8(plain).map_err(|_| StoreError::Backend("sealed secret is not UTF-8".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_round_trip_and_need_the_key() {
        let sealer = Sealer::new(Some(&[7u8; 32]));
        let sealed = sealer.seal("permanent-code-123").unwrap();
        assert!(sealed.starts_with(PREFIX) && !sealed.contains("permanent-code-123"));
        assert_ne!(sealed, sealer.seal("permanent-code-123").unwrap(), "random nonce");
        assert_eq!(sealer.open(sealed.clone()).unwrap(), "permanent-code-123");
        assert!(Sealer::new(None).open(sealed.clone()).is_err());
        assert!(Sealer::new(Some(&[8u8; 32])).open(sealed).is_err());
        assert_eq!(Sealer::new(None).seal("plain").unwrap(), "plain");
        assert_eq!(sealer.open("plain".into()).unwrap(), "plain");
    }
}
