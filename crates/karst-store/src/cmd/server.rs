//! PING and ECHO.

use karst_resp::{Args, Output};

use crate::command::{CommandSpec, Flags, Handler};
use crate::session::Session;
use crate::store::Store;

/// ```text
/// PING [message]
/// ```
/// `+PONG`, or the message as a bulk string.
pub(crate) const PING: CommandSpec = CommandSpec {
    name: "ping",
    arity: -1,
    flags: Flags::FAST,
    first_key: 0,
    last_key: 0,
    step: 0,
    acl: &["fast", "connection"],
    handler: Handler::Store(ping),
};

fn ping(_: &Store, _: &mut Session, args: Args<'_>, out: &mut Output) {
    match args.len() {
        1 => out.simple("PONG"),
        2 => out.bulk(args.get(1).unwrap_or_default()),
        _ => out.error("ERR wrong number of arguments for 'ping' command"),
    }
}

/// ```text
/// ECHO message
/// ```
pub(crate) const ECHO: CommandSpec = CommandSpec {
    name: "echo",
    arity: 2,
    flags: Flags::FAST,
    first_key: 0,
    last_key: 0,
    step: 0,
    acl: &["fast", "connection"],
    handler: Handler::Store(echo),
};

fn echo(_: &Store, _: &mut Session, args: Args<'_>, out: &mut Output) {
    out.bulk(args.get(1).unwrap_or_default());
}
