//! HTTP-facing settings: the threads serving it, credentials in query strings, allowed origins,
//! trusted proxies.

use crate::client_ip::Cidr;

use super::{ConfigError, Env};

#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Threads serving HTTP (HTTP_WORKERS; how they share runtimes: `crate::http_workers`).
    pub workers: usize,
    pub allow_query_tokens: bool,
    /// Exact origins (scheme://host[:port]) allowed for credentialed browser requests.
    pub cors_origins: Vec<String>,
    /// Any `https://*.BASE_DOMAIN` origin is allowed too.
    pub base_domain: Option<String>,
    pub trusted_proxies: Vec<Cidr>,
    pub rate_limits: bool,
}

impl HttpConfig {
    pub fn from_env(env: &Env, base_url: &str) -> Result<Self, ConfigError> {
        let mut cors_origins = Vec::new();
        for origin in env.list("CORS_ORIGINS").unwrap_or_default() {
            if origin == "*" {
                return Err(ConfigError::new(
                    "CORS_ORIGINS",
                    "may not be * (credentials are never allowed for any origin)",
                ));
            }
            cors_origins.push(origin_of(&origin).ok_or_else(|| {
                ConfigError::new(
                    "CORS_ORIGINS",
                    format!("has {origin:?}, not an origin such as https://app.example.com"),
                )
            })?);
        }
        // Browsers on fastauth's own origin may always use the refresh cookie.
        if let Some(own) = origin_of(base_url) {
            cors_origins.push(own);
        }
        let base_domain =
            env.raw("BASE_DOMAIN").map(|d| d.trim_start_matches("*.").trim_start_matches('.').to_ascii_lowercase());
        if base_domain.as_ref().is_some_and(|d| d.is_empty() || d.contains(['/', ':', ' '])) {
            return Err(ConfigError::new("BASE_DOMAIN", "must be a domain such as example.com"));
        }
        let trusted_proxies = env
            .list("TRUSTED_PROXIES")
            .unwrap_or_default()
            .iter()
            .map(|c| c.parse::<Cidr>().map_err(|p| ConfigError::new("TRUSTED_PROXIES", format!("has {c:?}: {p}"))))
            .collect::<Result<_, _>>()?;
        let rate_limits = env.bool("RATE_LIMITS", true)?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Self {
            workers: env.get_in("HTTP_WORKERS", cores, 1..=1024)?,
            allow_query_tokens: env.bool("ALLOW_QUERY_TOKENS", true)?,
            cors_origins,
            base_domain,
            trusted_proxies,
            rate_limits,
        })
    }

    /// Whether a browser `Origin` may use credentials: an exact listed origin, or an https
    /// subdomain of BASE_DOMAIN. `null` and other http origins never match.
    pub fn is_allowed_origin(&self, origin: &str) -> bool {
        if self.cors_origins.iter().any(|o| o == origin) {
            return true;
        }
        let Some(domain) = &self.base_domain else { return false };
        let Some(host) = origin.strip_prefix("https://") else { return false };
        let host = host.split(':').next().unwrap_or_default().to_ascii_lowercase();
        host.strip_suffix(domain.as_str()).is_some_and(|sub| sub.ends_with('.') && sub.len() > 1)
    }
}

/// `scheme://host[:port]` of a URL, lower-cased; `None` if it is not http(s).
pub(super) fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next().filter(|h| !h.is_empty())?;
    Some(format!("{scheme}://{}", host.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_exactly_or_as_https_subdomains() {
        let env = Env::from_pairs(&[("CORS_ORIGINS", "https://app.example.org"), ("BASE_DOMAIN", "example.com")]);
        let http = HttpConfig::from_env(&env, "http://127.0.0.1:8000/").expect("valid");
        assert!(http.is_allowed_origin("https://app.example.org"));
        assert!(http.is_allowed_origin("http://127.0.0.1:8000"));
        assert!(http.is_allowed_origin("https://shop.example.com"));
        assert!(!http.is_allowed_origin("http://shop.example.com"), "http never matches BASE_DOMAIN");
        assert!(!http.is_allowed_origin("https://evilexample.com"));
        assert!(!http.is_allowed_origin("https://example.com.evil.net"));
        assert!(!http.is_allowed_origin("null"));
    }
}
