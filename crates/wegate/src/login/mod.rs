//! The browser login, one file per step, in the order a person goes through them:
//!
//! 1. `authorize` — the app's request is checked; single sign-on (`sso`: may this session enter this app
//!    now?) answers at once, otherwise a login transaction (`tx`) is stored and
//! 2. `page` — the hosted login page shows a button per connection and the password form;
//! 3. `start` — a button sends the browser to WeCom (the connector's login URL, `state` = transaction);
//! 4. `callback` — WeCom sends it back with a code: the connector turns it into an identity and
//!    `accounts` into a user — or
//! 5. `bind` — asks the person to link an existing account, or `password` signs in locally;
//! 6. `finalize` — session, code, and the redirect to the app; or, when a step failed, the page that
//!    says why (`outcome`, the one table of failures).
//!
//! `native` is the same flow for native apps, without a browser: the WeCom SDK's code arrives at
//! `/token` (RFC 8693 token exchange).

pub mod authorize;
pub mod bind;
pub mod callback;
pub mod directory;
pub mod finalize;
pub mod native;
pub mod outcome;
pub mod page;
pub mod password;
pub mod sso;
pub mod start;
pub mod tx;
