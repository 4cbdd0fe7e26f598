//! The back channel: no redirect is ever followed (a provider's endpoint that redirects could send the
//! broker's secret or a request anywhere — oauth2-rs's SSRF note), every call has a timeout, and no
//! answer is read beyond [`MAX_BODY`].

use std::time::Duration;

use serde_json::Value;

use crate::Error;

/// The largest answer read from a provider: discovery documents and key sets are a few KiB.
pub const MAX_BODY: usize = 256 * 1024;

#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    observer: std::sync::Arc<dyn Observer>,
}

/// Who watches the back channel (wegate's metrics): every call, by the provider's host and what it was for
/// (`discovery`, `jwks`, `token`, `userinfo`), with its failure's short code (the provider's OAuth `error`,
/// `http_<status>`, `timeout`, …) and its time. The default watches nothing.
pub trait Observer: Send + Sync {
    fn call(&self, host: &str, what: &'static str, failure: Option<&str>, elapsed: std::time::Duration) {
        let _ = (host, what, failure, elapsed);
    }
}

struct Unobserved;

impl Observer for Unobserved {}

/// The error codes of RFC 6749 §5.2, RFC 6750 §3.1 and OpenID Connect Core §3.1.2.6; anything else a provider
/// says is `other` — a provider's text never becomes a label of its own (unbounded series, unescaped quotes).
fn known_error(error: &str) -> String {
    const KNOWN: &[&str] = &[
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "access_denied",
        "unsupported_response_type",
        "server_error",
        "temporarily_unavailable",
        "invalid_token",
        "insufficient_scope",
        "interaction_required",
        "login_required",
        "account_selection_required",
        "consent_required",
    ];
    KNOWN.iter().find(|k| **k == error).map_or_else(|| "other".to_string(), |k| k.to_string())
}

/// A failure's short code for labels: the provider's OAuth error (a known one), or the kind of failure.
pub fn failure_code(error: &Error) -> String {
    match error {
        Error::Unavailable { timeout: true, .. } => "timeout".into(),
        Error::Unavailable { .. } => "unavailable".into(),
        Error::Refused { error, .. } if error.starts_with("HTTP ") => error.replace("HTTP ", "http_"),
        Error::Refused { error, .. } => known_error(error),
        Error::Invalid(_) => "invalid".into(),
        Error::Config(_) => "config".into(),
    }
}

/// An answer read in full: its status, content type and body.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Http {
    pub fn new(timeout: Duration) -> Result<Http, Error> {
        Http::observed(timeout, std::sync::Arc::new(Unobserved))
    }

    pub fn observed(timeout: Duration, observer: std::sync::Arc<dyn Observer>) -> Result<Http, Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("wegate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        Ok(Http { client, observer })
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `request` and reads at most [`MAX_BODY`] bytes of the answer. A redirect is an error.
    pub(crate) async fn send(&self, what: &'static str, request: reqwest::RequestBuilder) -> Result<Answer, Error> {
        let request = request.build().map_err(|e| Error::Config(format!("{what}: {}", e.without_url())))?;
        let host = request.url().host_str().unwrap_or_default().to_string();
        let started = std::time::Instant::now();
        let result = self.exchange(what, request).await;
        let failure = match &result {
            Err(e) => Some(failure_code(e)),
            // An answer that is an error (an OAuth error object, a 5xx) is a failed call too.
            Ok(answer) if answer.status >= 400 => Some(
                answer
                    .json_object(what)
                    .ok()
                    .and_then(|b| b.get("error").and_then(Value::as_str).map(known_error))
                    .unwrap_or_else(|| format!("http_{}", answer.status)),
            ),
            Ok(_) => None,
        };
        self.observer.call(&host, what, failure.as_deref(), started.elapsed());
        result
    }

    async fn exchange(&self, what: &'static str, request: reqwest::Request) -> Result<Answer, Error> {
        let transport = |e: reqwest::Error| {
            let timeout = e.is_timeout();
            Error::Unavailable { what, detail: e.without_url().to_string(), timeout }
        };
        let response = self.client.execute(request).await.map_err(transport)?;
        let status = response.status();
        if status.is_redirection() {
            return Err(Error::unavailable(what, format!("HTTP {status}: redirects are not followed")));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let body = upstream_http::read_capped(response, MAX_BODY).await.map_err(|e| match e {
            upstream_http::ReadError::Transport(e) => transport(e),
            too_large => Error::unavailable(what, too_large.to_string()),
        })?;
        Ok(Answer { status: status.as_u16(), content_type, body })
    }

    /// A GET whose 200 answer must be a JSON object.
    pub(crate) async fn get_json(
        &self,
        what: &'static str,
        url: &str,
    ) -> Result<serde_json::Map<String, Value>, Error> {
        let answer = self.send(what, self.client.get(url).header("accept", "application/json")).await?;
        if answer.status != 200 {
            return Err(Error::unavailable(what, format!("HTTP {}", answer.status)));
        }
        answer.json_object(what)
    }
}

impl Answer {
    pub(crate) fn json_object(&self, what: &'static str) -> Result<serde_json::Map<String, Value>, Error> {
        match serde_json::from_slice(&self.body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(Error::unavailable(what, "the answer is not a JSON object")),
            Err(e) => Err(Error::unavailable(what, format!("the answer is not JSON: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_providers_own_words_never_become_a_label() {
        assert_eq!(known_error("invalid_grant"), "invalid_grant");
        assert_eq!(known_error("x\",evil=\"1"), "other");
        assert_eq!(known_error("made_up_code_123"), "other");
        let refused = Error::Refused { what: "userinfo", error: "HTTP 401".into(), description: None };
        assert_eq!(failure_code(&refused), "http_401");
    }
}
