//! What every step of `cargo xtask test` (and the other commands that run
//! programs) is built from: a step is a function from its log file to an
//! [`Outcome`]; the helpers run commands with their output in that log.
//! The steps live in their own modules (python.rs, node.rs, ...) and use
//! only this module; test.rs lists them and runs them.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::root;

/// The outcome of one step: how many tests passed and failed in it.
pub(crate) struct Outcome {
    pub(crate) passed: u64,
    pub(crate) failed: u64,
}

/// What a step returns: its counts, or why it could not run at all.
pub(crate) type StepResult = Result<Outcome, String>;

/// A step's counts.
pub(crate) fn outcome(passed: u64, failed: u64) -> StepResult {
    Ok(Outcome { passed, failed })
}

/// `cargo ARGS` in the repository root (the cargo running xtask).
pub(crate) fn cmd_cargo(args: &[&str]) -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.args(args).current_dir(root());
    c
}

/// Append a line to `log` (a log that cannot be written loses the line).
pub(crate) fn append_log(log: &Path, text: &str) {
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        let _ = writeln!(f, "{text}");
    }
}

/// Run a command with its output appended to `log`; true when it succeeded.
pub(crate) fn run_logged(cmd: Command, log: &Path) -> Result<bool, String> {
    Ok(run_status(cmd, log)? == Some(0))
}

/// Like `run_logged`, returning the exit code (None when killed).
pub(crate) fn run_status(mut cmd: Command, log: &Path) -> Result<Option<i32>, String> {
    append_log(log, &format!("$ {cmd:?}"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .status()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    Ok(status.code())
}

/// A step that is one test: the command succeeds or not.
pub(crate) fn single(cmd: Command, log: &Path) -> StepResult {
    if run_logged(cmd, log)? {
        outcome(1, 0)
    } else {
        outcome(0, 1)
    }
}
