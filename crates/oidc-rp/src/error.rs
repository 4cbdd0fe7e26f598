//! How a call to an upstream provider fails.

/// What went wrong, sorted by who can fix it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The provider did not answer usably: a timeout, a network failure, a 5xx, a redirect, an answer too
    /// large or not the JSON it should be. Worth trying again.
    #[error("{what}: {detail}")]
    Unavailable { what: &'static str, detail: String, timeout: bool },
    /// The provider answered an OAuth error (RFC 6749 §5.2), e.g. `invalid_grant` for a used code.
    #[error("{what} answered {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused { what: &'static str, error: String, description: Option<String> },
    /// The answer broke a rule it must keep: an ID token that does not verify, a userinfo `sub` that is
    /// not the ID token's, a missing id. Nobody signs in on it.
    #[error("{0}")]
    Invalid(String),
    /// The settings cannot work: a URL that is not https, a discovery document naming another issuer.
    #[error("{0}")]
    Config(String),
}

impl Error {
    pub(crate) fn unavailable(what: &'static str, detail: impl Into<String>) -> Error {
        Error::Unavailable { what, detail: detail.into(), timeout: false }
    }
}
