//! Installing what the tests and the demo need, on a fresh Debian machine.

use std::process::{Command, Stdio};

/// Debian packages the test suites use.
pub const TEST_PACKAGES: &[&str] = &[
    "nbdkit",
    "qemu-utils",
    "nbd-server",
    "libssl-dev",
    "pkg-config",
    "mandoc",
    "man-db",
    "valgrind",
    "gnutls-bin",
    "libnbd-bin",
    "libnbd-dev",
    "python3-libnbd",
    "ocaml-nox",
    "ocaml-dune",
    "ocaml-findlib",
    "opam",
    "golang-go",
];

fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

/// Install the missing Debian packages with apt-get when running as root;
/// otherwise say which command to run and fail.
pub fn ensure_packages(pkgs: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = pkgs.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let cmd = format!("apt-get install -y {}", missing.join(" "));
    if !is_root() {
        return Err(format!(
            "missing packages; run as root:\n  apt-get update && {cmd}"
        ));
    }
    println!("==> installing {}", missing.join(" "));
    let update = Command::new("apt-get")
        .args(["update", "-q"])
        .stdout(Stdio::null())
        .status();
    if !update.is_ok_and(|s| s.success()) {
        return Err("apt-get update failed".into());
    }
    let status = Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run apt-get: {e}"))?;
    if !status.success() {
        return Err(format!("`{cmd}` failed"));
    }
    Ok(())
}

pub fn ensure_test_deps() -> Result<(), String> {
    ensure_packages(TEST_PACKAGES)
}
