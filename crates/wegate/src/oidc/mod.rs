//! The OpenID Connect provider: discovery, `/authorize`, `/token` and its grants, `/userinfo`,
//! `/introspect`, `/revoke`, `/logout`. Knows nothing of WeCom: an upstream login ends in
//! [`finalize::complete_login`] like any other.

pub mod authorize;
pub mod client_auth;
pub mod discovery;
pub mod error;
pub mod finalize;
pub mod grants;
pub mod introspect;
pub mod keys;
pub mod logout;
pub mod revoke;
pub mod token;
pub mod tokens;
pub mod userinfo;

use axum::Router;
use axum::routing::{get, post};

use crate::app::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery::configuration))
        .route("/jwks", get(discovery::jwks))
        .route("/authorize", get(authorize::authorize_get).post(authorize::authorize_post))
        .route("/token", post(token::token))
        .route("/userinfo", get(userinfo::userinfo_get).post(userinfo::userinfo_post))
        .route("/introspect", post(introspect::introspect))
        .route("/revoke", post(revoke::revoke))
        .route("/logout", get(logout::logout_get).post(logout::logout_post))
}
