//! Topic names and topic filters: validation and matching [MQTT-4.7].

use super::wire::validate_utf8;
use super::CodecError;

/// Checks a topic name (what a PUBLISH carries): non-empty [MQTT-4.7.3-1], no wildcard
/// [MQTT-3.3.2-2, MQTT-4.7.1-1], no U+0000 and at most 65,535 bytes [MQTT-1.5.3].
///
/// One pass over the bytes finds wildcards and U+0000 together; the errors keep this order:
/// empty, wildcard, too long, U+0000.
pub fn validate_topic_name(topic: &str) -> Result<(), CodecError> {
    if topic.is_empty() {
        return Err(CodecError::EmptyTopic);
    }
    let scan = Scan::of(topic.as_bytes());
    if scan.wildcard {
        return Err(CodecError::WildcardInTopicName);
    }
    if topic.len() > u16::MAX as usize {
        return Err(CodecError::StringTooLong(topic.len()));
    }
    if scan.nul {
        return Err(CodecError::NullCharacter);
    }
    Ok(())
}

/// Checks the raw bytes of a decoded topic name: well-formed UTF-8 [MQTT-1.5.3-1], no U+0000
/// [MQTT-1.5.3-2], then [`validate_topic_name`]'s rules, with the same errors in the same order as
/// `validate_utf8` followed by `validate_topic_name`.
///
/// The common case (a non-empty name without U+0000 or wildcards) costs one pass over the bytes,
/// plus the UTF-8 check when a byte is not ASCII; anything else takes the checks one by one so the
/// first broken rule is the one reported.
#[inline]
pub(crate) fn validate_topic_name_bytes(b: &[u8]) -> Result<(), CodecError> {
    let scan = Scan::of(b);
    if !b.is_empty() && !scan.wildcard && !scan.nul && b.len() <= u16::MAX as usize {
        // ASCII is UTF-8; only names with other bytes need the full check.
        if scan.ascii {
            return Ok(());
        }
        return match core::str::from_utf8(b) {
            Ok(_) => Ok(()),
            Err(_) => Err(CodecError::InvalidUtf8),
        };
    }
    let topic = validate_utf8(b)?;
    validate_topic_name(topic)
}

/// Checks a topic filter (what SUBSCRIBE and UNSUBSCRIBE carry): non-empty [MQTT-4.7.3-1];
/// `#` alone in the last level [MQTT-4.7.1-2]; `+` alone in its level [MQTT-4.7.1-3].
///
/// One pass over the bytes finds U+0000 and wildcards together; the errors keep the order of
/// the string rules first (too long, U+0000), then the level rules.
pub fn validate_topic_filter(filter: &str) -> Result<(), CodecError> {
    if filter.is_empty() {
        return Err(CodecError::EmptyTopic);
    }
    if filter.len() > u16::MAX as usize {
        return Err(CodecError::StringTooLong(filter.len()));
    }
    let b = filter.as_bytes();
    let scan = Scan::of(b);
    if scan.nul {
        return Err(CodecError::NullCharacter);
    }
    if scan.wildcard {
        check_levels(b)
    } else {
        Ok(())
    }
}

/// The level rules of a topic filter [MQTT-4.7.1-2, -3], for a filter already checked to be
/// non-empty and a valid string: every `+` or `#` is a whole level, and a `#` is the last one.
#[inline]
pub(crate) fn validate_filter_levels(b: &[u8]) -> Result<(), CodecError> {
    if !Scan::of(b).wildcard {
        return Ok(());
    }
    check_levels(b)
}

/// [`validate_filter_levels`] once a wildcard was seen.
fn check_levels(b: &[u8]) -> Result<(), CodecError> {
    for (i, &c) in b.iter().enumerate() {
        if c != b'+' && c != b'#' {
            continue;
        }
        let starts_level = i == 0 || b[i - 1] == b'/';
        let last_byte = i + 1 == b.len();
        let ends_level = last_byte || b[i + 1] == b'/';
        // A wildcard shares its level with nothing; `#` ends the filter.
        if !starts_level || !ends_level || (c == b'#' && !last_byte) {
            return Err(CodecError::InvalidTopicFilter);
        }
    }
    Ok(())
}

/// What one pass over a string's bytes found.
#[derive(Debug, Clone, Copy)]
struct Scan {
    ascii: bool,
    nul: bool,
    wildcard: bool,
}

impl Scan {
    /// Eight bytes at a time, without branches on the content.
    #[inline]
    fn of(b: &[u8]) -> Scan {
        let mut acc = ScanWords::default();
        if b.len() >= 8 {
            let mut words = b.chunks_exact(8);
            for w in &mut words {
                acc.add(word(w));
            }
            if !words.remainder().is_empty() {
                // The last eight bytes, overlapping bytes already seen: seeing a byte twice
                // changes nothing.
                acc.add(word(&b[b.len() - 8..]));
            }
        } else {
            // Each byte alone in a word of 'a's (ASCII, not U+0000, not a wildcard).
            for &c in b {
                acc.add((LOW_BITS * b'a' as u64) << 8 | c as u64);
            }
        }
        Scan { ascii: acc.high & HIGH_BITS == 0, nul: acc.nul != 0, wildcard: acc.wildcard != 0 }
    }
}

/// The first eight bytes of `b` as a word.
#[inline(always)]
fn word(b: &[u8]) -> u64 {
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Non-zero if and only if a byte of `w` is zero.
#[inline(always)]
fn has_zero_byte(w: u64) -> u64 {
    w.wrapping_sub(LOW_BITS) & !w & HIGH_BITS
}

#[derive(Default)]
struct ScanWords {
    high: u64,
    nul: u64,
    wildcard: u64,
}

impl ScanWords {
    #[inline(always)]
    fn add(&mut self, w: u64) {
        self.high |= w;
        self.nul |= has_zero_byte(w);
        // `#` is 0x23 and `+` is 0x2B: they differ only in bit 3, so clearing bit 3 of every
        // byte and comparing with 0x23 finds both.
        self.wildcard |= has_zero_byte((w & !(LOW_BITS * 0x08)) ^ (LOW_BITS * 0x23));
    }
}

/// Whether `filter` matches `topic`. Both are assumed valid (see [`try_matches`]).
///
/// `#` matches the parent level too (`a/#` matches `a`) [MQTT-4.7.1-2]; a filter starting with a
/// wildcard does not match a topic starting with `$` [MQTT-4.7.2-1].
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = Some(filter.as_bytes());
    let mut t = Some(topic.as_bytes());
    loop {
        match (level(&mut f), level(&mut t)) {
            (Some(b"#"), _) => return true,
            (Some(b"+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// The next level of a topic or filter, as `split('/')` yields them (a trailing `/` ends in an
/// empty level): a byte loop, smaller in the wasm than `str::split`'s searcher.
fn level<'a>(rest: &mut Option<&'a [u8]>) -> Option<&'a [u8]> {
    let s = (*rest)?;
    match s.iter().position(|&b| b == b'/') {
        Some(i) => {
            *rest = s.get(i + 1..);
            s.get(..i)
        }
        None => {
            *rest = None;
            Some(s)
        }
    }
}

/// Validates both sides, then matches.
pub fn try_matches(filter: &str, topic: &str) -> Result<bool, CodecError> {
    validate_topic_filter(filter)?;
    validate_topic_name(topic)?;
    Ok(matches(filter, topic))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_parent_and_children() {
        assert!(matches("a/#", "a"));
        assert!(matches("a/#", "a/b/c"));
        assert!(!matches("a/#", "b"));
    }

    #[test]
    fn dollar_topics_not_matched_by_leading_wildcards_mqtt_4_7_2_1() {
        assert!(!matches("#", "$SYS/x"));
        assert!(!matches("+/x", "$SYS/x"));
        assert!(matches("$SYS/#", "$SYS/x"));
    }

    #[test]
    fn filter_rules_mqtt_4_7_1_2_and_3() {
        assert!(validate_topic_filter("#").is_ok());
        assert!(validate_topic_filter("+/+/#").is_ok());
        assert_eq!(validate_topic_filter("a/#/b"), Err(CodecError::InvalidTopicFilter));
        assert_eq!(validate_topic_filter("a+"), Err(CodecError::InvalidTopicFilter));
        assert_eq!(validate_topic_filter(""), Err(CodecError::EmptyTopic));
        assert_eq!(validate_topic_name("a/+"), Err(CodecError::WildcardInTopicName));
        assert_eq!(validate_topic_name("a\0"), Err(CodecError::NullCharacter));
    }

    /// The checks as first written (one rule at a time): the one-pass versions must agree with
    /// them on every input, errors included.
    mod reference {
        use crate::codec::wire::{check_str, validate_utf8};
        use crate::codec::CodecError;

        pub fn topic_name(topic: &str) -> Result<(), CodecError> {
            if topic.is_empty() {
                return Err(CodecError::EmptyTopic);
            }
            if topic.bytes().any(|b| b == b'+' || b == b'#') {
                return Err(CodecError::WildcardInTopicName);
            }
            check_str(topic).map(|_| ())
        }

        pub fn topic_name_bytes(b: &[u8]) -> Result<(), CodecError> {
            topic_name(validate_utf8(b)?)
        }

        pub fn topic_filter(filter: &str) -> Result<(), CodecError> {
            if filter.is_empty() {
                return Err(CodecError::EmptyTopic);
            }
            check_str(filter)?;
            let mut levels = filter.split('/').peekable();
            while let Some(level) = levels.next() {
                let last = levels.peek().is_none();
                if level.len() > 1 && level.bytes().any(|b| b == b'+' || b == b'#') {
                    return Err(CodecError::InvalidTopicFilter);
                }
                if level == "#" && !last {
                    return Err(CodecError::InvalidTopicFilter);
                }
            }
            Ok(())
        }
    }

    /// Bytes that exercise every rule: separators, both wildcards, U+0000, a two-byte UTF-8
    /// sequence (0xC3 0xA9), a stray continuation byte and an invalid byte.
    fn interesting_bytes() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let alphabet = vec![b'a', b'Z', b'/', b'+', b'#', b'$', 0u8, 0xC3, 0xA9, 0x80, 0xFF];
        // Up to 40 bytes: short names, and names crossing the 8-byte words of `Scan`.
        proptest::collection::vec(prop::sample::select(alphabet), 0..40)
    }

    proptest::proptest! {
        #[test]
        fn one_pass_topic_checks_agree_with_the_rule_by_rule_checks(b in interesting_bytes()) {
            proptest::prop_assert_eq!(validate_topic_name_bytes(&b), reference::topic_name_bytes(&b));
            if let Ok(s) = core::str::from_utf8(&b) {
                proptest::prop_assert_eq!(validate_topic_name(s), reference::topic_name(s));
                proptest::prop_assert_eq!(validate_topic_filter(s), reference::topic_filter(s));
            }
        }
    }

    #[test]
    fn scan_sees_every_byte_position() {
        // One offending byte at each position of names 1..=24 bytes long.
        for len in 1..=24 {
            for at in 0..len {
                for (c, expect) in [
                    (b'+', Err(CodecError::WildcardInTopicName)),
                    (b'#', Err(CodecError::WildcardInTopicName)),
                    (0, Err(CodecError::NullCharacter)),
                    (0xFF, Err(CodecError::InvalidUtf8)),
                ] {
                    let mut b = vec![b'a'; len];
                    b[at] = c;
                    assert_eq!(validate_topic_name_bytes(&b), expect, "len {len}, byte {c:#x} at {at}");
                }
            }
            assert_eq!(validate_topic_name_bytes(&vec![b'a'; len]), Ok(()));
        }
    }

    #[test]
    fn long_names_keep_the_order_of_errors() {
        let long = "a".repeat(65_536);
        assert_eq!(validate_topic_name(&long), Err(CodecError::StringTooLong(65_536)));
        assert_eq!(validate_topic_name_bytes(long.as_bytes()), Err(CodecError::StringTooLong(65_536)));
        let long_wild = format!("{long}+");
        assert_eq!(validate_topic_name(&long_wild), Err(CodecError::WildcardInTopicName));
        let long_nul = format!("{long}\0");
        assert_eq!(validate_topic_name(&long_nul), Err(CodecError::StringTooLong(65_537)));
        assert_eq!(validate_topic_filter(&long), Err(CodecError::StringTooLong(65_536)));
        assert_eq!(validate_topic_name(&long[..65_535]), Ok(()));
    }
}
