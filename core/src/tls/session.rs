//! A TLS client session over memory: OpenSSL reads the ciphertext the
//! driver received from a buffer, and writes the ciphertext to send into
//! another, so the session never blocks and never touches a socket. The
//! driver moves those buffers to and from the socket, and the plaintext
//! to and from the protocol machine (see `driver/tls_wire.rs`).

use std::io::{self, IoSlice, Read, Write};

use openssl::ssl::{ErrorCode, SslStream};

use super::credentials::{self, Auth};
use super::errors::{handshake_error, session_error, stack_text};
use super::params::TlsParams;
use crate::{Error, Result};

/// Received ciphertext is kept in a buffer of this size: many records
/// per read() from the socket.
const IN_CAPACITY: usize = 256 * 1024;
/// Stop encrypting once this much ciphertext waits to be sent.
const OUT_HIGH_WATER: usize = 256 * 1024;
/// Small plaintext pieces (request headers) are gathered up to one TLS
/// record's worth, so many requests share a record.
const RECORD: usize = 16 * 1024;
/// The most plaintext handed to OpenSSL in one call.
const MAX_WRITE: usize = 256 * 1024;

/// The two byte queues OpenSSL talks to instead of a socket.
struct MemPipe {
    input: Vec<u8>,
    in_start: usize,
    in_end: usize,
    /// The peer closed its end: after the buffered bytes, reads see EOF.
    eof: bool,
    output: Vec<u8>,
    out_start: usize,
}

impl MemPipe {
    fn new() -> MemPipe {
        MemPipe {
            input: vec![0; IN_CAPACITY],
            in_start: 0,
            in_end: 0,
            eof: false,
            output: Vec::with_capacity(RECORD),
            out_start: 0,
        }
    }

    fn unread(&self) -> usize {
        self.in_end - self.in_start
    }
}

impl Read for MemPipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.unread().min(buf.len());
        if n == 0 {
            return if self.eof {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        buf[..n].copy_from_slice(&self.input[self.in_start..self.in_start + n]);
        self.in_start += n;
        if self.in_start == self.in_end {
            self.in_start = 0;
            self.in_end = 0;
        }
        Ok(n)
    }
}

impl Write for MemPipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Handshaking,
    Open,
    /// The server ended the session (close_notify or EOF), or we did.
    Closed,
    Failed,
}

/// What [`TlsSession::read_plain`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plain {
    /// This many plaintext bytes were written into the buffer.
    Data(usize),
    /// No whole record is buffered: more ciphertext is needed.
    NeedInput,
    /// The server ended the session; no more plaintext will come.
    Closed,
}

/// One TLS client session.
pub(crate) struct TlsSession {
    stream: SslStream<MemPipe>,
    phase: Phase,
    auth: Auth,
    /// Where small plaintext pieces are gathered into one record.
    staging: Vec<u8>,
    /// The last read wanted more ciphertext than is buffered.
    starved: bool,
    /// Some plaintext has been decrypted since the handshake.
    answered: bool,
    /// PSK identity and key, read by OpenSSL through the session's app
    /// data. Declared after `stream` so that it is dropped after the
    /// OpenSSL session that points to it.
    _psk: Option<Box<credentials::PskCredentials>>,
}

impl TlsSession {
    /// Configure a session from `params` (reading certificate or key
    /// files) and start the handshake: the ClientHello is then waiting
    /// in [`TlsSession::output`].
    pub(crate) fn start(params: &TlsParams) -> Result<TlsSession> {
        let (ssl, auth, psk) = credentials::client(params)?;
        let stream = SslStream::new(ssl, MemPipe::new()).map_err(|e| {
            Error::new(
                libc::EIO,
                format!("TLS: cannot create the session: {}", stack_text(&e)),
            )
        })?;
        let mut session = TlsSession {
            stream,
            phase: Phase::Handshaking,
            auth,
            staging: Vec::with_capacity(RECORD),
            starved: false,
            answered: false,
            _psk: psk,
        };
        session.handshake()?;
        Ok(session)
    }

    pub(crate) fn is_handshaking(&self) -> bool {
        self.phase == Phase::Handshaking
    }

    pub(crate) fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// Go on with the handshake: Ok(true) once it is complete, Ok(false)
    /// while it needs more from the server.
    pub(crate) fn handshake(&mut self) -> Result<bool> {
        if self.phase != Phase::Handshaking {
            return Ok(self.phase == Phase::Open);
        }
        match self.stream.connect() {
            Ok(()) => {
                self.phase = Phase::Open;
                Ok(true)
            }
            Err(e) if matches!(e.code(), ErrorCode::WANT_READ | ErrorCode::WANT_WRITE) => {
                if self.stream.get_ref().eof && self.stream.get_ref().unread() == 0 {
                    return Err(self.fail_handshake(&e));
                }
                Ok(false)
            }
            Err(e) => Err(self.fail_handshake(&e)),
        }
    }

    fn fail_handshake(&mut self, e: &openssl::ssl::Error) -> Error {
        self.phase = Phase::Failed;
        let eof = self.stream.get_ref().eof;
        handshake_error(e, self.stream.ssl(), &self.auth, eof)
    }

    /// The connection failed or ended (`cause`) during the handshake, or
    /// after it but before the server said anything inside TLS: explain
    /// the likely reason. None when that is not the situation.
    pub(crate) fn explain_early_end(&self, cause: &Error) -> Option<Error> {
        match self.phase {
            Phase::Handshaking => Some(Error::new(
                cause.errno(),
                format!(
                    "TLS handshake failed: the connection broke ({}); did the server \
                     refuse the client's credentials?",
                    cause.message()
                ),
            )),
            Phase::Open | Phase::Closed if !self.answered => {
                Some(super::errors::dropped_after_handshake(cause, &self.auth))
            }
            _ => None,
        }
    }

    /// What the session is, for the debug log: protocol version, cipher
    /// and how identities were established. Never key material.
    pub(crate) fn summary(&self) -> String {
        let ssl = self.stream.ssl();
        let cipher = ssl.current_cipher().map_or("unknown cipher", |c| c.name());
        format!("{}, {cipher}, {}", ssl.version_str(), self.auth.describe())
    }

    // ---- ciphertext to send ----

    /// Ciphertext waiting to be sent.
    pub(crate) fn output(&self) -> &[u8] {
        let p = self.stream.get_ref();
        &p.output[p.out_start..]
    }

    pub(crate) fn has_output(&self) -> bool {
        !self.output().is_empty()
    }

    /// `n` bytes of [`TlsSession::output`] went out.
    pub(crate) fn output_sent(&mut self, n: usize) {
        let p = self.stream.get_mut();
        p.out_start = (p.out_start + n).min(p.output.len());
        if p.out_start == p.output.len() {
            p.output.clear();
            p.out_start = 0;
        }
    }

    // ---- ciphertext received ----

    /// Where the next bytes from the socket go; empty when the buffer is
    /// full of ciphertext not yet decrypted.
    pub(crate) fn input_space(&mut self) -> &mut [u8] {
        let p = self.stream.get_mut();
        if p.in_end == p.input.len() && p.in_start > 0 {
            p.input.copy_within(p.in_start..p.in_end, 0);
            p.in_end -= p.in_start;
            p.in_start = 0;
        }
        &mut p.input[p.in_end..]
    }

    pub(crate) fn has_input_space(&self) -> bool {
        let p = self.stream.get_ref();
        p.in_end < p.input.len() || p.in_start > 0
    }

    /// `n` bytes were received into [`TlsSession::input_space`].
    pub(crate) fn input_added(&mut self, n: usize) {
        let p = self.stream.get_mut();
        p.in_end = (p.in_end + n).min(p.input.len());
        if n > 0 {
            self.starved = false;
        }
    }

    /// The server closed the connection.
    pub(crate) fn input_eof(&mut self) {
        self.stream.get_mut().eof = true;
        self.starved = false;
    }

    /// Whether decrypting could produce plaintext without reading the
    /// socket (plaintext or ciphertext left over from an earlier read).
    pub(crate) fn has_buffered_input(&self) -> bool {
        self.phase == Phase::Open
            && (self.stream.ssl().pending() > 0
                || (self.stream.get_ref().unread() > 0 && !self.starved))
    }

    // ---- plaintext ----

    /// Decrypt into `buf` (at most one record per call).
    pub(crate) fn read_plain(&mut self, buf: &mut [u8]) -> Result<Plain> {
        if self.phase != Phase::Open {
            return Ok(if self.phase == Phase::Handshaking {
                Plain::NeedInput
            } else {
                Plain::Closed
            });
        }
        if buf.is_empty() {
            return Ok(Plain::NeedInput);
        }
        let eof = self.stream.get_ref().eof;
        match self.stream.ssl_read(buf) {
            Ok(0) => Ok(Plain::NeedInput),
            Ok(n) => {
                self.answered = true;
                Ok(Plain::Data(n))
            }
            Err(e) if e.code() == ErrorCode::ZERO_RETURN => {
                self.phase = Phase::Closed;
                Ok(Plain::Closed)
            }
            Err(e) if e.code() == ErrorCode::WANT_READ && !eof => {
                self.starved = true;
                Ok(Plain::NeedInput)
            }
            // The server went away without close_notify. NBD frames its
            // own messages, so the machine judges whether that was clean
            // (between replies) or not (in the middle of one).
            Err(_) if eof && self.stream.get_ref().unread() == 0 => {
                self.phase = Phase::Closed;
                Ok(Plain::Closed)
            }
            Err(e) => {
                self.phase = Phase::Failed;
                Err(session_error(&e))
            }
        }
    }

    /// Encrypt the start of `pending` (the machine's queued output, in
    /// order); returns how many plaintext bytes were consumed, 0 when the
    /// session cannot take more now.
    pub(crate) fn write_plain(&mut self, pending: &[IoSlice<'_>]) -> Result<usize> {
        if self.phase != Phase::Open || self.output().len() >= OUT_HIGH_WATER {
            return Ok(0);
        }
        let Some(first) = pending.first() else {
            return Ok(0);
        };
        let data: &[u8] = if first.len() >= RECORD {
            &first[..first.len().min(MAX_WRITE)]
        } else {
            self.staging.clear();
            for s in pending {
                let room = RECORD - self.staging.len();
                if room == 0 {
                    break;
                }
                self.staging.extend_from_slice(&s[..s.len().min(room)]);
            }
            &self.staging
        };
        match self.stream.ssl_write(data) {
            Ok(n) => Ok(n),
            Err(e) if matches!(e.code(), ErrorCode::WANT_READ | ErrorCode::WANT_WRITE) => Ok(0),
            Err(e) => {
                self.phase = Phase::Failed;
                Err(session_error(&e))
            }
        }
    }

    /// End the session politely: queue a close_notify alert (sent if the
    /// driver gets the chance).
    pub(crate) fn close_notify(&mut self) {
        if self.phase == Phase::Open {
            let _ = self.stream.shutdown();
        }
        if self.phase != Phase::Failed {
            self.phase = Phase::Closed;
        }
    }
}

#[cfg(test)]
mod tests {
    //! The session against an OpenSSL server, both in memory: no socket.

    use super::*;
    use openssl::ssl::{Ssl, SslContextBuilder, SslMethod};

    const KEY: [u8; 16] = [7; 16];

    struct Fixture {
        client: TlsSession,
        server: SslStream<MemPipe>,
        _psk: PskFile,
    }

    struct PskFile(std::path::PathBuf);
    impl Drop for PskFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn psk_file(key: &[u8]) -> PskFile {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("nbd-session-{}-{n}.psk", std::process::id()));
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(&p, format!("alice:{hex}\n")).unwrap();
        PskFile(p)
    }

    fn fixture(client_key: &[u8]) -> Fixture {
        let psk = psk_file(client_key);
        let params = TlsParams {
            psk_file: Some(psk.0.to_str().unwrap().to_string()),
            username: Some("alice".into()),
            verify_peer: true,
            ..TlsParams::default()
        };
        let client = TlsSession::start(&params).unwrap();
        let mut ctx = SslContextBuilder::new(SslMethod::tls_server()).unwrap();
        ctx.set_psk_server_callback(|_ssl, _id, psk| {
            psk[..KEY.len()].copy_from_slice(&KEY);
            Ok(KEY.len())
        });
        let server = SslStream::new(Ssl::new(&ctx.build()).unwrap(), MemPipe::new()).unwrap();
        Fixture {
            client,
            server,
            _psk: psk,
        }
    }

    impl Fixture {
        /// Move ciphertext both ways, as the driver and a socket would.
        fn shuttle(&mut self) {
            let out = self.client.output().to_vec();
            self.client.output_sent(out.len());
            let p = self.server.get_mut();
            p.input[p.in_end..p.in_end + out.len()].copy_from_slice(&out);
            p.in_end += out.len();
            let back: Vec<u8> = {
                let p = self.server.get_mut();
                let v = p.output[p.out_start..].to_vec();
                p.output.clear();
                p.out_start = 0;
                v
            };
            let space = self.client.input_space();
            space[..back.len()].copy_from_slice(&back);
            self.client.input_added(back.len());
        }

        fn handshake(&mut self) -> Result<()> {
            for _ in 0..10 {
                let _ = self.server.accept();
                self.shuttle();
                if self.client.handshake()? {
                    self.shuttle();
                    return Ok(());
                }
            }
            panic!("handshake did not finish");
        }
    }

    #[test]
    fn records_flow_both_ways_in_memory() {
        let mut f = fixture(&KEY);
        assert!(f.client.is_handshaking());
        assert!(f.client.has_output(), "the ClientHello is ready at once");
        f.handshake().unwrap();
        assert!(f.client.is_open());
        assert!(f
            .client
            .summary()
            .contains("pre-shared key of user 'alice'"));

        // Small pieces (request headers) share one record.
        let pieces = [&b"hello "[..], b"over ", b"TLS"];
        let slices: Vec<IoSlice<'_>> = pieces.iter().map(|p| IoSlice::new(p)).collect();
        assert_eq!(f.client.write_plain(&slices).unwrap(), 14);
        f.shuttle();
        let mut got = [0u8; 64];
        let n = f.server.ssl_read(&mut got).unwrap();
        assert_eq!(&got[..n], b"hello over TLS");

        // A large payload goes in record-sized pieces.
        let big = vec![0xabu8; 100_000];
        let mut sent = 0;
        while sent < big.len() {
            sent += f.client.write_plain(&[IoSlice::new(&big[sent..])]).unwrap();
        }
        f.shuttle();
        let mut back = Vec::new();
        while back.len() < big.len() {
            let mut buf = vec![0u8; 32768];
            let n = f.server.ssl_read(&mut buf).unwrap();
            back.extend_from_slice(&buf[..n]);
        }
        assert_eq!(back, big);

        // Server to client; a small buffer leaves plaintext buffered.
        f.server.ssl_write(b"0123456789").unwrap();
        f.shuttle();
        let mut small = [0u8; 4];
        assert_eq!(f.client.read_plain(&mut small).unwrap(), Plain::Data(4));
        assert!(f.client.has_buffered_input());
        let mut rest = [0u8; 16];
        assert_eq!(f.client.read_plain(&mut rest).unwrap(), Plain::Data(6));
        assert_eq!(&rest[..6], b"456789");
        assert_eq!(f.client.read_plain(&mut rest).unwrap(), Plain::NeedInput);
        assert!(!f.client.has_buffered_input());

        // close_notify ends the session cleanly.
        let _ = f.server.shutdown();
        f.shuttle();
        assert_eq!(f.client.read_plain(&mut rest).unwrap(), Plain::Closed);
    }

    #[test]
    fn wrong_key_fails_the_handshake() {
        let mut f = fixture(&[8; 16]);
        let e = f.handshake().unwrap_err();
        assert_eq!(e.errno(), libc::EACCES, "{e}");
        assert!(
            e.message().contains("pre-shared key of user 'alice'"),
            "{e}"
        );
        assert!(!f.client.is_open());
    }

    #[test]
    fn garbage_instead_of_tls() {
        let mut f = fixture(&KEY);
        let junk = b"\x00\x03\xe8\x89 this is an NBD option reply, not TLS";
        let space = f.client.input_space();
        space[..junk.len()].copy_from_slice(junk);
        f.client.input_added(junk.len());
        let e = f.client.handshake().unwrap_err();
        assert_eq!(e.errno(), libc::EPROTO, "{e}");
        assert!(e.message().contains("not TLS"), "{e}");
    }

    #[test]
    fn eof_during_the_handshake() {
        let mut f = fixture(&KEY);
        f.client.input_eof();
        let e = f.client.handshake().unwrap_err();
        assert!(e.message().starts_with("TLS handshake failed"), "{e}");
    }
}
