//! Sessions in IndexedDB.
//!
//! One database (`mq-sessions`), one object store (`records`) with out-of-line compound keys
//! `[broker URL, client id, StoreKey as string]` and `StoreRecord::to_bytes()` as the value, so a
//! session is the key range `[url, id, ""]..[url, id, "\u{ffff}"]`. Credentials are not part of
//! any record. A batch of ops is one `readwrite` transaction, built synchronously (no await
//! inside: the transaction would auto-commit), and the caller awaits its `complete` before
//! sending the bytes it protects.

use super::error::{wrap, STORE_FAILED};
use super::js::{later, on_settled};
use crate::proto::{StoreOp, StoreRecord};
use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    IdbDatabase, IdbFactory, IdbKeyRange, IdbOpenDbRequest, IdbRequest, IdbTransaction, IdbTransactionMode,
};

const DB_NAME: &str = "mq-sessions";
const DB_VERSION: u32 = 1;
const STORE: &str = "records";

pub(crate) struct IdbStore {
    db: IdbDatabase,
    url: String,
    client_id: String,
}

fn factory() -> Result<IdbFactory, JsValue> {
    let f = js_sys::Reflect::get(&js_sys::global(), &"indexedDB".into())?;
    f.dyn_into::<IdbFactory>()
        .map_err(|_| super::error::js_error(STORE_FAILED, "IndexedDB is not available here"))
}

/// A promise settled by a request's `success` / `error` (the event itself is the value).
fn request_done(req: &IdbRequest) -> Promise {
    Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    })
}

/// A promise settled by a transaction's `complete` / `error` / `abort`.
fn transaction_done(tx: &IdbTransaction) -> Promise {
    Promise::new(&mut |resolve, reject| {
        tx.set_oncomplete(Some(&resolve));
        tx.set_onerror(Some(&reject));
        tx.set_onabort(Some(&reject));
    })
}

impl IdbStore {
    /// Opens (creating on first use) the database for this broker URL and client id; `done`
    /// gets the store or the error, in a later task.
    pub fn open(url: &str, client_id: &str, done: impl FnOnce(Result<IdbStore, JsValue>) + 'static) {
        let fail = |e: JsValue| wrap(STORE_FAILED, "cannot open IndexedDB", &e);
        let req: IdbOpenDbRequest =
            match factory().and_then(|f| f.open_with_u32(DB_NAME, DB_VERSION).map_err(fail)) {
                Ok(r) => r,
                Err(e) => return later(move || done(Err(e))),
            };
        let upgrade_req = req.clone();
        let on_upgrade = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            if let Ok(db) = upgrade_req.result().and_then(|r| r.dyn_into::<IdbDatabase>()) {
                if !db.object_store_names().contains(STORE) {
                    let _ = db.create_object_store(STORE);
                }
            }
        });
        req.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
        let (url, client_id) = (url.to_owned(), client_id.to_owned());
        on_settled(&request_done(&req), move |r| {
            req.set_onupgradeneeded(None);
            drop(on_upgrade);
            done((|| {
                r.map_err(|e| fail(req.error().ok().flatten().map(JsValue::from).unwrap_or(e)))?;
                let db = req.result().map_err(fail)?.dyn_into::<IdbDatabase>().map_err(fail)?;
                // Another tab upgrading the database: step aside rather than block it.
                let close_db = db.clone();
                let on_change = Closure::<dyn FnMut(JsValue)>::new(move |_| close_db.close());
                db.set_onversionchange(Some(on_change.as_ref().unchecked_ref()));
                on_change.forget();
                Ok(IdbStore { db, url, client_id })
            })())
        });
    }

    fn key(&self, key: &str) -> JsValue {
        Array::of3(&self.url.as_str().into(), &self.client_id.as_str().into(), &key.into()).into()
    }

    fn range(&self) -> Result<IdbKeyRange, JsValue> {
        IdbKeyRange::bound(&self.key(""), &self.key("\u{ffff}"))
    }

    /// Every record of this session, handed to `done` with the store, in a later task.
    pub fn load(self, done: impl FnOnce(IdbStore, Result<Vec<Vec<u8>>, JsValue>) + 'static) {
        let fail = |e: JsValue| wrap(STORE_FAILED, "cannot read the session from IndexedDB", &e);
        let req = match (|| {
            let tx = self.db.transaction_with_str(STORE).map_err(fail)?;
            let store = tx.object_store(STORE).map_err(fail)?;
            store.get_all_with_key(&self.range().map_err(fail)?.into()).map_err(fail)
        })() {
            Ok(req) => req,
            Err(e) => return later(move || done(self, Err(e))),
        };
        on_settled(&request_done(&req), move |r| {
            let values = r.and_then(|_| req.result()).map_err(fail).map(|v| {
                let values: Array = v.unchecked_into();
                values.iter().filter_map(|v| v.dyn_into::<Uint8Array>().ok()).map(|a| a.to_vec()).collect()
            });
            done(self, values)
        });
    }

    /// Applies `ops` in one transaction; `done` runs once it committed (or failed), in a later
    /// task. The requests are all issued before this returns, so nothing can commit it early.
    pub fn write(&self, ops: &[StoreOp], done: impl FnOnce(Result<(), JsValue>) + 'static) {
        let fail = |e: JsValue| wrap(STORE_FAILED, "cannot write the session to IndexedDB", &e);
        let tx = match self.db.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite) {
            Ok(tx) => tx,
            Err(e) => return later(move || done(Err(fail(e)))),
        };
        let issued = (|| {
            let store = tx.object_store(STORE)?;
            for op in ops {
                match op {
                    StoreOp::Put(record) => {
                        let value = Uint8Array::from(record.to_bytes().as_slice());
                        store.put_with_key(&value, &self.key(&record.key().to_string()))?;
                    }
                    StoreOp::Delete(key) => {
                        store.delete(&self.key(&key.to_string()))?;
                    }
                }
            }
            Ok(())
        })();
        if let Err(e) = issued {
            let _ = tx.abort();
            return later(move || done(Err(fail(e))));
        }
        on_settled(&transaction_done(&tx), move |r| {
            done(r.map(drop).map_err(|e| {
                let cause = tx.error().map(JsValue::from).unwrap_or(e);
                wrap(STORE_FAILED, "IndexedDB transaction failed", &cause)
            }))
        });
    }

    /// Removes every record of this session; `done` once committed, in a later task.
    pub fn clear(&self, done: impl FnOnce(Result<(), JsValue>) + 'static) {
        let fail = |e: JsValue| wrap(STORE_FAILED, "cannot clear the session", &e);
        let issued = (|| {
            let tx = self.db.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)?;
            let p = transaction_done(&tx);
            tx.object_store(STORE)?.delete(&self.range()?.into())?;
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
