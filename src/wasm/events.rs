//! What reaches JS code: listener calls, promise settlements and the `messages()` stream.
//!
//! The driver never calls JS while it holds its own state borrowed (a handler may call back into
//! the client): it collects [`Action`]s and runs them after letting go.

use js_sys::{Array, Function, Object, Promise, Reflect};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;

/// One call into JS, run after the driver released its state.
pub(crate) struct Action(Function, Vec<JsValue>);

impl Action {
    pub fn call(f: &Function, args: Vec<JsValue>) -> Action {
        Action(f.clone(), args)
    }
}

/// Runs the actions; an exception thrown by a handler is reported, never propagated.
pub(crate) fn run(actions: Vec<Action>) {
    for Action(f, args) in actions {
        let args: Array = args.into_iter().collect();
        if let Err(e) = f.apply(&JsValue::UNDEFINED, &args) {
            super::js::console("error", "mq: an event handler threw", &e);
        }
    }
}

/// The events `on` accepts.
pub(crate) const EVENT_NAMES: [&str; 7] =
    ["message", "connect", "reconnect", "offline", "close", "error", "restored"];

#[derive(Default)]
pub(crate) struct Listeners {
    map: Vec<(&'static str, Vec<Function>)>,
}

impl Listeners {
    pub fn name(event: &str) -> Option<&'static str> {
        EVENT_NAMES.iter().copied().find(|n| *n == event)
    }

    pub fn on(&mut self, name: &'static str, f: Function) {
        match self.map.iter_mut().find(|(n, _)| *n == name) {
            Some((_, fs)) => fs.push(f),
            None => self.map.push((name, vec![f])),
        }
    }

    /// Removes one registration of `f` (the most recent), as `EventTarget` and Node do.
    pub fn off(&mut self, name: &str, f: &Function) {
        if let Some((_, fs)) = self.map.iter_mut().find(|(n, _)| *n == name) {
            if let Some(i) = fs.iter().rposition(|g| JsValue::from(g) == JsValue::from(f)) {
                fs.remove(i);
            }
        }
    }

    pub fn emit(&self, name: &str, args: Vec<JsValue>, out: &mut Vec<Action>) {
        let fs = self.map.iter().find(|(n, _)| *n == name).map(|(_, fs)| fs.as_slice()).unwrap_or(&[]);
        if fs.is_empty() && name == "error" {
            // An error nobody listens to is still worth a line in the console.
            if let Some(e) = args.first() {
                super::js::console("warn", "mq: unhandled error event", e);
            }
        }
        for f in fs {
            out.push(Action::call(f, args.clone()));
        }
    }
}

/// `{ value, done }` for an async iterator.
pub(crate) fn iter_result(value: &JsValue, done: bool) -> JsValue {
    let o = Object::new();
    let _ = Reflect::set(&o, &"value".into(), value);
    let _ = Reflect::set(&o, &"done".into(), &done.into());
    o.into()
}

#[derive(Default)]
pub(crate) struct StreamState {
    buf: VecDeque<JsValue>,
    waiters: VecDeque<Function>,
    done: bool,
}

/// The driver's side of the `messages()` streams: weak, so a stream JS dropped goes away.
#[derive(Default)]
pub(crate) struct Streams(Vec<Weak<RefCell<StreamState>>>);

impl Streams {
    pub fn add(&mut self) -> Rc<RefCell<StreamState>> {
        let s = Rc::new(RefCell::new(StreamState::default()));
        self.0.push(Rc::downgrade(&s));
        s
    }

    pub fn push(&mut self, message: &JsValue, out: &mut Vec<Action>) {
        self.0.retain(|w| w.upgrade().is_some_and(|s| s.try_borrow().is_ok_and(|s| !s.done)));
        for s in self.0.iter().filter_map(Weak::upgrade) {
            if let Ok(mut s) = s.try_borrow_mut() {
                match s.waiters.pop_front() {
                    Some(w) => out.push(Action::call(&w, vec![iter_result(message, false)])),
                    None => s.buf.push_back(message.clone()),
                }
            }
        }
    }

    /// Ends every stream: waiting `next()` calls resolve `done`; buffered messages stay readable.
    pub fn close_all(&mut self, out: &mut Vec<Action>) {
        for s in self.0.drain(..).filter_map(|w| w.upgrade()) {
            if let Ok(mut s) = s.try_borrow_mut() {
                s.done = true;
                for w in s.waiters.drain(..) {
                    out.push(Action::call(&w, vec![iter_result(&JsValue::UNDEFINED, true)]));
                }
            }
        }
    }
}

/// The async iterator `client.messages()` returns: `for await (const m of client.messages())`.
/// Messages that arrive after it was made are buffered until read; it ends when the client does
/// or when the loop is left (`return()`).
#[wasm_bindgen]
pub struct MessageStream {
    state: Rc<RefCell<StreamState>>,
}

impl MessageStream {
    pub(crate) fn new_js(state: Rc<RefCell<StreamState>>) -> JsValue {
        super::js::mq_make_async_iterable(MessageStream { state }.into())
    }
}

#[wasm_bindgen]
impl MessageStream {
    /// The next message, `{ value: { topic, payload, qos, retain }, done: false }`.
    #[wasm_bindgen(unchecked_return_type = "Promise<IteratorResult<MqttMessage, undefined>>")]
    pub fn next(&self) -> Promise {
        let Ok(mut s) = self.state.try_borrow_mut() else {
            return Promise::resolve(&iter_result(&JsValue::UNDEFINED, true));
        };
        if let Some(m) = s.buf.pop_front() {
            return Promise::resolve(&iter_result(&m, false));
        }
        if s.done {
            return Promise::resolve(&iter_result(&JsValue::UNDEFINED, true));
        }
        Promise::new(&mut |resolve, _reject| s.waiters.push_back(resolve))
    }

    /// Ends the stream (`break` in a `for await` loop calls this).
    #[wasm_bindgen(
        js_name = "return",
        unchecked_return_type = "Promise<IteratorResult<MqttMessage, undefined>>"
    )]
    pub fn finish(&self) -> Promise {
        if let Ok(mut s) = self.state.try_borrow_mut() {
            s.done = true;
            s.buf.clear();
            let waiters: Vec<Function> = s.waiters.drain(..).collect();
            drop(s);
            run(waiters
                .iter()
                .map(|w| Action::call(w, vec![iter_result(&JsValue::UNDEFINED, true)]))
                .collect());
        }
        Promise::resolve(&iter_result(&JsValue::UNDEFINED, true))
    }
}
