//! The sans-IO MQTT 3.1.1 client session.
//!
//! No sockets, clocks, timers or async: a driver feeds it bytes, transport events and the time
//! (`handle_*`), gives it commands (`publish`, `subscribe`, ...) and carries out what it asks for
//! (`poll_store`, `poll_transmit`, `poll_timeout`, `poll_event`). The same code runs in the
//! browser and natively.
//!
//! Guarantees, each tested in `tests/proto.rs`:
//! - QoS 1 and 2 in both directions, with in-flight messages resent (DUP) and PUBREL resent in
//!   order on every new connection [MQTT-4.4.0-1, MQTT-4.6.0-1..4]; an incoming QoS 2 message is
//!   delivered once [MQTT-4.3.3-2].
//! - Every command returns a [`RequestId`]; its completion event names it.
//! - Commands issued offline, or past `max_inflight`, are queued up to `max_queued`; past that
//!   the command fails with [`UserError::QueueFull`]. Nothing blocks, nothing is dropped silently.
//! - A broker that breaks a rule ends the connection with a [`ProtocolError`].
//! - Every change a resumed session needs comes out as a [`StoreOp`] before the bytes it
//!   protects; [`Client::restore`] from those records resumes exactly.
//! - A driver that stops between a store write and delivering what it protected loses nothing:
//!   an incoming QoS 2 message whose id was stored but never delivered is delivered when the
//!   broker sends it again after the restore (the broker never got its PUBREC). Drivers call
//!   [`Client::handle_delivered`] for each QoS 2 message they hand to the application, so that
//!   one whose PUBREC may be lost (held back, or its connection ended) is marked delivered.
//! - A driver can pace the broker by the application (`tests/proto_flow.rs`):
//!   [`Client::hold_acks`] holds back the acknowledgements of incoming QoS 1/2 messages (sent
//!   later in arrival order [MQTT-4.6.0-2, MQTT-4.6.0-3]; a QoS 2 message is still delivered
//!   once), and [`Client::handle_read_paused`] keeps the keepalive right while it stops reading.

mod client;
mod code;
mod config;
mod error;
mod event;
pub mod log;
mod session;
mod store;
mod time;
mod vecmap;

use alloc::vec::Vec;
pub use client::{check_publish, check_subscribe, check_unsubscribe, Client};
pub use code::ErrorCode;
pub use config::Config;
pub use error::{ConnectionError, ProtocolError, RestoreError, UserError};
pub use event::{Event, Message, RequestId};
pub use store::{StoreKey, StoreOp, StoreRecord, MAX_REQUEST_ID};
/// The one time type of the core: the time since an origin the driver chose. The core never
/// reads a clock; the driver reads its own and passes the time in.
pub use time::Instant;

/// Sorts `v` by `key`, stably, with one sort instantiation for the whole crate: the keys are
/// sorted with their positions (so equal keys keep their order) and `v` is rearranged to match.
/// Every `sort*` call on a different element type would otherwise be a copy of the standard
/// library's sort in the wasm module (~2-3 KB each).
pub(crate) fn sort_by_key<T>(v: &mut [T], key: impl Fn(&T) -> (u64, u64)) {
    let mut keys: Vec<((u64, u64), usize)> = Vec::with_capacity(v.len());
    for (i, x) in v.iter().enumerate() {
        keys.push((key(x), i));
    }
    sort_keys(&mut keys);
    // Position i gets the element that was at keys[i].1: follow each cycle of the permutation
    // with swaps (an element already moved is found where the earlier swaps put it).
    for i in 0..keys.len() {
        let mut j = keys[i].1;
        while j < i {
            j = keys[j].1;
        }
        v.swap(i, j);
    }
}

/// Sorts (request or order, packet id) pairs: one instantiation of [`sort_by_key`] for the
/// several places that sort such pairs (each closure would be one more).
#[inline(never)]
pub(crate) fn sort_pairs(v: &mut [(u64, u16)]) {
    sort_by_key(v, |&(a, b)| (a, b.into()));
}

/// A heapsort: the keys are distinct (each carries its position), so any correct sort gives the
/// one order; this one is a few hundred bytes of wasm where `sort_unstable` is about 2.5 KB.
#[inline(never)]
fn sort_keys(keys: &mut [((u64, u64), usize)]) {
    fn sift_down(v: &mut [((u64, u64), usize)], mut node: usize, end: usize) {
        loop {
            let mut child = 2 * node + 1;
            if child >= end {
                return;
            }
            if child + 1 < end && v[child] < v[child + 1] {
                child += 1;
            }
            if v[node] >= v[child] {
                return;
            }
            v.swap(node, child);
            node = child;
        }
    }
    let n = keys.len();
    for i in (0..n / 2).rev() {
        sift_down(keys, i, n);
    }
    for end in (1..n).rev() {
        keys.swap(0, end);
        sift_down(keys, 0, end);
    }
}

#[cfg(test)]
mod tests {
    /// Against the standard library's stable sort, on every arrangement of a few keys with
    /// repeats (and so every permutation shape).
    #[test]
    fn sort_by_key_is_a_stable_sort() {
        for n in (0..=7u64).chain([31, 64, 200]) {
            for seed in 0..(if n <= 7 { 5040 } else { 200 }) {
                let mut v: Vec<(u64, u64)> = Vec::new();
                let mut s = seed;
                for i in 0..n {
                    v.push((s % (n / 4 + 4), i));
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) >> 3;
                }
                let mut want = v.clone();
                want.sort_by_key(|x| x.0);
                super::sort_by_key(&mut v, |x| (x.0, 0));
                assert_eq!(v, want, "n {n} seed {seed}");
            }
        }
    }
}
