//! Raw declarations of api/dockmux.h, field for field and in header order.
//! Nothing here is safe to call without reading the header; the safe API is
//! in lib.rs. tests/layout.rs checks every struct against the C compiler.
#![allow(non_camel_case_types)]

use std::marker::{PhantomData, PhantomPinned};
use std::os::raw::{c_char, c_int, c_uint, c_void};

pub const DMX_VERSION_MAJOR: u32 = 0;
pub const DMX_VERSION_MINOR: u32 = 1;
/// Longest container key, in bytes (keys are 1..DMX_KEY_MAX bytes, no NUL).
pub const DMX_KEY_MAX: usize = 255;
/// Longest token, in bytes.
pub const DMX_TOKEN_MAX: usize = 4096;
/// Buffer size that always fits a socket path (sizeof(sun_path)).
pub const DMX_PATH_MAX: usize = 108;

/// Linux errno values the binding produces itself (dockmux is Linux-only).
pub const EINVAL: c_int = 22;
pub const ENOENT: c_int = 2;
pub const ENOSPC: c_int = 28;

/// `uid_t` and `gid_t` are 32-bit unsigned on every Linux ABI.
pub type uid_t = u32;
pub type gid_t = u32;

/// `typedef struct dmx dmx;`: opaque, only used behind a pointer.
#[repr(C)]
pub struct dmx {
    _opaque: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// `dmx_log_fn`: level uses syslog numbers; called from any dockmux thread.
pub type dmx_log_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, level: c_int, msg: *const c_char)>;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dmx_config {
    pub upstream: *const c_char,
    pub socket_dir: *const c_char,
    pub rings: c_uint,
    pub token_header: *const c_char,
    pub token_prefix: *const c_char,
    pub socket_mode: c_uint,
    pub socket_uid: uid_t,
    pub socket_gid: gid_t,
    pub log: dmx_log_fn,
    pub log_userdata: *mut c_void,
    pub max_line: c_uint,
    pub max_head: c_uint,
    pub max_body: u64,
    pub head_timeout_ms: c_uint,
    pub max_conns: c_uint,
    /// `dmx_access_fn` (not used by the safe API: always None).
    pub access_log: Option<unsafe extern "C" fn(userdata: *mut c_void, a: *const c_void)>,
    pub access_userdata: *mut c_void,
    pub response_timeout_ms: c_uint,
    /// Tenant isolation: the owner label's name (NULL: "org.dockmux.owner").
    pub owner_label: *const c_char,
    /// Tenant isolation: longest create body judged whole (0: 1 MiB).
    pub max_inspect_body: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dmx_policy {
    pub read_only: c_int,
    pub allow: *const c_char,
    pub deny: *const c_char,
    pub uids: *const uid_t,
    pub nuids: usize,
    /// Tenant isolation (in progress, not in the safe API yet).
    pub isolate: c_int,
    pub audit: c_int,
    pub allow_caps: *const *const c_char,
    pub nallow_caps: usize,
    pub allow_runtimes: *const *const c_char,
    pub nallow_runtimes: usize,
    pub allow_binds: *const *const c_char,
    pub nallow_binds: usize,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct dmx_stats {
    pub containers: u64,
    pub conns_accepted: u64,
    pub conns_active: u64,
    pub requests: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub errors: u64,
    pub responses: [u64; 6],
    pub denied: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct dmx_entry {
    pub key: [c_char; DMX_KEY_MAX + 1],
    pub path: [c_char; DMX_PATH_MAX],
    pub stats: dmx_stats,
    pub policy: [c_char; 160],
    pub nuids: usize,
}

extern "C" {
    pub fn dmx_config_init(cfg: *mut dmx_config);
    pub fn dmx_open(cfg: *const dmx_config, out: *mut *mut dmx) -> c_int;
    pub fn dmx_close(d: *mut dmx);
    pub fn dmx_path(d: *const dmx, key: *const c_char, buf: *mut c_char, cap: usize) -> c_int;
    pub fn dmx_path_in(
        socket_dir: *const c_char,
        key: *const c_char,
        buf: *mut c_char,
        cap: usize,
    ) -> c_int;
    pub fn dmx_spawn(
        d: *mut dmx,
        key: *const c_char,
        token: *const c_char,
        path_out: *mut c_char,
        cap: usize,
    ) -> c_int;
    /// Declared in dockmux.h but not (yet) exported by api/libdockmux.map:
    /// referencing it fails to link, so the safe API does not use it.
    pub fn dmx_spawn_policy(
        d: *mut dmx,
        key: *const c_char,
        token: *const c_char,
        policy: *const dmx_policy,
        path_out: *mut c_char,
        cap: usize,
    ) -> c_int;
    /// Declared in dockmux.h but not (yet) exported by api/libdockmux.map.
    pub fn dmx_policy_check(policy: *const dmx_policy, why: *mut *const c_char) -> c_int;
    pub fn dmx_teardown(d: *mut dmx, key: *const c_char) -> c_int;
    pub fn dmx_stats(d: *mut dmx, key: *const c_char, out: *mut dmx_stats) -> c_int;
    pub fn dmx_list(d: *mut dmx, entries: *mut dmx_entry, cap: usize) -> c_int;
    pub fn dmx_strerror(err: c_int) -> *const c_char;
}
