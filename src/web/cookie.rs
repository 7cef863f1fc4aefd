//! The session cookie: its attributes, checked when configured, and the
//! `Set-Cookie` and `Cookie` header syntax.

use cookie::time::{Duration as CookieDuration, OffsetDateTime};
use cookie::Cookie;
use http::header::{HeaderMap, HeaderValue, CACHE_CONTROL, COOKIE, SET_COOKIE};

use crate::Error;

/// The default session cookie name. The `__Host-` prefix tells browsers to
/// accept the cookie only if it is `Secure`, has `Path=/` and no `Domain`,
/// so neither a sibling subdomain nor a plain-HTTP page can plant or
/// overwrite it.
pub const DEFAULT_COOKIE_NAME: &str = "__Host-tessera";

/// The `SameSite` attribute of the session cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// Sent only with requests from the same site.
    Strict,
    /// Also sent on top-level navigations (links) from other sites, never with
    /// their subresource requests or cross-site `POST`s. The default.
    Lax,
    /// Sent with cross-site requests too; requires `Secure`.
    None,
}

/// The session cookie's name and attributes.
///
/// Defaults: name `__Host-tessera`, `HttpOnly` (scripts cannot read the
/// token), `Secure` (never sent over plain HTTP, except that browsers treat
/// `http://localhost` as secure), `SameSite=Lax`, `Path=/`, no `Domain` (the
/// cookie stays on the exact host that set it). Every cookie the layer sets
/// carries `Max-Age` = the seconds until its token expires, so the browser
/// drops it when the token would be refused anyway.
///
/// The setters accept anything; the rules are checked when the config is
/// handed to [`Sessions::cookie`](super::Sessions::cookie), which refuses a
/// `__Host-` name without `Secure`, with a path other than `/` or with a
/// domain; a `__Secure-` name without `Secure`; `SameSite=None` without
/// `Secure`; and names, paths or domains that are not valid cookie syntax.
///
/// ```
/// use tessera::web::{CookieConfig, SameSite};
///
/// let strict = CookieConfig::default().same_site(SameSite::Strict);
/// # let _ = strict;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieConfig {
    name: String,
    http_only: bool,
    secure: bool,
    same_site: SameSite,
    path: String,
    domain: Option<String>,
}

impl Default for CookieConfig {
    fn default() -> CookieConfig {
        CookieConfig {
            name: DEFAULT_COOKIE_NAME.to_owned(),
            http_only: true,
            secure: true,
            same_site: SameSite::Lax,
            path: "/".to_owned(),
            domain: None,
        }
    }
}

impl CookieConfig {
    /// The cookie's name (default `__Host-tessera`).
    pub fn name(mut self, name: &str) -> CookieConfig {
        name.clone_into(&mut self.name);
        self
    }

    /// Whether scripts are kept from reading the cookie (default `true`).
    pub fn http_only(mut self, on: bool) -> CookieConfig {
        self.http_only = on;
        self
    }

    /// Whether the cookie is sent over HTTPS only (default `true`).
    pub fn secure(mut self, on: bool) -> CookieConfig {
        self.secure = on;
        self
    }

    /// The `SameSite` attribute (default [`SameSite::Lax`]).
    pub fn same_site(mut self, same_site: SameSite) -> CookieConfig {
        self.same_site = same_site;
        self
    }

    /// The cookie's path (default `/`).
    pub fn path(mut self, path: &str) -> CookieConfig {
        path.clone_into(&mut self.path);
        self
    }

    /// The cookie's `Domain` attribute (default none: this host only). A
    /// domain shares the cookie with every subdomain; `__Host-` forbids it.
    pub fn domain(mut self, domain: &str) -> CookieConfig {
        self.domain = Some(domain.to_owned());
        self
    }

    /// The cookie's name.
    pub fn cookie_name(&self) -> &str {
        &self.name
    }

    /// Checks the prefix rules and the syntax.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.name.is_empty() || !self.name.bytes().all(is_token_byte) {
            return Err(Error::WebConfig(
                "the cookie name must be a non-empty HTTP token",
            ));
        }
        if !self.path.starts_with('/') || !self.path.bytes().all(is_attribute_byte) {
            return Err(Error::WebConfig(
                "the cookie path must start with '/' and hold no ';' or control characters",
            ));
        }
        if let Some(domain) = &self.domain {
            if domain.is_empty() || !domain.bytes().all(is_attribute_byte) {
                return Err(Error::WebConfig(
                    "the cookie domain must be non-empty and hold no ';' or control characters",
                ));
            }
        }
        // Browsers compare the prefixes case-insensitively.
        let lower = self.name.to_ascii_lowercase();
        if lower.starts_with("__host-") {
            if !self.secure {
                return Err(Error::WebConfig("a __Host- cookie must be Secure"));
            }
            if self.path != "/" {
                return Err(Error::WebConfig("a __Host- cookie must have Path=/"));
            }
            if self.domain.is_some() {
                return Err(Error::WebConfig("a __Host- cookie must not have a Domain"));
            }
        }
        if lower.starts_with("__secure-") && !self.secure {
            return Err(Error::WebConfig("a __Secure- cookie must be Secure"));
        }
        if self.same_site == SameSite::None && !self.secure {
            return Err(Error::WebConfig("a SameSite=None cookie must be Secure"));
        }
        Ok(())
    }

    /// The `Set-Cookie` value carrying `token` for `max_age` seconds.
    pub(crate) fn set_cookie(&self, token: &str, max_age: u64) -> Option<HeaderValue> {
        let seconds = i64::try_from(max_age).unwrap_or(i64::MAX);
        let cookie = self
            .builder(token)
            .max_age(CookieDuration::seconds(seconds));
        HeaderValue::from_str(&cookie.to_string()).ok()
    }

    /// The `Set-Cookie` value that makes the browser forget the cookie.
    pub(crate) fn clear_cookie(&self) -> Option<HeaderValue> {
        let cookie = self
            .builder("")
            .max_age(CookieDuration::ZERO)
            .expires(OffsetDateTime::UNIX_EPOCH);
        HeaderValue::from_str(&cookie.to_string()).ok()
    }

    fn builder<'a>(&'a self, value: &'a str) -> cookie::CookieBuilder<'a> {
        let same_site = match self.same_site {
            SameSite::Strict => cookie::SameSite::Strict,
            SameSite::Lax => cookie::SameSite::Lax,
            SameSite::None => cookie::SameSite::None,
        };
        let mut builder = Cookie::build((self.name.as_str(), value))
            .http_only(self.http_only)
            .secure(self.secure)
            .same_site(same_site)
            .path(self.path.as_str());
        if let Some(domain) = &self.domain {
            builder = builder.domain(domain.as_str());
        }
        builder
    }

    /// The value of this cookie in the request's `Cookie` headers: the first
    /// one with this exact name. Allocates nothing.
    pub(crate) fn find<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|line| line.to_str().ok())
            .flat_map(|line| line.split(';'))
            .filter_map(|pair| pair.trim_matches(' ').split_once('='))
            .find(|(name, _)| *name == self.name)
            .map(|(_, value)| value)
    }

    /// Whether a response already sets (or clears) this cookie.
    pub(crate) fn is_set_in(&self, headers: &HeaderMap) -> bool {
        headers.get_all(SET_COOKIE).iter().any(|line| {
            line.as_bytes()
                .strip_prefix(self.name.as_bytes())
                .is_some_and(|rest| rest.first() == Some(&b'='))
        })
    }
}

/// Keeps shared caches from storing a response that hands out a token: a
/// proxy or CDN that cached it would replay the `Set-Cookie` (a credential)
/// to everyone. Sets `Cache-Control: no-store` unless it already says so.
pub(crate) fn forbid_storing(headers: &mut HeaderMap) {
    let says_no_store = headers.get_all(CACHE_CONTROL).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|d| d.trim().eq_ignore_ascii_case("no-store"))
        })
    });
    if !says_no_store {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A byte allowed in a `Path` or `Domain` attribute value.
fn is_attribute_byte(b: u8) -> bool {
    (0x20..0x7f).contains(&b) && b != b';'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_prefix_rules_are_enforced() {
        assert_eq!(CookieConfig::default().check(), Ok(()));
        let host = CookieConfig::default();
        assert!(host.clone().secure(false).check().is_err());
        assert!(host.clone().path("/app").check().is_err());
        assert!(host.clone().domain("example.com").check().is_err());
        assert!(host.clone().name("__HOST-x").secure(false).check().is_err());
        let plain = CookieConfig::default().name("sid");
        assert_eq!(plain.clone().secure(false).path("/app").check(), Ok(()));
        assert_eq!(plain.clone().domain("example.com").check(), Ok(()));
        assert!(plain
            .clone()
            .name("__Secure-sid")
            .secure(false)
            .check()
            .is_err());
        assert!(plain
            .clone()
            .secure(false)
            .same_site(SameSite::None)
            .check()
            .is_err());
        assert!(plain.clone().name("").check().is_err());
        assert!(plain.clone().name("a b").check().is_err());
        assert!(plain.clone().name("a=b").check().is_err());
        assert!(plain.clone().path("nope").check().is_err());
        assert!(plain.clone().path("/a;b").check().is_err());
        assert!(plain.clone().domain("").check().is_err());
    }

    #[test]
    fn set_and_clear_syntax() {
        let config = CookieConfig::default();
        assert_eq!(
            config.set_cookie("tsr1.abc", 1800).unwrap(),
            "__Host-tessera=tsr1.abc; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=1800"
        );
        assert_eq!(
            config.clear_cookie().unwrap(),
            "__Host-tessera=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0; \
             Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        );
        let custom = CookieConfig::default()
            .name("sid")
            .http_only(false)
            .same_site(SameSite::Strict)
            .path("/app")
            .domain("example.com");
        assert_eq!(
            custom.set_cookie("t", 5).unwrap(),
            "sid=t; SameSite=Strict; Secure; Path=/app; Domain=example.com; Max-Age=5"
        );
    }

    #[test]
    fn responses_with_tokens_are_not_stored() {
        let mut headers = HeaderMap::new();
        forbid_storing(&mut headers);
        assert_eq!(headers[CACHE_CONTROL], "no-store");
        let mut headers = HeaderMap::new();
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=600"),
        );
        forbid_storing(&mut headers);
        assert_eq!(headers[CACHE_CONTROL], "no-store");
        let mut headers = HeaderMap::new();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, No-Store"));
        forbid_storing(&mut headers);
        assert_eq!(headers[CACHE_CONTROL], "private, No-Store");
    }

    #[test]
    fn finds_the_cookie_among_others() {
        let config = CookieConfig::default();
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; __Host-tessera2=x"));
        assert_eq!(config.find(&headers), None);
        headers.append(
            COOKIE,
            HeaderValue::from_static("b=2;__Host-tessera=tok; c=3"),
        );
        headers.append(COOKIE, HeaderValue::from_static("__Host-tessera=second"));
        assert_eq!(config.find(&headers), Some("tok"));
        let mut set = HeaderMap::new();
        set.append(SET_COOKIE, HeaderValue::from_static("__Host-tessera2=x"));
        assert!(!config.is_set_in(&set));
        set.append(
            SET_COOKIE,
            HeaderValue::from_static("__Host-tessera=; Max-Age=0"),
        );
        assert!(config.is_set_in(&set));
    }
}
