//! The codec's test suite: golden bytes from the MQTT 3.1.1 standard for all 14 packets, the shared
//! vectors (mqtt-packet's packets, Mosquitto's topic matches), one test per rule named after its
//! statement id, the size limit, and properties (round trip, no panic on any input, any chunking).
//!
//! Runs natively (`cargo test --test codec`) and on wasm32-unknown-unknown through
//! wasm-bindgen-test (in node by default): every test fn carries both attributes, nothing reads a
//! file at run time (the vectors are compiled in with `include_str!`).

use bytes::Bytes;
use mq::codec::topic::{matches, try_matches};
use mq::codec::{
    decode, decode_slice, parse_header, ByteStr, CodecError, ConnAck, Connect, ConnectReturnCode, Decoded,
    Decoder, FixedHeader, LastWill, Packet, Publish, QoS, SkippedPublish, SubAck, SubAckCode, Subscribe,
    Topic, TopicFilter, Unsubscribe, MAX_PACKET_SIZE, MAX_REMAINING_LENGTH,
};
use serde_json::{Map, Value};

const MAX: usize = MAX_PACKET_SIZE;

// Users run `wasm-pack test --headless --chrome`: without this the runner treats the file as
// Node-only and skips it in the browser.
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length: {s}");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit")).collect()
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A whole packet: byte 1, the remaining length (encoded here, independently of the codec) and
/// the body.
fn frame(byte1: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![byte1];
    let mut n = body.len();
    loop {
        let digit = (n % 128) as u8;
        n /= 128;
        out.push(if n > 0 { digit | 0x80 } else { digit });
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

/// A length-prefixed string or binary field.
fn field(b: &[u8]) -> Vec<u8> {
    let mut out = (b.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(b);
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Decodes `bytes` with `decode`, `decode_slice` and a `Decoder` fed in one chunk, checks that
/// the three agree and that a decoded packet used every byte. "Incomplete" fails the test.
fn decode_all(bytes: &[u8]) -> Result<Packet, CodecError> {
    let shared = decode(&Bytes::copy_from_slice(bytes), MAX);
    let copied = decode_slice(bytes, MAX);
    assert_eq!(shared, copied, "decode and decode_slice disagree on {}", to_hex(bytes));
    let mut decoder = Decoder::new(MAX);
    decoder.feed(bytes);
    let streamed = decoder.next_packet();
    match shared {
        Ok(Some((packet, used))) => {
            assert_eq!(used, bytes.len(), "packet did not use every byte of {}", to_hex(bytes));
            assert_eq!(streamed, Ok(Some(packet.clone())), "Decoder disagrees on {}", to_hex(bytes));
            assert_eq!(decoder.buffered(), 0);
            Ok(packet)
        }
        Ok(None) => panic!("incomplete packet: {}", to_hex(bytes)),
        Err(e) => {
            assert_eq!(streamed, Err(e.clone()), "Decoder disagrees on {}", to_hex(bytes));
            Err(e)
        }
    }
}

/// `packet` encodes to exactly `bytes`, and `bytes` decodes to exactly `packet`.
fn golden(packet: &Packet, bytes: &[u8]) {
    let mut out = vec![0xEE]; // encode appends: what is there stays
    let n = packet.encode(&mut out).unwrap_or_else(|e| panic!("{packet:?}: {e}"));
    assert_eq!(out[0], 0xEE);
    assert_eq!(to_hex(&out[1..]), to_hex(bytes), "encoding of {packet:?}");
    assert_eq!(n, bytes.len());
    assert_eq!(packet.encoded_len(), Ok(bytes.len()));
    assert_eq!(decode_all(bytes).as_ref(), Ok(packet), "decoding of {}", to_hex(bytes));
    // Every proper prefix is "need more bytes", never an error.
    if bytes.len() <= 1024 {
        for end in 0..bytes.len() {
            assert_eq!(decode_slice(&bytes[..end], MAX), Ok(None), "prefix {}", to_hex(&bytes[..end]));
        }
    }
}

/// Decoding `bytes` fails with `err` (through all three decoders).
fn refused(bytes: &[u8], err: CodecError) {
    assert_eq!(decode_all(bytes), Err(err), "decoding {}", to_hex(bytes));
}

/// Encoding `packet` fails with `err`, and the output buffer is left as it was.
fn encode_refused(packet: &Packet, err: CodecError) {
    let mut out = b"kept".to_vec();
    assert_eq!(packet.encode(&mut out), Err(err.clone()), "encoding {packet:?}");
    assert_eq!(out, b"kept", "a refused encode wrote bytes");
    assert_eq!(packet.encoded_len(), Err(err.clone()));
    assert_eq!(packet.to_bytes(), Err(err));
}

fn publish(topic: &str, qos: QoS, pkid: u16, payload: &'static [u8]) -> Publish {
    Publish {
        dup: false,
        qos,
        retain: false,
        topic: Topic::new(topic).unwrap(),
        pkid,
        payload: Bytes::from_static(payload),
    }
}

fn connect(client_id: &str) -> Connect {
    Connect {
        client_id: client_id.into(),
        clean_session: true,
        keep_alive: 60,
        will: None,
        username: None,
        password: None,
    }
}

fn subscribe(pkid: u16, filters: &[(&str, QoS)]) -> Packet {
    let filters = filters.iter().map(|(f, q)| (TopicFilter::new(*f).unwrap(), *q)).collect();
    Packet::Subscribe(Subscribe { pkid, filters })
}

fn unsubscribe(pkid: u16, filters: &[&str]) -> Packet {
    Packet::Unsubscribe(Unsubscribe {
        pkid,
        filters: filters.iter().map(|f| TopicFilter::new(*f).unwrap()).collect(),
    })
}

/// A bad topic name is refused where a [`Topic`] is made, so that no PUBLISH or will can carry
/// it to the encoder.
fn topic_refused(topic: &str, err: CodecError) {
    assert_eq!(Topic::new(topic), Err(err.clone()), "{topic:?}");
    assert_eq!(Topic::try_from(topic.to_string()), Err(err), "{topic:?}");
}

/// A bad topic filter is refused where a [`TopicFilter`] is made.
fn filter_refused(filter: &str, err: CodecError) {
    assert_eq!(TopicFilter::new(filter), Err(err.clone()), "{filter:?}");
    assert_eq!(TopicFilter::try_from(filter), Err(err), "{filter:?}");
}

/// A CONNECT body: "MQTT", level 4, `flags`, keep alive 60, then `payload`.
fn connect_body(flags: u8, payload: &[u8]) -> Vec<u8> {
    cat(&[&field(b"MQTT"), &[4, flags, 0, 60], payload])
}

/// A PUBLISH at `qos` with `topic`, packet id 1 when QoS > 0, payload "x".
fn publish_bytes(qos: u8, topic: &[u8]) -> Vec<u8> {
    let id: &[u8] = if qos > 0 { &[0, 1] } else { &[] };
    frame(0x30 | qos << 1, &cat(&[&field(topic), id, b"x"]))
}

// ---------------------------------------------------------------------------------------------
// Golden bytes
// ---------------------------------------------------------------------------------------------

/// One case per packet type at least, from the standard's non-normative examples where it has
/// them (section numbers of MQTT 3.1.1).
fn golden_cases() -> Vec<(Packet, Vec<u8>)> {
    use QoS::*;
    let will = LastWill {
        topic: Topic::from_static("a/b"),
        payload: Bytes::from_static(b"bye"),
        qos: AtLeastOnce,
        retain: false,
    };
    vec![
        // 3.1.2.10, Figure 3.6: flags 0xCE = user name, password, will QoS 1, will, clean
        // session; keep alive 10.
        (
            Packet::Connect(Connect {
                client_id: "c1".into(),
                clean_session: true,
                keep_alive: 10,
                will: Some(will),
                username: Some("user".into()),
                password: Some(Bytes::from_static(b"pass")),
            }),
            hex(concat!(
                "1024",
                "00044d515454", // protocol name "MQTT" (3.1.2.1)
                "04",           // protocol level 4 (3.1.2.2)
                "ce",           // connect flags
                "000a",         // keep alive 10
                "00026331",     // client id "c1"
                "0003612f62",   // will topic "a/b"
                "0003627965",   // will message "bye"
                "000475736572", // user name "user"
                "000470617373", // password "pass"
            )),
        ),
        // Minimal CONNECT: clean session, a zero-byte client id (3.1.3.1), keep alive 60.
        (Packet::Connect(connect("")), hex("100c00044d5154540402003c0000")),
        // Will QoS 2 and retain, no credentials.
        (
            Packet::Connect(Connect {
                clean_session: false,
                keep_alive: 0,
                will: Some(LastWill {
                    topic: Topic::from_static("w"),
                    payload: Bytes::new(),
                    qos: ExactlyOnce,
                    retain: true,
                }),
                ..connect("id")
            }),
            hex("101300044d51545404340000000269640001770000"),
        ),
        // 3.2.2.3: return code 0, session present 1 (3.2.2.2).
        (
            Packet::ConnAck(ConnAck { session_present: true, code: ConnectReturnCode::Accepted }),
            hex("20020100"),
        ),
        (
            Packet::ConnAck(ConnAck { session_present: false, code: ConnectReturnCode::NotAuthorized }),
            hex("20020005"),
        ),
        // 3.3.2.3, Figure 3.11: topic "a/b", packet identifier 10; QoS 1, payload "hi".
        (Packet::Publish(publish("a/b", AtLeastOnce, 10, b"hi")), hex("32090003612f62000a6869")),
        // QoS 0 (no packet identifier, 2.3.1), retain, empty payload (3.3.3).
        (
            Packet::Publish(Publish { retain: true, ..publish("a/b", AtMostOnce, 0, b"") }),
            hex("31050003612f62"),
        ),
        // QoS 2 redelivery: DUP, QoS 2, retain = 0x3D.
        (
            Packet::Publish(Publish {
                dup: true,
                retain: true,
                ..publish("t", ExactlyOnce, 0xFFFF, b"\x00\xff")
            }),
            hex("3d07000174ffff00ff"),
        ),
        // 1.5.3, Figure 1.3: "A\u{2A6D4}" is 00 05 41 F0 AA 9B 94.
        (Packet::Publish(publish("A\u{2A6D4}", AtMostOnce, 0, b"")), hex("3007000541f0aa9b94")),
        // 3.4 to 3.7: the packet identifier, big-endian (1.5.2).
        (Packet::PubAck(10), hex("4002000a")),
        (Packet::PubRec(0x1234), hex("50021234")),
        // 3.6.1: PUBREL's flags are 0010.
        (Packet::PubRel(10), hex("6202000a")),
        (Packet::PubComp(0xFFFF), hex("7002ffff")),
        // 3.8.2 (Figure 3.21) packet identifier 10; 3.8.3 (Figure 3.23): "a/b" QoS 1, "c/d"
        // QoS 2; 3.8.1: flags 0010.
        (
            subscribe(10, &[("a/b", AtLeastOnce), ("c/d", ExactlyOnce)]),
            hex("820e000a0003612f62010003632f6402"),
        ),
        (subscribe(1, &[("+/#", AtMostOnce)]), hex("8208000100032b2f2300")),
        // 3.9.3, Figure 3.26: success QoS 0, success QoS 2, failure.
        (
            Packet::SubAck(SubAck {
                pkid: 10,
                codes: vec![
                    SubAckCode::Granted(AtMostOnce),
                    SubAckCode::Granted(ExactlyOnce),
                    SubAckCode::Failure,
                ],
            }),
            hex("9005000a000280"),
        ),
        // 3.10.3, the payload example: "a/b", "c/d"; 3.10.1: flags 0010.
        (unsubscribe(10, &["a/b", "c/d"]), hex("a20c000a0003612f620003632f64")),
        (Packet::UnsubAck(10), hex("b002000a")),
        // 3.12 to 3.14: no variable header, no payload.
        (Packet::PingReq, hex("c000")),
        (Packet::PingResp, hex("d000")),
        (Packet::Disconnect, hex("e000")),
    ]
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn golden_bytes_for_all_14_packet_types() {
    let cases = golden_cases();
    let mut seen = [false; 16];
    for (packet, bytes) in &cases {
        golden(packet, bytes);
        seen[packet.packet_type() as usize] = true;
    }
    assert_eq!(
        seen,
        [false, true, true, true, true, true, true, true, true, true, true, true, true, true, true, false]
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn connack_return_codes_mqtt_3_2_2_3() {
    use ConnectReturnCode::*;
    let codes = [
        Accepted,
        UnacceptableProtocolVersion,
        IdentifierRejected,
        ServerUnavailable,
        BadUsernameOrPassword,
        NotAuthorized,
    ];
    for (n, code) in codes.into_iter().enumerate() {
        assert_eq!(ConnectReturnCode::from_u8(n as u8), Ok(code));
        assert!(!code.reason().is_empty());
        golden(&Packet::ConnAck(ConnAck { session_present: false, code }), &[0x20, 2, 0, n as u8]);
    }
}

/// 2.2.3, Table 2.4: the boundaries of 1, 2, 3 and 4 byte remaining lengths.
const TABLE_2_4: [(usize, &[u8]); 8] = [
    (0, &[0x00]),
    (127, &[0x7F]),
    (128, &[0x80, 0x01]),
    (16_383, &[0xFF, 0x7F]),
    (16_384, &[0x80, 0x80, 0x01]),
    (2_097_151, &[0xFF, 0xFF, 0x7F]),
    (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
    (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
];

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn remaining_length_table_mqtt_2_2_3() {
    assert_eq!(MAX_REMAINING_LENGTH, 268_435_455);
    assert_eq!(MAX_PACKET_SIZE, 268_435_460);
    for (len, encoded) in TABLE_2_4 {
        let header = cat(&[&[0x30], encoded]);
        let expected = FixedHeader { byte1: 0x30, header_len: header.len(), remaining: len };
        assert_eq!(parse_header(&header, MAX), Ok(Some(expected)), "length {len}");
        assert_eq!(expected.total_len(), header.len() + len);
        // Encode a packet of exactly that remaining length: PINGREQ for 0, else a PUBLISH to
        // "t" (3 bytes) with the rest as payload. 268,435,455 is 256 MB: see below.
        let packet = match len {
            0 => Packet::PingReq,
            MAX_REMAINING_LENGTH => continue,
            _ => Packet::Publish(Publish::new(Topic::from_static("t"), QoS::AtMostOnce, vec![0x5A; len - 3])),
        };
        let bytes = packet.to_bytes().unwrap();
        assert_eq!(&bytes[1..header.len()], encoded, "length {len}");
        assert_eq!(bytes.len(), header.len() + len);
        assert_eq!(decode_all(&bytes), Ok(packet));
    }
    // The largest packet, 256 MB: natively only; a wasm instance would need 512 MB of memory
    // for it, slowly.
    #[cfg(not(target_arch = "wasm32"))]
    {
        let packet = Packet::Publish(Publish::new(
            Topic::from_static("t"),
            QoS::AtMostOnce,
            vec![0u8; MAX_REMAINING_LENGTH - 3],
        ));
        assert_eq!(packet.encoded_len(), Ok(MAX_PACKET_SIZE));
        let bytes = Bytes::from(packet.to_bytes().unwrap());
        assert_eq!(&bytes[..5], &[0x30, 0xFF, 0xFF, 0xFF, 0x7F]);
        assert_eq!(decode(&bytes, MAX), Ok(Some((packet, MAX_PACKET_SIZE))));
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn decoded_publish_shares_the_input_buffer() {
    let bytes = Bytes::from(hex("32090003612f62000a6869"));
    let Ok(Some((Packet::Publish(p), _))) = decode(&bytes, MAX) else { panic!("not a PUBLISH") };
    let range = bytes.as_ptr() as usize..bytes.as_ptr() as usize + bytes.len();
    assert!(range.contains(&(p.payload.as_ptr() as usize)), "payload was copied");
    assert!(range.contains(&(p.topic.as_bytes().as_ptr() as usize)), "topic was copied");
    assert_eq!(p.topic, "a/b");
    assert_eq!(&ByteStr::from_static("a/b"), p.topic.as_byte_str());
}

// ---------------------------------------------------------------------------------------------
// Maximum packet size and the stream decoder
// ---------------------------------------------------------------------------------------------

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn a_256mb_header_is_refused_after_5_bytes() {
    let too_large = CodecError::PacketTooLarge { size: MAX_PACKET_SIZE, max: 1024 };
    let header = [0x30, 0xFF, 0xFF, 0xFF, 0x7F];
    let mut decoder = Decoder::new(1024);
    assert_eq!(decoder.max_packet(), 1024);
    decoder.feed(&header);
    assert_eq!(decoder.next_packet(), Err(too_large.clone()));
    assert_eq!(decoder.buffered(), 0, "the refused packet's bytes are dropped");
    // After an error the stream cannot be trusted: the decoder keeps failing until reset.
    decoder.feed(&[0xC0, 0x00]);
    assert_eq!(decoder.buffered(), 0);
    assert_eq!(decoder.next_packet(), Err(too_large.clone()));
    assert_eq!(decoder.next_packet(), Err(too_large.clone()));
    decoder.reset();
    decoder.feed(&[0xC0, 0x00]);
    assert_eq!(decoder.next_packet(), Ok(Some(Packet::PingReq)));
    assert_eq!(decoder.next_packet(), Ok(None));
    // One byte at a time: refused by the 5th byte at the latest, nothing buffered beyond it.
    let mut decoder = Decoder::new(1024);
    let mut failed_at = None;
    for (i, b) in header.iter().enumerate() {
        decoder.feed(&[*b]);
        assert!(decoder.buffered() <= 5);
        if let Err(e) = decoder.next_packet() {
            assert!(matches!(e, CodecError::PacketTooLarge { max: 1024, .. }), "{e}");
            failed_at = Some(i + 1);
            break;
        }
    }
    assert!(failed_at.is_some_and(|n| n <= 5));
    // An unfinished length can already prove the packet too large: 30 FF FF FF announces at
    // least 2,097,152 bytes, so no more bytes are awaited.
    let mut decoder = Decoder::new(1024);
    decoder.feed(&header[..4]);
    assert!(matches!(decoder.next_packet(), Err(CodecError::PacketTooLarge { max: 1024, .. })));
    assert!(matches!(decode_slice(&header[..4], 1024), Err(CodecError::PacketTooLarge { max: 1024, .. })));
    // ... while with room for it the same bytes are just incomplete.
    assert_eq!(decode_slice(&header[..4], MAX), Ok(None));
    // The one-shot decoders refuse the same header.
    assert_eq!(decode_slice(&header, 1024), Err(too_large.clone()));
    assert_eq!(decode(&Bytes::copy_from_slice(&header), 1024), Err(too_large));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn the_maximum_packet_size_is_inclusive() {
    let bytes = Packet::Publish(publish("a/b", QoS::AtLeastOnce, 1, b"0123456789")).to_bytes().unwrap();
    let n = bytes.len();
    assert!(decode_slice(&bytes, n).unwrap().is_some());
    let err = CodecError::PacketTooLarge { size: n, max: n - 1 };
    assert_eq!(decode_slice(&bytes, n - 1), Err(err.clone()));
    assert_eq!(decode(&Bytes::from(bytes.clone()), n - 1), Err(err.clone()));
    let mut decoder = Decoder::new(n - 1);
    decoder.feed(&bytes);
    assert_eq!(decoder.next_packet(), Err(err));
}

/// Needs a 256 MB payload, so natively only: every packet type that can grow that large holds
/// its bytes in memory, and a wasm instance would need the memory for nothing.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn encode_refuses_a_packet_over_268435455_bytes_mqtt_2_2_3() {
    let packet = Packet::Publish(Publish::new(
        Topic::from_static("t"),
        QoS::AtMostOnce,
        vec![0u8; MAX_REMAINING_LENGTH - 2],
    ));
    encode_refused(&packet, CodecError::PacketTooLarge { size: MAX_PACKET_SIZE + 1, max: MAX_PACKET_SIZE });
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn decoder_errors_stay_until_reset() {
    let mut decoder = Decoder::new(MAX);
    decoder.feed(&hex("c000")); // PINGREQ, then PUBLISH with QoS 3
    decoder.feed(&hex("3606000474657374e000"));
    assert_eq!(decoder.next_packet(), Ok(Some(Packet::PingReq)));
    assert_eq!(decoder.next_packet(), Err(CodecError::InvalidQoS(3)));
    assert_eq!(decoder.buffered(), 0);
    decoder.feed(&hex("e000"));
    assert_eq!(decoder.next_packet(), Err(CodecError::InvalidQoS(3)));
    decoder.reset();
    decoder.feed(&hex("e000"));
    assert_eq!(decoder.next_packet(), Ok(Some(Packet::Disconnect)));
}

/// A new connection starts clean: half a packet left from the old one is forgotten.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn decoder_reset_forgets_a_partial_packet() {
    let mut decoder = Decoder::new(MAX);
    decoder.feed(&hex("32090003612f62")); // the first 7 of 11 bytes
    assert_eq!(decoder.next_packet(), Ok(None));
    assert_eq!(decoder.buffered(), 7);
    decoder.reset();
    assert_eq!(decoder.buffered(), 0);
    decoder.feed(&hex("d000"));
    assert_eq!(decoder.next_packet(), Ok(Some(Packet::PingResp)));
    assert_eq!(decoder.next_packet(), Ok(None));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn decoder_takes_the_golden_stream_one_byte_at_a_time() {
    let cases = golden_cases();
    let wire: Vec<u8> = cases.iter().flat_map(|(_, b)| b.clone()).collect();
    let mut decoder = Decoder::new(MAX);
    let mut got = Vec::new();
    for b in &wire {
        decoder.feed(std::slice::from_ref(b));
        while let Some(p) = decoder.next_packet().unwrap() {
            got.push(p);
        }
    }
    assert_eq!(decoder.buffered(), 0);
    assert_eq!(got, cases.into_iter().map(|(p, _)| p).collect::<Vec<_>>());
    // And all at once.
    decoder.feed(&wire);
    let mut n = 0;
    while decoder.next_packet().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, got.len());
}

// ---------------------------------------------------------------------------------------------
// The rest, by concept (one test binary: `cargo test --test codec`)
// ---------------------------------------------------------------------------------------------

const MQTT_PACKET_VECTORS: &str = include_str!("../../shared/vectors/codec-mqtt-packet.json");
const TOPIC_VECTORS: &str = include_str!("../../shared/vectors/topic-match-mosquitto.json");

#[path = "codec/properties.rs"]
mod properties;
#[path = "codec/rules.rs"]
mod rules;
#[path = "codec/streams.rs"]
mod streams;
#[path = "codec/vectors.rs"]
mod vectors;

/// `Decoder::next_decoded` skips a PUBLISH over the maximum size: out comes what is needed to answer it,
/// its bytes are discarded as they arrive (never more than its topic buffered), and the packets
/// after it decode as usual. Any chunking.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn an_oversize_publish_is_skipped_without_buffering_it() {
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let mut big = Publish::new(Topic::from_static("big/topic"), qos, Bytes::from(vec![7u8; 5000]));
        big.pkid = if qos == QoS::AtMostOnce { 0 } else { 42 };
        let mut stream = Vec::new();
        Packet::Publish(big).encode(&mut stream).unwrap();
        let size = stream.len();
        Packet::PubRel(9).encode(&mut stream).unwrap();
        for chunk in [1, 7, 100, size, stream.len()] {
            let mut d = Decoder::new(1024);
            let mut out = Vec::new();
            let mut most = 0;
            for piece in stream.chunks(chunk) {
                d.feed(piece);
                most = most.max(d.buffered());
                while let Some(x) = d.next_decoded().unwrap() {
                    out.push(x);
                }
            }
            let skipped = SkippedPublish {
                qos,
                pkid: if qos == QoS::AtMostOnce { 0 } else { 42 },
                topic: "big/topic".into(),
                size,
            };
            assert_eq!(
                out,
                vec![Decoded::SkippedPublish(skipped), Decoded::Packet(Packet::PubRel(9))],
                "chunk {chunk}"
            );
            // Only what one feed brought is ever held; in small feeds, never more than the topic.
            if chunk <= 100 {
                assert!(most < 200, "chunk {chunk}: {most} bytes buffered");
            }
        }
    }
    // Other packets over the maximum are still errors, and next_packet still refuses a PUBLISH.
    let mut suback = Vec::new();
    Packet::SubAck(SubAck { pkid: 1, codes: vec![SubAckCode::Failure; 2000] }).encode(&mut suback).unwrap();
    let mut d = Decoder::new(1024);
    d.feed(&suback);
    assert!(matches!(d.next_decoded(), Err(CodecError::PacketTooLarge { .. })));
    let mut publish = Vec::new();
    Packet::Publish(Publish::new(Topic::from_static("t"), QoS::AtMostOnce, Bytes::from(vec![0u8; 2000])))
        .encode(&mut publish)
        .unwrap();
    let mut d = Decoder::new(1024);
    d.feed(&publish);
    assert!(matches!(d.next_packet(), Err(CodecError::PacketTooLarge { .. })));
    // A remaining length too short for the topic it announces is malformed, not skipped.
    let mut d = Decoder::new(16);
    d.feed(&[0x30, 0x14, 0x00, 0xFF, b'a', b'b']);
    d.feed(&[0u8; 18]);
    assert_eq!(d.next_decoded(), Err(CodecError::UnexpectedEnd));
}
