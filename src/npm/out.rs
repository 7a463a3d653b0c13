//! The output buffer and the items written into it. Each item is a tag byte and its data:
//! fields (a `u32` length, little-endian, and the bytes), `u8`, `u16` and `f64` little-endian.
//!
//! `mq_poll`, in the core's order (store ops, bytes, events, the next timeout):
//!
//! | tag | item | data |
//! |-----|------|------|
//! | `P` | store put | key (field, `StoreKey::to_key_string`), value (field, `StoreRecord::to_bytes`) |
//! | `D` | store delete | key (field) |
//! | `B` | bytes to send | the bytes (field); absent when there are none |
//! | `c` | connected | session present (`u8`) |
//! | `d` | disconnected | code (field), message (field), CONNACK return code (`u8`, 0 none), retryable (`u8`), requested (`u8`) |
//! | `m` | message | topic (field), payload (field), qos + 4 retain + 8 dup (`u8`), packet id (`u16`) |
//! | `p` | published | request id (`f64`) |
//! | `s` | subscribed | request id (`f64`), SUBACK return codes (field, one byte each) |
//! | `u` | unsubscribed | request id (`f64`) |
//! | `t` | timeout | when to call `handle_timeout` (`f64` ms); absent for none |
//!
//! `mq_describe`, one item per record (a subscription list gives one `S` per filter):
//!
//! | tag | record | data |
//! |-----|--------|------|
//! | `O` | outgoing, sent | request id (`f64`), packet id (`u16`), qos (`u8`), topic (field), payload (field), retain (`u8`) |
//! | `R` | outgoing, released | request id (`f64`), packet id (`u16`) |
//! | `I` | incoming QoS 2 | packet id (`u16`) |
//! | `Q` | queued | request id (`f64`), qos (`u8`), topic (field), payload (field), retain (`u8`) |
//! | `S` | subscription | filter (field), qos (`u8`) |

use crate::codec::{ConnectReturnCode, SubAckCode};
use crate::proto::{Client, ConnectionError, Event, StoreOp, StoreRecord};
use alloc::vec::Vec;

pub(crate) struct Out(pub Vec<u8>);

impl Out {
    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn u8(&mut self, b: u8) {
        self.0.push(b);
    }

    fn u16(&mut self, n: u16) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    fn f64(&mut self, x: f64) {
        self.0.extend_from_slice(&x.to_le_bytes());
    }

    pub fn field(&mut self, b: &[u8]) {
        self.0.extend_from_slice(&(b.len() as u32).to_le_bytes());
        self.0.extend_from_slice(b);
    }

    /// Drains the client's outputs: its store ops and, unless `store_only`, its bytes, events and
    /// next timeout.
    pub fn poll(&mut self, c: &mut Client, store_only: bool) {
        while let Some(op) = c.poll_store() {
            match op {
                StoreOp::Put(record) => {
                    self.u8(b'P');
                    self.field(record.key().to_key_string().as_bytes());
                    self.field(&record.to_bytes());
                }
                StoreOp::Delete(key) => {
                    self.u8(b'D');
                    self.field(key.to_key_string().as_bytes());
                }
            }
        }
        if store_only {
            return;
        }
        // The bytes go straight into the buffer, after a length patched in afterwards.
        self.u8(b'B');
        let at = self.0.len();
        self.0.extend_from_slice(&[0; 4]);
        let n = c.poll_transmit(&mut self.0);
        if n == 0 {
            self.0.truncate(at - 1);
        } else {
            self.0[at..at + 4].copy_from_slice(&(n as u32).to_le_bytes());
        }
        while let Some(event) = c.poll_event() {
            self.event(event);
        }
        if let Some(at) = c.poll_timeout() {
            self.u8(b't');
            self.f64(at.as_millis_f64());
        }
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::Connected { session_present } => {
                self.u8(b'c');
                self.u8(session_present.into());
            }
            Event::Disconnected { reason } => {
                self.u8(b'd');
                self.field(reason.code().as_bytes());
                self.field(reason.message().as_bytes());
                self.u8(match reason {
                    ConnectionError::Refused(code) => code as u8,
                    _ => ConnectReturnCode::Accepted as u8,
                });
                self.u8(reason.is_retryable().into());
                self.u8((reason == ConnectionError::Requested).into());
            }
            Event::Message(p) => {
                self.u8(b'm');
                self.field(p.topic.as_bytes());
                self.field(&p.payload);
                self.u8(p.qos as u8 | u8::from(p.retain) << 2 | u8::from(p.dup) << 3);
                self.u16(p.pkid);
            }
            Event::Published { id } => {
                self.u8(b'p');
                self.f64(id.0 as f64);
            }
            Event::Subscribed { id, codes } => {
                self.u8(b's');
                self.f64(id.0 as f64);
                let codes: Vec<u8> = codes
                    .iter()
                    .map(|c| match c {
                        SubAckCode::Granted(q) => *q as u8,
                        SubAckCode::Failure => 0x80,
                    })
                    .collect();
                self.field(&codes);
            }
            Event::Unsubscribed { id } => {
                self.u8(b'u');
                self.f64(id.0 as f64);
            }
        }
    }

    /// One record as `describeRecords` items.
    pub fn describe(&mut self, record: &StoreRecord) {
        match record {
            StoreRecord::Outgoing { request, publish } => {
                self.u8(b'O');
                self.f64(request.0 as f64);
                self.u16(publish.pkid);
                self.u8(publish.qos as u8);
                self.field(publish.topic.as_bytes());
                self.field(&publish.payload);
                self.u8(publish.retain.into());
            }
            StoreRecord::Released { request, pkid } => {
                self.u8(b'R');
                self.f64(request.0 as f64);
                self.u16(*pkid);
            }
            StoreRecord::Incoming { pkid, .. } => {
                self.u8(b'I');
                self.u16(*pkid);
            }
            StoreRecord::Queued { request, message } => {
                self.u8(b'Q');
                self.f64(request.0 as f64);
                self.u8(message.qos as u8);
                self.field(message.topic.as_bytes());
                self.field(&message.payload);
                self.u8(message.retain.into());
            }
            StoreRecord::Subscriptions(subs) => {
                for (filter, qos) in subs {
                    self.u8(b'S');
                    self.field(filter.as_bytes());
                    self.u8(*qos as u8);
                }
            }
        }
    }
}
