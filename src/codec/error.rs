//! The codec's one error type: a broken rule of the MQTT 3.1.1 wire format.

use core::fmt;

/// Why a packet could not be decoded or encoded.
///
/// Each variant names the statement of the MQTT 3.1.1 standard it enforces (see
/// [`CodecError::statement`]). Decoding never reports "need more bytes" as an error: that is
/// `Ok(None)`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// Packet type 0 or 15: reserved [MQTT-2.2.1].
    ReservedPacketType(u8),
    /// The fixed header's flag bits are not those the packet type requires [MQTT-2.2.2-1, -2].
    InvalidHeaderFlags { packet_type: u8, flags: u8 },
    /// The remaining length used more than 4 bytes [MQTT-2.2.3].
    MalformedRemainingLength,
    /// The packet is larger than the configured maximum (or than 268,435,455 bytes).
    PacketTooLarge { size: usize, max: usize },
    /// The remaining length ended before a field did.
    UnexpectedEnd,
    /// Bytes are left over after the last field of a fixed-size packet.
    TrailingBytes,
    /// QoS 3 in a PUBLISH, a will or a subscription [MQTT-3.3.1-4].
    InvalidQoS(u8),
    /// DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2].
    DupWithQoS0,
    /// A string that is not well-formed UTF-8 [MQTT-1.5.3-1].
    InvalidUtf8,
    /// A string containing U+0000 [MQTT-1.5.3-2].
    NullCharacter,
    /// A string or binary field longer than 65,535 bytes [MQTT-1.5.3].
    StringTooLong(usize),
    /// Protocol name other than "MQTT" [MQTT-3.1.2-1].
    InvalidProtocolName,
    /// Protocol level other than 4 (3.1.1) [MQTT-3.1.2-2].
    UnsupportedProtocolLevel(u8),
    /// CONNECT reserved flag set [MQTT-3.1.2-3].
    ConnectReservedFlag,
    /// Will QoS or Will Retain set without the Will Flag [MQTT-3.1.2-11, -13, -15].
    WillFlagsWithoutWill,
    /// Password flag set without the User Name flag [MQTT-3.1.2-22].
    PasswordWithoutUsername,
    /// CONNACK acknowledge flags bits 7-1 are reserved [MQTT-3.2.2-1].
    ConnAckReservedFlags,
    /// CONNACK return code above 5 [MQTT-3.2.2-6].
    InvalidConnAckCode(u8),
    /// Session present with a non-zero return code [MQTT-3.2.2-4].
    SessionPresentWithRefusal,
    /// Packet identifier 0 [MQTT-2.3.1-1].
    ZeroPacketId,
    /// A packet identifier on a QoS 0 PUBLISH to be encoded [MQTT-2.3.1-5].
    PacketIdWithQoS0,
    /// A wildcard character in a PUBLISH topic name [MQTT-3.3.2-2].
    WildcardInTopicName,
    /// A topic name or filter of zero length [MQTT-4.7.3-1].
    EmptyTopic,
    /// `#` not alone in the last level, or `+` not alone in its level [MQTT-4.7.1-2, -3].
    InvalidTopicFilter,
    /// SUBSCRIBE or UNSUBSCRIBE without any filter [MQTT-3.8.3-3, MQTT-3.10.3-2].
    NoTopicFilters,
    /// Requested QoS byte with reserved bits 7-2 set [MQTT-3.8.3-4].
    SubscribeReservedBits(u8),
    /// SUBACK return code other than 0, 1, 2 or 0x80 [MQTT-3.9.3-2].
    InvalidSubAckCode(u8),
}

impl CodecError {
    /// The statement id of the MQTT 3.1.1 standard this error enforces.
    pub fn statement(&self) -> &'static str {
        use CodecError::*;
        match self {
            ReservedPacketType(_) => "MQTT-2.2.1",
            InvalidHeaderFlags { .. } => "MQTT-2.2.2-2",
            MalformedRemainingLength => "MQTT-2.2.3",
            PacketTooLarge { .. } => "MQTT-2.2.3",
            UnexpectedEnd | TrailingBytes => "MQTT-2.2.3",
            InvalidQoS(_) => "MQTT-3.3.1-4",
            DupWithQoS0 => "MQTT-3.3.1-2",
            InvalidUtf8 => "MQTT-1.5.3-1",
            NullCharacter => "MQTT-1.5.3-2",
            StringTooLong(_) => "MQTT-1.5.3",
            InvalidProtocolName => "MQTT-3.1.2-1",
            UnsupportedProtocolLevel(_) => "MQTT-3.1.2-2",
            ConnectReservedFlag => "MQTT-3.1.2-3",
            WillFlagsWithoutWill => "MQTT-3.1.2-11",
            PasswordWithoutUsername => "MQTT-3.1.2-22",
            ConnAckReservedFlags => "MQTT-3.2.2-1",
            InvalidConnAckCode(_) => "MQTT-3.2.2-6",
            SessionPresentWithRefusal => "MQTT-3.2.2-4",
            ZeroPacketId => "MQTT-2.3.1-1",
            PacketIdWithQoS0 => "MQTT-2.3.1-5",
            WildcardInTopicName => "MQTT-3.3.2-2",
            EmptyTopic => "MQTT-4.7.3-1",
            InvalidTopicFilter => "MQTT-4.7.1-2",
            NoTopicFilters => "MQTT-3.8.3-3",
            SubscribeReservedBits(_) => "MQTT-3.8.3-4",
            InvalidSubAckCode(_) => "MQTT-3.9.3-2",
        }
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CodecError::*;
        match self {
            ReservedPacketType(t) => write!(f, "reserved packet type {t}"),
            InvalidHeaderFlags { packet_type, flags } => {
                write!(f, "invalid fixed header flags {flags:#06b} for packet type {packet_type}")
            }
            MalformedRemainingLength => write!(f, "remaining length longer than 4 bytes"),
            PacketTooLarge { size, max } => write!(f, "packet of {size} bytes exceeds the maximum of {max}"),
            UnexpectedEnd => write!(f, "packet ended before its last field"),
            TrailingBytes => write!(f, "unexpected bytes after the last field"),
            InvalidQoS(q) => write!(f, "invalid QoS {q}"),
            DupWithQoS0 => write!(f, "DUP flag set on a QoS 0 PUBLISH"),
            InvalidUtf8 => write!(f, "string is not well-formed UTF-8"),
            NullCharacter => write!(f, "string contains U+0000"),
            StringTooLong(n) => write!(f, "field of {n} bytes is longer than 65535"),
            InvalidProtocolName => write!(f, "protocol name is not \"MQTT\""),
            UnsupportedProtocolLevel(l) => write!(f, "unsupported protocol level {l}"),
            ConnectReservedFlag => write!(f, "CONNECT reserved flag is set"),
            WillFlagsWithoutWill => write!(f, "will QoS or retain set without the will flag"),
            PasswordWithoutUsername => write!(f, "password without a user name"),
            ConnAckReservedFlags => write!(f, "CONNACK reserved flag bits are set"),
            InvalidConnAckCode(c) => write!(f, "invalid CONNACK return code {c}"),
            SessionPresentWithRefusal => write!(f, "session present set on a refused CONNACK"),
            ZeroPacketId => write!(f, "packet identifier 0"),
            PacketIdWithQoS0 => write!(f, "packet identifier on a QoS 0 PUBLISH"),
            WildcardInTopicName => write!(f, "wildcard in a topic name"),
            EmptyTopic => write!(f, "empty topic"),
            InvalidTopicFilter => write!(f, "misplaced wildcard in a topic filter"),
            NoTopicFilters => write!(f, "no topic filters"),
            SubscribeReservedBits(b) => write!(f, "requested QoS byte {b:#04x} has reserved bits set"),
            InvalidSubAckCode(c) => write!(f, "invalid SUBACK return code {c:#04x}"),
        }?;
        write!(f, " [{}]", self.statement())
    }
}

impl std::error::Error for CodecError {}

/// Decoding errors are codec errors.
pub type DecodeError = CodecError;
/// Encoding errors are codec errors.
pub type EncodeError = CodecError;
