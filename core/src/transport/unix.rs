//! Unix domain socket addresses, including Linux's abstract namespace
//! (a name starting with a NUL byte, as in `?socket=%00name`).

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use socket2::SockAddr;

use crate::{Error, Result};

/// The address of a Unix socket at `path`. A path whose first byte is NUL
/// names a socket in the abstract namespace.
pub(crate) fn unix_addr(path: &Path) -> Result<SockAddr> {
    let bytes = path.as_os_str().as_bytes();
    // sun_path is 108 bytes on Linux; a pathname needs room for its NUL.
    const SUN_PATH: usize = 108;
    if let Some(name) = bytes.strip_prefix(b"\0") {
        if name.len() >= SUN_PATH {
            return Err(too_long(path));
        }
        return SockAddr::unix(std::ffi::OsStr::from_bytes(bytes))
            .map_err(|e| Error::from_io(&e, "socket name"));
    }
    if bytes.is_empty() {
        return Err(Error::new(libc::EINVAL, "socket name is empty"));
    }
    if bytes.len() >= SUN_PATH {
        return Err(too_long(path));
    }
    if bytes.contains(&0) {
        return Err(Error::new(libc::EINVAL, "socket name contains a NUL byte"));
    }
    SockAddr::unix(path)
        .map_err(|e| Error::from_io(&e, format_args!("socket name {}", path.display())))
}

fn too_long(path: &Path) -> Error {
    Error::new(
        libc::ENAMETOOLONG,
        format!("socket name too long: {}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pathname_and_limits() {
        let a = unix_addr(Path::new("/tmp/x.sock")).unwrap();
        assert_eq!(a.as_pathname(), Some(Path::new("/tmp/x.sock")));
        let long = "/".repeat(200);
        assert_eq!(
            unix_addr(Path::new(&long)).unwrap_err().errno(),
            libc::ENAMETOOLONG
        );
        assert_eq!(unix_addr(Path::new("")).unwrap_err().errno(), libc::EINVAL);
    }

    #[test]
    fn abstract_namespace() {
        let a = unix_addr(Path::new("\0hidden")).unwrap();
        assert_eq!(a.as_abstract_namespace(), Some(&b"hidden"[..]));
    }
}
