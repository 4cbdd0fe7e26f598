//! Single sign-on: may the browser's session enter this app now, without asking? (CONTRACT.md, "Sessions:
//! who may enter which app".) A session remembers the connection and upstream identity it was made with;
//! it enters an app that enables that connection, or another connection of the same corp whose own rules
//! the person passes when checked now — never just because it is a valid session.

use crate::app::App;
use crate::connectors;
use crate::store::{Connection, Session};
use crate::web::error::{OrPage, PageError};
use crate::web::i18n::Lang;

/// What let a session into an app.
#[derive(Debug, Clone)]
pub enum Admission {
    /// A password session: every app's login page offers the password.
    Password,
    /// This connection (its identifier) of the app admitted the session's upstream identity: its own
    /// connection, or another of the same corp whose rules the person passed now. A grant made so is
    /// re-checked there.
    Through(String),
}

impl Admission {
    /// The admitting connection's identifier, None for a password session.
    pub fn connection(&self) -> Option<&str> {
        match self {
            Admission::Password => None,
            Admission::Through(identifier) => Some(identifier),
        }
    }
}

/// `hint` is the connection named by `connection=`, when the app gave one: then only it may admit.
/// None when the session may not enter (the person signs in again).
pub async fn admits(
    app: &App,
    session: &Session,
    connections: &[Connection],
    hint: Option<&Connection>,
    lang: Lang,
) -> Result<Option<Admission>, PageError> {
    // A disabled account's sessions were ended when it was disabled; one made in the same instant enters nothing.
    if app.store.get_user(&session.user_id).await.or_page(lang)?.is_none_or(|user| user.disabled) {
        return Ok(None);
    }
    let (Some(made_through), Some(upstream), Some(subject)) =
        (&session.connection, &session.upstream, &session.subject)
    else {
        // A password session: every app's login page offers the password, so it enters any app — unless the
        // app asked for a connection. A session of unknown origin (made before sessions recorded it) enters none.
        return Ok((session.amr == "pwd" && hint.is_none()).then_some(Admission::Password));
    };
    let mut candidates: Vec<&Connection> = match hint {
        Some(c) => vec![c],
        None => connections.iter().collect(),
    };
    // The session's own connection first: it needs no call to WeCom.
    candidates.sort_by_key(|c| c.identifier != *made_through);
    let mut userid: Option<String> = None;
    for connection in candidates {
        let same = connection.identifier == *made_through;
        if !same && userid.is_none() {
            // user/get wants the userid as WeCom spells it; the identity keeps that spelling.
            let identity = app.store.get_identity(upstream, subject).await.or_page(lang)?;
            userid = Some(
                identity
                    .and_then(|i| i.profile.get("userid").and_then(|u| u.as_str()).map(String::from))
                    .unwrap_or_else(|| subject.clone()),
            );
        }
        let who = userid.as_deref().unwrap_or(subject);
        match connectors::admits(app, connection, upstream, who, same).await {
            Ok(()) => return Ok(Some(Admission::Through(connection.identifier.clone()))),
            Err(e) => tracing::info!(
                connection = %connection.identifier,
                session_connection = %made_through,
                reason = %e,
                "the session does not enter through this connection"
            ),
        }
    }
    Ok(None)
}
