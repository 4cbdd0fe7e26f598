//! `/api/v1/connections`: WeCom identity-source connections. Common fields are checked here; the kind's
//! own fields by its connector (`connectors::*::validate`). Secrets go in, never out: the answer says
//! which are set.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::common::{Actor, ApiError, ApiResult, Changed, List, ListQuery, NO_FIELDS, audit_change, body};
use crate::app::{App, AppState};
use crate::connectors::{self, CLEARABLE, KINDS, corp_ids};
use crate::store::{Association, AssociationMode, AuthorizedCorp, Connection, DOMAIN_VERIFICATION, KindSettings};

/// Body of `POST` (all required fields) and `PATCH` (any subset) — which fields apply depends on `kind`.
#[derive(Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionBody {
    /// Lowercase letters, digits and `-`, 1 to 31 characters; never changes.
    pub identifier: Option<String>,
    /// The button text on the login page.
    pub display_name: Option<String>,
    /// `wecom_qrcode`, `wecom_web`, `wecom_mobile`, `wecom_delegated`, `wecom_provider`, `oidc` or `oauth2`;
    /// never changes.
    pub kind: Option<String>,
    /// Existing accounts only: never create one.
    pub login_only: Option<bool>,
    /// Any kind: the emails WeCom gives through this connection count as verified (`email_verified` in
    /// tokens). Default false: a corp admin can set any email on a member.
    pub trust_email: Option<bool>,
    pub association: Option<Association>,
    /// The login button's icon: an https URL or a `data:image/…;base64,` URI. `null` removes it.
    #[schema(value_type = Option<String>)]
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<Option<String>>,
    /// Corp ID: the app's corp (`ww…`); for `dingtalk_*` the organisation's CorpId (`ding…`, only its employees
    /// get in); for `wecom_provider` the provider's own corp; for `wecom_delegated` the
    /// authorizing corp, by its encrypted id (as in `authorized_corps`) or its plain enterprise id (converted
    /// with `provider_corp_id` + `provider_secret`).
    pub corp_id: Option<String>,
    /// The app's AgentID (`wecom_qrcode`, `wecom_web`, `wecom_mobile`, optional for `wecom_delegated`).
    #[schema(value_type = Option<String>)]
    pub agent_id: Option<Value>,
    /// The app's Secret (write-only).
    pub secret: Option<String>,
    /// `wecom_web`: `snsapi_base` (default, silent) or `snsapi_privateinfo` (consent; mobile and email).
    pub scope: Option<String>,
    /// `wecom_mobile`: the SDK schema WeCom shows for the app (e.g. `wwauth…`).
    pub schema: Option<String>,
    /// Event callback Token (write-only), `wecom_delegated` and `wecom_provider`.
    pub token: Option<String>,
    /// Event callback EncodingAESKey, 43 characters (write-only).
    pub encoding_aes_key: Option<String>,
    /// `wecom_delegated`: the template id (dk…).
    pub template_id: Option<String>,
    /// `wecom_delegated`: the template secret (write-only).
    pub template_secret: Option<String>,
    /// `wecom_delegated`: the service provider's corp id.
    pub provider_corp_id: Option<String>,
    /// Any kind: `{"filename": "WW_verify_….txt", "content": "…"}` served at the domain root for WeCom's
    /// trusted-domain check.
    /// `null` removes it.
    #[schema(value_type = Option<Object>)]
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub domain_verification: Option<Option<Value>>,
    /// `wecom_provider`: the login-authorization suite's id (ServiceApp QR login); needs `suite_secret`,
    /// `token` and `encoding_aes_key`.
    pub suite_id: Option<String>,
    /// `wecom_provider`: its secret (write-only).
    pub suite_secret: Option<String>,
    /// `wecom_provider`: the provider secret (write-only). Alone (without `suite_id`), sign-in uses the provider
    /// login (`3rd_qrConnect` + `get_login_info`). It also converts plain corp ids in `allowed_corps` (and, on
    /// `wecom_delegated` with `provider_corp_id`, a plain `corp_id`) into the encrypted ones WeCom uses.
    pub provider_secret: Option<String>,
    /// `wecom_provider`: corps allowed to sign in; absent = any; `null` removes the list.
    #[schema(value_type = Option<Vec<String>>)]
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub allowed_corps: Option<Option<Vec<String>>>,
    /// `oidc`: the provider's issuer, exactly as its discovery document names it (Entra ID:
    /// `https://login.microsoftonline.com/{tenant id}/v2.0`).
    pub issuer: Option<String>,
    /// `oidc`, `oauth2`: the client id the provider registered for wegate; `dingtalk_*`: the internal app's
    /// Client ID (AppKey).
    pub client_id: Option<String>,
    /// `oidc`, `oauth2`: its secret; `dingtalk_*`: the Client Secret (AppSecret). Write-only.
    pub client_secret: Option<String>,
    /// `oidc` (default `["openid","profile","email"]`, must include `openid`), `oauth2`, `feishu*` (default none:
    /// the person's name only; e.g. `contact:user.email:readonly`, enabled for the app first): the scopes asked for;
    /// a list, or one string of names separated by spaces or commas.
    #[schema(value_type = Option<Vec<String>>)]
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Option<Value>>,
    /// `oidc`, `oauth2`: `client_secret_basic` (default) or `client_secret_post`.
    pub client_auth_method: Option<String>,
    /// `oidc`, `oauth2`: which provider claim (a dotted path) fills `name`, `email`, `phone_number`,
    /// `preferred_username`, `picture`, e.g. `{"email": "upn"}`. An object, or `name=path` pairs in a string.
    #[schema(value_type = Option<Object>)]
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub claims: Option<Option<Value>>,
    /// `oidc`: also read the userinfo endpoint (default true); its `sub` must be the ID token's.
    #[schema(value_type = Option<bool>)]
    pub use_userinfo: Option<Value>,
    /// `oidc`: claims the verified ID token must carry with these exact values (`{"hd": "example.com"}`,
    /// `{"tid": "…"}`); anyone else is refused. An object, or `name=value` pairs in a string.
    #[schema(value_type = Option<Object>)]
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub required_claims: Option<Option<Value>>,
    /// `oauth2`: the provider's authorization endpoint.
    pub authorization_endpoint: Option<String>,
    /// `oauth2`: its token endpoint.
    pub token_endpoint: Option<String>,
    /// `oauth2`: its userinfo endpoint (a JSON object about the person for the access token).
    pub userinfo_endpoint: Option<String>,
    /// `oauth2`: the dotted path of the person's stable id in the userinfo JSON (`id`, `data.user_id`).
    pub user_id_field: Option<String>,
    /// `feishu`, `feishu_marketplace`: the app's App ID (`cli_…`).
    pub app_id: Option<String>,
    /// `feishu`, `feishu_marketplace`: its App Secret (write-only).
    pub app_secret: Option<String>,
    /// `feishu_marketplace`: the event subscription's Encrypt Key (write-only).
    pub encrypt_key: Option<String>,
    /// `feishu_marketplace`: the event subscription's Verification Token (write-only).
    pub verification_token: Option<String>,
    /// `feishu_marketplace`: the tenant_keys whose people may sign in (any other tenant is refused); a list, or
    /// one string of keys separated by spaces or commas.
    #[schema(value_type = Option<Vec<String>>)]
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub allowed_tenants: Option<Option<Value>>,
    /// `ldap`: `ldaps://host[:port]`, or `ldap://host[:port]` with `start_tls` (plain only on this machine).
    pub url: Option<String>,
    /// `ldap`: StartTLS on an `ldap://` URL.
    #[schema(value_type = Option<bool>)]
    pub start_tls: Option<Value>,
    /// `ldap`: the CA (PEM) the directory's certificate must chain to; absent: the public web roots. `null`
    /// removes it.
    #[schema(value_type = Option<String>)]
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<Option<Value>>,
    /// `ldap`: the search account's DN.
    pub bind_dn: Option<String>,
    /// `ldap`: the search account's password (write-only).
    pub bind_password: Option<String>,
    /// `ldap`: where people are searched (subtree).
    pub user_base_dn: Option<String>,
    /// `ldap`: which entries are people (default `(objectClass=person)`).
    pub user_filter: Option<String>,
    /// `ldap`: the attributes what the person types is matched against (default `["uid"]`).
    #[schema(value_type = Option<Vec<String>>)]
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub login_attributes: Option<Option<Value>>,
    /// `ldap`: the entry's stable id (default `entryUUID`; Active Directory `objectGUID`).
    pub id_attribute: Option<String>,
    /// `ldap`: default `cn`.
    pub name_attribute: Option<String>,
    /// `ldap`: default `mail`.
    pub email_attribute: Option<String>,
    /// `ldap`: default `telephoneNumber`.
    pub phone_attribute: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionView {
    pub identifier: String,
    pub display_name: String,
    pub kind: String,
    pub login_only: bool,
    pub trust_email: bool,
    pub association: Association,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    /// The kind's non-secret settings (corp_id, agent_id, scope, schema, template_id, ...).
    #[schema(value_type = Object)]
    pub settings: Value,
    /// Which secrets are set, e.g. `{"secret": true}`. Their values are never returned.
    #[schema(value_type = Object)]
    pub secrets_set: Value,
    /// The address WeCom sends the person back to.
    pub callback_url: String,
    /// What to paste into WeCom's trusted-domain fields (可信域名, 授权回调域): `callback_url`'s host, with the
    /// port when it is not the default.
    pub trusted_domain: String,
    /// Settings that are accepted but cannot work as configured, one sentence each.
    pub warnings: Vec<String>,
    /// `wecom_delegated` / `wecom_provider`: the event (callback) URL to paste into WeCom.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_url: Option<String>,
    /// `wecom_delegated` / `wecom_provider`: the corps that authorized the app (`corp_id` as WeCom gives it
    /// to the app — encrypted since 2022 —, `corp_name`, `agent_id`, `status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub authorized_corps: Option<Vec<AuthorizedCorp>>,
    /// `wecom_delegated` / `wecom_provider`: URL verified, last suite ticket, authorized corps.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub status: Option<Value>,
    /// Client ids of the associated apps.
    pub apps: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn view(app: &App, c: Connection) -> ApiResult<ConnectionView> {
    let (mut settings, secrets) = c.settings.split();
    if let Some(file) = &c.domain_verification {
        settings.insert(DOMAIN_VERIFICATION.into(), json!(file));
    }
    let secrets_set: Map<String, Value> = secrets.keys().map(|k| (k.clone(), json!(true))).collect();
    let apps = app.store.connection_apps(&c.identifier).await?;
    let (event_url, status, authorized) = if connectors::has_event_url(&c.settings) {
        let suite_id = match &c.settings {
            KindSettings::Delegated(s) => s.template_id.clone(),
            KindSettings::Provider(s) => s.suite_id.clone(),
            // A Feishu marketplace app's app_ticket, kept the same way.
            KindSettings::FeishuMarketplace(_) => Some(connectors::feishu::ticket_key(&c.identifier)),
            _ => None,
        };
        let ticket = app.store.get_suite_ticket(suite_id.as_deref().unwrap_or_default()).await?;
        let corps = app.store.list_authorized_corps(&c.identifier).await?;
        let now = app.now();
        let status = json!({
            "url_verified": c.state.get("url_verified_at").is_some(),
            "url_verified_at": c.state.get("url_verified_at"),
            "suite_ticket_age_seconds": ticket.map(|t| now - t.received_at),
            "authorized_corps": corps,
            "bound_corp_id": c.state.get("bound_corp_id"),
        });
        (Some(app.url(&format!("/connections/{}/events", c.identifier))), Some(status), Some(corps))
    } else {
        (None, None, None)
    };
    let callback_url = app.url(&format!("/connections/{}/callback", c.identifier));
    Ok(ConnectionView {
        trusted_domain: connectors::advice::trusted_domain(&callback_url),
        warnings: connectors::advice::warnings(&c),
        icon_url: c.icon_url.clone(),
        callback_url,
        kind: c.kind().to_string(),
        identifier: c.identifier,
        display_name: c.display_name,
        login_only: c.login_only,
        trust_email: c.trust_email,
        association: c.association,
        settings: Value::Object(settings),
        secrets_set: Value::Object(secrets_set),
        event_url,
        authorized_corps: authorized,
        status,
        apps,
        created_at: c.created_at,
        updated_at: c.updated_at,
    })
}

fn check_icon(icon: Option<String>) -> ApiResult<Option<String>> {
    match icon.map(|i| i.trim().to_string()).filter(|i| !i.is_empty()) {
        Some(icon) => connectors::advice::check_icon_url(&icon).map(|()| Some(icon)).map_err(ApiError::invalid),
        None => Ok(None),
    }
}

/// Two connections serving one `WW_verify_*.txt` name with different contents cannot both be right: WeCom
/// would download one of them. 409, naming the other connection.
async fn check_domain_file(app: &App, identifier: &str, file: Option<&crate::store::DomainFile>) -> ApiResult<()> {
    let Some(file) = file else { return Ok(()) };
    let clash = crate::store::all_connections(app.store.as_ref()).await?.into_iter().find(|other| {
        other.identifier != identifier
            && other
                .domain_verification
                .as_ref()
                .is_some_and(|t| t.filename == file.filename && t.content != file.content)
    });
    match clash {
        Some(other) => Err(ApiError::conflict(format!(
            "connection {} already serves {} with other content; WeCom can download only one",
            other.identifier, file.filename
        ))),
        None => Ok(()),
    }
}

/// Plain corp ids that could never match (CONTRACT.md, "WeCom's encrypted ids") are refused with the fix.
async fn check_corp_ids(app: &App, identifier: &str, state: &Value, settings: &KindSettings) -> ApiResult<()> {
    let typed: Vec<&String> = match settings {
        KindSettings::Delegated(s) => s.corp_id.iter().collect(),
        KindSettings::Provider(s) => s.allowed_corps.iter().flatten().collect(),
        _ => return Ok(()),
    };
    if typed.iter().all(|c| !connectors::fields::is_plain_corp_id(c)) {
        return Ok(());
    }
    let authorized = app.store.list_authorized_corps(identifier).await?;
    let (field, credentials, provider) = match settings {
        KindSettings::Delegated(s) => {
            let learned = state.get("provider_corp_id").and_then(Value::as_str);
            let provider =
                corp_ids::provider_credential(s.provider_corp_id.as_deref().or(learned), s.provider_secret.as_deref());
            ("corp_id", "provider_corp_id and provider_secret", provider)
        }
        KindSettings::Provider(s) => (
            "allowed_corps",
            "provider_secret",
            corp_ids::provider_credential(Some(&s.corp_id), s.provider_secret.as_deref()),
        ),
        _ => return Ok(()),
    };
    for corp in typed {
        corp_ids::check_plain(field, credentials, corp, provider.as_ref(), &authorized).map_err(ApiError::invalid)?;
    }
    Ok(())
}

/// Lowercase letters, digits and `-`, 1 to 31 characters.
pub fn valid_identifier(identifier: &str) -> bool {
    (1..32).contains(&identifier.len())
        && identifier.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn check_display_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ApiError::invalid("display_name must be 1 to 64 characters"));
    }
    Ok(name.to_string())
}

fn check_association(kind: &str, association: &Association) -> ApiResult<()> {
    if association.mode == AssociationMode::Match && association.fields.is_empty() {
        return Err(ApiError::invalid(
            "association.fields must name at least one of email, phone, username when mode is match",
        ));
    }
    if association.mode == AssociationMode::Match
        && matches!(kind, "oidc" | "oauth2")
        && association.fields.contains(&crate::store::MatchField::Username)
    {
        // A provider's preferred_username is whatever its user chose: it never proves an account's owner.
        return Err(ApiError::invalid(format!(
            "{kind} identities cannot be matched on username: match on email (verified ones only) or use ask_to_bind"
        )));
    }
    if association.mode == AssociationMode::Match && kind == "wecom_provider" {
        // Third-party apps get neither email, mobile nor the real userid (reference §8): nothing could match.
        return Err(ApiError::invalid(
            "wecom_provider identities carry no email, phone or userid to match on: use none or ask_to_bind",
        ));
    }
    Ok(())
}

/// For fields where `null` means "remove": absent stays `None`, `null` becomes `Some(None)`.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The names of the fields a body sets (for the audit: names only, never values).
fn given_fields(body: &ConnectionBody) -> Vec<String> {
    match serde_json::to_value(body) {
        Ok(Value::Object(map)) => {
            map.into_iter().filter(|(k, v)| !v.is_null() || k == "icon_url").map(|(k, _)| k).collect()
        }
        _ => Vec::new(),
    }
}

/// The kind-specific fields of the body, as the connector's `validate` reads them.
fn kind_fields(body: &ConnectionBody) -> Map<String, Value> {
    let mut map = match serde_json::to_value(body) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    for common in ["identifier", "display_name", "kind", "login_only", "trust_email", "association", "icon_url"] {
        map.remove(common);
    }
    map.retain(|k, v| !v.is_null() || CLEARABLE.contains(&k.as_str()));
    map
}

#[utoipa::path(post, path = "/api/v1/connections", request_body = ConnectionBody, responses((status = 201, body = ConnectionView), (status = 400, body = ApiError), (status = 409, body = ApiError)))]
pub async fn create_connection(
    State(app): State<AppState>,
    actor: Actor,
    payload: Result<Json<ConnectionBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<ConnectionView>)> {
    let input = body(payload)?;
    let identifier = input.identifier.clone().ok_or_else(|| ApiError::invalid("identifier is required"))?;
    if !valid_identifier(&identifier) {
        return Err(ApiError::invalid("identifier must be 1 to 31 lowercase letters, digits or -"));
    }
    let display_name = check_display_name(
        input.display_name.as_deref().ok_or_else(|| ApiError::invalid("display_name is required"))?,
    )?;
    let kind = input.kind.clone().ok_or_else(|| ApiError::invalid("kind is required"))?;
    if !KINDS.contains(&kind.as_str()) {
        return Err(ApiError::invalid(format!("kind must be one of {}", KINDS.join(", "))));
    }
    let association = input.association.clone().unwrap_or_default();
    check_association(&kind, &association)?;
    let (settings, domain_verification) =
        connectors::settings_from_input(&kind, &kind_fields(&input), None).map_err(ApiError::invalid)?;
    check_corp_ids(&app, &identifier, &json!({}), &settings).await?;
    let icon_url = check_icon(input.icon_url.clone().flatten())?;
    check_domain_file(&app, &identifier, domain_verification.as_ref()).await?;
    let now = app.now();
    let stored = app
        .store
        .create_connection(Connection {
            identifier,
            display_name,
            login_only: input.login_only.unwrap_or(false),
            trust_email: input.trust_email.unwrap_or(false),
            icon_url,
            association,
            settings,
            domain_verification,
            state: json!({}),
            created_at: now,
            updated_at: now,
        })
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict(_) => {
                ApiError::conflict("a connection with this identifier already exists")
            }
            other => other.into(),
        })?;
    tracing::info!(connection = %stored.identifier, kind = stored.kind(), "connection created");
    audit_change(&app, &actor, "connection.created", Changed::Connection(&stored.identifier), &given_fields(&input))
        .await;
    Ok((StatusCode::CREATED, Json(view(&app, stored).await?)))
}

#[utoipa::path(get, path = "/api/v1/connections", params(ListQuery), responses((status = 200, body = List<ConnectionView>)))]
pub async fn list_connections(
    State(app): State<AppState>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<List<ConnectionView>>> {
    let page = app.store.list_connections(q.limit()?, q.cursor.as_deref()).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for c in page.items {
        items.push(view(&app, c).await?);
    }
    Ok(Json(List { items, next: page.next }))
}

#[utoipa::path(get, path = "/api/v1/connections/{identifier}", responses((status = 200, body = ConnectionView), (status = 404, body = ApiError)))]
pub async fn get_connection(
    State(app): State<AppState>,
    Path(identifier): Path<String>,
) -> ApiResult<Json<ConnectionView>> {
    let c = app.store.get_connection(&identifier).await?.ok_or_else(|| ApiError::not_found("connection"))?;
    Ok(Json(view(&app, c).await?))
}

/// Changes any field but `identifier` and `kind`. Secrets not given are kept.
#[utoipa::path(patch, path = "/api/v1/connections/{identifier}", request_body = ConnectionBody, responses((status = 200, body = ConnectionView), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn update_connection(
    State(app): State<AppState>,
    actor: Actor,
    Path(identifier): Path<String>,
    payload: Result<Json<ConnectionBody>, JsonRejection>,
) -> ApiResult<Json<ConnectionView>> {
    let input = body(payload)?;
    let mut stored = app.store.get_connection(&identifier).await?.ok_or_else(|| ApiError::not_found("connection"))?;
    if input.identifier.as_deref().is_some_and(|i| i != stored.identifier) {
        return Err(ApiError::invalid("identifier never changes; create a new connection instead"));
    }
    if input.kind.as_deref().is_some_and(|k| k != stored.kind()) {
        return Err(ApiError::invalid("kind never changes; create a new connection instead"));
    }
    let (settings, domain_verification) =
        connectors::settings_from_input(stored.kind(), &kind_fields(&input), Some(&stored))
            .map_err(ApiError::invalid)?;
    check_corp_ids(&app, &identifier, &stored.state, &settings).await?;
    check_domain_file(&app, &identifier, domain_verification.as_ref()).await?;
    if let Some(icon) = &input.icon_url {
        stored.icon_url = check_icon(icon.clone())?;
    }
    if let Some(name) = &input.display_name {
        stored.display_name = check_display_name(name)?;
    }
    if let Some(trust_email) = input.trust_email {
        stored.trust_email = trust_email;
    }
    if let Some(login_only) = input.login_only {
        stored.login_only = login_only;
    }
    if let Some(association) = &input.association {
        check_association(stored.kind(), association)?;
        stored.association = association.clone();
    }
    // A custom Feishu app re-pointed at another app may serve another tenant: learned again at its next sign-in.
    let rebind = matches!((&stored.settings, &settings), (KindSettings::Feishu(a), KindSettings::Feishu(b)) if a.app_id != b.app_id);
    stored.settings = settings;
    stored.domain_verification = domain_verification;
    stored.updated_at = app.now();
    let mut updated = app.store.update_connection(stored).await?;
    if rebind {
        let unbound = json!({ connectors::feishu::BOUND_TENANT: null });
        app.store.merge_connection_state(&identifier, unbound.clone(), app.now()).await?;
        if let Some(state) = updated.state.as_object_mut() {
            state.remove(connectors::feishu::BOUND_TENANT);
        }
    }
    audit_change(&app, &actor, "connection.updated", Changed::Connection(&identifier), &given_fields(&input)).await;
    // Saving the template secret completes an authorization that arrived before it.
    crate::inbound::events::complete_pending_authorization(app.clone(), &updated).await;
    Ok(Json(view(&app, updated).await?))
}

#[utoipa::path(delete, path = "/api/v1/connections/{identifier}", responses((status = 204), (status = 404, body = ApiError)))]
pub async fn delete_connection(
    State(app): State<AppState>,
    actor: Actor,
    Path(identifier): Path<String>,
) -> ApiResult<StatusCode> {
    app.store.delete_connection(&identifier).await.map_err(|e| match e {
        crate::store::StoreError::NotFound => ApiError::not_found("connection"),
        other => other.into(),
    })?;
    audit_change(&app, &actor, "connection.deleted", Changed::Connection(&identifier), NO_FIELDS).await;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_follow_the_contract() {
        assert!(valid_identifier("wecom-qr-1"));
        assert!(valid_identifier(&"a".repeat(31)));
        assert!(!valid_identifier(&"a".repeat(32)));
        assert!(!valid_identifier(""));
        assert!(!valid_identifier("WeCom"));
        assert!(!valid_identifier("we_com"));
    }
}
