//! Corp ids as a service provider's apps see them. Since 2022 WeCom gives delegated and third-party apps
//! the provider's *encrypted* corp id (`wp…`, case-sensitive) instead of the plain enterprise id (`ww…`)
//! the admin reads in WeCom's console (document 39442; path/96516 §1). An admin may type either in
//! `corp_id` / `allowed_corps`: an encrypted id is compared exactly; a plain one is converted once with
//! `service/corpid_to_opencorpid` and the provider credentials, and the answer kept in the connection's
//! state (another instance reads it there). Plain ids still name legacy authorizations from before the
//! upgrade, compared case-insensitively as WeCom does.

use serde_json::{Value, json};

use super::error::ConnectorError;
use super::fields::is_plain_corp_id;
use crate::app::App;
use crate::store::{AuthorizedCorp, Connection};

/// The state key caching the conversion of a plain corp id.
fn cache_key(plain: &str) -> String {
    format!("open_corpid:{}", plain.to_ascii_lowercase())
}

/// The provider credentials plain ids are converted with, when both halves are set.
pub fn provider_credential(corp_id: Option<&str>, secret: Option<&str>) -> Option<wecom::ProviderCredential> {
    match (corp_id, secret) {
        (Some(corp_id), Some(secret)) if !corp_id.is_empty() && !secret.is_empty() => {
            Some(wecom::ProviderCredential { corp_id: corp_id.to_string(), provider_secret: secret.to_string() })
        }
        _ => None,
    }
}

/// Whether `typed` (an admin's corp id) names the corp WeCom calls `seen`.
pub async fn names(
    app: &App,
    connection: &Connection,
    provider: Option<&wecom::ProviderCredential>,
    typed: &str,
    seen: &str,
) -> Result<bool, ConnectorError> {
    if typed == seen {
        return Ok(true);
    }
    if !is_plain_corp_id(typed) {
        return Ok(false);
    }
    if is_plain_corp_id(seen) {
        // A legacy authorization: plain ids, case-insensitive.
        return Ok(typed.eq_ignore_ascii_case(seen));
    }
    Ok(encrypted(app, connection, provider, typed).await?.as_deref() == Some(seen))
}

/// The first of `corps` that `typed` names.
pub async fn find<'c>(
    app: &App,
    connection: &Connection,
    provider: Option<&wecom::ProviderCredential>,
    typed: &str,
    corps: &'c [AuthorizedCorp],
) -> Result<Option<&'c AuthorizedCorp>, ConnectorError> {
    for corp in corps {
        if names(app, connection, provider, typed, &corp.corp_id).await? {
            return Ok(Some(corp));
        }
    }
    Ok(None)
}

/// The encrypted id of the plain corp id `plain`, from the connection's cache or from WeCom. `None` when
/// WeCom will not convert it: the corp has not authorized any of the provider's apps (yet).
async fn encrypted(
    app: &App,
    connection: &Connection,
    provider: Option<&wecom::ProviderCredential>,
    plain: &str,
) -> Result<Option<String>, ConnectorError> {
    let key = cache_key(plain);
    if let Some(known) = connection.state.get(&key).and_then(Value::as_str) {
        return Ok(Some(known.to_string()));
    }
    let Some(provider) = provider else {
        return Err(ConnectorError::Config(format!(
            "corp id {plain} is a plain enterprise id, but WeCom names corps to this app by encrypted ids: set \
             provider_corp_id and provider_secret on the connection so wegate converts it, or enter the encrypted \
             corp id shown in the connection's authorized_corps"
        )));
    };
    match app.wecom.corpid_to_opencorpid(provider, plain).await {
        Ok(open) if !open.is_empty() => {
            app.store.merge_connection_state(&connection.identifier, json!({ key: open }), app.now()).await?;
            tracing::info!(connection = %connection.identifier, corp_id = plain, open_corpid = %open, "converted a plain corp id");
            Ok(Some(open))
        }
        Ok(_) => Ok(None),
        // 40013 unknown corp, 48002 no authorization relation with the provider (yet).
        Err(e) if e.errcode().is_some_and(|c| c == 40013 || c == 48002) => {
            tracing::warn!(connection = %connection.identifier, corp_id = plain, error = %e, "WeCom does not convert this corp id");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// At save: a plain corp id that can never match (WeCom gives encrypted ids and there are no provider
/// credentials to convert it) is refused with the fix, unless a legacy authorization carries that plain id.
pub fn check_plain(
    field: &str,
    credentials: &str,
    typed: &str,
    provider: Option<&wecom::ProviderCredential>,
    authorized: &[AuthorizedCorp],
) -> Result<(), String> {
    if !is_plain_corp_id(typed)
        || provider.is_some()
        || authorized.iter().any(|c| c.corp_id.eq_ignore_ascii_case(typed))
    {
        return Ok(());
    }
    Err(format!(
        "{field} {typed} is the plain enterprise id; since 2022 WeCom names corps to delegated and third-party apps \
         by encrypted ids. Set {credentials} (WeCom's service-provider console: 应用管理 → 通用开发参数, \
         ProviderSecret) so wegate converts it, or enter the encrypted corp id (shown in authorized_corps once the \
         corp has authorized the app)"
    ))
}
