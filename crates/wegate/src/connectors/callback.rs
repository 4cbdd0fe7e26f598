//! The browser's return from WeCom (`/connections/{identifier}/callback?code&state`), and the
//! "ask to bind" steps that may follow. The `state` is the login transaction's id: unguessable, bound to
//! the browser, and single-use — a missing, expired, reused or foreign state gets a page and changes
//! nothing.

use axum::extract::{Form, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{ConnectorError, UpstreamIdentity, connector};
use crate::accounts::{self, Refusal, Resolution};
use crate::app::AppState;
use crate::oidc::finalize::{audit, back_to_app, complete_login};
use crate::store::{Connection, LoginTx};
use crate::web::error::PageError;
use crate::web::i18n::Lang;
use crate::web::{check_browser, load_tx};

#[derive(Deserialize, Default)]
struct CallbackQuery {
    code: Option<String>,
    /// The service-provider login (`3rd_qrConnect`) names its code `auth_code`.
    auth_code: Option<String>,
    state: Option<String>,
}

/// The identity waiting for "ask to bind", kept in the transaction between the pages.
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
        }
    }
}

pub async fn callback(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(identifier): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let lang = Lang::pick(None, &headers);
    let query: CallbackQuery = serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    handle_callback(&app, &headers, &identifier, query, lang).await.unwrap_or_else(IntoResponse::into_response)
}

fn stale_state(lang: Lang) -> PageError {
    let zh = lang == Lang::Zh;
    PageError::bad_request(
        lang,
        if zh {
            "此登录链接无效、已过期或已被使用。"
        } else {
            "This sign-in link is invalid, has expired, or was already used."
        },
    )
    .with_hint(if zh { "请回到应用重新登录。" } else { "Go back to the app and sign in again." })
}

async fn handle_callback(
    app: &AppState,
    headers: &HeaderMap,
    identifier: &str,
    query: CallbackQuery,
    lang: Lang,
) -> Result<Response, PageError> {
    let Some(state) = query.state.filter(|s| !s.is_empty()) else {
        tracing::warn!(connection = identifier, "callback without state");
        return Err(stale_state(lang));
    };
    let now = app.now();
    // Read, check, then take: a callback from another browser or for another connection must not
    // consume the transaction.
    let Some(tx) = app.store.get_login_tx(&state, now).await? else {
        tracing::warn!(connection = identifier, "callback with an unknown, expired or used state");
        return Err(stale_state(lang));
    };
    let lang = Lang::pick(tx.ui_locales.as_deref(), headers);
    check_browser(headers, &tx, lang)?;
    if tx.connection.as_deref() != Some(identifier) {
        tracing::warn!(connection = identifier, expected = ?tx.connection, "callback state belongs to another connection");
        return Err(stale_state(lang));
    }
    let Some(tx) = app.store.take_login_tx(&state, now).await? else {
        return Err(stale_state(lang));
    };
    let Some(connection) = app.store.get_connection(identifier).await? else {
        return Err(PageError::bad_request(lang, "This sign-in method was removed."));
    };
    let Some(code) = query.code.or(query.auth_code).filter(|c| !c.is_empty()) else {
        return Err(failure_page(app, &tx, &connection, &ConnectorError::Cancelled, lang).await);
    };
    let Some(kind) = connector(&connection.kind) else {
        return Err(PageError::internal(lang, &format!("unknown kind {}", connection.kind)));
    };
    let identity = match kind.exchange(app, &connection, &code).await {
        Ok(identity) => identity,
        Err(e) => return Err(failure_page(app, &tx, &connection, &e, lang).await),
    };
    finish(app, tx, &connection, identity, lang).await
}

/// Applies the account rules and ends the login (or shows the bind page).
async fn finish(
    app: &AppState,
    mut tx: LoginTx,
    connection: &Connection,
    identity: UpstreamIdentity,
    lang: Lang,
) -> Result<Response, PageError> {
    let resolution = accounts::resolve(app, connection, &identity).await.map_err(|e| PageError::internal(lang, &e))?;
    match resolution {
        Resolution::User(user) => complete_login(app, tx, &user.id, &connection.kind, None, lang).await,
        Resolution::Refused(refusal) => Err(refusal_page(app, &tx, connection, &identity, refusal, lang).await),
        Resolution::NeedsBinding { may_create } => {
            // The transaction was taken; put it back with the identity waiting to be bound.
            tx.data = serde_json::to_value(PendingBind::new(&identity, may_create)).unwrap_or_default();
            tx.expires_at = app.now() + app.settings.login_ttl;
            app.store.put_login_tx(tx.clone()).await?;
            bind_page(&tx, &identity, may_create, None, "", lang)
        }
    }
}

fn bind_page(
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
    let body = crate::web::templates::render("bind.html", lang, ctx).map_err(|e| PageError::internal(lang, &e))?;
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    Ok((status, Html(body)).into_response())
}

async fn pending(
    app: &AppState,
    headers: &HeaderMap,
    tx_id: &str,
    lang: Lang,
) -> Result<(LoginTx, PendingBind, Connection), PageError> {
    let tx = load_tx(app, headers, tx_id, lang).await?;
    let pending: PendingBind = serde_json::from_value(tx.data.clone()).map_err(|_| stale_state(lang))?;
    let identifier = tx.connection.clone().unwrap_or_default();
    let connection = app.store.get_connection(&identifier).await?.ok_or_else(|| stale_state(lang))?;
    Ok((tx, pending, connection))
}

#[derive(Deserialize)]
pub struct BindForm {
    login: String,
    password: String,
}

/// "Ask to bind": the person proves they own the existing account with its password; the identity is
/// linked and they are signed in as that account.
pub async fn bind(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(tx_id): Path<String>,
    Form(form): Form<BindForm>,
) -> Response {
    let lang = Lang::pick(None, &headers);
    let result = async {
        let (tx, pending, connection) = pending(&app, &headers, &tx_id, lang).await?;
        let lang = Lang::pick(tx.ui_locales.as_deref(), &headers);
        let identity = pending.identity();
        let user = match accounts::verify_password(&app, &form.login, &form.password).await? {
            accounts::PasswordCheck::Valid(user) => user,
            refused => {
                let (reason, message) = match refused {
                    accounts::PasswordCheck::LockedOut { retry_after } => {
                        ("too many failed attempts", crate::web::locked_out_message(lang, retry_after))
                    }
                    _ => ("wrong account or password", lang.t("bad_password").to_string()),
                };
                audit(
                    &app,
                    "login.bind_failure",
                    Some(&tx.client_id),
                    Some(&connection.identifier),
                    None,
                    Some(&identity.reference()),
                    Some(reason),
                )
                .await;
                return bind_page(&tx, &identity, pending.may_create, Some(&message), &form.login, lang);
            }
        };
        let tx = app.store.take_login_tx(&tx.id, app.now()).await?.ok_or_else(|| stale_state(lang))?;
        accounts::link(&app, &connection, &identity, &user.id).await.map_err(|e| match e {
            crate::store::StoreError::Conflict(_) => PageError::bad_request(
                lang,
                if lang == Lang::Zh {
                    "此企业微信身份已关联到其他账号。"
                } else {
                    "This WeCom identity is already linked to another account."
                },
            ),
            other => PageError::internal(lang, &other),
        })?;
        audit(
            &app,
            "identity.linked",
            Some(&tx.client_id),
            Some(&connection.identifier),
            Some(&user.id),
            Some(&identity.reference()),
            None,
        )
        .await;
        complete_login(&app, tx, &user.id, &connection.kind, None, lang).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// "Ask to bind", second choice: create a new account (not in login-only mode).
pub async fn create_instead(State(app): State<AppState>, headers: HeaderMap, Path(tx_id): Path<String>) -> Response {
    let lang = Lang::pick(None, &headers);
    let result = async {
        let (tx, pending, connection) = pending(&app, &headers, &tx_id, lang).await?;
        let lang = Lang::pick(tx.ui_locales.as_deref(), &headers);
        if !pending.may_create || connection.login_only {
            return Err(refusal_page(&app, &tx, &connection, &pending.identity(), Refusal::NoAccount, lang).await);
        }
        let tx = app.store.take_login_tx(&tx.id, app.now()).await?.ok_or_else(|| stale_state(lang))?;
        let user = accounts::create(&app, &connection, &pending.identity())
            .await
            .map_err(|e| PageError::internal(lang, &e))?;
        complete_login(&app, tx, &user.id, &connection.kind, None, lang).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn refusal_page(
    app: &AppState,
    tx: &LoginTx,
    connection: &Connection,
    identity: &UpstreamIdentity,
    refusal: Refusal,
    lang: Lang,
) -> PageError {
    let zh = lang == Lang::Zh;
    app.metrics.login(&tx.client_id, &connection.identifier, refusal.code());
    audit(
        app,
        "login.failure",
        Some(&tx.client_id),
        Some(&connection.identifier),
        None,
        Some(&identity.reference()),
        Some(refusal.code()),
    )
    .await;
    tracing::info!(connection = %connection.identifier, upstream = %identity.reference(), reason = refusal.code(), "sign-in refused");
    let (message, hint) = match refusal {
        Refusal::NoAccount => (
            if zh {
                "这里没有您的账号。此登录方式只允许已有账号登录。"
            } else {
                "There is no account for you here. This sign-in method only lets existing accounts in."
            },
            if zh {
                "请联系管理员为您创建账号或关联您的企业微信身份。"
            } else {
                "Ask your administrator to create an account for you or link your WeCom identity."
            },
        ),
        Refusal::Ambiguous => (
            if zh {
                "您的企业微信资料与多个账号匹配，无法确定是哪一个。"
            } else {
                "Your WeCom profile matches more than one account, so wegate cannot tell which one is yours."
            },
            if zh {
                "请管理员清理重复的邮箱或手机号。"
            } else {
                "Ask your administrator to resolve the duplicate email or phone number."
            },
        ),
    };
    PageError::new(StatusCode::FORBIDDEN, lang, lang.t("error_title"), message)
        .with_hint(hint)
        .with_back(Some(back_to_app(app, tx, "access_denied", refusal.code())))
}

/// The page for an upstream failure: the errcode's explanation from the catalogue, what to do, and a way
/// back to the app (an OAuth error on its verified redirect_uri).
pub async fn failure_page(
    app: &AppState,
    tx: &LoginTx,
    connection: &Connection,
    error: &ConnectorError,
    lang: Lang,
) -> PageError {
    let zh = lang == Lang::Zh;
    let reference = crate::util::random_alnum(10);
    let (status, outcome, oauth_error, message, hint): (StatusCode, &str, &str, String, String) = match error {
        ConnectorError::Cancelled => (
            StatusCode::FORBIDDEN,
            "cancelled",
            "access_denied",
            (if zh { "您在企业微信中取消了登录。" } else { "You cancelled the sign-in in WeCom." }).into(),
            (if zh { "如需登录，请重试。" } else { "Try again if you meant to sign in." }).into(),
        ),
        ConnectorError::NotAllowed(_) => (
            StatusCode::FORBIDDEN,
            "not_allowed",
            "access_denied",
            (if zh {
                "您的企业微信账号无权使用此应用。"
            } else {
                "Your WeCom account is not allowed to use this app."
            })
            .into(),
            (if zh {
                "管理员需要把您加入该企业微信应用的可见范围。"
            } else {
                "An administrator must add you to the WeCom app's visible scope."
            })
            .into(),
        ),
        ConnectorError::NotMember => (
            StatusCode::FORBIDDEN,
            "not_member",
            "access_denied",
            (if zh { "您不是该企业的成员。" } else { "You are not a member of this company in WeCom." }).into(),
            (if zh {
                "请使用所在企业的企业微信账号扫码。"
            } else {
                "Scan with the WeCom account of your company."
            })
            .into(),
        ),
        ConnectorError::CorpNotAllowed(_) => (
            StatusCode::FORBIDDEN,
            "corp_not_allowed",
            "access_denied",
            (if zh {
                "您的企业未获准通过此方式登录。"
            } else {
                "Your company is not allowed to sign in this way."
            })
            .into(),
            (if zh {
                "请联系管理员：企业的授权可能已被取消。"
            } else {
                "Ask your administrator: your company's authorization may have been cancelled."
            })
            .into(),
        ),
        ConnectorError::NotReady(step) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "temporarily_unavailable",
            (if zh {
                format!("此登录方式尚未配置完成：{step}")
            } else {
                format!("This sign-in method is not fully set up yet: {step}")
            }),
            (if zh {
                "请管理员完成配置后再试。"
            } else {
                "Ask your administrator to finish the set-up, then try again."
            })
            .into(),
        ),
        ConnectorError::Wecom(e) => {
            let explanation = e.explanation();
            let (outcome, oauth_error, status) = match e {
                wecom::Error::Timeout { .. } | wecom::Error::Http { .. } | wecom::Error::Decode { .. } => {
                    ("upstream_unavailable", "temporarily_unavailable", StatusCode::BAD_GATEWAY)
                }
                _ => ("upstream_error", "server_error", StatusCode::BAD_GATEWAY),
            };
            let message = match explanation {
                Some(x) => (if zh { x.zh } else { x.en }).to_string(),
                None => match e {
                    wecom::Error::Timeout { .. } => {
                        (if zh { "企业微信没有及时响应。" } else { "WeCom did not answer in time." }).into()
                    }
                    _ => (if zh {
                        "企业微信暂时无法完成登录。"
                    } else {
                        "WeCom could not complete the sign-in right now."
                    })
                    .into(),
                },
            };
            let hint = match e.errcode() {
                Some(code) => {
                    if zh {
                        format!("企业微信错误码 {code}。请稍后重试；如果问题持续，请把参考编号告诉管理员。")
                    } else {
                        format!(
                            "WeCom error code {code}. Try again in a moment; if it keeps happening, give the reference to your administrator."
                        )
                    }
                }
                None => (if zh {
                    "请稍后重试；如果问题持续，请把参考编号告诉管理员。"
                } else {
                    "Try again in a moment; if it keeps happening, give the reference to your administrator."
                })
                .into(),
            };
            (status, outcome, oauth_error, message, hint)
        }
        ConnectorError::Config(_) | ConnectorError::Store(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "server_error",
            (if zh { "登录方式配置有误。" } else { "This sign-in method is misconfigured." }).into(),
            (if zh { "请把参考编号告诉管理员。" } else { "Give the reference to your administrator." }).into(),
        ),
    };
    tracing::warn!(reference = %reference, connection = %connection.identifier, client_id = %tx.client_id, error = %error, "upstream sign-in failed");
    app.metrics.login(&tx.client_id, &connection.identifier, outcome);
    audit(
        app,
        "login.failure",
        Some(&tx.client_id),
        Some(&connection.identifier),
        None,
        None,
        Some(&format!("{outcome}: {error}")),
    )
    .await;
    let mut page = PageError::new(status, lang, lang.t("error_title"), message)
        .with_hint(hint)
        .with_back(Some(back_to_app(app, tx, oauth_error, outcome)));
    page.reference = Some(reference);
    page
}
