//! What the tabs say to each other on their `BroadcastChannel`, and the Web Locks they hold.
//!
//! A message is a [`Wire`], posted as a `Uint8Array` of a small format of our own
//! ([`Wire::encode`]: one byte each for the magic `0xa1`, `k`, `op`, `qos` and the flags, three
//! little-endian `f64` for `n`, `id` and `rc`, then `tab`, `topic`, `payload`, `code`, `text` and
//! `qoss` as a `u32` length and bytes, `filters` and `ids` as a `u32` count and entries). One
//! encoder and one decoder for every kind: no typed JS accessor per field (each was an import, a
//! shim and JS glue). `k` and `op` are the byte constants below. Its kind is `k`:
//!
//! | `k` | from | fields |
//! |---|---|---|
//! | `hello` | a tab | `tab`, `filters` + `qoss` (its subscriptions): "who leads? here is what I hold" |
//! | `req` | a tab | `tab`, `n` (the tab's request number), `id` (the lowest `n` the tab still waits for), `op` (`pub` / `sub` / `unsub`), `topic`, `payload` (`Uint8Array`), `qos`, `retain`, `filters` |
//! | `leader` | the leader | `tab` (the leader's), `connected`, `sp`, `ids` (the restored requests still pending) |
//! | `ev` | the leader | `op` (`connect` / `close` / `offline` / `reconnect` / `error` / `failed`), `sp`, `code`, `text`, `rc` |
//! | `ack` | the leader | `tab`, `n`, `op` (`stored` / `done` / `failed`), `id` (the session's request id), `granted` with `filters` + `qoss` (a subscribe's), `code`, `text`, `rc` |
//! | `rdone` | the leader | `id`: a request restored from the session completed |
//! | `msg` | the leader | `topic`, `payload`, `qos`, `retain`, `dup`, `id` (a QoS 2 message's packet id), `op` (`again`: maybe handed over already): an incoming message, posted once for all tabs |
//! | `rel` | the leader | `id`: the broker released that QoS 2 packet id (PUBREL) |
//!
//! The messages a tab posts on a channel in one turn go as one batch ([`post`]: `0xa2`, then
//! each message as a `u32` length and its bytes). A message without the magic byte is ignored;
//! a short one reads as empty fields past its end, never a panic.

use super::super::error::{error_code, js_error};
use super::super::web::{callback, deferred, later, then, LockManager, LockOptions};
use crate::proto::ErrorCode;
use js_sys::{Array, Function, Object, Uint8Array};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AbortSignal, BroadcastChannel};

#[wasm_bindgen]
extern "C" {
    /// What the driver's listeners get: `{ sessionPresent }`, an
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
    #[wasm_bindgen(method, getter)]
    pub fn topic(this: &Info) -> JsValue;
    #[wasm_bindgen(method, getter)]
    pub fn qos(this: &Info) -> JsValue;
    #[wasm_bindgen(method, getter)]
    pub fn id(this: &Info) -> JsValue;
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

/// `on_names` gets the names of the locks held now, in this origin (never called if the query
/// fails).
pub(crate) fn held_locks(locks: &LockManager, on_names: impl FnOnce(Vec<String>) + 'static) {
    let Ok(query) = locks.query() else { return };
    let mut on_names = Some(on_names);
    let done = function(move |snapshot| {
        let held = snapshot.unchecked_ref::<LockSnapshot>().held();
        let names = match held.dyn_ref::<Array>() {
            Some(held) => {
                held.iter().filter_map(|l| l.unchecked_ref::<LockSnapshot>().name().as_string()).collect()
            }
            None => Vec::new(),
        };
        if let Some(f) = on_names.take() {
            f(names);
        }
        JsValue::UNDEFINED
    });
    then(&query, &done, &noop());
}

/// Message kinds (`k`).
pub(crate) const HELLO: u8 = 1;
pub(crate) const REQ: u8 = 2;
pub(crate) const LEADER: u8 = 3;
pub(crate) const EV: u8 = 4;
pub(crate) const ACK: u8 = 5;
pub(crate) const RDONE: u8 = 6;
pub(crate) const MSG: u8 = 7;
pub(crate) const REL: u8 = 8;

/// `op` of a `req`.
pub(crate) const PUB: u8 = 1;
pub(crate) const SUB: u8 = 2;
pub(crate) const UNSUB: u8 = 3;
/// `op` of an `ev`.
pub(crate) const CONNECT: u8 = 4;
pub(crate) const CLOSE: u8 = 5;
pub(crate) const OFFLINE: u8 = 6;
pub(crate) const RECONNECT: u8 = 7;
pub(crate) const ERROR: u8 = 8;
pub(crate) const FAILED: u8 = 9;
pub(crate) const FIRST: u8 = 10;
/// `op` of an `ack` (and `FAILED`).
pub(crate) const STORED: u8 = 11;
pub(crate) const DONE: u8 = 12;
/// `op` of a QoS 2 `msg` this session may have posted already (a tab that has its id pending
/// does not deliver it again).
pub(crate) const AGAIN: u8 = 13;

/// The first byte of every message: a message of another shape (another version of the
/// package, say) is ignored.
const MAGIC: u8 = 0xa1;

/// A message on the channel (see the module docs): every kind has the same fields, those it does
/// not use left empty.
#[derive(Default)]
pub(crate) struct Wire {
    pub k: u8,
    pub op: u8,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
    pub connected: bool,
    pub sp: bool,
    /// An `ack` `done` of a subscribe: the granted QoS of each of `filters` in `qoss`.
    pub granted: bool,
    pub n: f64,
    pub id: f64,
    /// A CONNACK return code, when the error carries one.
    pub rc: Option<f64>,
    pub tab: String,
    pub topic: String,
    pub payload: Vec<u8>,
    pub code: String,
    pub text: String,
    pub filters: Vec<String>,
    pub qoss: Vec<u8>,
    pub ids: Vec<f64>,
}

fn put(o: &mut Vec<u8>, b: &[u8]) {
    o.extend_from_slice(&(b.len() as u32).to_le_bytes());
    o.extend_from_slice(b);
}

/// Reads a message's bytes; past the end everything reads as empty.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        match self.0.split_at_checked(n) {
            Some((a, b)) => {
                self.0 = b;
                a
            }
            None => {
                let a = self.0;
                self.0 = &[];
                &a[..0]
            }
        }
    }

    fn u8(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    fn num(&mut self) -> f64 {
        self.take(8).try_into().map_or(-1.0, f64::from_le_bytes)
    }

    fn len(&mut self) -> usize {
        self.take(4).try_into().map_or(0, u32::from_le_bytes) as usize
    }

    fn bytes(&mut self) -> Vec<u8> {
        let n = self.len();
        self.take(n).to_vec()
    }

    fn str(&mut self) -> String {
        String::from_utf8(self.bytes()).unwrap_or_default()
    }
}

impl Wire {
    /// An empty message of kind `k`.
    #[inline(never)]
    pub fn new(k: u8) -> Wire {
        Wire { k, n: -1.0, id: -1.0, ..Wire::default() }
    }

    /// The message's bytes, as the channel carries them.
    pub fn encode(&self) -> Vec<u8> {
        let mut o = vec![MAGIC, self.k, self.op, self.qos];
        let flags = [self.retain, self.dup, self.connected, self.sp, self.granted, self.rc.is_some()];
        o.push(flags.iter().rev().fold(0, |a, f| a << 1 | *f as u8));
        for v in [self.n, self.id, self.rc.unwrap_or(0.0)] {
            o.extend_from_slice(&v.to_le_bytes());
        }
        for s in [
            self.tab.as_bytes(),
            self.topic.as_bytes(),
            &self.payload,
            self.code.as_bytes(),
            self.text.as_bytes(),
        ] {
            put(&mut o, s);
        }
        put(&mut o, &self.qoss);
        o.extend_from_slice(&(self.filters.len() as u32).to_le_bytes());
        for f in &self.filters {
            put(&mut o, f.as_bytes());
        }
        o.extend_from_slice(&(self.ids.len() as u32).to_le_bytes());
        for id in &self.ids {
            o.extend_from_slice(&id.to_le_bytes());
        }
        o
    }

    /// A message from its bytes (`None`: not one of ours).
    pub fn decode(b: &[u8]) -> Option<Wire> {
        let mut r = Reader(b);
        if r.u8() != MAGIC {
            return None;
        }
        let (k, op, qos, flags) = (r.u8(), r.u8(), r.u8(), r.u8());
        let (n, id, rc) = (r.num(), r.num(), r.num());
        let mut w = Wire {
            k,
            op,
            qos,
            retain: flags & 1 != 0,
            dup: flags & 2 != 0,
            connected: flags & 4 != 0,
            sp: flags & 8 != 0,
            granted: flags & 16 != 0,
            n,
            id,
            rc: (flags & 32 != 0).then_some(rc),
            tab: r.str(),
            topic: r.str(),
            payload: r.bytes(),
            code: r.str(),
            text: r.str(),
            qoss: r.bytes(),
            ..Wire::default()
        };
        // Each entry takes at least 4 bytes: a count past the message reads what is there.
        let count = r.len().min(r.0.len() / 4);
        w.filters = (0..count).map(|_| r.str()).collect();
        let count = r.len().min(r.0.len() / 8);
        w.ids = (0..count).map(|_| r.num()).collect();
        Some(w)
    }

    /// Carries `err` (a JS error with a `code`): its code, message and CONNACK return code.
    pub fn set_error(&mut self, err: &JsValue) {
        self.code = error_code(err).unwrap_or_else(|| ErrorCode::Internal.as_str().to_owned());
        if err.is_object() {
            let info: &Info = err.unchecked_ref();
            if let Some(m) = info.message().ok().and_then(|m| m.as_string()) {
                self.text = m;
            }
            self.rc = info.return_code().ok().and_then(|rc| rc.as_f64());
        }
    }

    /// The error this message carries, rebuilt in this tab: an `Error` with the same `code`,
    /// message and `returnCode`.
    pub fn error(&self) -> JsValue {
        let e = js_error(ErrorCode::Internal, &self.text);
        if !self.code.is_empty() {
            e.unchecked_ref::<Coded>().set_code(&self.code);
        }
        if let Some(rc) = self.rc {
            e.unchecked_ref::<Coded>().set_return_code(rc);
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
    fn set_return_code(this: &Coded, code: f64);
}

/// The first byte of a batch: the messages posted on one channel in one turn, each as a `u32`
/// little-endian length and its bytes.
const BATCH: u8 = 0xa2;

thread_local! {
    /// The batches not yet posted, a channel each, in the order their first message came.
    static OUTBOX: RefCell<Vec<(BroadcastChannel, Vec<u8>)>> = const { RefCell::new(Vec::new()) };
}

/// Posts a message's bytes on the channel: with every other message posted on it in this turn
/// (in a microtask after it), in order, as one batch. A post costs each tab one task; a
/// follower's window of 100 QoS 0 publishes, one post each, went through the leader at
/// 1,800-2,300 messages/s (bench/browser/bench.mjs, "mq-tabs").
pub(crate) fn post(channel: &BroadcastChannel, bytes: &[u8]) {
    let first = OUTBOX.try_with(|o| {
        let Ok(mut o) = o.try_borrow_mut() else { return false };
        let first = o.is_empty();
        let i = match o.iter().position(|(c, _)| c == channel) {
            Some(i) => i,
            None => {
                o.push((channel.clone(), vec![BATCH]));
                o.len() - 1
            }
        };
        let batch = &mut o[i].1;
        batch.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        batch.extend_from_slice(bytes);
        first
    });
    if first == Ok(true) {
        later(|| {
            let batches = OUTBOX.try_with(|o| o.try_borrow_mut().map(|mut o| std::mem::take(&mut *o)));
            for (channel, batch) in batches.ok().and_then(Result::ok).unwrap_or_default() {
                let _ = channel.post_message(&Uint8Array::from(batch.as_slice()));
            }
        });
    }
}

/// The messages of what a channel delivered: a batch (see [`post`]), or one message.
pub(crate) fn decode_all(b: &[u8]) -> Vec<Wire> {
    if b.first() != Some(&BATCH) {
        return Wire::decode(b).into_iter().collect();
    }
    let mut out = Vec::new();
    let mut rest = &b[1..];
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let len = (u32::from_le_bytes(*len) as usize).min(tail.len());
        let (msg, tail) = tail.split_at(len);
        out.extend(Wire::decode(msg));
        rest = tail;
    }
    out
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
    lock_boxed(locks, name, if_available, hold, signal, Box::new(on_grant))
}

/// Called once: by the grant, or (`None`) by a request that fails before it (no lock manager
/// for this document, say) or is aborted.
type Grant = Box<dyn FnOnce(Option<Function>)>;

/// `lock` over a boxed `on_grant`: its body and closures once for every caller.
fn lock_boxed(
    locks: &LockManager,
    name: &str,
    if_available: bool,
    hold: bool,
    signal: Option<&AbortSignal>,
    on_grant: Grant,
) -> bool {
    let options: LockOptions = Object::new().unchecked_into();
    if if_available {
        options.set_if_available(true);
    }
    if let Some(s) = signal {
        options.set_signal(s);
    }
    let slot: Rc<RefCell<Option<Grant>>> = Rc::new(RefCell::new(Some(on_grant)));
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
            let failed = function(move |_| {
                if let Some(f) = take(&slot) {
                    f(None);
                }
                JsValue::UNDEFINED
            });
            then(&p, &noop(), &failed);
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
