//! Errors of the session layer: who broke which rule.

use super::ErrorCode;
use crate::codec::{CodecError, ConnectReturnCode, Text};
use alloc::string::String;
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
    /// A CONNACK with Session Present set in answer to a clean-session CONNECT [MQTT-3.2.2-1].
    SessionPresentOnCleanSession,
    /// MQTT over WebSockets: a text frame, where MQTT is sent in binary frames [MQTT-6.0.0-1].
    TextFrame,
}

impl ProtocolError {
    /// The message `Display` shows, built without `core::fmt` (see [`CodecError::message`]).
    pub fn message(&self) -> String {
        let mut t = Text::default();
        self.describe(&mut t);
        t.0
    }

    fn describe(&self, t: &mut Text) {
        match self {
            ProtocolError::Malformed(e) => e.describe(t.s("malformed packet from the broker: ")),
            ProtocolError::UnexpectedPacket { packet, state } => {
                t.s("unexpected ").s(packet).s(" from the broker while ").s(state);
            }
            ProtocolError::UnknownPacketId { packet, pkid } => {
                t.s(packet).s(" for packet identifier ").n(*pkid as u64).s(", which is not in use");
            }
            ProtocolError::TextFrame => {
                t.s("a WebSocket text frame: MQTT is sent in binary frames [MQTT-6.0.0-1]");
            }
            ProtocolError::SessionPresentOnCleanSession => {
                t.s("CONNACK with Session Present set in answer to a clean session [MQTT-3.2.2-1]");
            }
            ProtocolError::SubAckCountMismatch { expected, got } => {
                t.s("SUBACK with ").n(*got as u64).s(" return codes for ").n(*expected as u64);
                t.s(" filters [MQTT-3.8.4-5]");
            }
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for ProtocolError {}

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
    /// The stable code, the same for every driver (`code().as_str()` is the JS `code`).
    pub fn code(&self) -> ErrorCode {
        match self {
            ConnectionError::Refused(_) => ErrorCode::ConnectRefused,
            ConnectionError::Protocol(_) => ErrorCode::ProtocolError,
            ConnectionError::ConnAckTimeout => ErrorCode::Timeout,
            ConnectionError::KeepAliveTimeout => ErrorCode::KeepaliveTimeout,
            ConnectionError::TransportClosed => ErrorCode::ConnectionLost,
            ConnectionError::Requested => ErrorCode::Closed,
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

impl ConnectionError {
    /// The message `Display` shows, built without `core::fmt` (see [`CodecError::message`]).
    pub fn message(&self) -> String {
        let mut t = Text::default();
        match self {
            ConnectionError::Refused(code) => {
                t.s("connection refused: ").s(code.reason()).s(" (CONNACK code ").n(*code as u64).s(")");
            }
            ConnectionError::Protocol(e) => e.describe(t.s("protocol error: ")),
            ConnectionError::ConnAckTimeout => {
                t.s("no CONNACK within the connect timeout");
            }
            ConnectionError::KeepAliveTimeout => {
                t.s("no PINGRESP within the ping timeout");
            }
            ConnectionError::TransportClosed => {
                t.s("the connection was closed");
            }
            ConnectionError::Requested => {
                t.s("disconnected by the application");
            }
        }
        t.0
    }
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for ConnectionError {}

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
    /// The error for a topic name that [`Topic::new`](crate::codec::Topic::new) refused:
    /// [`UserError::TooLarge`] when it is longer than 65,535 bytes, [`UserError::InvalidTopic`]
    /// otherwise.
    pub fn from_topic(e: CodecError) -> UserError {
        match e {
            CodecError::StringTooLong(_) => UserError::TooLarge(e),
            e => UserError::InvalidTopic(e),
        }
    }

    /// The error for a topic filter that [`TopicFilter::new`](crate::codec::TopicFilter::new)
    /// or a SUBSCRIBE / UNSUBSCRIBE refused: [`UserError::NoFilters`], [`UserError::TooLarge`],
    /// or [`UserError::InvalidFilter`].
    pub fn from_filter(e: CodecError) -> UserError {
        match e {
            CodecError::NoTopicFilters => UserError::NoFilters,
            CodecError::PacketTooLarge { .. } | CodecError::StringTooLong(_) => UserError::TooLarge(e),
            e => UserError::InvalidFilter(e),
        }
    }

    /// The stable code, the same for every driver (`code().as_str()` is the JS `code`).
    pub fn code(&self) -> ErrorCode {
        match self {
            UserError::InvalidTopic(_) | UserError::InvalidFilter(_) => ErrorCode::InvalidTopic,
            UserError::NoFilters => ErrorCode::InvalidArgument,
            UserError::TooLarge(_) => ErrorCode::TooLarge,
            UserError::QueueFull { .. } => ErrorCode::QueueFull,
            UserError::InvalidConfig(_) => ErrorCode::InvalidArgument,
            UserError::Closed => ErrorCode::Closed,
        }
    }
}

impl UserError {
    /// The message `Display` shows, built without `core::fmt` (see [`CodecError::message`]).
    pub fn message(&self) -> String {
        let mut t = Text::default();
        match self {
            UserError::InvalidTopic(e) => e.describe(t.s("invalid topic name: ")),
            UserError::InvalidFilter(e) => e.describe(t.s("invalid topic filter: ")),
            UserError::NoFilters => {
                t.s("at least one topic filter is required");
            }
            UserError::TooLarge(e) => e.describe(t.s("packet too large: ")),
            UserError::QueueFull { max } => {
                t.s("the queue is full (").n(*max as u64).s(" messages)");
            }
            UserError::InvalidConfig(why) => {
                t.s("invalid configuration: ").s(why);
            }
            UserError::Closed => {
                t.s("the client is closed");
            }
        }
        t.0
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for UserError {}

/// Stored session records that cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RestoreError {
    /// A record's bytes do not parse.
    Corrupt(&'static str),
    /// The configuration is invalid.
    Config(UserError),
}

impl RestoreError {
    /// The stable code: `SESSION_CORRUPT` for a record that does not parse, the [`UserError`]'s
    /// code for an invalid configuration.
    pub fn code(&self) -> ErrorCode {
        match self {
            RestoreError::Corrupt(_) => ErrorCode::SessionCorrupt,
            RestoreError::Config(e) => e.code(),
        }
    }

    /// The message `Display` shows, built without `core::fmt` (see [`CodecError::message`]).
    pub fn message(&self) -> String {
        match self {
            RestoreError::Corrupt(why) => {
                let mut t = Text::default();
                t.s("corrupt session record: ").s(why);
                t.0
            }
            RestoreError::Config(e) => e.message(),
        }
    }
}

impl fmt::Display for RestoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for RestoreError {}
