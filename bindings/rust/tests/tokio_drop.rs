// Dropping the handle from tokio: the last Arc<dyn DockerSocketSpawner>
// dropped inside a task (multi-thread and current-thread runtimes), by the
// runtime's shutdown, and outside after the runtime is gone, each with tokio
// clients mid-stream; and the log callback, which runs on the ring threads
// that spawn, teardown and drop wait for.
//
// Drop (dmx_close) tears every container down and joins the ring threads: it
// blocks the thread it runs on, but the rings never wait for the runtime, so
// it cannot deadlock one unless the log callback waits for that runtime.
//
// Each test checks for leaks: the ring threads (opened from a thread named
// RING_NAME, whose name they inherit) are gone, and the process's descriptor
// count is back where it was. Tests in this file run one at a time (SERIAL)
// so those counts are theirs. GUARD is a hang guard, never a performance
// assertion; examples/hold.rs measures.

mod common;

use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use common::agent::DockerSocketSpawner;
use common::aio::Client;
use common::{Fixture, TempDir, Upstream, STREAM_WITH_EVIL_AUTH};
use dockmux::{Config, Dockmux};
use futures::channel::{mpsc, oneshot};
use futures::future::join_all;
use futures::StreamExt;
use tokio::runtime::{Builder, Runtime};
use tokio::time::timeout;

const GUARD: Duration = Duration::from_secs(30);
const RING_NAME: &str = "dmx-droptest";

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Threads of this process named RING_NAME: the rings of handles opened by
/// open_named (a new thread inherits its creator's name).
fn ring_threads() -> usize {
    fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == RING_NAME)
        .count()
}

fn open_fds() -> Vec<String> {
    fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let target = fs::read_link(e.path()).ok()?;
            Some(format!(
                "{} -> {}",
                e.file_name().to_string_lossy(),
                target.display()
            ))
        })
        .collect()
}

/// Dockmux::open from a thread named RING_NAME.
fn open_named(config: &Config) -> Dockmux {
    let config = config.clone();
    thread::Builder::new()
        .name(RING_NAME.into())
        .spawn(move || Dockmux::open(&config).expect("dmx_open"))
        .unwrap()
        .join()
        .unwrap()
}

/// The state a leak check compares with: taken once the stub is up, before
/// the runtime and the handle exist.
struct Baseline {
    fds: Vec<String>,
}

impl Baseline {
    fn take() -> Baseline {
        assert_eq!(ring_threads(), 0, "ring threads left by an earlier test");
        Baseline { fds: open_fds() }
    }

    /// After the handle and the runtime are gone: no ring thread, and (once
    /// the stub's connection threads have seen their connections close) the
    /// same number of descriptors.
    fn check(&self, sockets: &Path) {
        assert_eq!(ring_threads(), 0, "ring threads still running after drop");
        let left: Vec<PathBuf> = fs::read_dir(sockets)
            .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "sockets left after drop: {left:?}");
        let deadline = Instant::now() + GUARD;
        loop {
            let now = open_fds();
            if now.len() <= self.fds.len() {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "descriptors leaked: {} before, {} after\nbefore: {:?}\nafter: {:?}",
                    self.fds.len(),
                    now.len(),
                    self.fds,
                    now
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

struct Setup {
    config: Config,
    up: Upstream,
    sockets: PathBuf,
    _dir: TempDir,
}

fn setup(f: impl FnOnce(Config) -> Config) -> Setup {
    let (config, up, sockets, dir) = Fixture::parts(f);
    Setup {
        config,
        up,
        sockets,
        _dir: dir,
    }
}

async fn guard<F: Future>(what: &str, fut: F) -> F::Output {
    match timeout(GUARD, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: still not done after {GUARD:?} (hang)"),
    }
}

/// Spawn `n` containers and start a streaming client on each, in tasks;
/// returns once every client has its first chunk. Each task resolves when
/// its stream ends (EOF or reset).
async fn streams(sp: &Arc<dyn DockerSocketSpawner>, n: usize) -> Vec<tokio::task::JoinHandle<()>> {
    let mut ready = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..n {
        let path = sp
            .spawn(&format!("drop-{i}"), format!("tok-{i}"))
            .await
            .expect("spawn");
        let (tx, rx) = oneshot::channel();
        ready.push(rx);
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(path.as_ref()).await.expect("connect");
            c.send_head(STREAM_WITH_EVIL_AUTH)
                .await
                .expect("stream head");
            c.read_until("tick 0\n").await.expect("first chunk");
            let _ = tx.send(());
            let _ = c.read_to_end().await; // EOF or reset: both an end
        }));
    }
    for r in guard("streams started", join_all(ready)).await {
        r.expect("a stream task failed before its first chunk");
    }
    tasks
}

/// A task that counts 5 ms ticks until `stop`: proof the runtime runs.
fn ticker(stop: Arc<AtomicBool>) -> (Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let ticks = Arc::new(AtomicUsize::new(0));
    let t = ticks.clone();
    let task = tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(5)).await;
            t.fetch_add(1, Ordering::Relaxed);
        }
    });
    (ticks, task)
}

async fn ticks_advance(ticks: &AtomicUsize) {
    let t = ticks.load(Ordering::Relaxed);
    guard("ticker", async {
        while ticks.load(Ordering::Relaxed) < t + 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

fn multi_thread() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn current_thread() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

/// The body of the drop-inside-a-task tests, on runtime `rt`.
fn drop_inside_a_task(rt: Runtime) {
    const N: usize = 8;
    let s = setup(|c| c);
    let base = Baseline::take();
    let sp: Arc<dyn DockerSocketSpawner> = Arc::new(open_named(&s.config));
    assert_eq!(ring_threads(), 2);
    rt.block_on(async move {
        let clients = streams(&sp, N).await;
        let stop = Arc::new(AtomicBool::new(false));
        let (ticks, tick_task) = ticker(stop.clone());
        // The last reference, dropped inside a task while N streams run.
        let held = guard(
            "drop inside a task",
            tokio::spawn(async move {
                let t0 = Instant::now();
                drop(sp);
                t0.elapsed()
            }),
        )
        .await
        .unwrap();
        assert_eq!(ring_threads(), 0, "drop returned before the rings ended");
        for c in guard("clients after drop", join_all(clients)).await {
            c.expect("client task panicked");
        }
        ticks_advance(&ticks).await;
        stop.store(true, Ordering::Relaxed);
        tick_task.await.unwrap();
        eprintln!("drop inside a task with {N} streams held the thread {held:?}");
    });
    drop(rt);
    assert_eq!(s.up.streams.wait_ended(N, GUARD), N);
    base.check(&s.sockets);
}

#[test]
fn tokio_drop_last_handle_inside_a_task_multi_thread() {
    let _g = serial();
    drop_inside_a_task(multi_thread());
}

#[test]
fn tokio_drop_last_handle_inside_a_task_current_thread() {
    let _g = serial();
    // The drop blocks the runtime's only thread; the rings do not need it.
    drop_inside_a_task(current_thread());
}

#[test]
fn tokio_drop_handle_outside_after_runtime_shutdown_mid_stream() {
    let _g = serial();
    const N: usize = 8;
    let s = setup(|c| c);
    let base = Baseline::take();
    let rt = multi_thread();
    let sp = rt.block_on(async {
        // Opened inside the runtime this time.
        let sp: Arc<dyn DockerSocketSpawner> = Arc::new(open_named(&s.config));
        let clients = streams(&sp, N).await;
        // Tasks still holding a clone, left pending at shutdown.
        for _ in 0..4 {
            let sp = sp.clone();
            tokio::spawn(async move {
                let _sp = sp;
                futures::future::pending::<()>().await
            });
        }
        drop(clients); // detached: they are mid-stream when the runtime goes
        sp
    });
    drop(rt); // cancels the clients mid-stream and drops the clones
    assert_eq!(Arc::strong_count(&sp), 1);
    assert_eq!(ring_threads(), 2);
    let t0 = Instant::now();
    drop(sp);
    let held = t0.elapsed();
    assert_eq!(s.up.streams.wait_ended(N, GUARD), N);
    base.check(&s.sockets);
    eprintln!("drop outside after shutdown held the thread {held:?}");
}

#[test]
fn tokio_last_handle_dropped_by_the_runtime_shutdown() {
    let _g = serial();
    const N: usize = 4;
    let s = setup(|c| c);
    let base = Baseline::take();
    let rt = multi_thread();
    rt.block_on(async {
        let sp: Arc<dyn DockerSocketSpawner> = Arc::new(open_named(&s.config));
        let clients = streams(&sp, N).await;
        drop(clients);
        // The only reference left is in a task that never finishes: the
        // runtime's shutdown drops it, and dmx_close runs there.
        tokio::spawn(async move {
            let _sp = sp;
            futures::future::pending::<()>().await
        });
    });
    assert_eq!(ring_threads(), 2);
    drop(rt);
    assert_eq!(s.up.streams.wait_ended(N, GUARD), N);
    base.check(&s.sockets);
}

#[test]
fn tokio_drop_in_spawn_blocking_leaves_the_only_worker_free() {
    let _g = serial();
    const N: usize = 8;
    let s = setup(|c| c);
    let base = Baseline::take();
    let rt = current_thread();
    let sp: Arc<dyn DockerSocketSpawner> = Arc::new(open_named(&s.config));
    rt.block_on(async move {
        let clients = streams(&sp, N).await;
        let stop = Arc::new(AtomicBool::new(false));
        let (ticks, tick_task) = ticker(stop.clone());
        // The pattern for async code: hand the last reference to a blocking
        // thread; the runtime's thread keeps running tasks meanwhile.
        let closing = tokio::task::spawn_blocking(move || drop(sp));
        ticks_advance(&ticks).await;
        guard("drop in spawn_blocking", closing).await.unwrap();
        assert_eq!(ring_threads(), 0);
        for c in guard("clients after drop", join_all(clients)).await {
            c.expect("client task panicked");
        }
        stop.store(true, Ordering::Relaxed);
        tick_task.await.unwrap();
    });
    drop(rt);
    assert_eq!(s.up.streams.wait_ended(N, GUARD), N);
    base.check(&s.sockets);
}

/// A log callback that waits (at most WAIT) for a task of the runtime to
/// acknowledge each line: the pattern that can deadlock. `stalled` counts
/// the lines it gave up on.
struct AckLog {
    sent: AtomicUsize,
    acked: Mutex<usize>,
    cv: Condvar,
    stalled: AtomicUsize,
}

const WAIT: Duration = Duration::from_secs(2);

#[test]
fn tokio_log_callback_waiting_on_the_runtime_stalls_inline_calls_not_spawn_blocking() {
    let _g = serial();
    let ack = Arc::new(AckLog {
        sent: AtomicUsize::new(0),
        acked: Mutex::new(0),
        cv: Condvar::new(),
        stalled: AtomicUsize::new(0),
    });
    let (tx, mut rx) = mpsc::unbounded::<String>();
    let log_ack = ack.clone();
    let mut s = setup(move |c| {
        c.log(move |_, msg| {
            if !msg.starts_with("token rotated") {
                return;
            }
            let want = log_ack.sent.fetch_add(1, Ordering::Relaxed) + 1;
            let _ = tx.unbounded_send(msg.to_string());
            let mut acked = log_ack.acked.lock().unwrap();
            let deadline = Instant::now() + WAIT;
            while *acked < want {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    // A callback without this time limit never returns:
                    // the ring and the caller waiting for it hang for good.
                    log_ack.stalled.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                acked = log_ack.cv.wait_timeout(acked, left).unwrap().0;
            }
        })
    });
    let base = Baseline::take();
    let dmx = Arc::new(open_named(&s.config));
    let rt = current_thread();
    let consumer_ack = ack.clone();
    rt.block_on(async move {
        tokio::spawn(async move {
            while rx.next().await.is_some() {
                *consumer_ack.acked.lock().unwrap() += 1;
                consumer_ack.cv.notify_all();
            }
        });
        let sp: Arc<dyn DockerSocketSpawner> = dmx.clone();
        sp.spawn("rot", "tok-1".into()).await.expect("spawn");
        // Inline: the runtime's only thread waits in dmx_spawn for the ring,
        // the ring waits in the callback for a task of this runtime.
        sp.spawn("rot", "tok-2".into())
            .await
            .expect("rotate inline");
        assert_eq!(
            ack.stalled.load(Ordering::Relaxed),
            1,
            "the callback was acknowledged"
        );
        // In spawn_blocking the thread stays free to run the consumer.
        let d = dmx.clone();
        tokio::task::spawn_blocking(move || d.spawn("rot", "tok-3").map(drop))
            .await
            .unwrap()
            .expect("rotate in spawn_blocking");
        assert_eq!(
            ack.stalled.load(Ordering::Relaxed),
            1,
            "spawn_blocking stalled too"
        );
        assert_eq!(*ack.acked.lock().unwrap(), 2); // the late ack, then this one
        drop(sp);
        tokio::task::spawn_blocking(move || drop(dmx))
            .await
            .unwrap();
    });
    drop(rt);
    // The config's copy of the callback holds the channel, which holds the
    // consumer's last waker, which holds the runtime's driver: drop it too.
    s.config = Config::new();
    base.check(&s.sockets);
}
