//! One input through the codec's decoders, packet by packet: shared by the property tests
//! (tests/codec/properties.rs) and the fuzz target (fuzz/fuzz_targets/decode.rs, which includes
//! this file by path).

use bytes::Bytes;
use mq::codec::{decode, decode_slice, CodecError, Decoder, Packet};

/// The packets decoded, in order, and how the stream ended: `Ok` when the rest is incomplete.
pub type Outcome = (Vec<Packet>, Result<(), CodecError>);

/// Repeated `decode` (zero-copy) on the input, checked against `decode_slice` at every step.
pub fn by_decode(data: &[u8], max: usize) -> Outcome {
    let mut buf = Bytes::copy_from_slice(data);
    let mut packets = Vec::new();
    loop {
        let shared = decode(&buf, max);
        assert_eq!(shared, decode_slice(&buf, max), "decode and decode_slice disagree");
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

/// A `Decoder` fed the input in two chunks, cut at `split`.
pub fn by_decoder(data: &[u8], split: usize, max: usize) -> Outcome {
    let mut decoder = Decoder::new(max);
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
