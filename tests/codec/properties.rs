//! Properties: any valid packet round-trips; no input panics a decoder, and the three decoders
//! agree; a stream of packets cut anywhere decodes in order. proptest runs on wasm32 too
//! (getrandom's wasm_js backend seeds it; there are no files there to keep failures in).

use super::streams::{by_decode, by_decoder};
use super::*;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

fn config() -> ProptestConfig {
    let defaults = ProptestConfig::default();
    ProptestConfig {
        cases: 256,
        // On wasm32 there is no file system to keep failing cases in.
        failure_persistence: if cfg!(target_arch = "wasm32") {
            None
        } else {
            defaults.failure_persistence.clone()
        },
        ..defaults
    }
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce), Just(QoS::ExactlyOnce)]
}

fn pkid() -> impl Strategy<Value = u16> {
    1..=u16::MAX
}

/// Any string without U+0000: ASCII, or any Unicode (multi-byte UTF-8, controls, BOM...).
fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[ -~]{0,20}", "[^\\x00]{0,12}"]
}

fn topic_name() -> impl Strategy<Value = Topic> {
    prop_oneof!["[a-z0-9/$ ]{1,20}", "[^\\x00+#]{1,12}", Just("a/b".to_string())]
        .prop_map(|t| Topic::new(t).expect("the pattern makes valid topic names"))
}

/// Levels of text or `+`, maybe ending in `#`.
fn topic_filter() -> impl Strategy<Value = TopicFilter> {
    let level = prop_oneof![3 => "[^\\x00+#/]{0,6}", 1 => Just("+".to_string())];
    (vec(level, 1..5), any::<bool>()).prop_map(|(levels, hash)| {
        let mut f = levels.join("/");
        match (hash, f.is_empty()) {
            (true, true) => f.push('#'),
            (true, false) => f.push_str("/#"),
            (false, true) => f.push('+'),
            (false, false) => {}
        }
        TopicFilter::new(f).expect("the levels make a valid filter")
    })
}

fn binary() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..40).prop_map(Bytes::from)
}

/// 0 to 300 bytes; sometimes ~16 KB, across the 2 to 3 byte remaining-length boundary.
fn payload() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        9 => vec(any::<u8>(), 0..300).prop_map(Bytes::from),
        1 => (16_370usize..16_400, any::<u8>()).prop_map(|(n, b)| Bytes::from(vec![b; n])),
    ]
}

fn connect() -> impl Strategy<Value = Packet> {
    let will = (topic_name(), binary(), qos(), any::<bool>())
        .prop_map(|(topic, payload, qos, retain)| LastWill { topic, payload, qos, retain });
    (text(), any::<bool>(), any::<u16>(), option::of(will), option::of(text()), option::of(binary()))
        .prop_map(|(client_id, clean_session, keep_alive, will, username, password)| {
            // [MQTT-3.1.2-22]: a password only with a user name.
            let password = username.as_ref().and(password);
            Packet::Connect(Connect { client_id, clean_session, keep_alive, will, username, password })
        })
}

fn connack() -> impl Strategy<Value = Packet> {
    (any::<bool>(), 0u8..=5).prop_map(|(session_present, code)| {
        let code = ConnectReturnCode::from_u8(code).unwrap();
        // [MQTT-3.2.2-4]: session present only when accepted.
        Packet::ConnAck(ConnAck {
            session_present: session_present && code == ConnectReturnCode::Accepted,
            code,
        })
    })
}

fn publish() -> impl Strategy<Value = Packet> {
    (any::<bool>(), qos(), any::<bool>(), topic_name(), pkid(), payload()).prop_map(
        |(dup, qos, retain, topic, pkid, payload)| {
            let qos0 = qos == QoS::AtMostOnce;
            Packet::Publish(Publish {
                dup: dup && !qos0,
                qos,
                retain,
                topic,
                pkid: if qos0 { 0 } else { pkid },
                payload,
            })
        },
    )
}

/// A valid packet of any of the 14 types.
pub fn packet() -> impl Strategy<Value = Packet> {
    let suback_code = prop_oneof![qos().prop_map(SubAckCode::Granted), Just(SubAckCode::Failure)];
    prop_oneof![
        connect(),
        connack(),
        publish(),
        pkid().prop_map(Packet::PubAck),
        pkid().prop_map(Packet::PubRec),
        pkid().prop_map(Packet::PubRel),
        pkid().prop_map(Packet::PubComp),
        (pkid(), vec((topic_filter(), qos()), 1..5))
            .prop_map(|(pkid, filters)| Packet::Subscribe(Subscribe { pkid, filters })),
        (pkid(), vec(suback_code, 0..8)).prop_map(|(pkid, codes)| Packet::SubAck(SubAck { pkid, codes })),
        (pkid(), vec(topic_filter(), 1..5))
            .prop_map(|(pkid, filters)| Packet::Unsubscribe(Unsubscribe { pkid, filters })),
        pkid().prop_map(Packet::UnsubAck),
        Just(Packet::PingReq),
        Just(Packet::PingResp),
        Just(Packet::Disconnect),
    ]
}

/// A valid packet's bytes with a few bytes overwritten and maybe cut short: reaches deeper
/// than random bytes.
fn corrupted() -> impl Strategy<Value = Vec<u8>> {
    (packet(), vec((any::<Index>(), any::<u8>()), 1..4), any::<Index>(), any::<bool>()).prop_map(
        |(p, edits, cut, do_cut)| {
            let mut b = p.to_bytes().unwrap();
            for (i, v) in edits {
                let i = i.index(b.len());
                b[i] = v;
            }
            if do_cut {
                b.truncate(cut.index(b.len() + 1));
            }
            b
        },
    )
}

/// Any input: no panic, the three decoders agree, every decoded packet re-encodes and
/// decodes to itself.
fn check_any_input(data: &[u8], split: usize) {
    let outcome = by_decode(data, MAX);
    assert_eq!(by_decoder(data, split, MAX), outcome, "input {}", to_hex(data));
    for p in &outcome.0 {
        let bytes = p.to_bytes().unwrap_or_else(|e| panic!("decoded {p:?} does not re-encode: {e}"));
        assert_eq!(decode_all(&bytes).as_ref(), Ok(p));
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn the_generator_makes_all_14_types() {
    let mut runner = TestRunner::deterministic();
    let strategy = packet();
    let mut seen = [0usize; 16];
    for _ in 0..1000 {
        seen[strategy.new_tree(&mut runner).unwrap().current().packet_type() as usize] += 1;
    }
    assert!(seen[1..=14].iter().all(|n| *n > 0), "{seen:?}");
}

proptest! {
    #![proptest_config(config())]

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn valid_packets_round_trip(p in packet()) {
        let bytes = p.to_bytes().unwrap();
        prop_assert_eq!(p.encoded_len(), Ok(bytes.len()));
        prop_assert_eq!(decode_all(&bytes), Ok(p));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn any_bytes_never_panic(
        data in prop_oneof![vec(any::<u8>(), 0..64), vec(any::<u8>(), 0..600), corrupted()],
        split in any::<Index>(),
    ) {
        check_any_input(&data, split.index(data.len() + 1));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn a_chunked_stream_decodes_in_order(packets in vec(packet(), 1..8), cuts in vec(any::<Index>(), 0..12)) {
        let mut wire = Vec::new();
        for p in &packets {
            p.encode(&mut wire).unwrap();
        }
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
        cuts.extend([0, wire.len()]);
        cuts.sort_unstable();
        let mut decoder = Decoder::new(MAX);
        let mut got = Vec::new();
        for w in cuts.windows(2) {
            decoder.feed(&wire[w[0]..w[1]]);
            while let Some(p) = decoder.next_packet().unwrap() {
                got.push(p);
            }
        }
        prop_assert_eq!(decoder.buffered(), 0);
        prop_assert_eq!(got, packets);
    }
}
