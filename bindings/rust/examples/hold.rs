// How long DockerSocketSpawner::spawn and ::teardown hold a tokio worker
// thread, under concurrent traffic through container sockets.
//
//   cargo run --release --offline --example hold -- [options]
//   (from bindings/rust, PKG_CONFIG_PATH as for the tests: see README.md)
//
// On one multi-thread runtime (--workers, default 2) it runs:
// - --traffic tasks (default 32), each a keep-alive tokio client sending
//   GET /_ping through its own container socket in a loop;
// - --spawners tasks (default 2) that spawn and tear down fresh keys through
//   Arc<dyn DockerSocketSpawner> (the agent's #[async_trait] trait,
//   tests/common/agent.rs), --pause-us apart (default 1000; 0: back to back);
// - a probe: every millisecond a thread outside the runtime spawns a task
//   and records how long it waited for a worker to start it.
// The upstream is the tests' std-thread stub. Each mode runs --secs seconds
// (default 5) on a fresh handle (--rings, default 2):
// - inline:   the crate's impl; its future is Ready on the first poll, so
//             the wall time of `.await` is the time the call held the worker;
// - blocking: tests/common/agent.rs's Blocking (spawn_blocking); the time is
//             what the caller waits, the worker is free meanwhile.
// Then how long Drop (dmx_close) holds its thread: with the traffic's
// containers, and with --idle (default 1000) idle containers.

#[path = "../tests/common/mod.rs"]
mod common;

use std::env;
use std::path::PathBuf;
use std::process;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::agent::{Blocking, DockerSocketSpawner};
use common::aio::Client;
use common::{Fixture, PING_WITH_EVIL_AUTH};
use dockmux::Config;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Inline,
    Blocking,
}

struct Opts {
    secs: u64,
    traffic: usize,
    spawners: usize,
    workers: usize,
    rings: u32,
    idle: usize,
    pause_us: u64,
    modes: Vec<Mode>,
}

fn usage() -> ! {
    eprintln!(
        "usage: hold [--secs N] [--traffic N] [--spawners N] [--workers N] [--rings N] \
         [--idle N] [--pause-us N] [--mode inline|blocking|both]"
    );
    process::exit(2)
}

fn opts() -> Opts {
    let mut o = Opts {
        secs: 5,
        traffic: 32,
        spawners: 2,
        workers: 2,
        rings: 2,
        idle: 1000,
        pause_us: 1000,
        modes: vec![Mode::Inline, Mode::Blocking],
    };
    let mut args = env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_else(|| usage());
        let n = || v.parse::<u64>().unwrap_or_else(|_| usage());
        match a.as_str() {
            "--secs" => o.secs = n(),
            "--traffic" => o.traffic = n() as usize,
            "--spawners" => o.spawners = n() as usize,
            "--workers" => o.workers = n().max(1) as usize,
            "--rings" => o.rings = n() as u32,
            "--idle" => o.idle = n() as usize,
            "--pause-us" => o.pause_us = n(),
            "--mode" => {
                o.modes = match v.as_str() {
                    "inline" => vec![Mode::Inline],
                    "blocking" => vec![Mode::Blocking],
                    "both" => vec![Mode::Inline, Mode::Blocking],
                    _ => usage(),
                }
            }
            _ => usage(),
        }
    }
    o
}

/// "p50 / p99 / max" of `v` in microseconds.
fn summary(v: &mut [Duration]) -> String {
    if v.is_empty() {
        return "no samples".to_string();
    }
    v.sort();
    let at = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    format!(
        "p50 {:7.1} us  p99 {:7.1} us  max {:8.1} us  (n={})",
        us(at(0.50)),
        us(at(0.99)),
        us(*v.last().unwrap()),
        v.len()
    )
}

struct Samples {
    spawn: Vec<Duration>,
    teardown: Vec<Duration>,
}

async fn spawner_loop(
    sp: Arc<dyn DockerSocketSpawner>,
    id: usize,
    pause: Duration,
    stop: Arc<AtomicBool>,
) -> Samples {
    let mut s = Samples {
        spawn: Vec::new(),
        teardown: Vec::new(),
    };
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let key = format!("churn-{id}-{n}");
        n += 1;
        let t0 = Instant::now();
        let path = sp.spawn(&key, format!("tok-{key}")).await;
        s.spawn.push(t0.elapsed());
        assert!(path.is_some(), "spawn {key} failed");
        let t1 = Instant::now();
        sp.teardown(&key).await;
        s.teardown.push(t1.elapsed());
        // Let the other tasks of this worker run between two cycles.
        if pause.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(pause).await;
        }
    }
    s
}

async fn traffic_loop(path: PathBuf, stop: Arc<AtomicBool>) -> Vec<Duration> {
    let mut c = Client::connect(&path).await.expect("connect");
    let mut lat = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let t0 = Instant::now();
        let (status, _) = c.request(PING_WITH_EVIL_AUTH).await.expect("request");
        lat.push(t0.elapsed());
        assert_eq!(status, "HTTP/1.1 200 OK");
    }
    lat
}

/// Every millisecond, from a thread outside the runtime (like an event the
/// agent reacts to), spawn a task and record how long it waited for a worker
/// to start it: what calls holding workers cost everyone else.
fn probe_thread(
    rt: tokio::runtime::Handle,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<Duration>> {
    std::thread::spawn(move || {
        let mut waits = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(1));
            let t0 = Instant::now();
            let task = rt.spawn(async move { t0.elapsed() });
            waits.push(rt.block_on(task).unwrap());
        }
        waits
    })
}

fn run(o: &Opts, mode: Mode) {
    let fx = Fixture::with(|c: Config| c.rings(o.rings));
    let dmx = fx.dmx.clone();
    let sp: Arc<dyn DockerSocketSpawner> = match mode {
        Mode::Inline => dmx.clone(),
        Mode::Blocking => Arc::new(Blocking(dmx.clone())),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(o.workers)
        .enable_all()
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let pause = Duration::from_micros(o.pause_us);
    let (mut spawns, mut teardowns, mut lat, mut late, reqs, elapsed) = rt.block_on(async {
        let mut traffic = Vec::new();
        for i in 0..o.traffic {
            let path = sp
                .spawn(&format!("traffic-{i}"), format!("tok-traffic-{i}"))
                .await
                .expect("spawn");
            traffic.push(tokio::spawn(traffic_loop(path.into(), stop.clone())));
        }
        let probe = probe_thread(tokio::runtime::Handle::current(), stop.clone());
        // Traffic first, then the churn on top of it.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let t0 = Instant::now();
        let spawners: Vec<_> = (0..o.spawners)
            .map(|id| tokio::spawn(spawner_loop(sp.clone(), id, pause, stop.clone())))
            .collect();
        tokio::time::sleep(Duration::from_secs(o.secs)).await;
        stop.store(true, Ordering::Relaxed);
        let (mut spawns, mut teardowns) = (Vec::new(), Vec::new());
        for s in spawners {
            let s = s.await.unwrap();
            spawns.extend(s.spawn);
            teardowns.extend(s.teardown);
        }
        let elapsed = t0.elapsed();
        let mut lat = Vec::new();
        for t in traffic {
            lat.extend(t.await.unwrap());
        }
        let late = probe.join().unwrap();
        let reqs = lat.len();
        (spawns, teardowns, lat, late, reqs, elapsed)
    });
    drop(rt);
    let name = match mode {
        Mode::Inline => "inline (worker held)",
        Mode::Blocking => "spawn_blocking (caller waits; worker free)",
    };
    println!("mode {name}");
    println!("  spawn     {}", summary(&mut spawns));
    println!("  teardown  {}", summary(&mut teardowns));
    println!(
        "  traffic   {:.0} req/s; request {}",
        reqs as f64 / elapsed.as_secs_f64(),
        summary(&mut lat)
    );
    println!("  new task start delay {}", summary(&mut late));

    // Drop: the traffic's containers (their connections closed by now).
    drop(sp);
    drop(dmx);
    let dmx = Arc::try_unwrap(fx.dmx).expect("last reference");
    let t0 = Instant::now();
    drop(dmx);
    let close_traffic = t0.elapsed();
    println!(
        "  drop with {} containers: {:.1} us",
        o.traffic,
        close_traffic.as_secs_f64() * 1e6
    );
}

fn close_idle(o: &Opts) {
    let fx = Fixture::with(|c: Config| c.rings(o.rings));
    for i in 0..o.idle {
        fx.dmx
            .spawn(&format!("idle-{i}"), "tok-idle")
            .expect("spawn");
    }
    let dmx = Arc::try_unwrap(fx.dmx).expect("last reference");
    let t0 = Instant::now();
    drop(dmx);
    println!(
        "drop with {} idle containers: {:.1} us",
        o.idle,
        t0.elapsed().as_secs_f64() * 1e6
    );
}

fn main() {
    let o = opts();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average before: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "hold: {} s a mode, {} traffic tasks, {} spawners (pause {} us), {} workers, {} rings, {} CPUs",
        o.secs,
        o.traffic,
        o.spawners,
        o.pause_us,
        o.workers,
        o.rings,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for &mode in &o.modes {
        run(&o, mode);
    }
    close_idle(&o);
}
