//! The browser driver: one sans-IO [`Client`] between a WebSocket, timers, IndexedDB and JS.
//!
//! Every input (socket open / data / close, a timer, a command) ends in [`Driver::pump`], which
//! drains the core in its order: store ops, then bytes, then events. When a turn produced store
//! ops, its bytes and events wait until their IndexedDB transaction completed (so an incoming QoS 2
//! message is delivered only once its packet id is stored, and an outgoing message is stored
//! before it is sent). While a transaction runs, the turns after it gather their ops into the
//! next one (a group commit), their bytes and events waiting behind every earlier write; a turn
//! without store ops waits behind the last. Commands only schedule a pump on
//! the microtask queue, so everything issued in one turn of the event loop goes out in one frame.

use super::error::{connection_error, js_error};
use super::events::{flush, queue, to_js, Listeners, MessageStreams};
use super::idb::IdbStore;
use super::options::{Backoff, Options};
use super::outbox::Held;
use super::session::Granted;
use super::socket::Socket;
use super::timer::{Listener, Timer};
use super::web::{later, performance_now, Scope};
use crate::codec::{QoS, SubAckCode, Text};
use crate::proto::log::{log_op, LogOp, Replay};
use crate::proto::{Client, ConnectionError, ErrorCode, Event, Instant, RequestId};
use js_sys::{Array, Function};
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::JsValue;

pub(crate) type Shared = Rc<RefCell<Driver>>;

/// Above this many bytes waiting in the WebSocket, new frames wait in the driver.
const HIGH_WATER: u32 = 1 << 20;
/// The largest frame sent. What waits is sent in frames of at most this many bytes, as long as
/// the WebSocket holds at most `HIGH_WATER` (a packet may span two frames, which MQTT over
/// WebSocket allows). Sent as one frame, the megabytes of QoS 0 messages of 16 KiB that piled up
/// behind a full buffer went through rumqttd at 17 messages/s in 9 of 10 runs (the browser
/// bench, 1,000 messages of 16 KiB, 5 rounds, memory and IndexedDB sessions); in frames of
/// 64 KiB, 1,154 to 1,914 messages/s in 4 of 4.
const MAX_FRAME: usize = 64 * 1024;
/// How often a full WebSocket buffer is looked at again (it has no "drain" event).
const DRAIN_POLL_MS: f64 = 20.0;

thread_local! {
    /// Clients with a live connection or a reconnect pending: like a socket in JS, they stay
    /// alive while the app holds no reference to them.
    pub(super) static LIVE: RefCell<Vec<Shared>> = const { RefCell::new(Vec::new()) };
}

thread_local! {
    /// The last reading of the clock, for the (never seen) case that reading it fails.
    static LAST_NOW: core::cell::Cell<f64> = const { core::cell::Cell::new(0.0) };
}

/// The driver is where the clock is read: milliseconds since the page's (or worker's) time
/// origin, the core's instants' origin. A clock that throws reads as its last reading: a JS
/// exception must never unwind through the driver while its state is borrowed.
pub(crate) fn now() -> Instant {
    let ms = match performance_now() {
        Ok(ms) => {
            let _ = LAST_NOW.try_with(|l| l.set(ms));
            ms
        }
        Err(_) => LAST_NOW.try_with(|l| l.get()).unwrap_or(0.0),
    };
    Instant::from_millis_f64(ms)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// The WebSocket is opening or CONNECT was sent.
    Connecting,
    Connected,
    /// Waiting for the backoff timer before the next attempt.
    Waiting,
    /// `end()`, `destroy()`, a failed first connect or a refusal that retrying cannot heal.
    Closed,
}

pub(super) enum Pending {
    Publish { resolve: Function, reject: Function },
    Subscribe { resolve: Function, reject: Function, filters: Vec<String> },
    Unsubscribe { resolve: Function, reject: Function },
}

impl Pending {
    pub(super) fn reject(&self) -> &Function {
        match self {
            Pending::Publish { reject, .. }
            | Pending::Subscribe { reject, .. }
            | Pending::Unsubscribe { reject, .. } => reject,
        }
    }
}

/// The argument of a "connect" listener (a sharing tab's too).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConnectInfo {
    pub session_present: bool,
}

/// What a sharing leader's hub is shown (see [`Driver::tap`]).
pub(crate) enum Tapped<'a> {
    /// A message, as the listeners get it.
    Message(&'a crate::codec::Publish),
    /// [`Event::Redelivered`]: not for the listeners.
    Again(&'a crate::codec::Publish),
    /// [`Event::Released`].
    Released(u16),
}

/// See [`Driver::tap`].
pub(crate) type Tap = Box<dyn Fn(Tapped<'_>)>;

pub(crate) struct Driver {
    pub(super) me: Weak<RefCell<Driver>>,
    pub core: Client,
    pub(super) url: String,
    pub(super) reconnect: Option<Backoff>,
    pub(super) connect_timeout_ms: f64,
    pub(super) store: Option<Rc<RefCell<IdbStore>>>,
    pub(super) socket: Option<Socket>,
    pub(super) socket_open: bool,
    pub(super) phase: Phase,
    pub(super) attempts: u32,
    pub(super) last_attempt: Option<Instant>,
    pub(super) connected_at: Option<Instant>,
    pub(super) offline_emitted: bool,
    pub(super) timer: Timer,
    /// Inside the core timer's callback (a timer task), and whether `timer` was armed there.
    pub(super) in_timer_task: bool,
    pub(super) timer_armed_in_timer_task: bool,
    pub(super) retry_timer: Timer,
    pub(super) open_timer: Timer,
    pub(super) drain_timer: Timer,
    /// `connect`'s promise: resolved at CONNACK 0, rejected if the first connect fails.
    pub(super) connect_waiter: Option<(Function, Function)>,
    /// Pending commands in request order (ids only grow): a Vec with binary search, not one
    /// more map or VecDeque instantiation in the wasm (a removal moves the few younger ones).
    pub(super) requests: Vec<(RequestId, Pending)>,
    /// Restored requests still pending, with what is known about each, in request order (a Vec
    /// with linear search: a BTreeMap would be one more collection in the wasm module).
    pub(super) restored: Vec<(RequestId, JsValue)>,
    pub listeners: Listeners,
    pub streams: MessageStreams,
    /// The outbox (outbox.rs): the store writes, oldest first, each holding the bytes and
    /// events of the turns whose ops it holds (and of the later turns that made no store ops)
    /// until it committed. The first `RUNNING` are in IndexedDB (which commits readwrite
    /// transactions on one store in the order they were made); the one after them, if any,
    /// gathers the ops of every turn until one of those committed.
    pub(super) writes: Vec<Held>,
    /// Store ops made while handing events over (QoS 2 delivery marks), written next.
    pub(super) marks: Vec<LogOp>,
    /// The driver's own records (keys starting with `idb::SIDE`): what wasm/share/ keeps with
    /// the session, as the session holds them (for snapshots), and the ops not written yet,
    /// which go with the next turn's store ops, in the same transaction (see [`Driver::side_op`]).
    pub side: Replay,
    pub(super) side_ops: Vec<LogOp>,
    pub(super) send_buf: Vec<u8>,
    /// Where incoming frames are copied, a piece at a time (see connection.rs).
    pub(super) feed_buf: Vec<u8>,
    pub(super) flush_scheduled: bool,
    /// `finish` ran: the Web Lock goes once the store writes are done (`unlock_if_idle`).
    pub(super) unlock_pending: bool,
    pub(super) persisted_waiters: Vec<Function>,
    pub(super) end_waiters: Vec<Function>,
    pub(super) page: Vec<Listener>,
    /// A sharing leader's hub (wasm/share/): sees each incoming message before the listeners,
    /// in Rust (it queues its own JS calls, so they keep their place among the events').
    pub tap: Option<Tap>,
}

/// Runs `f` on the driver, unless it is borrowed (which would be a bug: report, do not panic).
pub(crate) fn with<R: Default>(shared: &Shared, f: impl FnOnce(&mut Driver) -> R) -> R {
    match shared.try_borrow_mut() {
        Ok(mut d) => f(&mut d),
        Err(_) => {
            reentrant();
            R::default()
        }
    }
}

/// `with` found the driver borrowed: one copy of the report for every caller.
#[cold]
#[inline(never)]
fn reentrant() {
    web_sys::console::error_1(&"mq: internal error: re-entrant driver call".into());
}

/// `with`, then run the JS calls it queued.
pub(super) fn act(weak: &Weak<RefCell<Driver>>, f: impl FnOnce(&mut Driver)) {
    if let Some(s) = weak.upgrade() {
        with(&s, f);
        flush();
    }
}

impl Driver {
    pub fn new(url: String, opts: &Options, core: Client, mut store: Option<IdbStore>) -> Shared {
        let side = store.as_mut().map(|s| core::mem::take(&mut s.side)).unwrap_or_default();
        let shared = Rc::new(RefCell::new(Driver {
            me: Weak::new(),
            core,
            url,
            reconnect: opts.reconnect,
            connect_timeout_ms: opts.connect_timeout_ms,
            store: store.map(|s| Rc::new(RefCell::new(s))),
            socket: None,
            socket_open: false,
            phase: Phase::Connecting,
            attempts: 0,
            last_attempt: None,
            connected_at: None,
            offline_emitted: false,
            timer: Timer::default(),
            in_timer_task: false,
            timer_armed_in_timer_task: false,
            retry_timer: Timer::default(),
            open_timer: Timer::default(),
            drain_timer: Timer::default(),
            connect_waiter: None,
            requests: Vec::new(),
            restored: Vec::new(),
            listeners: Listeners::default(),
            streams: MessageStreams::default(),
            writes: Vec::new(),
            marks: Vec::new(),
            side,
            side_ops: Vec::new(),
            send_buf: Vec::new(),
            feed_buf: Vec::new(),
            flush_scheduled: false,
            unlock_pending: false,
            persisted_waiters: Vec::new(),
            end_waiters: Vec::new(),
            page: Vec::new(),
            tap: None,
        }));
        if let Ok(mut d) = shared.try_borrow_mut() {
            d.me = Rc::downgrade(&shared);
            d.listen_to_page();
        }
        let _ = LIVE.try_with(|l| {
            if let Ok(mut l) = l.try_borrow_mut() {
                l.push(shared.clone());
            }
        });
        shared
    }

    fn listen_to_page(&mut self) {
        let scope = Scope::get();
        let w = self.me.clone();
        self.page.extend(Listener::new(scope.target(), "online", move || act(&w, |d| d.on_online())));
        if let Some(doc) = scope.document() {
            let w = self.me.clone();
            let doc2 = doc.clone();
            self.page.extend(Listener::new(&doc, "visibilitychange", move || {
                if !doc2.hidden() {
                    // Timers may have slept: let the core look at the clock now.
                    act(&w, |d| {
                        d.core.handle_timeout(now());
                        d.pump()
                    })
                }
            }));
        }
    }

    pub fn add_restored(&mut self, id: RequestId, info: JsValue) {
        match self.restored.binary_search_by_key(&id, |(r, _)| *r) {
            Ok(i) => self.restored[i].1 = info,
            Err(i) => self.restored.insert(i, (id, info)),
        }
    }

    pub fn restored(&self) -> Array {
        self.restored.iter().map(|(_, v)| v.clone()).collect()
    }

    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    pub fn buffered_amount(&self) -> f64 {
        let ws = self.socket.as_ref().map_or(0, |s| s.buffered());
        ws as f64 + self.send_buf.len() as f64
    }

    // ---- commands ----

    fn track(&mut self, id: RequestId, pending: Pending) {
        match self.requests.binary_search_by_key(&id, |(r, _)| *r) {
            Ok(i) => self.requests[i].1 = pending,
            Err(i) => self.requests.insert(i, (id, pending)),
        }
    }

    fn take_request(&mut self, id: RequestId) -> Option<Pending> {
        let i = self.requests.binary_search_by_key(&id, |(r, _)| *r).ok()?;
        Some(self.requests.remove(i).1)
    }

    /// Registers the promise of a command the core accepted, and schedules the pump.
    pub fn track_publish(&mut self, id: RequestId, resolve: Function, reject: Function) {
        self.track(id, Pending::Publish { resolve, reject });
        self.schedule_flush();
    }

    pub fn track_subscribe(
        &mut self,
        id: RequestId,
        filters: Vec<String>,
        resolve: Function,
        reject: Function,
    ) {
        self.track(id, Pending::Subscribe { resolve, reject, filters });
        self.schedule_flush();
    }

    pub fn track_unsubscribe(&mut self, id: RequestId, resolve: Function, reject: Function) {
        self.track(id, Pending::Unsubscribe { resolve, reject });
        self.schedule_flush();
    }

    /// DISCONNECT, then close; `resolve` once done.
    pub fn end(&mut self, resolve: Function) {
        self.end_waiters.push(resolve);
        if self.phase != Phase::Closed {
            self.phase = Phase::Closed;
            self.retry_timer.cancel();
            self.open_timer.cancel();
            self.core.disconnect(now());
        }
        self.pump()
    }

    /// Closes the connection without DISCONNECT (the broker then publishes the will). The stored
    /// session stays as it is, for the next client with the same URL and id.
    pub fn destroy(&mut self) {
        self.send_buf.clear();
        // Nothing reaches the app after "close". A QoS 2 message among these is in the store as
        // not delivered, and the broker (without its PUBREC) sends it again to the next client.
        for h in &mut self.writes {
            h.bytes.clear();
            h.events.clear();
        }
        self.drop_socket();
        if self.phase != Phase::Closed {
            self.phase = Phase::Closed;
            self.listeners.emit("close", &[]);
        }
        self.finish(&js_error(ErrorCode::Closed, "the client was destroyed"));
    }

    // ---- the turn ----

    pub fn schedule_flush(&mut self) {
        if self.flush_scheduled {
            return;
        }
        self.flush_scheduled = true;
        let w = self.me.clone();
        later(move || {
            act(&w, |d| {
                d.flush_scheduled = false;
                d.pump()
            })
        });
    }

    /// Drains the core: store ops, bytes, events (see the module docs for the order).
    pub fn pump(&mut self) {
        let mut ops = Vec::new();
        while let Some(op) = self.core.poll_store() {
            ops.push(log_op(&op));
        }
        ops.append(&mut self.side_ops);
        let mut bytes = Vec::new();
        self.core.poll_transmit(&mut bytes);
        let mut events = Vec::new();
        while let Some(e) = self.core.poll_event() {
            events.push(e);
        }
        if self.store.is_none() {
            ops.clear();
        }
        if !ops.is_empty() || !self.writes.is_empty() {
            // A completed publish is reported without waiting for the store: what a write
            // holds back is what it protects (bytes it must precede, an incoming QoS 2 message
            // whose id it stores). Were the page to go before the write that forgets the
            // message commits, the restored session would send it again: a duplicate QoS 1
            // message, or a PUBREL that the broker answers with PUBCOMP; never a loss.
            let (done, rest): (Vec<Event>, Vec<Event>) =
                events.into_iter().partition(|e| matches!(e, Event::Published { .. }));
            self.handle_events(done);
            events = rest;
        }
        if !ops.is_empty() {
            self.start_write(ops, bytes, events);
        } else if let Some(last) = self.writes.last_mut() {
            // Behind the writes in flight, in order.
            last.bytes.extend(bytes);
            last.events.extend(events);
        } else {
            self.transmit(bytes);
            self.handle_events(events);
        }
        self.write_pending();
        self.arm_timer();
        self.settle();
    }

    pub(super) fn arm_timer(&mut self) {
        if self.phase == Phase::Closed {
            self.timer.cancel();
            return;
        }
        // A timer armed in a timer task nests one level deeper; re-arm it from this task when
        // this is not one, so hidden-tab throttling never sees a long chain (see timer.rs).
        if !self.in_timer_task && self.timer_armed_in_timer_task {
            self.timer.cancel();
        }
        let w = self.me.clone();
        let created = self.timer.set(now(), self.core.poll_timeout(), move || {
            act(&w, |d| {
                d.in_timer_task = true;
                d.timer.fired();
                d.core.handle_timeout(now());
                d.release_acks();
                d.pump();
                d.in_timer_task = false;
            })
        });
        if created {
            self.timer_armed_in_timer_task = self.in_timer_task;
        }
    }

    // ---- sending ----

    pub(super) fn transmit(&mut self, bytes: Vec<u8>) {
        if bytes.is_empty() || !self.socket_open {
            return;
        }
        if self.send_buf.is_empty() {
            self.send_buf = bytes;
        } else {
            self.send_buf.extend(bytes);
        }
        self.drain();
    }

    /// Sends what waits, in frames of at most `MAX_FRAME`, while the WebSocket holds at most
    /// `HIGH_WATER`; the rest waits for the drain timer. Nothing goes to a socket the broker is
    /// closing (its close frame came, its close event has not yet): it would drop the frame, and
    /// the browser log an error for it. What waits then is for a connection that is ending; the
    /// next one starts afresh.
    fn drain(&mut self) {
        let Some(socket) = self.socket.as_ref().filter(|s| self.socket_open && s.is_open()) else { return };
        if self.send_buf.len() > MAX_FRAME {
            let mut sent = 0;
            while sent < self.send_buf.len() && socket.buffered() <= HIGH_WATER {
                let end = self.send_buf.len().min(sent + MAX_FRAME);
                // A failure means the socket is closing; its close event follows and the core
                // resends.
                let _ = socket.send(&self.send_buf[sent..end]);
                sent = end;
            }
            self.send_buf.drain(..sent);
        }
        if self.send_buf.is_empty() {
            return;
        }
        if socket.buffered() > HIGH_WATER {
            if !self.drain_timer.is_armed() {
                let w = self.me.clone();
                self.drain_timer.set_ms(DRAIN_POLL_MS, move || {
                    act(&w, |d| {
                        d.drain_timer.fired();
                        d.drain();
                    })
                });
            }
            return;
        }
        let buf = std::mem::take(&mut self.send_buf);
        // A failure means the socket is closing; its close event follows and the core resends.
        let _ = socket.send(&buf);
    }

    /// Hands everything to the WebSocket regardless of its buffer (before closing it).
    pub(super) fn force_drain(&mut self) {
        if let Some(socket) = self.socket.as_ref().filter(|s| self.socket_open && s.is_open()) {
            if !self.send_buf.is_empty() {
                let _ = socket.send(&std::mem::take(&mut self.send_buf));
            }
        }
    }

    // ---- events ----

    /// Hands events to the app, right after `transmit` gave the WebSocket the bytes that came
    /// with them. What the core then records about the QoS 2 messages handed over goes into
    /// `marks` (written by `write_pending`): the listeners run in this task, after this
    /// borrow ends, and a transaction opened in this task commits only after it.
    pub(super) fn handle_events(&mut self, events: Vec<Event>) {
        // Their PUBRECs reached the WebSocket, unless they wait in `send_buf` or the socket is
        // gone (then the record must say the app has the message).
        let pubrec_sent = self.socket_open && self.send_buf.is_empty();
        let mut marked = false;
        for e in events {
            if let Event::Message(p) = &e {
                if p.qos == QoS::ExactlyOnce {
                    marked |= self.core.handle_delivered(p.pkid, pubrec_sent);
                }
            }
            self.handle_event(e);
        }
        if marked {
            while let Some(op) = self.core.poll_store() {
                if self.store.is_some() {
                    self.marks.push(log_op(&op));
                }
            }
        }
    }

    fn handle_event(&mut self, event: Event) {
        match event {
            Event::Connected { session_present } => {
                // end() was called while this CONNACK waited for a store write: stay closed.
                if self.phase == Phase::Closed {
                    return;
                }
                self.phase = Phase::Connected;
                self.connected_at = Some(now());
                self.offline_emitted = false;
                self.retry_timer.cancel();
                if let Some((resolve, _)) = self.connect_waiter.take() {
                    queue(&resolve, &[]);
                }
                self.listeners.emit("connect", &[to_js(&ConnectInfo { session_present })]);
            }
            Event::Disconnected { reason } => {
                let retryable = reason.is_retryable();
                if reason == ConnectionError::Requested {
                    self.force_drain();
                }
                self.connection_ended(connection_error(&reason), retryable);
            }
            Event::Message(p) => {
                // Listeners get (topic, payload, { qos, retain, dup }); the messages() streams
                // { topic, payload, qos, retain }, the same payload object. A stream left full
                // holds back the acknowledgements of what comes next (see `release_acks`).
                let check = !self.core.acks_held();
                if let Some(tap) = &self.tap {
                    tap(Tapped::Message(&p));
                }
                if super::events::message(&self.listeners, &self.streams, &p, check) {
                    self.core.hold_acks(now(), true);
                }
            }
            Event::Published { id } => {
                if let Some(Pending::Publish { resolve, .. }) = self.take_request(id) {
                    queue(&resolve, &[]);
                }
                self.complete_restored(id);
            }
            Event::Subscribed { id, codes } => {
                if let Some(Pending::Subscribe { resolve, filters, .. }) = self.take_request(id) {
                    let granted: Vec<Granted> = filters
                        .iter()
                        .zip(&codes)
                        .map(|(f, c)| Granted { topic: f, qos: SubAckCode::to_u8(*c) })
                        .collect();
                    queue(&resolve, &[to_js(&granted)]);
                }
                self.complete_restored(id);
            }
            Event::Unsubscribed { id } => {
                if let Some(Pending::Unsubscribe { resolve, .. }) = self.take_request(id) {
                    queue(&resolve, &[]);
                }
                self.complete_restored(id);
            }
            Event::TooLarge { topic, size, .. } => {
                // Acknowledged and dropped (see proto::Event::TooLarge); the connection stays.
                let mut m = Text::default();
                m.s("a message on \"").s(&topic).s("\" of ").n(size as u64);
                m.s(" bytes is larger than maxPacketSize: acknowledged to the broker and dropped");
                self.listeners.emit("error", &[js_error(ErrorCode::TooLarge, &m.0)]);
            }
            // A client alone has the message already; a sharing leader's tabs may not (see
            // share/hub.rs).
            Event::Redelivered(p) => {
                if let Some(tap) = &self.tap {
                    tap(Tapped::Again(&p));
                }
            }
            Event::Released { pkid } => {
                if let Some(tap) = &self.tap {
                    tap(Tapped::Released(pkid));
                }
            }
            Event::Ignored { packet, pkid } => {
                // Not an error: the connection stays up (see proto::Event::Ignored).
                web_sys::console::warn_3(
                    &"mq: ignored an acknowledgement for a packet id with nothing in flight:".into(),
                    &packet.into(),
                    &pkid.into(),
                );
            }
            #[allow(unreachable_patterns)]
            _ => {
                let e = js_error(ErrorCode::Internal, "unknown event from the session");
                self.listeners.emit("error", &[e]);
            }
        }
    }

    /// A `messages()` stream with `overflow: "pause"` and the app not reading: no more
    /// acknowledgements of incoming QoS 1/2 messages until it reads (the WebSocket cannot stop
    /// reading; the broker stops after its in-flight window and keeps the rest).
    pub fn add_stream(&mut self, size: f64, pause: bool) -> JsValue {
        let w = self.me.clone();
        self.streams.add(size, pause, move || {
            super::web::callback(move |_| {
                act(&w, |d| d.release_acks());
                JsValue::UNDEFINED
            })
        })
    }

    /// Sends the held acknowledgements once no stream is full (a stream read below its size,
    /// ended, or dropped by the app and collected: looked at on every keepalive timer too).
    pub(super) fn release_acks(&mut self) {
        if self.core.acks_held() && !self.streams.full() {
            self.core.hold_acks(now(), false);
            self.schedule_flush();
        }
    }

    fn complete_restored(&mut self, id: RequestId) {
        if let Ok(i) = self.restored.binary_search_by_key(&id, |(r, _)| *r) {
            let (_, info) = self.restored.remove(i);
            self.listeners.emit("restored", &[info]);
        }
    }
}
