//! Python bindings of karst-client (`karst._karst`, re-exported by the `karst` package).
//!
//! - `RedisClient`: blocking calls that release the GIL during I/O, reading values straight into
//!   any writable C-contiguous buffer (bytearray, memoryview — `"<B"` ones included — numpy
//!   arrays) and sending values from any buffer without a copy.
//! - LMCache's native RESP client interface on the same object: `submit_batch_*` queue work for
//!   worker threads and return an id at once; completions are signalled on an eventfd and
//!   collected with `drain_completions()`. Submitted buffers are held (their buffer export kept)
//!   until their completion is drained.
//!
//! Unsafe code is limited to turning a held Python buffer export into a slice and to the eventfd
//! system calls; each block says why it is sound.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use karst_client::{Client, Config, Error};
use pyo3::buffer::PyUntypedBuffer;
use pyo3::create_exception;
use pyo3::exceptions::{PyConnectionError, PyException, PyTimeoutError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

create_exception!(_karst, KarstError, PyException, "Base class of karst client errors.");
create_exception!(_karst, ResponseError, KarstError, "The server answered with an error reply.");
create_exception!(
    _karst,
    BufferTooSmallError,
    KarstError,
    "A value is longer than the buffer given for it (the connection stays usable)."
);

fn to_py(e: Error) -> PyErr {
    match e {
        Error::Server(text) => ResponseError::new_err(text),
        Error::BufferTooSmall { needed, capacity } => BufferTooSmallError::new_err((
            format!("value of {needed} bytes does not fit a buffer of {capacity} bytes"),
            needed,
            capacity,
        )),
        Error::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            PyTimeoutError::new_err(io.to_string())
        }
        Error::Io(io) => PyConnectionError::new_err(io.to_string()),
        Error::InvalidArgument(what) => PyValueError::new_err(what),
        other => KarstError::new_err(other.to_string()),
    }
}

fn key_of(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_str()?.as_bytes().to_vec());
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    Err(PyTypeError::new_err("a key must be str or bytes"))
}

fn keys_of(obj: &Bound<'_, PyAny>) -> PyResult<Vec<Vec<u8>>> {
    obj.try_iter()?.map(|k| key_of(&k?)).collect()
}

/// Keys and one buffer per key (writable ones for reads into them); a count mismatch is a
/// ValueError.
fn keys_and_buffers(
    keys: &Bound<'_, PyAny>,
    buffers: &Bound<'_, PyAny>,
    writable: bool,
) -> PyResult<(Vec<Vec<u8>>, Vec<Buf>)> {
    let keys = keys_of(keys)?;
    let bufs = Buf::many(buffers, writable)?;
    if keys.len() != bufs.len() {
        return Err(PyValueError::new_err(format!(
            "{} keys but {} buffers",
            keys.len(),
            bufs.len()
        )));
    }
    Ok((keys, bufs))
}

/// A held buffer export: the memory stays valid while this lives.
struct Buf {
    _export: PyUntypedBuffer,
    addr: usize,
    len: usize,
}

impl Buf {
    fn get(obj: &Bound<'_, PyAny>, writable: bool) -> PyResult<Buf> {
        let buf = PyUntypedBuffer::get(obj)?;
        if writable && buf.readonly() {
            return Err(PyTypeError::new_err("the buffer is read-only; GET needs a writable one"));
        }
        if !buf.is_c_contiguous() {
            return Err(PyValueError::new_err("the buffer must be C-contiguous"));
        }
        let (addr, len) = (buf.buf_ptr() as usize, buf.len_bytes());
        Ok(Buf { _export: buf, addr, len })
    }

    fn many(objs: &Bound<'_, PyAny>, writable: bool) -> PyResult<Vec<Buf>> {
        let bufs: Vec<Buf> =
            objs.try_iter()?.map(|b| Buf::get(&b?, writable)).collect::<PyResult<_>>()?;
        if writable {
            // Each buffer becomes a `&mut [u8]`: two views of the same memory must not be
            // written at once.
            let mut spans: Vec<(usize, usize)> =
                bufs.iter().filter(|b| b.len > 0).map(|b| (b.addr, b.addr + b.len)).collect();
            spans.sort_unstable();
            if spans.windows(2).any(|w| w[1].0 < w[0].1) {
                return Err(PyValueError::new_err(
                    "the buffers overlap: each key needs its own memory",
                ));
            }
        }
        Ok(bufs)
    }
}

/// The memory of a held export, as a slice.
///
/// # Safety
/// The export must stay alive for `'a`, and nothing else may access the memory meanwhile — the
/// documented contract of every call that takes a buffer (Python code must not touch a buffer
/// while a call or a submitted batch uses it).
unsafe fn slice_mut<'a>(addr: usize, len: usize) -> &'a mut [u8] {
    if len == 0 {
        return &mut [];
    }
    // SAFETY: the caller guarantees the export (pointer and length from PyObject_GetBuffer, a
    // C-contiguous region of `len` bytes) outlives 'a and is not aliased.
    unsafe { std::slice::from_raw_parts_mut(addr as *mut u8, len) }
}

/// See [`slice_mut`]; read-only access.
unsafe fn slice<'a>(addr: usize, len: usize) -> &'a [u8] {
    if len == 0 {
        return &[];
    }
    // SAFETY: as in `slice_mut`; the memory is only read.
    unsafe { std::slice::from_raw_parts(addr as *const u8, len) }
}

#[derive(Clone, Copy)]
enum Kind {
    Get,
    Set,
    Exists,
    Delete,
}

struct Job {
    id: u64,
    kind: Kind,
    keys: Vec<Vec<u8>>,
    bufs: Vec<Buf>,
}

struct Completion {
    id: u64,
    ok: bool,
    error: Option<String>,
    per_key: Option<Vec<bool>>,
    /// GET only: bytes written per key (None for a miss or a value that did not fit).
    lens: Option<Vec<Option<usize>>>,
    /// Held until drained, so the caller's memory outlives the I/O.
    _bufs: Vec<Buf>,
}

/// The eventfd that tells asyncio completions are ready.
struct EventFd(i32);

impl EventFd {
    fn new() -> std::io::Result<EventFd> {
        // SAFETY: eventfd takes no pointers; a negative return is an error.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 { Err(std::io::Error::last_os_error()) } else { Ok(EventFd(fd)) }
    }

    fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our own fd. EAGAIN (counter full) can only
        // happen after 2^64-2 signals and still leaves the fd readable.
        unsafe { libc::write(self.0, (&one as *const u64).cast(), 8) };
    }

    fn reset(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64; the fd is non-blocking, so EAGAIN
        // (nothing signalled) returns at once.
        unsafe { libc::read(self.0, (&mut v as *mut u64).cast(), 8) };
    }
}

impl Drop for EventFd {
    fn drop(&mut self) {
        // SAFETY: we own the fd and close it once.
        unsafe { libc::close(self.0) };
    }
}

struct Shared {
    done: Mutex<Vec<Completion>>,
    efd: EventFd,
}

struct Workers {
    tx: Option<Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

fn worker(client: Arc<Client>, rx: Arc<Mutex<Receiver<Job>>>, shared: Arc<Shared>) {
    loop {
        let job = {
            let rx = rx.lock().unwrap_or_else(|p| p.into_inner());
            rx.recv()
        };
        let Ok(job) = job else { return };
        let completion = run_job(&client, job);
        shared.done.lock().unwrap_or_else(|p| p.into_inner()).push(completion);
        shared.efd.signal();
    }
}

fn run_job(client: &Client, job: Job) -> Completion {
    let Job { id, kind, keys, bufs } = job;
    let mut lens = None;
    let (ok, error, per_key) = match kind {
        Kind::Get => {
            // SAFETY: `bufs` holds every export until the completion is drained, and the caller
            // does not touch submitted buffers meanwhile.
            let mut slices: Vec<&mut [u8]> =
                bufs.iter().map(|b| unsafe { slice_mut(b.addr, b.len) }).collect();
            match client.get_many_into(&keys, &mut slices) {
                Ok(results) => {
                    let mut error = None;
                    lens =
                        Some(results.iter().map(|r| r.as_ref().ok().copied().flatten()).collect());
                    let hits = results
                        .into_iter()
                        .map(|r| match r {
                            Ok(n) => n.is_some(),
                            // A value longer than its chunk buffer is a miss, as in LMCache's client.
                            Err(Error::BufferTooSmall { .. }) => false,
                            Err(e) => {
                                error.get_or_insert_with(|| e.to_string());
                                false
                            }
                        })
                        .collect();
                    (error.is_none(), error, Some(hits))
                }
                Err(e) => (false, Some(e.to_string()), None),
            }
        }
        Kind::Set => {
            // SAFETY: as above; the memory is only read.
            let values: Vec<&[u8]> = bufs.iter().map(|b| unsafe { slice(b.addr, b.len) }).collect();
            match client.set_many(&keys, &values) {
                Ok(()) => (true, None, None),
                Err(e) => (false, Some(e.to_string()), None),
            }
        }
        Kind::Exists => match client.exists_many(&keys) {
            Ok(v) => (true, None, Some(v)),
            Err(e) => (false, Some(e.to_string()), None),
        },
        Kind::Delete => match client.del_many(&keys) {
            Ok(_) => (true, None, None),
            Err(e) => (false, Some(e.to_string()), None),
        },
    };
    Completion { id, ok, error, per_key, lens, _bufs: bufs }
}

/// A pooled client of a Redis-compatible server (karst-server, redis-server, Valkey) or of a
/// Redis Cluster.
///
/// Buffers passed to a call must not be resized or written by Python while the call (or a
/// submitted batch, until its completion is drained) uses them.
#[pyclass(frozen, module = "karst")]
struct RedisClient {
    client: Arc<Client>,
    workers: Mutex<Option<Workers>>,
    num_workers: usize,
    next_id: AtomicU64,
    closed: AtomicBool,
    shared: Arc<Shared>,
}

impl RedisClient {
    fn client(&self) -> PyResult<&Arc<Client>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(KarstError::new_err("the client is closed"));
        }
        Ok(&self.client)
    }

    fn submit(
        &self,
        py: Python<'_>,
        kind: Kind,
        keys: Vec<Vec<u8>>,
        bufs: Vec<Buf>,
    ) -> PyResult<u64> {
        let client = self.client()?.clone();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let job = Job { id, kind, keys, bufs };
        let mut guard = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let (tx, rx) = channel();
            let rx = Arc::new(Mutex::new(rx));
            let threads = (0..self.num_workers)
                .map(|i| {
                    let (c, r, s) = (client.clone(), rx.clone(), self.shared.clone());
                    std::thread::Builder::new()
                        .name(format!("karst-io-{i}"))
                        .spawn(move || worker(c, r, s))
                        .map_err(|e| KarstError::new_err(format!("cannot start a worker: {e}")))
                })
                .collect::<PyResult<Vec<_>>>()?;
            *guard = Some(Workers { tx: Some(tx), threads, shared: self.shared.clone() });
        }
        let sent = guard.as_ref().and_then(|w| w.tx.as_ref()).map(|tx| tx.send(job));
        drop(guard);
        match sent {
            Some(Ok(())) => Ok(id),
            Some(Err(returned)) => {
                // Release the buffers with the GIL held.
                drop(returned);
                let _ = py;
                Err(KarstError::new_err("the workers are gone"))
            }
            None => Err(KarstError::new_err("the client is closed")),
        }
    }
}

impl RedisClient {
    fn drain<'py>(&self, py: Python<'py>, with_lengths: bool) -> PyResult<Bound<'py, PyList>> {
        self.shared.efd.reset();
        let done = std::mem::take(&mut *self.shared.done.lock().unwrap_or_else(|p| p.into_inner()));
        let list = PyList::empty(py);
        for c in done {
            let per_key = c.per_key.map(|v| PyList::new(py, v)).transpose()?;
            let mut fields = vec![
                c.id.into_pyobject(py)?.into_any(),
                pyo3::types::PyBool::new(py, c.ok).to_owned().into_any(),
                c.error.into_pyobject(py)?.into_any(),
                per_key.into_pyobject(py)?.into_any(),
            ];
            if with_lengths {
                fields.push(c.lens.into_pyobject(py)?.into_any());
            }
            list.append(PyTuple::new(py, fields)?)?;
        }
        Ok(list)
    }
}

#[pymethods]
impl RedisClient {
    /// `RedisClient(host="localhost", port=6379, password=None, connections=8, username=None,
    /// cluster=False, timeout=30.0, num_workers=None, resp3=False)`
    #[new]
    #[pyo3(signature = (host="localhost".to_string(), port=6379, password=None, connections=8,
        username=None, cluster=false, timeout=Some(30.0), num_workers=None, resp3=false))]
    #[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
    fn new(
        py: Python<'_>,
        host: String,
        port: u16,
        password: Option<String>,
        connections: usize,
        username: Option<String>,
        cluster: bool,
        timeout: Option<f64>,
        num_workers: Option<usize>,
        resp3: bool,
    ) -> PyResult<RedisClient> {
        let mut cfg = Config::new(host, port).connections(connections);
        if let Some(pw) = password {
            cfg = match username {
                Some(u) => cfg.user(u, pw),
                None => cfg.password(pw),
            };
        }
        if resp3 {
            cfg = cfg.protocol(karst_client::Protocol::Resp3);
        }
        let t = timeout.filter(|t| *t > 0.0).map(Duration::from_secs_f64);
        cfg = cfg.timeouts(t);
        if let Some(t) = t {
            cfg.connect_timeout = Some(t);
        }
        let client = py
            .detach(
                || if cluster { Client::connect_cluster(cfg, &[]) } else { Client::connect(cfg) },
            )
            .map_err(to_py)?;
        let efd = EventFd::new().map_err(|e| KarstError::new_err(format!("eventfd: {e}")))?;
        Ok(RedisClient {
            client: Arc::new(client),
            workers: Mutex::new(None),
            num_workers: num_workers.unwrap_or(connections).max(1),
            next_id: AtomicU64::new(1),
            closed: AtomicBool::new(false),
            shared: Arc::new(Shared { done: Mutex::new(Vec::new()), efd }),
        })
    }

    /// Stores `value` (any buffer: bytes, bytearray, memoryview, numpy array) under `key`,
    /// sent from the buffer's memory without a copy.
    fn set(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let key = key_of(key)?;
        let b = Buf::get(value, false)?;
        let client = self.client()?;
        let (addr, len) = (b.addr, b.len);
        // SAFETY: `b` holds the export for the whole call.
        py.detach(|| client.set(&key, unsafe { slice(addr, len) })).map_err(to_py)?;
        drop(b);
        Ok(())
    }

    /// Reads the value of `key` straight into `buffer` (writable, C-contiguous). Returns the
    /// number of bytes written, or None when the key does not exist. Raises
    /// BufferTooSmallError when the value is longer than the buffer.
    fn get(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        buffer: &Bound<'_, PyAny>,
    ) -> PyResult<Option<usize>> {
        let key = key_of(key)?;
        let b = Buf::get(buffer, true)?;
        let client = self.client()?;
        let (addr, len) = (b.addr, b.len);
        // SAFETY: `b` holds the export for the whole call.
        let r = py.detach(|| client.get_into(&key, unsafe { slice_mut(addr, len) })).map_err(to_py);
        drop(b);
        r
    }

    /// Like `get`, into `nbytes` of memory at address `ptr` (such as `tensor.data_ptr()`). The
    /// caller guarantees the memory is valid and writable for the call.
    fn get_into_ptr(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        ptr: usize,
        nbytes: usize,
    ) -> PyResult<Option<usize>> {
        let key = key_of(key)?;
        let client = self.client()?;
        if ptr == 0 && nbytes > 0 {
            return Err(PyValueError::new_err("null pointer"));
        }
        // SAFETY: the caller's documented promise.
        py.detach(|| client.get_into(&key, unsafe { slice_mut(ptr, nbytes) })).map_err(to_py)
    }

    /// Like `set`, from `nbytes` of memory at address `ptr`.
    fn set_from_ptr(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        ptr: usize,
        nbytes: usize,
    ) -> PyResult<()> {
        let key = key_of(key)?;
        let client = self.client()?;
        if ptr == 0 && nbytes > 0 {
            return Err(PyValueError::new_err("null pointer"));
        }
        // SAFETY: the caller's documented promise.
        py.detach(|| client.set(&key, unsafe { slice(ptr, nbytes) })).map_err(to_py)
    }

    /// The value of `key` as bytes, or None.
    fn get_bytes<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let key = key_of(key)?;
        let client = self.client()?;
        let v = py.detach(|| client.get(&key)).map_err(to_py)?;
        Ok(v.map(|v| PyBytes::new(py, &v)))
    }

    /// True when `key` exists.
    fn exists(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let key = key_of(key)?;
        let client = self.client()?;
        py.detach(|| client.exists(&key)).map_err(to_py)
    }

    /// Deletes `key`; True when it existed.
    fn delete(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let key = key_of(key)?;
        let client = self.client()?;
        py.detach(|| client.del(&key)).map_err(to_py)
    }

    /// Reads each key into its buffer, pipelined over the pool. Returns one entry per key:
    /// bytes written, or None for a miss. Raises on the first key whose value does not fit.
    fn mget_into(
        &self,
        py: Python<'_>,
        keys: &Bound<'_, PyAny>,
        buffers: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<Option<usize>>> {
        let (keys, bufs) = keys_and_buffers(keys, buffers, true)?;
        let client = self.client()?;
        let spans: Vec<(usize, usize)> = bufs.iter().map(|b| (b.addr, b.len)).collect();
        let r = py.detach(|| {
            // SAFETY: `bufs` holds every export for the whole call.
            let mut slices: Vec<&mut [u8]> =
                spans.iter().map(|&(a, l)| unsafe { slice_mut(a, l) }).collect();
            client.get_many_into(&keys, &mut slices)
        });
        drop(bufs);
        r.map_err(to_py)?.into_iter().map(|r| r.map_err(to_py)).collect()
    }

    /// Stores each buffer under its key, pipelined over the pool.
    fn mset(
        &self,
        py: Python<'_>,
        keys: &Bound<'_, PyAny>,
        buffers: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let (keys, bufs) = keys_and_buffers(keys, buffers, false)?;
        let client = self.client()?;
        let spans: Vec<(usize, usize)> = bufs.iter().map(|b| (b.addr, b.len)).collect();
        let r = py.detach(|| {
            // SAFETY: `bufs` holds every export for the whole call.
            let values: Vec<&[u8]> = spans.iter().map(|&(a, l)| unsafe { slice(a, l) }).collect();
            client.set_many(&keys, &values)
        });
        drop(bufs);
        r.map_err(to_py)
    }

    /// The values of `keys` as bytes (None for misses).
    fn mget_bytes<'py>(
        &self,
        py: Python<'py>,
        keys: &Bound<'py, PyAny>,
    ) -> PyResult<Vec<Option<Bound<'py, PyBytes>>>> {
        let keys = keys_of(keys)?;
        let client = self.client()?;
        let vals = py.detach(|| client.get_many(&keys)).map_err(to_py)?;
        Ok(vals.into_iter().map(|v| v.map(|v| PyBytes::new(py, &v))).collect())
    }

    /// One bool per key.
    fn exists_many(&self, py: Python<'_>, keys: &Bound<'_, PyAny>) -> PyResult<Vec<bool>> {
        let keys = keys_of(keys)?;
        let client = self.client()?;
        py.detach(|| client.exists_many(&keys)).map_err(to_py)
    }

    /// Deletes every key; one bool per key, True where it existed.
    fn delete_many(&self, py: Python<'_>, keys: &Bound<'_, PyAny>) -> PyResult<Vec<bool>> {
        let keys = keys_of(keys)?;
        let client = self.client()?;
        py.detach(|| client.del_many(&keys)).map_err(to_py)
    }

    /// Runs any command and returns its reply as Python values (str for simple strings, bytes
    /// for bulk strings, int, float, bool, None, list, dict). An error reply raises
    /// ResponseError.
    fn command<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = keys_of(args)?;
        let client = self.client()?;
        let frame = py.detach(|| client.command(&args)).map_err(to_py)?;
        frame_to_py(py, frame)
    }

    /// PING; True on PONG.
    fn ping(&self, py: Python<'_>) -> PyResult<bool> {
        let client = self.client()?;
        let r = py.detach(|| client.command(&["PING"])).map_err(to_py)?;
        Ok(r.as_bytes().is_some_and(|b| &b[..] == b"PONG"))
    }

    /// Queues GETs of `keys` into `memoryviews` (one writable buffer per key); returns a
    /// future id at once. The completion's per-key bools say which keys were found.
    fn submit_batch_get(
        &self,
        py: Python<'_>,
        keys: &Bound<'_, PyAny>,
        memoryviews: &Bound<'_, PyAny>,
    ) -> PyResult<u64> {
        let (keys, bufs) = keys_and_buffers(keys, memoryviews, true)?;
        self.submit(py, Kind::Get, keys, bufs)
    }

    /// Queues SETs of `memoryviews` under `keys`; returns a future id at once.
    fn submit_batch_set(
        &self,
        py: Python<'_>,
        keys: &Bound<'_, PyAny>,
        memoryviews: &Bound<'_, PyAny>,
    ) -> PyResult<u64> {
        let (keys, bufs) = keys_and_buffers(keys, memoryviews, false)?;
        self.submit(py, Kind::Set, keys, bufs)
    }

    /// Queues EXISTS of `keys`; per-key bools in the completion. (`memoryviews` is accepted and
    /// ignored, for callers that pass the same arguments to every submit.)
    #[pyo3(signature = (keys, memoryviews=None))]
    fn submit_batch_exists(
        &self,
        py: Python<'_>,
        keys: &Bound<'_, PyAny>,
        memoryviews: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        let _ = memoryviews;
        self.submit(py, Kind::Exists, keys_of(keys)?, Vec::new())
    }

    /// Queues DEL of `keys`.
    #[pyo3(signature = (keys, memoryviews=None))]
    fn submit_batch_delete(
        &self,
        py: Python<'_>,
        keys: &Bound<'_, PyAny>,
        memoryviews: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        let _ = memoryviews;
        self.submit(py, Kind::Delete, keys_of(keys)?, Vec::new())
    }

    /// A Linux eventfd that becomes readable when completions are ready
    /// (`loop.add_reader(client.event_fd(), …)`); `drain_completions` resets it.
    fn event_fd(&self) -> i32 {
        self.shared.efd.0
    }

    /// Every finished batch as `(future_id, ok, error, per_key_bools_or_None)`; their buffers
    /// are released.
    fn drain_completions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.drain(py, false)
    }

    /// Like `drain_completions`, with a fifth field: for GETs, the bytes written per key (None
    /// for a miss), so a partly filled chunk can be trimmed; None for other batches.
    fn drain_completions_with_lengths<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.drain(py, true)
    }

    /// Waits for queued batches to finish, stops the workers and closes the client. Completions
    /// not yet drained can still be drained.
    fn close(&self, py: Python<'_>) {
        self.closed.store(true, Ordering::Release);
        let workers = self.workers.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut w) = workers {
            w.tx = None;
            let threads = std::mem::take(&mut w.threads);
            py.detach(|| {
                for t in threads {
                    let _ = t.join();
                }
            });
            drop(w.shared);
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) {
        self.close(py);
    }

    fn __repr__(&self) -> String {
        let c = self.client.config();
        format!(
            "RedisClient(host={:?}, port={}, connections={}, cluster={})",
            c.host,
            c.port,
            c.connections,
            self.client.is_cluster()
        )
    }
}

fn frame_to_py(py: Python<'_>, frame: karst_client::Frame) -> PyResult<Bound<'_, PyAny>> {
    use karst_client::Frame;
    Ok(match frame {
        Frame::Simple(s) => PyString::new(py, &String::from_utf8_lossy(&s)).into_any(),
        Frame::Error(e) => {
            return Err(ResponseError::new_err(String::from_utf8_lossy(&e).into_owned()));
        }
        Frame::Integer(n) => n.into_pyobject(py)?.into_any(),
        Frame::Bulk(b) | Frame::BigNumber(b) => PyBytes::new(py, &b).into_any(),
        Frame::Verbatim { text, .. } => PyBytes::new(py, &text).into_any(),
        Frame::Double(d) => d.into_pyobject(py)?.into_any(),
        Frame::Boolean(b) => pyo3::types::PyBool::new(py, b).to_owned().into_any(),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            let list = PyList::empty(py);
            for f in items {
                list.append(frame_to_py(py, f)?)?;
            }
            list.into_any()
        }
        Frame::Map(pairs) => {
            let dict = pyo3::types::PyDict::new(py);
            for (k, v) in pairs {
                dict.set_item(frame_to_py(py, k)?, frame_to_py(py, v)?)?;
            }
            dict.into_any()
        }
        Frame::Attribute { frame, .. } => frame_to_py(py, *frame)?,
        _ => py.None().into_bound(py),
    })
}

/// CRC16 hash slot of a key (Redis Cluster), honouring `{hash tags}`.
#[pyfunction]
fn key_slot(key: &Bound<'_, PyAny>) -> PyResult<u16> {
    Ok(karst_client::key_slot(&key_of(key)?))
}

#[pymodule]
fn _karst(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RedisClient>()?;
    m.add_function(wrap_pyfunction!(key_slot, m)?)?;
    m.add("KarstError", m.py().get_type::<KarstError>())?;
    m.add("ResponseError", m.py().get_type::<ResponseError>())?;
    m.add("BufferTooSmallError", m.py().get_type::<BufferTooSmallError>())?;
    Ok(())
}
