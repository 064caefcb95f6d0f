//! Connection and server commands run by the network layer (HELLO, AUTH, CLIENT, CONFIG, INFO,
//! COMMAND, QUIT, RESET, SHUTDOWN, …): their specs carry `Handler::Connection`, so
//! `Store::dispatch` checks name and arity and hands them back as `Outcome::Connection`, and
//! karst-net runs them. Arity, flags and ACL categories are Redis 7.0's. Owned by the network
//! layer.

use crate::command::{CommandSpec, Flags, Handler};

const fn conn(
    name: &'static str,
    arity: i32,
    flags: Flags,
    acl: &'static [&'static str],
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags: flags.with(Flags::CONNECTION),
        first_key: 0,
        last_key: 0,
        step: 0,
        acl,
        handler: Handler::Connection,
    }
}

const FAST_NO_AUTH: Flags = Flags::FAST.with(Flags::NO_AUTH);

/// Every connection and server command.
pub(crate) static COMMANDS: &[CommandSpec] = &[
    // HELLO [protover [AUTH username password] [SETNAME clientname]]
    conn("hello", -1, FAST_NO_AUTH, &["fast", "connection"]),
    // AUTH [username] password
    conn("auth", -2, FAST_NO_AUTH, &["fast", "connection"]),
    // CLIENT ID|GETNAME|SETNAME|SETINFO|INFO|LIST|KILL|REPLY|NO-EVICT|NO-TOUCH|PAUSE|UNPAUSE|HELP …
    conn("client", -2, Flags::NONE, &["slow", "connection"]),
    // CONFIG GET|SET|RESETSTAT|REWRITE|HELP …
    conn("config", -2, Flags::NONE, &["admin", "slow", "dangerous"]),
    // INFO [section …]
    conn("info", -1, Flags::NONE, &["slow", "dangerous"]),
    // COMMAND [COUNT|INFO|DOCS|LIST|GETKEYS|GETKEYSANDFLAGS …]
    conn("command", -1, Flags::NONE, &["slow", "connection"]),
    // QUIT
    conn("quit", -1, FAST_NO_AUTH, &["fast", "connection"]),
    // RESET
    conn("reset", 1, FAST_NO_AUTH, &["fast", "connection"]),
    // SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]
    conn("shutdown", -1, Flags::NONE, &["admin", "slow", "dangerous"]),
    // SLOWLOG GET [count]|LEN|RESET|HELP
    conn("slowlog", -2, Flags::NONE, &["admin", "slow", "dangerous"]),
    // FUNCTION FLUSH [ASYNC|SYNC]|LIST|STATS
    conn("function", -2, Flags::NONE, &["slow", "scripting"]),
];
