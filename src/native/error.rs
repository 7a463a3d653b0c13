//! Errors of the native client, each with a stable `code()` string (the same codes as the core's).

use crate::proto::{ConnectionError, RestoreError, UserError};
use core::fmt;
use std::io;
use std::sync::Arc;

/// Why a call on the native client failed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The caller asked for something invalid or past a limit (bad topic, queue full, ...).
    User(UserError),
    /// The connection ended (refused by the broker, protocol error, keepalive timeout, ...) and
    /// the client will not reconnect.
    Connection(ConnectionError),
    /// The transport could not be opened or failed (DNS, TCP refused, reset).
    Io(Arc<io::Error>),
    /// The TLS handshake failed or the TLS options are unusable (certificate refused, bad PEM).
    Tls(String),
    /// The session store could not be read or written. The client stops: a message whose record
    /// was not made durable is never sent.
    Store(Arc<io::Error>),
    /// The stored session does not parse.
    Restore(RestoreError),
    /// A URL or option that cannot be used.
    InvalidOptions(String),
    /// The broker refused this subscription (SUBACK code 0x80).
    SubscribeRefused(String),
    /// No connection within the connect timeout (transport, TLS handshake or CONNACK).
    Timeout,
    /// The client was disconnected (by `disconnect`, or its task ended) before the request
    /// completed. A request kept in a session store completes after the session is restored.
    Closed,
}

impl Error {
    /// A stable code string, for logs and exit codes.
    pub fn code(&self) -> &'static str {
        match self {
            Error::User(e) => e.code(),
            Error::Connection(e) => e.code(),
            Error::Io(_) => "CONNECTION_FAILED",
            Error::Tls(_) => "TLS_ERROR",
            Error::Store(_) => "STORE_ERROR",
            Error::Restore(_) => "STORE_CORRUPT",
            Error::InvalidOptions(_) => "INVALID_ARGUMENT",
            Error::SubscribeRefused(_) => "SUBSCRIBE_REFUSED",
            Error::Timeout => "TIMEOUT",
            Error::Closed => "CLOSED",
        }
    }

    pub(crate) fn io(e: io::Error) -> Error {
        Error::Io(Arc::new(e))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::User(e) => write!(f, "{e}"),
            Error::Connection(e) => write!(f, "{e}"),
            Error::Io(e) => write!(f, "connection failed: {e}"),
            Error::Tls(e) => write!(f, "TLS: {e}"),
            Error::Store(e) => write!(f, "session store: {e}"),
            Error::Restore(e) => write!(f, "session store: {e}"),
            Error::InvalidOptions(e) => write!(f, "invalid options: {e}"),
            Error::SubscribeRefused(t) => write!(f, "the broker refused the subscription to '{t}'"),
            Error::Timeout => write!(f, "timed out connecting"),
            Error::Closed => write!(f, "the client is closed"),
        }
    }
}

impl std::error::Error for Error {}

impl From<UserError> for Error {
    fn from(e: UserError) -> Self {
        Error::User(e)
    }
}

impl From<ConnectionError> for Error {
    fn from(e: ConnectionError) -> Self {
        Error::Connection(e)
    }
}
