//! What the client tells its driver and application.

use super::ConnectionError;
use super::UserError;
use crate::codec::{ByteStr, Publish, QoS, SubAckCode, Topic};
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

/// The handle a command returns; its completion event names it. Ids increase within a client's
/// life and are never shared by two pending requests. A restored client continues after the
/// highest id in its records, so a restored request keeps its id and no new one takes it; an id
/// whose request completed before the restore may be issued again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// An application message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Checked when it was made (see [`Topic`]).
    pub topic: Topic,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
}

impl Message {
    pub fn new(topic: Topic, payload: impl Into<Bytes>, qos: QoS) -> Self {
        Message { topic, payload: payload.into(), qos, retain: false }
    }

    /// A message to a topic name given as a string: checks it ([`Topic::new`]) and refuses it
    /// as `Client::publish` does a message too large, [`UserError::TooLarge`] when longer than
    /// 65,535 bytes and [`UserError::InvalidTopic`] for any other broken rule.
    pub fn try_new(
        topic: impl Into<ByteStr>,
        payload: impl Into<Bytes>,
        qos: QoS,
    ) -> Result<Self, UserError> {
        let topic = Topic::new(topic).map_err(UserError::from_topic)?;
        Ok(Message::new(topic, payload, qos))
    }

    pub fn retain(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }

    pub(crate) fn to_publish(&self, pkid: u16) -> Publish {
        Publish {
            dup: false,
            qos: self.qos,
            retain: self.retain,
            topic: self.topic.clone(),
            pkid,
            payload: self.payload.clone(),
        }
    }
}

/// Output of the client, taken with `Client::poll_event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// CONNACK 0 arrived.
    Connected { session_present: bool },
    /// The connection ended; the driver closes its transport (if still open) and decides
    /// whether to reconnect (see [`ConnectionError::is_retryable`]). Sent once per connection.
    Disconnected { reason: ConnectionError },
    /// An application message from the broker.
    Message(Publish),
    /// A publish completed: QoS 0 handed to the transport, QoS 1 PUBACK, QoS 2 PUBCOMP.
    Published { id: RequestId },
    /// SUBACK: one code per filter, in the order given.
    Subscribed { id: RequestId, codes: Vec<SubAckCode> },
    /// UNSUBACK.
    Unsubscribed { id: RequestId },
    /// An acknowledgement (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK) for a packet identifier the
    /// client has nothing in flight for: ignored, the connection stays up (a late duplicate, or
    /// a broker that lost track). For a PUBREC the client still answered with PUBREL, so the
    /// broker can finish its side. A driver reports it (a log line, a counter), never as an error.
    Ignored { packet: &'static str, pkid: u16 },
    /// An incoming PUBLISH larger than `Config::max_packet_size`: its bytes were skipped (never
    /// buffered past the topic), it was acknowledged (PUBACK, or PUBREC and later PUBCOMP) so
    /// the broker does not send it again, and it is not delivered. A driver reports it to the
    /// application as a `TOO_LARGE` error that does not end the connection.
    TooLarge { topic: String, qos: QoS, size: usize },
    /// A QoS 2 PUBLISH again for a packet id whose message this session already handed over
    /// ([`Event::Message`]) and the broker has not released: answered with PUBREC again, not
    /// for the application (a client alone ignores it). A driver that hands each message on to
    /// several receivers (the browser's `share: "tabs"`) gives it to those that may have missed
    /// the first one.
    Redelivered(Publish),
    /// PUBREL for an incoming QoS 2 packet id this session held: its exchange is over, the
    /// broker may use the id for a new message. A client alone ignores it.
    Released { pkid: u16 },
}
