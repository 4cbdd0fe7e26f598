//! Every text of the hosted pages, in English and Chinese: one catalogue ([`Msg`]), written once per
//! message with both languages side by side, so a page cannot be complete in one language and not the
//! other. The language is picked from the request's `ui_locales`, then the `wegate_lang` cookie, then
//! `Accept-Language`.

use std::collections::BTreeMap;

use axum::http::HeaderMap;

use super::cookies;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    /// The first language we speak of `ui_locales` (OIDC, space-separated), the `wegate_lang` cookie, or
    /// `Accept-Language` (by q-weight); English otherwise.
    pub fn pick(ui_locales: Option<&str>, headers: &HeaderMap) -> Lang {
        if let Some(lang) = ui_locales.and_then(|locales| locales.split_whitespace().find_map(Lang::from_tag)) {
            return lang;
        }
        if let Some(lang) = cookies::get(headers, cookies::LANGUAGE).and_then(Lang::from_tag) {
            return lang;
        }
        let header = headers.get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let mut ranked: Vec<(f32, &str)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.trim().split(';');
                let tag = pieces.next()?.trim();
                let q =
                    pieces.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
                Some((q, tag))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
        ranked.iter().find_map(|(_, tag)| Lang::from_tag(tag)).unwrap_or(Lang::En)
    }

    /// `zh`, `zh-CN`, `zh_Hans`… → Chinese; `en…` → English.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The BCP 47 tag of the page (`<html lang>`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    /// The short code WeCom's pages and our language cookie take: `zh` or `en`.
    pub fn short(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// The other language, for the page's language switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }

    /// One message.
    pub fn t(self, msg: Msg) -> &'static str {
        msg.text(self)
    }

    /// One message with its `{name}` placeholders filled in.
    pub fn fmt(self, msg: Msg, args: &[(&str, &str)]) -> String {
        let mut text = msg.text(self).to_string();
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }

    /// All messages of the language by key, for templates (`{{ t.sign_in }}`).
    pub fn strings(self) -> BTreeMap<&'static str, &'static str> {
        Msg::ALL.iter().map(|m| (m.key(), m.text(self))).collect()
    }
}

macro_rules! catalogue {
    ($($name:ident $key:literal => $en:literal, $zh:literal;)*) => {
        /// A message of the hosted pages. Its key is what templates use (`t.<key>`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Msg {
            $($name,)*
        }

        impl Msg {
            pub const ALL: &'static [Msg] = &[$(Msg::$name,)*];

            pub fn key(self) -> &'static str {
                match self {
                    $(Msg::$name => $key,)*
                }
            }

            fn text(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((Msg::$name, Lang::En) => $en, (Msg::$name, Lang::Zh) => $zh,)*
                }
            }
        }
    };
}

catalogue! {
    // ---------------------------------------------------------------- the login page
    SignInTo "sign_in_to" => "Sign in to", "登录到";
    SignIn "sign_in" => "Sign in", "登录";
    ContinueWith "continue_with" => "Continue with", "使用以下方式继续";
    OrPassword "or_password" => "or with your account", "或使用账号密码";
    Login "login" => "Username, email or phone", "用户名、邮箱或手机号";
    Password "password" => "Password", "密码";
    NoConnections "no_connections" =>
        "No sign-in method is set up for this app yet. Ask your administrator.",
        "此应用尚未配置登录方式，请联系管理员。";
    BadPassword "bad_password" => "Wrong account or password.", "账号或密码错误。";
    OnlyInsideWecom "only_inside_wecom" =>
        "Signing in with WeCom works only inside the WeCom app for this app: open it from WeCom (工作台), or use \
         your account below.",
        "此应用的企业微信登录仅能在企业微信内使用：请从企业微信（工作台）中打开，或在下方使用账号密码登录。";
    AccountDisabled "account_disabled" => "This account is disabled.", "此账号已被停用。";
    AccountDisabledHint "account_disabled_hint" =>
        "An administrator disabled it. Ask your administrator if you think this is a mistake.",
        "管理员已停用此账号。如有疑问，请联系管理员。";
    LockedOut "locked_out" =>
        "Too many failed attempts for this account. Wait {minutes} minutes, or sign in another way.",
        "此账号密码错误次数过多，请 {minutes} 分钟后再试，或使用其他方式登录。";
    SwitchLanguage "switch_language" => "中文", "English";
    ClientCodeTitle "client_code_title" => "Signing you in", "正在登录";
    DirectoryUsername "directory_username" => "Username", "用户名";
    OtherWays "other_ways" => "Other ways to sign in", "其他登录方式";
    ClientCodeWait "client_code_wait" =>
        "Getting your identity from the app you are in…",
        "正在从当前应用获取您的身份……";
    ClientCodeNoscript "client_code_noscript" =>
        "This sign-in needs JavaScript, which is turned off in this browser.",
        "此登录方式需要 JavaScript，但当前浏览器已将其关闭。";
    Busy "busy" =>
        "Too many sign-ins are being checked right now. Try again in a moment.",
        "当前验证登录的请求过多，请稍后再试。";

    // ---------------------------------------------------------------- shared page parts
    ErrorTitle "error_title" => "Sign-in failed", "登录失败";
    WhatToDo "what_to_do" => "What to do", "怎么办";
    BackToApp "back_to_app" => "Back to the app", "返回应用";
    StartOver "start_over" => "Start over", "重新开始";
    Reference "reference" => "Reference", "参考编号";
    SignedOut "signed_out" => "You are signed out.", "您已退出登录。";
    HomeIntro "home_intro" =>
        "wegate signs your company's apps in with WeCom, through plain OpenID Connect.",
        "wegate 通过标准 OpenID Connect，让企业的各个应用使用企业微信登录。";
    Discovery "discovery" => "OpenID Connect discovery", "OpenID Connect 发现文档";
    InternalTitle "internal_title" => "Something went wrong", "服务器错误";
    InternalMessage "internal_message" =>
        "wegate could not complete your request. Try again in a moment; if it keeps happening, give the reference below to your administrator.",
        "处理您的请求时出错。请稍后重试；如果问题持续，请把参考编号告诉管理员。";

    // ---------------------------------------------------------------- ask to bind
    BindTitle "bind_title" => "Link your WeCom account", "关联您的企业微信账号";
    BindIntro "bind_intro" =>
        "Sign in once with your existing account to link it to this WeCom identity. Next time WeCom alone signs you in.",
        "请使用已有账号登录一次，以关联此企业微信身份。以后仅用企业微信即可登录。";
    BindSubmit "bind_submit" => "Sign in and link", "登录并关联";
    BindCreate "bind_create" => "Create a new account instead", "改为创建新账号";
    Or "or" => "or", "或";
    WecomMember "wecom_member" => "WeCom member", "企业微信成员";
    LinkedElsewhere "linked_elsewhere" =>
        "This WeCom identity is already linked to another account.",
        "此企业微信身份已关联到其他账号。";

    // ---------------------------------------------------------------- a login in progress
    TxExpired "tx_expired" =>
        "This sign-in has expired or was already completed.",
        "此登录已过期或已完成。";
    SignInAgain "sign_in_again" => "Go back to the app and sign in again.", "请回到应用重新登录。";
    OtherBrowser "other_browser" =>
        "This sign-in was started in a different browser (or its cookies were cleared).",
        "此登录是在另一个浏览器中开始的。";
    OtherBrowserHint "other_browser_hint" =>
        "Start the sign-in again from the app in this browser, with cookies allowed.",
        "请在同一个浏览器中从应用重新开始登录，并允许 Cookie。";
    StaleState "stale_state" =>
        "This sign-in link is invalid, has expired, or was already used.",
        "此登录链接无效、已过期或已被使用。";
    AppRemoved "app_removed" => "The app was removed.", "该应用已被删除。";
    ConnectionRemoved "connection_removed" => "This sign-in method was removed.", "此登录方式已被删除。";
    ConnectionNotEnabled "connection_not_enabled" =>
        "This sign-in method is not enabled for this app.",
        "此登录方式未对该应用启用。";
    PasswordNotOffered "password_not_offered" =>
        "This app asked for sign-in with one particular method; password sign-in is not offered here.",
        "该应用指定了登录方式，此处不提供密码登录。";
    MobileOnly "mobile_only" => "This sign-in method is for the mobile app only.", "此登录方式仅供移动应用使用。";

    // ---------------------------------------------------------------- the authorization request
    NoClientId "no_client_id" => "The request has no client_id.", "请求缺少 client_id。";
    RetryFromApp "retry_from_app" =>
        "Start the sign-in again from the app. If it keeps happening, tell the app's developer.",
        "请从应用重新开始登录；如果问题持续，请告诉应用开发者。";
    UnknownClient "unknown_client" => "This app is not registered with wegate.", "此应用未在 wegate 注册。";
    UnknownClientHint "unknown_client_hint" =>
        "Ask the administrator to check the app's client_id.",
        "请管理员检查应用的 client_id。";
    NoRedirectUri "no_redirect_uri" => "The request has no redirect_uri.", "请求缺少 redirect_uri。";
    NoRedirectUriHint "no_redirect_uri_hint" =>
        "The app must send one of its registered redirect URIs.",
        "应用必须在请求中携带已注册的回调地址。";
    UnregisteredRedirect "unregistered_redirect" =>
        "The app asked to return to an address (redirect_uri) that is not registered for it, so sign-in stopped rather than send you somewhere unknown.",
        "回调地址（redirect_uri）未为此应用注册，登录已停止，以免把您带到未知网站。";
    UnregisteredRedirectHint "unregistered_redirect_hint" =>
        "The administrator must add this exact address to the app's redirect_uris, or the developer must fix the request.",
        "请管理员把该地址添加到应用的 redirect_uris，或让开发者修正请求。";
    DuplicateParameter "duplicate_parameter" =>
        "The parameter {name} appears more than once.",
        "参数 {name} 出现了不止一次。";
    StartAgain "start_again" => "Start the sign-in again from the app.", "请从应用重新开始登录。";

    // ---------------------------------------------------------------- sign-out
    LogoutTitle "logout_title" => "Sign out?", "退出登录？";
    LogoutPrompt "logout_prompt" =>
        "You are about to sign out of wegate in this browser: the apps that use it will ask you to sign in again.",
        "您将在此浏览器中退出 wegate：使用它登录的应用将要求您重新登录。";
    LogoutSubmit "logout_submit" => "Sign out", "退出登录";
    BadIdTokenHint "bad_id_token_hint" =>
        "The id_token_hint is not a valid ID token from this server.",
        "id_token_hint 无效。";
    ClientMismatch "client_mismatch" =>
        "client_id does not match the id_token_hint.",
        "client_id 与 id_token_hint 不一致。";
    UnregisteredLogoutRedirect "unregistered_logout_redirect" =>
        "The address to return to after sign-out is not registered for this app, so wegate will not go there.",
        "退出后跳转地址未注册，已停止跳转。";
    UnregisteredLogoutRedirectHint "unregistered_logout_redirect_hint" =>
        "The administrator must add it to the app's post_logout_redirect_uris.",
        "请管理员把该地址加入应用的 post_logout_redirect_uris。";

    // ---------------------------------------------------------------- why a sign-in failed (login::outcome)
    NoAccount "no_account" =>
        "There is no account for you here. This sign-in method only lets existing accounts in.",
        "这里没有您的账号。此登录方式只允许已有账号登录。";
    NoAccountHint "no_account_hint" =>
        "Ask your administrator to create an account for you or link your WeCom identity.",
        "请联系管理员为您创建账号或关联您的企业微信身份。";
    Ambiguous "ambiguous" =>
        "Your WeCom profile matches more than one account, so wegate cannot tell which one is yours.",
        "您的企业微信资料与多个账号匹配，无法确定是哪一个。";
    AmbiguousHint "ambiguous_hint" =>
        "Ask your administrator to resolve the duplicate email or phone number.",
        "请管理员清理重复的邮箱或手机号。";
    Cancelled "cancelled" => "You cancelled the sign-in in WeCom.", "您在企业微信中取消了登录。";
    CancelledHint "cancelled_hint" => "Try again if you meant to sign in.", "如需登录，请重试。";
    NotAllowed "not_allowed" =>
        "Your WeCom account is not allowed to use this app.",
        "您的企业微信账号无权使用此应用。";
    NotAllowedHint "not_allowed_hint" =>
        "An administrator must add you to the WeCom app's visible scope.",
        "管理员需要把您加入该企业微信应用的可见范围。";
    Departed "departed" =>
        "Your WeCom account is disabled, or no longer in this company's address book.",
        "您的企业微信账号已被停用，或已不在该企业的通讯录中。";
    DepartedHint "departed_hint" =>
        "If you still work here, ask your WeCom administrator to restore your account.",
        "如您仍在职，请联系企业微信管理员恢复您的账号。";
    NotMember "not_member" => "You are not a member of this company in WeCom.", "您不是该企业的成员。";
    NotMemberHint "not_member_hint" =>
        "Scan with the WeCom account of your company.",
        "请使用所在企业的企业微信账号扫码。";
    LinkedCorp "linked_corp" =>
        "You signed in as a member of a company linked to this one in WeCom, not as a member of this company.",
        "您是以关联企业（企业互联/上下游）成员的身份登录的，而不是本企业的成员。";
    LinkedCorpHint "linked_corp_hint" =>
        "This app is for members of its own company. Sign in with that company's WeCom account, or ask your administrator.",
        "此应用仅供本企业成员使用。请使用本企业的企业微信账号登录，或联系管理员。";
    CorpNotAllowed "corp_not_allowed" =>
        "Your company is not allowed to sign in this way.",
        "您的企业未获准通过此方式登录。";
    CorpNotAllowedHint "corp_not_allowed_hint" =>
        "Ask your administrator: your company's authorization may have been cancelled.",
        "请联系管理员：企业的授权可能已被取消。";
    NotReady "not_ready" =>
        "This sign-in method is not fully set up yet: {step}",
        "此登录方式尚未配置完成：{step}";
    NotReadyHint "not_ready_hint" =>
        "Ask your administrator to finish the set-up, then try again.",
        "请管理员完成配置后再试。";
    CodeInvalid "code_invalid" =>
        "The sign-in code from WeCom is invalid, has expired, or was already used.",
        "企业微信返回的登录凭证无效、已过期或已被使用。";
    ProviderIpWhitelist "provider_ip_whitelist" =>
        "WeCom refused the call because this server's IP is not on the service provider's IP whitelist. The administrator must add wegate's egress IP in the service-provider console (服务商管理后台 → IP白名单).",
        "企业微信拒绝了调用：本服务器 IP 不在服务商的 IP 白名单中。请管理员在服务商管理后台的 IP 白名单中添加 wegate 的出口 IP。";
    UpstreamTimeout "upstream_timeout" => "WeCom did not answer in time.", "企业微信没有及时响应。";
    UpstreamFailed "upstream_failed" =>
        "WeCom could not complete the sign-in right now.",
        "企业微信暂时无法完成登录。";
    ErrcodeHint "errcode_hint" =>
        "WeCom error code {code}. Try again in a moment; if it keeps happening, give the reference to your administrator.",
        "企业微信错误码 {code}。请稍后重试；如果问题持续，请把参考编号告诉管理员。";
    RetryHint "retry_hint" =>
        "Try again in a moment; if it keeps happening, give the reference to your administrator.",
        "请稍后重试；如果问题持续，请把参考编号告诉管理员。";
    Misconfigured "misconfigured" => "This sign-in method is misconfigured.", "登录方式配置有误。";
    Unverified "unverified" =>
        "wegate could not verify the sign-in service's answer, so nobody was signed in.",
        "无法验证登录服务返回的结果，因此没有登录任何人。";
    ProviderCancelled "provider_cancelled" => "You cancelled the sign-in at {provider}.", "您在 {provider} 取消了登录。";
    ProviderNotAllowed "provider_not_allowed" =>
        "Your {provider} account is not allowed to use this app.",
        "您的 {provider} 账号无权使用此应用。";
    ProviderNotAllowedHint "provider_not_allowed_hint" =>
        "Sign in with the account your organisation gave you, or ask your administrator.",
        "请使用组织为您分配的账号登录，或联系管理员。";
    ProviderNotMember "provider_not_member" =>
        "Your {provider} account is not an employee of the organisation this app is for.",
        "您的 {provider} 账号不是此应用所属组织的员工。";
    ProviderNotMemberHint "provider_not_member_hint" =>
        "Sign in with the {provider} account of your organisation. Accounts of other organisations and external contacts cannot sign in here.",
        "请使用您所在组织的 {provider} 账号登录。其他组织的账号和外部联系人无法在此登录。";
    ProviderErrcodeHint "provider_errcode_hint" =>
        "{provider} error code {code}. Try again in a moment; if it keeps happening, give the reference to your administrator.",
        "{provider} 错误码 {code}。请稍后重试；如果问题持续，请把参考编号告诉管理员。";
    DirectoryUnavailable "directory_unavailable" =>
        "{provider} could not be reached right now. Try again in a moment; if it keeps happening, tell your administrator.",
        "暂时无法连接 {provider}。请稍后重试；如果问题持续，请告知管理员。";
    ProviderCodeInvalid "provider_code_invalid" =>
        "The sign-in code from {provider} is invalid, has expired, or was already used.",
        "{provider} 返回的登录凭证无效、已过期或已被使用。";
    ProviderTimeout "provider_timeout" => "{provider} did not answer in time.", "{provider} 没有及时响应。";
    ProviderFailed "provider_failed" =>
        "{provider} could not complete the sign-in right now.",
        "{provider} 暂时无法完成登录。";
    ProviderDenied "provider_denied" =>
        "{provider} did not sign you in; it answered: {error}",
        "{provider} 没有完成登录，返回：{error}";
    ProviderDeniedHint "provider_denied_hint" =>
        "Try again; if it keeps happening, give the reference to your administrator, who can check the connection's client id, scopes and redirect URL at the provider.",
        "请重试；如果问题持续，请把参考编号告诉管理员，由其检查该登录方式在提供方处的 client id、scope 和回调地址。";
    GiveReference "give_reference" => "Give the reference to your administrator.", "请把参考编号告诉管理员。";

    // ---------------------------------------------------------------- set-up steps a sign-in may wait for
    StepUrlNotVerified "step_url_not_verified" =>
        "WeCom has not verified the event URL yet: paste the connection's event URL into the template's callback URL in the service-provider console and save",
        "企业微信尚未验证事件接收 URL：请把该登录方式的事件 URL 填入服务商后台代开发模版的回调 URL 并保存";
    StepTemplateNotSet "step_template_not_set" =>
        "the template id and secret are not set: once the template is online, copy its 模版ID and Secret from the service-provider console into the connection",
        "尚未填写模版 ID 和 Secret：模版上线后，请从服务商后台把模版ID和Secret填入该登录方式";
    StepNoTemplateTicket "step_no_template_ticket" =>
        "no suite_ticket received yet: WeCom pushes one every 10 minutes once the template's callback URL is saved (or push it by hand in the console)",
        "尚未收到 suite_ticket：保存模版回调 URL 后，企业微信每 10 分钟推送一次（也可在后台手动推送）";
    StepNoCorpAuthorized "step_no_corp_authorized" =>
        "no corp has authorized the template yet: an administrator of the corp must scan the template's authorization QR code",
        "尚无企业授权该模版：需要企业管理员扫描模版的授权二维码";
    StepPermanentCodePending "step_permanent_code_pending" =>
        "the permanent code has not been fetched yet; try again in a moment",
        "尚未获取永久授权码，请稍后再试";
    StepNoAgentId "step_no_agent_id" =>
        "the authorization did not include the app's agent id; set agent_id on the connection",
        "授权信息中没有应用的 AgentID，请在登录方式中填写 agent_id";
    StepNoAppTicket "step_no_app_ticket" =>
        "Feishu has not pushed the marketplace app's app_ticket yet: check the event URL in the developer console (事件与回调); wegate asked Feishu to push it again",
        "飞书尚未推送商店应用的 app_ticket：请检查开发者后台的事件与回调地址；wegate 已请求飞书重新推送";
    StepNoSuiteTicket "step_no_suite_ticket" =>
        "no suite_ticket received yet: save the connection's event URL as the suite's callback URL in the service-provider console; WeCom pushes a ticket every 10 minutes",
        "尚未收到 suite_ticket：请在服务商后台把该登录方式的事件 URL 设为应用的回调 URL；企业微信每 10 分钟推送一次";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_weights_are_respected() {
        let mut headers = HeaderMap::new();
        headers.insert("accept-language", "en;q=0.5, zh-CN;q=0.9".parse().unwrap());
        assert_eq!(Lang::pick(None, &headers), Lang::Zh);
        headers.insert("accept-language", "fr, en-GB;q=0.8, zh;q=0.1".parse().unwrap());
        assert_eq!(Lang::pick(None, &headers), Lang::En);
        assert_eq!(Lang::pick(Some("zh-Hans en"), &headers), Lang::Zh);
        assert_eq!(Lang::pick(None, &HeaderMap::new()), Lang::En);
    }

    #[test]
    fn the_language_cookie_comes_between_ui_locales_and_accept_language() {
        let mut headers = HeaderMap::new();
        headers.insert("accept-language", "en".parse().unwrap());
        headers.insert("cookie", "wegate_lang=zh-CN".parse().unwrap());
        assert_eq!(Lang::pick(None, &headers), Lang::Zh);
        assert_eq!(Lang::pick(Some("en"), &headers), Lang::En);
    }

    #[test]
    fn every_message_has_both_languages_and_a_unique_key() {
        let mut keys = std::collections::HashSet::new();
        for msg in Msg::ALL {
            assert!(!Lang::En.t(*msg).is_empty() && !Lang::Zh.t(*msg).is_empty(), "{msg:?}");
            assert!(keys.insert(msg.key()), "duplicate key {}", msg.key());
        }
    }

    #[test]
    fn placeholders_are_filled_in() {
        assert_eq!(
            Lang::Zh.fmt(Msg::LockedOut, &[("minutes", "10")]),
            "此账号密码错误次数过多，请 10 分钟后再试，或使用其他方式登录。"
        );
    }
}
