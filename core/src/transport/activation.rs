//! systemd socket activation: we create a listening Unix socket in a
//! private temporary directory, start the server with that socket as file
//! descriptor 3 and `LISTEN_PID`, `LISTEN_FDS=1` (and `LISTEN_FDNAMES`
//! when a name was set) in its environment, then connect to the socket.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use socket2::{Domain, SockAddr, Socket, Type};

use super::Subprocess;
use crate::{Error, Result};

/// The private directory holding the listening socket; removed on drop.
#[derive(Debug)]
pub(crate) struct ActivationDir {
    dir: PathBuf,
    sock: PathBuf,
}

impl Drop for ActivationDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.sock);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// The file descriptor systemd passes the first socket as.
const FIRST_LISTEN_FD: libc::c_int = 3;

/// Start `argv` as a socket-activated server. Returns the address to
/// connect to, the child and the temporary directory (keep it until the
/// handle closes).
pub(crate) fn spawn_socket_activation(
    argv: &[&str],
    socket_name: &str,
) -> Result<(SockAddr, Subprocess, ActivationDir)> {
    let (program, _) = argv
        .split_first()
        .ok_or_else(|| Error::new(libc::EINVAL, "missing command name in argv list"))?;
    let exe = find_program(program)?;
    let dir = make_temp_dir()?;
    let sock_path = dir.join("sock");
    let guard = ActivationDir {
        dir,
        sock: sock_path.clone(),
    };
    let addr = SockAddr::unix(&sock_path).map_err(|e| Error::from_io(&e, "socket name"))?;

    let listener =
        Socket::new(Domain::UNIX, Type::STREAM, None).map_err(|e| Error::from_io(&e, "socket"))?;
    listener
        .bind(&addr)
        .map_err(|e| Error::from_io(&e, format_args!("bind: {}", sock_path.display())))?;
    listener
        .listen(libc::SOMAXCONN)
        .map_err(|e| Error::from_io(&e, "listen"))?;

    let exec = ExecPlan::new(&exe, argv, socket_name, listener.as_raw_fd())?;
    let mut exec = Some(exec);
    let mut cmd = Command::new(&exe);
    cmd.args(&argv[1..])
        .stdin(super::server_stdio(0))
        .stdout(super::server_stdio(1))
        .stderr(super::server_stdio(2));
    // SAFETY: the closure only calls async-signal-safe functions (dup2,
    // fcntl, getpid, execve) on memory prepared before the fork.
    unsafe {
        cmd.pre_exec(move || match exec.as_mut() {
            Some(plan) => Err(plan.exec_in_child()),
            None => Err(std::io::Error::from_raw_os_error(libc::EINVAL)),
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| Error::from_io(&e, format_args!("exec: {program}")))?;
    // The child has its copy of the listening socket; ours closes here.
    drop(listener);
    Ok((addr, Subprocess::new(child), guard))
}

/// Everything the child needs for execve, built before fork so the child
/// allocates nothing.
struct ExecPlan {
    exe: CString,
    args: Vec<CString>,
    env: Vec<CString>,
    /// "LISTEN_PID=" followed by room for the digits and a NUL.
    listen_pid: Vec<u8>,
    /// Pointer tables filled in the child (as integers so the plan is Send).
    argv_ptrs: Vec<usize>,
    envp_ptrs: Vec<usize>,
    listen_fd: libc::c_int,
}

const LISTEN_PID_PREFIX: &[u8] = b"LISTEN_PID=";

impl ExecPlan {
    fn new(
        exe: &Path,
        argv: &[&str],
        socket_name: &str,
        listen_fd: libc::c_int,
    ) -> Result<ExecPlan> {
        let nul = |what: &str| Error::new(libc::EINVAL, format!("{what} contains a NUL byte"));
        let exe = CString::new(exe.as_os_str().as_bytes()).map_err(|_| nul("command path"))?;
        let args = argv
            .iter()
            .map(|a| CString::new(*a).map_err(|_| nul("argument")))
            .collect::<Result<Vec<_>>>()?;
        let mut env = Vec::new();
        for (k, v) in std::env::vars_os() {
            if matches!(
                k.as_bytes(),
                b"LISTEN_PID" | b"LISTEN_FDS" | b"LISTEN_FDNAMES"
            ) {
                continue;
            }
            let mut kv: OsString = k;
            kv.push("=");
            kv.push(&v);
            if let Ok(c) = CString::new(kv.into_vec()) {
                env.push(c);
            }
        }
        env.push(CString::new("LISTEN_FDS=1").map_err(|_| nul("environment"))?);
        if !socket_name.is_empty() {
            env.push(
                CString::new(format!("LISTEN_FDNAMES={socket_name}"))
                    .map_err(|_| nul("socket name"))?,
            );
        }
        let mut listen_pid = LISTEN_PID_PREFIX.to_vec();
        listen_pid.resize(LISTEN_PID_PREFIX.len() + 24, 0);
        let argv_ptrs = vec![0; args.len() + 1];
        let envp_ptrs = vec![0; env.len() + 2];
        Ok(ExecPlan {
            exe,
            args,
            env,
            listen_pid,
            argv_ptrs,
            envp_ptrs,
            listen_fd,
        })
    }

    /// In the child: put the socket on fd 3, write our pid, exec. Returns
    /// only on failure.
    fn exec_in_child(&mut self) -> std::io::Error {
        // SAFETY (all calls below): async-signal-safe libc calls on valid
        // descriptors and on buffers owned by `self`, which lives until exec.
        unsafe {
            if self.listen_fd == FIRST_LISTEN_FD {
                let flags = libc::fcntl(FIRST_LISTEN_FD, libc::F_GETFD);
                if flags == -1
                    || libc::fcntl(FIRST_LISTEN_FD, libc::F_SETFD, flags & !libc::FD_CLOEXEC) == -1
                {
                    return std::io::Error::last_os_error();
                }
            } else if libc::dup2(self.listen_fd, FIRST_LISTEN_FD) == -1 {
                return std::io::Error::last_os_error();
            }
            write_decimal(
                &mut self.listen_pid[LISTEN_PID_PREFIX.len()..],
                libc::getpid() as u64,
            );
            for (slot, a) in self.argv_ptrs.iter_mut().zip(&self.args) {
                *slot = a.as_ptr() as usize;
            }
            let n = self.args.len();
            self.argv_ptrs[n] = 0;
            for (slot, e) in self.envp_ptrs.iter_mut().zip(&self.env) {
                *slot = e.as_ptr() as usize;
            }
            let m = self.env.len();
            self.envp_ptrs[m] = self.listen_pid.as_ptr() as usize;
            self.envp_ptrs[m + 1] = 0;
            libc::execve(
                self.exe.as_ptr(),
                self.argv_ptrs.as_ptr() as *const *const libc::c_char,
                self.envp_ptrs.as_ptr() as *const *const libc::c_char,
            );
        }
        std::io::Error::last_os_error()
    }
}

/// Write `n` in decimal followed by a NUL into `buf` without allocating.
fn write_decimal(buf: &mut [u8], mut n: u64) {
    let mut digits = [0u8; 20];
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if buf.len() < len + 1 {
        return;
    }
    for i in 0..len {
        buf[i] = digits[len - 1 - i];
    }
    buf[len] = 0;
}

/// Find `program` as execvp(3) would: a name with a slash is used as is,
/// otherwise each directory of PATH is searched.
fn find_program(program: &str) -> Result<PathBuf> {
    if program.is_empty() {
        return Err(Error::new(libc::EINVAL, "empty command name in argv list"));
    }
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    let path =
        std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(program);
        let Ok(c) = CString::new(candidate.as_os_str().as_bytes()) else {
            continue;
        };
        // SAFETY: access(2) on a valid C string.
        if unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0 && candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(Error::new(
        libc::ENOENT,
        format!("{program}: command not found in PATH"),
    ))
}

/// A fresh private directory under $TMPDIR (or /tmp).
fn make_temp_dir() -> Result<PathBuf> {
    let base = std::env::temp_dir();
    let mut template = base.join("libnbdXXXXXX").into_os_string().into_vec();
    template.push(0);
    // SAFETY: mkdtemp rewrites the XXXXXX of a NUL-terminated buffer.
    let p = unsafe { libc::mkdtemp(template.as_mut_ptr() as *mut libc::c_char) };
    if p.is_null() {
        return Err(Error::from_io(&std::io::Error::last_os_error(), "mkdtemp"));
    }
    template.pop();
    Ok(PathBuf::from(OsStr::from_bytes(&template)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn decimal() {
        let mut b = [0xffu8; 8];
        write_decimal(&mut b, 4071);
        assert_eq!(&b[..5], b"4071\0");
        write_decimal(&mut b, 0);
        assert_eq!(&b[..2], b"0\0");
    }

    #[test]
    fn child_sees_the_socket_and_environment() {
        let out = std::env::temp_dir().join(format!("act-test-{}", std::process::id()));
        let script = format!(
            "test -S /proc/self/fd/3 || exit 1; echo \"$LISTEN_PID=$$ $LISTEN_FDS $LISTEN_FDNAMES\" > {}",
            out.display()
        );
        let (addr, mut child, dir) =
            spawn_socket_activation(&["sh", "-c", &script], "myname").unwrap();
        assert!(addr.as_pathname().unwrap().exists());
        // Wait for the child to finish writing.
        for _ in 0..200 {
            if std::fs::read_to_string(&out)
                .map(|s| s.ends_with('\n'))
                .unwrap_or(false)
            {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let mut text = String::new();
        std::fs::File::open(&out)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        let _ = std::fs::remove_file(&out);
        let mut parts = text.split_whitespace();
        let (pids, fds, name) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let (a, b) = pids.split_once('=').unwrap();
        assert_eq!(a, b, "LISTEN_PID must be the child's own pid");
        assert_eq!(fds, "1");
        assert_eq!(name, "myname");
        let _ = child.kill(libc::SIGKILL);
        let sock = addr.as_pathname().unwrap().to_path_buf();
        drop(dir);
        assert!(!sock.exists());
    }

    #[test]
    fn unknown_program() {
        let e = spawn_socket_activation(&["no-such-program-xyz"], "").unwrap_err();
        assert_eq!(e.errno(), libc::ENOENT);
    }
}
