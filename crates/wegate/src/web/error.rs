//! Browser-facing errors: a page that says what went wrong and what to do, in the person's language.
//! The detail for the admin goes to the log with a reference shown on the page; internal error text
//! never reaches the page.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::i18n::Lang;

#[derive(Debug, Clone)]
pub struct PageError {
    pub status: StatusCode,
    pub lang: Lang,
    pub title: String,
    pub message: String,
    pub hint: Option<String>,
    /// A link back to the app (an OAuth error redirect), when the redirect_uri is verified.
    pub back_href: Option<String>,
    /// Correlates the page with the log line.
    pub reference: Option<String>,
}

impl PageError {
    pub fn new(status: StatusCode, lang: Lang, title: impl Into<String>, message: impl Into<String>) -> Self {
        PageError {
            status,
            lang,
            title: title.into(),
            message: message.into(),
            hint: None,
            back_href: None,
            reference: None,
        }
    }

    /// A 400 page titled "Sign-in failed".
    pub fn bad_request(lang: Lang, message: impl Into<String>) -> Self {
        PageError::new(StatusCode::BAD_REQUEST, lang, lang.t("error_title"), message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_back(mut self, href: Option<String>) -> Self {
        self.back_href = href;
        self
    }

    /// An unexpected failure: logged in full with a reference, shown as a generic page.
    pub fn internal(lang: Lang, detail: &dyn std::fmt::Display) -> Self {
        let reference = crate::util::random_alnum(10);
        tracing::error!(reference = %reference, error = %detail, "internal error");
        let (title, message) = match lang {
            Lang::Zh => ("服务器错误", "处理您的请求时出错。请稍后重试；如果问题持续，请把参考编号告诉管理员。"),
            Lang::En => (
                "Something went wrong",
                "wegate could not complete your request. Try again in a moment; if it keeps happening, give the reference below to your administrator.",
            ),
        };
        let mut page = PageError::new(StatusCode::INTERNAL_SERVER_ERROR, lang, title, message);
        page.reference = Some(reference);
        page
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let ctx = minijinja::context! {
            title => self.title,
            message => self.message,
            hint => self.hint,
            back_href => self.back_href,
            reference => self.reference,
        };
        let body = super::templates::render("error.html", self.lang, ctx)
            .unwrap_or_else(|e| format!("error page failed to render: {e}"));
        let mut response = (self.status, Html(body)).into_response();
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(e: crate::store::StoreError) -> Self {
        PageError::internal(Lang::En, &e)
    }
}
