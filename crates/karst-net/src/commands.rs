//! Connection and server commands: the ones the store hands back with `Outcome::Connection`
//! because they act on the connection or the server (HELLO, AUTH, CLIENT, CONFIG, INFO,
//! COMMAND, QUIT, RESET, SHUTDOWN, SLOWLOG, FUNCTION).
//!
//! Errors use Redis 7's wording.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use karst_resp::{Args, Output, Protocol};
use karst_store::{CommandSpec, Flags, Session, commands, lookup};

use crate::config::{self, ALIASES, OPTIONS, glob_match};
use crate::conn::{ConnState, Flow};
use crate::info;
use crate::shared::ClientInfo;

/// The Redis version karst reports to clients, which parse it to pick features.
pub const REDIS_VERSION: &str = "7.0.15";

/// Runs connection command `spec`; `out` is where its reply goes.
pub(crate) fn run(
    st: &mut ConnState,
    spec: &'static CommandSpec,
    args: Args<'_>,
    out: &mut Output,
) -> Flow {
    if let Some(i) = crate::shared::command_index(spec) {
        st.info.last_cmd.store(i + 1, Relaxed);
    }
    match spec.name {
        "hello" => hello(st, args, out),
        "auth" => auth(st, args, out),
        "client" => return client(st, args, out),
        "config" => config_cmd(st, args, out),
        "info" => info_cmd(st, args, out),
        "command" => command(args, out),
        "quit" => {
            out.ok();
            return Flow::Close;
        }
        "reset" => reset(st, out),
        "shutdown" => return shutdown(st, args, out),
        "slowlog" => slowlog(st, args, out),
        "function" => function(args, out),
        _ => out.error(format!("ERR unknown command '{}'", spec.name)),
    }
    Flow::Continue
}

// --- helpers -----------------------------------------------------------------------------------

fn is(arg: Option<&[u8]>, word: &str) -> bool {
    arg.is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()))
}

fn text(arg: Option<&[u8]>) -> String {
    String::from_utf8_lossy(arg.unwrap_or_default()).into_owned()
}

fn parse_i64(arg: Option<&[u8]>) -> Option<i64> {
    std::str::from_utf8(arg?).ok()?.parse().ok()
}

fn unknown_subcommand(args: Args<'_>, cmd: &str, out: &mut Output) {
    out.error(karst_store::unknown_subcommand(cmd, args.get(1).unwrap_or_default()));
}

fn wrong_arity(name: &str, out: &mut Output) {
    out.error(format!("ERR wrong number of arguments for '{name}' command"));
}

fn help(out: &mut Output, lines: &[&str]) {
    out.array(lines.len());
    for l in lines {
        out.simple(l);
    }
}

/// True when `user`/`pass` authenticate as the default user.
fn credentials_ok(st: &ConnState, user: &[u8], pass: &[u8]) -> bool {
    if user != b"default" {
        return false;
    }
    let config = st.shared.config.read();
    config.requirepass.is_empty() || config.requirepass.as_bytes() == pass
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

// --- HELLO, AUTH, RESET -------------------------------------------------------------------------

/// ```text
/// HELLO [protover [AUTH username password] [SETNAME clientname]]
/// ```
fn hello(st: &mut ConnState, args: Args<'_>, out: &mut Output) {
    let mut i = 1;
    let mut proto = None;
    if args.len() > 1 {
        match parse_i64(args.get(1)) {
            None => return out.error("ERR Protocol version is not an integer or out of range"),
            Some(v) if !(2..=3).contains(&v) => {
                return out.error("NOPROTO unsupported protocol version");
            }
            Some(v) => proto = Some(v),
        }
        i = 2;
    }
    let mut creds = None;
    let mut setname = None;
    while i < args.len() {
        let more = args.len() - i - 1;
        if is(args.get(i), "AUTH") && more >= 2 {
            creds =
                Some((args.get(i + 1).unwrap_or_default(), args.get(i + 2).unwrap_or_default()));
            i += 3;
        } else if is(args.get(i), "SETNAME") && more >= 1 {
            setname = args.get(i + 1);
            i += 2;
        } else {
            return out.error(format!("ERR Syntax error in HELLO option '{}'", text(args.get(i))));
        }
    }
    if let Some((user, pass)) = creds {
        if !credentials_ok(st, user, pass) {
            return out.error(WRONGPASS);
        }
        st.authenticated = true;
        st.info.names.lock().user = String::from_utf8_lossy(user).into_owned();
    }
    if !st.authenticated {
        return out.error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        );
    }
    if let Some(name) = setname {
        if !valid_client_name(name) {
            return out
                .error("ERR Client names cannot contain spaces, newlines or special characters.");
        }
        st.info.names.lock().name = String::from_utf8_lossy(name).into_owned();
    }
    if let Some(p) = proto {
        st.protocol = if p == 3 { Protocol::Resp3 } else { Protocol::Resp2 };
        st.info.resp.store(p as u8, Relaxed);
        out.set_protocol(st.protocol);
    }
    out.map(7);
    out.bulk("server");
    out.bulk("redis");
    out.bulk("version");
    out.bulk(REDIS_VERSION);
    out.bulk("proto");
    out.integer(if st.protocol == Protocol::Resp3 { 3 } else { 2 });
    out.bulk("id");
    out.integer(st.info.id as i64);
    out.bulk("mode");
    out.bulk("standalone");
    out.bulk("role");
    out.bulk("master");
    out.bulk("modules");
    out.array(0);
}

/// ```text
/// AUTH [username] password
/// ```
fn auth(st: &mut ConnState, args: Args<'_>, out: &mut Output) {
    let (user, pass) = match args.len() {
        2 => (&b"default"[..], args.get(1).unwrap_or_default()),
        3 => (args.get(1).unwrap_or_default(), args.get(2).unwrap_or_default()),
        _ => return out.error("ERR syntax error"),
    };
    if args.len() == 2 && st.shared.config.read().requirepass.is_empty() {
        return out.error(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        );
    }
    if credentials_ok(st, user, pass) {
        st.authenticated = true;
        st.info.names.lock().user = String::from_utf8_lossy(user).into_owned();
        out.ok();
    } else {
        out.error(WRONGPASS);
    }
}

/// ```text
/// RESET
/// ```
/// `+RESET`: back to RESP2, database 0, replies on, no name, and unauthenticated when a password
/// is set.
fn reset(st: &mut ConnState, out: &mut Output) {
    st.session = Session::new();
    st.protocol = Protocol::Resp2;
    st.info.resp.store(2, Relaxed);
    out.set_protocol(Protocol::Resp2);
    st.reply_off = false;
    st.skip_next = false;
    st.authenticated = st.shared.config.read().requirepass.is_empty();
    {
        let mut names = st.info.names.lock();
        names.name.clear();
        names.user = "default".into();
    }
    out.simple("RESET");
}

/// ```text
/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]
/// ```
/// No reply: the server stops accepting, flushes pending replies and exits.
fn shutdown(st: &mut ConnState, args: Args<'_>, out: &mut Output) -> Flow {
    for a in args.iter().skip(1) {
        let ok =
            ["NOSAVE", "SAVE", "NOW", "FORCE"].iter().any(|w| a.eq_ignore_ascii_case(w.as_bytes()));
        if a.eq_ignore_ascii_case(b"ABORT") {
            out.error("ERR No shutdown in progress.");
            return Flow::Continue;
        }
        if !ok {
            out.error("ERR syntax error");
            return Flow::Continue;
        }
    }
    tracing::warn!(id = st.info.id, "SHUTDOWN requested by a client");
    st.shared.begin_shutdown();
    Flow::Close
}

// --- CLIENT ------------------------------------------------------------------------------------

const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ID",
    "    Return the ID of the current connection.",
    "GETNAME",
    "    Return the name of the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <LIB-NAME|LIB-VER> <value>",
    "    Set client meta attributes.",
    "INFO",
    "    Return information about the current client connection.",
    "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <id> ...]",
    "    Return information about client connections.",
    "KILL <ip:port> | KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options: ID, ADDR, LADDR, USER, TYPE, SKIPME, MAXAGE.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "NO-EVICT (ON|OFF)",
    "NO-TOUCH (ON|OFF)",
    "UNPAUSE",
    "HELP",
    "    Prints this help.",
];

fn client(st: &mut ConnState, args: Args<'_>, out: &mut Output) -> Flow {
    let sub = args.get(1).unwrap_or_default().to_ascii_uppercase();
    let n = args.len();
    match (sub.as_slice(), n) {
        (b"ID", 2) => out.integer(st.info.id as i64),
        (b"GETNAME", 2) => {
            let name = st.info.names.lock().name.clone();
            if name.is_empty() { out.null() } else { out.bulk(name) }
        }
        (b"SETNAME", 3) => {
            let name = args.get(2).unwrap_or_default();
            if !valid_client_name(name) {
                out.error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
            } else {
                st.info.names.lock().name = String::from_utf8_lossy(name).into_owned();
                out.ok();
            }
        }
        (b"SETINFO", 4) => {
            let value = args.get(3).unwrap_or_default();
            let attr = args.get(2).unwrap_or_default();
            if !valid_client_name(value) {
                out.error(format!(
                    "ERR {} cannot contain spaces, newlines or special characters.",
                    String::from_utf8_lossy(attr).to_ascii_lowercase()
                ));
            } else if attr.eq_ignore_ascii_case(b"LIB-NAME") {
                st.info.names.lock().lib_name = String::from_utf8_lossy(value).into_owned();
                out.ok();
            } else if attr.eq_ignore_ascii_case(b"LIB-VER") {
                st.info.names.lock().lib_ver = String::from_utf8_lossy(value).into_owned();
                out.ok();
            } else {
                out.error(format!("ERR Unrecognized option '{}'", String::from_utf8_lossy(attr)));
            }
        }
        (b"INFO", 2) => {
            let line = client_line(st, &st.info);
            out.verbatim(b"txt", format!("{line}\n").as_bytes());
        }
        (b"LIST", _) => client_list(st, args, out),
        (b"KILL", 3..) => return client_kill(st, args, out),
        (b"REPLY", 3) => {
            let mode = args.get(2).unwrap_or_default();
            if mode.eq_ignore_ascii_case(b"ON") {
                let was_off = st.reply_off;
                st.reply_off = false;
                st.skip_next = false;
                if was_off {
                    // `out` is the discarded output while replies were off; the connection
                    // sends the +OK of REPLY ON itself.
                    st.reply_on_ok = true;
                } else {
                    out.ok();
                }
            } else if mode.eq_ignore_ascii_case(b"OFF") {
                st.reply_off = true;
            } else if mode.eq_ignore_ascii_case(b"SKIP") {
                if !st.reply_off {
                    st.skip_armed = true;
                }
            } else {
                out.error("ERR syntax error");
            }
        }
        (b"NO-EVICT", 3) | (b"NO-TOUCH", 3) => {
            let v = args.get(2).unwrap_or_default();
            let on = if v.eq_ignore_ascii_case(b"ON") {
                true
            } else if v.eq_ignore_ascii_case(b"OFF") {
                false
            } else {
                out.error("ERR syntax error");
                return Flow::Continue;
            };
            if sub == b"NO-EVICT" {
                st.session.no_evict = on;
            } else {
                st.session.no_touch = on;
            }
            out.ok();
        }
        // Pausing clients is not implemented; saying OK would let a failover script believe
        // writes are held.
        (b"PAUSE", 3 | 4) => out.error("ERR CLIENT PAUSE is not supported by karst yet"),
        (b"UNPAUSE", 2) => out.ok(),
        (b"GETREDIR", 2) => out.integer(-1),
        (b"UNBLOCK", 3 | 4) => client_unblock(st, args, out),
        (b"TRACKINGINFO", 2) => {
            out.map(3);
            out.bulk("flags");
            out.set(1);
            out.bulk("off");
            out.bulk("redirect");
            out.integer(-1);
            out.bulk("prefixes");
            out.array(0);
        }
        (b"HELP", 2) => help(out, CLIENT_HELP),
        (
            b"ID" | b"GETNAME" | b"SETNAME" | b"SETINFO" | b"INFO" | b"KILL" | b"REPLY"
            | b"NO-EVICT" | b"NO-TOUCH" | b"PAUSE" | b"UNPAUSE" | b"GETREDIR" | b"UNBLOCK"
            | b"TRACKINGINFO" | b"HELP",
            _,
        ) => wrong_arity(
            &format!("client|{}", String::from_utf8_lossy(&sub).to_ascii_lowercase()),
            out,
        ),
        _ => unknown_subcommand(args, "CLIENT", out),
    }
    Flow::Continue
}

/// `CLIENT UNBLOCK id [TIMEOUT | ERROR]`: ends a blocking command's wait, with its timeout
/// reply or `-UNBLOCKED`. 1 if the client was blocked, else 0.
fn client_unblock(st: &ConnState, args: Args<'_>, out: &mut Output) {
    let Some(id) = args.get(2).and_then(karst_resp::num::parse_i64) else {
        return out.error("ERR value is not an integer or out of range");
    };
    let error = match args.get(3) {
        None => false,
        Some(r) if r.eq_ignore_ascii_case(b"TIMEOUT") => false,
        Some(r) if r.eq_ignore_ascii_case(b"ERROR") => true,
        Some(_) => return out.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
    };
    let target = u64::try_from(id).ok().and_then(|id| st.shared.clients.lock().get(&id).cloned());
    let unblocker = target.and_then(|c| c.blocked.lock().clone());
    out.integer(i64::from(unblocker.is_some_and(|u| u.unblock(error))));
}

/// One line of CLIENT LIST, in Redis's field order.
fn client_line(st: &ConnState, c: &ClientInfo) -> String {
    let now = st.shared.now_ms();
    let names = c.names.lock().clone();
    let idle = now.saturating_sub(c.last_active_ms.load(Relaxed)) / 1000;
    let qbuf = c.qbuf.load(Relaxed);
    let omem = c.omem.load(Relaxed);
    let cmd = match c.last_cmd.load(Relaxed) {
        0 => "NULL",
        i => commands().get(i - 1).map_or("NULL", |s| s.name),
    };
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={idle} flags={} db={} sub=0 psub=0 ssub=0 multi=-1 qbuf={qbuf} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem={omem} tot-mem={} events=r cmd={cmd} user={} redir=-1 resp={} lib-name={} lib-ver={}",
        c.id,
        c.addr,
        c.laddr,
        c.fd,
        names.name,
        c.created.elapsed().as_secs(),
        if c.blocked.lock().is_some() { "b" } else { "N" },
        c.db.load(Relaxed),
        qbuf + omem + 16384,
        if names.user.is_empty() { "default" } else { &names.user },
        c.resp.load(Relaxed),
        names.lib_name,
        names.lib_ver,
    )
}

fn client_list(st: &mut ConnState, args: Args<'_>, out: &mut Output) {
    let mut ids: Option<Vec<u64>> = None;
    let mut i = 2;
    while i < args.len() {
        if is(args.get(i), "TYPE") && i + 1 < args.len() {
            let t = args.get(i + 1).unwrap_or_default().to_ascii_lowercase();
            match t.as_slice() {
                b"normal" => {}
                b"master" | b"replica" | b"slave" | b"pubsub" => ids = Some(Vec::new()),
                _ => {
                    return out
                        .error(format!("ERR Unknown client type '{}'", text(args.get(i + 1))));
                }
            }
            i += 2;
        } else if is(args.get(i), "ID") && i + 1 < args.len() {
            let mut v = Vec::new();
            for a in args.iter().skip(i + 1) {
                match std::str::from_utf8(a).ok().and_then(|s| s.parse::<u64>().ok()) {
                    Some(id) if id > 0 => v.push(id),
                    _ => return out.error("ERR Invalid client ID"),
                }
            }
            ids = Some(v);
            i = args.len();
        } else {
            return out.error("ERR syntax error");
        }
    }
    let clients: Vec<Arc<ClientInfo>> = st.shared.clients.lock().values().cloned().collect();
    let mut s = String::new();
    for c in clients {
        if ids.as_ref().is_some_and(|ids| !ids.contains(&c.id)) {
            continue;
        }
        s.push_str(&client_line(st, &c));
        s.push('\n');
    }
    out.verbatim(b"txt", s.as_bytes());
}

fn kill(c: &ClientInfo) {
    c.killed.store(true, Relaxed);
    c.wake.wake();
}

/// ```text
/// CLIENT KILL ip:port
/// CLIENT KILL [ID id] [ADDR ip:port] [LADDR ip:port] [USER name] [TYPE type] [SKIPME yes|no] [MAXAGE secs]
/// ```
fn client_kill(st: &mut ConnState, args: Args<'_>, out: &mut Output) -> Flow {
    let clients: Vec<Arc<ClientInfo>> = st.shared.clients.lock().values().cloned().collect();
    if args.len() == 3 {
        let addr = text(args.get(2));
        let Some(c) = clients.iter().find(|c| c.addr.to_string() == addr) else {
            out.error("ERR No such client");
            return Flow::Continue;
        };
        kill(c);
        out.ok();
        return if c.id == st.info.id { Flow::Close } else { Flow::Continue };
    }
    if args.len() % 2 != 0 {
        out.error("ERR syntax error");
        return Flow::Continue;
    }
    let (mut id, mut addr, mut laddr, mut user, mut maxage) = (None, None, None, None, None);
    let mut skipme = true;
    let mut no_type = false;
    let mut i = 2;
    while i + 1 < args.len() {
        let value = args.get(i + 1);
        let opt = args.get(i).unwrap_or_default().to_ascii_uppercase();
        match opt.as_slice() {
            b"ID" => match parse_i64(value) {
                Some(v) if v > 0 => id = Some(v as u64),
                _ => {
                    out.error("ERR client-id should be greater than 0");
                    return Flow::Continue;
                }
            },
            b"ADDR" => addr = Some(text(value)),
            b"LADDR" => laddr = Some(text(value)),
            b"USER" => user = Some(text(value)),
            b"MAXAGE" => match parse_i64(value) {
                Some(v) => maxage = Some(v),
                None => {
                    out.error("ERR value is not an integer or out of range");
                    return Flow::Continue;
                }
            },
            b"TYPE" => {
                let t = text(value).to_ascii_lowercase();
                match t.as_str() {
                    "normal" => {}
                    "master" | "replica" | "slave" | "pubsub" => no_type = true,
                    _ => {
                        out.error(format!("ERR Unknown client type '{}'", text(value)));
                        return Flow::Continue;
                    }
                }
            }
            b"SKIPME" => {
                if is(value, "yes") {
                    skipme = true;
                } else if is(value, "no") {
                    skipme = false;
                } else {
                    out.error("ERR syntax error");
                    return Flow::Continue;
                }
            }
            _ => {
                out.error("ERR syntax error");
                return Flow::Continue;
            }
        }
        i += 2;
    }
    let mut killed = 0;
    let mut myself = false;
    for c in clients.iter() {
        if no_type
            || id.is_some_and(|id| id != c.id)
            || addr.as_ref().is_some_and(|a| *a != c.addr.to_string())
            || laddr.as_ref().is_some_and(|a| *a != c.laddr.to_string())
            || maxage.is_some_and(|m| (c.created.elapsed().as_secs() as i64) < m)
            || (skipme && c.id == st.info.id)
        {
            continue;
        }
        if let Some(u) = &user {
            let cu = c.names.lock().user.clone();
            let cu = if cu.is_empty() { "default".to_string() } else { cu };
            if *u != cu {
                continue;
            }
        }
        kill(c);
        killed += 1;
        myself |= c.id == st.info.id;
    }
    out.integer(killed);
    if myself { Flow::Close } else { Flow::Continue }
}

// --- CONFIG ------------------------------------------------------------------------------------

const CONFIG_HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
];

fn config_cmd(st: &mut ConnState, args: Args<'_>, out: &mut Output) {
    let sub = args.get(1).unwrap_or_default().to_ascii_uppercase();
    match sub.as_slice() {
        b"GET" if args.len() >= 3 => {
            let config = st.shared.config.read();
            let mut found: Vec<(String, String)> = Vec::new();
            let mut add = |name: String, value: String| {
                if !found.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
                    found.push((name, value));
                }
            };
            for pattern in args.iter().skip(2) {
                // As Redis: a name without a glob character is looked up (case aside) and
                // echoed as the client spelled it; a pattern lists the names it matches.
                if !pattern.iter().any(|c| b"*?[".contains(c)) {
                    let name = String::from_utf8_lossy(pattern);
                    if let Some(o) = config::option(&name) {
                        add(name.into_owned(), o.get(&config));
                    }
                    continue;
                }
                let names = OPTIONS.iter().map(|o| (o.name, o)).chain(
                    ALIASES
                        .iter()
                        .filter_map(|&(alias, name)| Some((alias, config::option(name)?))),
                );
                for (name, o) in names {
                    if glob_match(pattern, name.as_bytes(), true) {
                        add(name.to_owned(), o.get(&config));
                    }
                }
            }
            drop(config);
            out.map(found.len());
            for (name, value) in found {
                out.bulk(name);
                out.bulk(value);
            }
        }
        b"SET" if args.len() >= 4 && args.len() % 2 == 0 => config_set(st, args, out),
        b"SET" if args.len() >= 4 => out.error("ERR syntax error"),
        b"RESETSTAT" if args.len() == 2 => {
            st.shared.stats.reset();
            st.shared.slowlog.lock().clear();
            out.ok();
        }
        b"REWRITE" if args.len() == 2 => {
            let config = st.shared.config.read().clone();
            match &config.config_file {
                None => out.error("ERR The server is running without a config file"),
                Some(path) => match std::fs::write(path, config.to_toml()) {
                    Ok(()) => out.ok(),
                    Err(e) => out.error(format!("ERR Rewriting config file: {e}")),
                },
            }
        }
        b"HELP" if args.len() == 2 => help(out, CONFIG_HELP),
        b"GET" | b"SET" | b"RESETSTAT" | b"REWRITE" | b"HELP" => wrong_arity(
            &format!("config|{}", String::from_utf8_lossy(&sub).to_ascii_lowercase()),
            out,
        ),
        _ => unknown_subcommand(args, "CONFIG", out),
    }
}

/// All pairs are checked before any is applied: either every option changes or none does.
fn config_set(st: &mut ConnState, args: Args<'_>, out: &mut Output) {
    let mut next = st.shared.config.read().clone();
    let mut seen: Vec<&'static str> = Vec::new();
    let mut i = 2;
    while i + 1 < args.len() {
        let name = text(args.get(i));
        let value = text(args.get(i + 1));
        let Some(opt) = config::option(&name) else {
            return out.error(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            ));
        };
        let fail = |why: &str| {
            format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
        };
        if seen.contains(&opt.name) {
            return out.error(fail("duplicate parameter"));
        }
        seen.push(opt.name);
        if !opt.mutable {
            return out.error(fail("can't set immutable config"));
        }
        if let Err(why) = opt.set(&mut next, &value) {
            return out.error(fail(&why));
        }
        i += 2;
    }
    *st.shared.config.write() = next.clone();
    st.shared.config_epoch.fetch_add(1, Relaxed);
    crate::shared::apply_to_store(&st.shared.store, &next);
    for hook in st.shared.config_hooks.lock().iter() {
        hook(&st.shared.store, &next);
    }
    out.ok();
}

// --- INFO, SLOWLOG, FUNCTION -------------------------------------------------------------

fn info_cmd(st: &mut ConnState, args: Args<'_>, out: &mut Output) {
    let sections: Vec<String> =
        args.iter().skip(1).map(|a| String::from_utf8_lossy(a).to_ascii_lowercase()).collect();
    let text = info::render(&st.shared, &sections);
    out.verbatim(b"txt", text.as_bytes());
}

fn slowlog(st: &mut ConnState, args: Args<'_>, out: &mut Output) {
    let sub = args.get(1).unwrap_or_default().to_ascii_uppercase();
    match (sub.as_slice(), args.len()) {
        (b"GET", 2 | 3) => {
            let count = if args.len() == 3 {
                match parse_i64(args.get(2)) {
                    Some(n) if n >= -1 => n,
                    _ => return out.error("ERR count should be greater than or equal to -1"),
                }
            } else {
                10
            };
            let log = st.shared.slowlog.lock();
            let n = if count == -1 { log.len() } else { log.len().min(count as usize) };
            out.array(n);
            for e in log.iter().take(n) {
                out.array(6);
                out.integer(e.id as i64);
                out.integer(e.unix_time as i64);
                out.integer(e.micros as i64);
                out.array(e.args.len());
                for a in &e.args {
                    out.bulk(a);
                }
                out.bulk(&e.addr);
                out.bulk(&e.name);
            }
        }
        (b"LEN", 2) => out.integer(st.shared.slowlog.lock().len() as i64),
        (b"RESET", 2) => {
            st.shared.slowlog.lock().clear();
            out.ok();
        }
        (b"HELP", 2) => help(
            out,
            &[
                "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET [<count>]",
                "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                "LEN",
                "    Return the length of the slowlog.",
                "RESET",
                "    Reset the slowlog.",
                "HELP",
                "    Prints this help.",
            ],
        ),
        (b"GET" | b"LEN" | b"RESET" | b"HELP", _) => wrong_arity(
            &format!("slowlog|{}", String::from_utf8_lossy(&sub).to_ascii_lowercase()),
            out,
        ),
        _ => unknown_subcommand(args, "SLOWLOG", out),
    }
}

fn function(args: Args<'_>, out: &mut Output) {
    let sub = args.get(1).unwrap_or_default().to_ascii_uppercase();
    match sub.as_slice() {
        b"FLUSH" if args.len() <= 3 => out.ok(),
        b"LIST" => out.array(0),
        b"STATS" => {
            out.map(2);
            out.bulk("running_script");
            out.null();
            out.bulk("engines");
            out.map(0);
        }
        _ => unknown_subcommand(args, "FUNCTION", out),
    }
}

// --- COMMAND -----------------------------------------------------------------------------------

fn flag_names(spec: &CommandSpec) -> Vec<&'static str> {
    // Redis lists flags in this order.
    let f = spec.flags;
    let conn = f.has(Flags::CONNECTION);
    [
        (f.has(Flags::WRITE), "write"),
        (f.has(Flags::READONLY), "readonly"),
        (f.has(Flags::DENYOOM), "denyoom"),
        (conn || f.has(Flags::NOSCRIPT), "noscript"),
        (f.has(Flags::BLOCKING), "blocking"),
        (conn, "loading"),
        (conn, "stale"),
        (f.has(Flags::FAST), "fast"),
        (f.has(Flags::NO_AUTH), "no_auth"),
        (f.has(Flags::MOVABLEKEYS), "movablekeys"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect()
}

/// One entry of COMMAND / COMMAND INFO in Redis 7's layout: name, arity, flags, first key, last
/// key, step, ACL categories, tips, key specifications, subcommands.
fn command_entry(spec: &CommandSpec, out: &mut Output) {
    out.array(10);
    out.bulk(spec.name);
    out.integer(spec.arity as i64);
    let flags = flag_names(spec);
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
    out.integer(spec.first_key as i64);
    out.integer(spec.last_key as i64);
    out.integer(spec.step as i64);
    out.set(spec.acl.len());
    for a in spec.acl {
        out.simple(format!("@{a}"));
    }
    out.set(0); // tips
    if spec.first_key > 0 {
        // One key spec: keys from `first_key` to `last_key` (relative, -1 = last), every `step`.
        out.set(1);
        out.map(3);
        out.bulk("flags");
        key_flags(spec, out);
        out.bulk("begin_search");
        out.map(2);
        out.bulk("type");
        out.bulk("index");
        out.bulk("spec");
        out.map(1);
        out.bulk("index");
        out.integer(spec.first_key as i64);
        out.bulk("find_keys");
        out.map(2);
        out.bulk("type");
        out.bulk("range");
        out.bulk("spec");
        out.map(3);
        out.bulk("lastkey");
        out.integer(if spec.last_key < 0 {
            spec.last_key as i64
        } else {
            (spec.last_key - spec.first_key) as i64
        });
        out.bulk("keystep");
        out.integer(spec.step as i64);
        out.bulk("limit");
        out.integer(0);
    } else {
        out.set(0);
    }
    out.set(0); // subcommands
}

/// The flags of a command's key specification, as a set: `RW access update` for a write
/// command, `RO access` for a read. (Redis refines them per command: `OW` for SET's overwrite,
/// `RM delete` for DEL, `insert` for LPUSH; karst's table records only read or write.)
fn key_flags(spec: &CommandSpec, out: &mut Output) {
    let flags: &[&str] =
        if spec.flags.has(Flags::WRITE) { &["RW", "access", "update"] } else { &["RO", "access"] };
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
}

fn command(args: Args<'_>, out: &mut Output) {
    let table = commands();
    if args.len() == 1 {
        out.array(table.len());
        for spec in table {
            command_entry(spec, out);
        }
        return;
    }
    let sub = args.get(1).unwrap_or_default().to_ascii_uppercase();
    match sub.as_slice() {
        b"COUNT" if args.len() == 2 => out.integer(table.len() as i64),
        b"INFO" => {
            if args.len() == 2 {
                out.array(table.len());
                for spec in table {
                    command_entry(spec, out);
                }
                return;
            }
            out.array(args.len() - 2);
            for name in args.iter().skip(2) {
                match lookup(name) {
                    Some(spec) => command_entry(spec, out),
                    None => out.null(),
                }
            }
        }
        b"DOCS" => {
            let specs: Vec<&CommandSpec> = if args.len() == 2 {
                table.iter().collect()
            } else {
                args.iter().skip(2).filter_map(lookup).collect()
            };
            out.map(specs.len());
            for spec in specs {
                out.bulk(spec.name);
                out.map(3);
                out.bulk("summary");
                out.bulk("");
                out.bulk("since");
                out.bulk("1.0.0");
                out.bulk("group");
                out.bulk(if spec.flags.has(Flags::CONNECTION) { "connection" } else { "generic" });
            }
        }
        b"LIST" => {
            let mut filter: Option<(Vec<u8>, Vec<u8>)> = None;
            if args.len() == 5 && is(args.get(2), "FILTERBY") {
                let by = args.get(3).unwrap_or_default().to_ascii_uppercase();
                filter = Some((by, args.get(4).unwrap_or_default().to_vec()));
            } else if args.len() != 2 {
                return out.error("ERR syntax error");
            }
            let names: Vec<&str> = table
                .iter()
                .filter(|s| match &filter {
                    None => true,
                    Some((by, v)) => match by.as_slice() {
                        b"PATTERN" => glob_match(v, s.name.as_bytes(), true),
                        b"ACLCAT" => s.acl.iter().any(|a| a.as_bytes().eq_ignore_ascii_case(v)),
                        _ => false,
                    },
                })
                .map(|s| s.name)
                .collect();
            out.array(names.len());
            for n in names {
                out.bulk(n);
            }
        }
        b"GETKEYS" | b"GETKEYSANDFLAGS" if args.len() >= 4 => {
            let with_flags = sub == b"GETKEYSANDFLAGS";
            // Redis's order: the command, whether it has keys at all, then its arity.
            let Some(spec) = args.get(2).and_then(lookup) else {
                return out.error("ERR Invalid command specified");
            };
            if spec.first_key == 0 && !spec.flags.has(Flags::MOVABLEKEYS) {
                return out.error("ERR The command has no key arguments");
            }
            let argc = (args.len() - 2) as i32;
            if (spec.arity > 0 && argc != spec.arity) || argc < -spec.arity {
                return out.error("ERR Invalid number of arguments specified for command");
            }
            let keys = match spec.key_positions(argc as usize, |i| args.get(i + 2)) {
                None => return out.error("ERR Invalid arguments specified for command"),
                Some(k) if k.is_empty() => {
                    return out.error("ERR The command has no key arguments");
                }
                Some(k) => k,
            };
            out.array(keys.len());
            for k in keys {
                let key = args.get(k + 2).unwrap_or_default();
                if with_flags {
                    out.array(2);
                    out.bulk(key);
                    key_flags(spec, out);
                } else {
                    out.bulk(key);
                }
            }
        }
        b"HELP" if args.len() == 2 => help(
            out,
            &[
                "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "(no subcommand)",
                "    Return details about all commands.",
                "COUNT",
                "    Return the total number of commands in this server.",
                "LIST",
                "    Return a list of all commands in this server.",
                "INFO [<command-name> ...]",
                "    Return details about multiple commands.",
                "DOCS [<command-name> ...]",
                "    Return documentation details about multiple commands.",
                "GETKEYS <full-command>",
                "    Return the keys from a full command.",
                "GETKEYSANDFLAGS <full-command>",
                "    Return the keys and the access flags from a full command.",
                "HELP",
                "    Prints this help.",
            ],
        ),
        b"COUNT" | b"GETKEYS" | b"GETKEYSANDFLAGS" | b"HELP" => wrong_arity(
            &format!("command|{}", String::from_utf8_lossy(&sub).to_ascii_lowercase()),
            out,
        ),
        _ => unknown_subcommand(args, "COMMAND", out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row of docs/commands.md's tables shows its command's arity, flags (as COMMAND INFO
    /// lists them) and key positions as the command table declares them.
    #[test]
    fn commands_doc_matches_the_command_table() {
        let doc = include_str!("../../../docs/commands.md");
        let mut rows = 0;
        for line in doc.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let [_, _, name, arity, flags, keys, ..] = cells[..] else { continue };
            let Ok(arity) = arity.parse::<i32>() else { continue };
            let Some(spec) = karst_store::lookup(name.as_bytes()) else {
                panic!("docs/commands.md lists unknown command {name}");
            };
            let declared = format!("{},{},{}", spec.first_key, spec.last_key, spec.step);
            assert_eq!(arity, spec.arity, "{name}: arity");
            assert_eq!(flags, flag_names(spec).join(", "), "{name}: flags");
            assert_eq!(keys, declared, "{name}: key positions");
            rows += 1;
        }
        assert!(rows > 100, "only {rows} rows read from docs/commands.md");
    }
}
