//! 700: TLS with X.509 certificates against nbdkit (--tls-certificates,
//! with and without --tls-verify-peer) and qemu-nbd (tls-creds-x509):
//! host name checks, an unknown CA, expired, not yet valid and revoked
//! certificates, client certificates, nbds URIs, and the default
//! certificate directories.
//!
//! scenarios: 753

mod common;
mod tls_fixtures;

use std::path::Path;

use common::*;
use nbd::Tls;
use tls_fixtures::*;

fn x509_handle(certs: &Path) -> Handle {
    let h = Handle::new().unwrap();
    h.set_tls(Tls::REQUIRE).unwrap();
    h.set_tls_certificates(certs).unwrap();
    h
}

fn x509_server_tcp(dir: &Path, extra: &[&str]) -> Server {
    let mut a = vec![format!("--tls-certificates={}", dir.display())];
    a.extend(extra.iter().map(|s| s.to_string()));
    a.extend(["memory".to_string(), "1M".to_string()]);
    let a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
    nbdkit_tls_tcp("require", &a)
}

fn x509_server_unix(dir: &Path, extra: &[&str]) -> Server {
    let mut a = vec![format!("--tls-certificates={}", dir.display())];
    a.extend(extra.iter().map(|s| s.to_string()));
    a.extend(["memory".to_string(), "1M".to_string()]);
    let a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
    nbdkit_tls("require", &a)
}

fn round_trip(h: &Handle) {
    let data = vec![0x3cu8; 100_000];
    h.pwrite(&data, 1000, None).unwrap();
    let mut back = vec![0u8; data.len()];
    h.pread(&mut back, 1000, None).unwrap();
    assert_eq!(back, data);
}

#[test]
fn t711_x509_host_names() {
    with_timeout(60, || {
        let pki = Pki::new();
        let srv = x509_server_tcp(&pki.server_dir(Validity::Valid), &[]);
        let port = srv.port().to_string();
        let client = pki.client_dir(false);
        // The certificate names localhost and 127.0.0.1.
        for host in ["localhost", "127.0.0.1"] {
            let h = x509_handle(&client);
            h.connect_tcp(host, &port).unwrap();
            assert!(h.get_tls_negotiated().unwrap());
            assert_eq!(h.get_tls_hostname().unwrap(), host);
            round_trip(&h);
        }

        // Another name: refused, and the message says so.
        let h = x509_handle(&client);
        h.set_tls_hostname("db.example.com").unwrap();
        let e = expect_errno(h.connect_tcp("127.0.0.1", &port), libc::EACCES);
        assert!(e.message().contains("host name 'db.example.com'"), "{e}");
        assert!(h.aio_is_dead());

        // ... unless the name is not checked.
        let h = x509_handle(&client);
        h.set_tls_hostname("db.example.com").unwrap();
        h.set_tls_verify_peer(false).unwrap();
        h.connect_tcp("127.0.0.1", &port).unwrap();
        assert!(h.get_tls_negotiated().unwrap());

        // Over a Unix socket there is no host name: the chain is checked,
        // and an explicit name is checked too.
        let srv = x509_server_unix(&pki.server_dir(Validity::Valid), &[]);
        let h = x509_handle(&client);
        h.connect_unix(srv.sock()).unwrap();
        assert_eq!(h.get_tls_hostname().unwrap(), "");
        let h = x509_handle(&client);
        h.set_tls_hostname("localhost").unwrap();
        h.connect_unix(srv.sock()).unwrap();
        let h = x509_handle(&client);
        h.set_tls_hostname("elsewhere.example.com").unwrap();
        expect_errno(h.connect_unix(srv.sock()), libc::EACCES);
    });
}

#[test]
fn t712_x509_unknown_ca() {
    with_timeout(60, || {
        let pki = Pki::new();
        let srv = x509_server_tcp(&pki.rogue_server_dir(), &[]);
        let port = srv.port().to_string();
        let h = x509_handle(&pki.client_dir(false));
        let e = expect_errno(h.connect_tcp("localhost", &port), libc::EACCES);
        assert!(e.message().contains("unknown CA"), "{e}");
        assert!(
            e.message()
                .contains("not signed by a trusted certificate authority"),
            "{e}"
        );

        // The system's CAs do not know it either.
        let h = Handle::new().unwrap();
        h.set_tls(Tls::REQUIRE).unwrap();
        h.set_tls_certificates(&pki.dir.join("no-such-dir"))
            .unwrap();
        let e = expect_errno(h.connect_tcp("localhost", &port), libc::EACCES);
        assert!(e.message().contains("unknown CA"), "{e}");

        // Without verification the connection is encrypted but unchecked.
        let h = x509_handle(&pki.client_dir(false));
        h.set_tls_verify_peer(false).unwrap();
        h.connect_tcp("localhost", &port).unwrap();
        assert!(h.get_tls_negotiated().unwrap());
        assert!(!h.get_tls_verify_peer());
        round_trip(&h);
    });
}

#[test]
fn t713_x509_expired_and_not_yet_valid() {
    with_timeout(60, || {
        let pki = Pki::new();
        let client = pki.client_dir(false);
        for (validity, words) in [
            (Validity::Expired, "has expired"),
            (Validity::NotYetValid, "is not yet valid"),
        ] {
            let srv = x509_server_unix(&pki.server_dir(validity), &[]);
            let h = x509_handle(&client);
            let e = expect_errno(h.connect_unix(srv.sock()), libc::EACCES);
            assert!(e.message().contains(words), "{validity:?}: {e}");
            assert!(e.message().starts_with("TLS handshake failed"), "{e}");
        }
    });
}

#[test]
fn t714_x509_revoked() {
    with_timeout(60, || {
        let pki = Pki::new();
        let server_dir = pki.server_dir(Validity::Valid);
        let srv = x509_server_unix(&server_dir, &[]);
        let h = x509_handle(&pki.client_dir_revoking(&server_dir));
        let e = expect_errno(h.connect_unix(srv.sock()), libc::EACCES);
        assert!(e.message().contains("has been revoked"), "{e}");
        // A CRL that revokes nothing changes nothing.
        let h = x509_handle(&pki.client_dir_with_empty_crl());
        h.connect_unix(srv.sock()).unwrap();
        assert!(h.get_tls_negotiated().unwrap());
        // Another server certificate, not revoked, is fine with the CRL.
        let other = x509_server_unix(&pki.server_dir(Validity::Valid), &[]);
        let h = x509_handle(&pki.client_dir_revoking(&server_dir));
        h.connect_unix(other.sock()).unwrap();
    });
}

#[test]
fn t715_x509_client_certificates() {
    with_timeout(60, || {
        let pki = Pki::new();
        let srv = x509_server_tcp(&pki.server_dir(Validity::Valid), &["--tls-verify-peer"]);
        let port = srv.port().to_string();
        let h = x509_handle(&pki.client_dir(true));
        h.connect_tcp("localhost", &port).unwrap();
        assert!(h.get_tls_negotiated().unwrap());
        round_trip(&h);

        let h = x509_handle(&pki.client_dir(false));
        let e = h.connect_tcp("localhost", &port).unwrap_err();
        assert!(e.message().contains("client certificate"), "{e}");
        assert!(h.aio_is_dead());

        // A client key that does not belong to the certificate.
        let dir = pki.client_dir(true);
        let other = pki.client_dir(true);
        std::fs::copy(other.join("client-key.pem"), dir.join("client-key.pem")).unwrap();
        let h = x509_handle(&dir);
        let e = expect_errno(h.connect_tcp("localhost", &port), libc::EINVAL);
        assert!(e.message().contains("does not match"), "{e}");
    });
}

#[test]
fn t716_x509_qemu_nbd() {
    with_timeout(60, || {
        let pki = Pki::new();
        let dir = pki.server_dir(Validity::Valid);
        let srv = qemu_nbd_tls(1 << 20, 0x77, "x509", &dir, "verify-peer=off");
        let h = x509_handle(&pki.client_dir(false));
        h.set_tls_hostname("localhost").unwrap();
        h.connect_unix(srv.sock()).unwrap();
        assert!(h.get_tls_negotiated().unwrap());
        let mut buf = vec![0u8; 1 << 20];
        h.pread(&mut buf, 0, None).unwrap();
        assert!(buf.iter().all(|&b| b == 0x77));
        drop(srv);

        // qemu-nbd checking our certificate.
        let srv = qemu_nbd_tls(1 << 20, 0x78, "x509", &dir, "verify-peer=on");
        let h = x509_handle(&pki.client_dir(true));
        h.connect_unix(srv.sock()).unwrap();
        let mut buf = vec![0u8; 4096];
        h.pread(&mut buf, 0, None).unwrap();
        assert!(buf.iter().all(|&b| b == 0x78));
        let h = x509_handle(&pki.client_dir(false));
        h.connect_unix(srv.sock()).unwrap_err();
    });
}

#[test]
fn t717_x509_uris() {
    with_timeout(60, || {
        let pki = Pki::new();
        let client = pki.client_dir(false);
        let srv = x509_server_tcp(&pki.server_dir(Validity::Valid), &[]);
        let uri = format!(
            "nbds://localhost:{}/?tls-certificates={}",
            srv.port(),
            client.display()
        );
        let h = Handle::new().unwrap();
        expect_errno(h.connect_uri(&uri), libc::EPERM);
        let h = Handle::new().unwrap();
        h.set_uri_allow_local_file(true).unwrap();
        h.connect_uri(&uri).unwrap();
        assert!(h.get_tls_negotiated().unwrap());
        assert_eq!(h.get_tls_hostname().unwrap(), "localhost");
        let got = h.get_uri().unwrap();
        assert_eq!(
            got,
            format!(
                "nbds://localhost:{}/?tls-certificates={}",
                srv.port(),
                client.display()
            )
        );

        // tls-hostname over a Unix socket; a wrong one fails.
        let unix = x509_server_unix(&pki.server_dir(Validity::Valid), &[]);
        let base = format!(
            "nbds+unix:///?socket={}&tls-certificates={}",
            unix.sock().display(),
            client.display()
        );
        let h = Handle::new().unwrap();
        h.set_uri_allow_local_file(true).unwrap();
        h.connect_uri(&format!("{base}&tls-hostname=localhost"))
            .unwrap();
        assert_eq!(h.get_tls_hostname().unwrap(), "localhost");
        assert!(h.get_uri().unwrap().contains("tls-hostname=localhost"));
        let h = Handle::new().unwrap();
        h.set_uri_allow_local_file(true).unwrap();
        let e = expect_errno(
            h.connect_uri(&format!("{base}&tls-hostname=wrong.example.com")),
            libc::EACCES,
        );
        assert!(e.message().contains("wrong.example.com"), "{e}");

        // tls-verify-peer=false lets an unknown CA through.
        let rogue = x509_server_unix(&pki.rogue_server_dir(), &[]);
        let base = format!(
            "nbds+unix:///?socket={}&tls-certificates={}",
            rogue.sock().display(),
            client.display()
        );
        let h = Handle::new().unwrap();
        h.set_uri_allow_local_file(true).unwrap();
        expect_errno(h.connect_uri(&base), libc::EACCES);
        let h = Handle::new().unwrap();
        h.set_uri_allow_local_file(true).unwrap();
        h.connect_uri(&format!("{base}&tls-verify-peer=false"))
            .unwrap();
        assert!(!h.get_tls_verify_peer());
        assert!(h.get_uri().unwrap().contains("tls-verify-peer=false"));
        let h = Handle::new().unwrap();
        h.set_uri_allow_local_file(true).unwrap();
        expect_errno(
            h.connect_uri(&format!("{base}&tls-verify-peer=maybe")),
            libc::EINVAL,
        );
    });
}

/// Run one `#[ignore]`d test of this file in a child process with a
/// different environment (HOME cannot be changed safely in a threaded
/// test process).
fn run_child(test: &str, env: &[(&str, &Path)]) -> bool {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--ignored", "--exact", test, "--test-threads=1"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    // A name that matched nothing would "pass" with 0 tests run.
    let ran = String::from_utf8_lossy(&out.stdout).contains("1 passed");
    if !out.status.success() || !ran {
        eprintln!(
            "child {test} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out.status.success() && ran
}

#[test]
#[ignore = "run by t718 in a child process"]
fn child_connects_with_default_certificates() {
    let sock = std::env::var_os("NBD_TEST_SOCK").unwrap();
    let h = Handle::new().unwrap();
    h.set_tls(Tls::REQUIRE).unwrap();
    let r = h.connect_unix(Path::new(&sock));
    match std::env::var("NBD_TEST_EXPECT").as_deref() {
        Ok("ok") => {
            r.unwrap();
            assert!(h.get_tls_negotiated().unwrap());
        }
        _ => {
            let e = r.unwrap_err();
            assert!(e.message().contains("unknown CA"), "{e}");
        }
    }
}

#[test]
fn t718_default_certificate_directories() {
    with_timeout(120, || {
        if unsafe { libc::geteuid() } == 0 {
            eprintln!("root uses /etc/pki/libnbd; skipping");
            return;
        }
        let pki = Pki::new();
        let srv = x509_server_unix(&pki.server_dir(Validity::Valid), &["--tls-verify-peer"]);
        let sock = srv.sock().to_path_buf();
        let ok = Path::new("ok");
        let fail = Path::new("fail");
        for sub in [".pki/libnbd", ".config/pki/libnbd"] {
            let home = TempDir::new();
            let dir = home.join(sub);
            std::fs::create_dir_all(&dir).unwrap();
            let client = pki.client_dir(true);
            for f in ["ca-cert.pem", "client-cert.pem", "client-key.pem"] {
                std::fs::copy(client.join(f), dir.join(f)).unwrap();
            }
            assert!(run_child(
                "child_connects_with_default_certificates",
                &[
                    ("HOME", home.path()),
                    ("NBD_TEST_SOCK", &sock),
                    ("NBD_TEST_EXPECT", ok)
                ],
            ));
        }
        // Nothing there: the system's CAs, which do not know our CA.
        let home = TempDir::new();
        assert!(run_child(
            "child_connects_with_default_certificates",
            &[
                ("HOME", home.path()),
                ("NBD_TEST_SOCK", &sock),
                ("NBD_TEST_EXPECT", fail)
            ],
        ));
    });
}
