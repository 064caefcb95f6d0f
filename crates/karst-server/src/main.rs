//! `karst-server`: a Redis-compatible in-memory key-value server.
//!
//! With no arguments it serves 127.0.0.1:6379. Options use Redis's names, from a TOML file
//! (`--config karst.toml`, or the file as the only positional argument) and from flags
//! (`--port 6380 --maxmemory 1gb`); flags win over the file. `karst-server --help` lists them all,
//! and docs/configuration.md documents each one.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Arg, ArgAction, Command};
use karst_net::{ALIASES, Config, OPTIONS, Server};
use karst_store::Store;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn cli() -> Command {
    let mut cmd = Command::new("karst-server")
        .version(env!("CARGO_PKG_VERSION"))
        .about("A Redis-compatible in-memory key-value server. Options use Redis's names.")
        .arg(Arg::new("config").long("config").short('c').value_name("FILE").help(
            "TOML configuration file with Redis option names (port = 6380, maxmemory = \"1gb\")",
        ))
        .arg(Arg::new("config-file").value_name("FILE").hide(true));
    for o in OPTIONS {
        let help = if o.default.is_empty() {
            o.help.to_string()
        } else {
            format!("{} [default: {}]", o.help, o.default)
        };
        let aliases = ALIASES.iter().filter(|(_, name)| *name == o.name).map(|(alias, _)| *alias);
        cmd = cmd.arg(
            Arg::new(o.name)
                .long(o.name)
                .aliases(aliases)
                .value_name("VALUE")
                .action(ArgAction::Set)
                .help(help),
        );
    }
    cmd
}

/// Reads the configuration: defaults, then the file, then the flags.
fn load_config() -> Result<Config, String> {
    let matches = cli().get_matches();
    let mut config = Config::default();
    let file =
        matches.get_one::<String>("config").or_else(|| matches.get_one::<String>("config-file"));
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let table: toml::Table = text.parse().map_err(|e| format!("{path}: {e}"))?;
        for (key, value) in &table {
            let value = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(n) => n.to_string(),
                toml::Value::Boolean(b) => if *b { "yes" } else { "no" }.to_string(),
                toml::Value::Array(items) => items
                    .iter()
                    .map(|v| match v {
                        toml::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
                other => return Err(format!("{path}: {key}: unsupported value {other}")),
            };
            config.set(key, &value).map_err(|e| format!("{path}: {key}: {e}"))?;
        }
        config.config_file = Some(PathBuf::from(path));
    }
    for o in OPTIONS {
        if let Some(v) = matches.get_one::<String>(o.name) {
            config.set(o.name, v).map_err(|e| format!("--{}: {e}", o.name))?;
        }
    }
    Ok(config)
}

/// Redis's log levels to tracing's.
fn filter_for(level: &str) -> EnvFilter {
    let level = match level {
        "debug" | "trace" => "debug",
        "verbose" | "info" | "notice" => "info",
        "warning" | "warn" => "warn",
        "error" => "error",
        _ => "off",
    };
    EnvFilter::new(level)
}

fn main() -> ExitCode {
    let config = match load_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("karst-server: {e}");
            return ExitCode::from(1);
        }
    };

    let (filter, reload) = tracing_subscriber::reload::Layer::new(filter_for(&config.loglevel));
    let registry = tracing_subscriber::registry().with(filter);
    if config.logfile.is_empty() {
        use std::io::IsTerminal as _;
        let ansi = std::io::stderr().is_terminal();
        registry
            .with(tracing_subscriber::fmt::layer().with_ansi(ansi).with_writer(std::io::stderr))
            .init();
    } else {
        let file = match std::fs::OpenOptions::new().create(true).append(true).open(&config.logfile)
        {
            Ok(f) => f,
            Err(e) => {
                eprintln!("karst-server: cannot open logfile {}: {e}", config.logfile);
                return ExitCode::from(1);
            }
        };
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(std::sync::Mutex::new(file)),
            )
            .init();
    }

    // Signal handlers go in before the server announces itself, so a SIGTERM sent right after
    // the start-up line is never the default (fatal) one.
    let (signal_rt, mut term, mut int) = match install_signals() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("karst-server: cannot install signal handlers: {e}");
            return ExitCode::from(1);
        }
    };

    // Before the store allocates anything (as redis-server with `disable-thp yes`).
    if config.disable_thp {
        if let Err(e) = karst_mem::disable_transparent_huge_pages() {
            tracing::warn!("cannot turn transparent huge pages off: {e}");
        }
    }

    // As redis-server with `jemalloc-bg-thread yes`: no loop thread stops to purge freed pages.
    if config.purge_thread {
        if let Err(e) = karst_mem::start_purger() {
            tracing::warn!("cannot start the thread that purges freed memory: {e}");
        }
    }

    // Shards and databases are fixed at start; maxmemory and its policy are applied by the
    // server at start and on every CONFIG SET.
    let store = Store::builder().shards(config.shards).databases(config.databases).build();
    let server = Server::new(config.clone(), store).on_config_change(move |_store, c| {
        let _ = reload.modify(|f| *f = filter_for(&c.loglevel));
    });
    let handle = match server.start() {
        Ok(h) => h,
        Err(e) => {
            tracing::error!("cannot listen on {}:{}: {e}", config.bind.join(" "), config.port);
            eprintln!(
                "karst-server: cannot listen on {}:{}: {e}",
                config.bind.join(" "),
                config.port
            );
            return ExitCode::from(1);
        }
    };
    let addrs: Vec<String> = handle.local_addrs().iter().map(|a| a.to_string()).collect();
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        redis_version = karst_net::REDIS_VERSION,
        address = %addrs.join(","),
        threads = handle.threads(),
        thread_model = ?config.thread_model,
        pid = std::process::id(),
        "karst-server started; ready to accept connections"
    );
    check_fd_limit(config.maxclients);

    let stopper = handle.stopper();
    let signals = std::thread::Builder::new().name("karst-signals".into()).spawn(move || {
        signal_rt.block_on(async {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::warn!("received {name}, scheduling shutdown");
            stopper.stop();
        });
    });
    if let Err(e) = signals {
        tracing::warn!("no signal thread: {e}");
    }
    handle.wait();
    tracing::info!("karst-server is now ready to exit, bye bye");
    ExitCode::SUCCESS
}

type Signals = (tokio::runtime::Runtime, tokio::signal::unix::Signal, tokio::signal::unix::Signal);

fn install_signals() -> std::io::Result<Signals> {
    use tokio::signal::unix::{SignalKind, signal};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (term, int) = {
        let _guard = rt.enter();
        (signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?)
    };
    Ok((rt, term, int))
}

/// Warns when the open-files limit cannot hold `maxclients` connections.
fn check_fd_limit(maxclients: usize) {
    let Ok(limits) = std::fs::read_to_string("/proc/self/limits") else {
        return;
    };
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(soft) = soft {
        if soft < maxclients + 32 {
            tracing::warn!(
                "the open files limit is {soft}: fewer than maxclients ({maxclients}) + 32; raise it with `ulimit -n`"
            );
        }
    }
}
