//! `/connections/{identifier}/events`: WeCom's encrypted event callback URL for `wecom_delegated` and
//! `wecom_provider` (reference §6, §7), and for self-built kinds given the app's callback Token and
//! EncodingAESKey (receive id = the corp id; address-book events only, see `contacts`). `GET` is the URL verification, `POST` an event. Every message is
//! checked in this order — timestamp window, signature (Token), decryption (EncodingAESKey), receive id —
//! and each failure is logged with its own cause. Handling is idempotent: WeCom retries pushes, so a
//! (timestamp, nonce, signature) seen before is acknowledged without acting, and an auth code is redeemed
//! once only. Slow work (permanent codes) runs after the answer: WeCom wants `success` within 1 s.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use wecom::{CryptoError, Event, MsgCrypt};

use crate::app::{App, AppState};
use crate::audit::Audit;
use crate::connectors::fields::is_plain_corp_id;
use crate::connectors::wecom_delegated::BOUND_CORP_ID;
use crate::connectors::wecom_provider::suite_credential;
use crate::store::{AuthorizedCorp, Connection, KindSettings, SuiteTicket};
use crate::util::sha256_hex;

/// The state key of an auth code received before the template secret was set.
const PENDING_AUTH_CODE: &str = "pending_auth_code";
/// The status of a corp that authorized a delegated connection already bound to another corp.
const REFUSED: &str = "refused";
/// The state key of a suite ticket received before the template id was set.
const PENDING_SUITE_TICKET: &str = "pending_suite_ticket";
/// How long WeCom's auth code of `create_auth` stays redeemable (reference §7.4).
const AUTH_CODE_LIFETIME: i64 = 600;

/// After the admin saved a connection: a suite ticket that arrived before its template id moves to the
/// shared table when it is that template's; an authorization that arrived before its template secret is
/// completed now (the permanent code fetched), if its auth code is still young enough.
pub async fn complete_pending_authorization(app: AppState, saved: &Connection) {
    adopt_pending_ticket(&app, saved).await;
    // Most saves have nothing pending: no store read for them.
    let pending_here = matches!(&saved.settings, KindSettings::Delegated(s) if s.template_secret.is_some())
        && saved.state.get(PENDING_AUTH_CODE).is_some_and(|p| !p.is_null());
    if !pending_here {
        return;
    }
    let identifier = saved.identifier.clone();
    let Ok(cb) = load(&app, &identifier).await else { return };
    if cb.suite_id.is_empty() || cb.suite_secret.is_none() {
        return;
    }
    let Some(pending) = cb.connection.state.get(PENDING_AUTH_CODE).filter(|p| !p.is_null()).cloned() else {
        return;
    };
    if let Err(e) = app.store.merge_connection_state(&identifier, json!({ PENDING_AUTH_CODE: null }), app.now()).await {
        tracing::error!(connection = %identifier, error = %e, "could not clear the pending authorization");
        return;
    }
    let received_at = pending.get("received_at").and_then(Value::as_i64).unwrap_or_default();
    let Some(auth_code) = pending.get("auth_code").and_then(Value::as_str).map(String::from) else { return };
    if app.now() - received_at >= AUTH_CODE_LIFETIME {
        tracing::warn!(connection = %identifier, "the early authorization's auth code has expired: authorize again");
        Audit::new("connection.auth_failed")
            .connection(&identifier)
            .reason("early auth code expired")
            .write(&app)
            .await;
        return;
    }
    tokio::spawn(async move { redeem_auth_code(&app, &cb, &auth_code).await });
}

/// A ticket kept on the connection while its template id was not set: stored for the template it names,
/// once the connection's template id is that one; dropped otherwise (WeCom pushes a new one every 10 min).
async fn adopt_pending_ticket(app: &App, saved: &Connection) {
    let KindSettings::Delegated(settings) = &saved.settings else { return };
    let Some(pending) = saved.state.get(PENDING_SUITE_TICKET).filter(|p| !p.is_null()) else { return };
    let Some(template_id) = settings.template_id.as_deref().filter(|t| !t.is_empty()) else { return };
    let identifier = &saved.identifier;
    if let Err(e) = app.store.merge_connection_state(identifier, json!({ PENDING_SUITE_TICKET: null }), app.now()).await
    {
        tracing::error!(connection = %identifier, error = %e, "could not clear the pending suite ticket");
        return;
    }
    let field = |k: &str| pending.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let (suite_id, ticket) = (field("suite_id"), field("ticket"));
    if suite_id != template_id || ticket.is_empty() {
        tracing::warn!(connection = %identifier, suite_id, "the early suite_ticket is another template's: dropped");
        return;
    }
    let received_at = pending.get("received_at").and_then(Value::as_i64).unwrap_or_default().min(app.now());
    match app.store.put_suite_ticket(SuiteTicket { suite_id, ticket, received_at }).await {
        Ok(()) => tracing::info!(connection = %identifier, "the early suite_ticket is stored for the template"),
        Err(e) => tracing::error!(connection = %identifier, error = %e, "could not store the early suite ticket"),
    }
}

/// How far a callback's timestamp may be from our clock.
const WINDOW_SECS: i64 = 300;

/// Query values decoded as WeCom sends them: percent-decoding only — `+` in base64 stays `+`.
fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned())
}

struct Callback {
    connection: Connection,
    crypt: MsgCrypt,
    /// The ids a message for this URL may carry as receive id.
    allowed: Vec<String>,
    /// The suite (or template) id of the connection, and its secret.
    suite_id: String,
    suite_secret: Option<String>,
}

fn reject(status: StatusCode, why: &str) -> Response {
    (status, why.to_string()).into_response()
}

async fn load(app: &App, identifier: &str) -> Result<Callback, Response> {
    let connection = match app.store.get_connection(identifier).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(reject(StatusCode::NOT_FOUND, "no event URL here")),
        Err(e) => {
            tracing::error!(error = %e, "event callback: store unavailable");
            return Err(reject(StatusCode::SERVICE_UNAVAILABLE, "try again"));
        }
    };
    let Some((token, key)) = connection.settings.event_secrets().map(|(t, k)| (t.to_string(), k.to_string())) else {
        // A provider connection in provider-secret-only mode, or a self-built one without callback secrets.
        return Err(reject(StatusCode::NOT_FOUND, "no event URL here"));
    };
    // (suite or template id, its secret, ids configured as receive ids: a self-built app's is its corp id)
    let (suite_id, suite_secret, configured) = match &connection.settings {
        KindSettings::Delegated(s) => {
            (s.template_id.clone(), s.template_secret.clone(), vec![s.corp_id.clone(), s.provider_corp_id.clone()])
        }
        KindSettings::Provider(s) => (s.suite_id.clone(), s.suite_secret.clone(), vec![Some(s.corp_id.clone())]),
        other => (None, None, vec![other.corp_app().map(|(corp_id, _)| corp_id.to_string())]),
    };
    let crypt = match MsgCrypt::new(&token, &key) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(connection = identifier, error = %e, "event callback: stored EncodingAESKey unusable");
            return Err(reject(StatusCode::INTERNAL_SERVER_ERROR, "misconfigured"));
        }
    };
    let suite_id = suite_id.unwrap_or_default();
    let mut allowed: Vec<String> = Some(suite_id.clone()).into_iter().filter(|id| !id.is_empty()).collect();
    allowed.extend(configured.into_iter().flatten());
    if let Some(learned) = learned_provider_corp_id(&connection) {
        allowed.push(learned.to_string());
    }
    match app.store.list_authorized_corps(&connection.identifier).await {
        Ok(corps) => allowed.extend(corps.into_iter().map(|c| c.corp_id)),
        Err(e) => tracing::warn!(error = %e, "event callback: cannot list authorized corps"),
    }
    Ok(Callback { connection, crypt, allowed, suite_id, suite_secret })
}

/// The provider corp id learned from WeCom's URL verification, if any.
fn learned_provider_corp_id(connection: &Connection) -> Option<&str> {
    connection.state.get("provider_corp_id").and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Logs and answers a crypto failure with its specific cause.
fn crypto_failure(identifier: &str, error: &CryptoError) -> Response {
    let why = match error {
        CryptoError::BadSignature => "signature mismatch: the Token differs from WeCom's, or the message was forged",
        CryptoError::Base64 | CryptoError::BadPadding | CryptoError::BadLength | CryptoError::Utf8 => {
            "cannot decrypt: the EncodingAESKey differs from WeCom's"
        }
        CryptoError::ReceiveIdMismatch { .. } => "receive id not accepted for this URL",
        CryptoError::Xml(_) => "malformed message body",
        CryptoError::TooLarge => "message too large",
        CryptoError::InvalidAesKey(_) => "the stored EncodingAESKey is invalid",
    };
    tracing::warn!(connection = identifier, cause = why, "event callback refused");
    reject(StatusCode::BAD_REQUEST, why)
}

fn check_window(app: &App, identifier: &str, timestamp: &str) -> Result<(), Response> {
    let ok = timestamp.parse::<i64>().is_ok_and(|ts| (app.now() - ts).abs() <= WINDOW_SECS);
    if ok {
        Ok(())
    } else {
        tracing::warn!(
            connection = identifier,
            timestamp,
            "event callback refused: timestamp outside the allowed window (replay or clock skew)"
        );
        Err(reject(StatusCode::BAD_REQUEST, "timestamp outside the allowed window"))
    }
}

/// A delegated connection with no provider corp id configured nor learned accepts, on URL verification
/// only, a corp id it does not know yet as its provider corp id.
fn learns_provider_corp_id(cb: &Callback, receive_id: &str) -> bool {
    !cb.allowed.iter().any(|id| id == receive_id)
        && matches!(&cb.connection.settings, KindSettings::Delegated(s) if s.provider_corp_id.is_none())
        && learned_provider_corp_id(&cb.connection).is_none()
        && is_plain_corp_id(receive_id)
}

fn check_receive_id(cb: &Callback, receive_id: &str) -> Result<(), Response> {
    if cb.allowed.iter().any(|id| id == receive_id) {
        return Ok(());
    }
    tracing::warn!(
        connection = %cb.connection.identifier,
        receive_id,
        accepted = ?cb.allowed,
        "event callback refused: receive id is not the template/suite id, the provider corp id or an authorized corp"
    );
    Err(reject(StatusCode::BAD_REQUEST, "receive id not accepted for this URL"))
}

/// `GET`: URL verification. Answers the decrypted `echostr`, exactly.
pub async fn verify_url(
    State(app): State<AppState>,
    Path(identifier): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let cb = match load(&app, &identifier).await {
        Ok(cb) => cb,
        Err(response) => return response,
    };
    let (Some(signature), Some(timestamp), Some(nonce), Some(echostr)) = (
        query_param(&query, "msg_signature"),
        query_param(&query, "timestamp"),
        query_param(&query, "nonce"),
        query_param(&query, "echostr"),
    ) else {
        return reject(StatusCode::BAD_REQUEST, "msg_signature, timestamp, nonce and echostr are required");
    };
    if let Err(response) = check_window(&app, &identifier, &timestamp) {
        return response;
    }
    let decrypted = match cb.crypt.verify_url(&signature, &timestamp, &nonce, &echostr) {
        Ok(d) => d,
        Err(e) => return crypto_failure(&identifier, &e),
    };
    let now = app.now();
    let mut verified = json!({"url_verified_at": now});
    if learns_provider_corp_id(&cb, &decrypted.receive_id) {
        // The admin gave only Token and EncodingAESKey (the hosted products' order): the verification GET
        // carries the provider's corp id, and a message that passed the Token's signature and the key's
        // decryption can only come from WeCom. Remember it as this URL's provider corp id.
        tracing::info!(connection = %identifier, provider_corp_id = %decrypted.receive_id, "learned the provider corp id");
        verified["provider_corp_id"] = json!(decrypted.receive_id);
    } else if let Err(response) = check_receive_id(&cb, &decrypted.receive_id) {
        return response;
    }
    if let Err(e) = app.store.merge_connection_state(&identifier, verified, now).await {
        tracing::warn!(error = %e, "could not record the URL verification");
    }
    tracing::info!(connection = %identifier, "WeCom verified the event URL");
    decrypted.message.into_response()
}

/// `POST`: an encrypted event. Answers `success` once the event is accepted.
pub async fn receive(
    State(app): State<AppState>,
    Path(identifier): Path<String>,
    RawQuery(query): RawQuery,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    // A Feishu marketplace connection's events are Feishu's (the same URL shape).
    match app.store.get_connection(&identifier).await {
        Ok(Some(connection)) => {
            if let Some(answer) = super::feishu::receive(&app, &connection, &headers, &body).await {
                return answer;
            }
        }
        Ok(None) => return reject(StatusCode::NOT_FOUND, "no event URL here"),
        Err(e) => {
            tracing::error!(error = %e, "event callback: store unavailable");
            return reject(StatusCode::SERVICE_UNAVAILABLE, "try again");
        }
    }
    let query = query.unwrap_or_default();
    let cb = match load(&app, &identifier).await {
        Ok(cb) => cb,
        Err(response) => return response,
    };
    let (Some(signature), Some(timestamp), Some(nonce)) =
        (query_param(&query, "msg_signature"), query_param(&query, "timestamp"), query_param(&query, "nonce"))
    else {
        return reject(StatusCode::BAD_REQUEST, "msg_signature, timestamp and nonce are required");
    };
    if let Err(response) = check_window(&app, &identifier, &timestamp) {
        return response;
    }
    let Ok(body) = std::str::from_utf8(&body) else {
        return reject(StatusCode::BAD_REQUEST, "body is not UTF-8");
    };
    let decrypted = match cb.crypt.decrypt_message(&signature, &timestamp, &nonce, body) {
        Ok(d) => d,
        Err(e) => return crypto_failure(&identifier, &e),
    };
    // Before the admin entered the template id, the template's command pushes (receive id `dk…`) are let
    // through: the Token's signature and the key's decryption already prove they come from WeCom.
    let awaiting_template = matches!(cb.connection.settings, KindSettings::Delegated(_))
        && cb.suite_id.is_empty()
        && decrypted.receive_id.starts_with("dk")
        && decrypted.receive_id.chars().all(|c| c.is_ascii_alphanumeric());
    if !awaiting_template && let Err(response) = check_receive_id(&cb, &decrypted.receive_id) {
        return response;
    }
    // A retried push carries the same (timestamp, nonce, signature): acknowledge, do nothing twice. The
    // signature is hex, checked whatever its case: the key takes one spelling, else upper-casing it would
    // make a replay new.
    let replay_key = sha256_hex(&format!("{identifier}|{timestamp}|{nonce}|{}", signature.to_ascii_lowercase()));
    match app.store.remember_callback(&replay_key, app.now() + 2 * WINDOW_SECS).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(connection = %identifier, "event callback seen before; acknowledged without acting");
            return "success".into_response();
        }
        Err(e) => {
            tracing::error!(error = %e, "event callback: store unavailable");
            return reject(StatusCode::SERVICE_UNAVAILABLE, "try again");
        }
    }
    let event = match wecom::parse_event(&decrypted.message) {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!(connection = %identifier, error = %e, "event callback: undecodable event XML");
            return reject(StatusCode::BAD_REQUEST, "malformed event");
        }
    };
    let answer = handle(app.clone(), cb, event).await;
    if answer.status() == StatusCode::SERVICE_UNAVAILABLE
        && let Err(e) = app.store.forget_callback(&replay_key).await
    {
        tracing::error!(error = %e, "a failed event stays remembered: WeCom's retry will be skipped");
    }
    answer
}

async fn handle(app: AppState, cb: Callback, event: Event) -> Response {
    let identifier = cb.connection.identifier.clone();
    // A self-built app's event URL hears its corp's address book, nothing of suites or authorizations.
    if cb.connection.settings.corp_app().is_some() && !matches!(event, Event::ChangeContact { .. }) {
        tracing::info!(connection = %identifier, "event other than change_contact on a self-built connection: ignored");
        return "success".into_response();
    }
    match event {
        Event::SuiteTicket { suite_id, ticket, timestamp } => {
            // The ticket's time orders tickets (a newer one wins): never later than now, or a forged one
            // could stay "newest" for ever.
            let received_at = if timestamp > 0 { timestamp.min(app.now()) } else { app.now() };
            if cb.suite_id.is_empty() {
                // Template id not entered yet: the ticket waits on this connection, not in the shared table —
                // whoever holds this connection's Token and key must not set another connection's suite's
                // ticket. It moves there once the admin enters a template id it belongs to.
                let pending = json!({ PENDING_SUITE_TICKET: {"suite_id": suite_id, "ticket": ticket, "received_at": received_at} });
                if let Err(e) = app.store.merge_connection_state(&identifier, pending, app.now()).await {
                    tracing::error!(error = %e, "could not keep the suite ticket");
                    return reject(StatusCode::SERVICE_UNAVAILABLE, "try again");
                }
                tracing::info!(connection = %identifier, suite_id, "suite_ticket kept; the template id is not set yet");
                return "success".into_response();
            } else if suite_id != cb.suite_id {
                tracing::warn!(connection = %identifier, suite_id, "suite_ticket for another suite ignored");
                return "success".into_response();
            }
            if let Err(e) = app.store.put_suite_ticket(SuiteTicket { suite_id, ticket, received_at }).await {
                tracing::error!(error = %e, "could not store the suite ticket");
                return reject(StatusCode::SERVICE_UNAVAILABLE, "try again");
            }
            tracing::info!(connection = %identifier, "suite_ticket received");
        }
        Event::CreateAuth { auth_code, .. } | Event::ResetPermanentCode { auth_code, .. } => {
            // An auth code is redeemed once, even if WeCom pushes it again with a new nonce.
            let key = sha256_hex(&format!("auth_code|{identifier}|{auth_code}"));
            match app.store.remember_callback(&key, app.now() + 3600).await {
                Ok(true) if cb.suite_id.is_empty() || cb.suite_secret.is_none() => {
                    // The template's id and secret come after WeCom verified the URL; an authorization can
                    // arrive first. Keep its auth code (valid 10 minutes) until the admin enters them.
                    let pending = json!({ PENDING_AUTH_CODE: {"auth_code": auth_code, "received_at": app.now()} });
                    match app.store.merge_connection_state(&identifier, pending, app.now()).await {
                        Ok(()) => tracing::info!(
                            connection = %identifier,
                            "authorization received before the template secret; completed once it is set"
                        ),
                        Err(e) => {
                            tracing::error!(error = %e, "event callback: store unavailable");
                            return reject(StatusCode::SERVICE_UNAVAILABLE, "try again");
                        }
                    }
                }
                Ok(true) => {
                    tokio::spawn(async move { redeem_auth_code(&app, &cb, &auth_code).await });
                }
                Ok(false) => tracing::info!(connection = %identifier, "auth code already redeemed; ignored"),
                Err(e) => {
                    tracing::error!(error = %e, "event callback: store unavailable");
                    return reject(StatusCode::SERVICE_UNAVAILABLE, "try again");
                }
            }
        }
        Event::ChangeAuth { auth_corp_id, .. } => {
            // A change of an authorization changes no corp's status: WeCom sends none for a cancelled one, and
            // a late retry (or a forged one) must not make a cancelled or refused corp active again.
            Audit::new("connection.change_auth").connection(&identifier).upstream(&auth_corp_id).write(&app).await;
            // The admin may have changed the agent or its scope: re-read the authorization, after the answer.
            tokio::spawn(async move { refresh_authorization(&app, &cb, &auth_corp_id).await });
        }
        Event::CancelAuth { auth_corp_id, .. } => {
            set_corp_status(&app, &identifier, &auth_corp_id, "cancelled", "connection.cancel_auth").await;
        }
        Event::ChangeContact { auth_corp_id, change_type, user_id, member, .. } => {
            let change = super::contacts::Change { auth_corp_id, change_type, user_id, member };
            if let Err(e) = super::contacts::apply(&app, &cb.connection, change).await {
                tracing::error!(connection = %identifier, error = %e, "could not apply an address-book change");
                return reject(StatusCode::SERVICE_UNAVAILABLE, "try again");
            }
        }
        Event::Unknown { info_type, .. } => {
            tracing::info!(connection = %identifier, info_type = ?info_type, "unhandled WeCom event acknowledged");
        }
    }
    "success".into_response()
}

async fn set_corp_status(app: &App, identifier: &str, corp_id: &str, status: &str, event: &str) {
    match app.store.get_authorized_corp(identifier, corp_id).await {
        Ok(Some(mut corp)) => {
            corp.status = status.to_string();
            corp.updated_at = app.now();
            if let Err(e) = app.store.upsert_authorized_corp(corp).await {
                tracing::error!(error = %e, "could not update the authorized corp");
            }
            Audit::new(event).connection(identifier).upstream(corp_id).write(app).await;
            tracing::info!(connection = identifier, corp_id, status, "authorization changed");
        }
        Ok(None) => tracing::warn!(connection = identifier, corp_id, "authorization change for an unknown corp"),
        Err(e) => tracing::error!(error = %e, "could not read the authorized corp"),
    }
}

/// create_auth / reset_permanent_code: suite token (with the stored ticket) → permanent code, stored on
/// the connection's authorized corp. Runs after the `success` answer.
async fn redeem_auth_code(app: &App, cb: &Callback, auth_code: &str) {
    let identifier = &cb.connection.identifier;
    let suite = match suite_credential(app, &cb.suite_id, cb.suite_secret.as_deref()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(connection = %identifier, error = %e, "cannot redeem the auth code");
            Audit::new("connection.auth_failed").connection(identifier).reason(&e.to_string()).write(app).await;
            return;
        }
    };
    let response = match app.wecom.get_permanent_code(&suite, auth_code).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(connection = %identifier, error = %e, "get_permanent_code failed");
            Audit::new("connection.auth_failed").connection(identifier).reason(&e.to_string()).write(app).await;
            return;
        }
    };
    let now = app.now();
    let corp_id = response.auth_corp_info.corpid.clone();
    let agent_id = response.auth_info.as_ref().and_then(|info| info.agent.first()).map(|a| a.agentid);
    let existing = app.store.get_authorized_corp(identifier, &corp_id).await.ok().flatten();
    // Bound first, stored second: a corp the connection is not bound to is never, even briefly, active.
    let bound_here = bind_delegated_connection(app, &cb.connection, &corp_id).await;
    let corp = AuthorizedCorp {
        connection: identifier.clone(),
        corp_id: corp_id.clone(),
        corp_name: response.auth_corp_info.corp_name.clone().or(existing.as_ref().and_then(|c| c.corp_name.clone())),
        agent_id: agent_id.or(existing.as_ref().and_then(|c| c.agent_id)),
        permanent_code: Some(response.permanent_code.clone()),
        status: if bound_here { "active".into() } else { REFUSED.into() },
        created_at: existing.as_ref().map(|c| c.created_at).unwrap_or(now),
        updated_at: now,
    };
    match app.store.upsert_authorized_corp(corp).await {
        Ok(()) if bound_here => {
            tracing::info!(connection = %identifier, corp_id, "corp authorized; permanent code stored");
            Audit::new("connection.authorized").connection(identifier).upstream(&corp_id).write(app).await;
        }
        Ok(()) => tracing::warn!(connection = %identifier, corp_id, "corp authorized, refused: bound to another corp"),
        Err(e) => tracing::error!(connection = %identifier, error = %e, "could not store the permanent code"),
    }
}

/// change_auth: the corp's name and authorized agent as WeCom has them now (`service/get_auth_info`).
async fn refresh_authorization(app: &App, cb: &Callback, corp_id: &str) {
    let identifier = &cb.connection.identifier;
    let corp = match app.store.get_authorized_corp(identifier, corp_id).await {
        Ok(Some(corp)) => corp,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(connection = %identifier, error = %e, "cannot read the authorized corp");
            return;
        }
    };
    let Some(permanent_code) = corp.permanent_code.clone() else { return };
    let refreshed = match suite_credential(app, &cb.suite_id, cb.suite_secret.as_deref()).await {
        Ok(suite) => app.wecom.get_auth_info(&suite, corp_id, &permanent_code).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let info = match refreshed {
        Ok(info) => info,
        Err(e) => {
            tracing::warn!(connection = %identifier, corp_id, error = %e, "could not re-read the authorization");
            Audit::new("connection.auth_refresh_failed")
                .connection(identifier)
                .upstream(corp_id)
                .reason(&e)
                .write(app)
                .await;
            return;
        }
    };
    let agent_id = info.auth_info.as_ref().and_then(|i| i.agent.first()).map(|a| a.agentid);
    // A corp refused only because its binding could not be claimed then (the store failed) tries again; one
    // refused because the connection is bound to another corp stays refused.
    let bound_elsewhere =
        cb.connection.state.get(BOUND_CORP_ID).and_then(Value::as_str).is_some_and(|bound| bound != corp_id);
    let status = if corp.status == REFUSED && !bound_elsewhere {
        if bind_delegated_connection(app, &cb.connection, corp_id).await {
            "active".into()
        } else {
            corp.status.clone()
        }
    } else {
        corp.status.clone()
    };
    let updated = AuthorizedCorp {
        corp_name: info.auth_corp_info.corp_name.clone().or(corp.corp_name.clone()),
        agent_id: agent_id.or(corp.agent_id),
        status,
        updated_at: app.now(),
        ..corp
    };
    match app.store.upsert_authorized_corp(updated).await {
        Ok(()) => tracing::info!(connection = %identifier, corp_id, "authorization re-read after change_auth"),
        Err(e) => tracing::error!(connection = %identifier, error = %e, "could not store the re-read authorization"),
    }
}

/// A delegated connection without `corp_id` is bound to the first corp that authorizes its template, once
/// and atomically (two authorizations racing on two instances bind one); a later corp does not take over.
/// False for such a later corp (refused); true otherwise.
async fn bind_delegated_connection(app: &App, connection: &Connection, corp_id: &str) -> bool {
    let KindSettings::Delegated(settings) = &connection.settings else { return true };
    if settings.corp_id.is_some() {
        return true;
    }
    let identifier = &connection.identifier;
    match app.store.claim_connection_state(identifier, BOUND_CORP_ID, json!(corp_id), app.now()).await {
        Ok(bound) if bound.as_str() == Some(corp_id) => {
            tracing::info!(connection = %identifier, corp_id, "connection bound to the corp");
            true
        }
        Ok(bound) => {
            tracing::warn!(
                connection = %identifier,
                corp_id,
                bound_to = %bound,
                "another corp authorized the template; the connection stays bound to its first corp"
            );
            Audit::new("connection.binding_refused").connection(identifier).upstream(corp_id).write(app).await;
            false
        }
        Err(e) => {
            // Unknown: refused for now (stricter); the next create_auth or change_auth tries again.
            tracing::error!(connection = %identifier, error = %e, "could not bind the connection to its corp");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_in_echostr_is_not_a_space() {
        let q = "msg_signature=abc&echostr=P9nA%2FqY+X3%3D%3D&nonce=1";
        assert_eq!(query_param(q, "echostr").as_deref(), Some("P9nA/qY+X3=="));
        assert_eq!(query_param(q, "nonce").as_deref(), Some("1"));
        assert_eq!(query_param(q, "timestamp"), None);
    }
}
