//! Opt mode: one negotiation option at a time while the handle is in
//! the Negotiating state. A synchronous `opt_*` is its aio variant plus a
//! wait for the option's result.

use crate::generated::types::{CompletionCallback, ContextCallback, ListCallback};
use crate::handle::Inner;
use crate::protocol::{OptOutcome, OptRequest};
use crate::Result;

fn owned(queries: &[&str]) -> Option<Vec<String>> {
    Some(queries.iter().map(|q| q.to_string()).collect())
}

fn list_meta(queries: Option<Vec<String>>, callback: ContextCallback) -> OptRequest {
    OptRequest::ListMetaContext { queries, callback }
}

fn set_meta(queries: Option<Vec<String>>, callback: ContextCallback) -> OptRequest {
    OptRequest::SetMetaContext { queries, callback }
}

impl Inner {
    fn start_opt(&mut self, req: OptRequest, completion: Option<CompletionCallback>) -> Result<()> {
        let conn = self.conn_mut()?;
        let r = conn
            .first_mut()
            .machine
            .start_option(req, completion)
            .and_then(|()| conn.flush());
        self.after_step();
        r
    }

    /// Run until the option in progress has a result.
    fn wait_opt(&mut self) -> Result<OptOutcome> {
        self.wait_for(|g| g.first_mut().machine.option_result())
    }

    /// The aio meta context calls answer 0 once the option is sent; the
    /// count arrives with the option's result.
    fn start_meta_opt(
        &mut self,
        req: OptRequest,
        completion: Option<CompletionCallback>,
    ) -> Result<i32> {
        self.start_opt(req, completion).map(|()| 0)
    }

    fn run_opt(&mut self, req: OptRequest) -> Result<OptOutcome> {
        self.start_opt(req, None)?;
        self.wait_opt()
    }

    // ---- synchronous ----

    pub(crate) fn do_opt_go(&mut self) -> Result<()> {
        self.run_opt(OptRequest::Go)?;
        // With nbd_set_connections, more connections open now.
        if self.public_state() == crate::generated::types::PublicState::Connecting {
            self.wait_connected()?;
        }
        Ok(())
    }

    pub(crate) fn do_opt_abort(&mut self) -> Result<()> {
        self.run_opt(OptRequest::Abort).map(drop)
    }

    pub(crate) fn do_opt_info(&mut self) -> Result<()> {
        self.run_opt(OptRequest::Info).map(drop)
    }

    pub(crate) fn do_opt_list(&mut self, list: ListCallback) -> Result<i32> {
        self.run_opt(OptRequest::List(list)).map(count)
    }

    pub(crate) fn do_opt_list_meta_context(&mut self, context: ContextCallback) -> Result<i32> {
        self.run_opt(list_meta(None, context)).map(count)
    }

    pub(crate) fn do_opt_list_meta_context_queries(
        &mut self,
        queries: &[&str],
        context: ContextCallback,
    ) -> Result<i32> {
        self.run_opt(list_meta(owned(queries), context)).map(count)
    }

    pub(crate) fn do_opt_set_meta_context(&mut self, context: ContextCallback) -> Result<i32> {
        self.run_opt(set_meta(None, context)).map(count)
    }

    pub(crate) fn do_opt_set_meta_context_queries(
        &mut self,
        queries: &[&str],
        context: ContextCallback,
    ) -> Result<i32> {
        self.run_opt(set_meta(owned(queries), context)).map(count)
    }

    pub(crate) fn do_opt_starttls(&mut self) -> Result<bool> {
        self.run_opt(OptRequest::StartTls).map(accepted)
    }

    pub(crate) fn do_opt_structured_reply(&mut self) -> Result<bool> {
        self.run_opt(OptRequest::StructuredReply).map(accepted)
    }

    pub(crate) fn do_opt_extended_headers(&mut self) -> Result<bool> {
        self.run_opt(OptRequest::ExtendedHeaders).map(accepted)
    }

    // ---- asynchronous ----

    pub(crate) fn do_aio_opt_go(&mut self, completion: Option<CompletionCallback>) -> Result<()> {
        self.start_opt(OptRequest::Go, completion)
    }

    pub(crate) fn do_aio_opt_abort(&mut self) -> Result<()> {
        self.start_opt(OptRequest::Abort, None)
    }

    pub(crate) fn do_aio_opt_info(&mut self, completion: Option<CompletionCallback>) -> Result<()> {
        self.start_opt(OptRequest::Info, completion)
    }

    pub(crate) fn do_aio_opt_list(
        &mut self,
        list: ListCallback,
        completion: Option<CompletionCallback>,
    ) -> Result<()> {
        self.start_opt(OptRequest::List(list), completion)
    }

    pub(crate) fn do_aio_opt_list_meta_context(
        &mut self,
        context: ContextCallback,
        completion: Option<CompletionCallback>,
    ) -> Result<i32> {
        self.start_meta_opt(list_meta(None, context), completion)
    }

    pub(crate) fn do_aio_opt_list_meta_context_queries(
        &mut self,
        queries: &[&str],
        context: ContextCallback,
        completion: Option<CompletionCallback>,
    ) -> Result<i32> {
        self.start_meta_opt(list_meta(owned(queries), context), completion)
    }

    pub(crate) fn do_aio_opt_set_meta_context(
        &mut self,
        context: ContextCallback,
        completion: Option<CompletionCallback>,
    ) -> Result<i32> {
        self.start_meta_opt(set_meta(None, context), completion)
    }

    pub(crate) fn do_aio_opt_set_meta_context_queries(
        &mut self,
        queries: &[&str],
        context: ContextCallback,
        completion: Option<CompletionCallback>,
    ) -> Result<i32> {
        self.start_meta_opt(set_meta(owned(queries), context), completion)
    }

    pub(crate) fn do_aio_opt_starttls(
        &mut self,
        completion: Option<CompletionCallback>,
    ) -> Result<()> {
        self.start_opt(OptRequest::StartTls, completion)
    }

    pub(crate) fn do_aio_opt_structured_reply(
        &mut self,
        completion: Option<CompletionCallback>,
    ) -> Result<()> {
        self.start_opt(OptRequest::StructuredReply, completion)
    }

    pub(crate) fn do_aio_opt_extended_headers(
        &mut self,
        completion: Option<CompletionCallback>,
    ) -> Result<()> {
        self.start_opt(OptRequest::ExtendedHeaders, completion)
    }
}

pub(crate) fn count(o: OptOutcome) -> i32 {
    match o {
        OptOutcome::Count(n) => n,
        other => other.as_i64() as i32,
    }
}

pub(crate) fn accepted(o: OptOutcome) -> bool {
    match o {
        OptOutcome::Accepted(b) => b,
        other => other.as_i64() != 0,
    }
}
