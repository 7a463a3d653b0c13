//! `share: "tabs"`: one connection and one session for every tab of the origin that connects
//! with the same (URL, client id).
//!
//! - [`api`]: the `MqttClient` methods of a sharing tab; [`wire`]: the channel's messages and
//!   the Web Locks.
//! - The tab holding the session's Web Lock leads ([`hub`]): it owns the driver (WebSocket,
//!   IndexedDB session) as a client does alone, and serves every tab's requests.
//! - The others follow: their commands go to the leader over a `BroadcastChannel`
//!   (`mq-tabs\n<url>\n<client id>`, messages in [`wire`]) and settle here with the leader's
//!   result; each keeps a request for the session's lock queued, granted when the leader's tab
//!   goes (closed, reloaded, crashed, discarded: the browser lets its locks go), and then leads.
//! - Every tab, the leader's too, talks to the leader the same way and gets the same messages:
//!   incoming messages posted once, each tab keeping those that match its own subscriptions.
//! - Each tab holds a lock of its own (`mq-tab\n<url>\n<client id>\n<id>`): the leader and the
//!   followers wait for each other's, so a tab that dies without a word is noticed (its
//!   subscriptions dropped, or the leader's loss reported as "close" and "offline").
//! - A publish is answered twice: `stored` once the leader's session holds it (in IndexedDB,
//!   with the session's request id), then `done`. After a failover a follower resends what was
//!   never `stored`; what was is the new leader's to complete (it restored it), and a `stored`
//!   request the new leader no longer has completed before the old one went. A QoS 1/2
//!   publish's origin (tab, `n`) is stored with it ([`origin`]): a resend of one the old leader
//!   stored but whose answer the tab never read is attached to the session's request, not
//!   published again.

mod api;
mod hub;
mod origin;
mod wire;

pub(crate) use api::*;

use super::driver::{with, ConnectInfo, Driver};
use super::error::{js_error, restore_error};
use super::events::{flush, queue, to_js, Listeners, MessageStreams};
use super::idb::{session_lock_name, IdbStore, SessionLock, LOCK_WAIT_MS};
use super::options::Options;
use super::session::{restored_info, Granted};
use super::timer::Timer;
use super::web::{callback, deferred, later, Callback, Scope};
use crate::codec::topic::matches;
use crate::codec::{ByteStr, Publish, QoS, Topic};
use crate::proto::{Client, ErrorCode, StoreRecord};
use hub::{Hub, HubRef};
use js_sys::{Function, Promise, Uint8Array};
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, BroadcastChannel, MessageEvent};
use wire::{function, lock, Wire};

pub(crate) type TabRef = Rc<RefCell<Tab>>;

thread_local! {
    /// Open tab clients: like a socket, they stay alive while the app holds no reference.
    static TABS: RefCell<Vec<TabRef>> = const { RefCell::new(Vec::new()) };
}

/// A request of this tab, until the leader answered `done` or `failed`.
struct Req {
    n: f64,
    /// The request as sent.
    wire: Vec<u8>,
    resolve: Function,
    reject: Function,
    /// Subscribe: the filters, taken back if it fails.
    filters: Option<Vec<String>>,
    publish: bool,
    /// The session's request id, once the leader said `stored`.
    stored: Option<f64>,
    /// The leader it was last sent to.
    sent_to: Option<String>,
}

pub(crate) struct Tab {
    me: Weak<RefCell<Tab>>,
    id: String,
    /// Of this session's tab locks (see `tab_lock_prefix`).
    lock_prefix: String,
    url: String,
    opts: Options,
    channel: BroadcastChannel,
    _on_channel: Option<Callback>,
    pub listeners: Listeners,
    pub streams: MessageStreams,
    /// This tab's subscriptions: the messages it keeps.
    subs: Vec<(String, QoS)>,
    /// The packet ids of the QoS 2 messages this tab took, until the leader said `rel` (or a
    /// connection without the session): a message posted `again` with one of them is not
    /// delivered twice. At most one entry per id the broker has in flight to the session.
    q2: Vec<u16>,
    pending: Vec<Req>,
    next_n: f64,
    /// The leading tab, once it said so.
    leader: Option<String>,
    connected: bool,
    /// Set while this tab leads.
    hub: Option<HubRef>,
    connect_waiter: Option<(Function, Function)>,
    persisted_waiters: Vec<Function>,
    /// This tab's own lock (`mq-tab\n<url>\n<client id>\n<id>`): its `release`.
    tab_lock: Option<Function>,
    /// The queued request for the session's lock (a follower's).
    lock_wait: Option<AbortController>,
    lonely: Timer,
    closed: bool,
}

/// Whether this page can share: Web Locks and `BroadcastChannel` both there.
pub(crate) fn available() -> bool {
    Scope::get().locks().is_some() && BroadcastChannel::new("mq-probe").map(|c| c.close()).is_ok()
}

/// The names of the tabs' own locks of one shared session: `mq-tab\n<url>\n<client id>\n` and
/// the tab's id (so a leader can list the tabs of its session: `LockManager.query`).
fn tab_lock_prefix(url: &str, client_id: &str) -> String {
    let mut n = String::from("mq-tab\n");
    n.push_str(url);
    n.push('\n');
    n.push_str(client_id);
    n.push('\n');
    n
}

pub(crate) fn tab_lock_name(prefix: &str, id: &str) -> String {
    let mut n = String::from(prefix);
    n.push_str(id);
    n
}

/// Runs `f` on the tab, then the JS calls it queued.
fn act(w: &Weak<RefCell<Tab>>, f: impl FnOnce(&mut Tab)) {
    if let Some(t) = w.upgrade() {
        if let Ok(mut t) = t.try_borrow_mut() {
            f(&mut t);
        }
        flush();
    }
}

/// `f` on the tab, or `R::default()` if it is borrowed (a bug: never a panic).
pub(crate) fn with_tab<R: Default>(t: &TabRef, f: impl FnOnce(&mut Tab) -> R) -> R {
    match t.try_borrow_mut() {
        Ok(mut t) => f(&mut t),
        Err(_) => R::default(),
    }
}

/// Hands `msg` (from the hub of this tab) to the tab, after this task's code.
fn local(tab: &Weak<RefCell<Tab>>, msg: Wire) {
    let w = tab.clone();
    later(move || act(&w, |t| t.on_wire(&msg)));
}

/// A message from the channel: to the hub if it is for the leader and this tab leads.
fn dispatch(w: &Weak<RefCell<Tab>>, msg: Wire) {
    if msg.k == wire::HELLO || msg.k == wire::REQ {
        let hub = w.upgrade().and_then(|t| t.try_borrow().ok().and_then(|t| t.hub.clone()));
        if let Some(hub) = hub {
            hub::act(&Rc::downgrade(&hub), |h| h.on_wire(&msg));
        }
    } else {
        act(w, |t| t.on_wire(&msg));
    }
}

fn random_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    (0..16).map(|_| HEX[(js_sys::Math::random() * 16.0) as usize & 15] as char).collect()
}

/// Connects as one tab of a shared connection: resolves once the shared connection is up
/// (CONNACK 0), whichever tab leads.
/// `Err(options)`: this page's Web Locks refuse requests: connect alone.
pub(crate) async fn connect(url: String, opts: Options) -> Result<Result<TabRef, Options>, JsValue> {
    let locks = Scope::get().locks().ok_or_else(|| js_error(ErrorCode::Internal, "no Web Locks"))?;
    let mut name = String::from("mq-tabs\n");
    name.push_str(&url);
    name.push('\n');
    name.push_str(&opts.config.client_id);
    let channel = BroadcastChannel::new(&name)?;
    let id = random_id();
    let lock_prefix = tab_lock_prefix(&url, &opts.config.client_id);
    let own_lock = tab_lock_name(&lock_prefix, &id);
    let tab = Rc::new(RefCell::new(Tab {
        me: Weak::new(),
        id: id.clone(),
        lock_prefix,
        url,
        opts,
        channel: channel.clone(),
        _on_channel: None,
        listeners: Listeners::default(),
        streams: MessageStreams::default(),
        subs: Vec::new(),
        q2: Vec::new(),
        pending: Vec::new(),
        next_n: 1.0,
        leader: None,
        connected: false,
        hub: None,
        connect_waiter: None,
        persisted_waiters: Vec::new(),
        tab_lock: None,
        lock_wait: None,
        lonely: Timer::default(),
        closed: false,
    }));
    let w = Rc::downgrade(&tab);
    let on_channel = {
        let w = w.clone();
        callback(move |e| {
            if let Some(e) = e.dyn_ref::<MessageEvent>() {
                if let Some(d) = e.data().dyn_ref::<Uint8Array>() {
                    for msg in wire::decode_all(&d.to_vec()) {
                        dispatch(&w, msg);
                    }
                }
            }
            JsValue::UNDEFINED
        })
    };
    channel.set_onmessage(Some(on_channel.as_ref().unchecked_ref()));
    let (connected, resolve, reject) = deferred();
    if let Ok(mut t) = tab.try_borrow_mut() {
        t.me = w.clone();
        t._on_channel = Some(on_channel);
        t.connect_waiter = Some((resolve, reject));
    }
    let _ = TABS.try_with(|l| l.try_borrow_mut().map(|mut l| l.push(tab.clone())));
    // This tab's own lock first (its name is new: granted at once), then the session's.
    let (got, grant, _) = deferred();
    let w2 = w.clone();
    let asked = lock(&locks, &own_lock, false, true, None, move |release| {
        act(&w2, |t| t.tab_lock = release);
        let _ = grant.call0(&JsValue::UNDEFINED);
    });
    if asked {
        JsFuture::from(got).await?;
    }
    if with_tab(&tab, |t| t.tab_lock.is_none()) {
        // A lock manager that refuses requests (an opaque origin, say): this tab cannot share.
        let e = js_error(ErrorCode::Closed, "Web Locks refused a request");
        let opts = with_tab(&tab, |t| {
            t.connect_waiter = None; // nobody awaits it on this path
            t.finish(&e, false);
            Some(t.opts.clone())
        });
        flush();
        return opts.map(Err).ok_or(e);
    }
    let w2 = w.clone();
    let session = session_lock_name(
        &with_tab(&tab, |t| t.url.clone()),
        &with_tab(&tab, |t| t.opts.config.client_id.clone()),
    );
    let asked = lock(&locks, &session, true, true, None, move |release| match release {
        Some(release) => lead(&w2, release),
        None => act(&w2, |t| t.follow()),
    });
    if !asked {
        with_tab(&tab, |t| t.finish(&js_error(ErrorCode::Internal, "the Web Lock request failed"), false));
        flush();
    }
    JsFuture::from(connected).await?;
    Ok(Ok(tab))
}

/// This tab takes the lead (the session's lock is ours: `release` lets it go): restore the
/// session from IndexedDB, start the driver, say so. While this tab's `connect` is pending, a
/// failed first connection fails it (and every tab waiting with it); after that (a failover)
/// the driver retries as after any connection loss.
fn lead(w: &Weak<RefCell<Tab>>, release: Function) {
    let w = w.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let Some(tab) = w.upgrade() else {
            let _ = release.call0(&JsValue::UNDEFINED);
            return;
        };
        let ids = with_tab(&tab, |t| {
            t.lock_wait = None;
            t.lonely.cancel();
            (!t.closed).then(|| (t.url.clone(), t.opts.config.clone(), t.connect_waiter.is_some()))
        });
        let Some((url, config, first)) = ids else {
            let _ = release.call0(&JsValue::UNDEFINED);
            return;
        };
        let restored = async {
            let mut store = IdbStore::open(&url, &config.client_id).await?;
            let records = match store.load().await {
                Ok(r) => r,
                Err(e) => {
                    store.close();
                    return Err(e);
                }
            };
            let restored: Vec<_> = records.iter().filter_map(restored_info).collect();
            // Stored, not known delivered: the old leader's tabs may have them (see Hub::listen).
            let unconfirmed: Vec<u16> = records
                .iter()
                .filter_map(|r| match r {
                    StoreRecord::Incoming { pkid, delivered: false } => Some(*pkid),
                    _ => None,
                })
                .collect();
            match Client::restore(config, records) {
                Ok(core) => {
                    store.lock = SessionLock::held(release.clone());
                    Ok((core, store, restored, unconfirmed))
                }
                Err(e) => {
                    store.close();
                    Err(restore_error(&e))
                }
            }
        }
        .await;
        let (core, store, restored, unconfirmed) = match restored {
            Ok(r) => r,
            Err(e) => {
                let _ = release.call0(&JsValue::UNDEFINED);
                with_tab(&tab, |t| t.finish(&e, false));
                flush();
                return;
            }
        };
        let started = with_tab(&tab, |t| {
            if t.closed {
                return None;
            }
            // The tab that connects first on a stored session (the page its reload replaced,
            // say) takes the session's subscriptions as its own, as a client alone does: the
            // messages the broker kept for them come right after CONNACK, before any subscribe
            // call of the app. A failover's leader does not: a dead tab's filters are nobody's.
            if first {
                for (f, q) in core.subscriptions() {
                    if !t.subs.iter().any(|(g, _)| g == f.as_str()) {
                        t.subs.push((f.as_str().to_owned(), *q));
                    }
                }
            }
            let driver = Driver::new(t.url.clone(), &t.opts, core, Some(store));
            let (id, prefix, channel) = (t.id.clone(), t.lock_prefix.clone(), t.channel.clone());
            let hub = Hub::new(&tab, id, prefix, driver.clone(), channel, unconfirmed, !first);
            if let Ok(mut h) = hub.try_borrow_mut() {
                for (f, q) in &t.subs {
                    h.hold(&t.id, f, *q);
                }
            }
            t.hub = Some(hub.clone());
            Some((driver, hub))
        });
        let Some((driver, hub)) = started else {
            let _ = release.call0(&JsValue::UNDEFINED);
            return;
        };
        let failed = with(&driver, |d| {
            for (id, info) in restored {
                d.add_restored(id, info);
            }
            if first {
                let hw = Rc::downgrade(&hub);
                let reject = function(move |e| {
                    hub::act(&hw, |h| h.driver_event(wire::FIRST, e));
                    JsValue::UNDEFINED
                });
                d.connect_waiter = Some((wire::noop(), reject));
            }
            d.open_socket().err().inspect(|_| {
                d.connect_waiter = None;
                d.destroy();
            })
        });
        if let Some(e) = failed {
            with_tab(&tab, |t| t.finish(&e, false));
        } else if let Ok(h) = hub.try_borrow() {
            h.announce();
            h.collect_orphans(!first);
        }
        flush();
    });
}

impl Tab {
    /// Another tab leads (or is about to): ask who, queue for the lock, and give up connecting
    /// with `SESSION_LOCKED` if nobody answers (a client that does not share holds the lock).
    fn follow(&mut self) {
        self.send_hello();
        let Some(locks) = Scope::get().locks() else { return };
        let Ok(stop) = AbortController::new() else { return };
        let w = self.me.clone();
        let name = session_lock_name(&self.url, &self.opts.config.client_id);
        if lock(&locks, &name, false, true, Some(&stop.signal()), move |release| {
            if let Some(release) = release {
                lead(&w, release)
            }
        }) {
            self.lock_wait = Some(stop);
        }
        let w = self.me.clone();
        self.lonely.set_ms(LOCK_WAIT_MS as f64, move || {
            act(&w, |t| {
                t.lonely.fired();
                if t.leader.is_none() && t.hub.is_none() && t.connect_waiter.is_some() {
                    let e = js_error(
                        ErrorCode::SessionLocked,
                        "another client that does not share tabs holds the stored session of this broker URL and client id",
                    );
                    t.finish(&e, false);
                }
            })
        });
    }

    fn send_hello(&self) {
        let mut m = Wire::new(wire::HELLO);
        m.tab = self.id.clone();
        m.filters = self.subs.iter().map(|(f, _)| f.clone()).collect();
        m.qoss = self.subs.iter().map(|(_, q)| *q as u8).collect();
        // To whoever leads, known or not.
        if self.hub.is_some() {
            self.to_leader(&m.encode());
        } else {
            wire::post(&self.channel, &m.encode());
        }
    }

    /// Sends `msg` to the leader: this tab's hub, or the channel (nowhere while none is known).
    fn to_leader(&self, msg: &[u8]) -> Option<String> {
        if let Some(hub) = &self.hub {
            let hw = Rc::downgrade(hub);
            if let Some(msg) = Wire::decode(msg) {
                later(move || hub::act(&hw, |h| h.on_wire(&msg)));
            }
            return Some(self.id.clone());
        }
        let leader = self.leader.clone()?;
        wire::post(&self.channel, msg);
        Some(leader)
    }

    /// A message for the tabs, from the leader.
    fn on_wire(&mut self, msg: &Wire) {
        if self.closed {
            return;
        }
        match msg.k {
            wire::LEADER => self.on_leader(msg),
            // The broker has no session: no PUBREL, nor a redelivery, for the ids held.
            wire::EV if msg.op == wire::CONNECT && !msg.sp => {
                self.q2.clear();
                if !self.connected {
                    self.on_connect(msg.sp);
                }
            }
            wire::REL => {
                let id = msg.id as u16;
                self.q2.retain(|q| *q != id);
            }
            wire::EV => match msg.op {
                wire::CONNECT if !self.connected => self.on_connect(msg.sp),
                wire::CLOSE if self.connected => {
                    self.connected = false;
                    self.listeners.emit("close", &[]);
                }
                wire::OFFLINE => self.listeners.emit("offline", &[]),
                wire::RECONNECT => self.listeners.emit("reconnect", &[]),
                wire::ERROR => self.listeners.emit("error", &[msg.error()]),
                wire::FAILED => {
                    let e = msg.error();
                    if self.connect_waiter.is_none() {
                        self.listeners.emit("error", core::slice::from_ref(&e));
                    }
                    self.finish(&e, false);
                }
                // The leader's first connection failed and it let the lead go: the tabs still
                // connecting fail with it; a connected tab waits for the next leader.
                wire::FIRST if self.connect_waiter.is_some() || self.hub.is_some() => {
                    self.finish(&msg.error(), false);
                }
                wire::FIRST => self.listeners.emit("error", &[msg.error()]),
                _ => {}
            },
            wire::ACK if msg.tab == self.id => {
                let Some(i) = self.pending.iter().position(|r| r.n == msg.n) else { return };
                match msg.op {
                    wire::STORED => {
                        self.pending[i].stored = Some(msg.id);
                        self.settle_persisted();
                    }
                    wire::DONE => {
                        let r = self.pending.remove(i);
                        if msg.granted {
                            let g: Vec<Granted> = msg
                                .filters
                                .iter()
                                .zip(&msg.qoss)
                                .map(|(f, q)| Granted { topic: f, qos: *q })
                                .collect();
                            queue(&r.resolve, &[to_js(&g)]);
                        } else {
                            queue(&r.resolve, &[]);
                        }
                        self.settle_persisted();
                    }
                    wire::FAILED => {
                        let r = self.pending.remove(i);
                        if let Some(fs) = &r.filters {
                            self.subs.retain(|(f, _)| !fs.contains(f));
                        }
                        queue(&r.reject, &[msg.error()]);
                        self.settle_persisted();
                    }
                    _ => {}
                }
            }
            wire::RDONE => {
                if let Some(i) = self.pending.iter().position(|r| r.stored == Some(msg.id)) {
                    let r = self.pending.remove(i);
                    queue(&r.resolve, &[]);
                    self.settle_persisted();
                }
            }
            wire::MSG => {
                let topic = &msg.topic;
                // The highest QoS of this tab's matching filters bounds the message's, as the
                // broker's delivery to a client of its own would.
                if msg.qos == 2 && msg.id >= 0.0 {
                    let id = msg.id as u16;
                    let had = self.q2.contains(&id);
                    if had && msg.op == wire::AGAIN {
                        return;
                    }
                    if !had {
                        self.q2.push(id);
                    }
                }
                let Some(max) = self.subs.iter().filter(|(f, _)| matches(f, topic)).map(|(_, q)| *q).max()
                else {
                    return;
                };
                let qos = match msg.qos {
                    2 => QoS::ExactlyOnce,
                    1 => QoS::AtLeastOnce,
                    _ => QoS::AtMostOnce,
                }
                .min(max);
                // The leader posts only what the broker sent, its topic checked on decoding.
                let Ok(topic) = Topic::new(ByteStr::from(topic.clone())) else { return };
                let mut p = Publish::new(topic, qos, msg.payload.clone());
                p.retain = msg.retain;
                p.dup = msg.dup;
                // Acknowledgements are the connection's tab's business (see api::messages).
                super::events::message(&self.listeners, &self.streams, &p, false);
            }
            _ => {}
        }
    }

    fn on_leader(&mut self, msg: &Wire) {
        let leader = msg.tab.clone();
        self.lonely.cancel();
        if self.leader.as_deref() != Some(leader.as_str()) {
            self.leader = Some(leader.clone());
            if leader != self.id {
                self.watch_leader(&leader);
            }
            // A request the new leader's session does not hold any more completed before.
            let ids = &msg.ids;
            let mut i = 0;
            while i < self.pending.len() {
                if self.pending[i].stored.is_some_and(|id| !ids.contains(&id)) {
                    let r = self.pending.remove(i);
                    queue(&r.resolve, &[]);
                } else {
                    i += 1;
                }
            }
            self.send_hello();
            // What no leader stored goes (again) to this one, in order.
            for i in 0..self.pending.len() {
                let r = &self.pending[i];
                if r.stored.is_none() && r.sent_to.as_deref() != Some(leader.as_str()) {
                    let sent = self.to_leader(&r.wire);
                    self.pending[i].sent_to = sent;
                }
            }
            self.settle_persisted();
        }
        let up = msg.connected;
        if up && !self.connected {
            self.on_connect(msg.sp);
        } else if !up && self.connected {
            // A new leader, not connected yet: the connection this tab knew is gone (its own
            // watch on the old leader may not have said so yet).
            self.connected = false;
            self.listeners.emit("close", &[]);
            self.listeners.emit("offline", &[]);
        }
    }

    fn on_connect(&mut self, session_present: bool) {
        self.connected = true;
        if let Some((resolve, _)) = self.connect_waiter.take() {
            queue(&resolve, &[]);
        }
        self.listeners.emit("connect", &[to_js(&ConnectInfo { session_present })]);
    }

    /// Waits for the leader's tab lock: granted when that tab is gone.
    fn watch_leader(&self, leader: &str) {
        let Some(locks) = Scope::get().locks() else { return };
        let (w, gone) = (self.me.clone(), leader.to_owned());
        lock(&locks, &tab_lock_name(&self.lock_prefix, leader), false, false, None, move |granted| {
            if granted.is_none() {
                return;
            }
            act(&w, |t| {
                if t.leader.as_deref() == Some(gone.as_str()) {
                    t.leader = None;
                    if t.connected {
                        t.connected = false;
                        t.listeners.emit("close", &[]);
                        t.listeners.emit("offline", &[]);
                    }
                }
            })
        });
    }

    /// Queues request `wire` (its `n` set here) and sends it when a leader is known.
    fn request(&mut self, mut wire: Wire, filters: Option<Vec<String>>, publish: bool) -> Promise {
        let (promise, resolve, reject) = deferred();
        if self.closed {
            let _ = reject.call1(&JsValue::UNDEFINED, &js_error(ErrorCode::Closed, "the client is closed"));
            return promise;
        }
        let n = self.next_n;
        self.next_n += 1.0;
        wire.k = wire::REQ;
        wire.tab = self.id.clone();
        wire.n = n;
        // The lowest request this tab still waits for (`pending` is in request order).
        wire.id = self.pending.first().map_or(n, |r| r.n);
        let wire = wire.encode();
        let sent_to = self.to_leader(&wire);
        self.pending.push(Req { n, wire, resolve, reject, filters, publish, stored: None, sent_to });
        promise
    }

    fn settle_persisted(&mut self) {
        if self.pending.iter().any(|r| r.publish && r.stored.is_none()) {
            return;
        }
        for w in self.persisted_waiters.drain(..) {
            queue(&w, &[]);
        }
    }

    /// This tab stops: what is pending rejects with `err`, its locks go, and if it led, its
    /// driver closes (`end`: DISCONNECT first; otherwise as `destroy`) and the next tab leads.
    fn finish(&mut self, err: &JsValue, graceful: bool) -> Option<Promise> {
        if self.closed {
            return None;
        }
        self.closed = true;
        self.lonely.cancel();
        if let Some((_, reject)) = self.connect_waiter.take() {
            queue(&reject, core::slice::from_ref(err));
        }
        for r in core::mem::take(&mut self.pending) {
            queue(&r.reject, core::slice::from_ref(err));
        }
        for w in self.persisted_waiters.drain(..) {
            queue(&w, &[]);
        }
        self.streams.close_all();
        if self.connected {
            self.connected = false;
            self.listeners.emit("close", &[]);
        }
        let mut ended = None;
        if let Some(hub) = self.hub.take() {
            let driver = hub.try_borrow_mut().ok().map(|mut h| {
                h.leaving = true;
                h.driver.clone()
            });
            if let Some(driver) = driver {
                if graceful {
                    let (p, resolve, _) = deferred();
                    with(&driver, |d| d.end(resolve));
                    ended = Some(p);
                } else {
                    with(&driver, |d| d.destroy());
                }
            }
        }
        if let Some(stop) = self.lock_wait.take() {
            stop.abort();
        }
        if let Some(release) = self.tab_lock.take() {
            let _ = release.call0(&JsValue::UNDEFINED);
        }
        self.channel.set_onmessage(None);
        self.channel.close();
        if let Some(me) = self.me.upgrade() {
            let _ = TABS.try_with(|l| l.try_borrow_mut().map(|mut l| l.retain(|t| !Rc::ptr_eq(t, &me))));
        }
        ended
    }
}
