//! The few JS functions the driver imports, and what it builds on them.
//!
//! Every imported function is a shim in the JS glue, so the browser APIs are reached through a
//! handful of generic ones: [`call`] (a method call), `Reflect.get` / `Reflect.set` (properties)
//! and helpers written here in JS (the WebSocket's handlers, promise callbacks, the `messages()`
//! async iterators). Every Rust closure handed to JS has the one type [`Callback`]: each
//! closure type costs its own glue.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(inline_js = "export function mq_call(o, m, a, b) { return o[m](a, b); }
export function mq_deferred() { let a; const p = new Promise((res, rej) => { a = [res, rej]; }); return [p, ...a]; }
let queue = [], flushing = false;
export function mq_queue(f, n, a, b, c) { queue.push([f, [a, b, c].slice(0, n)]); }
export function mq_flush() {
  if (flushing) return;
  flushing = true;
  try {
    for (let i = 0; i < queue.length; i++) {
      const [f, args] = queue[i];
      try { f(...args); } catch (e) { console.error('mq: an event handler threw', e); }
    }
  } finally { queue = []; flushing = false; }
}
export function mq_on(m, name, f) { if (!m.has(name)) m.set(name, []); m.get(name).push(f); }
export function mq_off(m, name, f) { const l = m.get(name) || [], i = l.lastIndexOf(f); if (i >= 0) l.splice(i, 1); }
export function mq_emit(m, name, n, a, b, c) {
  const l = m.get(name) || [];
  if (!l.length && name == 'error') console.warn('mq: unhandled error event', a);
  for (const f of l) mq_queue(f, n, a, b, c);
}
export function mq_global() { return globalThis; }
export function mq_bytes(v) {
  if (typeof v == 'string') return new TextEncoder().encode(v);
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}
export function mq_settle(p, f) { p.then(v => f(true, v), e => f(false, e)); }
const Weak = typeof WeakRef == 'function' ? WeakRef : class { constructor(o) { this.o = o; } deref() { return this.o; } };
const step = (value, done) => ({ value, done });
export function mq_stream(list) {
  let buf = [], done = false;
  const waiters = [];
  const end = () => { done = true; for (const w of waiters.splice(0)) w(step(undefined, true)); };
  const it = {
    next: () => buf.length ? Promise.resolve(step(buf.shift(), false))
      : done ? Promise.resolve(step(undefined, true)) : new Promise(r => waiters.push(r)),
    return: () => { buf = []; end(); return Promise.resolve(step(undefined, true)); },
    [Symbol.asyncIterator]() { return this; },
  };
  const push = m => { const w = waiters.shift(); if (w) w(step(m, false)); else buf.push(m); };
  list.push({ ref: new Weak(it), push, end, live: () => !done });
  return it;
}
export function mq_streams_push(list, m) {
  for (let i = list.length; i--;) if (!list[i].ref.deref() || !list[i].live()) list.splice(i, 1);
  for (const s of list) s.push(m);
}
export function mq_message(m, list, topic, payload, qos, retain, dup) {
  mq_emit(m, 'message', 3, topic, payload, { qos, retain, dup });
  mq_streams_push(list, { topic, payload, qos, retain });
}
export function mq_streams_end(list) { for (const s of list.splice(0)) s.end(); }
export function mq_ws(url, f) {
  const ws = new WebSocket(url, 'mqtt');
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => f(0, null);
  ws.onmessage = e => { if (e.data instanceof ArrayBuffer) f(1, new Uint8Array(e.data)); };
  ws.onclose = e => f(2, e);
  return ws;
}
export function mq_lock(name, ms, f) {
  const locks = globalThis.navigator && navigator.locks;
  let release;
  const held = new Promise(r => (release = r));
  try {
    if (!locks) throw 0;
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), ms);
    locks.request(name, { signal: stop.signal }, () => { clearTimeout(timer); f(true, release); return held; })
      .catch(e => f(!(e && e.name == 'AbortError'), undefined));
  } catch { Promise.resolve().then(() => f(true, undefined)); }
}
export function mq_ws_close(ws) {
  ws.onopen = ws.onmessage = ws.onclose = null;
  if (ws.readyState < 2) ws.close();
}")]
extern "C" {
    #[wasm_bindgen(catch)]
    fn mq_call(o: &JsValue, m: &str, a: &JsValue, b: &JsValue) -> Result<JsValue, JsValue>;
    fn mq_settle(p: &Promise, f: JsValue);
    /// `globalThis` (`window` in a page, `self` in a worker).
    pub(crate) fn mq_global() -> JsValue;
    /// A payload as bytes: a string (as UTF-8), a `Uint8Array` or any `ArrayBufferView`, an
    /// `ArrayBuffer`; `undefined` for anything else (an error if looking at it threw).
    #[wasm_bindgen(catch)]
    pub(crate) fn mq_bytes(v: &JsValue) -> Result<JsValue, JsValue>;
    /// Queues `f(a, b, c)` with its first `n` arguments; `mq_flush` runs what is queued, in
    /// order (called from a listener it leaves the new calls to the flush already running).
    pub(crate) fn mq_queue(f: &Function, n: u32, a: &JsValue, b: &JsValue, c: &JsValue);
    pub(crate) fn mq_flush();
    /// Listeners in the `Map` `m`: add, remove the most recent registration, queue the calls.
    pub(crate) fn mq_on(m: &JsValue, name: &str, f: &Function);
    pub(crate) fn mq_off(m: &JsValue, name: &str, f: &Function);
    pub(crate) fn mq_emit(m: &JsValue, name: &str, n: u32, a: &JsValue, b: &JsValue, c: &JsValue);
    fn mq_deferred() -> js_sys::Array;
    /// A `messages()` iterator, registered in `list` (a JS array the driver keeps).
    pub(crate) fn mq_stream(list: &JsValue) -> JsValue;
    pub(crate) fn mq_streams_end(list: &JsValue);
    pub(crate) fn mq_message(
        listeners: &JsValue,
        streams: &JsValue,
        topic: &str,
        payload: &js_sys::Uint8Array,
        qos: u8,
        retain: bool,
        dup: bool,
    );
    /// A WebSocket to `url` (subprotocol `mqtt`, binary frames as `ArrayBuffer`) whose events
    /// call `f(0, null)` (open), `f(1, Uint8Array)` (a binary frame), `f(2, CloseEvent)`.
    #[wasm_bindgen(catch)]
    pub(crate) fn mq_ws(url: &str, f: &JsValue) -> Result<JsValue, JsValue>;
    /// Takes the Web Lock `name`, waiting up to `ms` for its holder to let it go: `f(true,
    /// release)` (call `release` to let it go), or `f(false)` if it is still held then. Without
    /// Web Locks (or if the request fails otherwise) it goes on unguarded: `f(true, undefined)`.
    /// `f` is called once, in a later task.
    fn mq_lock(name: &str, ms: u32, f: JsValue);
    /// Detaches the handlers and closes the WebSocket unless it is closing or closed.
    pub(crate) fn mq_ws_close(ws: &JsValue);
}

/// The one closure type handed to JS: two arguments, `undefined` where JS passes none.
pub(crate) type Callback = Closure<dyn FnMut(JsValue, JsValue)>;

/// A closure for JS, made from `f`.
pub(crate) fn callback(f: impl FnMut(JsValue, JsValue) + 'static) -> Callback {
    let f: Box<dyn FnMut(JsValue, JsValue)> = Box::new(f);
    Closure::wrap(f)
}

/// `o.m(a, b)`; missing arguments are `undefined`, which DOM methods take as absent.
pub(crate) fn call(o: &JsValue, m: &str, a: &JsValue, b: &JsValue) -> Result<JsValue, JsValue> {
    mq_call(o, m, a, b)
}

/// `o.m()`.
pub(crate) fn call0(o: &JsValue, m: &str) -> Result<JsValue, JsValue> {
    mq_call(o, m, &JsValue::UNDEFINED, &JsValue::UNDEFINED)
}

/// `o.m(a)`.
pub(crate) fn call1(o: &JsValue, m: &str, a: &JsValue) -> Result<JsValue, JsValue> {
    mq_call(o, m, a, &JsValue::UNDEFINED)
}

/// `o[k]`, `undefined` if it cannot be read.
pub(crate) fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
}

/// `o[k] = v`, ignoring a failure (a frozen object).
pub(crate) fn set(o: &JsValue, k: &str, v: &JsValue) {
    let _ = Reflect::set(o, &JsValue::from_str(k), v);
}

/// `globalThis[k]`.
pub(crate) fn global(k: &str) -> JsValue {
    get(&mq_global(), k)
}

/// `console[level](a, b)`.
pub(crate) fn console(level: &str, a: &str, b: &JsValue) {
    let _ = call(&global("console"), level, &JsValue::from_str(a), b);
}

/// Runs `f` in a microtask, after the current task's synchronous code.
pub(crate) fn later(f: impl FnOnce() + 'static) {
    settled(&Promise::resolve(&JsValue::UNDEFINED), Box::new(move |_| f()));
}

/// Calls `f` with the outcome of `p` once it settles (in a microtask).
pub(crate) fn on_settled(p: &Promise, f: impl FnOnce(Result<JsValue, JsValue>) + 'static) {
    settled(p, Box::new(f));
}

fn settled(p: &Promise, f: Box<dyn FnOnce(Result<JsValue, JsValue>)>) {
    let mut f = Some(f);
    let c = callback(move |ok, v| {
        if let Some(f) = f.take() {
            f(if ok.as_bool() == Some(true) { Ok(v) } else { Err(v) })
        }
    });
    // Called once; `into_js_value` leaves the closure to JS, whose garbage collector frees it.
    mq_settle(p, c.into_js_value());
}

/// A new promise and its `resolve` and `reject`.
pub(crate) fn deferred() -> (Promise, Function, Function) {
    let a = mq_deferred();
    (a.get(0).unchecked_into(), a.get(1).unchecked_into(), a.get(2).unchecked_into())
}

/// A promise that `f` settles through the `resolve` and `reject` it is given.
pub(crate) fn promise(f: impl FnOnce(Function, Function)) -> Promise {
    let (p, resolve, reject) = deferred();
    f(resolve, reject);
    p
}

/// Settles `resolve` / `reject` with `r`.
pub(crate) fn settle(resolve: &Function, reject: &Function, r: Result<JsValue, JsValue>) {
    let _ = match r {
        Ok(v) => resolve.call1(&JsValue::UNDEFINED, &v),
        Err(e) => reject.call1(&JsValue::UNDEFINED, &e),
    };
}

/// [`mq_lock`] for Rust: `f(None)` if the lock stayed held elsewhere for `ms`, else
/// `f(Some(release))` (`release` is `undefined` when the page has no Web Locks; calling it is
/// then a no-op).
pub(crate) fn lock(name: &str, ms: u32, f: impl FnOnce(Option<JsValue>) + 'static) {
    let mut f = Some(f);
    let c = callback(move |held, release| {
        if let Some(f) = f.take() {
            f(if held.as_bool() == Some(true) { Some(release) } else { None })
        }
    });
    mq_lock(name, ms, c.into_js_value());
}

/// Calls `release` if it is a function (a lock's release from [`lock`]).
pub(crate) fn release(release: &JsValue) {
    if let Some(f) = release.dyn_ref::<Function>() {
        let _ = f.call0(&JsValue::UNDEFINED);
    }
}
