//! A small axum app behind tessera's session layer.
//!
//! ```sh
//! cargo run --features axum --example axum_app          # http://127.0.0.1:3000
//! PORT=8080 TESSERA_KEYS=keys.json cargo run --features axum --example axum_app
//! ```
//!
//! - `POST /login` with `{"user": "..."}`: sets the `__Host-tessera` cookie and
//!   returns `{"token": "..."}` for API clients;
//! - `GET /me`: `{"subject", "expires_at", "deadline"}`, or 401;
//! - `POST /logout`: revokes the session and clears the cookie (204);
//! - `GET /`: a page with a login form, the current session and a logout button.
//!
//! The keyset is generated at start-up (sessions end when the process does)
//! unless `TESSERA_KEYS` names a keyset file written by `tessera keygen`.
//! docs/web.md walks through it with curl.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::Json;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::json;
use tessera::web::{Logout, SessionRejection, Sessions};
use tessera::{
    Error, Guard, GuardConfig, Issuer, Keyset, LiveIssuer, LiveVerifier, Policy, Session,
};

/// The longest user name `/login` accepts.
const MAX_USER: usize = 64;

#[derive(Deserialize)]
struct LoginForm {
    user: String,
}

/// The app's routes behind `sessions`' layer. The session data is `()`:
/// this app needs only the subject.
pub fn app(sessions: Sessions<()>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .layer(sessions.layer())
}

async fn login(sessions: Sessions<()>, Json(form): Json<LoginForm>) -> Response {
    let user = form.user.trim();
    if user.is_empty() || user.chars().count() > MAX_USER {
        let body = json!({ "error": "user must be 1 to 64 characters" });
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    // A real service checks a password or a second factor here.
    match sessions.login(user, &()) {
        Ok(login) => {
            let body = json!({ "token": login.token() });
            (login, Json(body)).into_response()
        }
        Err(Error::TooManySessions) => {
            let body = json!({ "error": "too many new sessions; try again later" });
            (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response()
        }
        Err(error) => {
            eprintln!("login failed: {error}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn me(session: Session<()>) -> Json<serde_json::Value> {
    Json(json!({
        "subject": session.subject(),
        "expires_at": session.expires_at(),
        "deadline": session.deadline(),
    }))
}

async fn logout(sessions: Sessions<()>, session: Session<()>) -> Logout {
    sessions.logout(&session)
}

async fn page(session: Result<Option<Session<()>>, SessionRejection>) -> Html<String> {
    let status = match &session {
        Ok(Some(s)) => format!(
            "signed in as <b id=\"subject\">{}</b>; expires at {} (unix), deadline {}",
            escape(s.subject()),
            s.expires_at(),
            s.deadline()
        ),
        Ok(None) => "signed out".to_owned(),
        // The layer has already cleared the stale cookie.
        Err(why) => format!("signed out (session {})", why.reason().as_str()),
    };
    let signed_in = matches!(session, Ok(Some(_)));
    Html(
        PAGE.replace("{status}", &status)
            .replace("{login_hidden}", if signed_in { "hidden" } else { "" })
            .replace("{logout_hidden}", if signed_in { "" } else { "hidden" }),
    )
}

/// HTML text escaping for the subject, which the user chose.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>tessera</title>
<h1>tessera sessions</h1>
<p id="status">{status}</p>
<form id="login-form" {login_hidden}>
  <input id="user" name="user" placeholder="user name" required maxlength="64">
  <button id="login" type="submit">Log in</button>
</form>
<button id="logout" {logout_hidden}>Log out</button>
<p id="result"></p>
<script>
const result = document.getElementById("result");
document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const user = document.getElementById("user").value;
  const response = await fetch("/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user }),
  });
  if (response.ok) { location.reload(); return; }
  result.textContent = "login failed: " + response.status;
});
document.getElementById("logout").addEventListener("click", async () => {
  const response = await fetch("/logout", { method: "POST" });
  if (response.ok) { location.reload(); return; }
  result.textContent = "logout failed: " + response.status;
});
</script>
</html>
"#;

// One thread is plenty for a demo; a real server may use the multi-threaded
// runtime (tokio's `rt-multi-thread` feature).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let keys = match std::env::var_os("TESSERA_KEYS") {
        Some(path) => Keyset::load(path)?,
        None => Keyset::generate(),
    };
    let issuer = Issuer::new(keys, Policy::default());
    // The abuse guard counts forged tokens and new sessions per client
    // address (the connection's peer: see `serve` below).
    let guard = Arc::new(Guard::new(GuardConfig::default()));
    let sessions = Sessions::new(LiveVerifier::new(issuer.verifier()))
        .issuer(LiveIssuer::new(issuer))
        .guard(guard);
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse()?,
        Err(_) => 3000,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr} (open http://localhost:{port}/ in a browser)");
    axum::serve(
        listener,
        app(sessions).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
