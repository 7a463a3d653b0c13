//! The browser, as the driver reaches it: typed bindings only (web-sys, js-sys, and below the few
//! that web-sys lacks), never a method or property named by a string.
//!
//! - [`Scope`]: the global scope, a `Window` or a `WorkerGlobalScope`, for the `online` event,
//!   `navigator.onLine`, `indexedDB` and the page's `visibilitychange`.
//! - Web Locks: web-sys keeps them behind an unstable cfg, so [`LockManager`] is bound here and
//!   feature-detected.
//! - [`Callback`]: the one closure type handed to JS (each closure type costs its own glue).

use js_sys::{Function, Object, Promise};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AbortSignal, Document, EventTarget, IdbFactory, WorkerGlobalScope};

#[wasm_bindgen]
extern "C" {
    /// `performance.now()`: the global `performance`, in windows and in workers alike. It cannot
    /// throw in a browser; caught all the same, as it runs while the driver is borrowed.
    #[wasm_bindgen(catch, js_namespace = performance, js_name = now)]
    pub(crate) fn performance_now() -> Result<f64, JsValue>;

    /// `navigator.locks` (Web Locks), where the browser has it.
    pub(crate) type LockManager;
    /// `locks.request(name, options, callback)`: `callback(lock)` runs once the lock is granted,
    /// and the lock is held until the promise it returns settles.
    #[wasm_bindgen(method, catch, js_name = request)]
    pub(crate) fn request_with_options_and_callback(
        this: &LockManager,
        name: &str,
        options: &LockOptions,
        callback: &Function,
    ) -> Result<Promise, JsValue>;

    /// A navigator (`Navigator` or `WorkerNavigator`) seen for its `locks` member.
    type NavigatorLocks;
    #[wasm_bindgen(method, getter, js_name = locks)]
    fn locks(this: &NavigatorLocks) -> Option<LockManager>;

    /// `Promise.withResolvers()` (2023 on), where the browser has it: a promise and its
    /// functions without a Rust closure for the executor (one allocation and one call less for
    /// every command).
    #[wasm_bindgen(catch, js_namespace = Promise, js_name = withResolvers)]
    fn promise_with_resolvers() -> Result<js_sys::PromiseWithResolvers, JsValue>;

    /// A promise seen for its `then` with two JS functions (js-sys binds it with closure types
    /// of its own).
    type Thenable;
    #[wasm_bindgen(method, js_name = then)]
    fn then_fns(this: &Thenable, on_fulfilled: &Function, on_rejected: &Function);

    /// The options of `LockManager.request`.
    #[wasm_bindgen(extends = Object)]
    pub(crate) type LockOptions;
    #[wasm_bindgen(method, setter, js_name = signal)]
    pub(crate) fn set_signal(this: &LockOptions, signal: &AbortSignal);
    /// `ifAvailable`: the callback gets `null` at once rather than waiting for the lock.
    #[wasm_bindgen(method, setter, js_name = ifAvailable)]
    pub(crate) fn set_if_available(this: &LockOptions, if_available: bool);
}

/// The one closure type handed to JS: one argument (the event, the lock...), one result
/// (`undefined` where JS ignores it).
pub(crate) type Callback = Closure<dyn FnMut(JsValue) -> JsValue>;

/// A closure for JS, made from `f`.
pub(crate) fn callback(f: impl FnMut(JsValue) -> JsValue + 'static) -> Callback {
    let f: Box<dyn FnMut(JsValue) -> JsValue> = Box::new(f);
    Closure::wrap(f)
}

/// `promise.then(on_fulfilled, on_rejected)`: no future and no task of its own.
pub(crate) fn then(promise: &Promise, on_fulfilled: &Function, on_rejected: &Function) {
    promise.unchecked_ref::<Thenable>().then_fns(on_fulfilled, on_rejected);
}

/// The global scope the module runs in.
pub(crate) enum Scope {
    Window(web_sys::Window),
    Worker(WorkerGlobalScope),
}

impl Scope {
    pub fn get() -> Scope {
        let global = js_sys::global();
        match global.dyn_into::<web_sys::Window>() {
            Ok(w) => Scope::Window(w),
            // A worker of any kind (dedicated, shared, service): all are WorkerGlobalScopes.
            Err(global) => Scope::Worker(global.unchecked_into()),
        }
    }

    pub fn target(&self) -> &EventTarget {
        match self {
            Scope::Window(w) => w,
            Scope::Worker(w) => w,
        }
    }

    /// `navigator.onLine`.
    pub fn on_line(&self) -> bool {
        match self {
            Scope::Window(w) => w.navigator().on_line(),
            Scope::Worker(w) => w.navigator().on_line(),
        }
    }

    /// `navigator.locks`, where there are Web Locks.
    pub fn locks(&self) -> Option<LockManager> {
        let navigator: JsValue = match self {
            Scope::Window(w) => w.navigator().into(),
            Scope::Worker(w) => w.navigator().into(),
        };
        navigator.unchecked_ref::<NavigatorLocks>().locks()
    }

    /// `indexedDB`, where there is one (not in an opaque origin, say).
    pub fn indexed_db(&self) -> Option<IdbFactory> {
        match self {
            Scope::Window(w) => w.indexed_db(),
            Scope::Worker(w) => w.indexed_db(),
        }
        .ok()
        .flatten()
    }

    /// The page's document (none in a worker).
    pub fn document(&self) -> Option<Document> {
        match self {
            Scope::Window(w) => w.document(),
            Scope::Worker(_) => None,
        }
    }
}

/// Runs `f` in a microtask, after the current task's synchronous code.
pub(crate) fn later(f: impl FnOnce() + 'static) {
    later_boxed(Box::new(f))
}

/// `later` over a boxed closure: one future type and one `spawn_local` for every caller.
fn later_boxed(f: Box<dyn FnOnce()>) {
    wasm_bindgen_futures::spawn_local(async move { f() });
}

thread_local! {
    /// Whether `Promise.withResolvers` failed once (it is missing): use the executor then.
    static NO_WITH_RESOLVERS: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

/// A new promise and its `resolve` and `reject`.
pub(crate) fn deferred() -> (Promise, Function, Function) {
    if !NO_WITH_RESOLVERS.with(|n| n.get()) {
        match promise_with_resolvers() {
            Ok(r) => return (r.promise(), r.resolve().unchecked_into(), r.reject().unchecked_into()),
            Err(_) => NO_WITH_RESOLVERS.with(|n| n.set(true)),
        }
    }
    let mut fs = None;
    let p = Promise::new(&mut |resolve, reject| fs = Some((resolve, reject)));
    // The executor runs synchronously, so `fs` is set. Were it not, calling `undefined` would be
    // an `Err` from `call1`, not a panic.
    let (resolve, reject) = fs.unwrap_or_else(|| {
        let none: Function = JsValue::UNDEFINED.unchecked_into();
        (none.clone(), none)
    });
    (p, resolve, reject)
}
