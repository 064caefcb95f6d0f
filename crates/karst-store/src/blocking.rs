//! Blocking commands (BLPOP, BLMOVE, BZPOPMIN, …): clients waiting on keys.
//!
//! STUB: the first version replies as if the timeout had passed at once (Redis's behaviour
//! inside MULTI). The real registry replaces it; handlers already call it the final way.

use karst_resp::Output;

use crate::error::Error;
use crate::session::Session;
use crate::store::Store;

/// What a blocked command replies when its timeout passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnTimeout {
    /// `*-1` (RESP3 `_`): BLPOP, BRPOP, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP.
    NullArray,
    /// `$-1` (RESP3 `_`): BLMOVE, BRPOPLPUSH.
    NullBulk,
}

/// Parses a blocking command's timeout in seconds (a float, as Redis) into milliseconds; 0
/// waits forever.
pub(crate) fn parse_timeout(raw: &[u8]) -> Result<u64, Error> {
    let text = std::str::from_utf8(raw).map_err(|_| timeout_not_float())?;
    let secs: f64 = text.trim().parse().map_err(|_| timeout_not_float())?;
    if !secs.is_finite() || text.trim() != text || text.is_empty() {
        return Err(timeout_not_float());
    }
    if secs < 0.0 {
        return Err(Error::Other("ERR timeout is negative".into()));
    }
    let ms = secs * 1000.0;
    if ms > (i64::MAX / 2) as f64 {
        return Err(Error::Other("ERR timeout is out of range".into()));
    }
    Ok(ms.ceil() as u64)
}

fn timeout_not_float() -> Error {
    Error::Other("ERR timeout is not a float or out of range".into())
}

/// Blocks the session on `keys` (none of which can serve it now) for `timeout_ms` (0: forever).
/// The handler writes nothing else: the reply comes when a key is served or the time passes.
pub(crate) fn block(
    _store: &Store,
    _s: &mut Session,
    out: &mut Output,
    _keys: &[&[u8]],
    _timeout_ms: u64,
    on_timeout: OnTimeout,
) {
    match on_timeout {
        OnTimeout::NullArray => out.null_array(),
        OnTimeout::NullBulk => out.null(),
    }
}
