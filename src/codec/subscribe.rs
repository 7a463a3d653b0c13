//! SUBSCRIBE [MQTT-3.8], SUBACK [MQTT-3.9], UNSUBSCRIBE [MQTT-3.10] (UNSUBACK is a plain ack).

use super::topic::validate_filter_levels;
use super::wire::{check_remaining, extend_prefix, header_and, Reader};
use super::{CodecError, QoS, TopicFilter};
use alloc::{borrow::ToOwned, vec::Vec};

/// SUBSCRIBE: one or more topic filters, each with a maximum QoS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    pub pkid: u16,
    /// Each checked when it was made (see [`TopicFilter`]), so encoding does not check it again.
    pub filters: Vec<(TopicFilter, QoS)>,
}

impl Subscribe {
    pub fn remaining_len(&self) -> Result<usize, CodecError> {
        if self.pkid == 0 {
            return Err(CodecError::ZeroPacketId);
        }
        // [MQTT-3.8.3-3]: at least one filter.
        if self.filters.is_empty() {
            return Err(CodecError::NoTopicFilters);
        }
        // Each filter: its length, its bytes, the QoS byte.
        let len = self.filters.iter().fold(2, |len, (f, _)| len + 3 + f.len());
        check_remaining(len)
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>, len: usize) {
        // [MQTT-3.8.1-1]: flags 0010.
        write_fixed_and_pkid(out, 0x82, len, self.pkid);
        let mut filters = self.filters.iter();
        let Some((first, q)) = filters.next() else { return };
        out.extend_from_slice(&(first.len() as u16).to_be_bytes());
        out.extend_from_slice(first.as_bytes());
        let mut last = *q as u8;
        // Each filter's QoS byte goes out with the next filter's length: one copy fewer each.
        for (f, q) in filters {
            let l = (f.len() as u16).to_be_bytes();
            out.extend_from_slice(&[last, l[0], l[1]]);
            out.extend_from_slice(f.as_bytes());
            last = *q as u8;
        }
        out.push(last);
    }

    pub(crate) fn decode(body: &[u8]) -> Result<Subscribe, CodecError> {
        let mut r = Reader::new(body);
        let pkid = r.packet_id()?;
        let mut filters = Vec::with_capacity(count_entries(&body[2..], 1));
        while !r.is_empty() {
            // [MQTT-1.5.3-1, -2]: `str` checked UTF-8 and U+0000, and the length fits 16 bits.
            let f = r.str()?;
            validate_decoded_filter(f)?;
            let q = r.u8()?;
            // [MQTT-3.8.3-4]: bits 7-2 of the requested QoS byte are reserved.
            if q & 0xFC != 0 {
                return Err(CodecError::SubscribeReservedBits(q));
            }
            filters.push((TopicFilter::from_validated(f.to_owned()), QoS::from_u8(q)?));
        }
        // [MQTT-3.8.3-3]: at least one filter.
        if filters.is_empty() {
            return Err(CodecError::NoTopicFilters);
        }
        Ok(Subscribe { pkid, filters })
    }
}

/// The fixed header and the packet id, in one copy.
#[inline]
fn write_fixed_and_pkid(out: &mut Vec<u8>, byte1: u8, len: usize, pkid: u16) {
    let (head, n) = header_and(byte1, len, pkid);
    extend_prefix(out, &head, n + 2);
}

/// How many length-prefixed strings, each followed by `extra` bytes, `list` holds, up to
/// [`CAPACITY_HINT_MAX`]: a capacity hint for the decoders, so that a list is allocated once. A
/// malformed tail is not counted (the decoder reports it), and the cap keeps a hostile packet of
/// many empty entries from reserving memory before the first one is refused.
fn count_entries(list: &[u8], extra: usize) -> usize {
    let (mut n, mut at) = (0, 0);
    while let (Some(&hi), Some(&lo)) = (list.get(at), list.get(at + 1)) {
        if n == CAPACITY_HINT_MAX {
            break;
        }
        at += 2 + u16::from_be_bytes([hi, lo]) as usize + extra;
        n += 1;
    }
    n
}

/// The most entries [`count_entries`] counts.
const CAPACITY_HINT_MAX: usize = 32;

/// [`validate_topic_filter`](super::topic::validate_topic_filter) for a filter whose string
/// rules `Reader::str` already checked: non-empty [MQTT-4.7.3-1], then the wildcard rules
/// [MQTT-4.7.1-2, -3].
#[inline]
fn validate_decoded_filter(f: &str) -> Result<(), CodecError> {
    if f.is_empty() {
        return Err(CodecError::EmptyTopic);
    }
    validate_filter_levels(f.as_bytes())
}

/// A SUBACK return code: the granted QoS, or failure (0x80) [MQTT-3.9.3].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubAckCode {
    Granted(QoS),
    Failure,
}

impl SubAckCode {
    pub fn to_u8(self) -> u8 {
        match self {
            SubAckCode::Granted(q) => q as u8,
            SubAckCode::Failure => 0x80,
        }
    }

    /// [MQTT-3.9.3-2]: 0x00, 0x01, 0x02 and 0x80 are the only codes.
    pub fn from_u8(b: u8) -> Result<Self, CodecError> {
        match b {
            0x80 => Ok(SubAckCode::Failure),
            0..=2 => Ok(SubAckCode::Granted(QoS::from_u8(b)?)),
            _ => Err(CodecError::InvalidSubAckCode(b)),
        }
    }
}

/// SUBACK: one return code per filter of the SUBSCRIBE, in order [MQTT-3.8.4-5].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    pub pkid: u16,
    pub codes: Vec<SubAckCode>,
}

impl SubAck {
    pub fn remaining_len(&self) -> Result<usize, CodecError> {
        if self.pkid == 0 {
            return Err(CodecError::ZeroPacketId);
        }
        check_remaining(2 + self.codes.len())
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>, len: usize) {
        write_fixed_and_pkid(out, 0x90, len, self.pkid);
        out.extend(self.codes.iter().map(|c| c.to_u8()));
    }

    /// The standard is silent on an empty list; the session checks the count against its
    /// SUBSCRIBE, so the codec accepts it.
    pub(crate) fn decode(body: &[u8]) -> Result<SubAck, CodecError> {
        let mut r = Reader::new(body);
        let pkid = r.packet_id()?;
        let rest = r.rest();
        // One code a byte; allocated once for any usual SUBACK (see `count_entries`).
        let mut codes = Vec::with_capacity(rest.len().min(CAPACITY_HINT_MAX));
        for &b in rest {
            codes.push(SubAckCode::from_u8(b)?);
        }
        Ok(SubAck { pkid, codes })
    }
}

/// UNSUBSCRIBE: one or more topic filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub pkid: u16,
    /// Each checked when it was made (see [`TopicFilter`]).
    pub filters: Vec<TopicFilter>,
}

impl Unsubscribe {
    pub fn remaining_len(&self) -> Result<usize, CodecError> {
        if self.pkid == 0 {
            return Err(CodecError::ZeroPacketId);
        }
        // [MQTT-3.10.3-2]: at least one filter.
        if self.filters.is_empty() {
            return Err(CodecError::NoTopicFilters);
        }
        let len = self.filters.iter().fold(2, |len, f| len + 2 + f.len());
        check_remaining(len)
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>, len: usize) {
        // [MQTT-3.10.1-1]: flags 0010.
        write_fixed_and_pkid(out, 0xA2, len, self.pkid);
        for f in &self.filters {
            out.extend_from_slice(&(f.len() as u16).to_be_bytes());
            out.extend_from_slice(f.as_bytes());
        }
    }

    pub(crate) fn decode(body: &[u8]) -> Result<Unsubscribe, CodecError> {
        let mut r = Reader::new(body);
        let pkid = r.packet_id()?;
        let mut filters = Vec::with_capacity(count_entries(&body[2..], 0));
        while !r.is_empty() {
            // [MQTT-1.5.3-1, -2]: `str` checked UTF-8 and U+0000, and the length fits 16 bits.
            let f = r.str()?;
            validate_decoded_filter(f)?;
            filters.push(TopicFilter::from_validated(f.to_owned()));
        }
        if filters.is_empty() {
            return Err(CodecError::NoTopicFilters);
        }
        Ok(Unsubscribe { pkid, filters })
    }
}
