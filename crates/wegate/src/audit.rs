//! The audit trail: a small builder over [`crate::store::AuditEvent`]. Writing on its own (`write`) never
//! fails a request: a store error is logged and the request goes on. A successful login's entry (`at`) is
//! written in the login's own transaction instead (`GrantStart`): there, no entry means no login.

use crate::app::App;
use crate::store::AuditEvent;

/// One audit entry being put together: `Audit::new("login.failure").client(id).reason("…").write(&app)`.
#[must_use = "an audit entry is only recorded by `write`"]
pub struct Audit {
    event: AuditEvent,
}

impl Audit {
    /// `event` names what happened, e.g. `login.success`, `login.failure`, `token.replay`.
    pub fn new(event: &str) -> Audit {
        Audit {
            event: AuditEvent {
                id: 0,
                at: 0,
                event: event.to_string(),
                client_id: None,
                connection: None,
                user_id: None,
                upstream_subject: None,
                reason: None,
                actor: None,
            },
        }
    }

    /// The app (client id) involved.
    pub fn client(mut self, client_id: &str) -> Audit {
        self.event.client_id = Some(client_id.to_string());
        self
    }

    /// The connection involved (or `password`, `sso` for a login without one).
    pub fn connection(mut self, identifier: &str) -> Audit {
        self.event.connection = Some(identifier.to_string());
        self
    }

    pub fn user(mut self, user_id: &str) -> Audit {
        self.event.user_id = Some(user_id.to_string());
        self
    }

    /// `upstream/subject` of the identity involved, or an authorizing corp id.
    pub fn upstream(mut self, reference: &str) -> Audit {
        self.event.upstream_subject = Some(reference.to_string());
        self
    }

    /// Why, for a failure or refusal. Never a secret.
    pub fn reason(mut self, reason: &str) -> Audit {
        self.event.reason = Some(reason.to_string());
        self
    }

    /// Who made an admin change.
    pub fn actor(mut self, actor: &str) -> Audit {
        self.event.actor = Some(actor.to_string());
        self
    }

    /// The entry at `at`, for a store call that writes it together with other rows.
    pub fn at(mut self, at: crate::store::Timestamp) -> AuditEvent {
        self.event.at = at;
        self.event
    }

    /// Appends the entry at the app's current time.
    pub async fn write(mut self, app: &App) {
        self.event.at = app.now();
        let name = self.event.event.clone();
        if let Err(e) = app.store.append_audit(self.event).await {
            tracing::error!(error = %e, event = %name, "could not write the audit log");
        }
    }
}
