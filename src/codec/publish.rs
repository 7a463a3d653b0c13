//! PUBLISH [MQTT-3.3] and its acknowledgements PUBACK, PUBREC, PUBREL, PUBCOMP [MQTT-3.4..3.7].

use super::topic::validate_topic_name_bytes;
use super::wire::{check_remaining, extend_prefix, header_and, slice_of, Reader};
use super::{ByteStr, CodecError, QoS, Topic};
use alloc::vec::Vec;
use bytes::{Buf, Bytes, BytesMut};

/// PUBLISH: an application message [MQTT-3.3].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// Redelivery of an earlier attempt [MQTT-3.3.1-1]; never set on QoS 0 [MQTT-3.3.1-2].
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    /// Checked when it was made (see [`Topic`]), so encoding does not check it again.
    pub topic: Topic,
    /// Packet identifier; present (non-zero) only when QoS > 0 [MQTT-2.3.1-5].
    pub pkid: u16,
    pub payload: Bytes,
}

impl Publish {
    /// A QoS 0 message without a packet identifier.
    pub fn new(topic: Topic, qos: QoS, payload: impl Into<Bytes>) -> Publish {
        Publish { dup: false, qos, retain: false, topic, pkid: 0, payload: payload.into() }
    }

    /// Validates and returns the remaining length. The topic's rules (non-empty, no wildcard,
    /// no U+0000, at most 65,535 bytes) were checked when the [`Topic`] was made.
    #[inline]
    pub fn remaining_len(&self) -> Result<usize, CodecError> {
        let mut len = 2 + self.topic.len() + self.payload.len();
        match self.qos {
            QoS::AtMostOnce if self.dup => return Err(CodecError::DupWithQoS0),
            // [MQTT-2.3.1-5]: no packet identifier on QoS 0; refused rather than silently dropped.
            QoS::AtMostOnce if self.pkid != 0 => return Err(CodecError::PacketIdWithQoS0),
            QoS::AtMostOnce => {}
            _ if self.pkid == 0 => return Err(CodecError::ZeroPacketId),
            _ => len += 2,
        }
        check_remaining(len)
    }

    pub(crate) fn first_byte(&self) -> u8 {
        0x30 | ((self.dup as u8) << 3) | ((self.qos as u8) << 1) | self.retain as u8
    }

    #[inline]
    pub(crate) fn write(&self, out: &mut Vec<u8>, len: usize) {
        // The fixed header and the topic's length in one copy.
        let (head, n) = header_and(self.first_byte(), len, self.topic.len() as u16);
        extend_prefix(out, &head, n + 2);
        out.extend_from_slice(self.topic.as_bytes());
        if self.qos != QoS::AtMostOnce {
            out.extend_from_slice(&self.pkid.to_be_bytes());
        }
        out.extend_from_slice(&self.payload);
    }

    /// Decodes a body; `owner` holds `body`, and topic and payload are slices of it (no copy).
    #[inline(always)]
    pub(crate) fn decode(flags: u8, body: &[u8], owner: &Bytes) -> Result<Publish, CodecError> {
        let f = Fields::parse(flags, body)?;
        Ok(Publish {
            dup: f.dup,
            qos: f.qos,
            retain: f.retain,
            topic: Topic::from_validated(ByteStr::from_validated(slice_of(owner, &body[2..2 + f.topic_len]))),
            pkid: f.pkid,
            payload: slice_of(owner, &body[f.payload_at..]),
        })
    }

    /// Decodes the body that starts at `frame[body_at]` and ends `frame`, split off the stream
    /// decoder's buffer. Topic and payload share `frame`'s storage: no copy, and one reference
    /// count taken (the topic's) beyond the one `frame` holds, which the payload keeps.
    #[inline]
    pub(crate) fn decode_frame(flags: u8, body_at: usize, frame: BytesMut) -> Result<Publish, CodecError> {
        let f = Fields::parse(flags, &frame[body_at..])?;
        let mut frame = frame.freeze();
        let topic = frame.slice(body_at + 2..body_at + 2 + f.topic_len);
        // An empty payload does not keep the stream's buffer alive.
        let payload = if body_at + f.payload_at == frame.len() {
            Bytes::new()
        } else {
            frame.advance(body_at + f.payload_at);
            frame
        };
        Ok(Publish {
            dup: f.dup,
            qos: f.qos,
            retain: f.retain,
            topic: Topic::from_validated(ByteStr::from_validated(topic)),
            pkid: f.pkid,
            payload,
        })
    }
}

/// The checks `decode` makes of a PUBLISH's head (flags, topic, packet id), for a PUBLISH
/// skipped for its size: `head` is its body up to the packet id. Gives QoS and packet id.
pub(crate) fn check_head(flags: u8, head: &[u8]) -> Result<(QoS, u16), CodecError> {
    let f = Fields::parse(flags, head)?;
    Ok((f.qos, f.pkid))
}

/// The checked fields of a PUBLISH body; the topic is `body[2..2 + topic_len]`, the payload
/// `body[payload_at..]`.
struct Fields {
    dup: bool,
    qos: QoS,
    retain: bool,
    topic_len: usize,
    pkid: u16,
    payload_at: usize,
}

impl Fields {
    #[inline(always)]
    fn parse(flags: u8, body: &[u8]) -> Result<Fields, CodecError> {
        let dup = flags & 0x08 != 0;
        // [MQTT-3.3.1-4]: QoS 3 is malformed.
        let qos = QoS::from_u8((flags >> 1) & 0x03)?;
        // [MQTT-3.3.1-2]: DUP is 0 for QoS 0.
        if dup && qos == QoS::AtMostOnce {
            return Err(CodecError::DupWithQoS0);
        }
        let mut r = Reader::new(body);
        let topic = r.binary()?;
        // [MQTT-1.5.3-1, -2] well-formed UTF-8 without U+0000; [MQTT-4.7.3-1] non-empty;
        // [MQTT-3.3.2-2] no wildcards.
        validate_topic_name_bytes(topic)?;
        let pkid = if qos == QoS::AtMostOnce { 0 } else { r.packet_id()? };
        Ok(Fields {
            dup,
            qos,
            retain: flags & 0x01 != 0,
            topic_len: topic.len(),
            pkid,
            payload_at: body.len() - r.remaining(),
        })
    }
}

/// Encodes a two-byte acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK).
pub(crate) fn write_ack(out: &mut Vec<u8>, byte1: u8, pkid: u16) {
    let id = pkid.to_be_bytes();
    out.extend_from_slice(&[byte1, 0x02, id[0], id[1]]);
}

/// Decodes a two-byte acknowledgement body: exactly a non-zero packet identifier.
#[inline]
pub(crate) fn decode_ack(body: &[u8]) -> Result<u16, CodecError> {
    let mut r = Reader::new(body);
    let id = r.packet_id()?;
    r.finish()?;
    Ok(id)
}
