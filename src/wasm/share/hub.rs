//! The leader's side: the tab that holds the session's Web Lock owns the one [`Driver`] (its
//! WebSocket and IndexedDB session) and serves every tab's requests, its own included, through
//! the driver's ordinary commands and listeners. It posts each incoming message once on the
//! channel, keeps which tab holds which filter (the broker sees the union; UNSUBSCRIBE goes out
//! when no tab holds a filter any more), and learns that a tab is gone when that tab's Web Lock
//! (`mq-tab\n<url>\n<client id>\n<id>`) is granted to it.

use super::super::driver::{now, with, Shared};
use super::super::error::user_error;
use super::super::events::flush;
use super::super::session::Granted;
use super::super::web::{later, Scope};
use super::wire::{function, held_locks, lock, noop, read_numbers, read_strings, Info, Wire};
use super::{local, TabRef};
use crate::codec::{ByteStr, QoS};
use crate::proto::Message;
use js_sys::{Array, Function, Uint8Array};
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::BroadcastChannel;

pub(crate) type HubRef = Rc<RefCell<Hub>>;

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

fn qos_of(v: JsValue) -> QoS {
    match v.as_f64() {
        Some(2.0) => QoS::ExactlyOnce,
        Some(1.0) => QoS::AtLeastOnce,
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
            h.listen();
        }
        hub
    }

    /// Posts `msg` to the other tabs, and hands it to this tab after this task's code.
    pub fn broadcast(&self, msg: Wire) {
        let _ = self.channel.post_message(&msg);
        local(&self.tab, msg);
    }

    /// The driver's events, as the tabs see them.
    fn listen(&mut self) {
        let w = self.me.clone();
        let on_message =
            Closure::<dyn FnMut(JsValue, JsValue, JsValue)>::new(move |topic, payload, info: JsValue| {
                act(&w, |h| {
                    let info: &Wire = info.unchecked_ref();
                    let m = Wire::new("msg");
                    m.set_topic(&topic);
                    m.set_payload(&payload);
                    m.set_qos(Wire::number(info.qos()));
                    m.set_retain(Wire::flag(info.retain()));
                    m.set_dup(Wire::flag(info.dup()));
                    h.broadcast(m);
                })
            });
        let on_message: Function = on_message.into_js_value().unchecked_into();
        let ev = |w: Weak<RefCell<Hub>>, name: &'static str| {
            function(move |arg| {
                act(&w, |h| h.driver_event(name, arg));
                JsValue::UNDEFINED
            })
        };
        let listeners = [
            ("connect", ev(w_of(&self.me), "connect")),
            ("close", ev(w_of(&self.me), "close")),
            ("offline", ev(w_of(&self.me), "offline")),
            ("reconnect", ev(w_of(&self.me), "reconnect")),
            ("error", ev(w_of(&self.me), "error")),
            ("restored", ev(w_of(&self.me), "restored")),
        ];
        with(&self.driver, |d| {
            d.listeners.on("message", &on_message);
            for (name, f) in &listeners {
                d.listeners.on(name, f);
            }
        });
    }

    /// A driver event: to every tab (`restored`: the request's id, and the event to this tab).
    pub fn driver_event(&mut self, name: &'static str, arg: JsValue) {
        if self.leaving {
            return;
        }
        let e = Wire::new("ev");
        match name {
            "connect" => {
                let sp = Wire::flag(arg.unchecked_ref::<Info>().session_present());
                self.session_present = sp;
                e.set_sp(sp);
            }
            "error" | "first" => {
                // An error after which the driver is closed ends every tab ("failed"); the
                // first connection of a leader failing ("first") ends the tabs still connecting.
                let closed = with(&self.driver, |d| d.is_closed());
                e.set_error(&arg);
                e.set_op(if name == "first" {
                    "first"
                } else if closed {
                    "failed"
                } else {
                    "error"
                });
                self.broadcast(e);
                return;
            }
            "restored" => {
                let r = Wire::new("rdone");
                r.set_id(Wire::number(arg.unchecked_ref::<Wire>().id()));
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
        e.set_op(name);
        self.broadcast(e);
    }

    /// "Here I lead": my id, the connection's state and the restored requests still pending
    /// (a tab told "stored" with another id knows that request completed).
    pub fn announce(&self) {
        let m = Wire::new("leader");
        m.set_tab(&self.my_id);
        let (connected, ids) = with(&self.driver, |d| {
            let ids: Array = d.restored.iter().map(|(id, _)| JsValue::from_f64(id.0 as f64)).collect();
            (d.core.is_connected() && !d.is_closed(), ids)
        });
        m.set_connected(connected);
        m.set_sp(self.session_present);
        m.set_ids(&ids);
        self.broadcast(m);
    }

    /// A message for the leader (`hello`, `req`), from any tab.
    pub fn on_wire(&mut self, msg: &Wire) {
        if self.leaving {
            return;
        }
        let tab = msg.tab_id();
        match msg.kind().as_str() {
            "hello" => {
                self.watch(&tab);
                if !self.heard.contains(&tab) {
                    self.heard.push(tab.clone());
                }
                let filters = read_strings(&msg.filters());
                let qoss = read_numbers(&msg.qoss());
                let mut missing = Vec::new();
                for (f, q) in filters.iter().zip(qoss) {
                    let q = qos_of(JsValue::from_f64(q));
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
            "req" => {
                let n = Wire::number(msg.n());
                match msg.op_name().as_str() {
                    "pub" => self.publish(tab, n, msg),
                    "sub" => self.subscribe(tab, n, msg),
                    "unsub" => self.unsubscribe(tab, n, msg),
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
        let orphans = self.orphans(&filters);
        if !orphans.is_empty() && !self.leaving {
            with(&self.driver, |d| {
                if let Ok(id) = d.core.unsubscribe(now(), &orphans) {
                    d.track_unsubscribe(id, noop(), noop());
                }
            });
        }
    }

    /// After a failover: lists the session's live tabs (their locks), then waits for each one's
    /// `hello` (or its end) before dropping the filters no tab holds.
    pub fn collect_orphans(&self) {
        let Some(locks) = Scope::get().locks() else { return };
        let (w, prefix, me) = (self.me.clone(), self.lock_prefix.clone(), self.my_id.clone());
        wasm_bindgen_futures::spawn_local(async move {
            let Ok(names) = held_locks(&locks).await else { return };
            let live: Vec<String> = names
                .iter()
                .filter_map(|n| n.strip_prefix(prefix.as_str()))
                .filter(|id| *id != me)
                .map(str::to_owned)
                .collect();
            act(&w, |h| {
                let awaiting = live.into_iter().filter(|t| !h.heard.contains(t)).collect();
                h.awaiting = Some(awaiting);
                h.heard_from("");
            });
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
    fn ack(&self, tab: &str, n: f64, op: &str, id: f64, arg: &JsValue) {
        let a = Wire::new("ack");
        a.set_tab(tab);
        a.set_n(n);
        a.set_op(op);
        a.set_id(id);
        match op {
            "failed" => a.set_error(arg),
            _ => a.set_granted(arg),
        }
        self.broadcast(a);
    }

    /// `done` / `failed` answers as JS functions for the driver's promise slots.
    fn answers(&self, tab: &str, n: f64, id: f64) -> (Function, Function) {
        let (w, t) = (self.me.clone(), tab.to_owned());
        let done = function(move |_| {
            act(&w, |h| h.ack(&t, n, "done", id, &JsValue::UNDEFINED));
            JsValue::UNDEFINED
        });
        let (w, t) = (self.me.clone(), tab.to_owned());
        let failed = function(move |e| {
            // Closing on leaving: the request is in the session, the next leader completes it.
            act(&w, |h| {
                if !h.leaving {
                    h.ack(&t, n, "failed", id, &e)
                }
            });
            JsValue::UNDEFINED
        });
        (done, failed)
    }

    fn publish(&mut self, tab: String, n: f64, msg: &Wire) {
        let topic = msg.topic().as_string().unwrap_or_default();
        let payload = msg.payload().dyn_into::<Uint8Array>().map(|a| a.to_vec()).unwrap_or_default();
        // The calling tab checked the topic; a message from a tab that did not is refused here.
        let m = Message::try_new(ByteStr::from(topic), payload, qos_of(msg.qos()));
        let r = match m {
            Ok(m) => with(&self.driver, |d| Some(d.core.publish(now(), m.retain(Wire::flag(msg.retain()))))),
            Err(e) => Some(Err(e)),
        };
        match r {
            Some(Ok(id)) => {
                let id = id.0 as f64;
                let (done, failed) = self.answers(&tab, n, id);
                let (w, t) = (self.me.clone(), tab);
                // In IndexedDB (or sent, QoS 0): a later leader completes it, never a resend.
                let stored = function(move |_| {
                    act(&w, |h| h.ack(&t, n, "stored", id, &JsValue::UNDEFINED));
                    JsValue::UNDEFINED
                });
                with(&self.driver, |d| d.track_publish(crate::proto::RequestId(id as u64), done, failed));
                // After the driver's pump (scheduled first), whose store write holds the message:
                // "stored" once that write committed, not once every later write did too.
                let driver = self.driver.clone();
                later(move || {
                    with(&driver, |d| d.when_written(stored));
                    flush();
                });
            }
            Some(Err(e)) => self.ack(&tab, n, "failed", -1.0, &user_error(&e)),
            None => {}
        }
    }

    fn subscribe(&mut self, tab: String, n: f64, msg: &Wire) {
        let filters = read_strings(&msg.filters());
        let qos = qos_of(msg.qos());
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
            let granted = self.granted(&filters);
            self.ack(&tab, n, "done", -1.0, &granted);
            return;
        }
        for f in &need {
            match self.subs.iter_mut().find(|s| s.filter == *f) {
                Some(s) => s.qos = s.qos.max(qos),
                None => self.subs.push(Sub { filter: f.clone(), qos, granted: None }),
            }
        }
        let pairs: Vec<(String, QoS)> = need
            .iter()
            .map(|f| (f.clone(), self.subs.iter().find(|s| s.filter == *f).map_or(qos, |s| s.qos)))
            .collect();
        let r = with(&self.driver, |d| Some(d.core.subscribe(now(), &pairs)));
        match r {
            Some(Ok(id)) => {
                let (w, t) = (self.me.clone(), tab.clone());
                let done = function(move |granted| {
                    act(&w, |h| {
                        if let Some(a) = granted.dyn_ref::<Array>() {
                            for g in a.iter() {
                                let g: &Wire = g.unchecked_ref();
                                let f = g.topic().as_string().unwrap_or_default();
                                if let Some(s) = h.subs.iter_mut().find(|s| s.filter == f) {
                                    s.granted = g.qos().as_f64().map(|q| q as u8);
                                }
                            }
                        }
                        let all = h.granted(&filters);
                        h.ack(&t, n, "done", -1.0, &all);
                    });
                    JsValue::UNDEFINED
                });
                let (_, failed) = self.answers(&tab, n, -1.0);
                with(&self.driver, |d| d.track_subscribe(id, need, done, failed));
            }
            Some(Err(e)) => self.ack(&tab, n, "failed", -1.0, &user_error(&e)),
            None => {}
        }
    }

    /// `[{ topic, qos }]` for `filters`, as the broker granted them (128: refused or unknown).
    fn granted(&self, filters: &[String]) -> JsValue {
        let g: Vec<Granted> = filters
            .iter()
            .map(|f| Granted {
                topic: f,
                qos: self.subs.iter().find(|s| s.filter == *f).and_then(|s| s.granted).unwrap_or(0x80),
            })
            .collect();
        super::super::events::to_js(&g)
    }

    fn unsubscribe(&mut self, tab: String, n: f64, msg: &Wire) {
        let filters = read_strings(&msg.filters());
        self.holders.retain(|(t, f, _)| !(*t == tab && filters.contains(f)));
        let orphans = self.orphans(&filters);
        if orphans.is_empty() {
            self.ack(&tab, n, "done", -1.0, &JsValue::UNDEFINED);
            return;
        }
        let r = with(&self.driver, |d| Some(d.core.unsubscribe(now(), &orphans)));
        match r {
            Some(Ok(id)) => {
                let (done, failed) = self.answers(&tab, n, -1.0);
                with(&self.driver, |d| d.track_unsubscribe(id, done, failed));
            }
            Some(Err(e)) => self.ack(&tab, n, "failed", -1.0, &user_error(&e)),
            None => {}
        }
    }
}

fn w_of(w: &Weak<RefCell<Hub>>) -> Weak<RefCell<Hub>> {
    w.clone()
}
