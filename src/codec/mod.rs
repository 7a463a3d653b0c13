//! The MQTT 3.1.1 wire format: pure functions, no state but the stream decoder's buffer.
//!
//! - [`decode`] reads one packet from the front of a buffer: `Ok(None)` when more bytes are
//!   needed, `Ok(Some((packet, used)))`, or a [`DecodeError`] naming the broken rule.
//! - [`Decoder`] does the same over a byte stream fed in chunks of any size.
//! - [`Packet::encode`] validates, then appends the packet's bytes; on error nothing is written.
//!   Topic names and filters are [`Topic`] and [`TopicFilter`], checked once when made (by
//!   their constructors, or by the decoder), so encoding checks only what their types do not say.
//!
//! Every rule of the standard's encoding is checked both ways, and each check quotes its
//! statement id. PUBLISH topics and payloads are slices of the input (no copy).

mod bytestr;
mod connect;
mod error;
mod names;
mod publish;
mod subscribe;
pub mod topic;
mod wire;

pub use bytestr::ByteStr;
pub use connect::{ConnAck, Connect, ConnectReturnCode, LastWill};
pub(crate) use error::Text;
pub use error::{CodecError, DecodeError, EncodeError};
pub use names::{Topic, TopicFilter};
pub use publish::Publish;
pub use subscribe::{SubAck, SubAckCode, Subscribe, Unsubscribe};
pub use wire::{parse_header, FixedHeader, MAX_REMAINING_LENGTH};

use alloc::vec::Vec;
use bytes::{Buf, Bytes, BytesMut};

/// The largest packet the standard allows: 5 header bytes and 268,435,455 body bytes.
pub const MAX_PACKET_SIZE: usize = MAX_REMAINING_LENGTH + 5;

/// Quality of service [MQTT-4.3].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum QoS {
    #[default]
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

impl QoS {
    /// [MQTT-3.3.1-4]: 3 is not a QoS.
    pub fn from_u8(q: u8) -> Result<QoS, CodecError> {
        match q {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            2 => Ok(QoS::ExactlyOnce),
            q => Err(CodecError::InvalidQoS(q)),
        }
    }
}

/// One MQTT 3.1.1 control packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    Connect(Connect),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(u16),
    PubRec(u16),
    PubRel(u16),
    PubComp(u16),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(u16),
    PingReq,
    PingResp,
    Disconnect,
}

impl Packet {
    /// The packet type number (1..=14) [MQTT-2.2.1].
    pub fn packet_type(&self) -> u8 {
        match self {
            Packet::Connect(_) => 1,
            Packet::ConnAck(_) => 2,
            Packet::Publish(_) => 3,
            Packet::PubAck(_) => 4,
            Packet::PubRec(_) => 5,
            Packet::PubRel(_) => 6,
            Packet::PubComp(_) => 7,
            Packet::Subscribe(_) => 8,
            Packet::SubAck(_) => 9,
            Packet::Unsubscribe(_) => 10,
            Packet::UnsubAck(_) => 11,
            Packet::PingReq => 12,
            Packet::PingResp => 13,
            Packet::Disconnect => 14,
        }
    }

    /// The packet's name as the standard spells it.
    pub fn name(&self) -> &'static str {
        PACKET_NAMES[self.packet_type() as usize]
    }

    /// Validates the packet and returns its encoded size, without writing anything.
    pub fn encoded_len(&self) -> Result<usize, EncodeError> {
        let rem = self.remaining_len()?;
        Ok(1 + wire::remaining_len_size(rem) + rem)
    }

    fn remaining_len(&self) -> Result<usize, EncodeError> {
        match self {
            Packet::Connect(c) => c.remaining_len(),
            Packet::ConnAck(c) => c.remaining_len(),
            Packet::Publish(p) => p.remaining_len(),
            Packet::PubAck(id)
            | Packet::PubRec(id)
            | Packet::PubRel(id)
            | Packet::PubComp(id)
            | Packet::UnsubAck(id) => {
                if *id == 0 {
                    Err(CodecError::ZeroPacketId)
                } else {
                    Ok(2)
                }
            }
            Packet::Subscribe(s) => s.remaining_len(),
            Packet::SubAck(s) => s.remaining_len(),
            Packet::Unsubscribe(u) => u.remaining_len(),
            Packet::PingReq | Packet::PingResp | Packet::Disconnect => Ok(0),
        }
    }

    /// Validates the packet, then appends its bytes to `out`. On error `out` is unchanged.
    /// Returns the number of bytes written.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
        // Natively the most common packet skips the other packets' dispatch (an out-of-line
        // `remaining_len` and a jump table: about 2 ns of 12 for a 64-byte PUBLISH); the wasm
        // module keeps the one path, some 600 bytes smaller.
        if !cfg!(target_arch = "wasm32") {
            if let Packet::Publish(p) = self {
                let len = p.remaining_len()?;
                let total = 1 + wire::remaining_len_size(len) + len;
                out.reserve(total);
                p.write(out, len);
                return Ok(total);
            }
        }
        let len = self.remaining_len()?;
        let start = out.len();
        // Exactly the packet's size: a buffer sized by `encoded_len` is not grown.
        out.reserve(1 + wire::remaining_len_size(len) + len);
        match self {
            Packet::Connect(c) => c.write(out, len),
            Packet::ConnAck(c) => c.write(out),
            Packet::Publish(p) => p.write(out, len),
            Packet::PubAck(id) => publish::write_ack(out, 0x40, *id),
            Packet::PubRec(id) => publish::write_ack(out, 0x50, *id),
            // [MQTT-3.6.1-1]: PUBREL flags are 0010.
            Packet::PubRel(id) => publish::write_ack(out, 0x62, *id),
            Packet::PubComp(id) => publish::write_ack(out, 0x70, *id),
            Packet::Subscribe(s) => s.write(out, len),
            Packet::SubAck(s) => s.write(out, len),
            Packet::Unsubscribe(u) => u.write(out, len),
            Packet::UnsubAck(id) => publish::write_ack(out, 0xB0, *id),
            Packet::PingReq => out.extend_from_slice(&[0xC0, 0]),
            Packet::PingResp => out.extend_from_slice(&[0xD0, 0]),
            Packet::Disconnect => out.extend_from_slice(&[0xE0, 0]),
        }
        Ok(out.len() - start)
    }

    /// Encodes into a new buffer.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }
}

const PACKET_NAMES: [&str; 16] = [
    "reserved",
    "CONNECT",
    "CONNACK",
    "PUBLISH",
    "PUBACK",
    "PUBREC",
    "PUBREL",
    "PUBCOMP",
    "SUBSCRIBE",
    "SUBACK",
    "UNSUBSCRIBE",
    "UNSUBACK",
    "PINGREQ",
    "PINGRESP",
    "DISCONNECT",
    "reserved",
];

/// The fixed-header flags each packet type requires [MQTT-2.2.2-1, -2]; PUBLISH (3) is checked
/// field by field.
#[inline]
fn check_flags(header: &FixedHeader) -> Result<(), CodecError> {
    let required = match header.packet_type() {
        0 | 15 => return Err(CodecError::ReservedPacketType(header.packet_type())),
        3 => return Ok(()),
        6 | 8 | 10 => 0b0010,
        _ => 0,
    };
    if header.flags() != required {
        return Err(CodecError::InvalidHeaderFlags {
            packet_type: header.packet_type(),
            flags: header.flags(),
        });
    }
    Ok(())
}

/// Fails unless the body is empty (PINGREQ, PINGRESP, DISCONNECT).
#[inline]
fn empty(body: &[u8]) -> Result<(), CodecError> {
    if body.is_empty() {
        Ok(())
    } else {
        Err(CodecError::TrailingBytes)
    }
}

/// Decodes the body of a packet whose header was parsed; `owner`, when given, holds `body` and
/// lets a PUBLISH share it instead of copying.
#[inline(always)]
fn decode_body(header: &FixedHeader, body: &[u8], owner: Option<&Bytes>) -> Result<Packet, CodecError> {
    if let Some(packet) = decode_unless_publish(header, body)? {
        return Ok(packet);
    }
    Ok(match owner {
        Some(owner) => Packet::Publish(Publish::decode(header.flags(), body, owner)?),
        None => {
            let owner = Bytes::copy_from_slice(body);
            Packet::Publish(Publish::decode(header.flags(), &owner, &owner)?)
        }
    })
}

/// Decodes the body of any packet but a PUBLISH, checking the fixed header's flags first
/// [MQTT-2.2.2-2]; `Ok(None)` for a PUBLISH, whose decoding depends on who owns the bytes.
///
/// One `match` on the packet type does it all, so that a stream of mixed packets costs one
/// unpredictable branch a packet, not several; the small fixed-size packets (acknowledgements,
/// pings) are decoded here, inline in the caller's loop, and the others out of line.
#[inline(always)]
fn decode_unless_publish(header: &FixedHeader, body: &[u8]) -> Result<Option<Packet>, CodecError> {
    Ok(Some(match header.packet_type() {
        3 => return Ok(None),
        4 => {
            require_flags(header, 0)?;
            Packet::PubAck(publish::decode_ack(body)?)
        }
        5 => {
            require_flags(header, 0)?;
            Packet::PubRec(publish::decode_ack(body)?)
        }
        6 => {
            // [MQTT-3.6.1-1]: PUBREL flags are 0010.
            require_flags(header, 0b0010)?;
            Packet::PubRel(publish::decode_ack(body)?)
        }
        7 => {
            require_flags(header, 0)?;
            Packet::PubComp(publish::decode_ack(body)?)
        }
        11 => {
            require_flags(header, 0)?;
            Packet::UnsubAck(publish::decode_ack(body)?)
        }
        12 => {
            require_flags(header, 0)?;
            empty(body)?;
            Packet::PingReq
        }
        13 => {
            require_flags(header, 0)?;
            empty(body)?;
            Packet::PingResp
        }
        14 => {
            require_flags(header, 0)?;
            empty(body)?;
            Packet::Disconnect
        }
        _ => decode_variable(header, body)?,
    }))
}

/// [`check_flags`] for a packet type whose required flags the caller knows.
#[inline(always)]
fn require_flags(header: &FixedHeader, required: u8) -> Result<(), CodecError> {
    if header.flags() != required {
        return Err(CodecError::InvalidHeaderFlags {
            packet_type: header.packet_type(),
            flags: header.flags(),
        });
    }
    Ok(())
}

/// The packets with a variable body besides PUBLISH: CONNECT, CONNACK, SUBSCRIBE, SUBACK,
/// UNSUBSCRIBE; and the reserved types. Kept out of line so that the common packets' path stays
/// small.
#[inline(never)]
fn decode_variable(header: &FixedHeader, body: &[u8]) -> Result<Packet, CodecError> {
    check_flags(header)?;
    Ok(match header.packet_type() {
        1 => Packet::Connect(Connect::decode(body)?),
        2 => Packet::ConnAck(ConnAck::decode(body)?),
        8 => Packet::Subscribe(Subscribe::decode(body)?),
        9 => Packet::SubAck(SubAck::decode(body)?),
        10 => Packet::Unsubscribe(Unsubscribe::decode(body)?),
        t => return Err(CodecError::ReservedPacketType(t)),
    })
}

/// Decodes one packet from the front of `buf`.
///
/// `Ok(None)`: `buf` holds only part of a packet. `Ok(Some((packet, used)))`: the packet took
/// `used` bytes. A PUBLISH's topic and payload are slices of `buf` (no copy). `max_packet`
/// bounds the whole packet's size and is checked from the fixed header alone.
#[inline]
pub fn decode(buf: &Bytes, max_packet: usize) -> Result<Option<(Packet, usize)>, DecodeError> {
    let Some(header) = parse_header(buf, max_packet)? else {
        return Ok(None);
    };
    let total = header.total_len();
    if buf.len() < total {
        return Ok(None);
    }
    match decode_unless_publish(&header, &buf[header.header_len..total])? {
        Some(packet) => Ok(Some((packet, total))),
        None => decode_publish(&header, buf, total),
    }
}

/// Decodes one packet from a plain slice; a PUBLISH payload is copied once.
pub fn decode_slice(buf: &[u8], max_packet: usize) -> Result<Option<(Packet, usize)>, DecodeError> {
    let Some(header) = parse_header(buf, max_packet)? else {
        return Ok(None);
    };
    let total = header.total_len();
    if buf.len() < total {
        return Ok(None);
    }
    let packet = decode_body(&header, &buf[header.header_len..total], None)?;
    Ok(Some((packet, total)))
}

/// [`decode`] for a PUBLISH. Out of line, and returning `decode`'s own type so that the message
/// is built where the caller receives it instead of being copied there.
#[inline(never)]
fn decode_publish(
    header: &FixedHeader,
    buf: &Bytes,
    total: usize,
) -> Result<Option<(Packet, usize)>, DecodeError> {
    check_flags(header)?;
    let publish = Publish::decode(header.flags(), &buf[header.header_len..total], buf)?;
    Ok(Some((Packet::Publish(publish), total)))
}

/// A buffer that holds exactly one PUBLISH (a stored message): the message, sharing `buf`, or
/// `None`. The same checks as [`decode`] without its other packets' code (for the session
/// records, which hold only PUBLISH packets).
pub(crate) fn decode_whole_publish(buf: &Bytes) -> Option<Publish> {
    let header = parse_header(buf, MAX_PACKET_SIZE).ok()??;
    if header.packet_type() != 3 || header.total_len() != buf.len() {
        return None;
    }
    match decode_publish(&header, buf, buf.len()) {
        Ok(Some((Packet::Publish(p), _))) => Some(p),
        _ => None,
    }
}

/// [`Decoder`]'s PUBLISH path: splits the packet, which ends `end` bytes into the stream buffer
/// and whose body starts at `body_at`, off the front of the buffer (with the bytes of packets
/// decoded before it), and decodes it. Out of line, and returning [`Decoder::next_packet`]'s own
/// type (see [`decode_publish`]).
#[inline(never)]
fn decode_publish_frame(
    header: &FixedHeader,
    buf: &mut BytesMut,
    body_at: usize,
    end: usize,
) -> Result<Option<Packet>, DecodeError> {
    check_flags(header)?;
    let publish = Publish::decode_frame(header.flags(), body_at, buf.split_to(end))?;
    Ok(Some(Packet::Publish(publish)))
}

/// How far ahead of the bytes received the stream decoder reserves for a packet announced larger.
const RESERVE_AHEAD: usize = 64 * 1024;

/// A stream decoder: feed it bytes in chunks of any size, take packets out.
///
/// Only the bytes of the packet being assembled are buffered, and a packet announced larger than
/// the maximum is refused from its fixed header. After an error the stream cannot be trusted: the
/// decoder keeps answering that error until [`Decoder::reset`].
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    /// How many bytes at the front of `buf` were already decoded. Packets other than PUBLISH are
    /// consumed by moving this index (no call into `BytesMut`); the bytes leave `buf` before it
    /// grows ([`Decoder::compact`]) or together with the next PUBLISH split off it.
    pos: usize,
    max_packet: usize,
    failed: Option<DecodeError>,
    /// Bytes of a skipped PUBLISH still to come (see [`Decoder::next_decoded`]): discarded by `feed`.
    skip: usize,
}

/// What [`Decoder::next_decoded`] takes out of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    Packet(Packet),
    /// A PUBLISH larger than the maximum packet size: its bytes are discarded as they arrive
    /// (only its topic is ever buffered), and this is what the receiver needs to answer it.
    SkippedPublish(SkippedPublish),
}

/// The header of a PUBLISH the decoder skipped for its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedPublish {
    pub qos: QoS,
    /// 0 for QoS 0.
    pub pkid: u16,
    pub topic: alloc::string::String,
    /// The whole packet's size in bytes.
    pub size: usize,
}

impl Decoder {
    pub fn new(max_packet: usize) -> Self {
        Decoder { buf: BytesMut::new(), pos: 0, max_packet, failed: None, skip: 0 }
    }

    /// The configured maximum packet size.
    pub fn max_packet(&self) -> usize {
        self.max_packet
    }

    /// Appends bytes from the transport.
    pub fn feed(&mut self, mut data: &[u8]) {
        if self.skip > 0 {
            let n = self.skip.min(data.len());
            self.skip -= n;
            data = &data[n..];
        }
        if self.failed.is_none() {
            self.compact();
            self.buf.extend_from_slice(data);
        }
    }

    /// Bytes buffered and not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Forgets all buffered bytes and any error (for a new connection).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.pos = 0;
        self.failed = None;
        self.skip = 0;
    }

    /// [`next_packet`](Decoder::next_packet), except that a PUBLISH larger than the maximum
    /// packet size is skipped rather than an error: once its fixed header, topic and packet id
    /// arrived, it comes out as [`Decoded::SkippedPublish`] and the rest of its bytes are
    /// discarded as they are fed, never buffered. The topic is buffered (at most 65,537 bytes
    /// beyond the fixed header, whatever the maximum). Any other oversize packet is an error.
    pub fn next_decoded(&mut self) -> Result<Option<Decoded>, DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.decode_one() {
            Ok(p) => Ok(p.map(Decoded::Packet)),
            Err(CodecError::PacketTooLarge { .. }) if self.buf.get(self.pos).map(|b| b >> 4) == Some(3) => {
                self.skip_publish().map_err(|e| self.fail(e))
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Starts skipping the oversize PUBLISH at `pos`, once its topic and packet id are here.
    #[cold]
    fn skip_publish(&mut self) -> Result<Option<Decoded>, DecodeError> {
        let data = &self.buf[self.pos..];
        // Its real size (a length MQTT cannot encode is still an error).
        let Some(header) = parse_header(data, MAX_PACKET_SIZE)? else {
            return Ok(None);
        };
        check_flags(&header)?;
        let qos = QoS::from_u8((header.flags() >> 1) & 3)?;
        let body = &data[header.header_len..];
        let Some(len) = body.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]) as usize) else {
            return Ok(None);
        };
        let id_len = if qos == QoS::AtMostOnce { 0 } else { 2 };
        if 2 + len + id_len > header.remaining {
            return Err(CodecError::UnexpectedEnd);
        }
        let Some(head) = body.get(..2 + len + id_len) else {
            self.compact();
            return Ok(None);
        };
        // The checks `decode` makes of a PUBLISH's head (DUP with QoS 0, the topic, packet id
        // 0 [MQTT-3.3.1-2, MQTT-3.3.2-1, -2, MQTT-2.3.1-1]): the receiver answers with this
        // packet id and reports this topic.
        let (_, pkid) = publish::check_head(header.flags(), head)?;
        let topic = core::str::from_utf8(&head[2..2 + len]).map_err(|_| CodecError::InvalidUtf8)?;
        let skipped =
            SkippedPublish { qos, pkid, topic: alloc::string::String::from(topic), size: header.total_len() };
        // Drop what of it is buffered; the rest is discarded as it comes.
        let here = data.len().min(header.total_len());
        self.skip = header.total_len() - here;
        self.pos += here;
        self.compact();
        Ok(Some(Decoded::SkippedPublish(skipped)))
    }

    /// The next complete packet, `Ok(None)` when more bytes are needed.
    #[inline]
    pub fn next_packet(&mut self) -> Result<Option<Packet>, DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.decode_one().map_err(|e| self.fail(e))
    }

    /// Remembers a decoding error: the stream cannot be trusted any more.
    #[cold]
    fn fail(&mut self, e: DecodeError) -> DecodeError {
        self.failed = Some(e.clone());
        self.buf.clear();
        self.pos = 0;
        e
    }

    /// Drops the decoded bytes from the front of `buf`.
    #[inline]
    fn compact(&mut self) {
        if self.pos > 0 {
            self.buf.advance(self.pos);
            self.pos = 0;
        }
    }

    #[inline]
    fn decode_one(&mut self) -> Result<Option<Packet>, DecodeError> {
        let data = &self.buf[self.pos..];
        let Some(header) = parse_header(data, self.max_packet)? else {
            return Ok(None);
        };
        let total = header.total_len();
        if data.len() < total {
            self.compact();
            // Reserve for what is coming, but at most 64 KiB ahead of what has arrived: a
            // header alone must not make the client allocate up to the maximum size.
            self.buf.reserve((total - self.buf.len()).min(RESERVE_AHEAD));
            return Ok(None);
        }
        if let Some(packet) = decode_unless_publish(&header, &data[header.header_len..total])? {
            self.pos += total;
            return Ok(Some(packet));
        }
        // PUBLISH: hand the packet's bytes to the message without copying. The bytes of the
        // packets decoded before it leave the buffer with it.
        let (body_at, end) = (self.pos + header.header_len, self.pos + total);
        self.pos = 0;
        decode_publish_frame(&header, &mut self.buf, body_at, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mixed() -> (Vec<u8>, Vec<Packet>) {
        let publish = |qos, pkid: u16, topic: &str, payload: &[u8]| {
            let mut p = Publish::new(Topic::new(topic).unwrap(), qos, Bytes::copy_from_slice(payload));
            p.pkid = pkid;
            Packet::Publish(p)
        };
        let packets = vec![
            Packet::PubAck(1),
            publish(QoS::AtMostOnce, 0, "a", b""),
            Packet::PubRec(2),
            Packet::PubRel(3),
            publish(QoS::AtLeastOnce, 4, "sensors/plant-a/line-7/dev-0042/temperature", &[7; 300]),
            Packet::PingResp,
            Packet::SubAck(SubAck {
                pkid: 5,
                codes: vec![SubAckCode::Granted(QoS::AtLeastOnce), SubAckCode::Failure],
            }),
            publish(QoS::ExactlyOnce, 6, "é/x", &[1, 2, 3]),
            Packet::PubComp(7),
            Packet::UnsubAck(8),
            publish(QoS::AtLeastOnce, 9, "big", &[9; 20_000]),
            Packet::PubAck(10),
        ];
        let mut bytes = Vec::new();
        for p in &packets {
            p.encode(&mut bytes).unwrap();
        }
        (bytes, packets)
    }

    #[test]
    fn decoder_agrees_with_decode_for_any_chunking() {
        let (bytes, packets) = mixed();
        let whole = Bytes::from(bytes.clone());
        let mut at = 0;
        for p in &packets {
            let (q, used) = decode(&whole.slice(at..), MAX_PACKET_SIZE).unwrap().unwrap();
            assert_eq!(&q, p);
            at += used;
        }
        assert_eq!(at, bytes.len());
        for chunk in [1, 2, 3, 7, 64, 1000, bytes.len()] {
            let mut d = Decoder::new(MAX_PACKET_SIZE);
            let (mut got, mut fed, mut consumed) = (Vec::new(), 0, 0);
            for part in bytes.chunks(chunk) {
                d.feed(part);
                fed += part.len();
                while let Some(p) = d.next_packet().unwrap() {
                    consumed += p.encoded_len().unwrap();
                    got.push(p);
                }
                assert_eq!(d.buffered(), fed - consumed, "chunk {chunk}");
            }
            assert_eq!(got, packets, "chunk {chunk}");
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn decoder_error_after_decoded_packets_is_sticky_until_reset() {
        let (mut bytes, _) = mixed();
        let good = bytes.len();
        // A PUBLISH with a wildcard in its topic [MQTT-3.3.2-2], after the good packets.
        bytes.extend_from_slice(&[0x30, 0x03, 0x00, 0x01, b'#']);
        let mut d = Decoder::new(MAX_PACKET_SIZE);
        d.feed(&bytes);
        let mut n = 0;
        let err = loop {
            match d.next_packet() {
                Ok(Some(_)) => n += 1,
                Ok(None) => panic!("the bad packet is complete"),
                Err(e) => break e,
            }
        };
        assert_eq!((n, err.clone()), (mixed().1.len(), CodecError::WildcardInTopicName));
        assert_eq!(d.buffered(), 0);
        d.feed(&bytes[..good]);
        assert_eq!(d.next_packet(), Err(err));
        d.reset();
        d.feed(&bytes[..4]);
        assert_eq!(d.next_packet(), Ok(Some(Packet::PubAck(1))));
    }
}
