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
//! - [`codec`]: encode and decode of the 14 control packets, topic validation and matching.
//! - [`proto`]: the client session state machine (QoS 0/1/2, keepalive, session resume).
//! - `native` (feature `native`): the async tokio client over TCP / TLS (feature `tls`) with a
//!   file session store; the `mq` command line tool is feature `cli`.
//! - `wasm` (wasm32, feature `browser`, a default one): the browser client, the `MqttClient` JS
//!   class over a WebSocket, with sessions in IndexedDB, through wasm-bindgen.
//! - `npm` (wasm32, feature `npm`): the npm package's core, `proto::Client` and the codec behind
//!   plain C-ABI exports (no wasm-bindgen); its JS driver (`js/mq.js` over `js/core.js`) does
//!   the WebSocket, timers and IndexedDB.

#![deny(unsafe_op_in_unsafe_fn)]
// The npm package's module (feature "npm-module", see src/npm/) is built without std: std's
// panic machinery links `core::fmt` and its messages (~6 KB of wasm) even where nothing is
// formatted. `codec` and `proto` therefore take their collections from `alloc` and their
// traits from `core`.
#![cfg_attr(all(target_arch = "wasm32", feature = "npm-module", not(test)), no_std)]

#[cfg(all(feature = "npm-module", any(feature = "browser", feature = "native")))]
compile_error!(
    "feature npm-module builds the npm package's no_std module: use it alone, with --no-default-features"
);

extern crate alloc;

pub mod codec;
pub mod proto;

#[cfg(feature = "native")]
pub mod native;

#[cfg(all(target_arch = "wasm32", feature = "browser"))]
pub mod wasm;

#[cfg(all(target_arch = "wasm32", feature = "npm"))]
mod npm;

// The small allocator (feature "small-alloc"), for either wasm module: a crate that uses mq as a
// library keeps the allocator it chooses, and a threaded build (atomics) keeps std's.
#[cfg(all(target_arch = "wasm32", feature = "small-alloc", not(target_feature = "atomics")))]
#[path = "wasm/alloc.rs"]
mod small_alloc;
