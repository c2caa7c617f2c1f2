// The #[repr(C)] structs and constants of src/ffi.rs against what the C
// compiler makes of dockmux.h (probed by build.rs): a field added, moved or
// retyped in the header fails here instead of corrupting memory at run time.

use std::mem::{align_of, size_of, MaybeUninit};
use std::ptr::addr_of;

use dockmux::ffi;

include!(concat!(env!("OUT_DIR"), "/c_layout.rs"));

/// The offset of field `$f` in `$t` (std::mem::offset_of! is Rust 1.77; the
/// crate builds with 1.63): the field's address in an uninitialised value
/// minus the value's, taken with addr_of! so no reference to uninitialised
/// memory is created.
macro_rules! field_offset {
    ($t:ty, $f:ident) => {{
        let value = MaybeUninit::<$t>::uninit();
        let base = value.as_ptr();
        // SAFETY: addr_of! only computes the address of a field of `value`
        // (in bounds, nothing is read); no reference is made.
        let field = unsafe { addr_of!((*base).$f) };
        field as usize - base as usize
    }};
}

macro_rules! rust_layout {
    ($c:literal, $t:ty { $($f:ident),* $(,)? }) => {
        ($c, size_of::<$t>(), align_of::<$t>(), vec![$((stringify!($f), field_offset!($t, $f))),*])
    };
}

fn c_struct(name: &str) -> &'static CStruct {
    let structs = C_LAYOUT.unwrap_or_else(|why| panic!("C layout probe did not run: {why}"));
    structs
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no C layout for {name}"))
}

fn assert_same(rust: (&str, usize, usize, Vec<(&str, usize)>)) {
    let (name, size, align, fields) = rust;
    let c = c_struct(name);
    let c_fields: Vec<(&str, usize)> = c.fields.to_vec();
    assert_eq!(
        fields, c_fields,
        "struct {name}: fields (name, offset) differ from dockmux.h"
    );
    assert_eq!(size, c.size, "struct {name}: size differs from C");
    assert_eq!(align, c.align, "struct {name}: alignment differs from C");
}

#[test]
fn dmx_config_matches_c() {
    assert_same(rust_layout!(
        "dmx_config",
        ffi::dmx_config {
            upstream,
            socket_dir,
            rings,
            token_header,
            token_prefix,
            socket_mode,
            socket_uid,
            socket_gid,
            log,
            log_userdata,
            max_line,
            max_head,
            max_body,
            head_timeout_ms,
            max_conns,
            access_log,
            access_userdata,
            response_timeout_ms,
            owner_label,
            max_inspect_body,
        }
    ));
}

#[test]
fn dmx_policy_matches_c() {
    assert_same(rust_layout!(
        "dmx_policy",
        ffi::dmx_policy {
            read_only,
            allow,
            deny,
            uids,
            nuids,
            isolate,
            audit,
            allow_caps,
            nallow_caps,
            allow_runtimes,
            nallow_runtimes,
            allow_binds,
            nallow_binds,
        }
    ));
}

#[test]
fn dmx_stats_matches_c() {
    assert_same(rust_layout!(
        "dmx_stats",
        ffi::dmx_stats {
            containers,
            conns_accepted,
            conns_active,
            requests,
            bytes_up,
            bytes_down,
            errors,
            responses,
            denied,
        }
    ));
}

#[test]
fn dmx_entry_matches_c() {
    assert_same(rust_layout!(
        "dmx_entry",
        ffi::dmx_entry {
            key,
            path,
            stats,
            policy,
            nuids
        }
    ));
}

#[test]
fn constants_match_c() {
    let c = |name: &str| {
        C_CONSTS
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("C layout probe did not run or lacks {name}"))
            .1
    };
    assert_eq!(ffi::DMX_VERSION_MAJOR as i64, c("DMX_VERSION_MAJOR"));
    assert_eq!(ffi::DMX_VERSION_MINOR as i64, c("DMX_VERSION_MINOR"));
    assert_eq!(ffi::DMX_KEY_MAX as i64, c("DMX_KEY_MAX"));
    assert_eq!(ffi::DMX_TOKEN_MAX as i64, c("DMX_TOKEN_MAX"));
    assert_eq!(ffi::DMX_PATH_MAX as i64, c("DMX_PATH_MAX"));
    assert_eq!(ffi::EINVAL as i64, c("EINVAL"));
    assert_eq!(ffi::ENOENT as i64, c("ENOENT"));
    assert_eq!(ffi::ENOSPC as i64, c("ENOSPC"));
}
