//! The error type shared by every layer: a message, an errno, and the name
//! of the API call that failed.

use std::fmt;

/// An error from an NBD call: what went wrong, the errno that best
/// describes it (0 when none applies), and the call it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    errno: i32,
    msg: String,
    context: Option<&'static str>,
}

/// The result of every fallible call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with an errno (use the `libc::E*` constants) and a message.
    pub fn new(errno: i32, msg: impl Into<String>) -> Error {
        Error {
            errno,
            msg: msg.into(),
            context: None,
        }
    }

    /// The same error, attributed to an API call (`"nbd_pread"`). An error
    /// already attributed keeps its first context.
    pub fn with_context(mut self, context: &'static str) -> Error {
        if self.context.is_none() {
            self.context = Some(context);
        }
        self
    }

    /// The same error, attributed to `context` even when it already was
    /// (an async call reports its errors under its own name, not its aio
    /// twin's).
    #[cfg(feature = "tokio")]
    pub(crate) fn renamed(mut self, context: &'static str) -> Error {
        self.context = Some(context);
        self
    }

    /// The errno, 0 when no errno describes the error.
    pub fn errno(&self) -> i32 {
        self.errno
    }

    /// The message without the call name.
    pub fn message(&self) -> &str {
        &self.msg
    }

    /// The call the error came from, if known.
    pub fn context(&self) -> Option<&'static str> {
        self.context
    }

    /// An error from an `std::io::Error`, keeping its OS errno.
    pub fn from_io(err: &std::io::Error, what: impl fmt::Display) -> Error {
        Error::new(
            err.raw_os_error().unwrap_or(libc::EIO),
            format!("{what}: {err}"),
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.context {
            Some(c) => write!(f, "{c}: {}", self.msg),
            None => f.write_str(&self.msg),
        }
    }
}

impl std::error::Error for Error {}
