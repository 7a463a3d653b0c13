//! Errors of the native client, each with a stable [`ErrorCode`]: the same code as the browser
//! driver's for the same failure.

use crate::proto::{ConnectionError, ErrorCode, RestoreError, UserError};
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
    /// The stored session does not parse, or does not fit the configuration.
    Restore(RestoreError),
    /// An option that cannot be used.
    InvalidOptions(String),
    /// A broker URL that cannot be used (`Options::from_url`).
    InvalidUrl(String),
    /// The broker refused this subscription (SUBACK code 0x80).
    SubscribeRefused(String),
    /// No connection within the connect timeout (transport, TLS handshake or CONNACK).
    Timeout,
    /// The client was disconnected (by `disconnect`, or its task ended) before the request
    /// completed. A request kept in a session store completes after the session is restored.
    Closed,
}

impl Error {
    /// The stable code, for logs and programs (`code().as_str()` is its string).
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::User(e) => e.code(),
            Error::Connection(e) => e.code(),
            Error::Io(_) => ErrorCode::ConnectionFailed,
            Error::Tls(_) => ErrorCode::TlsError,
            Error::Store(_) => ErrorCode::StoreFailed,
            Error::Restore(e) => e.code(),
            Error::InvalidOptions(_) => ErrorCode::InvalidArgument,
            Error::InvalidUrl(_) => ErrorCode::InvalidUrl,
            Error::SubscribeRefused(_) => ErrorCode::SubscribeRefused,
            Error::Timeout => ErrorCode::Timeout,
            Error::Closed => ErrorCode::Closed,
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
            Error::InvalidUrl(e) => write!(f, "invalid URL: {e}"),
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
