//! The session state that outlives a connection: what is in flight, queued and subscribed.
//!
//! Every change here that a resumed session needs is mirrored by a [`StoreOp`], so a store
//! holds exactly what [`Session::restore`] needs to rebuild this struct.

use super::{Message, RequestId, RestoreError, StoreKey, StoreOp, StoreRecord};
use crate::codec::{Publish, QoS, TopicFilter};
use alloc::vec::Vec;
// Sorted Vecs under the std names: no hashbrown in the wasm module (see vecmap.rs).
use super::vecmap::VecMap;
use alloc::collections::VecDeque;

/// An outgoing QoS 1/2 message between its PUBLISH and its last acknowledgement.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub request: RequestId,
    pub state: OutState,
}

#[derive(Debug, Clone)]
pub(crate) enum OutState {
    /// Awaiting PUBACK (QoS 1) or PUBREC (QoS 2); resent with DUP on reconnect.
    Sent(Publish),
    /// QoS 2 past PUBREC, awaiting PUBCOMP; `order` is the PUBREC arrival order, the order in
    /// which PUBRELs are resent [MQTT-4.6.0-4].
    Released { order: u64 },
}

/// A SUBSCRIBE awaiting SUBACK. `request` is `None` for the client's own resubscription.
#[derive(Debug, Clone)]
pub(crate) struct PendingSubscribe {
    pub request: Option<RequestId>,
    pub filters: Vec<(TopicFilter, QoS)>,
}

#[derive(Debug, Clone)]
pub(crate) struct PendingUnsubscribe {
    pub request: RequestId,
    pub filters: Vec<TopicFilter>,
}

/// An incoming QoS 2 message between its PUBLISH and the broker's PUBREL [MQTT-4.3.3-2].
///
/// Its record is stored before the PUBREC goes out and before the application sees the message
/// (the driver holds both until the store write completes, then sends the PUBREC and delivers
/// in one task). A process that stops in between leaves a record the application never saw
/// the message for; the broker, which never got the PUBREC, then sends the PUBLISH again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// Restored from a record that does not say the application has the message. A PUBLISH
    /// again from the broker means our PUBREC never reached it, so the message never reached
    /// the application either: it is delivered then.
    Unconfirmed,
    /// Handed to the driver, not yet confirmed delivered. `cut`: a connection ended since its
    /// PUBREC went out, so that PUBREC may be lost.
    Emitted { cut: bool },
    /// The driver confirmed delivery. `marked`: the store says so (written once the PUBREC may
    /// have been lost with a connection, so that a later restore does not deliver it again).
    Delivered { marked: bool },
}

impl Incoming {
    /// What its record says: whether the application is known to have the message.
    pub fn stored_delivered(self) -> bool {
        self == Incoming::Delivered { marked: true }
    }
}

/// A command waiting for the connection or for room in flight.
#[derive(Debug, Clone)]
pub(crate) enum Queued {
    Publish { request: RequestId, message: Message },
    Subscribe { request: RequestId, filters: Vec<(TopicFilter, QoS)> },
    Unsubscribe { request: RequestId, filters: Vec<TopicFilter> },
}

impl Queued {
    /// Whether it takes a packet identifier (and so a place in flight) when sent.
    pub fn needs_pkid(&self) -> bool {
        match self {
            Queued::Publish { message, .. } => message.qos != QoS::AtMostOnce,
            _ => true,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Session {
    pub outgoing: VecMap<u16, Outgoing>,
    pub subscribing: VecMap<u16, PendingSubscribe>,
    pub unsubscribing: VecMap<u16, PendingUnsubscribe>,
    /// Incoming QoS 2 packet ids awaiting PUBREL (the broker's id space).
    pub incoming: VecMap<u16, Incoming>,
    pub queue: VecDeque<Queued>,
    /// Granted subscriptions, in the order first subscribed.
    pub subscriptions: Vec<(TopicFilter, QoS)>,
    next_pkid: u16,
    next_request: u64,
    next_release: u64,
}

impl Session {
    pub fn new() -> Self {
        Session { next_pkid: 1, next_request: 1, ..Session::default() }
    }

    pub fn next_request(&mut self) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        id
    }

    pub fn next_release_order(&mut self) -> u64 {
        self.next_release += 1;
        self.next_release
    }

    /// Packets awaiting an acknowledgement.
    pub fn inflight(&self) -> usize {
        self.outgoing.len() + self.subscribing.len() + self.unsubscribing.len()
    }

    /// Outgoing QoS 2 messages awaiting PUBREC (PUBLISH sent, no PUBREL yet). The broker may
    /// hold each of them as "awaiting PUBREL"; one past PUBREC is not counted, since its PUBREL
    /// went into the byte stream when the PUBREC came (`on_pubrec`) and goes again, first of
    /// all, after every CONNACK (`resend_inflight`), so it reaches the broker ahead of any
    /// PUBLISH sent later on the same connection.
    pub fn unreleased_qos2(&self) -> usize {
        self.outgoing
            .values()
            .filter(|o| matches!(&o.state, OutState::Sent(p) if p.qos == QoS::ExactlyOnce))
            .count()
    }

    fn pkid_in_use(&self, id: u16) -> bool {
        self.outgoing.contains_key(&id)
            || self.subscribing.contains_key(&id)
            || self.unsubscribing.contains_key(&id)
    }

    /// A packet identifier not in use by any outgoing flow [MQTT-2.3.1-2], or `None` when all
    /// 65,535 are taken.
    pub fn alloc_pkid(&mut self) -> Option<u16> {
        for _ in 0..u16::MAX {
            let id = self.next_pkid;
            self.next_pkid = if id == u16::MAX { 1 } else { id + 1 };
            if !self.pkid_in_use(id) {
                return Some(id);
            }
        }
        None
    }

    /// The subscription list record, after a change.
    pub fn subscriptions_op(&self) -> StoreOp {
        if self.subscriptions.is_empty() {
            StoreOp::Delete(StoreKey::Subscriptions)
        } else {
            StoreOp::Put(StoreRecord::Subscriptions(self.subscriptions.clone()))
        }
    }

    pub fn add_subscription(&mut self, filter: &TopicFilter, qos: QoS) {
        match self.subscriptions.iter_mut().find(|(f, _)| f == filter) {
            Some(entry) => entry.1 = qos,
            None => self.subscriptions.push((filter.clone(), qos)),
        }
    }

    pub fn remove_subscription(&mut self, filter: &TopicFilter) {
        self.subscriptions.retain(|(f, _)| f != filter);
    }

    /// The stored records for this session, as a store holding every op so far would have them.
    pub fn records(&self) -> Vec<StoreRecord> {
        let mut out = Vec::new();
        let mut outgoing: Vec<(u64, u16)> = self.outgoing.iter().map(|(&p, o)| (o.request.0, p)).collect();
        super::sort_pairs(&mut outgoing);
        for (_, pkid) in outgoing {
            let Some(o) = self.outgoing.get(&pkid) else { continue };
            out.push(match &o.state {
                OutState::Sent(p) => StoreRecord::Outgoing { request: o.request, publish: p.clone() },
                OutState::Released { order } => {
                    StoreRecord::Released { request: o.request, pkid, order: *order }
                }
            });
        }
        // In packet id order (the map's).
        for (&pkid, i) in &self.incoming {
            out.push(StoreRecord::Incoming { pkid, delivered: i.stored_delivered() });
        }
        for q in &self.queue {
            if let Queued::Publish { request, message } = q {
                out.push(StoreRecord::Queued { request: *request, message: message.clone() });
            }
        }
        if !self.subscriptions.is_empty() {
            out.push(StoreRecord::Subscriptions(self.subscriptions.clone()));
        }
        out
    }

    /// Rebuilds a session from stored records, in any order.
    ///
    /// A queued record whose request is also in flight is the trace of a crash between the two
    /// writes that moved it; the in-flight record wins. The next packet id follows the newest
    /// in-flight message and the next request id follows every stored one, so nothing restored
    /// can collide with what comes after.
    pub fn restore(records: impl IntoIterator<Item = StoreRecord>) -> Result<Session, RestoreError> {
        let mut s = Session::new();
        let mut queued = Vec::new();
        let mut max_request = 0u64;
        for record in records {
            match record {
                StoreRecord::Outgoing { request, publish } => {
                    if publish.qos == QoS::AtMostOnce || publish.pkid == 0 {
                        return Err(RestoreError::Corrupt("in-flight message without a packet id"));
                    }
                    max_request = max_request.max(request.0);
                    let pkid = publish.pkid;
                    let out = Outgoing { request, state: OutState::Sent(publish) };
                    if s.outgoing.insert(pkid, out).is_some() {
                        return Err(RestoreError::Corrupt("two in-flight records for one packet id"));
                    }
                }
                StoreRecord::Released { request, pkid, order } => {
                    max_request = max_request.max(request.0);
                    s.next_release = s.next_release.max(order);
                    let out = Outgoing { request, state: OutState::Released { order } };
                    if s.outgoing.insert(pkid, out).is_some() {
                        return Err(RestoreError::Corrupt("two in-flight records for one packet id"));
                    }
                }
                StoreRecord::Incoming { pkid, delivered } => {
                    let state =
                        if delivered { Incoming::Delivered { marked: true } } else { Incoming::Unconfirmed };
                    s.incoming.insert(pkid, state);
                }
                StoreRecord::Queued { request, message } => {
                    max_request = max_request.max(request.0);
                    queued.push((request, message));
                }
                StoreRecord::Subscriptions(subs) => s.subscriptions = subs,
            }
        }
        // A sorted Vec rather than a HashSet<RequestId>: one generic map type less in the wasm.
        let mut in_flight: Vec<(u64, u16)> = s.outgoing.values().map(|o| (o.request.0, 0)).collect();
        super::sort_pairs(&mut in_flight);
        super::sort_by_key(&mut queued, |(r, _)| (r.0, 0));
        s.queue = queued
            .into_iter()
            .filter(|(r, _)| in_flight.binary_search(&(r.0, 0)).is_err())
            .map(|(request, message)| Queued::Publish { request, message })
            .collect();
        if let Some((&pkid, _)) = s.outgoing.iter().max_by_key(|(_, o)| o.request) {
            s.next_pkid = if pkid == u16::MAX { 1 } else { pkid + 1 };
        }
        s.next_request = max_request + 1;
        Ok(s)
    }
}
