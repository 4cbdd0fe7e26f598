//! Talking to callback URLs the way WeCom does (reference §6, §7.2, §7.4): URL verification (GET
//! with an encrypted `echostr`) and encrypted event pushes (POST), with retries, to a provider's
//! command callback or a self-built app's API receiving URL, plus the periodic suite_ticket timer.
//!
//! Crypto is `wecom::crypto` — the simulator must never carry its own. Receive ids follow §6.4:
//! the provider corp id for a suite's URL verification, the suite (template) id for command events,
//! the corp id for a self-built app (verification and events, path/90968).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use url::Url;
use wecom::crypto::MsgCrypt;
use wecom::event::Event;

use crate::control::stats::PushRecord;
use crate::ids;
use crate::state::{AppRecord, Inner, SuiteLike, World, lock};

/// Result of one push (all its attempts).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PushOutcome {
    pub(crate) delivered: bool,
    pub(crate) attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// Result of a URL verification.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct VerifyOutcome {
    pub(crate) verified: bool,
    /// HTTP status of the answer (0 when there was none).
    pub(crate) status: u16,
    pub(crate) body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// Appends query parameters to a URL (percent-encoded: `+`, `/`, `=` never travel raw).
fn with_query(url: &str, pairs: &[(&str, &str)]) -> Result<Url, String> {
    let mut url = Url::parse(url).map_err(|e| format!("invalid URL {url:?}: {e}"))?;
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    Ok(url)
}

/// WeCom's URL verification of `url` (path/90930 for an app's API receiving, reference §6.1): GET with
/// `msg_signature`, `timestamp`, `nonce` and an `echostr` whose plaintext is a random 19-digit number,
/// encrypted for `receive_id` (a suite's provider corp id, an app's corp id) with `token` and
/// `encoding_aes_key`; verified iff the answer is exactly that plaintext.
pub(crate) async fn verify_url(
    inner: &Inner,
    token: &str,
    encoding_aes_key: &str,
    receive_id: &str,
    url: &str,
) -> VerifyOutcome {
    let fail = |error: String| VerifyOutcome { verified: false, status: 0, body: String::new(), error: Some(error) };
    let crypt = match MsgCrypt::new(token, encoding_aes_key) {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot use the EncodingAESKey: {e}")),
    };
    let plaintext = ids::random_digits(19);
    let echostr = crypt.encrypt(&plaintext, receive_id);
    let timestamp = inner.now().to_string();
    let nonce = ids::random_digits(10);
    let signature = crypt.signature(&timestamp, &nonce, &echostr);
    let target = match with_query(
        url,
        &[("msg_signature", &signature), ("timestamp", &timestamp), ("nonce", &nonce), ("echostr", &echostr)],
    ) {
        Ok(u) => u,
        Err(e) => return fail(e),
    };
    match inner.http.get(target).send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            VerifyOutcome { verified: status == 200 && body == plaintext, status, body, error: None }
        }
        Err(e) => fail(format!("request failed: {e}")),
    }
}

/// Where an event goes and how it is sealed: a suite's command callback or a self-built app's API
/// receiving URL.
#[derive(Debug, Clone)]
pub(crate) struct Channel {
    /// How answers and stats name it: `suite:<suite id>` or `app:<corp id>:<agent id>`.
    pub(crate) target: String,
    pub(crate) suite_id: Option<String>,
    pub(crate) url: String,
    pub(crate) token: String,
    pub(crate) encoding_aes_key: String,
    pub(crate) receive_id: String,
    pub(crate) to_user_name: String,
    pub(crate) agent_id: Option<String>,
    /// A provider's command callback must answer `success` within `push_deadline_ms` (path/90642,
    /// path/97172); a self-built app's callback may answer any HTTP 200 — an empty one included — within
    /// 5 s (path/90930: 五秒内收不到响应会断掉连接 … 直接回复空串).
    pub(crate) command: bool,
}

/// How long a self-built app's callback has to answer (path/90930).
const APP_DEADLINE_MS: u64 = 5000;

impl Channel {
    /// A suite's or template's command callback (reference §6.4, path/97172): receive id and ToUserName =
    /// the suite (template) id, empty AgentID, signed with the suite's token. `None` without an event URL.
    pub(crate) fn suite(world: &World, suite: &SuiteLike<'_>) -> Option<Channel> {
        let url = world.event_url(suite)?;
        Some(Channel {
            target: format!("suite:{}", suite.id()),
            suite_id: Some(suite.id().to_owned()),
            url,
            token: suite.token().to_owned(),
            encoding_aes_key: suite.encoding_aes_key().to_owned(),
            receive_id: suite.id().to_owned(),
            to_user_name: suite.id().to_owned(),
            agent_id: None,
            command: true,
        })
    }

    /// A self-built app's API receiving (path/90930, path/90968): receive id and ToUserName = the corp id,
    /// AgentID = the app's, signed with the app's token. `None` without a callback.
    pub(crate) fn app(app: &AppRecord) -> Option<Channel> {
        let cb = app.callback.as_ref()?;
        Some(Channel {
            target: format!("app:{}:{}", app.corp_id, app.agent_id),
            suite_id: None,
            url: cb.url.clone(),
            token: cb.token.clone(),
            encoding_aes_key: cb.encoding_aes_key.clone(),
            receive_id: app.corp_id.clone(),
            to_user_name: app.corp_id.clone(),
            agent_id: Some(app.agent_id.to_string()),
            command: false,
        })
    }
}

/// Pushes an event to the suite's command callback URL (see [`Channel::suite`]).
pub(crate) async fn push_event(inner: &Inner, suite_id: &str, event: &Event) -> PushOutcome {
    let Some(suite) = inner.suite_like(suite_id) else {
        return PushOutcome { delivered: false, attempts: 0, error: Some(format!("unknown suite {suite_id}")) };
    };
    let channel = Channel::suite(&inner.world(), &suite);
    match channel {
        Some(channel) => send(inner, &channel, event).await,
        None => PushOutcome { delivered: false, attempts: 0, error: Some("the suite has no event URL".to_owned()) },
    }
}

/// Pushes an event through `channel`: encrypted XML, delivered iff the answer comes in time and is HTTP 200
/// (with body `success` for a command callback), otherwise retried `push_retries` times. The push is
/// recorded in the stats.
pub(crate) async fn send(inner: &Inner, channel: &Channel, event: &Event) -> PushOutcome {
    let mut record = PushRecord {
        target: channel.target.clone(),
        suite_id: channel.suite_id.clone(),
        info_type: info_type(event).to_owned(),
        url: channel.url.clone(),
        attempts: 0,
        delivered: false,
        last_status: None,
        last_error: None,
        at: inner.now(),
    };
    let outcome = deliver(inner, channel, event, &mut record).await;
    record.attempts = outcome.attempts;
    record.delivered = outcome.delivered;
    if record.last_error.is_none() {
        record.last_error.clone_from(&outcome.error);
    }
    lock(&inner.stats).pushes.push(record);
    outcome
}

async fn deliver(inner: &Inner, channel: &Channel, event: &Event, record: &mut PushRecord) -> PushOutcome {
    let crypt = match MsgCrypt::new(&channel.token, &channel.encoding_aes_key) {
        Ok(c) => c,
        Err(e) => {
            return PushOutcome {
                delivered: false,
                attempts: 0,
                error: Some(format!("cannot use the EncodingAESKey: {e}")),
            };
        }
    };
    let timestamp = inner.now().to_string();
    let nonce = ids::random_digits(10);
    let (body, signature) = crypt.encrypt_to_post_body(
        &event.to_xml(),
        &channel.receive_id,
        &channel.to_user_name,
        channel.agent_id.as_deref(),
        &timestamp,
        &nonce,
    );
    let target = match with_query(
        &channel.url,
        &[("msg_signature", &signature), ("timestamp", &timestamp), ("nonce", &nonce)],
    ) {
        Ok(u) => u,
        Err(e) => {
            return PushOutcome { delivered: false, attempts: 0, error: Some(e) };
        }
    };
    let deadline = if channel.command { inner.config.push_deadline_ms } else { APP_DEADLINE_MS };
    let max_attempts = inner.config.push_retries.saturating_add(1);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let sent = inner
            .http
            .post(target.clone())
            .header(reqwest::header::CONTENT_TYPE, "text/xml")
            .timeout(Duration::from_millis(deadline))
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                record.last_status = Some(status);
                record.last_error = None;
                if status == 200 && (!channel.command || text == "success") {
                    return PushOutcome { delivered: true, attempts, error: None };
                }
                let expected = if channel.command { "HTTP 200 \"success\"" } else { "HTTP 200" };
                record.last_error =
                    Some(format!("answer was HTTP {status} {:?}, not {expected}", truncate(&text, 200)));
            }
            Err(e) => {
                record.last_status = None;
                record.last_error = Some(format!("request failed: {e}"));
            }
        }
        if attempts >= max_attempts {
            return PushOutcome { delivered: false, attempts, error: record.last_error.clone() };
        }
        tokio::time::sleep(Duration::from_millis(inner.config.push_retry_delay_ms)).await;
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `InfoType` of a command event, for the stats.
fn info_type(event: &Event) -> &'static str {
    match event {
        Event::SuiteTicket { .. } => "suite_ticket",
        Event::CreateAuth { .. } => "create_auth",
        Event::ChangeAuth { .. } => "change_auth",
        Event::CancelAuth { .. } => "cancel_auth",
        Event::ResetPermanentCode { .. } => "reset_permanent_code",
        Event::ChangeContact { .. } => "change_contact",
        Event::Unknown { .. } => "other",
    }
}

/// Issues a new suite_ticket (valid from now, whether or not it is delivered) and pushes it.
/// Returns the ticket with the outcome.
pub(crate) async fn push_ticket(inner: &Inner, suite_id: &str) -> (String, PushOutcome) {
    let ticket = ids::random_token(64);
    let now = inner.now();
    inner.world().add_suite_ticket(suite_id, ticket.clone(), now);
    let event = Event::SuiteTicket { suite_id: suite_id.to_owned(), ticket: ticket.clone(), timestamp: now };
    let outcome = push_event(inner, suite_id, &event).await;
    (ticket, outcome)
}

/// Every `ticket_interval_secs` (first right away), pushes a new ticket to every suite and
/// template that has an event URL, each in its own task. Never returns.
pub(crate) async fn ticket_timer(inner: Arc<Inner>) {
    let secs = inner.config.ticket_interval_secs.max(1);
    let mut interval = tokio::time::interval(Duration::from_secs(secs));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let due: Vec<String> = {
            let world = inner.world();
            inner.all_suites().iter().filter(|s| world.event_url(s).is_some()).map(|s| s.id().to_owned()).collect()
        };
        for suite_id in due {
            let inner = inner.clone();
            tokio::spawn(async move {
                let (_, outcome) = push_ticket(&inner, &suite_id).await;
                if !outcome.delivered {
                    tracing::warn!(
                        suite_id,
                        attempts = outcome.attempts,
                        error = outcome.error.as_deref().unwrap_or(""),
                        "suite_ticket push not delivered"
                    );
                }
            });
        }
    }
}
