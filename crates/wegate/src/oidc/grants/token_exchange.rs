//! `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693) for native apps: the
//! `subject_token` is the code the WeCom SDK handed the app (`subject_token_type` =
//! `urn:wegate:params:oauth:token-type:wecom-code`), `connection` names the wecom_mobile connection.
//! The answer carries ID, access and refresh tokens like a code exchange.

use axum::http::HeaderMap;

use crate::accounts::{self, Resolution};
use crate::app::AppState;
use crate::connectors::{ConnectorError, connector, wecom_mobile::SUBJECT_TOKEN_TYPE};
use crate::oidc::client_auth::{FormParams, authenticate};
use crate::oidc::error::OAuthError;
use crate::oidc::finalize::audit;
use crate::oidc::tokens::{Issue, TokenResponse, issue};
use crate::util::random_alnum;

pub async fn grant(app: &AppState, headers: &HeaderMap, form: &FormParams) -> Result<TokenResponse, OAuthError> {
    let client = authenticate(app, headers, form).await?;
    match form.require("subject_token_type")? {
        SUBJECT_TOKEN_TYPE => {}
        other => {
            return Err(OAuthError::invalid_request(format!(
                "subject_token_type {other} is not supported; use {SUBJECT_TOKEN_TYPE}"
            )));
        }
    }
    let code = form.require("subject_token")?;
    let identifier = form.require("connection")?;
    let associated = app.store.app_connections(&client.client_id).await?;
    let Some(connection) = associated.into_iter().find(|c| c.identifier == identifier) else {
        return Err(OAuthError::invalid_request(format!("connection {identifier} is not enabled for this app")));
    };
    let Some(kind) = connector(&connection.kind).filter(|_| connection.kind == "wecom_mobile") else {
        return Err(OAuthError::invalid_request(format!("connection {identifier} is not a wecom_mobile connection")));
    };
    // openid is implied: the point of the exchange is an ID token.
    let mut scopes = vec!["openid"];
    for s in form.get("scope").unwrap_or("openid profile").split_whitespace() {
        if crate::oidc::authorize::SCOPES.contains(&s) && !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    let scope = scopes.join(" ");

    let identity = match kind.exchange(app, &connection, code).await {
        Ok(identity) => identity,
        Err(e) => {
            tracing::warn!(connection = identifier, client_id = %client.client_id, error = %e, "mobile sign-in failed");
            app.metrics.login(&client.client_id, identifier, "upstream_error");
            audit(app, "login.failure", Some(&client.client_id), Some(identifier), None, None, Some(&e.to_string()))
                .await;
            return Err(match e {
                ConnectorError::Wecom(ref w) if w.errcode().is_some_and(|c| c == 40029 || c == 42022) => {
                    OAuthError::invalid_grant("the WeCom code is invalid, expired or already used")
                }
                ConnectorError::NotAllowed(_) | ConnectorError::NotMember | ConnectorError::CorpNotAllowed(_) => {
                    OAuthError::access_denied("this WeCom account is not allowed to use this app")
                }
                ConnectorError::Wecom(wecom::Error::Timeout { .. } | wecom::Error::Http { .. }) => {
                    OAuthError::temporarily_unavailable("WeCom is not answering; try again")
                }
                other => OAuthError::server_error(&other),
            });
        }
    };
    let user = match accounts::resolve(app, &connection, &identity).await? {
        Resolution::User(user) => user,
        Resolution::Refused(refusal) => {
            app.metrics.login(&client.client_id, identifier, refusal.code());
            audit(
                app,
                "login.failure",
                Some(&client.client_id),
                Some(identifier),
                None,
                Some(&identity.reference()),
                Some(refusal.code()),
            )
            .await;
            return Err(OAuthError::access_denied(match refusal {
                accounts::Refusal::NoAccount => {
                    "there is no account for this WeCom member and this connection only lets existing accounts in"
                }
                accounts::Refusal::Ambiguous => "this WeCom member matches more than one account",
            }));
        }
        Resolution::NeedsBinding { .. } => {
            return Err(OAuthError::access_denied(
                "this connection asks people to link an existing account first: sign in once in a browser through a \
                 WeCom connection of the same corp (QR code or in-WeCom page) and link it there",
            ));
        }
    };
    app.metrics.login(&client.client_id, identifier, "success");
    audit(
        app,
        "login.success",
        Some(&client.client_id),
        Some(identifier),
        Some(&user.id),
        Some(&identity.reference()),
        None,
    )
    .await;
    let mut response = issue(
        app,
        Issue {
            client_id: &client.client_id,
            user: &user,
            scope: &scope,
            nonce: form.get("nonce"),
            auth_time: app.now(),
            amr: "wecom_mobile",
            session_id: None,
            grant_id: &random_alnum(24),
        },
    )
    .await?;
    response.issued_token_type = Some("urn:ietf:params:oauth:token-type:access_token".into());
    Ok(response)
}
