//! The refresh-token cookie for web clients.

use axum::http::{HeaderMap, HeaderValue, header};
use time::Duration;

pub const NAME: &str = "refresh_token";

/// `Set-Cookie` for a refresh token: HttpOnly, Secure, SameSite=Lax.
pub fn set(token: &str, max_age: Duration) -> Option<HeaderValue> {
    let value = format!("{NAME}={token}; Path=/; Max-Age={}; HttpOnly; Secure; SameSite=Lax", max_age.whole_seconds());
    HeaderValue::from_str(&value).ok()
}

/// `Set-Cookie` that removes the cookie.
pub fn clear() -> HeaderValue {
    HeaderValue::from_static("refresh_token=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax")
}

/// The refresh token from the request's cookies, if any.
pub fn read(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == NAME && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; refresh_token=abc; b=2"));
        assert_eq!(read(&headers).as_deref(), Some("abc"));
        let set = set("abc", Duration::days(2)).expect("header");
        let set = set.to_str().expect("ascii");
        for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Max-Age=172800"] {
            assert!(set.contains(attr), "{set}");
        }
    }
}
