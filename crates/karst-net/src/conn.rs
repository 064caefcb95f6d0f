//! One client connection: read, parse every complete request, execute them in order on the
//! store, write all replies with one vectored write, repeat.
//!
//! The hot path allocates nothing per command: the read buffer, the parser, the batch and the
//! output are reused for the life of the connection, and requests run on the thread that read
//! them (no channel, no task, no oneshot).

use std::io::{self, IoSlice};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use karst_resp::{Args, Batch, Limits, Need, Output, Protocol, RequestParser};
use karst_store::{Blocked, CommandSpec, Flags, Outcome, Prefetch, Session, Store, lookup};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::commands;
use crate::config::OutputLimit;
use crate::shared::{ClientInfo, CommandCounters, LoopCounter, Shared, command_index};

/// Read buffer: initial size, and the spare room kept before each read.
const READ_CHUNK: usize = 16 * 1024;
/// With no output limit configured, a batch stops executing once this much output is pending and
/// resumes after it is written: a client that never reads holds at most this much (plus one
/// reply) instead of everything its pipeline asks for.
const DEFAULT_OUTPUT_PAUSE: usize = 8 * 1024 * 1024;
/// Buffers larger than this are dropped once empty (see `Conn::shrink`).
const SHRINK_ABOVE: usize = 64 * 1024;
/// Replies up to this size wait for the loop thread's other ready connections before they are
/// written (see `serve`). Larger ones are written at once, while they are still in cache: a
/// large reply pays for its client's wake-up many times over, and fifty deferred 100 KB replies
/// would not stay in any cache (LRANGE_100 at -P 16 measured the same either way).
const DEFER_WRITE_MAX: usize = 16 * 1024;
/// How long a shutdown waits for a client to take its last replies.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);
/// How many requests ahead of the running one a prefetch begins, and how many requests apart
/// its stages are: far enough for a memory load to arrive (a few hundred nanoseconds, a request
/// or two of work), near enough that short batches gain too. Measured in `docs/benchmarks.md`
/// ("Prefetching a pipeline").
const PREFETCH_AHEAD: usize = 6;
const PREFETCH_GAP: usize = 2;

/// Whether the connection should stop waiting and close: CLIENT KILL, or the server shutting
/// down (the condition its reads wait for beside the socket; see [`crate::shared::Wake`]).
fn closing(st: &ConnState) -> bool {
    st.info.killed.load(Relaxed) || st.shared.shutting_down.load(Relaxed)
}

/// What a connection command asks the connection to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    /// Flush the replies so far, then close (QUIT, SHUTDOWN, CLIENT KILL of itself).
    Close,
}

/// Why [`Conn::run_until_wait`] stopped running a batch's requests.
enum Wait {
    /// Every request ran.
    Done,
    /// A command asked to close the connection after its reply.
    Close,
    /// A command blocks: its ticket, and whether its reply is discarded (CLIENT REPLY).
    Blocked(Blocked, bool),
    /// The output reached the pause threshold.
    Flush,
}

/// Where the timing of a batch's commands stands (see [`Conn::execute`]).
struct Timing {
    /// When the last command or run of FAST commands was accounted.
    last: Instant,
    /// The table index of the last command run.
    last_index: Option<usize>,
}

/// Limits a connection caches; refreshed when `CONFIG SET` bumps the epoch.
#[derive(Clone, Copy, Debug)]
struct Cached {
    epoch: u64,
    query_limit: usize,
    output: OutputLimit,
    pause: usize,
    timeout: Option<Duration>,
    slow_micros: Option<u64>,
    max_bulk: usize,
}

/// Per-connection state that connection commands read and change.
#[derive(Debug)]
pub(crate) struct ConnState {
    pub shared: Arc<Shared>,
    pub info: Arc<ClientInfo>,
    pub session: Session,
    pub authenticated: bool,
    pub protocol: Protocol,
    /// CLIENT REPLY OFF.
    pub reply_off: bool,
    /// CLIENT REPLY SKIP: the next command's reply is dropped.
    pub skip_next: bool,
    /// Set by CLIENT REPLY SKIP while the SKIP itself runs.
    pub skip_armed: bool,
    /// CLIENT REPLY ON ran while replies were off: its +OK goes to the real output.
    pub reply_on_ok: bool,
}

pub(crate) struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    parser: RequestParser,
    batch: Batch,
    out: Output,
    /// Replies nobody will read (CLIENT REPLY OFF/SKIP) are encoded here and dropped.
    scratch: Output,
    st: ConnState,
    cached: Cached,
    counters: Arc<CommandCounters>,
    /// The last command name seen, its spec and its index in the table: pipelines repeat
    /// commands, so most requests skip the table lookup (the store's dispatch is handed the spec).
    last_name: [u8; 16],
    last_name_len: usize,
    last: Looked,
    /// The FAST commands executed since the last clock read: (position in the batch, index).
    fast_run: Vec<(usize, Option<usize>)>,
    /// The command that just blocked (BLPOP…) and whether its reply is to be dropped (CLIENT
    /// REPLY OFF/SKIP): the batch waits for it before going on.
    blocked: Option<(Blocked, bool)>,
    /// Bytes arrived while a command was blocked: parse them before waiting for more.
    read_while_blocked: bool,
}

/// Whether a request's command ran, or was refused before running (unknown, wrong arity,
/// NOAUTH, over maxmemory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ran {
    Yes,
    Rejected,
}

/// A request's command as the table knows it: its spec, its index (for the counters), whether
/// it is FAST and whether the pipeline prefetch knows it. All empty for an unknown name.
#[derive(Clone, Copy, Debug, Default)]
struct Looked {
    spec: Option<&'static CommandSpec>,
    index: Option<usize>,
    fast: bool,
    /// A command [`Store::prefetch`] can act on (HSET, SADD…): only then is the next
    /// request offered to it, until prefetching starts.
    prefetches: bool,
}

impl Conn {
    pub(crate) fn new(
        shared: Arc<Shared>,
        stream: TcpStream,
        info: Arc<ClientInfo>,
        counters: Arc<CommandCounters>,
    ) -> Conn {
        let authenticated = shared.config.read().requirepass.is_empty();
        let mut parser = RequestParser::new(Limits::default());
        parser.set_authenticated(authenticated);
        let mut conn = Conn {
            stream,
            buf: BytesMut::with_capacity(READ_CHUNK),
            parser,
            batch: Batch::new(),
            out: Output::new(Protocol::Resp2),
            scratch: Output::new(Protocol::Resp2),
            st: ConnState {
                shared,
                info,
                session: {
                    // Blocked commands are awaited here (see `wait_blocked`).
                    let mut s = Session::new();
                    s.set_may_block(true);
                    s
                },
                authenticated,
                protocol: Protocol::Resp2,
                reply_off: false,
                skip_next: false,
                skip_armed: false,
                reply_on_ok: false,
            },
            cached: Cached {
                epoch: u64::MAX,
                query_limit: 0,
                output: OutputLimit { hard: 0, soft: 0, soft_seconds: 0 },
                pause: DEFAULT_OUTPUT_PAUSE,
                timeout: None,
                slow_micros: None,
                max_bulk: 0,
            },
            counters,
            last_name: [0; 16],
            last_name_len: usize::MAX,
            last: Looked::default(),
            fast_run: Vec::new(),
            blocked: None,
            read_while_blocked: false,
        };
        conn.refresh();
        conn
    }

    fn refresh(&mut self) {
        let epoch = self.st.shared.config_epoch.load(Relaxed);
        if epoch == self.cached.epoch {
            return;
        }
        let c = self.st.shared.config.read();
        let output = c.client_output_buffer_limit[0];
        let pause = match (output.soft, output.hard) {
            (0, 0) => DEFAULT_OUTPUT_PAUSE,
            (0, h) => h as usize,
            (s, _) => s as usize,
        };
        self.cached = Cached {
            epoch,
            query_limit: usize::try_from(c.client_query_buffer_limit).unwrap_or(usize::MAX),
            output,
            pause,
            timeout: (c.timeout > 0).then(|| Duration::from_secs(c.timeout)),
            slow_micros: u64::try_from(c.slowlog_log_slower_than).ok(),
            max_bulk: usize::try_from(c.proto_max_bulk_len).unwrap_or(usize::MAX),
        };
        drop(c);
        if self.parser.limits().max_bulk_len != self.cached.max_bulk {
            let limits = Limits { max_bulk_len: self.cached.max_bulk, ..self.parser.limits() };
            self.parser.set_limits(limits);
        }
    }

    /// Serves the connection until it closes.
    pub(crate) async fn run(mut self) {
        let result = self.serve().await;
        if let Err(e) = result {
            tracing::debug!(id = self.st.info.id, "connection closed: {e}");
        }
    }

    async fn serve(&mut self) -> io::Result<()> {
        let shared = Arc::clone(&self.st.shared);
        loop {
            let mut batch = std::mem::take(&mut self.batch);
            let parsed = self.parser.parse(&mut self.buf, &mut batch);
            let flow = self.execute(&batch, &shared.store).await;
            batch.clear();
            self.batch = batch;
            let flow = flow?;
            match parsed {
                Err(e) => {
                    // The good requests before the bad one have run; reply and close.
                    let mark = self.out.len();
                    self.out.error(e.to_string());
                    self.count_error(mark);
                    return self.flush().await;
                }
                _ if flow == Flow::Close => return self.flush().await,
                Ok(Need::Payload { len }) => {
                    self.flush().await?;
                    if len > self.cached.query_limit {
                        self.st
                            .shared
                            .stats
                            .client_query_buffer_limit_disconnections
                            .fetch_add(1, Relaxed);
                        return Err(io::Error::other("query buffer limit"));
                    }
                    if self.receive_payload().await? {
                        continue;
                    }
                    // Nothing to receive out of line after all: read more as usual.
                }
                Ok(_) => {}
            }
            // Write after the thread's other ready connections have run, as Redis writes its
            // replies before it sleeps: the client is then woken once for a burst of replies, not
            // once per connection (each wake-up of a sleeping client is an interrupt to its CPU).
            if !self.out.is_empty() && self.out.len() <= DEFER_WRITE_MAX {
                behind_ready_connections().await;
            }
            self.flush().await?;
            self.shrink();
            if self.st.shared.shutting_down.load(Relaxed) || self.st.info.killed.load(Relaxed) {
                return Ok(());
            }
            self.refresh();
            if self.buf.len() > self.cached.query_limit {
                self.st.shared.stats.client_query_buffer_limit_disconnections.fetch_add(1, Relaxed);
                tracing::warn!(
                    id = self.st.info.id,
                    "closing client over client-query-buffer-limit"
                );
                return Err(io::Error::other("query buffer limit"));
            }
            // Requests that arrived while a command was blocked are parsed before reading more.
            if std::mem::take(&mut self.read_while_blocked) {
                continue;
            }
            if self.read().await? == 0 {
                return Ok(());
            }
        }
    }

    /// Runs the requests of `batch` in order. Pauses to write when the pending output passes the
    /// soft cap, so memory stays bounded whatever the pipeline asks for.
    ///
    /// The commands run with the store's [`Hold`](karst_store::Hold) open, so consecutive
    /// commands on one shard lock it once; the hold is closed before every await.
    async fn execute(&mut self, batch: &Batch, store: &Store) -> io::Result<Flow> {
        if batch.is_empty() {
            return Ok(Flow::Continue);
        }
        // Time: commands flagged FAST (O(1): GET, INCR, PING…) are timed together, one clock read
        // per run of them, and share the run's time evenly in INFO commandstats and SLOWLOG;
        // every other command is timed on its own. Clock reads were ~6% of the server's CPU at
        // -P 64 when every command was timed.
        let slow = self.cached.slow_micros;
        let mut timing = Timing { last: Instant::now(), last_index: None };
        self.fast_run.clear();
        let mut requests = batch.iter().enumerate();
        loop {
            let wait = {
                let _hold = store.hold();
                self.run_until_wait(batch, &mut requests, &mut timing)?
            };
            match wait {
                Wait::Done => break,
                Wait::Close => return Ok(Flow::Close),
                Wait::Blocked(ticket, discard) => {
                    // The replies so far leave now; the rest of the batch runs after this one's
                    // reply, and the time spent waiting counts for no command.
                    self.flush().await?;
                    let reply = self.wait_blocked(&ticket).await?;
                    drop(ticket);
                    if !discard {
                        let mark = self.out.len();
                        self.out.raw().extend_from_slice(&reply);
                        if self.replied_error(mark) {
                            self.count_error(mark);
                        }
                    }
                    if self.output_full()? {
                        self.flush().await?;
                    }
                }
                Wait::Flush => self.flush().await?,
            }
            timing.last = Instant::now();
        }
        let end = Instant::now();
        self.close_fast_run(batch, end.duration_since(timing.last), slow);
        let info = &self.st.info;
        if let Some(i) = timing.last_index {
            info.last_cmd.store(i + 1, Relaxed);
        }
        let since_start = end.saturating_duration_since(self.st.shared.started);
        info.last_active_ms.store(since_start.as_millis() as u64, Relaxed);
        info.db.store(self.st.session.db, Relaxed);
        Ok(Flow::Continue)
    }

    /// Runs requests of the batch until one needs an await: the batch's end, a blocked command
    /// or output to write first.
    fn run_until_wait<'b>(
        &mut self,
        batch: &'b Batch,
        requests: &mut impl Iterator<Item = (usize, Args<'b>)>,
        timing: &mut Timing,
    ) -> io::Result<Wait> {
        let slow = self.cached.slow_micros;
        let mut prefetching = None;
        for (pos, args) in requests {
            let Looked { spec, index, fast, prefetches } = self.look_up(args.get(0));
            if !fast && !self.fast_run.is_empty() {
                let now = Instant::now();
                self.close_fast_run(batch, now.duration_since(timing.last), slow);
                timing.last = now;
            }
            if prefetches || prefetching.is_some() {
                self.prefetch_ahead(batch, pos, &mut prefetching);
            }
            let mark = self.out.len();
            let (flow, ran) = self.execute_one(args, spec);
            let error = self.replied_error(mark);
            if error {
                self.count_error(mark);
            }
            // As Redis counts: a command refused before it ran is one of its `rejected_calls`,
            // not a call, takes no time and is not in `total_commands_processed`.
            let timed = if ran == Ran::Yes { index } else { None };
            if let Some(i) = index {
                timing.last_index = Some(i);
                let c = &self.counters;
                let bump = |per_command: &[LoopCounter]| {
                    if let Some(n) = per_command.get(i) {
                        n.add(1);
                    }
                };
                if timed.is_none() {
                    bump(&c.rejected);
                } else {
                    c.commands.add(1);
                    bump(&c.calls);
                    if error {
                        bump(&c.failed);
                    }
                }
            }
            if fast {
                self.fast_run.push((pos, timed));
            } else {
                let now = Instant::now();
                let micros = now.duration_since(timing.last).as_micros() as u64;
                timing.last = now;
                if let Some(usec) = timed.and_then(|i| self.counters.usec.get(i)) {
                    usec.add(micros);
                }
                if timed.is_some() && slow.is_some_and(|threshold| micros >= threshold) {
                    self.st.shared.slowlog_push(micros, args, &self.st.info);
                }
            }
            if flow == Flow::Close {
                self.close_fast_run(batch, timing.last.elapsed(), slow);
                return Ok(Wait::Close);
            }
            if let Some((ticket, discard)) = self.blocked.take() {
                self.close_fast_run(batch, timing.last.elapsed(), slow);
                return Ok(Wait::Blocked(ticket, discard));
            }
            if self.output_full()? {
                self.close_fast_run(batch, timing.last.elapsed(), slow);
                return Ok(Wait::Flush);
            }
        }
        Ok(Wait::Done)
    }

    /// Before request `pos` of the batch runs: the prefetch stages of requests ahead (see
    /// [`Store::prefetch`]). `since` is the request before which prefetching began in this run
    /// of the batch (the first one whose next request was a lookup on the kept shard): then
    /// the next [`PREFETCH_AHEAD`] requests get their first stage at once. After that, each
    /// request gets a stage every [`PREFETCH_GAP`] requests, the last one that many before it
    /// runs, and only when the stage before was issued that long ago: a stage run sooner would
    /// wait for the load it should overlap.
    #[inline]
    fn prefetch_ahead(&self, batch: &Batch, pos: usize, since: &mut Option<usize>) {
        if batch.len() <= pos + 1 {
            return;
        }
        let (store, session) = (&self.st.shared.store, &self.st.session);
        let stage = |ahead: usize, stage: Prefetch| {
            batch.get(pos + ahead).is_some_and(|args| store.prefetch(session, args, stage))
        };
        match *since {
            // One try per request (of a command that prefetches: pipelines repeat one command)
            // until the next one is a lookup on the kept shard, so that a batch of other
            // commands pays nothing, and one of these pays one look at a name, not six.
            None => {
                if stage(1, Prefetch::Slot) {
                    for ahead in 2..=PREFETCH_AHEAD {
                        stage(ahead, Prefetch::Slot);
                    }
                    *since = Some(pos);
                }
            }
            Some(start) => {
                stage(PREFETCH_AHEAD, Prefetch::Slot);
                if pos >= start + PREFETCH_GAP {
                    stage(PREFETCH_AHEAD - PREFETCH_GAP, Prefetch::Item);
                }
                if pos >= start + 2 * PREFETCH_GAP {
                    stage(PREFETCH_AHEAD - 2 * PREFETCH_GAP, Prefetch::Behind);
                }
            }
        }
    }

    /// True when the pending output has reached the pause threshold and must be written before
    /// more commands run; an error (closing the client) past the hard output limit.
    fn output_full(&mut self) -> io::Result<bool> {
        let pending = self.out.len();
        if pending < self.cached.pause {
            return Ok(false);
        }
        let hard = self.cached.output.hard as usize;
        if hard > 0 && pending > hard {
            self.st.shared.stats.client_output_buffer_limit_disconnections.fetch_add(1, Relaxed);
            tracing::warn!(
                id = self.st.info.id,
                pending,
                "closing client over client-output-buffer-limit"
            );
            return Err(io::Error::other("output buffer limit"));
        }
        Ok(true)
    }

    /// Accounts `elapsed` to the run of FAST commands just executed, split evenly.
    fn close_fast_run(&mut self, batch: &Batch, elapsed: Duration, slow: Option<u64>) {
        let n = self.fast_run.len() as u64;
        if n == 0 {
            return;
        }
        let each = elapsed.as_micros() as u64 / n;
        for &(pos, index) in &self.fast_run {
            if let Some(usec) = index.and_then(|i| self.counters.usec.get(i)) {
                usec.add(each);
            }
            if slow.is_some_and(|threshold| each >= threshold)
                && let Some(args) = batch.get(pos)
            {
                self.st.shared.slowlog_push(each, args, &self.st.info);
            }
        }
        self.fast_run.clear();
    }

    /// Command `name` in the table, through a one-entry cache (pipelines repeat commands).
    #[inline]
    fn look_up(&mut self, name: Option<&[u8]>) -> Looked {
        let Some(name) = name else {
            return Looked::default();
        };
        if self
            .last_name
            .get(..self.last_name_len)
            .is_some_and(|last| karst_mem::bytes_eq(name, last))
        {
            return self.last;
        }
        let spec = lookup(name);
        let looked = Looked {
            spec,
            index: spec.and_then(command_index),
            fast: spec.is_some_and(|s| s.flags.has(Flags::FAST)),
            prefetches: karst_store::prefetches(name),
        };
        if name.len() <= self.last_name.len() {
            self.last_name[..name.len()].copy_from_slice(name);
            self.last_name_len = name.len();
            self.last = looked;
        }
        looked
    }

    /// Counts the error reply written since `mark` under its code (`ERR`, `WRONGTYPE`…), for
    /// INFO stats and errorstats. Only runs for errors.
    fn count_error(&mut self, mark: usize) {
        let stats = &self.st.shared.stats;
        stats.total_error_replies.fetch_add(1, Relaxed);
        let new = self.out.len().saturating_sub(mark);
        let tail = self.out.raw();
        let Some(reply) = tail.get(tail.len().saturating_sub(new) + 1..) else {
            return;
        };
        let code = reply.split(|&c| c == b' ' || c == b'\r').next().unwrap_or_default();
        let code = String::from_utf8_lossy(&code[..code.len().min(32)]).into_owned();
        *stats.errors.lock().entry(code).or_default() += 1;
    }

    /// True when the reply written since `mark` is an error (`-…`). Replies queued by reference
    /// are bulk strings, so an error is always in the output's buffer.
    #[inline]
    fn replied_error(&mut self, mark: usize) -> bool {
        let new = self.out.len().saturating_sub(mark);
        let tail = self.out.raw();
        new > 0 && new <= tail.len() && tail[tail.len() - new] == b'-'
    }

    #[inline]
    fn execute_one(&mut self, args: Args<'_>, spec: Option<&'static CommandSpec>) -> (Flow, Ran) {
        let st = &mut self.st;
        if !st.authenticated {
            let allowed = spec.is_some_and(|s| s.flags.has(Flags::NO_AUTH));
            if !allowed {
                self.out.error("NOAUTH Authentication required.");
                return (Flow::Continue, Ran::Rejected);
            }
        }
        let discard = st.reply_off || std::mem::take(&mut st.skip_next);
        let out = if discard { &mut self.scratch } else { &mut self.out };
        let mut ran = Ran::Yes;
        let flow = match st.shared.store.dispatch_spec(&mut st.session, spec, args, out) {
            Outcome::Connection(spec) => {
                let flow = commands::run(st, spec, args, out);
                self.parser.set_authenticated(st.authenticated);
                if self.out.protocol() != st.protocol {
                    self.out.set_protocol(st.protocol);
                    self.scratch.set_protocol(st.protocol);
                }
                flow
            }
            Outcome::Blocked => {
                self.blocked = st.session.take_blocked().map(|t| (t, discard));
                Flow::Continue
            }
            Outcome::Rejected => {
                ran = Ran::Rejected;
                Flow::Continue
            }
            _ => Flow::Continue,
        };
        if discard {
            self.scratch.clear();
            if std::mem::take(&mut self.st.reply_on_ok) {
                self.out.ok();
            }
        }
        if std::mem::take(&mut self.st.skip_armed) {
            self.st.skip_next = true;
        }
        (flow, ran)
    }

    /// Waits for a blocked command's reply (served by a write, its timeout, or CLIENT UNBLOCK)
    /// without holding the loop thread: other connections of this thread run meanwhile. Bytes the
    /// client sends meanwhile are read into the buffer (they run afterwards, as in Redis), so a
    /// closed connection is noticed: the error drops the ticket, which unregisters the client.
    async fn wait_blocked(&mut self, ticket: &Blocked) -> io::Result<Bytes> {
        *self.st.info.blocked.lock() = Some(ticket.unblocker());
        let remaining = ticket.remaining();
        let timeout = async {
            match remaining {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(timeout);
        let result = loop {
            if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
                self.buf.reserve(READ_CHUNK);
            }
            tokio::select! {
                biased;
                reply = ticket.reply() => break Ok(reply),
                _ = &mut timeout => break Ok(ticket.time_out()),
                _ = self.st.info.wake.until(|| closing(&self.st)) => break Err(io::Error::other("killed while blocked")),
                r = self.stream.read_buf(&mut self.buf) => match r {
                    Ok(0) => break Err(io::ErrorKind::UnexpectedEof.into()),
                    Ok(n) => {
                        self.read_while_blocked = true;
                        self.st.shared.stats.total_net_input_bytes.fetch_add(n as u64, Relaxed);
                        self.st.info.qbuf.store(self.buf.len(), Relaxed);
                        if self.buf.len() > self.cached.query_limit {
                            self.st
                                .shared
                                .stats
                                .client_query_buffer_limit_disconnections
                                .fetch_add(1, Relaxed);
                            break Err(io::Error::other("query buffer limit"));
                        }
                    }
                    Err(e) => break Err(e),
                },
            }
        };
        *self.st.info.blocked.lock() = None;
        result
    }

    /// Gives back buffers that grew for a large request or reply, so an idle connection keeps
    /// at most its usual 16 KB read buffer.
    fn shrink(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > SHRINK_ABOVE {
            self.buf = BytesMut::with_capacity(READ_CHUNK);
        }
        if self.out.is_empty() && self.out.raw().capacity() > SHRINK_ABOVE {
            self.out = Output::new(self.st.protocol);
        }
    }

    /// Reads more bytes into the buffer. Returns 0 when the connection is over (EOF, killed,
    /// idle timeout).
    async fn read(&mut self) -> io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        let read = async {
            tokio::select! {
                biased;
                r = self.stream.read_buf(&mut self.buf) => r,
                _ = self.st.info.wake.until(|| closing(&self.st)) => Ok(0),
            }
        };
        let n = match self.cached.timeout {
            None => read.await?,
            Some(t) => match tokio::time::timeout(t, read).await {
                Ok(r) => r?,
                Err(_) => {
                    tracing::debug!(id = self.st.info.id, "closing idle client");
                    0
                }
            },
        };
        self.st.shared.stats.total_net_input_bytes.fetch_add(n as u64, Relaxed);
        self.st.info.qbuf.store(self.buf.len(), Relaxed);
        Ok(n)
    }

    /// Receives a large bulk straight from the socket into a buffer of exactly its size
    /// ([`Need::Payload`]); only the part already in the read buffer is copied.
    /// Returns false, doing nothing, when no payload was pending.
    async fn receive_payload(&mut self) -> io::Result<bool> {
        let Some(len) = self.parser.begin_payload(&mut self.buf) else {
            return Ok(false);
        };
        // A buffer of exactly `len` bytes from karst-mem's pool, filled without zeroing; frozen, it
        // is the argument (and the stored value) with no copy.
        let Ok(mut payload) = self.st.shared.pool.try_take(len) else {
            tracing::warn!(id = self.st.info.id, len, "cannot allocate a payload buffer; closing");
            return Err(io::Error::other("payload allocation failed"));
        };
        let have = len.min(self.buf.len());
        payload.fill_from_slice(&self.buf[..have]);
        self.buf.advance(have);
        let timeout = self.cached.timeout;
        while !payload.is_full() {
            let read = async {
                tokio::select! {
                    biased;
                    r = self.stream.read_buf(&mut payload) => r,
                    _ = self.st.info.wake.until(|| closing(&self.st)) => Ok(0),
                }
            };
            let n = match timeout {
                None => read.await?,
                Some(t) => tokio::time::timeout(t, read).await.unwrap_or(Ok(0))?,
            };
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "eof inside a payload"));
            }
            self.st.shared.stats.total_net_input_bytes.fetch_add(n as u64, Relaxed);
        }
        self.parser.end_payload(payload.freeze()).map_err(io::Error::other)?;
        Ok(true)
    }

    /// Writes every pending reply, with as few vectored writes as the socket allows.
    async fn flush(&mut self) -> io::Result<()> {
        // When the socket last took bytes (None: it has not refused any yet).
        let mut stalled_since: Option<Instant> = None;
        while !self.out.is_empty() {
            let written = {
                let mut slices = [IoSlice::new(&[]); 64];
                match self.out.io_slices(&mut slices) {
                    // One segment (the common case): a plain write is a little cheaper.
                    1 => self.stream.try_write(&slices[0]),
                    n => self.stream.try_write_vectored(&slices[..n]),
                }
            };
            match written {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out.advance(n);
                    stalled_since = None;
                    self.st.shared.stats.total_net_output_bytes.fetch_add(n as u64, Relaxed);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.wait_writable(&mut stalled_since).await?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.st.info.omem.store(0, Relaxed);
        Ok(())
    }

    /// Waits until the socket takes more bytes, enforcing CLIENT KILL and the soft output limit.
    ///
    /// A connection stops executing while its replies wait (see `execute`), so its output never
    /// grows far past the pause threshold and Redis's "over soft for soft-seconds" reads here as:
    /// with a soft limit set, a client whose socket has taken nothing for soft-seconds while
    /// replies wait is closed. A client that reads slowly makes progress and stays.
    async fn wait_writable(&mut self, stalled_since: &mut Option<Instant>) -> io::Result<()> {
        let pending = self.out.len();
        self.st.info.omem.store(pending, Relaxed);
        let limit = self.cached.output;
        let mut deadline: Option<Duration> = None;
        if limit.soft > 0 {
            let since = *stalled_since.get_or_insert_with(Instant::now);
            let allowed = Duration::from_secs(limit.soft_seconds);
            let spent = since.elapsed();
            if spent >= allowed {
                return self.output_limit_close();
            }
            deadline = Some(allowed - spent);
        }
        if self.st.shared.shutting_down.load(Relaxed) {
            deadline = Some(deadline.map_or(SHUTDOWN_FLUSH, |d| d.min(SHUTDOWN_FLUSH)));
        }
        let (info, shared) = (&self.st.info, &self.st.shared);
        let wait = async {
            tokio::select! {
                biased;
                r = self.stream.writable() => r,
                // A shutdown that began while this waited returns, to set the deadline above;
                // after that, it keeps trying to deliver until the deadline.
                _ = info.wake.until(|| {
                    info.killed.load(Relaxed)
                        || (deadline.is_none() && shared.shutting_down.load(Relaxed))
                }) => {
                    if info.killed.load(Relaxed) {
                        Err(io::Error::other("killed"))
                    } else {
                        Ok(())
                    }
                }
            }
        };
        match deadline {
            None => wait.await,
            Some(d) => match tokio::time::timeout(d, wait).await {
                Ok(r) => r,
                Err(_) if self.st.shared.shutting_down.load(Relaxed) => {
                    Err(io::Error::other("shutdown: client did not read its replies"))
                }
                Err(_) => self.output_limit_close(),
            },
        }
    }

    fn output_limit_close(&self) -> io::Result<()> {
        self.st.shared.stats.client_output_buffer_limit_disconnections.fetch_add(1, Relaxed);
        tracing::warn!(
            id = self.st.info.id,
            "closing client over client-output-buffer-limit (soft)"
        );
        Err(io::Error::other("output buffer limit"))
    }
}

/// Lets every task already queued on this thread's runtime run before this one goes on: the task
/// wakes itself while it runs, which tokio treats as a yield, to the back of the run queue. (Tokio's
/// own `yield_now` also waits for a poll of the I/O driver: one more system call each time.)
async fn behind_ready_connections() {
    let mut queued = false;
    std::future::poll_fn(|cx| {
        if std::mem::replace(&mut queued, true) {
            std::task::Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::behind_ready_connections;

    /// Two connection tasks ready at once on a loop thread's runtime: the first runs its commands,
    /// then waits for the second to run and write before it writes.
    #[test]
    fn a_reply_waits_behind_the_connections_already_ready() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        rt.block_on(async {
            // Spawned from the loop thread, as the accept loop spawns connections.
            let tasks: Vec<_> = ["a", "b"]
                .into_iter()
                .map(|name| {
                    let log = Arc::clone(&log);
                    tokio::spawn(async move {
                        log.lock().unwrap().push(format!("{name} runs"));
                        behind_ready_connections().await;
                        log.lock().unwrap().push(format!("{name} writes"));
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        assert_eq!(*log.lock().unwrap(), ["a runs", "b runs", "a writes", "b writes"]);
    }
}
