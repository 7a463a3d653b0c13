//! Session persistence: the records a store keeps and the operations that change them.
//!
//! The client emits a [`StoreOp`] for every change a resumed session needs; a driver applies
//! them (in order, ideally one transaction per batch) *before* it sends the bytes that
//! `poll_transmit` hands it afterwards. Restoring from the records gives a client that behaves as
//! if it never stopped. Credentials are never part of a record.
//!
//! Records serialize to bytes with [`StoreRecord::to_bytes`]; messages are kept as MQTT wire
//! bytes, so the codec is also the storage format.

use super::{Message, RequestId, RestoreError};
use crate::codec::{self, Packet, Publish, QoS, Text, TopicFilter};
use alloc::{string::String, vec::Vec};
use core::fmt;

/// The largest request id a stored record may hold: 2^53 - 1, the largest integer a JS number
/// holds exactly.
pub const MAX_REQUEST_ID: u64 = (1 << 53) - 1;

/// Where a record lives. Each key holds at most one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StoreKey {
    /// An outgoing QoS 1/2 message in flight, by packet identifier.
    Outgoing(u16),
    /// An incoming QoS 2 packet identifier received and not yet released.
    Incoming(u16),
    /// A message waiting to be sent, by its request id (queue order).
    Queued(RequestId),
    /// The subscription list.
    Subscriptions,
}

impl StoreKey {
    /// The string key `Display` shows, built without `core::fmt` (whose machinery costs
    /// kilobytes in a wasm module): "o00012", "i00003", "q00000000000000000007", "s".
    pub fn to_key_string(&self) -> String {
        let mut t = Text::default();
        match self {
            StoreKey::Outgoing(id) => t.s("o").radix((*id).into(), 10, 5),
            StoreKey::Incoming(id) => t.s("i").radix((*id).into(), 10, 5),
            StoreKey::Queued(r) => t.s("q").radix(r.0, 10, 20),
            StoreKey::Subscriptions => t.s("s"),
        };
        t.0
    }
}

impl fmt::Display for StoreKey {
    /// A string key that sorts in the right order within each kind (for IndexedDB or files).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreKey::Outgoing(id) => write!(f, "o{id:05}"),
            StoreKey::Incoming(id) => write!(f, "i{id:05}"),
            StoreKey::Queued(r) => write!(f, "q{:020}", r.0),
            StoreKey::Subscriptions => write!(f, "s"),
        }
    }
}

/// One piece of session state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreRecord {
    /// A QoS 1/2 PUBLISH sent and not yet acknowledged (PUBACK / PUBREC).
    Outgoing { request: RequestId, publish: Publish },
    /// A QoS 2 message past PUBREC: only PUBREL is left to send [MQTT-4.3.3-1]. `order`: when
    /// its PUBREC came, relative to the others; PUBRELs are resent in that order [MQTT-4.6.0-4],
    /// after a restore too. (A record from before the field reads it as its request id.)
    Released { request: RequestId, pkid: u16, order: u64 },
    /// An incoming QoS 2 message received, PUBREL not yet seen. `delivered`: the application is
    /// known to have it (see `Client::handle_delivered`); if not, a PUBLISH again from the broker
    /// after a restore is delivered.
    Incoming { pkid: u16, delivered: bool },
    /// A message queued while offline or past the in-flight limit.
    Queued { request: RequestId, message: Message },
    /// Filters and the QoS the broker granted.
    Subscriptions(Vec<(TopicFilter, QoS)>),
}

/// A change to the stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp {
    /// Write (or overwrite) the record at its key.
    Put(StoreRecord),
    /// Remove the record at this key, if any.
    Delete(StoreKey),
}

impl StoreRecord {
    pub fn key(&self) -> StoreKey {
        match self {
            StoreRecord::Outgoing { publish, .. } => StoreKey::Outgoing(publish.pkid),
            StoreRecord::Released { pkid, .. } => StoreKey::Outgoing(*pkid),
            StoreRecord::Incoming { pkid, .. } => StoreKey::Incoming(*pkid),
            StoreRecord::Queued { request, .. } => StoreKey::Queued(*request),
            StoreRecord::Subscriptions(_) => StoreKey::Subscriptions,
        }
    }

    /// Serializes the record: a tag byte, then fields; messages as MQTT wire bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            StoreRecord::Outgoing { request, publish } => {
                out.push(b'O');
                out.extend_from_slice(&request.0.to_be_bytes());
                encode_publish(publish, &mut out);
            }
            StoreRecord::Released { request, pkid, order } => {
                out.push(b'R');
                out.extend_from_slice(&request.0.to_be_bytes());
                out.extend_from_slice(&pkid.to_be_bytes());
                out.extend_from_slice(&order.to_be_bytes());
            }
            StoreRecord::Incoming { pkid, delivered } => {
                out.push(b'I');
                out.extend_from_slice(&pkid.to_be_bytes());
                out.push(u8::from(*delivered));
            }
            StoreRecord::Queued { request, message } => {
                out.push(b'Q');
                out.extend_from_slice(&request.0.to_be_bytes());
                out.push(message.qos as u8);
                // Kept as a QoS 0 PUBLISH: its packet id is only chosen when it is sent.
                let mut p = message.to_publish(0);
                p.qos = QoS::AtMostOnce;
                encode_publish(&p, &mut out);
            }
            StoreRecord::Subscriptions(subs) => {
                out.push(b'S');
                for (filter, qos) in subs {
                    out.extend_from_slice(&(filter.len() as u16).to_be_bytes());
                    out.extend_from_slice(filter.as_bytes());
                    out.push(*qos as u8);
                }
            }
        }
        out
    }

    /// Parses bytes written by [`StoreRecord::to_bytes`].
    pub fn from_bytes(b: &[u8]) -> Result<StoreRecord, RestoreError> {
        let corrupt = RestoreError::Corrupt;
        let (&tag, rest) = b.split_first().ok_or(corrupt("empty record"))?;
        // Request ids count up from 1 and are numbers in JS: past 2^53 - 1 a record is corrupt
        // (and the next id after u64::MAX would wrap).
        let u64_at = |s: &[u8]| -> Result<u64, RestoreError> {
            let a: [u8; 8] = s.get(..8).and_then(|x| x.try_into().ok()).ok_or(corrupt("short record"))?;
            match u64::from_be_bytes(a) {
                id if id <= MAX_REQUEST_ID => Ok(id),
                _ => Err(corrupt("request id out of range")),
            }
        };
        let u16_exact = |s: &[u8]| -> Result<u16, RestoreError> {
            let a: [u8; 2] = s.try_into().map_err(|_| corrupt("bad packet id field"))?;
            match u16::from_be_bytes(a) {
                0 => Err(corrupt("packet id 0")),
                id => Ok(id),
            }
        };
        match tag {
            b'O' => {
                let request = RequestId(u64_at(rest)?);
                let publish = decode_publish(&rest[8..])?;
                if publish.qos == QoS::AtMostOnce {
                    return Err(corrupt("in-flight QoS 0 message"));
                }
                Ok(StoreRecord::Outgoing { request, publish })
            }
            b'R' => {
                let request = RequestId(u64_at(rest)?);
                let (pkid, order) = match rest.get(8..) {
                    // Before `order` existed: the request order, as that client resent them.
                    Some(b @ [_, _]) => (u16_exact(b)?, request.0),
                    Some(b) if b.len() == 10 => (u16_exact(&b[..2])?, u64_at(&b[2..])?),
                    _ => return Err(corrupt("bad released record")),
                };
                Ok(StoreRecord::Released { request, pkid, order })
            }
            // Two bytes: a record from before the flag existed; read as delivered, as the client
            // that wrote it treated it (it never delivered a kept id again).
            b'I' => match rest {
                [a, b] => Ok(StoreRecord::Incoming { pkid: u16_exact(&[*a, *b])?, delivered: true }),
                [a, b, f @ (0 | 1)] => {
                    Ok(StoreRecord::Incoming { pkid: u16_exact(&[*a, *b])?, delivered: *f == 1 })
                }
                _ => Err(corrupt("bad incoming record")),
            },
            b'Q' => {
                let request = RequestId(u64_at(rest)?);
                let qos = QoS::from_u8(*rest.get(8).ok_or(corrupt("short record"))?)
                    .map_err(|_| corrupt("bad QoS"))?;
                let p = decode_publish(&rest[9..])?;
                let message = Message { topic: p.topic, payload: p.payload, qos, retain: p.retain };
                Ok(StoreRecord::Queued { request, message })
            }
            b'S' => {
                let mut subs = Vec::new();
                let mut s = rest;
                while !s.is_empty() {
                    let n = s.get(..2).map(|l| u16::from_be_bytes([l[0], l[1]]) as usize);
                    let n = n.ok_or(corrupt("short subscription"))?;
                    let filter = s.get(2..2 + n).ok_or(corrupt("short subscription"))?;
                    let filter = core::str::from_utf8(filter).map_err(|_| corrupt("filter not UTF-8"))?;
                    let filter = TopicFilter::new(filter).map_err(|_| corrupt("invalid filter"))?;
                    let qos = s.get(2 + n).ok_or(corrupt("short subscription"))?;
                    let qos = QoS::from_u8(*qos).map_err(|_| corrupt("bad QoS"))?;
                    subs.push((filter, qos));
                    s = &s[3 + n..];
                }
                Ok(StoreRecord::Subscriptions(subs))
            }
            _ => Err(corrupt("unknown record tag")),
        }
    }
}

fn encode_publish(p: &Publish, out: &mut Vec<u8>) {
    // Records are only made from messages the client already validated.
    if Packet::Publish(p.clone()).encode(out).is_err() {
        debug_assert!(false, "stored message failed to encode");
    }
}

fn decode_publish(b: &[u8]) -> Result<Publish, RestoreError> {
    codec::decode_whole_publish(&bytes::Bytes::copy_from_slice(b))
        .ok_or(RestoreError::Corrupt("stored PUBLISH does not decode"))
}

#[cfg(test)]
mod tests {
    use super::{RequestId, RestoreError, StoreKey, StoreRecord, MAX_REQUEST_ID};

    #[test]
    fn a_request_id_past_2_pow_53_is_a_corrupt_record() {
        for id in [MAX_REQUEST_ID + 1, u64::MAX] {
            let r = StoreRecord::Released { request: RequestId(id), pkid: 7, order: 1 };
            assert_eq!(
                StoreRecord::from_bytes(&r.to_bytes()),
                Err(RestoreError::Corrupt("request id out of range"))
            );
        }
        let r = StoreRecord::Released { request: RequestId(MAX_REQUEST_ID), pkid: 7, order: 3 };
        assert_eq!(StoreRecord::from_bytes(&r.to_bytes()), Ok(r));
        // A record written before `order`: the request id stands in for it.
        let old = [b'R', 0, 0, 0, 0, 0, 0, 0, 9, 0, 7];
        assert_eq!(
            StoreRecord::from_bytes(&old),
            Ok(StoreRecord::Released { request: RequestId(9), pkid: 7, order: 9 })
        );
    }

    #[test]
    fn key_strings_are_the_displayed_ones() {
        for k in [
            StoreKey::Outgoing(0),
            StoreKey::Outgoing(7),
            StoreKey::Incoming(65535),
            StoreKey::Queued(RequestId(42)),
            StoreKey::Queued(RequestId(u64::MAX)),
            StoreKey::Subscriptions,
        ] {
            assert_eq!(k.to_key_string(), k.to_string());
        }
    }
}
