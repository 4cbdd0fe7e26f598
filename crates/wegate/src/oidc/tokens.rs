//! Token issuance: the ID token (OIDC Core §2), the JWT access token (RFC 9068) and the opaque, hashed,
//! rotating refresh token. Two RSA signatures per issuance — the costliest step of a login.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::error::OAuthError;
use crate::app::App;
use crate::store::{RefreshToken, User};
use crate::util::{random_alnum, random_token, sha256_b64url, sha256_hex};

/// What a grant hands to [`issue`].
pub struct Issue<'a> {
    pub client_id: &'a str,
    pub user: &'a User,
    pub scope: &'a str,
    pub nonce: Option<&'a str>,
    pub auth_time: i64,
    pub amr: &'a str,
    pub session_id: Option<&'a str>,
    pub grant_id: &'a str,
    /// The grant's first issuance (a code redeemed, a token exchange): its first refresh token keeps the
    /// grant's origin as long as the grant may live ([`origin_horizon`] until then).
    pub first: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub id_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
    /// RFC 8693 §2.2.1: set for token exchange.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<String>,
}

/// Claims of an access token we issued (RFC 9068 §2.2), as read back by userinfo/introspection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub scope: String,
    #[serde(default)]
    pub auth_time: Option<i64>,
    /// The grant (token family) this token belongs to; revoking the grant revokes the token.
    pub gid: String,
}

pub fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split_whitespace().any(|s| s == wanted)
}

/// The user's claims released for `scope` (OIDC Core §5.4), shared by the ID token and userinfo.
pub fn user_claims(user: &User, scope: &str) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.id));
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            claims.insert(k.into(), json!(v));
        }
    };
    if has_scope(scope, "profile") {
        put("name", &user.name);
        // A local username, else the one an OpenID Connect provider gave (kept with the user's claims).
        let upstream_username = user.claims.get("preferred_username").and_then(Value::as_str).map(str::to_string);
        put("preferred_username", &user.username.clone().or(upstream_username));
        put("picture", &user.picture);
    }
    if has_scope(scope, "email") {
        put("email", &user.email);
    }
    if has_scope(scope, "phone") {
        put("phone_number", &user.phone);
    }
    if has_scope(scope, "email") && user.email.is_some() {
        // A corp admin sets WeCom emails freely: verified only where someone vouched (the connection's
        // `trust_email`, or the admin for a local account).
        let verified = user.claims.get(crate::store::EMAIL_VERIFIED).and_then(Value::as_bool).unwrap_or(false);
        claims.insert("email_verified".into(), json!(verified));
    }
    if has_scope(scope, "profile") {
        if let Some(extra) = user.claims.as_object() {
            for (k, v) in extra {
                // The upstream organisation's namespaced claims (WeCom's corp and userid, DingTalk's, Feishu's).
                if k.starts_with("wecom_") || k.starts_with("dingtalk_") || k.starts_with("feishu_") {
                    claims.insert(k.clone(), v.clone());
                }
            }
        }
        claims.insert("updated_at".into(), json!(user.updated_at));
    }
    claims
}

/// Signs the ID token and access token and, when `offline_access` was granted, stores a refresh token.
pub async fn issue(app: &App, req: Issue<'_>) -> Result<TokenResponse, OAuthError> {
    // Whatever the grant: a disabled account gets nothing (its grants were revoked when it was disabled; a
    // code issued in the same instant must not slip through).
    if req.user.disabled {
        return Err(OAuthError::invalid_grant("the account is disabled"));
    }
    let now = app.now();
    let settings = &app.settings;
    let access_claims = AccessClaims {
        iss: settings.issuer.clone(),
        sub: req.user.id.clone(),
        aud: req.client_id.to_string(),
        client_id: req.client_id.to_string(),
        exp: now + settings.access_token_ttl,
        iat: now,
        jti: random_alnum(22),
        scope: req.scope.to_string(),
        auth_time: Some(req.auth_time),
        gid: req.grant_id.to_string(),
    };
    let access_token = app.keys.sign(now, "at+jwt", &access_claims).map_err(|e| OAuthError::server_error(&e))?;

    let mut id_claims = user_claims(req.user, req.scope);
    id_claims.insert("iss".into(), json!(settings.issuer));
    id_claims.insert("aud".into(), json!(req.client_id));
    id_claims.insert("azp".into(), json!(req.client_id));
    id_claims.insert("iat".into(), json!(now));
    id_claims.insert("exp".into(), json!(now + settings.id_token_ttl));
    id_claims.insert("auth_time".into(), json!(req.auth_time));
    id_claims.insert("amr".into(), json!([req.amr]));
    // The browser session the login came from (OIDC Front/Back-Channel Logout): never the cookie.
    if let Some(sid) = req.session_id {
        id_claims.insert("sid".into(), json!(sid));
    }
    if let Some(nonce) = req.nonce {
        id_claims.insert("nonce".into(), json!(nonce));
    }
    // at_hash (OIDC Core §3.1.3.6): left half of SHA-256 of the access token, base64url.
    let digest = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(access_token.as_bytes()));
    id_claims.insert("at_hash".into(), json!(base64url(&digest[..16])));
    let id_token = app.keys.sign(now, "JWT", &Value::Object(id_claims)).map_err(|e| OAuthError::server_error(&e))?;

    let refresh_token = if has_scope(req.scope, "offline_access") {
        let token = random_token();
        let record = RefreshToken {
            token_hash: sha256_hex(&token),
            grant_id: req.grant_id.to_string(),
            client_id: req.client_id.to_string(),
            user_id: req.user.id.clone(),
            scope: req.scope.to_string(),
            session_id: req.session_id.map(String::from),
            auth_time: req.auth_time,
            amr: req.amr.to_string(),
            created_at: now,
            expires_at: now + settings.refresh_token_ttl,
        };
        if req.first {
            // A day past the grant's horizon, as each refresh keeps it (`grants::refresh_token`): the first
            // refreshes then find it long enough and write nothing.
            app.store.start_refresh_family(record, grant_horizon(app, now) + 86_400).await?;
        } else {
            app.store.put_refresh_token(record).await?;
        }
        Some(token)
    } else {
        None
    };

    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: settings.access_token_ttl,
        id_token,
        refresh_token,
        scope: req.scope.to_string(),
        issued_token_type: None,
    })
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// How long a grant's origin is first kept: while its code may be redeemed and the tokens of that code may
/// live, and at least as long as a browser session (the app's own session, which a back-channel logout
/// ends, is one of ours by its `sid`). A grant that gets a refresh token keeps it up to [`grant_horizon`]
/// (`start_refresh_family`); an authorization request that is never redeemed leaves nothing for 30 days.
pub fn origin_horizon(app: &App, now: i64) -> i64 {
    let tokens = app.settings.code_ttl + app.settings.access_token_ttl.max(app.settings.id_token_ttl);
    now + tokens.max(app.settings.session_ttl)
}

/// The longest any token of a grant can live: how long a revocation must be remembered.
pub fn grant_horizon(app: &App, now: i64) -> i64 {
    now + app.settings.refresh_token_ttl.max(app.settings.access_token_ttl).max(app.settings.id_token_ttl)
}

/// PKCE S256 check (RFC 7636 §4.6), constant time.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    crate::util::secure_eq(&sha256_b64url(verifier.as_bytes()), challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_example() {
        assert!(pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }
}
