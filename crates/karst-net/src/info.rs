//! INFO: Redis's sections and field names, so tools that parse them (redis-cli, exporters,
//! valkey-glide's `role:master` check) work unchanged.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use crate::commands::REDIS_VERSION;
use crate::config::human_bytes;

use crate::shared::{CommandCounters, LoopCounter, Shared, unix_time};

/// Every section, in Redis's order, and whether plain `INFO` includes it (all but
/// commandstats, as Redis).
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("cluster", true),
    ("keyspace", true),
];

fn default_sections() -> impl Iterator<Item = &'static str> {
    SECTIONS.iter().filter(|(_, default)| *default).map(|(name, _)| *name)
}

fn all_sections() -> impl Iterator<Item = &'static str> {
    SECTIONS.iter().map(|(name, _)| *name)
}

/// The INFO text for the requested sections (none: the default ones).
pub(crate) fn render(shared: &Shared, requested: &[String]) -> String {
    let mut wanted: Vec<&str> = Vec::new();
    if requested.is_empty() {
        wanted.extend(default_sections());
    }
    for r in requested {
        match r.as_str() {
            "default" => wanted.extend(default_sections()),
            "all" | "everything" => wanted.extend(all_sections()),
            s => wanted.extend(all_sections().find(|n| *n == s)),
        }
    }
    let mut out = String::new();
    for section in all_sections() {
        if !wanted.contains(&section) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        section_text(shared, section, &mut out);
    }
    out
}

fn title(out: &mut String, name: &str) {
    let mut t = name.to_string();
    if let Some(first) = t.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    if name == "cpu" {
        t = "CPU".into();
    }
    let _ = write!(out, "# {t}\r\n");
}

macro_rules! field {
    ($out:expr, $name:expr, $value:expr) => {
        let _ = write!($out, "{}:{}\r\n", $name, $value);
    };
}

/// (user seconds, system seconds) of this process, from /proc/self/stat.
pub fn cpu_seconds() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (ticks(11), ticks(12))
}

/// Resident set size in bytes, from /proc/self/statm.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        .map_or(0, |pages| pages * 4096)
}

fn section_text(shared: &Shared, section: &str, out: &mut String) {
    title(out, section);
    let stats = &shared.stats;
    let config = shared.config.read().clone();
    let engine = || shared.store.stats();
    match section {
        "server" => {
            let uptime = shared.started.elapsed().as_secs();
            let (secs, micros) = unix_time();
            field!(out, "redis_version", REDIS_VERSION);
            field!(out, "karst_version", env!("CARGO_PKG_VERSION"));
            field!(out, "redis_git_sha1", "00000000");
            field!(out, "redis_git_dirty", 0);
            field!(out, "redis_build_id", "karst");
            field!(out, "redis_mode", "standalone");
            field!(out, "os", format!("{} {}", std::env::consts::OS, std::env::consts::ARCH));
            field!(out, "arch_bits", usize::BITS);
            field!(out, "monotonic_clock", "POSIX clock_gettime");
            field!(out, "multiplexing_api", "epoll");
            field!(out, "process_id", std::process::id());
            field!(out, "process_supervised", "no");
            field!(out, "run_id", shared.run_id);
            field!(out, "tcp_port", shared.tcp_port.load(Relaxed));
            field!(out, "server_time_usec", secs * 1_000_000 + micros);
            field!(out, "uptime_in_seconds", uptime);
            field!(out, "uptime_in_days", uptime / 86400);
            field!(out, "hz", config.hz);
            field!(out, "configured_hz", config.hz);
            field!(out, "io_threads_active", 0);
            field!(out, "karst_threads", shared.threads);
            let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default();
            field!(out, "executable", exe);
            let file =
                config.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
            field!(out, "config_file", file);
        }
        "clients" => {
            field!(out, "connected_clients", shared.connected.load(Relaxed));
            field!(out, "cluster_connections", 0);
            field!(out, "maxclients", config.maxclients);
            field!(out, "client_recent_max_input_buffer", 0);
            field!(out, "client_recent_max_output_buffer", 0);
            field!(out, "blocked_clients", shared.store.blocked_clients());
            field!(out, "tracking_clients", 0);
            field!(out, "clients_in_timeout_table", 0);
        }
        "memory" => {
            let rss = rss_bytes();
            let used = shared.store.used_memory();
            field!(out, "used_memory", used);
            field!(out, "used_memory_human", human_bytes(used));
            field!(out, "used_memory_rss", rss);
            field!(out, "used_memory_rss_human", human_bytes(rss));
            field!(out, "maxmemory", config.maxmemory);
            field!(out, "maxmemory_human", human_bytes(config.maxmemory));
            field!(out, "maxmemory_policy", config.maxmemory_policy);
            field!(out, "maxmemory_samples", config.maxmemory_samples);
            field!(
                out,
                "mem_fragmentation_ratio",
                format!("{:.2}", rss as f64 / used.max(1) as f64)
            );
            field!(out, "mem_allocator", "mimalloc");
            field!(out, "lazyfree_pending_objects", 0);
        }
        "persistence" => {
            field!(out, "loading", 0);
            field!(out, "async_loading", 0);
            field!(out, "rdb_changes_since_last_save", 0);
            field!(out, "rdb_bgsave_in_progress", 0);
            field!(out, "rdb_last_save_time", shared.started_unix);
            field!(out, "rdb_last_bgsave_status", "ok");
            field!(out, "aof_enabled", 0);
            field!(out, "aof_rewrite_in_progress", 0);
        }
        "stats" => {
            let (_, ops, _) = *stats.ops_sample.lock();
            let e = engine();
            field!(
                out,
                "total_connections_received",
                stats.total_connections_received.load(Relaxed)
            );
            field!(out, "total_commands_processed", stats.commands_processed());
            field!(out, "instantaneous_ops_per_sec", ops);
            field!(out, "total_net_input_bytes", stats.total_net_input_bytes.load(Relaxed));
            field!(out, "total_net_output_bytes", stats.total_net_output_bytes.load(Relaxed));
            field!(out, "rejected_connections", stats.rejected_connections.load(Relaxed));
            field!(out, "expired_keys", e.expired_keys);
            field!(out, "evicted_keys", e.evicted_keys);
            field!(out, "evicted_clients", 0);
            field!(out, "keyspace_hits", e.keyspace_hits);
            field!(out, "keyspace_misses", e.keyspace_misses);
            field!(out, "pubsub_channels", 0);
            field!(out, "pubsub_patterns", 0);
            field!(out, "total_error_replies", stats.total_error_replies.load(Relaxed));
            field!(
                out,
                "client_query_buffer_limit_disconnections",
                stats.client_query_buffer_limit_disconnections.load(Relaxed)
            );
            field!(
                out,
                "client_output_buffer_limit_disconnections",
                stats.client_output_buffer_limit_disconnections.load(Relaxed)
            );
        }
        "replication" => {
            field!(out, "role", "master");
            field!(out, "connected_slaves", 0);
            field!(out, "master_failover_state", "no-failover");
            field!(out, "master_replid", shared.run_id);
            field!(out, "master_replid2", "0000000000000000000000000000000000000000");
            field!(out, "master_repl_offset", 0);
            field!(out, "second_repl_offset", -1);
            field!(out, "repl_backlog_active", 0);
        }
        "cpu" => {
            let (user, sys) = cpu_seconds();
            field!(out, "used_cpu_sys", format!("{sys:.6}"));
            field!(out, "used_cpu_user", format!("{user:.6}"));
            field!(out, "used_cpu_sys_children", "0.000000");
            field!(out, "used_cpu_user_children", "0.000000");
        }
        "commandstats" => {
            let counters = shared.stats.commands.lock().clone();
            for (i, spec) in karst_store::commands().iter().enumerate() {
                let sum = |f: fn(&CommandCounters) -> &Vec<LoopCounter>| -> u64 {
                    counters.iter().map(|c| f(c).get(i).map_or(0, LoopCounter::get)).sum()
                };
                let calls = sum(|c| &c.calls);
                let rejected = sum(|c| &c.rejected);
                if calls == 0 && rejected == 0 {
                    continue;
                }
                let usec = sum(|c| &c.usec);
                let failed = sum(|c| &c.failed);
                let per = if calls == 0 { 0.0 } else { usec as f64 / calls as f64 };
                let _ = write!(
                    out,
                    "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={rejected},failed_calls={failed}\r\n",
                    spec.name
                );
            }
        }
        "errorstats" => {
            for (code, count) in stats.errors.lock().iter() {
                let _ = write!(out, "errorstat_{code}:count={count}\r\n");
            }
        }
        "cluster" => {
            field!(out, "cluster_enabled", 0);
        }
        "keyspace" => {
            let e = engine();
            for (db, (keys, expires)) in e.keys.iter().zip(&e.expires).enumerate() {
                if *keys > 0 {
                    let _ = write!(out, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
                }
            }
        }
        // modules: nothing to list.
        _ => {}
    }
}
