//! Feishu / Lark (飞书) server protocol as a library: the calls a broker's sign-in needs, the app and tenant
//! tokens cached and shared between instances (`token-cache`), the authorize page's URL, the event crypto of
//! the HTTP event mode, and every error turned into what it asks of whom. No web server, no database.
//!
//! Two error shapes (wegate's protocol reference, `shared/upstreams.md` §2.0): the v2 OAuth token endpoint is
//! RFC 6749-shaped (HTTP 400/500/503 with `{"code","error","error_description"}`); every other API answers
//! HTTP 200 with `{"code","msg","data"}`, `code` ≠ 0 an error. Feishu and Lark differ only in their hosts
//! (`open.feishu.cn` / `open.larksuite.com`, `accounts.feishu.cn` / `accounts.larksuite.com`).

pub mod client;
pub mod errors;
pub mod event;
pub mod url;

pub use client::{AppCredential, Client, ClientConfig, ContactUser, Observer, Tenant, UserInfo, UserToken};
pub use errors::{Advice, Audience, Error};
pub use event::{Event, EventError};
pub use token_cache::{CachedToken, MemoryTokenStore, TokenSource, TokenStore};
