//! The `decode` target's checks, shared by the fuzz target (fuzz/fuzz_targets/decode.rs) and the
//! regression tests (tests/fuzz_regressions.rs), which include this file by path.
//!
//! Any bytes through the three decoders of `mq::codec`: `decode` (zero-copy), `decode_slice`
//! and a `Decoder` fed in two chunks. They must not panic, must agree packet for packet and on
//! how the stream ends, and every packet decoded must re-encode to bytes that decode to it again.
//! A fourth, `Decoder::next_decoded` with a small maximum (which skips an oversize PUBLISH and
//! gives its head), must agree with them on every packet it decodes or skips.
//!
//! The first byte, besides being part of the input, picks where the stream is cut in two, so
//! seeds that are plain MQTT packets keep working.

use bytes::Bytes;
use mq::codec::{decode, decode_slice, topic, CodecError, Decoded, Decoder, Packet, QoS, MAX_PACKET_SIZE};

#[path = "../../tests/codec/streams.rs"]
mod streams;
use streams::{by_decode, by_decoder, Outcome};

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
    skipping(data, split, &outcome);
    for packet in &outcome.0 {
        let bytes =
            packet.to_bytes().unwrap_or_else(|e| panic!("{packet:?} decoded but does not encode: {e}"));
        assert_eq!(packet.encoded_len(), Ok(bytes.len()));
        let again = decode(&Bytes::from(bytes.clone()), MAX_PACKET_SIZE);
        assert_eq!(again, Ok(Some((packet.clone(), bytes.len()))), "re-encoded packet decodes differently");
        assert_eq!(decode_slice(&bytes, MAX_PACKET_SIZE), again);
    }
}

/// `next_decoded` with a maximum of 16 to 79 bytes (the second byte picks it), fed in the same
/// two chunks: each packet it gives is the one `decode` gives there; each PUBLISH it skips is
/// the one `decode` gives there (same QoS, packet id, topic; size within the 3 bytes a remaining
/// length longer than needed may add), or one `decode` cannot finish; it fails only where
/// `decode` fails or gives a packet other than PUBLISH too large for it.
fn skipping(data: &[u8], split: usize, outcome: &Outcome) {
    let small = 16 + data.get(1).map_or(0, |b| *b as usize % 64);
    let mut decoder = Decoder::new(small);
    let mut i = 0;
    for chunk in [&data[..split], &data[split..]] {
        decoder.feed(chunk);
        loop {
            match decoder.next_decoded() {
                Ok(Some(Decoded::Packet(p))) => {
                    assert_eq!(Some(&p), outcome.0.get(i), "next_decoded gives packet {i} differently");
                }
                Ok(Some(Decoded::SkippedPublish(s))) => {
                    assert!(s.size > small, "skipped a PUBLISH of {} bytes, maximum {small}", s.size);
                    // What the receiver answers and reports must be what decode would accept.
                    assert!(
                        s.qos == QoS::AtMostOnce || s.pkid != 0,
                        "skipped a PUBLISH with packet id 0: {s:?}"
                    );
                    assert_eq!(
                        topic::validate_topic_name(&s.topic),
                        Ok(()),
                        "skipped PUBLISH's topic: {s:?}"
                    );
                    match outcome.0.get(i) {
                        None => {}
                        Some(Packet::Publish(p)) => {
                            assert_eq!((s.qos, s.pkid, s.topic.as_str()), (p.qos, p.pkid, p.topic.as_str()));
                            // The size on the wire: a remaining length not in its shortest
                            // form (which decode accepts) takes up to 3 bytes more than ours.
                            let len = Packet::Publish(p.clone()).encoded_len().unwrap_or(0);
                            assert!(
                                (len..=len + 3).contains(&s.size),
                                "skipped size {} for {len} bytes",
                                s.size
                            );
                        }
                        Some(q) => panic!("next_decoded skipped a PUBLISH where decode gives {q:?}"),
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    if let Some(q) = outcome.0.get(i) {
                        let len = q.encoded_len().unwrap_or(0);
                        assert!(
                            !matches!(q, Packet::Publish(_)) && len > small,
                            "next_decoded fails ({e}) on {q:?}, {len} bytes, maximum {small}"
                        );
                    }
                    return;
                }
            }
            i += 1;
        }
    }
}
