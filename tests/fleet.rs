//! The fleet feed against a real Redis at `REDIS_URL` (default
//! `redis://127.0.0.1:6379`). Each test uses its own key prefix (random
//! suffix) and deletes its keys at the end, even when it fails.
//!
//! Without a reachable Redis these tests print one line and pass, unless
//! `TESSERA_REQUIRE_REDIS=1` (set by `.ci/run`), when they fail.

#[path = "support/ids.rs"]
#[allow(dead_code)]
mod ids;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use ids::Rng;
use redis::aio::MultiplexedConnection;
use tessera::fleet::{
    EntryId, Event, FleetConfig, Follower, FollowerConfig, FollowerHandle, Publisher,
};
use tessera::{Error, Issuer, Keyset, LiveVerifier, Policy, SessionId};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(20);

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A connection to the test Redis, or `None` (after one printed line) when
/// it is unreachable and not required.
async fn redis_or_skip() -> Option<MultiplexedConnection> {
    let url = redis_url();
    let attempt = async {
        let client = redis::Client::open(url.as_str()).ok()?;
        let mut conn = client.get_multiplexed_async_connection().await.ok()?;
        let pong: String = redis::cmd("PING").query_async(&mut conn).await.ok()?;
        (pong == "PONG").then_some(conn)
    };
    let conn = tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten();
    if conn.is_none() {
        static ONCE: Once = Once::new();
        skip_or_fail(
            &ONCE,
            &format!(
                "no Redis at {url} (set REDIS_URL, or TESSERA_REQUIRE_REDIS=1 to fail instead)"
            ),
        );
    }
    conn
}

/// Fails the test when `TESSERA_REQUIRE_REDIS=1`; otherwise prints one
/// `SKIPPED` line (once per `once`) so that the skip shows.
fn skip_or_fail(once: &Once, why: &str) {
    if std::env::var("TESSERA_REQUIRE_REDIS").as_deref() == Ok("1") {
        panic!("TESSERA_REQUIRE_REDIS=1 but {why}");
    }
    once.call_once(|| {
        // Written past the test harness's capture, so that it shows.
        let _ = writeln!(std::io::stderr(), "SKIPPED tests/fleet.rs: {why}");
    });
}

/// A unique prefix, and the keys under it deleted on drop (pass or fail).
struct Feed {
    prefix: String,
}

impl Feed {
    fn new(test: &str) -> Feed {
        let mut r = [0u8; 8];
        getrandom_fill(&mut r);
        Feed {
            prefix: format!("tessera-test:{test}:{:016x}", u64::from_le_bytes(r)),
        }
    }

    fn config(&self) -> FleetConfig {
        FleetConfig::new(&redis_url(), &self.prefix)
    }

    fn stream(&self) -> String {
        format!("{}:stream", self.prefix)
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        if let Ok(client) = redis::Client::open(redis_url()) {
            if let Ok(mut conn) = client.get_connection() {
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(format!("{}*", self.prefix))
                    .query(&mut conn)
                    .unwrap_or_default();
                if !keys.is_empty() {
                    let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query(&mut conn);
                }
            }
        }
    }
}

fn getrandom_fill(buf: &mut [u8]) {
    // A clock-seeded SplitMix is unique enough for key names.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        ^ (std::process::id() as u64) << 32;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut rng = Rng(seed ^ COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37));
    for chunk in buf.chunks_mut(8) {
        let bytes = rng.next().to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

fn random_rng() -> Rng {
    let mut seed = [0u8; 8];
    getrandom_fill(&mut seed);
    Rng(u64::from_le_bytes(seed))
}

/// A live verifier of a fresh issuer's keys.
fn live() -> (Issuer, LiveVerifier) {
    let issuer = Issuer::new(Keyset::generate(), Policy::default());
    let live = LiveVerifier::new(issuer.verifier());
    (issuer, live)
}

async fn follower(config: FollowerConfig, live: &LiveVerifier) -> FollowerHandle {
    let handle = Follower::spawn(config, live.clone()).unwrap();
    tokio::time::timeout(WAIT, handle.ready())
        .await
        .expect("follower ready in time")
        .unwrap();
    handle
}

async fn applied(handle: &FollowerHandle, id: EntryId) {
    tokio::time::timeout(WAIT, handle.applied(id))
        .await
        .expect("entry applied in time")
        .unwrap();
}

fn revocations(rng: &mut Rng, n: usize) -> Vec<(SessionId, u64)> {
    let base = now();
    (0..n)
        .map(|_| (rng.id(), base + 60 + rng.next() % 36_000))
        .collect()
}

fn events(revs: &[(SessionId, u64)]) -> Vec<Event> {
    revs.iter()
        .map(|&(id, deadline)| Event::Session { id, deadline })
        .collect()
}

async fn publish_all(publisher: &Publisher, revs: &[(SessionId, u64)]) -> EntryId {
    let mut last = EntryId::ZERO;
    for chunk in revs.chunks(1000) {
        last = *publisher
            .publish(&events(chunk))
            .await
            .unwrap()
            .last()
            .unwrap();
    }
    last
}

fn holds_all(live: &LiveVerifier, revs: &[(SessionId, u64)]) -> bool {
    revs.iter()
        .all(|&(id, deadline)| live.revocations().is_revoked(id, deadline))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_followers_get_every_revocation_and_latency_is_printed() {
    let Some(_) = redis_or_skip().await else {
        return;
    };
    let feed = Feed::new("latency");
    let publisher = Publisher::connect(feed.config()).await.unwrap();
    let mut followers = Vec::new();
    for n in 0..3 {
        let (_, live) = live();
        let config = FollowerConfig::new(feed.config()).client_name(&format!("f{n}"));
        followers.push((follower(config, &live).await, live));
    }
    let mut rng = random_rng();
    let revs = revocations(&mut rng, 1000);
    let mut latencies = Vec::with_capacity(3000);
    for &(id, deadline) in &revs {
        let start = Instant::now();
        let entry = publisher.revoke_session(id, deadline).await.unwrap();
        let (a, b, c) = tokio::join!(
            async {
                applied(&followers[0].0, entry).await;
                start.elapsed()
            },
            async {
                applied(&followers[1].0, entry).await;
                start.elapsed()
            },
            async {
                applied(&followers[2].0, entry).await;
                start.elapsed()
            },
        );
        latencies.extend([a, b, c]);
    }
    for (handle, live) in &followers {
        assert!(holds_all(live, &revs));
        assert_eq!(handle.malformed_entries(), 0);
    }
    latencies.sort();
    println!(
        "fleet propagation over 1,000 revocations x 3 followers (publish to applied): \
         p50 {:?}, p99 {:?}, max {:?}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_follower_is_ready_only_with_every_revocation() {
    let Some(mut conn) = redis_or_skip().await else {
        return;
    };
    let feed = Feed::new("catchup");
    let publisher = Publisher::connect(feed.config()).await.unwrap();
    let mut rng = random_rng();
    let revs = revocations(&mut rng, 100_000);
    let start = Instant::now();
    publish_all(&publisher, &revs).await;
    let published = start.elapsed();

    // Without a snapshot: the whole stream is replayed.
    let (_, live_a) = live();
    let start = Instant::now();
    let a = Follower::spawn(FollowerConfig::new(feed.config()), live_a.clone()).unwrap();
    tokio::time::timeout(WAIT, a.ready())
        .await
        .unwrap()
        .unwrap();
    let without = start.elapsed();
    assert!(holds_all(&live_a, &revs), "ready before holding everything");
    let covered = a.position();
    assert!(a.write_snapshot(now()).await.unwrap());

    // With a snapshot: only the tail after it is replayed. The entries the
    // snapshot covers are trimmed first (all but the last, which the
    // follower skips as covered), so only the snapshot can give them back.
    let tail = revocations(&mut rng, 1000);
    publish_all(&publisher, &tail).await;
    let removed: u64 = redis::cmd("XTRIM")
        .arg(feed.stream())
        .arg("MINID")
        .arg(covered.to_string())
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(removed, 99_999);
    let (_, live_b) = live();
    let start = Instant::now();
    let b = Follower::spawn(FollowerConfig::new(feed.config()), live_b.clone()).unwrap();
    tokio::time::timeout(WAIT, b.ready())
        .await
        .unwrap()
        .unwrap();
    let with = start.elapsed();
    assert!(holds_all(&live_b, &revs), "snapshot not loaded");
    assert!(holds_all(&live_b, &tail), "tail not replayed");
    let status = publisher.status().await.unwrap();
    assert_eq!(status.stream_len, 1 + 1000);
    assert_eq!(status.first, Some(covered));
    assert_eq!(status.snapshot.unwrap().position, covered);
    println!(
        "fleet catch-up of 100,000 revocations: without snapshot {without:?}, with snapshot \
         (+1,000 tail) {with:?}; publishing them took {published:?}"
    );
}

/// Kills every connection named `name` (CLIENT LIST, CLIENT KILL ID);
/// returns how many.
async fn kill_named(conn: &mut MultiplexedConnection, name: &str) -> usize {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(conn)
        .await
        .unwrap();
    let mut killed = 0;
    for line in list.lines() {
        let field = |key: &str| {
            line.split(' ')
                .find_map(|kv| kv.strip_prefix(key))
                .unwrap_or("")
                .to_owned()
        };
        if field("name=") == name {
            let id = field("id=");
            let _: redis::RedisResult<()> = redis::cmd("CLIENT")
                .arg("KILL")
                .arg("ID")
                .arg(id)
                .query_async(conn)
                .await;
            killed += 1;
        }
    }
    killed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connections_lose_nothing() {
    let Some(mut admin) = redis_or_skip().await else {
        return;
    };
    let feed = Feed::new("kill");
    let publisher = Publisher::connect(feed.config()).await.unwrap();
    let mut followers = Vec::new();
    for n in 0..3 {
        let (_, live) = live();
        let name = format!("{}-f{n}", feed.prefix.replace(':', "-"));
        let config = FollowerConfig::new(feed.config()).client_name(&name);
        followers.push((follower(config, &live).await, live, name));
    }
    let mut rng = random_rng();
    let revs = revocations(&mut rng, 20_000);
    let burst = {
        let publisher = publisher.clone();
        let revs = revs.clone();
        tokio::spawn(async move {
            let mut last = EntryId::ZERO;
            for chunk in revs.chunks(100) {
                last = *publisher
                    .publish(&events(chunk))
                    .await
                    .unwrap()
                    .last()
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            last
        })
    };
    let mut kills = 0;
    while !burst.is_finished() {
        for (_, _, name) in &followers {
            kills += kill_named(&mut admin, name).await;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let last = burst.await.unwrap();
    for (handle, live, _) in &followers {
        applied(handle, last).await;
        assert!(holds_all(live, &revs), "a revocation was lost");
        assert!(handle.reconnects() > 0);
    }
    assert!(kills >= 3, "the burst ended before any kill");
    println!("fleet: {kills} follower connections killed during a burst of 20,000; none lost");
}

/// A TCP proxy on loopback to Redis that can be stopped (every connection
/// closed, the port refused) and started again on the same port.
struct Proxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    running: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Proxy {
            addr: listener.local_addr().unwrap(),
            upstream,
            running: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let running = self.running.clone();
        let upstream = self.upstream;
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                running.lock().unwrap().push(pipe);
            }
        });
        self.running.lock().unwrap().push(accept);
    }

    fn stop(&self) {
        for task in self.running.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    async fn restart(&self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }
}

fn redis_addr() -> SocketAddr {
    let url = redis_url();
    let rest = url.trim_start_matches("redis://");
    let host = rest.rsplit('@').next().unwrap().split('/').next().unwrap();
    let host = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:6379")
    };
    std::net::ToSocketAddrs::to_socket_addrs(&host)
        .unwrap()
        .next()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_is_caught_up_with_once_back() {
    let Some(_) = redis_or_skip().await else {
        return;
    };
    let feed = Feed::new("outage");
    let publisher = Publisher::connect(feed.config()).await.unwrap();
    let proxy = Proxy::start(redis_addr()).await;
    let via_proxy = FleetConfig::new(&format!("redis://{}", proxy.addr), &feed.prefix);
    let (issuer, open_live) = live();
    let closed_live = LiveVerifier::new(issuer.verifier());
    let block = Duration::from_millis(200);
    let open = follower(
        FollowerConfig::new(via_proxy.clone()).block(block),
        &open_live,
    )
    .await;
    let closed = follower(
        FollowerConfig::new(via_proxy)
            .block(block)
            .fail_closed_after(Duration::from_millis(800)),
        &closed_live,
    )
    .await;
    let token = issuer.issue("carol", &()).unwrap();
    let mut rng = random_rng();
    let before = revocations(&mut rng, 100);
    let last = publish_all(&publisher, &before).await;
    applied(&open, last).await;
    applied(&closed, last).await;
    assert!(closed.verifier().verify::<()>(&token).is_ok());

    proxy.stop();
    let during = revocations(&mut rng, 500);
    let last = publish_all(&publisher, &during).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Down: the last state keeps verifying, unless the policy fails closed.
    assert!(open.staleness().unwrap() >= Duration::from_secs(1));
    assert!(open.verifier().verify::<()>(&token).is_ok());
    assert_eq!(
        closed.verifier().verify::<()>(&token).err(),
        Some(Error::Stale)
    );
    assert!(!holds_all(&open_live, &during));

    proxy.restart().await;
    let back = Instant::now();
    applied(&open, last).await;
    applied(&closed, last).await;
    let caught_up = back.elapsed();
    for live in [&open_live, &closed_live] {
        assert!(holds_all(live, &before) && holds_all(live, &during));
    }
    assert!(closed.verifier().verify::<()>(&token).is_ok());
    assert!(open.reconnects() > 0);
    println!("fleet: caught up {caught_up:?} after Redis came back (1.5 s outage)");
    proxy.stop();
}

/// A `redis-server` of the test's own on a free loopback port, without
/// persistence; killed on drop (pass or fail), so nothing is left running.
struct OwnRedis {
    binary: std::path::PathBuf,
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    /// `redis-server` from `PATH`, if there is one.
    fn binary() -> Option<std::path::PathBuf> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|dir| dir.join("redis-server"))
            .find(|p| p.is_file())
    }

    fn new(binary: std::path::PathBuf) -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        OwnRedis {
            binary,
            port,
            child: None,
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts a fresh, empty server and waits (bounded) until it answers.
    async fn start(&mut self) {
        assert!(self.child.is_none());
        let child = std::process::Command::new(&self.binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let client = redis::Client::open(self.url()).unwrap();
        let started = Instant::now();
        loop {
            let ping = async {
                let mut conn = client.get_multiplexed_async_connection().await.ok()?;
                redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .ok()
            };
            let pong = tokio::time::timeout(Duration::from_secs(1), ping).await;
            if matches!(pong, Ok(Some(ref p)) if p == "PONG") {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "redis-server on port {} did not answer PING within 5 s",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the server (no shutdown, no save) and reaps it.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Publishes `revs` in one call, retrying (bounded) until Redis
/// acknowledges; returns the ids and the attempts it took.
async fn publish_acknowledged(
    publisher: &Publisher,
    revs: &[(SessionId, u64)],
) -> (Vec<EntryId>, u32) {
    let started = Instant::now();
    let events = events(revs);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let attempt = tokio::time::timeout(Duration::from_secs(7), publisher.publish(&events));
        if let Ok(Ok(ids)) = attempt.await {
            return (ids, attempts);
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no publish acknowledged within 5 s of Redis answering PING"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_redis_is_followed_again() {
    let Some(binary) = OwnRedis::binary() else {
        static ONCE: Once = Once::new();
        skip_or_fail(&ONCE, "no redis-server on PATH for the restart test");
        return;
    };
    let mut redis = OwnRedis::new(binary);
    redis.start().await;
    let fleet = FleetConfig::new(&redis.url(), "tessera-test:restart");
    let publisher = Publisher::connect(fleet.clone()).await.unwrap();
    let block = Duration::from_millis(200);
    let mut lives = Vec::new();
    let mut followers = Vec::new();
    for n in 0..2 {
        let (_, live) = live();
        let config = FollowerConfig::new(fleet.clone())
            .block(block)
            .client_name(&format!("restart{n}"));
        followers.push(follower(config, &live).await);
        lives.push(live);
    }
    let mut rng = random_rng();
    let before = revocations(&mut rng, 200);
    let last_before = publish_all(&publisher, &before).await;
    for f in &followers {
        applied(f, last_before).await;
    }

    let restart = restart_empty(&mut redis, &publisher, &followers, &mut rng).await;
    for live in &lives {
        assert!(holds_all(live, &before));
    }
    let after = revocations(&mut rng, 200);
    let (ids_first, attempts) = publish_acknowledged(&publisher, &after[..100]).await;
    let (ids_second, _) = publish_acknowledged(&publisher, &after[100..]).await;
    let last_after = *ids_second.last().unwrap();
    // Time-based ids: the new stream's ids continue after the old ones.
    assert!(ids_first[0] > last_before);
    for f in &followers {
        applied(f, last_after).await;
    }
    let caught_up = restart.elapsed();
    for live in &lives {
        assert!(holds_all(live, &before), "kept what it had before");
        assert!(holds_all(live, &after), "got every entry after the restart");
    }
    for f in &followers {
        assert_eq!(f.position(), last_after);
        assert_eq!(f.malformed_entries(), 0);
    }
    println!(
        "fleet: caught up {caught_up:?} after redis-server restarted (fresh, empty; \
         first publish acknowledged at attempt {attempts}; ids {last_before} -> {})",
        ids_first[0]
    );

    // The same when the new stream's ids are before the followers'
    // position: here the entries before the restart carry ids set 30 s
    // ahead (as from a Redis whose clock was ahead of the next one's).
    let ahead = revocations(&mut rng, 50);
    let ahead_ids = publisher
        .publish_at(&events(&ahead), now() + 30)
        .await
        .unwrap();
    let last_ahead = *ahead_ids.last().unwrap();
    for f in &followers {
        applied(f, last_ahead).await;
    }
    let restart = restart_empty(&mut redis, &publisher, &followers, &mut rng).await;
    let behind = revocations(&mut rng, 100);
    let (ids, _) = publish_acknowledged(&publisher, &behind).await;
    let last_behind = *ids.last().unwrap();
    assert!(
        last_behind < last_ahead,
        "the new ids are behind the position"
    );
    let started = Instant::now();
    while !followers.iter().all(|f| f.position() == last_behind)
        || !lives.iter().all(|live| holds_all(live, &behind))
    {
        assert!(
            started.elapsed() < WAIT,
            "entries with ids before the position were not applied in time \
             (positions {:?}, newest {last_behind})",
            followers.iter().map(|f| f.position()).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let caught_up = restart.elapsed();
    for live in &lives {
        assert!(holds_all(live, &before) && holds_all(live, &after) && holds_all(live, &ahead));
    }
    println!(
        "fleet: caught up {caught_up:?} after a restart whose ids went back \
         ({last_ahead} -> {})",
        ids[0]
    );
}

/// Kills `redis`, checks that publishing fails (with an error, within a
/// bound) and that the followers notice, then starts it again, empty.
/// Returns when it was started.
async fn restart_empty(
    redis: &mut OwnRedis,
    publisher: &Publisher,
    followers: &[FollowerHandle],
    rng: &mut Rng,
) -> Instant {
    let reconnects: Vec<u64> = followers.iter().map(|f| f.reconnects()).collect();
    redis.kill();
    let down = events(&revocations(rng, 10));
    for _ in 0..2 {
        let started = Instant::now();
        let attempt = publisher.publish(&down);
        let result = tokio::time::timeout(Duration::from_secs(7), attempt)
            .await
            .expect("a publish to a stopped Redis fails within 7 s");
        assert!(
            matches!(result, Err(Error::Fleet(_))),
            "publish to a stopped Redis: {result:?}"
        );
        println!(
            "fleet: a publish to a stopped Redis failed after {:?}",
            started.elapsed()
        );
    }
    for (f, before) in followers.iter().zip(reconnects) {
        assert!(f.reconnects() > before);
    }
    let restart = Instant::now();
    redis.start().await;
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(keys.is_empty(), "the restarted Redis kept nothing");
    restart
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_mid_traffic_rejects_no_valid_token() {
    let Some(_) = redis_or_skip().await else {
        return;
    };
    let feed = Feed::new("rotation");
    let publisher = Publisher::connect(feed.config()).await.unwrap();
    let mut keys = Keyset::generate();
    let old_issuer = Issuer::new(keys.clone(), Policy::default());
    let mut followers = Vec::new();
    for _ in 0..3 {
        let live = LiveVerifier::new(old_issuer.verifier());
        followers.push((
            follower(FollowerConfig::new(feed.config()), &live).await,
            live,
        ));
    }
    let next = keys.add();
    let mut promoted = keys.clone();
    promoted.promote(next).unwrap();
    let new_issuer = Issuer::new(promoted, Policy::default());

    // Traffic on its own thread: old-key tokens (valid under both keysets)
    // on every follower, all the time; new-key tokens until each follower
    // accepts them.
    let lives: Vec<LiveVerifier> = followers.iter().map(|(_, l)| l.clone()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let published = Arc::new(Mutex::new(None::<Instant>));
    let traffic = {
        let (stop, published) = (stop.clone(), published.clone());
        std::thread::spawn(move || {
            let mut rejected = 0u64;
            let mut checked = 0u64;
            let mut accepted_after: Vec<Option<Duration>> = vec![None; lives.len()];
            let new_token = new_issuer.issue("probe", &()).unwrap();
            while !stop.load(Ordering::Relaxed) {
                let token = old_issuer.issue("user", &()).unwrap();
                for (n, live) in lives.iter().enumerate() {
                    checked += 1;
                    if live.verify::<()>(&token).is_err() {
                        rejected += 1;
                    }
                    let start = *published.lock().unwrap();
                    if let (Some(start), None) = (start, accepted_after[n]) {
                        if live.verify::<()>(&new_token).is_ok() {
                            accepted_after[n] = Some(start.elapsed());
                        }
                    }
                }
            }
            (rejected, checked, accepted_after)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start = Instant::now();
    let entry = publisher
        .publish_keyset(&keys.verifier_keyset())
        .await
        .unwrap();
    *published.lock().unwrap() = Some(start);
    for (handle, _) in &followers {
        applied(handle, entry).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let (rejected, checked, accepted_after) = traffic.join().unwrap();
    assert_eq!(
        rejected, 0,
        "{rejected} of {checked} old-key verifications rejected"
    );
    assert!(checked > 30);
    let bound = Duration::from_secs(2);
    for (n, after) in accepted_after.iter().enumerate() {
        let after = after.unwrap_or_else(|| panic!("follower {n} never accepted the new key"));
        assert!(after < bound, "follower {n} took {after:?}");
    }
    for (_, live) in &followers {
        assert!(live.current().key_ids().contains(&next));
    }
    let status = publisher.status().await.unwrap();
    assert_eq!(status.keyset, Some(keys.key_ids()));
    println!(
        "fleet key rotation: new key accepted on every follower after {:?} (publish to verify); \
         {checked} old-key verifications during it, none rejected",
        accepted_after.iter().flatten().max().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subject_is_logged_out_on_every_follower() {
    let Some(_) = redis_or_skip().await else {
        return;
    };
    let feed = Feed::new("subject");
    let publisher = Publisher::connect(feed.config()).await.unwrap();
    let issuer = Issuer::new(Keyset::generate(), Policy::default());
    let mut followers = Vec::new();
    for _ in 0..3 {
        let live = LiveVerifier::new(issuer.verifier());
        followers.push((
            follower(FollowerConfig::new(feed.config()), &live).await,
            live,
        ));
    }
    let t = now();
    let old: Vec<String> = (0..5)
        .map(|i| issuer.issue_at("alice", &(), t - 600 + i * 60).unwrap())
        .collect();
    let bob = issuer.issue_at("bob", &(), t - 600).unwrap();
    let entry = publisher.revoke_subject("alice", t - 100).await.unwrap();
    let after_cutoff = issuer.issue_at("alice", &(), t - 100).unwrap();
    for (handle, live) in &followers {
        applied(handle, entry).await;
        for token in &old {
            assert_eq!(live.verify_at::<()>(token, t).err(), Some(Error::Revoked));
        }
        assert!(live.verify_at::<()>(&after_cutoff, t).is_ok());
        assert!(live.verify_at::<()>(&bob, t).is_ok());
    }
    // A follower started later learns it from the stream (and from a snapshot).
    followers[0].0.write_snapshot(t).await.unwrap();
    let live = LiveVerifier::new(issuer.verifier());
    let _late = follower(FollowerConfig::new(feed.config()), &live).await;
    assert_eq!(live.verify_at::<()>(&old[0], t).err(), Some(Error::Revoked));
    assert!(live.verify_at::<()>(&after_cutoff, t).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_entries_are_skipped_and_following_goes_on() {
    let Some(mut conn) = redis_or_skip().await else {
        return;
    };
    let feed = Feed::new("malformed");
    let publisher = Publisher::connect(feed.config()).await.unwrap();
    let (_, live) = live();
    let handle = follower(FollowerConfig::new(feed.config()), &live).await;
    let bad: &[&[(&str, &[u8])]] = &[
        &[("kind", b"session"), ("id", b"not hex"), ("deadline", b"1")],
        &[
            ("kind", b"subject"),
            ("subject", b"\xff\xfe"),
            ("before", b"1"),
        ],
        &[("kind", b"what")],
        &[("junk", b"")],
    ];
    for fields in bad {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(feed.stream()).arg("*");
        for (k, v) in *fields {
            cmd.arg(*k).arg(*v);
        }
        let _: String = cmd.query_async(&mut conn).await.unwrap();
    }
    let mut rng = random_rng();
    let revs = revocations(&mut rng, 10);
    let last = publish_all(&publisher, &revs).await;
    applied(&handle, last).await;
    assert!(holds_all(&live, &revs));
    assert_eq!(handle.malformed_entries(), bad.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_handle_stops_the_follower() {
    let Some(mut admin) = redis_or_skip().await else {
        return;
    };
    let feed = Feed::new("drop");
    let name = format!("{}-drop", feed.prefix.replace(':', "-"));
    let (_, live) = live();
    let handle = follower(FollowerConfig::new(feed.config()).client_name(&name), &live).await;
    let count = |list: String| {
        list.lines()
            .filter(|l| l.contains(&format!("name={name} ")))
            .count()
    };
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(count(list), 1);
    drop(handle);
    let deadline = Instant::now() + WAIT;
    loop {
        let list: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(&mut admin)
            .await
            .unwrap();
        if count(list) == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the follower's connection is still open"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_memory_stays_at_the_live_window_after_a_simulated_day() {
    let Some(mut conn) = redis_or_skip().await else {
        return;
    };
    let feed = Feed::new("memory");
    let reference = Feed::new("memory-reference");
    // Sessions of at most 2 h: entries matter for 4 h (plus twice the 1 h leeway).
    let lifetime = Duration::from_secs(2 * 3600);
    let publisher = Publisher::connect(feed.config().max_lifetime(lifetime))
        .await
        .unwrap();
    let mut rng = random_rng();
    let t0 = now() - 24 * 3600;
    let per_step = 250;
    let step = 600; // ten minutes
    let mut window = Vec::new();
    let mut peak = 0u64;
    let mut t = t0;
    while t <= t0 + 24 * 3600 {
        let revs: Vec<_> = (0..per_step)
            .map(|_| (rng.id(), t + 60 + rng.next() % 7200))
            .collect();
        publisher.publish_at(&events(&revs), t).await.unwrap();
        window.push((t, revs));
        let len: u64 = redis::cmd("XLEN")
            .arg(feed.stream())
            .query_async(&mut conn)
            .await
            .unwrap();
        peak = peak.max(len);
        t += step;
    }
    let end = t - step;
    publisher.trim(end).await.unwrap();
    // The live window: entries at or after end - 4 h, written fresh.
    let reference_publisher = Publisher::connect(reference.config()).await.unwrap();
    let live_window: Vec<_> = window
        .iter()
        .filter(|(at, _)| *at >= end - 4 * 3600)
        .collect();
    let mut live_entries = 0;
    for (at, revs) in &live_window {
        reference_publisher
            .publish_at(&events(revs), *at)
            .await
            .unwrap();
        live_entries += revs.len() as u64;
    }
    let usage = |key: String| {
        let mut conn = conn.clone();
        async move {
            redis::cmd("MEMORY")
                .arg("USAGE")
                .arg(key)
                .arg("SAMPLES")
                .arg(0)
                .query_async::<u64>(&mut conn)
                .await
                .unwrap()
        }
    };
    let trimmed = usage(feed.stream()).await;
    let fresh = usage(reference.stream()).await;
    let len: u64 = redis::cmd("XLEN")
        .arg(feed.stream())
        .query_async(&mut conn)
        .await
        .unwrap();
    let total = window.len() as u64 * per_step as u64;
    println!(
        "fleet stream after a simulated 24 h ({total} revocations, 4 h window): {len} entries, \
         MEMORY USAGE {trimmed} bytes; the live window alone ({live_entries} entries) \
         {fresh} bytes; peak length {peak}"
    );
    // Approximate trimming (MINID ~) may keep up to one stream node (100
    // entries) of older entries.
    assert!(
        len >= live_entries && len <= live_entries + 100,
        "{len} entries"
    );
    assert!(trimmed <= fresh + fresh / 10, "{trimmed} > {fresh} + 10%");
    assert!(peak <= live_entries + per_step as u64 + 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_writes_snapshots_periodically_and_only_forward() {
    let Some(_) = redis_or_skip().await else {
        return;
    };
    let feed = Feed::new("periodic");
    let publisher = Publisher::connect(feed.config()).await.unwrap();
    let mut rng = random_rng();
    let revs = revocations(&mut rng, 50);
    let last = publish_all(&publisher, &revs).await;
    let (_, live_writer) = live();
    let config = FollowerConfig::new(feed.config())
        .block(Duration::from_millis(50))
        .snapshot_every(Duration::from_millis(100));
    let writer = follower(config, &live_writer).await;
    applied(&writer, last).await;
    let deadline = Instant::now() + WAIT;
    let snapshot = loop {
        if let Some(s) = publisher.status().await.unwrap().snapshot {
            if s.position == last {
                break s;
            }
        }
        assert!(Instant::now() < deadline, "no snapshot written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(snapshot.bytes > 0);
    // An older position never replaces a newer snapshot.
    let (_, empty) = live();
    let stored = publisher
        .write_snapshot(
            EntryId { ms: 1, seq: 0 },
            now(),
            empty.revocations(),
            empty.current().subject_revocations(),
        )
        .await
        .unwrap();
    assert!(!stored);
    assert_eq!(
        publisher.status().await.unwrap().snapshot.unwrap().position,
        last
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn far_future_entries_are_refused_at_publish_and_skipped_by_followers() {
    let Some(mut conn) = redis_or_skip().await else {
        return;
    };
    let feed = Feed::new("far-future");
    // Sessions of at most 2 h; the largest leeway is 1 h.
    let lifetime = Duration::from_secs(2 * 3600);
    let config = feed.config().max_lifetime(lifetime);
    let publisher = Publisher::connect(config.clone()).await.unwrap();
    let (_, live) = live();
    let handle = follower(FollowerConfig::new(config), &live).await;
    let mut rng = random_rng();
    let t = now();

    // Publishing: a deadline up to lifetime + leeway ahead is accepted, one
    // second more is refused with a typed error, and so is a subject cutoff
    // more than one leeway ahead.
    let latest = t + 2 * 3600 + 3600;
    let kept = rng.id();
    let entry = publisher
        .publish_at(
            &[Event::Session {
                id: kept,
                deadline: latest,
            }],
            t,
        )
        .await
        .unwrap()[0];
    let too_far = Event::Session {
        id: rng.id(),
        deadline: latest + 1,
    };
    assert_eq!(
        publisher.publish_at(&[too_far], t).await.err(),
        Some(Error::FleetTooFarAhead)
    );
    assert_eq!(
        publisher
            .revoke_session(rng.id(), now() + 10 * 365 * 86_400)
            .await
            .err(),
        Some(Error::FleetTooFarAhead)
    );
    assert_eq!(
        publisher
            .revoke_subject("alice", now() + 2 * 3600)
            .await
            .err(),
        Some(Error::FleetTooFarAhead)
    );
    // The latest accepted entry outlives every verifier that could accept
    // its session: trimming at deadline + leeway still keeps it.
    publisher.trim(latest + 3600).await.unwrap();
    let left: Vec<redis::Value> = redis::cmd("XRANGE")
        .arg(feed.stream())
        .arg(entry.to_string())
        .arg(entry.to_string())
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(left.len(), 1, "trimmed while it still mattered");
    applied(&handle, entry).await;
    assert!(live.revocations().is_revoked(kept, latest));

    // Following: entries written to the stream directly with deadlines far
    // ahead (each its own hour) are skipped and counted, not applied.
    let far: Vec<(SessionId, u64)> = (0..20)
        .map(|i| (rng.id(), t + 365 * 86_400 + i * 3600))
        .collect();
    for &(id, deadline) in &far {
        let _: String = redis::cmd("XADD")
            .arg(feed.stream())
            .arg("*")
            .arg("kind")
            .arg("session")
            .arg("id")
            .arg(id.to_string())
            .arg("deadline")
            .arg(deadline)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let _: String = redis::cmd("XADD")
        .arg(feed.stream())
        .arg("*")
        .arg("kind")
        .arg("subject")
        .arg("subject")
        .arg("bob")
        .arg("before")
        .arg(t + 86_400)
        .query_async(&mut conn)
        .await
        .unwrap();
    let revs = revocations(&mut rng, 5)
        .into_iter()
        .map(|(id, _)| (id, t + 3600))
        .collect::<Vec<_>>();
    let last = publish_all(&publisher, &revs).await;
    applied(&handle, last).await;
    assert!(holds_all(&live, &revs));
    assert_eq!(handle.malformed_entries(), far.len() as u64 + 1);
    for &(id, deadline) in &far {
        assert!(!live.revocations().is_revoked(id, deadline));
    }
    assert_eq!(live.current().subject_revocations().cutoff("bob"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_subject_table_is_pruned_then_holds_the_feed_until_it_fits() {
    let Some(_) = redis_or_skip().await else {
        return;
    };
    let feed = Feed::new("subject-full");
    let publisher = Publisher::connect(feed.config()).await.unwrap();
    let issuer = Issuer::new(Keyset::generate(), Policy::default());
    // Room for two subjects.
    let subjects = Arc::new(tessera::SubjectRevocations::new(2));
    let live = LiveVerifier::new(issuer.verifier().with_subject_revocations(subjects.clone()));
    let config = FollowerConfig::new(feed.config())
        .block(Duration::from_millis(50))
        .fail_closed_after(Duration::from_secs(60));
    let handle = follower(config, &live).await;
    let verifier = handle.verifier();
    let t = now();

    // Two revocations so old that every session they reject has expired
    // (12 h maximum lifetime): the table is full of them, and a new one
    // still fits once they are forgotten.
    publisher
        .revoke_subject("old-1", t - 3 * 86_400)
        .await
        .unwrap();
    publisher
        .revoke_subject("old-2", t - 3 * 86_400)
        .await
        .unwrap();
    let carol = publisher.revoke_subject("carol", t - 10).await.unwrap();
    applied(&handle, carol).await;
    assert_eq!(subjects.cutoff("carol"), Some(t - 10));
    assert_eq!(subjects.cutoff("old-1"), None);
    assert!(!handle.is_stalled());

    // Full of live revocations: the next one is not dropped. The follower
    // holds before it, applies nothing after it, and fails closed.
    let dave = publisher.revoke_subject("dave", t - 10).await.unwrap();
    applied(&handle, dave).await;
    let erin = publisher.revoke_subject("erin", t - 10).await.unwrap();
    let mut rng = random_rng();
    let revs = revocations(&mut rng, 3);
    let last = publish_all(&publisher, &revs).await;
    let deadline = Instant::now() + WAIT;
    while verifier.check_fresh() != Err(Error::Stale) {
        assert!(
            Instant::now() < deadline,
            "a full table did not stall the follower"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(handle.is_stalled());
    // Held there across retries.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(handle.position(), dave);
    assert!(handle.position() < erin);
    assert_eq!(subjects.cutoff("erin"), None);
    assert!(!holds_all(&live, &revs));
    let old = issuer.issue_at("erin", &(), t - 600).unwrap();
    assert_eq!(verifier.verify_at::<()>(&old, t).err(), Some(Error::Stale));

    // Room made: the retry records it and following goes on.
    subjects.prune(u64::MAX);
    applied(&handle, last).await;
    assert_eq!(subjects.cutoff("erin"), Some(t - 10));
    assert!(holds_all(&live, &revs));
    assert!(!handle.is_stalled());
    assert_eq!(verifier.check_fresh(), Ok(()));
    assert_eq!(
        verifier.verify_at::<()>(&old, t).err(),
        Some(Error::Revoked)
    );
    assert_eq!(handle.malformed_entries(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_keysets_and_snapshots_are_not_read() {
    let Some(mut conn) = redis_or_skip().await else {
        return;
    };
    let feed = Feed::new("oversized");
    let publisher = Publisher::connect(feed.config()).await.unwrap();
    let keyset = format!("{}:keyset", feed.prefix);
    let _: () = redis::cmd("SET")
        .arg(&keyset)
        .arg(vec![b'{'; tessera::MAX_KEYSET_FILE_LEN + 1])
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(matches!(
        publisher.status().await.err(),
        Some(Error::KeysetFormat(_))
    ));
    // At the bound it is read (and refused as JSON, not for its size).
    let _: () = redis::cmd("SET")
        .arg(&keyset)
        .arg(vec![b'{'; tessera::MAX_KEYSET_FILE_LEN])
        .query_async(&mut conn)
        .await
        .unwrap();
    let err = publisher.status().await.err().unwrap().to_string();
    assert!(!err.contains("larger than"), "{err}");
    let _: () = redis::cmd("DEL")
        .arg(&keyset)
        .query_async(&mut conn)
        .await
        .unwrap();
    // A snapshot that is not one is skipped: the stream is replayed.
    let _: () = redis::cmd("HSET")
        .arg(format!("{}:snapshot", feed.prefix))
        .arg("ms")
        .arg(1)
        .arg("seq")
        .arg(0)
        .arg("at")
        .arg(1)
        .arg("data")
        .arg("not a snapshot")
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut rng = random_rng();
    let revs = revocations(&mut rng, 10);
    publish_all(&publisher, &revs).await;
    let (_, live) = live();
    let _handle = follower(FollowerConfig::new(feed.config()), &live).await;
    assert!(holds_all(&live, &revs));
}
