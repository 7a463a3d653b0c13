//! A connected `mq::proto::Client` driven by arbitrary input: shared by the `client` fuzz target
//! (fuzz/fuzz_targets/client.rs) and the regression tests (tests/fuzz_regressions.rs), which
//! include this file by path.
//!
//! The input is read as a script of steps (see [`Sim::step`]): bytes from the "broker" (packets
//! built with our codec from fuzzed fields, or raw bytes), time steps with `handle_timeout`,
//! commands (publish QoS 0/1/2, subscribe, unsubscribe, disconnect), transport open / close,
//! and restores from the store. After every input the outputs are drained in the driver's order
//! (`poll_store`, `poll_transmit`, `poll_event`) and checked against the client's promises:
//! - no panic;
//! - every request id is new when issued and completes at most once: a completion names a
//!   pending request, and the requests pending by the events equal `pending_requests()`;
//! - no `Event::Message` for a QoS 2 packet id while its flow (PUBLISH .. PUBREL) is open;
//! - the store ops applied to a map always equal `session_records()` (as in tests/model.rs), and
//!   every record round-trips through its bytes (tests/common's `MemStore`);
//! - after `handle_timeout(now)`, `poll_timeout()` is not in the past, and a deadline equal to
//!   `now` is gone after at most a few more calls (no busy loop);
//! - every byte sent decodes with the codec, as whole client-to-server packets, CONNECT first on
//!   each connection and nothing while there is no connection;
//! - at most one `Connected` and one `Disconnected` per connection; in flight and queued within
//!   the limits the model test checks.

use bytes::Bytes;
use mq::codec::{
    ConnAck, ConnectReturnCode, Decoder, Packet, Publish, QoS, SubAck, SubAckCode, Subscribe, Topic,
    TopicFilter, Unsubscribe,
};
use mq::proto::{Client, Config, Event, Instant, Message, RequestId, StoreKey, StoreOp, StoreRecord};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

#[path = "../../tests/common/mod.rs"]
mod common;
use common::MemStore;

/// `MQ_FUZZ_TRACE=1`: print every input and output (to read a crash's story).
fn trace() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("MQ_FUZZ_TRACE").is_some())
}

macro_rules! trace {
    ($($t:tt)*) => {
        if trace() {
            eprintln!($($t)*);
        }
    };
}

/// The most steps one input runs (libFuzzer's inputs are short anyway).
const MAX_STEPS: usize = 1000;

/// Topics the application publishes to: valid ones, and a few the client must refuse.
const TOPICS: [&str; 8] = ["a", "a/b", "x/y/z", "", "a/+", "#", "$SYS/x", "a\u{0}b"];
/// Filters the application subscribes to, the last three invalid.
const FILTERS: [&str; 8] = ["a/#", "+", "#", "a/+/c", "x/y/z", "a/#/b", "", "a+"];
/// Topics of the broker's PUBLISH packets (the codec refuses to encode the last two).
const DOWN_TOPICS: [&str; 6] = ["a", "a/b", "x/y/z", "$SYS/x", "", "a/+"];

/// The fuzz data, read front to back; past its end every read is zero.
pub struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }
    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
    fn qos(&mut self) -> QoS {
        QoS::from_u8(self.byte() % 3).unwrap()
    }
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.byte() as usize % from.len()]
    }
}

/// The client, its store, a virtual clock and the broker's view of the wire.
pub struct Sim {
    config: Config,
    client: Client,
    store: MemStore,
    now: Instant,
    /// Decodes what the client sends on the current connection.
    wire: Decoder,
    /// The driver's transport is open (from `handle_connected` until the connection ends).
    transport_open: bool,
    /// A connection started and its `Disconnected` not seen yet; `Connected` seen on it.
    live: bool,
    connected_seen: bool,
    /// Packets sent on the current connection.
    sent_on_conn: usize,
    /// In `handle_connected`'s outputs: whether the connection it replaces had not ended (its
    /// `Disconnected` comes out with the new connection's CONNECT).
    reconnect: Option<bool>,
    /// Requests issued and not completed; the highest id issued since the client was made.
    pending: BTreeSet<RequestId>,
    last_issued: u64,
    /// Incoming QoS 2 packet ids delivered to the application whose flow is still open.
    open_qos2: BTreeSet<u16>,
    /// Recent packet ids seen on the wire, for acknowledgements that hit something.
    ids: Vec<u16>,
}

/// Runs one input: the fuzz target's body.
pub fn run(data: &[u8]) {
    let mut input = Input(data);
    let mut sim = Sim::new(&mut input);
    for _ in 0..MAX_STEPS {
        if input.is_empty() {
            break;
        }
        sim.step(&mut input);
    }
}

impl Sim {
    /// A client whose configuration the first three bytes choose.
    pub fn new(input: &mut Input) -> Sim {
        let a = input.byte();
        let b = input.byte();
        let c = input.byte();
        let mut config = Config::new("fuzz");
        config.clean_session = a & 1 == 1;
        config.keep_alive = Duration::from_secs([0, 1, 5, 60][(a >> 1) as usize & 3]);
        config.ping_timeout =
            [None, Some(Duration::ZERO), Some(Duration::from_secs(1)), Some(Duration::from_secs(10))]
                [(a >> 3) as usize & 3];
        config.connect_timeout =
            [Duration::from_secs(30), Duration::from_secs(1), Duration::ZERO, Duration::MAX]
                [(a >> 5) as usize & 3];
        config.max_inflight = 1 + (b & 3) as usize;
        config.max_queued = ((b >> 2) & 7) as usize;
        config.max_packet_size = [16, 64, 300, 1 << 20][c as usize & 3];
        let client = Client::new(config.clone()).expect("valid config");
        Sim {
            config,
            client,
            store: MemStore::default(),
            now: Instant::from_duration(Duration::from_secs(3600)),
            wire: Decoder::new(usize::MAX),
            transport_open: false,
            live: false,
            connected_seen: false,
            sent_on_conn: 0,
            reconnect: None,
            pending: BTreeSet::new(),
            last_issued: 0,
            open_qos2: BTreeSet::new(),
            ids: Vec::new(),
        }
    }

    /// One input to the client, chosen by the next byte, then its outputs drained and checked.
    pub fn step(&mut self, input: &mut Input) {
        let op = input.byte() % 16;
        trace!("-- step {op} at {:?}", self.now.as_duration());
        match op {
            // The broker, well-formed: one to three packets, in one chunk or two.
            0..=4 => {
                let n = 1 + input.byte() % 3;
                let mut bytes = Vec::new();
                for _ in 0..n {
                    if let Some(p) = self.broker_packet(input) {
                        // A packet the codec refuses to encode is simply not sent.
                        let _ = p.encode(&mut bytes);
                    }
                }
                let cut = input.byte() as usize % (bytes.len() + 1);
                self.bytes(&bytes[..cut]);
                self.bytes(&bytes[cut..]);
            }
            // The broker, raw bytes.
            5 => {
                let n = input.byte() as usize % 64;
                let raw = input.bytes(n);
                self.bytes(raw);
            }
            // Time passes; the timer fires.
            6 | 7 => {
                let d = input.byte();
                let delta = match d % 12 {
                    0 => Duration::ZERO,
                    1 => Duration::from_millis(1),
                    2 => Duration::from_millis(999),
                    3 => Duration::from_secs(1),
                    4 => Duration::from_millis(1001),
                    5 => Duration::from_secs(5),
                    6 => Duration::from_secs(10),
                    7 => Duration::from_secs(30),
                    8 => Duration::from_secs(60),
                    9 => Duration::from_secs(3600),
                    _ => Duration::from_millis(100 * u64::from(d)),
                };
                self.now += delta;
                self.timeout();
            }
            // Time passes to the client's deadline exactly.
            8 => {
                if let Some(t) = self.client.poll_timeout() {
                    self.now = self.now.max(t);
                }
                self.timeout();
            }
            9 => {
                let topic = input.pick(&TOPICS);
                let qos = input.qos();
                let retain = input.byte() & 1 == 1;
                let n = input.byte() as usize % 8;
                let payload = Bytes::copy_from_slice(input.bytes(n));
                // A bad topic is refused where the message is made, as a driver does.
                let message = Message::try_new(topic, payload, qos);
                let r = message.and_then(|m| self.client.publish(self.now, m.retain(retain)));
                trace!("publish {topic:?} {qos:?}: {r:?}");
                self.issued(r.ok());
            }
            10 => {
                let n = input.byte() % 4;
                let filters: Vec<(&str, QoS)> = (0..n).map(|_| (input.pick(&FILTERS), input.qos())).collect();
                let r = self.client.subscribe(self.now, &filters);
                trace!("subscribe {filters:?}: {r:?}");
                self.issued(r.ok());
            }
            11 => {
                let n = input.byte() % 3;
                let filters: Vec<&str> = (0..n).map(|_| input.pick(&FILTERS)).collect();
                let r = self.client.unsubscribe(self.now, &filters);
                trace!("unsubscribe {filters:?}: {r:?}");
                self.issued(r.ok());
            }
            12 => {
                self.client.disconnect(self.now);
                self.pump();
            }
            13 => {
                self.client.handle_closed(self.now);
                self.transport_open = false;
                self.pump();
            }
            14 => self.connect(),
            _ => {
                // Restore from the store, perhaps with the other clean-session setting.
                if input.byte() & 1 == 1 {
                    self.config.clean_session = !self.config.clean_session;
                }
                self.reload();
            }
        }
    }

    /// A packet from the broker, its fields from the input.
    fn broker_packet(&mut self, input: &mut Input) -> Option<Packet> {
        Some(match input.byte() % 13 {
            0 | 1 => {
                let b = input.byte();
                let code = ConnectReturnCode::from_u8(b % 8).ok()?;
                Packet::ConnAck(ConnAck { session_present: b & 8 != 0, code })
            }
            2 | 3 => {
                let flags = input.byte();
                let qos = QoS::from_u8(flags % 3).unwrap();
                let pkid = if qos == QoS::AtMostOnce { 0 } else { self.id(input) };
                let n = input.byte() as usize % 8;
                // The input is read as before the topic was a `Topic`: payload bytes first.
                let topic = Topic::new(DOWN_TOPICS[(flags >> 4) as usize % DOWN_TOPICS.len()]);
                let payload = Bytes::copy_from_slice(input.bytes(n));
                Packet::Publish(Publish {
                    dup: flags & 4 != 0,
                    qos,
                    retain: flags & 8 != 0,
                    // The last two are not topic names: no such packet is made.
                    topic: topic.ok()?,
                    pkid,
                    payload,
                })
            }
            4 => Packet::PubAck(self.id(input)),
            5 => Packet::PubRec(self.id(input)),
            6 => Packet::PubRel(self.id(input)),
            7 => Packet::PubComp(self.id(input)),
            8 => {
                let pkid = self.id(input);
                let n = input.byte() % 4;
                let codes = (0..n)
                    .map(|_| match input.byte() % 4 {
                        3 => SubAckCode::Failure,
                        q => SubAckCode::Granted(QoS::from_u8(q).unwrap()),
                    })
                    .collect();
                Packet::SubAck(SubAck { pkid, codes })
            }
            9 => Packet::UnsubAck(self.id(input)),
            10 => Packet::PingResp,
            // Packets only a client sends.
            11 => Packet::PingReq,
            _ => {
                let pkid = self.id(input);
                if input.byte() & 1 == 0 {
                    Packet::Subscribe(Subscribe {
                        pkid,
                        filters: vec![(TopicFilter::new("a").ok()?, QoS::AtMostOnce)],
                    })
                } else {
                    Packet::Unsubscribe(Unsubscribe { pkid, filters: vec![TopicFilter::new("a").ok()?] })
                }
            }
        })
    }

    /// A packet id: mostly one recently on the wire or a small one, so acknowledgements and
    /// repeated QoS 2 ids meet a flow; sometimes any.
    fn id(&mut self, input: &mut Input) -> u16 {
        let b = input.byte();
        match b >> 6 {
            0 | 1 if !self.ids.is_empty() => self.ids[b as usize % self.ids.len()],
            3 => input.u16(),
            _ => 1 + u16::from(b & 7),
        }
    }

    fn remember_id(&mut self, id: u16) {
        if id != 0 && !self.ids.contains(&id) {
            if self.ids.len() == 8 {
                self.ids.remove(0);
            }
            self.ids.push(id);
        }
    }

    fn bytes(&mut self, bytes: &[u8]) {
        trace!("broker -> {bytes:02x?}");
        self.client.handle_bytes(self.now, bytes);
        self.pump();
    }

    fn timeout(&mut self) {
        self.client.handle_timeout(self.now);
        self.pump();
        // A deadline already due right after handle_timeout would have the driver call again at
        // once: it must go away after a call or two, never loop.
        let mut calls = 0;
        while let Some(t) = self.client.poll_timeout() {
            assert!(t >= self.now, "poll_timeout {t:?} in the past after handle_timeout({:?})", self.now);
            if t > self.now {
                break;
            }
            calls += 1;
            assert!(calls <= 2, "poll_timeout stays at now ({t:?}): the driver would spin");
            self.client.handle_timeout(self.now);
            self.pump();
        }
    }

    fn connect(&mut self) {
        self.reconnect = Some(self.live);
        self.client.handle_connected(self.now);
        self.wire.reset();
        self.transport_open = true;
        self.live = true;
        self.connected_seen = false;
        self.sent_on_conn = 0;
        self.pump();
        self.reconnect = None;
    }

    /// The process stops (no DISCONNECT, the transport drops with it) and a new client resumes
    /// from the store.
    fn reload(&mut self) {
        self.client =
            Client::restore(self.config.clone(), self.store.snapshot()).expect("restore from the store");
        self.transport_open = false;
        self.live = false;
        self.wire.reset();
        self.pending = self.client.pending_requests().into_iter().collect();
        self.last_issued = self.pending.iter().next_back().map_or(0, |r| r.0);
        // A message whose record says delivered stays delivered; one recorded as not (yet)
        // delivered may be delivered once more when the broker sends it again.
        self.open_qos2 = self
            .store
            .records
            .values()
            .filter_map(|r| match r {
                StoreRecord::Incoming { pkid, delivered: true } => Some(*pkid),
                _ => None,
            })
            .collect();
        self.pump();
    }

    fn issued(&mut self, id: Option<RequestId>) {
        if let Some(id) = id {
            assert!(
                id.0 > self.last_issued,
                "request id {id:?} not above {} issued before",
                self.last_issued
            );
            assert!(self.pending.insert(id), "{id:?} given to two pending requests");
            self.last_issued = id.0;
        }
        self.pump();
    }

    /// Takes what the client sent and checks it: whole, well-formed client packets, CONNECT
    /// first, nothing without a connection.
    fn pump_sent(&mut self) {
        let mut out = Vec::new();
        self.client.poll_transmit(&mut out);
        if out.is_empty() {
            return;
        }
        assert!(self.live, "{} bytes sent with no connection", out.len());
        self.wire.feed(&out);
        while let Some(p) =
            self.wire.next_packet().unwrap_or_else(|e| panic!("client sent bytes that do not decode: {e}"))
        {
            assert_eq!(
                self.sent_on_conn == 0,
                matches!(p, Packet::Connect(_)),
                "CONNECT first and once: {p:?}"
            );
            self.sent_on_conn += 1;
            trace!("client -> {p:?}");
            match &p {
                Packet::Publish(p) => self.remember_id(p.pkid),
                Packet::Subscribe(s) => self.remember_id(s.pkid),
                Packet::Unsubscribe(u) => self.remember_id(u.pkid),
                Packet::Connect(_)
                | Packet::PubAck(_)
                | Packet::PubRec(_)
                | Packet::PubRel(_)
                | Packet::PubComp(_)
                | Packet::PingReq
                | Packet::Disconnect => {}
                other => panic!("client sent a server's packet: {other:?}"),
            }
        }
        assert_eq!(self.wire.buffered(), 0, "client sent part of a packet");
    }

    fn apply_store(&mut self, ops: &mut Vec<StoreOp>) {
        while let Some(op) = self.client.poll_store() {
            trace!("store {op:?}");
            ops.push(op.clone());
            self.store.apply(op);
        }
    }

    /// Drains the outputs in the driver's order (store, transmit, events) and checks them.
    fn pump(&mut self) {
        let mut ops = Vec::new();
        self.apply_store(&mut ops);
        self.pump_sent();
        // Incoming QoS 2 deliveries in this batch, by packet id.
        let mut messages: BTreeMap<u16, usize> = BTreeMap::new();
        while let Some(e) = self.client.poll_event() {
            trace!("event {e:?}");
            match e {
                Event::Published { id } | Event::Subscribed { id, .. } | Event::Unsubscribed { id } => {
                    assert!(self.pending.remove(&id), "completion of {id:?}, which is not pending");
                }
                Event::Message(p) if p.qos == QoS::ExactlyOnce => {
                    *messages.entry(p.pkid).or_default() += 1;
                    self.remember_id(p.pkid);
                    if self.client.handle_delivered(p.pkid, self.transport_open) {
                        self.apply_store(&mut ops);
                    }
                }
                Event::Connected { .. } => {
                    assert!(self.live && !self.connected_seen, "Connected twice or without a connection");
                    self.connected_seen = true;
                }
                Event::Disconnected { .. } if self.reconnect.is_some() => {
                    assert_eq!(self.reconnect.take(), Some(true), "Disconnected without a connection");
                }
                Event::Disconnected { .. } => {
                    assert!(self.live, "Disconnected without a connection");
                    // The driver closes the transport.
                    self.live = false;
                    self.transport_open = false;
                }
                // Ignored acknowledgements, and whatever else is only reported.
                _ => {}
            }
        }
        self.check_qos2(&ops, &messages);
        self.check_session();
    }

    /// A QoS 2 packet id is delivered at most once per flow: each delivery in a batch needs the
    /// id's flow closed before it (not open at the start, or closed by a delete in the batch).
    fn check_qos2(&mut self, ops: &[StoreOp], messages: &BTreeMap<u16, usize>) {
        let mut closes: BTreeMap<u16, usize> = BTreeMap::new();
        for op in ops {
            if let StoreOp::Delete(StoreKey::Incoming(id)) = op {
                *closes.entry(*id).or_default() += 1;
            }
        }
        for (&id, &n) in messages {
            let c = closes.get(&id).copied().unwrap_or(0);
            let allowed = c + usize::from(!self.open_qos2.contains(&id));
            assert!(n <= allowed, "QoS 2 packet id {id} delivered {n} times with its flow closed {c} times");
        }
        for (&id, _) in closes.iter().filter(|(id, _)| !messages.contains_key(id)) {
            self.open_qos2.remove(&id);
        }
        for &id in messages.keys() {
            if self.store.records.contains_key(&StoreKey::Incoming(id)) {
                self.open_qos2.insert(id);
            } else {
                self.open_qos2.remove(&id);
            }
        }
    }

    fn check_session(&self) {
        let mine: BTreeMap<_, _> = self.client.session_records().into_iter().map(|r| (r.key(), r)).collect();
        assert_eq!(mine, self.store.records, "the store must mirror the session exactly");
        let pending: BTreeSet<RequestId> = self.client.pending_requests().into_iter().collect();
        assert_eq!(pending, self.pending, "pending requests by the events vs the client's");
        // As tests/model.rs: the client's own resubscription may take one place more; a clean
        // reconnect moves flows in progress back to the queue.
        assert!(self.client.inflight() <= self.config.max_inflight + 1, "in flight above the limit");
        assert!(
            self.client.queued() <= self.config.max_queued + self.config.max_inflight,
            "queue above the limit"
        );
    }
}
