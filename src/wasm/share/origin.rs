//! Where a publish of the session came from: the tab and its request number `n`, kept with the
//! session so a failover's leader knows a tab's resend of a publish an earlier leader stored.
//!
//! The leader answers a publish `stored` once the IndexedDB write holding it committed; a page
//! that goes between that commit and the tab reading the answer leaves the message in the
//! session and unacknowledged to the tab, which resends it to the next leader. So with each QoS
//! 1/2 publish of a tab the leader puts the record `x<tab>/<n>` -> the session's request id
//! (8 bytes, big-endian) in the same transaction as the message (`Driver::side_op`, one of the
//! driver's own records, `idb::SIDE`). A leader that gets a publish whose origin the session
//! holds does not publish it again: it answers `stored` with that request id if the request is
//! still pending (restored: `rdone` follows when it completes), `done` if it completed.
//!
//! A tab's requests carry the lowest `n` it still waits for (`req`'s `id`): the origins below it
//! are settled in that tab and go; those of a tab that is gone (its lock granted to the leader,
//! or not held when a leader takes over) go too.

use super::super::idb::SIDE;
use crate::codec::Text;
use crate::proto::log::Replay;

/// The record's key: `x`, the tab's id, `/`, and `n` in 16 decimal digits (so a tab's keys
/// sort by `n`: 2^53 has 16).
pub(super) fn key(tab: &str, n: f64) -> String {
    let mut t = Text(String::from(SIDE));
    t.s(tab).s("/").radix(n.max(0.0) as u64, 10, 16);
    t.0
}

/// The session's request id of request `n` of `tab`, if the session holds its origin.
pub(super) fn find(side: &Replay, tab: &str, n: f64) -> Option<u64> {
    let key = key(tab, n);
    let e = side.entries();
    let (_, v) = e.get(e.binary_search_by(|(k, _)| k.as_str().cmp(&key)).ok()?)?;
    Some(u64::from_be_bytes(v.as_slice().try_into().ok()?))
}

/// The keys of the origins to forget: `tab`'s below its request `low` (all of them if `low` is
/// negative), or with `live`, those of every tab not among `live`.
pub(super) fn stale(side: &Replay, tab: &str, low: f64, live: Option<&[String]>) -> Vec<String> {
    let end = key(tab, low);
    let mut out = Vec::new();
    for (k, _) in side.entries() {
        // `x`, the tab, then `/` and 16 digits.
        let t = k.get(1..k.len().saturating_sub(17)).unwrap_or_default();
        let gone = match live {
            Some(live) => !live.iter().any(|l| l == t),
            None => t == tab && (low < 0.0 || *k < end),
        };
        if gone {
            out.push(k.clone());
        }
    }
    out
}
