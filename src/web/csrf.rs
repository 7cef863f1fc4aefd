//! Cross-site request refusal for requests a browser may have sent on its own.
//!
//! The rule follows the browser-metadata approach (as in Go's
//! `http.CrossOriginProtection`): a request with an unsafe method is refused
//! when the browser says it came from another origin, first by
//! `Sec-Fetch-Site` and, from browsers too old to send it, by `Origin`
//! compared with the request's own host. Trusted origins are let through.

use http::header::{HeaderMap, HOST, ORIGIN};
use http::{HeaderName, Method, Uri};

use crate::Error;

static SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// Origins (`scheme://host[:port]`) whose cross-origin requests are accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TrustedOrigins {
    /// Lowercase, exactly as browsers serialise an `Origin` header.
    origins: Vec<String>,
}

impl TrustedOrigins {
    /// Checks and stores `origins`.
    pub(crate) fn new<I, S>(origins: I) -> Result<TrustedOrigins, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = Vec::new();
        for origin in origins {
            let origin = origin.as_ref();
            let host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"))
                .ok_or(Error::WebConfig(
                    "a trusted origin must start with https:// or http://",
                ))?;
            let valid_host = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
            if !valid_host {
                return Err(Error::WebConfig(
                    "a trusted origin is scheme://host[:port], with no path, query or trailing slash",
                ));
            }
            out.push(origin.to_ascii_lowercase());
        }
        Ok(TrustedOrigins { origins: out })
    }

    fn contains(&self, origin: &[u8]) -> bool {
        self.origins
            .iter()
            .any(|trusted| trusted.as_bytes().eq_ignore_ascii_case(origin))
    }
}

/// Whether the method changes state, so a forged one would matter.
pub(crate) fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Whether a browser request is cross-origin and not trusted. Call only for
/// unsafe methods.
pub(crate) fn is_cross_origin(headers: &HeaderMap, uri: &Uri, trusted: &TrustedOrigins) -> bool {
    let origin = headers.get(ORIGIN).map(|v| v.as_bytes());
    if origin.is_some_and(|o| trusted.contains(o)) {
        return false;
    }
    if let Some(site) = headers.get(&SEC_FETCH_SITE) {
        // `none`: the user typed the address or used a bookmark.
        let site = site.as_bytes();
        return !(site.eq_ignore_ascii_case(b"same-origin") || site.eq_ignore_ascii_case(b"none"));
    }
    let Some(origin) = origin else {
        // Neither header: not a browser, or one too old to help; a
        // `SameSite` cookie is then the only defence.
        return false;
    };
    // Compare the origin's host[:port] with the request's own.
    let host = headers
        .get(HOST)
        .map(|h| h.as_bytes())
        .or_else(|| uri.authority().map(|a| a.as_str().as_bytes()));
    let origin_host = origin
        .strip_prefix(b"https://")
        .or_else(|| origin.strip_prefix(b"http://"));
    match (origin_host, host) {
        (Some(origin_host), Some(host)) => !origin_host.eq_ignore_ascii_case(host),
        // `Origin: null` (sandboxed frames, some redirects) or no host.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn decides_by_fetch_metadata_then_origin() {
        let none = TrustedOrigins::default();
        let uri = Uri::from_static("/x");
        let cross = |pairs: &[(&'static str, &'static str)], t: &TrustedOrigins| {
            is_cross_origin(&headers(pairs), &uri, t)
        };
        assert!(!cross(&[("sec-fetch-site", "same-origin")], &none));
        assert!(!cross(&[("sec-fetch-site", "none")], &none));
        assert!(cross(&[("sec-fetch-site", "same-site")], &none));
        assert!(cross(&[("sec-fetch-site", "cross-site")], &none));
        assert!(cross(&[("sec-fetch-site", "bogus")], &none));
        // Sec-Fetch-Site wins over a matching Origin.
        assert!(cross(
            &[
                ("sec-fetch-site", "cross-site"),
                ("origin", "http://a.test"),
                ("host", "a.test")
            ],
            &none
        ));
        assert!(!cross(&[], &none));
        assert!(!cross(
            &[("origin", "http://A.test:3000"), ("host", "a.test:3000")],
            &none
        ));
        assert!(cross(
            &[("origin", "http://evil.test"), ("host", "a.test")],
            &none
        ));
        assert!(cross(&[("origin", "null"), ("host", "a.test")], &none));
        assert!(cross(&[("origin", "http://a.test")], &none));
        let trusted = TrustedOrigins::new(["https://App.example.com"]).unwrap();
        assert!(!cross(
            &[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://app.example.com")
            ],
            &trusted
        ));
        assert!(cross(
            &[
                ("sec-fetch-site", "cross-site"),
                ("origin", "http://app.example.com")
            ],
            &trusted
        ));
    }

    #[test]
    fn trusted_origins_are_checked() {
        assert!(TrustedOrigins::new(["https://a.test:8443"]).is_ok());
        assert!(TrustedOrigins::new(["http://[::1]:3000"]).is_ok());
        assert!(TrustedOrigins::new(["a.test"]).is_err());
        assert!(TrustedOrigins::new(["https://a.test/"]).is_err());
        assert!(TrustedOrigins::new(["https://"]).is_err());
        assert!(TrustedOrigins::new(["https://a.test/path"]).is_err());
    }

    #[test]
    fn safe_methods() {
        assert!(!is_unsafe(&Method::GET));
        assert!(!is_unsafe(&Method::HEAD));
        assert!(!is_unsafe(&Method::OPTIONS));
        assert!(is_unsafe(&Method::POST));
        assert!(is_unsafe(&Method::PUT));
        assert!(is_unsafe(&Method::PATCH));
        assert!(is_unsafe(&Method::DELETE));
    }
}
