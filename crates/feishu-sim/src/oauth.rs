//! `POST /open/open-apis/authen/v2/oauth/token` [FS-tok][FS-refresh]: "follows RFC 6749", so unlike the rest of
//! open.feishu.cn its errors are HTTP 400/500/503 with `{code, error, error_description}`, never 200 + code.
//! Each Feishu code gets the RFC 6749 §5.2 `error` that fits it (the mapping is ours; the doc gives only codes).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::Shared;
use crate::seed::UserStatus;
use crate::state::{CODE_TTL, Holder, REFRESH_TTL, Refresh, TOKEN_TTL, Token, World, random_token};

/// A Feishu error code of this endpoint.
pub(crate) struct OAuthErr(pub(crate) i64);

/// [FS-tok][FS-refresh] HTTP status, RFC 6749 `error`, and the doc's description (first sentence) per code.
fn row(code: i64) -> (u16, &'static str, &'static str) {
    match code {
        20001 => (400, "invalid_request", "The request is missing a required parameter."),
        20002 => (400, "invalid_client", "The client secret is invalid."),
        20003 => (400, "invalid_grant", "The authorization code is not found."),
        20004 => (400, "invalid_grant", "The authorization code has expired."),
        20008 => (400, "invalid_grant", "The user does not exist."),
        20009 => (400, "invalid_grant", "The specified app is not installed."),
        20010 => (400, "invalid_grant", "The user does not have permission to use this app."),
        20024 => (400, "invalid_grant", "The authorization code or refresh token does not match the client ID."),
        20026 => (400, "invalid_grant", "The refresh token is invalid."),
        20036 => (400, "unsupported_grant_type", "The specified grant_type is not supported."),
        20037 => (400, "invalid_grant", "The refresh token has expired."),
        20048 => (400, "invalid_client", "The specified app does not exist."),
        20049 => (400, "invalid_grant", "PKCE code challenge failed."),
        20050 => (500, "server_error", "An unexpected server error occurred. Please retry your request."),
        20065 => (400, "invalid_grant", "The authorization code has been used."),
        20066 => (400, "invalid_grant", "The user status is invalid."),
        20067 => (400, "invalid_scope", "The provided scope list contains duplicate scopes."),
        20068 => (400, "invalid_scope", "The provided scope list contains scopes that are not permitted."),
        20070 => (400, "invalid_request", "Multiple authentication methods were provided."),
        20071 => (400, "invalid_grant", "The provided redirect URI does not match the one used during authorization."),
        20072 => (503, "temporarily_unavailable", "The server is temporarily unavailable. Please retry your request."),
        20073 => (400, "invalid_grant", "The refresh token has been used."),
        // 20063 and anything else: a malformed request.
        _ => (400, "invalid_request", "The request is malformed. Please check your request."),
    }
}

/// The error body of this endpoint (also what `/_sim/faults` with `status` answers).
pub(crate) fn error_response(status: u16, code: i64, error: &str, description: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({"code": code, "error": error, "error_description": description});
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

impl IntoResponse for OAuthErr {
    fn into_response(self) -> Response {
        let (status, error, description) = row(self.0);
        error_response(status, self.0, error, description)
    }
}

pub(crate) async fn token(State(inner): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let now = inner.now();
    let result = exchange(&mut inner.world(), &headers, &body, now);
    match result {
        Ok(v) => ([(header::CACHE_CONTROL, "no-store")], Json(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A string field: absent or empty → 20001, not a string → 20063.
fn field<'a>(body: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, OAuthErr> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(OAuthErr(20063)),
    }
}

fn required<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a str, OAuthErr> {
    field(body, name)?.ok_or(OAuthErr(20001))
}

fn exchange(w: &mut World, headers: &HeaderMap, raw: &[u8], now: i64) -> Result<Value, OAuthErr> {
    // [FS-tok] Content-Type application/json and a JSON object; a form body is a missing-parameter error.
    let body = match serde_json::from_slice(raw) {
        Ok(Value::Object(m)) if crate::is_json(headers) => m,
        _ => return Err(OAuthErr(20001)),
    };
    // [FS-tok] 20070: HTTP Basic and a body client_secret together. Basic alone leaves client_secret, a
    // required body field [FS-tok], missing → 20001.
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 6 && v[..6].eq_ignore_ascii_case("basic "));
    if basic && field(&body, "client_secret")?.is_some() {
        return Err(OAuthErr(20070));
    }
    let grant = required(&body, "grant_type")?;
    if grant != "authorization_code" && grant != "refresh_token" {
        return Err(OAuthErr(20036));
    }
    let (client_id, secret) = (required(&body, "client_id")?, required(&body, "client_secret")?);
    let app = w.app(client_id).ok_or(OAuthErr(20048))?;
    if app.app_secret != secret {
        return Err(OAuthErr(20002));
    }
    let narrow = field(&body, "scope")?;
    let (user, scopes) = if grant == "authorization_code" {
        let code = required(&body, "code")?;
        // [FS-tok] 20065 for a code already redeemed, 20003 for one never issued.
        if w.spent_codes.contains(code) {
            return Err(OAuthErr(20065));
        }
        let c = w.codes.get(code).ok_or(OAuthErr(20003))?;
        // [FS-tok] 20024: another app's code. It is not spent: the rightful client may still redeem it.
        if c.app_id != client_id {
            return Err(OAuthErr(20024));
        }
        // Single use [FS-authz]: spent by the first presentation from its own client, whatever follows
        // (RFC 6749 §4.1.2; that a failed exchange also spends it is UNCONFIRMED, the stricter reading).
        let c = w.codes.remove(code).ok_or(OAuthErr(20003))?;
        w.spent_codes.insert(code.to_owned());
        if now - c.issued_at >= CODE_TTL {
            return Err(OAuthErr(20004));
        }
        // [FS-tok] 20071: redirect_uri must equal the authorize request's, byte for byte. The doc marks it
        // optional; since authorize always has one, omitting it here is refused too (RFC 6749 §4.1.3; strict).
        if field(&body, "redirect_uri")? != Some(c.redirect_uri.as_str()) {
            return Err(OAuthErr(20071));
        }
        pkce(c.challenge.as_ref(), field(&body, "code_verifier")?)?;
        let scopes = narrowed(narrow, &c.requested)?.unwrap_or(c.granted);
        (c.user, scopes)
    } else {
        let rt = required(&body, "refresh_token")?;
        // [FS-refresh] single use: a used one answers 20073, an unknown one 20026.
        if w.spent_refresh.contains(rt) {
            return Err(OAuthErr(20073));
        }
        let r = w.refresh.get(rt).ok_or(OAuthErr(20026))?;
        if r.app_id != client_id {
            return Err(OAuthErr(20024));
        }
        let r = w.refresh.remove(rt).ok_or(OAuthErr(20026))?;
        w.spent_refresh.insert(rt.to_owned());
        if r.expires_at <= now {
            return Err(OAuthErr(20037));
        }
        let scopes = narrowed(narrow, &r.scopes)?.unwrap_or(r.scopes);
        (r.user, scopes)
    };
    check_user(w, client_id, &user)?;
    Ok(issue(w, client_id, &user, scopes, now))
}

/// [FS-authz][FS-tok] PKCE: S256 or plain per the code's method (plain when none was named); a challenge needs
/// a verifier (43–128 unreserved characters, RFC 7636 §4.1). A verifier for a code without challenge is refused
/// too (UNCONFIRMED; strict: the client lost its challenge somewhere).
fn pkce(challenge: Option<&(String, bool)>, verifier: Option<&str>) -> Result<(), OAuthErr> {
    let ok = match (challenge, verifier) {
        (None, None) => true,
        (Some((c, s256)), Some(v)) => {
            let well_formed =
                (43..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            let derived = if *s256 { URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())) } else { v.to_owned() };
            well_formed && &derived == c
        }
        _ => false,
    };
    if ok { Ok(()) } else { Err(OAuthErr(20049)) }
}

/// [FS-tok] the optional `scope` narrows the token: no duplicates (20067), each within `allowed` (20068).
fn narrowed(scope: Option<&str>, allowed: &[String]) -> Result<Option<Vec<String>>, OAuthErr> {
    let Some(scope) = scope else { return Ok(None) };
    let mut out: Vec<String> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if out.iter().any(|o| o == s) {
            return Err(OAuthErr(20067));
        }
        if !allowed.iter().any(|a| a == s) {
            return Err(OAuthErr(20068));
        }
        out.push(s.to_owned());
    }
    Ok(Some(out))
}

/// [FS-tok] the user must exist (20008), be in a tenant with the app installed (20009), be active (20066 for
/// resigned and frozen alike: "user status is invalid"; user_info's 20021/20022 are that endpoint's), and be in
/// the app's availability (20010). Checked at every exchange, refreshes included: the doc's 20010 advice
/// ("是否仍具有应用使用权限", still has access) reads as a re-check.
fn check_user(w: &World, app_id: &str, user: &str) -> Result<(), OAuthErr> {
    let ((tenant, u), app) = (w.user(user).ok_or(OAuthErr(20008))?, w.app(app_id).ok_or(OAuthErr(20048))?);
    if !app.installed_in.contains(&tenant.tenant_key) {
        return Err(OAuthErr(20009));
    }
    if u.status != UserStatus::Active {
        return Err(OAuthErr(20066));
    }
    if !app.available(user) {
        return Err(OAuthErr(20010));
    }
    Ok(())
}

/// A user token (long, like the doc's 1–2 KB tokens) and, only with `offline_access`, a refresh token.
fn issue(w: &mut World, app_id: &str, user: &str, scopes: Vec<String>, now: i64) -> Value {
    let access = random_token("u-", 900);
    let holder = Holder::User { app_id: app_id.into(), user: user.into(), scopes: scopes.clone() };
    w.tokens.insert(access.clone(), Token { holder, expires_at: now + TOKEN_TTL });
    let mut out = json!({
        "code": 0,
        "access_token": access,
        "expires_in": TOKEN_TTL,
        "scope": scopes.join(" "),
        "token_type": "Bearer",
    });
    // [FS-tok] refresh_token and refresh_token_expires_in only with offline_access granted.
    if scopes.iter().any(|s| s == "offline_access") {
        let rt = random_token("ur-", 900);
        let r = Refresh { app_id: app_id.into(), user: user.into(), scopes, expires_at: now + REFRESH_TTL };
        w.refresh.insert(rt.clone(), r);
        out["refresh_token"] = json!(rt);
        out["refresh_token_expires_in"] = json!(REFRESH_TTL);
    }
    out
}
