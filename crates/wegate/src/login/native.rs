//! Native apps sign in without a browser: the WeCom SDK (or DingTalk's `dd.getAuthCode`) hands the app a code,
//! which it presents at `/token` with the RFC 8693 token exchange (`subject_token_type` =
//! `urn:wegate:params:oauth:token-type:wecom-code` with a `wecom_mobile` connection of the app,
//! `…:dingtalk-code` with a `dingtalk_mobile` one, named by `connection`).
//! The same connector exchange, account rules and outcome table as the browser login; `oidc::token`
//! does the rest (client authentication, scopes, issuance).

use std::future::Future;

use super::outcome::Failure;
use crate::accounts::{self, Resolution};
use crate::app::App;
use crate::audit::Audit;
use crate::connectors::{self, Standing};
use crate::oidc::client_auth::FormParams;
use crate::oidc::error::OAuthError;
use crate::oidc::token::{Exchanged, Membership, MembershipCheck, SubjectTokenExchange};
use crate::store::{App as Client, GrantOrigin};

/// The connectors as the router plugs them into `oidc::token`: a native app's upstream code (WeCom SDK,
/// DingTalk 免登) as a subject token, and the membership re-check of a refresh.
pub struct Upstreams;

impl SubjectTokenExchange for Upstreams {
    const SUBJECT_TOKEN_TYPES: &'static [&'static str] =
        &[connectors::wecom_mobile::SUBJECT_TOKEN_TYPE, connectors::dingtalk::SUBJECT_TOKEN_TYPE];

    fn exchange<'a>(
        app: &'a App,
        client: &'a Client,
        code: &'a str,
        form: &'a FormParams,
    ) -> impl Future<Output = Result<Exchanged, OAuthError>> + Send + 'a {
        exchange(app, client, code, form)
    }
}

impl MembershipCheck for Upstreams {
    fn still_member<'a>(app: &'a App, origin: &'a GrantOrigin) -> impl Future<Output = Membership> + Send + 'a {
        still_member(app, origin)
    }
}

async fn still_member(app: &App, origin: &GrantOrigin) -> Membership {
    let Some(identifier) = &origin.connection else {
        return Membership::Present;
    };
    let (Some(upstream), Some(subject)) = (&origin.upstream, &origin.subject) else {
        return Membership::Unknown(format!("the grant's origin at {identifier} names no identity"));
    };
    let connection = match app.store.get_connection(identifier).await {
        Ok(Some(connection)) => connection,
        Ok(None) => return Membership::Unknown(format!("connection {identifier} was deleted")),
        Err(e) => return Membership::Unknown(e.to_string()),
    };
    match connectors::still_member(app, &connection, upstream, subject).await {
        Ok(Standing::Member) => Membership::Present,
        Ok(Standing::NotAdmitted) => {
            Membership::NotAdmitted(format!("{subject} is no longer admitted by connection {identifier}"))
        }
        Ok(Standing::Departed) => Membership::Gone(format!("{subject} left the corp of connection {identifier}")),
        Err(e) => Membership::Unknown(e.to_string()),
    }
}

async fn exchange(app: &App, client: &Client, code: &str, form: &FormParams) -> Result<Exchanged, OAuthError> {
    let identifier = form.require("connection")?;
    let associated = app.store.app_connections(&client.client_id).await?;
    let Some(connection) = associated.into_iter().find(|c| c.identifier == identifier) else {
        return Err(OAuthError::invalid_request(format!("connection {identifier} is not enabled for this app")));
    };
    let given = form.require("subject_token_type")?;
    match connectors::native_token_type(&connection.settings) {
        Some(takes) if takes == given => {}
        Some(takes) => {
            return Err(OAuthError::invalid_request(format!(
                "connection {identifier} takes subject_token_type {takes}, not {given}"
            )));
        }
        None => {
            return Err(OAuthError::invalid_request(format!(
                "connection {identifier} is not a wecom_mobile or dingtalk_mobile connection"
            )));
        }
    }
    let failed = |failure: Failure, upstream: Option<String>| async move {
        tracing::warn!(connection = identifier, client_id = %client.client_id, error = %failure.detail, "mobile sign-in failed");
        app.metrics.login(&client.client_id, identifier, failure.outcome.row().metric);
        let mut entry = Audit::new("login.failure").client(&client.client_id).connection(identifier);
        if let Some(upstream) = &upstream {
            entry = entry.upstream(upstream);
        }
        entry.reason(&failure.audit_reason()).write(app).await;
        failure.oauth_error()
    };
    let identity = match connectors::native_exchange(app, &connection, code).await {
        Ok(identity) => identity,
        Err(e) => return Err(failed(Failure::from_connector(&e).on(&connection), None).await),
    };
    let user = match accounts::resolve(app, &connection, &identity).await? {
        Resolution::User(user) => user,
        Resolution::Refused(refusal) => {
            return Err(failed(Failure::from_refusal(refusal), Some(identity.reference())).await);
        }
        Resolution::NeedsBinding { .. } => {
            return Err(OAuthError::access_denied(
                "this connection asks people to link an existing account first: sign in once in a browser through a \
                 connection of the same corp or organisation (QR code or in-app page) and link it there",
            ));
        }
    };
    app.metrics.login(&client.client_id, identifier, "success");
    Audit::new("login.success")
        .client(&client.client_id)
        .connection(identifier)
        .user(&user.id)
        .upstream(&identity.reference())
        .write(app)
        .await;
    Ok(Exchanged {
        user: *user,
        amr: connection.kind().to_string(),
        connection: Some(connection.identifier.clone()),
        upstream: Some(identity.upstream.clone()),
        subject: Some(identity.subject.clone()),
    })
}
