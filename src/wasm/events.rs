//! What reaches JS code: listener calls, promise settlements and the `messages()` stream.
//!
//! The driver never calls JS while it holds its own state borrowed (a handler may call back into
//! the client): it collects [`Action`]s and runs them after letting go.

use js_sys::{Array, Function};
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

/// The driver's side of the `messages()` streams, kept in JS (see `mq_stream` in js.rs): each
/// stream is held weakly, so one that JS dropped goes away.
pub(crate) struct Streams(JsValue);

impl Default for Streams {
    fn default() -> Self {
        Streams(Array::new().into())
    }
}

impl Streams {
    /// A new stream: an async iterator over the messages pushed from now on.
    pub fn add(&mut self) -> JsValue {
        super::js::mq_stream(&self.0)
    }

    /// Hands `message` to every live stream (a waiting `next()` resolves, else it is buffered).
    /// Resolving a promise runs no JS code now, so this needs no [`Action`].
    pub fn push(&mut self, message: &JsValue) {
        super::js::mq_streams_push(&self.0, message);
    }

    /// Ends every stream: waiting `next()` calls resolve `done`; buffered messages stay readable.
    pub fn close_all(&mut self) {
        super::js::mq_streams_end(&self.0);
    }
}
