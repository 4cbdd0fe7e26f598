//! The benchmark driver: ONE closed-loop load generator for both servers, so that the ratio measures the
//! servers and not two drivers (bench/README.md). It starts
//! - wegate: `wegate simulator` and `wegate serve` as two processes (release build, fresh SQLite file or
//!   `--database postgres://…`), configured through the admin API; a *full login* is `/authorize?connection=`
//!   → the simulator's QR page → our callback (`auth/getuserinfo` + `user/get` at the simulator) → `/token`
//!   (code, PKCE, client secret; ID, access and refresh token);
//! - the baseline: `node bench/baseline/server.mjs` (node-oidc-provider, in-memory); its full login is
//!   `/auth` → `/interaction/:uid` (POST: login + consent) → `/auth/:uid` → `/token`, same token request.
//!
//! Both get the same concurrency, warm-up and duration, in interleaved rounds; the report gives medians of
//! the rounds: operations per second, p50/p99 latency, CPU per operation of each server process (from
//! `/proc`), idle and peak RSS, and the time from start to the first discovery answer.
//!
//! ```sh
//! cargo build --release && (cd bench/baseline && npm ci)
//! cargo run --release --example bench -- [--rounds 3] [--seconds 8] [--warmup 2] [--concurrency 16]
//!     [--database URL] [--no-baseline]
//! WEGATE_ACCESS_TOKEN_ALG=ES256 BASELINE_JWT_AT=0 … # one RS256 signature per login on both sides
//! ```

// A benchmark driver, not shipped code: a failed step aborts the run with what went wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::{Child, Command};

const REDIRECT: &str = "https://app.example.com/cb";
const ADMIN: &str = "bench-admin-token-0123456789";
const BASELINE_CLIENT: (&str, &str) = ("bench-client", "bench-client-secret-0123456789abcdef");
const MEMBERS: [&str; 4] = ["ZhangSan", "WangFang", "alice", "bob"];

struct Args {
    rounds: usize,
    seconds: u64,
    warmup: u64,
    concurrency: usize,
    database: Option<String>,
    baseline: bool,
    /// `--pin`: each server on core 0, the driver and the simulator on core 1 (`taskset`), so that CPU per
    /// operation compares the servers, not their shares of the machine.
    pin: bool,
}

fn args() -> Args {
    let mut a = Args { rounds: 3, seconds: 8, warmup: 2, concurrency: 16, database: None, baseline: true, pin: false };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--rounds" => a.rounds = value().parse().expect("--rounds N"),
            "--seconds" => a.seconds = value().parse().expect("--seconds N"),
            "--warmup" => a.warmup = value().parse().expect("--warmup N"),
            "--concurrency" => a.concurrency = value().parse().expect("--concurrency N"),
            "--database" => a.database = Some(value()),
            "--no-baseline" => a.baseline = false,
            "--pin" => a.pin = true,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

// ---------------------------------------------------------------- processes and /proc

/// Which core a process of the run goes on with `--pin`: servers on 0, everything else on 1.
static PIN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `program`, under `taskset -c <core>` when the run pins.
fn on_core(program: &Path, core: u8) -> Command {
    if PIN.load(std::sync::atomic::Ordering::Relaxed) {
        let mut command = Command::new("taskset");
        command.arg("-c").arg(core.to_string()).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn proc_status(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(key)).map(String::from))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// utime + stime of a process, in clock ticks (USER_HZ = 100 in /proc on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

async fn wait_for(url: &str) -> Duration {
    let started = Instant::now();
    let http = reqwest::Client::new();
    for _ in 0..400 {
        if http.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("{url} never answered");
}

/// A server under test: its base URL, the processes whose CPU counts, and how to sign in.
struct Target {
    name: &'static str,
    base: String,
    client_id: String,
    secret: String,
    /// (label, pid): the server, and for wegate the simulator.
    pids: Vec<(&'static str, u32)>,
    started_in: Duration,
    idle_rss_kib: u64,
    _children: Vec<Child>,
    _dir: Option<tempfile::TempDir>,
}

async fn start_wegate(database: Option<&str>) -> Target {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let binary = std::env::var("WEGATE_BIN").map(PathBuf::from).unwrap_or_else(|_| root.join("target/release/wegate"));
    let (sim_port, port) = (free_port(), free_port());
    let sim = format!("http://127.0.0.1:{sim_port}");
    let simulator = on_core(&binary, 1)
        .args(["simulator", "--listen", &format!("127.0.0.1:{sim_port}")])
        .args(["--trusted-domain", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e} (cargo build --release first)", binary.display()));
    wait_for(&format!("{sim}/_sim/clock")).await;
    let dir = tempfile::tempdir().unwrap();
    let url = database.map_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()), String::from);
    let base = format!("http://127.0.0.1:{port}");
    let spawned = Instant::now();
    let server = on_core(&binary, 0)
        .arg("serve")
        .env("WEGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("WEGATE_DATABASE_URL", url)
        .env("WEGATE_ADMIN_TOKEN", ADMIN)
        .env("WEGATE_WECOM_API_BASE", &sim)
        .env("WEGATE_WECOM_LOGIN_BASE", &sim)
        .env("WEGATE_WECOM_OPEN_BASE", &sim)
        .env("WEGATE_WECOM_OAUTH_BASE", &sim)
        .env("WEGATE_LOG_LEVEL", std::env::var("BENCH_LOG").unwrap_or_else(|_| "warn".into()))
        // Its log goes to stderr, never into the report on stdout.
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_for(&format!("{base}/.well-known/openid-configuration")).await;
    let started_in = spawned.elapsed();
    let (server_pid, sim_pid) = (server.id().unwrap_or(0), simulator.id().unwrap_or(0));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss_kib = proc_status(server_pid, "VmRSS:");

    let http = reqwest::Client::new();
    let admin = |path: &str, body: Value| {
        let request = http.post(format!("{base}/api/v1{path}")).bearer_auth(ADMIN).json(&body);
        async move { request.send().await.expect("admin").json::<Value>().await.unwrap_or(Value::Null) }
    };
    let seed = wecom_sim::Seed::demo();
    let (corp, app) = (&seed.corps[0], &seed.corps[0].apps[0]);
    admin(
        "/connections",
        json!({"identifier": "wecom", "display_name": "WeCom", "kind": "wecom_qrcode",
               "corp_id": corp.corp_id, "agent_id": app.agent_id.to_string(), "secret": app.secret}),
    )
    .await;
    let created = admin("/apps", json!({"name": "bench", "kind": "web", "redirect_uris": [REDIRECT]})).await;
    let client_id = created["client_id"].as_str().expect("client_id").to_string();
    let secret = created["client_secret"].as_str().expect("secret").to_string();
    http.put(format!("{base}/api/v1/apps/{client_id}/connections/wecom")).bearer_auth(ADMIN).send().await.unwrap();
    Target {
        name: "wegate",
        base,
        client_id,
        secret,
        pids: vec![("wegate", server_pid), ("simulator", sim_pid)],
        started_in,
        idle_rss_kib,
        _children: vec![server, simulator],
        _dir: Some(dir),
    }
}

async fn start_baseline() -> Option<Target> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/baseline");
    if !dir.join("node_modules").exists() {
        eprintln!("baseline skipped: run `npm ci` in {}", dir.display());
        return None;
    }
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let spawned = Instant::now();
    let child = on_core(Path::new("node"), 0)
        .arg("server.mjs")
        .current_dir(&dir)
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    wait_for(&format!("{base}/.well-known/openid-configuration")).await;
    let started_in = spawned.elapsed();
    let pid = child.id().unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    Some(Target {
        name: "node-oidc-provider",
        base,
        client_id: BASELINE_CLIENT.0.into(),
        secret: BASELINE_CLIENT.1.into(),
        pids: vec![("node", pid)],
        started_in,
        idle_rss_kib: proc_status(pid, "VmRSS:"),
        _children: vec![child],
        _dir: None,
    })
}

// ---------------------------------------------------------------- one login, one refresh

fn location(r: &reqwest::Response) -> Option<String> {
    r.headers().get("location").and_then(|v| v.to_str().ok()).map(String::from)
}

fn absolute(base: &str, location: String) -> String {
    if location.starts_with('/') { format!("{base}{location}") } else { location }
}

fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// The one HTTP client of a worker (its keep-alive connections reused, redirects not followed). Building a
/// client per login cost the driver more CPU than some servers spend on the login (reqwest builds a TLS
/// configuration per client): the driver shares the cores with the servers, so its own cost is kept small
/// and equal for both.
fn worker_client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// A browser for one login: a fresh cookie jar (name → value, every host alike: wegate, the simulator and
/// the baseline use distinct cookie names) over the worker's client.
struct Browser<'c> {
    http: &'c reqwest::Client,
    cookies: Vec<(String, String)>,
}

impl<'c> Browser<'c> {
    fn new(http: &'c reqwest::Client) -> Browser<'c> {
        Browser { http, cookies: Vec::new() }
    }

    fn with_cookies(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if self.cookies.is_empty() {
            return request;
        }
        let header = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        request.header("cookie", header)
    }

    fn keep(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all("set-cookie") {
            let Some((pair, _)) = value.to_str().ok().map(|v| v.split_once(';').unwrap_or((v, ""))) else { continue };
            let Some((name, value)) = pair.split_once('=') else { continue };
            self.cookies.retain(|(k, _)| k != name.trim());
            self.cookies.push((name.trim().to_string(), value.trim().to_string()));
        }
    }

    async fn get(&mut self, url: &str) -> Option<reqwest::Response> {
        let response = self.with_cookies(self.http.get(url)).send().await.ok()?;
        self.keep(&response);
        Some(response)
    }

    async fn post_form(&mut self, url: &str, form: &[(&str, &str)]) -> Option<reqwest::Response> {
        let response = self.with_cookies(self.http.post(url).form(form)).send().await.ok()?;
        self.keep(&response);
        Some(response)
    }
}

/// One full login with a new browser (no cookies); returns the refresh token.
async fn login(http: &reqwest::Client, t: &Target, member: &str) -> Option<String> {
    let mut b = Browser::new(http);
    let verifier = wegate::util::random_token();
    let challenge = wegate::util::sha256_b64url(verifier.as_bytes());
    let redirect = url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>();
    let query = format!(
        "client_id={}&redirect_uri={redirect}&response_type=code&scope=openid%20profile%20offline_access&state=s&nonce=n&code_challenge={challenge}&code_challenge_method=S256",
        t.client_id
    );
    let back = if t.name == "wegate" {
        let to_wecom = location(&b.get(&format!("{}/authorize?{query}&connection=wecom", t.base)).await?)?;
        let callback = location(&b.get(&format!("{to_wecom}&sim_user={member}")).await?)?;
        location(&b.get(&callback).await?)?
    } else {
        let interaction = location(&b.get(&format!("{}/auth?{query}&prompt=consent", t.base)).await?)?;
        let interaction = absolute(&t.base, interaction);
        let resume = location(&b.post_form(&interaction, &[("ok", "1")]).await?)?;
        location(&b.get(&absolute(&t.base, resume)).await?)?
    };
    let code = param(&back, "code")?;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", &verifier),
    ];
    token_call(http, t, &form).await
}

async fn token_call(http: &reqwest::Client, t: &Target, form: &[(&str, &str)]) -> Option<String> {
    let response = http.post(format!("{}/token", t.base)).basic_auth(&t.client_id, Some(&t.secret)).form(form);
    let tokens: Value = response.send().await.ok()?.json().await.ok()?;
    tokens["id_token"].as_str()?;
    tokens["access_token"].as_str()?;
    tokens["refresh_token"].as_str().map(String::from)
}

// ---------------------------------------------------------------- a run

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Login,
    Refresh,
}

struct Run {
    per_second: f64,
    failures: u64,
    p50_ms: f64,
    p99_ms: f64,
    /// (process, CPU milliseconds per operation)
    cpu_ms_per_op: Vec<(&'static str, f64)>,
    /// wegate: SQL statements and database calls per operation (`wegate_store_statements_total` and
    /// `wegate_store_calls_total` before and after).
    statements_per_op: Option<f64>,
    calls_per_op: Option<f64>,
}

/// wegate's store counters: (statements, calls).
async fn store_counters(t: &Target) -> Option<(u64, u64)> {
    if t.name != "wegate" {
        return None;
    }
    let text = reqwest::get(format!("{}/metrics", t.base)).await.ok()?.text().await.ok()?;
    let read =
        |name: &str| text.lines().find_map(|l| l.strip_prefix(&format!("{name} "))).and_then(|n| n.trim().parse().ok());
    read("wegate_store_statements_total").zip(read("wegate_store_calls_total"))
}

/// Closed loop: `concurrency` workers, each starting its next operation when the last one ends; `warmup`
/// seconds first (not counted), then `seconds` measured.
async fn run(t: &Arc<Target>, op: Op, a: &Args) -> Run {
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<u32>::new()));
    let stop_at = Instant::now() + Duration::from_secs(a.warmup + a.seconds);
    let workers: Vec<_> = (0..a.concurrency)
        .map(|w| {
            let (t, done, failed, measuring, latencies) =
                (t.clone(), done.clone(), failed.clone(), measuring.clone(), latencies.clone());
            tokio::spawn(async move {
                let http = worker_client();
                let member = MEMBERS[w % MEMBERS.len()];
                let mut token = if op == Op::Refresh { login(&http, &t, member).await } else { None };
                let mut mine = Vec::new();
                while Instant::now() < stop_at {
                    let started = Instant::now();
                    let ok = match op {
                        Op::Login => login(&http, &t, member).await.is_some(),
                        Op::Refresh => {
                            token = match &token {
                                Some(rt) => {
                                    token_call(&http, &t, &[("grant_type", "refresh_token"), ("refresh_token", rt)])
                                        .await
                                }
                                None => login(&http, &t, member).await,
                            };
                            token.is_some()
                        }
                    };
                    if measuring.load(Ordering::Relaxed) && Instant::now() < stop_at {
                        if ok {
                            done.fetch_add(1, Ordering::Relaxed);
                            mine.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
                        } else {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                latencies.lock().unwrap().extend(mine);
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(a.warmup)).await;
    // The servers' processes, and the driver's own (it shares the cores).
    let pids: Vec<(&'static str, u32)> = t.pids.iter().copied().chain([("driver", std::process::id())]).collect();
    let cpu_before: Vec<u64> = pids.iter().map(|(_, pid)| cpu_ticks(*pid)).collect();
    let counters_before = store_counters(t).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(a.seconds)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after: Vec<u64> = pids.iter().map(|(_, pid)| cpu_ticks(*pid)).collect();
    let counters_after = store_counters(t).await;
    for w in workers {
        w.await.unwrap();
    }
    let count = done.load(Ordering::Relaxed);
    let mut lat = std::mem::take(&mut *latencies.lock().unwrap());
    lat.sort_unstable();
    let pct = |p: f64| lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied();
    let ms = |v: Option<u32>| v.map_or(0.0, |us| f64::from(us) / 1000.0);
    Run {
        per_second: count as f64 / elapsed,
        failures: failed.load(Ordering::Relaxed),
        p50_ms: ms(pct(0.50)),
        p99_ms: ms(pct(0.99)),
        cpu_ms_per_op: pids
            .iter()
            .zip(cpu_before.iter().zip(cpu_after))
            .map(|((label, _), (b, a))| (*label, (a - b) as f64 * 10.0 / count.max(1) as f64))
            .collect(),
        // Approximate: operations still under way at either reading are not in `count`.
        statements_per_op: counters_before
            .zip(counters_after)
            .map(|(b, a)| (a.0.saturating_sub(b.0)) as f64 / count.max(1) as f64),
        calls_per_op: counters_before
            .zip(counters_after)
            .map(|(b, a)| (a.1.saturating_sub(b.1)) as f64 / count.max(1) as f64),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn summary(runs: &[Run]) -> Value {
    let labels: Vec<&str> = runs.first().map(|r| r.cpu_ms_per_op.iter().map(|(l, _)| *l).collect()).unwrap_or_default();
    let cpu: serde_json::Map<String, Value> = labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let per_run = runs.iter().map(|r| r.cpu_ms_per_op[i].1).collect();
            ((*label).to_string(), json!((median(per_run) * 100.0).round() / 100.0))
        })
        .collect();
    json!({
        "per_second": round1(median(runs.iter().map(|r| r.per_second).collect())),
        "rounds": runs.iter().map(|r| round1(r.per_second)).collect::<Vec<_>>(),
        "failures": runs.iter().map(|r| r.failures).sum::<u64>(),
        "p50_ms": round1(median(runs.iter().map(|r| r.p50_ms).collect())),
        "p99_ms": round1(median(runs.iter().map(|r| r.p99_ms).collect())),
        "cpu_ms_per_op": cpu,
        "statements_per_op": runs.iter().filter_map(|r| r.statements_per_op).map(round1).next(),
        "calls_per_op": runs.iter().filter_map(|r| r.calls_per_op).map(round1).next(),
    })
}

#[tokio::main]
async fn main() {
    let a = args();
    // Counted before the driver pins itself (affinity makes it see one core).
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    if a.pin {
        PIN.store(true, std::sync::atomic::Ordering::Relaxed);
        // The driver's every thread on core 1 (the servers' processes go on core 0).
        let pid = std::process::id().to_string();
        let pinned = std::process::Command::new("taskset").args(["-a", "-p", "-c", "1", &pid]).output();
        assert!(pinned.is_ok_and(|o| o.status.success()), "--pin needs taskset (util-linux) and two cores");
    }
    let mut targets = vec![Arc::new(start_wegate(a.database.as_deref()).await)];
    if a.baseline
        && let Some(baseline) = start_baseline().await
    {
        targets.push(Arc::new(baseline));
    }
    let http = worker_client();
    for t in &targets {
        for m in MEMBERS {
            login(&http, t, m).await.unwrap_or_else(|| panic!("{}: a first login failed", t.name));
        }
    }
    let mut results: Vec<(Vec<Run>, Vec<Run>)> = targets.iter().map(|_| (Vec::new(), Vec::new())).collect();
    for round in 0..a.rounds {
        for op in [Op::Login, Op::Refresh] {
            for (i, t) in targets.iter().enumerate() {
                let r = run(t, op, &a).await;
                eprintln!(
                    "round {} {} {}: {:.0}/s p99 {:.1} ms",
                    round + 1,
                    t.name,
                    if op == Op::Login { "logins" } else { "refreshes" },
                    r.per_second,
                    r.p99_ms
                );
                if op == Op::Login { results[i].0.push(r) } else { results[i].1.push(r) }
            }
        }
    }
    let mut report = serde_json::Map::new();
    for (t, (logins, refreshes)) in targets.iter().zip(&results) {
        let peak: serde_json::Map<String, Value> = t
            .pids
            .iter()
            .map(|(l, pid)| ((*l).to_string(), json!(round1(proc_status(*pid, "VmHWM:") as f64 / 1024.0))))
            .collect();
        report.insert(
            t.name.into(),
            json!({
                "logins": summary(logins),
                "refreshes": summary(refreshes),
                "idle_rss_mib": round1(t.idle_rss_kib as f64 / 1024.0),
                "peak_rss_mib": peak,
                "start_to_first_discovery_ms": round1(t.started_in.as_secs_f64() * 1000.0),
            }),
        );
    }
    if let [w, b] = &targets[..] {
        let ratio = |op: &str| {
            let (x, y) = (report[w.name][op]["per_second"].as_f64(), report[b.name][op]["per_second"].as_f64());
            x.zip(y).map(|(x, y)| (x / y * 100.0).round() / 100.0)
        };
        report.insert("ratios".into(), json!({"logins": ratio("logins"), "refreshes": ratio("refreshes")}));
    }
    report.insert(
        "settings".into(),
        json!({
            "rounds": a.rounds, "seconds": a.seconds, "warmup": a.warmup, "concurrency": a.concurrency,
            "database": a.database.as_deref().unwrap_or("sqlite"),
            "access_token_alg": std::env::var("WEGATE_ACCESS_TOKEN_ALG").unwrap_or_else(|_| "RS256".into()),
            "baseline_jwt_access_tokens": std::env::var("BASELINE_JWT_AT").is_ok_and(|v| v == "1"),
            "cores": cores,
            "pinned": a.pin,
        }),
    );
    println!("{}", serde_json::to_string_pretty(&Value::Object(report)).unwrap_or_default());
}
