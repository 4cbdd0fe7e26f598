//! What WeCom, Feishu and native apps call on a connection directly, outside the browser login: the encrypted
//! event URL (`events`; a Feishu marketplace app's in `feishu`), the trusted-domain verification file (`domain_file`), and the SDK set-up of a
//! `wecom_mobile` connection (`mobile_config`).

pub mod contacts;
pub mod domain_file;
pub mod events;
pub mod feishu;
pub mod mobile_config;
