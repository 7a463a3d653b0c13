//! What reaches JS code: listener calls, promise settlements and the `messages()` streams.
//!
//! The driver never calls JS while it holds its own state borrowed (a handler may call back into
//! the client): it queues the calls and [`flush`]es them after letting go. A flush started from
//! a listener leaves the calls it queues to the flush already running, so they keep their order.

use js_sys::Function;
use serde::Serialize;
use std::cell::{Cell, RefCell};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/wasm/stream.js")]
extern "C" {
    /// The `messages()` iterators of one client (see stream.js).
    pub(crate) type Streams;
    /// `drained` is called when an iterator that was full is read below its size or ends.
    #[wasm_bindgen(constructor)]
    fn new(drained: &JsValue) -> Streams;
    /// A new iterator over the messages pushed from now on, holding at most `size` unread.
    #[wasm_bindgen(method)]
    fn add(this: &Streams, size: f64, pause: bool) -> JsValue;
    #[wasm_bindgen(method)]
    fn active(this: &Streams) -> bool;
    /// Whether an iterator with `pause` holds its size in unread messages.
    #[wasm_bindgen(method)]
    fn full(this: &Streams) -> bool;
    #[wasm_bindgen(method)]
    fn push(this: &Streams, message: &JsValue);
    /// Ends every iterator: waiting `next()` calls resolve `done`; buffered messages stay readable.
    #[wasm_bindgen(method)]
    fn end(this: &Streams);
}

/// A queued call: the function and its arguments.
struct Call(Function, [JsValue; 3], u8);

thread_local! {
    static QUEUE: RefCell<Vec<Call>> = const { RefCell::new(Vec::new()) };
    static FLUSHING: Cell<bool> = const { Cell::new(false) };
}

/// Queues the call `f(...args)` (at most 3 arguments), for [`flush`].
pub(crate) fn queue(f: &Function, args: &[JsValue]) {
    let mut a = [JsValue::UNDEFINED, JsValue::UNDEFINED, JsValue::UNDEFINED];
    for (slot, v) in a.iter_mut().zip(args) {
        *slot = v.clone();
    }
    let n = args.len().min(3) as u8;
    let _ = QUEUE.try_with(|q| q.borrow_mut().push(Call(f.clone(), a, n)));
}

/// Runs the calls queued since the driver was entered, in order; an exception thrown by a
/// handler is reported in the console, never propagated. Called once the driver's state is
/// released.
pub(crate) fn flush() {
    if FLUSHING.with(|f| f.replace(true)) {
        return;
    }
    loop {
        let batch = QUEUE.with(|q| std::mem::take(&mut *q.borrow_mut()));
        if batch.is_empty() {
            break;
        }
        for Call(f, [a, b, c], n) in batch {
            let this = JsValue::UNDEFINED;
            let r = match n {
                0 => f.call0(&this),
                1 => f.call1(&this, &a),
                2 => f.call2(&this, &a, &b),
                _ => f.call3(&this, &a, &b, &c),
            };
            if let Err(e) = r {
                web_sys::console::error_2(&"mq: an event handler threw".into(), &e);
            }
        }
    }
    FLUSHING.with(|f| f.set(false));
}

/// The events `on` accepts.
pub(crate) const EVENT_NAMES: [&str; 7] =
    ["message", "connect", "reconnect", "offline", "close", "error", "restored"];

/// The listeners, with their event names, in the order they were added.
#[derive(Default)]
pub(crate) struct Listeners(Vec<(&'static str, Function)>);

impl Listeners {
    pub fn name(event: &str) -> Option<&'static str> {
        EVENT_NAMES.iter().copied().find(|n| *n == event)
    }

    pub fn on(&mut self, name: &'static str, f: &Function) {
        self.0.push((name, f.clone()));
    }

    /// Removes one registration of `f` (the most recent), as Node's `EventEmitter` does.
    pub fn off(&mut self, name: &str, f: &Function) {
        if let Some(i) = self.0.iter().rposition(|(n, g)| *n == name && g == f) {
            self.0.remove(i);
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| *n == name)
    }

    /// Queues a call of each listener of `name` with `args` (at most 3); an "error" nobody
    /// listens to is still worth a line in the console.
    /// `emit` of three arguments it may keep: the last listener's call takes them as they are.
    pub fn emit3(&self, name: &str, args: [JsValue; 3]) {
        let mut listeners = self.0.iter().filter(|(n, _)| *n == name).peekable();
        while let Some((_, f)) = listeners.next() {
            if listeners.peek().is_none() {
                let _ = QUEUE.try_with(|q| q.borrow_mut().push(Call(f.clone(), args, 3)));
                return;
            }
            queue(f, &args);
        }
    }

    pub fn emit(&self, name: &str, args: &[JsValue]) {
        let mut any = false;
        for (_, f) in self.0.iter().filter(|(n, _)| *n == name) {
            queue(f, args);
            any = true;
        }
        if !any && name == "error" {
            let e = args.first().cloned().unwrap_or(JsValue::UNDEFINED);
            web_sys::console::warn_2(&"mq: unhandled error event".into(), &e);
        }
    }
}

/// Bytes that reach JS as a `Uint8Array`.
pub(crate) struct Payload<'a>(pub &'a [u8]);

impl Serialize for Payload<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// The third argument of a "message" listener.
#[derive(Serialize)]
struct PacketInfo {
    qos: u8,
    retain: bool,
    dup: bool,
}

/// What a `messages()` iterator yields: the topic and payload are the objects the listeners get.
#[derive(Serialize)]
struct MessageOut {
    #[serde(with = "serde_wasm_bindgen::preserve")]
    topic: JsValue,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    payload: JsValue,
    qos: u8,
    retain: bool,
}

/// JS's value of `v` (serde-wasm-bindgen); `undefined` should it fail (it cannot for our types).
pub(crate) fn to_js<T: Serialize + ?Sized>(v: &T) -> JsValue {
    v.serialize(&serde_wasm_bindgen::Serializer::new()).unwrap_or(JsValue::UNDEFINED)
}

/// The `messages()` streams of a client, made on first use, with the driver's `drained` callback.
#[derive(Default)]
pub(crate) struct MessageStreams(Option<(Streams, super::web::Callback)>);

impl MessageStreams {
    /// A new stream: an async iterator over the messages pushed from now on, holding at most
    /// `size` unread (`pause`: past that the driver holds acknowledgements back).
    pub fn add(&mut self, size: f64, pause: bool, drained: impl FnOnce() -> super::web::Callback) -> JsValue {
        let (s, _) = self.0.get_or_insert_with(|| {
            let cb = drained();
            (Streams::new(cb.as_ref()), cb)
        });
        s.add(size, pause)
    }

    /// Whether a stream with `pause` is full (see stream.js).
    pub fn full(&self) -> bool {
        self.0.as_ref().is_some_and(|(s, _)| s.full())
    }

    pub fn close_all(&mut self) {
        if let Some((s, _)) = &self.0 {
            s.end();
        }
    }
}

thread_local! {
    /// The last incoming topic and its JS string: a stream of messages on one topic makes the
    /// string once (decoding it is a TextDecoder call per message otherwise).
    static LAST_TOPIC: RefCell<(String, JsValue)> = RefCell::new((String::new(), JsValue::from_str("")));
}

/// `topic` as a JS string, the last one's again when it is the same.
fn topic_js(topic: &str) -> JsValue {
    LAST_TOPIC
        .try_with(|last| {
            let mut last = last.borrow_mut();
            if last.0 != topic {
                *last = (topic.to_owned(), JsValue::from_str(topic));
            }
            last.1.clone()
        })
        .unwrap_or_else(|_| JsValue::from_str(topic))
}

/// An incoming message: queues the "message" listeners' calls and hands it to the streams,
/// building only what someone reads. Returns, when `check` is set, whether a stream with
/// `pause` is full now (the driver then holds acknowledgements back).
pub(crate) fn message(
    listeners: &Listeners,
    streams: &MessageStreams,
    p: &crate::codec::Publish,
    check: bool,
) -> bool {
    let streams = streams.0.as_ref().map(|(s, _)| s).filter(|s| s.active());
    let listening = listeners.has("message");
    if !listening && streams.is_none() {
        return false;
    }
    let (topic, qos) = (p.topic.as_str(), p.qos as u8);
    let payload = js_sys::Uint8Array::from(p.payload.as_ref());
    if listening {
        let info = to_js(&PacketInfo { qos, retain: p.retain, dup: p.dup });
        listeners.emit3("message", [topic_js(topic), payload.clone().into(), info]);
    }
    if let Some(s) = streams {
        s.push(&to_js(&MessageOut {
            topic: topic_js(topic),
            payload: payload.into(),
            qos,
            retain: p.retain,
        }));
        return check && s.full();
    }
    false
}
