//! The leader's side: the tab that holds the session's Web Lock owns the one [`Driver`] (its
//! WebSocket and IndexedDB session) and serves every tab's requests, its own included, through
//! the driver's ordinary commands and listeners. It posts each incoming message once on the
//! channel, keeps which tab holds which filter (the broker sees the union; UNSUBSCRIBE goes out
//! when no tab holds a filter any more), and learns that a tab is gone when that tab's Web Lock
//! (`mq-tab\n<url>\n<client id>\n<id>`) is granted to it.

use super::super::driver::{now, with, Shared, Tapped};
use super::super::error::user_error;
use super::super::events::{flush, queue};
use super::super::web::{later, Scope};
use super::wire::{self, function, held_locks, lock, noop, Info, Wire};
use super::{local, origin, TabRef};
use crate::codec::{ByteStr, QoS};
use crate::proto::{Message, RequestId};
use js_sys::{Array, Function, Uint8Array};
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::BroadcastChannel;

pub(crate) type HubRef = Rc<RefCell<Hub>>;

/// The driver's "restored" event (not an `op` on the channel: it goes as `rdone`).
const RESTORED: u8 = 0;

/// A filter subscribed at the broker: the highest QoS asked, and what the broker granted.
struct Sub {
    filter: String,
    qos: QoS,
    granted: Option<u8>,
}

pub(crate) struct Hub {
    me: Weak<RefCell<Hub>>,
    tab: Weak<RefCell<super::Tab>>,
    my_id: String,
    lock_prefix: String,
    pub driver: Shared,
    channel: BroadcastChannel,
    /// Tabs whose lock we wait for (granted when the tab is gone).
    watched: Vec<String>,
    subs: Vec<Sub>,
    /// (tab, filter, QoS): who holds what.
    holders: Vec<(String, String, QoS)>,
    session_present: bool,
    /// Tabs that said `hello` to this leader.
    heard: Vec<String>,
    /// After a failover: the live tabs of the session not heard yet. Once all have said which
    /// filters they hold, the session's filters nobody holds (a dead leader's) are unsubscribed.
    awaiting: Option<Vec<String>>,
    /// This tab is giving the lead up (`end()`, `destroy()`): no more requests, and what the
    /// driver rejects on closing is not reported (the next leader completes it).
    pub leaving: bool,
}

/// Runs `f` on the hub, then the JS calls it queued.
pub(crate) fn act(w: &Weak<RefCell<Hub>>, f: impl FnOnce(&mut Hub)) {
    if let Some(h) = w.upgrade() {
        if let Ok(mut h) = h.try_borrow_mut() {
            f(&mut h);
        }
        flush();
    }
}

fn qos_of(v: u8) -> QoS {
    match v {
        2 => QoS::ExactlyOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::AtMostOnce,
    }
}

impl Hub {
    pub fn new(
        tab: &TabRef,
        my_id: String,
        lock_prefix: String,
        driver: Shared,
        channel: BroadcastChannel,
        unconfirmed: Vec<u16>,
        failover: bool,
    ) -> HubRef {
        let hub = Rc::new(RefCell::new(Hub {
            me: Weak::new(),
            tab: Rc::downgrade(tab),
            my_id,
            lock_prefix,
            heard: Vec::new(),
            awaiting: None,
            driver,
            channel,
            watched: Vec::new(),
            subs: Vec::new(),
            holders: Vec::new(),
            session_present: false,
            leaving: false,
        }));
        if let Ok(mut h) = hub.try_borrow_mut() {
            h.me = Rc::downgrade(&hub);
            // The session's subscriptions: a tab asking for one of them is answered at once.
            let subs = with(&h.driver, |d| {
                let s = d.core.subscriptions().iter();
                s.map(|(f, q)| Sub { filter: f.as_str().to_owned(), qos: *q, granted: Some(*q as u8) })
                    .collect()
            });
            h.subs = subs;
            h.listen(unconfirmed, failover);
        }
        hub
    }

    /// Posts `msg` to the other tabs, and hands it to this tab after this task's code.
    pub fn broadcast(&self, msg: Wire) {
        wire::post(&self.channel, &msg.encode());
        local(&self.tab, msg);
    }

    /// The driver's events, as the tabs see them. A QoS 2 message goes with its packet id, and
    /// as `again` when a tab may have it already: the broker sent it once more after a failover
    /// (the old leader's PUBREC lost with its page, maybe after its post went out), to an id the
    /// restored session holds as delivered (`Redelivered`) or as stored but not known delivered
    /// (`unconfirmed`, the records' ids). Each tab keeps the ids it delivered until `rel`, so it
    /// delivers such a message only if it missed it. `failover`: tabs were open before this
    /// leader; otherwise (a first connection on a stored session) a `Redelivered` one was the
    /// app's before, as for a client alone, and is not posted.
    fn listen(&mut self, unconfirmed: Vec<u16>, failover: bool) {
        let w = self.me.clone();
        // Incoming messages: from the driver in Rust, posted once as the channel's bytes (through
        // the event queue, in their place among the other events).
        let post = function(move |bytes| {
            act(&w, |h| {
                if let Some(a) = bytes.dyn_ref::<Uint8Array>() {
                    let bytes = a.to_vec();
                    wire::post(&h.channel, &bytes);
                    if let Some(msg) = Wire::decode(&bytes) {
                        local(&h.tab, msg);
                    }
                }
            });
            JsValue::UNDEFINED
        });
        let unconfirmed = RefCell::new(unconfirmed);
        let tap = Box::new(move |t: Tapped<'_>| {
            let mut m = Wire::new(wire::MSG);
            let mut unconfirmed = unconfirmed.borrow_mut();
            let p = match t {
                Tapped::Message(p) => {
                    if let Some(i) =
                        unconfirmed.iter().position(|id| *id == p.pkid && p.qos == QoS::ExactlyOnce)
                    {
                        unconfirmed.swap_remove(i);
                        m.op = wire::AGAIN;
                    }
                    p
                }
                Tapped::Again(p) if failover => {
                    m.op = wire::AGAIN;
                    p
                }
                Tapped::Again(_) => return,
                Tapped::Released(id) => {
                    unconfirmed.retain(|u| *u != id);
                    m.k = wire::REL;
                    m.id = id as f64;
                    queue(&post, &[Uint8Array::from(&m.encode()[..]).into()]);
                    return;
                }
            };
            if p.qos == QoS::ExactlyOnce {
                m.id = p.pkid as f64;
            }
            m.topic = p.topic.as_str().to_owned();
            m.payload = p.payload.to_vec();
            m.qos = p.qos as u8;
            m.retain = p.retain;
            m.dup = p.dup;
            queue(&post, &[Uint8Array::from(&m.encode()[..]).into()]);
        });
        let ev = |w: Weak<RefCell<Hub>>, op: u8| {
            function(move |arg| {
                act(&w, |h| h.driver_event(op, arg));
                JsValue::UNDEFINED
            })
        };
        let listeners = [
            ("connect", ev(w_of(&self.me), wire::CONNECT)),
            ("close", ev(w_of(&self.me), wire::CLOSE)),
            ("offline", ev(w_of(&self.me), wire::OFFLINE)),
            ("reconnect", ev(w_of(&self.me), wire::RECONNECT)),
            ("error", ev(w_of(&self.me), wire::ERROR)),
            ("restored", ev(w_of(&self.me), RESTORED)),
        ];
        with(&self.driver, |d| {
            d.tap = Some(tap);
            for (name, f) in &listeners {
                d.listeners.on(name, f);
            }
        });
    }

    /// A driver event: to every tab (`restored`: the request's id, and the event to this tab).
    pub fn driver_event(&mut self, op: u8, arg: JsValue) {
        if self.leaving {
            return;
        }
        let mut e = Wire::new(wire::EV);
        match op {
            wire::CONNECT => {
                let sp = arg.unchecked_ref::<Info>().session_present().as_bool().unwrap_or(false);
                self.session_present = sp;
                e.sp = sp;
            }
            wire::ERROR | wire::FIRST => {
                // An error after which the driver is closed ends every tab ("failed"); the
                // first connection of a leader failing ("first") ends the tabs still connecting.
                let closed = with(&self.driver, |d| d.is_closed());
                e.set_error(&arg);
                e.op = if op == wire::FIRST {
                    wire::FIRST
                } else if closed {
                    wire::FAILED
                } else {
                    wire::ERROR
                };
                self.broadcast(e);
                return;
            }
            RESTORED => {
                let mut r = Wire::new(wire::RDONE);
                r.id = arg.unchecked_ref::<Info>().id().as_f64().unwrap_or(-1.0);
                self.broadcast(r);
                if let Some(t) = self.tab.upgrade() {
                    if let Ok(t) = t.try_borrow() {
                        t.listeners.emit("restored", &[arg]);
                    }
                }
                return;
            }
            _ => {}
        }
        e.op = op;
        self.broadcast(e);
    }

    /// "Here I lead": my id, the connection's state and the restored requests still pending
    /// (a tab told "stored" with another id knows that request completed).
    pub fn announce(&self) {
        let mut m = Wire::new(wire::LEADER);
        m.tab = self.my_id.clone();
        with(&self.driver, |d| {
            m.ids = d.restored.iter().map(|(id, _)| id.0 as f64).collect();
            m.connected = d.core.is_connected() && !d.is_closed();
        });
        m.sp = self.session_present;
        self.broadcast(m);
    }

    /// A message for the leader (`hello`, `req`), from any tab.
    pub fn on_wire(&mut self, msg: &Wire) {
        if self.leaving {
            return;
        }
        let tab = msg.tab.clone();
        match msg.k {
            wire::HELLO => {
                self.watch(&tab);
                if !self.heard.contains(&tab) {
                    self.heard.push(tab.clone());
                }
                let mut missing = Vec::new();
                for (f, q) in msg.filters.iter().zip(&msg.qoss) {
                    let q = qos_of(*q);
                    self.hold(&tab, f, q);
                    if !self.subs.iter().any(|s| s.filter == *f) {
                        // The session's subscription, or (never completed) subscribe it again.
                        let granted = with(&self.driver, |d| {
                            d.core
                                .subscriptions()
                                .iter()
                                .find(|(g, _)| g.as_str() == f)
                                .map(|(_, g)| *g as u8)
                        });
                        if granted.is_none() {
                            missing.push((f.clone(), q));
                        }
                        self.subs.push(Sub { filter: f.clone(), qos: q, granted });
                    }
                }
                if !missing.is_empty() {
                    with(&self.driver, |d| {
                        let pairs: Vec<(&str, QoS)> = missing.iter().map(|(f, q)| (f.as_str(), *q)).collect();
                        if let Ok(id) = d.core.subscribe(now(), &pairs) {
                            let filters = missing.iter().map(|(f, _)| f.clone()).collect();
                            d.track_subscribe(id, filters, noop(), noop());
                        }
                    });
                }
                self.announce();
                self.heard_from(&tab);
            }
            wire::REQ => {
                let n = msg.n;
                // The tab waits for nothing below `id`: the origins below it can go.
                if msg.id > 0.0 {
                    self.forget(&tab, msg.id, None);
                }
                match msg.op {
                    wire::PUB => self.publish(tab, n, msg),
                    wire::SUB => self.subscribe(tab, n, msg),
                    wire::UNSUB => self.unsubscribe(tab, n, msg),
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// Waits for tab `id`'s lock: granted once that tab is gone.
    fn watch(&mut self, id: &str) {
        if id == self.my_id || id.is_empty() || self.watched.iter().any(|t| t == id) {
            return;
        }
        self.watched.push(id.to_owned());
        let Some(locks) = Scope::get().locks() else { return };
        let w = self.me.clone();
        let gone = id.to_owned();
        lock(&locks, &super::tab_lock_name(&self.lock_prefix, id), false, false, None, move |granted| {
            if granted.is_some() {
                act(&w, |h| h.tab_gone(&gone));
            }
        });
    }

    /// Tab `id` closed, reloaded or crashed: its filters go, and those no tab holds any more
    /// are unsubscribed.
    fn tab_gone(&mut self, id: &str) {
        self.watched.retain(|t| t != id);
        self.heard_from(id);
        let filters: Vec<String> =
            self.holders.iter().filter(|(t, _, _)| t == id).map(|(_, f, _)| f.clone()).collect();
        self.holders.retain(|(t, _, _)| t != id);
        if !self.leaving {
            self.forget(id, -1.0, None);
        }
        let orphans = self.orphans(&filters);
        if !orphans.is_empty() && !self.leaving {
            with(&self.driver, |d| {
                if let Ok(id) = d.core.unsubscribe(now(), &orphans) {
                    d.track_unsubscribe(id, noop(), noop());
                }
            });
        }
    }

    /// Lists the session's live tabs (their locks): the origins of the others go (see
    /// [`origin`]). After a failover, then waits for each live tab's `hello` (or its end) before
    /// dropping the filters no tab holds.
    pub fn collect_orphans(&self, failover: bool) {
        let Some(locks) = Scope::get().locks() else { return };
        let (w, prefix, me) = (self.me.clone(), self.lock_prefix.clone(), self.my_id.clone());
        held_locks(&locks, move |names| {
            let live: Vec<String> =
                names.iter().filter_map(|n| n.strip_prefix(prefix.as_str())).map(str::to_owned).collect();
            act(&w, |h| {
                h.forget("", 0.0, Some(&live));
                if failover {
                    let awaiting = live.into_iter().filter(|t| !h.heard.contains(t) && *t != me).collect();
                    h.awaiting = Some(awaiting);
                    h.heard_from("");
                }
            });
        });
    }

    /// Deletes the origins `origin::stale` picks, with the next store write.
    fn forget(&self, tab: &str, low: f64, live: Option<&[String]>) {
        with(&self.driver, |d| {
            let keys = origin::stale(&d.side, tab, low, live);
            if !keys.is_empty() {
                for k in keys {
                    d.side_op(k, None);
                }
                d.schedule_flush();
            }
        });
    }

    /// Tab `id` said `hello` or is gone: once no live tab is awaited, unsubscribe the orphans.
    fn heard_from(&mut self, id: &str) {
        let Some(awaiting) = self.awaiting.as_mut() else { return };
        awaiting.retain(|t| t != id);
        if !awaiting.is_empty() || self.leaving {
            return;
        }
        self.awaiting = None;
        let unheld: Vec<String> = self
            .subs
            .iter()
            .filter(|s| !self.holders.iter().any(|(_, f, _)| *f == s.filter))
            .map(|s| s.filter.clone())
            .collect();
        let orphans = self.orphans(&unheld);
        if !orphans.is_empty() {
            with(&self.driver, |d| {
                if let Ok(id) = d.core.unsubscribe(now(), &orphans) {
                    d.track_unsubscribe(id, noop(), noop());
                }
            });
        }
    }

    /// Of `filters`, those no tab holds any more (forgotten here; to unsubscribe).
    fn orphans(&mut self, filters: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for f in filters {
            if !self.holders.iter().any(|(_, g, _)| g == f) && !out.contains(f) {
                out.push(f.clone());
            }
        }
        self.subs.retain(|s| !out.contains(&s.filter));
        out
    }

    pub fn hold(&mut self, tab: &str, filter: &str, qos: QoS) {
        match self.holders.iter_mut().find(|(t, f, _)| t == tab && f == filter) {
            Some(h) => h.2 = qos,
            None => self.holders.push((tab.to_owned(), filter.to_owned(), qos)),
        }
    }

    /// Answers request `n` of `tab`: `stored` (with the session's request id), `done` (with
    /// the granted QoS of a subscribe) or `failed` (with the error).
    fn ack(&self, tab: &str, n: f64, op: u8, id: f64, err: &JsValue) {
        let mut a = ack_of(tab, n, op, id);
        if op == wire::FAILED {
            a.set_error(err);
        }
        self.broadcast(a);
    }

    /// `done` of a subscribe: `[{ topic, qos }]` for `filters`, as the broker granted them (128:
    /// refused or unknown).
    fn ack_granted(&self, tab: &str, n: f64, filters: &[String]) {
        let mut a = ack_of(tab, n, wire::DONE, -1.0);
        a.granted = true;
        a.qoss = filters
            .iter()
            .map(|f| self.subs.iter().find(|s| s.filter == *f).and_then(|s| s.granted).unwrap_or(0x80))
            .collect();
        a.filters = filters.to_vec();
        self.broadcast(a);
    }

    /// `done` / `failed` answers as JS functions for the driver's promise slots.
    fn answers(&self, tab: &str, n: f64, id: f64) -> (Function, Function) {
        (self.answer(tab, n, wire::DONE, id), self.answer(tab, n, wire::FAILED, id))
    }

    /// The `op` answer (`stored`, `done`, `failed` with the error it is called with) as a JS
    /// function: one closure type for the three.
    fn answer(&self, tab: &str, n: f64, op: u8, id: f64) -> Function {
        let (w, t) = (self.me.clone(), tab.to_owned());
        function(move |e| {
            // Closing on leaving: the request is in the session, the next leader completes it.
            act(&w, |h| {
                if op != wire::FAILED || !h.leaving {
                    h.ack(&t, n, op, id, &e)
                }
            });
            JsValue::UNDEFINED
        })
    }

    fn publish(&mut self, tab: String, n: f64, msg: &Wire) {
        // A resend of a publish the session holds (an earlier leader stored it, and went before
        // the tab read its answer): not published again (see `origin`). A tab resends only to a
        // new leader, so the request is a restored one, still pending or completed.
        let known = with(&self.driver, |d| {
            let id = RequestId(origin::find(&d.side, &tab, n)?);
            let pending = d.restored.iter().any(|(r, _)| *r == id);
            Some((id.0 as f64, if pending { wire::STORED } else { wire::DONE }))
        });
        if let Some((id, op)) = known {
            self.ack(&tab, n, op, id, &JsValue::UNDEFINED);
            return;
        }
        // The calling tab checked the topic; a message from a tab that did not is refused here.
        let m = Message::try_new(ByteStr::from(msg.topic.clone()), msg.payload.clone(), qos_of(msg.qos));
        let r = match m {
            Ok(m) => with(&self.driver, |d| {
                let r = d.core.publish(now(), m.retain(msg.retain));
                // Its origin, in the transaction that stores the message.
                if let (Ok(id), 1..) = (&r, msg.qos) {
                    d.side_op(origin::key(&tab, n), Some(id.0.to_be_bytes().to_vec()));
                }
                Some(r)
            }),
            Err(e) => Some(Err(e)),
        };
        match r {
            Some(Ok(id)) => {
                let id = id.0 as f64;
                let (done, failed) = self.answers(&tab, n, id);
                // In IndexedDB (or sent, QoS 0): a later leader completes it, never a resend.
                let stored = self.answer(&tab, n, wire::STORED, id);
                with(&self.driver, |d| d.track_publish(crate::proto::RequestId(id as u64), done, failed));
                // After the driver's pump (scheduled first), whose store write holds the message:
                // "stored" once that write committed, not once every later write did too.
                let driver = self.driver.clone();
                later(move || {
                    with(&driver, |d| d.when_written(stored));
                    flush();
                });
            }
            Some(Err(e)) => self.ack(&tab, n, wire::FAILED, -1.0, &user_error(&e)),
            None => {}
        }
    }

    fn subscribe(&mut self, tab: String, n: f64, msg: &Wire) {
        let filters = msg.filters.clone();
        let qos = qos_of(msg.qos);
        // What the broker must be asked: filters not subscribed yet, or at a lower QoS.
        let need: Vec<String> = filters
            .iter()
            .filter(|f| !self.subs.iter().any(|s| s.filter == **f && s.qos >= qos && s.granted.is_some()))
            .cloned()
            .collect();
        for f in &filters {
            self.hold(&tab, f, qos);
        }
        if need.is_empty() {
            self.ack_granted(&tab, n, &filters);
            return;
        }
        for f in &need {
            match self.subs.iter_mut().find(|s| s.filter == *f) {
                Some(s) => s.qos = s.qos.max(qos),
                None => self.subs.push(Sub { filter: f.clone(), qos, granted: None }),
            }
        }
        // `(&str, QoS)`, as the other callers: one instantiation of `Client::subscribe`.
        let pairs: Vec<(&str, QoS)> = need
            .iter()
            .map(|f| (f.as_str(), self.subs.iter().find(|s| s.filter == *f).map_or(qos, |s| s.qos)))
            .collect();
        let r = with(&self.driver, |d| Some(d.core.subscribe(now(), &pairs)));
        match r {
            Some(Ok(id)) => {
                let (w, t) = (self.me.clone(), tab.clone());
                let done = function(move |granted| {
                    act(&w, |h| {
                        if let Some(a) = granted.dyn_ref::<Array>() {
                            for g in a.iter() {
                                let g: &Info = g.unchecked_ref();
                                let f = g.topic().as_string().unwrap_or_default();
                                if let Some(s) = h.subs.iter_mut().find(|s| s.filter == f) {
                                    s.granted = g.qos().as_f64().map(|q| q as u8);
                                }
                            }
                        }
                        h.ack_granted(&t, n, &filters);
                    });
                    JsValue::UNDEFINED
                });
                let (_, failed) = self.answers(&tab, n, -1.0);
                with(&self.driver, |d| d.track_subscribe(id, need, done, failed));
            }
            Some(Err(e)) => self.ack(&tab, n, wire::FAILED, -1.0, &user_error(&e)),
            None => {}
        }
    }

    fn unsubscribe(&mut self, tab: String, n: f64, msg: &Wire) {
        let filters = &msg.filters;
        self.holders.retain(|(t, f, _)| !(*t == tab && filters.contains(f)));
        let orphans = self.orphans(filters);
        if orphans.is_empty() {
            self.ack(&tab, n, wire::DONE, -1.0, &JsValue::UNDEFINED);
            return;
        }
        let r = with(&self.driver, |d| Some(d.core.unsubscribe(now(), &orphans)));
        match r {
            Some(Ok(id)) => {
                let (done, failed) = self.answers(&tab, n, -1.0);
                with(&self.driver, |d| d.track_unsubscribe(id, done, failed));
            }
            Some(Err(e)) => self.ack(&tab, n, wire::FAILED, -1.0, &user_error(&e)),
            None => {}
        }
    }
}

/// An `ack` to request `n` of `tab`.
#[inline(never)]
fn ack_of(tab: &str, n: f64, op: u8, id: f64) -> Wire {
    let mut a = Wire::new(wire::ACK);
    a.tab = tab.to_owned();
    a.n = n;
    a.op = op;
    a.id = id;
    a
}

fn w_of(w: &Weak<RefCell<Hub>>) -> Weak<RefCell<Hub>> {
    w.clone()
}
