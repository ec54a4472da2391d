//! Project tasks: `cargo xtask <command>`.

mod bench;
mod cbindgen_check;
mod checks;
mod clib;
mod ctests;
mod demo;
mod deps;
mod fuzz;
mod generate;
mod go;
mod node;
mod ocaml;
mod python;
mod scenarios;
mod step;
mod test;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  generate [--check]        write every file generated from api.yaml
                            (--check: change nothing, list stale files, fail if any)
  check-fragment FILE       validate a fragment of call entries against the model
  bench [--quick] [--runs N] [--only W1,W3,...] [--servers nbdkit-memory,...] [--no-syscalls] [--no-install]
                            build in release mode, run the same workloads through libnbd and ours,
                            print medians and ours/libnbd, write target/bench/latest-*.{json,md}
  demo [--uri URI]          build everything and run the same program from every language
  fuzz [--seconds N] [--runs N] [TARGET...]
                            build the fuzz targets of fuzz/ (libFuzzer) and run each
                            (handshake, options, transmission); 60 s each by default
  build-c                   build target/c-lib/libnbd.so.0 (symbol versions checked)
  install --prefix DIR      install libnbd.so.0, libnbd.a, libnbd.h, libnbd.pc, man pages
  test [--no-install] [--only STEP]
                            install what tests need, run every suite, print `N passed, M failed`
";

/// The repository root (the parent of xtask/).
pub fn root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("generate") => generate::run(&args[1..]),
        Some("check-fragment") => generate::check_fragment(&args[1..]),
        Some("test") => test::run(&args[1..]),
        Some("build-c") => clib::run_build(&args[1..]),
        Some("install") => clib::run_install(&args[1..]),
        Some("demo") => demo::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("help") | Some("--help") | Some("-h") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
        None => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("xtask: {msg}");
            ExitCode::FAILURE
        }
    }
}
