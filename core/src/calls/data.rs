//! Data commands: the synchronous calls (which lend the caller's buffer
//! to the machine for exactly as long as the call lasts) and the aio
//! calls (which hand over an owned `AioBuffer`).

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use crate::generated::types::{
    ChunkCallback, CmdFlag, CompletionCallback, Extent64Callback, ExtentCallback,
};
use crate::handle::Inner;
use crate::protocol::{Command, CommandKind, ExtentSink};
use crate::{AioBuffer, Error, Result};

fn filter(contexts: &[&str]) -> Option<Vec<String>> {
    Some(contexts.iter().map(|c| c.to_string()).collect())
}

impl Inner {
    /// Queue a command (see `Group::submit`: a lone request goes out at
    /// once; with others in flight it joins the queue, and the next poll
    /// or notify sends every queued request in one vectored write, which
    /// is one system call for a whole batch; aio_get_direction reports
    /// WRITE meanwhile, so event loops that follow it, as libnbd asks,
    /// send them).
    pub(crate) fn submit(&mut self, cmd: Command) -> Result<u64> {
        let r = self.conn_mut()?.submit(cmd);
        self.after_step();
        r
    }

    /// Run until command `cookie` completes, retire it, and return its
    /// result.
    pub(crate) fn wait_command(&mut self, cookie: u64) -> Result<()> {
        self.wait_for(|g| match g.command_completed(cookie) {
            Ok(false) => None,
            Ok(true) => Some(Ok(())),
            Err(e) => Some(Err(e)),
        })
    }

    /// Send a command with no completion callback and wait for it.
    fn run_command(&mut self, kind: CommandKind, flags: CmdFlag) -> Result<()> {
        let cookie = self.submit(Command {
            kind,
            flags,
            completion: None,
        })?;
        self.wait_command(cookie)
    }

    /// Queue an aio command; its cookie is the result.
    fn submit_aio(
        &mut self,
        kind: CommandKind,
        completion: Option<CompletionCallback>,
        flags: CmdFlag,
    ) -> Result<u64> {
        self.submit(Command {
            kind,
            flags,
            completion,
        })
    }

    /// Lend `len` bytes at `ptr` to the machine as an `AioBuffer` for the
    /// duration of `f`, and make sure the machine holds no reference to
    /// them afterwards, even if `f` fails or a callback panics.
    fn with_lent_buffer<R>(
        &mut self,
        ptr: *mut u8,
        len: usize,
        f: impl FnOnce(&mut Inner, AioBuffer) -> Result<R>,
    ) -> Result<R> {
        // SAFETY: `ptr` comes from a slice borrowed for this whole call.
        // Every clone of the buffer is gone before we return: `f` waits for
        // the command to retire, and on any other path the check below
        // throws the machine (and with it every clone) away.
        let buf = unsafe { AioBuffer::from_raw_parts(ptr, len) };
        let probe = buf.clone();
        let outcome = catch_unwind(AssertUnwindSafe(|| f(self, buf)));
        if probe.is_shared() {
            self.scrap_connection(Error::new(
                libc::EIO,
                "a synchronous command was abandoned before it completed; the connection was closed",
            ));
        }
        if probe.is_shared() {
            // Returning would leave the machine able to touch memory the
            // caller is about to reuse; there is no safe way on.
            eprintln!(
                "libnbd: internal error: buffer still referenced after a synchronous command"
            );
            std::process::abort();
        }
        match outcome {
            Ok(r) => r,
            Err(panic) => resume_unwind(panic),
        }
    }

    /// Throw the connection's machine away (dropping every command, its
    /// buffers and callbacks) and leave the handle dead.
    fn scrap_connection(&mut self, err: Error) {
        if let Some(conn) = self.conn.as_mut() {
            conn.scrap(&self.settings.config, err);
        }
        self.after_step();
    }

    // ---- synchronous ----

    pub(crate) fn do_pread(&mut self, buf: &mut [u8], offset: u64, flags: CmdFlag) -> Result<()> {
        self.with_lent_buffer(buf.as_mut_ptr(), buf.len(), |inner, buf| {
            inner.run_command(CommandKind::read(buf, offset, None), flags)
        })
    }

    pub(crate) fn do_pread_structured(
        &mut self,
        buf: &mut [u8],
        offset: u64,
        chunk: ChunkCallback,
        flags: CmdFlag,
    ) -> Result<()> {
        self.with_lent_buffer(buf.as_mut_ptr(), buf.len(), |inner, buf| {
            inner.run_command(CommandKind::read(buf, offset, Some(chunk)), flags)
        })
    }

    pub(crate) fn do_pwrite(&mut self, buf: &[u8], offset: u64, flags: CmdFlag) -> Result<()> {
        // The machine only reads from a write's buffer.
        self.with_lent_buffer(buf.as_ptr() as *mut u8, buf.len(), |inner, buf| {
            inner.run_command(CommandKind::write(buf, offset), flags)
        })
    }

    pub(crate) fn do_flush(&mut self, flags: CmdFlag) -> Result<()> {
        self.run_command(CommandKind::Flush, flags)
    }

    pub(crate) fn do_trim(&mut self, count: u64, offset: u64, flags: CmdFlag) -> Result<()> {
        self.run_command(CommandKind::trim(count, offset), flags)
    }

    pub(crate) fn do_cache(&mut self, count: u64, offset: u64, flags: CmdFlag) -> Result<()> {
        self.run_command(CommandKind::cache(count, offset), flags)
    }

    pub(crate) fn do_zero(&mut self, count: u64, offset: u64, flags: CmdFlag) -> Result<()> {
        self.run_command(CommandKind::zero(count, offset), flags)
    }

    pub(crate) fn do_block_status(
        &mut self,
        count: u64,
        offset: u64,
        extent: ExtentCallback,
        flags: CmdFlag,
    ) -> Result<()> {
        let sink = ExtentSink::Narrow(extent);
        self.run_command(CommandKind::block_status(count, offset, sink, None), flags)
    }

    pub(crate) fn do_block_status_64(
        &mut self,
        count: u64,
        offset: u64,
        extent64: Extent64Callback,
        flags: CmdFlag,
    ) -> Result<()> {
        let sink = ExtentSink::Wide(extent64);
        self.run_command(CommandKind::block_status(count, offset, sink, None), flags)
    }

    pub(crate) fn do_block_status_filter(
        &mut self,
        count: u64,
        offset: u64,
        contexts: &[&str],
        extent64: Extent64Callback,
        flags: CmdFlag,
    ) -> Result<()> {
        let sink = ExtentSink::Wide(extent64);
        self.run_command(
            CommandKind::block_status(count, offset, sink, filter(contexts)),
            flags,
        )
    }

    // ---- asynchronous ----

    pub(crate) fn do_aio_pread(
        &mut self,
        buf: AioBuffer,
        offset: u64,
        completion: Option<CompletionCallback>,
        flags: CmdFlag,
    ) -> Result<u64> {
        self.submit_aio(CommandKind::read(buf, offset, None), completion, flags)
    }

    pub(crate) fn do_aio_pread_structured(
        &mut self,
        buf: AioBuffer,
        offset: u64,
        chunk: ChunkCallback,
        completion: Option<CompletionCallback>,
        flags: CmdFlag,
    ) -> Result<u64> {
        self.submit_aio(
            CommandKind::read(buf, offset, Some(chunk)),
            completion,
            flags,
        )
    }

    pub(crate) fn do_aio_pwrite(
        &mut self,
        buf: AioBuffer,
        offset: u64,
        completion: Option<CompletionCallback>,
        flags: CmdFlag,
    ) -> Result<u64> {
        self.submit_aio(CommandKind::write(buf, offset), completion, flags)
    }

    pub(crate) fn do_aio_flush(
        &mut self,
        completion: Option<CompletionCallback>,
        flags: CmdFlag,
    ) -> Result<u64> {
        self.submit_aio(CommandKind::Flush, completion, flags)
    }

    pub(crate) fn do_aio_trim(
        &mut self,
        count: u64,
        offset: u64,
        completion: Option<CompletionCallback>,
        flags: CmdFlag,
    ) -> Result<u64> {
        self.submit_aio(CommandKind::trim(count, offset), completion, flags)
    }

    pub(crate) fn do_aio_cache(
        &mut self,
        count: u64,
        offset: u64,
        completion: Option<CompletionCallback>,
        flags: CmdFlag,
    ) -> Result<u64> {
        self.submit_aio(CommandKind::cache(count, offset), completion, flags)
    }

    pub(crate) fn do_aio_zero(
        &mut self,
        count: u64,
        offset: u64,
        completion: Option<CompletionCallback>,
        flags: CmdFlag,
    ) -> Result<u64> {
        self.submit_aio(CommandKind::zero(count, offset), completion, flags)
    }

    pub(crate) fn do_aio_block_status(
        &mut self,
        count: u64,
        offset: u64,
        extent: ExtentCallback,
        completion: Option<CompletionCallback>,
        flags: CmdFlag,
    ) -> Result<u64> {
        let kind = CommandKind::block_status(count, offset, ExtentSink::Narrow(extent), None);
        self.submit_aio(kind, completion, flags)
    }

    pub(crate) fn do_aio_block_status_64(
        &mut self,
        count: u64,
        offset: u64,
        extent64: Extent64Callback,
        completion: Option<CompletionCallback>,
        flags: CmdFlag,
    ) -> Result<u64> {
        let kind = CommandKind::block_status(count, offset, ExtentSink::Wide(extent64), None);
        self.submit_aio(kind, completion, flags)
    }

    pub(crate) fn do_aio_block_status_filter(
        &mut self,
        count: u64,
        offset: u64,
        contexts: &[&str],
        extent64: Extent64Callback,
        completion: Option<CompletionCallback>,
        flags: CmdFlag,
    ) -> Result<u64> {
        let sink = ExtentSink::Wide(extent64);
        let kind = CommandKind::block_status(count, offset, sink, filter(contexts));
        self.submit_aio(kind, completion, flags)
    }
}
