//! Browser-facing errors: a page that says what went wrong and what to do, in the person's language.
//! The detail for the admin goes to the log with a reference shown on the page; internal error text
//! never reaches the page.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::i18n::{Lang, Msg};

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
    /// A page titled "Sign-in failed" with an already translated message.
    pub fn new(status: StatusCode, lang: Lang, message: impl Into<String>) -> Self {
        PageError {
            status,
            lang,
            title: lang.t(Msg::ErrorTitle).to_string(),
            message: message.into(),
            hint: None,
            back_href: None,
            reference: None,
        }
    }

    /// A 400 page titled "Sign-in failed".
    pub fn bad_request(lang: Lang, message: Msg) -> Self {
        PageError::new(StatusCode::BAD_REQUEST, lang, lang.t(message))
    }

    pub fn hint(self, hint: Msg) -> Self {
        let text = self.lang.t(hint).to_string();
        self.hint_text(text)
    }

    /// A hint with its placeholders already filled in.
    pub fn hint_text(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn back(mut self, href: Option<String>) -> Self {
        self.back_href = href;
        self
    }

    pub fn reference(mut self, reference: String) -> Self {
        self.reference = Some(reference);
        self
    }

    /// An unexpected failure: logged in full with a reference, shown as a generic page.
    pub fn internal(lang: Lang, detail: &dyn std::fmt::Display) -> Self {
        let reference = crate::util::random_alnum(10);
        tracing::error!(reference = %reference, error = %detail, "internal error");
        PageError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            lang,
            title: lang.t(Msg::InternalTitle).to_string(),
            message: lang.t(Msg::InternalMessage).to_string(),
            hint: None,
            back_href: None,
            reference: Some(reference),
        }
    }
}

/// `result.or_page(lang)?`: an unexpected error (a store failure, say) as the generic page in the
/// person's language.
pub trait OrPage<T> {
    fn or_page(self, lang: Lang) -> Result<T, PageError>;
}

impl<T, E: std::fmt::Display> OrPage<T> for Result<T, E> {
    fn or_page(self, lang: Lang) -> Result<T, PageError> {
        self.map_err(|e| PageError::internal(lang, &e))
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
