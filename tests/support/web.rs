//! A test app behind the session layer, served on loopback, and a plain
//! HTTP/1 client.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Json;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tessera::web::{ClientAddress, Logout, Sessions};
use tessera::{Error, Guard, Issuer, Keyset, LiveIssuer, LiveVerifier, Policy, Session};
use tokio::net::{TcpListener, TcpStream};

pub const T0: u64 = 1_767_225_600;
pub const IDLE: u64 = 1800;
pub const LIFETIME: u64 = 3600;

/// The application's session data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Data {
    pub role: String,
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
}

pub fn policy() -> Policy {
    Policy::default()
        .idle_timeout(Duration::from_secs(IDLE))
        .max_lifetime(Duration::from_secs(LIFETIME))
}

/// A running server and what the tests need to steer and check it.
pub struct App {
    pub addr: SocketAddr,
    pub clock: Arc<AtomicU64>,
    pub issuer: Issuer,
    pub live_verifier: LiveVerifier,
    pub live_issuer: LiveIssuer,
    /// Handler runs of `POST /action`.
    pub actions: Arc<AtomicUsize>,
}

impl App {
    pub fn set_now(&self, now: u64) {
        self.clock.store(now, Ordering::SeqCst);
    }
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Starts the app on 127.0.0.1 with its clock at `T0`. `with_issuer: false`
/// makes a verify-only server whose logins fail.
pub async fn start(with_issuer: bool) -> App {
    start_guarded(with_issuer, None).await
}

/// [`start`], with an abuse guard taking client addresses as `how` says.
pub async fn start_guarded(with_issuer: bool, guard: Option<(Arc<Guard>, ClientAddress)>) -> App {
    start_with(with_issuer, move |sessions| match guard {
        Some((guard, how)) => sessions.guard(guard).client_address(how),
        None => sessions,
    })
    .await
}

/// [`start`], with `configure` applied to the `Sessions` before the issuer
/// is added.
pub async fn start_with(
    with_issuer: bool,
    configure: impl FnOnce(Sessions<Data>) -> Sessions<Data>,
) -> App {
    let issuer = Issuer::new(Keyset::generate(), policy());
    let clock = Arc::new(AtomicU64::new(T0));
    let live_verifier = LiveVerifier::new(issuer.verifier());
    let live_issuer = LiveIssuer::new(issuer.clone());
    let mut sessions = Sessions::<Data>::new(live_verifier.clone())
        .trusted_origins(["https://partner.test"])
        .unwrap();
    let read = Arc::clone(&clock);
    sessions = sessions.clock(move || read.load(Ordering::SeqCst));
    sessions = configure(sessions);
    if with_issuer {
        sessions = sessions.issuer(live_issuer.clone());
    }
    let actions = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&actions);
    let app = Router::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/maybe", get(maybe))
        .route("/logout", post(logout))
        // A handler asking for another data type than the layer's.
        .route(
            "/wrong-type",
            get(|s: Session<String>| async move { s.subject().to_owned() }),
        )
        .route(
            "/action",
            post(move |session: Session<Data>| async move {
                counter.fetch_add(1, Ordering::SeqCst);
                format!("done by {}", session.subject())
            }),
        )
        .layer(sessions.layer());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    App {
        addr,
        clock,
        issuer,
        live_verifier,
        live_issuer,
        actions,
    }
}

async fn login(sessions: Sessions<Data>, Json(form): Json<LoginForm>) -> Response {
    let data = Data {
        role: "reader".into(),
    };
    match sessions.login(&form.user, &data) {
        Ok(login) => {
            let token = login.token().to_owned();
            (login, Json(serde_json::json!({ "token": token }))).into_response()
        }
        Err(Error::TooManySessions) => StatusCode::TOO_MANY_REQUESTS.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn me(session: Session<Data>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "subject": session.subject(),
        "role": session.data().role,
        "expires_at": session.expires_at(),
        "deadline": session.deadline(),
    }))
}

async fn maybe(session: Option<Session<Data>>) -> String {
    session.map_or_else(|| "anonymous".to_owned(), |s| s.subject().to_owned())
}

async fn logout(sessions: Sessions<Data>, session: Session<Data>) -> Logout {
    sessions.logout(&session)
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// Every `Set-Cookie` header, in order.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// Sends one request over a fresh HTTP/1 connection to `addr`.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

/// The value of the session cookie in a `Set-Cookie` line.
pub fn cookie_value(set_cookie: &str) -> &str {
    set_cookie
        .strip_prefix("__Host-tessera=")
        .and_then(|rest| rest.split(';').next())
        .unwrap()
}
