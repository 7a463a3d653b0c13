//! Randomized model test of the session: random commands, random connection cuts, reconnects
//! with and without a kept session, restores from the stored records at random points, random
//! chunking of the bytes on the wire. A small but complete MQTT 3.1.1 broker (one client, built
//! from our codec) sits on the other end. Checked on every run:
//! - no QoS 1 message lost, no QoS 2 message lost or delivered twice, in both directions;
//! - every accepted publish completes exactly once, with its own request id, and no two pending
//!   requests share an id;
//! - packet ids unique among the client's flows in use;
//! - Mosquitto's quota kept: no QoS 1/2 PUBLISH reaches the broker while `max_inflight_qos2`
//!   QoS 2 messages from the client await PUBREL there (Mosquitto drops such a PUBLISH);
//! - memory bounded: in flight <= max_inflight, queued <= max_queued;
//! - the store, rebuilt from the ops alone, always equals the client's own session.

mod common;

// Users run `wasm-pack test --headless --chrome`: without this the runner treats the file as
// Node-only and skips it in the browser.
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use common::{payload, start, MemStore};
use mq::codec::{ConnAck, ConnectReturnCode, Decoder, Packet, Publish, QoS, SubAck, SubAckCode, Topic};
use mq::proto::{Client, Config, Event, Instant, Message, RequestId, StoreRecord, UserError};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// xorshift64*: deterministic, no dependencies, the same on every target.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn qos(&mut self) -> QoS {
        QoS::from_u8(self.below(3) as u8).unwrap()
    }
}

/// The broker's session for our one client.
#[derive(Default)]
struct BrokerSession {
    /// QoS 2 ids received from the client, PUBREL not yet seen (method B).
    incoming_qos2: HashSet<u16>,
    /// Messages to the client in flight: pkid -> (message id, QoS, released).
    outgoing: BTreeMap<u16, (u64, QoS, bool)>,
    next_pkid: u16,
    /// Messages for the client not yet sent (broker-side queue).
    pending: Vec<(u64, QoS)>,
}

struct Broker {
    /// Mosquitto's receive quota for QoS 2 messages awaiting PUBREL (its
    /// `max_inflight_messages`): one more than the client's `max_inflight_qos2`, as with the
    /// defaults (20 and 19).
    qos2_quota: usize,
    session: Option<BrokerSession>,
    connected: bool,
    /// The current connection asked for a clean session.
    clean: bool,
    rx: Decoder,
    /// Bytes for the client not yet delivered.
    to_client: Vec<u8>,
    /// Application messages the broker accepted from the client: message id -> times.
    received: HashMap<u64, u32>,
    /// Messages for the client dropped with a session discarded by a clean CONNECT.
    forgotten: HashSet<u64>,
}

impl Broker {
    /// The network connection ended. A clean session lasts only as long as its connection
    /// [MQTT-3.1.2-6]; what it held for the client is gone.
    fn close(&mut self) {
        self.connected = false;
        self.rx.reset();
        self.to_client.clear();
        if self.clean {
            self.forget_session();
        }
    }

    fn forget_session(&mut self) {
        if let Some(s) = self.session.take() {
            self.forgotten.extend(s.outgoing.values().map(|(mid, _, _)| *mid));
            self.forgotten.extend(s.pending.iter().map(|(mid, _)| *mid));
        }
    }

    fn session(&mut self) -> &mut BrokerSession {
        self.session.get_or_insert_with(|| BrokerSession { next_pkid: 1, ..Default::default() })
    }

    fn send(&mut self, p: Packet) {
        p.encode(&mut self.to_client).unwrap();
    }

    fn handle(&mut self, p: Packet) {
        match p {
            Packet::Connect(c) => {
                // [MQTT-3.1.2-6]: a clean CONNECT discards the session, and with it the messages
                // for the client it held: lost by the standard's rules, not by the client.
                self.clean = c.clean_session;
                if c.clean_session {
                    self.forget_session();
                }
                let present = self.session.is_some() && !c.clean_session;
                self.session();
                self.connected = true;
                self.send(Packet::ConnAck(ConnAck {
                    session_present: present,
                    code: ConnectReturnCode::Accepted,
                }));
                // [MQTT-4.4.0-1] on the broker's side too.
                let resend: Vec<(u16, (u64, QoS, bool))> =
                    self.session().outgoing.iter().map(|(k, v)| (*k, *v)).collect();
                for (pkid, (mid, qos, released)) in resend {
                    if released {
                        self.send(Packet::PubRel(pkid));
                    } else {
                        self.send(Packet::Publish(to_client(mid, qos, pkid, true)));
                    }
                }
                self.flush_pending();
            }
            Packet::Publish(p) => {
                let mid = message_id(&p);
                let quota = self.qos2_quota;
                let held = &self.session().incoming_qos2;
                if p.qos != QoS::AtMostOnce && !(p.qos == QoS::ExactlyOnce && held.contains(&p.pkid)) {
                    assert!(
                        held.len() < quota,
                        "PUBLISH {} arrived while {} QoS 2 messages awaited PUBREL: Mosquitto drops it",
                        p.pkid,
                        held.len()
                    );
                }
                match p.qos {
                    QoS::AtMostOnce => *self.received.entry(mid).or_default() += 1,
                    QoS::AtLeastOnce => {
                        *self.received.entry(mid).or_default() += 1;
                        self.send(Packet::PubAck(p.pkid));
                    }
                    QoS::ExactlyOnce => {
                        if self.session().incoming_qos2.insert(p.pkid) {
                            *self.received.entry(mid).or_default() += 1;
                        } else {
                            assert!(p.dup, "a new QoS 2 PUBLISH reused id {} still in use", p.pkid);
                        }
                        self.send(Packet::PubRec(p.pkid));
                    }
                }
            }
            Packet::PubRel(id) => {
                self.session().incoming_qos2.remove(&id);
                self.send(Packet::PubComp(id));
            }
            Packet::PubAck(id) => {
                let o = self.session().outgoing.remove(&id);
                assert!(matches!(o, Some((_, QoS::AtLeastOnce, false))), "client PUBACK for {id}: {o:?}");
                self.flush_pending();
            }
            Packet::PubRec(id) => {
                let o = self.session().outgoing.get_mut(&id).expect("PUBREC for a message in flight");
                assert_eq!(o.1, QoS::ExactlyOnce);
                o.2 = true;
                self.send(Packet::PubRel(id));
            }
            Packet::PubComp(id) => {
                let o = self.session().outgoing.remove(&id);
                assert!(matches!(o, Some((_, QoS::ExactlyOnce, true))), "client PUBCOMP for {id}: {o:?}");
                self.flush_pending();
            }
            Packet::Subscribe(s) => {
                let codes = s.filters.iter().map(|(_, q)| SubAckCode::Granted(*q)).collect();
                self.send(Packet::SubAck(SubAck { pkid: s.pkid, codes }));
            }
            Packet::Unsubscribe(u) => self.send(Packet::UnsubAck(u.pkid)),
            Packet::PingReq => self.send(Packet::PingResp),
            Packet::Disconnect => self.close(),
            other => panic!("client sent {other:?}"),
        }
    }

    /// Sends queued messages to the client, at most 5 in flight.
    fn flush_pending(&mut self) {
        if !self.connected {
            return;
        }
        loop {
            let s = self.session();
            if s.pending.is_empty() || s.outgoing.len() >= 5 {
                return;
            }
            let (mid, qos) = s.pending.remove(0);
            if qos == QoS::AtMostOnce {
                self.send(Packet::Publish(to_client(mid, qos, 0, false)));
                continue;
            }
            let s = self.session();
            let pkid = s.next_pkid;
            s.next_pkid = if pkid == u16::MAX { 1 } else { pkid + 1 };
            s.outgoing.insert(pkid, (mid, qos, false));
            self.send(Packet::Publish(to_client(mid, qos, pkid, false)));
        }
    }
}

fn to_client(mid: u64, qos: QoS, pkid: u16, dup: bool) -> Publish {
    Publish {
        dup,
        qos,
        retain: false,
        topic: Topic::from_static("down"),
        pkid,
        payload: payload(&mid.to_string()),
    }
}

fn message_id(p: &Publish) -> u64 {
    std::str::from_utf8(&p.payload).unwrap().parse().unwrap()
}

struct World {
    rng: Rng,
    config: Config,
    client: Client,
    store: MemStore,
    broker: Broker,
    now: Instant,
    /// Bytes from the client not yet delivered to the broker.
    to_broker: Vec<u8>,
    transport_open: bool,
    /// Client -> broker: every message accepted by `publish` (message id -> QoS), and the
    /// requests not yet completed (request -> message id).
    accepted: HashMap<u64, QoS>,
    pending: HashMap<RequestId, u64>,
    /// Broker -> client: message id -> QoS, and deliveries to the application.
    sent_down: HashMap<u64, QoS>,
    delivered: HashMap<u64, u32>,
    /// QoS 2 messages that may legitimately reach the broker twice (see `mark_may_repeat`).
    may_repeat: HashSet<u64>,
    next_mid: u64,
}

impl World {
    fn new(seed: u64) -> World {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut config = Config::new(format!("model-{seed}"));
        config.clean_session = false;
        config.max_inflight = 1 + rng.below(6) as usize;
        config.max_queued = 5 + rng.below(40) as usize;
        config.max_inflight_qos2 = 1 + rng.below(6) as usize;
        config.keep_alive = Duration::from_secs(10);
        let qos2_quota = config.max_inflight_qos2 + 1;
        World {
            client: Client::new(config.clone()).unwrap(),
            config,
            rng,
            store: MemStore::default(),
            broker: Broker {
                qos2_quota,
                session: None,
                connected: false,
                clean: false,
                rx: Decoder::new(usize::MAX),
                to_client: Vec::new(),
                received: HashMap::new(),
                forgotten: HashSet::new(),
            },
            now: start(),
            to_broker: Vec::new(),
            transport_open: false,
            accepted: HashMap::new(),
            pending: HashMap::new(),
            sent_down: HashMap::new(),
            delivered: HashMap::new(),
            may_repeat: HashSet::new(),
            next_mid: 1,
        }
    }

    /// Drains the client's outputs, in the driver's order.
    fn pump(&mut self) {
        while let Some(op) = self.client.poll_store() {
            self.store.apply(op);
        }
        let mut out = Vec::new();
        self.client.poll_transmit(&mut out);
        if self.transport_open {
            self.to_broker.extend_from_slice(&out);
        }
        while let Some(e) = self.client.poll_event() {
            match e {
                Event::Published { id } => {
                    assert!(self.pending.remove(&id).is_some(), "completion of {id:?}, which is not pending");
                }
                Event::Message(p) => {
                    let mid = message_id(&p);
                    assert_eq!(self.sent_down.get(&mid), Some(&p.qos));
                    *self.delivered.entry(mid).or_default() += 1;
                    // The application has it; what the client records about that is written now.
                    if p.qos == QoS::ExactlyOnce && self.client.handle_delivered(p.pkid, self.transport_open)
                    {
                        while let Some(op) = self.client.poll_store() {
                            self.store.apply(op);
                        }
                    }
                }
                Event::Disconnected { .. } => {
                    // The driver closes the transport: what was on the wire is gone.
                    self.end_connection();
                    self.transport_open = false;
                    self.to_broker.clear();
                }
                _ => {}
            }
        }
        self.check_invariants();
    }

    /// The process stops right after a store write, before the bytes and events it protected
    /// went anywhere (a page unloaded between an IndexedDB commit and its completion event).
    fn torn_reload(&mut self) {
        if self.transport_open && !self.broker.to_client.is_empty() {
            let m = 1 + self.rng.below(self.broker.to_client.len() as u64) as usize;
            let chunk: Vec<u8> = self.broker.to_client.drain(..m).collect();
            self.client.handle_bytes(self.now, &chunk);
            while let Some(op) = self.client.poll_store() {
                self.store.apply(op);
            }
        }
        self.reload();
        // A request completed in the lost turn is neither pending after the restore nor reported
        // (the page that awaited it is gone); `check_delivery` still checks its message arrived.
        let left = self.client.pending_requests();
        self.pending.retain(|id, _| left.contains(id));
    }

    /// Page reload: the client is dropped without DISCONNECT and restored. The browser closes
    /// the socket after sending what was handed to it; the broker's replies are lost.
    fn reload(&mut self) {
        if self.transport_open {
            let bytes = std::mem::take(&mut self.to_broker);
            self.broker.rx.feed(&bytes);
            while let Some(p) = self.broker.rx.next_packet().expect("client sent a well-formed packet") {
                self.broker.handle(p);
            }
        }
        self.end_connection();
        self.to_broker.clear();
        self.transport_open = false;
        self.client = Client::restore(self.config.clone(), self.store.snapshot()).unwrap();
        self.pump();
    }

    fn check_invariants(&self) {
        // The client's own resubscription after a lost session may take one place more.
        assert!(self.client.inflight() <= self.config.max_inflight + 1, "in flight above the limit");
        // A clean reconnect moves flows in progress back to the queue: up to max_inflight more.
        let max = self.config.max_queued + self.config.max_inflight;
        assert!(self.client.queued() <= max, "queue above the limit");
        let mine: BTreeMap<_, _> = self.client.session_records().into_iter().map(|r| (r.key(), r)).collect();
        for (k, v) in &mine {
            assert_eq!(Some(v), self.store.records.get(k), "the store must mirror the session at {k:?}");
        }
        assert_eq!(mine, self.store.records, "the store must mirror the session exactly");
    }

    /// Moves up to `limit` bytes each way (a random cut point models chunking).
    fn network(&mut self, full: bool) {
        // A partial step stops after a few rounds with bytes still on the wire, so that a cut
        // can lose a packet in either direction.
        let rounds = if full { 50 } else { 1 + self.rng.below(3) };
        for _ in 0..rounds {
            if !self.transport_open || (self.to_broker.is_empty() && self.broker.to_client.is_empty()) {
                return;
            }
            let n = if full {
                self.to_broker.len()
            } else {
                self.rng.below(self.to_broker.len() as u64 + 1) as usize
            };
            let chunk: Vec<u8> = self.to_broker.drain(..n).collect();
            self.broker.rx.feed(&chunk);
            while let Some(p) = self.broker.rx.next_packet().expect("client sent a well-formed packet") {
                self.broker.handle(p);
            }
            let m = self.broker.to_client.len();
            let m = if full { m } else { self.rng.below(m as u64 + 1) as usize };
            let chunk: Vec<u8> = self.broker.to_client.drain(..m).collect();
            self.client.handle_bytes(self.now, &chunk);
            self.pump();
        }
    }

    /// The transport ends, seen from the broker's side.
    fn end_connection(&mut self) {
        if !self.transport_open {
            return;
        }
        if self.broker.clean {
            self.mark_may_repeat();
        }
        self.broker.close();
    }

    /// QoS 2 messages in flight across the end of a clean session: the broker forgets that it
    /// has them, so a second copy is the standard's outcome [MQTT-3.1.2-6], not the client's.
    fn mark_may_repeat(&mut self) {
        for r in self.store.snapshot() {
            if let StoreRecord::Outgoing { publish, .. } = r {
                if publish.qos == QoS::ExactlyOnce {
                    self.may_repeat.insert(message_id(&publish));
                }
            }
        }
    }

    fn cut(&mut self) {
        self.end_connection();
        self.client.handle_closed(self.now);
        self.transport_open = false;
        self.to_broker.clear();
        self.pump();
    }

    fn connect(&mut self, clean: bool) {
        if self.transport_open {
            self.cut();
        }
        self.config.clean_session = clean;
        if clean {
            self.mark_may_repeat();
        }
        self.client = Client::restore(self.config.clone(), self.store.snapshot()).unwrap();
        self.transport_open = true;
        self.client.handle_connected(self.now);
        self.pump();
    }

    fn step(&mut self) {
        match self.rng.below(100) {
            0..=29 => {
                let qos = self.rng.qos();
                let mid = self.next_mid;
                self.next_mid += 1;
                match self
                    .client
                    .publish(self.now, Message::new(Topic::from_static("up"), payload(&mid.to_string()), qos))
                {
                    Ok(id) => {
                        self.accepted.insert(mid, qos);
                        assert!(
                            self.pending.insert(id, mid).is_none(),
                            "{id:?} given to two pending requests"
                        );
                    }
                    Err(UserError::QueueFull { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
                self.pump();
            }
            30..=44 => {
                // A message for the client; a broker without a session for it has nowhere to
                // keep it (the client is not subscribed), so it is not routed.
                let qos = self.rng.qos();
                let mid = self.next_mid;
                self.next_mid += 1;
                if let Some(s) = &mut self.broker.session {
                    s.pending.push((mid, qos));
                    self.sent_down.insert(mid, qos);
                    self.broker.flush_pending();
                }
            }
            45..=49 => {
                let q = self.rng.qos();
                let _ = self.client.subscribe(self.now, &[("down/#", q)]);
                self.pump();
            }
            50..=74 => self.network(false),
            75..=79 => self.cut(),
            80..=86 => {
                if !self.transport_open {
                    // Always a kept session: what a clean one may lose or repeat is the
                    // standard's choice [MQTT-3.1.2-6], covered by the scripted tests instead.
                    self.connect(false);
                }
            }
            87..=89 => self.reload(),
            90..=91 => self.torn_reload(),
            _ => {
                self.now += Duration::from_secs(self.rng.below(15));
                self.client.handle_timeout(self.now);
                self.pump();
            }
        }
    }

    /// Reconnects with a kept session and lets everything settle.
    fn settle(&mut self) {
        for _ in 0..20 {
            if !self.transport_open {
                self.connect(false);
            }
            self.network(true);
            self.broker.flush_pending();
            self.network(true);
            if self.client.inflight() == 0
                && self.client.queued() == 0
                && self
                    .broker
                    .session
                    .as_ref()
                    .map_or(true, |s| s.outgoing.is_empty() && s.pending.is_empty())
            {
                return;
            }
        }
        panic!("did not settle: inflight {} queued {}", self.client.inflight(), self.client.queued());
    }

    fn check_delivery(&self) {
        for (mid, qos) in &self.accepted {
            let got = self.broker.received.get(mid).copied().unwrap_or(0);
            match qos {
                QoS::AtMostOnce => assert!(got <= 1, "QoS 0 message {mid} received {got} times"),
                QoS::AtLeastOnce => assert!(got >= 1, "QoS 1 message {mid} lost"),
                QoS::ExactlyOnce if self.may_repeat.contains(mid) => {
                    assert!(got >= 1, "QoS 2 message {mid} lost")
                }
                QoS::ExactlyOnce => assert_eq!(got, 1, "QoS 2 message {mid} received {got} times"),
            }
        }
        assert!(self.pending.is_empty(), "requests never completed: {:?}", self.pending);
        for (mid, qos) in &self.sent_down {
            let got = self.delivered.get(mid).copied().unwrap_or(0);
            match qos {
                QoS::AtMostOnce => assert!(got <= 1),
                QoS::AtLeastOnce => {
                    assert!(
                        got >= 1 || self.broker.forgotten.contains(mid),
                        "QoS 1 message {mid} to the client lost"
                    )
                }
                QoS::ExactlyOnce if self.broker.forgotten.contains(mid) => assert!(got <= 1),
                QoS::ExactlyOnce => assert_eq!(got, 1, "QoS 2 message {mid} delivered {got} times"),
            }
        }
    }
}

fn run(seed: u64, steps: usize) {
    eprintln!("seed {seed}");
    let mut w = World::new(seed);
    w.connect(false);
    for _ in 0..steps {
        w.step();
    }
    w.settle();
    w.check_delivery();
}

both! {
fn random_sessions_lose_nothing_and_duplicate_no_qos2() {
    let seeds = if cfg!(target_arch = "wasm32") { 40 } else { 300 };
    for seed in 0..seeds {
        run(seed, 400);
    }
}
}
