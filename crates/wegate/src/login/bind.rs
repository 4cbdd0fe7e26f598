//! "Ask to bind": WeCom identified someone wegate does not know yet, and the connection asks them to
//! link an existing account. The identity waits in the transaction (put back for this step) while the
//! person signs in with that account's password — or, unless login-only, creates a new account.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::finalize::{SignedIn, complete_login, fail};
use super::outcome::Failure;
use super::password::locked_out_message;
use super::tx;
use crate::accounts::{self, PasswordCheck, Refusal, UpstreamIdentity};
use crate::app::{App, AppState};
use crate::audit::Audit;
use crate::store::{Connection, LoginTx, StoreError};
use crate::web::error::{OrPage, PageError};
use crate::web::i18n::{Lang, Msg};
use crate::web::templates;

/// The identity waiting to be bound, kept in the transaction between the pages.
#[derive(Serialize, Deserialize)]
struct PendingBind {
    upstream: String,
    subject: String,
    username: Option<String>,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    picture: Option<String>,
    claims: serde_json::Value,
    profile: serde_json::Value,
    /// What the upstream vouched for (a transaction from before this field: nothing).
    #[serde(default)]
    vouched: crate::accounts::Vouched,
    may_create: bool,
}

impl PendingBind {
    fn new(identity: &UpstreamIdentity, may_create: bool) -> Self {
        PendingBind {
            upstream: identity.upstream.clone(),
            subject: identity.subject.clone(),
            username: identity.username.clone(),
            name: identity.name.clone(),
            email: identity.email.clone(),
            phone: identity.phone.clone(),
            picture: identity.picture.clone(),
            claims: identity.claims.clone(),
            profile: identity.profile.clone(),
            vouched: identity.vouched,
            may_create,
        }
    }

    fn identity(&self) -> UpstreamIdentity {
        UpstreamIdentity {
            upstream: self.upstream.clone(),
            subject: self.subject.clone(),
            username: self.username.clone(),
            name: self.name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            picture: self.picture.clone(),
            claims: self.claims.clone(),
            profile: self.profile.clone(),
            vouched: self.vouched,
        }
    }
}

/// Puts the (taken) transaction back with the identity waiting, and shows the bind page.
pub async fn ask(
    app: &App,
    mut tx: LoginTx,
    identity: &UpstreamIdentity,
    may_create: bool,
    lang: Lang,
) -> Result<Response, PageError> {
    let pinned = tx::pinned(&tx).map(String::from);
    tx.data = serde_json::to_value(PendingBind::new(identity, may_create)).or_page(lang)?;
    // The app's pin outlives this step: the transaction must not become a password sign-in.
    if let (Some(pinned), Some(data)) = (pinned, tx.data.as_object_mut()) {
        data.insert(tx::PINNED.into(), pinned.into());
    }
    tx.expires_at = app.now() + app.settings.login_ttl;
    app.store.put_login_tx(tx.clone()).await.or_page(lang)?;
    page(&tx, identity, may_create, None, "", lang)
}

fn page(
    tx: &LoginTx,
    identity: &UpstreamIdentity,
    may_create: bool,
    error: Option<&str>,
    login: &str,
    lang: Lang,
) -> Result<Response, PageError> {
    let ctx = minijinja::context! {
        upstream_name => identity.name.clone().or(identity.username.clone()).unwrap_or_default(),
        upstream_id => identity.username.clone().unwrap_or_else(|| identity.subject.clone()),
        bind_action => format!("/login/{}/bind", tx.id),
        create_action => may_create.then(|| format!("/login/{}/create", tx.id)),
        error => error,
        login => login,
    };
    let body = templates::render("bind.html", lang, ctx).or_page(lang)?;
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    Ok((status, Html(body)).into_response())
}

/// The transaction of a bind step, the identity waiting in it, and its connection.
async fn pending(
    app: &App,
    headers: &HeaderMap,
    tx_id: &str,
) -> Result<(LoginTx, PendingBind, Connection, Lang), PageError> {
    let tx = tx::load(app, headers, tx_id, Lang::pick(None, headers)).await?;
    let lang = tx::lang_of(&tx, headers);
    let pending: PendingBind = serde_json::from_value(tx.data.clone()).map_err(|_| tx::stale_state(lang))?;
    let identifier = tx.connection.clone().unwrap_or_default();
    let connection = app.store.get_connection(&identifier).await.or_page(lang)?.ok_or_else(|| tx::stale_state(lang))?;
    Ok((tx, pending, connection, lang))
}

#[derive(Deserialize)]
pub struct BindForm {
    login: String,
    password: String,
}

/// `POST /login/{tx}/bind`: the person proves they own the existing account with its password; the
/// identity is linked and they are signed in as that account.
pub async fn bind(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(tx_id): Path<String>,
    Form(form): Form<BindForm>,
) -> Response {
    let result = async {
        let (tx, pending, connection, lang) = pending(&app, &headers, &tx_id).await?;
        let identity = pending.identity();
        let user = match accounts::verify_password(&app, &form.login, &form.password).await.or_page(lang)? {
            PasswordCheck::Valid(user) => user,
            refused => {
                let audited = refused.audited();
                let (reason, message) = match refused {
                    PasswordCheck::LockedOut { retry_after, .. } => {
                        ("too many failed attempts", locked_out_message(lang, retry_after))
                    }
                    PasswordCheck::Busy => ("too many password checks in flight", lang.t(Msg::Busy).to_string()),
                    PasswordCheck::Disabled => ("account disabled", lang.t(Msg::AccountDisabled).to_string()),
                    _ => ("wrong account or password", lang.t(Msg::BadPassword).to_string()),
                };
                if audited {
                    Audit::new("login.bind_failure")
                        .client(&tx.client_id)
                        .connection(&connection.identifier)
                        .upstream(&identity.reference())
                        .reason(reason)
                        .write(&app)
                        .await;
                }
                return page(&tx, &identity, pending.may_create, Some(&message), &form.login, lang);
            }
        };
        let tx =
            app.store.take_login_tx(&tx.id, app.now()).await.or_page(lang)?.ok_or_else(|| tx::stale_state(lang))?;
        accounts::link(&app, &connection, &identity, &user.id).await.map_err(|e| match e {
            StoreError::Conflict(_) => PageError::bad_request(lang, Msg::LinkedElsewhere),
            other => PageError::internal(lang, &other),
        })?;
        Audit::new("identity.linked")
            .client(&tx.client_id)
            .connection(&connection.identifier)
            .user(&user.id)
            .upstream(&identity.reference())
            .write(&app)
            .await;
        complete_login(&app, tx, SignedIn::upstream(&user.id, &connection, &identity), lang).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `POST /login/{tx}/create`: "ask to bind", second choice — a new account (not in login-only mode).
pub async fn create_instead(State(app): State<AppState>, headers: HeaderMap, Path(tx_id): Path<String>) -> Response {
    let result = async {
        let (tx, pending, connection, lang) = pending(&app, &headers, &tx_id).await?;
        let identity = pending.identity();
        if !pending.may_create || connection.login_only {
            let failure = Failure::from_refusal(Refusal::NoAccount);
            return Err(fail(&app, &tx, &connection.identifier, &failure, Some(&identity.reference()), lang).await);
        }
        let tx =
            app.store.take_login_tx(&tx.id, app.now()).await.or_page(lang)?.ok_or_else(|| tx::stale_state(lang))?;
        let user = accounts::create(&app, &connection, &identity).await.or_page(lang)?;
        complete_login(&app, tx, SignedIn::upstream(&user.id, &connection, &identity), lang).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
