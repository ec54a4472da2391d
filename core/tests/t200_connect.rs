//! 200: every way of connecting, what the handshake negotiated, the URI
//! of a connection, URI policy, and failures to connect.
//!
//! scenarios: 201 202 203 204 205 206 207 209 704 720

mod common;
use common::*;
use nbd::{AllowTransport, HandshakeFlag, SockAddr, Tls};
use std::os::fd::IntoRawFd;

#[test]
fn t200_connect_unix() {
    with_timeout(60, || {
        let srv = nbdkit(&["memory", "1M"]);
        let h = Handle::new().unwrap();
        h.connect_unix(srv.sock()).unwrap();
        assert!(h.aio_is_ready());
        assert_eq!(h.get_size().unwrap(), 1 << 20);
        assert_eq!(h.get_protocol().unwrap(), "newstyle-fixed");
        assert!(!h.is_read_only().unwrap());
        assert!(h.get_structured_replies_negotiated().unwrap());
        assert!(!h.get_tls_negotiated().unwrap());
        assert_eq!(
            h.get_uri().unwrap(),
            format!("nbd+unix:///?socket={}", srv.sock().display())
        );
        assert!(h.aio_get_fd().unwrap() >= 0);
        assert!(h.stats_bytes_sent() > 0 && h.stats_bytes_received() > 0);
        assert!(h.stats_chunks_sent() > 0 && h.stats_chunks_received() > 0);
        h.shutdown(None).unwrap();
        assert!(h.aio_is_closed());
    });
}

#[test]
fn t201_connect_tcp() {
    with_timeout(60, || {
        let srv = nbdkit_tcp(&["memory", "1M"]);
        let port = srv.port().to_string();
        let h = Handle::new().unwrap();
        h.connect_tcp("127.0.0.1", &port).unwrap();
        assert_eq!(h.get_size().unwrap(), 1 << 20);
        assert_eq!(h.get_uri().unwrap(), format!("nbd://127.0.0.1:{port}/"));
        assert_eq!(h.get_tls_hostname().unwrap(), "127.0.0.1");
        // A host name that resolves to several addresses (::1 may refuse).
        let h = Handle::new().unwrap();
        h.connect_tcp("localhost", &port).unwrap();
        assert_eq!(h.get_uri().unwrap(), format!("nbd://localhost:{port}/"));
    });
}

#[test]
fn t202_connect_tcp_ipv6() {
    with_timeout(60, || {
        if std::net::TcpListener::bind("[::1]:0").is_err() {
            eprintln!("no IPv6 loopback here; skipping");
            return;
        }
        let dir = TempDir::new();
        let port = free_port();
        let _keep = dir;
        let srv = {
            // nbdkit_tcp listens on 127.0.0.1; start one on ::1 instead.
            let mut cmd = std::process::Command::new("nbdkit");
            cmd.args([
                "-f",
                "--exit-with-parent",
                "-i",
                "::1",
                "-p",
                &port.to_string(),
                "memory",
                "64K",
            ]);
            cmd.stderr(std::process::Stdio::null());
            KillOnDrop(cmd.spawn().unwrap())
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("::1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let h = Handle::new().unwrap();
        h.connect_tcp("::1", &port.to_string()).unwrap();
        assert_eq!(h.get_size().unwrap(), 65536);
        assert_eq!(h.get_uri().unwrap(), format!("nbd://[::1]:{port}/"));
        let h = Handle::new().unwrap();
        h.connect_uri(&format!("nbd://[::1]:{port}/")).unwrap();
        assert_eq!(h.get_size().unwrap(), 65536);
        drop(srv);
    });
}

struct KillOnDrop(std::process::Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn t203_connect_uri_forms() {
    with_timeout(60, || {
        let srv = nbdkit(&[
            "--filter=exportname",
            "memory",
            "1M",
            "exportname=a b",
            "exportname-strict=true",
        ]);
        let h = Handle::new().unwrap();
        let uri = format!("nbd+unix:///a%20b?socket={}", srv.sock().display());
        h.connect_uri(&uri).unwrap();
        assert_eq!(h.get_export_name().unwrap(), "a b");
        assert_eq!(h.get_uri().unwrap(), uri);
        // A wrong export name is refused by the server (strict).
        let h = Handle::new().unwrap();
        let e = h
            .connect_uri(&format!(
                "nbd+unix:///other?socket={}",
                srv.sock().display()
            ))
            .unwrap_err();
        assert_ne!(e.errno(), 0, "{e}");
        assert!(h.aio_is_dead() || h.aio_is_closed());

        let tcp = nbdkit_tcp(&["memory", "1M"]);
        let h = Handle::new().unwrap();
        h.connect_uri(&format!("nbd://127.0.0.1:{}/", tcp.port()))
            .unwrap();
        assert_eq!(h.get_size().unwrap(), 1 << 20);
        let h = Handle::new().unwrap();
        h.connect_uri(&format!(
            "nbd+unix://alice@/?socket={}",
            srv.sock().display()
        ))
        .ok();
        assert_eq!(h.get_tls_username().unwrap(), "alice");
    });
}

#[test]
fn t204_uri_policy() {
    with_timeout(30, || {
        let h = Handle::new().unwrap();
        h.set_uri_allow_transports(AllowTransport::TCP).unwrap();
        expect_errno(
            h.connect_uri("nbd+unix:///?socket=/nonexistent"),
            libc::EPERM,
        );
        assert!(h.aio_is_created());
        let h = Handle::new().unwrap();
        h.set_uri_allow_tls(Tls::REQUIRE).unwrap();
        expect_errno(h.connect_uri("nbd://localhost/"), libc::EPERM);
        let h = Handle::new().unwrap();
        h.set_uri_allow_tls(Tls::DISABLE).unwrap();
        expect_errno(h.connect_uri("nbds://localhost/"), libc::EPERM);
        // nbds URIs are accepted and require TLS (the connect itself fails
        // here for want of a server).
        let h = Handle::new().unwrap();
        expect_errno(
            h.connect_uri("nbds+unix:///?socket=/nonexistent"),
            libc::ENOENT,
        );
        assert_eq!(h.get_tls(), Tls::REQUIRE);
        let h = Handle::new().unwrap();
        expect_errno(
            h.connect_uri("nbd+unix:///?socket=/nonexistent&tls-psk-file=/k"),
            libc::EPERM,
        );
        let h = Handle::new().unwrap();
        expect_errno(
            h.connect_uri("nbd+unix:///?socket=/nonexistent&tls-certificates=/d"),
            libc::EPERM,
        );
        let h = Handle::new().unwrap();
        expect_errno(h.connect_uri("nbd:foo"), libc::EINVAL);
        expect_errno(h.connect_uri("http://x/"), libc::EINVAL);
        expect_errno(h.connect_uri("nbd+unix:///"), libc::EINVAL);
        assert!(h.aio_is_created());
        // Allowed local files are stored as settings.
        let h = Handle::new().unwrap();
        h.set_uri_allow_local_file(true).unwrap();
        expect_errno(
            h.connect_uri("nbd+unix:///x?socket=/nonexistent&tls-psk-file=/k"),
            libc::ENOENT,
        );
        assert_eq!(h.get_export_name().unwrap(), "x");
        assert!(h.aio_is_dead());
    });
}

#[test]
fn t205_connect_socket() {
    with_timeout(60, || {
        let srv = nbdkit(&["memory", "1M"]);
        let stream = std::os::unix::net::UnixStream::connect(srv.sock()).unwrap();
        let h = Handle::new().unwrap();
        h.connect_socket(stream.into_raw_fd()).unwrap();
        assert_eq!(h.get_size().unwrap(), 1 << 20);
        expect_errno(h.get_uri(), libc::EINVAL);
        expect_errno(Handle::new().unwrap().connect_socket(-1), libc::EBADF);
    });
}

#[test]
fn t206_connect_command() {
    with_timeout(60, || {
        let h = Handle::new().unwrap();
        h.connect_command(&["nbdkit", "-s", "--exit-with-parent", "memory", "1M"])
            .unwrap();
        assert_eq!(h.get_size().unwrap(), 1 << 20);
        let pid = h.get_subprocess_pid().unwrap();
        assert!(pid > 0);
        expect_errno(h.get_uri(), libc::EINVAL);
        let mut buf = vec![1u8; 512];
        h.pread(&mut buf, 0, None).unwrap();
        assert!(buf.iter().all(|&b| b == 0));
        expect_errno(h.kill_subprocess(-1), libc::EINVAL);
        h.kill_subprocess(libc::SIGKILL).unwrap();
        // As in libnbd, the child is reaped only when the handle closes.
        assert_eq!(h.get_subprocess_pid().unwrap(), pid);
        // The server is gone: the next command fails and the handle dies.
        assert!(h.pread(&mut buf, 0, None).is_err());
        assert!(h.aio_is_dead() || h.aio_is_closed());
        // Signalling the dead child may still succeed until it is reaped.
        if let Err(e) = h.kill_subprocess(0) {
            assert_eq!(e.errno(), libc::ESRCH, "{e}");
        }

        let h = Handle::new().unwrap();
        expect_errno(
            h.connect_command(&["/nonexistent/nbd-server-xyz"]),
            libc::ENOENT,
        );
        expect_errno(Handle::new().unwrap().connect_command(&[]), libc::EINVAL);
    });
}

#[test]
fn t207_close_reaps_the_subprocess() {
    with_timeout(60, || {
        let h = Handle::new().unwrap();
        h.connect_command(&["nbdkit", "-s", "memory", "1M"])
            .unwrap();
        let pid = h.get_subprocess_pid().unwrap() as i32;
        drop(h);
        // Reaped: no such process (not even a zombie).
        assert_eq!(unsafe { libc::kill(pid, 0) }, -1);
    });
}

#[test]
fn t208_socket_activation_nbdkit_and_qemu() {
    with_timeout(60, || {
        let h = Handle::new().unwrap();
        h.set_socket_activation_name("nbd").unwrap();
        h.connect_systemd_socket_activation(&["nbdkit", "memory", "2M"])
            .unwrap();
        assert_eq!(h.get_size().unwrap(), 2 << 20);
        let uri = h.get_uri().unwrap();
        assert!(uri.starts_with("nbd+unix:///?socket="), "{uri}");
        let sock = uri.split("socket=").nth(1).unwrap().to_string();
        assert!(std::path::Path::new(&sock).exists());
        assert!(h.get_subprocess_pid().unwrap() > 0);
        drop(h);
        assert!(
            !std::path::Path::new(&sock).exists(),
            "temporary socket left behind"
        );

        let dir = TempDir::new();
        let img = image(&dir, "disk.img", 1 << 20, 0xab);
        let h = Handle::new().unwrap();
        h.connect_systemd_socket_activation(&["qemu-nbd", "-f", "raw", img.to_str().unwrap()])
            .unwrap();
        assert_eq!(h.get_size().unwrap(), 1 << 20);
        let mut buf = vec![0u8; 4096];
        h.pread(&mut buf, 4096, None).unwrap();
        assert!(buf.iter().all(|&b| b == 0xab));
    });
}

#[test]
fn t209_aio_connect_with_poll() {
    with_timeout(60, || {
        let srv = nbdkit(&["memory", "1M"]);
        let h = Handle::new().unwrap();
        h.aio_connect(&SockAddr::unix(srv.sock()).unwrap()).unwrap();
        while h.aio_is_connecting() {
            assert!(h.poll(-1).unwrap() >= 0);
        }
        assert!(h.aio_is_ready());
        assert_eq!(h.get_size().unwrap(), 1 << 20);
        assert_eq!(
            h.get_uri().unwrap(),
            format!("nbd+unix:///?socket={}", srv.sock().display())
        );
    });
}

#[test]
fn t210_aio_connect_tcp_with_notify() {
    with_timeout(60, || {
        let srv = nbdkit_tcp(&["memory", "1M"]);
        let h = Handle::new().unwrap();
        h.aio_connect_tcp("127.0.0.1", &srv.port().to_string())
            .unwrap();
        while h.aio_is_connecting() {
            drive_once(&h, 5000);
        }
        assert!(h.aio_is_ready());
        assert_eq!(h.get_size().unwrap(), 1 << 20);
    });
}

#[test]
fn t211_connection_failures() {
    with_timeout(60, || {
        let h = Handle::new().unwrap();
        expect_errno(
            h.connect_unix(std::path::Path::new("/nonexistent/sock")),
            libc::ENOENT,
        );
        assert!(h.aio_is_dead());
        expect_errno(h.connect_unix(std::path::Path::new("/x")), libc::EINVAL);
        let h = Handle::new().unwrap();
        expect_errno(
            h.connect_tcp("127.0.0.1", &free_port().to_string()),
            libc::ECONNREFUSED,
        );
        let h = Handle::new().unwrap();
        assert!(h.connect_tcp("127.0.0.1", "no-such-service-xyz").is_err());
        assert!(h.aio_is_created());
        let h = Handle::new().unwrap();
        assert!(h.connect_vsock(2, 1).is_err());
        let h = Handle::new().unwrap();
        expect_errno(
            h.connect_unix(std::path::Path::new(&"/x".repeat(100))),
            libc::ENAMETOOLONG,
        );
    });
}

#[test]
fn t212_oldstyle_and_handshake_flags() {
    with_timeout(60, || {
        let srv = nbdkit(&["-o", "memory", "1M"]);
        let h = srv.connect();
        assert_eq!(h.get_protocol().unwrap(), "oldstyle");
        assert_eq!(h.get_size().unwrap(), 1 << 20);
        assert!(!h.get_structured_replies_negotiated().unwrap());
        let mut buf = vec![0u8; 512];
        h.pread(&mut buf, 0, None).unwrap();

        let srv = nbdkit(&["memory", "1M"]);
        let h = Handle::new().unwrap();
        h.set_handshake_flags(HandshakeFlag(0)).unwrap();
        srv.connect_handle(&h);
        assert_eq!(h.get_protocol().unwrap(), "newstyle");
        assert!(!h.get_structured_replies_negotiated().unwrap());
        h.pread(&mut buf, 0, None).unwrap();

        let h = Handle::new().unwrap();
        h.set_request_structured_replies(false).unwrap();
        h.set_request_extended_headers(false).unwrap();
        srv.connect_handle(&h);
        assert!(!h.get_structured_replies_negotiated().unwrap());
        assert!(!h.get_extended_headers_negotiated().unwrap());
        h.pread(&mut buf, 0, None).unwrap();

        let srv = nbdkit(&["--no-sr", "memory", "1M"]);
        let h = srv.connect();
        assert!(!h.get_structured_replies_negotiated().unwrap());
    });
}

#[test]
fn t213_wrong_state_errors() {
    with_timeout(60, || {
        let srv = nbdkit(&["memory", "1M"]);
        let h = srv.connect();
        expect_errno(h.connect_unix(srv.sock()), libc::EINVAL);
        expect_errno(h.set_export_name("x"), libc::EINVAL);
        expect_errno(h.opt_go(), libc::EINVAL);
        h.shutdown(None).unwrap();
        let mut buf = [0u8; 16];
        expect_errno(h.pread(&mut buf, 0, None), libc::EINVAL);
        assert_eq!(h.get_size().unwrap(), 1 << 20);
        expect_errno(h.aio_get_fd(), libc::EINVAL);
    });
}

#[test]
fn t214_aio_connect_uri() {
    with_timeout(60, || {
        let srv = nbdkit(&["memory", "1M"]);
        let h = Handle::new().unwrap();
        h.aio_connect_uri(&srv.uri("")).unwrap();
        while !h.aio_is_ready() {
            assert!(!h.aio_is_dead());
            h.poll(-1).unwrap();
        }
        assert_eq!(h.get_size().unwrap(), 1 << 20);
        let h = Handle::new().unwrap();
        assert!(h.connect_uri("nbd+vsock:///").is_err());
    });
}
