//! Errors of the session layer: who broke which rule.

use crate::codec::{CodecError, ConnectReturnCode};
use core::fmt;

/// The broker broke a rule of the protocol. The connection is closed and this is the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The bytes were not a well-formed packet (includes an oversize packet).
    Malformed(CodecError),
    /// A packet a broker never sends to a client, or one that is wrong in the current state
    /// (anything before CONNACK [MQTT-3.2.0-1], a second CONNACK).
    UnexpectedPacket { packet: &'static str, state: &'static str },
    /// An acknowledgement for a packet identifier this client is not waiting on.
    UnknownPacketId { packet: &'static str, pkid: u16 },
    /// A SUBACK whose return codes do not match the SUBSCRIBE's filters one to one [MQTT-3.8.4-5].
    SubAckCountMismatch { expected: usize, got: usize },
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Malformed(e) => write!(f, "malformed packet from the broker: {e}"),
            ProtocolError::UnexpectedPacket { packet, state } => {
                write!(f, "unexpected {packet} from the broker while {state}")
            }
            ProtocolError::UnknownPacketId { packet, pkid } => {
                write!(f, "{packet} for packet identifier {pkid}, which is not in use")
            }
            ProtocolError::SubAckCountMismatch { expected, got } => {
                write!(f, "SUBACK with {got} return codes for {expected} filters [MQTT-3.8.4-5]")
            }
        }
    }
}

impl std::error::Error for ProtocolError {}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The broker refused the connection with a CONNACK return code 1..=5.
    Refused(ConnectReturnCode),
    /// The broker broke a rule.
    Protocol(ProtocolError),
    /// No CONNACK within the connect timeout.
    ConnAckTimeout,
    /// No PINGRESP within the ping timeout after a PINGREQ, and nothing else heard either.
    KeepAliveTimeout,
    /// The transport closed (the driver called `handle_closed`).
    TransportClosed,
    /// The application asked to disconnect.
    Requested,
}

impl ConnectionError {
    /// A stable code string for the JS API and logs.
    pub fn code(&self) -> &'static str {
        match self {
            ConnectionError::Refused(_) => "CONNECT_REFUSED",
            ConnectionError::Protocol(_) => "PROTOCOL_ERROR",
            ConnectionError::ConnAckTimeout => "TIMEOUT",
            ConnectionError::KeepAliveTimeout => "KEEPALIVE_TIMEOUT",
            ConnectionError::TransportClosed => "CONNECTION_LOST",
            ConnectionError::Requested => "CLOSED",
        }
    }

    /// Whether reconnecting can help: a refusal for credentials or authorization will not heal
    /// by itself, and a requested disconnect means stop.
    pub fn is_retryable(&self) -> bool {
        match self {
            ConnectionError::Refused(code) => matches!(code, ConnectReturnCode::ServerUnavailable),
            ConnectionError::Requested => false,
            _ => true,
        }
    }
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionError::Refused(code) => {
                write!(f, "connection refused: {} (CONNACK code {})", code.reason(), *code as u8)
            }
            ConnectionError::Protocol(e) => write!(f, "protocol error: {e}"),
            ConnectionError::ConnAckTimeout => write!(f, "no CONNACK within the connect timeout"),
            ConnectionError::KeepAliveTimeout => write!(f, "no PINGRESP within the ping timeout"),
            ConnectionError::TransportClosed => write!(f, "the connection was closed"),
            ConnectionError::Requested => write!(f, "disconnected by the application"),
        }
    }
}

impl std::error::Error for ConnectionError {}

/// The caller asked for something invalid or past a limit. Nothing was sent or queued.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserError {
    /// A topic name that cannot be published to (empty, wildcard, U+0000, too long).
    InvalidTopic(CodecError),
    /// A topic filter that cannot be subscribed to.
    InvalidFilter(CodecError),
    /// SUBSCRIBE or UNSUBSCRIBE with no filter [MQTT-3.8.3-3, MQTT-3.10.3-2].
    NoFilters,
    /// The packet would exceed the largest size MQTT can encode.
    TooLarge(CodecError),
    /// The offline / overflow queue is full (`Config::max_queued`).
    QueueFull { max: usize },
    /// The configuration cannot produce a valid CONNECT.
    InvalidConfig(&'static str),
    /// The client was told to disconnect and has not been connected again since.
    Closed,
}

impl UserError {
    /// A stable code string for the JS API.
    pub fn code(&self) -> &'static str {
        match self {
            UserError::InvalidTopic(_) | UserError::InvalidFilter(_) => "INVALID_TOPIC",
            UserError::NoFilters => "INVALID_ARGUMENT",
            UserError::TooLarge(_) => "TOO_LARGE",
            UserError::QueueFull { .. } => "QUEUE_FULL",
            UserError::InvalidConfig(_) => "INVALID_ARGUMENT",
            UserError::Closed => "CLOSED",
        }
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserError::InvalidTopic(e) => write!(f, "invalid topic name: {e}"),
            UserError::InvalidFilter(e) => write!(f, "invalid topic filter: {e}"),
            UserError::NoFilters => write!(f, "at least one topic filter is required"),
            UserError::TooLarge(e) => write!(f, "packet too large: {e}"),
            UserError::QueueFull { max } => write!(f, "the queue is full ({max} messages)"),
            UserError::InvalidConfig(why) => write!(f, "invalid configuration: {why}"),
            UserError::Closed => write!(f, "the client is closed"),
        }
    }
}

impl std::error::Error for UserError {}

/// Stored session records that cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RestoreError {
    /// A record's bytes do not parse.
    Corrupt(&'static str),
    /// The configuration is invalid.
    Config(UserError),
}

impl fmt::Display for RestoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestoreError::Corrupt(why) => write!(f, "corrupt session record: {why}"),
            RestoreError::Config(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RestoreError {}
