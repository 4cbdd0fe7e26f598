//! The admin API of CONTRACT.md: shapes, validation, errors, secrets never returned.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;

#[tokio::test]
async fn every_call_needs_the_admin_token() {
    let env = start().await;
    let http = reqwest::Client::new();
    for (method, path) in
        [(Method::GET, "/apps"), (Method::POST, "/connections"), (Method::GET, "/users/x"), (Method::GET, "/audit")]
    {
        let response = http.request(method.clone(), format!("{}/api/v1{path}", env.base)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized");
        assert!(body["message"].as_str().unwrap().contains("WEGATE_ADMIN_TOKEN"));
        let wrong = http
            .request(method, format!("{}/api/v1{path}", env.base))
            .bearer_auth("wrong-token-0123456789")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    // The OpenAPI document is public and lists the endpoints.
    let doc: Value = http.get(format!("{}/api/v1/openapi.json", env.base)).send().await.unwrap().json().await.unwrap();
    assert!(doc["paths"]["/api/v1/connections"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/apps/{client_id}/connections/{identifier}"]["put"].is_object());
    assert!(doc["components"]["schemas"]["ConnectionBody"].is_object());
}

#[tokio::test]
async fn apps_are_created_listed_patched_and_deleted() {
    let env = start().await;
    let web = env
        .post("/apps", json!({"name": "Portal", "kind": "web", "redirect_uris": ["https://portal.example.com/cb"]}))
        .await;
    assert!(web["client_secret"].as_str().is_some_and(|s| s.len() >= 32), "web apps get a secret once");
    let spa =
        env.post("/apps", json!({"name": "SPA", "kind": "spa", "redirect_uris": ["http://localhost:3000/cb"]})).await;
    assert!(spa.get("client_secret").is_none(), "public clients have no secret");
    let id = web["client_id"].as_str().unwrap();
    let (status, got) = env.admin(Method::GET, &format!("/apps/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(got.get("client_secret").is_none(), "the secret is never shown again");
    let (_, list) = env.admin(Method::GET, "/apps?limit=1", None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let cursor = list["next"].as_str().expect("a next cursor").to_string();
    let (_, rest) = env.admin(Method::GET, &format!("/apps?limit=1&cursor={cursor}"), None).await;
    assert_eq!(rest["items"][0]["client_id"], spa["client_id"]);
    let (status, patched) = env.admin(Method::PATCH, &format!("/apps/{id}"), Some(json!({"name": "Portal 2"}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["name"], "Portal 2");
    let (status, _) = env.admin(Method::DELETE, &format!("/apps/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, gone) = env.admin(Method::GET, &format!("/apps/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(gone["error"], "not_found");
}

#[tokio::test]
async fn bad_input_is_a_clear_4xx_and_changes_nothing() {
    let env = start().await;
    let http = reqwest::Client::new();
    let malformed = http
        .post(format!("{}/api/v1/connections", env.base))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let body: Value = malformed.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert!(body["message"].is_string());

    let cases = [
        (json!({"identifier": "ok-id", "display_name": "X", "kind": "wecom_teleport"}), "kind"),
        (
            json!({"identifier": "Bad_ID", "display_name": "X", "kind": "wecom_qrcode", "corp_id": "ww1", "agent_id": "1", "secret": "s"}),
            "identifier",
        ),
        (
            json!({"identifier": "a".repeat(32), "display_name": "X", "kind": "wecom_qrcode", "corp_id": "ww1", "agent_id": "1", "secret": "s"}),
            "identifier",
        ),
        (
            json!({"identifier": "no-secret", "display_name": "X", "kind": "wecom_qrcode", "corp_id": "ww1", "agent_id": "1"}),
            "secret",
        ),
        (
            json!({"identifier": "bad-agent", "display_name": "X", "kind": "wecom_qrcode", "corp_id": "ww1", "agent_id": "abc", "secret": "s"}),
            "agent_id",
        ),
        (
            json!({"identifier": "bad-key", "display_name": "X", "kind": "wecom_delegated", "token": "t", "encoding_aes_key": "short", "template_id": "dk1", "template_secret": "s"}),
            "43",
        ),
        (
            json!({"identifier": "bad-scope", "display_name": "X", "kind": "wecom_web", "corp_id": "ww1", "agent_id": "1", "secret": "s", "scope": "snsapi_all"}),
            "scope",
        ),
        (
            json!({"identifier": "unknown-field", "display_name": "X", "kind": "wecom_qrcode", "corp_id": "ww1", "agent_id": "1", "secret": "s", "colour": "red"}),
            "colour",
        ),
        (
            json!({"identifier": "bad-assoc", "display_name": "X", "kind": "wecom_qrcode", "corp_id": "ww1", "agent_id": "1", "secret": "s", "association": {"mode": "match", "fields": []}}),
            "fields",
        ),
    ];
    for (body, mentions) in cases {
        let (status, answer) = env.admin(Method::POST, "/connections", Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer["error"], "invalid_request");
        assert!(answer["message"].as_str().unwrap().contains(mentions), "{answer} should mention {mentions}");
    }
    let (_, list) = env.admin(Method::GET, "/connections", None).await;
    assert_eq!(list["items"], json!([]), "nothing was stored");

    let good = json!({"identifier": "wecom", "display_name": "WeCom", "kind": "wecom_qrcode", "corp_id": "ww1", "agent_id": "1000002", "secret": "s3cret"});
    env.post("/connections", good.clone()).await;
    let (status, dup) = env.admin(Method::POST, "/connections", Some(good)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(dup["error"], "conflict");
    let (status, _) = env.admin(Method::PATCH, "/connections/wecom", Some(json!({"identifier": "renamed"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "identifiers never change");
    let (status, _) = env.admin(Method::POST, "/users", Some(json!({"name": "No identifier"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn secrets_are_never_returned() {
    let env = start().await;
    let created = env
        .post(
            "/connections",
            json!({
                "identifier": "deleg", "display_name": "Delegated", "kind": "wecom_delegated",
                "token": "tokenValue123", "encoding_aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
                "template_id": "dkabc", "template_secret": "templateSecretValue"
            }),
        )
        .await;
    let text = created.to_string();
    for secret in ["tokenValue123", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "templateSecretValue"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert_eq!(created["secrets_set"]["template_secret"], true);
    assert_eq!(created["event_url"], format!("{}/connections/deleg/events", env.base));
    // PATCH without secrets keeps them.
    let (status, patched) =
        env.admin(Method::PATCH, "/connections/deleg", Some(json!({"display_name": "Renamed"}))).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["secrets_set"]["token"], true);
    let (_, listed) = env.admin(Method::GET, "/connections", None).await;
    assert!(!listed.to_string().contains("templateSecretValue"));
}

#[tokio::test]
async fn users_show_their_identities_and_conflicts_are_409() {
    let env = start().await;
    let user =
        env.post("/users", json!({"username": "bob", "email": "Bob@Example.com", "password": "long enough"})).await;
    assert_eq!(user["identities"], json!([]));
    assert_eq!(user["has_password"], true);
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());
    let (status, dup) = env.admin(Method::POST, "/users", Some(json!({"email": "bob@example.com"}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "emails are unique case-insensitively: {dup}");
    let id = user["id"].as_str().unwrap();
    let (status, _) = env.admin(Method::DELETE, &format!("/users/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn with_an_encryption_key_secrets_are_sealed_in_the_database() {
    let env = start_with(std::sync::Arc::new(simulator().await), |s| {
        share_the_file(s);
        s.encryption_key = Some([9u8; 32]);
    })
    .await;
    let seed = wecom_sim::Seed::demo();
    let app = &seed.corps[0].apps[0];
    env.corp_connection("wecom", "wecom_qrcode", json!({})).await;
    let (client_id, _) = env.app("web", "https://app.example.com/cb").await;
    env.associate(&client_id, "wecom").await;
    // The database files never hold the secret in the clear ...
    let mut raw = Vec::new();
    for suffix in ["", "-wal"] {
        if let Ok(bytes) = std::fs::read(env._dir.path().join(format!("wegate.db{suffix}"))) {
            raw.extend(bytes);
        }
    }
    assert!(!raw.is_empty());
    let needle = app.secret.as_bytes();
    assert!(!raw.windows(needle.len()).any(|w| w == needle), "the app secret is sealed at rest");
    assert!(!raw.windows(b"BEGIN PRIVATE KEY".len()).any(|w| w == b"BEGIN PRIVATE KEY"), "so is the signing key");
    // ... and sign-in still works, because the server opens them.
    let url = format!(
        "{}/authorize?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid&connection=wecom",
        env.base,
        url::form_urlencoded::byte_serialize(b"https://app.example.com/cb").collect::<String>()
    );
    let back = wecom_login(&browser(), &url, "ZhangSan").await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert!(location(&back).contains("code="));

    // WeCom's access token, cached for all instances, is sealed too.
    let db = rusqlite::Connection::open(env._dir.path().join("wegate.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    let tokens: Vec<String> = db
        .prepare("SELECT token FROM upstream_tokens")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!tokens.is_empty() && tokens.iter().all(|t| t.starts_with("enc:v2:")), "{tokens:?}");
    // A sealed value is bound to its row: copied into another connection, it does not open there.
    env.corp_connection("other", "wecom_qrcode", json!({"secret": "another-secret"})).await;
    db.execute(
        "UPDATE connections SET secrets = (SELECT secrets FROM connections WHERE identifier = 'wecom') \
         WHERE identifier = 'other'",
        [],
    )
    .unwrap();
    let (status, body) = env.admin(reqwest::Method::GET, "/connections/other", None).await;
    assert!(status.is_server_error() && body["error"] == "internal", "{status} {body}");
    let (status, _) = env.admin(reqwest::Method::GET, "/connections/wecom", None).await;
    assert_eq!(status, StatusCode::OK, "the original still opens");
}

#[tokio::test]
async fn fields_of_another_kind_and_impossible_associations_are_refused() {
    let env = start().await;
    let seed = wecom_sim::Seed::demo();
    let corp = &seed.corps[0];
    let base = json!({"identifier": "qr", "display_name": "QR", "kind": "wecom_qrcode", "corp_id": corp.corp_id,
                      "agent_id": corp.apps[0].agent_id.to_string(), "secret": corp.apps[0].secret});
    let mut with_schema = base.clone();
    with_schema["schema"] = json!("wwauthdemo");
    let (status, error) = env.admin(Method::POST, "/connections", Some(with_schema)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "invalid_request");
    assert!(error["message"].as_str().unwrap().starts_with("schema does not apply to a wecom_qrcode connection"));
    assert_eq!(env.admin(Method::GET, "/connections/qr", None).await.0, StatusCode::NOT_FOUND, "nothing created");

    env.post("/connections", base).await;
    let (status, _) = env.admin(Method::PATCH, "/connections/qr", Some(json!({"suite_id": "ww1"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a PATCH is held to the same rule");

    let p = &seed.providers[0];
    let provider = json!({"identifier": "prov", "display_name": "P", "kind": "wecom_provider", "corp_id": p.corp_id,
                          "provider_secret": p.provider_secret,
                          "association": {"mode": "match", "fields": ["email"]}});
    let (status, error) = env.admin(Method::POST, "/connections", Some(provider)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["message"].as_str().unwrap().contains("no email, phone or userid to match on"), "{error}");
}

/// A stored secret is only ever sent where it was sent before: an update that points the connection at another
/// directory, issuer or token endpoint must give the secret again (or whoever may edit connections could have
/// it sent to a host of theirs). Other updates keep it.
#[tokio::test]
async fn a_stored_secret_does_not_follow_a_changed_address() {
    let env = start().await;
    let cases = [
        (
            json!({"identifier": "dir", "display_name": "D", "kind": "ldap", "url": "ldaps://ldap.example.org",
                "bind_dn": "cn=s,dc=example,dc=org", "bind_password": "pw", "user_base_dn": "dc=example,dc=org"}),
            "url",
            json!("ldaps://ldap.elsewhere.example"),
            "bind_password",
        ),
        (
            json!({"identifier": "op", "display_name": "O", "kind": "oidc", "issuer": "https://idp.example.com",
                "client_id": "c", "client_secret": "s"}),
            "issuer",
            json!("https://idp.elsewhere.example"),
            "client_secret",
        ),
        (
            json!({"identifier": "o2", "display_name": "O2", "kind": "oauth2", "client_id": "c", "client_secret": "s",
                "authorization_endpoint": "https://p.example.com/a", "token_endpoint": "https://p.example.com/t",
                "userinfo_endpoint": "https://p.example.com/u", "user_id_field": "id"}),
            "token_endpoint",
            json!("https://p.elsewhere.example/t"),
            "client_secret",
        ),
    ];
    for (body, field, elsewhere, secret) in cases {
        let identifier = body["identifier"].as_str().unwrap().to_string();
        let path = format!("/connections/{identifier}");
        let (status, created) = env.admin(Method::POST, "/connections", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let (status, answer) = env.admin(Method::PATCH, &path, Some(json!({ field: elsewhere.clone() }))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{identifier}: {answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(secret) && message.contains(field), "{message}");
        // Nothing changed.
        let (_, stored) = env.admin(Method::GET, &path, None).await;
        assert_ne!(stored["settings"][field], elsewhere, "{stored}");
        // Given again, the new address is taken; another field alone keeps the secret.
        let (status, answer) =
            env.admin(Method::PATCH, &path, Some(json!({ field: elsewhere.clone(), secret: "again" }))).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let (status, answer) = env.admin(Method::PATCH, &path, Some(json!({"display_name": "Renamed"}))).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["secrets_set"][secret], true, "{answer}");
    }
    // A kind field that says nothing of where the secret goes keeps it.
    let (status, answer) =
        env.admin(Method::PATCH, "/connections/dir", Some(json!({"bind_dn": "cn=t,dc=example,dc=org"}))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["secrets_set"]["bind_password"], true, "{answer}");
    // Another CA, or StartTLS switched, says another server may answer for the same address.
    let on_this_machine = json!({"url": "ldap://localhost:3389", "bind_password": "pw"});
    assert_eq!(env.admin(Method::PATCH, "/connections/dir", Some(on_this_machine)).await.0, StatusCode::OK);
    for moved in [json!({"ca_pem": crate::slapd::certs().other_ca.clone()}), json!({"start_tls": true})] {
        let (status, answer) = env.admin(Method::PATCH, "/connections/dir", Some(moved.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{moved}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains("bind_password"), "{answer}");
    }
}
