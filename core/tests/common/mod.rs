//! Helpers for the integration tests: real NBD servers (nbdkit, qemu-nbd,
//! nbd-server) started on a Unix socket in a private temporary directory
//! or on 127.0.0.1 with a free port, each killed by PID when dropped (and
//! by the kernel if the test thread dies first), and a timeout wrapper so
//! no test can hang.

#![allow(dead_code)]

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[allow(unused_imports)]
pub use nbd::{AioBuffer, CmdFlag, Handle, Strict};

/// Run `f` in its own thread; fail the test if it takes longer than
/// `secs` seconds (or panics).
pub fn with_timeout<F: FnOnce() + Send + 'static>(secs: u64, f: F) {
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(()) => t.join().expect("test thread panicked"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            // The thread ended without sending: it panicked.
            if let Err(p) = t.join() {
                std::panic::resume_unwind(p);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            kill_daemons();
            panic!("test timed out after {secs} s")
        }
    }
}

/// A private temporary directory, removed with its contents on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("nbd-rs-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where a test server listens.
pub enum Listen {
    Unix(PathBuf),
    Tcp(u16),
}

/// A server process, terminated (SIGTERM, then SIGKILL) and reaped on drop.
pub struct Server {
    child: Child,
    pub listen: Listen,
    pub dir: TempDir,
}

impl Server {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The Unix socket path (panics for TCP servers).
    pub fn sock(&self) -> &Path {
        match &self.listen {
            Listen::Unix(p) => p,
            Listen::Tcp(_) => panic!("not a Unix socket server"),
        }
    }

    pub fn port(&self) -> u16 {
        match &self.listen {
            Listen::Tcp(p) => *p,
            Listen::Unix(_) => panic!("not a TCP server"),
        }
    }

    /// An nbd URI for this server and export.
    pub fn uri(&self, export: &str) -> String {
        match &self.listen {
            Listen::Unix(p) => format!("nbd+unix:///{export}?socket={}", p.display()),
            Listen::Tcp(port) => format!("nbd://127.0.0.1:{port}/{export}"),
        }
    }

    /// A handle connected to the default export.
    pub fn connect(&self) -> Handle {
        let h = Handle::new().unwrap();
        self.connect_handle(&h);
        h
    }

    pub fn connect_handle(&self, h: &Handle) {
        match &self.listen {
            Listen::Unix(p) => h.connect_unix(p).expect("connect_unix"),
            Listen::Tcp(port) => h
                .connect_tcp("127.0.0.1", &port.to_string())
                .expect("connect_tcp"),
        }
    }

    /// Kill the server now with `sig` and reap it.
    pub fn kill(&mut self, sig: i32) {
        unsafe { libc::kill(self.pid(), sig) };
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        unsafe { libc::kill(self.pid(), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// A command whose process dies with the thread that started it.
fn command(program: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null());
    if std::env::var_os("NBD_TEST_VERBOSE").is_none() {
        cmd.stderr(Stdio::null()).stdout(Stdio::null());
    }
    // SAFETY: prctl is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd
}

/// A TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_ready(child: &mut Child, listen: &Listen, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = match listen {
            Listen::Unix(p) => std::os::unix::net::UnixStream::connect(p).is_ok(),
            Listen::Tcp(port) => std::net::TcpStream::connect(("127.0.0.1", *port)).is_ok(),
        };
        if ready {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening: {status}");
        }
        assert!(Instant::now() < deadline, "{what} did not start listening");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start(program: &str, args: Vec<String>, listen: Listen, dir: TempDir) -> Server {
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let mut child = command(program, &args)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    wait_ready(&mut child, &listen, program);
    Server { child, listen, dir }
}

/// nbdkit on a Unix socket: `nbdkit_unix(&["memory", "1M"])`. Options
/// before the plugin name (e.g. "-r", "--filter=delay") go first in `args`.
pub fn nbdkit(args: &[&str]) -> Server {
    let dir = TempDir::new();
    let sock = dir.join("nbdkit.sock");
    let mut a = vec![
        "-f".to_string(),
        "--exit-with-parent".into(),
        "-U".into(),
        sock.display().to_string(),
    ];
    a.extend(args.iter().map(|s| s.to_string()));
    start("nbdkit", a, Listen::Unix(sock), dir)
}

/// nbdkit on 127.0.0.1 with a free port.
pub fn nbdkit_tcp(args: &[&str]) -> Server {
    let dir = TempDir::new();
    let port = free_port();
    let mut a = vec![
        "-f".to_string(),
        "--exit-with-parent".into(),
        "-i".into(),
        "127.0.0.1".into(),
        "-p".into(),
        port.to_string(),
    ];
    a.extend(args.iter().map(|s| s.to_string()));
    start("nbdkit", a, Listen::Tcp(port), dir)
}

/// A raw image file of `size` bytes filled with `byte`.
pub fn image(dir: &TempDir, name: &str, size: usize, byte: u8) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, vec![byte; size]).unwrap();
    p
}

/// qemu-nbd serving a raw file on a Unix socket. `extra` goes before the
/// file name (e.g. ["-x", "name", "-r"]).
pub fn qemu_nbd(size: usize, byte: u8, extra: &[&str]) -> Server {
    let dir = TempDir::new();
    let img = image(&dir, "disk.img", size, byte);
    let sock = dir.join("qemu.sock");
    let mut a = vec![
        "-t".to_string(),
        "-e".into(),
        "8".into(),
        "-f".into(),
        "raw".into(),
        "-k".into(),
        sock.display().to_string(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a.push(img.display().to_string());
    start("qemu-nbd", a, Listen::Unix(sock), dir)
}

/// nbd-server on 127.0.0.1 with a config file holding the named exports
/// (name, size, read-only), each a raw file of that size filled with the
/// export's index + 1. nbd-server serves one client in the foreground
/// (-d), so it runs as a daemon with a PID file instead; the PID is killed
/// on drop, or by [`with_timeout`] if the test hangs.
pub fn nbd_server(exports: &[(&str, usize, bool)]) -> NbdServer {
    let dir = TempDir::new();
    let port = free_port();
    let mut conf =
        format!("[generic]\n  port = {port}\n  listenaddr = 127.0.0.1\n  allowlist = true\n");
    for (i, (name, size, ro)) in exports.iter().enumerate() {
        let img = image(&dir, &format!("{name}.img"), *size, i as u8 + 1);
        conf.push_str(&format!(
            "[{name}]\n  exportname = {}\n  readonly = {ro}\n",
            img.display()
        ));
    }
    let conf_path = dir.join("config");
    let pid_path = dir.join("pid");
    std::fs::write(&conf_path, conf).unwrap();
    let status = command(
        "nbd-server",
        &[
            "-C",
            &conf_path.display().to_string(),
            "-p",
            &pid_path.display().to_string(),
        ],
    )
    .status()
    .expect("cannot run nbd-server");
    assert!(status.success(), "nbd-server failed: {status}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let pid = loop {
        if let Some(pid) = std::fs::read_to_string(&pid_path)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "nbd-server wrote no PID file");
        std::thread::sleep(Duration::from_millis(20));
    };
    DAEMONS.lock().unwrap().push(pid);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nbd-server did not start listening"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    NbdServer { pid, port, dir }
}

/// Daemons started by tests, killed if a test times out.
static DAEMONS: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());

fn kill_daemons() {
    for pid in DAEMONS.lock().unwrap().drain(..) {
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
}

/// A daemonized nbd-server.
pub struct NbdServer {
    pub pid: i32,
    pub port: u16,
    pub dir: TempDir,
}

impl NbdServer {
    pub fn uri(&self, export: &str) -> String {
        format!("nbd://127.0.0.1:{}/{export}", self.port)
    }
}

impl Drop for NbdServer {
    fn drop(&mut self) {
        DAEMONS.lock().unwrap().retain(|p| *p != self.pid);
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while unsafe { libc::kill(self.pid, 0) } == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
    }
}

/// Expect an error with this errno.
#[track_caller]
pub fn expect_errno<T: std::fmt::Debug>(r: nbd::Result<T>, errno: i32) -> nbd::Error {
    match r {
        Ok(v) => panic!("expected errno {errno}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.errno(), errno, "wrong errno for: {e}");
            e
        }
    }
}

/// Drive an aio command to completion with nbd_poll.
pub fn wait_cookie(h: &Handle, cookie: u64) -> nbd::Result<bool> {
    loop {
        match h.aio_command_completed(cookie) {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(e) => return Err(e),
        }
        h.poll(-1)?;
    }
}

/// One round of an application's own poll loop: wait up to `timeout_ms`
/// for what the handle's direction asks for, then tell the handle what
/// happened (a hang-up is read, as libnbd's examples do). Returns the
/// poll's revents (0: it timed out).
pub fn drive_once(h: &Handle, timeout_ms: i32) -> i16 {
    let fd = h.aio_get_fd().unwrap();
    let dir = h.aio_get_direction();
    let mut events = 0;
    if dir & 1 != 0 {
        events |= libc::POLLIN;
    }
    if dir & 2 != 0 {
        events |= libc::POLLOUT;
    }
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let r = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    assert!(r >= 0, "poll: {}", std::io::Error::last_os_error());
    if pfd.revents & (libc::POLLIN | libc::POLLHUP) != 0 {
        h.aio_notify_read().unwrap();
    } else if pfd.revents & libc::POLLOUT != 0 {
        h.aio_notify_write().unwrap();
    }
    pfd.revents
}

/// Drive `h` with [`drive_once`] until every one of `cookies` is retired
/// (each counted once: a retired cookie is no longer found). While any is
/// in flight the handle must want to read or write.
pub fn drive_until_retired(h: &Handle, cookies: &[u64]) {
    let mut done = 0;
    while done < cookies.len() {
        assert_ne!(
            h.aio_get_direction(),
            0,
            "nothing to wait for in {}",
            h.connection_state().unwrap()
        );
        assert!(drive_once(h, 10_000) != 0, "stuck");
        done += cookies
            .iter()
            .filter(|&&c| h.aio_command_completed(c).unwrap_or(false))
            .count();
    }
}

/// Start `n` aio reads of `size` bytes each, block `i` at `i * size`,
/// without completion callbacks: the buffers and their cookies.
pub fn aio_pread_blocks(h: &Handle, n: usize, size: usize) -> (Vec<AioBuffer>, Vec<u64>) {
    let bufs: Vec<AioBuffer> = (0..n).map(|_| AioBuffer::new(size)).collect();
    let cookies = bufs
        .iter()
        .enumerate()
        .map(|(i, b)| {
            h.aio_pread(b.clone(), (i * size) as u64, None, None)
                .unwrap()
        })
        .collect();
    (bufs, cookies)
}
