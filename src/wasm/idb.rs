//! Sessions in IndexedDB (web-sys), and the Web Lock that gives one client at a time a session.
//!
//! One database (`mq-sessions`), one object store (`records`) with out-of-line compound keys
//! `[broker URL, client id, StoreKey as string]` and `StoreRecord::to_bytes()` as the value, so a
//! session is the key range `[url, id, ""]..[url, id, "\u{ffff}"]`. Credentials are not part of
//! any record. A batch of ops is one `readwrite` transaction whose requests are all issued
//! before [`IdbStore::write`] returns (no await inside: the transaction would auto-commit), and
//! the caller awaits its `complete` before sending the bytes it protects.

use super::error::{js_error, wrap};
use super::web::{callback, deferred, LockOptions, Scope};
use crate::proto::{ErrorCode, StoreOp, StoreRecord};
use js_sys::{Array, Function, Object, Promise, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, IdbDatabase, IdbKeyRange, IdbRequest, IdbTransaction, IdbTransactionMode};

const DB_NAME: &str = "mq-sessions";
const DB_VERSION: u32 = 1;
const STORE: &str = "records";

/// How long a client waits for the session's lock: a page being replaced by its reload, or a
/// client that `end()` just closed, lets it go within this.
pub(crate) const LOCK_WAIT_MS: u32 = 3000;

pub(crate) struct IdbStore {
    db: IdbDatabase,
    url: String,
    client_id: String,
    /// The session's Web Lock (see [`session_lock`]), once the driver owns it.
    pub lock: SessionLock,
}

/// A held Web Lock: its `release` (none where the page has no Web Locks).
#[derive(Default)]
pub(crate) struct SessionLock(Option<Function>);

impl SessionLock {
    /// Lets the lock go (once).
    pub fn release(&mut self) {
        if let Some(f) = self.0.take() {
            let _ = f.call0(&JsValue::UNDEFINED);
        }
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

/// Takes the Web Lock of the session of (`url`, `client_id`) for as long as one client uses it:
/// two clients on one stored session (two tabs, say) would overwrite each other's records, and
/// at the broker the second connection would keep throwing the first off. Fails with
/// `SESSION_LOCKED` if another client (in any tab of this origin) still holds it after
/// [`LOCK_WAIT_MS`]. Without Web Locks (or if the request fails otherwise) it goes on unguarded.
pub(crate) async fn session_lock(url: &str, client_id: &str) -> Result<SessionLock, JsValue> {
    let Some(locks) = Scope::get().locks() else { return Ok(SessionLock(None)) };
    let mut name = String::from("mq-session\n");
    name.push_str(url);
    name.push('\n');
    name.push_str(client_id);
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
                if !db.object_store_names().contains(STORE) {
                    let _ = db.create_object_store(STORE);
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
        Ok(IdbStore { db, url: url.to_owned(), client_id: client_id.to_owned(), lock: SessionLock(None) })
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

    fn key(&self, key: &str) -> JsValue {
        Array::of3(&self.url.as_str().into(), &self.client_id.as_str().into(), &key.into()).into()
    }

    fn range(&self) -> Result<JsValue, JsValue> {
        IdbKeyRange::bound(&self.key(""), &self.key("\u{ffff}")).map(JsValue::from)
    }

    fn transaction(
        &self,
        mode: IdbTransactionMode,
    ) -> Result<(IdbTransaction, web_sys::IdbObjectStore), JsValue> {
        let tx = self.db.transaction_with_str_and_mode(STORE, mode)?;
        let store = tx.object_store(STORE)?;
        Ok((tx, store))
    }

    /// Every record of this session.
    pub async fn load(&self) -> Result<Vec<Vec<u8>>, JsValue> {
        const CONTEXT: &str = "cannot read the session from IndexedDB";
        let req = self
            .transaction(IdbTransactionMode::Readonly)
            .and_then(|(_, store)| store.get_all_with_key(&self.range()?))
            .map_err(|e| store_failed(CONTEXT, &e))?;
        JsFuture::from(request_done(&req))
            .await
            .map_err(|e| store_failed(CONTEXT, &request_error(&req, e)))?;
        let values: Array = req.result().map_err(|e| store_failed(CONTEXT, &e))?.unchecked_into();
        Ok(values.iter().filter_map(|v| v.dyn_into::<Uint8Array>().ok()).map(|a| a.to_vec()).collect())
    }

    /// Applies `ops` in one transaction, all requests issued before this returns (so nothing can
    /// commit it early); the promise settles once it committed or failed.
    pub fn write(&self, ops: &[StoreOp]) -> Result<(IdbTransaction, Promise), JsValue> {
        let fail = |e: JsValue| store_failed("cannot write the session to IndexedDB", &e);
        let (tx, store) = self.transaction(IdbTransactionMode::Readwrite).map_err(fail)?;
        let done = transaction_done(&tx);
        let issued = ops.iter().try_for_each(|op| match op {
            StoreOp::Put(record) => {
                let value = Uint8Array::from(record.to_bytes().as_slice());
                store.put_with_key(&value, &self.key(&record.key().to_key_string())).map(drop)
            }
            StoreOp::Delete(key) => store.delete(&self.key(&key.to_key_string())).map(drop),
        });
        if let Err(e) = issued {
            let _ = tx.abort();
            return Err(fail(e));
        }
        Ok((tx, done))
    }

    /// Removes every record of this session.
    pub async fn clear(&self) -> Result<(), JsValue> {
        const CONTEXT: &str = "cannot clear the session";
        let done = self
            .transaction(IdbTransactionMode::Readwrite)
            .and_then(|(tx, store)| {
                let done = transaction_done(&tx);
                store.delete(&self.range()?)?;
                Ok(done)
            })
            .map_err(|e| store_failed(CONTEXT, &e))?;
        JsFuture::from(done).await.map(drop).map_err(|e| store_failed(CONTEXT, &e))
    }
}

/// The error of a failed write, from the transaction where it says one.
pub(crate) fn write_error(tx: &IdbTransaction, e: JsValue) -> JsValue {
    let cause = tx.error().map(JsValue::from).unwrap_or(e);
    store_failed("IndexedDB transaction failed", &cause)
}

/// Parses loaded values; a record that does not parse makes the whole session unusable.
pub(crate) fn parse(values: Vec<Vec<u8>>) -> Result<Vec<StoreRecord>, crate::proto::RestoreError> {
    values.iter().map(|v| StoreRecord::from_bytes(v)).collect()
}
