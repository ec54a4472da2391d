//! The NBD servers the bench talks to, each on a Unix socket, started and
//! stopped by the bench itself.

use std::fs::File;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ServerKind {
    NbdkitMemory,
    NbdkitNull,
    QemuNbd,
    NbdServer,
}

pub const ALL: &[ServerKind] = &[
    ServerKind::NbdkitMemory,
    ServerKind::NbdkitNull,
    ServerKind::QemuNbd,
    ServerKind::NbdServer,
];

impl ServerKind {
    pub fn key(self) -> &'static str {
        match self {
            ServerKind::NbdkitMemory => "nbdkit-memory",
            ServerKind::NbdkitNull => "nbdkit-null",
            ServerKind::QemuNbd => "qemu-nbd",
            ServerKind::NbdServer => "nbd-server",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            ServerKind::NbdkitMemory => "nbdkit memory",
            ServerKind::NbdkitNull => "nbdkit null",
            ServerKind::QemuNbd => "qemu-nbd raw /dev/shm",
            ServerKind::NbdServer => "nbd-server /dev/shm",
        }
    }

    /// Whether the export keeps data, so reads should meet written blocks.
    pub fn stores_data(self) -> bool {
        !matches!(self, ServerKind::NbdkitNull)
    }

    pub fn program(self) -> &'static str {
        match self {
            ServerKind::NbdkitMemory | ServerKind::NbdkitNull => "nbdkit",
            ServerKind::QemuNbd => "qemu-nbd",
            ServerKind::NbdServer => "nbd-server",
        }
    }
}

/// A running server; dropping it stops the server and removes its files.
pub struct Server {
    pub uri: String,
    child: Option<Child>,
    /// nbd-server daemonizes; this is the pid it wrote.
    daemon_pid: Option<u32>,
    files: Vec<PathBuf>,
}

/// Start `kind` with a `size`-byte export, sockets and config in `run_dir`,
/// its output in `log`.
pub fn start(kind: ServerKind, run_dir: &Path, size: u64, log: &Path) -> Result<Server, String> {
    let sock = run_dir.join(format!("{}.sock", kind.key()));
    let _ = std::fs::remove_file(&sock);
    let sock_s = sock.to_string_lossy().into_owned();
    let out = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut files = vec![sock.clone()];
    let mut export_name = "";
    let mut daemon_pidfile = None;

    let mut cmd = Command::new(kind.program());
    match kind {
        ServerKind::NbdkitMemory | ServerKind::NbdkitNull => {
            let plugin = if kind == ServerKind::NbdkitMemory {
                "memory"
            } else {
                "null"
            };
            cmd.args([
                "-f",
                "--exit-with-parent",
                "-U",
                &sock_s,
                plugin,
                &size.to_string(),
            ]);
        }
        ServerKind::QemuNbd => {
            let image = shm_file(kind, size)?;
            cmd.args([
                "-k",
                &sock_s,
                "-f",
                "raw",
                "-t",
                "-e",
                "8",
                "--cache=writeback",
            ])
            .arg(&image);
            files.push(image);
        }
        ServerKind::NbdServer => {
            let image = shm_file(kind, size)?;
            let conf = run_dir.join("nbd-server.conf");
            let pidfile = run_dir.join("nbd-server.pid");
            let _ = std::fs::remove_file(&pidfile);
            let text = format!(
                "[generic]\n    unixsock = {sock_s}\n[bench]\n    exportname = {}\n",
                image.display()
            );
            std::fs::write(&conf, text).map_err(|e| format!("{}: {e}", conf.display()))?;
            cmd.arg("-C").arg(&conf).arg("-p").arg(&pidfile);
            files.extend([image, conf, pidfile.clone()]);
            export_name = "bench";
            daemon_pidfile = Some(pidfile);
        }
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", kind.program()))?;
    let mut server = Server {
        uri: format!("nbd+unix:///{export_name}?socket={sock_s}"),
        child: Some(child),
        daemon_pid: None,
        files,
    };
    if let Some(pidfile) = daemon_pidfile {
        // The launcher exits once the daemon is up.
        let status = server.child.take().map(|mut c| c.wait());
        if !matches!(status, Some(Ok(s)) if s.success()) {
            return Err(format!(
                "{} did not start (see {})",
                kind.program(),
                log.display()
            ));
        }
        server.daemon_pid = wait_for(|| {
            std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|t| t.trim().parse().ok())
        });
    }
    if wait_for(|| UnixStream::connect(&sock).ok()).is_none() {
        return Err(format!(
            "{} is not listening on {sock_s} (see {})",
            kind.program(),
            log.display()
        ));
    }
    Ok(server)
}

/// Poll `f` for up to 10 s.
fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// A sparse image file in /dev/shm, so the server's storage is memory.
fn shm_file(kind: ServerKind, size: u64) -> Result<PathBuf, String> {
    let path = PathBuf::from(format!(
        "/dev/shm/nbd-bench-{}-{}.raw",
        std::process::id(),
        kind.key()
    ));
    let f = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.set_len(size)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(pid) = self.daemon_pid.take() {
            // The daemon we started, by the pid it wrote; SIGTERM lets it
            // stop its per-connection children too.
            let _ = Command::new("kill").arg(pid.to_string()).status();
            let _ = wait_for(|| (!Path::new(&format!("/proc/{pid}")).exists()).then_some(()));
        }
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
    }
}
