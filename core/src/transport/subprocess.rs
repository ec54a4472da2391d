//! A server run as a child process (`nbd_connect_command`, and the
//! socket-activation variant), and what happens to it on close.

use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};

use socket2::{Domain, Socket, Type};

use crate::{Error, Result};

/// A child process the handle started. Dropping it ends the child: SIGTERM,
/// then waiting for it so no zombie is left.
#[derive(Debug)]
pub(crate) struct Subprocess {
    child: Option<Child>,
}

impl Subprocess {
    pub(crate) fn new(child: Child) -> Subprocess {
        Subprocess { child: Some(child) }
    }

    /// The child's process ID, while it has not been reaped.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Send `signum` (0 meaning SIGTERM, as libnbd does). The child is
    /// reaped when the handle closes, as in libnbd.
    pub(crate) fn kill(&mut self, signum: i32) -> Result<()> {
        let signum = if signum == 0 { libc::SIGTERM } else { signum };
        if !(1..=64).contains(&signum) {
            return Err(Error::new(
                libc::EINVAL,
                format!("invalid signal number {signum}"),
            ));
        }
        let Some(child) = self.child.as_mut() else {
            return Err(Error::new(libc::ESRCH, "no subprocess exists"));
        };
        let Ok(pid) = libc::pid_t::try_from(child.id()) else {
            return Err(Error::new(libc::ESRCH, "subprocess ID out of range"));
        };
        // A child that already exited and was reaped cannot be signalled
        // (its pid may have been reused).
        if let Ok(Some(_)) = child.try_wait() {
            return Err(Error::new(libc::ESRCH, "the subprocess has already exited"));
        }
        // SAFETY: kill(2) of our own child, not yet reaped (checked just
        // above), so the pid still names it.
        if unsafe { libc::kill(pid, signum) } == -1 {
            return Err(Error::from_io(&std::io::Error::last_os_error(), "kill"));
        }
        Ok(())
    }

    /// Terminate (SIGTERM) and reap the child.
    fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        if let Ok(pid) = libc::pid_t::try_from(child.id()) {
            // SAFETY: kill(2) of our own unreaped child.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            reap(&mut child, pid);
        }
    }
}

/// Wait for a signalled child; one that ignores the signal for longer
/// than a grace period is killed outright, so closing a handle never hangs.
fn reap(child: &mut Child, pid: libc::pid_t) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut pause = std::time::Duration::from_micros(200);
    while std::time::Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(50));
            }
        }
    }
    // SAFETY: kill(2) of our own unreaped child.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let _ = child.wait();
}

impl Drop for Subprocess {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Run `argv` with one end of a socketpair as its stdin and stdout; return
/// our end (non-blocking, close-on-exec) and the child.
pub(crate) fn spawn_command(argv: &[&str]) -> Result<(Socket, Subprocess)> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| Error::new(libc::EINVAL, "missing command name in argv list"))?;
    if program.is_empty() {
        return Err(Error::new(libc::EINVAL, "empty command name in argv list"));
    }
    // Both ends are close-on-exec; the child gets dup2'd copies as 0 and 1.
    let (ours, theirs) = Socket::pair(Domain::UNIX, Type::STREAM, None)
        .map_err(|e| Error::from_io(&e, "socketpair"))?;
    let theirs: OwnedFd = theirs.into();
    let stdin = theirs.try_clone().map_err(|e| Error::from_io(&e, "dup"))?;
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(theirs))
        .stderr(super::server_stdio(2))
        .spawn()
        .map_err(|e| Error::from_io(&e, format_args!("exec: {program}")))?;
    ours.set_nonblocking(true)
        .map_err(|e| Error::from_io(&e, "fcntl: set O_NONBLOCK"))?;
    Ok((ours, Subprocess::new(child)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn child_talks_over_the_socket() {
        let (sock, mut child) =
            spawn_command(&["sh", "-c", "read x; echo got:$x; exec 0<&- 1>&-; sleep 30"]).unwrap();
        sock.set_nonblocking(false).unwrap();
        let mut s: std::net::TcpStream = unsafe {
            use std::os::fd::{FromRawFd, IntoRawFd};
            std::net::TcpStream::from_raw_fd(sock.into_raw_fd())
        };
        s.write_all(b"hello\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert_eq!(out, "got:hello\n");
        assert!(child.pid().is_some());
        child.kill(0).unwrap();
        drop(child);
        // A child that already exited cannot be signalled.
        let (_sock, mut child) = spawn_command(&["true"]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_eq!(child.kill(0).unwrap_err().errno(), libc::ESRCH);
    }

    #[test]
    fn missing_program_is_reported() {
        let e = spawn_command(&["/nonexistent/server"]).unwrap_err();
        assert_eq!(e.errno(), libc::ENOENT);
        assert_eq!(spawn_command(&[]).unwrap_err().errno(), libc::EINVAL);
    }

    #[test]
    fn drop_terminates_the_child() {
        let (_sock, mut child) = spawn_command(&["sleep", "30"]).unwrap();
        assert_eq!(child.kill(-5).unwrap_err().errno(), libc::EINVAL);
        let pid = child.pid().unwrap() as libc::pid_t;
        drop(child);
        // The child was reaped, so kill(pid, 0) fails with ESRCH.
        assert_eq!(unsafe { libc::kill(pid, 0) }, -1);
    }
}
