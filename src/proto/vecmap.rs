//! A `HashMap` stand-in for the session's small maps keyed by packet id: a sorted `Vec` with
//! binary search. Each hash map type costs kilobytes of hashbrown and SipHash code in
//! the wasm module; these cost a few hundred bytes. Only the methods the session uses exist.
//! Iteration is in key order, and the session relies on it: what it resends, stores and reports
//! comes out by packet id without a sort of its own (`records`, `resend_inflight`,
//! `pubrecs_may_be_lost`, `forget_incoming`).

use alloc::vec::Vec;
use core::fmt;

/// A map from `K` to `V`, sorted by key.
pub(crate) struct VecMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap(Vec::new())
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for VecMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter().map(|(k, v)| (k, v))).finish()
    }
}

impl<K: Ord + Copy, V> VecMap<K, V> {
    fn find(&self, k: &K) -> Result<usize, usize> {
        self.0.binary_search_by(|(x, _)| x.cmp(k))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn contains_key(&self, k: &K) -> bool {
        self.find(k).is_ok()
    }

    pub fn get(&self, k: &K) -> Option<&V> {
        self.find(k).ok().map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        self.find(k).ok().map(|i| &mut self.0[i].1)
    }

    /// The previous value of `k`, if it had one.
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        match self.find(&k) {
            Ok(i) => Some(core::mem::replace(&mut self.0[i].1, v)),
            Err(i) => {
                self.0.insert(i, (k, v));
                None
            }
        }
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        self.find(k).ok().map(|i| self.0.remove(i).1)
    }

    pub fn iter(&self) -> Iter<'_, K, V> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.0.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn drain(&mut self) -> alloc::vec::Drain<'_, (K, V)> {
        self.0.drain(..)
    }
}

pub(crate) type Iter<'a, K, V> =
    core::iter::Map<core::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;

impl<'a, K: Ord + Copy, V> IntoIterator for &'a VecMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::VecMap;
    use std::collections::BTreeMap;

    /// The session takes its orders from this map's iteration: it must stay the key order
    /// whatever the inserts and removals (a BTreeMap is the reference).
    #[test]
    fn iteration_stays_in_key_order_through_inserts_and_removals() {
        let mut m = VecMap::default();
        let mut reference = BTreeMap::new();
        // A fixed pseudo-random walk over packet ids, wraparound values included.
        let mut x: u32 = 12_345;
        for step in 0..5_000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let k = match x % 7 {
                0 => 65_535,
                1 => 1,
                _ => (x >> 8) as u16 % 512,
            };
            if x % 3 == 0 {
                assert_eq!(m.remove(&k), reference.remove(&k), "step {step}");
            } else {
                assert_eq!(m.insert(k, step), reference.insert(k, step), "step {step}");
            }
            assert_eq!(m.len(), reference.len());
        }
        let got: Vec<_> = m.iter().map(|(k, v)| (*k, *v)).collect();
        let want: Vec<_> = reference.into_iter().collect();
        assert_eq!(got, want);
    }
}
