//! The client state machine: inputs (`handle_*`), commands, outputs (`poll_*`).

use super::session::{Incoming, OutState, Outgoing, PendingSubscribe, PendingUnsubscribe, Queued, Session};
use super::{
    Config, ConnectionError, Event, Instant, Message, ProtocolError, RequestId, RestoreError, StoreKey,
    StoreOp, StoreRecord, UserError,
};
use crate::codec::{CodecError, Decoded, Decoder, Packet, QoS, Subscribe, TopicFilter, Unsubscribe};
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::time::Duration;

// Application-paced flow control: held acknowledgements, paused reading. `impl Client` continued.
mod flow;
// What the broker sends, one handler per packet: `impl Client` continued.
mod receive;

/// How late a timer may fire before the client suspects it was asleep (a throttled tab, a
/// suspended machine) rather than the broker silent.
const LATE_TIMER: Duration = Duration::from_secs(1);
/// After a late wake-up, how long the network gets to deliver what arrived meanwhile.
const WAKE_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    /// No transport. Commands are queued.
    Offline,
    /// CONNECT sent, waiting for CONNACK until the deadline.
    AwaitingConnAck {
        deadline: Instant,
    },
    Connected,
}

/// A sans-IO MQTT 3.1.1 client session.
///
/// The driver owns the transport and the clock. After every input or command it drains the
/// outputs in this order: [`poll_store`](Client::poll_store) (persist before sending),
/// [`poll_transmit`](Client::poll_transmit), [`poll_timeout`](Client::poll_timeout),
/// [`poll_event`](Client::poll_event).
///
/// The store ops of a batch must be durable before its bytes are sent *and* before its events
/// reach the application: an incoming QoS 2 message comes out in the same batch as the record
/// of its packet id, and delivering it before that record is written would let a crash deliver
/// it twice. Send the bytes and then deliver the events in one go (the PUBREC going out tells
/// a restored client that the message was delivered), then call
/// [`handle_delivered`](Client::handle_delivered) for each QoS 2 message handed over.
#[derive(Debug)]
pub struct Client {
    config: Config,
    session: Session,
    conn: Conn,
    /// `disconnect` was called and no connection started since: commands are refused.
    closed: bool,
    decoder: Decoder,
    tx: Vec<u8>,
    store: VecDeque<StoreOp>,
    events: VecDeque<Event>,
    /// When the last packet was handed out for sending [MQTT-3.1.2-23].
    last_sent: Option<Instant>,
    /// An outstanding PINGREQ: the deadline for its PINGRESP, and whether the deadline was
    /// already extended once after a late wake-up.
    ping: Option<(Instant, bool)>,
    /// Acknowledgements of incoming QoS 1/2 messages wait in `held` (see `hold_acks`).
    acks_held: bool,
    /// Held acknowledgements in the order their PUBLISHes arrived: packet id, and whether it is
    /// a PUBREC (else a PUBACK).
    held: Vec<(u16, bool)>,
    /// The driver stopped reading the transport (see `handle_read_paused`).
    read_paused: bool,
    /// A PINGREQ went out whose PINGRESP may sit in the bytes not read while paused.
    ping_unread: bool,
}

impl Client {
    /// A new client with an empty session. Fails if the configuration cannot make a CONNECT.
    pub fn new(config: Config) -> Result<Client, UserError> {
        config.validate()?;
        Ok(Client::with_session(config, Session::new()))
    }

    /// A client resuming the session kept in `records` (see [`StoreRecord`]).
    pub fn restore(
        config: Config,
        records: impl IntoIterator<Item = StoreRecord>,
    ) -> Result<Client, RestoreError> {
        config.validate().map_err(RestoreError::Config)?;
        Ok(Client::with_session(config, Session::restore(records)?))
    }

    fn with_session(config: Config, session: Session) -> Client {
        Client {
            decoder: Decoder::new(config.max_packet_size),
            config,
            session,
            conn: Conn::Offline,
            closed: false,
            tx: Vec::new(),
            store: VecDeque::new(),
            events: VecDeque::new(),
            last_sent: None,
            ping: None,
            acks_held: false,
            held: Vec::new(),
            read_paused: false,
            ping_unread: false,
        }
    }

    // ---- getters ----

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// CONNACK 0 received and the connection not lost since.
    pub fn is_connected(&self) -> bool {
        self.conn == Conn::Connected
    }

    /// Outgoing packets awaiting acknowledgement.
    pub fn inflight(&self) -> usize {
        self.session.inflight()
    }

    /// Commands waiting to be sent.
    pub fn queued(&self) -> usize {
        self.session.queue.len()
    }

    /// Requests not yet complete: in flight or queued, oldest first. After a restore these are
    /// the restored messages; a `Published` event names each as it completes.
    pub fn pending_requests(&self) -> Vec<RequestId> {
        let mut ids: Vec<RequestId> = self.session.outgoing.values().map(|o| o.request).collect();
        ids.extend(self.session.subscribing.values().filter_map(|s| s.request));
        ids.extend(self.session.unsubscribing.values().map(|u| u.request));
        ids.extend(self.session.queue.iter().map(|q| match q {
            Queued::Publish { request, .. }
            | Queued::Subscribe { request, .. }
            | Queued::Unsubscribe { request, .. } => *request,
        }));
        super::sort_by_key(&mut ids, |r| (r.0, 0));
        ids
    }

    /// The granted subscriptions.
    pub fn subscriptions(&self) -> &[(TopicFilter, QoS)] {
        &self.session.subscriptions
    }

    /// The records a store holding every op so far would contain.
    pub fn session_records(&self) -> Vec<StoreRecord> {
        self.session.records()
    }

    // ---- inputs ----

    /// The transport is open: sends CONNECT. Starts a new connection in any state.
    pub fn handle_connected(&mut self, now: Instant) {
        if self.conn != Conn::Offline {
            self.lose(ConnectionError::TransportClosed);
        }
        self.closed = false;
        self.decoder.reset();
        self.tx.clear();
        self.ping = None;
        self.new_connection_flow();
        self.send(now, &Packet::Connect(self.config.connect_packet()));
        self.conn = Conn::AwaitingConnAck { deadline: now + self.config.connect_timeout };
    }

    /// Bytes from the transport, in chunks of any size.
    pub fn handle_bytes(&mut self, now: Instant, data: &[u8]) {
        if self.conn == Conn::Offline {
            return; // Late bytes of a connection already ended.
        }
        self.decoder.feed(data);
        loop {
            match self.decoder.next_decoded() {
                Ok(Some(Decoded::Packet(packet))) => {
                    if let Err(e) = self.handle_packet(now, packet) {
                        self.lose(ConnectionError::Protocol(e));
                    }
                    if self.conn == Conn::Offline {
                        return;
                    }
                }
                Ok(Some(Decoded::SkippedPublish(s))) => {
                    if matches!(self.conn, Conn::AwaitingConnAck { .. }) {
                        // [MQTT-3.2.0-1]: the first packet from the server is CONNACK.
                        let e =
                            ProtocolError::UnexpectedPacket { packet: "PUBLISH", state: "awaiting CONNACK" };
                        return self.lose(ConnectionError::Protocol(e));
                    }
                    self.on_oversize_publish(now, s);
                }
                Ok(None) => break,
                Err(e) => return self.lose(ConnectionError::Protocol(ProtocolError::Malformed(e))),
            }
        }
        self.check_timers(now);
    }

    /// A timer set from [`poll_timeout`](Client::poll_timeout) fired. Late or spurious calls are
    /// fine.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.check_timers(now);
    }

    /// The transport closed.
    pub fn handle_closed(&mut self, _now: Instant) {
        self.lose(ConnectionError::TransportClosed);
    }

    /// MQTT over WebSockets: the transport delivered a text frame, which is not MQTT
    /// [MQTT-6.0.0-1]. The connection ends as for a malformed packet (the driver closes the
    /// WebSocket once it sees [`Event::Disconnected`]).
    pub fn handle_text_frame(&mut self, _now: Instant) {
        self.lose(ConnectionError::Protocol(ProtocolError::TextFrame));
    }

    /// The application has the incoming QoS 2 message with packet id `pkid` (an
    /// [`Event::Message`] the driver handed over; call it for each, after handing it).
    /// `pubrec_sent`: the bytes that came out with it (its PUBREC) went to the transport rather
    /// than waiting in the driver. The message is recorded as delivered when its PUBREC may be
    /// lost (not sent yet, or sent on a connection that has ended since): a restore must not
    /// deliver it again when the broker sends it once more. Without these calls a restore may
    /// repeat such a message, never lose one. Returns whether it made a store op (drain the
    /// outputs again).
    pub fn handle_delivered(&mut self, pkid: u16, pubrec_sent: bool) -> bool {
        let Some(state) = self.session.incoming.get_mut(&pkid) else { return false };
        let Incoming::Emitted { cut } = *state else { return false };
        let held = self.held.contains(&(pkid, true));
        let mark = cut || !pubrec_sent || held;
        *state = Incoming::Delivered { marked: mark };
        if mark {
            self.store.push_back(mark_delivered(pkid));
        }
        mark
    }

    // ---- commands ----

    /// Publishes a message; `Published` with the returned id follows on completion.
    pub fn publish(&mut self, now: Instant, message: Message) -> Result<RequestId, UserError> {
        self.check_open()?;
        check_publish(&message)?;
        self.submit(now, Queued::Publish { request: RequestId(0), message })
    }

    /// Subscribes to one or more filters, each checked here ([`TopicFilter::new`]);
    /// `Subscribed` with the granted codes follows.
    pub fn subscribe<S: AsRef<str>>(
        &mut self,
        now: Instant,
        filters: &[(S, QoS)],
    ) -> Result<RequestId, UserError> {
        self.check_open()?;
        let filters = check_subscribe(filters)?;
        self.submit(now, Queued::Subscribe { request: RequestId(0), filters })
    }

    /// Unsubscribes from one or more filters, each checked here; `Unsubscribed` follows.
    pub fn unsubscribe<S: AsRef<str>>(
        &mut self,
        now: Instant,
        filters: &[S],
    ) -> Result<RequestId, UserError> {
        self.check_open()?;
        let filters = check_unsubscribe(filters)?;
        self.submit(now, Queued::Unsubscribe { request: RequestId(0), filters })
    }

    /// Sends DISCONNECT (when connected) and ends the connection; the session stays, so a later
    /// `handle_connected` resumes it. Commands are refused until then.
    pub fn disconnect(&mut self, now: Instant) {
        if self.conn == Conn::Connected {
            self.send(now, &Packet::Disconnect);
        }
        self.closed = true;
        if self.conn != Conn::Offline {
            let was_connected = self.conn == Conn::Connected;
            self.conn = Conn::Offline;
            self.ping = None;
            self.new_connection_flow();
            if was_connected && self.config.clean_session {
                self.discard_session(); // [MQTT-3.1.2-6], as in `lose`
            }
            self.pubrecs_may_be_lost();
            self.events.push_back(Event::Disconnected { reason: ConnectionError::Requested });
        }
    }

    // ---- outputs ----

    /// The next store operation. Apply all of them before sending what `poll_transmit` gives.
    pub fn poll_store(&mut self) -> Option<StoreOp> {
        self.store.pop_front()
    }

    /// Moves every byte waiting to be sent into `out`; returns how many.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        let n = self.tx.len();
        if out.is_empty() {
            core::mem::swap(out, &mut self.tx);
        } else {
            out.append(&mut self.tx);
        }
        n
    }

    /// When `handle_timeout` should be called next. The keepalive deadline follows the last
    /// packet sent, so this moves with nearly every send: a driver may keep an earlier timer
    /// armed instead of re-arming each time, since an early or spurious `handle_timeout` is
    /// harmless.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.conn {
            Conn::Offline => None,
            Conn::AwaitingConnAck { deadline } => Some(deadline),
            Conn::Connected => match self.ping {
                Some((deadline, _)) if !self.read_paused => Some(deadline),
                _ if self.config.keep_alive.is_zero() => None,
                _ => self.last_sent.map(|t| t + self.config.keep_alive),
            },
        }
    }

    /// The next event for the application or driver.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ---- internals ----

    fn check_open(&self) -> Result<(), UserError> {
        if self.closed {
            Err(UserError::Closed)
        } else {
            Ok(())
        }
    }

    /// [MQTT-3.1.2-6]: with CleanSession = 1 the client discards its session state too (once
    /// CONNACK confirms the broker did): the
    /// packet flows in progress end. Their messages are not lost: a PUBLISH not yet acknowledged
    /// goes back to the head of the queue, to be sent as a new message (QoS 2 may then arrive
    /// twice: the broker forgot that it had it); a QoS 2 message past PUBREC is complete (the
    /// broker owns it); pending SUBSCRIBE / UNSUBSCRIBE are queued again. The subscription list
    /// is the application's wish, kept, and sent again after CONNACK.
    fn discard_session(&mut self) {
        let mut flows: Vec<(RequestId, Queued)> = Vec::new();
        for (pkid, o) in self.session.outgoing.drain() {
            self.store.push_back(StoreOp::Delete(StoreKey::Outgoing(pkid)));
            match o.state {
                OutState::Sent(p) => {
                    let message =
                        Message { topic: p.topic, payload: p.payload, qos: p.qos, retain: p.retain };
                    flows.push((o.request, Queued::Publish { request: o.request, message }));
                }
                OutState::Released { .. } => self.events.push_back(Event::Published { id: o.request }),
            }
        }
        for (_, s) in self.session.subscribing.drain() {
            if let Some(request) = s.request {
                flows.push((request, Queued::Subscribe { request, filters: s.filters }));
            }
        }
        for (_, u) in self.session.unsubscribing.drain() {
            flows.push((u.request, Queued::Unsubscribe { request: u.request, filters: u.filters }));
        }
        super::sort_by_key(&mut flows, |(r, _)| (r.0, 0));
        for (_, cmd) in flows.into_iter().rev() {
            if let Queued::Publish { request, message } = &cmd {
                let record = StoreRecord::Queued { request: *request, message: message.clone() };
                self.store.push_back(StoreOp::Put(record));
            }
            self.session.queue.push_front(cmd);
        }
        self.forget_incoming();
    }

    /// Sends a command now if it can go out in order, else queues it. `cmd`'s request id is
    /// assigned here, once the command is accepted. (One function for the three commands rather
    /// than one per command: its code is in the wasm module once.)
    fn submit(&mut self, now: Instant, mut cmd: Queued) -> Result<RequestId, UserError> {
        let sendable = self.conn == Conn::Connected && self.session.queue.is_empty();
        if !sendable && self.session.queue.len() >= self.config.max_queued {
            return Err(UserError::QueueFull { max: self.config.max_queued });
        }
        let request = self.session.next_request();
        match &mut cmd {
            Queued::Publish { request: r, .. }
            | Queued::Subscribe { request: r, .. }
            | Queued::Unsubscribe { request: r, .. } => *r = request,
        }
        if sendable && self.has_room(&cmd) {
            self.dispatch(now, cmd);
        } else if self.session.queue.len() >= self.config.max_queued {
            return Err(UserError::QueueFull { max: self.config.max_queued });
        } else {
            if let Queued::Publish { request, message } = &cmd {
                let record = StoreRecord::Queued { request: *request, message: message.clone() };
                self.store.push_back(StoreOp::Put(record));
            }
            self.session.queue.push_back(cmd);
        }
        self.check_timers(now);
        Ok(request)
    }

    fn has_room(&self, cmd: &Queued) -> bool {
        if !cmd.needs_pkid() {
            return true;
        }
        if self.session.inflight() >= self.config.max_inflight {
            return false;
        }
        // A QoS 2 PUBLISH waits while `max_inflight_qos2` QoS 2 messages await PUBREC: the
        // broker holds at most those awaiting PUBREL (the PUBRELs of the others are ahead in
        // the byte stream: `on_pubrec` writes each at once, `resend_inflight` all of them first
        // after CONNACK, and nothing is sent before CONNACK), so with the limit below its quota
        // every PUBLISH, new or resent, finds room (see `Config::max_inflight_qos2`).
        !matches!(cmd, Queued::Publish { message, .. } if message.qos == QoS::ExactlyOnce)
            || self.session.unreleased_qos2() < self.config.max_inflight_qos2
    }

    /// Sends a command (the connection is up and there is room). A packet id that cannot be
    /// found (all 65,535 taken) puts it back at the head of the queue.
    fn dispatch(&mut self, now: Instant, cmd: Queued) {
        let pkid = if cmd.needs_pkid() {
            match self.session.alloc_pkid() {
                Some(id) => id,
                None => return self.session.queue.push_front(cmd),
            }
        } else {
            0
        };
        match cmd {
            Queued::Publish { request, message } if message.qos == QoS::AtMostOnce => {
                self.send(now, &Packet::Publish(message.to_publish(0)));
                self.events.push_back(Event::Published { id: request });
            }
            Queued::Publish { request, message } => {
                let publish = message.to_publish(pkid);
                self.store
                    .push_back(StoreOp::Put(StoreRecord::Outgoing { request, publish: publish.clone() }));
                self.send(now, &Packet::Publish(publish.clone()));
                self.session.outgoing.insert(pkid, Outgoing { request, state: OutState::Sent(publish) });
            }
            Queued::Subscribe { request, filters } => {
                self.send(now, &Packet::Subscribe(Subscribe { pkid, filters: filters.clone() }));
                self.session.subscribing.insert(pkid, PendingSubscribe { request: Some(request), filters });
            }
            Queued::Unsubscribe { request, filters } => {
                self.send(now, &Packet::Unsubscribe(Unsubscribe { pkid, filters: filters.clone() }));
                self.session.unsubscribing.insert(pkid, PendingUnsubscribe { request, filters });
            }
        }
    }

    /// Sends queued commands, in order, while the connection is up and there is room.
    fn drain_queue(&mut self, now: Instant) {
        while self.conn == Conn::Connected {
            match self.session.queue.front() {
                Some(cmd) if self.has_room(cmd) => {}
                _ => return,
            }
            let Some(cmd) = self.session.queue.pop_front() else { return };
            let queued_key = match &cmd {
                Queued::Publish { request, .. } => Some(StoreKey::Queued(*request)),
                _ => None,
            };
            let before = self.session.queue.len();
            self.dispatch(now, cmd);
            if self.session.queue.len() > before {
                return; // No packet id free: it went back to the head.
            }
            // Deleted after the in-flight record is written: a crash between the two leaves a
            // duplicate that restore resolves, never a loss.
            if let Some(key) = queued_key {
                self.store.push_back(StoreOp::Delete(key));
            }
        }
    }

    fn send(&mut self, now: Instant, packet: &Packet) {
        // Commands validated their packets; the client builds the rest itself.
        if let Err(e) = packet.encode(&mut self.tx) {
            debug_assert!(false, "client built an invalid {}: {e}", packet.name());
            return;
        }
        self.last_sent = Some(now);
    }

    /// Ends the connection (once) and reports why. The session stays for the next one.
    fn lose(&mut self, reason: ConnectionError) {
        if self.conn == Conn::Offline {
            return;
        }
        let was_connected = self.conn == Conn::Connected;
        self.conn = Conn::Offline;
        self.tx.clear();
        self.decoder.reset();
        self.ping = None;
        self.new_connection_flow();
        // A clean session lasts as long as its connection [MQTT-3.1.2-6]: the broker drops it
        // now, so ids kept for it would only shadow the next session's.
        if was_connected && self.config.clean_session {
            self.discard_session();
        }
        self.pubrecs_may_be_lost();
        self.events.push_back(Event::Disconnected { reason });
    }

    /// A connection ended: the PUBRECs sent on it may be lost with it (see `Incoming`). The
    /// records are written in packet id order (the map's).
    fn pubrecs_may_be_lost(&mut self) {
        for (&pkid, state) in self.session.incoming.iter_mut() {
            match *state {
                Incoming::Emitted { .. } => *state = Incoming::Emitted { cut: true },
                Incoming::Delivered { marked: false } => {
                    *state = Incoming::Delivered { marked: true };
                    self.store.push_back(mark_delivered(pkid));
                }
                _ => {}
            }
        }
    }

    /// The broker has no session (or is dropping it): no PUBREL will come for the ids we hold.
    /// Deleted in packet id order (the map's).
    fn forget_incoming(&mut self) {
        for (id, _) in self.session.incoming.drain() {
            self.store.push_back(StoreOp::Delete(StoreKey::Incoming(id)));
        }
    }

    fn check_timers(&mut self, now: Instant) {
        match self.conn {
            Conn::Offline => {}
            Conn::AwaitingConnAck { deadline } => {
                if now >= deadline {
                    self.lose(ConnectionError::ConnAckTimeout);
                }
            }
            Conn::Connected => self.check_keepalive(now),
        }
    }

    /// [MQTT-3.1.2-23]: a PINGREQ when nothing was sent for the keepalive interval, and a dead
    /// connection when its PINGRESP does not come.
    fn check_keepalive(&mut self, now: Instant) {
        if self.config.keep_alive.is_zero() {
            return;
        }
        if self.read_paused {
            // No PINGRESP can be read: no deadline, but a PINGREQ every interval all the same,
            // so that the broker keeps hearing from us [MQTT-3.1.2-24].
            if self.last_sent.map_or(true, |t| now >= t + self.config.keep_alive) {
                self.send(now, &Packet::PingReq);
                self.ping_unread = true;
            }
            return;
        }
        match self.ping {
            Some((deadline, extended)) if now >= deadline => {
                // Woken well past the deadline: the timer (or the whole page) slept, and a
                // PINGRESP may be waiting unread. Give the network a moment once.
                if !extended && now >= deadline + LATE_TIMER {
                    self.ping = Some((now + WAKE_GRACE, true));
                } else {
                    self.lose(ConnectionError::KeepAliveTimeout);
                }
            }
            Some(_) => {}
            None => {
                let due = self.last_sent.map_or(true, |t| now >= t + self.config.keep_alive);
                if due {
                    self.send(now, &Packet::PingReq);
                    self.ping = Some((now + self.config.effective_ping_timeout(), false));
                }
            }
        }
    }
}

fn mark_delivered(pkid: u16) -> StoreOp {
    StoreOp::Put(StoreRecord::Incoming { pkid, delivered: true })
}

/// The checks [`Client::publish`] makes of a message before taking it: its packet's size (the
/// topic was checked when it was made, [`Topic`](crate::codec::Topic)). Public so that a driver
/// handing a command to another client (a tab of a shared connection) refuses what the core
/// would, with the same error, before anything is sent.
pub fn check_publish(message: &Message) -> Result<(), UserError> {
    let probe = message.to_publish(if message.qos == QoS::AtMostOnce { 0 } else { 1 });
    Packet::Publish(probe).encoded_len().map_err(|e| match e {
        CodecError::PacketTooLarge { .. } | CodecError::StringTooLong(_) => UserError::TooLarge(e),
        e => UserError::InvalidTopic(e),
    })?;
    Ok(())
}

/// The checks [`Client::subscribe`] makes: at least one filter [MQTT-3.8.3-3], each a valid
/// [`TopicFilter`], the packet within MQTT's size.
pub fn check_subscribe<S: AsRef<str>>(filters: &[(S, QoS)]) -> Result<Vec<(TopicFilter, QoS)>, UserError> {
    if filters.is_empty() {
        return Err(UserError::NoFilters);
    }
    // A loop rather than `collect::<Result<..>>`: smaller in the wasm module.
    let mut checked = Vec::with_capacity(filters.len());
    for (f, q) in filters {
        checked.push((TopicFilter::new(f.as_ref()).map_err(UserError::from_filter)?, *q));
    }
    let probe = Subscribe { pkid: 1, filters: checked };
    probe.remaining_len().map_err(UserError::from_filter)?;
    Ok(probe.filters)
}

/// The checks [`Client::unsubscribe`] makes: at least one filter [MQTT-3.10.3-2], each a valid
/// [`TopicFilter`], the packet within MQTT's size.
pub fn check_unsubscribe<S: AsRef<str>>(filters: &[S]) -> Result<Vec<TopicFilter>, UserError> {
    if filters.is_empty() {
        return Err(UserError::NoFilters);
    }
    let mut checked = Vec::with_capacity(filters.len());
    for f in filters {
        checked.push(TopicFilter::new(f.as_ref()).map_err(UserError::from_filter)?);
    }
    let probe = Unsubscribe { pkid: 1, filters: checked };
    probe.remaining_len().map_err(UserError::from_filter)?;
    Ok(probe.filters)
}
