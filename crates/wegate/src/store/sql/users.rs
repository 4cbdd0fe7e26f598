//! [`UserStore`] on SQL: `users` (with normalised copies of username, email and phone that uniqueness and
//! matching use), `identities`, and `login_failures`.

use super::db::{Row, each_bound_to, q};
use async_trait::async_trait;
use serde_json::Value;

use super::{SqlStore, Stmt, all, col, json_col, limit_plus_one, one, paginate, to_json};
use crate::store::{
    Identity, LoginFailures, MatchQuery, NewUser, Page, ProfileUpdate, StoreError, StoreResult, Timestamp, User,
    UserStore, login_as_phone, normalize_email, normalize_phone, normalize_username,
};

macro_rules! user_cols {
    () => {
        "id, username, email, phone, name, picture, password_hash, claims, disabled, admin, created_at, updated_at"
    };
}
macro_rules! identity_cols {
    () => {
        "upstream, subject, user_id, connection, profile, created_at, updated_at"
    };
}

fn identity_by_key(upstream: &str, subject: &str) -> Stmt {
    q(concat!("SELECT ", identity_cols!(), " FROM identities WHERE upstream = $1 AND subject = $2"))
        .bind(upstream)
        .bind(subject)
}

/// The user whose id a scalar subquery gives: read in the same call as the row that names the user.
pub(super) fn user_with_id_of(id_query: &str) -> String {
    format!(concat!("SELECT ", user_cols!(), " FROM users WHERE id = ({})"), id_query)
}

pub(super) fn user_from_row(row: &Row) -> StoreResult<User> {
    Ok(User {
        id: col(row, "id")?,
        username: col(row, "username")?,
        email: col(row, "email")?,
        phone: col(row, "phone")?,
        name: col(row, "name")?,
        picture: col(row, "picture")?,
        password_hash: col(row, "password_hash")?,
        claims: json_col(row, "claims")?,
        disabled: col::<i64>(row, "disabled")? != 0,
        admin: col::<i64>(row, "admin")? != 0,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

fn identity_from_row(row: &Row) -> StoreResult<Identity> {
    Ok(Identity {
        upstream: col(row, "upstream")?,
        subject: col(row, "subject")?,
        user_id: col(row, "user_id")?,
        connection: col(row, "connection")?,
        profile: json_col(row, "profile")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

fn failures_from_row(row: &Row) -> StoreResult<LoginFailures> {
    let failures: i64 = col(row, "failures")?;
    Ok(LoginFailures { failures: u32::try_from(failures).unwrap_or(u32::MAX), expires_at: col(row, "expires_at")? })
}

/// A normalised unique field; empty normalises to NULL so that blank values never collide.
fn norm(value: Option<&str>, normalize: fn(&str) -> String) -> Option<String> {
    value.map(normalize).filter(|v| !v.is_empty())
}

const INSERT_USER: &str = concat!(
    "INSERT INTO users (id, username, username_norm, email, email_norm, phone, phone_norm, name, picture, ",
    "password_hash, claims, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)"
);

const INSERT_IDENTITY: &str =
    concat!("INSERT INTO identities (", identity_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7)");

fn bind_new_user(query: Stmt, user: &NewUser, claims: String) -> Stmt {
    query
        .bind(user.id.as_str())
        .bind(user.username.as_deref())
        .bind(norm(user.username.as_deref(), normalize_username))
        .bind(user.email.as_deref())
        .bind(norm(user.email.as_deref(), normalize_email))
        .bind(user.phone.as_deref())
        .bind(norm(user.phone.as_deref(), normalize_phone))
        .bind(user.name.as_deref())
        .bind(user.picture.as_deref())
        .bind(user.password_hash.as_deref())
        .bind(claims)
        .bind(user.created_at)
}

fn user_of(new: NewUser) -> User {
    User {
        id: new.id,
        username: new.username,
        email: new.email,
        phone: new.phone,
        name: new.name,
        picture: new.picture,
        password_hash: new.password_hash,
        claims: new.claims,
        disabled: false,
        admin: false,
        created_at: new.created_at,
        updated_at: new.created_at,
    }
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        let claims = to_json(&user.claims)?;
        self.exec(bind_new_user(q(INSERT_USER), &user, claims)).await?;
        Ok(user_of(user))
    }

    async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
        let rows = self.fetch(q(concat!("SELECT ", user_cols!(), " FROM users WHERE id = $1")).bind(id)).await?;
        one(rows, user_from_row)
    }

    async fn list_users(&self, limit: u32, cursor: Option<&str>) -> StoreResult<Page<User>> {
        let query = match cursor {
            None => q(concat!("SELECT ", user_cols!(), " FROM users ORDER BY id LIMIT $1")).bind(limit_plus_one(limit)),
            Some(after) => q(concat!("SELECT ", user_cols!(), " FROM users WHERE id > $1 ORDER BY id LIMIT $2"))
                .bind(after)
                .bind(limit_plus_one(limit)),
        };
        let items = all(self.fetch(query).await?, user_from_row)?;
        Ok(paginate(items, limit, |user| user.id.clone()))
    }

    async fn delete_user(&self, id: &str) -> StoreResult<()> {
        // Unused codes go too: they would otherwise issue tokens for nobody.
        let statements = each_bound_to(
            &[
                "DELETE FROM users WHERE id = $1",
                "DELETE FROM identities WHERE user_id = $1",
                "DELETE FROM sessions WHERE user_id = $1",
                "DELETE FROM refresh_tokens WHERE user_id = $1",
                "DELETE FROM auth_codes WHERE user_id = $1",
            ],
            id,
        );
        self.transaction(statements, true).await.map(|_| ())
    }

    async fn find_user_by_login(&self, login: &str) -> StoreResult<Option<User>> {
        let username = norm(Some(login), normalize_username);
        if username.is_none() {
            return Ok(None);
        }
        let rows = self
            .fetch(
                q(concat!(
                    "SELECT ",
                    user_cols!(),
                    " FROM users WHERE username_norm = $1 OR email_norm = $2 OR phone_norm = $3 ",
                    "ORDER BY CASE WHEN username_norm = $1 THEN 0 WHEN email_norm = $2 THEN 1 ELSE 2 END, id LIMIT 1"
                ))
                .bind(username)
                .bind(norm(Some(login), normalize_email))
                .bind(login_as_phone(login)),
            )
            .await?;
        one(rows, user_from_row)
    }

    async fn find_users_matching(&self, query: &MatchQuery) -> StoreResult<Vec<User>> {
        let email = norm(query.email.as_deref(), normalize_email);
        let phone = norm(query.phone.as_deref(), normalize_phone);
        let username = norm(query.username.as_deref(), normalize_username);
        if email.is_none() && phone.is_none() && username.is_none() {
            return Ok(Vec::new());
        }
        // `column = NULL` is never true: an absent field matches nothing.
        let rows = self
            .fetch(
                q(concat!(
                    "SELECT ",
                    user_cols!(),
                    " FROM users WHERE email_norm = $1 OR phone_norm = $2 OR username_norm = $3 ORDER BY id"
                ))
                .bind(email)
                .bind(phone)
                .bind(username),
            )
            .await?;
        all(rows, user_from_row)
    }

    async fn update_user_profile(&self, id: &str, update: ProfileUpdate, now: Timestamp) -> StoreResult<User> {
        let claims = update.claims.as_ref().map(to_json).transpose()?;
        let email_norm = norm(update.email.as_deref(), normalize_email);
        let phone_norm = norm(update.phone.as_deref(), normalize_phone);
        // One statement; an email or phone that another user holds is left as it was. The NOT EXISTS guards
        // cannot see a concurrent uncommitted write, whose unique violation then surfaces as a conflict: run
        // again, and the guard sees it.
        for _ in 0..3 {
            let result = self
                .fetch(
                    q(concat!(
                        "UPDATE users SET name = COALESCE($2, name), picture = COALESCE($3, picture), ",
                        "claims = COALESCE($4, claims), updated_at = $5, ",
                        "email = CASE WHEN $6 = 1 AND ($8 IS NULL OR NOT EXISTS ",
                        "(SELECT 1 FROM users o WHERE o.email_norm = $8 AND o.id <> $1)) THEN $7 ELSE email END, ",
                        "email_norm = CASE WHEN $6 = 1 AND ($8 IS NULL OR NOT EXISTS ",
                        "(SELECT 1 FROM users o WHERE o.email_norm = $8 AND o.id <> $1)) THEN $8 ELSE email_norm END, ",
                        "phone = CASE WHEN $9 = 1 AND ($11 IS NULL OR NOT EXISTS ",
                        "(SELECT 1 FROM users o WHERE o.phone_norm = $11 AND o.id <> $1)) THEN $10 ELSE phone END, ",
                        "phone_norm = CASE WHEN $9 = 1 AND ($11 IS NULL OR NOT EXISTS ",
                        "(SELECT 1 FROM users o WHERE o.phone_norm = $11 AND o.id <> $1)) THEN $11 ELSE phone_norm END ",
                        "WHERE id = $1 RETURNING ",
                        user_cols!()
                    ))
                    .bind(id)
                    .bind(update.name.as_deref())
                    .bind(update.picture.as_deref())
                    .bind(claims.as_deref())
                    .bind(now)
                    .bind(i64::from(update.email.is_some()))
                    .bind(update.email.as_deref())
                    .bind(email_norm.as_deref())
                    .bind(i64::from(update.phone.is_some()))
                    .bind(update.phone.as_deref())
                    .bind(phone_norm.as_deref()),
                )
                .await;
            match result {
                Ok(rows) => return one(rows, user_from_row)?.ok_or(StoreError::NotFound),
                Err(StoreError::Conflict(_)) => tokio::task::yield_now().await,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Backend("profile update kept conflicting with concurrent writes".into()))
    }

    async fn set_user_access(
        &self,
        id: &str,
        admin: Option<bool>,
        password_hash: Option<Option<String>>,
        now: Timestamp,
    ) -> StoreResult<User> {
        let rows = self
            .fetch(
                q(concat!(
                    "UPDATE users SET admin = COALESCE($2, admin), ",
                    "password_hash = CASE WHEN $3 = 1 THEN $4 ELSE password_hash END, updated_at = $5 ",
                    "WHERE id = $1 RETURNING ",
                    user_cols!()
                ))
                .bind(id)
                .bind(admin.map(i64::from))
                .bind(i64::from(password_hash.is_some()))
                .bind(password_hash.flatten())
                .bind(now),
            )
            .await?;
        one(rows, user_from_row)?.ok_or(StoreError::NotFound)
    }

    async fn set_user_disabled(&self, id: &str, disabled: bool, now: Timestamp) -> StoreResult<User> {
        let rows = self
            .fetch(
                q(concat!("UPDATE users SET disabled = $2, updated_at = $3 WHERE id = $1 RETURNING ", user_cols!()))
                    .bind(id)
                    .bind(i64::from(disabled))
                    .bind(now),
            )
            .await?;
        one(rows, user_from_row)?.ok_or(StoreError::NotFound)
    }

    async fn get_identity(&self, upstream: &str, subject: &str) -> StoreResult<Option<Identity>> {
        one(self.fetch(identity_by_key(upstream, subject)).await?, identity_from_row)
    }

    async fn get_identity_with_user(
        &self,
        upstream: &str,
        subject: &str,
    ) -> StoreResult<Option<(Identity, Option<User>)>> {
        let [identity, user] = self
            .in_order([
                identity_by_key(upstream, subject),
                q(user_with_id_of("SELECT user_id FROM identities WHERE upstream = $1 AND subject = $2"))
                    .bind(upstream)
                    .bind(subject),
            ])
            .await?;
        match one(identity, identity_from_row)? {
            Some(identity) => {
                // Two statements, two snapshots on PostgreSQL: the user must still be the identity's.
                let user = one(user, user_from_row)?.filter(|user| user.id == identity.user_id);
                Ok(Some((identity, user)))
            }
            None => Ok(None),
        }
    }

    async fn user_identities(&self, user_id: &str) -> StoreResult<Vec<Identity>> {
        let rows = self
            .fetch(
                q(concat!(
                    "SELECT ",
                    identity_cols!(),
                    " FROM identities WHERE user_id = $1 ORDER BY created_at, upstream, subject"
                ))
                .bind(user_id),
            )
            .await?;
        all(rows, identity_from_row)
    }

    async fn create_user_with_identity(&self, user: NewUser, identity: Identity) -> StoreResult<User> {
        let claims = to_json(&user.claims)?;
        let profile = to_json(&identity.profile)?;
        // The user insert comes first: a SQLite transaction that starts by writing never needs an upgrade.
        let statements = vec![
            bind_new_user(q(INSERT_USER), &user, claims),
            q(INSERT_IDENTITY)
                .bind(identity.upstream.as_str())
                .bind(identity.subject.as_str())
                .bind(user.id.as_str())
                .bind(identity.connection.as_str())
                .bind(profile)
                .bind(identity.created_at)
                .bind(identity.updated_at),
        ];
        self.transaction(statements, false).await?;
        Ok(user_of(user))
    }

    async fn link_identity(&self, identity: Identity) -> StoreResult<()> {
        // Unknown user: foreign key → NotFound; identity taken: primary key → Conflict("identity").
        self.exec(
            q(INSERT_IDENTITY)
                .bind(identity.upstream.as_str())
                .bind(identity.subject.as_str())
                .bind(identity.user_id.as_str())
                .bind(identity.connection.as_str())
                .bind(to_json(&identity.profile)?)
                .bind(identity.created_at)
                .bind(identity.updated_at),
        )
        .await
        .map(|_| ())
    }

    async fn rename_identity(
        &self,
        upstream: &str,
        subject: &str,
        new_subject: &str,
        now: Timestamp,
    ) -> StoreResult<()> {
        // The grants and sessions made with the old key follow it: a re-check asks WeCom by the new userid
        // (the old one is unknown there now, which would look like a departure).
        let follow = |table: &'static str| {
            q(format!("UPDATE {table} SET subject = $3 WHERE upstream = $1 AND subject = $2"))
                .bind(upstream)
                .bind(subject)
                .bind(new_subject)
        };
        let statements = vec![
            q("UPDATE identities SET subject = $3, updated_at = $4 WHERE upstream = $1 AND subject = $2")
                .bind(upstream)
                .bind(subject)
                .bind(new_subject)
                .bind(now),
            follow("grant_origins"),
            follow("sessions"),
        ];
        self.transaction(statements, true).await.map(|_| ())
    }

    async fn touch_identity(
        &self,
        upstream: &str,
        subject: &str,
        connection: &str,
        profile: Value,
        now: Timestamp,
    ) -> StoreResult<()> {
        let updated = self
            .exec(
                q(
                    "UPDATE identities SET connection = $3, profile = $4, updated_at = $5 WHERE upstream = $1 AND subject = $2",
                )
                .bind(upstream)
                .bind(subject)
                .bind(connection)
                .bind(to_json(&profile)?)
                .bind(now),
            )
            .await?;
        if updated == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    // --- password lockout

    async fn record_login_failure(&self, login: &str, now: Timestamp, window: i64) -> StoreResult<LoginFailures> {
        // One upsert: a row past its window starts over at 1, otherwise it counts up and keeps its window.
        let rows = self
            .fetch(
                q("INSERT INTO login_failures (login, failures, expires_at) VALUES ($1, 1, $2) \
                     ON CONFLICT (login) DO UPDATE SET \
                     failures = CASE WHEN login_failures.expires_at <= $3 THEN 1 ELSE login_failures.failures + 1 END, \
                     expires_at = CASE WHEN login_failures.expires_at <= $3 THEN excluded.expires_at \
                     ELSE login_failures.expires_at END \
                     RETURNING failures, expires_at")
                .bind(login)
                .bind(now + window)
                .bind(now),
            )
            .await?;
        one(rows, failures_from_row)?.ok_or_else(|| StoreError::Backend("upsert returned no row".into()))
    }

    async fn login_failures(&self, login: &str, now: Timestamp) -> StoreResult<Option<LoginFailures>> {
        let rows = self
            .fetch(
                q("SELECT failures, expires_at FROM login_failures WHERE login = $1 AND expires_at > $2")
                    .bind(login)
                    .bind(now),
            )
            .await?;
        one(rows, failures_from_row)
    }

    async fn clear_login_failures(&self, login: &str) -> StoreResult<()> {
        self.exec(q("DELETE FROM login_failures WHERE login = $1").bind(login)).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_phone_shaped_logins_match_phones() {
        assert_eq!(login_as_phone("+86 138-0013-8000").as_deref(), Some("13800138000"));
        assert_eq!(login_as_phone("user13800138000"), None);
        assert_eq!(login_as_phone("alice"), None);
    }
}
