//! One module per grant type of `/token`. The RFC 8693 token exchange is here as a frame only
//! (`token::SubjectTokenExchange`): what a subject token means is the login flow's business.

pub mod authorization_code;
pub mod refresh_token;
