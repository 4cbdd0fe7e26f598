//! Ending a person's sign-ins everywhere (CONTRACT.md, "Member lifecycle"): their browser sessions end,
//! every grant's refresh tokens are revoked, and each app with a `backchannel_logout_uri` that one of the
//! grants was made for receives an OIDC Back-Channel Logout 1.0 logout token: a JWT (`typ` `logout+jwt`,
//! §2.4) with `iss`, `aud`, `iat`, `exp`, `jti`, `events`, `sub` and `sid` and never a `nonce`, POSTed as the
//! form field `logout_token` (§2.5). Deliveries run after the caller answered (WeCom wants its event
//! acknowledged within a second), each with a timeout, retried, and audited whatever the outcome — as
//! delivered or not, never with the network's answer (whoever may set an app's URI must not learn which
//! internal addresses answer). At most `app::Deliveries::IN_FLIGHT` run at once and `QUEUED` wait;
//! beyond, a delivery is dropped and audited as not delivered.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;

use crate::app::{App, AppState, Deliveries};
use crate::audit::Audit;
use crate::config::LOGOUT_TOKEN_LIFETIME as TOKEN_LIFETIME;
use crate::oidc::tokens::grant_horizon;
use crate::store::{StoreError, StoreResult};
use crate::util::random_alnum;

/// How long one delivery waits for the app's answer.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts per logout token, and the pause before each retry.
const ATTEMPTS: u32 = 3;
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// A logout token is short-lived (§2.4 recommends a brief `exp`).
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// A departure (CONTRACT.md, "Member lifecycle": deleted, disabled or left, told by an event or found by a
/// re-check): the account is disabled until an admin enables it — so a linked local password cannot bring
/// the person back — and every sign-in ends. (Leaving one app's visible scope is no departure: `end_user`.)
pub async fn departed(app: &AppState, user_id: &str, why: &str) -> StoreResult<Ended> {
    match app.store.set_user_disabled(user_id, true, app.now()).await {
        Ok(_) => Audit::new("user.disabled").user(user_id).reason(why).write(app).await,
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e),
    }
    end_user(app, user_id, why).await
}

/// What ending a person's sign-ins did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    pub sessions: usize,
    pub grants: usize,
    /// Logout tokens handed to delivery.
    pub notifications: usize,
}

/// Ends every session and grant of `user_id` and notifies the apps; `why` goes into the audit trail.
pub async fn end_user(app: &AppState, user_id: &str, why: &str) -> StoreResult<Ended> {
    let now = app.now();
    let sessions = app.store.delete_user_sessions(user_id).await?;
    let grants = app.store.user_grant_origins(user_id, now).await?;
    // Every grant with a live refresh token too: those made before grants recorded their origin have none.
    let mut revoked: BTreeSet<String> = grants.iter().map(|g| g.grant_id.clone()).collect();
    revoked.extend(app.store.user_refresh_grants(user_id, now).await?);
    for grant_id in &revoked {
        app.store.revoke_grant(grant_id, now, grant_horizon(app, now)).await?;
    }
    // One token per app and session; grants made without a browser session (native apps) carry `sub` only.
    let targets: BTreeSet<(String, Option<String>)> =
        grants.iter().map(|g| (g.client_id.clone(), g.sid.clone().filter(|s| !s.is_empty()))).collect();
    let mut notifications = 0;
    for (client_id, sid) in targets {
        let Some(uri) = app.store.get_app(&client_id).await?.and_then(|c| c.backchannel_logout_uri) else {
            continue;
        };
        notifications += 1;
        queue(app, client_id, uri, user_id.to_string(), sid);
    }
    let ended = Ended { sessions: sessions.len(), grants: revoked.len(), notifications };
    tracing::info!(
        user_id,
        why,
        sessions = ended.sessions,
        grants = ended.grants,
        notifications,
        "signed out everywhere"
    );
    Audit::new("user.signed_out_everywhere")
        .user(user_id)
        .reason(&format!("{why}; {} sessions, {} grants, {notifications} apps notified", ended.sessions, ended.grants))
        .write(app)
        .await;
    Ok(ended)
}

/// The logout token for one app (and session, when there is one).
pub fn logout_token(app: &App, client_id: &str, user_id: &str, sid: Option<&str>) -> Result<String, String> {
    let now = app.now();
    let mut claims = json!({
        "iss": app.settings.issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + TOKEN_LIFETIME,
        "jti": random_alnum(22),
        "events": { EVENT: {} },
        "sub": user_id,
    });
    if let (Some(sid), Some(map)) = (sid, claims.as_object_mut()) {
        map.insert("sid".into(), json!(sid));
    }
    app.keys.sign(now, "logout+jwt", &claims).map_err(|e| e.to_string())
}

/// Hands one delivery to a task, within the bound of `app::Deliveries`.
fn queue(app: &AppState, client_id: String, uri: String, user_id: String, sid: Option<String>) {
    let deliveries = &app.deliveries;
    if deliveries.waiting.fetch_add(1, Ordering::SeqCst) >= Deliveries::QUEUED {
        deliveries.waiting.fetch_sub(1, Ordering::SeqCst);
        tracing::warn!(client_id, uri, "back-channel logout dropped: {} deliveries are waiting", Deliveries::QUEUED);
        let app = app.clone();
        tokio::spawn(async move {
            Audit::new("backchannel_logout.failed")
                .client(&client_id)
                .user(&user_id)
                .reason("not delivered: too many deliveries waiting")
                .write(&app)
                .await;
        });
        return;
    }
    let app = app.clone();
    tokio::spawn(async move {
        let permit = app.deliveries.running.acquire().await;
        app.deliveries.waiting.fetch_sub(1, Ordering::SeqCst);
        if permit.is_ok() {
            deliver(&app, &client_id, &uri, &user_id, sid.as_deref()).await;
        }
    });
}

async fn deliver(app: &App, client_id: &str, uri: &str, user_id: &str, sid: Option<&str>) {
    let token = match logout_token(app, client_id, user_id, sid) {
        Ok(token) => token,
        Err(e) => {
            tracing::error!(client_id, error = %e, "could not sign a logout token");
            return;
        }
    };
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            tokio::time::sleep(RETRY_PAUSE * (attempt - 1)).await;
        }
        // §2.8: the RP answers 200 (or 204) once it logged the session out; anything else is a failure.
        let error = match app.http.post(uri).form(&[("logout_token", token.as_str())]).send().await {
            Ok(response) if response.status().is_success() => {
                tracing::info!(client_id, uri, attempt, "back-channel logout delivered");
                Audit::new("backchannel_logout.delivered")
                    .client(client_id)
                    .user(user_id)
                    .reason(&format!("delivered (attempt {attempt})"))
                    .write(app)
                    .await;
                return;
            }
            Ok(response) => format!("HTTP {}", response.status().as_u16()),
            Err(e) if e.is_timeout() => format!("no answer within {} s", DELIVERY_TIMEOUT.as_secs()),
            Err(e) => format!("request failed: {e}"),
        };
        // The network's answer goes to the log only, which the operator reads; the audit says "not delivered".
        tracing::warn!(client_id, uri, attempt, error = %error, "back-channel logout not delivered");
    }
    Audit::new("backchannel_logout.failed")
        .client(client_id)
        .user(user_id)
        .reason(&format!("not delivered after {ATTEMPTS} attempts"))
        .write(app)
        .await;
}
