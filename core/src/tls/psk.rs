//! Pre-shared key files as psktool(1) writes them: one `username:key`
//! per line, the key in hexadecimal. Keys never appear in messages and
//! are wiped from memory when dropped.

use std::fmt;

use crate::{Error, Result};

/// A key read from a PSK file. Its `Debug` output is redacted, and its
/// bytes are overwritten with zeroes when it is dropped.
pub(crate) struct Secret(Vec<u8>);

impl Secret {
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Secret {
    fn from(v: Vec<u8>) -> Secret {
        Secret(v)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret([{} bytes redacted])", self.0.len())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            // SAFETY: `b` is a valid, aligned &mut u8. A volatile write
            // cannot be optimised away although the Vec dies next.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// The longest key OpenSSL accepts (PSK_MAX_PSK_LEN).
pub(crate) const MAX_KEY_LEN: usize = 512;
/// The longest identity OpenSSL accepts, without its terminating NUL.
pub(crate) const MAX_IDENTITY_LEN: usize = 128;

/// The key of `username` in the PSK file `path`.
pub(crate) fn lookup(path: &str, username: &str) -> Result<Secret> {
    if username.is_empty() || username.len() > MAX_IDENTITY_LEN || username.contains(['\0', ':']) {
        return Err(Error::new(
            libc::EINVAL,
            format!("TLS: the PSK username '{username}' is empty, too long or contains ':'"),
        ));
    }
    let text = std::fs::read(path)
        .map_err(|e| Error::from_io(&e, format_args!("TLS: cannot read the PSK file {path}")))?;
    let text = Secret(text);
    let line = text
        .bytes()
        .split(|&c| c == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .find_map(|l| {
            l.strip_prefix(username.as_bytes())
                .and_then(|rest| rest.strip_prefix(b":"))
        });
    let Some(hex) = line else {
        return Err(Error::new(
            libc::EINVAL,
            format!("TLS: username '{username}' was not found in the PSK file {path}"),
        ));
    };
    decode_hex(hex).ok_or_else(|| {
        Error::new(
            libc::EINVAL,
            format!(
                "TLS: the key of user '{username}' in the PSK file {path} is not 1 to \
                 {MAX_KEY_LEN} bytes of hexadecimal"
            ),
        )
    })
}

fn decode_hex(hex: &[u8]) -> Option<Secret> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) || hex.len() / 2 > MAX_KEY_LEN {
        return None;
    }
    let mut out = Secret(Vec::with_capacity(hex.len() / 2));
    for pair in hex.chunks(2) {
        let digit = |c: u8| (c as char).to_digit(16);
        let (h, l) = (digit(pair[0])?, digit(pair[1])?);
        out.0.push((h << 4 | l) as u8);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(contents: &str) -> (std::path::PathBuf, impl Drop) {
        struct Rm(std::path::PathBuf);
        impl Drop for Rm {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("nbd-psk-test-{}-{n}", std::process::id()));
        std::fs::write(&p, contents).unwrap();
        (p.clone(), Rm(p))
    }

    #[test]
    fn finds_the_user_line() {
        let (p, _rm) = file("bob:00ff\r\nalice:0a0B0c\nalicia:11\n");
        let p = p.to_str().unwrap();
        assert_eq!(lookup(p, "alice").unwrap().bytes(), [0x0a, 0x0b, 0x0c]);
        assert_eq!(lookup(p, "bob").unwrap().bytes(), [0x00, 0xff]);
        assert_eq!(lookup(p, "alicia").unwrap().bytes(), [0x11]);
    }

    #[test]
    fn errors_name_the_problem_but_not_the_key() {
        let (p, _rm) = file("alice:0a0Z\nbob:\n");
        let p = p.to_str().unwrap();
        let e = lookup(p, "carol").unwrap_err();
        assert_eq!(e.errno(), libc::EINVAL);
        assert!(e.message().contains("'carol' was not found"), "{e}");
        let e = lookup(p, "alice").unwrap_err();
        assert!(e.message().contains("hexadecimal"), "{e}");
        assert!(!e.message().contains("0a0Z"), "{e}");
        assert!(lookup(p, "bob").is_err());
        assert_eq!(
            lookup("/nonexistent/keys.psk", "alice")
                .unwrap_err()
                .errno(),
            libc::ENOENT
        );
        assert_eq!(lookup(p, "a:b").unwrap_err().errno(), libc::EINVAL);
    }

    #[test]
    fn debug_is_redacted() {
        let s = decode_hex(b"deadbeef").unwrap();
        assert_eq!(format!("{s:?}"), "Secret([4 bytes redacted])");
    }
}
