//! Running wegate for real (CONTRACT.md, "Operations"): what the binary tells an operator.

use tokio::io::AsyncReadExt;

use crate::harness::*;

#[tokio::test]
async fn serve_help_lists_every_setting_with_its_default() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wegate")).args(["serve", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for (key, default, _) in wegate::config::SETTINGS {
        let name = format!("WEGATE_{}", key.to_uppercase());
        assert!(help.contains(&name), "{name} in serve --help");
        assert!(help.contains(&format!("default: {default}")), "{name}'s default {default}");
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn logs_to_a_pipe_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_wegate"))
        .arg("serve")
        .env("WEGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("WEGATE_DATABASE_URL", format!("sqlite://{}", dir.path().join("w.db").display()))
        .env("WEGATE_LOG_LEVEL", "info")
        .env_remove("NO_COLOR")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..200 {
        if reqwest::get(format!("{base}/readyz")).await.is_ok_and(|r| r.status().is_success()) {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ready, "wegate serves");
    child.kill().await.unwrap();
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).await.unwrap();
    assert!(out.contains("wegate is serving"), "{out}");
    assert!(!out.contains('\u{1b}'), "no escape codes in a pipe: {out:?}");
}

#[tokio::test]
async fn the_demo_names_its_console_and_how_to_enter() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_wegate"))
        .args(["demo", "--database"])
        .arg(dir.path().join("demo.db"))
        .env("WEGATE_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut out = String::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while !out.contains("Ctrl-C") && tokio::time::Instant::now() < deadline {
        let n = tokio::time::timeout_at(deadline, stdout.read(&mut buf)).await.unwrap().unwrap();
        if n == 0 {
            break;
        }
        out.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    child.kill().await.unwrap();
    let console = out.lines().find(|l| l.contains("Admin console")).unwrap_or_else(|| panic!("{out}"));
    assert!(console.contains(&format!("http://127.0.0.1:{port}/console")), "{console}");
    // The token printed is the one the console takes.
    let token = console.rsplit(' ').next().unwrap().trim_end_matches(')');
    let api = out.lines().find(|l| l.contains("Admin API")).unwrap();
    assert!(api.contains(token) && token.len() >= 16, "{api}");
}

/// `wegate check-config` with these settings: (exit status, output).
fn check_config(envs: &[(&str, &str)]) -> (i32, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_wegate"));
    command.arg("check-config");
    for var in ["WEGATE_ADMIN_TOKEN", "WEGATE_ENCRYPTION_KEY", "WEGATE_ISSUER", "WEGATE_DATABASE_URL"] {
        command.env_remove(var);
    }
    let out = command.envs(envs.iter().copied()).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn check_config_says_what_serve_would_meet_one_finding_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("w.db").display());
    let key_a = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let key_b = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
    // A fresh machine: the file is created at start.
    let (status, out) = check_config(&[("WEGATE_DATABASE_URL", &db), ("WEGATE_ADMIN_TOKEN", ADMIN)]);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("ok: database:") && out.contains("does not exist yet"), "{out}");
    assert!(out.contains("warning: encryption_key: not set"), "{out}");
    // A server ran on it with a connection whose matching can never work.
    let sim = simulator().await;
    let server = spawn_process_with(&sim, &db, &[("WEGATE_ENCRYPTION_KEY", key_a)]).await;
    let env = Env::remote(&server.base, std::sync::Arc::new(sim));
    let seed = wecom_sim::Seed::demo();
    let (corp, app) = (&seed.corps[0], &seed.corps[0].apps[0]);
    env.post(
        "/connections",
        serde_json::json!({"identifier": "qr", "display_name": "QR", "kind": "wecom_qrcode", "corp_id": corp.corp_id,
            "agent_id": app.agent_id.to_string(), "secret": app.secret,
            "association": {"mode": "match", "fields": ["email"]}}),
    )
    .await;
    // While it holds the file (exclusive locking, the default), serve could not start beside it.
    let (status, out) = check_config(&[("WEGATE_DATABASE_URL", &db), ("WEGATE_ENCRYPTION_KEY", key_a)]);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("error: database:") && out.contains("in use"), "{out}");
    drop(server);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (status, out) = check_config(&[("WEGATE_DATABASE_URL", &db), ("WEGATE_ENCRYPTION_KEY", key_a)]);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("this binary's"), "{out}");
    assert!(out.contains("warning: connection qr: association matches on email"), "{out}");
    assert!(out.lines().all(|l| l.starts_with("ok: ") || l.starts_with("warning: ")), "one finding a line: {out}");
    // The wrong key cannot open the sealed secrets: serve would start and fail every sign-in.
    let (status, out) = check_config(&[("WEGATE_DATABASE_URL", &db), ("WEGATE_ENCRYPTION_KEY", key_b)]);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("error: connections: cannot be read"), "{out}");
    // Settings serve would refuse, or run badly with.
    let (status, out) = check_config(&[("WEGATE_DATABASE_URL", &db), ("WEGATE_ISSUER", "sso.example.com")]);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("error: settings: setting issuer"), "{out}");
    let (status, out) = check_config(&[("WEGATE_DATABASE_URL", &db), ("WEGATE_ISSUER", "http://sso.example.com")]);
    assert!(out.contains("warning: issuer:") && out.contains("plain http"), "{status} {out}");
    let (status, out) = check_config(&[("WEGATE_ADMIN_TOKEN", "short")]);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("error: settings:") && out.contains("admin_token"), "{out}");
    // A database a newer wegate wrote.
    let path = dir.path().join("w.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
         VALUES (999, 'future', CURRENT_TIMESTAMP, 1, x'00', 0)",
        [],
    )
    .unwrap();
    drop(conn);
    let (status, out) = check_config(&[("WEGATE_DATABASE_URL", &db)]);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("newer wegate"), "{out}");

    // A key given to a database written without one: serve seals what is there at start, so no error.
    let plain_dir = tempfile::tempdir().unwrap();
    let plain = format!("sqlite://{}", plain_dir.path().join("p.db").display());
    let sim = simulator().await;
    let server = spawn_process(&sim, &plain).await;
    drop(server);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (status, out) = check_config(&[("WEGATE_DATABASE_URL", &plain), ("WEGATE_ENCRYPTION_KEY", key_a)]);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("serve seals them with this key at start") && out.contains("ok: signing keys"), "{out}");
}

#[tokio::test]
async fn a_backup_taken_while_serving_serves_the_same_apps_users_and_sealed_secrets() {
    let sim = std::sync::Arc::new(simulator().await);
    let env = start_with(sim.clone(), |s| s.encryption_key = Some([7u8; 32])).await;
    env.corp_connection("wecom", "wecom_qrcode", serde_json::json!({})).await;
    let (client_id, secret) = env.app("web", "https://app.example.com/cb").await;
    env.associate(&client_id, "wecom").await;
    env.post("/users", serde_json::json!({"username": "zoe", "password": "zoe-long-password"})).await;
    // Signed in once, so that identities and grants are in the copy too.
    let (client, _) = env.oidc_client(&client_id, secret.as_deref(), "https://app.example.com/cb").await;
    let req = auth_request(&client, &["openid"], &[("connection", "wecom")]);
    let answer = wecom_login(&browser(), &req.url, "ZhangSan").await;
    code_from_redirect(&answer, &req, &env.base);

    let response = env.http.get(format!("{}/api/v1/backup", env.base)).bearer_auth(ADMIN).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/vnd.sqlite3");
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with(b"SQLite format 3\0"), "a SQLite file");
    // Only an admin gets it.
    let anonymous = env.http.get(format!("{}/api/v1/backup", env.base)).send().await.unwrap();
    assert_eq!(anonymous.status(), reqwest::StatusCode::UNAUTHORIZED);
    // Audited, with who took it; nothing left beside the database.
    let (_, audit) = env.admin(reqwest::Method::GET, "/audit?limit=5", None).await;
    let taken = audit["items"].as_array().unwrap().iter().find(|e| e["event"] == "backup.taken").unwrap().clone();
    assert_eq!(taken["actor"], "api");
    let leftovers: Vec<_> = std::fs::read_dir(env._dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("backup"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A copy a crash left behind an hour ago goes at the next start; a younger one (another process's backup
    // under way, on a shared file) stays.
    let crashed = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let stale = crashed.path().join(".wegate-backup-crashed.db");
    let young = crashed.path().join(".wegate-backup-running.db");
    std::fs::write(&stale, b"x").unwrap();
    std::fs::write(&young, b"x").unwrap();
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options().write(true).open(&stale).unwrap().set_modified(two_hours_ago).unwrap();
    let url = format!("sqlite://{}", crashed.path().join("w.db").display());
    let _restarted = start_on_db(sim.clone(), crashed.clone(), url, |_| {}).await;
    assert!(!stale.exists() && young.exists());

    // A server started on the copy (same key) has everything, and the sealed WeCom secret still works.
    let copy_dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let copy_path = copy_dir.path().join("copy.db");
    std::fs::write(&copy_path, &bytes).unwrap();
    let copy =
        start_on_db(sim, copy_dir, format!("sqlite://{}", copy_path.display()), |s| s.encryption_key = Some([7u8; 32]))
            .await;
    let (_, apps) = copy.admin(reqwest::Method::GET, &format!("/apps/{client_id}"), None).await;
    assert_eq!(apps["connections"], serde_json::json!(["wecom"]));
    assert_eq!(copy.user_count().await, 2, "zoe and the WeCom member");
    let (client, http) = copy.oidc_client(&client_id, secret.as_deref(), "https://app.example.com/cb").await;
    let req = auth_request(&client, &["openid"], &[("connection", "wecom")]);
    let answer = wecom_login(&browser(), &req.url, "ZhangSan").await;
    let code = code_from_redirect(&answer, &req, &copy.base);
    exchange(&client, &http, code, req.verifier).await;
    assert_eq!(copy.user_count().await, 2, "the same member, the same user");
    let zoe =
        password_login(&browser(), &auth_request(&client, &["openid"], &[]).url, "zoe", "zoe-long-password").await;
    assert_eq!(zoe.status(), reqwest::StatusCode::SEE_OTHER, "zoe's password hash came along");
}

#[tokio::test]
async fn postgres_backups_are_postgresqls_own() {
    let Some(admin_url) = std::env::var("WEGATE_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("skipped: WEGATE_TEST_POSTGRES_URL is not set");
        return;
    };
    let db_url = crate::scale::create_database(&admin_url).await;
    let sim = simulator().await;
    let server = spawn_process(&sim, &db_url).await;
    let response =
        reqwest::Client::new().get(format!("{}/api/v1/backup", server.base)).bearer_auth(ADMIN).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::CONFLICT);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "conflict");
    assert!(body["message"].as_str().unwrap().contains("pg_dump"));
}

#[test]
fn the_packaged_settings_file_names_every_setting_and_parses() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../packaging/wegate.toml");
    let text = std::fs::read_to_string(path).unwrap();
    for (key, _, _) in wegate::config::SETTINGS {
        assert!(text.contains(&format!("# {key} = ")) || text.contains(&format!("\n{key} = ")), "{key} in wegate.toml");
    }
    let table: toml::Table = text.parse().unwrap();
    let settings = wegate::config::Settings::from_sources(Some(table), |_| None).unwrap();
    assert_eq!(settings.database_url, "sqlite:///var/lib/wegate/wegate.db");
    // Its database is where the unit's StateDirectory and WorkingDirectory are.
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../packaging/wegate.service")).unwrap();
    assert!(unit.contains("StateDirectory=wegate") && unit.contains("--config /etc/wegate/wegate.toml"));
}

/// The value of the sample whose line starts with `series` (name and labels as encoded), if any.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find(|l| l.starts_with(series))?.rsplit(' ').next()?.parse().ok()
}

#[tokio::test]
async fn upstream_calls_failures_latency_and_tokens_are_in_metrics_and_the_dashboard_reads_them() {
    let env = start().await;
    env.corp_connection("wecom", "wecom_qrcode", serde_json::json!({})).await;
    let (client_id, secret) = env.app("web", "https://app.example.com/cb").await;
    env.associate(&client_id, "wecom").await;
    let (client, _) = env.oidc_client(&client_id, secret.as_deref(), "https://app.example.com/cb").await;
    for _ in 0..2 {
        let req = auth_request(&client, &["openid"], &[("connection", "wecom")]);
        let answer = wecom_login(&browser(), &req.url, "ZhangSan").await;
        code_from_redirect(&answer, &req, &env.base);
    }
    // A failing call: WeCom answers an errcode.
    env.sim_fault(serde_json::json!({"path": "/cgi-bin/user/get", "kind": "errcode", "errcode": 60011})).await;
    let req = auth_request(&client, &["openid"], &[("connection", "wecom")]);
    let refused = wecom_login(&browser(), &req.url, "ZhangSan").await;
    assert_eq!(refused.status(), reqwest::StatusCode::FORBIDDEN);

    let metrics = env.http.get(format!("{}/metrics", env.base)).send().await.unwrap().text().await.unwrap();
    let calls =
        |api: &str| sample(&metrics, &format!("wegate_upstream_calls_total{{provider=\"wecom\",api=\"{api}\"}}"));
    assert_eq!(calls("gettoken"), Some(1.0), "one token for three sign-ins: {metrics}");
    assert_eq!(calls("auth/getuserinfo"), Some(3.0));
    assert_eq!(calls("user/get"), Some(3.0));
    assert_eq!(
        sample(&metrics, "wegate_upstream_failures_total{provider=\"wecom\",api=\"user/get\",code=\"60011\"}"),
        Some(1.0)
    );
    assert_eq!(sample(&metrics, "wegate_upstream_token_fetches_total{provider=\"wecom\"}"), Some(1.0));
    let hits = sample(&metrics, "wegate_upstream_token_hits_total{provider=\"wecom\",source=\"local\"}").unwrap();
    assert!(hits >= 5.0, "the other calls used the cached token: {hits}");
    assert_eq!(
        sample(&metrics, "wegate_upstream_call_duration_seconds_count{provider=\"wecom\",api=\"user/get\"}"),
        Some(3.0)
    );

    // Every series the dashboard queries is one wegate serves.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../packaging/grafana-dashboard.json");
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 8);
    for target in panels.iter().flat_map(|p| p["targets"].as_array().unwrap()) {
        let expr = target["expr"].as_str().unwrap();
        for name in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("wegate_"))
        {
            assert!(metrics.lines().any(|l| l.starts_with(name)), "{name} (in {expr}) is not served");
        }
    }
}

fn kid_of(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_string()
}

async fn jwks_kids(base: &str) -> Vec<String> {
    let jwks: serde_json::Value = reqwest::get(format!("{base}/jwks")).await.unwrap().json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect()
}

/// A password sign-in at `env` → (ID token, access token).
async fn tokens_at(env: &Env, client_id: &str, secret: &str) -> (String, String) {
    let redirect = "https://app.example.com/cb";
    let (client, _) = env.oidc_client(client_id, Some(secret), redirect).await;
    let req = auth_request(&client, &["openid"], &[]);
    let back = password_login(&browser(), &req.url, "zoe", "zoe-long-password").await;
    let code = code_from_redirect(&back, &req, &env.base);
    let (status, body) = token_call(
        &env.base,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", req.verifier.secret()),
        ],
        Some((client_id, secret)),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    (body["id_token"].as_str().unwrap().to_string(), body["access_token"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn a_rotated_key_is_published_at_once_signs_after_the_delay_and_the_old_one_verifies_until_its_tokens_expire() {
    let env = start().await;
    let (client_id, secret) = env.app("web", "https://app.example.com/cb").await;
    let secret = secret.unwrap();
    env.post("/users", serde_json::json!({"username": "zoe", "password": "zoe-long-password"})).await;
    let first = jwks_kids(&env.base).await;
    assert_eq!(first.len(), 1);
    let (id_before, access_before) = tokens_at(&env, &client_id, &secret).await;
    assert_eq!(kid_of(&id_before), first[0]);

    let (status, keys) = env.admin(reqwest::Method::POST, "/keys/rotate", None).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{keys}");
    let next = keys["items"].as_array().unwrap().iter().find(|k| k["state"] == "next").unwrap().clone();
    let next_kid = next["kid"].as_str().unwrap().to_string();
    // Published at once, on this instance; still not signing.
    let published = jwks_kids(&env.base).await;
    assert!(published.contains(&next_kid) && published.contains(&first[0]), "{published:?}");
    let (id_during, _) = tokens_at(&env, &client_id, &secret).await;
    assert_eq!(kid_of(&id_during), first[0], "signs only after WEGATE_KEY_PUBLISH_DELAY");
    // Just before the delay (1 h by default) ends, the old key still signs; after it, the new key signs, and
    // the old key's tokens still work.
    env.clock.advance(3_590);
    let (id_last, access_last) = tokens_at(&env, &client_id, &secret).await;
    assert_eq!(kid_of(&id_last), first[0]);
    env.clock.advance(10);
    let (id_after, access_after) = tokens_at(&env, &client_id, &secret).await;
    assert_eq!(kid_of(&id_after), next_kid);
    assert_eq!(kid_of(&access_after), next_kid);
    let userinfo = |token: String| {
        let base = env.base.clone();
        async move {
            reqwest::Client::new().get(format!("{base}/userinfo")).bearer_auth(token).send().await.unwrap().status()
        }
    };
    assert_eq!(userinfo(access_last).await, reqwest::StatusCode::OK, "a retiring key verifies");
    assert_eq!(userinfo(access_after).await, reqwest::StatusCode::OK);
    let _ = access_before;
    let (_, listed) = env.admin(reqwest::Method::GET, "/keys", None).await;
    let state =
        |kid: &str| listed["items"].as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap()["state"].clone();
    assert_eq!(state(&first[0]), "retiring");
    assert_eq!(state(&next_kid), "signing");
    // Once every token it signed has expired (1 h + 1 min), the old key is retired and leaves the JWKS.
    env.clock.advance(3_661);
    let (_, listed) = env.admin(reqwest::Method::GET, "/keys", None).await;
    let state =
        |kid: &str| listed["items"].as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap()["state"].clone();
    assert_eq!(state(&first[0]), "retired");
    // A rotation --now signs at once (and reads the keys again here: the retired one is gone).
    let (status, keys) = env.admin(reqwest::Method::POST, "/keys/rotate", Some(serde_json::json!({"now": true}))).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{keys}");
    let newest = keys["items"].as_array().unwrap().iter().find(|k| k["state"] == "signing").unwrap()["kid"].clone();
    let published = jwks_kids(&env.base).await;
    assert!(!published.contains(&first[0]), "{published:?}");
    let (id_now, _) = tokens_at(&env, &client_id, &secret).await;
    assert_eq!(serde_json::json!(kid_of(&id_now)), newest);
    // A person signing out with an ID token of the retired key is still recognised (no "bad hint" page).
    let logout = browser().get(format!("{}/logout?id_token_hint={id_before}", env.base)).send().await.unwrap();
    assert_ne!(logout.status(), reqwest::StatusCode::BAD_REQUEST, "{}", logout.text().await.unwrap_or_default());
    let (_, audit) = env.admin(reqwest::Method::GET, "/audit?limit=20", None).await;
    assert!(audit["items"].as_array().unwrap().iter().any(|e| e["event"] == "keys.rotated" && e["actor"] == "api"));
}

#[tokio::test]
async fn wegate_keys_rotate_works_beside_a_server_that_holds_its_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("w.db").display());
    let sim = simulator().await;
    let server = spawn_process(&sim, &db).await;
    let listen = server.base.trim_start_matches("http://").to_string();
    let before = jwks_kids(&server.base).await;
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_wegate"))
            .arg("keys")
            .args(args)
            .env("WEGATE_DATABASE_URL", &db)
            .env("WEGATE_LISTEN", &listen)
            .env("WEGATE_ADMIN_TOKEN", ADMIN)
            .output()
            .unwrap()
    };
    let out = cli(&["rotate"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let after = jwks_kids(&server.base).await;
    assert_eq!(after.len(), before.len() + 1, "the serving process publishes it at once: {after:?}");
    let listed = String::from_utf8(cli(&["list"]).stdout).unwrap();
    assert!(listed.contains("signing") && listed.contains("next"), "{listed}");
    assert!(listed.lines().count() >= 3, "a header and a line a key: {listed}");
}

/// PostgreSQL, two instances: `wegate keys rotate --now` changes the database; both switch within a minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_every_instance_switches_to_a_key_rotated_now_within_a_minute() {
    let Some(admin_url) = std::env::var("WEGATE_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("skipped: WEGATE_TEST_POSTGRES_URL is not set");
        return;
    };
    let db_url = crate::scale::create_database(&admin_url).await;
    let sim = std::sync::Arc::new(simulator().await);
    let first = spawn_process(&sim, &db_url).await;
    let second = spawn_process_with(&sim, &db_url, &[("WEGATE_ISSUER", first.base.as_str())]).await;
    let a = Env::remote(&first.base, sim.clone());
    let (client_id, secret) = a.app("web", "https://app.example.com/cb").await;
    let secret = secret.unwrap();
    a.post("/users", serde_json::json!({"username": "zoe", "password": "zoe-long-password"})).await;
    let old = jwks_kids(&first.base).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wegate"))
        .args(["keys", "rotate", "--now"])
        .env("WEGATE_DATABASE_URL", &db_url)
        .env_remove("WEGATE_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = String::from_utf8(out.stdout).unwrap();
    let new_kid = listed
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .find(|kid| !old.iter().any(|o| o == kid))
        .unwrap_or_else(|| panic!("{listed}"))
        .to_string();
    // Both instances: the new key published and signing within a minute (they read the keys every 20 s).
    for base in [&first.base, &second.base] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let published = jwks_kids(base).await;
            let signing =
                published.contains(&new_kid) && kid_of(&raw_id_token(base, &client_id, &secret).await) == new_kid;
            if signing {
                assert!(published.contains(&old[0]), "the old key stays published while its tokens live");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{base} did not switch to {new_kid} within a minute");
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
}

/// A password sign-in by hand (an instance whose issuer is another's fails a discovering client's check).
async fn raw_id_token(base: &str, client_id: &str, secret: &str) -> String {
    let redirect = "https://app.example.com/cb";
    let (challenge, verifier) = openidconnect::PkceCodeChallenge::new_random_sha256();
    let mut url = url::Url::parse(&format!("{base}/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("state", "s")
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    let back = password_login(&browser(), url.as_str(), "zoe", "zoe-long-password").await;
    let code = query_param(&location(&back), "code").unwrap();
    let (status, body) = token_call(
        base,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier.secret()),
        ],
        Some((client_id, secret)),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    body["id_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn with_es256_access_tokens_a_rotation_renews_both_keys() {
    let env = start_with(std::sync::Arc::new(simulator().await), |s| s.access_token_alg = "ES256".into()).await;
    let (client_id, secret) = env.app("web", "https://app.example.com/cb").await;
    let secret = secret.unwrap();
    env.post("/users", serde_json::json!({"username": "zoe", "password": "zoe-long-password"})).await;
    let (id_before, access_before) = tokens_at(&env, &client_id, &secret).await;
    // (A key rotated within the second its predecessor started signs from the next second: not this case.)
    env.clock.advance(2);
    let (status, keys) = env.admin(reqwest::Method::POST, "/keys/rotate", Some(serde_json::json!({"now": true}))).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{keys}");
    let signing: Vec<(String, String)> = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["state"] == "signing")
        .map(|k| (k["alg"].as_str().unwrap().to_string(), k["kid"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(signing.len(), 2, "one signing key per algorithm: {keys}");
    let (id_after, access_after) = tokens_at(&env, &client_id, &secret).await;
    for (alg, kid) in &signing {
        let token = if alg == "ES256" { &access_after } else { &id_after };
        assert_eq!(&kid_of(token), kid, "{alg}");
    }
    assert_ne!(kid_of(&id_before), kid_of(&id_after));
    assert_ne!(kid_of(&access_before), kid_of(&access_after));
    // The old ES256 key's access token still works while it lives.
    let status = reqwest::Client::new()
        .get(format!("{}/userinfo", env.base))
        .bearer_auth(access_before)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, reqwest::StatusCode::OK);
}
