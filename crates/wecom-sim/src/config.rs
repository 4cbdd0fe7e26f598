//! Tunables of the simulator: lifetimes of everything it hands out and how it pushes events.
//!
//! The defaults are WeCom's own numbers (reference §1, §2.3, §3, §7.2, §7.4); tests shorten them or,
//! better, move the simulator's clock forward (`Simulator::advance_clock`, `POST /_sim/clock`).

/// Lifetimes and push behaviour of a [`crate::Simulator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Lifetime of access, suite and provider tokens (`expires_in`), seconds. WeCom: 7200.
    pub token_ttl_secs: i64,
    /// Lifetime of a login / OAuth / SDK `code`, seconds. WeCom: 300.
    pub code_ttl_secs: i64,
    /// Lifetime of a `user_ticket` (snsapi_privateinfo), seconds. WeCom: 1800.
    pub user_ticket_ttl_secs: i64,
    /// Lifetime of an authorization `AuthCode` (create_auth / reset_permanent_code), seconds. WeCom: 600.
    pub auth_code_ttl_secs: i64,
    /// Interval of the suite_ticket push to every template / suite with an event URL, seconds.
    /// WeCom: 600. `0` turns the timer off (tests push tickets explicitly).
    pub ticket_interval_secs: u64,
    /// How many times a push that was not answered `success` is retried (so at most
    /// `1 + push_retries` attempts).
    pub push_retries: u32,
    /// Pause before each retry, milliseconds.
    pub push_retry_delay_ms: u64,
    /// How long one push waits for the answer, milliseconds; a later answer is a failed attempt. WeCom: 1000
    /// (path/90642, 授权成功通知: 服务商的响应必须在1000ms内完成 — record the AuthCode, answer, then work).
    pub push_deadline_ms: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            token_ttl_secs: 7200,
            code_ttl_secs: 300,
            user_ticket_ttl_secs: 1800,
            auth_code_ttl_secs: 600,
            ticket_interval_secs: 600,
            push_retries: 3,
            push_retry_delay_ms: 1000,
            push_deadline_ms: 1000,
        }
    }
}
