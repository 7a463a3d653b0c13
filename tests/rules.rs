//! Every normative statement of MQTT 3.1.1 that binds a client, by its id.
//!
//! The standard (OASIS, 29 October 2014) has 141 numbered statements (Appendix B). 72 bind a
//! client: the Client itself, "the Client and Server", "a receiver (Server or Client)", or the
//! Sender / Receiver of a flow the client takes part in. Each is listed here with the test that
//! checks it, so that `grep -r MQTT-x.y.z-n tests` finds it. Tests in this file are marked
//! `(here)`; others are named with their file.
//!
//! **Data representation (1, 2)**
//! - MQTT-1.5.3-1 — strings are well-formed UTF-8; a receiver closes on ill-formed UTF-8:
//!   `a_protocol_violation_closes_the_connection` (here), codec `ill_formed_utf8_is_malformed_mqtt_1_5_3_1`.
//! - MQTT-1.5.3-2 — no U+0000 in a string; a receiver closes on one: `strings_the_client_sends_have_no_nul`,
//!   `a_protocol_violation_closes_the_connection` (here), codec `null_character_is_malformed_mqtt_1_5_3_2`.
//! - MQTT-1.5.3-3 — U+FEFF is not skipped or stripped by a receiver: `a_bom_in_a_received_topic_is_kept` (here).
//! - MQTT-2.2.2-1 — reserved fixed-header flags carry the values of Table 2.2:
//!   `sent_fixed_header_flags_are_the_reserved_values` (here).
//! - MQTT-2.2.2-2 — invalid flags received: close: `a_received_pubrel_with_other_flags_closes_the_connection`
//!   (here), proto `malformed_and_server_only_packets_close_the_connection_with_a_reason`.
//! - MQTT-2.3.1-1 — SUBSCRIBE, UNSUBSCRIBE, PUBLISH QoS > 0 carry a non-zero packet id:
//!   `packet_ids_are_non_zero_and_unused_across_packet_types` (here).
//! - MQTT-2.3.1-2 — a new packet gets a currently unused id: `packet_ids_are_non_zero_and_unused_across_packet_types`
//!   (here), proto `packet_ids_are_non_zero_and_never_one_in_use_mqtt_2_3_1_2`.
//! - MQTT-2.3.1-3 — a re-sent packet keeps its id: `resent_packets_keep_their_packet_ids` (here).
//! - MQTT-2.3.1-5 — no packet id in a QoS 0 PUBLISH: `a_qos0_publish_is_sent_with_qos_0_dup_0_and_no_packet_id`
//!   (here), codec `qos0_publish_with_a_packet_id_is_not_encoded_mqtt_2_3_1_5`.
//! - MQTT-2.3.1-6 — PUBACK, PUBREC, PUBREL carry the id of their PUBLISH:
//!   `acknowledgements_carry_the_packet_id_of_their_publish` (here).
//!
//! **CONNECT (3.1)**
//! - MQTT-3.1.0-1 — the first packet on a connection is CONNECT (and only one):
//!   `connect_is_the_first_and_only_connect_on_every_connection` (here).
//! - MQTT-3.1.2-4 — with CleanSession 0 the client keeps the session after disconnecting:
//!   `a_kept_session_outlives_its_connection` (here).
//! - MQTT-3.1.2-6 — CleanSession 1 discards the previous session, state never reused:
//!   proto `a_clean_session_ends_with_its_connection_and_loses_no_message_mqtt_3_1_2_6`,
//!   `a_clean_session_starts_from_nothing` (here).
//! - MQTT-3.1.2-9 — Will Flag 1: Will Topic and Will Message in the payload:
//!   `connect_flags_and_payload_follow_the_config` (here).
//! - MQTT-3.1.2-11 — Will Flag 0: Will QoS and Retain 0, no will fields: same test (here).
//! - MQTT-3.1.2-13 — Will Flag 0: Will QoS 0: same test (here).
//! - MQTT-3.1.2-14 — Will QoS is 0, 1 or 2, never 3: same test (here), codec `will_qos3_is_malformed_mqtt_3_1_2_14`.
//! - MQTT-3.1.2-15 — Will Flag 0: Will Retain 0: same test (here).
//! - MQTT-3.1.2-18 — User Name Flag 0: no user name: same test (here).
//! - MQTT-3.1.2-19 — User Name Flag 1: a user name: same test (here).
//! - MQTT-3.1.2-20 — Password Flag 0: no password: same test (here).
//! - MQTT-3.1.2-21 — Password Flag 1: a password: same test (here).
//! - MQTT-3.1.2-22 — no Password Flag without the User Name Flag: `a_password_needs_a_user_name` (here).
//! - MQTT-3.1.2-23 — no gap between packets sent longer than the keep alive; PINGREQ otherwise:
//!   `the_gap_between_packets_sent_never_exceeds_the_keep_alive` (here), and with keep alive 0
//!   the mechanism is off (MQTT-3.1.2-24 applies only to a non-zero value):
//!   `keep_alive_zero_sends_no_pingreq_however_long_the_silence` (here).
//! - MQTT-3.1.3-1 — payload fields in the order Client Identifier, Will Topic, Will Message,
//!   User Name, Password: `connect_flags_and_payload_follow_the_config` (here).
//! - MQTT-3.1.3-2 — the ClientId identifies the session state a client holds: a driver concern
//!   (the core holds one session); the drivers open their stores by broker and client id
//!   (`native::FileStore::open`, the wasm `IdbStore::open`). Not tested by this file.
//! - MQTT-3.1.3-3 — the ClientId is present and first: `connect_flags_and_payload_follow_the_config` (here).
//! - MQTT-3.1.3-4 — the ClientId is a UTF-8 string (1.5.3): `strings_the_client_sends_have_no_nul` (here).
//! - MQTT-3.1.3-7 — a zero-byte ClientId goes with CleanSession 1:
//!   `an_empty_client_id_goes_with_clean_session` (here), proto `empty_client_id_needs_clean_session_mqtt_3_1_3_7`.
//! - MQTT-3.1.3-10 — the Will Topic is a UTF-8 string: `strings_the_client_sends_have_no_nul` (here).
//! - MQTT-3.1.3-11 — the User Name is a UTF-8 string: `strings_the_client_sends_have_no_nul` (here).
//!
//! **PUBLISH and its acknowledgements (3.3 - 3.7)**
//! - MQTT-3.3.1-1 — DUP 1 on a re-delivered PUBLISH: `dup_is_set_only_on_a_redelivered_publish` (here).
//! - MQTT-3.3.1-2 — DUP 0 on every QoS 0 message: same test (here), codec `dup_on_qos0_publish_is_malformed_mqtt_3_3_1_2`.
//! - MQTT-3.3.1-4 — no PUBLISH with QoS 3; a receiver closes on one: `a_protocol_violation_closes_the_connection` (here).
//! - MQTT-3.3.2-1 — the Topic Name is a UTF-8 string: `topics_and_filters_the_client_sends_are_checked` (here).
//! - MQTT-3.3.2-2 — no wildcards in a Topic Name: same test (here), and on receipt
//!   `a_protocol_violation_closes_the_connection` (here).
//! - MQTT-3.3.4-1 — the receiver of a PUBLISH answers as its QoS says: `each_publish_gets_the_answer_its_qos_asks_for` (here).
//! - MQTT-3.6.1-1 — PUBREL flags are 0,0,1,0: `sent_fixed_header_flags_are_the_reserved_values`
//!   (here); a PUBREL with other flags closes: `a_received_pubrel_with_other_flags_closes_the_connection` (here).
//!
//! **SUBSCRIBE, UNSUBSCRIBE, DISCONNECT (3.8 - 3.14)**
//! - MQTT-3.8.1-1 — SUBSCRIBE flags are 0,0,1,0: `sent_fixed_header_flags_are_the_reserved_values` (here).
//! - MQTT-3.8.3-1 — SUBSCRIBE filters are UTF-8 strings: `topics_and_filters_the_client_sends_are_checked` (here).
//! - MQTT-3.8.3-3 — at least one filter in a SUBSCRIBE: same test (here), codec `subscribe_without_filters_is_a_violation_mqtt_3_8_3_3`.
//! - MQTT-3.10.1-1 — UNSUBSCRIBE flags are 0,0,1,0: `sent_fixed_header_flags_are_the_reserved_values` (here).
//! - MQTT-3.10.3-1 — UNSUBSCRIBE filters are UTF-8 strings: `topics_and_filters_the_client_sends_are_checked` (here).
//! - MQTT-3.10.3-2 — at least one filter in an UNSUBSCRIBE: same test (here).
//! - MQTT-3.14.4-1 — after DISCONNECT the client closes the connection: `the_client_closes_the_connection_after_disconnect` (here).
//! - MQTT-3.14.4-2 — after DISCONNECT nothing more is sent on that connection: `nothing_is_sent_after_disconnect` (here).
//!
//! **Operational behaviour (4)**
//! - MQTT-4.1.0-1 — session state is stored for the whole session: `a_kept_session_outlives_its_connection` (here).
//! - MQTT-4.1.0-2 — a session lasts at least as long as its connection: `a_session_lasts_as_long_as_its_connection` (here).
//! - MQTT-4.3.1-1 — QoS 0 sender: PUBLISH with QoS 0, DUP 0: `a_qos0_publish_is_sent_with_qos_0_dup_0_and_no_packet_id` (here).
//! - MQTT-4.3.2-1 — QoS 1 sender: new unused id, QoS 1, DUP 0, unacknowledged until PUBACK:
//!   `qos1_sender_keeps_the_message_until_puback` (here).
//! - MQTT-4.3.2-2 — QoS 1 receiver: PUBACK with the id; after it, the same id is a new message:
//!   `qos1_receiver_treats_a_reused_id_as_a_new_message_after_puback` (here).
//! - MQTT-4.3.3-1 — QoS 2 sender: the PUBLISH until PUBREC, then PUBREL until PUBCOMP, never the
//!   PUBLISH again: `qos2_sender_keeps_publish_until_pubrec_and_pubrel_until_pubcomp` (here).
//! - MQTT-4.3.3-2 — QoS 2 receiver: `pubrecs_go_out_in_the_order_the_publishes_came` (here),
//!   proto `incoming_qos2_is_delivered_once_mqtt_4_3_3_2`,
//!   `pubrels_for_ids_with_nothing_in_flight_are_answered_with_pubcomp_mqtt_4_3_3_2`.
//! - MQTT-4.4.0-1 — reconnecting with CleanSession 0, unacknowledged PUBLISH and PUBREL are
//!   re-sent with their ids: `resent_packets_keep_their_packet_ids` (here), proto
//!   `reconnect_resends_unacknowledged_publish_with_dup_in_order_mqtt_4_4_0_1`.
//! - MQTT-4.5.0-2 — every PUBLISH received is acknowledged, processed or not:
//!   `every_publish_is_acknowledged_whether_or_not_it_was_asked_for` (here).
//! - MQTT-4.6.0-1 — PUBLISH re-sent in the order first sent: `resends_follow_the_original_order_across_the_packet_id_wrap` (here).
//! - MQTT-4.6.0-2 — PUBACKs in the order their PUBLISHes came: `pubacks_go_out_in_the_order_the_publishes_came` (here);
//!   held back while the app does not read, then released: `held_acknowledgements_go_out_in_arrival_order_once_released` (proto_flow.rs).
//! - MQTT-4.6.0-3 — PUBRECs in the order their PUBLISHes came: `pubrecs_go_out_in_the_order_the_publishes_came` (here);
//!   held back, then released: `held_acknowledgements_go_out_in_arrival_order_once_released` (proto_flow.rs).
//! - MQTT-4.6.0-4 — PUBRELs in the order their PUBRECs came: `pubrels_go_out_in_the_order_the_pubrecs_came`,
//!   `resends_follow_the_original_order_across_the_packet_id_wrap` (here);
//!   after a restore from the store: `pubrels_resent_after_a_restore_keep_the_pubrec_order` (here;
//!   `StoreRecord::Released` keeps the PUBREC order since this test found it did not).
//! - MQTT-4.7.1-1 — no wildcards in a Topic Name: `topics_and_filters_the_client_sends_are_checked` (here).
//! - MQTT-4.7.1-2 — `#` alone or after `/`, and last: same test (here).
//! - MQTT-4.7.1-3 — `+` fills a whole level: same test (here).
//! - MQTT-4.7.3-1 — topic names and filters at least one character: same test (here).
//! - MQTT-4.7.3-2 — no U+0000 in topic names or filters: same test (here).
//! - MQTT-4.7.3-3 — topic names and filters at most 65,535 bytes: same test (here).
//! - MQTT-4.8.0-1 — a protocol violation closes the connection it came on:
//!   `a_protocol_violation_closes_the_connection` (here).
//! - MQTT-4.8.0-2 — a transient error while processing an inbound packet closes the connection:
//!   does not arise in the sans-IO core (no IO, no resource it can fail to get); in the native
//!   driver a failed store write is fatal: the bytes it protected are dropped and the connection
//!   closed (src/native/driver.rs). Not tested by this file.
//!
//! **WebSocket and conformance (6, 7)**
//! - MQTT-6.0.0-1 — binary frames only; any other frame closes: `a_websocket_text_frame_closes_the_connection_at_any_stage`
//!   (here), proto `a_websocket_text_frame_ends_the_connection_with_a_protocol_error_mqtt_6_0_0_1`,
//!   tests/web/driver.mjs.
//! - MQTT-6.0.0-2 — packets need not align with frames: `packets_need_not_align_with_websocket_frames` (here).
//! - MQTT-6.0.0-3 — the client offers the subprotocol "mqtt": a browser concern, tested in
//!   tests/web/driver.mjs ("the WebSocket asks for the subprotocol mqtt").
//! - MQTT-7.0.0-2 — no extension is required to interoperate: plain MQTT 3.1.1 against Mosquitto
//!   and Aedes, `qos_0_1_2_end_to_end` in tests/native_mosquitto.rs and tests/native_aedes.rs.
//! - MQTT-7.1.2-1 — the client runs over an ordered, lossless byte stream: TCP
//!   (tests/native_mosquitto.rs), TLS (tests/native_tls.rs), WebSocket (tests/browser_broker.rs).
//!
//! **Not for a client (69).** They bind the Server: MQTT-2.3.1-4, -7; MQTT-3.1.0-2;
//! MQTT-3.1.2-1, -2, -3, -5, -7, -8, -10, -12, -16, -17, -24; MQTT-3.1.3-5, -6, -8, -9;
//! MQTT-3.1.4-1 to -5; MQTT-3.2.0-1; MQTT-3.2.2-1 to -6; MQTT-3.3.1-3, -5 to -12; MQTT-3.3.2-3;
//! MQTT-3.3.5-1, -2; MQTT-3.8.3-2, -4 (printed "MQTT-3-8.3-4"); MQTT-3.8.4-1 to -6; MQTT-3.9.3-1, -2;
//! MQTT-3.10.4-1 to -6; MQTT-3.12.4-1; MQTT-3.14.1-1; MQTT-3.14.4-3; MQTT-4.5.0-1; MQTT-4.6.0-5,
//! -6; MQTT-4.7.2-1; MQTT-4.7.3-4; MQTT-6.0.0-4; MQTT-7.0.0-1 (a server that also connects out);
//! MQTT-7.1.1-1. Where the client relies on one it checks the broker: MQTT-3.2.0-1 (proto
//! `a_packet_before_connack_is_a_protocol_error_mqtt_3_2_0_1`), MQTT-3.2.2-1 (proto
//! `a_connack_with_session_present_in_answer_to_a_clean_session_is_a_protocol_error_mqtt_3_2_2_1`),
//! MQTT-3.2.2-4, -6 and MQTT-3.9.3-2 (codec rules), MQTT-3.8.4-5 (proto
//! `a_suback_with_the_wrong_number_of_codes_is_a_protocol_error_mqtt_3_8_4_5`); and the CONNECT
//! it sends passes the server's checks MQTT-3.1.2-1, -2, -3 (`connect_flags_and_payload_follow_the_config`, here).

mod common;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use common::{config, disconnect_reason, messages, msg, payload, published, Pair};
use mq::codec::{ConnAck, ConnectReturnCode, LastWill, Packet, Publish, QoS, SubAck, SubAckCode, Topic};
use mq::proto::{
    Client, Config, ConnectionError, Event, Message, ProtocolError, RequestId, StoreRecord, UserError,
};
use std::time::Duration;

// ---- helpers ----

fn incoming(pkid: u16, qos: QoS, topic: &str, body: &str) -> Publish {
    Publish {
        dup: false,
        qos,
        retain: false,
        topic: Topic::new(topic).unwrap(),
        pkid,
        payload: payload(body),
    }
}

fn connected(c: Config) -> Pair {
    let mut p = Pair::new(c);
    p.connect(false);
    p.take_events();
    p
}

fn kept(id: &str) -> Config {
    let mut c = config(id);
    c.clean_session = false;
    c
}

fn the_publish(sent: &[Packet]) -> Publish {
    match sent {
        [Packet::Publish(p)] => p.clone(),
        other => panic!("one PUBLISH expected: {other:?}"),
    }
}

/// The bytes the client wants to send, taken raw (store ops applied first, as a driver does).
fn raw(p: &mut Pair) -> Vec<u8> {
    while let Some(op) = p.client.poll_store() {
        p.store.apply(op);
    }
    let mut out = Vec::new();
    p.client.poll_transmit(&mut out);
    out
}

/// Splits a byte stream into whole packets by their fixed headers.
fn frames(mut b: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (mut len, mut mult, mut i) = (0usize, 1usize, 1usize);
        loop {
            let byte = b[i];
            len += (byte & 0x7F) as usize * mult;
            mult *= 128;
            i += 1;
            if byte & 0x80 == 0 {
                break;
            }
        }
        out.push(b[..i + len].to_vec());
        b = &b[i + len..];
    }
    out
}

/// Decodes a byte stream of whole packets.
fn decode_all(b: &[u8]) -> Vec<Packet> {
    let mut d = mq::codec::Decoder::new(usize::MAX);
    d.feed(b);
    let mut out = Vec::new();
    while let Some(p) = d.next_packet().unwrap() {
        out.push(p);
    }
    out
}

fn encode(packets: &[Packet]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in packets {
        p.encode(&mut out).unwrap();
    }
    out
}

fn accepted(session_present: bool) -> Packet {
    Packet::ConnAck(ConnAck { session_present, code: ConnectReturnCode::Accepted })
}

// ---- 1 and 2: data representation, fixed header, packet identifiers ----

both! {
/// [MQTT-2.2.2-1] [MQTT-3.6.1-1] [MQTT-3.8.1-1] [MQTT-3.10.1-1]: the first byte of every packet
/// the client sends carries the flags of Table 2.2: 0010 for PUBREL, SUBSCRIBE and UNSUBSCRIBE,
/// 0000 for the others but PUBLISH (whose flags are DUP, QoS, RETAIN); DISCONNECT is 0xE0 0x00,
/// which the server checks [MQTT-3.14.1-1].
fn sent_fixed_header_flags_are_the_reserved_values() {
    let mut c = kept("flags");
    c.keep_alive = Duration::from_secs(10);
    let mut p = Pair::new(c);
    p.client.handle_connected(p.now);
    let mut bytes = raw(&mut p);
    p.deliver(accepted(false));
    p.client.publish(p.now, msg("t", "0", QoS::AtMostOnce)).unwrap();
    p.client.publish(p.now, msg("t", "1", QoS::AtLeastOnce).retain(true)).unwrap();
    p.client.publish(p.now, msg("t", "2", QoS::ExactlyOnce)).unwrap();
    p.client.subscribe(p.now, &[("a/+", QoS::ExactlyOnce)]).unwrap();
    p.client.unsubscribe(p.now, &["a/+"]).unwrap();
    let out = raw(&mut p);
    let pubs: Vec<Publish> = decode_all(&out)
        .into_iter()
        .filter_map(|x| if let Packet::Publish(x) = x { Some(x) } else { None })
        .collect();
    bytes.extend_from_slice(&out);
    // The broker: PUBREC for the QoS 2 message (PUBREL comes back), a QoS 1 and a QoS 2 message
    // (PUBACK, PUBREC), then PUBREL for the latter (PUBCOMP).
    p.client.handle_bytes(
        p.now,
        &encode(&[
            Packet::PubRec(pubs[2].pkid),
            Packet::Publish(incoming(7, QoS::AtLeastOnce, "in", "a")),
            Packet::Publish(incoming(8, QoS::ExactlyOnce, "in", "b")),
            Packet::PubRel(8),
        ]),
    );
    bytes.extend_from_slice(&raw(&mut p));
    p.now += Duration::from_secs(10);
    p.client.handle_timeout(p.now);
    bytes.extend_from_slice(&raw(&mut p));
    p.client.disconnect(p.now);
    bytes.extend_from_slice(&raw(&mut p));
    let firsts: Vec<u8> = frames(&bytes).iter().map(|f| f[0]).collect();
    assert_eq!(
        firsts,
        vec![
            0x10, // CONNECT
            0x30, // PUBLISH QoS 0
            0x33, // PUBLISH QoS 1, RETAIN
            0x34, // PUBLISH QoS 2
            0x82, // SUBSCRIBE
            0xA2, // UNSUBSCRIBE
            0x62, // PUBREL
            0x40, // PUBACK
            0x50, // PUBREC
            0x70, // PUBCOMP
            0xC0, // PINGREQ
            0xE0, // DISCONNECT
        ]
    );
    let all = frames(&bytes);
    assert_eq!(all[10], vec![0xC0, 0x00]);
    assert_eq!(all[11], vec![0xE0, 0x00]);
}
}

both! {
/// [MQTT-2.2.2-2] [MQTT-3.6.1-1]: a PUBREL whose flags are not 0010 is malformed; the client
/// closes the connection and does not answer it. With the right flags it gets its PUBCOMP.
fn a_received_pubrel_with_other_flags_closes_the_connection() {
    let mut p = connected(config("c"));
    p.deliver_bytes(&[0x62, 0x02, 0x00, 0x05]);
    assert_eq!(p.take_sent(), vec![Packet::PubComp(5)]);
    for byte1 in [0x60, 0x63, 0x64, 0x6A] {
        let mut p = connected(config("c"));
        p.deliver_bytes(&[byte1, 0x02, 0x00, 0x05]);
        let reason = disconnect_reason(&p.take_events());
        assert!(matches!(reason, Some(ConnectionError::Protocol(ProtocolError::Malformed(_)))), "{byte1:#x}: {reason:?}");
        assert!(p.take_sent().is_empty(), "{byte1:#x}: answered");
        assert!(!p.client.is_connected());
    }
}
}

both! {
/// [MQTT-2.3.1-1] [MQTT-2.3.1-2]: PUBLISH (QoS 1, 2), SUBSCRIBE and UNSUBSCRIBE in flight at
/// once each carry a non-zero packet id that no other packet in flight uses.
fn packet_ids_are_non_zero_and_unused_across_packet_types() {
    let mut c = config("c");
    c.max_inflight = 100;
    let mut p = connected(c);
    for i in 0..10 {
        p.client.publish(p.now, msg("t", &i.to_string(), QoS::AtLeastOnce)).unwrap();
        p.client.subscribe(p.now, &[("f", QoS::AtMostOnce)]).unwrap();
        p.client.publish(p.now, msg("t", &i.to_string(), QoS::ExactlyOnce)).unwrap();
        p.client.unsubscribe(p.now, &["f"]).unwrap();
    }
    let ids: Vec<u16> = p
        .take_sent()
        .iter()
        .map(|x| match x {
            Packet::Publish(x) => x.pkid,
            Packet::Subscribe(x) => x.pkid,
            Packet::Unsubscribe(x) => x.pkid,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids.len(), 40);
    assert!(ids.iter().all(|&id| id != 0));
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "an id used twice: {ids:?}");
}
}

both! {
/// [MQTT-1.5.3-3]: the sequence EF BB BF is U+FEFF wherever it is; the client does not skip or
/// strip it from what it receives.
fn a_bom_in_a_received_topic_is_kept() {
    let mut p = connected(config("c"));
    p.deliver(Packet::Publish(incoming(0, QoS::AtMostOnce, "\u{FEFF}a/\u{FEFF}", "x")));
    let events = p.take_events();
    let [Event::Message(m)] = &events[..] else { panic!("{events:?}") };
    assert_eq!(m.topic.as_bytes(), b"\xEF\xBB\xBFa/\xEF\xBB\xBF");
}
}

both! {
/// [MQTT-2.3.1-6]: PUBACK and PUBREC carry the id of the PUBLISH received, PUBREL the id of the
/// PUBLISH the client sent.
fn acknowledgements_carry_the_packet_id_of_their_publish() {
    let mut p = connected(config("c"));
    for id in [1, 2, 300, 65535] {
        p.deliver(Packet::Publish(incoming(id, QoS::AtLeastOnce, "in", "a")));
        assert_eq!(p.take_sent(), vec![Packet::PubAck(id)]);
        p.deliver(Packet::Publish(incoming(id, QoS::ExactlyOnce, "in", "b")));
        assert_eq!(p.take_sent(), vec![Packet::PubRec(id)]);
        p.deliver(Packet::PubRel(id));
        assert_eq!(p.take_sent(), vec![Packet::PubComp(id)]);
    }
    p.client.publish(p.now, msg("t", "a", QoS::ExactlyOnce)).unwrap();
    let sent = the_publish(&p.take_sent());
    p.deliver(Packet::PubRec(sent.pkid));
    assert_eq!(p.take_sent(), vec![Packet::PubRel(sent.pkid)]);
}
}

// ---- 3.1: CONNECT ----

both! {
/// [MQTT-3.1.0-1]: CONNECT is the first packet on each connection, even with commands queued
/// and a session to resume, and the only one: nothing else goes out before CONNACK, however
/// long it takes, and no second CONNECT after it.
fn connect_is_the_first_and_only_connect_on_every_connection() {
    let mut c = kept("c");
    c.keep_alive = Duration::from_secs(5);
    c.connect_timeout = Duration::from_secs(60);
    let mut p = Pair::new(c);
    p.client.publish(p.now, msg("t", "queued", QoS::AtLeastOnce)).unwrap();
    p.client.subscribe(p.now, &[("f", QoS::AtLeastOnce)]).unwrap();
    for round in 0..3 {
        p.client.handle_connected(p.now);
        let first = p.take_sent();
        assert!(matches!(&first[..], [Packet::Connect(_)]), "round {round}: {first:?}");
        // Longer than the keep alive before CONNACK: still nothing but the CONNECT.
        p.run_for(Duration::from_secs(20));
        assert!(p.take_sent().is_empty(), "round {round}: sent before CONNACK");
        p.deliver(accepted(round > 0));
        let after = p.take_sent();
        assert!(!after.is_empty(), "round {round}: the queue or session goes out after CONNACK");
        assert!(after.iter().all(|x| !matches!(x, Packet::Connect(_))), "round {round}: {after:?}");
        p.run_for(Duration::from_secs(20));
        assert!(p.take_sent().iter().all(|x| !matches!(x, Packet::Connect(_))));
        p.cut();
    }
}
}

/// The CONNECT the client sends, as bytes.
fn connect_bytes(c: Config) -> Vec<u8> {
    let mut p = Pair::new(c);
    p.client.handle_connected(p.now);
    let out = raw(&mut p);
    assert_eq!(frames(&out).len(), 1);
    out
}

/// Reads the length-prefixed fields of a CONNECT payload.
fn fields(mut b: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let n = u16::from_be_bytes([b[0], b[1]]) as usize;
        out.push(b[2..2 + n].to_vec());
        b = &b[2 + n..];
    }
    out
}

both! {
/// [MQTT-3.1.2-9] [MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-3.1.2-14] [MQTT-3.1.2-15]
/// [MQTT-3.1.2-18] [MQTT-3.1.2-19] [MQTT-3.1.2-20] [MQTT-3.1.2-21] [MQTT-3.1.3-1]
/// [MQTT-3.1.3-3]: the connect flags say exactly which fields the payload holds, and they come in
/// the order Client Identifier, Will Topic, Will Message, User Name, Password, the client id
/// always present and first. Will QoS is never 3 and, without a will, Will QoS and Retain are 0.
/// The protocol name, level and reserved bit are what the server checks [MQTT-3.1.2-1]
/// [MQTT-3.1.2-2] [MQTT-3.1.2-3].
fn connect_flags_and_payload_follow_the_config() {
    let wills = [None, Some((QoS::AtMostOnce, false)), Some((QoS::AtLeastOnce, true)), Some((QoS::ExactlyOnce, false))];
    let creds: [(Option<&str>, Option<&str>); 3] = [(None, None), (Some("user"), None), (Some("user"), Some("pw"))];
    for will in wills {
        for (user, pass) in creds {
            for clean in [true, false] {
                let mut c = config("dev-1");
                c.clean_session = clean;
                c.keep_alive = Duration::from_secs(300);
                c.will = will.map(|(qos, retain)| LastWill { topic: Topic::from_static("dev/1/gone"), payload: payload("bye"), qos, retain });
                c.username = user.map(Into::into);
                c.password = pass.map(payload);
                let b = connect_bytes(c);
                let case = format!("{will:?} {user:?} {pass:?} {clean}");
                // Fixed header, then "MQTT", level 4, flags, keep alive 300.
                assert_eq!(b[0], 0x10, "{case}");
                let body = &b[2..];
                assert_eq!(b[1] as usize, body.len(), "{case}");
                assert_eq!(&body[..7], b"\x00\x04MQTT\x04", "{case}");
                let flags = body[7];
                assert_eq!(&body[8..10], &[0x01, 0x2C], "{case}");
                assert_eq!(flags & 0x01, 0, "{case}: reserved bit");
                assert_eq!(flags & 0x02 != 0, clean, "{case}: clean session");
                assert_eq!(flags & 0x04 != 0, will.is_some(), "{case}: will flag");
                let will_qos = (flags >> 3) & 0x03;
                assert_ne!(will_qos, 3, "{case}");
                match will {
                    Some((qos, retain)) => {
                        assert_eq!(will_qos, qos as u8, "{case}");
                        assert_eq!(flags & 0x20 != 0, retain, "{case}");
                    }
                    None => assert_eq!(flags & 0x38, 0, "{case}: will QoS and retain without a will"),
                }
                assert_eq!(flags & 0x80 != 0, user.is_some(), "{case}: user name flag");
                assert_eq!(flags & 0x40 != 0, pass.is_some(), "{case}: password flag");
                let mut want: Vec<&[u8]> = vec![b"dev-1"];
                if will.is_some() {
                    want.push(b"dev/1/gone");
                    want.push(b"bye");
                }
                if let Some(u) = user {
                    want.push(u.as_bytes());
                }
                if let Some(pw) = pass {
                    want.push(pw.as_bytes());
                }
                assert_eq!(fields(&body[10..]), want, "{case}");
            }
        }
    }
}
}

both! {
/// [MQTT-3.1.2-22]: no password without a user name; such a config is refused before anything
/// is sent.
fn a_password_needs_a_user_name() {
    let mut c = config("c");
    c.password = Some(payload("pw"));
    assert!(matches!(Client::new(c), Err(UserError::InvalidConfig(_))));
}
}

both! {
/// [MQTT-3.1.3-7]: a zero-byte client id goes with CleanSession 1, on the wire too.
fn an_empty_client_id_goes_with_clean_session() {
    let b = connect_bytes(config(""));
    assert_eq!(b[9] & 0x02, 0x02, "clean session set");
    assert_eq!(&b[12..], &[0x00, 0x00], "a zero-byte client id");
    let mut c = config("");
    c.clean_session = false;
    assert!(Client::new(c).is_err());
}
}

both! {
/// [MQTT-1.5.3-2] [MQTT-3.1.3-4] [MQTT-3.1.3-10] [MQTT-3.1.3-11]: the client id, will topic and
/// user name are UTF-8 strings of 1.5.3 (Rust strings are well-formed): one with U+0000, or longer
/// than 65,535 bytes, is refused before connecting.
fn strings_the_client_sends_have_no_nul() {
    let long = "x".repeat(65_536);
    for bad in ["a\0b", long.as_str()] {
        let c = config(bad);
        assert!(Client::new(c).is_err(), "client id {:?}", &bad[..3]);
        let mut c = config("c");
        c.username = Some(bad.into());
        assert!(Client::new(c).is_err(), "user name {:?}", &bad[..3]);
        // A will's topic is a `Topic`, refused where it is made.
        assert!(Topic::new(bad).is_err(), "will topic {:?}", &bad[..3]);
    }
    let mut c = config("ü-\u{FEFF}-日本");
    c.username = Some("ü".into());
    let b = connect_bytes(c);
    assert_eq!(&fields(&b[12..])[0], "ü-\u{FEFF}-日本".as_bytes());
}
}

both! {
/// [MQTT-3.1.2-4] [MQTT-4.1.0-1]: with CleanSession 0 the client keeps its session after the
/// connection ends, whether cut or closed with DISCONNECT, and across a restore from its store:
/// unacknowledged messages go out again and an incoming QoS 2 id stays held until PUBREL.
fn a_kept_session_outlives_its_connection() {
    let c = kept("c");
    let mut p = Pair::new(c.clone());
    p.connect(false);
    let id = p.client.publish(p.now, msg("t", "out", QoS::AtLeastOnce)).unwrap();
    let out = the_publish(&p.take_sent());
    p.deliver(Packet::Publish(incoming(9, QoS::ExactlyOnce, "in", "in")));
    assert_eq!(messages(&p.take_events()), vec!["in"]);
    p.take_sent();
    let mut again = incoming(9, QoS::ExactlyOnce, "in", "in");
    again.dup = true;
    // Cut, then DISCONNECT, then a restore from the store: the session is there each time.
    for how in ["cut", "disconnect", "restore"] {
        match how {
            "cut" => p.cut(),
            "disconnect" => {
                p.client.disconnect(p.now);
                p.take_sent();
            }
            _ => p.reload(c.clone()),
        }
        assert_eq!(p.client.inflight(), 1, "{how}");
        let resent = p.connect(true);
        assert!(matches!(&resent[..], [Packet::Publish(r)] if r.pkid == out.pkid && r.dup), "{how}: {resent:?}");
        p.deliver(Packet::Publish(again.clone()));
        assert!(messages(&p.take_events()).is_empty(), "{how}: delivered twice");
        assert_eq!(p.take_sent(), vec![Packet::PubRec(9)], "{how}");
    }
    p.deliver(Packet::PubAck(out.pkid));
    assert_eq!(published(&p.take_events()), vec![id]);
    p.deliver(Packet::PubRel(9));
    assert_eq!(p.take_sent(), vec![Packet::PubComp(9)]);
    assert!(p.store.records.is_empty(), "{:?}", p.store.records);
}
}

both! {
/// [MQTT-3.1.2-6]: with CleanSession 1 nothing of the previous session is reused: no message
/// goes out again as a redelivery, and an incoming QoS 2 id held before is a new message now.
fn a_clean_session_starts_from_nothing() {
    let mut p = connected(config("c"));
    p.client.publish(p.now, msg("t", "a", QoS::ExactlyOnce)).unwrap();
    let first = the_publish(&p.take_sent());
    p.deliver(Packet::PubRec(first.pkid));
    assert_eq!(p.take_sent(), vec![Packet::PubRel(first.pkid)]);
    p.deliver(Packet::Publish(incoming(4, QoS::ExactlyOnce, "in", "one")));
    p.take_events();
    p.cut();
    let sent = p.connect(false);
    assert!(sent.iter().all(|x| !matches!(x, Packet::PubRel(_)) && !matches!(x, Packet::Publish(Publish { dup: true, .. }))), "{sent:?}");
    p.deliver(Packet::Publish(incoming(4, QoS::ExactlyOnce, "in", "two")));
    assert_eq!(messages(&p.take_events()), vec!["two"]);
}
}

both! {
/// [MQTT-4.1.0-2]: a session lasts at least as long as its connection: on a clean session
/// connected for a day (pings answered), a PUBACK still completes the message sent at the start
/// and a QoS 2 id received at the start is still held.
fn a_session_lasts_as_long_as_its_connection() {
    let mut p = connected(config("c"));
    let id = p.client.publish(p.now, msg("t", "a", QoS::AtLeastOnce)).unwrap();
    let out = the_publish(&p.take_sent());
    p.deliver(Packet::Publish(incoming(3, QoS::ExactlyOnce, "in", "x")));
    assert_eq!(messages(&p.take_events()), vec!["x"]);
    p.take_sent();
    for _ in 0..(24 * 60) {
        p.run_for(Duration::from_secs(60));
        for x in p.take_sent() {
            assert_eq!(x, Packet::PingReq);
            p.deliver(Packet::PingResp);
        }
    }
    assert!(p.client.is_connected());
    let mut again = incoming(3, QoS::ExactlyOnce, "in", "x");
    again.dup = true;
    p.deliver(Packet::Publish(again));
    assert!(messages(&p.take_events()).is_empty());
    p.deliver(Packet::PubAck(out.pkid));
    assert_eq!(published(&p.take_events()), vec![id]);
}
}

both! {
/// [MQTT-3.1.2-23]: the client never lets more than the keep alive pass between two packets it
/// sends: over hours of irregular traffic (and silences), a PINGREQ fills every gap.
fn the_gap_between_packets_sent_never_exceeds_the_keep_alive() {
    let keep_alive = 10u64;
    let mut c = config("c");
    c.keep_alive = Duration::from_secs(keep_alive);
    let mut p = connected(c);
    // One second at a time (every send happens on a whole second, so each timer deadline is
    // met exactly), for four hours: ten-minute stretches with irregular traffic, ten-minute
    // silences.
    let (mut last, mut pings) = (0u64, 0);
    for t in 1..=4 * 3600u64 {
        p.advance(Duration::from_secs(1));
        if (t / 600) % 2 == 0 && (t * 7919) % 13 < 2 {
            p.client.publish(p.now, msg("t", "x", QoS::AtMostOnce)).unwrap();
        }
        let sent = p.take_sent();
        if sent.is_empty() {
            continue;
        }
        assert!(t - last <= keep_alive, "t={t}: {} s without sending", t - last);
        last = t;
        for x in sent {
            if x == Packet::PingReq {
                pings += 1;
                p.deliver(Packet::PingResp);
            }
        }
    }
    assert!(pings > 500, "silences were filled with PINGREQ: {pings}");
    assert!(p.client.is_connected());
}
}

both! {
/// [MQTT-3.1.2-23]: keep alive 0 turns the mechanism off (the server's timeout of
/// [MQTT-3.1.2-24] applies only to a non-zero value): CONNECT says 0, and a week of silence,
/// with the timer called anyway every minute, sends no PINGREQ and does not end the connection.
fn keep_alive_zero_sends_no_pingreq_however_long_the_silence() {
    let mut c = config("c");
    c.keep_alive = Duration::ZERO;
    let b = connect_bytes(c.clone());
    assert_eq!(&b[10..12], &[0, 0], "keep alive 0 on the wire");
    let mut p = connected(c);
    p.client.publish(p.now, msg("t", "x", QoS::AtMostOnce)).unwrap();
    assert_eq!(p.take_sent().len(), 1);
    p.take_events();
    assert_eq!(p.client.poll_timeout(), None);
    p.run_for(Duration::from_secs(7 * 24 * 3600));
    assert!(p.take_sent().is_empty());
    for _ in 0..(7 * 24 * 60) {
        p.now += Duration::from_secs(60);
        p.client.handle_timeout(p.now);
    }
    assert!(p.take_sent().is_empty(), "no PINGREQ with keep alive 0");
    assert!(p.take_events().is_empty());
    assert!(p.client.is_connected());
    assert_eq!(p.client.poll_timeout(), None);
}
}

// ---- 3.3 - 3.7: PUBLISH and its acknowledgements ----

both! {
/// [MQTT-2.3.1-5] [MQTT-4.3.1-1]: a QoS 0 message goes out as a PUBLISH with QoS 0, DUP 0 and
/// no packet id: the remaining length is the topic field and the payload alone.
fn a_qos0_publish_is_sent_with_qos_0_dup_0_and_no_packet_id() {
    let mut p = connected(config("c"));
    p.client.publish(p.now, msg("a/b", "hello", QoS::AtMostOnce)).unwrap();
    assert_eq!(raw(&mut p), b"\x30\x0a\x00\x03a/bhello");
}
}

both! {
/// [MQTT-3.3.1-1] [MQTT-3.3.1-2]: DUP is 1 only on a PUBLISH sent again; first sends and every
/// QoS 0 message (never sent again, also when queued offline) have DUP 0.
fn dup_is_set_only_on_a_redelivered_publish() {
    let mut p = Pair::new(kept("c"));
    p.client.publish(p.now, msg("t", "q0", QoS::AtMostOnce)).unwrap();
    let sent = p.connect(false);
    assert!(matches!(&sent[..], [Packet::Publish(Publish { dup: false, qos: QoS::AtMostOnce, .. })]), "{sent:?}");
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        p.client.publish(p.now, msg("t", "x", qos)).unwrap();
        assert!(!the_publish(&p.take_sent()).dup, "{qos:?} first send");
    }
    p.cut();
    let resent = p.connect(true);
    assert_eq!(resent.len(), 2, "QoS 0 is never sent again: {resent:?}");
    for x in &resent {
        assert!(matches!(x, Packet::Publish(Publish { dup: true, qos: QoS::AtLeastOnce | QoS::ExactlyOnce, .. })), "{x:?}");
    }
}
}

both! {
/// [MQTT-3.3.4-1]: the client answers each PUBLISH as Table 3.4 says: nothing for QoS 0, PUBACK
/// for QoS 1, PUBREC for QoS 2.
fn each_publish_gets_the_answer_its_qos_asks_for() {
    let mut p = connected(config("c"));
    p.deliver(Packet::Publish(incoming(0, QoS::AtMostOnce, "in", "0")));
    assert!(p.take_sent().is_empty());
    p.deliver(Packet::Publish(incoming(1, QoS::AtLeastOnce, "in", "1")));
    assert_eq!(p.take_sent(), vec![Packet::PubAck(1)]);
    p.deliver(Packet::Publish(incoming(2, QoS::ExactlyOnce, "in", "2")));
    assert_eq!(p.take_sent(), vec![Packet::PubRec(2)]);
    assert_eq!(messages(&p.take_events()), vec!["0", "1", "2"]);
}
}

both! {
/// [MQTT-4.3.2-1]: a QoS 1 message gets an unused id and goes out with QoS 1, DUP 0; it stays
/// unacknowledged, and is sent again on each new connection, until its PUBACK.
fn qos1_sender_keeps_the_message_until_puback() {
    let mut p = Pair::new(kept("c"));
    p.connect(false);
    let id = p.client.publish(p.now, msg("t", "a", QoS::AtLeastOnce)).unwrap();
    let first = the_publish(&p.take_sent());
    assert_eq!((first.qos, first.dup), (QoS::AtLeastOnce, false));
    assert_ne!(first.pkid, 0);
    for _ in 0..3 {
        p.run_for(Duration::from_secs(30));
        assert_eq!(p.client.inflight(), 1);
        p.cut();
        let again = the_publish(&p.connect(true));
        assert_eq!((again.pkid, again.dup, again.payload.clone()), (first.pkid, true, first.payload.clone()));
    }
    p.deliver(Packet::PubAck(first.pkid));
    assert_eq!(published(&p.take_events()), vec![id]);
    p.cut();
    assert!(p.connect(true).is_empty(), "acknowledged: not sent again");
}
}

both! {
/// [MQTT-4.3.2-2]: the client answers a QoS 1 PUBLISH with PUBACK carrying its id, and after
/// that a PUBLISH with the same id is a new message, DUP set or not.
fn qos1_receiver_treats_a_reused_id_as_a_new_message_after_puback() {
    let mut p = connected(config("c"));
    p.deliver(Packet::Publish(incoming(5, QoS::AtLeastOnce, "in", "first")));
    assert_eq!(p.take_sent(), vec![Packet::PubAck(5)]);
    let mut again = incoming(5, QoS::AtLeastOnce, "in", "second");
    again.dup = true;
    p.deliver(Packet::Publish(again));
    assert_eq!(p.take_sent(), vec![Packet::PubAck(5)]);
    p.deliver(Packet::Publish(incoming(5, QoS::AtLeastOnce, "in", "third")));
    assert_eq!(p.take_sent(), vec![Packet::PubAck(5)]);
    assert_eq!(messages(&p.take_events()), vec!["first", "second", "third"]);
}
}

both! {
/// [MQTT-4.3.3-1]: a QoS 2 message gets an unused id, goes out with QoS 2, DUP 0, and is sent
/// again until PUBREC; then PUBREL with the same id, sent again until PUBCOMP; never the PUBLISH
/// after the PUBREL.
fn qos2_sender_keeps_publish_until_pubrec_and_pubrel_until_pubcomp() {
    let mut p = Pair::new(kept("c"));
    p.connect(false);
    let id = p.client.publish(p.now, msg("t", "a", QoS::ExactlyOnce)).unwrap();
    let first = the_publish(&p.take_sent());
    assert_eq!((first.qos, first.dup), (QoS::ExactlyOnce, false));
    assert_ne!(first.pkid, 0);
    p.cut();
    let again = the_publish(&p.connect(true));
    assert_eq!((again.pkid, again.dup), (first.pkid, true));
    p.deliver(Packet::PubRec(first.pkid));
    assert_eq!(p.take_sent(), vec![Packet::PubRel(first.pkid)]);
    assert!(published(&p.take_events()).is_empty(), "not complete before PUBCOMP");
    for _ in 0..3 {
        p.cut();
        assert_eq!(p.connect(true), vec![Packet::PubRel(first.pkid)], "PUBREL again, never the PUBLISH");
    }
    p.deliver(Packet::PubComp(first.pkid));
    assert_eq!(published(&p.take_events()), vec![id]);
    p.cut();
    assert!(p.connect(true).is_empty());
}
}

both! {
/// [MQTT-4.5.0-2]: every PUBLISH is acknowledged by its QoS, whether or not the client asked
/// for it: no subscription at all, a retained message, an empty payload, a `$` topic.
fn every_publish_is_acknowledged_whether_or_not_it_was_asked_for() {
    let mut p = connected(config("c"));
    assert!(p.client.subscriptions().is_empty());
    let mut retained = incoming(1, QoS::AtLeastOnce, "never/subscribed", "r");
    retained.retain = true;
    let empty = incoming(2, QoS::ExactlyOnce, "$SYS/x", "");
    p.deliver(Packet::Publish(retained));
    p.deliver(Packet::Publish(empty));
    assert_eq!(p.take_sent(), vec![Packet::PubAck(1), Packet::PubRec(2)]);
    p.deliver(Packet::PubRel(2));
    assert_eq!(p.take_sent(), vec![Packet::PubComp(2)]);
}
}

// ---- 4.6: ordering ----

both! {
/// [MQTT-4.6.0-2]: PUBACKs go out in the order their PUBLISHes came, whatever their ids, whether
/// the PUBLISHes came one by one or several in one read, and with QoS 0 and QoS 2 messages
/// between them (each acknowledgement in arrival order).
fn pubacks_go_out_in_the_order_the_publishes_came() {
    let ids = [9u16, 3, 65535, 1, 200, 2, 40000];
    // One by one.
    let mut p = connected(config("c"));
    for id in ids {
        p.deliver(Packet::Publish(incoming(id, QoS::AtLeastOnce, "in", "x")));
    }
    assert_eq!(p.take_sent(), ids.iter().map(|&i| Packet::PubAck(i)).collect::<Vec<_>>());
    // All in one read.
    let mut p = connected(config("c"));
    let batch: Vec<Packet> = ids.iter().map(|&i| Packet::Publish(incoming(i, QoS::AtLeastOnce, "in", "x"))).collect();
    p.deliver_bytes(&encode(&batch));
    assert_eq!(p.take_sent(), ids.iter().map(|&i| Packet::PubAck(i)).collect::<Vec<_>>());
    // Mixed with QoS 0 and QoS 2.
    let mut p = connected(config("c"));
    let mixed = [
        Packet::Publish(incoming(7, QoS::AtLeastOnce, "in", "a")),
        Packet::Publish(incoming(0, QoS::AtMostOnce, "in", "b")),
        Packet::Publish(incoming(5, QoS::ExactlyOnce, "in", "c")),
        Packet::Publish(incoming(6, QoS::AtLeastOnce, "in", "d")),
        Packet::Publish(incoming(4, QoS::ExactlyOnce, "in", "e")),
        Packet::Publish(incoming(3, QoS::AtLeastOnce, "in", "f")),
    ];
    p.deliver_bytes(&encode(&mixed));
    assert_eq!(
        p.take_sent(),
        vec![Packet::PubAck(7), Packet::PubRec(5), Packet::PubAck(6), Packet::PubRec(4), Packet::PubAck(3)]
    );
    assert_eq!(messages(&p.take_events()), vec!["a", "b", "c", "d", "e", "f"]);
}
}

both! {
/// [MQTT-4.6.0-3] [MQTT-4.3.3-2]: PUBRECs go out in the order their PUBLISHes came, a
/// redelivery among them answered in its place and not delivered again; each PUBREL is answered
/// with PUBCOMP, in the PUBRELs' order.
fn pubrecs_go_out_in_the_order_the_publishes_came() {
    let ids = [40u16, 7, 300, 2, 65535, 1];
    let mut p = connected(config("c"));
    let mut batch: Vec<Packet> = ids.iter().map(|&i| Packet::Publish(incoming(i, QoS::ExactlyOnce, "in", "x"))).collect();
    let mut dup = incoming(7, QoS::ExactlyOnce, "in", "x");
    dup.dup = true;
    batch.insert(3, Packet::Publish(dup));
    p.deliver_bytes(&encode(&batch));
    assert_eq!(p.take_sent(), vec![
        Packet::PubRec(40), Packet::PubRec(7), Packet::PubRec(300), Packet::PubRec(7),
        Packet::PubRec(2), Packet::PubRec(65535), Packet::PubRec(1),
    ]);
    assert_eq!(messages(&p.take_events()).len(), 6, "the redelivery is not delivered");
    let release = [2u16, 65535, 40, 1, 300, 7];
    p.deliver_bytes(&encode(&release.iter().map(|&i| Packet::PubRel(i)).collect::<Vec<_>>()));
    assert_eq!(p.take_sent(), release.iter().map(|&i| Packet::PubComp(i)).collect::<Vec<_>>());
}
}

both! {
/// [MQTT-4.6.0-4]: PUBRELs go out in the order the PUBRECs came, not in the order the messages
/// were published nor by packet id, and again in that order on the next connection.
fn pubrels_go_out_in_the_order_the_pubrecs_came() {
    let mut p = Pair::new(kept("c"));
    p.connect(false);
    for i in 0..5 {
        p.client.publish(p.now, msg("t", &i.to_string(), QoS::ExactlyOnce)).unwrap();
    }
    let ids: Vec<u16> = p.take_sent().iter().map(|x| match x { Packet::Publish(x) => x.pkid, _ => 0 }).collect();
    let order = [ids[2], ids[0], ids[4], ids[1], ids[3]];
    // Two one by one, the rest in one read.
    p.deliver(Packet::PubRec(order[0]));
    p.deliver(Packet::PubRec(order[1]));
    p.deliver_bytes(&encode(&order[2..].iter().map(|&i| Packet::PubRec(i)).collect::<Vec<_>>()));
    let want: Vec<Packet> = order.iter().map(|&i| Packet::PubRel(i)).collect();
    assert_eq!(p.take_sent(), want);
    p.cut();
    assert_eq!(p.connect(true), want, "resent in the PUBREC order");
}
}

/// A client whose next packet ids are 65533, 65534, 65535, 1, 2, ... (restored from a record of a
/// message in flight with id 65532, then acknowledged).
fn near_the_wrap(c: &Config) -> Pair {
    let seed = Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: Topic::from_static("t"),
        pkid: 65532,
        payload: payload("seed"),
    };
    let client =
        Client::restore(c.clone(), vec![StoreRecord::Outgoing { request: RequestId(1), publish: seed }])
            .unwrap();
    let mut p = Pair::with_client(client);
    let resent = p.connect(true);
    assert!(matches!(&resent[..], [Packet::Publish(x)] if x.pkid == 65532));
    p.deliver(Packet::PubAck(65532));
    p.take_events();
    p
}

/// Publishes A..F (QoS 2, 1, 2, 1, 2, 1) across the packet id wrap, then the broker sends
/// PUBREC for E, then A. Returns the packet ids of A..F.
fn publish_across_the_wrap(p: &mut Pair) -> Vec<u16> {
    let qos = [
        QoS::ExactlyOnce,
        QoS::AtLeastOnce,
        QoS::ExactlyOnce,
        QoS::AtLeastOnce,
        QoS::ExactlyOnce,
        QoS::AtLeastOnce,
    ];
    for (i, q) in qos.into_iter().enumerate() {
        p.client.publish(p.now, msg("t", &"ABCDEF"[i..=i], q)).unwrap();
    }
    let ids: Vec<u16> = p
        .take_sent()
        .iter()
        .map(|x| match x {
            Packet::Publish(x) => x.pkid,
            _ => 0,
        })
        .collect();
    assert_eq!(ids, vec![65533, 65534, 65535, 1, 2, 3]);
    p.deliver(Packet::PubRec(ids[4]));
    p.deliver(Packet::PubRec(ids[0]));
    assert_eq!(p.take_sent(), vec![Packet::PubRel(ids[4]), Packet::PubRel(ids[0])]);
    ids
}

/// What a reconnection must send after `publish_across_the_wrap`: PUBREL for E then A (the
/// PUBREC order), then B, C, D, F with DUP in the order first sent.
fn resent_across_the_wrap(ids: &[u16]) -> Vec<(String, u16, bool)> {
    let mut want = vec![("PUBREL".to_string(), ids[4], false), ("PUBREL".to_string(), ids[0], false)];
    for i in [1, 2, 3, 5] {
        want.push((format!("PUBLISH {}", &"ABCDEF"[i..=i]), ids[i], true));
    }
    want
}

fn describe(sent: &[Packet]) -> Vec<(String, u16, bool)> {
    sent.iter()
        .map(|x| match x {
            Packet::PubRel(id) => ("PUBREL".to_string(), *id, false),
            Packet::Publish(x) => (format!("PUBLISH {}", String::from_utf8_lossy(&x.payload)), x.pkid, x.dup),
            other => (other.name().to_string(), 0, false),
        })
        .collect()
}

both! {
/// [MQTT-4.6.0-1] [MQTT-4.6.0-4] [MQTT-4.4.0-1]: on a new connection the PUBLISHes go out again
/// in the order first sent and the PUBRELs in the order the PUBRECs came, even where the packet
/// ids wrapped from 65535 to 1 between them (so neither order is the ids' order).
fn resends_follow_the_original_order_across_the_packet_id_wrap() {
    let c = kept("c");
    let mut p = near_the_wrap(&c);
    let ids = publish_across_the_wrap(&mut p);
    p.cut();
    assert_eq!(describe(&p.connect(true)), resent_across_the_wrap(&ids));
}
}

both! {
/// [MQTT-4.6.0-4]: after a restore from the store (a page reload, a process restart), the
/// PUBRELs go out in the order their PUBRECs came, as without the restore.
fn pubrels_resent_after_a_restore_keep_the_pubrec_order() {
    let c = kept("c");
    let mut p = near_the_wrap(&c);
    let ids = publish_across_the_wrap(&mut p);
    p.reload(c.clone());
    assert_eq!(describe(&p.connect(true)), resent_across_the_wrap(&ids));
}
}

both! {
/// [MQTT-2.3.1-3] [MQTT-4.4.0-1]: a PUBLISH, SUBSCRIBE or UNSUBSCRIBE sent again on a new
/// connection keeps its packet id, every time.
fn resent_packets_keep_their_packet_ids() {
    let mut p = Pair::new(kept("c"));
    p.connect(false);
    p.client.publish(p.now, msg("t", "1", QoS::AtLeastOnce)).unwrap();
    p.client.subscribe(p.now, &[("s", QoS::AtLeastOnce)]).unwrap();
    p.client.publish(p.now, msg("t", "2", QoS::ExactlyOnce)).unwrap();
    p.client.unsubscribe(p.now, &["u"]).unwrap();
    let first = p.take_sent();
    let key = |x: &Packet| match x {
        Packet::Publish(x) => ("PUBLISH", x.pkid),
        Packet::Subscribe(x) => ("SUBSCRIBE", x.pkid),
        Packet::Unsubscribe(x) => ("UNSUBSCRIBE", x.pkid),
        other => (other.name(), 0),
    };
    // PUBLISHes go first on a new connection; each packet keeps its id.
    let sorted = |sent: &[Packet]| {
        let mut v: Vec<(&str, u16)> = sent.iter().map(key).collect();
        v.sort_unstable();
        v
    };
    let want = sorted(&first);
    assert_eq!(want.len(), 4);
    for _ in 0..3 {
        p.cut();
        assert_eq!(sorted(&p.connect(true)), want);
    }
}
}

// ---- topics and filters ----

both! {
/// [MQTT-3.3.2-1] [MQTT-4.7.1-1] [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.3-1] [MQTT-4.7.3-2]
/// [MQTT-4.7.3-3] [MQTT-3.8.3-1] [MQTT-3.8.3-3] [MQTT-3.10.3-1] [MQTT-3.10.3-2]: what the client
/// would send as a topic name or filter is checked first: no wildcard in a name, `#` only last
/// and alone in its level, `+` alone in its level, at least one character, no U+0000, at most
/// 65,535 bytes; at least one filter per SUBSCRIBE / UNSUBSCRIBE. A refusal sends nothing.
fn topics_and_filters_the_client_sends_are_checked() {
    let mut p = connected(config("c"));
    let too_long = "a".repeat(65_536);
    let longest = "a".repeat(65_535);
    for bad in ["", "a/+", "+", "#", "a/#", "a\0b", too_long.as_str()] {
        // Refused where the message is made (a `Topic` cannot hold it).
        assert!(Message::try_new(bad, "x", QoS::AtLeastOnce).is_err(), "topic {:?}", &bad[..bad.len().min(6)]);
    }
    for bad in ["", "a/#/b", "a#", "#/a", "a/b#", "a+", "+a/b", "a/+b", "a\0", too_long.as_str()] {
        let short = &bad[..bad.len().min(6)];
        assert!(p.client.subscribe(p.now, &[(bad, QoS::AtMostOnce)]).is_err(), "subscribe {short:?}");
        assert!(p.client.subscribe(p.now, &[("ok", QoS::AtMostOnce), (bad, QoS::AtMostOnce)]).is_err(), "subscribe {short:?}");
        assert!(p.client.unsubscribe(p.now, &[bad]).is_err(), "unsubscribe {short:?}");
    }
    assert_eq!(p.client.subscribe::<&str>(p.now, &[]), Err(UserError::NoFilters));
    assert_eq!(p.client.unsubscribe::<&str>(p.now, &[]), Err(UserError::NoFilters));
    assert!(p.take_sent().is_empty(), "a refused command sends nothing");
    // The valid ones go out as given.
    for good in ["a", "/", "a//b", "ü/\u{FEFF}", "$SYS/x", longest.as_str()] {
        p.client.publish(p.now, msg(good, "x", QoS::AtMostOnce)).unwrap();
        assert_eq!(the_publish(&p.take_sent()).topic.as_str(), good);
    }
    let filters = ["#", "+", "+/+", "a/+/b/#", "/#", "+/", "a//+", longest.as_str()];
    for good in filters {
        p.client.subscribe(p.now, &[(good, QoS::AtMostOnce)]).unwrap();
        p.client.unsubscribe(p.now, &[good]).unwrap();
    }
    let sent = p.take_sent();
    assert_eq!(sent.len(), 2 * filters.len());
    for (pair, good) in sent.chunks(2).zip(filters) {
        assert!(matches!(&pair[0], Packet::Subscribe(s) if s.filters[0].0 == good));
        assert!(matches!(&pair[1], Packet::Unsubscribe(u) if u.filters[0] == good));
    }
}
}

// ---- 3.14: DISCONNECT ----

both! {
/// [MQTT-3.14.4-1]: DISCONNECT is the last thing the client sends, and with it the client ends
/// the connection: the event that tells the driver to close the transport comes at once, the
/// client is no longer connected and wants no timer. With messages in flight as well.
fn the_client_closes_the_connection_after_disconnect() {
    let mut p = Pair::new(kept("c"));
    p.connect(false);
    p.client.publish(p.now, msg("t", "a", QoS::AtLeastOnce)).unwrap();
    p.client.publish(p.now, msg("t", "b", QoS::ExactlyOnce)).unwrap();
    p.take_sent();
    p.client.publish(p.now, msg("t", "c", QoS::AtMostOnce)).unwrap();
    p.client.disconnect(p.now);
    let sent = p.take_sent();
    assert_eq!(sent.last(), Some(&Packet::Disconnect), "{sent:?}");
    assert_eq!(sent.len(), 2, "the QoS 0 message, then DISCONNECT");
    assert_eq!(disconnect_reason(&p.take_events()), Some(ConnectionError::Requested));
    assert!(!p.client.is_connected());
    assert_eq!(p.client.poll_timeout(), None);
    // The session is kept for the next connection [MQTT-3.1.2-4].
    assert_eq!(p.client.inflight(), 2);
}
}

both! {
/// [MQTT-3.14.4-2]: after DISCONNECT the client sends nothing more on that connection: not for
/// commands, not for timers (however long the transport takes to close), not in answer to what
/// the broker still sends before it closes (a QoS 1 or 2 PUBLISH, PUBREL, PUBREC, PINGRESP),
/// and not a second DISCONNECT.
fn nothing_is_sent_after_disconnect() {
    let mut c = kept("c");
    c.keep_alive = Duration::from_secs(5);
    let mut p = Pair::new(c);
    p.connect(false);
    p.client.publish(p.now, msg("t", "b", QoS::ExactlyOnce)).unwrap();
    let out = the_publish(&p.take_sent());
    p.client.disconnect(p.now);
    assert_eq!(p.take_sent(), vec![Packet::Disconnect]);
    p.take_events();
    assert_eq!(p.client.publish(p.now, msg("t", "x", QoS::AtMostOnce)), Err(UserError::Closed));
    assert_eq!(p.client.subscribe(p.now, &[("f", QoS::AtMostOnce)]), Err(UserError::Closed));
    assert_eq!(p.client.unsubscribe(p.now, &["f"]), Err(UserError::Closed));
    p.client.disconnect(p.now);
    p.deliver_bytes(&encode(&[
        Packet::Publish(incoming(1, QoS::AtLeastOnce, "in", "late")),
        Packet::Publish(incoming(2, QoS::ExactlyOnce, "in", "late")),
        Packet::PubRel(2),
        Packet::PubRec(out.pkid),
        Packet::PingResp,
    ]));
    p.run_for(Duration::from_secs(3600));
    p.now += Duration::from_secs(60);
    p.client.handle_timeout(p.now);
    let mut rest = Vec::new();
    assert_eq!(p.client.poll_transmit(&mut rest), 0);
    assert!(p.take_sent().is_empty());
    assert!(p.take_events().is_empty(), "late packets are not processed either");
    p.client.handle_closed(p.now);
    assert!(p.take_sent().is_empty());
}
}

// ---- 4.8: errors ----

both! {
/// [MQTT-4.8.0-1] [MQTT-1.5.3-1] [MQTT-1.5.3-2] [MQTT-3.3.1-4] [MQTT-3.3.2-2]: a protocol
/// violation ends the connection it came on: the reason is reported, and nothing after it in the
/// same read is processed or answered (the QoS 1 PUBLISH that follows gets no PUBACK).
fn a_protocol_violation_closes_the_connection() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("ill-formed UTF-8 topic", vec![0x30, 0x04, 0x00, 0x02, 0xC3, 0x28]),
        ("surrogate in the topic", vec![0x30, 0x05, 0x00, 0x03, 0xED, 0xA0, 0x80]),
        ("U+0000 in the topic", vec![0x30, 0x04, 0x00, 0x02, b'a', 0x00]),
        ("wildcard in the topic", vec![0x30, 0x05, 0x00, 0x03, b'a', b'/', b'+']),
        ("PUBLISH with QoS 3", vec![0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x01]),
        ("DUP on QoS 0", vec![0x38, 0x03, 0x00, 0x01, b'a']),
        ("QoS 1 without a packet id", vec![0x32, 0x05, 0x00, 0x01, b'a', 0x00, 0x00]),
        ("a second CONNACK", vec![0x20, 0x02, 0x00, 0x00]),
        ("CONNECT from the broker", encode(&[Packet::Connect(mq::codec::Connect {
            client_id: "x".into(), clean_session: true, keep_alive: 0, will: None, username: None, password: None,
        })])),
        ("SUBACK code 3", vec![0x90, 0x03, 0x00, 0x01, 0x03]),
        ("PINGREQ from the broker", vec![0xC0, 0x00]),
        ("reserved type 15", vec![0xF0, 0x00]),
    ];
    for (what, mut bytes) in cases {
        let mut p = connected(config("c"));
        bytes.extend(encode(&[Packet::Publish(incoming(9, QoS::AtLeastOnce, "in", "after"))]));
        p.deliver_bytes(&bytes);
        let events = p.take_events();
        assert!(matches!(disconnect_reason(&events), Some(ConnectionError::Protocol(_))), "{what}: {events:?}");
        assert!(messages(&events).is_empty(), "{what}: processed past the violation");
        assert!(p.take_sent().is_empty(), "{what}: answered");
        assert!(!p.client.is_connected(), "{what}");
    }
    // A SUBACK that does not match the SUBSCRIBE.
    let mut p = connected(config("c"));
    p.client.subscribe(p.now, &[("a", QoS::AtMostOnce), ("b", QoS::AtMostOnce)]).unwrap();
    let Packet::Subscribe(s) = p.take_sent().remove(0) else { panic!() };
    p.deliver(Packet::SubAck(SubAck { pkid: s.pkid, codes: vec![SubAckCode::Granted(QoS::AtMostOnce)] }));
    assert!(matches!(disconnect_reason(&p.take_events()), Some(ConnectionError::Protocol(_))));
    assert!(!p.client.is_connected());
}
}

// ---- 6: WebSocket ----

both! {
/// [MQTT-6.0.0-1]: MQTT travels in binary frames; a text frame closes the connection whenever
/// it comes: before CONNACK, after it, between two halves of a packet. Nothing is answered.
fn a_websocket_text_frame_closes_the_connection_at_any_stage() {
    for stage in ["before CONNACK", "connected", "mid-packet"] {
        let mut p = Pair::new(config("c"));
        p.open();
        if stage != "before CONNACK" {
            p.deliver(accepted(false));
            p.take_events();
        }
        if stage == "mid-packet" {
            let bytes = encode(&[Packet::Publish(incoming(3, QoS::AtLeastOnce, "in", "half"))]);
            p.deliver_bytes(&bytes[..4]);
        }
        p.client.handle_text_frame(p.now);
        p.pump();
        assert_eq!(
            disconnect_reason(&p.take_events()),
            Some(ConnectionError::Protocol(ProtocolError::TextFrame)),
            "{stage}"
        );
        assert!(!p.client.is_connected(), "{stage}");
        assert_eq!(p.client.poll_timeout(), None, "{stage}");
        p.deliver_bytes(&encode(&[Packet::Publish(incoming(3, QoS::AtLeastOnce, "in", "late"))]));
        assert!(p.take_sent().is_empty(), "{stage}: answered after the text frame");
    }
}
}

both! {
/// [MQTT-6.0.0-2]: a frame may hold several packets or part of one: however the same bytes are
/// cut into frames, the client does the same (every cut size from 1 to 9 bytes, and all at once).
fn packets_need_not_align_with_websocket_frames() {
    let stream = encode(&[
        accepted(false),
        Packet::Publish(incoming(1, QoS::AtLeastOnce, "in", "one")),
        Packet::PingResp,
        Packet::Publish(incoming(2, QoS::ExactlyOnce, "in", "two")),
        Packet::PubRel(2),
        Packet::Publish(incoming(0, QoS::AtMostOnce, "in/with/a/longer/topic", &"x".repeat(300))),
    ]);
    let run = |cut: usize| {
        let mut p = Pair::new(config("c"));
        p.open();
        for frame in stream.chunks(cut) {
            p.deliver_bytes(frame);
        }
        (p.take_sent(), messages(&p.take_events()))
    };
    let whole = run(stream.len());
    assert_eq!(whole.0, vec![Packet::PubAck(1), Packet::PubRec(2), Packet::PubComp(2)]);
    assert_eq!(whole.1.len(), 3);
    for cut in 1..10 {
        assert_eq!(run(cut), whole, "frames of {cut} bytes");
    }
}
}
