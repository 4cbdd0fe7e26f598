//! The cookies of the hosted pages: `wegate_session` (single sign-on) and `wegate_browser` (binds a
//! login transaction to the browser that started it, so a callback URL replayed in another browser — login
//! CSRF — does nothing), and `wegate_lang` (the language chosen on a page). All HttpOnly, SameSite=Lax, Secure when the issuer is https.

use axum::http::{HeaderMap, HeaderValue, header};

pub const SESSION: &str = "wegate_session";
pub const BROWSER: &str = "wegate_browser";
/// The language a person chose on a page (`en` or `zh`); `ui_locales` still wins over it.
pub const LANGUAGE: &str = "wegate_lang";

/// The value of cookie `name` in the request, if any. Two different values under one name mean that someone
/// planted a cookie beside ours (from a sibling subdomain, or with a longer path, which browsers send first):
/// neither is trusted, so a tossed session cannot sign the browser in as someone else (login CSRF).
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'));
    let first = values.next()?;
    if values.any(|other| other != first) {
        return None;
    }
    Some(first).filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value. `max_age` None = session cookie; Some(0) deletes.
pub fn set(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> HeaderValue {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    // Our names and values are base64url/alphanumeric: always a valid header value.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("wegate_invalid=1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_named_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, "a=1; wegate_session=abc".parse().unwrap());
        headers.append(header::COOKIE, "wegate_browser=xyz".parse().unwrap());
        assert_eq!(get(&headers, SESSION), Some("abc"));
        assert_eq!(get(&headers, BROWSER), Some("xyz"));
        assert_eq!(get(&headers, "missing"), None);
        let mut tossed = HeaderMap::new();
        tossed.append(header::COOKIE, "wegate_session=planted; wegate_session=abc".parse().unwrap());
        assert_eq!(get(&tossed, SESSION), None, "a planted twin makes neither trusted");
        let mut twice = HeaderMap::new();
        twice.append(header::COOKIE, "wegate_session=abc; wegate_session=abc".parse().unwrap());
        assert_eq!(get(&twice, SESSION), Some("abc"));
        let v = set(SESSION, "abc", Some(60), true);
        assert_eq!(v.to_str().unwrap(), "wegate_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure");
    }
}
