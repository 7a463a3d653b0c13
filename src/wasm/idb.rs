//! Sessions in IndexedDB.
//!
//! One database (`mq-sessions`), one object store (`records`) with out-of-line compound keys
//! `[broker URL, client id, StoreKey as string]` and `StoreRecord::to_bytes()` as the value, so a
//! session is the key range `[url, id, ""]..[url, id, "\u{ffff}"]`. Credentials are not part of
//! any record. A batch of ops is one `readwrite` transaction, built synchronously (no await
//! inside: the transaction would auto-commit), and the caller awaits its `complete` before
//! sending the bytes it protects.

use super::error::{wrap, STORE_FAILED};
use crate::proto::{StoreOp, StoreRecord};
use js_sys::{Array, Promise, Uint8Array};
use std::future::Future;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbFactory, IdbKeyRange, IdbOpenDbRequest, IdbRequest, IdbTransactionMode};

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
fn request_done(req: &IdbRequest) -> JsFuture {
    let p = Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    });
    JsFuture::from(p)
}

impl IdbStore {
    /// Opens (creating on first use) the database for this broker URL and client id.
    pub async fn open(url: &str, client_id: &str) -> Result<IdbStore, JsValue> {
        let fail = |e: JsValue| wrap(STORE_FAILED, "cannot open IndexedDB", &e);
        let req: IdbOpenDbRequest = factory()?.open_with_u32(DB_NAME, DB_VERSION).map_err(fail)?;
        let upgrade_req = req.clone();
        let on_upgrade = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if let Ok(db) = upgrade_req.result().and_then(|r| r.dyn_into::<IdbDatabase>()) {
                if !db.object_store_names().contains(STORE) {
                    let _ = db.create_object_store(STORE);
                }
            }
        });
        req.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
        let done = request_done(&req).await;
        req.set_onupgradeneeded(None);
        drop(on_upgrade);
        done.map_err(|e| fail(req.error().ok().flatten().map(JsValue::from).unwrap_or(e)))?;
        let db = req.result().map_err(fail)?.dyn_into::<IdbDatabase>().map_err(fail)?;
        // Another tab upgrading the database: step aside rather than block it.
        let close_db = db.clone();
        let on_change = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| close_db.close());
        db.set_onversionchange(Some(on_change.as_ref().unchecked_ref()));
        on_change.forget();
        Ok(IdbStore { db, url: url.to_owned(), client_id: client_id.to_owned() })
    }

    fn key(&self, key: &str) -> JsValue {
        Array::of3(&self.url.as_str().into(), &self.client_id.as_str().into(), &key.into()).into()
    }

    fn range(&self) -> Result<IdbKeyRange, JsValue> {
        IdbKeyRange::bound(&self.key(""), &self.key("\u{ffff}"))
    }

    /// Every record of this session.
    pub async fn load(&self) -> Result<Vec<Vec<u8>>, JsValue> {
        let fail = |e: JsValue| wrap(STORE_FAILED, "cannot read the session from IndexedDB", &e);
        let tx = self.db.transaction_with_str(STORE).map_err(fail)?;
        let store = tx.object_store(STORE).map_err(fail)?;
        let req = store.get_all_with_key(&self.range().map_err(fail)?.into()).map_err(fail)?;
        request_done(&req).await.map_err(fail)?;
        let values: Array = req.result().map_err(fail)?.unchecked_into();
        Ok(values.iter().filter_map(|v| v.dyn_into::<Uint8Array>().ok()).map(|a| a.to_vec()).collect())
    }

    /// Applies `ops` in one transaction; the future resolves once it committed. The requests are
    /// all issued before this returns, so nothing the caller awaits meanwhile can commit it early.
    pub fn write(&self, ops: &[StoreOp]) -> Result<impl Future<Output = Result<(), JsValue>>, JsValue> {
        let fail = |e: JsValue| wrap(STORE_FAILED, "cannot write the session to IndexedDB", &e);
        let tx = self.db.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite).map_err(fail)?;
        let store = tx.object_store(STORE).map_err(fail)?;
        let done = Promise::new(&mut |resolve, reject| {
            tx.set_oncomplete(Some(&resolve));
            tx.set_onerror(Some(&reject));
            tx.set_onabort(Some(&reject));
        });
        for op in ops {
            let r = match op {
                StoreOp::Put(record) => {
                    let value = Uint8Array::from(record.to_bytes().as_slice());
                    store.put_with_key(&value, &self.key(&record.key().to_string())).map(drop)
                }
                StoreOp::Delete(key) => store.delete(&self.key(&key.to_string())).map(drop),
            };
            if let Err(e) = r {
                let _ = tx.abort();
                return Err(fail(e));
            }
        }
        let tx2 = tx.clone();
        Ok(async move {
            JsFuture::from(done).await.map(drop).map_err(|e| {
                let cause = tx2.error().map(JsValue::from).unwrap_or(e);
                wrap(STORE_FAILED, "IndexedDB transaction failed", &cause)
            })
        })
    }

    /// Removes every record of this session.
    pub fn clear(&self) -> Result<impl Future<Output = Result<(), JsValue>>, JsValue> {
        let fail = |e: JsValue| wrap(STORE_FAILED, "cannot clear the session", &e);
        let tx = self.db.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite).map_err(fail)?;
        let done = Promise::new(&mut |resolve, reject| {
            tx.set_oncomplete(Some(&resolve));
            tx.set_onerror(Some(&reject));
            tx.set_onabort(Some(&reject));
        });
        tx.object_store(STORE).map_err(fail)?.delete(&self.range().map_err(fail)?.into()).map_err(fail)?;
        Ok(async move { JsFuture::from(done).await.map(drop).map_err(fail) })
    }
}

/// Parses loaded values; a record that does not parse makes the whole session unusable.
pub(crate) fn parse(values: Vec<Vec<u8>>) -> Result<Vec<StoreRecord>, crate::proto::RestoreError> {
    values.iter().map(|v| StoreRecord::from_bytes(v)).collect()
}
