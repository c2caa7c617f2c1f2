// build.rs: find libdockmux with pkg-config and link it as a shared library,
// with an rpath so this crate's tests run without LD_LIBRARY_PATH.
// It also compiles a tiny C probe that prints the C layout of the public
// structs (parsed from dockmux.h) into OUT_DIR/c_layout.rs, which the layout
// tests compare with src/ffi.rs. It does not build libdockmux itself: meson does.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{self, Command};

/// The structs of dockmux.h whose layout src/ffi.rs mirrors.
const STRUCTS: &[&str] = &["dmx_config", "dmx_policy", "dmx_stats", "dmx_entry"];
/// The constants of dockmux.h (and errno values) that src/ffi.rs mirrors.
const CONSTS: &[&str] = &[
    "DMX_VERSION_MAJOR",
    "DMX_VERSION_MINOR",
    "DMX_KEY_MAX",
    "DMX_TOKEN_MAX",
    "DMX_PATH_MAX",
    "EINVAL",
    "ENOENT",
    "ENOSPC",
];

struct PkgConfig {
    lib_dirs: Vec<PathBuf>,
    libs: Vec<String>,
    include_dirs: Vec<PathBuf>,
}

fn main() {
    for var in [
        "PKG_CONFIG_PATH",
        "PKG_CONFIG_LIBDIR",
        "PKG_CONFIG_SYSROOT_DIR",
        "PKG_CONFIG",
        "CC",
        "DOCKMUX_NO_RPATH",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");

    let pc = find_libdockmux();
    let lib_dir = pc
        .lib_dirs
        .iter()
        .find(|d| has_shared_lib(d))
        .cloned()
        .unwrap_or_else(|| {
            fail(&format!(
                "pkg-config found libdockmux, but no libdockmux.so is in its library \
                 directories ({}).\nInstall it (meson install) or point PKG_CONFIG_PATH at \
                 <meson builddir>/meson-uninstalled.",
                join_paths(&pc.lib_dirs)
            ))
        });

    for dir in &pc.lib_dirs {
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
    for lib in &pc.libs {
        println!("cargo:rustc-link-lib=dylib={lib}");
    }
    // rustc-link-arg reaches this crate's tests, examples and binaries only;
    // dependents get the directory as DEP_DOCKMUX_LIBDIR for their own rpath.
    if env::var_os("DOCKMUX_NO_RPATH").is_none() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
    }
    println!("cargo:libdir={}", lib_dir.display());

    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let layout = match find_header(&pc.include_dirs) {
        Some(header) => {
            println!("cargo:rerun-if-changed={}", header.display());
            println!("cargo:include={}", header.parent().unwrap().display());
            probe_layout(&header, &pc.include_dirs, &out)
        }
        None => Err("dockmux.h not found in pkg-config's include directories".to_string()),
    };
    let text = match layout {
        Ok(text) => text,
        Err(why) => {
            // Not fatal for the build: the layout tests fail with this reason.
            println!("cargo:warning=C layout probe skipped: {why}");
            format!(
                "pub const C_LAYOUT: Result<&[CStruct], &str> = Err({why:?});\n\
                 pub const C_CONSTS: &[(&str, i64)] = &[];\n"
            )
        }
    };
    let header = "/// One C struct as the compiler sees it: name, size, alignment, and\n\
                  /// (field, offset) in declaration order.\n\
                  pub struct CStruct {\n    pub name: &'static str,\n    pub size: usize,\n    \
                  pub align: usize,\n    pub fields: &'static [(&'static str, usize)],\n}\n";
    fs::write(out.join("c_layout.rs"), format!("{header}{text}")).expect("write c_layout.rs");
}

fn fail(msg: &str) -> ! {
    eprintln!("\nerror: dockmux build script: {msg}\n");
    process::exit(1);
}

fn join_paths(dirs: &[PathBuf]) -> String {
    let v: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    if v.is_empty() {
        "none".to_string()
    } else {
        v.join(", ")
    }
}

fn has_shared_lib(dir: &Path) -> bool {
    dir.join("libdockmux.so").exists()
}

fn pkg_config(extra_path: Option<&Path>) -> Result<PkgConfig, String> {
    let exe = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string());
    let mut cmd = Command::new(&exe);
    cmd.args(["--libs", "--cflags", "libdockmux"]);
    if let Some(dir) = extra_path {
        let mut path = dir.as_os_str().to_owned();
        if let Some(old) = env::var_os("PKG_CONFIG_PATH") {
            path.push(":");
            path.push(old);
        }
        cmd.env("PKG_CONFIG_PATH", path);
    }
    let output = cmd
        .output()
        .map_err(|e| format!("cannot run `{exe}`: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`{exe} --libs --cflags libdockmux` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut pc = PkgConfig {
        lib_dirs: Vec::new(),
        libs: Vec::new(),
        include_dirs: Vec::new(),
    };
    for word in stdout.split_whitespace() {
        if let Some(dir) = word.strip_prefix("-L") {
            pc.lib_dirs.push(PathBuf::from(dir));
        } else if let Some(lib) = word.strip_prefix("-l") {
            pc.libs.push(lib.to_string());
        } else if let Some(dir) = word.strip_prefix("-I") {
            pc.include_dirs.push(PathBuf::from(dir));
        }
    }
    if !pc.libs.iter().any(|l| l == "dockmux") {
        return Err(format!(
            "`{exe}` output has no -ldockmux: {}",
            stdout.trim()
        ));
    }
    Ok(pc)
}

/// pkg-config as configured; when its libdir holds no libdockmux.so and
/// PKG_CONFIG_PATH names a meson build's meson-private (whose .pc describes the
/// install prefix, not the build tree), retry with the sibling meson-uninstalled.
fn find_libdockmux() -> PkgConfig {
    let first = pkg_config(None);
    if let Ok(pc) = &first {
        if pc.lib_dirs.iter().any(|d| has_shared_lib(d)) {
            return first.unwrap();
        }
    }
    let uninstalled = env::var_os("PKG_CONFIG_PATH").and_then(|p| {
        env::split_paths(&p)
            .filter(|d| d.file_name().map_or(false, |n| n == "meson-private"))
            .map(|d| d.with_file_name("meson-uninstalled"))
            .find(|d| d.join("libdockmux-uninstalled.pc").exists())
    });
    if let Some(dir) = uninstalled {
        println!(
            "cargo:rerun-if-changed={}",
            dir.join("libdockmux-uninstalled.pc").display()
        );
        match pkg_config(Some(&dir)) {
            Ok(pc) => {
                println!(
                    "cargo:warning=libdockmux is not installed at the prefix of meson-private's \
                     .pc; using the build tree via {}",
                    dir.display()
                );
                return pc;
            }
            Err(e) => fail(&e),
        }
    }
    match first {
        Ok(pc) => pc,
        Err(e) => fail(&format!(
            "{e}\nlibdockmux was not found. Build it with meson and set PKG_CONFIG_PATH, e.g.\n  \
             PKG_CONFIG_PATH=<builddir>/meson-uninstalled cargo test --offline\n\
             (or <prefix>/lib/<arch>/pkgconfig after `meson install`)."
        )),
    }
}

fn find_header(include_dirs: &[PathBuf]) -> Option<PathBuf> {
    include_dirs
        .iter()
        .map(|d| d.join("dockmux.h"))
        .find(|h| h.exists())
}

/// The text of `struct NAME { ... };` in header, comments removed.
fn struct_body(header: &str, name: &str) -> Option<String> {
    let text = strip_comments(header);
    let open = format!("struct {name} {{");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find("};")?;
    Some(text[start..end].to_string())
}

fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("/*") {
            rest = r.find("*/").map_or("", |i| &r[i + 2..]);
            out.push(' ');
        } else if let Some(r) = rest.strip_prefix("//") {
            rest = r.find('\n').map_or("", |i| &r[i..]);
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Field names in declaration order: the last identifier of each declarator,
/// array bounds dropped ("char key[DMX_KEY_MAX + 1]" -> "key").
fn field_names(body: &str) -> Vec<String> {
    let mut names = Vec::new();
    for decl in body.split(';') {
        for (i, declarator) in decl.split(',').enumerate() {
            let d = declarator.split('[').next().unwrap().trim();
            if d.is_empty() {
                continue;
            }
            let ident: String = d
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if !ident.is_empty() && (i > 0 || d.len() > ident.len()) {
                names.push(ident);
            }
        }
    }
    names
}

fn probe_layout(header: &Path, include_dirs: &[PathBuf], out: &Path) -> Result<String, String> {
    let text = fs::read_to_string(header).map_err(|e| format!("{}: {e}", header.display()))?;
    let mut c = String::from(
        "#include <errno.h>\n#include <stddef.h>\n#include <stdio.h>\n#include \"dockmux.h\"\n\
         int main(void)\n{\n\tprintf(\"pub const C_LAYOUT: Result<&[CStruct], &str> = Ok(&[\\n\");\n",
    );
    for name in STRUCTS {
        let body = struct_body(&text, name)
            .ok_or_else(|| format!("struct {name} not found in {}", header.display()))?;
        let _ = writeln!(
            c,
            "\tprintf(\"    CStruct {{ name: \\\"{name}\\\", size: %zu, align: %zu, fields: &[\\n\", \
             sizeof(struct {name}), _Alignof(struct {name}));"
        );
        for field in field_names(&body) {
            let _ = writeln!(
                c,
                "\tprintf(\"        (\\\"{field}\\\", %zu),\\n\", offsetof(struct {name}, {field}));"
            );
        }
        c.push_str("\tprintf(\"    ] },\\n\");\n");
    }
    c.push_str("\tprintf(\"]);\\npub const C_CONSTS: &[(&str, i64)] = &[\\n\");\n");
    for name in CONSTS {
        let _ = writeln!(
            c,
            "\tprintf(\"    (\\\"{name}\\\", %lld),\\n\", (long long)({name}));"
        );
    }
    c.push_str("\tprintf(\"];\\n\");\n\treturn 0;\n}\n");

    let src = out.join("layout_probe.c");
    let exe = out.join("layout_probe");
    fs::write(&src, c).map_err(|e| e.to_string())?;
    let cc = env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let mut cmd = Command::new(&cc);
    for dir in include_dirs {
        cmd.arg("-I").arg(dir);
    }
    let status = cmd
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .output()
        .map_err(|e| format!("cannot run `{cc}`: {e}"))?;
    if !status.status.success() {
        return Err(format!(
            "`{cc}` failed on {}: {}",
            src.display(),
            String::from_utf8_lossy(&status.stderr).trim()
        ));
    }
    let run = Command::new(&exe)
        .output()
        .map_err(|e| format!("cannot run the probe: {e}"))?;
    if !run.status.success() {
        return Err("the layout probe failed".to_string());
    }
    String::from_utf8(run.stdout).map_err(|e| e.to_string())
}
