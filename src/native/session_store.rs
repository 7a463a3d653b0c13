//! The session store as a trait: where the driver keeps what a resumed session needs.
//!
//! The driver drains the core's [`StoreOp`]s after every input into one batch and hands it to
//! [`SessionStore::apply`] *before* it writes a byte of what the core transmits next: a message
//! whose record is not durable is never sent. Two stores come with the crate: [`FileStore`]
//! (a crash-safe log in a directory, `Options::session_dir`) and [`MemoryStore`] (a session kept
//! across clients within one process, and a store for tests). Bring your own (SQLite, sled, ...)
//! through [`Options::with_store`](super::Options::with_store); `tests/native_store.rs` holds the
//! conformance suite every store must pass.
//!
//! [`FileStore`]: super::FileStore

use crate::proto::{RestoreError, StoreKey, StoreOp, StoreRecord};
use core::fmt;
use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

/// A durable home for one client's session (one broker, one client id).
///
/// A record is keyed by [`StoreRecord::key`] (or its string form,
/// [`StoreKey::to_key_string`]); [`StoreRecord::to_bytes`] / [`StoreRecord::from_bytes`] give
/// the bytes to keep, so a key-value table of strings to blobs is enough. Credentials are never
/// part of a record.
///
/// One client uses a store at a time: two live clients on one store corrupt each other's
/// session, as two processes on one session directory would.
pub trait SessionStore: Send + 'static {
    /// The stored records, in any order; empty for a new session. Called once, when the
    /// client connects, to restore the session.
    fn records(&self) -> Result<Vec<StoreRecord>, LoadError>;

    /// Applies one batch in order (a `Put` writes or overwrites the record at its key, a
    /// `Delete` removes the record at its key if there is one), atomically: all of it or none.
    /// `Ok` means durable: the driver writes the bytes the batch protects only after `Ok`.
    ///
    /// On `Err` the client stops with [`Error::Store`](super::Error::Store) and nothing the
    /// batch protects is sent. What a reopened store then holds must be the state before the
    /// batch or after it, never a mix.
    fn apply(&mut self, batch: &[StoreOp]) -> io::Result<()>;

    /// Deletes every record, durably.
    fn clear(&mut self) -> io::Result<()>;
}

/// Why [`SessionStore::records`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadError {
    /// The store could not be read.
    Io(io::Error),
    /// A stored record does not parse.
    Restore(RestoreError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io(e) => write!(f, "{e}"),
            LoadError::Restore(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LoadError {}

impl From<io::Error> for LoadError {
    fn from(e: io::Error) -> Self {
        LoadError::Io(e)
    }
}

impl From<RestoreError> for LoadError {
    fn from(e: RestoreError) -> Self {
        LoadError::Restore(e)
    }
}

impl From<LoadError> for super::Error {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Io(e) => super::Error::Store(Arc::new(e)),
            LoadError::Restore(e) => super::Error::Restore(e),
        }
    }
}

/// How [`Options`](super::Options) opens a store: called once per
/// [`Client::connect`](super::Client::connect) with the options being connected (their host,
/// port and `config.client_id` name the session).
pub type OpenStore = Arc<dyn Fn(&super::Options) -> io::Result<Box<dyn SessionStore>> + Send + Sync>;

/// A session store in memory, shared by its clones: a client connected with a clone of the
/// store a stopped client used resumes that client's session (within this process).
///
/// ```
/// # use mq::native::{MemoryStore, Options};
/// let store = MemoryStore::new();
/// let s = store.clone();
/// let options = Options::new("127.0.0.1", 1883).with_store(move |_| Ok(s.clone()));
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Memory>>,
}

#[derive(Debug, Default)]
struct Memory {
    records: BTreeMap<StoreKey, StoreRecord>,
    /// `fail_after`: the next `apply` fails after this many operations.
    fail_after: Option<usize>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Makes the next [`apply`](SessionStore::apply) fail (and roll back) after it applied
    /// `ops` of its operations, as a full disk would: for testing how an application copes with
    /// a failing store. `ops` at least the batch's length fails it at the end.
    pub fn fail_after(&self, ops: usize) {
        self.lock().fail_after = Some(ops);
    }

    /// How many records the store holds.
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Memory> {
        // The map is only changed through `apply`, which leaves it whole at every step it can
        // panic in (none): a poisoned lock still guards a consistent map.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SessionStore for MemoryStore {
    fn records(&self) -> Result<Vec<StoreRecord>, LoadError> {
        Ok(self.lock().records.values().cloned().collect())
    }

    fn apply(&mut self, batch: &[StoreOp]) -> io::Result<()> {
        let mut m = self.lock();
        let fail_at = m.fail_after.take();
        // What each key held before, to undo the batch if it fails part way.
        let mut undo: Vec<(StoreKey, Option<StoreRecord>)> = Vec::with_capacity(batch.len());
        let mut failed = false;
        for (i, op) in batch.iter().enumerate() {
            if fail_at == Some(i) {
                failed = true;
                break;
            }
            match op {
                StoreOp::Put(r) => undo.push((r.key(), m.records.insert(r.key(), r.clone()))),
                StoreOp::Delete(k) => undo.push((*k, m.records.remove(k))),
            }
        }
        if failed || fail_at.is_some_and(|n| n >= batch.len()) {
            for (key, old) in undo.into_iter().rev() {
                match old {
                    Some(r) => m.records.insert(key, r),
                    None => m.records.remove(&key),
                };
            }
            return Err(io::Error::other("memory store: injected failure (fail_after)"));
        }
        Ok(())
    }

    fn clear(&mut self) -> io::Result<()> {
        self.lock().records.clear();
        Ok(())
    }
}
