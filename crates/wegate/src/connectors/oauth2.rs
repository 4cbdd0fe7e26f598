//! `oauth2`: a plain OAuth 2.0 provider (GitHub-style): the admin gives the three endpoints; a sign-in
//! sends state and a PKCE S256 challenge, redeems the code, and reads the person from the userinfo JSON —
//! the id at `user_id_field` (a dotted path), the other claims at the admin's paths. No id, no sign-in.
//! The identity is (connection, that id): a plain OAuth 2.0 provider has no issuer to name it by (the
//! user API's host is part of the space, see [`upstream`]).

use serde_json::Value;

use super::error::ConnectorError;
use super::oauth::{self, Secrets};
use super::seam::{Answer, Start, StartRequest};
use crate::accounts::{UpstreamIdentity, Vouched};
use crate::app::App;
use crate::store::{Connection, OAuth2Settings};

pub const FIELDS: &[&str] = &[
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "client_id",
    "client_secret",
    "scopes",
    "client_auth_method",
    "user_id_field",
    "claims",
];

pub fn validate(s: &OAuth2Settings) -> Result<(), String> {
    oauth::check_url("authorization_endpoint", &s.authorization_endpoint)?;
    oauth::check_url("token_endpoint", &s.token_endpoint)?;
    oauth::check_url("userinfo_endpoint", &s.userinfo_endpoint)?;
    oauth::check_client(&s.client_id, &s.client_secret)?;
    oauth::check_scopes(&s.scopes)?;
    if !oidc_rp::path::valid(&s.user_id_field) {
        return Err(
            "user_id_field must be the dotted path of the person's id in the userinfo JSON (id, data.user_id)".into()
        );
    }
    oauth::check_claims("claims", &s.claims, true)
}

/// The identity space of a connection's people: the connection, and the host of the user API that names
/// them — a connection re-pointed at another provider (or deleted and made again for one) starts a new
/// space, so that provider B's person 42 never signs in as provider A's person 42.
pub fn upstream(identifier: &str, s: &OAuth2Settings) -> String {
    let host = url::Url::parse(&s.userinfo_endpoint)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(port) => format!("{h}:{port}"),
                None => h.to_string(),
            })
        })
        .unwrap_or_default();
    format!("oauth2:{identifier}@{host}")
}

pub fn start(s: &OAuth2Settings, request: StartRequest<'_>) -> Result<Start, ConnectorError> {
    let pkce = oidc_rp::Pkce::new();
    let scope = s.scopes.join(" ");
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", s.client_id.as_str()),
        ("redirect_uri", request.callback),
        ("state", request.state),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    if !scope.is_empty() {
        params.push(("scope", scope.as_str()));
    }
    let url = oidc_rp::flow::authorize_url(&s.authorization_endpoint, &params)?;
    Ok(Secrets::start(url, &pkce, None))
}

pub async fn finish(
    app: &App,
    connection: &Connection,
    s: &OAuth2Settings,
    answer: &Answer<'_>,
) -> Result<UpstreamIdentity, ConnectorError> {
    let client = oauth::Client { id: &s.client_id, secret: &s.client_secret, method: s.client_auth_method };
    let (tokens, _) = oauth::redeem(app, &s.token_endpoint, client, answer).await?;
    let http = app.providers.http();
    let info = Value::Object(oidc_rp::flow::userinfo(http, &s.userinfo_endpoint, &tokens.access_token).await?);
    let Some(id) = oidc_rp::path::string_at(&info, &s.user_id_field).filter(|id| id.len() <= 255) else {
        return Err(oidc_rp::Error::Invalid(format!(
            "the userinfo answer has no {} (user_id_field) to know the person by",
            s.user_id_field
        ))
        .into());
    };
    let mapped = oauth::map_claims(&info, &s.claims);
    let profile = serde_json::json!({
        "id": id,
        "name": mapped.name,
        "email": mapped.email,
        "phone_number": mapped.phone,
        "preferred_username": mapped.preferred_username,
    });
    // A plain OAuth 2.0 provider vouches for nothing: its email counts only with the admin's trust_email.
    let trusted = connection.trust_email;
    Ok(UpstreamIdentity {
        upstream: upstream(&connection.identifier, s),
        subject: id,
        username: mapped.preferred_username.clone(),
        name: mapped.name.clone(),
        email: mapped.email.clone(),
        phone: mapped.phone.clone(),
        picture: mapped.picture.clone(),
        claims: oauth::user_claims(&mapped, false),
        profile,
        vouched: Vouched { email: trusted, phone: false, username: false },
    })
}
