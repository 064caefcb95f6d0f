//! Server options under Redis's names: one table ([`OPTIONS`]) drives the TOML file, the
//! command-line flags, `CONFIG GET`, `CONFIG SET`, `CONFIG REWRITE` and docs/configuration.md, so
//! an option is declared once and validated the same way wherever it comes from.

use std::fmt::Write as _;

/// How the event loops are laid out (see docs/design.md, "karst-net: thread model").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadModel {
    /// One current-thread runtime per thread, each with its own `SO_REUSEPORT` listener: a
    /// connection lives on the thread that accepted it, nothing is shared on the hot path.
    ReusePort,
    /// One multi-thread runtime with work stealing and one listener.
    Shared,
}

/// `client-output-buffer-limit` for one class of clients: close past `hard` bytes, or when the
/// output stays over `soft` bytes for `soft_seconds`. 0 disables a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLimit {
    /// Hard limit in bytes.
    pub hard: u64,
    /// Soft limit in bytes.
    pub soft: u64,
    /// How long the output may stay over `soft`.
    pub soft_seconds: u64,
}

/// Every option of the server. Field docs name the option.
#[derive(Clone, Debug)]
pub struct Config {
    /// `port`
    pub port: u16,
    /// `bind`: addresses to listen on.
    pub bind: Vec<String>,
    /// `requirepass`: empty means no password.
    pub requirepass: String,
    /// `maxmemory` in bytes, 0 = no limit.
    pub maxmemory: u64,
    /// `maxmemory-policy`
    pub maxmemory_policy: String,
    /// `maxmemory-samples`: keys sampled per eviction.
    pub maxmemory_samples: usize,
    /// `maxclients`
    pub maxclients: usize,
    /// `timeout`: idle seconds before a client is closed, 0 = never.
    pub timeout: u64,
    /// `tcp-keepalive` seconds, 0 = off.
    pub tcp_keepalive: u64,
    /// `databases`
    pub databases: usize,
    /// `protected-mode`
    pub protected_mode: bool,
    /// `loglevel`: debug, verbose, notice, warning (or tracing's names).
    pub loglevel: String,
    /// `logfile`: empty = standard error.
    pub logfile: String,
    /// `proto-max-bulk-len`
    pub proto_max_bulk_len: u64,
    /// `client-query-buffer-limit`
    pub client_query_buffer_limit: u64,
    /// `client-output-buffer-limit` for normal, replica and pubsub clients.
    pub client_output_buffer_limit: [OutputLimit; 3],
    /// `slowlog-log-slower-than` in microseconds, negative = off.
    pub slowlog_log_slower_than: i64,
    /// `slowlog-max-len`
    pub slowlog_max_len: u64,
    /// `hz`: frequency of the periodic work on each loop thread.
    pub hz: u64,
    /// `hash-max-listpack-entries` and the other thresholds of the collections' compact
    /// encodings (Redis's names, and the old `*-ziplist-*` ones).
    pub encoding: karst_store::EncodingLimits,
    /// `threads` (karst): event-loop threads, 0 = one per core.
    pub threads: usize,
    /// `shards` (karst): keyspace shards, a power of two.
    pub shards: usize,
    /// `thread-model` (karst): `reuseport` or `shared`.
    pub thread_model: ThreadModel,
    /// `disable-thp`: turn transparent huge pages off for the process at start (as Redis).
    pub disable_thp: bool,
    /// `jemalloc-bg-thread`: hand freed memory back to the kernel from a background thread
    /// (Redis's name; karst's allocator is mimalloc, and the server starts the thread).
    pub purge_thread: bool,
    /// The TOML file the configuration was read from, for `CONFIG REWRITE`.
    pub config_file: Option<std::path::PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 6379,
            bind: vec!["127.0.0.1".to_string()],
            requirepass: String::new(),
            maxmemory: 0,
            maxmemory_policy: "noeviction".to_string(),
            maxmemory_samples: 5,
            maxclients: 10000,
            timeout: 0,
            tcp_keepalive: 300,
            databases: 16,
            protected_mode: true,
            loglevel: "notice".to_string(),
            logfile: String::new(),
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            client_output_buffer_limit: [
                OutputLimit { hard: 0, soft: 0, soft_seconds: 0 },
                OutputLimit { hard: 256 << 20, soft: 64 << 20, soft_seconds: 60 },
                OutputLimit { hard: 32 << 20, soft: 8 << 20, soft_seconds: 60 },
            ],
            slowlog_log_slower_than: 10_000,
            slowlog_max_len: 128,
            hz: 10,
            threads: 0,
            shards: 1024,
            encoding: karst_store::EncodingLimits::default(),
            thread_model: ThreadModel::ReusePort,
            disable_thp: true,
            purge_thread: true,
            config_file: None,
        }
    }
}

/// One option: its name, whether `CONFIG SET` may change it, and how to read and write it.
#[derive(Debug)]
pub struct ConfigOption {
    /// Redis's name (or karst's, for karst-only options).
    pub name: &'static str,
    /// True when `CONFIG SET` can change it while the server runs.
    pub mutable: bool,
    /// Default, as `CONFIG GET` shows it.
    pub default: &'static str,
    /// One line for `--help` and docs/configuration.md.
    pub help: &'static str,
    get: fn(&Config) -> String,
    set: fn(&mut Config, &str) -> Result<(), String>,
}

impl ConfigOption {
    /// The value as `CONFIG GET` shows it.
    pub fn get(&self, config: &Config) -> String {
        (self.get)(config)
    }

    /// Parses and sets the value; the error is Redis's reason text.
    pub fn set(&self, config: &mut Config, value: &str) -> Result<(), String> {
        (self.set)(config, value)
    }
}

/// Every option, in documentation order.
pub static OPTIONS: &[ConfigOption] = &[
    ConfigOption {
        name: "port",
        mutable: false,
        default: "6379",
        help: "TCP port to listen on (0: any free port)",
        get: |c| c.port.to_string(),
        set: |c, v| {
            c.port = parse_int(v)?;
            Ok(())
        },
    },
    ConfigOption {
        name: "bind",
        mutable: false,
        default: "127.0.0.1",
        help: "addresses to listen on, separated by spaces",
        get: |c| c.bind.join(" "),
        set: |c, v| {
            let addrs: Vec<String> = v.split_whitespace().map(str::to_string).collect();
            if addrs.is_empty() {
                return Err("Too many bind addresses specified.".into());
            }
            c.bind = addrs;
            Ok(())
        },
    },
    ConfigOption {
        name: "requirepass",
        mutable: true,
        default: "",
        help: "password of the default user; empty: no authentication",
        get: |c| c.requirepass.clone(),
        set: |c, v| {
            c.requirepass = v.to_string();
            Ok(())
        },
    },
    ConfigOption {
        name: "maxmemory",
        mutable: true,
        default: "0",
        help: "memory limit for data (bytes, or with a unit: 100mb, 1gb); 0: no limit",
        get: |c| c.maxmemory.to_string(),
        set: |c, v| {
            c.maxmemory = parse_memory(v)?;
            Ok(())
        },
    },
    ConfigOption {
        name: "maxmemory-policy",
        mutable: true,
        default: "noeviction",
        help: "what to do at maxmemory: noeviction, allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, volatile-lfu, volatile-random, volatile-ttl",
        get: |c| c.maxmemory_policy.clone(),
        set: |c, v| {
            let Ok(policy) = v.parse::<karst_store::Policy>() else {
                return Err("argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction".into());
            };
            let v = policy.name().to_string();
            c.maxmemory_policy = v;
            Ok(())
        },
    },
    ConfigOption {
        name: "maxmemory-samples",
        mutable: true,
        default: "5",
        help: "keys sampled per eviction by the approximated LRU, LFU and TTL policies",
        get: |c| c.maxmemory_samples.to_string(),
        set: |c, v| {
            let n: usize = parse_int(v)?;
            if n == 0 || n > 64 {
                return Err("argument must be between 1 and 64 inclusive".into());
            }
            c.maxmemory_samples = n;
            Ok(())
        },
    },
    ConfigOption {
        name: "maxclients",
        mutable: true,
        default: "10000",
        help: "most simultaneous client connections",
        get: |c| c.maxclients.to_string(),
        set: |c, v| {
            let n: usize = parse_int(v)?;
            if n == 0 {
                return Err("argument must be between 1 and 4294967295 inclusive".into());
            }
            c.maxclients = n;
            Ok(())
        },
    },
    ConfigOption {
        name: "timeout",
        mutable: true,
        default: "0",
        help: "close a client idle for this many seconds; 0: never",
        get: |c| c.timeout.to_string(),
        set: |c, v| {
            c.timeout = parse_int(v)?;
            Ok(())
        },
    },
    ConfigOption {
        name: "tcp-keepalive",
        mutable: true,
        default: "300",
        help: "TCP keepalive interval in seconds for new connections; 0: off",
        get: |c| c.tcp_keepalive.to_string(),
        set: |c, v| {
            c.tcp_keepalive = parse_int(v)?;
            Ok(())
        },
    },
    ConfigOption {
        name: "databases",
        mutable: false,
        default: "16",
        help: "number of databases (SELECT 0..databases-1)",
        get: |c| c.databases.to_string(),
        set: |c, v| {
            let n: usize = parse_int(v)?;
            if n == 0 {
                return Err("argument must be between 1 and 2147483647 inclusive".into());
            }
            c.databases = n;
            Ok(())
        },
    },
    ConfigOption {
        name: "protected-mode",
        mutable: true,
        default: "yes",
        help: "with no requirepass, refuse clients that are not on the loopback interface",
        get: |c| yes_no(c.protected_mode),
        set: |c, v| {
            c.protected_mode = parse_bool(v)?;
            Ok(())
        },
    },
    ConfigOption {
        name: "loglevel",
        mutable: true,
        default: "notice",
        help: "debug, verbose, notice or warning",
        get: |c| c.loglevel.clone(),
        set: |c, v| {
            let v = v.to_ascii_lowercase();
            if ![
                "debug", "verbose", "notice", "warning", "nothing", "trace", "info", "warn",
                "error",
            ]
            .contains(&v.as_str())
            {
                return Err("argument(s) must be one of the following: debug, verbose, notice, warning, nothing".into());
            }
            c.loglevel = v;
            Ok(())
        },
    },
    ConfigOption {
        name: "logfile",
        mutable: false,
        default: "",
        help: "log file; empty: standard error",
        get: |c| c.logfile.clone(),
        set: |c, v| {
            c.logfile = v.to_string();
            Ok(())
        },
    },
    ConfigOption {
        name: "proto-max-bulk-len",
        mutable: true,
        default: "536870912",
        help: "longest bulk string a client may send (memory units allowed)",
        get: |c| c.proto_max_bulk_len.to_string(),
        set: |c, v| {
            let n = parse_memory(v)?;
            if n < 1024 * 1024 {
                return Err("argument must be a memory value of at least 1mb".into());
            }
            c.proto_max_bulk_len = n;
            Ok(())
        },
    },
    ConfigOption {
        name: "client-query-buffer-limit",
        mutable: true,
        default: "1073741824",
        help: "largest query buffer of one client before it is closed (memory units allowed)",
        get: |c| c.client_query_buffer_limit.to_string(),
        set: |c, v| {
            let n = parse_memory(v)?;
            if n < 1024 * 1024 {
                return Err("argument must be a memory value of at least 1mb".into());
            }
            c.client_query_buffer_limit = n;
            Ok(())
        },
    },
    ConfigOption {
        name: "client-output-buffer-limit",
        mutable: true,
        default: "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        help: "<class> <hard> <soft> <soft-seconds> ...: close a client whose pending replies pass hard, or stay over soft for soft-seconds (classes: normal, replica, pubsub)",
        get: |c| {
            let mut s = String::new();
            for (name, l) in ["normal", "slave", "pubsub"].iter().zip(c.client_output_buffer_limit)
            {
                let _ = write!(s, "{name} {} {} {} ", l.hard, l.soft, l.soft_seconds);
            }
            s.pop();
            s
        },
        set: |c, v| {
            let words: Vec<&str> = v.split_whitespace().collect();
            if words.is_empty() || words.len() % 4 != 0 {
                return Err("Wrong number of arguments in buffer limit configuration.".into());
            }
            let mut limits = c.client_output_buffer_limit;
            for w in words.chunks(4) {
                let class = match w[0].to_ascii_lowercase().as_str() {
                    "normal" => 0,
                    "slave" | "replica" => 1,
                    "pubsub" => 2,
                    _ => {
                        return Err(
                            "Invalid client class specified in buffer limit configuration.".into(),
                        );
                    }
                };
                let bad = || {
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .to_string()
                };
                limits[class] = OutputLimit {
                    hard: parse_memory(w[1]).map_err(|_| bad())?,
                    soft: parse_memory(w[2]).map_err(|_| bad())?,
                    soft_seconds: w[3].parse().map_err(|_| bad())?,
                };
            }
            c.client_output_buffer_limit = limits;
            Ok(())
        },
    },
    ConfigOption {
        name: "slowlog-log-slower-than",
        mutable: true,
        default: "10000",
        help: "log commands slower than this many microseconds in SLOWLOG; negative: off",
        get: |c| c.slowlog_log_slower_than.to_string(),
        set: |c, v| {
            c.slowlog_log_slower_than = parse_int(v)?;
            Ok(())
        },
    },
    ConfigOption {
        name: "slowlog-max-len",
        mutable: true,
        default: "128",
        help: "entries SLOWLOG keeps",
        get: |c| c.slowlog_max_len.to_string(),
        set: |c, v| {
            c.slowlog_max_len = parse_int(v)?;
            Ok(())
        },
    },
    ConfigOption {
        name: "hz",
        mutable: true,
        default: "10",
        help: "how many times a second each loop thread runs periodic work (active expiry)",
        get: |c| c.hz.to_string(),
        set: |c, v| {
            let n: u64 = parse_int(v)?;
            c.hz = n.clamp(1, 500);
            Ok(())
        },
    },
    ConfigOption {
        name: "hash-max-listpack-entries",
        mutable: true,
        default: "512",
        help: "a hash keeps its compact (listpack) encoding up to this many fields",
        get: |c| c.encoding.hash_max_listpack_entries.to_string(),
        set: |c, v| {
            c.encoding.hash_max_listpack_entries = parse_size(v)?;
            Ok(())
        },
    },
    ConfigOption {
        name: "hash-max-listpack-value",
        mutable: true,
        default: "64",
        help: "... and while every field and value is at most this many bytes",
        get: |c| c.encoding.hash_max_listpack_value.to_string(),
        set: |c, v| {
            c.encoding.hash_max_listpack_value = parse_size(v)?;
            Ok(())
        },
    },
    ConfigOption {
        name: "set-max-intset-entries",
        mutable: true,
        default: "512",
        help: "a set of integers keeps its intset encoding up to this many members",
        get: |c| c.encoding.set_max_intset_entries.to_string(),
        set: |c, v| {
            c.encoding.set_max_intset_entries = parse_size(v)?;
            Ok(())
        },
    },
    ConfigOption {
        name: "set-max-listpack-entries",
        mutable: true,
        default: "128",
        help: "a set keeps its compact (listpack) encoding up to this many members",
        get: |c| c.encoding.set_max_listpack_entries.to_string(),
        set: |c, v| {
            c.encoding.set_max_listpack_entries = parse_size(v)?;
            Ok(())
        },
    },
    ConfigOption {
        name: "set-max-listpack-value",
        mutable: true,
        default: "64",
        help: "... and while every member is at most this many bytes",
        get: |c| c.encoding.set_max_listpack_value.to_string(),
        set: |c, v| {
            c.encoding.set_max_listpack_value = parse_size(v)?;
            Ok(())
        },
    },
    ConfigOption {
        name: "zset-max-listpack-entries",
        mutable: true,
        default: "128",
        help: "a sorted set keeps its compact (listpack) encoding up to this many members",
        get: |c| c.encoding.zset_max_listpack_entries.to_string(),
        set: |c, v| {
            c.encoding.zset_max_listpack_entries = parse_size(v)?;
            Ok(())
        },
    },
    ConfigOption {
        name: "zset-max-listpack-value",
        mutable: true,
        default: "64",
        help: "... and while every member is at most this many bytes",
        get: |c| c.encoding.zset_max_listpack_value.to_string(),
        set: |c, v| {
            c.encoding.zset_max_listpack_value = parse_size(v)?;
            Ok(())
        },
    },
    ConfigOption {
        name: "list-max-listpack-size",
        mutable: true,
        default: "-2",
        help: "list nodes hold this many elements (positive) or -1..-5: 4, 8, 16, 32 or 64 KiB",
        get: |c| c.encoding.list_max_listpack_size.to_string(),
        set: |c, v| {
            let n: i64 = parse_int(v)?;
            if !(i64::from(i32::MIN)..=i64::from(i32::MAX)).contains(&n) {
                return Err("argument must be between -2147483648 and 2147483647 inclusive".into());
            }
            c.encoding.list_max_listpack_size = n;
            Ok(())
        },
    },
    ConfigOption {
        name: "threads",
        mutable: false,
        default: "0",
        help: "karst: event-loop threads; 0: one per core",
        get: |c| c.threads.to_string(),
        set: |c, v| {
            c.threads = parse_int(v)?;
            Ok(())
        },
    },
    ConfigOption {
        name: "shards",
        mutable: false,
        default: "1024",
        help: "karst: keyspace shards (a power of two)",
        get: |c| c.shards.to_string(),
        set: |c, v| {
            let n: usize = parse_int(v)?;
            if !n.is_power_of_two() {
                return Err("argument must be a power of two".into());
            }
            c.shards = n;
            Ok(())
        },
    },
    ConfigOption {
        name: "thread-model",
        mutable: false,
        default: "reuseport",
        help: "karst: reuseport (a runtime and a listener per thread) or shared (one work-stealing runtime)",
        get: |c| match c.thread_model {
            ThreadModel::ReusePort => "reuseport".into(),
            ThreadModel::Shared => "shared".into(),
        },
        set: |c, v| {
            c.thread_model = match v.to_ascii_lowercase().as_str() {
                "reuseport" => ThreadModel::ReusePort,
                "shared" => ThreadModel::Shared,
                _ => {
                    return Err(
                        "argument(s) must be one of the following: reuseport, shared".into()
                    );
                }
            };
            Ok(())
        },
    },
    ConfigOption {
        name: "disable-thp",
        mutable: false,
        default: "yes",
        help: "turn transparent huge pages off for the process at start, as Redis does (a \
               growing collection's fresh memory is then zeroed 4 KiB at a time, not 2 MiB)",
        get: |c| yes_no(c.disable_thp),
        set: |c, v| {
            c.disable_thp = parse_bool(v)?;
            Ok(())
        },
    },
    ConfigOption {
        name: "jemalloc-bg-thread",
        mutable: false,
        default: "yes",
        help: "hand freed memory back to the kernel from a background thread, as Redis's \
               jemalloc thread does (the allocator is mimalloc; without the thread a loop thread \
               does it, several ms at a time after a burst of deletions)",
        get: |c| yes_no(c.purge_thread),
        set: |c, v| {
            c.purge_thread = parse_bool(v)?;
            Ok(())
        },
    },
    // Read-only options that clients and tools ask for (redis-benchmark reads `save` and
    // `appendonly`): karst has no persistence yet.
    ConfigOption {
        name: "save",
        mutable: true,
        default: "",
        help: "compatibility: no snapshots yet; accepted and shown as empty",
        get: |_| String::new(),
        set: |_, _| Ok(()),
    },
    ConfigOption {
        name: "appendonly",
        mutable: true,
        default: "no",
        help: "compatibility: no append-only file; only `no` is accepted",
        get: |_| "no".into(),
        set: |_, v| match parse_bool(v)? {
            false => Ok(()),
            true => Err("karst has no append-only file".into()),
        },
    },
];

/// Redis's old names that still work, each with the option it stands for (`CONFIG GET` lists
/// them too, as Redis does).
pub static ALIASES: &[(&str, &str)] = &[
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("list-max-ziplist-size", "list-max-listpack-size"),
];

/// The option called `name` (case-insensitive), under its name or an alias.
pub fn option(name: &str) -> Option<&'static ConfigOption> {
    let name = ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
        .map_or(name, |&(_, canonical)| canonical);
    OPTIONS.iter().find(|o| o.name.eq_ignore_ascii_case(name))
}

impl Config {
    /// Sets option `name` from its text form, as the file, a flag or `CONFIG SET` gives it.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        match option(name) {
            Some(o) => o.set(self, value),
            None => Err(format!("unknown option '{name}'")),
        }
    }

    /// Number of loop threads after resolving 0 to one per core.
    pub fn loop_threads(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }

    /// The configuration as a TOML file (for `CONFIG REWRITE`).
    pub fn to_toml(&self) -> String {
        let mut s = String::from("# Written by CONFIG REWRITE.\n");
        for o in OPTIONS {
            let v = o.get(self);
            if v.parse::<i64>().is_ok() {
                let _ = writeln!(s, "{} = {v}", o.name);
            } else {
                let _ = writeln!(s, "{} = {}", o.name, toml_string(&v));
            }
        }
        s
    }
}

fn toml_string(v: &str) -> String {
    let mut s = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

fn yes_no(b: bool) -> String {
    if b { "yes".into() } else { "no".into() }
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

fn parse_int<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.trim().parse().map_err(|_| "argument couldn't be parsed into an integer".to_string())
}

/// A count or size of Redis's `size_t` options: an integer from 0 to `i64::MAX`, with Redis's
/// errors for text and for numbers out of that range.
fn parse_size(v: &str) -> Result<usize, String> {
    let n: i128 = parse_int(v)?;
    match usize::try_from(n) {
        Ok(n) if n as u64 <= i64::MAX as u64 => Ok(n),
        _ => Err("argument must be between 0 and 9223372036854775807 inclusive".into()),
    }
}

/// Parses a memory amount the way Redis does: a plain number of bytes, or a number with a unit
/// `k`/`kb`/`m`/`mb`/`g`/`gb` (`k` = 1000, `kb` = 1024), case-insensitive.
pub fn parse_memory(v: &str) -> Result<u64, String> {
    let err = || "argument must be a memory value".to_string();
    let v = v.trim().to_ascii_lowercase();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    let n: u64 = digits.parse().map_err(|_| err())?;
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return Err(err()),
    };
    n.checked_mul(mul).ok_or_else(err)
}

/// `1.50M`-style rendering of a byte count, as INFO's `*_human` fields.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 { format!("{n}B") } else { format!("{v:.2}{}", UNITS[i]) }
}

/// Redis's `stringmatchlen` glob: `*`, `?`, `[abc]`, `[^a-z]`, `\x`, case-insensitive when asked.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    fn eq(a: u8, b: u8, nocase: bool) -> bool {
        if nocase { a.eq_ignore_ascii_case(&b) } else { a == b }
    }
    let (mut p, mut i) = (0usize, 0usize);
    // Backtracking point for the last `*`: (pattern index after it, string index).
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        let mut matched = false;
        let mut next_p = p;
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    star = Some((p + 1, i));
                    p += 1;
                    continue;
                }
                b'?' => {
                    matched = true;
                    next_p = p + 1;
                }
                b'[' => {
                    let mut j = p + 1;
                    let not = j < pattern.len() && pattern[j] == b'^';
                    if not {
                        j += 1;
                    }
                    let mut hit = false;
                    while j < pattern.len() && pattern[j] != b']' {
                        if pattern[j] == b'\\' && j + 1 < pattern.len() {
                            j += 1;
                            hit |= eq(pattern[j], s[i], nocase);
                            j += 1;
                        } else if j + 2 < pattern.len() && pattern[j + 1] == b'-' {
                            let (mut lo, mut hi) = (pattern[j], pattern[j + 2]);
                            if lo > hi {
                                std::mem::swap(&mut lo, &mut hi);
                            }
                            let c = s[i];
                            hit |= (lo..=hi).contains(&c)
                                || (nocase && (lo..=hi).contains(&c.to_ascii_lowercase()))
                                || (nocase && (lo..=hi).contains(&c.to_ascii_uppercase()));
                            j += 3;
                        } else {
                            hit |= eq(pattern[j], s[i], nocase);
                            j += 1;
                        }
                    }
                    matched = hit != not;
                    next_p = (j + 1).min(pattern.len());
                }
                b'\\' if p + 1 < pattern.len() => {
                    matched = eq(pattern[p + 1], s[i], nocase);
                    next_p = p + 2;
                }
                c => {
                    matched = eq(c, s[i], nocase);
                    next_p = p + 1;
                }
            }
        }
        if matched {
            p = next_p;
            i += 1;
        } else if let Some((sp, si)) = star {
            p = sp;
            i = si + 1;
            star = Some((sp, si + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_reach_the_option_they_name() {
        for &(alias, name) in ALIASES {
            assert_eq!(option(alias).map(|o| o.name), Some(name), "{alias}");
        }
        let mut c = Config::default();
        c.set("HASH-MAX-ZIPLIST-ENTRIES", "7").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.encoding.hash_max_listpack_entries, 7);
        c.set("list-max-ziplist-size", "-5").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(option("list-max-listpack-size").map(|o| o.get(&c)), Some("-5".to_string()));
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("100mb"), Ok(100 * 1024 * 1024));
        assert_eq!(parse_memory("1GB"), Ok(1 << 30));
        assert_eq!(parse_memory("1k"), Ok(1000));
        assert_eq!(parse_memory("12"), Ok(12));
        assert!(parse_memory("x").is_err());
        assert!(parse_memory("99999999999999999gb").is_err());
    }

    #[test]
    fn globs() {
        assert!(glob_match(b"max*", b"maxmemory-policy", false));
        assert!(glob_match(b"*", b"", false));
        assert!(glob_match(b"h?llo", b"hello", false));
        assert!(glob_match(b"h[ae]llo", b"hallo", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"MAXMEM*", b"maxmemory", true));
        assert!(!glob_match(b"port", b"ports", false));
        assert!(glob_match(b"*-*-*", b"client-output-buffer-limit", false));
    }

    #[test]
    fn every_option_round_trips() {
        let mut c = Config::default();
        for o in OPTIONS {
            let v = o.get(&c);
            if o.name == "bind" || o.name == "appendonly" || o.name == "save" {
                continue;
            }
            o.set(&mut c, &v).unwrap_or_else(|e| panic!("{}: {e}", o.name));
            assert_eq!(o.get(&c), v, "{}", o.name);
        }
    }
}
