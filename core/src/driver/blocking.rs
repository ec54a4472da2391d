//! The blocking driver: run the connection until something is finished.
//! Every synchronous call (connect, opt_*, pread, ...) is its aio variant
//! followed by [`run_until`].

use super::group::Group;
use super::poll::poll_once;
use crate::generated::types::PublicState;
use crate::Result;

/// Drive the connections until `done` says so. `done` is asked before every wait,
/// and also after a failure (a command that failed with the connection
/// has still completed). Fails when the connection can make no more
/// progress and `done` never became true.
pub(crate) fn run_until(conn: &mut Group, mut done: impl FnMut(&mut Group) -> bool) -> Result<()> {
    loop {
        if done(conn) {
            return Ok(());
        }
        // Send what is pending before waiting: a new request can nearly
        // always go out at once, and then the only wait is for the reply.
        let step = conn.flush().and_then(|()| {
            if done(conn) {
                return Ok(true);
            }
            if !conn.has_socket() || conn.direction().bits() == 0 {
                return Err(conn.dead_error());
            }
            poll_once(conn, -1, -1).map(|_| false)
        });
        match step {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => {
                return if done(conn) { Ok(()) } else { Err(e) };
            }
        }
    }
}

/// Wait until the handshake is over: the connection is ready (or, in opt
/// mode, negotiating), and so are the extra connections of a multi-conn
/// handle. A failed or closed connection is an error.
pub(crate) fn wait_until_connected(conn: &mut Group) -> Result<()> {
    // The public state is Connecting both while the socket connects and
    // while the handshakes run.
    let waiting = |c: &Group| c.public_state() == PublicState::Connecting;
    while waiting(conn) {
        let step = conn.flush().and_then(|()| {
            if !waiting(conn) {
                return Ok(());
            }
            if !conn.has_socket() || conn.direction().bits() == 0 {
                return Err(conn.dead_error());
            }
            poll_once(conn, -1, -1).map(|_| ())
        });
        if let Err(e) = step {
            if waiting(conn) || conn.public_state() == PublicState::Dead {
                return Err(e);
            }
        }
    }
    match conn.public_state() {
        PublicState::Connected | PublicState::Negotiating => Ok(()),
        _ => Err(conn.dead_error()),
    }
}
