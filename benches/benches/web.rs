//! One request through an axum router (`tower::ServiceExt::oneshot`, no
//! network), side by side: a bare handler; tessera's session layer with a
//! verified-token cache hit (hot) and with a fresh token on every request
//! (cold: a cache miss, so a full verification); tower-sessions with its
//! in-memory store; and axum-extra's `PrivateCookieJar` reading a small
//! session. Every session handler reads the user name from the session.
//! `tessera_hot_guard` is the hot request with the abuse guard consulted;
//! `tessera_verify_alone` is `LiveVerifier::verify` of the hot token outside
//! any router: the part of the hot request that is verification.
//!
//! `cd benches && cargo bench --bench web -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRef};
use axum::http::{header, Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use axum_extra::extract::cookie::{Cookie, Key, PrivateCookieJar};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use serde::{Deserialize, Serialize};
use tessera::web::Sessions;
use tessera::{Guard, GuardConfig, Issuer, Keyset, LiveIssuer, LiveVerifier, Policy, Session};
use tower::ServiceExt;
use tower_sessions::{MemoryStore, SessionManagerLayer};

/// The small session every contender carries: a user name and a role.
#[derive(Clone, Serialize, Deserialize)]
struct Small {
    user: String,
    role: String,
}

fn small() -> Small {
    Small {
        user: "alice@example.com".into(),
        role: "admin".into(),
    }
}

fn get_with_cookie(cookie: &str) -> Request<Body> {
    Request::get("/")
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

/// Runs one request to completion; the router needs no I/O.
fn run(rt: &tokio::runtime::Runtime, app: &Router, req: Request<Body>) {
    let response = rt.block_on(app.clone().oneshot(req)).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    black_box(response);
}

#[derive(Clone)]
struct JarState {
    key: Key,
}

impl FromRef<JarState> for Key {
    fn from_ref(state: &JarState) -> Key {
        state.key.clone()
    }
}

fn web(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("web/request");

    // A bare handler: the router and oneshot alone.
    let bare = Router::new().route("/", get(|| async { "ok" }));
    group.bench_function("bare", |b| {
        b.iter(|| run(&rt, &bare, Request::get("/").body(Body::empty()).unwrap()))
    });

    // tessera: the layer verifies the cookie; the handler reads the session.
    let issuer = Issuer::new(Keyset::generate(), Policy::default());
    let sessions = Sessions::<Small>::new(LiveVerifier::new(issuer.verifier()))
        .issuer(LiveIssuer::new(issuer.clone()));
    let app = Router::new()
        .route(
            "/",
            get(|s: Session<Small>| async move { s.data().user.len().to_string() }),
        )
        .layer(sessions.layer());
    let token = issuer.issue("alice@example.com", &small()).unwrap();
    let cookie = format!("__Host-tessera={token}");
    group.bench_function("tessera_hot", |b| {
        b.iter(|| run(&rt, &app, get_with_cookie(&cookie)))
    });
    // The same with the abuse guard consulted (is_blocked before, and the
    // success recorded after, for the connection's address).
    let guarded = Router::new()
        .route(
            "/",
            get(|s: Session<Small>| async move { s.data().user.len().to_string() }),
        )
        .layer(
            sessions
                .clone()
                .guard(Arc::new(Guard::new(GuardConfig::default())))
                .layer(),
        );
    let peer = SocketAddr::from(([192, 0, 2, 1], 40000));
    group.bench_function("tessera_hot_guard", |b| {
        b.iter(|| {
            let mut req = get_with_cookie(&cookie);
            req.extensions_mut().insert(ConnectInfo(peer));
            run(&rt, &guarded, req)
        })
    });
    // The verification alone, for the layer's share of the difference.
    let live = sessions.verifier().clone();
    group.bench_function("tessera_verify_alone", |b| {
        b.iter(|| live.verify::<Small>(black_box(&token)).unwrap())
    });
    // A token never seen before on every request: the cache misses, so the
    // AEAD and the Ed25519 check run. Issuing it is setup, not timed.
    group.bench_function("tessera_cold", |b| {
        b.iter_batched(
            || {
                let token = issuer.issue("alice@example.com", &small()).unwrap();
                get_with_cookie(&format!("__Host-tessera={token}"))
            },
            |req| run(&rt, &app, req),
            BatchSize::SmallInput,
        )
    });

    // tower-sessions, in-memory store: a session id cookie and a lookup.
    let store = MemoryStore::default();
    let app = Router::new()
        .route(
            "/",
            get(|s: tower_sessions::Session| async move {
                let small: Small = s.get("small").await.unwrap().unwrap();
                small.user.len().to_string()
            }),
        )
        .route(
            "/login",
            get(|s: tower_sessions::Session| async move {
                s.insert("small", small()).await.unwrap();
                "ok"
            }),
        )
        .layer(SessionManagerLayer::new(store));
    let login = rt
        .block_on(
            app.clone()
                .oneshot(Request::get("/login").body(Body::empty()).unwrap()),
        )
        .unwrap();
    let set = login.headers()[header::SET_COOKIE].to_str().unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();
    group.bench_function("tower_sessions_memory", |b| {
        b.iter(|| run(&rt, &app, get_with_cookie(&cookie)))
    });

    // axum-extra: the session sealed (AES-256-GCM) in a private cookie.
    let state = JarState {
        key: Key::generate(),
    };
    let jar = PrivateCookieJar::new(state.key.clone()).add(Cookie::new(
        "session",
        serde_json::to_string(&small()).unwrap(),
    ));
    let response = (jar, "ok").into_response();
    let set = response.headers()[header::SET_COOKIE].to_str().unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();
    let app = Router::new()
        .route(
            "/",
            get(|jar: PrivateCookieJar| async move {
                let cookie = jar.get("session").unwrap();
                let small: Small = serde_json::from_str(cookie.value()).unwrap();
                small.user.len().to_string()
            }),
        )
        .with_state(state);
    group.bench_function("axum_extra_private_cookie", |b| {
        b.iter(|| run(&rt, &app, get_with_cookie(&cookie)))
    });
    group.finish();
}

criterion_group!(benches, web);
criterion_main!(benches);
