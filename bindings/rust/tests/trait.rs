// The crate's DockerSocketSpawner trait driven through a trait object and a
// tiny std-only executor, against a real libdockmux and a stub upstream on a
// Unix socket that records the headers it receives (tests/common). The same
// trait declared with #[async_trait] on tokio: tests/tokio.rs.

mod common;

use std::fmt::Debug;
use std::fs;
use std::future::Future;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use common::{content_length, is_socket, Fixture, PING_WITH_EVIL_AUTH};
use dockmux::{Config, DockerSocketSpawner, Dockmux};

fn spawner(fx: &Fixture) -> Arc<dyn DockerSocketSpawner> {
    fx.dmx.clone()
}

// ---- a std-only executor: poll, park until woken ----

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

fn block_on<F: Future>(fut: F) -> F::Output {
    // Box::pin, not std::pin::pin! (Rust 1.68): the crate builds with 1.63.
    let mut fut = Box::pin(fut);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return out,
            Poll::Pending => thread::park(),
        }
    }
}

// ---- a std client ----

/// Send one request on a fresh connection; return (status line, body).
fn request(sock: &Path, req: &str) -> (String, String) {
    let mut s = UnixStream::connect(sock).expect("connect container socket");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).expect("read response");
        assert!(
            n > 0,
            "connection closed before a response head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len = content_length(&head);
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).expect("read body");
        assert!(n > 0, "connection closed inside the body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let status = head.lines().next().unwrap_or("").to_string();
    (
        status,
        String::from_utf8_lossy(&buf[head_end..head_end + len]).into_owned(),
    )
}

// ---- tests ----

#[test]
fn spawn_injects_token_replacing_client_copy_and_teardown_removes_socket() {
    let fx = Fixture::new();
    let sp = spawner(&fx);

    let path = block_on(sp.spawn("ci-42", "tok-123".to_string())).expect("spawn");
    let path = PathBuf::from(path);
    assert!(
        path.starts_with(&fx.sockets),
        "{path:?} not under {:?}",
        fx.sockets
    );
    assert!(is_socket(&path), "{path:?} is not a socket");

    let (status, body) = request(&path, PING_WITH_EVIL_AUTH);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, "OK");
    let seen = fx.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].line, "GET /_ping HTTP/1.1");
    assert_eq!(seen[0].values("Authorization"), ["Bearer tok-123"]);
    assert!(!format!("{seen:?}").contains("evil"));

    block_on(sp.teardown("ci-42"));
    assert!(!path.exists(), "socket file still there after teardown");
    assert!(UnixStream::connect(&path).is_err());
    block_on(sp.teardown("ci-42")); // idempotent
}

#[test]
fn spawn_is_idempotent_and_rotates_the_token() {
    let fx = Fixture::new();
    let sp = spawner(&fx);

    let first = block_on(sp.spawn("ci-7", "tok-a".to_string())).expect("spawn");
    let again = block_on(sp.spawn("ci-7", "tok-a".to_string())).expect("spawn again");
    assert_eq!(first, again);
    let rotated = block_on(sp.spawn("ci-7", "tok-b".to_string())).expect("spawn, new token");
    assert_eq!(first, rotated);

    request(Path::new(&first), PING_WITH_EVIL_AUTH);
    let seen = fx.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].values("Authorization"), ["Bearer tok-b"]);
    block_on(sp.teardown("ci-7"));
}

#[test]
fn teardown_of_unknown_key_is_a_no_op() {
    let fx = Fixture::new();
    let sp = spawner(&fx);
    block_on(sp.teardown("never-spawned"));
    block_on(sp.teardown("")); // invalid keys too
    assert!(fx.dmx.teardown("never-spawned").is_ok());
}

#[test]
fn spawn_with_invalid_key_or_token_returns_none() {
    let fx = Fixture::new();
    let sp = spawner(&fx);
    let long_key = "k".repeat(dockmux::ffi::DMX_KEY_MAX + 1);
    for (key, token) in [
        ("", "tok"),
        ("a\0b", "tok"),
        (long_key.as_str(), "tok"),
        ("ok-key", ""),
        ("ok-key", "to\0k"),
        ("ok-key", "tok\r\nX-Injected: 1"),
    ] {
        assert_eq!(
            block_on(sp.spawn(key, token.to_string())),
            None,
            "key {key:?}"
        );
    }
    let left: Vec<_> = fs::read_dir(&fx.sockets).unwrap().collect();
    assert!(
        left.is_empty(),
        "sockets created by invalid spawns: {left:?}"
    );
}

#[test]
fn trait_object_is_send_sync_debug() {
    fn assert_send_sync_debug<T: ?Sized + Send + Sync + Debug>() {}
    fn assert_send<T: Send>(_: &T) {}
    assert_send_sync_debug::<dyn DockerSocketSpawner>();
    assert_send_sync_debug::<Dockmux>();
    assert_send_sync_debug::<Arc<dyn DockerSocketSpawner>>();

    let fx = Fixture::new();
    let sp = spawner(&fx);
    let fut = sp.spawn("dbg", "tok-secret".to_string());
    assert_send(&fut);
    assert!(block_on(fut).is_some());
    let debug = format!("{sp:?}");
    assert!(debug.contains("Dockmux"), "{debug}");
    assert!(!debug.contains("tok-secret"), "{debug}");
}

#[test]
fn spawn_future_does_nothing_until_polled() {
    let fx = Fixture::new();
    let sp = spawner(&fx);
    drop(sp.spawn("lazy", "tok".to_string()));
    assert!(!fx.dmx.path("lazy").unwrap().exists());
}

#[test]
fn spawns_from_many_threads_through_one_trait_object() {
    let fx = Fixture::new();
    let sp = spawner(&fx);
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let sp = sp.clone();
            thread::spawn(move || {
                let key = format!("thread-{i}");
                let path = block_on(sp.spawn(&key, format!("tok-{i}"))).expect("spawn");
                let (status, _) = request(Path::new(&path), PING_WITH_EVIL_AUTH);
                assert_eq!(status, "HTTP/1.1 200 OK");
                block_on(sp.teardown(&key));
                assert!(!Path::new(&path).exists());
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut auth: Vec<String> = fx
        .seen()
        .iter()
        .flat_map(|s| s.values("Authorization"))
        .map(String::from)
        .collect();
    auth.sort();
    let want: Vec<String> = (0..8).map(|i| format!("Bearer tok-{i}")).collect();
    assert_eq!(auth, want);
}

#[test]
fn custom_token_header_carries_the_raw_token() {
    let fx = Fixture::with(|c| c.token_header("X-Container-Token"));
    let sp = spawner(&fx);
    let path = block_on(sp.spawn("raw", "tok-raw".to_string())).expect("spawn");
    let (status, _) = request(
        Path::new(&path),
        "GET /version HTTP/1.1\r\nHost: docker\r\nX-Container-Token: evil\r\n\r\n",
    );
    assert_eq!(status, "HTTP/1.1 200 OK");
    let seen = fx.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].values("X-Container-Token"), ["tok-raw"]);
}

#[test]
fn errors_carry_the_negative_errno_and_its_message() {
    let fx = Fixture::new();
    let err = fx.dmx.spawn("", "tok").unwrap_err();
    assert_eq!(err.errno(), -22);
    assert!(err.to_string().contains("invalid argument"), "{err}");
    let err = fx.dmx.spawn("k", "t\0k").unwrap_err(); // refused before C
    assert_eq!(err.errno(), -22);
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::InvalidInput
    );
    let err = fx.dmx.stats(Some("unknown")).unwrap_err();
    assert_eq!(err.errno(), -2);
    let err =
        Dockmux::open(&Config::new().socket_dir(&fx.sockets).socket_mode(0o10000)).unwrap_err();
    assert_eq!(err.errno(), -22);
}

#[test]
fn path_stats_and_list_describe_a_spawned_container() {
    let fx = Fixture::new();
    let path = fx.dmx.spawn("ci-stats", "tok-s").expect("spawn");
    assert_eq!(fx.dmx.path("ci-stats").unwrap(), path);
    assert_eq!(
        dockmux::path_in(Some(&fx.sockets), "ci-stats").unwrap(),
        path
    );
    assert_eq!(fx.dmx.socket_dir(), fx.sockets);

    request(&path, PING_WITH_EVIL_AUTH);
    // The counters are updated on the ring thread: allow it a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    let stats = loop {
        let s = fx.dmx.stats(Some("ci-stats")).unwrap();
        if s.responses[2] == 1 || Instant::now() > deadline {
            break s;
        }
        thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(stats.containers, 1);
    assert_eq!(stats.requests, 1);
    assert_eq!(stats.responses[2], 1, "{stats:?}");
    assert!(fx.dmx.stats(None).unwrap().requests >= 1);

    let list = fx.dmx.list().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].key, "ci-stats");
    assert_eq!(list[0].path, path);
    fx.dmx.teardown("ci-stats").unwrap();
    assert!(fx.dmx.list().unwrap().is_empty());
}
