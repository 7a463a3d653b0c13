//! The native driver (feature `native`): an async MQTT client on tokio over TCP, TLS (feature
//! `tls`, rustls) or any stream you bring, with a crash-safe file session store or any
//! [`SessionStore`] you bring.
//!
//! ```text
//!  Client (cloneable handle) ──commands──► driver task ──► proto::Client (sans-IO core)
//!        ▲  oneshot per request                │  after every input, in order:
//!        └──────────── completions ────────────┤   poll_store    → SessionStore (durable) first
//!  Messages (stream) ◄──────── messages ───────┤   poll_transmit → socket
//!                                              │   poll_timeout  → sleep_until
//!                                              └   poll_event    → waiters, streams
//! ```
//!
//! One task owns the core and the transport, so nothing has to be polled by the application for
//! the connection to make progress. Reconnecting (exponential backoff with jitter, stopping when
//! [`ConnectionError::is_retryable`](crate::proto::ConnectionError::is_retryable) says so) is the
//! driver's policy; resending and resubscribing are the core's.
//!
//! ```no_run
//! # async fn demo() -> Result<(), mq::native::Error> {
//! use mq::codec::QoS;
//! use mq::native::{Client, Options};
//! let (client, mut messages) = Client::connect(Options::from_url("mqtt://127.0.0.1:1883")?).await?;
//! client.subscribe("sensors/#", QoS::AtLeastOnce).await?;
//! client.publish("sensors/a", "21.5", QoS::ExactlyOnce, false).await?; // resolves on PUBCOMP
//! while let Some(msg) = messages.recv().await {
//!     println!("{} {:?}", msg.topic.as_str(), msg.payload);
//! }
//! # Ok(()) }
//! ```

mod client;
mod driver;
mod error;
mod options;
mod reconnect;
mod session_store;
mod store;
#[cfg(feature = "tls")]
mod tls;
mod transport;

pub use client::{Client, Messages, Pending, Restored, State};
pub use error::Error;
pub use options::{MessageBuffer, Options, Overflow};
pub use reconnect::Reconnect;
pub use session_store::{LoadError, MemoryStore, OpenStore, SessionStore};
pub use store::FileStore;
#[cfg(feature = "tls")]
pub use tls::{Roots, TlsOptions};
pub use transport::{BoxStream, Connector, Stream};
