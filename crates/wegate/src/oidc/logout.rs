//! `/logout` (OIDC RP-Initiated Logout 1.0): ends the browser session and redirects only to a
//! `post_logout_redirect_uri` registered for the app named by `id_token_hint` or `client_id`.

use std::collections::HashMap;

use axum::extract::{Form, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

use super::redirect::{redirect, with_params};
use crate::app::{App, AppState};
use crate::store::Session;
use crate::util::{secure_eq, sha256_hex};
use crate::web::cookies;
use crate::web::error::PageError;
use crate::web::i18n::{Lang, Msg};

pub async fn logout_get(State(app): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    logout(&app, &headers, pairs.into_iter().collect(), false).await
}

pub async fn logout_post(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    logout(&app, &headers, pairs.into_iter().collect(), true).await
}

/// `post` is true for a form POST: only a POST can confirm a sign-out (a link or an image cannot).
async fn logout(app: &App, headers: &HeaderMap, params: HashMap<String, String>, post: bool) -> Response {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let lang = Lang::pick(get("ui_locales"), headers);

    // The hint may be expired (it usually is by logout time) but must be ours, and an ID token (`typ` JWT):
    // an access token (`at+jwt`), which resource servers see, is no hint.
    let hint_claims = match get("id_token_hint") {
        Some(hint) => match app.keys.verify_hint::<Value>(app.store.as_ref(), hint, &app.settings.issuer).await {
            Some(claims) => Some(claims),
            None => return PageError::bad_request(lang, Msg::BadIdTokenHint).into_response(),
        },
        None => None,
    };
    let hinted_client = hint_claims.as_ref().and_then(|claims| {
        claims.get("aud").and_then(|a| match a {
            Value::String(s) => Some(s.clone()),
            Value::Array(v) => v.first().and_then(Value::as_str).map(String::from),
            _ => None,
        })
    });
    let session_cookie = cookies::get(headers, cookies::SESSION);
    // The browser's live session, if its cookie names one: a cookie whose session already ended has nothing
    // left to end, and needs no confirmation.
    let session = match session_cookie {
        Some(cookie) => match app.store.get_session(&sha256_hex(cookie), app.now()).await {
            Ok(session) => session,
            Err(e) => return PageError::internal(lang, &e).into_response(),
        },
        None => None,
    };
    // The hint says the app asked only when it was issued for this browser's own session: its `sub`, and
    // its `sid` when it has one. Anyone's ID token would otherwise sign anyone out without a question.
    let hinted = matches!((&hint_claims, &session), (Some(claims), Some(session)) if hint_is_for(claims, session));
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

    // Without a valid id_token_hint for this session, nothing says the app asked: the person confirms, with a
    // token only a page of ours can carry (derived from the HttpOnly session cookie), so another site cannot
    // sign them out.
    if !hinted
        && session.is_some()
        && let Some(cookie) = session_cookie
    {
        let expected = confirmation_token(cookie);
        let confirmed = post && get("confirm").is_some_and(|c| secure_eq(c, &expected));
        if !confirmed {
            let mut fields: Vec<(&str, &str)> =
                ["id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales"]
                    .into_iter()
                    .filter_map(|k| get(k).map(|v| (k, v)))
                    .collect();
            fields.push(("confirm", &expected));
            return match crate::web::templates::render("logout.html", lang, minijinja::context! { fields }) {
                Ok(body) => {
                    let mut page = Html(body).into_response();
                    page.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    page
                }
                Err(e) => PageError::internal(lang, &e).into_response(),
            };
        }
    }
    if let Some(cookie) = session_cookie
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

/// Whether an ID token was issued for this session: same `sub`, and the same `sid` when the token has one.
fn hint_is_for(claims: &Value, session: &Session) -> bool {
    let sub_matches = claims.get("sub").and_then(Value::as_str) == Some(session.user_id.as_str());
    let sid_matches = match claims.get("sid").and_then(Value::as_str) {
        Some(sid) => !session.sid.is_empty() && secure_eq(sid, &session.sid),
        None => true,
    };
    sub_matches && sid_matches
}

/// The confirmation token of a sign-out: bound to the session cookie, which only this browser has.
fn confirmation_token(session_cookie: &str) -> String {
    sha256_hex(&format!("wegate logout confirmation|{session_cookie}"))
}
