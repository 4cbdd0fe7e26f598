//! [`KeyStore`] on SQL: one row per key; an active key holds its algorithm's unique `slot`.

use super::db::{Row, q};
use async_trait::async_trait;

use super::{SqlStore, all, col, json_col, one, to_json};
use crate::store::{KeyStore, SigningKey, StoreError, StoreResult};

macro_rules! signing_key_cols {
    () => {
        "kid, alg, private_pem, public_jwk, created_at, retired_at, activates_at"
    };
}

fn signing_key_from_row(row: &Row, sealer: &crate::store::seal::Sealer) -> StoreResult<SigningKey> {
    Ok(SigningKey {
        private_pem: {
            let kid: String = col(row, "kid")?;
            sealer.open(col(row, "private_pem")?, &format!("signing_keys.private_pem|{kid}"))?
        },
        kid: col(row, "kid")?,
        alg: col(row, "alg")?,
        public_jwk: json_col(row, "public_jwk")?,
        created_at: col(row, "created_at")?,
        retired_at: col(row, "retired_at")?,
        activates_at: col(row, "activates_at")?,
    })
}

/// The unique slot of an algorithm's active key: `active` for RS256 (as the first schema had it).
fn active_slot(alg: &str) -> String {
    if alg == "RS256" { "active".to_string() } else { format!("active:{alg}") }
}

#[async_trait]
impl KeyStore for SqlStore {
    async fn ensure_active_signing_key(&self, candidate: SigningKey) -> StoreResult<SigningKey> {
        let jwk = to_json(&candidate.public_jwk)?;
        // Whoever inserts first owns the algorithm's slot ('active' for RS256, 'active:<alg>' for others);
        // everyone else's insert does nothing.
        let slot = active_slot(&candidate.alg);
        self.exec(
            q(concat!(
                "INSERT INTO signing_keys (",
                signing_key_cols!(),
                ", slot) VALUES ($1, $2, $3, $4, $5, NULL, NULL, $6) ON CONFLICT (slot) DO NOTHING"
            ))
            .bind(candidate.kid.as_str())
            .bind(candidate.alg.as_str())
            .bind(self.sealer.seal(&candidate.private_pem, &format!("signing_keys.private_pem|{}", candidate.kid))?)
            .bind(jwk)
            .bind(candidate.created_at)
            .bind(slot.as_str()),
        )
        .await?;
        let rows = self
            .fetch(q(concat!("SELECT ", signing_key_cols!(), " FROM signing_keys WHERE slot = $1")).bind(slot.as_str()))
            .await?;
        one(rows, |r| signing_key_from_row(r, &self.sealer))?
            .ok_or_else(|| StoreError::Backend("no active signing key after insert".into()))
    }

    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKey>> {
        let rows = self
            .fetch(q(concat!(
                "SELECT ",
                signing_key_cols!(),
                " FROM signing_keys ORDER BY CASE WHEN slot IS NOT NULL THEN 0 ELSE 1 END, created_at DESC, kid DESC"
            )))
            .await?;
        all(rows, |r| signing_key_from_row(r, &self.sealer))
    }

    async fn add_next_signing_key(&self, candidate: SigningKey, now: i64) -> StoreResult<Option<SigningKey>> {
        let slot = format!("next:{}", candidate.alg);
        let jwk = to_json(&candidate.public_jwk)?;
        let sealed =
            self.sealer.seal(&candidate.private_pem, &format!("signing_keys.private_pem|{}", candidate.kid))?;
        // A next key that started signing gives its slot up; then the insert wins the slot or finds it taken.
        let inserted = self
            .transaction(
                vec![
                    q("UPDATE signing_keys SET slot = NULL WHERE slot = $1 AND activates_at <= $2")
                        .bind(slot.as_str())
                        .bind(now),
                    q(concat!(
                        "INSERT INTO signing_keys (",
                        signing_key_cols!(),
                        ", slot) VALUES ($1, $2, $3, $4, $5, NULL, $6, $7) ON CONFLICT (slot) DO NOTHING RETURNING kid"
                    ))
                    .bind(candidate.kid.as_str())
                    .bind(candidate.alg.as_str())
                    .bind(sealed)
                    .bind(jwk)
                    .bind(candidate.created_at)
                    .bind(candidate.signs_from())
                    .bind(slot.as_str()),
                ],
                false,
            )
            .await?;
        if inserted.last().is_none_or(Vec::is_empty) {
            return Ok(None);
        }
        Ok(Some(SigningKey { activates_at: Some(candidate.signs_from()), ..candidate }))
    }

    async fn activate_signing_key(&self, kid: &str, now: i64) -> StoreResult<bool> {
        let changed = self
            .exec(
                q("UPDATE signing_keys SET activates_at = $2 WHERE kid = $1 AND activates_at > $2").bind(kid).bind(now),
            )
            .await?;
        Ok(changed > 0)
    }
}
