//! The login page's URL (`login.dingtalk.com/oauth2/auth`, reference §1.2): it answers with `authCode` (and on
//! a refusal `error=`) on the registered redirect URL.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// RFC 3986 unreserved characters stay; everything else is encoded ("all values URL-encoded", [DT-cred]); also
/// a path segment's encoding.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

pub(crate) fn enc(value: &str) -> String {
    utf8_percent_encode(value, VALUE).to_string()
}

/// The login page for an internal app. `scope=openid corpid` with `corpId` pre-selects the app's own
/// organisation, so a person in several organisations signs in as the member of the right one (and the code's
/// user token names it); `prompt=consent` is required [DT-cred].
pub fn login_url(login_base: &str, client_id: &str, corp_id: &str, redirect_uri: &str, state: &str) -> String {
    format!(
        "{}/oauth2/auth?redirect_uri={}&response_type=code&client_id={}&scope={}&prompt=consent&state={}&corpId={}",
        login_base.trim_end_matches('/'),
        enc(redirect_uri),
        enc(client_id),
        enc("openid corpid"),
        enc(state),
        enc(corp_id),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_is_encoded() {
        let url = login_url("https://login.dingtalk.com/", "dingabc", "ding&corp", "https://id.example/cb?x=1", "s1");
        assert_eq!(
            url,
            "https://login.dingtalk.com/oauth2/auth?redirect_uri=https%3A%2F%2Fid.example%2Fcb%3Fx%3D1\
             &response_type=code&client_id=dingabc&scope=openid%20corpid&prompt=consent&state=s1&corpId=ding%26corp"
        );
    }
}
