//! Memory per element of collections: the same hashes, lists, sets and sorted sets loaded into an
//! embedded karst Store and into redis-server in the same run, small ones (many keys of 50
//! elements: the compact encodings) and large ones (one key of many elements: hash table, skip
//! list or B-tree, quicklist). Reports RSS growth and each engine's own accounting per element,
//! and karst's ratios to Redis.
//!
//! Each case runs in a child process of its own (the binary calls itself with the case's name),
//! so the RSS growth of one case is not hidden by memory a previous case left to the allocator.
//!
//! The karst side runs with transparent huge pages off, as karst-server does by default and as
//! redis-server does (`KARST_THP=1` leaves them on).
//!
//! `cargo run --release -p karst-benches --bin memory_per_element [-- ELEMENTS]`

use karst_benches::{RedisServer, SMALL, collection_commands as commands, rss_bytes};
use karst_store::Store;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CASES: &[&str] = &[
    "hash-small",
    "hash-large",
    "list-small",
    "list-large",
    "set-small",
    "set-large",
    "intset-small",
    "set-int-large",
    "zset-small",
    "zset-large",
];

/// Child: loads one case into an embedded Store; prints "rss accounted encoding" per element.
fn karst_case(case: &str, total: usize) {
    let cmds = commands(case, total);
    // Both baselines are taken with the empty store in place, as Redis's are taken after its
    // start-up: what is measured is what the data adds.
    let store = Store::new();
    let rss_before = rss_bytes("self");
    let base = store.used_memory();
    for c in &cmds {
        store.execute(c);
    }
    let rss = rss_bytes("self").saturating_sub(rss_before) as f64 / total as f64;
    let accounted = store.used_memory().saturating_sub(base) as f64 / total as f64;
    let key = cmds.first().and_then(|c| c.get(1)).cloned().unwrap_or_default();
    let enc = format!("{:?}", store.execute(["OBJECT", "ENCODING", &key]));
    println!("{rss} {accounted} {enc}");
}

fn redis_case(case: &str, total: usize) -> std::io::Result<(f64, f64, String)> {
    let cmds = commands(case, total);
    let redis = RedisServer::start(&[])?;
    let mut conn = redis.connect()?;
    let pid = redis.pid().to_string();
    let rss_before = rss_bytes(&pid);
    let used_before = conn.info_field("memory", "used_memory")?;
    for chunk in cmds.chunks(100) {
        for c in chunk {
            conn.queue(c);
        }
        conn.flush()?;
    }
    let rss = rss_bytes(&pid).saturating_sub(rss_before) as f64 / total as f64;
    let used =
        conn.info_field("memory", "used_memory")?.saturating_sub(used_before) as f64 / total as f64;
    let key = cmds.first().and_then(|c| c.get(1)).cloned().unwrap_or_default();
    let enc = format!("{:?}", conn.call(&["OBJECT", "ENCODING", &key])?);
    Ok((rss, used, enc))
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let first = args.next();
    if let Some(case) = first.as_deref().filter(|a| CASES.contains(a)) {
        let total = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
        // As karst-server runs by default (`disable-thp yes`), and as redis-server does.
        if std::env::var_os("KARST_THP").is_none() {
            karst_mem::disable_transparent_huge_pages()?;
        }
        karst_case(case, total);
        return Ok(());
    }
    let total: usize = first.and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let me = std::env::current_exe()?;
    println!("memory per element, {total} elements of 16 B per case (small: {SMALL} per key)");
    println!();
    println!(
        "| case | redis RSS / el | karst RSS / el | RSS karst/redis | redis used_memory / el | karst accounted / el | accounted karst/redis | encodings (redis / karst) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for case in CASES {
        let (r_rss, r_used, r_enc) = redis_case(case, total)?;
        let out =
            std::process::Command::new(&me).args([case.to_string(), total.to_string()]).output()?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut it = text.split_whitespace();
        let k_rss: f64 = it.next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
        let k_acc: f64 = it.next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
        let k_enc = it.collect::<Vec<_>>().join(" ");
        println!(
            "| {case} | {r_rss:.1} B | {k_rss:.1} B | {:.2}× | {r_used:.1} B | {k_acc:.1} B | {:.2}× | {} / {} |",
            k_rss / r_rss,
            k_acc / r_used,
            short(&r_enc),
            short(&k_enc)
        );
    }
    Ok(())
}

/// `Simple(b"listpack")` or `Bulk(b"listpack")` → `listpack`.
fn short(frame: &str) -> String {
    frame.split('"').nth(1).unwrap_or(frame).to_string()
}
