//! `/authorize` (OIDC Core §3.1.2), the first step of the browser login: validates the request, then either answers at once from the browser's
//! single-sign-on session, or records a login transaction and shows the hosted login page (or goes
//! straight to the connection named by `connection=`).
//!
//! Order matters: the client and its redirect_uri are checked first and a failure there is an error page,
//! never a redirect (RFC 6749 §4.1.2.1); every later failure is an error redirect to the verified URI.

use std::collections::HashMap;

use axum::extract::{Form, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::finalize::complete_from_session;
use super::{page, sso, start};
use crate::app::{App, AppState};
use crate::connectors;
use crate::oidc::SCOPES;
use crate::oidc::redirect::{ErrorRedirect, error_redirect};
use crate::store::{App as Client, LoginTx};
use crate::util::{random_alnum, random_token, sha256_hex};
use crate::web::cookies;
use crate::web::error::{OrPage, PageError};
use crate::web::i18n::{Lang, Msg};

pub async fn authorize_get(State(app): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    authorize(&app, &headers, pairs).await
}

pub async fn authorize_post(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    authorize(&app, &headers, pairs).await
}

/// The `prompt` values understood. Discovery advertises `none` and `login`, the ones with a behaviour of
/// their own; `select_account` signs in again (there is no account chooser), and `consent` asks nothing:
/// wegate is the company's own broker, with no third-party consent to give.
pub const PROMPTS: &[&str] = &["none", "login", "consent", "select_account"];

/// Live login transactions kept per browser; older ones are dropped when a new one starts.
const LIVE_TRANSACTIONS_PER_BROWSER: u32 = 20;
/// Bounds of an authorization request (CONTRACT.md): one parameter, and all of them.
const MAX_PARAMETER: usize = 2048;
const MAX_PARAMETERS: usize = 8192;

/// Request parameters, each at most once (RFC 6749 §3.1).
struct Params {
    map: HashMap<String, String>,
    duplicated: Option<String>,
    /// The first parameter over [`MAX_PARAMETER`] bytes, or `*` when all of them exceed [`MAX_PARAMETERS`].
    oversized: Option<String>,
}

impl Params {
    fn new(pairs: Vec<(String, String)>) -> Params {
        let mut map = HashMap::new();
        let mut duplicated = None;
        let mut oversized = None;
        let mut total = 0;
        for (k, v) in pairs {
            if map.contains_key(&k) {
                duplicated.get_or_insert(k.clone());
            }
            if k.len() + v.len() > MAX_PARAMETER {
                oversized.get_or_insert(k.clone());
            }
            total += k.len() + v.len();
            map.insert(k, v);
        }
        if total > MAX_PARAMETERS {
            oversized.get_or_insert("*".to_string());
        }
        Params { map, duplicated, oversized }
    }
    fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }
}

async fn authorize(app: &App, headers: &HeaderMap, pairs: Vec<(String, String)>) -> Response {
    let params = Params::new(pairs);
    let lang = Lang::pick(params.get("ui_locales"), headers);
    match authorize_inner(app, headers, &params, lang).await {
        Ok(response) => response,
        Err(AuthorizeError::Page(page)) => page.into_response(),
        Err(AuthorizeError::Redirect(redirect)) => redirect.into_response(),
    }
}

enum AuthorizeError {
    Page(PageError),
    Redirect(ErrorRedirect),
}

impl From<PageError> for AuthorizeError {
    fn from(p: PageError) -> Self {
        AuthorizeError::Page(p)
    }
}

/// Validates client and redirect_uri. Exact string match against the registered URIs: no prefix, no
/// normalisation (OAuth 2.0 Security BCP §4.1.3).
pub async fn verified_client(
    app: &App,
    client_id: Option<&str>,
    redirect_uri: Option<&str>,
    lang: Lang,
) -> Result<(Client, String), PageError> {
    let Some(client_id) = client_id else {
        return Err(PageError::bad_request(lang, Msg::NoClientId).hint(Msg::RetryFromApp));
    };
    let Some(client) = app.store.get_app(client_id).await.or_page(lang)? else {
        tracing::warn!(client_id, "authorize: unknown client_id");
        return Err(PageError::bad_request(lang, Msg::UnknownClient).hint(Msg::UnknownClientHint));
    };
    let Some(redirect_uri) = redirect_uri else {
        return Err(PageError::bad_request(lang, Msg::NoRedirectUri).hint(Msg::NoRedirectUriHint));
    };
    if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
        tracing::warn!(client_id, redirect_uri, "authorize: redirect_uri is not registered for this app");
        return Err(PageError::bad_request(lang, Msg::UnregisteredRedirect).hint(Msg::UnregisteredRedirectHint));
    }
    Ok((client, redirect_uri.to_string()))
}

async fn authorize_inner(
    app: &App,
    headers: &HeaderMap,
    params: &Params,
    lang: Lang,
) -> Result<Response, AuthorizeError> {
    if let Some(dup @ ("client_id" | "redirect_uri")) = params.duplicated.as_deref() {
        let message = lang.fmt(Msg::DuplicateParameter, &[("name", dup)]);
        return Err(AuthorizeError::Page(
            PageError::new(axum::http::StatusCode::BAD_REQUEST, lang, message).hint(Msg::StartAgain),
        ));
    }
    let (client, redirect_uri) =
        verified_client(app, params.get("client_id"), params.get("redirect_uri"), lang).await?;
    // An oversized `state` is not sent back: the bound protects the app's redirect as well as our store.
    let state = params.get("state").filter(|s| s.len() <= MAX_PARAMETER).map(String::from);
    let fail = |error: &'static str, description: &str| {
        AuthorizeError::Redirect(error_redirect(app, &redirect_uri, state.as_deref(), error, description))
    };

    if let Some(dup) = &params.duplicated {
        return Err(fail("invalid_request", &format!("parameter {dup} appears more than once")));
    }
    match params.oversized.as_deref() {
        None => {}
        Some("*") => return Err(fail("invalid_request", "the request's parameters exceed 8 KiB in all")),
        Some(name) => return Err(fail("invalid_request", &format!("parameter {name} exceeds 2 KiB"))),
    }
    if params.get("request").is_some() {
        return Err(fail("request_not_supported", "request objects are not supported"));
    }
    if params.get("request_uri").is_some() {
        return Err(fail("request_uri_not_supported", "request_uri is not supported"));
    }
    match params.get("response_type") {
        Some("code") => {}
        None => return Err(fail("invalid_request", "response_type is required")),
        Some(_) => {
            return Err(fail(
                "unsupported_response_type",
                "only the authorization code flow (response_type=code) is supported",
            ));
        }
    }
    if let Some(mode) = params.get("response_mode")
        && mode != "query"
    {
        return Err(fail("invalid_request", "only response_mode=query is supported"));
    }
    let requested: Vec<&str> = params.get("scope").unwrap_or("").split_whitespace().collect();
    if !requested.contains(&"openid") {
        return Err(fail("invalid_scope", "scope must include openid"));
    }
    let mut scopes: Vec<&str> = Vec::new();
    for s in requested {
        if SCOPES.contains(&s) && !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    let scope = scopes.join(" ");

    // PKCE (RFC 7636): only S256; required for public clients.
    let code_challenge = params.get("code_challenge").map(String::from);
    let code_challenge_method = match (&code_challenge, params.get("code_challenge_method")) {
        (None, Some(_)) => return Err(fail("invalid_request", "code_challenge_method without code_challenge")),
        (None, None) => None,
        (Some(_), Some("S256")) => Some("S256".to_string()),
        (Some(_), None | Some(_)) => return Err(fail("invalid_request", "code_challenge_method must be S256")),
    };
    if let Some(challenge) = &code_challenge {
        let well_formed = (43..=128).contains(&challenge.len())
            && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        if !well_formed {
            return Err(fail("invalid_request", "code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~]"));
        }
    } else if client.kind.is_public() {
        return Err(fail("invalid_request", "PKCE (code_challenge with S256) is required for this app"));
    }

    let prompt = params.get("prompt").map(String::from);
    let prompt_text = prompt.clone().unwrap_or_default();
    let prompts: Vec<&str> = prompt_text.split_whitespace().collect();
    if prompts.iter().any(|p| !PROMPTS.contains(p)) {
        return Err(fail("invalid_request", "unknown prompt value"));
    }
    if prompts.contains(&"none") && prompts.len() > 1 {
        return Err(fail("invalid_request", "prompt=none cannot be combined with other values"));
    }
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => return Err(fail("invalid_request", "max_age must be a non-negative integer")),
        },
    };

    // The browser binding: the login can only be finished by the browser that started it.
    let mut set_cookies: Vec<HeaderValue> = Vec::new();
    let browser = match cookies::get(headers, cookies::BROWSER) {
        Some(value) => value.to_string(),
        None => {
            let value = random_token();
            set_cookies.push(cookies::set(cookies::BROWSER, &value, None, app.settings.secure_cookies()));
            value
        }
    };

    let now = app.now();
    let mut tx = LoginTx {
        id: random_alnum(32),
        browser_hash: sha256_hex(&browser),
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        scope,
        state: state.clone(),
        nonce: params.get("nonce").map(String::from),
        code_challenge,
        code_challenge_method,
        response_mode: None,
        prompt,
        max_age,
        ui_locales: params.get("ui_locales").map(String::from),
        connection: None,
        data: serde_json::Value::Null,
        created_at: now,
        expires_at: now + app.settings.login_ttl,
    };

    let connections = app.store.app_connections(&client.client_id).await.or_page(lang)?;
    let hint = match params.get("connection") {
        None => None,
        Some(identifier) => match connections.iter().find(|c| c.identifier == identifier) {
            Some(connection) => Some(connection),
            None => {
                return Err(fail("invalid_request", &format!("connection {identifier:?} is not enabled for this app")));
            }
        },
    };

    // Single sign-on: the browser's session answers at once when it may enter this app (`sso`).
    // `select_account` has no account chooser here: the person signs in again and so chooses.
    let force_login = prompts.contains(&"login") || prompts.contains(&"select_account");
    if !force_login
        && let Some(session_cookie) = cookies::get(headers, cookies::SESSION)
        && let Some(session) = app.store.get_session(&sha256_hex(session_cookie), now).await.or_page(lang)?
        && max_age.is_none_or(|age| now - session.auth_time <= age)
        && let Some(admission) = sso::admits(app, &session, &connections, hint, lang).await?
    {
        let mut response = complete_from_session(app, tx, &session, &admission, lang).await?;
        append_cookies(&mut response, set_cookies);
        return Ok(response);
    }
    if prompts.contains(&"none") {
        return Err(fail("login_required", "the person must sign in for this app"));
    }

    // A browser starting logins without end keeps only its newest few transactions (a browser that just got
    // its cookie has none to trim: no extra statement on its first login).
    // A workplace app's own browser (WeCom's) goes straight to the app's first connection that signs in
    // silently there (after the session check, which only an explicit `connection=` narrows).
    let hint = hint.or_else(|| {
        let ua = page::user_agent(headers);
        connections.iter().find(|c| connectors::signs_in_silently(&c.settings, ua))
    });
    // A transaction that goes straight to a connection is stored with it: one write. One the app named is
    // pinned to it (WeCom's browser going to its connection is not: the person may still choose another).
    tx.connection = hint.map(|connection| connection.identifier.clone());
    if let Some(named) = params.get("connection") {
        tx.data = serde_json::json!({ super::tx::PINNED: named });
    }
    app.store.put_login_tx(tx.clone()).await.or_page(lang)?;
    if set_cookies.is_empty() {
        app.store.trim_login_txs(&tx.browser_hash, LIVE_TRANSACTIONS_PER_BROWSER).await.or_page(lang)?;
    }
    let mut response = match hint {
        Some(connection) => start::start_login(app, &tx, connection, lang).await?,
        None => page::render(&tx, &client, &connections, headers, lang, None, "")?,
    };
    append_cookies(&mut response, set_cookies);
    Ok(response)
}

fn append_cookies(response: &mut Response, cookies: Vec<HeaderValue>) {
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
}
