//! Set-up aids that need no WeCom call (CONTRACT.md, "Login page and set-up aids"): the value to paste into
//! WeCom's trusted-domain fields, sentences for settings that cannot work as configured, and the check of a
//! login button's icon.

use crate::store::{AssociationMode, Connection, KindSettings, MatchField, WebScope};

/// The callback URL's host, with the port when it is not the scheme's default: what WeCom's 可信域名 /
/// 授权回调域 fields want (no scheme, no path; WeCom compares the port too).
pub fn trusted_domain(callback_url: &str) -> String {
    match url::Url::parse(callback_url) {
        Ok(url) => match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            _ => String::new(),
        },
        Err(_) => String::new(),
    }
}

/// Settings that are accepted but cannot work as configured, each as a sentence for the admin.
pub fn warnings(connection: &Connection) -> Vec<String> {
    let mut out = Vec::new();
    let association = &connection.association;
    if association.mode == AssociationMode::Match {
        // Since 2022 WeCom gives email and mobile only after snsapi_privateinfo consent (and never to
        // delegated or third-party apps), so a kind without that consent step never has them.
        let no_contact = match &connection.settings {
            KindSettings::QrCode(_) | KindSettings::Mobile(_) => Some("WeCom gives this kind no email or mobile"),
            KindSettings::Web(s) if s.scope == WebScope::SnsapiBase => {
                Some("snsapi_base gives no email or mobile (snsapi_privateinfo does, with consent)")
            }
            KindSettings::Delegated(_) | KindSettings::Provider(_) => {
                Some("WeCom never gives delegated or third-party apps a member's email or mobile")
            }
            // The directory's email and mobile need the 成员信息读权限 and 邮箱等个人信息 / 手机号 permissions.
            KindSettings::DingTalkQrCode(_) | KindSettings::DingTalkWeb(_) | KindSettings::DingTalkMobile(_) => None,
            // Feishu's email and mobile are admin-imported, vouched for by nobody [FS-uinfo].
            KindSettings::Feishu(_) | KindSettings::FeishuMarketplace(_) => {
                Some("Feishu vouches for no email or mobile (only trust_email makes its email count)")
            }
            // A directory's mail and phone attributes are whatever its admins typed in.
            KindSettings::Ldap(_) => {
                Some("a directory vouches for no email or phone (only trust_email makes its email count)")
            }
            KindSettings::Oidc(_) => None,
            KindSettings::OAuth2(_) => Some(
                "a plain OAuth 2.0 provider vouches for no email or phone (only trust_email makes its email count)",
            ),
            KindSettings::Web(_) => None,
        };
        for field in &association.fields {
            let name = match field {
                MatchField::Email => "email",
                MatchField::Phone => "phone",
                MatchField::Username => "username",
            };
            let why = match (field, no_contact) {
                (MatchField::Email | MatchField::Phone, Some(why)) => Some(why.to_string()),
                (MatchField::Username, _)
                    if matches!(connection.settings, KindSettings::Delegated(_) | KindSettings::Provider(_)) =>
                {
                    Some(
                        "WeCom gives delegated and third-party apps encrypted userids, which no username equals".into(),
                    )
                }
                _ => None,
            };
            if let Some(why) = why {
                // The date is WeCom's: its apps created since then get no contact fields.
                let since =
                    if connectors_wecom(&connection.settings) { " (apps created after 2022-06-20)" } else { "" };
                out.push(format!(
                    "association matches on {name}, but {why}{since}: no sign-in will ever match, and each creates a \
                     new account"
                ));
            }
        }
    }
    out
}

/// A login button's icon: an https URL, or a `data:image/…;base64,` URI of at most 64 KiB. Shown with
/// `<img>`, which the pages' CSP allows from `https:` and `data:` only.
pub fn check_icon_url(icon: &str) -> Result<(), String> {
    if let Some(rest) = icon.strip_prefix("data:image/") {
        let kind = rest.split(';').next().unwrap_or_default();
        let known = ["png", "jpeg", "gif", "webp", "svg+xml"].contains(&kind);
        if !known || !rest.contains(";base64,") || icon.len() > 64 * 1024 {
            return Err(
                "icon_url: a data URI must be data:image/(png|jpeg|gif|webp|svg+xml);base64,… up to 64 KiB".into()
            );
        }
        return Ok(());
    }
    match url::Url::parse(icon) {
        Ok(url)
            if url.scheme() == "https" && url.host().is_some() && url.username().is_empty() && icon.len() <= 2048 =>
        {
            Ok(())
        }
        _ => Err("icon_url must be an https URL (up to 2048 characters) or a data:image/… URI".into()),
    }
}

/// Whether the connection is one of WeCom's kinds.
fn connectors_wecom(settings: &KindSettings) -> bool {
    settings.kind().starts_with("wecom_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trusted_domain_names_the_port_only_when_it_is_not_the_default() {
        assert_eq!(trusted_domain("https://sso.example.com/connections/x/callback"), "sso.example.com");
        assert_eq!(trusted_domain("https://sso.example.com:443/c"), "sso.example.com");
        assert_eq!(trusted_domain("http://127.0.0.1:8080/c"), "127.0.0.1:8080");
    }

    #[test]
    fn icons_are_https_or_image_data() {
        assert!(check_icon_url("https://cdn.example.com/wecom.svg").is_ok());
        assert!(check_icon_url("data:image/png;base64,iVBORw0KGgo=").is_ok());
        for bad in
            ["http://cdn.example.com/a.png", "javascript:alert(1)", "data:text/html;base64,PHA+", "data:image/png,raw"]
        {
            assert!(check_icon_url(bad).is_err(), "{bad}");
        }
    }
}
