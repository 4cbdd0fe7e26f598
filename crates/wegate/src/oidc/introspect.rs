//! `/introspect` (RFC 7662) for access tokens (JWT) and refresh tokens (opaque). The caller must
//! authenticate as a confidential client; an inactive, unknown or foreign token answers `{"active": false}`.

use axum::Json;
use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::client_auth::{FormParams, authenticate};
use super::error::OAuthError;
use super::userinfo::verify_access_token;
use crate::app::{App, AppState};
use crate::util::sha256_hex;

pub async fn introspect(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    match run(&app, &headers, pairs).await {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn run(app: &App, headers: &HeaderMap, pairs: Vec<(String, String)>) -> Result<Value, OAuthError> {
    let form = FormParams::parse(pairs)?;
    let client = authenticate(app, headers, &form).await?;
    // RFC 7662 §2.1 leaves the protection of the endpoint to the server, and §4 warns of token scanning:
    // only a client that proved a secret may ask (a public client's id is no credential at all). A public
    // client did not authenticate, hence 401 `invalid_client` (RFC 6749 §5.2), not `unauthorized_client`.
    if client.kind.is_public() {
        return Err(OAuthError::invalid_client("introspection needs an authenticated confidential client"));
    }
    let token = form.require("token")?;
    let hint = form.get("token_type_hint");
    let looks_like_jwt = token.matches('.').count() == 2;
    if looks_like_jwt
        && hint != Some("refresh_token")
        && let Ok((claims, _)) = verify_access_token(app, token).await
    {
        return Ok(json!({
            "active": true,
            "scope": claims.scope,
            "client_id": claims.client_id,
            "sub": claims.sub,
            "aud": claims.aud,
            "iss": claims.iss,
            "exp": claims.exp,
            "iat": claims.iat,
            "jti": claims.jti,
            "token_type": "Bearer",
        }));
    }
    if !looks_like_jwt && let Some(record) = app.store.get_refresh_token(&sha256_hex(token), app.now()).await? {
        // A refresh token is shown only to the client it was issued to.
        if record.client_id == client.client_id {
            return Ok(json!({
                "active": true,
                "scope": record.scope,
                "client_id": record.client_id,
                "sub": record.user_id,
                "iss": app.settings.issuer,
                "exp": record.expires_at,
                "iat": record.created_at,
                "token_type": "refresh_token",
            }));
        }
    }
    Ok(json!({"active": false}))
}
