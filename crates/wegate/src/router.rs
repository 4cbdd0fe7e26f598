//! Every route of the server, in one place, with the layers all of them share.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::app::AppState;
use crate::{api, console, inbound, login, oidc, ops, web};

/// Bodies of form posts (token, introspection, revocation, logout, the login pages, /authorize): a few
/// parameters of bounded size.
const FORM_BODY_LIMIT: usize = 16 * 1024;
/// Bodies of the admin API and of WeCom's event pushes (an encrypted XML message).
const DOCUMENT_BODY_LIMIT: usize = 256 * 1024;

/// All routes of the server.
pub fn router(app: AppState) -> Router {
    let forms = Router::new()
        // OpenID Connect protocol endpoints
        .route("/.well-known/openid-configuration", get(oidc::discovery::configuration))
        .route("/jwks", get(oidc::discovery::jwks))
        .route("/token", post(oidc::token::token::<login::native::Upstreams>))
        .route("/userinfo", get(oidc::userinfo::userinfo_get).post(oidc::userinfo::userinfo_post))
        .route("/introspect", post(oidc::introspect::introspect))
        .route("/revoke", post(oidc::revoke::revoke))
        .route("/logout", get(oidc::logout::logout_get).post(oidc::logout::logout_post))
        // the browser login, step by step
        .route("/authorize", get(login::authorize::authorize_get).post(login::authorize::authorize_post))
        .route("/login/{tx}", get(login::page::show))
        .route("/login/{tx}/password", post(login::password::password_login))
        .route(
            "/login/{tx}/connection/{identifier}",
            get(login::start::start_connection).post(login::directory::submit),
        )
        .route("/connections/{identifier}/callback", get(login::callback::callback))
        .route("/login/{tx}/bind", post(login::bind::bind))
        .route("/login/{tx}/create", post(login::bind::create_instead))
        // what native apps and WeCom's checks fetch on a connection
        .route("/connections/{identifier}/config", get(inbound::mobile_config::public_config))
        .route("/{filename}", get(inbound::domain_file::domain_verification_file))
        // hosted pages' shared parts, operations
        .route("/", get(web::home))
        .route("/static/wegate.css", get(web::stylesheet))
        .route("/static/client-code.js", get(web::client_code_script))
        .route("/language", get(web::switch_language))
        .route("/metrics", get(ops::metrics))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .layer(DefaultBodyLimit::max(FORM_BODY_LIMIT));
    let documents = Router::new()
        .route("/connections/{identifier}/events", get(inbound::events::verify_url).post(inbound::events::receive))
        .nest("/api/v1", api::routes())
        // the admin console's forms may carry an icon as a data URI
        .merge(console::routes())
        .layer(DefaultBodyLimit::max(DOCUMENT_BODY_LIMIT));
    let mut router = forms
        .merge(documents)
        .layer(axum::middleware::from_fn_with_state(app.clone(), api::require_admin))
        .layer(axum::middleware::map_response(web::security_headers))
        .layer(axum::middleware::from_fn_with_state(app.clone(), track_request))
        .layer(tower_http::catch_panic::CatchPanicLayer::new());
    if app.settings.issuer.starts_with("https://") {
        // Browsers that reached us over https keep to it (no downgrade on a later plain-http link).
        router = router.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        ));
    }
    router.with_state(app)
}

/// Counts requests by route template and status, and times them.
async fn track_request(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    // A label per method string would let anyone grow the metrics without bound (`FOO / HTTP/1.1`).
    let method = match *request.method() {
        Method::GET | Method::POST | Method::PUT | Method::PATCH | Method::DELETE | Method::HEAD | Method::OPTIONS => {
            request.method().as_str()
        }
        _ => "other",
    }
    .to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    app.metrics.observe_request(&method, &route, response.status().as_u16(), started.elapsed());
    response
}
