//! TLS fixtures for the t700 tests: a private certificate authority with
//! server and client certificates (valid, expired, not yet valid,
//! revoked), an unrelated CA, and PSK files, all made with certtool and
//! psktool (gnutls-bin) in a temporary directory; and servers (nbdkit,
//! qemu-nbd) that use them.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::{self, Server, TempDir};

/// The user name in the PSK files.
pub const USER: &str = "alice";

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// How a server certificate is dated.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Validity {
    Valid,
    Expired,
    NotYetValid,
}

/// A certificate authority and everything issued from it, in one
/// temporary directory.
pub struct Pki {
    pub dir: TempDir,
    n: std::cell::Cell<u32>,
}

impl Pki {
    pub fn new() -> Pki {
        let pki = Pki {
            dir: TempDir::new(),
            n: std::cell::Cell::new(0),
        };
        pki.make_ca("ca", "nbd-rs test CA");
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn fresh(&self, stem: &str) -> PathBuf {
        let n = self.n.get();
        self.n.set(n + 1);
        let p = self.path(&format!("{stem}-{n}"));
        std::fs::create_dir(&p).unwrap();
        p
    }

    fn template(&self, text: &str) -> PathBuf {
        let p = self.fresh("tmpl").join("t.info");
        std::fs::write(&p, text).unwrap();
        p
    }

    /// An RSA key: qemu-nbd insists on the key encipherment usage,
    /// which only RSA certificates carry.
    fn key(path: &Path) {
        run(
            "certtool",
            &[
                "--generate-privkey",
                "--key-type=rsa",
                "--bits=2048",
                "--outfile",
                s(path),
            ],
        );
    }

    /// A self-signed CA in directory `name` (ca-key.pem, ca-cert.pem).
    fn make_ca(&self, name: &str, cn: &str) -> PathBuf {
        let d = self.path(name);
        std::fs::create_dir_all(&d).unwrap();
        Self::key(&d.join("ca-key.pem"));
        self.certtool(
            &[
                "--generate-self-signed",
                "--load-privkey",
                s(&d.join("ca-key.pem")),
            ],
            &format!(
                "cn = \"{cn}\"\nca\ncert_signing_key\ncrl_signing_key\nexpiration_days = 3650\n"
            ),
            &d.join("ca-cert.pem"),
        );
        d
    }

    pub fn ca_cert(&self) -> PathBuf {
        self.path("ca/ca-cert.pem")
    }

    /// Issue a certificate for `key` into `out`, signed by the CA in
    /// directory `ca`.
    fn issue(&self, ca: &str, key: &Path, out: &Path, template: &str) {
        self.certtool(
            &[
                "--generate-certificate",
                "--load-ca-certificate",
                s(&self.path(&format!("{ca}/ca-cert.pem"))),
                "--load-ca-privkey",
                s(&self.path(&format!("{ca}/ca-key.pem"))),
                "--load-privkey",
                s(key),
            ],
            template,
            out,
        );
    }

    /// Run certtool with `args`, a template file holding `template`, and
    /// `out` for what it makes.
    fn certtool(&self, args: &[&str], template: &str, out: &Path) {
        let t = self.template(template);
        let mut all = args.to_vec();
        all.extend(["--template", s(&t), "--outfile", s(out)]);
        run("certtool", &all);
    }

    /// A server directory as nbdkit and qemu-nbd want it: ca-cert.pem,
    /// server-cert.pem, server-key.pem; the certificate names localhost
    /// and 127.0.0.1.
    pub fn server_dir(&self, validity: Validity) -> PathBuf {
        self.server_dir_signed_by("ca", validity)
    }

    /// The same, signed by a CA the client does not know.
    pub fn rogue_server_dir(&self) -> PathBuf {
        if !self.path("rogue-ca").exists() {
            self.make_ca("rogue-ca", "rogue CA");
        }
        self.server_dir_signed_by("rogue-ca", Validity::Valid)
    }

    fn server_dir_signed_by(&self, ca: &str, validity: Validity) -> PathBuf {
        let d = self.fresh("server");
        std::fs::copy(
            self.path(&format!("{ca}/ca-cert.pem")),
            d.join("ca-cert.pem"),
        )
        .unwrap();
        Self::key(&d.join("server-key.pem"));
        let dates = match validity {
            Validity::Valid => "expiration_days = 365\n".to_string(),
            Validity::Expired => "activation_date = \"2001-01-01 00:00:00\"\n\
                 expiration_date = \"2002-01-01 00:00:00\"\n"
                .to_string(),
            Validity::NotYetValid => "activation_date = \"2090-01-01 00:00:00\"\n\
                 expiration_date = \"2091-01-01 00:00:00\"\n"
                .to_string(),
        };
        self.issue(
            ca,
            &d.join("server-key.pem"),
            &d.join("server-cert.pem"),
            &format!(
                "organization = nbd-rs\ncn = localhost\ndns_name = localhost\n\
                 ip_address = 127.0.0.1\ntls_www_server\nsigning_key\nencryption_key\n{dates}"
            ),
        );
        d
    }

    /// A client directory: ca-cert.pem, with client-cert.pem and
    /// client-key.pem when `with_cert`.
    pub fn client_dir(&self, with_cert: bool) -> PathBuf {
        let d = self.fresh("client");
        std::fs::copy(self.ca_cert(), d.join("ca-cert.pem")).unwrap();
        if with_cert {
            Self::key(&d.join("client-key.pem"));
            self.issue(
                "ca",
                &d.join("client-key.pem"),
                &d.join("client-cert.pem"),
                "organization = nbd-rs\ncn = client\ntls_www_client\nsigning_key\n\
                 encryption_key\nexpiration_days = 365\n",
            );
        }
        d
    }

    /// A client directory whose ca-crl.pem revokes the certificate of
    /// `server_dir`.
    pub fn client_dir_revoking(&self, server_dir: &Path) -> PathBuf {
        self.client_dir_with_crl(Some(&server_dir.join("server-cert.pem")))
    }

    /// A client directory with an empty CRL (nothing revoked).
    pub fn client_dir_with_empty_crl(&self) -> PathBuf {
        self.client_dir_with_crl(None)
    }

    /// A client directory whose ca-crl.pem revokes `revoked` (a
    /// certificate), or nothing.
    fn client_dir_with_crl(&self, revoked: Option<&Path>) -> PathBuf {
        let d = self.client_dir(false);
        let ca_key = self.path("ca/ca-key.pem");
        let ca_cert = self.ca_cert();
        let mut args = vec![
            "--generate-crl",
            "--load-ca-privkey",
            s(&ca_key),
            "--load-ca-certificate",
            s(&ca_cert),
        ];
        if let Some(cert) = revoked {
            args.extend(["--load-certificate", s(cert)]);
        }
        self.certtool(
            &args,
            "crl_next_update = 365\ncrl_number = 1\n",
            &d.join("ca-crl.pem"),
        );
        d
    }

    /// A directory holding `keys.psk` (the name qemu-nbd wants) with a
    /// fresh key for `user`, made by psktool.
    pub fn psk_dir(&self, user: &str) -> PathBuf {
        let d = self.fresh("psk");
        run("psktool", &["-u", user, "-p", s(&d.join("keys.psk"))]);
        d
    }

    /// A PSK file giving `user` a different key than `like` does.
    pub fn wrong_psk_file(&self, like: &Path, user: &str) -> PathBuf {
        let text = std::fs::read_to_string(like).unwrap();
        let key = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{user}:")))
            .unwrap();
        let flipped: String = key
            .chars()
            .map(|c| if c == '0' { '1' } else { '0' })
            .collect();
        let p = self.fresh("wrong-psk").join("keys.psk");
        std::fs::write(&p, format!("{user}:{flipped}\n")).unwrap();
        p
    }
}

/// nbdkit with TLS on a Unix socket. `tls` is nbdkit's --tls value
/// ("require" or "on"); `creds` is ("--tls-psk=FILE") or
/// ("--tls-certificates=DIR"), plus any other options, then the plugin.
pub fn nbdkit_tls(tls: &str, args: &[&str]) -> Server {
    let mut a = vec![format!("--tls={tls}")];
    a.extend(args.iter().map(|s| s.to_string()));
    let a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
    common::nbdkit(&a)
}

/// The same on 127.0.0.1 and a free port.
pub fn nbdkit_tls_tcp(tls: &str, args: &[&str]) -> Server {
    let mut a = vec![format!("--tls={tls}")];
    a.extend(args.iter().map(|s| s.to_string()));
    let a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
    common::nbdkit_tcp(&a)
}

/// qemu-nbd (which then insists on TLS) with a `tls-creds-*` object:
/// `kind` is "psk" (dir holds keys.psk) or "x509" (dir holds ca-cert.pem,
/// server-cert.pem, server-key.pem); `extra` are more object properties
/// such as "verify-peer=off".
pub fn qemu_nbd_tls(size: usize, byte: u8, kind: &str, dir: &Path, extra: &str) -> Server {
    let object = format!(
        "tls-creds-{kind},id=tls0,endpoint=server,dir={}{}{extra}",
        dir.display(),
        if extra.is_empty() { "" } else { "," }
    );
    common::qemu_nbd(size, byte, &["--object", &object, "--tls-creds", "tls0"])
}
