//! Sessions in IndexedDB (web-sys), and the Web Lock that gives one client at a time a session.
//!
//! One database (`mq-sessions`, version 2). A session is a log: the object store `log` holds one
//! value per write, under the out-of-line key `[broker URL, client id, sequence number]`, so a
//! session is the key range `[url, id, 0]..[url, id, MAX]`. A value is the sequence number and a
//! batch of the core's store ops in `proto::log`'s entry format (the native file store's), and
//! loading replays them in order. The driver may add ops of its own to a batch, under keys
//! starting with [`SIDE`] (see `Driver::side`), which the core's records never use. One put per
//! write, however many messages it carried (the driver groups the turns that come while a write
//! runs into the next): each IndexedDB request and transaction costs the page and the browser
//! time, so a record per message made a persisted session several times slower than a memory
//! one. Once the log holds
//! [`COMPACT_AFTER`] entries the next write is a snapshot of the whole session that replaces
//! them, in the same transaction. Version 1 kept a record per key in the object store `records`
//! (`[url, id, StoreKey as string]` -> record bytes): such a session is read as the base of the
//! log, and the first write after it is a snapshot that deletes it. Credentials are not part of
//! any record.
//!
//! A batch is one `readwrite` transaction whose requests are all issued before
//! [`IdbStore::write`] returns (no await inside: the transaction would auto-commit), and the
//! caller awaits its `complete` before sending the bytes it protects.

use super::error::{js_error, restore_error, wrap};
use super::web::{callback, deferred, LockOptions, Scope};
use crate::proto::log::{encode_entry, LogOp, Replay};
use crate::proto::{ErrorCode, StoreRecord};
use js_sys::{Array, Function, Object, Promise, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, IdbDatabase, IdbKeyRange, IdbRequest, IdbTransaction, IdbTransactionMode};

const DB_NAME: &str = "mq-sessions";
const DB_VERSION: u32 = 2;
/// Version 1's store: one record per key.
const RECORDS: &str = "records";
/// The session logs.
const LOG: &str = "log";
/// How many log entries a session may have before the next write replaces them by a snapshot.
const COMPACT_AFTER: u32 = 256;

/// How long a client waits for the session's lock: a page being replaced by its reload, or a
/// client that `end()` just closed, lets it go within this.
pub(crate) const LOCK_WAIT_MS: u32 = 3000;

pub(crate) struct IdbStore {
    db: IdbDatabase,
    url: String,
    client_id: String,
    /// The session's Web Lock (see [`session_lock`]), once the driver owns it.
    pub lock: SessionLock,
    /// The next write's sequence number, and how many log entries the session has.
    next_seq: f64,
    entries: u32,
    /// Version 1 records of this session exist: the next snapshot deletes them.
    legacy: bool,
    /// The driver's own records (keys starting with [`SIDE`]) that `load` found, for the driver.
    pub side: Replay,
}

/// The first character of the keys of records that are not the core's [`StoreRecord`]s but the
/// driver's own, written in the same transactions (wasm/share/'s publish origins).
pub(crate) const SIDE: char = 'x';

/// A held Web Lock: its `release` (none where the page has no Web Locks).
#[derive(Default)]
pub(crate) struct SessionLock(Option<Function>);

impl SessionLock {
    /// A lock taken elsewhere (wasm/share/), let go by calling `release`.
    pub fn held(release: Function) -> SessionLock {
        SessionLock(Some(release))
    }

    /// Lets the lock go (once).
    pub fn release(&mut self) {
        if let Some(f) = self.0.take() {
            let _ = f.call0(&JsValue::UNDEFINED);
        }
    }
}

/// A lock nobody can let go any more goes with its owner: a driver dropped while a write was
/// still running (a shared tab's leader whose first connection failed, say) kept the session's
/// lock for as long as the page lived, and every later client on it got `SESSION_LOCKED`.
impl Drop for SessionLock {
    fn drop(&mut self) {
        self.release()
    }
}

fn store_failed(context: &str, cause: &JsValue) -> JsValue {
    wrap(ErrorCode::StoreFailed, context, cause)
}

/// A promise settled by a request's `success` (with the event) or `error`.
fn request_done(req: &IdbRequest) -> Promise {
    let (p, resolve, reject) = deferred();
    req.set_onsuccess(Some(&resolve));
    req.set_onerror(Some(&reject));
    p
}

/// A promise settled by a transaction's `complete`, or its `error` / `abort`.
fn transaction_done(tx: &IdbTransaction) -> Promise {
    let (p, resolve, reject) = deferred();
    tx.set_oncomplete(Some(&resolve));
    tx.set_onerror(Some(&reject));
    tx.set_onabort(Some(&reject));
    p
}

/// The request's own error where it has one (a `DOMException`), else what the event says.
fn request_error(req: &IdbRequest, e: JsValue) -> JsValue {
    match req.error() {
        Ok(Some(error)) => error.into(),
        _ => e,
    }
}

/// The name of the Web Lock of the session of (`url`, `client_id`).
pub(crate) fn session_lock_name(url: &str, client_id: &str) -> String {
    let mut name = String::from("mq-session\n");
    name.push_str(url);
    name.push('\n');
    name.push_str(client_id);
    name
}

/// Takes the Web Lock of the session of (`url`, `client_id`) for as long as one client uses it:
/// two clients on one stored session (two tabs, say) would overwrite each other's records, and
/// at the broker the second connection would keep throwing the first off. Fails with
/// `SESSION_LOCKED` if another client (in any tab of this origin) still holds it after
/// [`LOCK_WAIT_MS`]. Without Web Locks (or if the request fails otherwise) it goes on unguarded.
pub(crate) async fn session_lock(url: &str, client_id: &str) -> Result<SessionLock, JsValue> {
    let Some(locks) = Scope::get().locks() else { return Ok(SessionLock(None)) };
    let name = session_lock_name(url, client_id);
    let Ok(stop) = AbortController::new() else { return Ok(SessionLock(None)) };
    let options: LockOptions = Object::new().unchecked_into();
    options.set_signal(&stop.signal());
    // `held` is what the lock callback returns: the lock is ours until `release` settles it.
    let (held, release, _) = deferred();
    let (granted, grant, _) = deferred();
    let on_grant = callback(move |_lock| {
        let _ = grant.call0(&JsValue::UNDEFINED);
        held.clone().into()
    });
    let request =
        match locks.request_with_options_and_callback(&name, &options, on_grant.as_ref().unchecked_ref()) {
            Ok(p) => p,
            Err(_) => return Ok(SessionLock(None)),
        };
    // The closure must outlive the request; JS's garbage collector frees it afterwards.
    drop(on_grant.into_js_value());
    let _timeout = super::timer::after_ms(LOCK_WAIT_MS, move || stop.abort());
    // `request` only settles after the release, unless it fails: aborted (still held
    // elsewhere), or refused (no lock manager for this document, say: go on unguarded).
    match JsFuture::from(Promise::race(&Array::of2(&granted, &request))).await {
        Ok(_) => Ok(SessionLock(Some(release))),
        Err(e) if e.unchecked_ref::<js_sys::Error>().name() == "AbortError" => Err(js_error(
            ErrorCode::SessionLocked,
            "another client (in this tab or another) is using the stored session of this broker URL and client id",
        )),
        Err(_) => Ok(SessionLock(None)),
    }
}

impl IdbStore {
    /// Opens (creating on first use) the database, for this broker URL and client id.
    pub async fn open(url: &str, client_id: &str) -> Result<IdbStore, JsValue> {
        let Some(factory) = Scope::get().indexed_db() else {
            return Err(js_error(ErrorCode::StoreFailed, "IndexedDB is not available here"));
        };
        let req = factory
            .open_with_u32(DB_NAME, DB_VERSION)
            .map_err(|e| store_failed("cannot open IndexedDB", &e))?;
        let upgrade_req = req.clone();
        let on_upgrade = callback(move |_| {
            if let Ok(db) = upgrade_req.result() {
                let db: IdbDatabase = db.unchecked_into();
                for name in [RECORDS, LOG] {
                    if !db.object_store_names().contains(name) {
                        let _ = db.create_object_store(name);
                    }
                }
            }
            JsValue::UNDEFINED
        });
        req.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
        let opened = JsFuture::from(request_done(&req)).await;
        req.set_onupgradeneeded(None);
        drop(on_upgrade);
        opened.map_err(|e| store_failed("cannot open IndexedDB", &request_error(&req, e)))?;
        let db: IdbDatabase =
            req.result().map_err(|e| store_failed("cannot open IndexedDB", &e))?.unchecked_into();
        // Another tab upgrading the database: step aside rather than block it.
        let close_db = db.clone();
        let on_change = callback(move |_| {
            close_db.close();
            JsValue::UNDEFINED
        });
        db.set_onversionchange(Some(on_change.into_js_value().unchecked_ref()));
        Ok(IdbStore {
            db,
            url: url.to_owned(),
            client_id: client_id.to_owned(),
            lock: SessionLock(None),
            next_seq: 0.0,
            entries: 0,
            legacy: false,
            side: Replay::default(),
        })
    }

    /// Lets the session's Web Lock go (the client using it closed).
    pub fn unlock(&mut self) {
        self.lock.release()
    }

    /// Closes the database connection once its transactions are done (one-off readers and
    /// `clearSession`; an open connection would hold up a later version change).
    pub fn close(&self) {
        self.db.close();
    }

    fn key(&self, last: &JsValue) -> JsValue {
        Array::of3(&self.url.as_str().into(), &self.client_id.as_str().into(), last).into()
    }

    /// The session's entries of the version 1 store.
    fn records_range(&self) -> Result<JsValue, JsValue> {
        IdbKeyRange::bound(&self.key(&"".into()), &self.key(&"\u{ffff}".into())).map(JsValue::from)
    }

    /// The session's log entries.
    fn log_range(&self) -> Result<JsValue, JsValue> {
        IdbKeyRange::bound(&self.key(&0.into()), &self.key(&f64::MAX.into())).map(JsValue::from)
    }

    fn transaction(&self, mode: IdbTransactionMode) -> Result<IdbTransaction, JsValue> {
        let names = Array::of2(&RECORDS.into(), &LOG.into());
        self.db.transaction_with_str_sequence_and_mode(&names, mode)
    }

    /// Every record of this session: version 1's records, then the log replayed in order (the
    /// driver's own records, keys starting with [`SIDE`], go to `side`). A record or entry that
    /// does not parse makes the whole session unusable (`SESSION_CORRUPT`).
    pub async fn load(&mut self) -> Result<Vec<StoreRecord>, JsValue> {
        const CONTEXT: &str = "cannot read the session from IndexedDB";
        let (old, log) = self
            .transaction(IdbTransactionMode::Readonly)
            .and_then(|tx| {
                let old = tx.object_store(RECORDS)?.get_all_with_key(&self.records_range()?)?;
                let log = tx.object_store(LOG)?.get_all_with_key(&self.log_range()?)?;
                Ok((old, log))
            })
            .map_err(|e| store_failed(CONTEXT, &e))?;
        // Both handlers are set before waiting: the second request may finish first.
        let done = [request_done(&old), request_done(&log)];
        for (req, done) in [&old, &log].into_iter().zip(done) {
            JsFuture::from(done).await.map_err(|e| store_failed(CONTEXT, &request_error(req, e)))?;
        }
        let values = |req: &IdbRequest| -> Result<Vec<Vec<u8>>, JsValue> {
            let values: Array = req.result().map_err(|e| store_failed(CONTEXT, &e))?.unchecked_into();
            Ok(values.iter().filter_map(|v| v.dyn_into::<Uint8Array>().ok()).map(|a| a.to_vec()).collect())
        };
        let mut session = Replay::default();
        let old = values(&old)?;
        self.legacy = !old.is_empty();
        for bytes in old {
            session.put(&StoreRecord::from_bytes(&bytes).map_err(|e| restore_error(&e))?);
        }
        let log = values(&log)?;
        self.entries = log.len() as u32;
        for entry in log {
            let seq = entry.get(..8).and_then(|s| s.try_into().ok()).map(u64::from_be_bytes);
            let seq = seq.filter(|_| session.apply_entry(&entry[8..]).is_some()).ok_or_else(corrupt)?;
            self.next_seq = self.next_seq.max(seq as f64 + 1.0);
        }
        let mut records = Vec::new();
        for (k, v) in session.entries() {
            if k.starts_with(SIDE) {
                self.side.apply(k, Some(v));
            } else {
                records.push(StoreRecord::from_bytes(v).map_err(|e| restore_error(&e))?);
            }
        }
        Ok(records)
    }

    /// Whether the next write should be a snapshot of the whole session (see [`COMPACT_AFTER`]).
    pub fn wants_snapshot(&self) -> bool {
        self.legacy || self.entries >= COMPACT_AFTER
    }

    /// Applies `ops` in one transaction, all requests issued before this returns (so nothing can
    /// commit it early); the promise settles once it committed or failed. `snapshot`: `ops` are
    /// the puts of the whole session, replacing the log (and version 1's records).
    pub fn write(&mut self, ops: &[LogOp], snapshot: bool) -> Result<(IdbTransaction, Promise), JsValue> {
        let fail = |e: JsValue| store_failed("cannot write the session to IndexedDB", &e);
        let tx = self.transaction(IdbTransactionMode::Readwrite).map_err(fail)?;
        let done = transaction_done(&tx);
        let seq = self.next_seq;
        let issued = (|| {
            let log = tx.object_store(LOG)?;
            if snapshot {
                log.delete(&self.log_range()?)?;
                if self.legacy {
                    tx.object_store(RECORDS)?.delete(&self.records_range()?)?;
                }
            }
            let value = Uint8Array::from(encode_batch(seq, ops).as_slice());
            log.put_with_key(&value, &self.key(&seq.into())).map(drop)
        })();
        if let Err(e) = issued {
            let _ = tx.abort();
            return Err(fail(e));
        }
        self.next_seq += 1.0;
        if snapshot {
            self.entries = 1;
            self.legacy = false;
        } else {
            self.entries += 1;
        }
        Ok((tx, done))
    }

    /// Removes every record of this session.
    pub async fn clear(&self) -> Result<(), JsValue> {
        const CONTEXT: &str = "cannot clear the session";
        let done = self
            .transaction(IdbTransactionMode::Readwrite)
            .and_then(|tx| {
                let done = transaction_done(&tx);
                tx.object_store(RECORDS)?.delete(&self.records_range()?)?;
                tx.object_store(LOG)?.delete(&self.log_range()?)?;
                Ok(done)
            })
            .map_err(|e| store_failed(CONTEXT, &e))?;
        JsFuture::from(done).await.map(drop).map_err(|e| store_failed(CONTEXT, &e))
    }
}

fn corrupt() -> JsValue {
    js_error(ErrorCode::SessionCorrupt, "a stored session log entry does not parse")
}

/// A log entry: its sequence number (8 bytes, big-endian), then the body of `proto::log`'s
/// entry for the ops (the native file store's entry format).
fn encode_batch(seq: f64, ops: &[LogOp]) -> Vec<u8> {
    let mut out = (seq as u64).to_be_bytes().to_vec();
    out.extend_from_slice(&encode_entry(ops));
    out
}

/// The error of a failed write, from the transaction where it says one.
pub(crate) fn write_error(tx: &IdbTransaction, e: JsValue) -> JsValue {
    let cause = tx.error().map(JsValue::from).unwrap_or(e);
    store_failed("IndexedDB transaction failed", &cause)
}
