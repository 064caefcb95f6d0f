//! The command table: one metadata line per command, looked up by name with no allocation.

use karst_resp::{Args, Output};

use crate::session::Session;
use crate::store::Store;

/// Properties of a command, as `COMMAND INFO` reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(pub u32);

impl Flags {
    /// No flags.
    pub const NONE: Flags = Flags(0);
    /// Writes the keyspace.
    pub const WRITE: Flags = Flags(1);
    /// Only reads.
    pub const READONLY: Flags = Flags(1 << 1);
    /// May grow memory: refused with -OOM over maxmemory under noeviction.
    pub const DENYOOM: Flags = Flags(1 << 2);
    /// Runs in O(1) or O(log n).
    pub const FAST: Flags = Flags(1 << 3);
    /// Allowed before authentication.
    pub const NO_AUTH: Flags = Flags(1 << 4);
    /// Connection or server command handled by the network layer.
    pub const CONNECTION: Flags = Flags(1 << 5);

    /// Both sets of flags.
    pub const fn with(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// True if every flag of `other` is set.
    pub const fn has(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
}

/// Who executes a command.
#[derive(Clone, Copy)]
pub enum Handler {
    /// The engine.
    Store(fn(&Store, &mut Session, Args<'_>, &mut Output)),
    /// The network layer (connection and server commands: HELLO, AUTH, CLIENT, CONFIG…).
    Connection,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Handler::Store(_) => "Store",
            Handler::Connection => "Connection",
        })
    }
}

/// One command's metadata, declared once.
#[derive(Clone, Copy, Debug)]
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: `n` exactly n arguments (name included), `-n` at least n.
    pub arity: i32,
    /// Flags.
    pub flags: Flags,
    /// Position of the first key (0: no keys).
    pub first_key: i32,
    /// Position of the last key (-1: the last argument).
    pub last_key: i32,
    /// Step between keys.
    pub step: i32,
    /// ACL categories without the `@`.
    pub acl: &'static [&'static str],
    /// Who runs it.
    pub handler: Handler,
}

/// Finds a command by name, ignoring ASCII case, without allocating.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    crate::cmd::TABLE.iter().find(|c| c.name.as_bytes().eq_ignore_ascii_case(name))
}

/// Every command karst knows, in table order (for `COMMAND`, `COMMAND COUNT`, …).
pub fn commands() -> &'static [CommandSpec] {
    crate::cmd::TABLE
}
