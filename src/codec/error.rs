//! The codec's one error type: a broken rule of the MQTT 3.1.1 wire format.

use alloc::string::String;
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

impl CodecError {
    /// The message [`Display`](fmt::Display) shows, built without `core::fmt` (whose machinery
    /// costs kilobytes in the wasm module).
    pub fn message(&self) -> String {
        let mut t = Text::default();
        self.describe(&mut t);
        t.0
    }

    pub(crate) fn describe(&self, t: &mut Text) {
        use CodecError::*;
        match self {
            ReservedPacketType(v) => t.s("reserved packet type ").n(*v as u64),
            InvalidHeaderFlags { packet_type, flags } => t
                .s("invalid fixed header flags 0b")
                .radix(*flags as u64, 2, 4)
                .s(" for packet type ")
                .n(*packet_type as u64),
            MalformedRemainingLength => t.s("remaining length longer than 4 bytes"),
            PacketTooLarge { size, max } => {
                t.s("packet of ").n(*size as u64).s(" bytes exceeds the maximum of ").n(*max as u64)
            }
            UnexpectedEnd => t.s("packet ended before its last field"),
            TrailingBytes => t.s("unexpected bytes after the last field"),
            InvalidQoS(q) => t.s("invalid QoS ").n(*q as u64),
            DupWithQoS0 => t.s("DUP flag set on a QoS 0 PUBLISH"),
            InvalidUtf8 => t.s("string is not well-formed UTF-8"),
            NullCharacter => t.s("string contains U+0000"),
            StringTooLong(n) => t.s("field of ").n(*n as u64).s(" bytes is longer than 65535"),
            InvalidProtocolName => t.s("protocol name is not \"MQTT\""),
            UnsupportedProtocolLevel(l) => t.s("unsupported protocol level ").n(*l as u64),
            ConnectReservedFlag => t.s("CONNECT reserved flag is set"),
            WillFlagsWithoutWill => t.s("will QoS or retain set without the will flag"),
            PasswordWithoutUsername => t.s("password without a user name"),
            ConnAckReservedFlags => t.s("CONNACK reserved flag bits are set"),
            InvalidConnAckCode(c) => t.s("invalid CONNACK return code ").n(*c as u64),
            SessionPresentWithRefusal => t.s("session present set on a refused CONNACK"),
            ZeroPacketId => t.s("packet identifier 0"),
            PacketIdWithQoS0 => t.s("packet identifier on a QoS 0 PUBLISH"),
            WildcardInTopicName => t.s("wildcard in a topic name"),
            EmptyTopic => t.s("empty topic"),
            InvalidTopicFilter => t.s("misplaced wildcard in a topic filter"),
            NoTopicFilters => t.s("no topic filters"),
            SubscribeReservedBits(b) => {
                t.s("requested QoS byte 0x").radix(*b as u64, 16, 2).s(" has reserved bits set")
            }
            InvalidSubAckCode(c) => t.s("invalid SUBACK return code 0x").radix(*c as u64, 16, 2),
        };
        t.s(" [").s(self.statement()).s("]");
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// Builds a message without `core::fmt`: strings and unsigned numbers.
#[derive(Default)]
pub(crate) struct Text(pub String);

impl Text {
    pub fn s(&mut self, s: &str) -> &mut Self {
        self.0.push_str(s);
        self
    }

    /// `n` in decimal.
    pub fn n(&mut self, n: u64) -> &mut Self {
        self.radix(n, 10, 1)
    }

    /// `n` in base `radix` (2..=16, lower case), zero-padded to at least `width` digits.
    pub fn radix(&mut self, mut n: u64, radix: u64, width: usize) -> &mut Self {
        let mut digits = [0u8; 64];
        let mut i = digits.len();
        while n != 0 || digits.len() - i < width.max(1) {
            i -= 1;
            digits[i] = b"0123456789abcdef"[(n % radix) as usize];
            n /= radix;
        }
        for &d in &digits[i..] {
            self.0.push(d as char);
        }
        self
    }
}

impl core::error::Error for CodecError {}

/// Decoding errors are codec errors.
pub type DecodeError = CodecError;
/// Encoding errors are codec errors.
pub type EncodeError = CodecError;

#[cfg(test)]
mod tests {
    use super::CodecError::*;

    /// The messages as `write!` with `{}`, `{:#06b}` and `{:#04x}` made them.
    #[test]
    fn messages_format_numbers_as_before() {
        let flags = InvalidHeaderFlags { packet_type: 3, flags: 2 };
        assert_eq!(flags.to_string(), "invalid fixed header flags 0b0010 for packet type 3 [MQTT-2.2.2-2]");
        let big = PacketTooLarge { size: 268_435_460, max: 0 };
        assert_eq!(big.to_string(), "packet of 268435460 bytes exceeds the maximum of 0 [MQTT-2.2.3]");
        assert_eq!(
            SubscribeReservedBits(5).to_string(),
            "requested QoS byte 0x05 has reserved bits set [MQTT-3.8.3-4]"
        );
        assert_eq!(InvalidSubAckCode(0x83).to_string(), "invalid SUBACK return code 0x83 [MQTT-3.9.3-2]");
        assert_eq!(ReservedPacketType(0).to_string(), "reserved packet type 0 [MQTT-2.2.1]");
        assert_eq!(u64::MAX.to_string(), {
            let mut t = super::Text::default();
            t.n(u64::MAX);
            t.0
        });
    }
}
