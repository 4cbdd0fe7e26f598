//! One module per grant type of the token endpoint.

pub mod authorization_code;
pub mod refresh_token;
pub mod token_exchange;
