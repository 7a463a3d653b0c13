//! The one set of error codes (`mq::proto::ErrorCode`): each string is unique and SCREAMING_SNAKE,
//! the README's "Error codes" table lists each exactly once, and the core's errors map to them.
//! Native only: it reads README.md from the file system.
#![cfg(not(target_arch = "wasm32"))]

use mq::codec::{CodecError, ConnectReturnCode};
use mq::proto::{ConnectionError, ErrorCode, ProtocolError, RestoreError, UserError};
use std::collections::HashSet;

fn is_screaming_snake(s: &str) -> bool {
    s.split('_').all(|w| {
        w.starts_with(|c: char| c.is_ascii_uppercase())
            && w.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    })
}

#[test]
fn every_code_string_is_unique_and_screaming_snake() {
    assert!(!ErrorCode::ALL.is_empty());
    let mut seen = HashSet::new();
    for &code in ErrorCode::ALL {
        let s = code.as_str();
        assert!(is_screaming_snake(s), "{code:?}: {s:?} is not SCREAMING_SNAKE");
        assert!(seen.insert(s), "{code:?}: {s:?} is used twice");
        assert_eq!(code.to_string(), s, "Display is as_str");
    }
    let variants: HashSet<ErrorCode> = ErrorCode::ALL.iter().copied().collect();
    assert_eq!(variants.len(), ErrorCode::ALL.len(), "ALL lists a variant twice");
}

#[test]
fn screaming_snake_check_refuses_other_shapes() {
    for bad in ["", "closed", "Closed", "_CLOSED", "CLOSED_", "NOT__CLOSED", "NOT-CLOSED", "9LIVES"] {
        assert!(!is_screaming_snake(bad), "{bad:?}");
    }
    assert!(is_screaming_snake("CONNECT_REFUSED"));
}

/// The rows of the README's "Error codes" table: the first cell of each, without backticks.
fn readme_table_codes() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let start = readme.find("\n## Error codes\n").expect("README.md has a section \"## Error codes\"");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    section
        .lines()
        .filter(|l| l.starts_with('|'))
        .skip(2) // the header and the |---| line
        .map(|l| l.split('|').nth(1).unwrap_or("").trim().trim_matches('`').to_owned())
        .collect()
}

#[test]
fn readme_lists_every_code_once() {
    let rows = readme_table_codes();
    for &code in ErrorCode::ALL {
        let n = rows.iter().filter(|r| *r == code.as_str()).count();
        assert_eq!(n, 1, "README.md's \"Error codes\" table lists {} {n} times", code.as_str());
    }
    let known: HashSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    for r in &rows {
        assert!(known.contains(r.as_str()), "README.md lists {r:?}, which is not an ErrorCode");
    }
    assert_eq!(rows.len(), ErrorCode::ALL.len());
}

/// The same failure has the same code in every layer: the core's errors map as the drivers
/// expect (the browser driver gives these codes to JS, the native one to Rust callers).
#[test]
fn core_errors_map_to_their_codes() {
    let codec = CodecError::EmptyTopic;
    let cases = [
        (UserError::InvalidTopic(codec.clone()).code(), ErrorCode::InvalidTopic),
        (UserError::InvalidFilter(codec.clone()).code(), ErrorCode::InvalidTopic),
        (UserError::NoFilters.code(), ErrorCode::InvalidArgument),
        (UserError::TooLarge(codec).code(), ErrorCode::TooLarge),
        (UserError::QueueFull { max: 1 }.code(), ErrorCode::QueueFull),
        (UserError::InvalidConfig("x").code(), ErrorCode::InvalidArgument),
        (UserError::Closed.code(), ErrorCode::Closed),
        (ConnectionError::Refused(ConnectReturnCode::NotAuthorized).code(), ErrorCode::ConnectRefused),
        (
            ConnectionError::Protocol(ProtocolError::SubAckCountMismatch { expected: 2, got: 1 }).code(),
            ErrorCode::ProtocolError,
        ),
        (ConnectionError::ConnAckTimeout.code(), ErrorCode::Timeout),
        (ConnectionError::KeepAliveTimeout.code(), ErrorCode::KeepaliveTimeout),
        (ConnectionError::TransportClosed.code(), ErrorCode::ConnectionLost),
        (ConnectionError::Requested.code(), ErrorCode::Closed),
        (RestoreError::Corrupt("x").code(), ErrorCode::SessionCorrupt),
        (RestoreError::Config(UserError::InvalidConfig("x")).code(), ErrorCode::InvalidArgument),
    ];
    for (i, (got, want)) in cases.into_iter().enumerate() {
        assert_eq!(got, want, "case {i}");
    }
    assert_eq!(ErrorCode::SessionCorrupt.as_str(), "SESSION_CORRUPT");
    assert_eq!(ErrorCode::StoreFailed.as_str(), "STORE_FAILED");
}
