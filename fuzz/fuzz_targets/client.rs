//! A connected `mq::proto::Client` driven by the fuzz data: broker bytes (codec-built packets
//! with fuzzed fields, or raw), time steps, commands, reconnects and restores, its outputs
//! checked after every input. The driver and its checks are in fuzz/harness/client.rs (shared
//! with tests/fuzz_regressions.rs).

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness/client.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::run(data));
