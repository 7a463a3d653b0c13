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

use crate::codec::Text;
use crate::proto::log::Replay;

/// The record's key: `x`, the tab's id, `/`, and `n` in 16 decimal digits (so a tab's keys
/// sort by `n`: 2^53 has 16).
pub(super) fn key(tab: &str, n: f64) -> String {
    let mut t = Text::default();
    t.s(&prefix(tab)).radix(n.max(0.0) as u64, 10, 16);
    t.0
}

fn prefix(tab: &str) -> String {
    let mut p = String::from("x");
    p.push_str(tab);
    p.push('/');
    p
}

/// The session's request id of request `n` of `tab`, if the session holds its origin.
pub(super) fn find(side: &Replay, tab: &str, n: f64) -> Option<u64> {
    let key = key(tab, n);
    let e = side.entries();
    let v = &e[e.binary_search_by(|(k, _)| k.as_str().cmp(&key)).ok()?].1;
    Some(u64::from_be_bytes(v.as_slice().try_into().ok()?))
}

/// The keys of `tab`'s origins below request `low` (all of them: `None`).
pub(super) fn below(side: &Replay, tab: &str, low: Option<f64>) -> Vec<String> {
    let (p, end) = (prefix(tab), low.map(|n| key(tab, n)));
    let e = side.entries().iter().map(|(k, _)| k);
    e.filter(|k| k.starts_with(&p) && end.as_ref().map_or(true, |end| *k < end)).cloned().collect()
}

/// The keys of the origins of tabs not among `live` (lock names ending in tab ids).
pub(super) fn of_gone(side: &Replay, live: &[String]) -> Vec<String> {
    let e = side.entries().iter().map(|(k, _)| k);
    e.filter(|k| {
        let tab = k.get(1..).and_then(|t| t.split('/').next()).unwrap_or_default();
        !live.iter().any(|l| l == tab)
    })
    .cloned()
    .collect()
}
