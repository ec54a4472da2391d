//! `cargo xtask generate [--check]`: render every output from api.yaml,
//! format Rust with rustfmt, and write only files whose text changed.

use std::path::Path;

use generator::Output;

use crate::root;

pub fn run(args: &[String]) -> Result<(), String> {
    let check = match args {
        [] => false,
        [a] if a == "--check" => true,
        _ => return Err(format!("generate takes only --check, not {args:?}")),
    };
    let root = root();
    let api = generator::load(&root.join("api.yaml")).map_err(|e| e.to_string())?;
    let outputs = generator::generate(&api).map_err(|e| e.to_string())?;
    let mut stale = Vec::new();
    let mut written = 0;
    for out in &outputs {
        let text = generator::finish(out).map_err(|e| e.to_string())?;
        let path = root.join(&out.path);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() == Some(text.as_str()) {
            continue;
        }
        if check {
            stale.push(out.path.display().to_string());
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        written += 1;
    }
    let orphans = orphans(&root, &outputs);
    if check {
        if stale.is_empty() && orphans.is_empty() {
            println!(
                "generate --check: {} generated files are up to date",
                outputs.len()
            );
            return Ok(());
        }
        let mut msg = String::new();
        for s in &stale {
            msg.push_str(&format!("stale: {s}\n"));
        }
        for o in &orphans {
            msg.push_str(&format!("no longer generated: {o}\n"));
        }
        msg.push_str("run `cargo xtask generate` and commit the result");
        return Err(msg);
    }
    for o in &orphans {
        let _ = std::fs::remove_file(root.join(o));
    }
    println!(
        "generate: {} files, {written} written, {} removed",
        outputs.len(),
        orphans.len()
    );
    Ok(())
}

/// The folders that hold nothing but generated files.
const GENERATED_DIRS: [&str; 4] = [
    "core/src/generated",
    "bindings/c/src/generated",
    "bindings/c/include",
    "docs/man",
];

/// Generated files that no output produces any more: every file in a
/// generated-only folder, and every file anywhere in the repository (as
/// git lists it) whose first lines carry the do-not-edit stamp, that is
/// not an output. So a generated file left behind in a mixed folder
/// (bindings/python/src, bindings/node, ...) is found too.
fn orphans(root: &Path, outputs: &[Output]) -> Vec<String> {
    let known = |rel: &str| outputs.iter().any(|o| o.path.to_string_lossy() == rel);
    let mut found = Vec::new();
    for d in GENERATED_DIRS {
        let Ok(entries) = std::fs::read_dir(root.join(d)) else {
            continue;
        };
        for e in entries.flatten() {
            let rel = format!("{d}/{}", e.file_name().to_string_lossy());
            if !known(&rel) && e.path().is_file() {
                found.push(rel);
            }
        }
    }
    for rel in tracked_files(root) {
        if known(&rel) || found.contains(&rel) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root.join(&rel)) else {
            continue;
        };
        if text
            .lines()
            .take(3)
            .any(|l| l.contains(generator::DO_NOT_EDIT))
        {
            found.push(rel);
        }
    }
    found.sort();
    found
}

/// The files git tracks (and untracked ones it does not ignore), relative
/// to the root; none when git is missing (a tarball).
fn tracked_files(root: &Path) -> Vec<String> {
    let out = std::process::Command::new("git")
        .args([
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "-z",
        ])
        .current_dir(root)
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .split('\0')
            .filter(|p| !p.is_empty() && root.join(p).is_file())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// Validate a file of call entries (a fragment of the `calls:` list) with
/// the enums, flags and callbacks of api.yaml.
pub fn check_fragment(args: &[String]) -> Result<(), String> {
    #[derive(serde::Deserialize)]
    struct Fragment {
        calls: Vec<generator::model::Call>,
    }
    let [file] = args else {
        return Err("check-fragment takes one file".into());
    };
    let root = root();
    let base = std::fs::read_to_string(root.join("api.yaml")).map_err(|e| e.to_string())?;
    let mut api = generator::parse(&base).map_err(|e| e.to_string())?;
    let frag = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    let frag: Fragment =
        serde_yaml::from_str(&format!("calls:\n{frag}")).map_err(|e| format!("{file}: {e}"))?;
    let names: Vec<String> = frag.calls.iter().map(|c| c.name.clone()).collect();
    api.calls.retain(|c| !names.contains(&c.name));
    api.calls.extend(frag.calls);
    generator::validate::validate(&api).map_err(|errs| {
        errs.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    println!("{file}: {} calls parse and validate", names.len());
    Ok(())
}
