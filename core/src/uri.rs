//! NBD URIs (doc/uri.md of the NBD project): parsing them for
//! `nbd_connect_uri`, and building one back for `nbd_get_uri`.
//!
//! The `url` crate does the RFC 3986 parsing; this module applies NBD's
//! rules: the schemes, the `socket=` and `tls-*` query parameters, and
//! the export name taken from the path.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use url::Url;

use crate::{Error, Result};

/// The NBD port assigned by IANA.
pub(crate) const DEFAULT_PORT: &str = "10809";

/// Where a URI says to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UriTransport {
    Tcp {
        host: String,
        port: String,
    },
    Unix {
        socket: OsString,
    },
    Vsock {
        cid: u32,
        port: u32,
    },
    /// Through `ssh` to `host` (its ssh `port` when given), where `nc`
    /// reaches the server: the Unix `socket` if given, else TCP port
    /// 10809 on the far host's localhost.
    Ssh {
        host: String,
        port: Option<String>,
        user: Option<String>,
        socket: Option<OsString>,
    },
}

/// A parsed NBD URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NbdUri {
    pub(crate) scheme: String,
    pub(crate) transport: UriTransport,
    /// The scheme asks for TLS (`nbds...`).
    pub(crate) tls: bool,
    pub(crate) export_name: String,
    /// The userinfo part, used as the TLS user name.
    pub(crate) user: Option<String>,
    /// Decoded query parameters other than `socket`, in order.
    pub(crate) queries: Vec<(String, String)>,
}

/// Parse `raw` as an NBD URI (without applying any policy).
pub(crate) fn parse(raw: &str) -> Result<NbdUri> {
    check_characters(raw)?;
    let url = parse_url(raw)?;
    let scheme = url.scheme().to_string();
    let (kind, tls) = match scheme.as_str() {
        "nbd" => (Kind::Tcp, false),
        "nbds" => (Kind::Tcp, true),
        "nbd+unix" => (Kind::Unix, false),
        "nbds+unix" => (Kind::Unix, true),
        "nbd+vsock" => (Kind::Vsock, false),
        "nbds+vsock" => (Kind::Vsock, true),
        "nbd+ssh" => (Kind::Ssh, false),
        "nbds+ssh" => (Kind::Ssh, true),
        _ => {
            return Err(Error::new(
                libc::EINVAL,
                format!("unknown NBD URI scheme: {scheme}"),
            ))
        }
    };
    // Insist on scheme://[authority][/path][?query].
    if !raw
        .get(scheme.len()..)
        .is_some_and(|rest| rest.starts_with("://"))
    {
        return Err(Error::new(
            libc::EINVAL,
            format!("URI must begin with '{scheme}://'"),
        ));
    }

    let mut socket = None;
    let mut queries = Vec::new();
    for (k, v) in parse_query(url.query().unwrap_or(""))? {
        if k == "socket" {
            socket = Some(v);
        } else {
            let v = String::from_utf8(v).map_err(|_| {
                Error::new(
                    libc::EINVAL,
                    format!("URI query parameter {k} is not UTF-8"),
                )
            })?;
            queries.push((k, v));
        }
    }

    let user = match url.username() {
        "" => None,
        u => Some(decode_utf8(u, "user name")?),
    };
    let path = url.path();
    let export_name = decode_utf8(path.strip_prefix('/').unwrap_or(path), "export name")?;

    let transport = match kind {
        Kind::Unix => {
            let Some(socket) = socket else {
                return Err(Error::new(
                    libc::EINVAL,
                    format!("cannot parse socket parameter from NBD URI (did you mean to use \"{scheme}:///?socket=...\"?)"),
                ));
            };
            UriTransport::Unix {
                socket: OsString::from_vec(socket),
            }
        }
        Kind::Ssh => {
            let host = host_of(&url)?;
            if host.is_empty() {
                return Err(Error::new(
                    libc::EINVAL,
                    format!("an {scheme} URI needs a host name"),
                ));
            }
            // What goes on ssh's command line must not be taken for one
            // of its options (ssh -oProxyCommand=... runs a command).
            check_ssh_word(&host, "host name")?;
            if let Some(u) = &user {
                check_ssh_word(u, "user name")?;
            }
            let port = url.port().map(|p| p.to_string());
            UriTransport::Ssh {
                host,
                port,
                user: user.clone(),
                socket: socket.map(OsString::from_vec),
            }
        }
        Kind::Tcp | Kind::Vsock if socket.is_some() => {
            return Err(Error::new(
                libc::EINVAL,
                format!("socket parameter is incompatible with \"{scheme}:\" (did you mean to use \"{scheme}+unix:///?socket=...\"?)"),
            ));
        }
        Kind::Tcp => {
            let host = host_of(&url)?;
            let host = if host.is_empty() {
                "localhost".to_string()
            } else {
                host
            };
            let port = match url.port() {
                None | Some(0) => DEFAULT_PORT.to_string(),
                Some(p) => p.to_string(),
            };
            UriTransport::Tcp { host, port }
        }
        Kind::Vsock => {
            let host = host_of(&url)?;
            let cid = if host.is_empty() {
                2
            } else {
                host.parse::<u32>().map_err(|_| {
                    Error::new(
                        libc::EINVAL,
                        format!("cannot parse vsock CID from NBD URI: {host}"),
                    )
                })?
            };
            let port = match url.port() {
                None | Some(0) => 10809,
                Some(p) => u32::from(p),
            };
            UriTransport::Vsock { cid, port }
        }
    };
    Ok(NbdUri {
        scheme,
        transport,
        tls,
        export_name,
        user,
        queries,
    })
}

enum Kind {
    Tcp,
    Unix,
    Vsock,
    Ssh,
}

/// Refuse a host or user name for ssh that could be read as an option
/// (a leading '-') or that holds control characters or spaces.
fn check_ssh_word(word: &str, what: &str) -> Result<()> {
    if word.starts_with('-') || word.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::new(
            libc::EINVAL,
            format!("invalid {what} for ssh in NBD URI: {word:?}"),
        ));
    }
    Ok(())
}

/// `arg` quoted for the POSIX shell that runs ssh's remote command.
pub(crate) fn shell_quote(arg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(arg.len() + 2);
    out.push(b'\'');
    for &c in arg {
        if c == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(c);
        }
    }
    out.push(b'\'');
    out
}

/// A host name that stands for "no host" while parsing.
const NO_HOST: &str = "no-host.invalid";

/// RFC 3986 allows an empty host after userinfo ("nbds+unix://alice@/");
/// the url crate does not, so parse such URIs with a stand-in host.
/// Only the characters RFC 3986 allows: letters, digits, `-._~`, the
/// delimiters `!$&'()*+,;=:@/?#`, `%` followed by two hex digits, and
/// brackets around an IPv6 literal in the authority. Anything else (a
/// space, a non-ASCII character, `"<>\^`{|}`) must be percent-encoded;
/// libnbd refuses such URIs, while the `url` crate would quietly encode
/// them.
fn check_characters(raw: &str) -> Result<()> {
    let authority = raw.find("://").map(|i| {
        let start = i + 3;
        let end = raw[start..]
            .find(['/', '?', '#'])
            .map_or(raw.len(), |j| start + j);
        start..end
    });
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let ok = match b[i] {
            b'%' => {
                if !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
                {
                    return Err(Error::new(
                        libc::EINVAL,
                        format!(
                            "unable to parse URI: {raw}: '%' must be followed by two hex digits"
                        ),
                    ));
                }
                i += 3;
                continue;
            }
            b'[' | b']' => authority.as_ref().is_some_and(|a| a.contains(&i)),
            c => c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?#".contains(&c),
        };
        if !ok {
            let c = raw[i..].chars().next().unwrap_or('?');
            return Err(Error::new(
                libc::EINVAL,
                format!(
                    "unable to parse URI: {raw}: {:?} is not allowed in a URI (percent-encode it)",
                    c
                ),
            ));
        }
        i += 1;
    }
    Ok(())
}

fn parse_url(raw: &str) -> Result<Url> {
    let err =
        |e: url::ParseError| Error::new(libc::EINVAL, format!("unable to parse URI: {raw}: {e}"));
    match Url::parse(raw) {
        Err(url::ParseError::EmptyHost) => {
            let Some(at) = raw
                .find("@/")
                .or_else(|| raw.find("@?"))
                .or_else(|| raw.ends_with('@').then(|| raw.len() - 1))
            else {
                return Err(err(url::ParseError::EmptyHost));
            };
            let patched = format!("{}@{NO_HOST}{}", &raw[..at], &raw[at + 1..]);
            Url::parse(&patched).map_err(err)
        }
        r => r.map_err(err),
    }
}

/// The host part, without the brackets of an IPv6 literal, decoded.
fn host_of(url: &Url) -> Result<String> {
    let h = url.host_str().unwrap_or("");
    if h == NO_HOST {
        return Ok(String::new());
    }
    let h = h
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(h);
    decode_utf8(h, "host name")
}

/// Split a raw query on '&' (or ';') into decoded name/value pairs, as
/// libnbd does: "name" alone has an empty value, "=value" is ignored.
fn parse_query(raw: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for part in raw.split(['&', ';']) {
        if part.is_empty() {
            continue;
        }
        let (name, value) = match part.split_once('=') {
            Some(("", _)) => continue,
            Some((n, v)) => (n, v),
            None => (part, ""),
        };
        let name = String::from_utf8(percent_decode(name))
            .map_err(|_| Error::new(libc::EINVAL, "URI query parameter name is not UTF-8"))?;
        out.push((name, percent_decode(value)));
    }
    Ok(out)
}

fn decode_utf8(s: &str, what: &str) -> Result<String> {
    String::from_utf8(percent_decode(s))
        .map_err(|_| Error::new(libc::EINVAL, format!("the {what} in the URI is not UTF-8")))
}

/// %XX decoding; a '%' not followed by two hex digits is kept as is.
pub(crate) fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (hex(b.get(i + 1)), hex(b.get(i + 2))) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn hex(c: Option<&u8>) -> Option<u8> {
    match c? {
        c @ b'0'..=b'9' => Some(c - b'0'),
        c @ b'a'..=b'f' => Some(c - b'a' + 10),
        c @ b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Percent-encode every byte except unreserved characters and `keep`.
pub(crate) fn percent_encode(bytes: &[u8], keep: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &c in bytes {
        if c.is_ascii_alphanumeric() || b"-._~".contains(&c) || keep.contains(&c) {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// Characters left alone in a path: RFC 3986 pchar (minus '%') plus '/'.
pub(crate) const PATH_KEEP: &[u8] = b"!$&'()*+,;=:@/";
/// Characters left alone in a query value: as a path, without the
/// separators '&', ';' and '=' (and '+', which some decoders turn into a
/// space).
pub(crate) const QUERY_KEEP: &[u8] = b"!$'()*,:@/?";

/// Whether `s` looks like an NBD URI: one of the nbd schemes, then ":".
pub(crate) fn is_uri(s: &str) -> bool {
    let Some((scheme, _)) = s.split_once(':') else {
        return false;
    };
    let scheme = scheme.to_ascii_lowercase();
    let base = scheme
        .strip_prefix("nbds")
        .or_else(|| scheme.strip_prefix("nbd"));
    matches!(base, Some("" | "+unix" | "+vsock" | "+ssh"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn tcp(host: &str, port: &str) -> UriTransport {
        UriTransport::Tcp {
            host: host.into(),
            port: port.into(),
        }
    }

    #[test]
    fn characters_outside_rfc3986_are_refused() {
        for bad in [
            "nbd+unix:///a b?socket=/s",
            "nbd+unix:///a?socket=/tmp/no pe",
            "nbd+unix:///a%zz?socket=/s",
            "nbd+unix:///a%2?socket=/s",
            "nbd+unix:///\u{e9}?socket=/s",
            "nbd+unix:///a\"b?socket=/s",
            "nbd+unix:///a<b?socket=/s",
            "nbd+unix:///a{b?socket=/s",
            "nbd+unix:///a|b?socket=/s",
            "nbd+unix:///a\\b?socket=/s",
            "nbd+unix:///a^b?socket=/s",
            "nbd+unix:///a`b?socket=/s",
            "nbd+unix:///a\tb?socket=/s",
            "nbd+unix:///a[b]?socket=/s",
        ] {
            let e = parse(bad).map(drop).unwrap_err();
            assert_eq!(e.errno(), libc::EINVAL, "{bad}: {e}");
        }
        for good in [
            "nbd+unix:///a'b(c)*!$+,;=@:~?socket=/s",
            "nbd+unix:///a%20b?socket=/s#frag",
            "nbd://[::1]:10809/e",
        ] {
            parse(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
    }

    #[test]
    fn export_names_per_spec() {
        for (uri, name) in [
            ("nbd://example.com/disk", "disk"),
            ("nbd+unix:///disk?socket=sock", "disk"),
            ("nbd://example.com/", ""),
            ("nbd://example.com", ""),
            ("nbd://example.com//disk", "/disk"),
            ("nbd://example.com/hello%20world", "hello world"),
        ] {
            assert_eq!(parse(uri).unwrap().export_name, name, "{uri}");
        }
    }

    #[test]
    fn transports() {
        let u = parse("nbd://example.com:1234/x").unwrap();
        assert_eq!(u.transport, tcp("example.com", "1234"));
        assert!(!u.tls);
        assert_eq!(
            parse("nbd://").unwrap().transport,
            tcp("localhost", "10809")
        );
        assert_eq!(
            parse("nbd://[::1]:99/").unwrap().transport,
            tcp("::1", "99")
        );
        assert_eq!(
            parse("nbd://127.0.0.1:0/").unwrap().transport,
            tcp("127.0.0.1", "10809")
        );
        let u = parse("nbds+unix://alice@/e?socket=/tmp/s%20x").unwrap();
        assert!(u.tls);
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(
            u.transport,
            UriTransport::Unix {
                socket: "/tmp/s x".into()
            }
        );
        let u = parse("nbd+unix:///?socket=%00abstract").unwrap();
        assert_eq!(
            u.transport,
            UriTransport::Unix {
                socket: "\0abstract".into()
            }
        );
        assert_eq!(
            parse("nbd+vsock:///").unwrap().transport,
            UriTransport::Vsock {
                cid: 2,
                port: 10809
            }
        );
        assert_eq!(
            parse("nbd+vsock://3:77/").unwrap().transport,
            UriTransport::Vsock { cid: 3, port: 77 }
        );
    }

    #[test]
    fn queries() {
        let u = parse("nbd+unix:///?socket=s&tls-psk-file=/k;flag&=ignored").unwrap();
        assert_eq!(
            u.queries,
            vec![
                ("tls-psk-file".to_string(), "/k".to_string()),
                ("flag".to_string(), String::new())
            ]
        );
    }

    #[test]
    fn rejects() {
        for (uri, what) in [
            ("nbd:foo", "must begin"),
            ("http://x/", "unknown NBD URI scheme"),
            ("nbd+unix:///", "socket parameter"),
            ("nbd://h/?socket=x", "incompatible"),
            ("nbd+vsock://abc/", "vsock CID"),
            ("not a uri", "unable to parse"),
        ] {
            let e = parse(uri).unwrap_err();
            assert_eq!(e.errno(), libc::EINVAL, "{uri}");
            assert!(e.message().contains(what), "{uri}: {e}");
        }
    }

    #[test]
    fn encoding() {
        assert_eq!(percent_encode(b"a b?&/", PATH_KEEP), "a%20b%3F&/");
        assert_eq!(percent_decode("a%2fb%zz%"), b"a/b%zz%");
        assert_eq!(percent_encode(b"/tmp/a&b=c", QUERY_KEEP), "/tmp/a%26b%3Dc");
    }

    #[test]
    fn looks_like_uri() {
        for s in [
            "nbd://x",
            "NBDS://x",
            "nbd+unix:///?socket=s",
            "nbds+vsock://2",
            "nbd+ssh://h",
            "nbd:x",
        ] {
            assert!(is_uri(s), "{s}");
        }
        for s in [
            "/tmp/file",
            "file.img",
            "http://x",
            "nbdx://y",
            "",
            "nbd+tcp://x",
        ] {
            assert!(!is_uri(s), "{s}");
        }
    }

    #[test]
    fn ssh_uris() {
        let u = parse("nbd+ssh://alice@example.com:2222/disk?socket=/run/nbd.sock").unwrap();
        assert_eq!(
            u.transport,
            UriTransport::Ssh {
                host: "example.com".into(),
                port: Some("2222".into()),
                user: Some("alice".into()),
                socket: Some("/run/nbd.sock".into()),
            }
        );
        assert_eq!((u.tls, u.export_name.as_str()), (false, "disk"));
        let u = parse("nbds+ssh://example.com").unwrap();
        assert!(u.tls);
        assert_eq!(
            u.transport,
            UriTransport::Ssh {
                host: "example.com".into(),
                port: None,
                user: None,
                socket: None
            }
        );
        assert!(is_uri("nbd+ssh://h") && is_uri("NBDS+SSH://h"));
    }

    #[test]
    pub(crate) fn ssh_uris_refuse_option_like_names() {
        for raw in [
            "nbd+ssh://-oProxyCommand=touch%20x/",
            "nbd+ssh://-oProxyCommand=xeyes",
            "nbd+ssh://-lroot@host/",
            "nbd+ssh://-x@host/",
            "nbd+ssh://al%0Aice@host/",
            "nbd+ssh://al%20ice@host/",
            "nbd+ssh:///",
        ] {
            let e = parse(raw).expect_err(raw);
            assert_eq!(e.errno(), libc::EINVAL, "{raw}: {e}");
        }
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote(b"/tmp/s"), b"'/tmp/s'");
        assert_eq!(shell_quote(b"a'b; rm -rf ~"), b"'a'\\''b; rm -rf ~'");
    }
}
