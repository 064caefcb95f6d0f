//! Server commands that need the store but no connection: PING, ECHO, TIME, LASTSAVE, MEMORY.

use karst_resp::{Args, Output};

use super::{F, arg, err, is};
use crate::command::{CommandSpec, Flags, spec};
use crate::error::Error;
use crate::session::Session;
use crate::store::Store;
use crate::sync::Ordering;

pub(crate) static COMMANDS: &[CommandSpec] = &[
    spec("ping", -1, Flags(F), 0, 0, 0, &["fast", "connection"], ping),
    spec("echo", 2, Flags(F), 0, 0, 0, &["fast", "connection"], echo),
    spec("time", 1, Flags(F), 0, 0, 0, &["fast"], time),
    spec("lastsave", 1, Flags(F), 0, 0, 0, &["admin", "fast", "dangerous"], lastsave),
    spec("memory", -2, Flags(0), 0, 0, 0, &["slow"], memory),
];

/// ```text
/// PING [message]
/// ```
/// `+PONG`, or the message as a bulk string.
fn ping(_: &Store, _: &mut Session, args: Args<'_>, out: &mut Output) {
    match args.len() {
        1 => out.simple("PONG"),
        2 => out.bulk(arg(&args, 1)),
        _ => crate::store::wrong_arity("ping", out),
    }
}

/// ```text
/// ECHO message
/// ```
fn echo(_: &Store, _: &mut Session, args: Args<'_>, out: &mut Output) {
    out.bulk(arg(&args, 1));
}

/// ```text
/// TIME
/// ```
/// `[unix seconds, microseconds]` as bulk strings.
fn time(store: &Store, _: &mut Session, _: Args<'_>, out: &mut Output) {
    let ms = store.now();
    out.array(2);
    out.bulk(itoa::Buffer::new().format(ms.div_euclid(1000)));
    out.bulk(itoa::Buffer::new().format(ms.rem_euclid(1000) * 1000));
}

/// ```text
/// LASTSAVE
/// ```
/// The time of the last save (karst does not save yet: the start time).
fn lastsave(store: &Store, _: &mut Session, _: Args<'_>, out: &mut Output) {
    out.integer(store.inner.lastsave.load(Ordering::Relaxed));
}

/// ```text
/// MEMORY USAGE key [SAMPLES count]
/// ```
/// The bytes the key costs (entry, value, table slot), or nil.
fn memory(store: &Store, s: &mut Session, args: Args<'_>, out: &mut Output) {
    let sub = arg(&args, 1);
    if !is(sub, "usage") {
        return err(out, Error::Other(crate::error::unknown_subcommand("MEMORY", sub)));
    }
    if args.len() < 3 {
        return crate::store::wrong_arity("memory|usage", out);
    }
    match args.len() {
        3 => {}
        5 if is(arg(&args, 3), "samples") => {
            if let Err(e) = super::int_arg(&args, 4) {
                return err(out, e);
            }
        }
        _ => return err(out, Error::Syntax),
    }
    let key = arg(&args, 2);
    let h = store.hash(key);
    let mut g = store.lock(h);
    match g.find(s.db, h, key, store.now()) {
        Some(f) => {
            let value = match f.value() {
                crate::shard::ValRef::Shared(b) => crate::shard::shared_cost(b),
                crate::shard::ValRef::Obj(o) => crate::shard::obj_cost(o),
                _ => 0,
            };
            // The entry, its table slot (8 bytes, the table between 53% and 80% full: about 12)
            // and its TTL index slot.
            let slot = std::mem::size_of::<crate::entry::Entry>() * 3 / 2;
            let ttl = if f.entry.expire().is_some() { crate::shard::TTL_COST } else { 0 };
            out.integer((f.entry.cost() + slot + value + ttl) as i64);
        }
        None => out.null(),
    }
}
