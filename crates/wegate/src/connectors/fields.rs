//! Format checks shared by the kinds' `validate`, and the domain-verification file any connection may carry.

use crate::store::DomainFile;

/// `WW_verify_<letters and digits>.txt`, nothing else: this serves a file at the domain root.
pub fn is_verification_filename(name: &str) -> bool {
    name.strip_prefix("WW_verify_")
        .and_then(|rest| rest.strip_suffix(".txt"))
        .is_some_and(|id| !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// The `domain_verification {filename, content}` of WeCom's trusted-domain check.
pub fn validate_domain_file(file: &DomainFile) -> Result<(), String> {
    if !is_verification_filename(&file.filename) {
        return Err("domain_verification.filename must be the WW_verify_….txt name WeCom gives".into());
    }
    if file.content.is_empty() || file.content.len() > 1024 {
        return Err("domain_verification.content must be the file's content (1 to 1024 characters)".into());
    }
    Ok(())
}

/// A WeCom corp id, opaque (CONTRACT.md): 1 to 64 of `[A-Za-z0-9_-]`. Since 2022 delegated and third-party
/// apps see encrypted corp ids (`wpXXXX…`), not the plain `ww…` enterprise id.
pub fn check_corp_id(field: &str, value: &str) -> Result<(), String> {
    let ok =
        (1..=64).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok { Ok(()) } else { Err(format!("{field} must be a WeCom corp id (1 to 64 letters, digits, _ or -)")) }
}

/// A plain enterprise id as the admin console shows it (我的企业 → 企业ID): `ww…` (older corps `wx…`). The
/// encrypted ids WeCom gives provider apps since 2022 start `wp…` (path/96516), so this also tells a plain
/// id (case-insensitive) from an encrypted one (case-sensitive).
pub fn is_plain_corp_id(value: &str) -> bool {
    (value.starts_with("ww") || value.starts_with("wx"))
        && value.len() <= 64
        && value.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Token and EncodingAESKey of an event URL (any kind that has one).
pub fn validate_callback_secrets(token: &str, encoding_aes_key: &str) -> Result<(), String> {
    if token.is_empty() || token.len() > 32 || !token.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err("token must be the callback Token from WeCom: up to 32 letters and digits".into());
    }
    wecom::crypto::validate_encoding_aes_key(encoding_aes_key).map_err(|_| {
        "encoding_aes_key must be the 43 characters of base64 that WeCom generates (EncodingAESKey)".to_string()
    })
}

/// A WeCom AgentID: a positive integer.
pub fn check_agent_id(value: &str) -> Result<(), String> {
    match value.parse::<i64>() {
        Ok(n) if n > 0 => Ok(()),
        _ => Err("agent_id must be a positive integer (the app's AgentID)".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corp_ids_are_opaque() {
        for ok in ["ww0123456789abcdef", "wpKzQ-8_aBc", "x"] {
            assert!(check_corp_id("corp_id", ok).is_ok(), "{ok}");
        }
        for bad in ["", "ww 1", "ww/1", &"w".repeat(65)] {
            assert!(check_corp_id("corp_id", bad).is_err(), "{bad:?}");
        }
        assert!(is_plain_corp_id("ww0123") && !is_plain_corp_id("dk1234") && !is_plain_corp_id("wp-1"));
    }

    #[test]
    fn only_wecom_verification_names_are_served() {
        assert!(is_verification_filename("WW_verify_YnFHxjvF3Gtkueuq.txt"));
        assert!(!is_verification_filename("WW_verify_.txt"));
        assert!(!is_verification_filename("WW_verify_../../etc.txt"));
        assert!(!is_verification_filename("index.html"));
        assert!(!is_verification_filename("WW_verify_abc.txt.exe"));
    }
}
