//! The browser client: `MqttClient` (the JS API) driving the sans-IO [`crate::proto::Client`]
//! over a WebSocket, with keepalive on `setTimeout`, reconnect with backoff, and sessions in
//! IndexedDB.
//!
//! - [`client`]: the exported JS class; promises, argument checks.
//! - [`driver`]: the loop: inputs in, store / transmit / timeout / events out.
//! - [`connection`]: the connection's life and the reconnect policy.
//! - [`socket`]: the WebSocket. [`timer`]: timers and page listeners. [`idb`]: the session store.
//! - [`options`]: options and arguments from JS. [`error`]: errors with stable codes.
//! - [`events`]: listeners, promise settlements, the `messages()` stream.
//! - [`session`]: the session's records as JS sees them (`session()`, `storedSession()`).

// The allocator of feature "small-alloc" is wasm/alloc.rs, declared in lib.rs: the npm core
// (feature "npm", without this module) uses it too.
mod client;
mod connection;
mod driver;
mod error;
mod events;
mod idb;
mod js;
mod options;
mod session;
mod socket;
mod timer;

pub use client::MqttClient;
pub use error::error_code;
