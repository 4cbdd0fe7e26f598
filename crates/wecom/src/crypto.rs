//! WeCom callback crypto (WXBizMsgCrypt, reference §6): the SHA-1 signature over the sorted token,
//! timestamp, nonce and ciphertext; AES-256-CBC with the IV taken from the key; and PKCS#7 padding to
//! **32-byte** blocks — not AES's 16 — which is the quirk that breaks half the implementations out there.
//!
//! ```
//! use wecom::crypto::MsgCrypt;
//! let crypt = MsgCrypt::new("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C").unwrap();
//! let echostr = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==";
//! let plain = crypt.verify_url("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780", echostr).unwrap();
//! assert_eq!(plain.message, "1616140317555161061");
//! assert_eq!(plain.receive_id, "wx5823bf96d3bd56c7");
//! ```

use aes::Aes256;
use base64::Engine;
use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use rand::RngCore;
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// WeCom pads to multiples of 32 bytes (PKCS#7 with k = 32).
const BLOCK: usize = 32;
/// Refuse anything bigger: callbacks are small, and this bounds the work an attacker can cause.
const MAX_INPUT: usize = 1 << 20;

/// Standard alphabet, padding optional, and — unlike the `base64` crate's default — non-zero trailing
/// bits accepted: a 43-character EncodingAESKey carries 2 spare bits that WeCom fills at random, and the
/// official libraries (PHP, Python, Java) ignore them.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const STRICT_ENCODE: GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CryptoError {
    #[error("invalid EncodingAESKey: {0}")]
    InvalidAesKey(String),
    #[error("signature mismatch")]
    BadSignature,
    #[error("ciphertext is not valid base64")]
    Base64,
    #[error("bad padding after decryption")]
    BadPadding,
    #[error("bad length field or ciphertext length")]
    BadLength,
    #[error("receive id mismatch: expected {expected}, got {actual}")]
    ReceiveIdMismatch { expected: String, actual: String },
    #[error("decrypted message is not UTF-8")]
    Utf8,
    #[error("malformed XML: {0}")]
    Xml(String),
    #[error("input too large")]
    TooLarge,
}

/// A decrypted message and the receive id that trailed it (corp id, suite id, ...). Callers check the
/// receive id against the ids their URL accepts (reference §6.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    pub message: String,
    pub receive_id: String,
}

/// Signs, verifies, encrypts and decrypts callbacks for one Token + EncodingAESKey pair.
#[derive(Clone)]
pub struct MsgCrypt {
    token: String,
    key: [u8; 32],
}

impl std::fmt::Debug for MsgCrypt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MsgCrypt").field("token", &"<redacted>").field("key", &"<redacted>").finish()
    }
}

/// Checks that an EncodingAESKey is what WeCom generates: 43 characters of base64 (32 bytes).
pub fn validate_encoding_aes_key(key: &str) -> Result<(), CryptoError> {
    decode_key(key).map(|_| ())
}

fn decode_key(key: &str) -> Result<[u8; 32], CryptoError> {
    let invalid =
        || CryptoError::InvalidAesKey("must be 43 characters of base64 (the EncodingAESKey WeCom generates)".into());
    if key.len() != 43 || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/') {
        return Err(invalid());
    }
    let bytes = LENIENT.decode(format!("{key}=")).map_err(|_| invalid())?;
    bytes.try_into().map_err(|_| invalid())
}

impl MsgCrypt {
    pub fn new(token: &str, encoding_aes_key: &str) -> Result<Self, CryptoError> {
        Ok(MsgCrypt { token: token.to_string(), key: decode_key(encoding_aes_key)? })
    }

    /// `hex(sha1(sorted(token, timestamp, nonce, encrypt)))`, sorted byte-wise, concatenated without separator.
    pub fn signature(&self, timestamp: &str, nonce: &str, encrypt: &str) -> String {
        let mut parts = [self.token.as_str(), timestamp, nonce, encrypt];
        parts.sort_unstable();
        let mut hasher = Sha1::new();
        for part in parts {
            hasher.update(part.as_bytes());
        }
        hex::encode(hasher.finalize())
    }

    /// Constant-time check of `msg_signature`.
    pub fn verify_signature(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypt: &str,
    ) -> Result<(), CryptoError> {
        if encrypt.len() > MAX_INPUT || msg_signature.len() > 128 || timestamp.len() > 64 || nonce.len() > 256 {
            return Err(CryptoError::TooLarge);
        }
        let expected = self.signature(timestamp, nonce, encrypt);
        let given = msg_signature.to_ascii_lowercase();
        if expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
            Ok(())
        } else {
            Err(CryptoError::BadSignature)
        }
    }

    /// base64 → AES-256-CBC → strip the 32-byte PKCS#7 pad → `random(16) || len(u32 BE) || msg || receive_id`.
    pub fn decrypt(&self, encrypt: &str) -> Result<Decrypted, CryptoError> {
        if encrypt.len() > MAX_INPUT {
            return Err(CryptoError::TooLarge);
        }
        let mut buf = LENIENT.decode(encrypt.trim()).map_err(|_| CryptoError::Base64)?;
        if buf.is_empty() || buf.len() % 16 != 0 {
            return Err(CryptoError::BadLength);
        }
        let (key, iv) = (&self.key, &self.key[..16]);
        let plain = cbc::Decryptor::<Aes256>::new(key.into(), iv.into())
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .map_err(|_| CryptoError::BadLength)?;
        let pad = *plain.last().ok_or(CryptoError::BadPadding)? as usize;
        if pad == 0 || pad > BLOCK || pad > plain.len() {
            return Err(CryptoError::BadPadding);
        }
        let body = &plain[..plain.len() - pad];
        if body.len() < 20 {
            return Err(CryptoError::BadLength);
        }
        let len = u32::from_be_bytes([body[16], body[17], body[18], body[19]]) as usize;
        let rest = &body[20..];
        if len > rest.len() {
            return Err(CryptoError::BadLength);
        }
        let message = std::str::from_utf8(&rest[..len]).map_err(|_| CryptoError::Utf8)?.to_string();
        let receive_id = std::str::from_utf8(&rest[len..]).map_err(|_| CryptoError::Utf8)?.to_string();
        Ok(Decrypted { message, receive_id })
    }

    /// URL verification (`GET` with `echostr`): signature over the echostr, then decrypt it.
    pub fn verify_url(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        echostr: &str,
    ) -> Result<Decrypted, CryptoError> {
        self.verify_signature(msg_signature, timestamp, nonce, echostr)?;
        self.decrypt(echostr)
    }

    /// An event `POST`: the `<Encrypt>` of the XML body, signature-checked, decrypted.
    pub fn decrypt_message(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        body_xml: &str,
    ) -> Result<Decrypted, CryptoError> {
        if body_xml.len() > MAX_INPUT {
            return Err(CryptoError::TooLarge);
        }
        let fields = crate::event::flat_fields(body_xml).map_err(|e| CryptoError::Xml(e.to_string()))?;
        let encrypt = fields
            .iter()
            .find(|(k, _)| k == "Encrypt")
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| CryptoError::Xml("no <Encrypt> element".into()))?;
        self.verify_signature(msg_signature, timestamp, nonce, encrypt)?;
        self.decrypt(encrypt)
    }

    /// Encrypts with a random 16-byte prefix.
    pub fn encrypt(&self, message: &str, receive_id: &str) -> String {
        let mut random = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut random);
        self.encrypt_with_random(random, message, receive_id)
    }

    /// Encrypts with the given prefix (deterministic; for test vectors).
    pub fn encrypt_with_random(&self, random: [u8; 16], message: &str, receive_id: &str) -> String {
        let mut buf = Vec::with_capacity(20 + message.len() + receive_id.len() + BLOCK);
        buf.extend_from_slice(&random);
        buf.extend_from_slice(&(message.len() as u32).to_be_bytes());
        buf.extend_from_slice(message.as_bytes());
        buf.extend_from_slice(receive_id.as_bytes());
        // Always pad, a full 32-byte block when already aligned.
        let pad = BLOCK - buf.len() % BLOCK;
        buf.extend(std::iter::repeat_n(pad as u8, pad));
        let len = buf.len();
        let (key, iv) = (&self.key, &self.key[..16]);
        // The buffer length is a multiple of the block size, so NoPadding cannot fail.
        let encrypted = cbc::Encryptor::<Aes256>::new(key.into(), iv.into())
            .encrypt_padded_mut::<NoPadding>(&mut buf, len)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        STRICT_ENCODE.encode(encrypted)
    }

    /// The passive-reply XML of §6.3.
    pub fn encrypt_reply(&self, message: &str, receive_id: &str, timestamp: &str, nonce: &str) -> String {
        let encrypt = self.encrypt(message, receive_id);
        let signature = self.signature(timestamp, nonce, &encrypt);
        format!(
            "<xml>\n<Encrypt><![CDATA[{encrypt}]]></Encrypt>\n<MsgSignature><![CDATA[{signature}]]></MsgSignature>\n<TimeStamp>{timestamp}</TimeStamp>\n<Nonce><![CDATA[{nonce}]]></Nonce>\n</xml>"
        )
    }

    /// What WeCom POSTs to a callback URL: the XML body and its `msg_signature`.
    pub fn encrypt_to_post_body(
        &self,
        message: &str,
        receive_id: &str,
        to_user_name: &str,
        agent_id: Option<&str>,
        timestamp: &str,
        nonce: &str,
    ) -> (String, String) {
        let encrypt = self.encrypt(message, receive_id);
        let signature = self.signature(timestamp, nonce, &encrypt);
        let body = format!(
            "<xml><ToUserName><![CDATA[{}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID><![CDATA[{}]]></AgentID></xml>",
            crate::event::cdata_safe(to_user_name),
            crate::event::cdata_safe(agent_id.unwrap_or("")),
        );
        (body, signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vector A: sbzhu/weworkapi_python callback/Sample.py (reference §6.5).
    const A_TOKEN: &str = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";
    const A_KEY: &str = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";
    const A_ENCRYPT: &str = "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+";

    #[test]
    fn vector_a_verify_url() {
        let c = MsgCrypt::new(A_TOKEN, A_KEY).unwrap();
        let d = c
            .verify_url(
                "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
                "1476416373",
                "47744683",
                "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==",
            )
            .unwrap();
        assert_eq!(d.message, "1288432023552776189");
        assert_eq!(d.receive_id, "ww1436e0e65a779aee");
    }

    #[test]
    fn vector_a_post_with_pad_22() {
        let c = MsgCrypt::new(A_TOKEN, A_KEY).unwrap();
        let body = format!(
            "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName><Encrypt><![CDATA[{A_ENCRYPT}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>"
        );
        let d =
            c.decrypt_message("0c3914025cb4b4d68103f6bfc8db550f79dcf48e", "1476422779", "1597212914", &body).unwrap();
        assert_eq!(d.message.len(), 228);
        assert!(
            d.message.starts_with(
                "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName>"
            )
        );
        assert!(d.message.contains("<Content>你好</Content>"));
        assert_eq!(d.receive_id, "ww1436e0e65a779aee");
    }

    #[test]
    fn vector_b_verify_url_and_post_with_pad_30() {
        let c = MsgCrypt::new("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C").unwrap();
        let d = c
            .verify_url(
                "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
                "1409659589",
                "263014780",
                "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
            )
            .unwrap();
        assert_eq!(d.message, "1616140317555161061");
        assert_eq!(d.receive_id, "wx5823bf96d3bd56c7");
        let encrypt = "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==";
        c.verify_signature("477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149", encrypt).unwrap();
        let d = c.decrypt(encrypt).unwrap();
        assert_eq!(d.message.len(), 284);
        assert!(d.message.contains("<Content><![CDATA[hello]]></Content>\n<MsgId>4561255354251345929</MsgId>"));
        assert_eq!(d.receive_id, "wx5823bf96d3bd56c7");
    }

    const C_TOKEN: &str = "123456";
    const C_KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

    #[test]
    fn vector_c_verify_url_and_wrong_nonce() {
        let c = MsgCrypt::new(C_TOKEN, C_KEY).unwrap();
        let echostr = "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==";
        let d = c.verify_url("dd6b9c95b495b3f7e2901bfbc76c664930ffdb96", "1411443780", "437374425", echostr).unwrap();
        assert_eq!(d.message, "5927782489442352469");
        assert_eq!(
            c.verify_url("dd6b9c95b495b3f7e2901bfbc76c664930ffdb96", "1411443780", "437374424", echostr),
            Err(CryptoError::BadSignature)
        );
    }

    #[test]
    fn vector_c_decrypt_pad_1() {
        let c = MsgCrypt::new(C_TOKEN, C_KEY).unwrap();
        let encrypt = "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=";
        c.verify_signature("74d92dfeb87ba7c714f89d98870ae5eb62dff26d", "1411525903", "461056294", encrypt).unwrap();
        let d = c.decrypt(encrypt).unwrap();
        assert_eq!(d.message.len(), 281);
        assert!(d.message.contains("messense") && d.message.contains("4363689963896700987"));
        assert_eq!(d.receive_id, "wx49f0ab532d5d035a");
    }

    #[test]
    fn vector_c_deterministic_encryption() {
        let c = MsgCrypt::new(C_TOKEN, C_KEY).unwrap();
        let plaintext = [
            "<xml>",
            "<MsgType><![CDATA[text]]></MsgType>",
            "<Content><![CDATA[test]]></Content>",
            "<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>",
            "<ToUserName><![CDATA[messense]]></ToUserName>",
            "<AgentID>1</AgentID>",
            "<CreateTime>1411525903</CreateTime>",
            "</xml>",
        ]
        .join("\n");
        assert_eq!(plaintext.len(), 247);
        let encrypt = c.encrypt_with_random(*b"1234567890123456", &plaintext, "wx49f0ab532d5d035a");
        assert_eq!(
            encrypt,
            "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3"
        );
        assert_eq!(c.signature("1411525903", "461056294", &encrypt), "407518b7649e86ef23978113f92d27afa9296533");
    }

    #[test]
    fn keys_that_are_not_43_base64_characters_are_rejected() {
        for bad in ["", "short", &"a".repeat(44), &format!("{}!", "a".repeat(42))] {
            assert!(matches!(validate_encoding_aes_key(bad), Err(CryptoError::InvalidAesKey(_))), "{bad}");
        }
        validate_encoding_aes_key(C_KEY).unwrap();
    }

    #[test]
    fn malformed_inputs_are_errors_not_panics() {
        let c = MsgCrypt::new(C_TOKEN, C_KEY).unwrap();
        assert_eq!(c.decrypt("not base64 at all!"), Err(CryptoError::Base64));
        assert_eq!(c.decrypt(""), Err(CryptoError::BadLength));
        assert_eq!(c.decrypt(&STRICT_ENCODE.encode([0u8; 15])), Err(CryptoError::BadLength));
        // Valid CBC, garbage plaintext: padding or length checks fail.
        let garbage = STRICT_ENCODE.encode([7u8; 64]);
        assert!(c.decrypt(&garbage).is_err());
        assert_eq!(c.decrypt(&"A".repeat(MAX_INPUT + 4)), Err(CryptoError::TooLarge));
        assert!(c.decrypt_message("x", "1", "2", "<xml><Encrypt>abc").is_err());
        assert!(matches!(c.decrypt_message("x", "1", "2", "<xml></xml>"), Err(CryptoError::Xml(_))));
        // A wrong length field: encrypt a body whose declared length exceeds what follows.
        let mut body = Vec::new();
        body.extend_from_slice(&[1u8; 16]);
        body.extend_from_slice(&1000u32.to_be_bytes());
        body.extend_from_slice(b"short");
        let pad = BLOCK - body.len() % BLOCK;
        body.extend(std::iter::repeat_n(pad as u8, pad));
        let len = body.len();
        let key = c.key;
        let enc = cbc::Encryptor::<Aes256>::new((&key).into(), key[..16].into())
            .encrypt_padded_mut::<NoPadding>(&mut body, len)
            .unwrap()
            .to_vec();
        assert_eq!(c.decrypt(&STRICT_ENCODE.encode(enc)), Err(CryptoError::BadLength));
    }

    #[test]
    fn replies_and_post_bodies_round_trip() {
        let c = MsgCrypt::new(C_TOKEN, C_KEY).unwrap();
        let reply = c.encrypt_reply("hello", "wxid", "1411525903", "n1");
        let d = c.decrypt_message(&extract(&reply, "MsgSignature"), "1411525903", "n1", &reply).unwrap();
        assert_eq!(d, Decrypted { message: "hello".into(), receive_id: "wxid".into() });
        let (body, signature) = c.encrypt_to_post_body("<xml/>", "dk1", "dk1", None, "1", "2");
        assert_eq!(c.decrypt_message(&signature, "1", "2", &body).unwrap().receive_id, "dk1");
    }

    fn extract(xml: &str, tag: &str) -> String {
        crate::event::flat_fields(xml).unwrap().into_iter().find(|(k, _)| k == tag).map(|(_, v)| v).unwrap()
    }

    proptest::proptest! {
        #[test]
        fn encrypt_then_decrypt_round_trips(message in ".{0,600}", receive_id in "[a-zA-Z0-9]{0,40}") {
            let c = MsgCrypt::new(C_TOKEN, C_KEY).unwrap();
            let encrypted = c.encrypt(&message, &receive_id);
            let d = c.decrypt(&encrypted).unwrap();
            proptest::prop_assert_eq!(d.message, message);
            proptest::prop_assert_eq!(d.receive_id, receive_id);
        }

        #[test]
        fn decrypt_never_panics(input in ".{0,200}") {
            let c = MsgCrypt::new(C_TOKEN, C_KEY).unwrap();
            let _ = c.decrypt(&input);
            let _ = c.decrypt_message("sig", "1", "2", &input);
        }
    }
}
