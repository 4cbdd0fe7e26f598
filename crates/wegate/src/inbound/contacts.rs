//! Address-book events (`change_contact`; path/90970 for self-built apps, path/90639 for third-party and
//! delegated apps): a member deleted, disabled or gone is signed out of every app at once
//! (`oidc::backchannel::end_user`); any other update refreshes the stored profile. Events name members the
//! way the connection's identities do: a self-built app's plain userid, a delegated app's encrypted userid,
//! a provider app's open_userid. A member without an account here is nothing to act on. A departure
//! disables the account until an admin enables it (`oidc::backchannel::departed`).

use serde_json::{Value, json};

use crate::app::AppState;
use crate::audit::Audit;
use crate::connectors::corp_member::{delegated_ids_are_plain, member_subject};
use crate::oidc::backchannel::departed;
use crate::store::{Connection, Identity, KindSettings, ProfileUpdate, StoreResult};

/// A `change_contact` event, as received.
pub struct Change {
    /// The corp (`AuthCorpId`, or a self-built event's `ToUserName`).
    pub auth_corp_id: Option<String>,
    pub change_type: String,
    pub user_id: Option<String>,
    pub member: Box<wecom::ContactMember>,
}

/// WeCom's member status values that mean the person may no longer sign in: 2 disabled (path/90970), 5 left
/// (user/get's extra value).
const GONE_STATUSES: [i64; 2] = [2, 5];

pub async fn apply(app: &AppState, connection: &Connection, change: Change) -> StoreResult<()> {
    let identifier = &connection.identifier;
    // A delegated or provider event names a corp: only one that authorized this connection's app counts.
    if connection.settings.corp_app().is_none() {
        let corp = change.auth_corp_id.as_deref().unwrap_or_default();
        let authorized = app.store.get_authorized_corp(identifier, corp).await?;
        if authorized.is_none_or(|c| c.status != "active") {
            tracing::warn!(connection = %identifier, corp, "address-book event for a corp that has not authorized this app: ignored");
            return Ok(());
        }
    }
    let Some((upstream, subject)) = identity_key(connection, &change) else {
        tracing::info!(connection = %identifier, change_type = %change.change_type, "address-book event names no member of this connection");
        return Ok(());
    };
    let Some(identity) = app.store.get_identity(&upstream, &subject).await? else {
        tracing::info!(connection = %identifier, change_type = %change.change_type, "address-book event for a member without an account here");
        return Ok(());
    };
    let gone = match change.change_type.as_str() {
        "delete_user" => Some("deleted from the WeCom address book"),
        "update_user" if change.member.status.is_some_and(|s| GONE_STATUSES.contains(&s)) => {
            Some("disabled or left in WeCom")
        }
        _ => None,
    };
    if let Some(why) = gone {
        Audit::new("member.departed")
            .connection(identifier)
            .user(&identity.user_id)
            .upstream(&format!("{upstream}/{subject}"))
            .reason(why)
            .write(app)
            .await;
        departed(app, &identity.user_id, why).await?;
        return Ok(());
    }
    if change.change_type == "update_user" {
        refresh_profile(app, &identity, &change.member).await?;
        // The member's userid was changed: the identity follows it (same person, new key).
        // (A provider app's identity is its open_userid, which a rename does not change.)
        let plain = match &connection.settings {
            KindSettings::Provider(_) => None,
            KindSettings::Delegated(_) => {
                Some(delegated_ids_are_plain(change.auth_corp_id.as_deref().unwrap_or_default()))
            }
            _ => Some(true),
        };
        if let (Some(new_userid), Some(plain)) = (change.member.new_user_id.as_deref().filter(|n| !n.is_empty()), plain)
        {
            let new_subject = member_subject(plain, new_userid);
            if new_subject != subject {
                match app.store.rename_identity(&upstream, &subject, &new_subject, app.now()).await {
                    Ok(()) => tracing::info!(connection = %identifier, "identity follows the member's new userid"),
                    Err(crate::store::StoreError::Conflict(_)) => {
                        tracing::warn!(connection = %identifier, "the member's new userid is already another identity here")
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(())
}

/// The (upstream, subject) an event's member has as an identity of this connection.
fn identity_key(connection: &Connection, change: &Change) -> Option<(String, String)> {
    match &connection.settings {
        KindSettings::Provider(_) => {
            let corp = change.auth_corp_id.as_deref()?;
            Some((format!("wecom-open:{corp}"), change.member.open_user_id.clone()?))
        }
        KindSettings::Delegated(_) => {
            let corp = change.auth_corp_id.as_deref()?;
            let plain = delegated_ids_are_plain(corp);
            Some((format!("wecom:{corp}"), member_subject(plain, change.user_id.as_deref()?)))
        }
        other => {
            let (corp_id, _) = other.corp_app()?;
            // A self-built app's events are addressed to its corp; anything else is not this connection's.
            if change.auth_corp_id.as_deref().is_some_and(|to| !to.eq_ignore_ascii_case(corp_id)) {
                return None;
            }
            Some((format!("wecom:{corp_id}"), member_subject(true, change.user_id.as_deref()?)))
        }
    }
}

/// Applies what an `update_user` carried to the identity's profile and the user (only the fields it sent:
/// since 2022 WeCom sends new apps no mobile, email or avatar).
async fn refresh_profile(app: &AppState, identity: &Identity, member: &wecom::ContactMember) -> StoreResult<()> {
    let now = app.now();
    let mut profile = identity.profile.clone();
    if let Some(map) = profile.as_object_mut() {
        for (key, value) in [
            ("name", member.name.clone().map(Value::String)),
            ("position", member.position.clone().map(Value::String)),
            ("department", member.department.clone().map(|d| json!(d))),
        ] {
            if let Some(value) = value {
                map.insert(key.into(), value);
            }
        }
    }
    if profile != identity.profile {
        app.store.touch_identity(&identity.upstream, &identity.subject, &identity.connection, profile, now).await?;
    }
    let Some(user) = app.store.get_user(&identity.user_id).await? else { return Ok(()) };
    let mut claims = user.claims.clone();
    if let (Some(department), Some(map)) = (&member.department, claims.as_object_mut()) {
        map.insert("wecom_department".into(), json!(department));
    }
    let non_empty = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    let update = ProfileUpdate {
        name: non_empty(&member.name),
        email: non_empty(&member.email).or_else(|| non_empty(&member.biz_mail)),
        phone: non_empty(&member.mobile),
        picture: non_empty(&member.avatar),
        claims: (claims != user.claims).then_some(claims),
    };
    let changed = update.name.is_some()
        || update.email.is_some()
        || update.phone.is_some()
        || update.picture.is_some()
        || update.claims.is_some();
    if changed {
        app.store.update_user_profile(&identity.user_id, update, now).await?;
        tracing::info!(user_id = %identity.user_id, "profile refreshed from an address-book event");
        Audit::new("member.updated").connection(&identity.connection).user(&identity.user_id).write(app).await;
    }
    Ok(())
}
