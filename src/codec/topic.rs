//! Topic names and topic filters: validation and matching [MQTT-4.7].

use super::wire::check_str;
use super::CodecError;

/// Checks a topic name (what a PUBLISH carries): non-empty [MQTT-4.7.3-1], no wildcard
/// [MQTT-3.3.2-2, MQTT-4.7.1-1], no U+0000 and at most 65,535 bytes [MQTT-1.5.3].
pub fn validate_topic_name(topic: &str) -> Result<(), CodecError> {
    if topic.is_empty() {
        return Err(CodecError::EmptyTopic);
    }
    if topic.bytes().any(|b| b == b'+' || b == b'#') {
        return Err(CodecError::WildcardInTopicName);
    }
    check_str(topic).map(|_| ())
}

/// Checks a topic filter (what SUBSCRIBE and UNSUBSCRIBE carry): non-empty [MQTT-4.7.3-1];
/// `#` alone in the last level [MQTT-4.7.1-2]; `+` alone in its level [MQTT-4.7.1-3].
pub fn validate_topic_filter(filter: &str) -> Result<(), CodecError> {
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

/// Whether `filter` matches `topic`. Both are assumed valid (see [`try_matches`]).
///
/// `#` matches the parent level too (`a/#` matches `a`) [MQTT-4.7.1-2]; a filter starting with a
/// wildcard does not match a topic starting with `$` [MQTT-4.7.2-1].
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
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
}
