//! The native part of the `libnbd` npm package (`nbd.node`): the `NBD`
//! class over the Rust engine.
//!
//! One method per call, the `…Async` promise methods and one wrapper per
//! callback kind are generated from api.yaml into `generated.rs`; this file
//! holds the handle itself, `close()`, and the hook `index.js` uses to hand
//! over the `NbdError` class. `index.js` and `index.d.ts` (also generated)
//! add the constants, the error class and the types.

use std::cell::RefCell;
use std::rc::Rc;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use driver::Conn;

/// An NBD handle: one connection to an NBD server and its settings.
///
/// Defined before the modules: napi-derive records the struct's JS name
/// when it expands this attribute, and the `#[napi] impl` blocks in
/// `generated.rs` look it up when they expand; expanded the other way
/// round, the class would be registered as `Nbd`.
#[napi(js_name = "NBD", custom_finalize)]
pub struct Nbd {
    conn: RefCell<Option<Rc<Conn>>>,
}

mod callbacks;
mod conv;
mod driver;
mod error;
mod generated;
mod js;

impl Nbd {
    /// The open handle, or the `NbdError` (EBADF) of a closed one. (A
    /// call that takes the handle's lock while one of its callbacks runs
    /// fails in the core, with EDEADLK.)
    pub(crate) fn conn(&self, env: &Env) -> Result<Rc<Conn>> {
        match self.conn.borrow().clone() {
            None => Err(error::throwable(env.raw(), &error::closed(), None)),
            Some(c) => Ok(c),
        }
    }
}

#[napi]
impl Nbd {
    /// Create a new NBD handle.
    #[napi(constructor)]
    pub fn new(env: Env) -> Result<Self> {
        let handle = nbd::Handle::new().map_err(|e| error::throwable(env.raw(), &e, None))?;
        let conn = Conn::new(handle);
        conn.account_memory(&env);
        Ok(Nbd {
            conn: RefCell::new(Some(conn)),
        })
    }

    /// Close the handle and its connection. Promises still pending reject
    /// with ESHUTDOWN; any later call on the handle, including a second
    /// `close()`, throws an `NbdError` with code `EBADF`.
    #[napi]
    pub fn close(&self, env: Env) -> Result<()> {
        let conn = self.conn(&env)?;
        if conn.busy() {
            // From inside one of its own callbacks, which run with the
            // core's lock held: closing now would wait for ever.
            return Err(error::throwable(env.raw(), &error::reentered(), None));
        }
        self.conn.borrow_mut().take();
        conn.release_memory(&env);
        conn.close(&env);
        // The core closes the connection when the last reference goes,
        // which is this one.
        drop(conn);
        Ok(())
    }

    /// Whether `close()` has been called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.conn.borrow().is_none()
    }
}

/// A handle collected without `close()`: V8 stops counting its memory
/// (the connection itself goes when the last reference to it does).
impl ObjectFinalize for Nbd {
    fn finalize(self, env: Env) -> Result<()> {
        if let Some(conn) = self.conn.borrow_mut().take() {
            conn.release_memory(&env);
        }
        Ok(())
    }
}

/// The symbolic name of an errno number, for `NbdError.code`.
#[napi(js_name = "__errnoName")]
pub fn errno_name(errno: i32) -> Option<&'static str> {
    error::errno_name(errno)
}

/// Called once by index.js with its `NbdError` class.
#[napi(js_name = "__setErrorClass")]
pub fn set_error_class(env: Env, class: Unknown<'_>) -> Result<()> {
    error::set_class(env.raw(), class.raw())
}
