//! `/token`: dispatches on `grant_type` to one module per grant (`grants/`). The token exchange of
//! RFC 8693 is framed here — client authentication, subject token type, scopes, issuance — while what a
//! subject token means (a WeCom SDK code) is left to a [`SubjectTokenExchange`] the router plugs in.

use std::future::Future;

use axum::Json;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::client_auth::{FormParams, authenticate};
use super::error::OAuthError;
use super::grants;
use super::tokens::{Issue, TokenResponse, issue};
use crate::app::{App, AppState};
use crate::store::{GrantOrigin, User};
use crate::util::random_alnum;

pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Who a subject token names, once its exchange succeeded.
pub struct Exchanged {
    pub user: User,
    /// How the person authenticated (`amr`), e.g. the connection kind.
    pub amr: String,
    /// The connection and upstream identity, for the grant's origin (membership re-checks).
    pub connection: Option<String>,
    pub upstream: Option<String>,
    pub subject: Option<String>,
}

/// Turns a subject token of one type into a signed-in user, for one authenticated client.
pub trait SubjectTokenExchange: Send + Sync + 'static {
    /// The `subject_token_type`s it accepts (the exchange checks that the connection takes the one given).
    const SUBJECT_TOKEN_TYPES: &'static [&'static str];

    /// `form` is the whole request (the exchange may read extra parameters, e.g. `connection`).
    fn exchange<'a>(
        app: &'a App,
        client: &'a crate::store::App,
        subject_token: &'a str,
        form: &'a FormParams,
    ) -> impl Future<Output = Result<Exchanged, OAuthError>> + Send + 'a;
}

/// What the upstream says of a grant's person now (CONTRACT.md, "Member lifecycle").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    /// Still a member who may use the connection's app.
    Present,
    /// Deleted, disabled or left: the reason. The account is disabled (CONTRACT.md, "Member lifecycle").
    Gone(String),
    /// A member, but no longer admitted by the grant's connection (out of its app's visible scope): the
    /// reason. Signed out everywhere, the account left enabled.
    NotAdmitted(String),
    /// The upstream could not be asked (unreachable, misconfigured): the reason.
    Unknown(String),
}

/// Asks the upstream whether the person behind a grant is still a member; plugged in by the router, like
/// the subject token exchange, so that this module knows nothing of WeCom.
pub trait MembershipCheck: Send + Sync + 'static {
    fn still_member<'a>(
        app: &'a App,
        origin: &'a crate::store::GrantOrigin,
    ) -> impl Future<Output = Membership> + Send + 'a;
}

pub async fn token<E: SubjectTokenExchange + MembershipCheck>(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let result = async {
        let form = FormParams::parse(pairs)?;
        match form.require("grant_type")? {
            "authorization_code" => grants::authorization_code::grant(&app, &headers, &form).await,
            "refresh_token" => grants::refresh_token::grant::<E>(&app, &headers, &form).await,
            TOKEN_EXCHANGE => token_exchange::<E>(&app, &headers, &form).await,
            other => Err(OAuthError::unsupported_grant_type(format!("grant_type {other} is not supported"))),
        }
    }
    .await;
    match result {
        Ok(tokens) => {
            let mut response = Json(tokens).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(e) => e.into_response(),
    }
}

/// `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693): the answer carries ID,
/// access and refresh tokens like a code exchange.
async fn token_exchange<E: SubjectTokenExchange>(
    app: &App,
    headers: &HeaderMap,
    form: &FormParams,
) -> Result<TokenResponse, OAuthError> {
    let client = authenticate(app, headers, form).await?;
    let subject_token_type = form.require("subject_token_type")?;
    if !E::SUBJECT_TOKEN_TYPES.contains(&subject_token_type) {
        return Err(OAuthError::invalid_request(format!(
            "subject_token_type {subject_token_type} is not supported; use one of {}",
            E::SUBJECT_TOKEN_TYPES.join(", ")
        )));
    }
    let subject_token = form.require("subject_token")?;
    // openid is implied: the point of the exchange is an ID token.
    let mut scopes = vec!["openid"];
    for s in form.get("scope").unwrap_or("openid profile").split_whitespace() {
        if super::SCOPES.contains(&s) && !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    let scope = scopes.join(" ");
    let exchanged = E::exchange(app, &client, subject_token, form).await?;
    let now = app.now();
    let grant_id = random_alnum(24);
    app.store
        .put_grant_origin(GrantOrigin {
            grant_id: grant_id.clone(),
            user_id: exchanged.user.id.clone(),
            client_id: client.client_id.clone(),
            sid: None,
            connection: exchanged.connection.clone(),
            upstream: exchanged.upstream.clone(),
            subject: exchanged.subject.clone(),
            checked_at: now,
            created_at: now,
            expires_at: super::tokens::origin_horizon(app, now),
        })
        .await?;
    let mut response = issue(
        app,
        Issue {
            client_id: &client.client_id,
            user: &exchanged.user,
            scope: &scope,
            nonce: form.get("nonce"),
            auth_time: app.now(),
            amr: &exchanged.amr,
            session_id: None,
            grant_id: &grant_id,
            first: true,
        },
    )
    .await?;
    response.issued_token_type = Some("urn:ietf:params:oauth:token-type:access_token".into());
    Ok(response)
}
