// The agent's side on tokio: DockerSocketSpawner declared with #[async_trait]
// (tests/common/agent.rs), implemented for Dockmux through the crate's impl,
// driven as Arc<dyn DockerSocketSpawner> from hundreds of tasks on a
// multi-thread runtime; requests with tokio::net::UnixStream; teardown while
// tokio clients are mid-stream. Dropping the handle: tests/tokio_drop.rs.
//
// tokio::time::timeout is a hang guard only (GUARD), never a performance
// assertion: the time a call holds a worker is measured by examples/hold.rs.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::agent::{Blocking, DockerSocketSpawner, Wrapped};
use common::aio::{self, Client};
use common::{is_socket, Fixture, PING_WITH_EVIL_AUTH, STREAM_WITH_EVIL_AUTH};
use dockmux::Dockmux;
use futures::future::join_all;
use tokio::time::timeout;

/// A hang guard: far above anything these tests take, even on a loaded box.
const GUARD: Duration = Duration::from_secs(30);

fn spawner(fx: &Fixture) -> Arc<dyn DockerSocketSpawner> {
    fx.dmx.clone()
}

async fn guard<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    match timeout(GUARD, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: still not done after {GUARD:?} (hang)"),
    }
}

/// The request as the stub saw it carries exactly the container's token.
fn assert_tokens(fx: &Fixture, want: impl IntoIterator<Item = String>) {
    let mut want: Vec<String> = want.into_iter().map(|t| format!("Bearer {t}")).collect();
    want.sort();
    assert_eq!(fx.up.authorizations(), want);
    assert!(!format!("{:?}", fx.seen()).contains("evil"));
}

/// TASKS tasks at once, each: spawn, a request through the socket with
/// tokio::net::UnixStream (the stub sees exactly the container's token),
/// teardown (socket gone, connect refused), teardown again.
async fn hundreds_of_tasks(fx: &Fixture, sp: Arc<dyn DockerSocketSpawner>) {
    const TASKS: usize = 300;
    let tasks = (0..TASKS).map(|i| {
        let sp = sp.clone();
        let sockets = fx.sockets.clone();
        tokio::spawn(async move {
            let key = format!("task-{i}");
            let path = sp.spawn(&key, format!("tok-{i}")).await.expect("spawn");
            let path = PathBuf::from(path);
            assert!(path.starts_with(&sockets), "{path:?}");
            assert!(is_socket(&path), "{path:?} is not a socket");
            let (status, body) = aio::request(&path, PING_WITH_EVIL_AUTH)
                .await
                .expect("request through the container socket");
            assert_eq!(status, "HTTP/1.1 200 OK");
            assert_eq!(body, "OK");
            sp.teardown(&key).await;
            assert!(!path.exists(), "{path:?} still there after teardown");
            assert!(tokio::net::UnixStream::connect(&path).await.is_err());
            sp.teardown(&key).await; // idempotent
        })
    });
    for t in guard("300 tasks", join_all(tasks)).await {
        t.expect("task panicked");
    }
    assert_tokens(fx, (0..TASKS).map(|i| format!("tok-{i}")));
    assert!(fx.dmx.list().unwrap().is_empty());
    assert_eq!(fx.dmx.stats(None).unwrap().requests, TASKS as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokio_hundreds_of_tasks_spawn_request_teardown_through_arc_dyn() {
    let fx = Fixture::new();
    hundreds_of_tasks(&fx, spawner(&fx)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_hundreds_of_tasks_through_the_spawn_blocking_wrapper() {
    let fx = Fixture::new();
    let sp: Arc<dyn DockerSocketSpawner> = Arc::new(Blocking(fx.dmx.clone()));
    hundreds_of_tasks(&fx, sp.clone()).await;
    assert_eq!(sp.spawn("bad\0key", "tok".into()).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokio_concurrent_spawns_of_one_key_agree_and_the_last_token_wins() {
    let fx = Fixture::new();
    let sp = spawner(&fx);
    // 200 tasks spawn one key at once, then every one rotates to a token of
    // its own: one socket, one path, and a request after all of them carries
    // one of the tokens (whichever spawn ran last), never a mix or `evil`.
    let spawns = (0..200).map(|i| {
        let sp = sp.clone();
        tokio::spawn(async move {
            let a = sp.spawn("shared", "tok-first".to_string()).await;
            let b = sp.spawn("shared", format!("tok-{i}")).await;
            (a.expect("spawn"), b.expect("rotate"))
        })
    });
    let paths: Vec<(String, String)> = guard("200 spawns", join_all(spawns))
        .await
        .into_iter()
        .map(|r| r.expect("task panicked"))
        .collect();
    let path = PathBuf::from(&paths[0].0);
    assert!(paths
        .iter()
        .all(|(a, b)| *a == paths[0].0 && *b == paths[0].0));
    assert_eq!(fx.dmx.list().unwrap().len(), 1);

    let (status, _) = guard("request", aio::request(&path, PING_WITH_EVIL_AUTH))
        .await
        .expect("request");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let auth = fx.up.authorizations();
    assert_eq!(auth.len(), 1, "{auth:?}");
    let tok = auth[0].strip_prefix("Bearer tok-").expect("a Bearer token");
    assert!(tok.parse::<usize>().map_or(false, |i| i < 200), "{auth:?}");

    let teardowns = (0..200).map(|_| {
        let sp = sp.clone();
        tokio::spawn(async move { sp.teardown("shared").await })
    });
    for t in guard("200 teardowns", join_all(teardowns)).await {
        t.expect("task panicked");
    }
    assert!(!path.exists());
    assert!(fx.dmx.list().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_teardown_mid_stream_ends_that_stream_promptly_and_only_that_one() {
    let fx = Fixture::new();
    let sp = spawner(&fx);
    let a = PathBuf::from(sp.spawn("stream-a", "tok-a".into()).await.expect("spawn a"));
    let b = PathBuf::from(sp.spawn("stream-b", "tok-b".into()).await.expect("spawn b"));
    let mut ca = Client::connect(&a).await.expect("connect a");
    let mut cb = Client::connect(&b).await.expect("connect b");
    for c in [&mut ca, &mut cb] {
        let head = guard("stream head", c.send_head(STREAM_WITH_EVIL_AUTH))
            .await
            .expect("stream head");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
        guard("first chunks", c.read_until("tick 1\n"))
            .await
            .expect("first chunks");
    }
    assert_eq!(fx.up.streams.get(), (2, 0));

    // Tear a down from another task while both clients are mid-stream.
    let sp2 = sp.clone();
    guard(
        "teardown",
        tokio::spawn(async move { sp2.teardown("stream-a").await }),
    )
    .await
    .expect("teardown task");
    let t0 = Instant::now();
    // EOF or a reset: both are an end. Never more chunks forever, never a hang.
    let end = guard("client a after teardown", ca.read_to_end()).await;
    let ended_in = t0.elapsed();
    assert!(!a.exists());
    // The daemon side of a's stream is closed too (the stub's write fails).
    let streams = fx.up.streams.clone();
    let ended = tokio::task::spawn_blocking(move || streams.wait_ended(1, GUARD))
        .await
        .unwrap();
    assert_eq!(
        ended, 1,
        "the daemon connection of the torn-down stream stayed open"
    );

    // b streams on: at least two more chunks after the teardown.
    let last: u64 = cb
        .received()
        .lines()
        .filter_map(|l| l.strip_prefix("tick ")?.parse().ok())
        .max()
        .expect("a tick");
    guard(
        "client b after a's teardown",
        cb.read_until(&format!("tick {}\n", last + 2)),
    )
    .await
    .expect("b's stream was cut by a's teardown");
    assert_eq!(fx.up.streams.get(), (2, 1));

    sp.teardown("stream-b").await;
    guard("client b after teardown", cb.read_to_end())
        .await
        .ok();
    let streams = fx.up.streams.clone();
    let ended = tokio::task::spawn_blocking(move || streams.wait_ended(2, GUARD))
        .await
        .unwrap();
    assert_eq!(ended, 2);
    assert_tokens(&fx, ["tok-a".to_string(), "tok-b".to_string()]);
    eprintln!("client a saw the end {ended_in:?} after teardown returned ({end:?})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_concurrent_teardowns_end_every_stream() {
    const N: usize = 64;
    let fx = Fixture::new();
    let sp = spawner(&fx);
    let mut clients = Vec::new();
    for i in 0..N {
        let path = sp
            .spawn(&format!("s-{i}"), format!("tok-{i}"))
            .await
            .expect("spawn");
        let mut c = Client::connect(path.as_ref()).await.expect("connect");
        c.send_head(STREAM_WITH_EVIL_AUTH).await.expect("head");
        clients.push(c);
    }
    // Every client is mid-stream before the teardowns start.
    let readers = clients.into_iter().map(|mut c| {
        tokio::spawn(async move {
            c.read_until("tick 0\n").await.expect("first chunk");
            c
        })
    });
    let clients: Vec<Client> = guard("first chunks", join_all(readers))
        .await
        .into_iter()
        .map(|r| r.expect("reader panicked"))
        .collect();
    let ends = clients
        .into_iter()
        .map(|mut c| tokio::spawn(async move { c.read_to_end().await }));
    let ends: Vec<_> = ends.collect();
    let teardowns = (0..N).map(|i| {
        let sp = sp.clone();
        tokio::spawn(async move { sp.teardown(&format!("s-{i}")).await })
    });
    for t in guard("teardowns", join_all(teardowns)).await {
        t.expect("teardown task");
    }
    for e in guard("every client's end", join_all(ends)).await {
        let _ = e.expect("client task panicked"); // EOF or reset
    }
    let streams = fx.up.streams.clone();
    let ended = tokio::task::spawn_blocking(move || streams.wait_ended(N, GUARD))
        .await
        .unwrap();
    assert_eq!(ended, N);
    assert!(fx.dmx.list().unwrap().is_empty());
    assert_tokens(&fx, (0..N).map(|i| format!("tok-{i}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_async_trait_impl_on_a_wrapper_delegates_too() {
    let (config, up, sockets, _dir) = Fixture::parts(|c| c);
    let sp: Arc<dyn DockerSocketSpawner> = Arc::new(Wrapped(Dockmux::open(&config).unwrap()));
    let path = PathBuf::from(sp.spawn("wrapped", "tok-w".into()).await.expect("spawn"));
    assert!(path.starts_with(&sockets));
    let (status, _) = guard("request", aio::request(&path, PING_WITH_EVIL_AUTH))
        .await
        .expect("request");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(up.authorizations(), ["Bearer tok-w"]);
    assert_eq!(sp.spawn("", "tok".into()).await, None);
    sp.teardown("wrapped").await;
    assert!(!path.exists());
    let debug = format!("{sp:?}");
    assert!(
        debug.contains("Dockmux") && !debug.contains("tok-w"),
        "{debug}"
    );
}
