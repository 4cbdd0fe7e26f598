//! `/logout` (OIDC RP-Initiated Logout 1.0): ends the browser session and redirects only to a
//! `post_logout_redirect_uri` registered for the app named by `id_token_hint` or `client_id`.

use std::collections::HashMap;

use axum::extract::{Form, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

use super::redirect::{redirect, with_params};
use crate::app::{App, AppState};
use crate::util::sha256_hex;
use crate::web::cookies;
use crate::web::error::PageError;
use crate::web::i18n::{Lang, Msg};

pub async fn logout_get(State(app): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    logout(&app, &headers, pairs.into_iter().collect()).await
}

pub async fn logout_post(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    logout(&app, &headers, pairs.into_iter().collect()).await
}

async fn logout(app: &App, headers: &HeaderMap, params: HashMap<String, String>) -> Response {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let lang = Lang::pick(get("ui_locales"), headers);

    // The hint may be expired (it usually is by logout time) but must be ours.
    let hinted_client = match get("id_token_hint") {
        Some(hint) => match app.keys.verify::<Value>(hint, &app.settings.issuer, None, None) {
            Some(claims) => claims.get("aud").and_then(|a| match a {
                Value::String(s) => Some(s.clone()),
                Value::Array(v) => v.first().and_then(Value::as_str).map(String::from),
                _ => None,
            }),
            None => {
                return PageError::bad_request(lang, Msg::BadIdTokenHint).into_response();
            }
        },
        None => None,
    };
    let client_id = match (hinted_client, get("client_id")) {
        (Some(a), Some(b)) if a != b => {
            return PageError::bad_request(lang, Msg::ClientMismatch).into_response();
        }
        (Some(a), _) => Some(a),
        (None, b) => b.map(String::from),
    };

    let mut target = None;
    if let Some(uri) = get("post_logout_redirect_uri") {
        let registered = match &client_id {
            Some(id) => match app.store.get_app(id).await {
                Ok(Some(client)) => client.post_logout_redirect_uris.iter().any(|u| u == uri),
                Ok(None) => false,
                Err(e) => return PageError::internal(lang, &e).into_response(),
            },
            None => false,
        };
        if !registered {
            tracing::warn!(uri, client_id = ?client_id, "logout: post_logout_redirect_uri not registered");
            return PageError::bad_request(lang, Msg::UnregisteredLogoutRedirect)
                .hint(Msg::UnregisteredLogoutRedirectHint)
                .into_response();
        }
        let mut extra = Vec::new();
        if let Some(state) = get("state") {
            extra.push(("state", state));
        }
        target = Some(with_params(uri, &extra));
    }

    if let Some(cookie) = cookies::get(headers, cookies::SESSION)
        && let Err(e) = app.store.delete_session(&sha256_hex(cookie)).await
    {
        return PageError::internal(lang, &e).into_response();
    }
    let mut response = match target {
        Some(location) => redirect(&location),
        None => {
            let body = crate::web::templates::render(
                "message.html",
                lang,
                minijinja::context! { title => lang.t(Msg::SignedOut), message => lang.t(Msg::SignedOut) },
            )
            .unwrap_or_default();
            Html(body).into_response()
        }
    };
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookies::set(cookies::SESSION, "", Some(0), app.settings.secure_cookies()));
    response
}
