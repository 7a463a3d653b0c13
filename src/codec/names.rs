//! [`Topic`] and [`TopicFilter`]: strings checked once, where they are made, so that encoding a
//! packet never checks them again.
//!
//! Every public constructor applies the rules of [`validate_topic_name`] or
//! [`validate_topic_filter`]; the decoder builds them from bytes it has just checked. A packet
//! that holds one cannot hold an invalid topic, and [`Packet::encode`](super::Packet::encode)
//! only checks what the type does not say (packet ids, QoS and DUP, the packet's length).

use super::topic::{matches, validate_topic_filter, validate_topic_name};
use super::{ByteStr, CodecError};
use alloc::string::String;
use core::{fmt, ops::Deref};

/// A topic name, what a PUBLISH and a will carry: non-empty [MQTT-4.7.3-1], no wildcard
/// [MQTT-3.3.2-2], no U+0000 and at most 65,535 bytes [MQTT-1.5.3]. Backed by [`ByteStr`], so a
/// decoded topic shares the packet's bytes and a clone costs a reference count.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic(ByteStr);

impl Topic {
    /// Checks `topic` ([`validate_topic_name`]: the same errors in the same order).
    pub fn new(topic: impl Into<ByteStr>) -> Result<Topic, CodecError> {
        let topic = topic.into();
        validate_topic_name(&topic)?;
        Ok(Topic(topic))
    }

    /// A topic name written in the program, without copying. Panics if it is not a valid topic
    /// name; in a `const` it is checked when compiling.
    pub const fn from_static(topic: &'static str) -> Topic {
        assert!(static_name_ok(topic.as_bytes()), "not a valid MQTT topic name");
        Topic(ByteStr::from_static(topic))
    }

    /// Built from bytes the decoder checked with [`validate_topic_name`]'s rules.
    #[inline]
    pub(crate) fn from_validated(topic: ByteStr) -> Topic {
        debug_assert!(validate_topic_name(&topic).is_ok());
        Topic(topic)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn as_byte_str(&self) -> &ByteStr {
        &self.0
    }

    pub fn into_byte_str(self) -> ByteStr {
        self.0
    }

    /// Whether `filter` matches this topic [MQTT-4.7].
    pub fn matches(&self, filter: &TopicFilter) -> bool {
        matches(filter, self)
    }
}

/// [`validate_topic_name`] for a `&'static str`, in a `const fn`.
const fn static_name_ok(b: &[u8]) -> bool {
    if b.is_empty() || b.len() > u16::MAX as usize {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if matches!(b[i], b'+' | b'#' | 0) {
            return false;
        }
        i += 1;
    }
    true
}

/// A topic filter, what SUBSCRIBE and UNSUBSCRIBE carry: a valid string (no U+0000, at most
/// 65,535 bytes [MQTT-1.5.3]), non-empty [MQTT-4.7.3-1], `#` alone in the last level
/// [MQTT-4.7.1-2], `+` alone in its level [MQTT-4.7.1-3].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicFilter(String);

impl TopicFilter {
    /// Checks `filter` ([`validate_topic_filter`]: the same errors in the same order).
    pub fn new(filter: impl Into<String>) -> Result<TopicFilter, CodecError> {
        let filter = filter.into();
        validate_topic_filter(&filter)?;
        Ok(TopicFilter(filter))
    }

    /// Built from a string the decoder or a store checked with [`validate_topic_filter`]'s rules.
    #[inline]
    pub(crate) fn from_validated(filter: String) -> TopicFilter {
        debug_assert!(validate_topic_filter(&filter).is_ok());
        TopicFilter(filter)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// Whether this filter matches `topic` [MQTT-4.7].
    pub fn matches(&self, topic: &Topic) -> bool {
        matches(self, topic)
    }
}

macro_rules! string_like {
    ($t:ty) => {
        impl Deref for $t {
            type Target = str;
            #[inline]
            fn deref(&self) -> &str {
                self.as_str()
            }
        }

        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.as_str(), f)
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl TryFrom<&str> for $t {
            type Error = CodecError;
            fn try_from(s: &str) -> Result<Self, CodecError> {
                <$t>::new(s)
            }
        }

        impl TryFrom<String> for $t {
            type Error = CodecError;
            fn try_from(s: String) -> Result<Self, CodecError> {
                <$t>::new(s)
            }
        }
    };
}

string_like!(Topic);
string_like!(TopicFilter);

impl From<Topic> for ByteStr {
    fn from(t: Topic) -> ByteStr {
        t.0
    }
}

impl From<TopicFilter> for String {
    fn from(f: TopicFilter) -> String {
        f.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_apply_the_rules() {
        assert_eq!(Topic::new("a/b").map(|t| t.to_string()), Ok("a/b".into()));
        assert_eq!(Topic::new(""), Err(CodecError::EmptyTopic));
        assert_eq!(Topic::new("a/+"), Err(CodecError::WildcardInTopicName));
        assert_eq!(Topic::new("a\0"), Err(CodecError::NullCharacter));
        assert_eq!(Topic::new("a".repeat(65_536)), Err(CodecError::StringTooLong(65_536)));
        assert_eq!(TopicFilter::new("a/+/#").map(String::from), Ok("a/+/#".into()));
        assert_eq!(TopicFilter::new("a/#/b"), Err(CodecError::InvalidTopicFilter));
        assert_eq!(TopicFilter::new(""), Err(CodecError::EmptyTopic));
        assert_eq!(TopicFilter::new("a\0"), Err(CodecError::NullCharacter));
        assert!(TopicFilter::new("a/+").unwrap().matches(&Topic::from_static("a/b")));
    }

    #[test]
    fn from_static_agrees_with_new() {
        for ok in ["a", "a/b", "/", "$SYS/x", "é"] {
            assert!(static_name_ok(ok.as_bytes()), "{ok}");
        }
        for bad in ["", "+", "a/#", "a\0b"] {
            assert!(!static_name_ok(bad.as_bytes()), "{bad:?}");
        }
        const T: Topic = Topic::from_static("const/topic");
        assert_eq!(T, "const/topic");
    }

    #[test]
    #[should_panic(expected = "not a valid MQTT topic name")]
    fn from_static_panics_on_a_bad_name() {
        let _ = Topic::from_static("a/+");
    }
}
