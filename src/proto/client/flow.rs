//! Flow control paced by the application: acknowledgements held back while it does not keep up,
//! and the keepalive while the driver does not read. `impl Client` continued from client.rs.
//!
//! MQTT 3.1.1 gives a client two ways to slow a broker down without losing a message: stop
//! reading (TCP then pushes back; a WebSocket in a browser cannot) or stop acknowledging: a
//! broker keeps only so many QoS 1/2 messages unacknowledged in flight to a client (Mosquitto's
//! `max_inflight_messages`, 20 by default) and queues the rest on its side. QoS 0 messages are
//! never acknowledged, so only the first way holds them back.

use super::{Client, Conn};
use crate::codec::Packet;
use crate::proto::Instant;

impl Client {
    /// While `hold` is true, the acknowledgements of incoming QoS 1 and 2 messages (PUBACK,
    /// PUBREC) are held back rather than sent; the messages are still delivered as they arrive.
    /// Setting it back to false sends the held ones, in the order their PUBLISHes arrived
    /// [MQTT-4.6.0-2, MQTT-4.6.0-3] (so while any are held, every later one waits behind them).
    ///
    /// A driver holds acknowledgements while the application is not taking messages: the broker
    /// stops after its in-flight window and keeps the rest. Held acknowledgements belong to the
    /// connection: when it ends they are dropped, and the broker sends those messages again on
    /// the next connection of a kept session (a QoS 1 message may then arrive twice, as QoS 1
    /// allows; a QoS 2 one is acknowledged without being delivered again, since its packet id is
    /// kept until PUBREL). A QoS 2 message handed over while its PUBREC is held is recorded as
    /// delivered (see [`handle_delivered`](Client::handle_delivered)), so a restore never
    /// delivers it twice.
    pub fn hold_acks(&mut self, now: Instant, hold: bool) {
        self.acks_held = hold;
        if hold {
            return;
        }
        for (pkid, pubrec) in core::mem::take(&mut self.held) {
            self.send(now, &if pubrec { Packet::PubRec(pkid) } else { Packet::PubAck(pkid) });
        }
    }

    /// Whether acknowledgements are being held back (see [`hold_acks`](Client::hold_acks)).
    pub fn acks_held(&self) -> bool {
        self.acks_held
    }

    /// How many acknowledgements wait to be sent.
    pub fn held_acks(&self) -> usize {
        self.held.len()
    }

    /// The driver stopped (`true`) or resumed (`false`) reading the transport, to make TCP push
    /// back on the broker while the application does not take messages. Until the next
    /// connection or until resumed: a PINGRESP may sit unread, so no keepalive deadline holds,
    /// and a PINGREQ still goes out every keepalive interval in which nothing else was sent (the
    /// broker must keep hearing from the client [MQTT-3.1.2-24]). On resuming, a PINGRESP owed
    /// gets a full ping timeout from then. A broker that died meanwhile is found by the read
    /// (end of stream or an error) or by that deadline.
    pub fn handle_read_paused(&mut self, now: Instant, paused: bool) {
        if paused == self.read_paused || self.conn == Conn::Offline {
            return;
        }
        self.read_paused = paused;
        if paused {
            if self.ping.take().is_some() {
                self.ping_unread = true;
            }
        } else {
            if core::mem::take(&mut self.ping_unread) {
                self.ping = Some((now + self.config.effective_ping_timeout(), false));
            }
            self.check_timers(now);
        }
    }

    /// Whether reading is paused (see [`handle_read_paused`](Client::handle_read_paused)).
    pub fn is_read_paused(&self) -> bool {
        self.read_paused
    }

    /// Sends or holds the acknowledgement of an incoming PUBLISH.
    pub(super) fn ack(&mut self, now: Instant, pkid: u16, pubrec: bool) {
        if self.acks_held {
            self.held.push((pkid, pubrec));
        } else {
            self.send(now, &if pubrec { Packet::PubRec(pkid) } else { Packet::PubAck(pkid) });
        }
    }

    /// A connection starts or ends: what was held for the last one goes with it. Whether acks
    /// are held stays (the application's pace outlives a connection); reading starts again.
    pub(super) fn new_connection_flow(&mut self) {
        self.held.clear();
        self.read_paused = false;
        self.ping_unread = false;
    }
}
