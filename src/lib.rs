//! # mq — an MQTT 3.1.1 client for the browser and for native code
//!
//! ```text
//!         browser (wasm32)                          native (feature "native")
//!  JS app ─► MqttClient (JS API)             Rust app ─► native::Client
//!  wasm driver: WebSocket, timers,           native driver: TCP / TLS, timers,
//!  IndexedDB store, reconnect policy         file session store, reconnect policy
//!            └──────────────► proto (sans-IO session) ◄──────────────┘
//!                                    │
//!                                  codec (MQTT 3.1.1 wire format)
//! ```
//!
//! **Dependency rule:** [`codec`] depends on nothing of ours. [`proto`] depends only on `codec`
//! and the time type. The drivers depend on `proto`; nothing depends on a driver. Nothing in
//! `codec` or `proto` opens a socket, reads a clock, sleeps, spawns or awaits: time is an
//! argument, bytes go in through `handle_*` and come out through `poll_*`.
//!
//! Modules:
//! - [`codec`]: encode and decode of the 14 control packets, topic validation and matching;
//!   topic names and filters are types checked where they are made (`Topic`, `TopicFilter`).
//! - [`proto`]: the client session state machine (QoS 0/1/2, keepalive, session resume).
//! - `native` (feature `native`): the async tokio client over TCP / TLS (feature `tls`) with a
//!   file session store; the `mq` command line tool is feature `cli`.
//! - `wasm` (wasm32, feature `browser`, a default one): the one browser client, the `MqttClient`
//!   JS class over a web-sys WebSocket, with sessions in IndexedDB. The npm package `mq-wasm` is
//!   this module built by `wasm-pack build --target web` (scripts/build-pkg.sh).

#![deny(unsafe_op_in_unsafe_fn)]
extern crate alloc;

pub mod codec;
pub mod proto;

#[cfg(feature = "native")]
pub mod native;

#[cfg(all(target_arch = "wasm32", feature = "browser"))]
pub mod wasm;

// The small allocator (feature "small-alloc"), for the npm package's module: a crate that uses mq as a
// library keeps the allocator it chooses, and a threaded build (atomics) keeps std's.
#[cfg(all(target_arch = "wasm32", feature = "small-alloc", not(target_feature = "atomics")))]
#[path = "wasm/alloc.rs"]
mod small_alloc;
