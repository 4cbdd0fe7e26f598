//! Upgrades lose nothing: every database in `tests/fixtures/` was written by an earlier wegate
//! (`scripts/make-fixture.sh`, with data in every table a deployment fills); the current binary opens each,
//! migrates it, and everything in it is there and works — the app and its client secret, the connection and
//! its sealed secret, the user and their password, the WeCom identity, the refresh token, the signing key.
//! Add a fixture each time the schema changes.

use serde_json::{Value, json};

use crate::harness::*;

fn fixtures() -> Vec<(std::path::PathBuf, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let meta: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (p.with_extension("db"), meta)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Time goes on between a fixture's making and this test: what the old server issued is made to expire a day
/// from now, as if the upgrade came right after (every table's expiry columns, whatever the schema).
fn as_if_upgraded_now(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let now = wegate::util::unix_now();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for table in tables {
        let columns: Vec<String> = conn
            .prepare(&format!("PRAGMA table_info({table})"))
            .unwrap()
            .query_map([], |r| r.get::<_, String>(1))
            .unwrap()
            .map(Result::unwrap)
            .filter(|c| c.ends_with("expires_at") || c == "until")
            .collect();
        for column in columns {
            conn.execute(&format!("UPDATE {table} SET {column} = ?1 WHERE {column} IS NOT NULL"), [now + 86_400])
                .unwrap();
        }
    }
}

#[tokio::test]
async fn every_earlier_schema_migrates_with_nothing_lost() {
    let all = fixtures();
    assert!(!all.is_empty(), "no fixture in tests/fixtures");
    let current = wegate::store::sql::schema_version();
    // A schema change comes with a fixture of the schema it changes (made by the release before it).
    let newest = all.iter().filter_map(|(_, m)| m["schema"].as_i64()).max().unwrap();
    assert!(newest >= current - 1, "add a fixture of schema {} (scripts/make-fixture.sh)", current - 1);
    for (db, meta) in all {
        let schema = meta["schema"].as_i64().unwrap();
        assert!(schema <= current, "{} is newer than this binary", db.display());
        let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
        let copy = dir.path().join("upgraded.db");
        std::fs::copy(&db, &copy).unwrap();
        as_if_upgraded_now(&copy);
        let key: [u8; 32] = {
            use base64::Engine;
            let bytes =
                base64::engine::general_purpose::STANDARD.decode(meta["encryption_key"].as_str().unwrap()).unwrap();
            bytes.try_into().unwrap()
        };
        let sim = std::sync::Arc::new(simulator().await);
        let env =
            start_on_db(sim, dir.clone(), format!("sqlite://{}", copy.display()), |s| s.encryption_key = Some(key))
                .await;
        let label = db.file_name().unwrap().to_string_lossy().to_string();

        // Migrated to this binary's schema.
        let conn = rusqlite::Connection::open(&copy).unwrap();
        let at: i64 = conn.query_row("SELECT max(version) FROM _sqlx_migrations", [], |r| r.get(0)).unwrap();
        assert_eq!(at, current, "{label}");
        drop(conn);

        // The app and its association; two users; the member's identity.
        let client_id = meta["client_id"].as_str().unwrap();
        let client_secret = meta["client_secret"].as_str().unwrap();
        let (_, app) = env.admin(reqwest::Method::GET, &format!("/apps/{client_id}"), None).await;
        assert_eq!(app["connections"], json!(["wecom"]), "{label}: {app}");
        assert_eq!(env.user_count().await, 2, "{label}");
        let sub = meta["wecom_member_sub"].as_str().unwrap();
        let (_, member) = env.admin(reqwest::Method::GET, &format!("/users/{sub}"), None).await;
        assert_eq!(member["identities"][0]["upstream"], "wecom:wwdemo0000000001", "{label}: {member}");

        // The refresh token and the client secret work (and the refresh's membership re-check calls WeCom
        // with the connection's sealed secret).
        env.clock.advance(3_700);
        let (status, tokens) = token_call(
            &env.base,
            &[("grant_type", "refresh_token"), ("refresh_token", meta["refresh_token"].as_str().unwrap())],
            Some((client_id, client_secret)),
        )
        .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{label}: {tokens}");
        // Signed with the old signing key, whose sealed private key opened.
        let id_token = tokens["id_token"].as_str().unwrap();
        let header = id_token.split('.').next().unwrap();
        let header: Value = {
            use base64::Engine;
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
        };
        assert_eq!(header["kid"], meta["kid"], "{label}");
        assert!(env.sim_calls("/cgi-bin/user/get").await >= 1, "{label}: re-checked with the connection's secret");

        // The member signs in again as the same user; the password user with their password.
        let (client, _) = env.oidc_client(client_id, Some(client_secret), "https://app.example.com/cb").await;
        let req = auth_request(&client, &["openid"], &[("connection", "wecom")]);
        let answer = wecom_login(&browser(), &req.url, meta["wecom_member"].as_str().unwrap()).await;
        code_from_redirect(&answer, &req, &env.base);
        assert_eq!(env.user_count().await, 2, "{label}: the same member, the same user");
        let req = auth_request(&client, &["openid"], &[]);
        let user = &meta["user"];
        let back =
            password_login(&browser(), &req.url, user["login"].as_str().unwrap(), user["password"].as_str().unwrap())
                .await;
        code_from_redirect(&back, &req, &env.base);
    }
}
