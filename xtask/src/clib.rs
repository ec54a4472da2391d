//! `cargo xtask build-c` and `cargo xtask install --prefix DIR`: the C
//! library as libnbd ships it.
//!
//! rustc cannot give a cdylib our symbol versions (its own version script
//! wins, see shared/reference/toolchain.md section 4), so cargo builds the
//! staticlib and gcc links it into libnbd.so.0 with `libnbd.map`. Then the
//! exported symbols are compared with the map, node by node; cbindgen's
//! reading of the Rust exports is compiled with -Werror together with the
//! generated header (`cbindgen_check`); and a small program loads the new
//! library: a header that disagrees with the exports, or a missing symbol,
//! fails the build.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::root;
use crate::step::cmd_cargo;

/// What `build-c` produced, under target/c-lib.
pub struct Built {
    pub dir: PathBuf,
    /// libnbd's version the library claims (nbd_get_version), for libnbd.pc.
    pub version: String,
}

const USAGE_INSTALL: &str = "install takes --prefix DIR";

pub fn run_build(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err("build-c takes no arguments".into());
    }
    let built = build()?;
    println!(
        "built {} (libnbd {})",
        built.dir.join("libnbd.so.0").display(),
        built.version
    );
    Ok(())
}

pub fn run_install(args: &[String]) -> Result<(), String> {
    let prefix = match args {
        [flag, dir] if flag == "--prefix" => PathBuf::from(dir),
        [arg] if arg.starts_with("--prefix=") => PathBuf::from(&arg["--prefix=".len()..]),
        _ => return Err(USAGE_INSTALL.into()),
    };
    let prefix = if prefix.is_absolute() {
        prefix
    } else {
        std::env::current_dir()
            .map_err(|e| e.to_string())?
            .join(prefix)
    };
    let built = build()?;
    install(&built, &prefix)?;
    println!("installed into {}", prefix.display());
    Ok(())
}

/// Run a command with its output shown; an error when it fails.
pub(crate) fn run_checked(mut cmd: Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed ({status})"))
    }
}

fn output(mut cmd: Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Build the staticlib (release: the C tests read gigabytes), link
/// libnbd.so.0, check it, and put libnbd.a beside it.
pub fn build() -> Result<Built, String> {
    let root = root();
    run_checked(cmd_cargo(&["build", "--release", "-p", "nbd-c"]))?;
    let staticlib = root.join("target/release/libnbd_c.a");
    let dir = root.join("target/c-lib");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let so = dir.join("libnbd.so.0");
    let map = root.join("bindings/c/libnbd.map");

    let mut gcc = Command::new("gcc");
    gcc.arg("-shared")
        .arg("-o")
        .arg(&so)
        .arg("-Wl,-soname,libnbd.so.0")
        .arg(format!("-Wl,--version-script={}", map.display()))
        // Every name in the map must exist: a call missing from the
        // exports is a link error, not a silently absent symbol.
        .arg("-Wl,--no-undefined-version")
        .arg("-Wl,--whole-archive")
        .arg(&staticlib)
        .arg("-Wl,--no-whole-archive")
        .args([
            "-Wl,--gc-sections",
            "-Wl,-z,defs",
            // TLS (core/src/tls) is OpenSSL.
            "-lssl",
            "-lcrypto",
            "-lpthread",
            "-ldl",
            "-lm",
            "-lgcc_s",
            "-lc",
        ]);
    run_checked(gcc)?;
    let link = dir.join("libnbd.so");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("libnbd.so.0", &link)
        .map_err(|e| format!("{}: {e}", link.display()))?;
    std::fs::copy(&staticlib, dir.join("libnbd.a")).map_err(|e| format!("libnbd.a: {e}"))?;

    check_versions(&so, &map)?;
    crate::cbindgen_check::check(&dir.join("cbindgen"))?;
    let version = check_loads(&dir)?;
    Ok(Built { dir, version })
}

/// Every symbol of the map is exported in its node, and nothing else is.
fn check_versions(so: &Path, map: &Path) -> Result<(), String> {
    let want =
        parse_map(&std::fs::read_to_string(map).map_err(|e| format!("{}: {e}", map.display()))?);
    let mut readelf = Command::new("readelf");
    readelf.args(["--dyn-syms", "-W"]).arg(so);
    let mut have = BTreeMap::new();
    for line in output(readelf)?.lines() {
        // "  12: 0000000000012340   123 FUNC    GLOBAL DEFAULT   12 nbd_pread@@LIBNBD_1.0"
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 8 || cols[6] == "UND" {
            continue;
        }
        if let Some((name, node)) = cols[7].split_once("@@") {
            if node.starts_with("LIBNBD_") && name != node {
                have.insert(name.to_string(), node.to_string());
            }
        } else if cols[4] == "GLOBAL" && cols[3] == "FUNC" {
            return Err(format!(
                "{} exports {} without a version",
                so.display(),
                cols[7]
            ));
        }
    }
    if have != want {
        let missing: Vec<_> = want
            .iter()
            .filter(|(k, v)| have.get(*k) != Some(*v))
            .collect();
        let extra: Vec<_> = have
            .iter()
            .filter(|(k, _)| !want.contains_key(*k))
            .collect();
        return Err(format!("symbol versions differ from libnbd.map: missing or misplaced {missing:?}, extra {extra:?}"));
    }
    println!(
        "{}: {} symbols in their libnbd version nodes",
        so.display(),
        have.len()
    );
    Ok(())
}

/// `{ symbol: node }` from a version script written by the generator.
fn parse_map(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut node = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(n) = line.strip_suffix('{').map(str::trim) {
            node = n.to_string();
        } else if let Some(sym) = line.strip_suffix(';') {
            if sym.starts_with("nbd_") {
                out.insert(sym.to_string(), node.clone());
            }
        }
    }
    out
}

/// The library loads and works: a small program built against the
/// header creates a handle and prints the libnbd version it reports
/// (returned, for libnbd.pc). Prototypes and callback structs are checked
/// at compile time by `cbindgen_check`, and every symbol's version node by
/// `check_versions`.
fn check_loads(dir: &Path) -> Result<String, String> {
    let root = root();
    let src = dir.join("check-loads.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\n#include <libnbd.h>\n\
         int main (void) {\n\
           struct nbd_handle *h = nbd_create ();\n\
           if (h == NULL) { fprintf (stderr, \"nbd_create: %s\\n\", nbd_get_error ()); return 1; }\n\
           printf (\"%s\\n\", nbd_get_version (h));\n\
           nbd_close (h);\n\
           return 0;\n\
         }\n",
    )
    .map_err(|e| format!("{}: {e}", src.display()))?;
    let exe = dir.join("check-loads");
    let mut cc = Command::new("cc");
    cc.args(["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe)
        .arg(&src)
        .arg("-I")
        .arg(root.join("bindings/c/include"))
        .arg("-L")
        .arg(dir)
        .arg("-lnbd");
    run_checked(cc)?;
    let mut check = Command::new(&exe);
    check.env("LD_LIBRARY_PATH", dir).env_remove("LIBNBD_DEBUG");
    let out = output(check)?;
    out.lines()
        .last()
        .map(str::to_string)
        .ok_or_else(|| "check-loads printed nothing".into())
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    // Replace rather than overwrite: a running program may map the old file.
    let _ = std::fs::remove_file(to);
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("{} -> {}: {e}", from.display(), to.display()))
}

fn install(built: &Built, prefix: &Path) -> Result<(), String> {
    let root = root();
    let lib = prefix.join("lib");
    copy(&built.dir.join("libnbd.so.0"), &lib.join("libnbd.so.0"))?;
    copy(&built.dir.join("libnbd.a"), &lib.join("libnbd.a"))?;
    let link = lib.join("libnbd.so");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("libnbd.so.0", &link)
        .map_err(|e| format!("{}: {e}", link.display()))?;
    copy(
        &root.join("bindings/c/include/libnbd.h"),
        &prefix.join("include/libnbd.h"),
    )?;
    let pc = lib.join("pkgconfig/libnbd.pc");
    std::fs::create_dir_all(lib.join("pkgconfig")).map_err(|e| e.to_string())?;
    std::fs::write(&pc, pkg_config(prefix, &built.version))
        .map_err(|e| format!("{}: {e}", pc.display()))?;
    let man = root.join("docs/man");
    let mut pages = 0;
    for entry in std::fs::read_dir(&man)
        .map_err(|e| format!("{}: {e}", man.display()))?
        .flatten()
    {
        let path = entry.path();
        // Section 3 (the calls, libnbd.3) and section 1 (nbdsh.1).
        for section in ["3", "1"] {
            if path.extension().is_some_and(|x| x == section) {
                copy(
                    &path,
                    &prefix
                        .join(format!("share/man/man{section}"))
                        .join(entry.file_name()),
                )?;
                pages += 1;
            }
        }
    }
    println!("installed libnbd.so.0, libnbd.a, libnbd.h, libnbd.pc and {pages} man pages");
    Ok(())
}

/// libnbd.pc as upstream writes it; the static link needs the system
/// libraries the Rust standard library uses.
fn pkg_config(prefix: &Path, version: &str) -> String {
    format!(
        "prefix={}\n\
         exec_prefix=${{prefix}}\n\
         libdir=${{exec_prefix}}/lib\n\
         includedir=${{prefix}}/include\n\
         \n\
         Name: libnbd\n\
         Version: {version}\n\
         Description: NBD client library in userspace (memory-safe reimplementation)\n\
         Libs: -L${{libdir}} -lnbd\n\
         Libs.private: -lssl -lcrypto -lpthread -ldl -lm -lgcc_s\n\
         Cflags: -I${{includedir}}\n",
        prefix.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_parser_reads_nodes() {
        let m = parse_map("# x\nLIBNBD_1.0 {\n  global:\n    nbd_a;\n  local: *;\n};\nLIBNBD_1.2 {\n  global:\n    nbd_b;\n} LIBNBD_1.0;\n");
        assert_eq!(m.get("nbd_a").map(String::as_str), Some("LIBNBD_1.0"));
        assert_eq!(m.get("nbd_b").map(String::as_str), Some("LIBNBD_1.2"));
        assert_eq!(m.len(), 2);
    }
}
