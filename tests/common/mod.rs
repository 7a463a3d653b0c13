//! Test harness for the sans-IO client: a virtual clock, a simulated store and a scripted broker
//! side built from our codec. No sockets, no sleeps.
#![allow(dead_code)]

use bytes::Bytes;
use mq::codec::{ConnAck, ConnectReturnCode, Decoder, Packet};
use mq::codec::{Publish, QoS, Topic, TopicFilter};
use mq::proto::{
    Client, Config, ConnectionError, Event, Instant, Message, RequestId, StoreKey, StoreOp, StoreRecord,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// Declares a test that runs natively (`#[test]`) and on wasm32 (`#[wasm_bindgen_test]`).
#[macro_export]
macro_rules! both {
    ($(#[$m:meta])* fn $name:ident() $body:block) => {
        $(#[$m])*
        #[cfg_attr(not(target_arch = "wasm32"), test)]
        #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
        fn $name() $body
    };
}

/// A store that applies ops the way IndexedDB or a file store would: a map from key to record.
#[derive(Debug, Default, Clone)]
pub struct MemStore {
    pub records: BTreeMap<StoreKey, StoreRecord>,
    pub ops: usize,
}

impl MemStore {
    pub fn apply(&mut self, op: StoreOp) {
        self.ops += 1;
        match op {
            StoreOp::Put(r) => {
                // Every record must survive serialization: that is what a real store keeps.
                let bytes = r.to_bytes();
                let back = StoreRecord::from_bytes(&bytes).expect("record round-trips");
                assert_eq!(back, r, "record round-trip");
                self.records.insert(r.key(), back);
            }
            StoreOp::Delete(k) => {
                self.records.remove(&k);
            }
        }
    }

    pub fn snapshot(&self) -> Vec<StoreRecord> {
        self.records.values().cloned().collect()
    }
}

/// Our client, a clock, a store, and the broker's end of the wire.
pub struct Pair {
    pub client: Client,
    pub now: Instant,
    pub store: MemStore,
    /// Packets the client sent, decoded by the broker side, not yet taken by the test.
    pub sent: Vec<Packet>,
    /// Events the client emitted, not yet taken by the test.
    pub events: Vec<Event>,
    broker_rx: Decoder,
    pub bytes_sent: usize,
}

pub fn config(id: &str) -> Config {
    let mut c = Config::new(id);
    c.keep_alive = Duration::from_secs(60);
    c
}

/// A connected pair whose session is kept (clean = false), and its config for `reload`; the
/// CONNACK's events already taken.
pub fn kept_session_pair(id: &str) -> (Pair, Config) {
    let mut c = config(id);
    c.clean_session = false;
    let mut p = Pair::new(c.clone());
    assert!(p.connect(false).is_empty());
    p.take_events();
    (p, c)
}

impl Pair {
    pub fn new(config: Config) -> Pair {
        Pair::with_client(Client::new(config).expect("valid config"))
    }

    pub fn with_client(client: Client) -> Pair {
        Pair {
            client,
            now: start(),
            store: MemStore::default(),
            sent: Vec::new(),
            events: Vec::new(),
            broker_rx: Decoder::new(usize::MAX),
            bytes_sent: 0,
        }
    }

    /// Drains the client's outputs in the driver's order: store, transmit, events.
    pub fn pump(&mut self) {
        while let Some(op) = self.client.poll_store() {
            self.store.apply(op);
        }
        let mut out = Vec::new();
        self.client.poll_transmit(&mut out);
        self.bytes_sent += out.len();
        self.broker_rx.feed(&out);
        while let Some(p) = self.broker_rx.next_packet().expect("client sent a valid packet") {
            self.sent.push(p);
        }
        while let Some(e) = self.client.poll_event() {
            // A driver tells the client once the application has a QoS 2 message.
            if let Event::Message(p) = &e {
                if p.qos == mq::codec::QoS::ExactlyOnce && self.client.handle_delivered(p.pkid, true) {
                    while let Some(op) = self.client.poll_store() {
                        self.store.apply(op);
                    }
                }
            }
            self.events.push(e);
        }
    }

    /// Bytes from the broker, then the process stops right after the store write: the bytes
    /// and events that write protected never go out (a page unloaded between an IndexedDB
    /// commit and its completion event).
    pub fn deliver_then_stop(&mut self, packet: Packet) {
        let bytes = packet.to_bytes().expect("test packet encodes");
        self.client.handle_bytes(self.now, &bytes);
        while let Some(op) = self.client.poll_store() {
            self.store.apply(op);
        }
    }

    /// Packets the client sent since the last call.
    pub fn take_sent(&mut self) -> Vec<Packet> {
        self.pump();
        std::mem::take(&mut self.sent)
    }

    pub fn take_events(&mut self) -> Vec<Event> {
        self.pump();
        std::mem::take(&mut self.events)
    }

    /// The broker sends `packet` to the client.
    pub fn deliver(&mut self, packet: Packet) {
        let bytes = packet.to_bytes().expect("test packet encodes");
        self.deliver_bytes(&bytes);
    }

    pub fn deliver_bytes(&mut self, bytes: &[u8]) {
        self.client.handle_bytes(self.now, bytes);
        self.pump();
    }

    /// Opens the transport: the client sends CONNECT, which is returned.
    pub fn open(&mut self) -> Packet {
        self.broker_rx.reset();
        self.client.handle_connected(self.now);
        let sent = self.take_sent();
        assert_eq!(sent.len(), 1, "only CONNECT before CONNACK: {sent:?}");
        sent.into_iter().next().unwrap()
    }

    /// Opens the transport and accepts: returns what the client sent after CONNACK.
    pub fn connect(&mut self, session_present: bool) -> Vec<Packet> {
        self.open();
        self.deliver(Packet::ConnAck(ConnAck { session_present, code: ConnectReturnCode::Accepted }));
        self.take_sent()
    }

    /// The transport drops.
    pub fn cut(&mut self) {
        self.client.handle_closed(self.now);
        self.broker_rx.reset();
        self.pump();
        self.sent.clear();
    }

    /// Moves the virtual clock forward, firing the client's timer only if it is due.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        if let Some(t) = self.client.poll_timeout() {
            if t <= self.now {
                self.client.handle_timeout(self.now);
            }
        }
        self.pump();
    }

    /// Moves the clock forward with the timer firing on schedule at each deadline on the way.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.client.poll_timeout() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            self.client.handle_timeout(self.now);
            self.pump();
        }
        self.now = end;
    }

    /// Drops the client as a page reload would (no DISCONNECT) and builds a new one from the
    /// store.
    pub fn reload(&mut self, config: Config) {
        let records = self.store.snapshot();
        self.client = Client::restore(config, records).expect("restore");
        self.broker_rx.reset();
        self.sent.clear();
        self.events.clear();
    }
}

/// The virtual clock's start: an hour past the origin (any instant will do), after which time
/// only moves when a test says so.
pub fn start() -> Instant {
    Instant::from_duration(std::time::Duration::from_secs(3600))
}

pub fn payload(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// A PUBLISH from the broker on `in/t`, `body` as the payload.
pub fn incoming(pkid: u16, qos: QoS, body: &str) -> Publish {
    incoming_on(pkid, qos, "in/t", body)
}

/// A PUBLISH from the broker on `topic`, `body` as the payload.
pub fn incoming_on(pkid: u16, qos: QoS, topic: &str, body: &str) -> Publish {
    Publish {
        dup: false,
        qos,
        retain: false,
        topic: Topic::new(topic).unwrap(),
        pkid,
        payload: payload(body),
    }
}

/// A message to publish: `body` as the payload.
pub fn msg(topic: &str, body: &str, qos: QoS) -> Message {
    Message::new(Topic::new(topic).expect("a valid topic name"), payload(body), qos)
}

/// A topic filter the test knows is valid.
pub fn filter(f: &str) -> TopicFilter {
    TopicFilter::new(f).expect("a valid topic filter")
}

/// Why the connection ended, if one of `events` says it did.
pub fn disconnect_reason(events: &[Event]) -> Option<ConnectionError> {
    events.iter().find_map(|e| match e {
        Event::Disconnected { reason } => Some(reason.clone()),
        _ => None,
    })
}

/// The payloads (as text) of the messages among `events`.
pub fn messages(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(p) => Some(String::from_utf8(p.payload.to_vec()).unwrap()),
            _ => None,
        })
        .collect()
}

/// The requests `events` say were published.
pub fn published(events: &[Event]) -> Vec<RequestId> {
    events.iter().filter_map(|e| if let Event::Published { id } = e { Some(*id) } else { None }).collect()
}
