//! The audit log, and the store's own housekeeping: readiness and sweeping expired rows.

use async_trait::async_trait;
use serde::Serialize;

use super::common::{Page, StoreResult, Timestamp};

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    /// Made by the store from `at` on append (the value given is ignored): ids order events by `at`.
    pub id: i64,
    pub at: Timestamp,
    /// e.g. `login.success`, `login.failure`, `token.replay`, `connection.event`.
    pub event: String,
    pub client_id: Option<String>,
    pub connection: Option<String>,
    pub user_id: Option<String>,
    /// `upstream/subject` of the identity involved, if any.
    pub upstream_subject: Option<String>,
    pub reason: Option<String>,
    /// Who made an admin change: `api` (the admin token at the API), `console:token`, `console:user:<id>`.
    /// None for what people and upstreams did (sign-ins, events).
    pub actor: Option<String>,
}

/// The audit log, plus the housekeeping that concerns the store as a whole (readiness, sweeping).
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Stores the event under a new id made from `event.at` (never from a clock): events of a later second
    /// get higher ids, and one instance's events of the same second get increasing ids in append order.
    async fn append_audit(&self, event: AuditEvent) -> StoreResult<()>;
    /// Newest first; `cursor` is the id of the last event of the previous page.
    async fn list_audit(&self, limit: u32, cursor: Option<&str>) -> StoreResult<Page<AuditEvent>>;

    // --- housekeeping
    /// Cheap round trip to the database (readiness).
    async fn ping(&self) -> StoreResult<()>;
    /// Deletes expired transactions, codes, refresh tokens, sessions, revocations, leases, callback keys and
    /// login-failure windows.
    /// Safe to run on every instance at once. Returns how many rows went.
    async fn sweep_expired(&self, now: Timestamp) -> StoreResult<u64>;
    /// Deletes audit events that happened before `before` (the retention's cutoff). Returns how many went.
    async fn prune_audit(&self, before: Timestamp) -> StoreResult<u64>;
}
