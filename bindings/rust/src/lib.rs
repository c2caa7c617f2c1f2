//! Safe Rust binding of libdockmux: one Docker Engine API Unix socket per
//! container, every request forwarded to the upstream daemon with that
//! container's token injected (and any client-sent copy removed).
//!
//! [`Dockmux`] owns a `dmx` handle; [`DockerSocketSpawner`] is the agent's
//! async interface, implemented for it. This crate does not parse HTTP or
//! touch sockets itself: all of that happens in the library's ring threads.
//!
//! ```no_run
//! use dockmux::{Config, Dockmux};
//!
//! let dmx = Dockmux::open(&Config::new().upstream("/var/run/docker.sock").socket_dir("/run/dockmux"))?;
//! let path = dmx.spawn("ci-42", "secret-token")?; // bind-mount at /var/run/docker.sock
//! dmx.teardown("ci-42")?;
//! # Ok::<(), dockmux::Error>(())
//! ```
//!
//! # Blocking
//! Every call is a message to the ring thread that owns the key and a wait for
//! its answer: spawn is socket()+bind()+listen()+chmod() on that thread, and
//! never waits on the network or the upstream, but it waits for the ring to
//! get to the message behind the traffic it serves. The trait's futures do
//! the call on their first poll and are ready at once (all or nothing in one
//! poll). Measured with tokio (examples/hold.rs, 2 cores): tens of
//! microseconds idle; under traffic that saturates the machine a spawn holds
//! the worker 0.26 ms at the median and 0.7-0.9 ms at p99. An agent that
//! spawns from many tasks while its runtime has other work should run the
//! calls in its runtime's `spawn_blocking` (README.md, "Blocking").
//! Dropping a [`Dockmux`] (dmx_close) joins the ring threads, 0.3-7 ms: in
//! async code hand the last reference to `spawn_blocking`. The log callback
//! runs on the ring threads the calls wait for: it must never wait for the
//! caller's runtime, or call the handle.
//!
//! # Tokens
//! Tokens are copied into a NUL-terminated buffer for the C call and that
//! buffer is overwritten with zeros (volatile writes) before it is freed; the
//! `String` handed to [`DockerSocketSpawner::spawn`] is wiped the same way.
//! No error, log line or `Debug` output of this crate contains a token.

// Every unsafe operation, also inside an `unsafe fn`, has its own `unsafe`
// block with a SAFETY note (and rustc 1.63 then does not call them unused).
#![deny(unsafe_op_in_unsafe_fn)]

pub mod ffi;

use std::ffi::{CStr, CString, OsStr};
use std::fmt;
use std::future::Future;
use std::os::raw::{c_char, c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::ptr;
use std::sync::atomic::{compiler_fence, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

/// The agent's interface, exactly as it declares it (async-trait's expanded
/// form). An agent with its own copy of this trait implements it for
/// [`Dockmux`] by delegating each method to this one.
#[rustfmt::skip]
pub trait DockerSocketSpawner: Send + Sync + std::fmt::Debug {
    fn spawn<'a, 'b, 'c>(&'a self, container_key: &'b str, token: String)
        -> Pin<Box<dyn Future<Output = Option<String>> + Send + 'c>>
        where Self: 'c, 'a: 'c, 'b: 'c;
    fn teardown<'a, 'b, 'c>(&'a self, container_key: &'b str)
        -> Pin<Box<dyn Future<Output = ()> + Send + 'c>>
        where Self: 'c, 'a: 'c, 'b: 'c;
}

/// A negative errno from libdockmux (or from this binding's own argument
/// checks, which use -EINVAL like the C library).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Error {
    errno: c_int,
}

impl Error {
    fn from_ret(ret: c_int) -> Error {
        Error {
            errno: if ret < 0 { ret } else { -ffi::EINVAL },
        }
    }

    fn invalid() -> Error {
        Error {
            errno: -ffi::EINVAL,
        }
    }

    /// The negative errno, as the C function returned it.
    pub fn errno(&self) -> i32 {
        self.errno
    }

    /// dmx_strerror's description of the errno.
    pub fn message(&self) -> String {
        // SAFETY: dmx_strerror returns a NUL-terminated string for any int
        // (static, or strerror's buffer, which is copied at once).
        let msg = unsafe { ffi::dmx_strerror(self.errno) };
        if msg.is_null() {
            return "unknown error".to_string();
        }
        unsafe { CStr::from_ptr(msg) }
            .to_string_lossy()
            .into_owned()
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("errno", &self.errno)
            .field("message", &self.message())
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dockmux: {} (errno {})", self.message(), -self.errno)
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        std::io::Error::from_raw_os_error(-e.errno)
    }
}

fn check(ret: c_int) -> Result<c_int, Error> {
    if ret < 0 {
        Err(Error::from_ret(ret))
    } else {
        Ok(ret)
    }
}

/// Overwrite a buffer's whole allocation with zeros through volatile writes,
/// so the compiler cannot drop the stores as dead before the free.
fn wipe(buf: &mut Vec<u8>) {
    let p = buf.as_mut_ptr();
    for i in 0..buf.capacity() {
        // SAFETY: i < capacity, inside the allocation; u8 has no invalid values.
        unsafe { ptr::write_volatile(p.add(i), 0) };
    }
    compiler_fence(Ordering::SeqCst);
}

/// A NUL-terminated copy of a secret, wiped on drop. Built with its exact
/// capacity so pushing the NUL never reallocates (leaving an unwiped copy).
struct SecretCString(Vec<u8>);

impl SecretCString {
    fn new(bytes: &[u8]) -> Result<SecretCString, Error> {
        if bytes.contains(&0) {
            return Err(Error::invalid());
        }
        let mut v = Vec::with_capacity(bytes.len() + 1);
        v.extend_from_slice(bytes);
        v.push(0);
        Ok(SecretCString(v))
    }

    fn as_ptr(&self) -> *const c_char {
        self.0.as_ptr().cast()
    }
}

impl Drop for SecretCString {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// An owned token (the trait's `String`), wiped on drop even if the future
/// holding it is never polled.
struct OwnedToken(String);

impl Drop for OwnedToken {
    fn drop(&mut self) {
        // SAFETY: zeros are valid UTF-8, and the String is not used again.
        wipe(unsafe { self.0.as_mut_vec() });
    }
}

fn key_cstring(key: &str) -> Result<CString, Error> {
    CString::new(key).map_err(|_| Error::invalid())
}

fn opt_cstring(s: Option<&OsStr>) -> Result<Option<CString>, Error> {
    s.map(|s| CString::new(s.as_bytes()).map_err(|_| Error::invalid()))
        .transpose()
}

fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |s| s.as_ptr())
}

/// The bytes of a C char array up to its first NUL (or all of it).
fn c_array_bytes(a: &[c_char]) -> &[u8] {
    // SAFETY: c_char and u8 have the same size and alignment.
    let bytes = unsafe { std::slice::from_raw_parts(a.as_ptr().cast::<u8>(), a.len()) };
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

fn path_from_buf(buf: &[c_char]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(c_array_bytes(buf)))
}

/// The library's log callback: syslog level (3 error, 4 warning, 6 info,
/// 7 debug) and message (never a token). Called from dockmux's threads.
pub type LogFn = dyn Fn(i32, &str) + Send + Sync;

/// Options for [`Dockmux::open`]; unset fields keep the C defaults of
/// `dmx_config_init` (documented in dockmux.h).
#[derive(Clone, Default)]
pub struct Config {
    upstream: Option<PathBuf>,
    socket_dir: Option<PathBuf>,
    rings: u32,
    token_header: Option<String>,
    token_prefix: Option<String>,
    socket_mode: u32,
    socket_uid: Option<u32>,
    socket_gid: Option<u32>,
    log: Option<Arc<LogFn>>,
    max_line: u32,
    max_head: u32,
    max_body: u64,
    head_timeout_ms: u32,
    max_conns: u32,
    response_timeout_ms: u32,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("upstream", &self.upstream)
            .field("socket_dir", &self.socket_dir)
            .field("rings", &self.rings)
            .field("token_header", &self.token_header)
            .field("token_prefix", &self.token_prefix)
            .field("socket_mode", &format_args!("{:o}", self.socket_mode))
            .field("socket_uid", &self.socket_uid)
            .field("socket_gid", &self.socket_gid)
            .field("log", &self.log.is_some())
            .field("max_line", &self.max_line)
            .field("max_head", &self.max_head)
            .field("max_body", &self.max_body)
            .field("head_timeout_ms", &self.head_timeout_ms)
            .field("max_conns", &self.max_conns)
            .field("response_timeout_ms", &self.response_timeout_ms)
            .finish()
    }
}

impl Config {
    pub fn new() -> Config {
        Config::default()
    }
    /// Upstream Docker API socket (default /var/run/docker.sock).
    pub fn upstream(mut self, path: impl Into<PathBuf>) -> Config {
        self.upstream = Some(path.into());
        self
    }
    /// Directory of the container sockets (default /run/dockmux, created 0700).
    pub fn socket_dir(mut self, dir: impl Into<PathBuf>) -> Config {
        self.socket_dir = Some(dir.into());
        self
    }
    /// Ring threads (default 0: one per online CPU).
    pub fn rings(mut self, rings: u32) -> Config {
        self.rings = rings;
        self
    }
    /// Header carrying the token (default "Authorization").
    pub fn token_header(mut self, header: impl Into<String>) -> Config {
        self.token_header = Some(header.into());
        self
    }
    /// Value before the token (default "Bearer " for Authorization, else "").
    pub fn token_prefix(mut self, prefix: impl Into<String>) -> Config {
        self.token_prefix = Some(prefix.into());
        self
    }
    /// Mode of the container sockets (default 0: 0660).
    pub fn socket_mode(mut self, mode: u32) -> Config {
        self.socket_mode = mode;
        self
    }
    /// Owner of the container sockets (default: unchanged).
    pub fn socket_owner(mut self, uid: Option<u32>, gid: Option<u32>) -> Config {
        self.socket_uid = uid;
        self.socket_gid = gid;
        self
    }
    /// Receive the library's log lines (it never writes to stderr itself).
    /// A panic in the callback is caught and discarded. It runs on the ring
    /// threads, sometimes while a spawn waits for that ring: it must not wait
    /// for anything that caller may hold (its async runtime, a lock), nor
    /// call the handle.
    pub fn log(mut self, f: impl Fn(i32, &str) + Send + Sync + 'static) -> Config {
        self.log = Some(Arc::new(f));
        self
    }
    /// Longest request or header line (0: 8 KiB).
    pub fn max_line(mut self, n: u32) -> Config {
        self.max_line = n;
        self
    }
    /// Longest request head (0: 64 KiB; 1 KiB..1 MiB).
    pub fn max_head(mut self, n: u32) -> Config {
        self.max_head = n;
        self
    }
    /// Longest request body (0: unlimited).
    pub fn max_body(mut self, n: u64) -> Config {
        self.max_body = n;
        self
    }
    /// Time for a request head to arrive, in ms (0: 30000).
    pub fn head_timeout_ms(mut self, ms: u32) -> Config {
        self.head_timeout_ms = ms;
        self
    }
    /// Open connections per container (0: 1024).
    pub fn max_conns(mut self, n: u32) -> Config {
        self.max_conns = n;
        self
    }
    /// Time from a request's last byte to the daemon's first response
    /// byte, in ms (0: no limit; then 504). Never cuts a stream that began.
    pub fn response_timeout_ms(mut self, ms: u32) -> Config {
        self.response_timeout_ms = ms;
        self
    }

    /// Open a handle with this configuration.
    pub fn open(&self) -> Result<Dockmux, Error> {
        Dockmux::open(self)
    }
}

unsafe extern "C" fn log_trampoline(userdata: *mut c_void, level: c_int, msg: *const c_char) {
    if userdata.is_null() || msg.is_null() {
        return;
    }
    // SAFETY: userdata is the Box<Arc<LogFn>> owned by the Dockmux, which
    // outlives dmx_close (the last point the library may call us).
    let f = unsafe { &*(userdata as *const Arc<LogFn>) };
    let msg = unsafe { CStr::from_ptr(msg) }.to_string_lossy();
    // Unwinding into C is undefined behaviour.
    let _ = panic::catch_unwind(AssertUnwindSafe(|| f(level, &msg)));
}

/// Per-container (or host-wide) counters, see `struct dmx_stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// 1 for one container; live containers for the total.
    pub containers: u64,
    pub conns_accepted: u64,
    pub conns_active: u64,
    /// Request heads forwarded upstream.
    pub requests: u64,
    /// Container -> daemon bytes.
    pub bytes_up: u64,
    /// Daemon -> container bytes.
    pub bytes_down: u64,
    /// 4xx/5xx answered by dockmux itself, I/O errors.
    pub errors: u64,
    /// Responses by class: [1] 1xx ... [5] 5xx; [0] unused.
    pub responses: [u64; 6],
    /// Requests refused by the policy (403).
    pub denied: u64,
}

impl From<ffi::dmx_stats> for Stats {
    fn from(s: ffi::dmx_stats) -> Stats {
        Stats {
            containers: s.containers,
            conns_accepted: s.conns_accepted,
            conns_active: s.conns_active,
            requests: s.requests,
            bytes_up: s.bytes_up,
            bytes_down: s.bytes_down,
            errors: s.errors,
            responses: s.responses,
            denied: s.denied,
        }
    }
}

/// One live container, from [`Dockmux::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Keys reach the library only through this crate's `&str`, so they are UTF-8.
    pub key: String,
    pub path: PathBuf,
    pub stats: Stats,
}

/// The socket path of `key` under `socket_dir` (None: /run/dockmux), without
/// a handle: `<dir>/<16 hex of XXH3_64(key)>.sock`.
pub fn path_in(socket_dir: Option<&Path>, key: &str) -> Result<PathBuf, Error> {
    let dir = opt_cstring(socket_dir.map(Path::as_os_str))?;
    let key = key_cstring(key)?;
    let mut buf = [0 as c_char; ffi::DMX_PATH_MAX];
    // SAFETY: NUL-terminated inputs, buf of the given capacity.
    check(unsafe { ffi::dmx_path_in(opt_ptr(&dir), key.as_ptr(), buf.as_mut_ptr(), buf.len()) })?;
    Ok(path_from_buf(&buf))
}

/// An open libdockmux instance: its ring threads and every container socket.
/// Dropping it tears every container down (sockets unlinked) and joins the
/// rings.
pub struct Dockmux {
    // Invariant: non-null, from a successful dmx_open, closed only in Drop.
    raw: *mut ffi::dmx,
    upstream: PathBuf,
    socket_dir: PathBuf,
    // Must outlive dmx_close: Drop::drop runs before the fields are dropped.
    _log: Option<Box<Arc<LogFn>>>,
}

// SAFETY: every dmx_* function is thread-safe (dockmux.h); the handle is only
// freed in Drop, which has exclusive access; the log callback is Send + Sync.
unsafe impl Send for Dockmux {}
unsafe impl Sync for Dockmux {}

impl fmt::Debug for Dockmux {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dockmux")
            .field("upstream", &self.upstream)
            .field("socket_dir", &self.socket_dir)
            .finish_non_exhaustive()
    }
}

impl Drop for Dockmux {
    fn drop(&mut self) {
        // SAFETY: raw came from dmx_open and is closed exactly once, here.
        unsafe { ffi::dmx_close(self.raw) };
    }
}

impl Dockmux {
    /// Start the rings (dmx_open). Creates the socket directory if needed.
    pub fn open(config: &Config) -> Result<Dockmux, Error> {
        let upstream = opt_cstring(config.upstream.as_deref().map(Path::as_os_str))?;
        let socket_dir = opt_cstring(config.socket_dir.as_deref().map(Path::as_os_str))?;
        let header = opt_cstring(config.token_header.as_deref().map(OsStr::new))?;
        let prefix = opt_cstring(config.token_prefix.as_deref().map(OsStr::new))?;
        let log = config.log.clone().map(Box::new);

        let mut cfg = std::mem::MaybeUninit::<ffi::dmx_config>::uninit();
        // SAFETY: dmx_config_init writes every field.
        let mut cfg = unsafe {
            ffi::dmx_config_init(cfg.as_mut_ptr());
            cfg.assume_init()
        };
        cfg.upstream = opt_ptr(&upstream);
        cfg.socket_dir = opt_ptr(&socket_dir);
        cfg.rings = config.rings;
        cfg.token_header = opt_ptr(&header);
        cfg.token_prefix = opt_ptr(&prefix);
        cfg.socket_mode = config.socket_mode;
        if let Some(uid) = config.socket_uid {
            cfg.socket_uid = uid;
        }
        if let Some(gid) = config.socket_gid {
            cfg.socket_gid = gid;
        }
        if let Some(f) = &log {
            cfg.log = Some(log_trampoline);
            cfg.log_userdata = (&**f as *const Arc<LogFn> as *mut Arc<LogFn>).cast();
        }
        cfg.max_line = config.max_line;
        cfg.max_head = config.max_head;
        cfg.max_body = config.max_body;
        cfg.head_timeout_ms = config.head_timeout_ms;
        cfg.max_conns = config.max_conns;
        cfg.response_timeout_ms = config.response_timeout_ms;

        let mut raw = ptr::null_mut();
        // SAFETY: cfg and the strings it points to live across the call (the
        // library copies them); raw is written only on success.
        check(unsafe { ffi::dmx_open(&cfg, &mut raw) })?;
        if raw.is_null() {
            return Err(Error::invalid());
        }
        Ok(Dockmux {
            raw,
            upstream: config
                .upstream
                .clone()
                .unwrap_or_else(|| "/var/run/docker.sock".into()),
            socket_dir: config
                .socket_dir
                .clone()
                .unwrap_or_else(|| "/run/dockmux".into()),
            _log: log,
        })
    }

    /// The directory of the container sockets.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// Create (or find) the container's socket, listening when this returns,
    /// and return its path. Idempotent per key; a different token rotates it
    /// for new requests. A key or token with a NUL byte is -EINVAL without a
    /// call into C. The token is copied into a buffer wiped after the call.
    pub fn spawn(&self, key: &str, token: &str) -> Result<PathBuf, Error> {
        let key = key_cstring(key)?;
        let token = SecretCString::new(token.as_bytes())?;
        let mut buf = [0 as c_char; ffi::DMX_PATH_MAX];
        // SAFETY: NUL-terminated inputs, buf of the given capacity.
        check(unsafe {
            ffi::dmx_spawn(
                self.raw,
                key.as_ptr(),
                token.as_ptr(),
                buf.as_mut_ptr(),
                buf.len(),
            )
        })?;
        Ok(path_from_buf(&buf))
    }

    /// Close the key's listener and connections, unlink its socket, wipe its
    /// token. An unknown key is Ok.
    pub fn teardown(&self, key: &str) -> Result<(), Error> {
        let key = key_cstring(key)?;
        // SAFETY: valid handle, NUL-terminated key.
        check(unsafe { ffi::dmx_teardown(self.raw, key.as_ptr()) })?;
        Ok(())
    }

    /// The socket path of key (pure: nothing is created).
    pub fn path(&self, key: &str) -> Result<PathBuf, Error> {
        let key = key_cstring(key)?;
        let mut buf = [0 as c_char; ffi::DMX_PATH_MAX];
        // SAFETY: valid handle, NUL-terminated key, buf of the given capacity.
        check(unsafe { ffi::dmx_path(self.raw, key.as_ptr(), buf.as_mut_ptr(), buf.len()) })?;
        Ok(path_from_buf(&buf))
    }

    /// Counters of one container (-ENOENT if unknown), or with None the
    /// host-wide total over live and torn-down containers.
    pub fn stats(&self, key: Option<&str>) -> Result<Stats, Error> {
        let key = key.map(key_cstring).transpose()?;
        let mut out = ffi::dmx_stats::default();
        // SAFETY: valid handle, NULL or NUL-terminated key, out is writable.
        check(unsafe { ffi::dmx_stats(self.raw, opt_ptr(&key), &mut out) })?;
        Ok(out.into())
    }

    /// A snapshot of the live containers.
    pub fn list(&self) -> Result<Vec<Entry>, Error> {
        let mut cap = 16usize;
        loop {
            let mut v: Vec<ffi::dmx_entry> = Vec::with_capacity(cap);
            // SAFETY: the library writes at most cap entries into v's buffer.
            let n = check(unsafe { ffi::dmx_list(self.raw, v.as_mut_ptr(), cap) })? as usize;
            if n <= cap {
                // SAFETY: the first n <= cap entries were written.
                unsafe { v.set_len(n) };
                return Ok(v
                    .iter()
                    .map(|e| Entry {
                        key: String::from_utf8_lossy(c_array_bytes(&e.key)).into_owned(),
                        path: path_from_buf(&e.path),
                        stats: e.stats.into(),
                    })
                    .collect());
            }
            // More containers than room: retry with some slack for new ones.
            cap = n + 16;
        }
    }
}

/// A future that runs its closure on each poll (`std::future::poll_fn` is
/// Rust 1.64; the crate builds with Debian bookworm's 1.63).
struct PollFn<F>(F);

impl<T, F: FnMut() -> Poll<T> + Unpin> Future for PollFn<F> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<T> {
        (self.get_mut().0)()
    }
}

impl DockerSocketSpawner for Dockmux {
    /// The host path of the container's socket, or None on any failure
    /// (nothing is logged: the token must not leak). The call happens on the
    /// first poll, which is Ready: see the crate docs on blocking.
    #[rustfmt::skip]
    fn spawn<'a, 'b, 'c>(&'a self, container_key: &'b str, token: String)
        -> Pin<Box<dyn Future<Output = Option<String>> + Send + 'c>>
        where Self: 'c, 'a: 'c, 'b: 'c
    {
        let mut token = Some(OwnedToken(token));
        Box::pin(PollFn(move || {
            let token = token.take().expect("dockmux spawn future polled after completion");
            let path = match Dockmux::spawn(self, container_key, &token.0) {
                Ok(path) => path,
                Err(_) => return Poll::Ready(None),
            };
            drop(token);
            match path.into_os_string().into_string() {
                Ok(path) => Poll::Ready(Some(path)),
                Err(_) => {
                    // A non-UTF-8 socket dir has no String path: undo, report failure.
                    let _ = Dockmux::teardown(self, container_key);
                    Poll::Ready(None)
                }
            }
        }))
    }

    /// Idempotent; unknown or invalid keys are a no-op.
    #[rustfmt::skip]
    fn teardown<'a, 'b, 'c>(&'a self, container_key: &'b str)
        -> Pin<Box<dyn Future<Output = ()> + Send + 'c>>
        where Self: 'c, 'a: 'c, 'b: 'c
    {
        Box::pin(PollFn(move || {
            let _ = Dockmux::teardown(self, container_key);
            Poll::Ready(())
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wipe_zeroes_the_whole_allocation() {
        let mut v = Vec::with_capacity(32);
        v.extend_from_slice(b"secret-token");
        wipe(&mut v);
        // SAFETY: wipe wrote every byte up to the capacity.
        unsafe { v.set_len(v.capacity()) };
        assert!(v.iter().all(|&b| b == 0));
    }

    #[test]
    fn secret_cstring_rejects_nul_and_terminates() {
        assert_eq!(SecretCString::new(b"a\0b").err(), Some(Error::invalid()));
        let s = SecretCString::new(b"tok").unwrap();
        assert_eq!(s.0, b"tok\0");
        assert_eq!(s.0.capacity(), 4);
    }
}
