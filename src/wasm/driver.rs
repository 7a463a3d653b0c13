//! The browser driver: one sans-IO [`Client`] between a WebSocket, timers, IndexedDB and JS.
//!
//! Every input (socket open / data / close, a timer, a command) ends in [`Driver::pump`], which
//! drains the core in its order: store ops, then bytes, then events. When a turn produced store
//! ops, its bytes and events wait until their IndexedDB transaction completed (so an incoming QoS 2
//! message is delivered only once its packet id is stored, and an outgoing message is stored
//! before it is sent); later turns queue behind it, in order. Commands only schedule a pump on
//! the microtask queue, so everything issued in one turn of the event loop goes out in one frame.

use super::error::{connection_error, js_error, CLOSED, CONNECTION_FAILED, INTERNAL, INVALID_URL, TIMEOUT};
use super::events::{run, Action, Listeners, Streams};
use super::idb::IdbStore;
use super::options::{Backoff, Options};
use super::socket::{Socket, SocketEvent};
use super::timer::{document, global_target, Listener, Timer};
use crate::codec::SubAckCode;
use crate::proto::{Client, ConnectionError, Event, Instant, RequestId, StoreOp};
use core::time::Duration;
use js_sys::{Array, Function, Object, Reflect, Uint8Array};
use serde::Serialize;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::{Rc, Weak};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;

pub(crate) type Shared = Rc<RefCell<Driver>>;

/// Above this many bytes waiting in the WebSocket, new frames wait in the driver.
const HIGH_WATER: u32 = 1 << 20;
/// How often a full WebSocket buffer is looked at again (it has no "drain" event).
const DRAIN_POLL_MS: f64 = 20.0;
/// A connection that lived this long resets the reconnect backoff.
const STABLE: Duration = Duration::from_secs(30);

thread_local! {
    /// Clients with a live connection or a reconnect pending: like a socket in JS, they stay
    /// alive while the app holds no reference to them.
    static LIVE: RefCell<Vec<Shared>> = const { RefCell::new(Vec::new()) };
}

#[allow(clippy::disallowed_methods)] // The driver is where the clock is read: performance.now().
pub(crate) fn now() -> Instant {
    Instant::now()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The WebSocket is opening or CONNECT was sent.
    Connecting,
    Connected,
    /// Waiting for the backoff timer before the next attempt.
    Waiting,
    /// `end()`, `destroy()`, a failed first connect or a refusal that retrying cannot heal.
    Closed,
}

enum Pending {
    Publish { resolve: Function, reject: Function },
    Subscribe { resolve: Function, reject: Function, filters: Vec<String> },
    Unsubscribe { resolve: Function, reject: Function },
}

impl Pending {
    fn reject(&self) -> &Function {
        match self {
            Pending::Publish { reject, .. }
            | Pending::Subscribe { reject, .. }
            | Pending::Unsubscribe { reject, .. } => reject,
        }
    }
}

#[derive(Serialize)]
struct Granted<'a> {
    topic: &'a str,
    qos: u8,
}

#[derive(Serialize)]
struct PacketInfo {
    qos: u8,
    retain: bool,
    dup: bool,
}

pub(crate) struct Driver {
    me: Weak<RefCell<Driver>>,
    pub core: Client,
    url: String,
    reconnect: Option<Backoff>,
    connect_timeout_ms: f64,
    store: Option<Rc<IdbStore>>,
    socket: Option<Socket>,
    socket_open: bool,
    phase: Phase,
    attempts: u32,
    last_attempt: Option<Instant>,
    connected_at: Option<Instant>,
    offline_emitted: bool,
    timer: Timer,
    /// Inside the core timer's callback (a timer task), and whether `timer` was armed there.
    in_timer_task: bool,
    timer_armed_in_timer_task: bool,
    retry_timer: Timer,
    open_timer: Timer,
    drain_timer: Timer,
    connect_waiter: Option<(Function, Function)>,
    requests: HashMap<RequestId, Pending>,
    /// Restored requests still pending, with what is known about each.
    restored: BTreeMap<RequestId, JsValue>,
    pub listeners: Listeners,
    pub streams: Streams,
    // The outbox: bytes and events of the turn whose store write is running, then later turns.
    writing: bool,
    held_bytes: Vec<u8>,
    held_events: Vec<Event>,
    next_ops: Vec<StoreOp>,
    next_bytes: Vec<u8>,
    next_events: Vec<Event>,
    send_buf: Vec<u8>,
    flush_scheduled: bool,
    persisted_waiters: Vec<Function>,
    end_waiters: Vec<Function>,
    page: Vec<Listener>,
}

/// Runs `f` on the driver, unless it is borrowed (which would be a bug: report, do not panic).
pub(crate) fn with<R: Default>(shared: &Shared, f: impl FnOnce(&mut Driver) -> R) -> R {
    match shared.try_borrow_mut() {
        Ok(mut d) => f(&mut d),
        Err(_) => {
            web_sys::console::error_1(&"mq: internal error: re-entrant driver call".into());
            R::default()
        }
    }
}

/// `with`, then run the actions it returned.
fn act(weak: &Weak<RefCell<Driver>>, f: impl FnOnce(&mut Driver) -> Vec<Action>) {
    if let Some(s) = weak.upgrade() {
        run(with(&s, f));
    }
}

impl Driver {
    pub fn new(url: String, opts: &Options, core: Client, store: Option<IdbStore>) -> Shared {
        let shared = Rc::new(RefCell::new(Driver {
            me: Weak::new(),
            core,
            url,
            reconnect: opts.reconnect,
            connect_timeout_ms: opts.connect_timeout_ms,
            store: store.map(Rc::new),
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
            requests: HashMap::new(),
            restored: BTreeMap::new(),
            listeners: Listeners::default(),
            streams: Streams::default(),
            writing: false,
            held_bytes: Vec::new(),
            held_events: Vec::new(),
            next_ops: Vec::new(),
            next_bytes: Vec::new(),
            next_events: Vec::new(),
            send_buf: Vec::new(),
            flush_scheduled: false,
            persisted_waiters: Vec::new(),
            end_waiters: Vec::new(),
            page: Vec::new(),
        }));
        if let Ok(mut d) = shared.try_borrow_mut() {
            d.me = Rc::downgrade(&shared);
            d.listen_to_page();
        }
        LIVE.with(|l| {
            if let Ok(mut l) = l.try_borrow_mut() {
                l.push(shared.clone());
            }
        });
        shared
    }

    fn listen_to_page(&mut self) {
        if let Some(target) = global_target() {
            let w = self.me.clone();
            self.page.extend(Listener::new(&target, "online", move |_| act(&w, |d| d.on_online())));
        }
        if let Some(doc) = document() {
            let w = self.me.clone();
            let doc2 = doc.clone();
            self.page.extend(Listener::new(&doc, "visibilitychange", move |_| {
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

    pub fn set_connect_waiter(&mut self, resolve: Function, reject: Function) {
        self.connect_waiter = Some((resolve, reject));
    }

    pub fn add_restored(&mut self, id: RequestId, info: JsValue) {
        self.restored.insert(id, info);
    }

    pub fn restored(&self) -> Array {
        self.restored.values().cloned().collect()
    }

    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    pub fn buffered_amount(&self) -> f64 {
        let ws = self.socket.as_ref().map_or(0, |s| s.buffered());
        ws as f64 + self.send_buf.len() as f64
    }

    // ---- commands ----

    /// Registers the promise of a command the core accepted, and schedules the pump.
    pub fn track_publish(&mut self, id: RequestId, resolve: Function, reject: Function) {
        self.requests.insert(id, Pending::Publish { resolve, reject });
        self.schedule_flush();
    }

    pub fn track_subscribe(
        &mut self,
        id: RequestId,
        filters: Vec<String>,
        resolve: Function,
        reject: Function,
    ) {
        self.requests.insert(id, Pending::Subscribe { resolve, reject, filters });
        self.schedule_flush();
    }

    pub fn track_unsubscribe(&mut self, id: RequestId, resolve: Function, reject: Function) {
        self.requests.insert(id, Pending::Unsubscribe { resolve, reject });
        self.schedule_flush();
    }

    /// Resolves `resolve` once everything issued so far is in IndexedDB.
    pub fn when_persisted(&mut self, resolve: Function) {
        self.persisted_waiters.push(resolve);
        self.schedule_flush();
    }

    /// DISCONNECT, then close; `resolve` once done.
    pub fn end(&mut self, resolve: Function) -> Vec<Action> {
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
    pub fn destroy(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        self.held_bytes.clear();
        self.next_bytes.clear();
        self.send_buf.clear();
        self.drop_socket();
        if self.phase != Phase::Closed {
            self.phase = Phase::Closed;
            self.listeners.emit("close", vec![], &mut actions);
        }
        self.finish(&js_error(CLOSED, "the client was destroyed"), &mut actions);
        actions
    }

    // ---- the connection ----

    /// Opens a WebSocket (the first time and on every reconnect).
    pub fn open_socket(&mut self) -> Result<(), JsValue> {
        let w = self.me.clone();
        let handler: Rc<dyn Fn(SocketEvent)> = Rc::new(move |ev| act(&w, |d| d.on_socket(ev)));
        let socket = Socket::open(&self.url, handler).map_err(|e| {
            super::error::wrap(INVALID_URL, &format!("cannot open a WebSocket to {}", self.url), &e)
        })?;
        self.socket = Some(socket);
        self.socket_open = false;
        self.phase = Phase::Connecting;
        self.last_attempt = Some(now());
        let w = self.me.clone();
        self.open_timer.set_ms(self.connect_timeout_ms, move || {
            act(&w, |d| {
                d.open_timer.fired();
                d.open_timed_out()
            })
        });
        Ok(())
    }

    fn open_timed_out(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.socket.is_some() && !self.socket_open {
            self.drop_socket();
            let err = js_error(TIMEOUT, &format!("the WebSocket to {} did not open in time", self.url));
            self.connection_ended(err, true, &mut actions);
        }
        actions
    }

    fn on_socket(&mut self, ev: SocketEvent) -> Vec<Action> {
        match ev {
            SocketEvent::Open => {
                self.open_timer.cancel();
                self.socket_open = true;
                // Bytes still waiting were meant for a connection that is gone.
                self.held_bytes.clear();
                self.next_bytes.clear();
                self.send_buf.clear();
                self.core.handle_connected(now());
                self.pump()
            }
            SocketEvent::Data(bytes) => {
                self.core.handle_bytes(now(), &bytes);
                self.schedule_flush();
                Vec::new()
            }
            SocketEvent::Closed { code, reason } => {
                let was_open = self.socket_open;
                self.drop_socket();
                self.open_timer.cancel();
                self.core.handle_closed(now());
                let mut actions = self.pump();
                if !was_open {
                    let why = if reason.is_empty() { String::new() } else { format!(": {reason}") };
                    let msg = format!("cannot connect to {} (WebSocket close code {code}{why})", self.url);
                    self.connection_ended(js_error(CONNECTION_FAILED, &msg), true, &mut actions);
                }
                actions
            }
        }
    }

    fn on_online(&mut self) -> Vec<Action> {
        // Back online: try now rather than at the end of a long backoff, but never more often
        // than the minimum delay.
        let min = self.reconnect.map_or(0.0, |b| b.min_ms);
        let rested =
            self.last_attempt.map_or(true, |t| now().saturating_duration_since(t).as_millis() as f64 >= min);
        if self.phase == Phase::Waiting && rested {
            self.retry_timer.cancel();
            return self.reconnect_now();
        }
        Vec::new()
    }

    fn reconnect_now(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.phase != Phase::Waiting {
            return actions;
        }
        let online = web_sys::window().map_or(true, |w| w.navigator().on_line());
        if !online {
            // No network: wait for `online` (and look again after the longest delay).
            self.schedule_reconnect(true);
            return actions;
        }
        self.listeners.emit("reconnect", vec![], &mut actions);
        if let Err(e) = self.open_socket() {
            self.connection_ended(e, false, &mut actions);
        }
        actions
    }

    fn schedule_reconnect(&mut self, longest: bool) {
        let Some(backoff) = self.reconnect else { return };
        let delay = if longest {
            backoff.max_ms
        } else {
            let d = backoff.delay_ms(self.attempts, js_sys::Math::random());
            self.attempts = self.attempts.saturating_add(1);
            d
        };
        self.phase = Phase::Waiting;
        let w = self.me.clone();
        self.retry_timer.set_ms(delay, move || {
            act(&w, |d| {
                d.retry_timer.fired();
                d.reconnect_now()
            })
        });
    }

    /// A connection (or an attempt) ended: reconnect, or give up and reject what is pending.
    fn connection_ended(&mut self, err: JsValue, retryable: bool, actions: &mut Vec<Action>) {
        let was_connected = self.phase == Phase::Connected;
        if self.ended() {
            self.force_drain();
        }
        self.drop_socket();
        self.timer.cancel();
        if let Some(at) = self.connected_at.take() {
            if now().saturating_duration_since(at) >= STABLE {
                self.attempts = 0;
            }
        }
        if was_connected || self.phase == Phase::Closed {
            self.listeners.emit("close", vec![], actions);
        }
        if self.ended() {
            return; // end(): settle() finishes once the outbox is empty.
        }
        if let Some((_, reject)) = self.connect_waiter.take() {
            // The first connect reports its failure rather than retrying behind the app's back.
            actions.push(Action::call(&reject, vec![err.clone()]));
            self.phase = Phase::Closed;
            self.finish(&err, actions);
            return;
        }
        if !self.offline_emitted {
            self.offline_emitted = true;
            self.listeners.emit("offline", vec![], actions);
        }
        let code = super::error::error_code(&err).unwrap_or_default();
        if !retryable || self.reconnect.is_none() {
            self.listeners.emit("error", vec![err.clone()], actions);
            self.phase = Phase::Closed;
            self.finish(&err, actions);
            return;
        }
        if code != "CONNECTION_LOST" && code != CONNECTION_FAILED {
            self.listeners.emit("error", vec![err], actions);
        }
        self.schedule_reconnect(false);
    }

    fn ended(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// The socket goes away after this task: its closures may be the ones running now.
    fn drop_socket(&mut self) {
        self.socket_open = false;
        self.drain_timer.cancel();
        if let Some(s) = self.socket.take() {
            spawn_local(async move { drop(s) });
        }
    }

    /// Stops everything and settles what is pending with `err`.
    fn finish(&mut self, err: &JsValue, actions: &mut Vec<Action>) {
        self.phase = Phase::Closed;
        self.drop_socket();
        for t in [&mut self.timer, &mut self.retry_timer, &mut self.open_timer, &mut self.drain_timer] {
            t.cancel();
        }
        self.page.clear();
        let mut pending: Vec<(RequestId, Pending)> = self.requests.drain().collect();
        pending.sort_by_key(|(id, _)| *id);
        for (_, p) in pending {
            actions.push(Action::call(p.reject(), vec![err.clone()]));
        }
        self.streams.close_all(actions);
        if let Some((_, reject)) = self.connect_waiter.take() {
            actions.push(Action::call(&reject, vec![err.clone()]));
        }
        for w in self.persisted_waiters.drain(..).chain(self.end_waiters.drain(..)) {
            actions.push(Action::call(&w, vec![]));
        }
        if let Some(me) = self.me.upgrade() {
            LIVE.with(|l| {
                if let Ok(mut l) = l.try_borrow_mut() {
                    l.retain(|s| !Rc::ptr_eq(s, &me));
                }
            });
        }
    }

    // ---- the turn ----

    pub fn schedule_flush(&mut self) {
        if self.flush_scheduled {
            return;
        }
        self.flush_scheduled = true;
        let w = self.me.clone();
        spawn_local(async move {
            act(&w, |d| {
                d.flush_scheduled = false;
                d.pump()
            })
        });
    }

    /// Drains the core: store ops, bytes, events (see the module docs for the order).
    pub fn pump(&mut self) -> Vec<Action> {
        let mut ops = Vec::new();
        while let Some(op) = self.core.poll_store() {
            ops.push(op);
        }
        let mut bytes = Vec::new();
        self.core.poll_transmit(&mut bytes);
        let mut events = Vec::new();
        while let Some(e) = self.core.poll_event() {
            events.push(e);
        }
        if self.store.is_none() {
            ops.clear();
        }
        let mut actions = Vec::new();
        if self.writing {
            self.next_ops.extend(ops);
            self.next_bytes.extend(bytes);
            self.next_events.extend(events);
        } else if !ops.is_empty() {
            self.start_write(ops, bytes, events, &mut actions);
        } else {
            self.transmit(bytes);
            self.handle_events(events, &mut actions);
        }
        self.arm_timer();
        self.settle(&mut actions);
        actions
    }

    fn start_write(
        &mut self,
        ops: Vec<StoreOp>,
        bytes: Vec<u8>,
        events: Vec<Event>,
        actions: &mut Vec<Action>,
    ) {
        let Some(store) = self.store.clone() else {
            self.transmit(bytes);
            self.handle_events(events, actions);
            return;
        };
        self.writing = true;
        self.held_bytes = bytes;
        self.held_events = events;
        let w = self.me.clone();
        match store.write(&ops) {
            Ok(done) => spawn_local(async move {
                let r = done.await;
                act(&w, |d| d.write_done(r));
            }),
            Err(e) => spawn_local(async move { act(&w, |d| d.write_done(Err(e))) }),
        }
    }

    fn write_done(&mut self, result: Result<(), JsValue>) -> Vec<Action> {
        let mut actions = Vec::new();
        self.writing = false;
        if let Err(e) = result {
            // The session on disk is behind; the one in memory is right. Carry on (a reload now
            // may repeat or lose what this write held) and tell the app.
            self.listeners.emit("error", vec![e], &mut actions);
        }
        let bytes = std::mem::take(&mut self.held_bytes);
        let events = std::mem::take(&mut self.held_events);
        self.transmit(bytes);
        self.handle_events(events, &mut actions);
        let ops = std::mem::take(&mut self.next_ops);
        let bytes = std::mem::take(&mut self.next_bytes);
        let events = std::mem::take(&mut self.next_events);
        if ops.is_empty() {
            self.transmit(bytes);
            self.handle_events(events, &mut actions);
        } else {
            self.start_write(ops, bytes, events, &mut actions);
        }
        self.arm_timer();
        self.settle(&mut actions);
        actions
    }

    /// Once nothing waits for IndexedDB: `persisted()` promises resolve and `end()` completes.
    fn settle(&mut self, actions: &mut Vec<Action>) {
        if self.writing {
            return;
        }
        for w in self.persisted_waiters.drain(..) {
            actions.push(Action::call(&w, vec![]));
        }
        if self.phase == Phase::Closed && !self.end_waiters.is_empty() {
            self.force_drain();
            self.finish(&js_error(CLOSED, "the client was ended"), actions);
        }
    }

    fn arm_timer(&mut self) {
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
                let actions = d.pump();
                d.in_timer_task = false;
                actions
            })
        });
        if created {
            self.timer_armed_in_timer_task = self.in_timer_task;
        }
    }

    // ---- sending ----

    fn transmit(&mut self, bytes: Vec<u8>) {
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

    /// Sends what waits, as one frame, unless the WebSocket already holds more than `HIGH_WATER`.
    fn drain(&mut self) {
        let Some(socket) = self.socket.as_ref().filter(|_| self.socket_open) else { return };
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
                        Vec::new()
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
    fn force_drain(&mut self) {
        if let Some(socket) = self.socket.as_ref().filter(|s| self.socket_open && s.is_open()) {
            if !self.send_buf.is_empty() {
                let _ = socket.send(&std::mem::take(&mut self.send_buf));
            }
        }
    }

    // ---- events ----

    fn handle_events(&mut self, events: Vec<Event>, actions: &mut Vec<Action>) {
        for e in events {
            self.handle_event(e, actions);
        }
    }

    fn handle_event(&mut self, event: Event, actions: &mut Vec<Action>) {
        match event {
            Event::Connected { session_present } => {
                self.phase = Phase::Connected;
                self.connected_at = Some(now());
                self.offline_emitted = false;
                self.retry_timer.cancel();
                let info = Object::new();
                let _ = Reflect::set(&info, &"sessionPresent".into(), &session_present.into());
                if let Some((resolve, _)) = self.connect_waiter.take() {
                    actions.push(Action::call(&resolve, vec![info.clone().into()]));
                }
                self.listeners.emit("connect", vec![info.into()], actions);
            }
            Event::Disconnected { reason } => {
                let retryable = reason.is_retryable();
                if reason == ConnectionError::Requested {
                    self.force_drain();
                }
                self.connection_ended(connection_error(&reason), retryable, actions);
            }
            Event::Message(p) => {
                let topic = JsValue::from(p.topic.as_str());
                let payload: JsValue = Uint8Array::from(p.payload.as_ref()).into();
                let info = PacketInfo { qos: p.qos as u8, retain: p.retain, dup: p.dup };
                let info = serde_wasm_bindgen::to_value(&info).unwrap_or(JsValue::UNDEFINED);
                self.listeners.emit("message", vec![topic.clone(), payload.clone(), info], actions);
                let m = Object::new();
                let _ = Reflect::set(&m, &"topic".into(), &topic);
                let _ = Reflect::set(&m, &"payload".into(), &payload);
                let _ = Reflect::set(&m, &"qos".into(), &JsValue::from(p.qos as u8));
                let _ = Reflect::set(&m, &"retain".into(), &p.retain.into());
                self.streams.push(&m.into(), actions);
            }
            Event::Published { id } => {
                if let Some(Pending::Publish { resolve, .. }) = self.requests.remove(&id) {
                    actions.push(Action::call(&resolve, vec![]));
                }
                self.complete_restored(id, actions);
            }
            Event::Subscribed { id, codes } => {
                if let Some(Pending::Subscribe { resolve, filters, .. }) = self.requests.remove(&id) {
                    let granted: Vec<Granted> = filters
                        .iter()
                        .zip(&codes)
                        .map(|(f, c)| Granted { topic: f, qos: SubAckCode::to_u8(*c) })
                        .collect();
                    let v = serde_wasm_bindgen::to_value(&granted).unwrap_or(JsValue::UNDEFINED);
                    actions.push(Action::call(&resolve, vec![v]));
                }
                self.complete_restored(id, actions);
            }
            Event::Unsubscribed { id } => {
                if let Some(Pending::Unsubscribe { resolve, .. }) = self.requests.remove(&id) {
                    actions.push(Action::call(&resolve, vec![]));
                }
                self.complete_restored(id, actions);
            }
            #[allow(unreachable_patterns)]
            _ => {
                let e = js_error(INTERNAL, "unknown event from the session");
                self.listeners.emit("error", vec![e], actions);
            }
        }
    }

    fn complete_restored(&mut self, id: RequestId, actions: &mut Vec<Action>) {
        if let Some(info) = self.restored.remove(&id) {
            self.listeners.emit("restored", vec![info], actions);
        }
    }
}
