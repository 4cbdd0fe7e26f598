//! The command line: `wegate serve`, `wegate demo`, `wegate simulator`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::{LogFormat, Settings};

#[derive(Parser)]
#[command(name = "wegate", version, about = "Sign your company's apps in with WeCom, through plain OpenID Connect")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server. Settings come from the optional TOML file and WEGATE_* environment variables.
    Serve {
        /// TOML file of settings (keys are the WEGATE_* names without the prefix, lowercased).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Read the settings as `serve` would and check them without serving: one finding a line; exit status 0
    /// when `serve` would start, 1 otherwise.
    CheckConfig {
        /// TOML file of settings, as for `serve`.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// The signing keys: list them, or rotate them beside running servers.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
        /// TOML file of settings, as for `serve`.
        #[arg(long, global = true)]
        config: Option<PathBuf>,
    },
    /// One process, no set-up: the server on an embedded SQLite file, the WeCom simulator, a demo app
    /// and one connection of each kind. Prints the URL to open.
    Demo {
        /// SQLite file of the demo (default: wegate-demo.db in the current directory, recreated).
        #[arg(long, default_value = "wegate-demo.db")]
        database: PathBuf,
    },
    /// The WeCom simulator alone, for testing your own deployment without a WeCom account.
    Simulator {
        #[arg(long, default_value = "127.0.0.1:9000")]
        listen: String,
        /// Seed file (TOML or JSON) with corps, members, apps, templates and providers.
        #[arg(long)]
        seed: Option<PathBuf>,
        /// The trusted domain (`host` or `host:port`) of every app and suite: where your wegate serves its
        /// callbacks. WeCom admits redirects only on exactly that host and port. Default: the seed's (the
        /// demo seed's is 127.0.0.1:8080, wegate's default listen address).
        #[arg(long)]
        trusted_domain: Option<String>,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Every key: kid, algorithm, state (next / signing / retiring / retired) and dates.
    List,
    /// A new key per algorithm in use, published at once, signing after WEGATE_KEY_PUBLISH_DELAY seconds
    /// (or at once with --now); the old one stays published until the tokens it signed have expired.
    Rotate {
        /// Sign with the new keys at once.
        #[arg(long)]
        now: bool,
    },
}

pub fn main() -> ExitCode {
    // `serve --help` lists every setting with its default, from the one table the loader uses.
    let command = Cli::command().mut_subcommand("serve", |serve| serve.after_help(crate::config::help_table()));
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wegate: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve { config } => serve(config).await,
            Command::CheckConfig { config } => check_config(config).await,
            Command::Keys { action, config } => keys(action, config).await,
            Command::Demo { database } => crate::demo::run(database).await,
            Command::Simulator { listen, seed, trusted_domain } => simulator(listen, seed, trusted_domain).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("wegate: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Installs the `tracing` subscriber (human or JSON lines).
pub fn init_logging(format: LogFormat, level: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(level).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a person at a terminal: never in a file, a pipe or a journal, nor with NO_COLOR
    // (https://no-color.org: set to anything non-empty).
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let ansi = std::io::stdout().is_terminal() && !no_color;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(ansi);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Human => builder.try_init(),
    };
}

async fn check_config(config: Option<PathBuf>) -> Result<(), String> {
    let findings = crate::check::run(config.as_deref()).await;
    for finding in &findings {
        println!("{finding}");
    }
    let errors = findings.iter().filter(|f| f.level == crate::check::Level::Error).count();
    match errors {
        0 => Ok(()),
        n => Err(format!("{n} error(s): serve would not start as configured")),
    }
}

/// `wegate keys`. A running wegate that holds its SQLite file (the default) is asked through its admin API on
/// its listen address, which also makes it switch at once; otherwise (PostgreSQL, or nobody serving) the
/// database is changed directly and every instance reads it within a minute.
async fn keys(action: KeysAction, config: Option<PathBuf>) -> Result<(), String> {
    let settings = Settings::load(config.as_deref()).map_err(|e| e.to_string())?;
    let now = crate::util::unix_now();
    let rotate_now = matches!(action, KeysAction::Rotate { now: true });
    // The lock beside the file says whether a wegate holds it (a port answering proves nothing: whoever
    // answers there would be handed the admin token).
    let held = crate::store::sql::sqlite_held_by_another(&settings.database_url).map_err(|e| e.to_string())?;
    let statuses = if held {
        let token = settings.admin_token.clone().ok_or(
            "a wegate serving this SQLite file holds it: set WEGATE_ADMIN_TOKEN so that its admin API is asked",
        )?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        let base = format!("http://{}/api/v1/keys", settings.listen);
        let request = match action {
            KeysAction::List => http.get(&base),
            KeysAction::Rotate { .. } => {
                http.post(format!("{base}/rotate")).json(&serde_json::json!({"now": rotate_now}))
            }
        };
        let answer = request.bearer_auth(token).send().await.map_err(|e| format!("{base}: {e}"))?;
        let status = answer.status();
        let body: serde_json::Value = answer.json().await.map_err(|e| format!("{base}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{base}: {status}: {}", body["message"].as_str().unwrap_or_default()));
        }
        body["items"].as_array().cloned().unwrap_or_default()
    } else {
        let pool = crate::store::sql::PoolSettings {
            sqlite_locking: settings.sqlite_locking,
            ..crate::store::sql::PoolSettings::default()
        };
        let mut store = crate::store::sql::SqlStore::connect_existing(&settings.database_url, &pool)
            .await
            .map_err(|e| format!("database: {e}"))?;
        if let Some(key) = &settings.encryption_key {
            store = store.with_encryption_key(key);
        }
        let retire_after = settings.key_retire_after();
        let statuses = match action {
            KeysAction::List => {
                let all = crate::store::KeyStore::list_signing_keys(&store).await.map_err(|e| e.to_string())?;
                crate::oidc::keys::key_states(&all, now, retire_after)
            }
            KeysAction::Rotate { .. } => {
                crate::oidc::keys::rotate(&store, now, settings.key_publish_delay, rotate_now, retire_after)
                    .await
                    .map_err(|e| e.to_string())?
            }
        };
        store.close().await;
        statuses
            .into_iter()
            .map(|s| {
                serde_json::json!({"kid": s.key.kid, "alg": s.key.alg, "state": s.state,
                    "signs_from": s.key.signs_from(), "until": s.until})
            })
            .collect()
    };
    println!("{:<44} {:<6} {:<9} {:<21} until", "kid", "alg", "state", "signs from");
    for key in statuses {
        let time = |v: &serde_json::Value| v.as_i64().map(crate::util::rfc3339).unwrap_or_else(|| "-".into());
        println!(
            "{:<44} {:<6} {:<9} {:<21} {}",
            key["kid"].as_str().unwrap_or_default(),
            key["alg"].as_str().unwrap_or_default(),
            key["state"].as_str().unwrap_or_default(),
            time(&key["signs_from"]),
            time(&key["until"]),
        );
    }
    Ok(())
}

async fn serve(config: Option<PathBuf>) -> Result<(), String> {
    let settings = Settings::load(config.as_deref()).map_err(|e| e.to_string())?;
    init_logging(settings.log_format, &settings.log_level);
    tracing::info!(settings = ?settings, "starting");
    // The settings' findings of `check-config`, in the log (the connections' are logged once the store is open).
    for finding in crate::check::settings_findings(&settings) {
        match finding.level {
            crate::check::Level::Ok => {}
            crate::check::Level::Warning => tracing::warn!("{}: {}", finding.subject, finding.message),
            crate::check::Level::Error => return Err(format!("{}: {}", finding.subject, finding.message)),
        }
    }
    let running = crate::server::start(settings).await.map_err(|e| e.to_string())?;
    let stopper = running.stopper();
    tokio::spawn(async move {
        crate::server::shutdown_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
        let _ = stopper.send(true);
    });
    running.wait().await.map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(())
}

async fn simulator(listen: String, seed: Option<PathBuf>, trusted_domain: Option<String>) -> Result<(), String> {
    init_logging(LogFormat::Human, "info");
    let seed = match seed {
        Some(path) => wecom_sim::Seed::from_file(&path).map_err(|e| format!("seed {}: {e}", path.display()))?,
        None => wecom_sim::Seed::demo(),
    };
    let listener =
        tokio::net::TcpListener::bind(&listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    println!("WeCom simulator on http://{listen}  (console: http://{listen}/_sim/)");
    println!(
        "Point wegate at it: WEGATE_WECOM_API_BASE=http://{listen} WEGATE_WECOM_LOGIN_BASE=http://{listen} WEGATE_WECOM_OAUTH_BASE=http://{listen} WEGATE_WECOM_OPEN_BASE=http://{listen}"
    );
    println!("DingTalk simulator on http://{listen}/dingtalk  (console: http://{listen}/dingtalk/_sim/)");
    println!(
        "Point wegate at it: WEGATE_DINGTALK_API_BASE=http://{listen}/dingtalk/api WEGATE_DINGTALK_OAPI_BASE=http://{listen}/dingtalk/oapi WEGATE_DINGTALK_LOGIN_BASE=http://{listen}/dingtalk/login WEGATE_DINGTALK_JSAPI_URL=http://{listen}/dingtalk/jsapi/dingtalk.open.js"
    );
    println!("  (register your callback URLs with PUT /dingtalk/_sim/apps/<client_id>/redirect_uris)");
    println!("Feishu simulator on http://{listen}/feishu  (console: http://{listen}/feishu/_sim/)");
    println!(
        "Point wegate at it: WEGATE_FEISHU_API_BASE=http://{listen}/feishu/open WEGATE_FEISHU_ACCOUNTS_BASE=http://{listen}/feishu/accounts"
    );
    let sim = wecom_sim::Simulator::new(seed, wecom_sim::SimConfig::default());
    if let Some(domain) = trusted_domain
        && !sim.set_trusted_domain(&domain)
    {
        return Err(format!("--trusted-domain {domain:?} must be a host or host:port"));
    }
    // DingTalk's and Feishu's stand-ins on the same port. Feishu's hourly app_ticket is pushed by its console
    // (`/feishu/_sim/`) here: the timer runs only in a simulator of its own.
    let feishu = feishu_sim::Simulator::new(feishu_sim::Seed::demo(), feishu_sim::SimConfig::default());
    let beside = axum::Router::new()
        .nest("/dingtalk", dingtalk_sim::Simulator::new(dingtalk_sim::Seed::demo()).router())
        .nest("/feishu", feishu.router());
    tokio::select! {
        result = sim.serve_with(listener, beside) => result.map_err(|e| e.to_string()),
        _ = crate::server::shutdown_signal() => Ok(()),
    }
}
