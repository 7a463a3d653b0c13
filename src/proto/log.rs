//! The bytes of a log of store operations, for the drivers' stores that keep a session as a log
//! (the native file store, the browser's IndexedDB log): one entry per batch of [`StoreOp`]s,
//! replayed in order to get the records back.
//!
//! An entry's body: for one op, `P` or `D`, the key string's length (one byte), the key string
//! ([`StoreKey::to_key_string`](super::StoreKey::to_key_string)) and, for a put, the record's
//! bytes ([`StoreRecord::to_bytes`]);
//! for several, `B` and then each op's body as `length (4 bytes, big-endian) | body`. How the
//! entries are framed and ordered (checksums, sequence numbers) is the store's business.

use super::{StoreOp, StoreRecord};
use alloc::{string::String, vec::Vec};

/// An op as the log holds it: the key string and, for a put, the record's bytes.
pub type LogOp = (String, Option<Vec<u8>>);

/// An op read from an entry: the key and, for a put, the value (slices of the entry).
pub type LogOpRef<'a> = (&'a str, Option<&'a [u8]>);

/// `op` as the log holds it.
pub fn log_op(op: &StoreOp) -> LogOp {
    match op {
        StoreOp::Put(r) => (r.key().to_key_string(), Some(r.to_bytes())),
        StoreOp::Delete(k) => (k.to_key_string(), None),
    }
}

/// The body of the entry for `ops` (see the module docs); empty for no ops.
pub fn encode_entry(ops: &[LogOp]) -> Vec<u8> {
    match ops {
        [] => Vec::new(),
        [(k, v)] => op_body(k, v.as_deref()),
        _ => {
            let mut body = alloc::vec![b'B'];
            for (k, v) in ops {
                let sub = op_body(k, v.as_deref());
                body.extend_from_slice(&(sub.len() as u32).to_be_bytes());
                body.extend_from_slice(&sub);
            }
            body
        }
    }
}

/// One op's body: `P` or `D`, the key's length, the key, and for a put the value.
pub fn op_body(key: &str, value: Option<&[u8]>) -> Vec<u8> {
    let mut body = Vec::with_capacity(2 + key.len() + value.map_or(0, <[u8]>::len));
    body.push(if value.is_some() { b'P' } else { b'D' });
    body.push(key.len() as u8);
    body.extend_from_slice(key.as_bytes());
    body.extend_from_slice(value.unwrap_or_default());
    body
}

/// The ops of an entry's body, in order: each key and, for a put, the value. `None` if the body
/// does not parse.
pub fn decode_entry(body: &[u8]) -> Option<Vec<LogOpRef<'_>>> {
    let mut ops = Vec::new();
    match body.split_first() {
        Some((b'B', mut rest)) => {
            while !rest.is_empty() {
                let n = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
                ops.push(decode_op(rest.get(4..4 + n)?)?);
                rest = &rest[4 + n..];
            }
        }
        _ => ops.push(decode_op(body)?),
    }
    Some(ops)
}

fn decode_op(body: &[u8]) -> Option<LogOpRef<'_>> {
    let (&tag, rest) = body.split_first()?;
    let (&klen, rest) = rest.split_first()?;
    let key = core::str::from_utf8(rest.get(..klen as usize)?).ok()?;
    let value = &rest[klen as usize..];
    match tag {
        b'P' => Some((key, Some(value))),
        b'D' => Some((key, None)),
        _ => None,
    }
}

/// A session being rebuilt from a log: the live records' bytes by key string, in key order.
#[derive(Debug, Default)]
pub struct Replay(Vec<(String, Vec<u8>)>);

impl Replay {
    /// Sets `key`'s value (a put) or removes it (a delete).
    pub fn apply(&mut self, key: &str, value: Option<&[u8]>) {
        let at = self.0.binary_search_by(|(k, _)| k.as_str().cmp(key));
        match (at, value) {
            (Ok(i), Some(v)) => self.0[i].1 = v.to_vec(),
            (Err(i), Some(v)) => self.0.insert(i, (key.into(), v.to_vec())),
            (Ok(i), None) => drop(self.0.remove(i)),
            (Err(_), None) => {}
        }
    }

    /// Applies an entry's body; `None` (and nothing applied) if it does not parse.
    pub fn apply_entry(&mut self, body: &[u8]) -> Option<()> {
        for (k, v) in decode_entry(body)? {
            self.apply(k, v);
        }
        Some(())
    }

    /// A record stored another way (one per key), as a put.
    pub fn put(&mut self, record: &StoreRecord) {
        self.apply(&record.key().to_key_string(), Some(&record.to_bytes()));
    }

    /// The records, in key order.
    pub fn records(&self) -> Result<Vec<StoreRecord>, super::RestoreError> {
        self.0.iter().map(|(_, v)| StoreRecord::from_bytes(v)).collect()
    }

    /// The live keys and values, in key order.
    pub fn entries(&self) -> &[(String, Vec<u8>)] {
        &self.0
    }
}
