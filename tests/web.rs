//! The web layer over real HTTP on loopback: a server task and an HTTP/1
//! client. Time is the layer's clock, moved by the tests; nothing sleeps.

#[path = "support/web.rs"]
mod support;

use axum::http::StatusCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use support::{cookie_value, send, start, start_guarded, App, Data, IDLE, LIFETIME, T0};
use tessera::web::{ClientAddress, CookieConfig, Sessions, TrustedProxyHeader};
use tessera::{Error, Guard, GuardConfig, Issuer, Keyset, LiveVerifier, Session};

const JSON: (&str, &str) = ("content-type", "application/json");
const SAME_ORIGIN: (&str, &str) = ("sec-fetch-site", "same-origin");

/// Logs in as `user`; returns the token (body) after checking that the
/// cookie carries the same one with exactly the default attributes.
async fn login(app: &App, user: &str) -> String {
    let body = format!(r#"{{"user":"{user}"}}"#);
    let reply = send(app.addr, "POST", "/login", &[JSON, SAME_ORIGIN], &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let token = reply.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.set_cookies(),
        [format!(
            "__Host-tessera={token}; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age={IDLE}"
        )]
    );
    assert_eq!(reply.headers["cache-control"], "no-store");
    token
}

fn cookie(token: &str) -> (&'static str, String) {
    ("cookie", format!("__Host-tessera={token}"))
}

async fn me_with_cookie(app: &App, token: &str) -> support::Reply {
    let (name, value) = cookie(token);
    send(app.addr, "GET", "/me", &[(name, &value)], "").await
}

async fn me_with_bearer(app: &App, token: &str) -> support::Reply {
    let auth = format!("Bearer {token}");
    send(app.addr, "GET", "/me", &[("authorization", &auth)], "").await
}

const CLEARED: &str = "__Host-tessera=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0; \
                       Expires=Thu, 01 Jan 1970 00:00:00 GMT";

#[tokio::test]
async fn login_then_me_by_cookie_and_by_bearer() {
    let app = start(true).await;
    let token = login(&app, "alice").await;
    for reply in [
        me_with_cookie(&app, &token).await,
        me_with_bearer(&app, &token).await,
    ] {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let json = reply.json();
        assert_eq!(json["subject"], "alice");
        assert_eq!(json["role"], "reader");
        assert_eq!(json["expires_at"], T0 + IDLE);
        assert_eq!(json["deadline"], T0 + LIFETIME);
        // Fresh token: nothing to renew.
        assert!(reply.set_cookies().is_empty());
    }
    // Another cookie beside ours changes nothing.
    let both = format!("theme=dark; __Host-tessera={token}; lang=en");
    let reply = send(app.addr, "GET", "/me", &[("cookie", &both)], "").await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn missing_and_tampered_credentials_are_401() {
    let app = start(true).await;
    let token = login(&app, "alice").await;

    let reply = send(app.addr, "GET", "/me", &[], "").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.body, r#"{"error":"unauthorized","reason":"missing"}"#);
    assert_eq!(reply.headers["www-authenticate"], "Bearer");
    assert_eq!(reply.headers["content-type"], "application/json");
    assert!(reply.set_cookies().is_empty());

    // Flip one character in the middle of the token.
    let mut tampered = token.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();

    let reply = me_with_cookie(&app, &tampered).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.body, r#"{"error":"unauthorized","reason":"invalid"}"#);
    assert!(reply.headers.get("www-authenticate").is_none());
    // The browser is told to drop the bad cookie.
    assert_eq!(reply.set_cookies(), [CLEARED]);

    let reply = me_with_bearer(&app, &tampered).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.headers["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
    assert!(reply.set_cookies().is_empty());

    // An invalid cookie is never silently anonymous, even where a session
    // is optional; no credential at all is.
    let (name, value) = cookie(&tampered);
    let reply = send(app.addr, "GET", "/maybe", &[(name, &value)], "").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.set_cookies(), [CLEARED]);
    let reply = send(app.addr, "GET", "/maybe", &[], "").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "anonymous")
    );
    let (name, value) = cookie(&token);
    let reply = send(app.addr, "GET", "/maybe", &[(name, &value)], "").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "alice")
    );

    // Garbage of every kind is a 401, never a 500 or a panic.
    for junk in ["", "tsr1.", "tsr1.!!!", "x", &"A".repeat(10_000)] {
        let reply = me_with_bearer(&app, junk).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{junk:.20}");
    }
}

#[tokio::test]
async fn logout_revokes_for_cookie_and_bearer() {
    let app = start(true).await;
    let token = login(&app, "alice").await;
    let other = login(&app, "bob").await;
    let (name, value) = cookie(&token);
    let reply = send(
        app.addr,
        "POST",
        "/logout",
        &[(name, &value), SAME_ORIGIN],
        "",
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.set_cookies(), [CLEARED]);

    for reply in [
        me_with_cookie(&app, &token).await,
        me_with_bearer(&app, &token).await,
    ] {
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.body, r#"{"error":"unauthorized","reason":"revoked"}"#);
    }
    // Only that session.
    assert_eq!(me_with_cookie(&app, &other).await.status, StatusCode::OK);
}

#[tokio::test]
async fn renewal_past_half_the_idle_window_keeps_the_session() {
    let app = start(true).await;
    let token = login(&app, "alice").await;
    let verifier = app.issuer.verifier();
    let original: Session<Data> = verifier.verify_at(&token, T0).unwrap();

    // Exactly half the window used: no renewal yet.
    app.set_now(T0 + IDLE / 2);
    let reply = me_with_cookie(&app, &token).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.set_cookies().is_empty());
    assert!(reply.headers.get("cache-control").is_none());

    // One second past half: a renewed cookie, same session, later expiry.
    let now = T0 + IDLE / 2 + 1;
    app.set_now(now);
    let reply = me_with_cookie(&app, &token).await;
    assert_eq!(reply.status, StatusCode::OK);
    let set = reply.set_cookies();
    assert_eq!(set.len(), 1);
    let renewed = cookie_value(&set[0]).to_owned();
    assert_ne!(renewed, token);
    assert_eq!(
        set[0],
        format!("__Host-tessera={renewed}; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age={IDLE}")
    );
    assert_eq!(reply.headers["cache-control"], "no-store");
    let session: Session<Data> = verifier.verify_at(&renewed, now).unwrap();
    assert_eq!(session.id(), original.id());
    assert_eq!(session.deadline(), original.deadline());
    assert_eq!(session.subject(), "alice");
    assert_eq!(session.data(), original.data());
    assert_eq!(session.issued_at(), now);
    assert_eq!(session.expires_at(), now + IDLE);

    // A bearer client is never sent a cookie.
    let reply = me_with_bearer(&app, &token).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.set_cookies().is_empty());

    // Logging out the renewed token revokes the original too.
    let (name, value) = cookie(&renewed);
    let reply = send(
        app.addr,
        "POST",
        "/logout",
        &[(name, &value), SAME_ORIGIN],
        "",
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    // Logout's cleared cookie is the only Set-Cookie: no renewal on top.
    assert_eq!(reply.set_cookies(), [CLEARED]);
    assert_eq!(
        me_with_cookie(&app, &token).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn without_an_issuer_nothing_is_renewed() {
    let with = start(true).await;
    let token = login(&with, "alice").await;
    // A verify-only server with other keys cannot check alice's token; give
    // it a token of its own keys, minted outside the server.
    let app = start(false).await;
    let own = app
        .issuer
        .issue_at("bob", &Data { role: "r".into() }, T0)
        .unwrap();
    app.set_now(T0 + IDLE - 10);
    let reply = me_with_cookie(&app, &own).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.set_cookies().is_empty());
    // Its login fails: it holds no signing key.
    let reply = send(
        app.addr,
        "POST",
        "/login",
        &[JSON, SAME_ORIGIN],
        r#"{"user":"x"}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    // And tokens of other keys are invalid here.
    assert_eq!(
        me_with_cookie(&app, &token).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn past_the_deadline_is_401_and_the_cookie_is_cleared() {
    let app = start(true).await;
    let mut token = login(&app, "alice").await;
    // Keep the session busy: each renewal slides the expiry, capped at the
    // deadline (T0 + LIFETIME).
    for (now, max_age) in [(T0 + 1000, IDLE), (T0 + 2000, LIFETIME - 2000)] {
        app.set_now(now);
        let reply = me_with_cookie(&app, &token).await;
        assert_eq!(reply.status, StatusCode::OK);
        let set = reply.set_cookies();
        assert_eq!(set.len(), 1, "renewal at {now}");
        assert!(
            set[0].ends_with(&format!("; Max-Age={max_age}")),
            "{}",
            set[0]
        );
        token = cookie_value(&set[0]).to_owned();
        assert_eq!(reply.json()["deadline"], T0 + LIFETIME);
    }
    // The expiry is the deadline now: renewing would not extend it.
    app.set_now(T0 + 3000);
    let reply = me_with_cookie(&app, &token).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.set_cookies().is_empty());
    assert_eq!(reply.json()["expires_at"], T0 + LIFETIME);
    // Past the deadline plus the 60 s leeway.
    app.set_now(T0 + LIFETIME + 60);
    let reply = me_with_cookie(&app, &token).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.body, r#"{"error":"unauthorized","reason":"expired"}"#);
    assert_eq!(reply.set_cookies(), [CLEARED]);
}

#[tokio::test]
async fn cross_site_posts_with_the_cookie_are_refused_before_the_handler() {
    let app = start(true).await;
    let token = login(&app, "alice").await;
    let (name, value) = cookie(&token);
    let cookie = (name, value.as_str());
    let host_origin = app.origin();
    let refused: [&[(&str, &str)]; 4] = [
        &[cookie, ("sec-fetch-site", "cross-site")],
        &[cookie, ("sec-fetch-site", "same-site")],
        // An old browser: no Sec-Fetch-Site, a foreign Origin.
        &[cookie, ("origin", "http://evil.test")],
        &[cookie, ("origin", "null")],
    ];
    for headers in refused {
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            let reply = send(app.addr, method, "/action", headers, "").await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {headers:?}");
            assert_eq!(
                reply.body,
                r#"{"error":"forbidden","reason":"cross-origin request"}"#
            );
        }
    }
    assert_eq!(app.actions.load(std::sync::atomic::Ordering::SeqCst), 0);

    let allowed: [&[(&str, &str)]; 5] = [
        &[cookie, ("sec-fetch-site", "same-origin")],
        &[cookie, ("sec-fetch-site", "none")],
        &[cookie, ("origin", &host_origin)],
        // Not a browser: nothing to go by.
        &[cookie],
        // A configured trusted origin.
        &[
            cookie,
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://partner.test"),
        ],
    ];
    for headers in allowed {
        let reply = send(app.addr, "POST", "/action", headers, "").await;
        assert_eq!(reply.status, StatusCode::OK, "{headers:?}");
        assert_eq!(reply.body, "done by alice");
    }
    // Bearer requests are not affected: browsers never add that header.
    let auth = format!("Bearer {token}");
    let reply = send(
        app.addr,
        "POST",
        "/action",
        &[("authorization", &auth), ("sec-fetch-site", "cross-site")],
        "",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    // Safe methods are not affected.
    let reply = send(
        app.addr,
        "GET",
        "/me",
        &[cookie, ("sec-fetch-site", "cross-site")],
        "",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(app.actions.load(std::sync::atomic::Ordering::SeqCst), 6);
    // Login from another site (login CSRF) is refused too.
    let reply = send(
        app.addr,
        "POST",
        "/login",
        &[JSON, ("sec-fetch-site", "cross-site")],
        r#"{"user":"mallory"}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn key_promotions_reach_the_running_layer() {
    let app = start(true).await;
    let old = login(&app, "alice").await;
    // Rotation without downtime: the verifier learns the key, then the
    // issuer signs with it.
    let mut keys = Keyset::generate();
    let first = keys.primary();
    let next = keys.add();
    app.live_verifier.set_keys(keys.verifier_keyset());
    keys.promote(next).unwrap();
    app.live_issuer.set_keys(keys.clone());
    let new = login(&app, "bob").await;
    let verifier = tessera::Verifier::new(keys.verifier_keyset(), support::policy());
    let session: Session<Data> = verifier.verify_at(&new, T0).unwrap();
    assert_eq!(session.key_id(), next);
    assert_eq!(me_with_cookie(&app, &new).await.status, StatusCode::OK);
    // The old keyset's tokens are no longer known: this keyset replaced it.
    assert_eq!(me_with_cookie(&app, &old).await.json()["reason"], "invalid");
    // Renewal signs with the new primary.
    app.set_now(T0 + IDLE / 2 + 1);
    let reply = me_with_cookie(&app, &new).await;
    let renewed = cookie_value(&reply.set_cookies()[0]).to_owned();
    let renewed: Session<Data> = verifier.verify_at(&renewed, T0 + IDLE / 2 + 1).unwrap();
    assert_eq!(renewed.key_id(), next);
    assert_ne!(first, next);
}

#[tokio::test]
async fn a_session_of_another_type_than_the_layers_is_a_server_error() {
    let app = start(true).await;
    let token = login(&app, "alice").await;
    let (name, value) = cookie(&token);
    let reply = send(app.addr, "GET", "/wrong-type", &[(name, &value)], "").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        reply.body,
        r#"{"error":"internal","reason":"no_session_layer"}"#
    );
}

/// A guard with the default windows (15 minutes for failures, 10 for new
/// sessions) and small limits.
fn guard(max_failures: u32, max_new_sessions: u32) -> Arc<Guard> {
    Arc::new(Guard::new(GuardConfig {
        max_failures,
        max_new_sessions,
        ..GuardConfig::default()
    }))
}

fn tamper(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

async fn action_as(app: &App, client: &str, token: &str) -> support::Reply {
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("x-forwarded-for", client),
    ];
    send(app.addr, "POST", "/action", &headers, "").await
}

#[tokio::test]
async fn the_guard_blocks_a_forging_client_before_any_cryptography() {
    let guard = guard(3, 100);
    let forwarded = ClientAddress::from(TrustedProxyHeader::x_forwarded_for());
    let app = start_guarded(true, Some((Arc::clone(&guard), forwarded))).await;
    let token = login(&app, "alice").await;
    let forged = tamper(&token);
    let (attacker, neighbour) = ("10.0.0.7, 203.0.113.7", "203.0.113.8");

    for _ in 0..3 {
        let reply = action_as(&app, attacker, &forged).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let before = guard.counters();
    // Blocked now, even with a valid token; the handler does not run and
    // nothing is verified.
    let reply = action_as(&app, attacker, &token).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.headers["retry-after"], "900");
    assert_eq!(
        reply.body,
        r#"{"error":"too_many_requests","reason":"blocked"}"#
    );
    let after = guard.counters();
    assert_eq!(after.verified, before.verified);
    assert_eq!(after.rejected.total(), before.rejected.total());
    assert_eq!(after.blocked, before.blocked + 1);
    assert_eq!(app.actions.load(Ordering::SeqCst), 0);
    // Another client behind the same proxy is not affected.
    assert_eq!(
        action_as(&app, neighbour, &token).await.status,
        StatusCode::OK
    );
    // Expired tokens are not held against a client: honest browsers send them.
    app.set_now(T0 + 2 * IDLE);
    let fresh = login(&app, "bob").await;
    for _ in 0..5 {
        let reply = action_as(&app, neighbour, &token).await;
        assert_eq!(reply.json()["reason"], "expired");
    }
    assert_eq!(
        action_as(&app, neighbour, &fresh).await.status,
        StatusCode::OK
    );
    // The block lifts once the failures are a window old.
    assert_eq!(
        action_as(&app, attacker, &fresh).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_guard_counts_the_connection_unless_told_to_trust_a_header() {
    let guard = guard(2, 100);
    let app = start_guarded(true, Some((Arc::clone(&guard), ClientAddress::Connection))).await;
    let token = login(&app, "alice").await;
    let forged = tamper(&token);
    for client in ["198.51.100.1", "198.51.100.2"] {
        let reply = action_as(&app, client, &forged).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    // Both failures were 127.0.0.1's: a spoofed header changes nothing.
    let reply = action_as(&app, "198.51.100.3", &token).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_guard_limits_new_sessions_per_client() {
    let app = start_guarded(true, Some((guard(100, 2), ClientAddress::Connection))).await;
    login(&app, "a").await;
    login(&app, "b").await;
    let reply = send(
        app.addr,
        "POST",
        "/login",
        &[JSON, SAME_ORIGIN],
        r#"{"user":"c"}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(reply.set_cookies().is_empty());
    app.set_now(T0 + 1200);
    login(&app, "c").await;
}

#[test]
fn cookie_rules_are_enforced_when_configured() {
    let issuer = Issuer::new(Keyset::generate(), support::policy());
    let sessions = || Sessions::<Data>::new(LiveVerifier::new(issuer.verifier()));
    for bad in [
        CookieConfig::default().secure(false),
        CookieConfig::default().path("/api"),
        CookieConfig::default().domain("example.com"),
    ] {
        assert!(matches!(sessions().cookie(bad), Err(Error::WebConfig(_))));
    }
    let custom = sessions()
        .cookie(
            CookieConfig::default()
                .name("sid")
                .secure(false)
                .path("/api"),
        )
        .unwrap();
    assert_eq!(custom.cookie_config().cookie_name(), "sid");
    assert!(matches!(
        sessions().trusted_origins(["partner.test"]),
        Err(Error::WebConfig(_))
    ));
}

#[tokio::test]
async fn stale_revocation_state_fails_closed_with_503_not_401() {
    let fresh = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let read = Arc::clone(&fresh);
    let app = support::start_with(true, move |sessions| {
        sessions.freshness(move || {
            if read.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err(Error::Stale)
            }
        })
    })
    .await;
    let token = login(&app, "alice").await;
    assert_eq!(me_with_cookie(&app, &token).await.status, StatusCode::OK);

    fresh.store(false, Ordering::SeqCst);
    for reply in [
        me_with_cookie(&app, &token).await,
        me_with_bearer(&app, &token).await,
        me_with_bearer(&app, &tamper(&token)).await,
    ] {
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reply.body, r#"{"error":"unavailable","reason":"stale"}"#);
        assert_eq!(reply.headers["retry-after"], "5");
        assert_eq!(reply.headers["content-type"], "application/json");
        assert!(reply.headers.get("www-authenticate").is_none());
        // The credential may be fine: the cookie is kept.
        assert!(reply.set_cookies().is_empty());
    }
    // The handler never ran.
    let auth = format!("Bearer {token}");
    let reply = send(app.addr, "POST", "/action", &[("authorization", &auth)], "").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.actions.load(Ordering::SeqCst), 0);
    // Nothing to verify, nothing refused.
    let reply = send(app.addr, "GET", "/maybe", &[], "").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "anonymous")
    );

    fresh.store(true, Ordering::SeqCst);
    assert_eq!(me_with_cookie(&app, &token).await.status, StatusCode::OK);
}

/// A follower that never reached Redis is not ready: with a fail-closed
/// limit, `Sessions::from_fleet` refuses to verify (no Redis needed).
#[cfg(feature = "redis")]
#[tokio::test]
async fn a_fleet_follower_that_never_caught_up_fails_closed() {
    use axum::routing::get;
    use std::time::Duration;
    use tessera::fleet::{FleetConfig, Follower, FollowerConfig};

    let issuer = Issuer::new(Keyset::generate(), support::policy());
    let token = issuer.issue("alice", &()).unwrap();
    let mut replies = Vec::new();
    for fail_closed in [true, false] {
        // Nothing listens on port 1.
        let mut config = FollowerConfig::new(FleetConfig::new("redis://127.0.0.1:1", "webtest"));
        if fail_closed {
            config = config.fail_closed_after(Duration::from_secs(60));
        }
        let follower = Follower::spawn(config, LiveVerifier::new(issuer.verifier())).unwrap();
        let sessions = Sessions::<()>::from_fleet(follower.verifier());
        let app = axum::Router::new()
            .route(
                "/me",
                get(|s: Session<()>| async move { s.subject().to_owned() }),
            )
            .layer(sessions.layer());
        let (addr, server) = serve_without_peer_addresses(app).await;
        let auth = format!("Bearer {token}");
        replies.push(send(addr, "GET", "/me", &[("authorization", &auth)], "").await);
        server.abort();
        follower.shutdown().await;
    }
    assert_eq!(replies[0].status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        replies[0].body,
        r#"{"error":"unavailable","reason":"stale"}"#
    );
    // Without the policy the last state is used.
    assert_eq!(replies[1].status, StatusCode::OK);
    assert_eq!(replies[1].body, "alice");
}

/// Serves `app` on loopback with plain `axum::serve`: no `ConnectInfo`.
async fn serve_without_peer_addresses(
    app: axum::Router,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, server)
}

#[tokio::test]
async fn a_guard_without_client_addresses_is_a_visible_server_error() {
    use axum::routing::get;

    let issuer = Issuer::new(Keyset::generate(), support::policy());
    let token = issuer.issue("alice", &()).unwrap();
    let auth = format!("Bearer {token}");
    let guard = guard(3, 100);
    let sessions = |how: ClientAddress| {
        Sessions::<()>::new(LiveVerifier::new(issuer.verifier()))
            .issuer(tessera::LiveIssuer::new(issuer.clone()))
            .guard(Arc::clone(&guard))
            .client_address(how)
    };
    let header = ClientAddress::from(TrustedProxyHeader::x_forwarded_for());
    for how in [ClientAddress::Connection, header] {
        let want = if how == ClientAddress::Connection {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        };
        let app = axum::Router::new()
            .route(
                "/me",
                get(|s: Session<()>| async move { s.subject().to_owned() }),
            )
            .route("/public", get(|| async { "public" }))
            .layer(sessions(how).layer());
        let (addr, server) = serve_without_peer_addresses(app).await;
        for (path, headers) in [
            ("/me", vec![("authorization", auth.as_str())]),
            ("/public", vec![]),
        ] {
            let reply = send(addr, "GET", path, &headers, "").await;
            assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
            assert_eq!(
                reply.body,
                r#"{"error":"internal","reason":"no_client_address"}"#
            );
        }
        // A proxy header, when configured and present, is an address.
        let reply = send(
            addr,
            "GET",
            "/me",
            &[("authorization", &auth), ("x-forwarded-for", "203.0.113.9")],
            "",
        )
        .await;
        assert_eq!(reply.status, want);
        server.abort();
    }
    assert_eq!(guard.counters().verified, 1);
    // A handle built outside a request has no client: login cannot ask the
    // guard, so it refuses instead of opening an uncounted session.
    let outside = sessions(ClientAddress::Connection);
    assert_eq!(
        outside.login("bob", &()).err(),
        Some(Error::NoClientAddress)
    );
    outside.record_failure(); // logs, records nothing
    assert_eq!(guard.counters().failures, 0);
}

#[tokio::test]
async fn the_guard_reads_rfc_7239_forwarded_behind_two_proxies() {
    let guard = guard(2, 100);
    let how = ClientAddress::from(TrustedProxyHeader::forwarded().hops(2));
    let app = start_guarded(true, Some((Arc::clone(&guard), how))).await;
    let token = login(&app, "alice").await;
    let forged = tamper(&token);
    let call = |forwarded: String, token: String| async move {
        let auth = format!("Bearer {token}");
        let headers = [("authorization", auth.as_str()), ("forwarded", &forwarded)];
        send(app.addr, "POST", "/action", &headers, "").await.status
    };
    // The client writes what it likes on the left; the CDN appended the
    // client's address, the load balancer the CDN's.
    let attacker = |spoof: &str| {
        format!(r#"{spoof}, for="[2001:db8::7]:4711";proto=https, for=10.0.0.1;by=_lb"#)
    };
    for spoof in ["for=192.0.2.1", "for=\"192.0.2.2"] {
        let status = call(attacker(spoof), forged.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let status = call(attacker("for=192.0.2.3"), token.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let neighbour = "for=192.0.2.1, for=198.51.100.9, for=10.0.0.1".to_owned();
    assert_eq!(call(neighbour, token.clone()).await, StatusCode::OK);
}
