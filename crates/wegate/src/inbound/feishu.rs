//! `POST /connections/{identifier}/events` of a `feishu_marketplace` connection: Feishu's HTTP event mode
//! ([FS-evt-srv][FS-evt]). Every body is encrypted with the app's Encrypt Key; the `url_verification`
//! challenge is checked by its Verification Token (Feishu does not sign it) and answered at once (Feishu wants
//! it within 1 s); every other push must also carry a valid `X-Lark-Signature`. Delivery is at-least-once, so
//! an event id seen before is acknowledged without acting, and an `app_ticket` older than the one kept never
//! replaces it: a forged or replayed push changes nothing.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;
use crate::connectors::feishu as connector;
use crate::store::{Connection, FeishuMarketplaceSettings, KindSettings};

/// How long an event id is remembered: past Feishu's last retry (6 h after the first push) with room.
const SEEN_FOR: i64 = 2 * 24 * 3600;

/// The Feishu answer for `identifier`'s event URL, or None when the connection is not a marketplace app (its
/// events are WeCom's).
pub async fn receive(app: &AppState, connection: &Connection, headers: &HeaderMap, body: &[u8]) -> Option<Response> {
    let KindSettings::FeishuMarketplace(settings) = &connection.settings else { return None };
    Some(handle(app, connection, settings, headers, body).await)
}

async fn handle(
    app: &AppState,
    connection: &Connection,
    s: &FeishuMarketplaceSettings,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let identifier = connection.identifier.as_str();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signed = match (header("x-lark-request-timestamp"), header("x-lark-request-nonce"), header("x-lark-signature"))
    {
        (Some(timestamp), Some(nonce), Some(signature)) => Some(feishu::event::Signed { timestamp, nonce, signature }),
        _ => None,
    };
    let event = match feishu::event::open(&s.encrypt_key, &s.verification_token, body, signed) {
        Ok(event) => event,
        Err(e) => {
            // One answer for every failure before the push is authenticated: a different status or text for
            // "does not decrypt" and "decrypts to garbage" would be a CBC padding oracle.
            tracing::warn!(connection = %identifier, cause = %e, "Feishu event refused");
            return (StatusCode::UNAUTHORIZED, "refused").into_response();
        }
    };
    if let feishu::Event::UrlVerification { challenge } = &event {
        // Answered at once (Feishu's deadline is 1 s); the challenge is unsigned and replayable, so what follows
        // is bounded: the first verification is recorded once, and a missing ticket asked for at most once a
        // minute — after Feishu saved the URL.
        if connection.state.get("url_verified_at").is_none() {
            tracing::info!(connection = %identifier, "Feishu verified the event URL");
            let _ =
                app.store.merge_connection_state(identifier, json!({"url_verified_at": app.now()}), app.now()).await;
            let credential = feishu::AppCredential { app_id: s.app_id.clone(), app_secret: s.app_secret.clone() };
            let (app, key) = (app.clone(), connector::ticket_key(identifier));
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                if app.store.get_suite_ticket(&key).await.ok().flatten().is_none() {
                    connector::ask_for_ticket(&app, &credential).await;
                }
            });
        }
        return axum::Json(json!({ "challenge": challenge })).into_response();
    }
    let Some(id) = event.id() else { return StatusCode::OK.into_response() };
    let key = format!("feishu:{identifier}:{id}");
    match app.store.remember_callback(&key, app.now() + SEEN_FOR).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(connection = %identifier, event = ?id, "Feishu event seen before: acknowledged");
            return axum::Json(json!({})).into_response();
        }
        Err(e) => {
            tracing::error!(connection = %identifier, error = %e, "cannot record the Feishu event");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    if let feishu::Event::AppTicket { app_id, ticket, ts, .. } = event {
        if app_id != s.app_id {
            tracing::warn!(connection = %identifier, app_id = ?app_id, "an app_ticket of another app: ignored");
        } else if let Err(e) = connector::keep_ticket(app, identifier, ticket, ts).await {
            // Not kept: let Feishu retry it.
            let _ = app.store.forget_callback(&key).await;
            tracing::error!(connection = %identifier, error = %e, "cannot keep the app_ticket");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        } else {
            tracing::info!(connection = %identifier, "Feishu app_ticket kept");
        }
    }
    axum::Json(json!({})).into_response()
}
