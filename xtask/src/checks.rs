//! Checks on generated files that are not cargo tests: the C header
//! compiles as C and C++ and agrees with the Rust exports (cbindgen), and
//! every man page lints and renders.

use std::path::Path;
use std::process::Command;

use crate::root;
use crate::step::{outcome, run_logged, StepResult};

/// A small program that includes the header and uses its macros.
const HEADER_PROBE: &str = r#"
#include <libnbd.h>
#include <stddef.h>

int
main (void)
{
  nbd_completion_callback cb = NBD_NULL_COMPLETION;
  int (*pread) (struct nbd_handle *, void *, size_t, uint64_t, uint32_t) = nbd_pread;
  (void) cb;
  (void) pread;
#if !defined(LIBNBD_HAVE_NBD_PREAD) || !defined(LIBNBD_HAVE_NBD_BLOCK_STATUS_64)
#error missing LIBNBD_HAVE macros
#endif
  return LIBNBD_CMD_FLAG_FUA == 1 && LIBNBD_TLS_REQUIRE == 2 ? 0 : 1;
}
"#;

pub fn header(log: &Path) -> StepResult {
    let dir = root().join("target/header-check");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let c = dir.join("probe.c");
    let cpp = dir.join("probe.cpp");
    std::fs::write(&c, HEADER_PROBE).map_err(|e| e.to_string())?;
    // C++ has no compound literals in ISO mode: leave NBD_NULL_* out there.
    std::fs::write(&cpp, HEADER_PROBE.replace("NBD_NULL_COMPLETION", "{}"))
        .map_err(|e| e.to_string())?;
    let include = root().join("bindings/c/include");
    let mut passed = 0;
    let mut failed = 0;
    let compilers: [(&str, &[&str], &Path); 2] = [
        (
            "cc",
            &[
                "-std=c99",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-pedantic",
                "-fsyntax-only",
            ],
            &c,
        ),
        (
            "g++",
            &["-Wall", "-Wextra", "-Werror", "-fsyntax-only"],
            &cpp,
        ),
    ];
    for (cc, flags, src) in compilers {
        let mut cmd = Command::new(cc);
        cmd.args(flags).arg("-I").arg(&include).arg(src);
        if run_logged(cmd, log)? {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    // The header against the Rust exports as cbindgen reads them.
    match crate::cbindgen_check::check(&dir.join("cbindgen")) {
        Ok(()) => passed += 1,
        Err(e) => {
            std::fs::write(log.with_extension("cbindgen.log"), e.as_bytes()).ok();
            failed += 1;
        }
    }
    outcome(passed, failed)
}

pub fn man_pages(log: &Path) -> StepResult {
    let dir = root().join("docs/man");
    let mut pages: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "3" || x == "1"))
        .collect();
    pages.sort();
    let names: Vec<String> = pages
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    let (mut passed, mut failed) = (0, 0);
    let mut report = String::new();
    for page in &pages {
        let mut problems = Vec::new();
        // mandoc: nothing above style level.
        match Command::new("mandoc")
            .args(["-Tlint", "-Wwarning"])
            .arg(page)
            .output()
        {
            Ok(o) => {
                let text = String::from_utf8_lossy(&o.stdout).to_string()
                    + &String::from_utf8_lossy(&o.stderr);
                if !o.status.success() || !text.trim().is_empty() {
                    problems.push(format!("mandoc -Tlint: {}", text.trim()));
                }
            }
            Err(e) => problems.push(format!("cannot run mandoc: {e}")),
        }
        // man renders it.
        match Command::new("man")
            .args(["-l", "-P", "cat"])
            .arg(page)
            .env("MANWIDTH", "80")
            .output()
        {
            Ok(o) if o.status.success() && !o.stdout.is_empty() => {}
            Ok(o) => problems.push(format!(
                "man -l failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => problems.push(format!("cannot run man: {e}")),
        }
        // Every SEE ALSO target among our pages exists.
        let text = std::fs::read_to_string(page).unwrap_or_default();
        if let Some(see) = text.split(".SH SEE ALSO").nth(1) {
            for target in see.split("\\fB").skip(1) {
                let Some((name, rest)) = target.split_once("\\fR") else {
                    continue;
                };
                let ours = name.starts_with("nbd_") || name == "libnbd";
                if ours && rest.starts_with("(3)") && !names.iter().any(|n| n == name) {
                    problems.push(format!("SEE ALSO {name}(3) has no page"));
                }
            }
        }
        if problems.is_empty() {
            passed += 1;
        } else {
            failed += 1;
            report.push_str(&format!(
                "{}:\n  {}\n",
                page.display(),
                problems.join("\n  ")
            ));
        }
    }
    std::fs::write(log, &report).map_err(|e| e.to_string())?;
    outcome(passed, failed)
}
