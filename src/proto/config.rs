//! Client configuration, validated before anything is sent.

use super::UserError;
use crate::codec::{Connect, LastWill, Packet, MAX_PACKET_SIZE};
use alloc::string::String;
use bytes::Bytes;
use core::time::Duration;

/// How a client connects and the limits it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Client identifier; empty asks the broker to assign one (only with `clean_session`)
    /// [MQTT-3.1.3-6, -7].
    pub client_id: String,
    /// Start a new session (true) or resume the broker's stored one (false).
    pub clean_session: bool,
    /// Keepalive interval; zero turns keepalive off. Whole seconds on the wire, at most 65,535.
    pub keep_alive: Duration,
    /// How long to wait for PINGRESP after a PINGREQ before declaring the connection dead.
    /// `None`: one keepalive interval.
    pub ping_timeout: Option<Duration>,
    /// How long to wait for CONNACK after the transport opened.
    pub connect_timeout: Duration,
    pub will: Option<LastWill>,
    pub username: Option<String>,
    /// Never stored in a session record.
    pub password: Option<Bytes>,
    /// Outgoing QoS 1/2 messages, SUBSCRIBE and UNSUBSCRIBE awaiting acknowledgement at once.
    /// More are queued. The client's own resubscription after the broker lost the session is
    /// sent regardless, so it may take one place more. Default 100: Mosquitto (default
    /// configuration), rumqttd and aedes took 256 QoS 1 messages in flight without loss or
    /// stall in `bench/window`; Mosquitto lost messages at 1000 (its per-client queue of
    /// 1000, `max_queued_messages`, overflowed); see README "In-flight window".
    pub max_inflight: usize,
    /// Of those, outgoing QoS 2 messages awaiting PUBREC; past it a QoS 2 PUBLISH waits (and
    /// the commands issued after it wait behind it). A message past PUBREC no longer counts: its
    /// PUBREL is written at once, and again first of all after every CONNACK, so a broker has
    /// released it before any later PUBLISH reaches it; awaiting PUBCOMP, it counts toward
    /// `max_inflight` only. Keep it *below* the broker's quota of incoming QoS 2 messages
    /// awaiting PUBREL: a broker may hold all of these (their PUBRECs lost with a connection)
    /// when the messages in flight are resent in their original order after a reconnect, and a
    /// QoS 1 one resent among them must still find room. Default 19: Mosquitto counts incoming
    /// QoS 2 messages awaiting PUBREL against its `max_inflight_messages` (20 by default) and,
    /// with an MQTT 3.1.1 client, acknowledges and silently drops any QoS 1/2 PUBLISH that
    /// arrives past it (`bench/window`: at 50 in flight, 2 messages in 5 were lost); see README
    /// "In-flight window".
    pub max_inflight_qos2: usize,
    /// Commands waiting while offline or while `max_inflight` is reached. Past it a command fails
    /// with [`UserError::QueueFull`].
    pub max_queued: usize,
    /// Largest packet accepted from the broker; a larger one closes the connection.
    pub max_packet_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            client_id: String::new(),
            clean_session: true,
            keep_alive: Duration::from_secs(60),
            ping_timeout: None,
            connect_timeout: Duration::from_secs(30),
            will: None,
            username: None,
            password: None,
            max_inflight: 100,
            max_inflight_qos2: 19,
            max_queued: 10_000,
            max_packet_size: 1024 * 1024,
        }
    }
}

impl Config {
    /// A configuration with this client id and the defaults.
    pub fn new(client_id: impl Into<String>) -> Self {
        Config { client_id: client_id.into(), ..Config::default() }
    }

    /// Checks everything a CONNECT needs, so that a bad argument is refused before connecting.
    pub fn validate(&self) -> Result<(), UserError> {
        // [MQTT-3.1.3-7]: a zero-byte client id needs CleanSession = 1.
        if self.client_id.is_empty() && !self.clean_session {
            return Err(UserError::InvalidConfig("an empty client id requires clean session [MQTT-3.1.3-7]"));
        }
        if self.keep_alive.as_secs() > u16::MAX as u64 {
            return Err(UserError::InvalidConfig("keepalive is longer than 65535 seconds"));
        }
        if self.keep_alive.subsec_nanos() != 0 {
            return Err(UserError::InvalidConfig("keepalive must be whole seconds"));
        }
        if self.max_inflight == 0 || self.max_inflight > u16::MAX as usize {
            return Err(UserError::InvalidConfig("max_inflight must be 1..=65535"));
        }
        if self.max_inflight_qos2 == 0 || self.max_inflight_qos2 > u16::MAX as usize {
            return Err(UserError::InvalidConfig("max_inflight_qos2 must be 1..=65535"));
        }
        if self.max_packet_size < 16 || self.max_packet_size > MAX_PACKET_SIZE {
            return Err(UserError::InvalidConfig("max_packet_size must be 16..=268435460"));
        }
        if self.password.is_some() && self.username.is_none() {
            return Err(UserError::InvalidConfig("a password requires a user name [MQTT-3.1.2-22]"));
        }
        Packet::Connect(self.connect_packet()).encoded_len().map_err(UserError::TooLarge)?;
        Ok(())
    }

    /// The ping timeout in force.
    pub fn effective_ping_timeout(&self) -> Duration {
        self.ping_timeout.unwrap_or(self.keep_alive)
    }

    pub(crate) fn connect_packet(&self) -> Connect {
        Connect {
            client_id: self.client_id.clone(),
            clean_session: self.clean_session,
            keep_alive: self.keep_alive.as_secs().min(u16::MAX as u64) as u16,
            will: self.will.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
        }
    }
}
