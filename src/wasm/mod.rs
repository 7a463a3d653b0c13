//! The browser client, the one browser driver: `MqttClient` (the JS API, wasm-bindgen) driving
//! the sans-IO [`crate::proto::Client`] over a web-sys WebSocket, with keepalive and reconnect
//! backoff on gloo-timers, promises through wasm-bindgen-futures, options and results through
//! serde-wasm-bindgen, and sessions in IndexedDB. The npm package is this module
//! (`wasm-pack build --target web`, scripts/build-pkg.sh).
//!
//! - [`client`]: the exported JS class; promises, argument checks.
//! - [`driver`]: the loop: inputs in, store / transmit / timeout / events out.
//! - [`connection`]: the connection's life and the reconnect policy.
//! - [`socket`]: the WebSocket. [`timer`]: timers and page listeners. [`idb`]: the session store
//!   and its Web Lock. [`web`]: the global scope, the bindings web-sys lacks, the closure type.
//! - [`options`]: options and arguments from JS. [`error`]: errors with stable codes.
//! - [`events`]: listeners, promise settlements, the `messages()` streams (stream.js: their
//!   async iterators, the one thing Rust cannot say).
//! - [`session`]: the session's records as JS sees them (`session()`, `storedSession()`).

// The allocator of feature "small-alloc" is wasm/alloc.rs, declared in lib.rs.
mod client;
mod connection;
mod driver;
mod error;
mod events;
mod idb;
mod options;
mod outbox;
mod session;
mod share;
mod socket;
mod timer;
mod web;

pub use client::MqttClient;
pub use error::error_code;
