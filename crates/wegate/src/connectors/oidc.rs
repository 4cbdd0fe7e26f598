//! `oidc`: any OpenID Connect provider (Entra ID, Okta, Google, Keycloak, another wegate), by its issuer.
//! Every sign-in sends state (the login transaction's id), a nonce and a PKCE S256 challenge; the ID token
//! is verified in full (`oidc_rp::verify`) with the keys the issuer publishes, cached per issuer
//! (`app.providers`). The identity is (issuer, sub).
//!
//! As Keycloak's and Dex's brokers, minus their pitfalls: the nonce cannot be turned off (Keycloak lets an
//! admin disable it, Dex never sends one), keys are refetched on an unknown `kid` (openidconnect-rs#232),
//! and `email_verified` is taken only from the provider's own claim (Entra sends none: `trust_email`).

use serde_json::{Map, Value};

use super::error::ConnectorError;
use super::oauth::{self, Secrets};
use super::seam::{Answer, Start, StartRequest};
use crate::accounts::{UpstreamIdentity, Vouched};
use crate::app::App;
use crate::store::OidcSettings;

pub const FIELDS: &[&str] = &[
    "issuer",
    "client_id",
    "client_secret",
    "scopes",
    "client_auth_method",
    "claims",
    "use_userinfo",
    "required_claims",
];

/// Claims of the ID token that userinfo may never replace.
const PROTOCOL_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "nonce",
    "azp",
    "auth_time",
    "acr",
    "amr",
    "at_hash",
    "c_hash",
    "jti",
    "sid",
];

pub fn validate(s: &OidcSettings) -> Result<(), String> {
    oauth::check_url("issuer", &s.issuer)?;
    oauth::check_client(&s.client_id, &s.client_secret)?;
    oauth::check_scopes(&s.scopes)?;
    if !s.scopes.iter().any(|scope| scope == "openid") {
        return Err("scopes must include openid".into());
    }
    oauth::check_claims("claims", &s.claims, true)?;
    oauth::check_claims("required_claims", &s.required_claims, false)?;
    Ok(())
}

/// The identity space of an issuer's people.
pub fn upstream(issuer: &str) -> String {
    format!("oidc:{issuer}")
}

pub async fn start(app: &App, s: &OidcSettings, request: StartRequest<'_>) -> Result<Start, ConnectorError> {
    let metadata = app.providers.metadata(&s.issuer, app.now()).await?;
    let pkce = oidc_rp::Pkce::new();
    let nonce = oidc_rp::flow::random();
    let scope = s.scopes.join(" ");
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", s.client_id.as_str()),
        ("redirect_uri", request.callback),
        ("scope", scope.as_str()),
        ("state", request.state),
        ("nonce", nonce.as_str()),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    if let Some(lang) = request.lang {
        params.push(("ui_locales", lang));
    }
    let url = oidc_rp::flow::authorize_url(&metadata.authorization_endpoint, &params)?;
    Ok(Secrets::start(url, &pkce, Some(&nonce)))
}

pub async fn finish(app: &App, s: &OidcSettings, answer: &Answer<'_>) -> Result<UpstreamIdentity, ConnectorError> {
    let now = app.now();
    let metadata = app.providers.metadata(&s.issuer, now).await?;
    let client = oauth::Client { id: &s.client_id, secret: &s.client_secret, method: s.client_auth_method };
    let (tokens, secrets) = oauth::redeem(app, &metadata.token_endpoint, client, answer).await?;
    let Some(nonce) = secrets.nonce.as_deref() else {
        return Err(ConnectorError::Config("the login transaction holds no nonce".into()));
    };
    let http = app.providers.http();
    let Some(id_token) = tokens.id_token.as_deref() else {
        return Err(oidc_rp::Error::Invalid("the token endpoint issued no ID token".into()).into());
    };
    let kid = oidc_rp::verify::key_id(id_token)?;
    let keys = app.providers.keys(&s.issuer, kid.as_deref(), now).await?;
    let expected = oidc_rp::Expected { issuer: &s.issuer, client_id: &s.client_id, nonce, now };
    let verified = oidc_rp::verify::verify(id_token, &keys, &expected)?;
    // Allow-list claims are read from the verified ID token only (Google's `hd` means nothing elsewhere).
    for (claim, wanted) in &s.required_claims {
        let found = oidc_rp::path::string_at(&Value::Object(verified.claims.clone()), claim);
        if found.as_deref() != Some(wanted.as_str()) {
            return Err(ConnectorError::NotAllowed(format!(
                "the ID token's {claim} is {found:?}, not the required {wanted:?}"
            )));
        }
    }
    let mut claims = verified.claims;
    if s.use_userinfo
        && let Some(endpoint) = metadata.userinfo_endpoint.as_deref()
    {
        let info = oidc_rp::flow::userinfo(http, endpoint, &tokens.access_token).await?;
        merge_userinfo(&mut claims, info, &verified.sub)?;
    }
    Ok(identity(s, &verified.sub, claims))
}

/// Userinfo's claims over the ID token's profile claims (fresher), never over its protocol claims; its
/// `sub` must be the ID token's (Core §5.3.2: otherwise the answer is for someone else).
fn merge_userinfo(claims: &mut Map<String, Value>, info: Map<String, Value>, sub: &str) -> Result<(), ConnectorError> {
    if info.get("sub").and_then(Value::as_str) != Some(sub) {
        return Err(oidc_rp::Error::Invalid("the userinfo answer's sub is not the ID token's".into()).into());
    }
    for (k, v) in info {
        if !PROTOCOL_CLAIMS.contains(&k.as_str()) {
            claims.insert(k, v);
        }
    }
    Ok(())
}

fn identity(s: &OidcSettings, sub: &str, claims: Map<String, Value>) -> UpstreamIdentity {
    let claims = Value::Object(claims);
    let mapped = oauth::map_claims(&claims, &s.claims);
    // The provider's `email_verified` vouches for its own `email` claim only, not for a remapped one.
    let email_from_email = s.claims.get("email").is_none_or(|p| p == "email");
    let email_verified = email_from_email && oauth::truthy(claims.get("email_verified"));
    let phone_verified = s.claims.get("phone_number").is_none_or(|p| p == "phone_number")
        && oauth::truthy(claims.get("phone_number_verified"));
    let profile = serde_json::json!({
        "iss": s.issuer,
        "sub": sub,
        "name": mapped.name,
        "email": mapped.email,
        "email_verified": email_verified,
        "phone_number": mapped.phone,
        "preferred_username": mapped.preferred_username,
    });
    UpstreamIdentity {
        upstream: upstream(&s.issuer),
        subject: sub.to_string(),
        username: mapped.preferred_username.clone(),
        name: mapped.name.clone(),
        email: mapped.email.clone(),
        phone: mapped.phone.clone(),
        picture: mapped.picture.clone(),
        claims: oauth::user_claims(&mapped, email_verified),
        profile,
        vouched: Vouched { email: email_verified, phone: phone_verified, username: false },
    }
}
