//! What reaches JS code: listener calls, promise settlements and the `messages()` stream.
//!
//! The driver never calls JS while it holds its own state borrowed (a handler may call back into
//! the client): it queues the calls (in JS, see js.rs) and [`flush`]es them after letting go.

use super::js::{mq_emit, mq_flush, mq_queue};
use js_sys::Function;
use wasm_bindgen::prelude::*;

fn arg(args: &[JsValue], i: usize) -> JsValue {
    args.get(i).cloned().unwrap_or(JsValue::UNDEFINED)
}

/// Queues the call `f(...args)` (at most 3 arguments), for [`flush`].
pub(crate) fn queue(f: &Function, args: &[JsValue]) {
    mq_queue(f, args.len() as u32, &arg(args, 0), &arg(args, 1), &arg(args, 2));
}

/// Runs the calls queued since the driver was entered, in order; an exception thrown by a
/// handler is reported, never propagated. Called once the driver's state is released.
pub(crate) fn flush() {
    mq_flush();
}

/// The events `on` accepts.
pub(crate) const EVENT_NAMES: [&str; 7] =
    ["message", "connect", "reconnect", "offline", "close", "error", "restored"];

/// The listeners, by event name, in a JS `Map`.
pub(crate) struct Listeners(JsValue);

impl Default for Listeners {
    fn default() -> Self {
        Listeners(js_sys::Map::new().into())
    }
}

impl Listeners {
    pub fn name(event: &str) -> Option<&'static str> {
        EVENT_NAMES.iter().copied().find(|n| *n == event)
    }

    pub fn on(&self, name: &'static str, f: &Function) {
        super::js::mq_on(&self.0, name, f);
    }

    /// Removes one registration of `f` (the most recent), as `EventTarget` and Node do.
    pub fn off(&self, name: &str, f: &Function) {
        super::js::mq_off(&self.0, name, f);
    }

    /// Queues a call of each listener of `name` with `args` (at most 3); an "error" nobody
    /// listens to is still worth a line in the console.
    pub fn emit(&self, name: &str, args: &[JsValue]) {
        mq_emit(&self.0, name, args.len() as u32, &arg(args, 0), &arg(args, 1), &arg(args, 2));
    }
}

/// An incoming message: queues the "message" listeners' calls and hands it to the streams.
pub(crate) fn message(
    listeners: &Listeners,
    streams: &Streams,
    topic: &str,
    payload: &js_sys::Uint8Array,
    qos: u8,
    retain: bool,
    dup: bool,
) {
    super::js::mq_message(&listeners.0, &streams.0, topic, payload, qos, retain, dup);
}

/// The driver's side of the `messages()` streams, kept in JS (see `mq_stream` in js.rs): each
/// stream is held weakly, so one that JS dropped goes away.
pub(crate) struct Streams(JsValue);

impl Default for Streams {
    fn default() -> Self {
        Streams(js_sys::Array::new().into())
    }
}

impl Streams {
    /// A new stream: an async iterator over the messages pushed from now on.
    pub fn add(&mut self) -> JsValue {
        super::js::mq_stream(&self.0)
    }

    /// Ends every stream: waiting `next()` calls resolve `done`; buffered messages stay readable.
    pub fn close_all(&mut self) {
        super::js::mq_streams_end(&self.0);
    }
}
