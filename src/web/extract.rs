//! The extractors: `Session<T>`, `Option<Session<T>>` and `Sessions<T>`, and
//! the rejection they answer with.

use core::fmt;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{HeaderValue, StatusCode};

use super::Sessions;
use crate::{Error, Session};

/// What the layer found, for the extractors. One type per `T`, so a
/// `Session<U>` extractor under a `SessionLayer<T>` finds nothing.
pub(crate) struct RequestState<T> {
    pub(crate) sessions: Sessions<T>,
    pub(crate) verdict: Verdict<T>,
}

impl<T> Clone for RequestState<T> {
    fn clone(&self) -> Self {
        RequestState {
            sessions: self.sessions.clone(),
            verdict: self.verdict.clone(),
        }
    }
}

/// The outcome of verifying the request's token.
pub(crate) enum Verdict<T> {
    /// No token in the request.
    Absent,
    /// A token that passed every check.
    Valid(Arc<Session<T>>),
    /// A token that failed.
    Failed(SessionRejection),
}

impl<T> Clone for Verdict<T> {
    fn clone(&self) -> Self {
        match self {
            Verdict::Absent => Verdict::Absent,
            Verdict::Valid(session) => Verdict::Valid(Arc::clone(session)),
            Verdict::Failed(rejection) => Verdict::Failed(rejection.clone()),
        }
    }
}

/// Why a request has no session: the class of failure, as named in the
/// response body. Deliberately coarse: a client learns whether to log in
/// again, not which check failed.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// No cookie and no bearer token (`"missing"`).
    Missing,
    /// A token that is not genuine, not for this service, or unreadable
    /// (`"invalid"`).
    Invalid,
    /// The session's idle expiry or deadline has passed (`"expired"`).
    Expired,
    /// The session was logged out or revoked (`"revoked"`).
    Revoked,
    /// The handler asked for a session, but no layer for this data type runs
    /// in front of it: a server bug, answered with 500 (`"no_session_layer"`).
    NoLayer,
}

impl Reason {
    /// The class of a verification error.
    pub(crate) fn of(error: &Error) -> Reason {
        match error {
            Error::Expired => Reason::Expired,
            Error::Revoked => Reason::Revoked,
            _ => Reason::Invalid,
        }
    }

    /// The name used in the response body.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Missing => "missing",
            Reason::Invalid => "invalid",
            Reason::Expired => "expired",
            Reason::Revoked => "revoked",
            Reason::NoLayer => "no_session_layer",
        }
    }
}

/// The rejection of the [`Session<T>`](crate::Session) extractor: 401 with a
/// JSON body `{"error":"unauthorized","reason":"..."}` naming the
/// [`Reason`], and `WWW-Authenticate: Bearer` when the request had no
/// credential or a bearer token (with `error="invalid_token"` for a failed
/// one). [`Reason::NoLayer`] is a 500.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRejection {
    reason: Reason,
    bearer: bool,
}

impl SessionRejection {
    pub(crate) fn new(reason: Reason, bearer: bool) -> SessionRejection {
        SessionRejection { reason, bearer }
    }

    /// Why there is no session.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// Whether the failed token came from an `Authorization: Bearer` header.
    pub fn is_bearer(&self) -> bool {
        self.bearer
    }
}

impl fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no session: {}", self.reason.as_str())
    }
}

impl std::error::Error for SessionRejection {}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        let json = HeaderValue::from_static("application/json");
        if self.reason == Reason::NoLayer {
            let body = r#"{"error":"internal","reason":"no_session_layer"}"#;
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(CONTENT_TYPE, json)],
                body,
            )
                .into_response();
        }
        let body = format!(
            r#"{{"error":"unauthorized","reason":"{}"}}"#,
            self.reason.as_str()
        );
        let mut response = (StatusCode::UNAUTHORIZED, [(CONTENT_TYPE, json)], body).into_response();
        let challenge = if self.bearer {
            Some(r#"Bearer error="invalid_token""#)
        } else if self.reason == Reason::Missing {
            Some("Bearer")
        } else {
            None
        };
        if let Some(challenge) = challenge {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

fn state<T: Send + Sync + 'static>(parts: &Parts) -> Result<&RequestState<T>, SessionRejection> {
    parts
        .extensions
        .get::<RequestState<T>>()
        .ok_or(SessionRejection::new(Reason::NoLayer, false))
}

/// A verified session, or a [`SessionRejection`] (401) when the request has
/// none or its token failed.
impl<S, T> FromRequestParts<S> for Session<T>
where
    S: Send + Sync,
    T: Clone + Send + Sync + 'static,
{
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match &state::<T>(parts)?.verdict {
            Verdict::Valid(session) => Ok(Session::clone(session)),
            Verdict::Absent => Err(SessionRejection::new(Reason::Missing, false)),
            Verdict::Failed(rejection) => Err(rejection.clone()),
        }
    }
}

/// `None` when the request carries no credential at all. A credential that
/// fails is still a [`SessionRejection`] (401), never a silent `None`: take
/// `Result<Option<Session<T>>, SessionRejection>` to handle it yourself.
/// Either way the layer clears a failed cookie.
impl<S, T> OptionalFromRequestParts<S> for Session<T>
where
    S: Send + Sync,
    T: Clone + Send + Sync + 'static,
{
    type Rejection = SessionRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match &state::<T>(parts)?.verdict {
            Verdict::Valid(session) => Ok(Some(Session::clone(session))),
            Verdict::Absent => Ok(None),
            Verdict::Failed(rejection) => Err(rejection.clone()),
        }
    }
}

/// The [`Sessions`] of the layer in front of this handler, to log in and out.
impl<S, T> FromRequestParts<S> for Sessions<T>
where
    S: Send + Sync,
    T: Send + Sync + 'static,
{
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(state::<T>(parts)?.sessions.clone())
    }
}
