//! Packets from the broker, one handler per packet: what each one does to the session, and where
//! the broker broke a rule of the standard, which one. `impl Client` continued from client.rs.

use super::{Client, Conn};
use crate::codec::{
    ConnectReturnCode, Packet, Publish, QoS, SkippedPublish, SubAckCode, Subscribe, Unsubscribe,
};
use crate::proto::session::{Incoming, OutState, Outgoing, PendingSubscribe};
use crate::proto::{ConnectionError, Event, Instant, ProtocolError, StoreKey, StoreOp, StoreRecord};
use alloc::vec::Vec;

impl Client {
    pub(super) fn handle_packet(&mut self, now: Instant, packet: Packet) -> Result<(), ProtocolError> {
        if let Conn::AwaitingConnAck { .. } = self.conn {
            // [MQTT-3.2.0-1]: the first packet from the server is CONNACK.
            return match packet {
                // [MQTT-3.2.2-1]: a clean session has no session to be present.
                Packet::ConnAck(ack)
                    if ack.code == ConnectReturnCode::Accepted
                        && ack.session_present
                        && self.config.clean_session =>
                {
                    Err(ProtocolError::SessionPresentOnCleanSession)
                }
                Packet::ConnAck(ack) if ack.code == ConnectReturnCode::Accepted => {
                    self.on_connack(now, ack.session_present);
                    Ok(())
                }
                Packet::ConnAck(ack) => {
                    self.lose(ConnectionError::Refused(ack.code));
                    Ok(())
                }
                other => Err(unexpected(&other, "awaiting CONNACK")),
            };
        }
        match packet {
            Packet::Publish(p) => self.on_publish(now, p),
            Packet::PubAck(id) => self.on_puback(now, id)?,
            Packet::PubRec(id) => self.on_pubrec(now, id)?,
            Packet::PubComp(id) => self.on_pubcomp(now, id)?,
            Packet::PubRel(id) => {
                // [MQTT-4.3.3-2]: PUBCOMP answers every PUBREL, known id or not.
                if self.session.incoming.remove(&id).is_some() {
                    self.store.push_back(StoreOp::Delete(StoreKey::Incoming(id)));
                    self.events.push_back(Event::Released { pkid: id });
                }
                self.send(now, &Packet::PubComp(id));
            }
            Packet::SubAck(ack) => self.on_suback(now, ack.pkid, ack.codes)?,
            Packet::UnsubAck(id) => self.on_unsuback(now, id)?,
            // Tolerant where the standard is silent: an unsolicited PINGRESP is harmless.
            Packet::PingResp => self.ping = None,
            other => return Err(unexpected(&other, "connected")),
        }
        Ok(())
    }

    fn on_connack(&mut self, now: Instant, session_present: bool) {
        self.conn = Conn::Connected;
        self.events.push_back(Event::Connected { session_present });
        // Only now is it certain that the broker discarded its side: a clean CONNECT lost on
        // the way must not make the client forget what the broker still holds.
        if self.config.clean_session {
            self.discard_session();
        }
        if !session_present {
            // The broker has no session: no PUBREL will come for the ids we hold.
            self.forget_incoming();
            self.resubscribe();
        }
        self.resend_inflight(now);
        self.drain_queue(now);
    }

    /// [MQTT-4.4.0-1]: unacknowledged PUBLISH (DUP set [MQTT-3.3.1-1]) and PUBREL again, with
    /// their packet ids, in their original order [MQTT-4.6.0-1, MQTT-4.6.0-4]. PUBRELs go first: those
    /// messages reached the broker before any still unacknowledged one.
    fn resend_inflight(&mut self, now: Instant) {
        let mut releases: Vec<(u64, u16)> = Vec::new();
        let mut publishes: Vec<(u64, u16)> = Vec::new();
        for (&pkid, o) in &self.session.outgoing {
            match &o.state {
                OutState::Released { order } => releases.push((*order, pkid)),
                OutState::Sent(_) => publishes.push((o.request.0, pkid)),
            }
        }
        crate::proto::sort_pairs(&mut releases);
        crate::proto::sort_pairs(&mut publishes);
        for (_, pkid) in releases {
            self.send(now, &Packet::PubRel(pkid));
        }
        for (_, pkid) in publishes {
            let Some(Outgoing { state: OutState::Sent(p), .. }) = self.session.outgoing.get(&pkid) else {
                continue;
            };
            let mut again = p.clone();
            again.dup = true;
            self.send(now, &Packet::Publish(again));
        }
        // Pending SUBSCRIBE / UNSUBSCRIBE: resent so that their requests complete, in the order
        // they were made (subscribe, unsubscribe, subscribe to one filter must leave it
        // subscribed). The client's own resubscription (no request) goes first: it restores
        // what the later requests change.
        let mut order: Vec<(u64, u16)> = Vec::new();
        for (&pkid, s) in &self.session.subscribing {
            order.push((s.request.map_or(0, |r| r.0), pkid));
        }
        for (&pkid, u) in &self.session.unsubscribing {
            order.push((u.request.0, pkid));
        }
        crate::proto::sort_pairs(&mut order);
        for (_, pkid) in order {
            let packet = if let Some(s) = self.session.subscribing.get(&pkid) {
                Packet::Subscribe(Subscribe { pkid, filters: s.filters.clone() })
            } else if let Some(u) = self.session.unsubscribing.get(&pkid) {
                Packet::Unsubscribe(Unsubscribe { pkid, filters: u.filters.clone() })
            } else {
                continue;
            };
            self.send(now, &packet);
        }
    }

    /// The broker lost the session: subscribe again to everything granted, batched into as few
    /// SUBSCRIBE packets as fit the broker's size limit of 268,435,455 bytes (practically one).
    /// A resubscription still pending from an earlier connection is replaced, not added to (one
    /// per reconnect would pile up against a broker that never answers). The packets go out
    /// with the other pending requests (`resend_inflight`), first: the requests made since
    /// change what it restores.
    fn resubscribe(&mut self) {
        const BATCH: usize = 1000;
        let stale: Vec<u16> =
            self.session.subscribing.iter().filter(|(_, s)| s.request.is_none()).map(|(&k, _)| k).collect();
        for pkid in stale {
            self.session.subscribing.remove(&pkid);
        }
        let all = self.session.subscriptions.clone();
        for chunk in all.chunks(BATCH) {
            let Some(pkid) = self.session.alloc_pkid() else { return };
            self.session
                .subscribing
                .insert(pkid, PendingSubscribe { request: None, filters: chunk.to_vec() });
        }
    }

    fn on_publish(&mut self, now: Instant, p: Publish) {
        match p.qos {
            QoS::AtMostOnce => self.events.push_back(Event::Message(p)),
            QoS::AtLeastOnce => {
                let id = p.pkid;
                self.events.push_back(Event::Message(p));
                self.ack(now, id, false);
            }
            QoS::ExactlyOnce => {
                let id = p.pkid;
                // [MQTT-4.3.3-2] method B: the id is kept until PUBREL; a PUBLISH with a kept id
                // (a redelivery) is acknowledged but not delivered again (only reported as
                // `Redelivered`), unless it is the redelivery of one a previous run stored and
                // never delivered (see `Incoming`).
                match self.session.incoming.get(&id) {
                    None => {
                        let record = StoreRecord::Incoming { pkid: id, delivered: false };
                        self.store.push_back(StoreOp::Put(record));
                        self.session.incoming.insert(id, Incoming::Emitted { cut: false });
                        self.events.push_back(Event::Message(p));
                    }
                    Some(Incoming::Unconfirmed) => {
                        self.session.incoming.insert(id, Incoming::Emitted { cut: false });
                        self.events.push_back(Event::Message(p));
                    }
                    Some(_) => self.events.push_back(Event::Redelivered(p)),
                }
                self.ack(now, id, true);
            }
        }
    }

    /// A PUBLISH larger than `max_packet_size`: acknowledged as received (so a kept session does
    /// not get it again on every reconnect, forever) but not delivered; the application learns
    /// of it through [`Event::TooLarge`]. A QoS 2 one is remembered like any other until PUBREL,
    /// so its redelivery is not reported twice.
    pub(super) fn on_oversize_publish(&mut self, now: Instant, s: SkippedPublish) {
        let report = Event::TooLarge { topic: s.topic, qos: s.qos, size: s.size };
        match s.qos {
            QoS::AtMostOnce => self.events.push_back(report),
            QoS::AtLeastOnce => {
                self.events.push_back(report);
                self.ack(now, s.pkid, false);
            }
            QoS::ExactlyOnce => {
                if !self.session.incoming.contains_key(&s.pkid) {
                    let record = StoreRecord::Incoming { pkid: s.pkid, delivered: true };
                    self.store.push_back(StoreOp::Put(record));
                    self.session.incoming.insert(s.pkid, Incoming::Delivered { marked: true });
                    self.events.push_back(report);
                }
                self.ack(now, s.pkid, true);
            }
        }
    }

    /// An acknowledgement for an id with nothing in flight: reported and ignored.
    fn ignored(&mut self, packet: &'static str, pkid: u16) {
        self.events.push_back(Event::Ignored { packet, pkid });
    }

    fn on_puback(&mut self, now: Instant, id: u16) -> Result<(), ProtocolError> {
        match self.session.outgoing.get(&id) {
            Some(Outgoing { state: OutState::Sent(p), .. }) if p.qos == QoS::AtLeastOnce => {}
            // In flight, but not a QoS 1 message waiting for PUBACK: the wrong acknowledgement.
            Some(_) => return Err(ProtocolError::UnknownPacketId { packet: "PUBACK", pkid: id }),
            None => {
                self.ignored("PUBACK", id);
                return Ok(());
            }
        }
        self.complete_outgoing(now, id);
        Ok(())
    }

    fn on_pubrec(&mut self, now: Instant, id: u16) -> Result<(), ProtocolError> {
        let order = self.session.next_release_order();
        let Some(o) = self.session.outgoing.get_mut(&id) else {
            // Nothing in flight: PUBREL all the same, so the broker can finish its side.
            self.send(now, &Packet::PubRel(id));
            self.ignored("PUBREC", id);
            return Ok(());
        };
        match &o.state {
            OutState::Sent(p) if p.qos == QoS::ExactlyOnce => {
                // [MQTT-4.3.3-1]: after PUBREC the PUBLISH is never sent again.
                o.state = OutState::Released { order };
                let record = StoreRecord::Released { request: o.request, pkid: id, order };
                self.store.push_back(StoreOp::Put(record));
            }
            // A repeated PUBREC: answering with PUBREL again is harmless.
            OutState::Released { .. } => {}
            OutState::Sent(_) => return Err(ProtocolError::UnknownPacketId { packet: "PUBREC", pkid: id }),
        }
        self.send(now, &Packet::PubRel(id));
        // The message no longer counts against `max_inflight_qos2`: its PUBREL is ahead of
        // whatever goes out now.
        self.drain_queue(now);
        Ok(())
    }

    fn on_pubcomp(&mut self, now: Instant, id: u16) -> Result<(), ProtocolError> {
        match self.session.outgoing.get(&id) {
            Some(Outgoing { state: OutState::Released { .. }, .. }) => {}
            // In flight, but PUBREC never came: the wrong acknowledgement.
            Some(_) => return Err(ProtocolError::UnknownPacketId { packet: "PUBCOMP", pkid: id }),
            None => {
                self.ignored("PUBCOMP", id);
                return Ok(());
            }
        }
        self.complete_outgoing(now, id);
        Ok(())
    }

    fn complete_outgoing(&mut self, now: Instant, id: u16) {
        if let Some(o) = self.session.outgoing.remove(&id) {
            self.store.push_back(StoreOp::Delete(StoreKey::Outgoing(id)));
            self.events.push_back(Event::Published { id: o.request });
            self.drain_queue(now);
        }
    }

    fn on_suback(&mut self, now: Instant, pkid: u16, codes: Vec<SubAckCode>) -> Result<(), ProtocolError> {
        let Some(pending) = self.session.subscribing.remove(&pkid) else {
            self.ignored("SUBACK", pkid);
            return Ok(());
        };
        if pending.filters.len() != codes.len() {
            // The connection ends; the SUBSCRIBE stays pending and is sent again on reconnect.
            let expected = pending.filters.len();
            self.session.subscribing.insert(pkid, pending);
            return Err(ProtocolError::SubAckCountMismatch { expected, got: codes.len() });
        }
        for ((filter, _), code) in pending.filters.iter().zip(&codes) {
            match code {
                SubAckCode::Granted(q) => self.session.add_subscription(filter, *q),
                SubAckCode::Failure => self.session.remove_subscription(filter),
            }
        }
        self.store.push_back(self.session.subscriptions_op());
        if let Some(id) = pending.request {
            self.events.push_back(Event::Subscribed { id, codes });
        }
        self.drain_queue(now);
        Ok(())
    }

    fn on_unsuback(&mut self, now: Instant, pkid: u16) -> Result<(), ProtocolError> {
        let Some(pending) = self.session.unsubscribing.remove(&pkid) else {
            self.ignored("UNSUBACK", pkid);
            return Ok(());
        };
        for f in &pending.filters {
            self.session.remove_subscription(f);
        }
        self.store.push_back(self.session.subscriptions_op());
        self.events.push_back(Event::Unsubscribed { id: pending.request });
        self.drain_queue(now);
        Ok(())
    }
}

fn unexpected(packet: &Packet, state: &'static str) -> ProtocolError {
    ProtocolError::UnexpectedPacket { packet: packet.name(), state }
}
