//! WeCom (企业微信) server protocol as a library: an API client with a shared access-token cache, the
//! callback crypto, event parsing, login-URL builders and an errcode catalogue. No web server and no
//! database: the token cache is the `token-cache` crate's, over a small trait ([`TokenStore`]) the caller backs with whatever it shares.
//!
//! Everything follows wegate's protocol reference (`shared/wecom-protocol.md`); where WeCom's behaviour is
//! unconfirmed, the tolerant reading is taken and said so where it happens.

pub mod client;
pub mod crypto;
pub mod errcode;
pub mod event;
pub mod observe;
pub mod url;

pub use client::{Client, ClientConfig, CorpApp, Error, ProviderCredential, SuiteCredential};
pub use crypto::{CryptoError, Decrypted, MsgCrypt};
pub use event::{ContactMember, Event, parse_event};
pub use observe::Observer;
pub use token_cache::{CachedToken, MemoryTokenStore, TokenSource, TokenStore};
