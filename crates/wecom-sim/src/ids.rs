//! Identifiers the simulator mints: random ones (tokens, codes, tickets, permanent codes) and
//! stable derived ones (openid of outsiders, open_userid and cipher userids when the seed gives
//! none), shaped like WeCom's.

use rand::Rng;
use rand::distributions::Alphanumeric;

/// `len` random characters from `[A-Za-z0-9]`.
pub(crate) fn random_alnum(len: usize) -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

/// `len` random characters from the URL-safe alphabet WeCom uses in tokens and codes.
pub(crate) fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::thread_rng();
    (0..len).map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())])).collect()
}

/// A random decimal string of exactly `len` digits (no leading zero).
pub(crate) fn random_digits(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|i| {
            let d = if i == 0 { rng.gen_range(1..10) } else { rng.gen_range(0..10) };
            char::from(b'0' + d)
        })
        .collect()
}

/// 64-bit FNV-1a: stable across runs and platforms (unlike `DefaultHasher`'s contract).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// A stable string of `len` alphanumerics derived from `parts`.
pub(crate) fn derived(parts: &[&str], len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    let mut round = 0u64;
    while out.len() < len {
        let round_s = round.to_string();
        let mut all: Vec<&str> = parts.to_vec();
        all.push(&round_s);
        let mut h = fnv1a(&all);
        for _ in 0..10 {
            if out.len() == len {
                break;
            }
            out.push(char::from(ALPHABET[(h % 62) as usize]));
            h /= 62;
        }
        round += 1;
    }
    out
}

/// WeCom-looking `openid` of someone outside a corp (stable per corp or suite and person).
pub(crate) fn openid(scope: &str, who: &str) -> String {
    format!("o{}", derived(&["openid", scope, who], 27))
}

/// A member's encrypted userid under a service provider (服务商主体的密文userid): what the provider's
/// third-party and delegated apps get as `userid` (and third-party apps as `open_userid`) since 2022.
/// The same for all of one provider's apps, different for another provider (path/96516 §2.1, path/97104
/// §2.1); mixed case, so compared exactly (document 39442: 密文大小写敏感).
pub(crate) fn open_userid(provider_corp_id: &str, corp_id: &str, userid: &str) -> String {
    format!("wo{}", derived(&["open_userid", provider_corp_id, corp_id, &userid.to_lowercase()], 30))
}

/// A corp's encrypted corp id under a service provider (服务商主体的密文corpid, path/96516 §1.1): the same
/// for all of the provider's apps, different per provider, case-sensitive. WeCom's look like `wp…`.
pub(crate) fn open_corpid(provider_corp_id: &str, corp_id: &str) -> String {
    format!("wp{}", derived(&["open_corpid", provider_corp_id, &corp_id.to_lowercase()], 30))
}

/// The cipher userid `getuserinfo3rd` gives for a member of a corp with no authorization relation.
pub(crate) fn cipher_userid(provider: &str, corp_id: &str, userid: &str) -> String {
    format!("wo{}", derived(&["cipher", provider, corp_id, &userid.to_lowercase()], 30))
}

/// The `qr_code` URL of a member (personal QR code page).
pub(crate) fn qr_code(corp_id: &str, userid: &str) -> String {
    format!(
        "https://open.work.weixin.qq.com/wwopen/userQRCode?vcode=vc{}",
        derived(&["qr", corp_id, &userid.to_lowercase()], 16)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_shaped() {
        assert_eq!(openid("ww1", "guest"), openid("ww1", "guest"));
        assert_ne!(openid("ww1", "guest"), openid("ww2", "guest"));
        assert_eq!(openid("ww1", "guest").len(), 28);
        assert_eq!(open_userid("wwp", "ww1", "Bob"), open_userid("wwp", "ww1", "bob"));
        assert_ne!(open_userid("wwp", "ww1", "bob"), open_userid("wwq", "ww1", "bob"));
        assert_ne!(open_corpid("wwp", "ww1"), open_corpid("wwq", "ww1"));
        assert!(open_corpid("wwp", "ww1").starts_with("wp"));
        assert_eq!(random_digits(19).len(), 19);
        assert!(random_token(64).bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }
}
