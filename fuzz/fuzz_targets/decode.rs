//! Any bytes through the three decoders of `mq::codec`: `decode` (zero-copy), `decode_slice`
//! and a `Decoder` fed in two chunks. They must not panic, must agree packet for packet and on
//! how the stream ends, and every packet decoded must re-encode to bytes that decode to it again.
//!
//! The first byte, besides being part of the input, picks where the stream is cut in two, so
//! seeds that are plain MQTT packets keep working.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mq::codec::{decode, decode_slice, CodecError, Decoder, Packet, MAX_PACKET_SIZE};

/// The packets decoded, in order, and how the stream ended: `Ok` when the rest is incomplete.
type Outcome = (Vec<Packet>, Result<(), CodecError>);

/// A `Decoder` reserves the size a header announces, up to its maximum: 1 MiB keeps the fuzzer
/// fast while still far beyond any input it makes.
const MAX: usize = 1 << 20;

fn by_decode(data: &[u8]) -> Outcome {
    let mut buf = Bytes::copy_from_slice(data);
    let mut packets = Vec::new();
    loop {
        let shared = decode(&buf, MAX);
        assert_eq!(shared, decode_slice(&buf, MAX), "decode and decode_slice disagree");
        match shared {
            Ok(Some((packet, used))) => {
                assert!(used > 0 && used <= buf.len());
                buf = buf.slice(used..);
                packets.push(packet);
            }
            Ok(None) => return (packets, Ok(())),
            Err(e) => return (packets, Err(e)),
        }
    }
}

fn by_decoder(data: &[u8], split: usize) -> Outcome {
    let mut decoder = Decoder::new(MAX);
    let mut packets = Vec::new();
    for chunk in [&data[..split], &data[split..]] {
        decoder.feed(chunk);
        loop {
            match decoder.next_packet() {
                Ok(Some(packet)) => packets.push(packet),
                Ok(None) => break,
                Err(e) => {
                    // A failed stream stays failed.
                    assert_eq!(decoder.next_packet(), Err(e.clone()));
                    return (packets, Err(e));
                }
            }
        }
    }
    (packets, Ok(()))
}

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |b| *b as usize % (data.len() + 1));
    let outcome = by_decode(data);
    let streamed = by_decoder(data, split);
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
});
