//! Connecting (every transport, sync and aio), URIs, and shutting down.
//! A synchronous connect is its aio variant followed by a wait until the
//! handshake is over.

use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use socket2::SockAddr;

use crate::driver::blocking::{run_until, wait_until_connected};
use crate::driver::{Connection, Group, Peer};
use crate::generated::types::{AllowTransport, CmdFlag, PublicState, Shutdown, Tls};
use crate::handle::Inner;
use crate::tls::TlsParams;
use crate::transport::{
    adopt_socket, resolve_tcp, spawn_command, spawn_socket_activation, unix_addr, vsock_addr,
};
use crate::uri::{self, UriTransport};
use crate::{Error, Result};

impl Inner {
    /// Install a new connection; fail if it is already dead (the first
    /// connect attempt failed at once).
    fn install(&mut self, mut conn: Connection) -> Result<()> {
        let host = match &conn.peer {
            Peer::Tcp { host, .. } => Some(host.as_str()),
            _ => None,
        };
        conn.tls_params = TlsParams::new(&self.settings.tls, host);
        let dead = conn.public_state() == PublicState::Dead;
        let err = dead.then(|| conn.dead_error());
        self.conn = Some(Group::new(
            conn,
            self.settings.connections,
            self.settings.reconnect_delay,
        ));
        self.after_step();
        match err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    pub(super) fn wait_connected(&mut self) -> Result<()> {
        let r = wait_until_connected(self.conn_mut()?);
        self.after_step();
        r
    }

    // ---- aio connects ----

    pub(crate) fn do_aio_connect(&mut self, addr: &SockAddr) -> Result<()> {
        let conn = Connection::connect(
            self.settings.config.clone(),
            vec![addr.clone()],
            Peer::Addr(addr.clone()),
        );
        self.install(conn)
    }

    pub(crate) fn do_aio_connect_unix(&mut self, unixsocket: &Path) -> Result<()> {
        let addr = unix_addr(unixsocket)?;
        self.do_aio_connect(&addr)
    }

    pub(crate) fn do_aio_connect_vsock(&mut self, cid: u32, port: u32) -> Result<()> {
        self.do_aio_connect(&vsock_addr(cid, port))
    }

    pub(crate) fn do_aio_connect_tcp(&mut self, hostname: &str, port: &str) -> Result<()> {
        let addrs = resolve_tcp(hostname, port)?;
        let peer = Peer::Tcp {
            host: hostname.to_string(),
            port: port.to_string(),
        };
        let conn = Connection::connect(self.settings.config.clone(), addrs, peer);
        self.install(conn)
    }

    pub(crate) fn do_aio_connect_socket(&mut self, sock: RawFd) -> Result<()> {
        let socket = adopt_socket(sock)?;
        let conn = Connection::over_socket(self.settings.config.clone(), socket, Peer::Socket);
        self.install(conn)
    }

    pub(crate) fn do_aio_connect_command(&mut self, argv: &[&str]) -> Result<()> {
        let (socket, child) = spawn_command(argv)?;
        let mut conn = Connection::over_socket(self.settings.config.clone(), socket, Peer::Command);
        conn.child = Some(child);
        self.install(conn)
    }

    pub(crate) fn do_aio_connect_systemd_socket_activation(&mut self, argv: &[&str]) -> Result<()> {
        let (addr, child, dir) =
            spawn_socket_activation(argv, &self.settings.socket_activation_name)?;
        let mut conn = Connection::connect(
            self.settings.config.clone(),
            vec![addr.clone()],
            Peer::Activation(addr),
        );
        conn.child = Some(child);
        conn.activation = Some(dir);
        self.install(conn)
    }

    pub(crate) fn do_aio_connect_uri(&mut self, raw: &str) -> Result<()> {
        let u = uri::parse(raw)?;
        let (bit, name) = match u.transport {
            UriTransport::Tcp { .. } => (AllowTransport::TCP, "TCP"),
            UriTransport::Unix { .. } => (AllowTransport::UNIX, "Unix"),
            UriTransport::Vsock { .. } => (AllowTransport::VSOCK, "vsock"),
            UriTransport::Ssh { .. } => (AllowTransport::SSH, "ssh"),
        };
        if self.settings.uri_allow_transports.bits() & bit.bits() == 0 {
            return Err(Error::new(
                libc::EPERM,
                format!("URI transport {} ({name}) is not permitted", u.scheme),
            ));
        }
        let allow_tls = self.settings.uri_allow_tls;
        if (u.tls && allow_tls == Tls::DISABLE) || (!u.tls && allow_tls == Tls::REQUIRE) {
            return Err(Error::new(
                libc::EPERM,
                format!("URI TLS setting {} is not permitted", u.scheme),
            ));
        }
        if u.tls {
            // Refuse before touching any setting.
            self.do_set_tls(Tls::REQUIRE)?;
        }
        for (k, v) in &u.queries {
            match k.as_str() {
                "tls-certificates" | "tls-psk-file" => {
                    if !self.settings.uri_allow_local_file {
                        return Err(Error::new(
                            libc::EPERM,
                            format!("local file access ({k}) is not allowed, call nbd_set_uri_allow_local_file to enable this"),
                        ));
                    }
                    if k == "tls-certificates" {
                        self.do_set_tls_certificates(Path::new(v))?;
                    } else {
                        self.do_set_tls_psk_file(Path::new(v))?;
                    }
                }
                "tls-verify-peer" => {
                    let verify = match v.as_str() {
                        "1" | "true" | "on" | "yes" => true,
                        "0" | "false" | "off" | "no" => false,
                        _ => {
                            return Err(Error::new(
                                libc::EINVAL,
                                format!("cannot parse tls-verify-peer={v}: expecting a boolean"),
                            ))
                        }
                    };
                    self.do_set_tls_verify_peer(verify)?;
                }
                "tls-hostname" => self.do_set_tls_hostname(v)?,
                "tls-username" => self.do_set_tls_username(v)?,
                _ => {
                    let msg = format!("ignoring unknown URI query parameter {k}={v}");
                    self.debug("nbd_connect_uri", &msg);
                }
            }
        }
        if let Some(user) = &u.user {
            self.do_set_tls_username(user)?;
        }
        self.do_set_export_name(&u.export_name)?;
        match &u.transport {
            UriTransport::Tcp { host, port } => self.do_aio_connect_tcp(host, port),
            UriTransport::Unix { socket } => self.do_aio_connect_unix(Path::new(socket)),
            UriTransport::Vsock { cid, port } => self.do_aio_connect_vsock(*cid, *port),
            UriTransport::Ssh {
                host,
                port,
                user,
                socket,
            } => {
                let argv = ssh_argv(host, port.as_deref(), user.as_deref(), socket.as_deref())?;
                let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                self.debug("nbd_connect_uri", &format!("running {argv:?}"));
                self.do_aio_connect_command(&argv)
            }
        }
    }

    // ---- sync connects ----

    pub(crate) fn do_connect_uri(&mut self, uri: &str) -> Result<()> {
        self.do_aio_connect_uri(uri)?;
        self.wait_connected()
    }

    pub(crate) fn do_connect_unix(&mut self, unixsocket: &Path) -> Result<()> {
        self.do_aio_connect_unix(unixsocket)?;
        self.wait_connected()
    }

    pub(crate) fn do_connect_vsock(&mut self, cid: u32, port: u32) -> Result<()> {
        self.do_aio_connect_vsock(cid, port)?;
        self.wait_connected()
    }

    pub(crate) fn do_connect_tcp(&mut self, hostname: &str, port: &str) -> Result<()> {
        self.do_aio_connect_tcp(hostname, port)?;
        self.wait_connected()
    }

    pub(crate) fn do_connect_socket(&mut self, sock: RawFd) -> Result<()> {
        self.do_aio_connect_socket(sock)?;
        self.wait_connected()
    }

    pub(crate) fn do_connect_command(&mut self, argv: &[&str]) -> Result<()> {
        self.do_aio_connect_command(argv)?;
        self.wait_connected()
    }

    pub(crate) fn do_connect_systemd_socket_activation(&mut self, argv: &[&str]) -> Result<()> {
        self.do_aio_connect_systemd_socket_activation(argv)?;
        self.wait_connected()
    }

    // ---- the URI of the current connection ----

    pub(crate) fn do_get_uri(&mut self) -> Result<String> {
        let conn = self.conn()?;
        // As libnbd: an nbds URI when TLS is required or was negotiated.
        let using_tls = self.settings.config.tls == Tls::REQUIRE || conn.first().machine.info().tls;
        let s = if using_tls { "s" } else { "" };
        let user = match &self.settings.tls.username {
            Some(u) => format!("{}@", uri::percent_encode(u.as_bytes(), b"!$&'()*+,;=")),
            None => String::new(),
        };
        let mut query = Vec::new();
        let authority = match &conn.first().peer {
            Peer::Tcp { host, port } => format!("nbd{s}://{user}{}", host_port(host, port)),
            Peer::Addr(a) | Peer::Activation(a) => {
                if let Some(sa) = a.as_socket() {
                    format!(
                        "nbd{s}://{user}{}",
                        host_port(&sa.ip().to_string(), &sa.port().to_string())
                    )
                } else if let Some(path) = a.as_pathname() {
                    query.push(format!(
                        "socket={}",
                        uri::percent_encode(path.as_os_str().as_bytes(), uri::QUERY_KEEP)
                    ));
                    format!("nbd{s}+unix://{user}")
                } else if let Some(name) = a.as_abstract_namespace() {
                    let mut bytes = vec![0u8];
                    bytes.extend_from_slice(name);
                    query.push(format!(
                        "socket={}",
                        uri::percent_encode(&bytes, uri::QUERY_KEEP)
                    ));
                    format!("nbd{s}+unix://{user}")
                } else if let Some((cid, port)) = a.as_vsock_address() {
                    let port = if port == 10809 {
                        String::new()
                    } else {
                        format!(":{port}")
                    };
                    format!("nbd{s}+vsock://{user}{cid}{port}")
                } else {
                    return Err(Error::new(
                        libc::EPROTONOSUPPORT,
                        "cannot get URI for this connection type",
                    ));
                }
            }
            Peer::Socket | Peer::Command => {
                return Err(Error::new(
                    libc::EINVAL,
                    "cannot construct a URI for this connection type",
                ))
            }
        };
        if let Some(dir) = &self.settings.tls.certificates {
            query.push(format!(
                "tls-certificates={}",
                uri::percent_encode(dir.as_bytes(), uri::QUERY_KEEP)
            ));
        }
        if let Some(file) = &self.settings.tls.psk_file {
            query.push(format!(
                "tls-psk-file={}",
                uri::percent_encode(file.as_bytes(), uri::QUERY_KEEP)
            ));
        }
        if let Some(host) = &self.settings.tls.hostname {
            query.push(format!(
                "tls-hostname={}",
                uri::percent_encode(host.as_bytes(), uri::QUERY_KEEP)
            ));
        }
        if !self.settings.tls.verify_peer {
            query.push("tls-verify-peer=false".to_string());
        }
        let path = uri::percent_encode(self.settings.config.export_name.as_bytes(), uri::PATH_KEEP);
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{}", query.join("&"))
        };
        Ok(format!("{authority}/{path}{query}"))
    }

    // ---- disconnecting ----

    pub(crate) fn do_aio_disconnect(&mut self, _flags: CmdFlag) -> Result<()> {
        let conn = self.conn_mut()?;
        let r = conn.disconnect(false).and_then(|()| conn.flush());
        self.after_step();
        r
    }

    pub(crate) fn do_shutdown(&mut self, flags: Shutdown) -> Result<()> {
        let abandon = flags.bits() & Shutdown::ABANDON_PENDING.bits() != 0;
        let conn = self.conn_mut()?;
        // Without ABANDON_PENDING every command already issued completes
        // first. Waiting here, rather than queueing NBD_CMD_DISC right
        // behind requests the server has not seen yet, also keeps servers
        // that stop answering once they read NBD_CMD_DISC (as nbdkit may
        // with requests still in its queue) from dropping those replies.
        let ended =
            |g: &mut Group| matches!(g.public_state(), PublicState::Closed | PublicState::Dead);
        let drained = if abandon || conn.public_state() != PublicState::Connected {
            Ok(())
        } else {
            run_until(conn, |g| g.in_flight() == 0 || ended(g))
        };
        let r = drained
            .and_then(|()| match conn.public_state() {
                // The server may have gone while the commands drained.
                PublicState::Closed | PublicState::Dead => Ok(()),
                // nbd_aio_disconnect came first: just wait for the end.
                _ if conn.disconnecting() => Ok(()),
                _ => conn.disconnect(abandon),
            })
            .and_then(|()| run_until(conn, ended));
        self.after_step();
        r
    }
}

/// The command tunnelling an nbd+ssh URI: `ssh` logs in to `host` and
/// runs `nc` there, connected to the server's Unix socket or to its TCP
/// port 10809 on the far host's localhost. The host and user were checked
/// not to look like options, and `--` ends ssh's options anyway; the
/// socket path is quoted for the remote shell.
fn ssh_argv(
    host: &str,
    port: Option<&str>,
    user: Option<&str>,
    socket: Option<&std::ffi::OsStr>,
) -> Result<Vec<String>> {
    let mut argv = vec!["ssh".to_string()];
    if let Some(p) = port {
        argv.extend(["-p".to_string(), p.to_string()]);
    }
    if let Some(u) = user {
        argv.extend(["-l".to_string(), u.to_string()]);
    }
    argv.extend(["--".to_string(), host.to_string()]);
    let remote = match socket {
        Some(s) => {
            let quoted = uri::shell_quote(s.as_bytes());
            let quoted = String::from_utf8(quoted).map_err(|_| {
                Error::new(
                    libc::EINVAL,
                    "the socket path of an nbd+ssh URI must be UTF-8",
                )
            })?;
            format!("nc -U {quoted}")
        }
        None => format!("nc localhost {}", uri::DEFAULT_PORT),
    };
    argv.push(remote);
    Ok(argv)
}

/// `host[:port]` with IPv6 literals bracketed and the default port left out.
fn host_port(host: &str, port: &str) -> String {
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        uri::percent_encode(host.as_bytes(), b"!$&'()*+,;=")
    };
    if port == uri::DEFAULT_PORT {
        host
    } else {
        format!("{host}:{}", uri::percent_encode(port.as_bytes(), b""))
    }
}
