//! The `decode` target's checks, shared by the fuzz target (fuzz/fuzz_targets/decode.rs) and the
//! regression tests (tests/fuzz_regressions.rs), which include this file by path.
//!
//! Any bytes through the three decoders of `mq::codec`: `decode` (zero-copy), `decode_slice`
//! and a `Decoder` fed in two chunks. They must not panic, must agree packet for packet and on
//! how the stream ends, and every packet decoded must re-encode to bytes that decode to it again.
//!
//! The first byte, besides being part of the input, picks where the stream is cut in two, so
//! seeds that are plain MQTT packets keep working.

use bytes::Bytes;
use mq::codec::{decode, decode_slice, CodecError, MAX_PACKET_SIZE};

#[path = "../../tests/codec/streams.rs"]
mod streams;
use streams::{by_decode, by_decoder};

/// A `Decoder` reserves the size a header announces, up to its maximum: 1 MiB keeps the fuzzer
/// fast while still far beyond any input it makes.
const MAX: usize = 1 << 20;

pub fn run(data: &[u8]) {
    let split = data.first().map_or(0, |b| *b as usize % (data.len() + 1));
    let outcome = by_decode(data, MAX);
    let streamed = by_decoder(data, split, MAX);
    assert_eq!(streamed.0, outcome.0, "Decoder disagrees with decode");
    match (&streamed.1, &outcome.1) {
        // The Decoder saw the first chunk alone: an unfinished remaining length can prove the
        // packet too large there, where the whole input proves the length malformed instead.
        (Err(CodecError::PacketTooLarge { .. }), Err(_))
        | (Err(_), Err(CodecError::PacketTooLarge { .. })) => {}
        (s, o) => assert_eq!(s, o, "Decoder ends the stream differently"),
    }
    for packet in &outcome.0 {
        let bytes =
            packet.to_bytes().unwrap_or_else(|e| panic!("{packet:?} decoded but does not encode: {e}"));
        assert_eq!(packet.encoded_len(), Ok(bytes.len()));
        let again = decode(&Bytes::from(bytes.clone()), MAX_PACKET_SIZE);
        assert_eq!(again, Ok(Some((packet.clone(), bytes.len()))), "re-encoded packet decodes differently");
        assert_eq!(decode_slice(&bytes, MAX_PACKET_SIZE), again);
    }
}
