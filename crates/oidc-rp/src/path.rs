//! Dotted paths into a JSON answer (`id`, `data.user_id`), as plain OAuth 2.0 providers nest their
//! user objects differently.

use serde_json::Value;

/// The value at `path` (`a.b.c`; each segment an object key), if any.
pub fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, key| v.as_object()?.get(key))
}

/// The value at `path` as a string: strings as they are, numbers in their decimal form (GitHub's `id`),
/// anything else (objects, arrays, booleans, null, empty strings) as absent.
pub fn string_at(value: &Value, path: &str) -> Option<String> {
    match lookup(value, path)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether `path` is a dotted path of non-empty segments.
pub fn valid(path: &str) -> bool {
    !path.is_empty() && path.len() <= 200 && path.split('.').all(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nested_keys_numbers_and_absences() {
        let v = json!({"id": 42, "data": {"user_id": "u-1", "empty": "", "list": [1]}, "flag": true});
        assert_eq!(string_at(&v, "id").as_deref(), Some("42"));
        assert_eq!(string_at(&v, "data.user_id").as_deref(), Some("u-1"));
        assert_eq!(string_at(&v, "data.empty"), None);
        assert_eq!(string_at(&v, "data.list"), None);
        assert_eq!(string_at(&v, "flag"), None);
        assert_eq!(string_at(&v, "data.missing"), None);
        assert_eq!(string_at(&v, "id.deeper"), None);
        assert!(valid("data.user_id") && !valid("data..x") && !valid("") && !valid(".x"));
    }
}
