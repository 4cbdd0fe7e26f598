//! Feishu / Lark's two kinds, both signing in at Feishu's authorize page (QR code or account; inside the Feishu
//! client the page confirms by itself) with PKCE S256, the v2 token endpoint and `user_info`:
//! - `feishu`: a custom app (企业自建应用), usable only in its own tenant (Feishu's rule);
//! - `feishu_marketplace`: a marketplace app any tenant may install — only `allowed_tenants` get in. Its app
//!   and tenant tokens need the `app_ticket` Feishu pushes to the connection's event URL every hour
//!   (`inbound::feishu`), kept in the store for every instance.
//!
//! The identity is (tenant_key, open_id): open_id is the app's own id of the person, union_id (the developer's)
//! and user_id (changeable by the tenant's admins) are kept as attributes. Feishu's email and mobile are
//! admin-imported and verified by nobody [FS-uinfo]: never vouched for, never `email_verified` unless
//! `trust_email`.

use serde_json::json;

use super::error::{ConnectorError, SetupStep};
use super::oauth::{self, Secrets};
use super::seam::{Answer, Standing, Start, StartRequest};
use crate::accounts::{UpstreamIdentity, Vouched};
use crate::app::App;
use crate::store::{Connection, FeishuMarketplaceSettings, FeishuSettings, SuiteTicket};

pub const FIELDS: &[&str] = &["app_id", "app_secret", "scopes"];
pub const MARKETPLACE_FIELDS: &[&str] =
    &["app_id", "app_secret", "encrypt_key", "verification_token", "allowed_tenants", "scopes"];

fn check_app(app_id: &str, app_secret: &str) -> Result<(), String> {
    // App IDs are `cli_` and letters and digits.
    let ok = app_id.starts_with("cli_")
        && app_id.len() <= 64
        && app_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok {
        return Err("app_id must be the app's App ID (cli_…, from 凭证与基础信息)".into());
    }
    if app_secret.trim().is_empty() || app_secret.len() > 256 {
        return Err("app_secret must be the app's App Secret".into());
    }
    Ok(())
}

pub fn validate(s: &FeishuSettings) -> Result<(), String> {
    check_app(&s.app_id, &s.app_secret)?;
    oauth::check_scopes(&s.scopes)
}

pub fn validate_marketplace(s: &FeishuMarketplaceSettings) -> Result<(), String> {
    check_app(&s.app_id, &s.app_secret)?;
    oauth::check_scopes(&s.scopes)?;
    if s.encrypt_key.trim().is_empty() || s.verification_token.trim().is_empty() {
        return Err(
            "encrypt_key and verification_token are required (事件与回调 → 加密策略): app_tickets arrive encrypted"
                .into(),
        );
    }
    let tenant = |t: &String| {
        !t.is_empty() && t.len() <= 64 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if !s.allowed_tenants.iter().all(tenant) {
        return Err("allowed_tenants must be tenant_keys (letters, digits, _ or -)".into());
    }
    Ok(())
}

/// A tenant's people: open_ids are the app's, unique within it.
pub fn upstream(tenant_key: &str) -> String {
    format!("feishu:{tenant_key}")
}

/// Where a marketplace connection's latest `app_ticket` is kept (the suite-ticket table, by this key).
pub fn ticket_key(identifier: &str) -> String {
    format!("feishu:{identifier}")
}

fn credential(app_id: &str, app_secret: &str) -> feishu::AppCredential {
    feishu::AppCredential { app_id: app_id.to_string(), app_secret: app_secret.to_string() }
}

/// The authorize page, with a PKCE S256 challenge (Feishu's default method would be `plain` [FS-authz]) and the
/// verifier kept in the login transaction.
pub fn start(app: &App, app_id: &str, scopes: &[String], request: StartRequest<'_>) -> Start {
    let pkce = oidc_rp::Pkce::new();
    let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
    let url = feishu::url::authorize_url(
        &app.settings.feishu_accounts_base,
        app_id,
        request.callback,
        request.state,
        &pkce.challenge,
        &scopes,
    );
    Secrets::start(url, &pkce, None)
}

/// The callback: the code and the verifier → the person's token → `user_info`.
async fn signed_in(
    app: &App,
    credential: &feishu::AppCredential,
    answer: &Answer<'_>,
) -> Result<feishu::UserInfo, ConnectorError> {
    let code = oauth::code(answer)?;
    let secrets = Secrets::of(answer)?;
    let token = match app.feishu.exchange_code(credential, code, answer.callback, &secrets.verifier).await {
        Ok(token) => token,
        // 20010: outside the app's availability (可用范围) [FS-tok].
        Err(e) if e.is_not_available_to_user() => return Err(ConnectorError::NotAllowed(e.to_string())),
        Err(e) if e.is_account_gone() => return Err(ConnectorError::Departed(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    match app.feishu.user_info(&token.access_token).await {
        Ok(info) if !info.open_id.is_empty() && !info.tenant_key.is_empty() => Ok(info),
        Ok(_) => Err(ConnectorError::Config("Feishu's user_info named no open_id or tenant_key".into())),
        Err(e) if e.is_account_gone() => Err(ConnectorError::Departed(e.to_string())),
        Err(e) => Err(e.into()),
    }
}

/// The connection state key of the tenant a custom app's connection serves, learned at its first sign-in.
pub const BOUND_TENANT: &str = "bound_tenant";

/// A custom app is usable only in its own tenant — Feishu's rule, which holds only if the app really is a
/// custom one: its `tenant_access_token/internal` answers only for custom apps (a marketplace app pasted into a
/// `feishu` connection would let any tenant that installs it in). And the connection stays with the tenant of
/// its first sign-in (until its app_id changes).
pub async fn finish(
    app: &App,
    connection: &Connection,
    s: &FeishuSettings,
    answer: &Answer<'_>,
) -> Result<UpstreamIdentity, ConnectorError> {
    let credential = credential(&s.app_id, &s.app_secret);
    let info = signed_in(app, &credential, answer).await?;
    if let Err(e) = app.feishu.tenant_token(feishu::Tenant::Custom(&credential)).await {
        if e.is_unavailable() {
            return Err(e.into());
        }
        return Err(ConnectorError::Config(format!(
            "{} is not a custom app of one tenant (tenant_access_token/internal: {e}); use feishu_marketplace",
            s.app_id
        )));
    }
    // The first sign-in's tenant is claimed once for all instances (first one wins): two first sign-ins at
    // once, or an instance reading an older copy of the connection, cannot each bind a tenant of its own.
    let bound = match connection.state.get(BOUND_TENANT).and_then(serde_json::Value::as_str) {
        Some(bound) => bound.to_string(),
        None => {
            let claimed = app
                .store
                .claim_connection_state(&connection.identifier, BOUND_TENANT, json!(info.tenant_key), app.now())
                .await?;
            claimed.as_str().unwrap_or_default().to_string()
        }
    };
    if bound != info.tenant_key {
        return Err(ConnectorError::CorpNotAllowed(format!(
            "tenant {} is not the tenant {bound} of this custom app's connection",
            info.tenant_key
        )));
    }
    Ok(identity(info))
}

pub async fn finish_marketplace(
    app: &App,
    s: &FeishuMarketplaceSettings,
    answer: &Answer<'_>,
) -> Result<UpstreamIdentity, ConnectorError> {
    let info = signed_in(app, &credential(&s.app_id, &s.app_secret), answer).await?;
    // Any tenant may install a marketplace app: only the allowed ones get in.
    if !s.allowed_tenants.contains(&info.tenant_key) {
        return Err(ConnectorError::CorpNotAllowed(format!("tenant {} is not in allowed_tenants", info.tenant_key)));
    }
    Ok(identity(info))
}

fn identity(info: feishu::UserInfo) -> UpstreamIdentity {
    let present = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
    let mut claims = json!({
        "feishu_tenant_key": info.tenant_key,
        "feishu_open_id": info.open_id,
    });
    if let Some(map) = claims.as_object_mut() {
        for (name, value) in [("feishu_union_id", &info.union_id), ("feishu_user_id", &info.user_id)] {
            if let Some(v) = present(value) {
                map.insert(name.into(), json!(v));
            }
        }
    }
    let profile = json!({
        "tenant_key": info.tenant_key,
        "open_id": info.open_id,
        "union_id": info.union_id,
        "user_id": info.user_id,
        "name": info.name,
        "en_name": info.en_name,
        "employee_no": info.employee_no,
    });
    UpstreamIdentity {
        upstream: upstream(&info.tenant_key),
        subject: info.open_id.clone(),
        // user_id is changeable by the tenant's admins: an attribute, never a username to match on.
        username: None,
        name: present(&info.name).or_else(|| present(&info.en_name)),
        email: present(&info.enterprise_email).or_else(|| present(&info.email)),
        phone: present(&info.mobile),
        picture: present(&info.avatar_url),
        claims,
        profile,
        vouched: Vouched::NOTHING,
    }
}

/// The refresh re-check: the person's status in the tenant (`contact/v3/users`) with the app's tenant token;
/// resigned, frozen or exited = gone. A marketplace app needs its latest `app_ticket`: without one, Feishu is
/// asked to push it again and the answer is "cannot tell" for now.
pub async fn still_member(
    app: &App,
    connection: &Connection,
    upstream_space: &str,
    open_id: &str,
) -> Result<Standing, ConnectorError> {
    let Some(tenant_key) = upstream_space.strip_prefix("feishu:") else {
        return Err(ConnectorError::Config(format!("{upstream_space} is not a Feishu tenant")));
    };
    let standing = |user: feishu::ContactUser| {
        if user.is_active() { Standing::Member } else { Standing::Departed }
    };
    // 41050: outside the app's availability now. 41012 (not an id of this app's users) is not an answer about
    // the person: the connection may now be another app, whose open_ids differ — "cannot tell".
    let gone = |e: &feishu::Error| e.is_account_gone();
    let out_of_scope = |e: &feishu::Error| e.code() == Some(41050);
    match &connection.settings {
        crate::store::KindSettings::Feishu(s) => {
            if connection.state.get(BOUND_TENANT).and_then(serde_json::Value::as_str).is_some_and(|b| b != tenant_key) {
                return Ok(Standing::NotAdmitted);
            }
            let credential = credential(&s.app_id, &s.app_secret);
            match app.feishu.contact_user(feishu::Tenant::Custom(&credential), open_id).await {
                Ok(user) => Ok(standing(user)),
                Err(e) if gone(&e) => Ok(Standing::Departed),
                Err(e) if out_of_scope(&e) => Ok(Standing::NotAdmitted),
                Err(e) => Err(e.into()),
            }
        }
        crate::store::KindSettings::FeishuMarketplace(s) => {
            if !s.allowed_tenants.iter().any(|t| t == tenant_key) {
                return Ok(Standing::NotAdmitted);
            }
            let credential = credential(&s.app_id, &s.app_secret);
            let Some(ticket) = app.store.get_suite_ticket(&ticket_key(&connection.identifier)).await? else {
                ask_for_ticket(app, &credential).await;
                return Err(ConnectorError::NotReady(SetupStep::NoAppTicket));
            };
            let tenant = feishu::Tenant::Store { app: &credential, ticket: &ticket.ticket, tenant_key };
            match app.feishu.contact_user(tenant, open_id).await {
                Ok(user) => Ok(standing(user)),
                Err(e) if gone(&e) => Ok(Standing::Departed),
                Err(e) if out_of_scope(&e) => Ok(Standing::NotAdmitted),
                Err(e) => {
                    // A ticket Feishu no longer takes: ask for a new one.
                    if matches!(e.code(), Some(10012)) {
                        ask_for_ticket(app, &credential).await;
                    }
                    Err(e.into())
                }
            }
        }
        _ => Err(ConnectorError::Config("not a Feishu connection".into())),
    }
}

/// Asks Feishu to push the marketplace app's `app_ticket` again (it arrives at the event URL), at most once a
/// minute per app across instances: every refresh of every member would ask otherwise.
pub async fn ask_for_ticket(app: &App, credential: &feishu::AppCredential) {
    let cooldown = format!("feishu:resend:{}", credential.app_id);
    if !matches!(app.store.remember_callback(&cooldown, app.now() + 60).await, Ok(true)) {
        return;
    }
    let (client, credential) = (app.feishu.clone(), credential.clone());
    tokio::spawn(async move {
        if let Err(e) = client.resend_app_ticket(&credential).await {
            tracing::warn!(app_id = %credential.app_id, error = ?e.to_string(), "Feishu refused to resend the app_ticket");
        }
    });
}

/// Keeps a pushed ticket for every instance, per connection; an older one (a replay, a late retry) never replaces
/// a newer one.
pub async fn keep_ticket(app: &App, identifier: &str, ticket: String, sent_at: f64) -> Result<(), ConnectorError> {
    let received_at = (sent_at as i64).min(app.now());
    app.store.put_suite_ticket(SuiteTicket { suite_id: ticket_key(identifier), ticket, received_at }).await?;
    Ok(())
}
