//! The tower layer: find the credential, refuse cross-site requests, verify,
//! hand the verdict to the extractors, then renew or clear the cookie.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, SET_COOKIE};
use http::{HeaderValue, Request, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tower::{Layer, Service};

use super::cookie::forbid_storing;
use super::csrf;
use super::extract::{Reason, RequestState, SessionRejection, Verdict};
use super::Sessions;

/// Where the request's token came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    None,
    Cookie,
    Bearer,
}

/// The layer made by [`Sessions::layer`]: wraps a service in a
/// [`SessionService`].
pub struct SessionLayer<T> {
    sessions: Sessions<T>,
}

impl<T> SessionLayer<T> {
    pub(crate) fn new(sessions: Sessions<T>) -> SessionLayer<T> {
        SessionLayer { sessions }
    }
}

impl<T> Clone for SessionLayer<T> {
    fn clone(&self) -> Self {
        SessionLayer {
            sessions: self.sessions.clone(),
        }
    }
}

impl<T> fmt::Debug for SessionLayer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayer")
            .field("sessions", &self.sessions)
            .finish()
    }
}

impl<S, T> Layer<S> for SessionLayer<T> {
    type Service = SessionService<S, T>;

    fn layer(&self, inner: S) -> SessionService<S, T> {
        SessionService {
            inner,
            sessions: self.sessions.clone(),
        }
    }
}

/// The service made by [`SessionLayer`]. Per request:
///
/// 0. with a [`Guard`](crate::Guard), refuses a request whose client
///    address cannot be found (500: a server configuration error, logged
///    once) and a blocked client (429 with `Retry-After`) before anything
///    else, and afterwards records the verification's outcome against the
///    client;
/// 1. takes the token from `Authorization: Bearer` or, failing that, the
///    session cookie;
/// 2. refuses (403) a request with an unsafe method (anything but `GET`,
///    `HEAD`, `OPTIONS`, `TRACE`) that is not bearer-authenticated and that
///    the browser marks as coming from another, untrusted origin;
/// 3. with a [`freshness`](Sessions::freshness) check, answers 503 when
///    it fails and a token is present; otherwise verifies the token and
///    puts the verdict in the request for the extractors (an absent or
///    invalid session is refused by the [`Session<T>`](crate::Session)
///    extractor, not here);
/// 4. after the handler: for a cookie that failed verification, clears the
///    cookie; for a valid cookie that needs renewal, sets a renewed one
///    (when an issuer is configured and the handler did not set or clear the
///    cookie itself), with `Cache-Control: no-store` so that no shared cache
///    replays it.
pub struct SessionService<S, T> {
    inner: S,
    sessions: Sessions<T>,
}

impl<S: Clone, T> Clone for SessionService<S, T> {
    fn clone(&self) -> Self {
        SessionService {
            inner: self.inner.clone(),
            sessions: self.sessions.clone(),
        }
    }
}

impl<S: fmt::Debug, T> fmt::Debug for SessionService<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .field("sessions", &self.sessions)
            .finish()
    }
}

type BoxFuture<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

impl<S, T, B> Service<Request<B>> for SessionService<S, T>
where
    S: Service<Request<B>, Response = Response>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    T: DeserializeOwned + Serialize + Send + Sync + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let shared = &self.sessions.shared;
        let client = match shared.guard {
            Some(_) => shared.client_address.of(&req),
            None => None,
        };
        if shared.guard.is_some() && client.is_none() {
            super::warn_no_client_address();
            return Box::pin(core::future::ready(Ok(
                Refusal::NoClientAddress.into_response()
            )));
        }
        let sessions = self.sessions.for_client(client);
        let now = sessions.now();
        let (source, verdict) = match sessions.inspect(&req, now) {
            Ok(found) => found,
            Err(refusal) => return Box::pin(core::future::ready(Ok(refusal.into_response()))),
        };
        let renew = match (&verdict, source) {
            (Verdict::Valid(session), Source::Cookie) => Some(Arc::clone(session)),
            _ => None,
        };
        let clear = source == Source::Cookie && matches!(verdict, Verdict::Failed(_));
        req.extensions_mut().insert(RequestState {
            sessions: sessions.clone(),
            verdict,
        });
        let response = self.inner.call(req);
        Box::pin(async move {
            let mut response = response.await?;
            let cookie = &sessions.shared.cookie;
            if cookie.is_set_in(response.headers()) {
                // The handler logged in or out: its cookie stands.
                return Ok(response);
            }
            if clear {
                if let Some(set) = cookie.clear_cookie() {
                    response.headers_mut().append(SET_COOKIE, set);
                }
            } else if let Some(set) = renew.and_then(|s| sessions.renewal(&s, now)) {
                response.headers_mut().append(SET_COOKIE, set);
                forbid_storing(response.headers_mut());
            }
            Ok(response)
        })
    }
}

impl<T: DeserializeOwned> Sessions<T> {
    /// Steps 1-3 of [`SessionService`]; `Err` refuses the request before
    /// the handler.
    fn inspect<B>(&self, req: &Request<B>, now: u64) -> Result<(Source, Verdict<T>), Refusal> {
        // The guard first: a blocked client costs no cryptography.
        let guard = match (&self.shared.guard, self.client) {
            (Some(guard), Some(client)) => Some((guard, client)),
            _ => None,
        };
        if let Some((guard, client)) = guard {
            if guard.is_blocked(client, now) {
                let retry_after = guard.config().window.as_secs();
                return Err(Refusal::Blocked { retry_after });
            }
        }
        let headers = req.headers();
        let (source, token) = if let Some(token) = bearer(headers) {
            (Source::Bearer, Some(token))
        } else if let Some(token) = self.shared.cookie.find(headers) {
            (Source::Cookie, Some(token))
        } else {
            (Source::None, None)
        };
        // Browsers never add an Authorization header by themselves.
        if source != Source::Bearer
            && csrf::is_unsafe(req.method())
            && csrf::is_cross_origin(headers, req.uri(), &self.shared.trusted)
        {
            return Err(Refusal::CrossOrigin);
        }
        let Some(token) = token else {
            return Ok((source, Verdict::Absent));
        };
        // Fail closed on stale revocation state: not the client's fault, so
        // not 401, nothing recorded in the guard, and the cookie is kept.
        if let Some(check) = &self.shared.freshness {
            if check().is_err() {
                return Err(Refusal::Unavailable);
            }
        }
        let verified = self.shared.verifier.verify_at::<T>(token, now);
        if let Some((guard, client)) = guard {
            match &verified {
                Ok(_) => guard.record_success(client, now),
                Err(error) => guard.record_rejection(client, error, now),
            }
        }
        let verdict = match verified {
            Ok(session) => Verdict::Valid(Arc::new(session)),
            Err(error) => Verdict::Failed(SessionRejection::new(
                Reason::of(&error),
                source == Source::Bearer,
            )),
        };
        Ok((source, verdict))
    }
}

/// The token of an `Authorization: Bearer` header (scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_matches(' '))
}

/// Why the layer answered a request itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// 403: an unsafe request from another, untrusted origin.
    CrossOrigin,
    /// 429: the guard blocks this client; a block lifts at most one failure
    /// window after the last failure.
    Blocked { retry_after: u64 },
    /// 503: the freshness check failed (stale revocation state).
    Unavailable,
    /// 500: a guard is configured but the request has no client address.
    NoClientAddress,
}

/// `Retry-After` of a 503 for stale revocation state, in seconds: a
/// follower that reconnects catches up within about this long.
const STALE_RETRY_AFTER: u64 = 5;

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let json = [(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
        match self {
            Refusal::CrossOrigin => (
                StatusCode::FORBIDDEN,
                json,
                r#"{"error":"forbidden","reason":"cross-origin request"}"#,
            )
                .into_response(),
            Refusal::Blocked { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    json[0].clone(),
                    (RETRY_AFTER, HeaderValue::from(retry_after)),
                ],
                r#"{"error":"too_many_requests","reason":"blocked"}"#,
            )
                .into_response(),
            Refusal::NoClientAddress => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json,
                r#"{"error":"internal","reason":"no_client_address"}"#,
            )
                .into_response(),
            Refusal::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                [
                    json[0].clone(),
                    (RETRY_AFTER, HeaderValue::from(STALE_RETRY_AFTER)),
                ],
                r#"{"error":"unavailable","reason":"stale"}"#,
            )
                .into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_parsing() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, HeaderValue::from_static(value));
            bearer(&headers).map(str::to_owned)
        };
        assert_eq!(with("Bearer tsr1.abc").as_deref(), Some("tsr1.abc"));
        assert_eq!(with("bearer  tsr1.abc ").as_deref(), Some("tsr1.abc"));
        assert_eq!(with("Bearer").as_deref(), None);
        assert_eq!(with("Bearer ").as_deref(), Some(""));
        assert_eq!(with("Basic dXNlcjpwYXNz").as_deref(), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
