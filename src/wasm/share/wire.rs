//! What the tabs say to each other on their `BroadcastChannel`, and the Web Locks they hold.
//!
//! A message is a plain object, structured-cloned by the browser, read and written through the
//! typed accessors of [`Wire`] (no property named by a string at run time). Its kind is `k`:
//!
//! | `k` | from | fields |
//! |---|---|---|
//! | `hello` | a tab | `tab`, `filters` + `qoss` (its subscriptions): "who leads? here is what I hold" |
//! | `req` | a tab | `tab`, `n` (the tab's request number), `op` (`pub` / `sub` / `unsub`), `topic`, `payload` (`Uint8Array`), `qos`, `retain`, `filters` |
//! | `leader` | the leader | `tab` (the leader's), `connected`, `sp`, `ids` (the restored requests still pending) |
//! | `ev` | the leader | `op` (`connect` / `close` / `offline` / `reconnect` / `error` / `failed`), `sp`, `code`, `text`, `rc` |
//! | `ack` | the leader | `tab`, `n`, `op` (`stored` / `done` / `failed`), `id` (the session's request id), `granted`, `code`, `text`, `rc` |
//! | `rdone` | the leader | `id`: a request restored from the session completed |
//! | `msg` | the leader | `topic`, `payload`, `qos`, `retain`, `dup`: an incoming message, posted once for all tabs |
//!
//! Every getter returns a `JsValue` read with `as_string` / `as_f64` / `as_bool`: a message
//! of another shape (another version of the package, say) reads as absent fields, never a panic.

use super::super::error::{error_code, js_error};
use super::super::web::{callback, deferred, LockManager, LockOptions};
use crate::proto::ErrorCode;
use js_sys::{Array, Function, Object};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::AbortSignal;

#[wasm_bindgen]
extern "C" {
    /// A message on the channel (see the module docs).
    #[wasm_bindgen(extends = Object)]
    #[derive(Clone)]
    pub(crate) type Wire;
    #[wasm_bindgen(method, getter)]
    pub fn k(this: &Wire) -> JsValue;
    #[wasm_bindgen(method, setter, js_name = k)]
    pub fn set_k(this: &Wire, v: &str);
    #[wasm_bindgen(method, getter)]
    pub fn tab(this: &Wire) -> JsValue;
    #[wasm_bindgen(method, setter, js_name = tab)]
    pub fn set_tab(this: &Wire, v: &str);
    #[wasm_bindgen(method, getter)]
    pub fn n(this: &Wire) -> JsValue;
    #[wasm_bindgen(method, setter, js_name = n)]
    pub fn set_n(this: &Wire, v: f64);
    #[wasm_bindgen(method, getter)]
    pub fn op(this: &Wire) -> JsValue;
    #[wasm_bindgen(method, setter, js_name = op)]
    pub fn set_op(this: &Wire, v: &str);
    #[wasm_bindgen(method, getter)]
    pub fn topic(this: &Wire) -> JsValue;
    #[wasm_bindgen(method, setter, js_name = topic)]
    pub fn set_topic(this: &Wire, v: &JsValue);
    #[wasm_bindgen(method, getter)]
    pub fn payload(this: &Wire) -> JsValue;
    #[wasm_bindgen(method, setter, js_name = payload)]
    pub fn set_payload(this: &Wire, v: &JsValue);
    #[wasm_bindgen(method, getter)]
    pub fn qos(this: &Wire) -> JsValue;
    #[wasm_bindgen(method, setter, js_name = qos)]
    pub fn set_qos(this: &Wire, v: f64);
    #[wasm_bindgen(method, getter)]
    pub fn retain(this: &Wire) -> JsValue;
    #[wasm_bindgen(method, setter, js_name = retain)]
    pub fn set_retain(this: &Wire, v: bool);
    #[wasm_bindgen(method, getter)]
    pub fn dup(this: &Wire) -> JsValue;
    #[wasm_bindgen(method, setter, js_name = dup)]
    pub fn set_dup(this: &Wire, v: bool);
    #[wasm_bindgen(method, getter)]
    pub fn filters(this: &Wire) -> JsValue;
    #[wasm_bindgen(method, setter, js_name = filters)]
    pub fn set_filters(this: &Wire, v: &Array);
    #[wasm_bindgen(method, getter)]
    pub fn qoss(this: &Wire) -> JsValue;
    #[wasm_bindgen(method, setter, js_name = qoss)]
    pub fn set_qoss(this: &Wire, v: &Array);
    #[wasm_bindgen(method, getter)]
    pub fn connected(this: &Wire) -> JsValue;
    #[wasm_bindgen(method, setter, js_name = connected)]
    pub fn set_connected(this: &Wire, v: bool);
    #[wasm_bindgen(method, getter)]
    pub fn sp(this: &Wire) -> JsValue;
    #[wasm_bindgen(method, setter, js_name = sp)]
    pub fn set_sp(this: &Wire, v: bool);
    #[wasm_bindgen(method, getter)]
    pub fn ids(this: &Wire) -> JsValue;
    #[wasm_bindgen(method, setter, js_name = ids)]
    pub fn set_ids(this: &Wire, v: &Array);
    #[wasm_bindgen(method, getter)]
    pub fn id(this: &Wire) -> JsValue;
    #[wasm_bindgen(method, setter, js_name = id)]
    pub fn set_id(this: &Wire, v: f64);
    #[wasm_bindgen(method, getter)]
    pub fn granted(this: &Wire) -> JsValue;
    #[wasm_bindgen(method, setter, js_name = granted)]
    pub fn set_granted(this: &Wire, v: &JsValue);
    #[wasm_bindgen(method, getter)]
    pub fn code(this: &Wire) -> JsValue;
    #[wasm_bindgen(method, setter, js_name = code)]
    pub fn set_code(this: &Wire, v: &str);
    #[wasm_bindgen(method, getter)]
    pub fn text(this: &Wire) -> JsValue;
    #[wasm_bindgen(method, setter, js_name = text)]
    pub fn set_text(this: &Wire, v: &str);
    #[wasm_bindgen(method, getter)]
    pub fn rc(this: &Wire) -> JsValue;
    #[wasm_bindgen(method, setter, js_name = rc)]
    pub fn set_rc(this: &Wire, v: &JsValue);

    /// What the driver's listeners get: `{ qos, retain, dup }`, `{ sessionPresent }`, an
    /// `MqttRestored`'s `id`, an error's `message` and `returnCode`, a granted entry's
    /// `topic` / `qos`.
    #[wasm_bindgen(extends = Object)]
    pub(crate) type Info;
    #[wasm_bindgen(method, getter, js_name = sessionPresent)]
    pub fn session_present(this: &Info) -> JsValue;
    #[wasm_bindgen(method, catch, getter, js_name = message)]
    pub fn message(this: &Info) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, getter, js_name = returnCode)]
    pub fn return_code(this: &Info) -> Result<JsValue, JsValue>;
}

#[wasm_bindgen]
extern "C" {
    /// `navigator.locks.query()`: a snapshot of the origin's locks.
    #[wasm_bindgen(method, catch, js_name = query)]
    fn query(this: &LockManager) -> Result<js_sys::Promise, JsValue>;
    /// A `LockManagerSnapshot` (`held`) or a `LockInfo` (`name`).
    #[wasm_bindgen(extends = Object)]
    type LockSnapshot;
    #[wasm_bindgen(method, getter)]
    fn held(this: &LockSnapshot) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn name(this: &LockSnapshot) -> JsValue;
}

/// The names of the locks held now, in this origin.
pub(crate) async fn held_locks(locks: &LockManager) -> Result<Vec<String>, JsValue> {
    let snapshot = wasm_bindgen_futures::JsFuture::from(locks.query()?).await?;
    let held = snapshot.unchecked_ref::<LockSnapshot>().held();
    let Some(held) = held.dyn_ref::<Array>() else { return Ok(Vec::new()) };
    Ok(held.iter().filter_map(|l| l.unchecked_ref::<LockSnapshot>().name().as_string()).collect())
}

impl Wire {
    /// An empty message of kind `k`.
    pub fn new(k: &str) -> Wire {
        let w: Wire = Object::new().unchecked_into();
        w.set_k(k);
        w
    }

    pub fn kind(&self) -> String {
        self.k().as_string().unwrap_or_default()
    }

    pub fn tab_id(&self) -> String {
        self.tab().as_string().unwrap_or_default()
    }

    pub fn op_name(&self) -> String {
        self.op().as_string().unwrap_or_default()
    }

    pub fn number(v: JsValue) -> f64 {
        v.as_f64().unwrap_or(-1.0)
    }

    pub fn flag(v: JsValue) -> bool {
        v.as_bool().unwrap_or(false)
    }

    /// Carries `err` (a JS error with a `code`): its code, message and CONNACK return code.
    pub fn set_error(&self, err: &JsValue) {
        let code = error_code(err).unwrap_or_else(|| ErrorCode::Internal.as_str().to_owned());
        self.set_code(&code);
        if err.is_object() {
            let info: &Info = err.unchecked_ref();
            if let Some(m) = info.message().ok().and_then(|m| m.as_string()) {
                self.set_text(&m);
            }
            if let Ok(rc) = info.return_code() {
                self.set_rc(&rc);
            }
        }
    }

    /// The error this message carries, rebuilt in this tab: an `Error` with the same `code`,
    /// message and `returnCode`.
    pub fn error(&self) -> JsValue {
        let text = self.text().as_string().unwrap_or_default();
        let e = js_error(ErrorCode::Internal, &text);
        if let Some(code) = self.code().as_string() {
            e.unchecked_ref::<Coded>().set_code(&code);
        }
        let rc = self.rc();
        if rc.as_f64().is_some() {
            e.unchecked_ref::<Coded>().set_return_code(&rc);
        }
        e
    }
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(extends = Object)]
    type Coded;
    #[wasm_bindgen(method, setter, js_name = code)]
    fn set_code(this: &Coded, code: &str);
    #[wasm_bindgen(method, setter, js_name = returnCode)]
    fn set_return_code(this: &Coded, code: &JsValue);
}

/// Strings to a JS array.
pub(crate) fn strings(v: &[String]) -> Array {
    v.iter().map(|s| JsValue::from_str(s)).collect()
}

/// A JS array of strings to strings (anything else is skipped).
pub(crate) fn read_strings(v: &JsValue) -> Vec<String> {
    match v.dyn_ref::<Array>() {
        Some(a) => a.iter().filter_map(|s| s.as_string()).collect(),
        None => Vec::new(),
    }
}

/// A JS array of numbers to numbers (anything else reads as -1).
pub(crate) fn read_numbers(v: &JsValue) -> Vec<f64> {
    match v.dyn_ref::<Array>() {
        Some(a) => a.iter().map(Wire::number).collect(),
        None => Vec::new(),
    }
}

/// A Web Lock request: `on_grant(Some(release))` once lock `name` is ours (held until
/// `release` is called, when `hold`; let go at once otherwise, with `release` a no-op), or
/// `on_grant(None)` when `if_available` and another holds it, or when the request failed or
/// was aborted through `signal`. Returns false when the request could not be made.
pub(crate) fn lock(
    locks: &LockManager,
    name: &str,
    if_available: bool,
    hold: bool,
    signal: Option<&AbortSignal>,
    on_grant: impl FnOnce(Option<Function>) + 'static,
) -> bool {
    let options: LockOptions = Object::new().unchecked_into();
    if if_available {
        options.set_if_available(true);
    }
    if let Some(s) = signal {
        options.set_signal(s);
    }
    // Called once: by the grant, or (`None`) by a request that fails before it (no lock
    // manager for this document, say) or is aborted.
    type Grant = Box<dyn FnOnce(Option<Function>)>;
    let slot: Rc<RefCell<Option<Grant>>> = Rc::new(RefCell::new(Some(Box::new(on_grant))));
    let take = |slot: &Rc<RefCell<Option<Grant>>>| slot.try_borrow_mut().ok().and_then(|mut s| s.take());
    let granted = slot.clone();
    let cb = callback(move |lock| {
        let Some(f) = take(&granted) else { return JsValue::UNDEFINED };
        if lock.is_null() || lock.is_undefined() {
            f(None);
            return JsValue::UNDEFINED;
        }
        if !hold {
            f(Some(noop()));
            return JsValue::UNDEFINED;
        }
        // Held until `release` settles the promise the callback returns.
        let (held, release, _) = deferred();
        f(Some(release));
        held.into()
    });
    match locks.request_with_options_and_callback(name, &options, cb.as_ref().unchecked_ref()) {
        Ok(p) => {
            wasm_bindgen_futures::spawn_local(async move {
                if wasm_bindgen_futures::JsFuture::from(p).await.is_err() {
                    if let Some(f) = take(&slot) {
                        f(None);
                    }
                }
            });
            // The closure must outlive the request; JS's garbage collector frees it afterwards.
            drop(cb.into_js_value());
            true
        }
        Err(_) => false,
    }
}

/// A JS function that does nothing.
pub(crate) fn noop() -> Function {
    function(|_| JsValue::UNDEFINED)
}

/// A JS function made from `f` (freed by JS's garbage collector).
pub(crate) fn function(f: impl FnMut(JsValue) -> JsValue + 'static) -> Function {
    callback(f).into_js_value().unchecked_into()
}
