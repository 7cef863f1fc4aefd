//! Sessions for axum and tower (feature `axum`): a layer, extractors, a
//! secure cookie, sliding renewal and cross-site request refusal.
//!
//! [`Sessions<T>`] holds the configuration and the live keys; its
//! [`layer`](Sessions::layer) verifies the token of each request, from the
//! session cookie or an `Authorization: Bearer` header, and hands handlers the
//! result through the [`Session<T>`](crate::Session) and
//! `Option<Session<T>>` extractors. `T` is the application's session data;
//! one layer serves one `T`.
//!
//! ```
//! use axum::{routing::{get, post}, Json, Router};
//! use tessera::web::{Login, Logout, Sessions};
//! use tessera::{Issuer, Keyset, LiveIssuer, LiveVerifier, Policy, Session};
//!
//! async fn login(sessions: Sessions<()>) -> Result<(Login, String), axum::http::StatusCode> {
//!     let login = sessions.login("alice", &()).map_err(|_| axum::http::StatusCode::INTERNAL_SERVER_ERROR)?;
//!     let token = login.token().to_owned();
//!     Ok((login, token)) // Set-Cookie for browsers, the token for API clients
//! }
//! async fn me(session: Session<()>) -> String {
//!     session.subject().to_owned() // 401 before this runs without a valid session
//! }
//! async fn logout(sessions: Sessions<()>, session: Session<()>) -> Logout {
//!     sessions.logout(&session) // revoked, cookie cleared
//! }
//!
//! let issuer = Issuer::new(Keyset::generate(), Policy::default());
//! let sessions = Sessions::<()>::new(LiveVerifier::new(issuer.verifier()))
//!     .issuer(LiveIssuer::new(issuer));
//! let app: Router = Router::new()
//!     .route("/login", post(login))
//!     .route("/me", get(me))
//!     .route("/logout", post(logout))
//!     .layer(sessions.layer());
//! # let _ = app;
//! ```
//!
//! See docs/web.md for the cookie defaults, renewal, and what the cross-site
//! defence covers.

mod client;
mod cookie;
mod csrf;
mod extract;
mod layer;

use core::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::response::{IntoResponseParts, ResponseParts};
use http::header::{HeaderValue, SET_COOKIE};
use serde::Serialize;

use crate::os::unix_now;
use crate::{Error, Guard, LiveIssuer, LiveVerifier, Session};

pub use self::client::{ClientAddress, TrustedProxyHeader, MAX_PROXY_HOPS};
pub use self::cookie::{CookieConfig, SameSite, DEFAULT_COOKIE_NAME};
pub use self::extract::{Reason, SessionRejection};
pub use self::layer::{SessionLayer, SessionService};

type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;
type Freshness = Arc<dyn Fn() -> Result<(), Error> + Send + Sync>;

/// Web sessions for application data `T`: the live verifier, an optional
/// live issuer, the cookie and the cross-site rules.
///
/// Cheap to clone (clones share everything). Build one at start-up, add
/// [`layer`](Self::layer) to the router, and take `Sessions<T>` as an
/// extractor in the handlers that log in and out: the layer puts a copy in
/// every request.
///
/// **Issuer.** Without one the layer verifies but never renews, and
/// [`login`](Self::login) fails with [`Error::NoIssuer`]: that is an API
/// server that holds no signing key, whose clients get renewed tokens from the
/// auth service. The issuer is a [`LiveIssuer`], so a running service's key
/// promotions reach renewals and logins at once.
pub struct Sessions<T> {
    shared: Arc<Shared>,
    /// The request's client address, in the copy the layer hands a handler.
    client: Option<IpAddr>,
    _data: PhantomData<fn() -> T>,
}

#[derive(Clone)]
struct Shared {
    verifier: LiveVerifier,
    issuer: Option<LiveIssuer>,
    cookie: CookieConfig,
    trusted: csrf::TrustedOrigins,
    clock: Clock,
    guard: Option<Arc<Guard>>,
    client_address: ClientAddress,
    freshness: Option<Freshness>,
}

impl<T> Clone for Sessions<T> {
    fn clone(&self) -> Self {
        Sessions {
            shared: Arc::clone(&self.shared),
            client: self.client,
            _data: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Sessions<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("cookie", &self.shared.cookie)
            .field("issuer", &self.shared.issuer.is_some())
            .field("trusted_origins", &self.shared.trusted)
            .field("guard", &self.shared.guard.is_some())
            .field("client_address", &self.shared.client_address)
            .field("freshness", &self.shared.freshness.is_some())
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl<T> Sessions<T> {
    /// Sessions verified by `verifier`, with the default cookie, no issuer
    /// (no renewal, no login), no trusted cross-origin callers, and the
    /// system clock.
    pub fn new(verifier: LiveVerifier) -> Sessions<T> {
        Sessions {
            shared: Arc::new(Shared {
                verifier,
                issuer: None,
                cookie: CookieConfig::default(),
                trusted: csrf::TrustedOrigins::default(),
                clock: Arc::new(unix_now),
                guard: None,
                client_address: ClientAddress::Connection,
                freshness: None,
            }),
            client: None,
            _data: PhantomData,
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Shared)) -> Sessions<T> {
        f(Arc::make_mut(&mut self.shared));
        self
    }

    /// Logs in and renews with `issuer`. Its keys must verify under the
    /// verifier's (share one keyset).
    pub fn issuer(self, issuer: LiveIssuer) -> Sessions<T> {
        self.edit(|s| s.issuer = Some(issuer))
    }

    /// Uses `config` for the session cookie.
    ///
    /// # Errors
    ///
    /// [`Error::WebConfig`] when `config` breaks a rule its name implies
    /// (`__Host-`: `Secure`, `Path=/`, no `Domain`; `__Secure-`: `Secure`),
    /// has `SameSite=None` without `Secure`, or is not valid cookie syntax.
    pub fn cookie(self, config: CookieConfig) -> Result<Sessions<T>, Error> {
        config.check()?;
        Ok(self.edit(|s| s.cookie = config))
    }

    /// Origins (`scheme://host[:port]`, e.g. `https://app.example.com`)
    /// allowed to send cookie-carrying unsafe requests from another origin.
    /// Replaces any earlier list.
    ///
    /// # Errors
    ///
    /// [`Error::WebConfig`] for an entry that is not `http(s)://host[:port]`.
    pub fn trusted_origins<I, S>(self, origins: I) -> Result<Sessions<T>, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let trusted = csrf::TrustedOrigins::new(origins)?;
        Ok(self.edit(|s| s.trusted = trusted))
    }

    /// Reads the time (unix seconds) from `clock` instead of the system
    /// clock: for every verification, renewal, login and cookie age. Tests
    /// use it to move time.
    pub fn clock(self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Sessions<T> {
        self.edit(|s| s.clock = Arc::new(clock))
    }

    /// Consults `guard` on every request, before any cryptography: a blocked
    /// client gets `429 Too Many Requests` with `Retry-After`; every token
    /// verified or rejected is recorded against the client (forgeries count
    /// as failures, expired or revoked tokens do not: see
    /// [`Guard::record_rejection`]); [`login`](Self::login) asks the guard
    /// before opening a session.
    ///
    /// The guard needs each request's client address (see
    /// [`client_address`](Self::client_address)): a request whose address
    /// cannot be found is refused with `500 Internal Server Error` and
    /// `{"error":"internal","reason":"no_client_address"}`, and a `warn` is
    /// logged once, because the guard cannot work. Counting such requests
    /// under one shared address instead would let one attacker block
    /// everyone. Share the same `Arc<Guard>` with your
    /// password check so that wrong passwords count too
    /// ([`record_failure`](Self::record_failure)).
    pub fn guard(self, guard: Arc<Guard>) -> Sessions<T> {
        self.edit(|s| s.guard = Some(guard))
    }

    /// Asks `check` before verifying each request's token: when it fails
    /// (typically with [`Error::Stale`], the revocation feed has not been
    /// read for too long), the layer answers `503 Service Unavailable` with
    /// `Retry-After` and `{"error":"unavailable","reason":"stale"}` instead
    /// of verifying, and the handler does not run. Not 401: the client's
    /// credential may be fine, this server just cannot tell right now, and
    /// the cookie is kept. Requests without a credential are not affected.
    ///
    /// `check` runs on every request that carries a token, so it must be
    /// cheap (an atomic load). Replaces any earlier check. In a fleet,
    /// [`Sessions::from_fleet`] installs the follower's check.
    pub fn freshness(
        self,
        check: impl Fn() -> Result<(), Error> + Send + Sync + 'static,
    ) -> Sessions<T> {
        self.edit(|s| s.freshness = Some(Arc::new(check)))
    }

    /// Where the client's address comes from (default: the connection; see
    /// [`ClientAddress`]).
    pub fn client_address(self, how: ClientAddress) -> Sessions<T> {
        self.edit(|s| s.client_address = how)
    }

    /// Sessions verified by a fleet follower's verifier: its live verifier,
    /// behind its staleness policy. With
    /// [`FollowerConfig::fail_closed_after`](crate::fleet::FollowerConfig::fail_closed_after),
    /// once the revocation feed is stale (or before the follower is first
    /// ready) requests with a token get `503 Service Unavailable` (see
    /// [`freshness`](Self::freshness)); without it, this is
    /// `Sessions::new(verifier.live().clone())`.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn from_fleet(verifier: crate::fleet::FleetVerifier) -> Sessions<T> {
        Sessions::new(verifier.live().clone()).freshness(move || verifier.check_fresh())
    }

    /// The client address of the request this handle was extracted from
    /// (`None` outside a request or without a guard; with a guard, the layer
    /// refuses requests whose address it cannot find).
    pub fn client(&self) -> Option<IpAddr> {
        self.client
    }

    /// Holds a failure (e.g. a wrong password) against this request's client
    /// in the guard, at the layer's clock. Does nothing without a guard.
    /// With a guard, call it on the handle the handler extracted: on one
    /// without a client address (built outside a request) it records
    /// nothing and logs a `warn` (once per process).
    pub fn record_failure(&self) {
        if let Some(guard) = &self.shared.guard {
            match self.client {
                Some(client) => guard.record_failure(client, self.now()),
                None => warn_no_client_address(),
            }
        }
    }

    /// This handle, for one request from `client`.
    fn for_client(&self, client: Option<IpAddr>) -> Sessions<T> {
        Sessions {
            shared: Arc::clone(&self.shared),
            client,
            _data: PhantomData,
        }
    }

    /// The tower layer that verifies each request's session.
    pub fn layer(&self) -> SessionLayer<T> {
        SessionLayer::new(self.clone())
    }

    /// The live verifier (for key updates and revocation feeds).
    pub fn verifier(&self) -> &LiveVerifier {
        &self.shared.verifier
    }

    /// The cookie configuration.
    pub fn cookie_config(&self) -> &CookieConfig {
        &self.shared.cookie
    }

    fn now(&self) -> u64 {
        (self.shared.clock)()
    }

    /// Starts a session for `subject` carrying `data`: the token, and the
    /// `Set-Cookie` that hands it to a browser. Return the [`Login`] from the
    /// handler (it sets the cookie) and, for API clients, its
    /// [`token`](Login::token) in the body.
    ///
    /// With a [`guard`](Self::guard), call it on the `Sessions<T>` the
    /// handler extracted (it knows the client): each login counts as a new
    /// session for that client.
    ///
    /// # Errors
    ///
    /// [`Error::NoIssuer`] without an issuer; [`Error::TooManySessions`] when
    /// the guard refuses the client another session (answer 429);
    /// [`Error::NoClientAddress`] with a guard, on a handle that was not
    /// extracted from a request (a server bug: answer 500); otherwise
    /// as [`Issuer::issue`](crate::Issuer::issue).
    pub fn login(&self, subject: &str, data: &T) -> Result<Login, Error>
    where
        T: Serialize,
    {
        let issuer = self.shared.issuer.as_ref().ok_or(Error::NoIssuer)?;
        let now = self.now();
        if let Some(guard) = &self.shared.guard {
            let Some(client) = self.client else {
                warn_no_client_address();
                return Err(Error::NoClientAddress);
            };
            if !guard.allow_new_session(client, now) {
                return Err(Error::TooManySessions);
            }
        }
        let issuer = issuer.current();
        let token = issuer.issue_at(subject, data, now)?;
        let policy = issuer.policy();
        let expires_at = now
            .saturating_add(policy.idle)
            .min(now.saturating_add(policy.max_lifetime));
        let set_cookie = self
            .shared
            .cookie
            .set_cookie(&token, expires_at.saturating_sub(now))
            // Unreachable: the name and attributes were checked, and token
            // text is base64url.
            .ok_or(Error::WebConfig("the cookie could not be written"))?;
        Ok(Login {
            token,
            set_cookie,
            expires_at,
        })
    }

    /// Ends `session`: revokes it in the live revocation filter (so its
    /// token, and every renewal of it, is refused from now on, by cookie or
    /// bearer) and returns the [`Logout`] that clears the cookie.
    pub fn logout(&self, session: &Session<T>) -> Logout {
        self.shared.verifier.revoke(session);
        Logout {
            clear_cookie: self.shared.cookie.clear_cookie(),
        }
    }

    /// A renewed token for a verified session, if it needs one now.
    fn renewal(&self, session: &Session<T>, now: u64) -> Option<HeaderValue>
    where
        T: Serialize,
    {
        let issuer = self.shared.issuer.as_ref()?;
        if !session.needs_renewal_at(now) {
            return None;
        }
        // Logged out (or revoked elsewhere) while the handler ran.
        if self
            .shared
            .verifier
            .revocations()
            .is_revoked(session.id(), session.deadline())
        {
            return None;
        }
        let issuer = issuer.current();
        let token = issuer.renew_at(session, now).ok()?;
        let expires_at = now
            .saturating_add(issuer.policy().idle)
            .min(session.deadline());
        self.shared
            .cookie
            .set_cookie(&token, expires_at.saturating_sub(now))
    }
}

/// Logs, once per process, that a guard is configured but a client address
/// is missing: a configuration error the operator must see.
fn warn_no_client_address() {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "tessera::web: an abuse guard is configured but a request has no client \
             address; such requests are refused with 500. Serve the app with \
             into_make_service_with_connect_info::<SocketAddr>(), or set \
             Sessions::client_address for a trusted proxy header"
        );
    }
}

/// A new session: the token and the `Set-Cookie` for it.
///
/// As a response part it adds the `Set-Cookie` header and `Cache-Control:
/// no-store` (a shared cache must not replay a credential). `Debug` hides the
/// token.
#[derive(Clone)]
pub struct Login {
    token: String,
    set_cookie: HeaderValue,
    expires_at: u64,
}

impl Login {
    /// The token, for API clients that send it as `Authorization: Bearer`.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The `Set-Cookie` header value.
    pub fn set_cookie(&self) -> &HeaderValue {
        &self.set_cookie
    }

    /// When the token expires unless renewed, unix seconds.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl IntoResponseParts for Login {
    type Error = core::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.headers_mut().append(SET_COOKIE, self.set_cookie);
        cookie::forbid_storing(res.headers_mut());
        Ok(res)
    }
}

/// A finished session: as a response part, it clears the cookie.
#[derive(Clone, Debug)]
pub struct Logout {
    clear_cookie: Option<HeaderValue>,
}

impl IntoResponseParts for Logout {
    type Error = core::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        if let Some(clear) = self.clear_cookie {
            res.headers_mut().append(SET_COOKIE, clear);
        }
        Ok(res)
    }
}

impl axum::response::IntoResponse for Logout {
    /// `204 No Content` clearing the cookie.
    fn into_response(self) -> axum::response::Response {
        (http::StatusCode::NO_CONTENT, self, ()).into_response()
    }
}
