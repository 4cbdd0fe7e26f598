//! [`AuditStore`] on SQL: `audit_events`, with ids made here from each event's time; and the housekeeping
//! (ping, sweeping every table's expired rows).

use std::sync::atomic::Ordering;

use super::db::{Row, Stmt, q};
use async_trait::async_trait;
use rand::Rng as _;

use super::{REPLAY_MEMORY, SqlStore, all, col, limit_plus_one, paginate};
use crate::store::{AuditEvent, AuditStore, Page, StoreError, StoreResult, Timestamp};

macro_rules! audit_cols {
    () => {
        "id, occurred_at, event, client_id, connection, user_id, upstream_subject, reason, actor"
    };
}

fn audit_from_row(row: &Row) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: col(row, "id")?,
        at: col(row, "occurred_at")?,
        event: col(row, "event")?,
        client_id: col(row, "client_id")?,
        connection: col(row, "connection")?,
        user_id: col(row, "user_id")?,
        upstream_subject: col(row, "upstream_subject")?,
        reason: col(row, "reason")?,
        actor: col(row, "actor")?,
    })
}

/// Audit ids per second of `at`: an event's id is `at × IDS_PER_SECOND` plus a part below that. The scale is
/// that of the ids made when they came from the wall clock (microseconds × 1024), so ids already stored sort
/// among new ones by their second. Fits an i64 until the year 2255.
const IDS_PER_SECOND: i64 = 1_000_000 * 1024;

/// The last second whose ids fit an i64; later (and negative) times are clamped.
const LAST_SECOND: Timestamp = i64::MAX / IDS_PER_SECOND - 1;

/// How far (at most) a retry after a clash jumps past the id that clashed, so that it does not walk into
/// the run of ids another instance is making in the same second.
const CLASH_JUMP: i64 = 1 << 16;

/// The id of an event at `at`, given the last id this store made (`previous`), a random `random` in
/// `0..IDS_PER_SECOND / 2` and a `gap` (1, or a random jump after a clash): a random place in the lower half
/// of the second, or, when this store already made an id in that second, at least `gap` above it. So one
/// instance's events of one second keep the order they were appended in (the upper half leaves room for
/// that), and instances appending in the same second rarely pick the same id.
fn next_audit_id(at: Timestamp, previous: i64, random: i64, gap: i64) -> i64 {
    let base = at.clamp(0, LAST_SECOND) * IDS_PER_SECOND;
    let top = base + IDS_PER_SECOND - 1;
    let fresh = base + random;
    if (base..top).contains(&previous) { previous.saturating_add(gap).min(top).max(fresh) } else { fresh }
}

impl SqlStore {
    /// Makes (and remembers as this store's last) the id of an event at `at`; `clashed` when the previous
    /// try found its id taken. No clock is read: the time is the event's.
    pub(super) fn audit_id(&self, at: Timestamp, clashed: bool) -> i64 {
        let mut rng = rand::thread_rng();
        let random = rng.gen_range(0..IDS_PER_SECOND / 2);
        let gap = if clashed { rng.gen_range(1..=CLASH_JUMP) } else { 1 };
        let next = |previous| next_audit_id(at, previous, random, gap);
        match self.last_audit_id.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| Some(next(p))) {
            Ok(previous) | Err(previous) => next(previous),
        }
    }
}

/// An audit row under `id`; nothing on an id clash (RETURNING tells: no row back).
pub(super) fn insert_audit(id: i64, event: &AuditEvent) -> Stmt {
    q(concat!(
        "INSERT INTO audit_events (",
        audit_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING RETURNING id"
    ))
    .bind(id)
    .bind(event.at)
    .bind(event.event.as_str())
    .bind(event.client_id.as_deref())
    .bind(event.connection.as_deref())
    .bind(event.user_id.as_deref())
    .bind(event.upstream_subject.as_deref())
    .bind(event.reason.as_deref())
    .bind(event.actor.as_deref())
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn append_audit(&self, event: AuditEvent) -> StoreResult<()> {
        // Ids are made here from `event.at` (see `next_audit_id`); two instances picking the same one is a
        // rare chance within one second, and the loser just picks again, further up.
        for attempt in 0..5 {
            let id = self.audit_id(event.at, attempt > 0);
            let inserted = !self.fetch(insert_audit(id, &event)).await?.is_empty();
            if inserted {
                return Ok(());
            }
        }
        Err(StoreError::Backend("no free audit id after 5 tries".into()))
    }

    async fn prune_audit(&self, before: Timestamp) -> StoreResult<u64> {
        // Ids are time-ordered at IDS_PER_SECOND (see `next_audit_id`): the primary key finds the old rows,
        // no scan of the whole log every minute.
        let first_kept = before.clamp(0, LAST_SECOND).saturating_mul(IDS_PER_SECOND);
        self.exec(q("DELETE FROM audit_events WHERE id < $1").bind(first_kept)).await
    }

    async fn list_audit(&self, limit: u32, cursor: Option<&str>) -> StoreResult<Page<AuditEvent>> {
        let query = match cursor {
            None => q(concat!("SELECT ", audit_cols!(), " FROM audit_events ORDER BY id DESC LIMIT $1"))
                .bind(limit_plus_one(limit)),
            Some(after) => {
                // A cursor that is not an id we handed out points past the end: an empty page.
                let Ok(after) = after.parse::<i64>() else {
                    return Ok(Page { items: Vec::new(), next: None });
                };
                q(concat!("SELECT ", audit_cols!(), " FROM audit_events WHERE id < $1 ORDER BY id DESC LIMIT $2"))
                    .bind(after)
                    .bind(limit_plus_one(limit))
            }
        };
        let items = all(self.fetch(query).await?, audit_from_row)?;
        Ok(paginate(items, limit, |event| event.id.to_string()))
    }

    // --- housekeeping

    async fn ping(&self) -> StoreResult<()> {
        self.exec(q("SELECT 1")).await.map(|_| ())
    }

    async fn sweep_expired(&self, now: Timestamp) -> StoreResult<u64> {
        // Plain idempotent DELETEs: instances sweeping at once just find less to delete.
        const SWEEPS: &[&str] = &[
            "DELETE FROM login_tx WHERE expires_at <= $1",
            "DELETE FROM auth_codes WHERE expires_at <= $1 AND (used_at IS NULL OR expires_at <= $2)",
            "DELETE FROM refresh_tokens WHERE expires_at <= $1 AND (used_at IS NULL OR expires_at <= $2)",
            "DELETE FROM sessions WHERE expires_at <= $1",
            "DELETE FROM revoked_grants WHERE expires_at <= $1",
            "DELETE FROM grant_origins WHERE expires_at <= $1",
            "DELETE FROM revoked_access_tokens WHERE expires_at <= $1",
            "DELETE FROM leases WHERE expires_at <= $1",
            "DELETE FROM callback_keys WHERE expires_at <= $1",
            "DELETE FROM login_failures WHERE expires_at <= $1",
        ];
        let mut removed = 0;
        for statement in SWEEPS {
            let query = q(*statement).bind(now);
            // Only the code and token sweeps use $2; binding it elsewhere would be an error on PostgreSQL.
            let query = if statement.contains("$2") { query.bind(now - REPLAY_MEMORY) } else { query };
            removed += self.exec(query).await?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Timestamp = 1_700_000_000;

    #[test]
    fn audit_ids_follow_the_event_time() {
        let latest_of_a_second = next_audit_id(AT, 0, IDS_PER_SECOND / 2 - 1, 1);
        let earliest_of_the_next = next_audit_id(AT + 1, 0, 0, 1);
        assert!(latest_of_a_second < earliest_of_the_next);
        // The store's last id of another second does not matter.
        assert_eq!(next_audit_id(AT, earliest_of_the_next, 7, 1), AT * IDS_PER_SECOND + 7);
    }

    #[test]
    fn one_stores_ids_of_one_second_keep_their_order() {
        let first = next_audit_id(AT, 0, 1000, 1);
        assert_eq!(next_audit_id(AT, first, 10, 1), first + 1, "above the last one, even if the draw was lower");
        assert_eq!(next_audit_id(AT, first, 5000, 1), AT * IDS_PER_SECOND + 5000, "a higher draw is kept");
        assert_eq!(next_audit_id(AT, first, 10, 300), first + 300, "a retry jumps");
        let top = (AT + 1) * IDS_PER_SECOND - 1;
        assert_eq!(next_audit_id(AT, top - 1, 0, CLASH_JUMP), top, "never into the next second");
    }

    #[test]
    fn ids_made_from_the_clock_before_sort_by_their_second() {
        // Before, ids were (Unix microseconds << 10) | 10 random bits.
        let old = |micros: i64, low: i64| (micros << 10) | low;
        let second_start = old(AT * 1_000_000, 0);
        let second_end = old(AT * 1_000_000 + 999_999, 1023);
        assert!(next_audit_id(AT - 1, 0, IDS_PER_SECOND / 2 - 1, 1) < second_start);
        assert!(second_end < next_audit_id(AT + 1, 0, 0, 1));
        assert_eq!(next_audit_id(AT, 0, 0, 1), second_start, "the same range per second");
    }

    #[test]
    fn times_outside_the_range_are_clamped() {
        assert_eq!(next_audit_id(-5, 0, 3, 1), 3);
        let far = next_audit_id(i64::MAX, 0, IDS_PER_SECOND / 2 - 1, 1);
        assert!(far > next_audit_id(AT, 0, 0, 1));
        assert!(next_audit_id(i64::MAX, far, 0, CLASH_JUMP) > far, "no overflow");
    }
}
