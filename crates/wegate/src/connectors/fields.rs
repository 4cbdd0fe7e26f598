//! Reading the admin's input for a connection: the helpers every kind's `validate` shares.

use serde_json::Value;

use super::adapter::Input;
use crate::store::Connection;

/// `WW_verify_<letters and digits>.txt`, nothing else: this serves a file at the domain root.
pub fn is_verification_filename(name: &str) -> bool {
    name.strip_prefix("WW_verify_")
        .and_then(|rest| rest.strip_suffix(".txt"))
        .is_some_and(|id| !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// The optional `domain_verification {filename, content}` any connection may carry (WeCom's trusted-domain
/// check): given now, kept from the stored connection, or removed with `null`.
pub fn validate_domain_verification(input: &Input, existing: Option<&Connection>) -> Result<Option<Value>, String> {
    let verification = match input.get("domain_verification") {
        Some(Value::Null) => None,
        Some(v) => Some(v.clone()),
        None => existing.and_then(|c| c.settings.get("domain_verification").cloned()),
    };
    let Some(v) = verification else { return Ok(None) };
    let filename = v.get("filename").and_then(Value::as_str).unwrap_or_default();
    let content = v.get("content").and_then(Value::as_str).unwrap_or_default();
    if !is_verification_filename(filename) {
        return Err("domain_verification.filename must be the WW_verify_….txt name WeCom gives".into());
    }
    if content.is_empty() || content.len() > 1024 {
        return Err("domain_verification.content must be the file's content (1 to 1024 characters)".into());
    }
    Ok(Some(serde_json::json!({"filename": filename, "content": content})))
}

/// A required non-empty string field.
pub fn required_str(input: &Input, field: &str) -> Result<String, String> {
    match input.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(Value::Number(n)) if field == "agent_id" => Ok(n.to_string()),
        Some(_) => Err(format!("{field} must be a non-empty string")),
        None => Err(format!("{field} is required")),
    }
}

pub fn optional_str(input: &Input, field: &str) -> Result<Option<String>, String> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(Value::Number(n)) if field == "agent_id" => Ok(Some(n.to_string())),
        Some(_) => Err(format!("{field} must be a string")),
    }
}

/// A secret: given now, or kept from the stored connection on update.
pub fn secret(
    input: &Input,
    field: &str,
    existing: Option<&Connection>,
    required: bool,
) -> Result<Option<String>, String> {
    if let Some(value) = optional_str(input, field)? {
        return Ok(Some(value));
    }
    let kept = existing.and_then(|c| c.secrets.get(field)).and_then(Value::as_str).map(String::from);
    match (kept, required) {
        (Some(v), _) => Ok(Some(v)),
        (None, true) => Err(format!("{field} is required")),
        (None, false) => Ok(None),
    }
}

/// A WeCom corp id: `ww…`/`wx…`, letters and digits.
pub fn check_corp_id(field: &str, value: &str) -> Result<(), String> {
    let ok = (value.starts_with("ww") || value.starts_with("wx"))
        && value.len() <= 64
        && value.chars().all(|c| c.is_ascii_alphanumeric());
    if ok { Ok(()) } else { Err(format!("{field} must be a WeCom corp id (starts with ww or wx, letters and digits)")) }
}

/// A WeCom AgentID: a positive integer.
pub fn check_agent_id(value: &str) -> Result<(), String> {
    match value.parse::<i64>() {
        Ok(n) if n > 0 => Ok(()),
        _ => Err("agent_id must be a positive integer (the app's AgentID)".to_string()),
    }
}

/// A string field of the stored settings or secrets.
pub fn field<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.get(name).and_then(Value::as_str).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_wecom_verification_names_are_served() {
        assert!(is_verification_filename("WW_verify_YnFHxjvF3Gtkueuq.txt"));
        assert!(!is_verification_filename("WW_verify_.txt"));
        assert!(!is_verification_filename("WW_verify_../../etc.txt"));
        assert!(!is_verification_filename("index.html"));
        assert!(!is_verification_filename("WW_verify_abc.txt.exe"));
    }
}
