//! Local password sign-in on the login page (argon2id with lockout, in `accounts`).

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::finalize::{SignedIn, complete_login};
use super::{page, tx};
use crate::accounts::PasswordCheck;
use crate::app::AppState;
use crate::audit::Audit;
use crate::web::error::{OrPage, PageError};
use crate::web::i18n::{Lang, Msg};

#[derive(Deserialize)]
pub struct PasswordForm {
    pub login: String,
    pub password: String,
}

/// `POST /login/{tx}/password`.
pub async fn password_login(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(tx_id): Path<String>,
    Form(form): Form<PasswordForm>,
) -> Response {
    let result = async {
        let tx = tx::load(&app, &headers, &tx_id, Lang::pick(None, &headers)).await?;
        let lang = tx::lang_of(&tx, &headers);
        if tx::pinned(&tx).is_some() {
            // Refused before anything is counted or stored: nothing for a loop of such POSTs to fill.
            tracing::info!(client_id = %tx.client_id, "password sign-in on a login the app pinned to a connection");
            return Err(PageError::new(StatusCode::FORBIDDEN, lang, lang.t(Msg::PasswordNotOffered).to_string())
                .hint(Msg::StartAgain));
        }
        let (client, connections) = page::client_and_connections(&app, &tx, lang).await?;
        let check = crate::accounts::verify_password(&app, &form.login, &form.password).await.or_page(lang)?;
        let audited = check.audited();
        let (reason, message) = match check {
            PasswordCheck::Valid(user) => {
                let tx = app
                    .store
                    .take_login_tx(&tx.id, app.now())
                    .await
                    .or_page(lang)?
                    .ok_or_else(|| PageError::bad_request(lang, Msg::TxExpired).hint(Msg::SignInAgain))?;
                return complete_login(&app, tx, SignedIn::password(&user.id), lang).await;
            }
            PasswordCheck::Invalid => ("bad_password", lang.t(Msg::BadPassword).to_string()),
            PasswordCheck::LockedOut { retry_after, .. } => ("locked_out", locked_out_message(lang, retry_after)),
            PasswordCheck::Busy => ("busy", lang.t(Msg::Busy).to_string()),
            PasswordCheck::Disabled => ("account_disabled", lang.t(Msg::AccountDisabled).to_string()),
        };
        app.metrics.login(&tx.client_id, "password", reason);
        let why = match reason {
            "locked_out" => "too many failed attempts",
            "busy" => "too many password checks in flight",
            "account_disabled" => "account disabled",
            _ => "wrong account or password",
        };
        if audited {
            Audit::new("login.failure").client(&tx.client_id).connection("password").reason(why).write(&app).await;
        }
        let mut page = page::render(&tx, &client, &connections, &headers, lang, Some(&message), &form.login)?;
        match reason {
            "bad_password" => {}
            "account_disabled" => *page.status_mut() = StatusCode::FORBIDDEN,
            _ => *page.status_mut() = StatusCode::TOO_MANY_REQUESTS,
        }
        Ok(page)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// "Too many failed attempts ... wait N minutes", N rounded up.
pub fn locked_out_message(lang: Lang, retry_after: i64) -> String {
    let minutes = (retry_after.max(1) + 59) / 60;
    lang.fmt(Msg::LockedOut, &[("minutes", &minutes.to_string())])
}
