//! `/api/v1/keys`: the signing keys with their states (next, signing, retiring, retired), and their rotation
//! (`POST /api/v1/keys/rotate`, `{"now": true}` to sign with the new keys at once). `wegate keys` uses these
//! when a running server holds the SQLite file.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use serde::{Deserialize, Serialize};

use super::common::{Actor, ApiError, ApiResult};
use crate::app::AppState;
use crate::audit::Audit;
use crate::oidc::keys::{KeyState, KeyStatus, key_states, rotate};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    pub kid: String,
    /// `RS256` (ID tokens, and access tokens unless ES256) or `ES256`.
    pub alg: String,
    /// `next` (published, not signing yet), `signing`, `retiring` (published while tokens it signed may be
    /// valid), `retired` (no longer published).
    #[schema(value_type = String)]
    pub state: KeyState,
    pub created_at: i64,
    /// When it signs (or signed) from.
    pub signs_from: i64,
    /// When its state ends: a next key's first signature, a retiring key's leaving the JWKS.
    pub until: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyList {
    pub items: Vec<KeyView>,
}

fn view(statuses: Vec<KeyStatus>) -> KeyList {
    KeyList {
        items: statuses
            .into_iter()
            .map(|s| KeyView {
                kid: s.key.kid.clone(),
                alg: s.key.alg.clone(),
                state: s.state,
                created_at: s.key.created_at,
                signs_from: s.key.signs_from(),
                until: s.until,
            })
            .collect(),
    }
}

#[utoipa::path(get, path = "/api/v1/keys", responses((status = 200, body = KeyList)))]
pub async fn list_keys(State(app): State<AppState>) -> ApiResult<Json<KeyList>> {
    let all = app.store.list_signing_keys().await?;
    Ok(Json(view(key_states(&all, app.now(), app.settings.key_retire_after()))))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    /// Sign with the new keys at once, instead of after `WEGATE_KEY_PUBLISH_DELAY` seconds.
    #[serde(default)]
    pub now: bool,
}

#[utoipa::path(post, path = "/api/v1/keys/rotate", request_body = RotateBody, responses((status = 200, body = KeyList)))]
pub async fn rotate_keys(
    State(app): State<AppState>,
    actor: Actor,
    payload: Result<Json<RotateBody>, JsonRejection>,
) -> ApiResult<Json<KeyList>> {
    // An empty body is a rotation with the publish delay.
    let body = match payload {
        Ok(Json(body)) => body,
        Err(JsonRejection::MissingJsonContentType(_)) => RotateBody::default(),
        Err(e) => return Err(ApiError::invalid(e.body_text())),
    };
    let now = app.now();
    let retire_after = app.settings.key_retire_after();
    let statuses = rotate(app.store.as_ref(), now, app.settings.key_publish_delay, body.now, retire_after)
        .await
        .map_err(|e| crate::store::StoreError::Backend(e.to_string()))?;
    // This instance publishes (and, with `now`, signs with) the new keys at once; the others within
    // `KeyRing::RELOAD_EVERY` seconds.
    if let Err(e) = app.keys.reload(app.store.as_ref(), now).await {
        tracing::warn!(error = %e, "reading the rotated keys failed");
    }
    let waiting: Vec<&str> =
        statuses.iter().filter(|s| s.state == KeyState::Next).map(|s| s.key.kid.as_str()).collect();
    let reason = if body.now { "signing now".to_string() } else { format!("next: {}", waiting.join(", ")) };
    Audit::new("keys.rotated").actor(&actor.0).reason(&reason).write(&app).await;
    Ok(Json(view(statuses)))
}
