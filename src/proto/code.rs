//! The one set of error codes: every failure of every driver (native and browser) has one
//! [`ErrorCode`], and the same failure has the same code on both. `as_str()` is the stable string
//! JS sees as `error.code`, the `mq` tool prints, and the README's "Error codes" table lists.

use core::fmt;

/// Declares [`ErrorCode`], its `as_str` and `ALL` from one list, so the three cannot disagree.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])+ $name:ident => $s:literal,)+) => {
        /// A stable code for a failure, the same natively and in the browser.
        ///
        /// Get one from `code()` on [`UserError`](super::UserError),
        /// [`ConnectionError`](super::ConnectionError), [`RestoreError`](super::RestoreError)
        /// or a driver's error; [`as_str`](ErrorCode::as_str) is its `SCREAMING_SNAKE` string.
        /// New codes may be added (the enum is `#[non_exhaustive]`); a code's string never
        /// changes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[doc = $doc])+ $name,)+
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name,)+];

            /// The code's string, e.g. `"CONNECT_REFUSED"`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$name => $s,)+
                }
            }
        }
    };
}

error_codes! {
    // The caller asked for something invalid: nothing was sent or queued.
    /// An argument or option of the wrong type or out of range: QoS 3, no topic filter, an
    /// unknown option key, a configuration that cannot make a valid CONNECT.
    InvalidArgument => "INVALID_ARGUMENT",
    /// A topic name that cannot be published to (empty, a wildcard, U+0000, too long) or a topic
    /// filter that cannot be subscribed to.
    InvalidTopic => "INVALID_TOPIC",
    /// A broker URL that cannot be used: wrong scheme (`ws://`/`wss://` in the browser,
    /// `mqtt://`/`mqtts://` natively), no host, a bad port or query.
    InvalidUrl => "INVALID_URL",
    /// A packet larger than MQTT can encode, or a payload there is no memory for.
    TooLarge => "TOO_LARGE",
    /// The offline / in-flight overflow queue is full (`Config::max_queued`).
    QueueFull => "QUEUE_FULL",
    // Connecting and the connection.
    /// The transport could not be opened: DNS, TCP refused or reset, a WebSocket that failed
    /// before it opened.
    ConnectionFailed => "CONNECTION_FAILED",
    /// The TLS handshake failed or the TLS options are unusable (certificate refused, bad PEM).
    /// Native only: in the browser a TLS failure is a `CONNECTION_FAILED`.
    TlsError => "TLS_ERROR",
    /// No connection within the connect timeout (transport, TLS handshake or CONNACK).
    Timeout => "TIMEOUT",
    /// The broker refused the connection with a CONNACK return code 1..=5.
    ConnectRefused => "CONNECT_REFUSED",
    /// The broker broke a rule of MQTT 3.1.1 (a malformed or unexpected packet); the connection
    /// was closed.
    ProtocolError => "PROTOCOL_ERROR",
    /// No PINGRESP within the ping timeout after a PINGREQ, and nothing else heard either.
    KeepaliveTimeout => "KEEPALIVE_TIMEOUT",
    /// An open connection was closed by the broker or the network.
    ConnectionLost => "CONNECTION_LOST",
    /// The broker refused a subscription (SUBACK return code 0x80). Native only: the browser
    /// resolves `subscribe` with qos 128 for that filter instead.
    SubscribeRefused => "SUBSCRIBE_REFUSED",
    /// The client was disconnected, ended or destroyed (or its task stopped) before the request
    /// completed, or is used after that.
    Closed => "CLOSED",
    // The session store.
    /// The session store could not be opened, read or written (IndexedDB, the session file);
    /// the client stops rather than send what it could not make durable.
    StoreFailed => "STORE_FAILED",
    /// A stored session record does not parse.
    SessionCorrupt => "SESSION_CORRUPT",
    /// Another client (another tab or worker) holds the stored session of this URL and client
    /// id. Browser only (a Web Lock).
    SessionLocked => "SESSION_LOCKED",
    /// A bug in the driver: a state it should never reach. Browser only (it never panics).
    Internal => "INTERNAL",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
