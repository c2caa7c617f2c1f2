// Shared by the test executables (and examples/hold.rs): a stub upstream
// daemon on a Unix socket that records the request heads it receives, a
// temporary directory, a fixture with a handle on both, and (in `agent`) the
// agent's #[async_trait] declaration of DockerSocketSpawner with its impl for
// Dockmux, (in `aio`) tokio clients of a container socket.
//
// The stub is std threads (one per connection), not tokio: like dockerd it
// lives outside the agent's runtime, so shutting a runtime down or blocking
// its workers never stops the upstream.

// Each test executable uses a different part of this module.
#![allow(dead_code)]

pub mod agent;
pub mod aio;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use dockmux::{Config, Dockmux};

/// One request as the upstream received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub line: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

pub type SeenLog = Arc<Mutex<Vec<Seen>>>;

/// Interval between two chunks of a `GET /stream` response.
pub const STREAM_TICK: Duration = Duration::from_millis(50);

/// Streams the stub is serving and has served, with a condition variable
/// signalled on every change.
#[derive(Default)]
pub struct StreamCount {
    counts: Mutex<(usize, usize)>, // (started, ended)
    changed: Condvar,
}

impl StreamCount {
    fn bump(&self, ended: bool) {
        let mut c = self.counts.lock().unwrap();
        if ended {
            c.1 += 1;
        } else {
            c.0 += 1;
        }
        self.changed.notify_all();
    }

    /// (started, ended) so far.
    pub fn get(&self) -> (usize, usize) {
        *self.counts.lock().unwrap()
    }

    /// Wait (at most `guard`, a hang guard) until `ended` streams have ended;
    /// returns the count then.
    pub fn wait_ended(&self, ended: usize, guard: Duration) -> usize {
        let deadline = Instant::now() + guard;
        let mut c = self.counts.lock().unwrap();
        while c.1 < ended {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            c = self.changed.wait_timeout(c, left).unwrap().0;
        }
        c.1
    }
}

/// The stub daemon: answers every request head with 200 "OK", except
/// `GET /stream...`, which gets a chunked response with a chunk `tick N\n`
/// every STREAM_TICK until the connection fails (an ended stream).
pub struct Upstream {
    pub seen: SeenLog,
    pub streams: Arc<StreamCount>,
}

impl Upstream {
    /// Accepts on `path` until the process exits.
    pub fn start(path: &Path) -> Upstream {
        let listener = UnixListener::bind(path).expect("bind upstream");
        // std listens with a backlog of 128; dockerd (Go) with somaxconn. A
        // full backlog fails dockmux's connect with EAGAIN, a 502: with
        // hundreds of clients at once and one accept thread here that happens.
        // listen() again only changes the backlog (capped at somaxconn).
        extern "C" {
            fn listen(fd: std::os::raw::c_int, backlog: std::os::raw::c_int)
                -> std::os::raw::c_int;
        }
        // SAFETY: a valid listening socket, owned by `listener`.
        let ret = unsafe { listen(listener.as_raw_fd(), 4096) };
        assert_eq!(ret, 0, "listen: {}", std::io::Error::last_os_error());
        let up = Upstream {
            seen: SeenLog::default(),
            streams: Arc::default(),
        };
        let (seen, streams) = (up.seen.clone(), up.streams.clone());
        thread::Builder::new()
            .name("stub-accept".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    let conn = match conn {
                        Ok(conn) => conn,
                        Err(_) => return,
                    };
                    let (seen, streams) = (seen.clone(), streams.clone());
                    thread::Builder::new()
                        .name("stub-conn".into())
                        .spawn(move || serve_upstream_conn(conn, &seen, &streams))
                        .expect("spawn stub thread");
                }
            })
            .expect("spawn stub accept thread");
        up
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Every Authorization value received, sorted.
    pub fn authorizations(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .seen()
            .iter()
            .flat_map(|s| s.values("Authorization"))
            .map(String::from)
            .collect();
        v.sort();
        v
    }
}

fn serve_upstream_conn(conn: UnixStream, log: &SeenLog, streams: &StreamCount) {
    let mut out = conn.try_clone().expect("clone upstream conn");
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end_matches(['\r', '\n']);
            if h.is_empty() {
                break;
            }
            let (name, value) = h.split_once(':').unwrap_or((h, ""));
            headers.push((name.to_string(), value.trim().to_string()));
        }
        let line = line.trim_end().to_string();
        let stream = line.starts_with("GET /stream");
        log.lock().unwrap().push(Seen { line, headers });
        if stream {
            streams.bump(false);
            serve_stream(&mut out);
            streams.bump(true);
            return;
        }
        if out
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
            .is_err()
        {
            return;
        }
    }
}

/// Chunks until a write fails (dockmux closed the daemon connection).
fn serve_stream(out: &mut UnixStream) {
    if out
        .write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n",
        )
        .is_err()
    {
        return;
    }
    for n in 0u64.. {
        let data = format!("tick {n}\n");
        if out
            .write_all(format!("{:x}\r\n{data}\r\n", data.len()).as_bytes())
            .is_err()
        {
            return;
        }
        thread::sleep(STREAM_TICK);
    }
}

// ---- per-test fixture ----

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "dockmux-rs-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub struct Fixture {
    // Fields drop in order: the handle (unlinking its sockets) before the dir.
    pub dmx: Arc<Dockmux>,
    pub up: Upstream,
    pub sockets: PathBuf,
    pub dir: TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::with(|c| c)
    }

    pub fn with(f: impl FnOnce(Config) -> Config) -> Fixture {
        let (config, up, sockets, dir) = Fixture::parts(f);
        let dmx = Arc::new(Dockmux::open(&config).expect("dmx_open"));
        Fixture {
            dmx,
            up,
            sockets,
            dir,
        }
    }

    /// What `with` opens a handle on: its config (2 rings, the stub, a
    /// socket dir under a fresh temporary directory), the stub, the socket
    /// dir and the directory.
    pub fn parts(f: impl FnOnce(Config) -> Config) -> (Config, Upstream, PathBuf, TempDir) {
        let dir = TempDir::new();
        let upstream = dir.0.join("upstream.sock");
        let up = Upstream::start(&upstream);
        let sockets = dir.0.join("sockets");
        let config = f(Config::new()
            .upstream(&upstream)
            .socket_dir(&sockets)
            .rings(2));
        (config, up, sockets, dir)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.up.seen()
    }
}

pub const PING_WITH_EVIL_AUTH: &str =
    "GET /_ping HTTP/1.1\r\nHost: docker\r\nAuthorization: Bearer evil\r\n\r\n";

pub const STREAM_WITH_EVIL_AUTH: &str =
    "GET /stream HTTP/1.1\r\nHost: docker\r\nAuthorization: Bearer evil\r\n\r\n";

pub fn is_socket(path: &Path) -> bool {
    fs::symlink_metadata(path)
        .map(|m| m.file_type().is_socket())
        .unwrap_or(false)
}

/// The Content-Length of a response head (0 if none).
pub fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().unwrap())
        })
        .unwrap_or(0)
}
