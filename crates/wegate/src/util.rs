//! Small shared helpers: random tokens, hashing of secrets, constant-time comparison, the clock.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use rand::distributions::Alphanumeric;
use sha2::{Digest, Sha256};

/// Howard Hinnant's days since the epoch → (year, month, day), UTC.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `secs` since the epoch as `2026-12-07T03:40:00Z` (UTC).
pub fn rfc3339(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Unix time in seconds. The one place the server reads the wall clock; handlers take `now` from
/// [`crate::app::App::now`] so tests could move it.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// 256 bits of randomness, base64url without padding (43 characters): codes, refresh tokens, session ids.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::thread_rng().r#gen();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Random `[A-Za-z0-9]` string. Used where WeCom restricts the alphabet (`state` must be `a-zA-Z0-9`).
pub fn random_alnum(len: usize) -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

/// Time-ordered id: 12 hex digits of milliseconds, then 20 random hex digits. Sorts by creation, so
/// cursor pagination over ids lists oldest first; within one process ids strictly increase even in the same
/// millisecond (the random part counts up), so two objects made back to back list in that order.
pub fn time_ordered_id(prefix: &str) -> String {
    static LAST: std::sync::Mutex<(u64, u128)> = std::sync::Mutex::new((0, 0));
    const RANDOM_BITS: u128 = (1u128 << 80) - 1;
    let millis =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let (millis, random) = if millis > last.0 || last.1 >= RANDOM_BITS {
        (millis.max(last.0 + u64::from(last.1 >= RANDOM_BITS)), rand::thread_rng().r#gen::<u128>() & (RANDOM_BITS >> 1))
    } else {
        (last.0, last.1 + 1 + (rand::thread_rng().r#gen::<u128>() & 0xffff))
    };
    *last = (millis, random.min(RANDOM_BITS));
    format!("{prefix}{millis:012x}{:020x}", random.min(RANDOM_BITS))
}

/// A person-typed value made safe for a log line or the audit trail: control characters escaped (a
/// newline cannot forge a line) and the length bounded.
pub fn loggable(input: &str) -> String {
    const MAX: usize = 256;
    let mut out = String::with_capacity(input.len().min(MAX));
    for (i, c) in input.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// SHA-256, lowercase hex. Secrets that only need comparing (codes, tokens, client secrets) are stored so.
pub fn sha256_hex(input: &str) -> String {
    hex::encode(Sha256::digest(input.as_bytes()))
}

/// SHA-256, base64url without padding (PKCE S256).
pub fn sha256_b64url(input: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(input))
}

/// Constant-time equality for secrets.
pub fn secure_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A same-origin path to send a browser to, or None (CONTRACT.md: a `return` or redirect target taken from a
/// query is a same-origin path or refused). Browsers drop tabs and newlines inside URLs and read `\\` as
/// `/` (WHATWG URL), so `/\t/evil.example` would be `//evil.example`, another site: no ASCII control
/// character or space passes (non-ASCII text does: browsers percent-encode it in a path), and never `//`
/// or `/\\` at the start.
pub fn local_path(target: &str) -> Option<&str> {
    let visible = target.bytes().all(|b| (0x21..=0x7e).contains(&b) || b >= 0x80);
    let rest = target.strip_prefix('/')?;
    (visible && !rest.starts_with('/') && !target.contains('\\')).then_some(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_614_800), "2026-12-07T03:40:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn ids_made_back_to_back_sort_in_order() {
        let ids: Vec<String> = (0..1000).map(|_| time_ordered_id("app_")).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(ids.iter().all(|id| id.len() == 4 + 32));
    }

    #[test]
    fn typed_input_cannot_forge_a_log_line() {
        let forged = "alice\n2026-11-24T12:00:00Z  INFO admin signed in";
        let safe = loggable(forged);
        assert!(!safe.contains('\n'), "{safe}");
        assert!(safe.starts_with("alice\\n2026"));
        assert_eq!(loggable(&"x".repeat(500)).chars().count(), 257);
        assert_eq!(loggable("张三 ok"), "张三 ok");
    }

    #[test]
    fn only_same_origin_paths_are_local() {
        for ok in ["/", "/login/abc?x=1", "/console/users/u1", "/a%09b", "/console/users?q=张三"] {
            assert_eq!(local_path(ok), Some(ok), "{ok:?}");
        }
        for bad in [
            "",
            "evil.example",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "\t//evil.example",
            " /x",
            "/x y",
            "https://evil.example",
            "/\\/evil.example",
            "/x\u{7f}",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
    }
}
