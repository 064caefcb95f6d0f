//! The store handle.

use std::sync::Arc;

use bytes::Bytes;
use karst_resp::{Args, Frame, Output, Protocol, ReplyParser};

use crate::command::{CommandSpec, Handler, lookup};
use crate::session::Session;

/// What [`Store::dispatch`] did with a command.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// The reply is in the output.
    Done,
    /// A connection or server command: the caller runs it (its name and arity are checked).
    Connection(&'static CommandSpec),
}

#[derive(Debug, Default)]
struct Inner {}

/// The engine: cheap to clone, usable from any thread.
#[derive(Clone, Debug, Default)]
pub struct Store {
    inner: Arc<Inner>,
}

impl Store {
    /// A store with default settings.
    pub fn new() -> Store {
        Store::default()
    }

    /// Looks the command up, checks its arity, and runs it (or hands it back, for connection
    /// commands). Errors are replies with Redis's wording.
    pub fn dispatch(&self, session: &mut Session, args: Args<'_>, out: &mut Output) -> Outcome {
        let _ = &self.inner;
        let Some(name) = args.get(0) else {
            return Outcome::Done;
        };
        let Some(spec) = lookup(name) else {
            unknown_command(name, args, out);
            return Outcome::Done;
        };
        let n = args.len() as i32;
        if (spec.arity > 0 && n != spec.arity) || n < -spec.arity {
            out.error(format!("ERR wrong number of arguments for '{}' command", spec.name));
            return Outcome::Done;
        }
        match spec.handler {
            Handler::Store(run) => {
                run(self, session, args, out);
                Outcome::Done
            }
            Handler::Connection => Outcome::Connection(spec),
        }
    }

    /// Runs one command in-process and returns its reply (RESP3 form).
    pub fn execute<I, A>(&self, args: I) -> Frame
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        let args: Vec<Bytes> = args.into_iter().map(|a| Bytes::copy_from_slice(a.as_ref())).collect();
        let mut out = Output::new(Protocol::Resp3);
        let mut session = Session::new();
        if let Outcome::Connection(spec) = self.dispatch(&mut session, Args::from_slice(&args), &mut out)
        {
            out.error(format!("ERR '{}' is not available in an embedded store", spec.name));
        }
        let bytes = out.take();
        match ReplyParser::default().parse_slice(&bytes) {
            Ok(Some((frame, _))) => frame,
            _ => Frame::Error(Bytes::from_static(b"ERR internal error: unreadable reply")),
        }
    }
}

/// `ERR unknown command 'x', with args beginning with: 'a' 'b' `
fn unknown_command(name: &[u8], args: Args<'_>, out: &mut Output) {
    let mut msg = String::from("ERR unknown command '");
    msg.push_str(&String::from_utf8_lossy(&name[..name.len().min(128)]));
    msg.push_str("', with args beginning with: ");
    for arg in args.iter().skip(1) {
        msg.push('\'');
        msg.push_str(&String::from_utf8_lossy(&arg[..arg.len().min(128)]));
        msg.push_str("' ");
    }
    out.error(msg);
}
