//! 700: downgrades and injections. A scripted NBD peer on a Unix socket
//! (in this process, with OpenSSL for its TLS side) plays a server, or a
//! man in the middle, that refuses or strips STARTTLS, answers it in
//! plaintext, injects plaintext after agreeing, or stops speaking TLS
//! half way. With REQUIRE each of these fails the connection, and no
//! option but STARTTLS ever crosses the wire in plaintext.
//!
//! scenarios: 751

mod common;

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use common::*;
use nbd::Tls;
use openssl::ssl::{Ssl, SslContextBuilder, SslMethod, SslStream};

const NBDMAGIC: u64 = 0x4e42444d41474943;
const IHAVEOPT: u64 = 0x49484156454f5054;
const REPLY_MAGIC: u64 = 0x0003e889045565a9;
const OPT_EXPORT_NAME: u32 = 1;
const OPT_STARTTLS: u32 = 5;
const OPT_GO: u32 = 7;
const REP_ACK: u32 = 1;
const REP_INFO: u32 = 3;
const REP_ERR_UNSUP: u32 = 0x8000_0001;
const REP_ERR_POLICY: u32 = 0x8000_0002;
const NBD_CMD_DISC: u16 = 2;
const KEY: [u8; 16] = *b"0123456789abcdef";
const EXPORT: &str = "secret-export";

fn opt_reply(opt: u32, reply: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = REPLY_MAGIC.to_be_bytes().to_vec();
    v.extend(opt.to_be_bytes());
    v.extend(reply.to_be_bytes());
    v.extend((payload.len() as u32).to_be_bytes());
    v.extend(payload);
    v
}

fn read_option(s: &mut impl Read) -> (u32, Vec<u8>) {
    let mut h = [0u8; 16];
    s.read_exact(&mut h).unwrap();
    assert_eq!(u64::from_be_bytes(h[..8].try_into().unwrap()), IHAVEOPT);
    let code = u32::from_be_bytes(h[8..12].try_into().unwrap());
    let len = u32::from_be_bytes(h[12..16].try_into().unwrap()) as usize;
    let mut data = vec![0u8; len];
    s.read_exact(&mut data).unwrap();
    (code, data)
}

/// Everything else the client sends, until it hangs up.
fn rest(s: &mut impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = s.read_to_end(&mut v);
    v
}

/// Serve options the way a minimal server does (no structured replies,
/// one export of 1 MiB), until NBD_OPT_GO has been answered; return the
/// export name the client asked for.
fn serve_until_go(s: &mut (impl Read + Write)) -> String {
    loop {
        let (code, data) = read_option(s);
        match code {
            OPT_GO => {
                let n = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
                let name = String::from_utf8(data[4..4 + n].to_vec()).unwrap();
                let mut info = 0u16.to_be_bytes().to_vec();
                info.extend((1u64 << 20).to_be_bytes());
                info.extend(1u16.to_be_bytes()); // NBD_FLAG_HAS_FLAGS
                s.write_all(&opt_reply(OPT_GO, REP_INFO, &info)).unwrap();
                s.write_all(&opt_reply(OPT_GO, REP_ACK, &[])).unwrap();
                return name;
            }
            OPT_EXPORT_NAME => panic!("unexpected NBD_OPT_EXPORT_NAME"),
            other => s.write_all(&opt_reply(other, REP_ERR_UNSUP, &[])).unwrap(),
        }
    }
}

/// A one-connection peer on a Unix socket running `script` on the
/// accepted stream after the greeting and the client flags.
struct Peer<T> {
    dir: TempDir,
    thread: Option<JoinHandle<T>>,
}

impl<T: Send + 'static> Peer<T> {
    fn start(script: impl FnOnce(UnixStream) -> T + Send + 'static) -> Peer<T> {
        let dir = TempDir::new();
        let listener = UnixListener::bind(dir.join("peer.sock")).unwrap();
        let thread = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
                .unwrap();
            let mut greeting = NBDMAGIC.to_be_bytes().to_vec();
            greeting.extend(IHAVEOPT.to_be_bytes());
            greeting.extend(3u16.to_be_bytes()); // FIXED_NEWSTYLE | NO_ZEROES
            s.write_all(&greeting).unwrap();
            let mut cflags = [0u8; 4];
            s.read_exact(&mut cflags).unwrap();
            script(s)
        });
        Peer {
            dir,
            thread: Some(thread),
        }
    }

    fn sock(&self) -> std::path::PathBuf {
        self.dir.join("peer.sock")
    }

    fn join(mut self) -> T {
        self.thread.take().unwrap().join().unwrap()
    }
}

fn handle(tls: Tls) -> Handle {
    let h = Handle::new().unwrap();
    h.set_tls(tls).unwrap();
    h.set_export_name(EXPORT).unwrap();
    // A PSK file, so that a handshake that gets as far as credentials
    // finds some (the scripted TLS peer knows the same key).
    h
}

fn with_psk(h: &Handle, dir: &TempDir) {
    let f = dir.join("keys.psk");
    let hex: String = KEY.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(&f, format!("alice:{hex}\n")).unwrap();
    h.set_tls_psk_file(&f).unwrap();
    h.set_tls_username("alice").unwrap();
}

#[test]
fn t720_require_refused_sends_nothing_more() {
    with_timeout(30, || {
        for refusal in [REP_ERR_UNSUP, REP_ERR_POLICY] {
            let peer = Peer::start(move |mut s| {
                let (code, _) = read_option(&mut s);
                s.write_all(&opt_reply(code, refusal, b"no")).unwrap();
                (code, rest(&mut s))
            });
            let h = handle(Tls::REQUIRE);
            let e = expect_errno(h.connect_unix(&peer.sock()), libc::ENOTSUP);
            assert!(e.message().contains("refused TLS"), "{e}");
            drop(h);
            let (first, after) = peer.join();
            assert_eq!(first, OPT_STARTTLS, "STARTTLS goes first");
            assert!(after.is_empty(), "sent after the refusal: {after:?}");
        }
    });
}

#[test]
fn t721_allow_refused_falls_back_visibly() {
    with_timeout(30, || {
        let peer = Peer::start(|mut s| {
            let (code, _) = read_option(&mut s);
            assert_eq!(code, OPT_STARTTLS);
            s.write_all(&opt_reply(code, REP_ERR_POLICY, &[])).unwrap();
            serve_until_go(&mut s)
        });
        let h = handle(Tls::ALLOW);
        h.connect_unix(&peer.sock()).unwrap();
        assert!(!h.get_tls_negotiated().unwrap(), "fallback is visible");
        assert_eq!(h.get_size().unwrap(), 1 << 20);
        assert_eq!(peer.join(), EXPORT);
    });
}

#[test]
fn t722_plaintext_injected_with_the_ack() {
    with_timeout(30, || {
        for tls in [Tls::ALLOW, Tls::REQUIRE] {
            let peer = Peer::start(|mut s| {
                let (code, _) = read_option(&mut s);
                assert_eq!(code, OPT_STARTTLS);
                // ACK, and in the same breath a forged "export selected".
                let mut forged = opt_reply(OPT_STARTTLS, REP_ACK, &[]);
                let mut info = 0u16.to_be_bytes().to_vec();
                info.extend(1u64.to_be_bytes());
                info.extend(1u16.to_be_bytes());
                forged.extend(opt_reply(OPT_GO, REP_INFO, &info));
                forged.extend(opt_reply(OPT_GO, REP_ACK, &[]));
                s.write_all(&forged).unwrap();
                rest(&mut s)
            });
            let h = handle(tls);
            let e = expect_errno(h.connect_unix(&peer.sock()), libc::EPROTO);
            assert!(e.message().contains("plaintext"), "{e}");
            assert!(!h.aio_is_ready());
            drop(h);
            assert!(peer.join().is_empty(), "nothing follows in plaintext");
        }
    });
}

#[test]
fn t723_ack_then_no_tls() {
    with_timeout(30, || {
        // The server (or a man in the middle) agrees, then keeps talking
        // NBD in plaintext instead of TLS.
        let peer = Peer::start(|mut s| {
            let (code, _) = read_option(&mut s);
            s.write_all(&opt_reply(code, REP_ACK, &[])).unwrap();
            let mut hello = [0u8; 5];
            s.read_exact(&mut hello).unwrap();
            s.write_all(&opt_reply(OPT_GO, REP_ACK, &[])).unwrap();
            let mut more = hello.to_vec();
            more.extend(rest(&mut s));
            more
        });
        let h = handle(Tls::REQUIRE);
        with_psk(&h, &peer.dir);
        let e = expect_errno(h.connect_unix(&peer.sock()), libc::EPROTO);
        assert!(e.message().contains("not TLS"), "{e}");
        drop(h);
        let sent = peer.join();
        assert_eq!(sent[0], 0x16, "a TLS handshake record followed the ACK");
        assert!(!contains(&sent, EXPORT.as_bytes()));

        // ... or hangs up.
        let peer = Peer::start(|mut s| {
            let (code, _) = read_option(&mut s);
            s.write_all(&opt_reply(code, REP_ACK, &[])).unwrap();
        });
        let h = handle(Tls::REQUIRE);
        with_psk(&h, &peer.dir);
        let e = h.connect_unix(&peer.sock()).unwrap_err();
        assert!(e.message().starts_with("TLS handshake failed"), "{e}");
        assert!(h.aio_is_dead());
        peer.join();
    });
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Records every byte the client sends, before decryption.
#[derive(Debug)]
struct Tap {
    inner: UnixStream,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Read for Tap {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen.lock().unwrap().extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl Write for Tap {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The peer's TLS side: PSK for "alice" with `KEY`.
fn tls_accept(s: Tap) -> SslStream<Tap> {
    let mut ctx = SslContextBuilder::new(SslMethod::tls_server()).unwrap();
    ctx.set_psk_server_callback(|_ssl, identity, psk| {
        assert_eq!(identity, Some(&b"alice"[..]));
        psk[..KEY.len()].copy_from_slice(&KEY);
        Ok(KEY.len())
    });
    let ssl = Ssl::new(&ctx.build()).unwrap();
    match ssl.accept(s) {
        Ok(tls) => tls,
        Err(e) => panic!("peer TLS handshake failed: {e:?}"),
    }
}

#[test]
fn t724_options_only_inside_tls() {
    with_timeout(30, || {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let peer = Peer::start(move |s| {
            let mut tap = Tap {
                inner: s,
                seen: seen2,
            };
            let (code, _) = read_option(&mut tap);
            assert_eq!(code, OPT_STARTTLS);
            tap.write_all(&opt_reply(code, REP_ACK, &[])).unwrap();
            let mut tls = tls_accept(tap);
            let name = serve_until_go(&mut tls);
            // Then NBD_CMD_DISC, inside TLS.
            let mut req = [0u8; 28];
            tls.read_exact(&mut req).unwrap();
            assert_eq!(u16::from_be_bytes([req[6], req[7]]), NBD_CMD_DISC);
            name
        });
        let h = handle(Tls::REQUIRE);
        with_psk(&h, &peer.dir);
        h.connect_unix(&peer.sock()).unwrap();
        assert!(h.get_tls_negotiated().unwrap());
        h.shutdown(None).unwrap();
        assert_eq!(peer.join(), EXPORT, "the server got the name, decrypted");
        let raw = seen.lock().unwrap();
        assert!(
            !contains(&raw, EXPORT.as_bytes()),
            "export name went out in plaintext"
        );
    });
}

#[test]
fn t725_plaintext_after_the_handshake() {
    with_timeout(30, || {
        // TLS is up, then the peer writes a plaintext NBD reply straight
        // onto the socket (an attacker injecting, or a broken proxy).
        let peer = Peer::start(|s| {
            let mut tap = Tap {
                inner: s,
                seen: Arc::default(),
            };
            let (code, _) = read_option(&mut tap);
            tap.write_all(&opt_reply(code, REP_ACK, &[])).unwrap();
            let mut tls = tls_accept(tap);
            let (code, _) = read_option(&mut tls);
            tls.get_mut()
                .inner
                .write_all(&opt_reply(code, REP_ERR_UNSUP, &[]))
                .unwrap();
            let mut sink = Vec::new();
            let _ = tls.get_mut().inner.read_to_end(&mut sink);
        });
        let h = handle(Tls::REQUIRE);
        with_psk(&h, &peer.dir);
        let e = expect_errno(h.connect_unix(&peer.sock()), libc::EPROTO);
        assert!(e.message().contains("not TLS"), "{e}");
        assert!(h.aio_is_dead());
        drop(h);
        peer.join();
    });
}
