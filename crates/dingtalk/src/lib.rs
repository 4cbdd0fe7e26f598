//! DingTalk (钉钉) server protocol as a library: the calls an internal app's sign-in needs, over DingTalk's
//! two API families, with the app token cached and shared between instances (`token-cache`), the login page's
//! URL, and every error turned into a sentence the admin or the person can act on. No web server and no
//! database.
//!
//! The two families differ in everything but the token (wegate's protocol reference, `shared/upstreams.md`
//! §1.0):
//! - `api.dingtalk.com/v1.0/...`: camelCase JSON bodies, the token in the `x-acs-dingtalk-access-token` header,
//!   errors as HTTP 4xx/5xx with `{"code","message","requestid"}`;
//! - `oapi.dingtalk.com` (`gettoken`, `topapi/...`): HTTP 200 with `errcode` ≠ 0 for errors, the token in the
//!   query string, data under `result`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), dingtalk::Error> {
//! use std::sync::Arc;
//! let client = dingtalk::Client::new(dingtalk::ClientConfig::default(), Arc::new(dingtalk::MemoryTokenStore::default()))?;
//! let app = dingtalk::AppCredential {
//!     client_id: "dingxxxx".into(),
//!     client_secret: "secret".into(),
//!     corp_id: "dingcorpxxxx".into(), // the organisation the app runs in: its token is asked for it
//! };
//! let user = client.user_access_token(&app, "AUTH-CODE-FROM-THE-REDIRECT").await?;
//! let me = client.me(&user.access_token).await?; // account-level: never proof of membership
//! let member = client.user_by_unionid(&app, &me.union_id).await?; // 60121 = not an employee of the app's org
//! println!("{} (contact_type {})", member.userid, member.contact_type);
//! # Ok(()) }
//! ```

pub mod client;
pub mod errors;
pub mod url;

pub use client::{AppCredential, Client, ClientConfig, CodeUser, Me, Member, Observer, UnionIdMember, UserToken};
pub use errors::{Advice, Audience, Error};
pub use token_cache::{CachedToken, MemoryTokenStore, TokenSource, TokenStore};
