//! Small JS helpers: callbacks instead of Rust futures (no async executor in the module).

use js_sys::{Function, Promise};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(
    inline_js = "export function mq_settle(p, f) { p.then(v => f(true, v), e => f(false, e)); }\n\
export function mq_make_async_iterable(o) { o[Symbol.asyncIterator] = function () { return this; }; return o; }"
)]
extern "C" {
    fn mq_settle(p: &Promise, f: JsValue);
    pub(crate) fn mq_make_async_iterable(o: JsValue) -> JsValue;
}

/// A callback of [`on_settled`]. One boxed type for every callback: each closure type costs its
/// own glue in the module.
type Callback = Box<dyn FnOnce(Result<JsValue, JsValue>)>;

/// Runs `f` in a microtask, after the current task's synchronous code.
pub(crate) fn later(f: impl FnOnce() + 'static) {
    settled(&Promise::resolve(&JsValue::UNDEFINED), Box::new(move |_| f()));
}

/// Calls `f` with the outcome of `p` once it settles (in a microtask).
pub(crate) fn on_settled(p: &Promise, f: impl FnOnce(Result<JsValue, JsValue>) + 'static) {
    settled(p, Box::new(f));
}

fn settled(p: &Promise, f: Callback) {
    mq_settle(p, Closure::once_into_js(move |ok: bool, v: JsValue| f(if ok { Ok(v) } else { Err(v) })));
}

/// A promise and the functions that settle it.
pub(crate) fn promise(f: impl FnOnce(Function, Function)) -> Promise {
    let mut slots = None;
    let p = Promise::new(&mut |resolve, reject| slots = Some((resolve, reject)));
    if let Some((resolve, reject)) = slots {
        f(resolve, reject);
    }
    p
}

/// Settles `resolve` / `reject` with `r`.
pub(crate) fn settle(resolve: &Function, reject: &Function, r: Result<JsValue, JsValue>) {
    let _ = match r {
        Ok(v) => resolve.call1(&JsValue::UNDEFINED, &v),
        Err(e) => reject.call1(&JsValue::UNDEFINED, &e),
    };
}
