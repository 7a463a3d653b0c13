//! Sessions in IndexedDB.
//!
//! One database (`mq-sessions`), one object store (`records`) with out-of-line compound keys
//! `[broker URL, client id, StoreKey as string]` and `StoreRecord::to_bytes()` as the value, so a
//! session is the key range `[url, id, ""]..[url, id, "\u{ffff}"]`. Credentials are not part of
//! any record. A batch of ops is one `readwrite` transaction, built synchronously (no await
//! inside: the transaction would auto-commit), and the caller awaits its `complete` before
//! sending the bytes it protects.

use super::error::{wrap, STORE_FAILED};
use super::js::{call, call0, call1, callback, deferred, get, global, later, on_settled, set};
use crate::proto::{StoreOp, StoreRecord};
use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

const DB_NAME: &str = "mq-sessions";
const DB_VERSION: u32 = 1;
const STORE: &str = "records";

/// What `load` hands on: the store, and the records' bytes.
type Loaded = dyn FnOnce(IdbStore, Result<Vec<Vec<u8>>, JsValue>);

pub(crate) struct IdbStore {
    db: JsValue,
    url: String,
    client_id: String,
    /// The release of the session's Web Lock (see `session_lock`), once the driver owns it.
    pub lock: JsValue,
}

/// A promise settled by a request's `success` / `error` (the event itself is the value), or a
/// transaction's `complete` / `error` / `abort`.
fn done(target: &JsValue, ok: &str, errors: &[&str]) -> Promise {
    let (p, resolve, reject) = deferred();
    set(target, ok, &resolve);
    for e in errors {
        set(target, e, &reject);
    }
    p
}

fn request_done(req: &JsValue) -> Promise {
    done(req, "onsuccess", &["onerror"])
}

fn transaction_done(tx: &JsValue) -> Promise {
    done(tx, "oncomplete", &["onerror", "onabort"])
}

/// `db.transaction(STORE, mode)` and its object store.
fn transaction(db: &JsValue, mode: &str) -> Result<(JsValue, JsValue), JsValue> {
    let tx = call(db, "transaction", &STORE.into(), &mode.into())?;
    let store = call1(&tx, "objectStore", &STORE.into())?;
    Ok((tx, store))
}

/// Takes the Web Lock of the session of (`url`, `client_id`) for as long as one client uses it:
/// two clients on one stored session (two tabs, say) would overwrite each other's records, and
/// at the broker the second connection would keep throwing the first off. `f(None)` if another
/// client (in any tab of this origin) still holds it after [`LOCK_WAIT_MS`].
pub(crate) fn session_lock(url: &str, client_id: &str, f: impl FnOnce(Option<JsValue>) + 'static) {
    super::js::lock(&super::error::cat(&["mq-session\n", url, "\n", client_id]), LOCK_WAIT_MS, f)
}

/// How long a client waits for the session's lock: a page being replaced by its reload, or a
/// client that `end()` just closed, lets it go within this.
pub(crate) const LOCK_WAIT_MS: u32 = 3000;

impl IdbStore {
    /// Lets the session's Web Lock go (the client using it closed).
    pub fn unlock(&self) {
        super::js::release(&self.lock);
    }

    /// Closes the database connection once its transactions are done (one-off readers and
    /// `clearSession`; an open connection would hold up a later version change).
    pub fn close(&self) {
        let _ = call0(&self.db, "close");
    }

    /// Opens (creating on first use) the database for this broker URL and client id; `done`
    /// gets the store or the error, in a later task.
    pub fn open(url: &str, client_id: &str, done: impl FnOnce(Result<IdbStore, JsValue>) + 'static) {
        Self::open_boxed(url, client_id, Box::new(done))
    }

    // The `*_boxed` functions take their callback boxed: one copy each in the module, not one
    // per caller.
    fn open_boxed(url: &str, client_id: &str, done: Box<dyn FnOnce(Result<IdbStore, JsValue>)>) {
        let fail = |e: JsValue| wrap(STORE_FAILED, "cannot open IndexedDB", &e);
        let factory = global("indexedDB");
        if !factory.is_object() {
            let e = super::error::js_error(STORE_FAILED, "IndexedDB is not available here");
            return later(move || done(Err(e)));
        }
        let req = match call(&factory, "open", &DB_NAME.into(), &DB_VERSION.into()) {
            Ok(r) => r,
            Err(e) => return later(move || done(Err(fail(e)))),
        };
        let upgrade_req = req.clone();
        let on_upgrade = callback(move |_, _| {
            let db = get(&upgrade_req, "result");
            let names = get(&db, "objectStoreNames");
            if call1(&names, "contains", &STORE.into()).ok().and_then(|c| c.as_bool()) == Some(false) {
                let _ = call1(&db, "createObjectStore", &STORE.into());
            }
        });
        set(&req, "onupgradeneeded", on_upgrade.as_ref());
        let (url, client_id) = (url.to_owned(), client_id.to_owned());
        on_settled(&request_done(&req), move |r| {
            set(&req, "onupgradeneeded", &JsValue::NULL);
            drop(on_upgrade);
            done((|| {
                r.map_err(|e| {
                    let error = get(&req, "error");
                    fail(if error.is_object() { error } else { e })
                })?;
                let db = js_sys::Reflect::get(&req, &"result".into()).map_err(fail)?;
                // Another tab upgrading the database: step aside rather than block it.
                let close_db = db.clone();
                let on_change = callback(move |_, _| drop(call0(&close_db, "close")));
                set(&db, "onversionchange", &on_change.into_js_value());
                Ok(IdbStore { db, url, client_id, lock: JsValue::UNDEFINED })
            })())
        });
    }

    fn key(&self, key: &str) -> JsValue {
        Array::of3(&self.url.as_str().into(), &self.client_id.as_str().into(), &key.into()).into()
    }

    fn range(&self) -> Result<JsValue, JsValue> {
        call(&global("IDBKeyRange"), "bound", &self.key(""), &self.key("\u{ffff}"))
    }

    /// Every record of this session, handed to `done` with the store, in a later task.
    pub fn load(self, done: impl FnOnce(IdbStore, Result<Vec<Vec<u8>>, JsValue>) + 'static) {
        self.load_boxed(Box::new(done))
    }

    fn load_boxed(self, done: Box<Loaded>) {
        let fail = |e: JsValue| wrap(STORE_FAILED, "cannot read the session from IndexedDB", &e);
        let req = match (|| {
            let (_, store) = transaction(&self.db, "readonly")?;
            call1(&store, "getAll", &self.range()?)
        })() {
            Ok(req) => req,
            Err(e) => return later(move || done(self, Err(fail(e)))),
        };
        on_settled(&request_done(&req), move |r| {
            let values =
                r.and_then(|_| js_sys::Reflect::get(&req, &"result".into())).map_err(fail).map(|v| {
                    let values: Array = v.unchecked_into();
                    values
                        .iter()
                        .filter_map(|v| v.dyn_into::<Uint8Array>().ok())
                        .map(|a| a.to_vec())
                        .collect()
                });
            done(self, values)
        });
    }

    /// Applies `ops` in one transaction; `done` runs once it committed (or failed), in a later
    /// task. The requests are all issued before this returns, so nothing can commit it early.
    pub fn write(&self, ops: &[StoreOp], done: impl FnOnce(Result<(), JsValue>) + 'static) {
        let fail = |e: JsValue| wrap(STORE_FAILED, "cannot write the session to IndexedDB", &e);
        let (tx, store) = match transaction(&self.db, "readwrite") {
            Ok(t) => t,
            Err(e) => return later(move || done(Err(fail(e)))),
        };
        let issued = (|| {
            for op in ops {
                match op {
                    StoreOp::Put(record) => {
                        let value = Uint8Array::from(record.to_bytes().as_slice());
                        call(&store, "put", &value, &self.key(&record.key().to_key_string()))?;
                    }
                    StoreOp::Delete(key) => {
                        call1(&store, "delete", &self.key(&key.to_key_string()))?;
                    }
                }
            }
            Ok(())
        })();
        if let Err(e) = issued {
            let _ = call0(&tx, "abort");
            return later(move || done(Err(fail(e))));
        }
        on_settled(&transaction_done(&tx), move |r| {
            done(r.map(drop).map_err(|e| {
                let error = get(&tx, "error");
                let cause = if error.is_object() { error } else { e };
                wrap(STORE_FAILED, "IndexedDB transaction failed", &cause)
            }))
        });
    }

    /// Removes every record of this session; `done` once committed, in a later task.
    pub fn clear(&self, done: impl FnOnce(Result<(), JsValue>) + 'static) {
        self.clear_boxed(Box::new(done))
    }

    fn clear_boxed(&self, done: Box<dyn FnOnce(Result<(), JsValue>)>) {
        let fail = |e: JsValue| wrap(STORE_FAILED, "cannot clear the session", &e);
        let issued = (|| {
            let (tx, store) = transaction(&self.db, "readwrite")?;
            let p = transaction_done(&tx);
            call1(&store, "delete", &self.range()?)?;
            Ok(p)
        })();
        match issued {
            Ok(p) => on_settled(&p, move |r| done(r.map(drop).map_err(fail))),
            Err(e) => later(move || done(Err(fail(e)))),
        }
    }
}

/// Parses loaded values; a record that does not parse makes the whole session unusable.
pub(crate) fn parse(values: Vec<Vec<u8>>) -> Result<Vec<StoreRecord>, crate::proto::RestoreError> {
    values.iter().map(|v| StoreRecord::from_bytes(v)).collect()
}
