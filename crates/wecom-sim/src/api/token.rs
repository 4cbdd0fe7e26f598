//! `GET /cgi-bin/gettoken` (reference §1): an app's access token from corpid + secret.
//!
//! Valid secrets of a corp are its self-built apps' secrets and the current permanent codes of
//! delegated apps authorized in it (§7.5). A delegated app made from an upgraded template names its corp
//! by the provider's encrypted corp id, the plain one then being no corp it knows (document 39442: the
//! `corpid` parameter takes the encrypted value, path/97164).
//!
//! Within a token's lifetime the same token comes back, with the seconds it has left (path/91039: 有效期内
//! 重复获取返回相同结果，过期后获取会返回新的access_token); a delegated app's token dies early when its
//! permanent code is reset (`World::revoke_permanent_code`).
//!
//! A secret that is not (or no longer) an app's secret answers 40001: WeCom's global error code
//! table (path/90313) reads 40001 as 不合法的secret参数 (invalid secret), and a delegated app's
//! token is fetched exactly like a self-built app's, with the permanent code as corpsecret
//! (path/97164). 40084 (invalid permanent_code) belongs to the service endpoints that take a
//! `permanent_code` field (service/get_corp_token, get_auth_info), not to gettoken.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};

use super::{param, params, reply};
use crate::Shared;
use crate::errcode::{Obj, Wx};
use crate::state::Grant;

pub(crate) async fn gettoken(State(inner): State<Shared>, RawQuery(q): RawQuery) -> Wx {
    reply(issue(&inner, &params(q)))
}

fn issue(inner: &Shared, p: &HashMap<String, String>) -> Result<Wx, i64> {
    let corp_id = param(p, "corpid").ok_or(41002)?;
    let secret = param(p, "corpsecret").ok_or(41004)?;
    inner.any_corp(corp_id).ok_or(40013)?;
    let now = inner.now();
    let ttl = inner.config.token_ttl_secs;
    let mut world = inner.world();
    let app = world
        .apps
        .iter()
        .find(|a| a.secret.as_deref() == Some(secret) && inner.app_view(a).names_corp(&a.corp_id, corp_id))
        .map(|a| (a.corp_id.clone(), a.agent_id, a.enabled));
    match app {
        // A delegated app whose authorization was cancelled: the relation is gone (48004).
        Some((_, _, false)) => Err(48004),
        Some((corp_id, agent_id, true)) => {
            let grant = Grant::Corp { corp_id, agent_id };
            let live = world
                .tokens
                .iter()
                .filter(|(_, t)| t.grant == grant && now < t.expires_at)
                .max_by_key(|(_, t)| t.expires_at)
                .map(|(token, t)| (token.clone(), t.expires_at - now));
            let (token, expires_in) = match live {
                Some(live) => live,
                None => (world.issue_token(grant, now, ttl), ttl),
            };
            Ok(Wx::ok(Obj::new().with("access_token", token).with("expires_in", expires_in)))
        }
        None => Err(40001),
    }
}
