//! Several instances on one database: logins started on one finish on another, WeCom's gettoken is
//! called once for all of them, and (with PostgreSQL) an instance killed mid-load loses nothing.

use std::sync::Arc;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::*;

const REDIRECT: &str = "https://app.example.com/cb";

/// Runs `n` WeCom logins spread over `bases` (alternating), each a full browser round trip ending in a
/// code. Returns how many succeeded.
async fn logins(bases: &[String], client_id: &str, n: usize) -> usize {
    let members = ["ZhangSan", "WangFang", "alice", "bob"];
    let tasks = (0..n).map(|i| {
        let base = bases[i % bases.len()].clone();
        let client_id = client_id.to_string();
        let member = members[i % members.len()];
        async move {
            let b = browser();
            let url = format!(
                "{base}/authorize?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid&state=s{i}&connection=wecom",
                url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
            );
            let Some(last) = try_wecom_login(&b, &url, member).await else {
                return false;
            };
            let ok = last.status() == StatusCode::SEE_OTHER && location(&last).starts_with(REDIRECT) && location(&last).contains("code=");
            if !ok {
                eprintln!("login {i} on {base} failed: {} {}", last.status(), last.text().await.unwrap_or_default().chars().take(600).collect::<String>());
            }
            ok
        }
    });
    join_all(tasks).await.into_iter().filter(|ok| *ok).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_sqlite_file_share_logins_and_one_wecom_token() {
    let a = start_shared().await;
    a.corp_connection("wecom", "wecom_qrcode", json!({})).await;
    let (client_id, _) = a.app("web", REDIRECT).await;
    a.associate(&client_id, "wecom").await;
    let db = format!("sqlite://{}", a._dir.path().join("wegate.db").display());
    // One public URL for both, as behind a load balancer (WeCom admits one trusted domain).
    let b = start_on_db(a.sim.clone(), a._dir.clone(), db, |s| s.issuer = a.base.clone()).await;

    // A login started on A completes on B.
    let browser = browser();
    let url = format!(
        "{}/authorize?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid&connection=wecom",
        a.base,
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let to_wecom = browser.get(&url).send().await.unwrap();
    let picked = browser.get(with_sim_user(&location(&to_wecom), "ZhangSan")).send().await.unwrap();
    let callback_on_b = location(&picked).replace(&a.base, &b.base);
    let done = browser.get(callback_on_b).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert!(location(&done).contains("code="));

    let ok = logins(&[a.base.clone(), b.base.clone()], &client_id, 200).await;
    assert_eq!(ok, 200, "every login succeeds");
    assert_eq!(a.sim_calls("/cgi-bin/gettoken").await, 1, "one gettoken for all logins on both instances");
    assert_eq!(a.user_count().await, 4);
}

/// PostgreSQL: two instances, 500 logins across both, one gettoken; then one instance is killed with
/// SIGKILL mid-load and the other keeps serving with no completed user lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_processes_500_logins_one_gettoken_and_sigkill() {
    let Some(admin_url) = std::env::var("WEGATE_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        skipped();
        return;
    };
    let db_url = create_database(&admin_url).await;
    let sim = Arc::new(simulator().await);
    let mut first = spawn_process(&sim, &db_url).await;
    // One public URL for both, as behind a load balancer: WeCom admits redirects on one trusted domain.
    let mut second = spawn_process_with(&sim, &db_url, &[("WEGATE_ISSUER", first.base.as_str())]).await;
    let a = Env::remote(&first.base, sim.clone());
    a.corp_connection("wecom", "wecom_qrcode", json!({})).await;
    let (client_id, _) = a.app("web", REDIRECT).await;
    a.associate(&client_id, "wecom").await;

    // A login started on the first process completes on the second.
    let browser = browser();
    let url = format!(
        "{}/authorize?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid&connection=wecom",
        first.base,
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let to_wecom = browser.get(&url).send().await.unwrap();
    let picked = browser.get(with_sim_user(&location(&to_wecom), "ZhangSan")).send().await.unwrap();
    let done = browser.get(location(&picked).replace(&first.base, &second.base)).send().await.unwrap();
    assert!(location(&done).contains("code="), "finished on the other instance");

    let bases = [first.base.clone(), second.base.clone()];
    let ok = logins(&bases, &client_id, 500).await;
    assert_eq!(ok, 500);
    assert_eq!(a.sim_calls("/cgi-bin/gettoken").await, 1, "one gettoken across both instances");
    let users_before = a.user_count().await;

    // Kill the second instance in the middle of a load on both.
    let load = tokio::spawn({
        let bases = bases.clone();
        let client_id = client_id.clone();
        async move { logins(&bases, &client_id, 200).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    second.child.start_kill().expect("SIGKILL");
    let _ = second.child.wait().await;
    let during = load.await.unwrap();
    assert!(during >= 100, "the first instance kept serving: {during} of 200");
    assert!(a.user_count().await >= users_before, "no completed user lost");
    assert_eq!(logins(&[first.base.clone()], &client_id, 20).await, 20);
    let _ = first.child.start_kill();
}

/// A fresh database on the server of `admin_url`.
pub(crate) async fn create_database(admin_url: &str) -> String {
    use sqlx::Connection;
    let name = format!("wegate_it_{}", wegate::util::random_alnum(12).to_lowercase());
    let mut conn = sqlx::PgConnection::connect(admin_url).await.expect("connect to PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create database");
    let mut url = url::Url::parse(admin_url).expect("postgres url");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// `/readyz` fails while the database is unreachable and recovers by itself when it comes back. The
/// database sits behind a TCP relay this test can cut (dropping every open connection) and restore.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database_and_recovers_without_a_restart() {
    let Some(admin_url) = std::env::var("WEGATE_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        skipped();
        return;
    };
    let db_url = url::Url::parse(&create_database(&admin_url).await).unwrap();
    let upstream = format!("{}:{}", db_url.host_str().unwrap(), db_url.port().unwrap_or(5432));
    let mut relay = Relay::start(None, upstream.clone()).await;
    let mut via_relay = db_url.clone();
    via_relay.set_port(Some(relay.port)).unwrap();

    let sim = simulator().await;
    let server = spawn_process_with(&sim, via_relay.as_str(), &[("WEGATE_DB_ACQUIRE_TIMEOUT_MS", "500")]).await;
    let healthz = || async { reqwest::get(format!("{}/healthz", server.base)).await.unwrap().status() };
    assert_eq!(readyz_until(&server.base, StatusCode::OK, 1).await, StatusCode::OK);

    relay.cut();
    let status = readyz_until(&server.base, StatusCode::SERVICE_UNAVAILABLE, 20).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "not ready without a database");
    assert_eq!(healthz().await, StatusCode::OK, "still alive: no restart wanted");

    relay = Relay::start(Some(relay.port), upstream).await;
    let status = readyz_until(&server.base, StatusCode::OK, 50).await;
    assert_eq!(status, StatusCode::OK, "ready again once the database is back");
    drop(relay);
}

/// Polls `/readyz` every 100 ms until it answers `wanted` or `tries` run out; returns the last answer.
async fn readyz_until(base: &str, wanted: StatusCode, tries: usize) -> StatusCode {
    let mut status = StatusCode::IM_A_TEAPOT;
    for _ in 0..tries {
        status = reqwest::get(format!("{base}/readyz")).await.unwrap().status();
        if status == wanted {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    status
}

/// A TCP relay to the database whose connections can all be cut at once.
struct Relay {
    port: u16,
    tasks: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    async fn start(port: Option<u16>, upstream: String) -> Relay {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port.unwrap_or(0))).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks = Arc::new(std::sync::Mutex::new(Vec::new()));
        let accept = tokio::spawn({
            let tasks = tasks.clone();
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let upstream = upstream.clone();
                    let pipe = tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    tasks.lock().unwrap().push(pipe);
                }
            }
        });
        tasks.lock().unwrap().push(accept);
        Relay { port, tasks }
    }

    /// Stops listening and drops every relayed connection.
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
    }
}

/// Says so past the test harness's capture, so a plain `cargo test` shows it.
fn skipped() {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "PostgreSQL tests skipped: set WEGATE_TEST_POSTGRES_URL");
}
