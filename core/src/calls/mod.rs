//! The hand-written `do_*` side of every call in api.yaml, grouped by
//! topic. The generated dispatch (`generated/dispatch.rs`) has already
//! taken the lock and checked the state, enums and flags.

mod aio;
mod connect;
mod data;
mod info;
pub(crate) mod misc;
pub(crate) mod opt;
mod settings;

use crate::driver::blocking::run_until;
use crate::driver::Group;
use crate::handle::Inner;
use crate::Result;

impl Inner {
    /// Drive the connection until `result` has an answer, and return it.
    /// When the connection can go no further without one, its failure
    /// (or, when it simply stopped, why it is dead) is the answer.
    fn wait_for<T>(
        &mut self,
        mut result: impl FnMut(&mut Group) -> Option<Result<T>>,
    ) -> Result<T> {
        let conn = self.conn_mut()?;
        let mut found = None;
        let r = run_until(conn, |m| {
            found = result(m);
            found.is_some()
        });
        let dead = conn.dead_error();
        self.after_step();
        match (found, r) {
            (Some(res), _) => res,
            (None, Err(e)) => Err(e),
            (None, Ok(())) => Err(dead),
        }
    }
}
