//! Any bytes through the three decoders of `mq::codec`; the checks are in fuzz/harness/decode.rs
//! (shared with tests/fuzz_regressions.rs).

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness/decode.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::run(data));
