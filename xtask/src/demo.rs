//! `cargo xtask demo [--uri URI]`: build everything, run the same short
//! program from every language against a real NBD server, and print what
//! each one saw side by side.

use std::process::Command;

use serde_json::Value;

use crate::clib::run_checked;
use crate::root;
use crate::step::cmd_cargo;

/// One language's run of the demo.
struct Run {
    language: String,
    result: Result<Value, String>,
}

pub fn run(args: &[String]) -> Result<(), String> {
    let uri = match args {
        [] => None,
        [flag, uri] if flag == "--uri" => Some(uri.clone()),
        _ => return Err("demo takes only --uri URI".into()),
    };
    // The engine links OpenSSL (libssl-dev, found through pkg-config);
    // the default server is nbdkit.
    let mut needed = vec!["libssl-dev", "pkg-config"];
    if uri.is_none() && !have("nbdkit") {
        needed.push("nbdkit");
    }
    crate::deps::ensure_packages(&needed)?;
    step("generating from api.yaml");
    run_checked(cmd_cargo(&["xtask", "generate"]))?;

    let mut runs = Vec::new();
    runs.push(rust(uri.as_deref()));
    if root().join("bindings/c/Cargo.toml").exists() {
        runs.push(c(uri.as_deref()));
    }
    if root().join("bindings/python/pyproject.toml").exists() {
        runs.push(python(uri.as_deref()));
    }
    if root().join("bindings/ocaml/dune-project").exists() {
        runs.push(ocaml(uri.as_deref()));
    }
    if root().join("bindings/node/Cargo.toml").exists() {
        runs.push(node(uri.as_deref()));
    }
    if root().join("bindings/go/go.mod").exists() {
        runs.push(go(uri.as_deref()));
    }
    print_table(&runs);
    if runs.iter().any(|r| r.result.is_err()) {
        return Err("a language's demo failed (see above)".into());
    }
    Ok(())
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn step(what: &str) {
    println!("==> {what}");
}

/// Run a demo program and parse the JSON object it prints.
fn capture(language: &str, mut cmd: Command) -> Run {
    let result = cmd
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))
        .and_then(|o| {
            if !o.status.success() {
                return Err(String::from_utf8_lossy(&o.stderr).trim().to_string());
            }
            let text = String::from_utf8_lossy(&o.stdout);
            serde_json::from_str(text.trim()).map_err(|e| format!("bad output ({e}): {text}"))
        });
    Run {
        language: language.to_string(),
        result,
    }
}

fn with_uri(mut cmd: Command, uri: Option<&str>) -> Command {
    if let Some(u) = uri {
        cmd.arg(u);
    }
    cmd
}

/// One language's run: `prepare` builds its demo program and returns the
/// command running it (the URI, when there is one, is added here); a
/// failure to build is the run's result.
fn demo_run(
    language: &str,
    uri: Option<&str>,
    prepare: impl FnOnce() -> Result<Command, String>,
) -> Run {
    match prepare() {
        Ok(cmd) => capture(language, with_uri(cmd, uri)),
        Err(e) => Run {
            language: language.to_string(),
            result: Err(e),
        },
    }
}

fn rust(uri: Option<&str>) -> Run {
    demo_run("Rust", uri, || {
        step("Rust: building the demo example");
        run_checked(cmd_cargo(&[
            "build",
            "--release",
            "-p",
            "nbd-core",
            "--example",
            "demo",
        ]))?;
        Ok(Command::new(root().join("target/release/examples/demo")))
    })
}

fn c(uri: Option<&str>) -> Run {
    demo_run("C", uri, || {
        step("C: building libnbd.so.0 and installing it under target/demo-install");
        let prefix = root().join("target/demo-install");
        let prefix_s = prefix.to_string_lossy().into_owned();
        run_checked(cmd_cargo(&["xtask", "install", "--prefix", &prefix_s]))?;
        let exe = root().join("target/demo-c");
        let pc = prefix.join("lib/pkgconfig");
        let flags = Command::new("pkg-config")
            .args(["--cflags", "--libs", "libnbd"])
            .env("PKG_CONFIG_PATH", &pc)
            .output();
        let flags = match flags {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
            Ok(o) => {
                return Err(format!(
                    "pkg-config: {}",
                    String::from_utf8_lossy(&o.stderr)
                ))
            }
            Err(e) => return Err(format!("cannot run pkg-config: {e}")),
        };
        let mut cc = Command::new("cc");
        cc.arg("-o")
            .arg(&exe)
            .arg(root().join("tests/demo/demo.c"))
            .args(flags.split_whitespace());
        run_checked(cc)?;
        let mut cmd = Command::new(&exe);
        cmd.env("LD_LIBRARY_PATH", prefix.join("lib"));
        Ok(cmd)
    })
}

fn python(uri: Option<&str>) -> Run {
    demo_run("Python", uri, || {
        step("Python: pip install ./bindings/python into target/demo-venv");
        let venv = root().join("target/demo-venv");
        if !venv.join("bin/python").exists() {
            let mut c = Command::new("python3");
            c.args(["-m", "venv"]).arg(&venv);
            run_checked(c)?;
        }
        let py = venv.join("bin/python");
        let mut pip = Command::new(&py);
        pip.args(["-m", "pip", "install", "-q"])
            .arg(root().join("bindings/python"));
        run_checked(pip)?;
        let mut cmd = Command::new(&py);
        cmd.arg(root().join("tests/demo/demo.py"));
        Ok(cmd)
    })
}

fn node(uri: Option<&str>) -> Run {
    demo_run("Node.js", uri, || {
        step("Node.js: building the addon and npm install ./bindings/node into target/demo-node");
        let log = root().join("target/demo-node.log");
        let _ = std::fs::remove_file(&log);
        crate::node::build_addon(true, &log)?;
        let prefix = root().join("target/demo-node");
        let _ = std::fs::create_dir_all(&prefix);
        let mut npm = Command::new("npm");
        npm.args([
            "install",
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--prefix",
        ])
        .arg(&prefix)
        .arg(crate::node::package_dir());
        run_checked(npm)?;
        let mut cmd = Command::new("node");
        cmd.arg(root().join("tests/demo/demo.js"))
            .env("NBD_NODE_PACKAGE", prefix.join("node_modules/libnbd"));
        Ok(cmd)
    })
}

fn ocaml(uri: Option<&str>) -> Run {
    demo_run("OCaml", uri, || {
        step("OCaml: dune build @install, dune install into target/demo-ocaml, ocamlfind ocamlopt demo.ml");
        crate::deps::ensure_packages(crate::ocaml::PACKAGES)?;
        let log = root().join("target/demo-ocaml.log");
        let _ = std::fs::remove_file(&log);
        let prefix = root().join("target/demo-ocaml");
        crate::ocaml::install(&prefix, "release", &log)
            .map_err(|e| format!("{e} (see {})", log.display()))?;
        match crate::ocaml::compile(&prefix, &root().join("tests/demo/demo.ml"), false, &log)? {
            (cmd, true) => Ok(cmd),
            (_, false) => Err(format!("ocamlfind ocamlopt failed (see {})", log.display())),
        }
    })
}

fn go(uri: Option<&str>) -> Run {
    demo_run("Go", uri, || {
        step("Go: installing libnbd.so.0 into target/c-install, go build tests/demo/go");
        crate::deps::ensure_packages(crate::go::PACKAGES)?;
        let log = root().join("target/demo-go.log");
        let _ = std::fs::remove_file(&log);
        crate::go::install_library(&log).map_err(|e| format!("{e} (see {})", log.display()))?;
        let exe = root().join("target/demo-go");
        let exe_s = exe.to_string_lossy().into_owned();
        let build = crate::go::go(&root().join("tests/demo/go"), &["build", "-o", &exe_s, "."]);
        if !crate::step::run_logged(build, &log)? {
            return Err(format!("go build failed (see {})", log.display()));
        }
        let mut cmd = Command::new(exe);
        cmd.env("LD_LIBRARY_PATH", crate::go::prefix().join("lib"));
        Ok(cmd)
    })
}

/// Rows of the table: a label and how to show each language's value.
fn rows(v: &Value) -> Vec<(String, String)> {
    let mut out = vec![
        ("size".to_string(), v["size"].to_string()),
        (
            "write+read pattern".to_string(),
            v["pattern"].as_str().unwrap_or("?").to_string(),
        ),
    ];
    if let Some(flags) = v["flags"].as_object() {
        for (k, val) in flags {
            out.push((k.clone(), val.to_string()));
        }
    }
    let extents = v["extents"].as_array().map(|a| {
        a.iter()
            .map(|e| format!("{}:{}", e[0], e[1]))
            .collect::<Vec<_>>()
            .join(" ")
    });
    out.push((
        "block status (len:flags)".to_string(),
        extents.unwrap_or_default(),
    ));
    let exports = v["exports"].as_array().map(|a| {
        a.iter()
            .map(|e| format!("{:?}", e.as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join(" ")
    });
    out.push((
        "exports (opt mode)".to_string(),
        exports.unwrap_or_default(),
    ));
    out
}

fn print_table(runs: &[Run]) {
    let columns: Vec<Vec<(String, String)>> = runs
        .iter()
        .map(|r| match &r.result {
            Ok(v) => rows(v),
            Err(_) => Vec::new(),
        })
        .collect();
    let labels: Vec<String> = columns
        .iter()
        .find(|c| !c.is_empty())
        .map(|c| c.iter().map(|(l, _)| l.clone()).collect())
        .unwrap_or_default();
    let label_w = labels.iter().map(|l| l.len()).max().unwrap_or(0).max(8);
    let col_w: Vec<usize> = runs
        .iter()
        .zip(&columns)
        .map(|(r, c)| {
            c.iter()
                .map(|(_, v)| v.len())
                .max()
                .unwrap_or(0)
                .max(r.language.len())
                .max(6)
        })
        .collect();
    println!();
    print!("{:label_w$}", "");
    for (r, w) in runs.iter().zip(&col_w) {
        print!(" | {:w$}", r.language);
    }
    println!();
    println!(
        "{}",
        "-".repeat(label_w + col_w.iter().map(|w| w + 3).sum::<usize>())
    );
    for (i, label) in labels.iter().enumerate() {
        print!("{label:label_w$}");
        for (c, w) in columns.iter().zip(&col_w) {
            let v = c.get(i).map(|(_, v)| v.as_str()).unwrap_or("");
            print!(" | {v:w$}");
        }
        println!();
    }
    for r in runs {
        if let Err(e) = &r.result {
            println!("{}: FAILED: {e}", r.language);
        }
    }
    let ok: Vec<&Value> = runs.iter().filter_map(|r| r.result.as_ref().ok()).collect();
    if ok.len() > 1 {
        let same = ok
            .windows(2)
            .all(|w| strip_language(w[0]) == strip_language(w[1]));
        println!(
            "\n{}",
            if same {
                "Every language saw the same."
            } else {
                "The languages disagree (see above)."
            }
        );
    }
}

fn strip_language(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("language");
    }
    v
}
