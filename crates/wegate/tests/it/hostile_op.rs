//! An OpenID Connect provider that keeps the protocol where the tests want it kept and breaks it where a
//! test asks (`Mode`): it is the upstream of an `oidc` connection, on a loopback port. Discovery, keys,
//! an authorization endpoint that sends the browser straight back (or with `error=`), a token endpoint
//! that checks the client's secret (Basic), the code, the redirect_uri and the PKCE S256 verifier, and
//! a userinfo endpoint. It also serves a plain OAuth 2.0 user API (`/api/user`, nested JSON).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "wegate-client";
pub const CLIENT_SECRET: &str = "op-secret-0123456789";

/// How the provider misbehaves in its ID token (or elsewhere).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Mode {
    #[default]
    Honest,
    WrongIss,
    WrongAud,
    /// `aud` names us and another client, with no `azp`.
    SeveralAudNoAzp,
    /// `azp` names another client.
    OtherAzp,
    WrongNonce,
    NoNonce,
    Expired,
    FutureIat,
    AlgNone,
    /// HS256 keyed with the client secret, naming the published symmetric key.
    Hs256WithSecret,
    /// Signed by a key not published (yet): `publish_next` publishes it.
    NextKey,
    /// Userinfo names another `sub`.
    UserinfoOtherSub,
    /// The authorization endpoint sends the person back with `error=<this>`.
    Error(String),
    /// The token endpoint answers 400 invalid_grant.
    TokenInvalidGrant,
    /// Discovery names another issuer.
    DiscoveryOtherIssuer,
}

pub struct Key {
    pub kid: String,
    pkcs8: Vec<u8>,
    public: Vec<u8>,
}

impl Key {
    pub fn new(kid: &str) -> Key {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        Key { kid: kid.into(), pkcs8: pkcs8.as_ref().to_vec(), public: pair.public_key().as_ref().to_vec() }
    }

    pub fn jwk(&self) -> Value {
        // Uncompressed point: 0x04 || X (32) || Y (32).
        json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(&self.public[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&self.public[33..65]),
        })
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&self.pkcs8)).unwrap()
    }
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    nonce: Option<String>,
    challenge: Option<String>,
    sub: String,
}

pub struct OpState {
    pub issuer: String,
    pub mode: Mutex<Mode>,
    pub current: Mutex<Key>,
    pub published: Mutex<Vec<Value>>,
    pub next: Mutex<Option<Key>>,
    /// The person the next sign-in is.
    pub sub: Mutex<String>,
    pub email: Mutex<Option<(String, Value)>>,
    pub extra_claims: Mutex<Value>,
    codes: Mutex<HashMap<String, Grant>>,
    /// What the last authorization request carried.
    pub last_authorize: Mutex<HashMap<String, String>>,
    pub jwks_fetches: Mutex<u32>,
    pub discovery_fetches: Mutex<u32>,
    /// Seconds the provider's clock runs ahead of the system's (kept with the server's shifted clock).
    pub offset: Mutex<i64>,
}

pub struct Op {
    pub issuer: String,
    pub state: Arc<OpState>,
    _task: tokio::task::JoinHandle<()>,
}

impl Op {
    pub async fn start() -> Op {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let key = Key::new("k1");
        let state = Arc::new(OpState {
            issuer: issuer.clone(),
            mode: Mutex::new(Mode::Honest),
            published: Mutex::new(vec![key.jwk()]),
            current: Mutex::new(key),
            next: Mutex::new(None),
            sub: Mutex::new("op-user-1".into()),
            email: Mutex::new(Some(("ann@example.com".into(), json!(true)))),
            extra_claims: Mutex::new(json!({})),
            codes: Mutex::new(HashMap::new()),
            last_authorize: Mutex::new(HashMap::new()),
            jwks_fetches: Mutex::new(0),
            discovery_fetches: Mutex::new(0),
            offset: Mutex::new(0),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .route("/api/user", get(api_user))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Op { issuer, state, _task: task }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    /// Signs with a fresh key from now on, without publishing it (`publish_next` does).
    pub fn rotate_unpublished(&self, kid: &str) {
        *self.state.next.lock().unwrap() = Some(Key::new(kid));
    }

    pub fn publish_next(&self) {
        let next = self.state.next.lock().unwrap().take().unwrap();
        self.state.published.lock().unwrap().push(next.jwk());
        *self.state.current.lock().unwrap() = next;
    }

    /// Moves the provider's clock as a test moves the server's.
    pub fn advance(&self, secs: i64) {
        *self.state.offset.lock().unwrap() += secs;
    }

    pub fn jwks_fetches(&self) -> u32 {
        *self.state.jwks_fetches.lock().unwrap()
    }

    pub fn discovery_fetches(&self) -> u32 {
        *self.state.discovery_fetches.lock().unwrap()
    }

    pub fn last_authorize(&self, name: &str) -> Option<String> {
        self.state.last_authorize.lock().unwrap().get(name).cloned()
    }
}

async fn discovery(State(s): State<Arc<OpState>>) -> Json<Value> {
    *s.discovery_fetches.lock().unwrap() += 1;
    let issuer = if *s.mode.lock().unwrap() == Mode::DiscoveryOtherIssuer {
        format!("{}/other", s.issuer)
    } else {
        s.issuer.clone()
    };
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{}/authorize", s.issuer),
        "token_endpoint": format!("{}/token", s.issuer),
        "userinfo_endpoint": format!("{}/userinfo", s.issuer),
        "jwks_uri": format!("{}/jwks", s.issuer),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
    }))
}

async fn jwks(State(s): State<Arc<OpState>>) -> Json<Value> {
    *s.jwks_fetches.lock().unwrap() += 1;
    // Beside its signing keys, a symmetric key whose secret is the client secret (`kid` "hs"): a broker that
    // accepted MACs would take tokens anyone knowing that secret can make.
    let mut keys = s.published.lock().unwrap().clone();
    keys.push(json!({"kty": "oct", "kid": "hs", "k": URL_SAFE_NO_PAD.encode(CLIENT_SECRET)}));
    Json(json!({ "keys": keys }))
}

async fn authorize(State(s): State<Arc<OpState>>, Query(q): Query<HashMap<String, String>>) -> Response {
    *s.last_authorize.lock().unwrap() = q.clone();
    let (Some(redirect_uri), Some(state)) = (q.get("redirect_uri"), q.get("state")) else {
        return (StatusCode::BAD_REQUEST, "redirect_uri and state required").into_response();
    };
    let mut back = url::Url::parse(redirect_uri).unwrap();
    if let Mode::Error(error) = s.mode.lock().unwrap().clone() {
        back.query_pairs_mut().append_pair("error", &error).append_pair("state", state);
        return Redirect::to(back.as_str()).into_response();
    }
    let code = URL_SAFE_NO_PAD.encode(rand_bytes());
    let challenge = match q.get("code_challenge_method").map(String::as_str) {
        Some("S256") => q.get("code_challenge").cloned(),
        _ => None,
    };
    s.codes.lock().unwrap().insert(
        code.clone(),
        Grant {
            client_id: q.get("client_id").cloned().unwrap_or_default(),
            redirect_uri: redirect_uri.clone(),
            nonce: q.get("nonce").cloned(),
            challenge,
            sub: s.sub.lock().unwrap().clone(),
        },
    );
    back.query_pairs_mut().append_pair("code", &code).append_pair("state", state);
    Redirect::to(back.as_str()).into_response()
}

fn rand_bytes() -> [u8; 24] {
    let mut b = [0u8; 24];
    ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut b).unwrap();
    b
}

fn oauth_error(error: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": error}))).into_response()
}

async fn token(State(s): State<Arc<OpState>>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Response {
    // client_secret_basic only, as the discovery document says.
    let basic = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic "));
    let expected = STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    if basic != Some(expected.as_str()) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"}))).into_response();
    }
    let mode = s.mode.lock().unwrap().clone();
    let Some(grant) = f.get("code").and_then(|c| s.codes.lock().unwrap().remove(c)) else {
        return oauth_error("invalid_grant");
    };
    if mode == Mode::TokenInvalidGrant
        || grant.client_id != CLIENT_ID
        || f.get("redirect_uri") != Some(&grant.redirect_uri)
        || f.get("grant_type").map(String::as_str) != Some("authorization_code")
    {
        return oauth_error("invalid_grant");
    }
    let verified = match (&grant.challenge, f.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == *challenge,
        (None, _) => true,
        _ => false,
    };
    if !verified {
        return oauth_error("invalid_grant");
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
        + *s.offset.lock().unwrap();
    let mut claims = json!({
        "iss": s.issuer, "sub": grant.sub, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
        "nonce": grant.nonce, "name": "Ann Upstream",
    });
    if let Some((email, verified)) = s.email.lock().unwrap().clone() {
        claims["email"] = json!(email);
        claims["email_verified"] = verified;
    }
    for (k, v) in s.extra_claims.lock().unwrap().as_object().unwrap() {
        claims[k] = v.clone();
    }
    match &mode {
        Mode::WrongIss => claims["iss"] = json!(format!("{}/evil", s.issuer)),
        Mode::WrongAud => claims["aud"] = json!("another-client"),
        Mode::SeveralAudNoAzp => claims["aud"] = json!([CLIENT_ID, "another-client"]),
        Mode::OtherAzp => claims["azp"] = json!("another-client"),
        Mode::WrongNonce => claims["nonce"] = json!("not-the-nonce"),
        Mode::NoNonce => {
            claims.as_object_mut().unwrap().remove("nonce");
        }
        Mode::Expired => {
            claims["iat"] = json!(now - 900);
            claims["exp"] = json!(now - 120);
        }
        Mode::FutureIat => claims["iat"] = json!(now + 600),
        _ => {}
    }
    let id_token = match &mode {
        Mode::AlgNone => {
            let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
            format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims.to_string()))
        }
        Mode::Hs256WithSecret => {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some("hs".into());
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(CLIENT_SECRET.as_bytes())).unwrap()
        }
        Mode::NextKey => {
            let next = s.next.lock().unwrap();
            match next.as_ref() {
                Some(key) => key.sign(&claims),
                None => s.current.lock().unwrap().sign(&claims),
            }
        }
        _ => s.current.lock().unwrap().sign(&claims),
    };
    Json(json!({"access_token": format!("at-{}", grant.sub), "token_type": "Bearer", "expires_in": 300, "id_token": id_token}))
        .into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    value.strip_prefix("Bearer ")?.strip_prefix("at-").map(str::to_string)
}

async fn userinfo(State(s): State<Arc<OpState>>, headers: HeaderMap) -> Response {
    let Some(sub) = bearer(&headers) else { return StatusCode::UNAUTHORIZED.into_response() };
    let sub = if *s.mode.lock().unwrap() == Mode::UserinfoOtherSub { "someone-else".to_string() } else { sub };
    let mut body = json!({"sub": sub, "name": "Ann From Userinfo", "picture": "https://example.com/ann.png"});
    if let Some((email, verified)) = s.email.lock().unwrap().clone() {
        body["email"] = json!(email);
        body["email_verified"] = verified;
    }
    Json(body).into_response()
}

/// A plain OAuth 2.0 user API: the person nested under `data`, the id a number.
async fn api_user(State(s): State<Arc<OpState>>, headers: HeaderMap) -> Response {
    let Some(sub) = bearer(&headers) else { return StatusCode::UNAUTHORIZED.into_response() };
    let id: Value = sub.strip_prefix("op-user-").and_then(|n| n.parse::<i64>().ok()).map_or(Value::Null, |n| json!(n));
    let email = s.email.lock().unwrap().clone().map(|(e, _)| e);
    Json(json!({"data": {"user_id": id, "profile": {"display": "Ann OAuth", "mail": email}}})).into_response()
}
