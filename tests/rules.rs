//! Every normative statement of MQTT 3.1.1 that binds a client, by its id.
//!
//! The standard (OASIS, 29 October 2014) has 141 numbered statements (Appendix B). 72 bind a
//! client: the Client itself, "the Client and Server", "a receiver (Server or Client)", or the
//! Sender / Receiver of a flow the client takes part in. Each is listed here with the test that
//! checks it, so that `grep -r MQTT-x.y.z-n tests` finds it. Tests of this binary (this file,
//! tests/rules/publish.rs and tests/rules/connection.rs) are marked `(here)`; others are named
//! with their file.
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

use common::{config, disconnect_reason, incoming_on, messages, msg, payload, published, Pair};
use mq::codec::{ConnAck, ConnectReturnCode, LastWill, Packet, Publish, QoS, SubAck, SubAckCode, Topic};
use mq::proto::{
    Client, Config, ConnectionError, Event, Message, ProtocolError, RequestId, StoreRecord, UserError,
};
use std::time::Duration;

// ---- helpers ----

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
            Packet::Publish(incoming_on(7, QoS::AtLeastOnce, "in", "a")),
            Packet::Publish(incoming_on(8, QoS::ExactlyOnce, "in", "b")),
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
    p.deliver(Packet::Publish(incoming_on(0, QoS::AtMostOnce, "\u{FEFF}a/\u{FEFF}", "x")));
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
        p.deliver(Packet::Publish(incoming_on(id, QoS::AtLeastOnce, "in", "a")));
        assert_eq!(p.take_sent(), vec![Packet::PubAck(id)]);
        p.deliver(Packet::Publish(incoming_on(id, QoS::ExactlyOnce, "in", "b")));
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
    p.deliver(Packet::Publish(incoming_on(9, QoS::ExactlyOnce, "in", "in")));
    assert_eq!(messages(&p.take_events()), vec!["in"]);
    p.take_sent();
    let mut again = incoming_on(9, QoS::ExactlyOnce, "in", "in");
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
    p.deliver(Packet::Publish(incoming_on(4, QoS::ExactlyOnce, "in", "one")));
    p.take_events();
    p.cut();
    let sent = p.connect(false);
    assert!(sent.iter().all(|x| !matches!(x, Packet::PubRel(_)) && !matches!(x, Packet::Publish(Publish { dup: true, .. }))), "{sent:?}");
    p.deliver(Packet::Publish(incoming_on(4, QoS::ExactlyOnce, "in", "two")));
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
    p.deliver(Packet::Publish(incoming_on(3, QoS::ExactlyOnce, "in", "x")));
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
    let mut again = incoming_on(3, QoS::ExactlyOnce, "in", "x");
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

// ---- the rest, by concept (one test binary: `cargo test --test rules`) ----

#[path = "rules/connection.rs"]
mod connection;
#[path = "rules/publish.rs"]
mod publish;
