//! The command table: one metadata line per command, looked up by name with no allocation.

use karst_resp::{Args, Output};

use crate::session::Session;
use crate::store::Store;

/// Properties of a command, as `COMMAND INFO` reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(pub u32);

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, other: Flags) -> Flags {
        self.with(other)
    }
}

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

    /// Blocked while loading a dataset.
    pub const LOADING: Flags = Flags(1 << 6);
    /// Allowed while the server is stale.
    pub const STALE: Flags = Flags(1 << 7);
    /// Not propagated / hidden from MONITOR (admin commands).
    pub const ADMIN: Flags = Flags(1 << 8);
    /// Not allowed in scripts (the blocking commands, as Redis marks them).
    pub const NOSCRIPT: Flags = Flags(1 << 9);
    /// May block the client (BLPOP, BZPOPMIN…).
    pub const BLOCKING: Flags = Flags(1 << 10);
    /// Its keys are not at fixed positions (LMPOP, ZUNION…): `first_key` is 0 and COMMAND
    /// GETKEYS must parse the arguments.
    pub const MOVABLEKEYS: Flags = Flags(1 << 11);

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

/// Commands whose keys follow a `numkeys` argument, with that argument's position.
const NUMKEYS_AT: &[(&str, usize)] = &[
    ("zunion", 1),
    ("zinter", 1),
    ("zdiff", 1),
    ("zintercard", 1),
    ("sintercard", 1),
    ("lmpop", 1),
    ("zmpop", 1),
    ("zunionstore", 2),
    ("zinterstore", 2),
    ("zdiffstore", 2),
    ("blmpop", 2),
    ("bzmpop", 2),
];

/// C's `atoi`, which Redis uses to read `numkeys` when it locates keys: leading blanks, a sign,
/// then digits up to the first other byte (`"2x"` is 2, `"x"` is 0).
fn atoi(s: &[u8]) -> i64 {
    let (neg, s) = crate::cmd::split_sign(s.trim_ascii_start());
    let digits = s.iter().position(|c| !c.is_ascii_digit()).map_or(s, |end| &s[..end]);
    let n = crate::cmd::saturating_decimal(digits);
    if neg { -n } else { n }
}

impl CommandSpec {
    /// The position of the argument that counts the keys (ZUNION's, BLMPOP's), if it has one.
    pub(crate) fn numkeys_at(&self) -> Option<usize> {
        NUMKEYS_AT.iter().find(|(name, _)| *name == self.name).map(|&(_, at)| at)
    }

    /// The positions of a call's keys (`arg(0)` is the command's name, `argc` counts it), as
    /// COMMAND GETKEYS lists them: the table's first, last and step, then, for commands whose
    /// keys follow a `numkeys` argument, those keys. `None` when `numkeys` does not fit the
    /// arguments (Redis: "Invalid arguments specified for command"); empty for a command
    /// without keys.
    pub fn key_positions<'a>(
        &self,
        argc: usize,
        arg: impl Fn(usize) -> Option<&'a [u8]>,
    ) -> Option<Vec<usize>> {
        let mut keys = Vec::new();
        if self.first_key > 0 {
            let argc = argc as i32;
            let last = if self.last_key < 0 { argc + self.last_key } else { self.last_key };
            let last = last.min(argc - 1);
            let step = self.step.max(1) as usize;
            keys.extend((self.first_key..=last).step_by(step).map(|k| k as usize));
        }
        if let Some(at) = self.numkeys_at() {
            let n = atoi(arg(at)?);
            let room = argc.saturating_sub(at + 1) as i64;
            if n < 1 || n > room {
                return None;
            }
            keys.extend(at + 1..at + 1 + n as usize);
        }
        Some(keys)
    }
}

/// The longest command name (`cluster|countkeysinslot` has 24 characters; room to spare).
const NAME_MAX: usize = 40;

struct Table {
    all: Box<[CommandSpec]>,
    by_name: hashbrown::HashMap<&'static [u8], usize, foldhash::fast::FixedState>,
}

fn table() -> &'static Table {
    static TABLE: std::sync::OnceLock<Table> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut all = Vec::new();
        let mut by_name = hashbrown::HashMap::with_hasher(foldhash::fast::FixedState::default());
        // The first declaration of a name wins: a command the engine runs (DBSIZE, TIME,
        // MEMORY…) stays the engine's even if the network layer's list names it too.
        for c in crate::cmd::FAMILIES.iter().flat_map(|f| f.iter()) {
            if let hashbrown::hash_map::Entry::Vacant(v) = by_name.entry(c.name.as_bytes()) {
                v.insert(all.len());
                all.push(*c);
            }
        }
        let all = all.into_boxed_slice();
        Table { all, by_name }
    })
}

/// Finds a command by name, ignoring ASCII case, without allocating: the name is lowered into
/// a stack buffer and looked up in a map built once.
#[inline]
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    if name.len() > NAME_MAX {
        return None;
    }
    let mut buf = [0u8; NAME_MAX];
    let lower = buf.get_mut(..name.len())?;
    for (d, s) in lower.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    let t = table();
    t.by_name.get(&lower[..]).and_then(|&i| t.all.get(i))
}

/// Every command karst knows, in table order (for `COMMAND`, `COMMAND COUNT`, …).
pub fn commands() -> &'static [CommandSpec] {
    &table().all
}

/// A command spec line: `spec("get", 2, READONLY | FAST, 1, 1, 1, &["read", "string", "fast"], get)`.
#[allow(clippy::too_many_arguments)]
pub(crate) const fn spec(
    name: &'static str,
    arity: i32,
    flags: Flags,
    first_key: i32,
    last_key: i32,
    step: i32,
    acl: &'static [&'static str],
    run: fn(&Store, &mut Session, Args<'_>, &mut Output),
) -> CommandSpec {
    CommandSpec { name, arity, flags, first_key, last_key, step, acl, handler: Handler::Store(run) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lowercase_and_found_in_any_case() {
        let mut seen = std::collections::HashSet::new();
        for c in commands() {
            assert!(seen.insert(c.name), "duplicate command {}", c.name);
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(c.name.len() <= NAME_MAX);
            let upper = c.name.to_ascii_uppercase();
            assert!(std::ptr::eq(lookup(upper.as_bytes()).map_or(std::ptr::null(), |s| s), c));
        }
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(&[b'a'; 100]).is_none());
        assert!(lookup(b"").is_none());
    }

    /// COMMAND GETKEYS answers, checked against redis-server 7.0.
    #[test]
    fn key_positions_follow_numkeys() {
        let keys = |line: &str| {
            let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            let spec = lookup(args[0]).expect("known command");
            spec.key_positions(args.len(), |i| args.get(i).copied()).map(|v| {
                v.iter().map(|&i| String::from_utf8_lossy(args[i]).into_owned()).collect::<Vec<_>>()
            })
        };
        let ok = |line: &str, want: &[&str]| {
            let want: Vec<String> = want.iter().map(|k| k.to_string()).collect();
            assert_eq!(keys(line), Some(want), "{line}");
        };
        ok("zunion 2 a b weights 1 2", &["a", "b"]);
        ok("zunionstore d 2 a b", &["d", "a", "b"]);
        ok("zinterstore d 1 a", &["d", "a"]);
        ok("zdiffstore d 2 a b", &["d", "a", "b"]);
        ok("zintercard 2 a b limit 5", &["a", "b"]);
        ok("sintercard 2 a b", &["a", "b"]);
        ok("lmpop 2 a b left", &["a", "b"]);
        ok("blmpop 0 2 a b left count 2", &["a", "b"]);
        ok("zmpop 1 a min", &["a"]);
        ok("bzmpop 1.5 2 a b max", &["a", "b"]);
        ok("zunion 2x a b", &["a", "b"]);
        ok("mset a 1 b 2", &["a", "b"]);
        ok("get k", &["k"]);
        ok("ping", &[]);
        for bad in ["zunion 3 a b", "zunion 0 a", "zunion x a", "zunion -1 a", "zunionstore d 0 a"]
        {
            assert_eq!(keys(bad), None, "{bad}");
        }
        assert_eq!(keys("lmpop 0 a left"), None);
        assert_eq!(keys("sintercard 5 a"), None);
    }
}
