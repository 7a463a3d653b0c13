//! Behaviour of the sans-IO client against a scripted broker, on a virtual clock.
//! Tests are named after the behaviour and, where one applies, the statement of MQTT 3.1.1.

mod common;

// Users run `wasm-pack test --headless --chrome`: without this the runner treats the file as
// Node-only and skips it in the browser.
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use common::{
    config, disconnect_reason, filter, incoming, kept_session_pair, messages, msg, payload,
    published as published_ids, Pair,
};
use mq::codec::{
    ConnAck, ConnectReturnCode, LastWill, Packet, Publish, QoS, SubAck, SubAckCode, Subscribe, Topic,
    Unsubscribe,
};
use mq::proto::{
    Client, ConnectionError, Event, Message, ProtocolError, StoreKey, StoreOp, StoreRecord, UserError,
};
use std::time::Duration;

fn connected_pair(id: &str) -> Pair {
    let mut p = Pair::new(config(id));
    assert!(p.connect(false).is_empty());
    p.take_events();
    p
}

both! {
fn connect_is_built_from_the_config_mqtt_3_1() {
    let mut c = config("dev-1");
    c.clean_session = false;
    c.keep_alive = Duration::from_secs(30);
    c.will = Some(LastWill { topic: Topic::from_static("dev/1/status"), payload: payload("gone"), qos: QoS::AtLeastOnce, retain: true });
    c.username = Some("user".into());
    c.password = Some(payload("secret"));
    let mut p = Pair::new(c);
    let Packet::Connect(connect) = p.open() else { panic!("CONNECT expected") };
    assert_eq!(connect.client_id, "dev-1");
    assert!(!connect.clean_session);
    assert_eq!(connect.keep_alive, 30);
    assert_eq!(connect.will.unwrap().topic, "dev/1/status");
    assert_eq!(connect.username.as_deref(), Some("user"));
    assert_eq!(connect.password, Some(payload("secret")));
}
}

both! {
fn empty_client_id_needs_clean_session_mqtt_3_1_3_7() {
    let mut c = config("");
    c.clean_session = false;
    assert!(matches!(Client::new(c.clone()), Err(UserError::InvalidConfig(_))));
    c.clean_session = true;
    assert!(Client::new(c).is_ok());
}
}

both! {
fn invalid_configs_are_refused_before_connecting() {
    // A will's topic is a `Topic`: a bad one is refused where it is made.
    assert_eq!(Topic::new("a/#").map_err(UserError::from_topic), Err(UserError::InvalidTopic(mq::codec::CodecError::WildcardInTopicName)));
    let mut c = config("x");
    c.password = Some(payload("p"));
    assert!(matches!(Client::new(c), Err(UserError::InvalidConfig(_))));
    let mut c = config("x");
    c.keep_alive = Duration::from_secs(70_000);
    assert!(matches!(Client::new(c), Err(UserError::InvalidConfig(_))));
    let mut c = config("x");
    c.max_inflight_qos2 = 0;
    assert!(matches!(Client::new(c), Err(UserError::InvalidConfig(_))));
}
}

both! {
fn connack_refusals_end_the_connection_with_the_code() {
    for code in 1..=5u8 {
        let mut p = Pair::new(config("c"));
        p.open();
        let code = ConnectReturnCode::from_u8(code).unwrap();
        p.deliver(Packet::ConnAck(ConnAck { session_present: false, code }));
        assert_eq!(disconnect_reason(&p.take_events()), Some(ConnectionError::Refused(code)));
        assert!(!p.client.is_connected());
    }
}
}

both! {
fn connack_reports_session_present() {
    let mut c = config("c");
    c.clean_session = false;
    let mut p = Pair::new(c);
    p.connect(true);
    assert_eq!(p.take_events(), vec![Event::Connected { session_present: true }]);
    assert!(p.client.is_connected());
}
}

both! {
fn no_connack_within_the_connect_timeout_ends_the_connection() {
    let mut p = Pair::new(config("c"));
    p.open();
    p.advance(Duration::from_secs(29));
    assert!(p.take_events().is_empty());
    p.advance(Duration::from_secs(1));
    assert_eq!(disconnect_reason(&p.take_events()), Some(ConnectionError::ConnAckTimeout));
}
}

both! {
fn a_packet_before_connack_is_a_protocol_error_mqtt_3_2_0_1() {
    let mut p = Pair::new(config("c"));
    p.open();
    p.deliver(Packet::PingResp);
    let reason = disconnect_reason(&p.take_events());
    assert!(matches!(reason, Some(ConnectionError::Protocol(ProtocolError::UnexpectedPacket { packet: "PINGRESP", .. }))));
}
}

both! {
fn a_second_connack_is_a_protocol_error() {
    let mut p = connected_pair("c");
    p.deliver(Packet::ConnAck(ConnAck { session_present: false, code: ConnectReturnCode::Accepted }));
    let reason = disconnect_reason(&p.take_events());
    assert!(matches!(reason, Some(ConnectionError::Protocol(ProtocolError::UnexpectedPacket { packet: "CONNACK", .. }))));
}
}

both! {
fn pingreq_when_nothing_was_sent_for_the_keepalive_mqtt_3_1_2_23() {
    let mut p = connected_pair("c");
    p.run_for(Duration::from_secs(59));
    assert!(p.take_sent().is_empty());
    p.run_for(Duration::from_secs(1));
    assert_eq!(p.take_sent(), vec![Packet::PingReq]);
    p.deliver(Packet::PingResp);
    // The next ping is one interval after the last packet sent.
    p.run_for(Duration::from_secs(60));
    assert_eq!(p.take_sent(), vec![Packet::PingReq]);
}
}

both! {
fn traffic_postpones_the_ping() {
    let mut p = connected_pair("c");
    for _ in 0..5 {
        p.run_for(Duration::from_secs(40));
        p.client.publish(p.now, msg("a", "x", QoS::AtMostOnce)).unwrap();
        assert_eq!(p.take_sent().len(), 1);
    }
    assert!(p.take_sent().is_empty(), "no PINGREQ while sending within the interval");
}
}

both! {
fn a_missing_pingresp_declares_the_connection_dead() {
    let mut p = connected_pair("c");
    p.run_for(Duration::from_secs(60));
    assert_eq!(p.take_sent(), vec![Packet::PingReq]);
    p.run_for(Duration::from_secs(60));
    assert_eq!(disconnect_reason(&p.take_events()), Some(ConnectionError::KeepAliveTimeout));
}
}

both! {
fn a_late_timer_does_not_kill_a_healthy_connection() {
    // A throttled background tab: the timer fires minutes late, while the PINGRESP sits unread.
    let mut p = connected_pair("c");
    p.run_for(Duration::from_secs(60));
    assert_eq!(p.take_sent(), vec![Packet::PingReq]);
    p.now += Duration::from_secs(200);
    p.client.handle_timeout(p.now);
    assert!(p.take_events().is_empty(), "a late wake-up alone must not end the connection");
    p.deliver(Packet::PingResp);
    p.advance(Duration::from_secs(6));
    assert!(p.client.is_connected());
    assert!(disconnect_reason(&p.take_events()).is_none());
}
}

both! {
fn a_late_timer_still_sends_the_ping() {
    let mut p = connected_pair("c");
    p.now += Duration::from_secs(150);
    p.client.handle_timeout(p.now);
    assert_eq!(p.take_sent(), vec![Packet::PingReq], "a late timer sends the overdue ping at once");
    // And a truly dead broker is still detected after the grace period.
    p.run_for(Duration::from_secs(120));
    assert_eq!(disconnect_reason(&p.take_events()), Some(ConnectionError::KeepAliveTimeout));
}
}

both! {
fn keepalive_zero_sends_no_pings() {
    let mut c = config("c");
    c.keep_alive = Duration::ZERO;
    let mut p = Pair::new(c);
    p.connect(false);
    assert_eq!(p.client.poll_timeout(), None);
}
}

both! {
fn packet_ids_are_non_zero_and_never_one_in_use_mqtt_2_3_1_2() {
    let mut c = config("c");
    c.max_inflight = 2;
    let mut p = Pair::new(c);
    p.connect(false);
    // Hold id 1 (QoS 2, never completed), cycle the other slot through the whole id space.
    p.client.publish(p.now, msg("a", "held", QoS::ExactlyOnce)).unwrap();
    let first = p.take_sent();
    assert!(matches!(&first[..], [Packet::Publish(Publish { pkid: 1, .. })]));
    for _ in 0..70_000u32 {
        p.client.publish(p.now, msg("a", "x", QoS::AtLeastOnce)).unwrap();
        let sent = p.take_sent();
        let [Packet::Publish(pub1)] = &sent[..] else { panic!("one PUBLISH expected: {sent:?}") };
        assert!(pub1.pkid != 0 && pub1.pkid != 1, "id {} reused while in use", pub1.pkid);
        p.deliver(Packet::PubAck(pub1.pkid));
    }
}
}

both! {
fn qos1_publish_completes_on_puback_with_its_request_id() {
    let mut p = connected_pair("c");
    let a = p.client.publish(p.now, msg("t", "a", QoS::AtLeastOnce)).unwrap();
    let b = p.client.publish(p.now, msg("t", "b", QoS::AtLeastOnce)).unwrap();
    let sent = p.take_sent();
    let ids: Vec<u16> = sent.iter().map(|s| match s { Packet::Publish(p) => p.pkid, _ => 0 }).collect();
    // Acknowledged out of order: each completion names its own request.
    p.deliver(Packet::PubAck(ids[1]));
    assert_eq!(published_ids(&p.take_events()), vec![b]);
    p.deliver(Packet::PubAck(ids[0]));
    assert_eq!(published_ids(&p.take_events()), vec![a]);
    assert_eq!(p.client.inflight(), 0);
    assert!(p.store.records.is_empty());
}
}

both! {
fn qos0_publish_completes_when_handed_to_the_transport() {
    let mut p = connected_pair("c");
    let id = p.client.publish(p.now, msg("t", "a", QoS::AtMostOnce)).unwrap();
    assert!(matches!(&p.take_sent()[..], [Packet::Publish(Publish { qos: QoS::AtMostOnce, pkid: 0, .. })]));
    assert_eq!(published_ids(&p.take_events()), vec![id]);
}
}

both! {
fn qos2_publish_runs_pubrec_pubrel_pubcomp_mqtt_4_3_3() {
    let mut p = connected_pair("c");
    let id = p.client.publish(p.now, msg("t", "a", QoS::ExactlyOnce)).unwrap();
    let Packet::Publish(sent) = p.take_sent().remove(0) else { panic!() };
    p.deliver(Packet::PubRec(sent.pkid));
    assert_eq!(p.take_sent(), vec![Packet::PubRel(sent.pkid)]);
    assert!(published_ids(&p.take_events()).is_empty());
    p.deliver(Packet::PubComp(sent.pkid));
    assert_eq!(published_ids(&p.take_events()), vec![id]);
}
}

both! {
fn after_pubrec_the_publish_is_never_sent_again_mqtt_4_3_3_1() {
    let mut c = config("c");
    c.clean_session = false;
    let mut p = Pair::new(c);
    p.connect(false);
    p.client.publish(p.now, msg("t", "a", QoS::ExactlyOnce)).unwrap();
    let Packet::Publish(sent) = p.take_sent().remove(0) else { panic!() };
    p.deliver(Packet::PubRec(sent.pkid));
    p.take_sent();
    p.cut();
    assert_eq!(p.connect(true), vec![Packet::PubRel(sent.pkid)], "only PUBREL is resent");
}
}

both! {
fn reconnect_resends_unacknowledged_publish_with_dup_in_order_mqtt_4_4_0_1() {
    let mut c = config("c");
    c.clean_session = false;
    let mut p = Pair::new(c);
    p.connect(false);
    for (i, qos) in [QoS::AtLeastOnce, QoS::ExactlyOnce, QoS::AtLeastOnce, QoS::ExactlyOnce].into_iter().enumerate() {
        p.client.publish(p.now, msg("t", &i.to_string(), qos)).unwrap();
    }
    let first = p.take_sent();
    // The broker received the second message (PUBREC), nothing else.
    let Packet::Publish(second) = &first[1] else { panic!() };
    p.deliver(Packet::PubRec(second.pkid));
    p.take_sent();
    p.cut();
    let resent = p.connect(true);
    assert_eq!(resent[0], Packet::PubRel(second.pkid), "PUBREL resent [MQTT-4.6.0-4]");
    let bodies: Vec<(bool, u16, String)> = resent[1..]
        .iter()
        .map(|x| match x {
            Packet::Publish(p) => (p.dup, p.pkid, String::from_utf8(p.payload.to_vec()).unwrap()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    let original: Vec<u16> = [0, 2, 3].iter().map(|&i| match &first[i] { Packet::Publish(p) => p.pkid, _ => 0 }).collect();
    assert_eq!(
        bodies,
        vec![(true, original[0], "0".into()), (true, original[1], "2".into()), (true, original[2], "3".into())],
        "DUP set, same ids, original order [MQTT-4.6.0-1]"
    );
}
}

both! {
fn pending_subscribe_and_unsubscribe_are_resent_in_request_order() {
    let mut c = config("c");
    c.clean_session = false;
    let mut p = Pair::new(c);
    p.connect(false);
    // Resending each map in turn (all SUBSCRIBEs, then the UNSUBSCRIBE) would leave the broker
    // unsubscribed while all three requests report success.
    p.client.subscribe(p.now, &[("a", QoS::AtLeastOnce)]).unwrap();
    p.client.unsubscribe(p.now, &["a"]).unwrap();
    p.client.subscribe(p.now, &[("a", QoS::ExactlyOnce)]).unwrap();
    let first = p.take_sent();
    assert_eq!(first.len(), 3);
    p.cut();
    let resent = p.connect(true);
    let kinds: Vec<String> = resent
        .iter()
        .map(|x| match x {
            Packet::Subscribe(s) => format!("sub {} {:?}", s.filters[0].0, s.filters[0].1),
            Packet::Unsubscribe(u) => format!("unsub {}", u.filters[0]),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["sub a AtLeastOnce", "unsub a", "sub a ExactlyOnce"], "the broker ends subscribed to a");
    assert_eq!(resent, first, "the same packets, the same packet ids");
}
}

both! {
fn incoming_qos1_is_delivered_and_acknowledged_mqtt_4_3_2() {
    let mut p = connected_pair("c");
    p.deliver(Packet::Publish(incoming(7, QoS::AtLeastOnce, "hello")));
    assert_eq!(messages(&p.take_events()), vec!["hello"]);
    assert_eq!(p.take_sent(), vec![Packet::PubAck(7)]);
}
}

both! {
fn incoming_qos2_is_delivered_once_mqtt_4_3_3_2() {
    let mut p = connected_pair("c");
    p.deliver(Packet::Publish(incoming(9, QoS::ExactlyOnce, "once")));
    assert_eq!(messages(&p.take_events()), vec!["once"]);
    assert_eq!(p.take_sent(), vec![Packet::PubRec(9)]);
    // The broker did not see our PUBREC and sends again with DUP: acknowledged, not delivered.
    let mut again = incoming(9, QoS::ExactlyOnce, "once");
    again.dup = true;
    p.deliver(Packet::Publish(again));
    assert!(messages(&p.take_events()).is_empty());
    assert_eq!(p.take_sent(), vec![Packet::PubRec(9)]);
    p.deliver(Packet::PubRel(9));
    assert_eq!(p.take_sent(), vec![Packet::PubComp(9)]);
    // Released: the id may carry a new message now.
    p.deliver(Packet::Publish(incoming(9, QoS::ExactlyOnce, "next")));
    assert_eq!(messages(&p.take_events()), vec!["next"]);
}
}

both! {
fn every_pubrel_is_answered_with_pubcomp() {
    let mut p = connected_pair("c");
    p.deliver(Packet::PubRel(123));
    assert_eq!(p.take_sent(), vec![Packet::PubComp(123)]);
}
}

both! {
fn subscribe_with_several_filters_reports_each_granted_qos_or_failure() {
    let mut p = connected_pair("c");
    let id = p.client.subscribe(p.now, &[("a/+", QoS::ExactlyOnce), ("b/#", QoS::AtLeastOnce), ("deny", QoS::AtMostOnce)]).unwrap();
    let Packet::Subscribe(s) = p.take_sent().remove(0) else { panic!() };
    assert_eq!(s.filters.len(), 3);
    let codes = vec![SubAckCode::Granted(QoS::AtLeastOnce), SubAckCode::Granted(QoS::AtLeastOnce), SubAckCode::Failure];
    p.deliver(Packet::SubAck(SubAck { pkid: s.pkid, codes: codes.clone() }));
    assert_eq!(p.take_events(), vec![Event::Subscribed { id, codes }]);
    assert_eq!(p.client.subscriptions(), &[(filter("a/+"), QoS::AtLeastOnce), (filter("b/#"), QoS::AtLeastOnce)]);
    let uid = p.client.unsubscribe(p.now, &["a/+"]).unwrap();
    let Packet::Unsubscribe(u) = p.take_sent().remove(0) else { panic!() };
    p.deliver(Packet::UnsubAck(u.pkid));
    assert_eq!(p.take_events(), vec![Event::Unsubscribed { id: uid }]);
    assert_eq!(p.client.subscriptions(), &[(filter("b/#"), QoS::AtLeastOnce)]);
}
}

both! {
fn a_suback_with_the_wrong_number_of_codes_is_a_protocol_error_mqtt_3_8_4_5() {
    let mut p = connected_pair("c");
    p.client.subscribe(p.now, &[("a", QoS::AtMostOnce), ("b", QoS::AtMostOnce)]).unwrap();
    let Packet::Subscribe(s) = p.take_sent().remove(0) else { panic!() };
    p.deliver(Packet::SubAck(SubAck { pkid: s.pkid, codes: vec![SubAckCode::Granted(QoS::AtMostOnce)] }));
    let reason = disconnect_reason(&p.take_events());
    assert_eq!(reason, Some(ConnectionError::Protocol(ProtocolError::SubAckCountMismatch { expected: 2, got: 1 })));
}
}

both! {
fn an_acknowledgement_for_an_id_with_nothing_in_flight_is_reported_and_ignored() {
    for ack in [Packet::PubAck(5), Packet::PubComp(5), Packet::UnsubAck(5),
                Packet::SubAck(SubAck { pkid: 5, codes: vec![SubAckCode::Granted(QoS::AtMostOnce)] })] {
        let mut p = connected_pair("c");
        let name = ack.name();
        p.deliver(ack);
        assert_eq!(p.take_events(), vec![Event::Ignored { packet: name, pkid: 5 }], "{name}");
        assert!(p.take_sent().is_empty(), "{name}: nothing is answered");
        // The connection stays up and works.
        assert!(p.client.is_connected(), "{name}");
        let id = p.client.publish(p.now, msg("t", "a", QoS::AtLeastOnce)).unwrap();
        let Packet::Publish(s) = p.take_sent().remove(0) else { panic!("{name}: no PUBLISH") };
        p.deliver(Packet::PubAck(s.pkid));
        assert_eq!(p.take_events(), vec![Event::Published { id }], "{name}");
    }
    // Several in a row, as a broker that lost track might send them.
    let mut p = connected_pair("c");
    for id in [7, 8, 9] {
        p.deliver(Packet::PubAck(id));
    }
    assert_eq!(p.take_events().len(), 3);
    assert!(p.client.is_connected());
}
}

both! {
/// A PUBREC for an id with nothing in flight still gets its PUBREL, so the broker can finish
/// the flow it believes in; reported, not an error.
fn a_pubrec_for_an_id_with_nothing_in_flight_is_answered_with_pubrel() {
    let mut p = connected_pair("c");
    p.deliver(Packet::PubRec(5));
    assert_eq!(p.take_sent(), vec![Packet::PubRel(5)]);
    assert_eq!(p.take_events(), vec![Event::Ignored { packet: "PUBREC", pkid: 5 }]);
    assert!(p.client.is_connected());
}
}

both! {
/// [MQTT-4.3.3-2]: PUBCOMP answers a PUBREL whatever its id, one after the other.
fn pubrels_for_ids_with_nothing_in_flight_are_answered_with_pubcomp_mqtt_4_3_3_2() {
    let mut p = connected_pair("c");
    for id in [3, 4, 5] {
        p.deliver(Packet::PubRel(id));
    }
    assert_eq!(p.take_sent(), vec![Packet::PubComp(3), Packet::PubComp(4), Packet::PubComp(5)]);
    assert!(p.take_events().is_empty());
    assert!(p.client.is_connected());
}
}

both! {
fn the_wrong_acknowledgement_for_a_message_in_flight_is_a_protocol_error() {
    // A PUBACK for a QoS 2 message.
    let mut p = connected_pair("c");
    p.client.publish(p.now, msg("t", "a", QoS::ExactlyOnce)).unwrap();
    let Packet::Publish(s) = p.take_sent().remove(0) else { panic!() };
    p.deliver(Packet::PubAck(s.pkid));
    assert!(matches!(disconnect_reason(&p.take_events()), Some(ConnectionError::Protocol(ProtocolError::UnknownPacketId { packet: "PUBACK", .. }))));
    // A PUBCOMP before the PUBREC.
    let mut p = connected_pair("c");
    p.client.publish(p.now, msg("t", "a", QoS::ExactlyOnce)).unwrap();
    let Packet::Publish(s) = p.take_sent().remove(0) else { panic!() };
    p.deliver(Packet::PubComp(s.pkid));
    assert!(matches!(disconnect_reason(&p.take_events()), Some(ConnectionError::Protocol(ProtocolError::UnknownPacketId { packet: "PUBCOMP", .. }))));
    // A PUBREC for a QoS 1 message.
    let mut p = connected_pair("c");
    p.client.publish(p.now, msg("t", "a", QoS::AtLeastOnce)).unwrap();
    let Packet::Publish(s) = p.take_sent().remove(0) else { panic!() };
    p.deliver(Packet::PubRec(s.pkid));
    assert!(matches!(disconnect_reason(&p.take_events()), Some(ConnectionError::Protocol(ProtocolError::UnknownPacketId { packet: "PUBREC", .. }))));
}
}

both! {
/// [MQTT-3.2.2-1]: a broker that accepts a clean session sets Session Present to 0. One that
/// says 1 broke the rule (and the client would skip resubscribing): the connection is closed.
fn a_connack_with_session_present_in_answer_to_a_clean_session_is_a_protocol_error_mqtt_3_2_2_1() {
    let mut p = Pair::new(config("c"));
    assert!(p.client.config().clean_session);
    p.open();
    p.deliver(Packet::ConnAck(ConnAck { session_present: true, code: ConnectReturnCode::Accepted }));
    let events = p.take_events();
    assert!(!events.iter().any(|e| matches!(e, Event::Connected { .. })), "{events:?}");
    assert_eq!(
        disconnect_reason(&events),
        Some(ConnectionError::Protocol(ProtocolError::SessionPresentOnCleanSession))
    );
    assert!(!p.client.is_connected());
    assert_eq!(ConnectionError::Protocol(ProtocolError::SessionPresentOnCleanSession).code(), mq::proto::ErrorCode::ProtocolError);
}
}

both! {
fn malformed_and_server_only_packets_close_the_connection_with_a_reason() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![0xF0, 0x00], "MQTT-2.2.1"),              // reserved type 15
        (vec![0x00, 0x00], "MQTT-2.2.1"),              // reserved type 0
        (vec![0x41, 0x02, 0x00, 0x01], "MQTT-2.2.2-2"), // PUBACK with flags
        (vec![0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x01], "MQTT-3.3.1-4"), // QoS 3
        (vec![0x30, 0x03, 0x00, 0x01, b'#'], "MQTT-3.3.2-2"),
        (vec![0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], "MQTT-2.2.3"),
    ];
    for (bytes, rule) in cases {
        let mut p = connected_pair("c");
        p.deliver_bytes(&bytes);
        match disconnect_reason(&p.take_events()) {
            Some(ConnectionError::Protocol(ProtocolError::Malformed(e))) => assert_eq!(e.statement(), rule, "{bytes:02x?}"),
            other => panic!("{bytes:02x?}: {other:?}"),
        }
    }
    for server_only in [Packet::PingReq, Packet::Disconnect, Packet::Subscribe(Subscribe { pkid: 1, filters: vec![(filter("a"), QoS::AtMostOnce)] }),
                        Packet::Unsubscribe(Unsubscribe { pkid: 1, filters: vec![filter("a")] })] {
        let mut p = connected_pair("c");
        p.deliver(server_only);
        assert!(matches!(disconnect_reason(&p.take_events()), Some(ConnectionError::Protocol(ProtocolError::UnexpectedPacket { .. }))));
    }
}
}

both! {
fn an_oversize_packet_is_refused_from_its_header() {
    let mut c = config("c");
    c.max_packet_size = 1024;
    let mut p = Pair::new(c);
    p.connect(false);
    // A SUBACK announcing 256 MB: refused after 5 bytes.
    p.deliver_bytes(&[0x90, 0xFF, 0xFF, 0xFF, 0x7F]);
    assert!(matches!(disconnect_reason(&p.take_events()),
        Some(ConnectionError::Protocol(ProtocolError::Malformed(mq::codec::CodecError::PacketTooLarge { .. })))));
    // A PUBLISH announcing 256 MB is skipped as it arrives (see the oversize-PUBLISH test):
    // nothing is allocated for it, and the connection waits for its bytes.
    let mut c = config("c");
    c.max_packet_size = 1024;
    let mut p = Pair::new(c);
    p.connect(false);
    p.take_events();
    p.deliver_bytes(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x01, b't']);
    assert_eq!(p.take_events(), vec![Event::TooLarge { topic: "t".into(), qos: QoS::AtMostOnce, size: 268_435_460 }]);
    p.deliver_bytes(&[0u8; 64 * 1024]);
    assert!(p.client.is_connected());
    assert!(p.take_events().is_empty());
}
}

both! {
fn bytes_in_any_chunking_give_the_same_result() {
    let mut p = connected_pair("c");
    let mut bytes = Vec::new();
    for i in 0..20u16 {
        Packet::Publish(incoming(i + 1, QoS::AtLeastOnce, &format!("m{i}"))).encode(&mut bytes).unwrap();
    }
    for b in &bytes {
        p.deliver_bytes(std::slice::from_ref(b));
    }
    let got = messages(&p.take_events());
    assert_eq!(got, (0..20).map(|i| format!("m{i}")).collect::<Vec<_>>());
}
}

both! {
fn invalid_arguments_are_rejected_before_anything_is_sent() {
    let mut p = connected_pair("c");
    // A topic is checked where the message is made (`Message::try_new`, as the drivers do).
    assert!(matches!(Message::try_new("a/+", "x", QoS::AtLeastOnce), Err(UserError::InvalidTopic(_))));
    assert!(matches!(Message::try_new("", "x", QoS::AtMostOnce), Err(UserError::InvalidTopic(_))));
    assert!(matches!(Message::try_new("a\0b", "x", QoS::AtMostOnce), Err(UserError::InvalidTopic(_))));
    assert!(matches!(Message::try_new("a".repeat(65_536), "x", QoS::AtMostOnce), Err(UserError::TooLarge(_))));
    assert!(matches!(p.client.subscribe(p.now, &[("a/#/b", QoS::AtMostOnce)]), Err(UserError::InvalidFilter(_))));
    assert!(matches!(p.client.subscribe::<&str>(p.now, &[]), Err(UserError::NoFilters)));
    assert!(matches!(p.client.unsubscribe::<&str>(p.now, &[]), Err(UserError::NoFilters)));
    let huge = Message::new(Topic::from_static("t"), vec![0u8; 268_435_456], QoS::AtMostOnce);
    assert!(matches!(p.client.publish(p.now, huge), Err(UserError::TooLarge(_))));
    assert!(p.take_sent().is_empty());
    assert!(p.store.records.is_empty());
}
}

both! {
fn commands_issued_offline_are_queued_and_sent_after_connack() {
    let mut p = Pair::new(config("c"));
    let a = p.client.publish(p.now, msg("t", "a", QoS::AtLeastOnce)).unwrap();
    let s = p.client.subscribe(p.now, &[("x", QoS::AtMostOnce)]).unwrap();
    let b = p.client.publish(p.now, msg("t", "b", QoS::AtMostOnce)).unwrap();
    assert_eq!(p.client.queued(), 3);
    assert!(p.take_sent().is_empty());
    let sent = p.connect(false);
    let kinds: Vec<&str> = sent.iter().map(|x| x.name()).collect();
    assert_eq!(kinds, vec!["PUBLISH", "SUBSCRIBE", "PUBLISH"], "in command order");
    assert_eq!(p.client.queued(), 0);
    assert!(published_ids(&p.take_events()).contains(&b));
    assert!(a < s && s < b);
}
}

both! {
fn the_queue_is_bounded_and_refuses_clearly() {
    let mut c = config("c");
    c.max_queued = 3;
    let mut p = Pair::new(c);
    for i in 0..3 {
        p.client.publish(p.now, msg("t", &i.to_string(), QoS::AtLeastOnce)).unwrap();
    }
    assert_eq!(p.client.publish(p.now, msg("t", "3", QoS::AtLeastOnce)), Err(UserError::QueueFull { max: 3 }));
    assert_eq!(p.client.queued(), 3, "nothing dropped");
}
}

both! {
fn the_inflight_limit_queues_then_drains_in_order() {
    let mut c = config("c");
    c.max_inflight = 2;
    let mut p = Pair::new(c);
    p.connect(false);
    for i in 0..5 {
        p.client.publish(p.now, msg("t", &i.to_string(), QoS::AtLeastOnce)).unwrap();
    }
    let mut sent = p.take_sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(p.client.queued(), 3);
    let mut order = Vec::new();
    while let Some(Packet::Publish(x)) = sent.pop() {
        order.push(String::from_utf8(x.payload.to_vec()).unwrap());
        p.deliver(Packet::PubAck(x.pkid));
        sent.extend(p.take_sent());
        assert!(p.client.inflight() <= 2);
    }
    order.sort();
    assert_eq!(order, vec!["0", "1", "2", "3", "4"]);
}
}

both! {
fn no_publish_goes_out_while_the_qos2_limit_is_reached() {
    // Mosquitto drops any PUBLISH arriving while its quota of QoS 2 messages awaiting PUBREL is
    // full: past `max_inflight_qos2`, a QoS 1 message waits too; a SUBSCRIBE does not.
    let mut c = config("c");
    c.max_inflight = 10;
    c.max_inflight_qos2 = 2;
    let mut p = Pair::new(c);
    p.connect(false);
    p.client.publish(p.now, msg("t", "a", QoS::ExactlyOnce)).unwrap();
    p.client.publish(p.now, msg("t", "b", QoS::ExactlyOnce)).unwrap();
    p.client.publish(p.now, msg("t", "c", QoS::AtLeastOnce)).unwrap();
    p.client.subscribe(p.now, &[("s", QoS::AtLeastOnce)]).unwrap();
    let sent = p.take_sent();
    assert_eq!(sent.len(), 2, "two QoS 2 PUBLISHes, then the queue waits: {sent:?}");
    assert_eq!(p.client.queued(), 2);
    let ids: Vec<u16> = sent.iter().map(|s| match s { Packet::Publish(x) => x.pkid, _ => 0 }).collect();
    // PUBREC alone does not free the place (the broker holds the message until PUBREL).
    p.deliver(Packet::PubRec(ids[0]));
    assert!(matches!(&p.take_sent()[..], [Packet::PubRel(_)]));
    p.deliver(Packet::PubComp(ids[0]));
    let sent = p.take_sent();
    assert!(matches!(&sent[..], [Packet::Publish(Publish { qos: QoS::AtLeastOnce, .. }), Packet::Subscribe(_)]), "{sent:?}");
}
}

both! {
fn when_the_broker_lost_the_session_subscriptions_are_sent_again_batched() {
    let mut p = connected_pair("c");
    for f in ["a", "b", "c"] {
        p.client.subscribe(p.now, &[(f, QoS::AtLeastOnce)]).unwrap();
        let Packet::Subscribe(s) = p.take_sent().remove(0) else { panic!() };
        p.deliver(Packet::SubAck(SubAck { pkid: s.pkid, codes: vec![SubAckCode::Granted(QoS::AtLeastOnce)] }));
    }
    p.take_events();
    p.cut();
    let sent = p.connect(false);
    let [Packet::Subscribe(s)] = &sent[..] else { panic!("one batched SUBSCRIBE: {sent:?}") };
    assert_eq!(s.filters.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(), vec!["a", "b", "c"]);
    p.take_events();
    p.deliver(Packet::SubAck(SubAck { pkid: s.pkid, codes: vec![SubAckCode::Granted(QoS::AtLeastOnce); 3] }));
    assert_eq!(p.take_events(), vec![], "the client's own resubscription has no request");
    // With the session kept, nothing is sent again.
    p.cut();
    assert!(p.connect(true).is_empty());
}
}

both! {
fn store_ops_come_before_the_bytes_they_protect() {
    let mut p = connected_pair("c");
    let id = p.client.publish(p.now, msg("t", "a", QoS::AtLeastOnce)).unwrap();
    // Before any transmit is taken, the record is ready to be written.
    let op = p.client.poll_store().expect("a store op before transmit");
    let StoreOp::Put(StoreRecord::Outgoing { request, publish }) = op else { panic!("{op:?}") };
    assert_eq!(request, id);
    let mut out = Vec::new();
    p.client.poll_transmit(&mut out);
    assert_eq!(out, Packet::Publish(publish.clone()).to_bytes().unwrap());
    p.deliver(Packet::PubAck(publish.pkid));
    assert!(p.store.records.is_empty() || !p.store.records.contains_key(&StoreKey::Outgoing(publish.pkid)));
}
}

both! {
fn a_restored_client_resends_and_completes_with_the_original_request_ids() {
    let mut c = config("c");
    c.clean_session = false;
    c.username = Some("user".into());
    c.password = Some(payload("hunter2"));
    let mut p = Pair::new(c.clone());
    p.connect(false);
    let a = p.client.publish(p.now, msg("t", "a", QoS::AtLeastOnce)).unwrap();
    let b = p.client.publish(p.now, msg("t", "b", QoS::ExactlyOnce)).unwrap();
    let sent = p.take_sent();
    let Packet::Publish(pb) = &sent[1] else { panic!() };
    p.deliver(Packet::PubRec(pb.pkid));
    p.deliver(Packet::Publish(incoming(40, QoS::ExactlyOnce, "in")));
    assert_eq!(messages(&p.take_events()), vec!["in"]);
    p.client.disconnect(p.now); // closed: the next command is queued offline after reload
    p.pump();
    p.reload(c.clone());
    let q = p.client.publish(p.now, msg("t", "queued", QoS::AtLeastOnce)).unwrap();
    assert!(q > b, "request ids continue after a restore");
    // Credentials are never stored.
    for r in p.store.records.values() {
        let bytes = r.to_bytes();
        assert!(!bytes.windows(7).any(|w| w == b"hunter2"), "password in {r:?}");
    }
    assert_eq!(p.client.pending_requests(), vec![a, b, q]);
    let resent = p.connect(true);
    let names: Vec<&str> = resent.iter().map(|x| x.name()).collect();
    assert_eq!(names, vec!["PUBREL", "PUBLISH", "PUBLISH"]);
    let Packet::Publish(ra) = &resent[1] else { panic!() };
    assert!(ra.dup);
    // The broker redelivers its QoS 2 message: not delivered twice across the reload.
    let mut dup = incoming(40, QoS::ExactlyOnce, "in");
    dup.dup = true;
    p.deliver(Packet::Publish(dup));
    assert!(messages(&p.take_events()).is_empty());
    p.deliver(Packet::PubComp(pb.pkid));
    p.deliver(Packet::PubAck(ra.pkid));
    let Packet::Publish(rq) = &resent[2] else { panic!() };
    p.deliver(Packet::PubAck(rq.pkid));
    assert_eq!(published_ids(&p.take_events()), vec![b, a, q]);
}
}

both! {
fn disconnect_sends_disconnect_and_refuses_commands_until_reconnected() {
    let mut p = connected_pair("c");
    p.client.disconnect(p.now);
    assert_eq!(p.take_sent(), vec![Packet::Disconnect]);
    assert_eq!(disconnect_reason(&p.take_events()), Some(ConnectionError::Requested));
    assert_eq!(p.client.publish(p.now, msg("t", "a", QoS::AtMostOnce)), Err(UserError::Closed));
    p.connect(false);
    assert!(p.client.publish(p.now, msg("t", "a", QoS::AtMostOnce)).is_ok());
}
}

both! {
fn a_cut_connection_reports_once_and_late_bytes_are_ignored() {
    let mut p = connected_pair("c");
    p.cut();
    p.client.handle_closed(p.now);
    assert_eq!(p.take_events().len(), 1);
    p.deliver(Packet::PingResp);
    assert!(p.take_events().is_empty());
}
}

both! {
fn a_clean_session_ends_with_its_connection_and_loses_no_message_mqtt_3_1_2_6() {
    let mut p = connected_pair("c"); // clean session
    let id = p.client.publish(p.now, msg("t", "a", QoS::AtLeastOnce)).unwrap();
    let Packet::Publish(first) = p.take_sent().remove(0) else { panic!() };
    p.deliver(Packet::Publish(incoming(3, QoS::ExactlyOnce, "in")));
    assert_eq!(messages(&p.take_events()), vec!["in"]);
    p.cut();
    // The broker forgot the session; the client too: the unacknowledged message goes out
    // again as a new one (no DUP), and the incoming id 3 no longer shadows a new message.
    let sent = p.connect(false);
    let [Packet::Publish(again)] = &sent[..] else { panic!("{sent:?}") };
    assert!(!again.dup);
    assert_eq!(again.payload, first.payload);
    p.deliver(Packet::Publish(incoming(3, QoS::ExactlyOnce, "new")));
    assert_eq!(messages(&p.take_events()), vec!["new"]);
    p.deliver(Packet::PubAck(again.pkid));
    assert_eq!(published_ids(&p.take_events()), vec![id]);
}
}

both! {
fn a_qos2_message_stored_but_never_delivered_is_delivered_after_a_restore() {
    let (mut p, c) = kept_session_pair("c");
    // Its id is stored, then the page unloads before the message or the PUBREC went out.
    p.deliver_then_stop(Packet::Publish(incoming(7, QoS::ExactlyOnce, "kept")));
    let rec = StoreRecord::Incoming { pkid: 7, delivered: false };
    assert_eq!(p.store.records.get(&StoreKey::Incoming(7)), Some(&rec));
    p.reload(c.clone());
    assert!(p.connect(true).is_empty());
    // The broker never got the PUBREC: it sends the message again, and now it is delivered.
    let mut again = incoming(7, QoS::ExactlyOnce, "kept");
    again.dup = true;
    p.deliver(Packet::Publish(again.clone()));
    assert_eq!(messages(&p.take_events()), vec!["kept"]);
    assert_eq!(p.take_sent(), vec![Packet::PubRec(7)]);
    // Once, however often it comes again before PUBREL.
    p.deliver(Packet::Publish(again));
    assert!(messages(&p.take_events()).is_empty());
    assert_eq!(p.take_sent(), vec![Packet::PubRec(7)]);
    p.deliver(Packet::PubRel(7));
    assert_eq!(p.take_sent(), vec![Packet::PubComp(7)]);
    assert!(p.store.records.is_empty());
}
}

both! {
fn a_restored_qos2_id_the_broker_releases_is_not_delivered() {
    let (mut p, c) = kept_session_pair("c");
    p.deliver(Packet::Publish(incoming(8, QoS::ExactlyOnce, "in")));
    assert_eq!(messages(&p.take_events()), vec!["in"]);
    assert_eq!(p.take_sent(), vec![Packet::PubRec(8)]);
    // Reloaded with the connection up: the PUBREC reached the broker, which sends PUBREL.
    p.reload(c.clone());
    p.connect(true);
    p.deliver(Packet::PubRel(8));
    assert!(messages(&p.take_events()).is_empty());
    assert_eq!(p.take_sent(), vec![Packet::PubComp(8)]);
    assert!(p.store.records.is_empty());
}
}

both! {
fn a_delivered_qos2_message_whose_pubrec_a_cut_may_have_lost_is_not_delivered_again_after_a_restore() {
    let (mut p, c) = kept_session_pair("c");
    p.deliver(Packet::Publish(incoming(9, QoS::ExactlyOnce, "in")));
    assert_eq!(messages(&p.take_events()), vec!["in"]);
    // Delivered while connected: the record need not say so yet (PUBREL usually follows).
    let rec = |delivered| StoreRecord::Incoming { pkid: 9, delivered };
    assert_eq!(p.store.records.get(&StoreKey::Incoming(9)), Some(&rec(false)));
    // The connection drops, perhaps with the PUBREC: now the record says delivered.
    p.cut();
    assert_eq!(p.store.records.get(&StoreKey::Incoming(9)), Some(&rec(true)));
    p.reload(c.clone());
    p.connect(true);
    let mut again = incoming(9, QoS::ExactlyOnce, "in");
    again.dup = true;
    p.deliver(Packet::Publish(again));
    assert!(messages(&p.take_events()).is_empty());
    assert_eq!(p.take_sent(), vec![Packet::PubRec(9)]);
}
}

both! {
fn incoming_records_round_trip_and_old_ones_read_as_delivered() {
    for delivered in [false, true] {
        let r = StoreRecord::Incoming { pkid: 513, delivered };
        assert_eq!(StoreRecord::from_bytes(&r.to_bytes()), Ok(r));
    }
    // Written before the flag existed: only after delivery.
    assert_eq!(
        StoreRecord::from_bytes(&[b'I', 2, 1]),
        Ok(StoreRecord::Incoming { pkid: 513, delivered: true })
    );
    assert!(StoreRecord::from_bytes(&[b'I', 2, 1, 2]).is_err());
    assert!(StoreRecord::from_bytes(&[b'I', 0, 0, 1]).is_err());
    assert!(StoreRecord::from_bytes(&[b'I', 2]).is_err());
}
}

both! {
fn a_qos2_message_handed_over_before_its_pubrec_went_out_is_recorded_as_delivered_at_once() {
    let (mut p, c) = kept_session_pair("c");
    let bytes = Packet::Publish(incoming(5, QoS::ExactlyOnce, "in")).to_bytes().unwrap();
    p.client.handle_bytes(p.now, &bytes);
    while let Some(op) = p.client.poll_store() {
        p.store.apply(op);
    }
    // The PUBREC comes out, but the driver holds it back (a full WebSocket buffer, say) while
    // the message goes to the app.
    let mut held = Vec::new();
    p.client.poll_transmit(&mut held);
    let Some(Event::Message(m)) = p.client.poll_event() else { panic!("no message") };
    assert!(p.client.handle_delivered(m.pkid, false));
    assert!(!p.client.handle_delivered(m.pkid, false), "marked once");
    while let Some(op) = p.client.poll_store() {
        p.store.apply(op);
    }
    let rec = StoreRecord::Incoming { pkid: 5, delivered: true };
    assert_eq!(p.store.records.get(&StoreKey::Incoming(5)), Some(&rec));
    // The page stops before the PUBREC went out: the broker sends the message again after the
    // restore, and the app does not get it twice.
    p.reload(c.clone());
    p.connect(true);
    let mut again = incoming(5, QoS::ExactlyOnce, "in");
    again.dup = true;
    p.deliver(Packet::Publish(again));
    assert!(messages(&p.take_events()).is_empty());
    assert_eq!(p.take_sent(), vec![Packet::PubRec(5)]);
}
}

both! {
/// [MQTT-6.0.0-1]: MQTT over WebSockets goes in binary frames; the browser driver hands a text
/// frame to the core, which ends the connection as for a malformed packet, keeping the session.
fn a_websocket_text_frame_ends_the_connection_with_a_protocol_error_mqtt_6_0_0_1() {
    let mut c = config("c");
    c.clean_session = false;
    let mut p = Pair::new(c);
    p.connect(false);
    p.take_events();
    p.client.publish(p.now, msg("t", "kept", QoS::AtLeastOnce)).unwrap();
    let Packet::Publish(sent) = p.take_sent().remove(0) else { panic!() };
    p.client.handle_text_frame(p.now);
    p.pump();
    assert_eq!(
        disconnect_reason(&p.take_events()),
        Some(ConnectionError::Protocol(ProtocolError::TextFrame))
    );
    assert!(!p.client.is_connected());
    // The message in flight is sent again on the next connection.
    let resent = p.connect(true);
    assert!(matches!(&resent[..], [Packet::Publish(r)] if r.pkid == sent.pkid && r.dup), "{resent:?}");
}
}

/// Encodes `p` as the broker would send it.
fn wire(p: Packet) -> Vec<u8> {
    let mut v = Vec::new();
    p.encode(&mut v).unwrap();
    v
}

both! {
/// An incoming PUBLISH over `max_packet_size` must not trap a kept session in a loop (closed,
/// redelivered on every reconnect, forever): it is acknowledged, not delivered, and reported as
/// `Event::TooLarge`; the connection stays up. QoS 2: PUBREC, then PUBCOMP for the PUBREL, and a
/// redelivery before the PUBREL is answered again without a second report.
fn an_oversize_publish_is_acknowledged_reported_and_not_delivered() {
    let mut c = config("c");
    c.clean_session = false;
    c.max_packet_size = 1024;
    let mut p = Pair::new(c);
    p.connect(false);
    p.take_events();
    let big = |qos, pkid, dup: bool| {
        let mut m = Publish::new(Topic::from_static("big/t"), qos, payload(&"x".repeat(4000)));
        m.pkid = pkid;
        m.dup = dup;
        m.retain = true;
        wire(Packet::Publish(m))
    };
    let size = big(QoS::AtLeastOnce, 1, false).len();
    p.deliver_bytes(&big(QoS::AtMostOnce, 0, false));
    p.deliver_bytes(&big(QoS::AtLeastOnce, 1, false));
    assert_eq!(p.take_sent(), vec![Packet::PubAck(1)]);
    let too_large = |qos| Event::TooLarge { topic: "big/t".into(), qos, size: size - if qos == QoS::AtMostOnce { 2 } else { 0 } };
    assert_eq!(p.take_events(), vec![too_large(QoS::AtMostOnce), too_large(QoS::AtLeastOnce)]);
    p.deliver_bytes(&big(QoS::ExactlyOnce, 2, false));
    assert_eq!(p.take_sent(), vec![Packet::PubRec(2)]);
    assert_eq!(p.take_events(), vec![too_large(QoS::ExactlyOnce)]);
    // The broker missed our PUBREC and sends it again: PUBREC again, no second report.
    p.deliver_bytes(&big(QoS::ExactlyOnce, 2, true));
    assert_eq!(p.take_sent(), vec![Packet::PubRec(2)]);
    assert!(p.take_events().is_empty());
    p.deliver(Packet::PubRel(2));
    assert_eq!(p.take_sent(), vec![Packet::PubComp(2)]);
    assert!(p.client.is_connected());
    // A small message after them is delivered as usual.
    let mut small = Publish::new(Topic::from_static("small/t"), QoS::AtLeastOnce, payload("ok"));
    small.pkid = 3;
    p.deliver(Packet::Publish(small.clone()));
    assert_eq!(p.take_events(), vec![Event::Message(small)]);
}
}

both! {
/// Issue 13's list of broken brokers: a second CONNACK, a SUBACK return code of 3, a remaining
/// length claiming 256 MB (not a PUBLISH), packet id 0 [MQTT-2.3.1-1], a reserved packet type
/// [MQTT-2.2.1], and a frame cut in the middle of a packet. Each ends the connection with a
/// typed reason (the cut one as a closed transport), nothing panics, and every message in flight
/// is sent again on the next connection of the kept session.
fn a_broken_broker_ends_the_connection_with_a_reason_and_keeps_what_is_in_flight() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("second CONNACK", vec![0x20, 0x02, 0x00, 0x00]),
        ("SUBACK return code 3", vec![0x90, 0x03, 0x00, 0x09, 0x03]),
        ("256 MB remaining length", vec![0x90, 0xFF, 0xFF, 0xFF, 0x7F]),
        ("packet id 0", vec![0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x00]),
        ("reserved type 15", vec![0xF0, 0x00]),
        ("cut mid-packet", vec![0x32, 0x0A, 0x00, 0x01, b't']),
    ];
    for (what, bytes) in cases {
        let mut c = config("c");
        c.clean_session = false;
        let mut p = Pair::new(c);
        p.connect(false);
        p.take_events();
        let id1 = p.client.publish(p.now, msg("t/1", "one", QoS::AtLeastOnce)).unwrap();
        let id2 = p.client.publish(p.now, msg("t/2", "two", QoS::ExactlyOnce)).unwrap();
        let sent = p.take_sent();
        assert_eq!(sent.len(), 2, "{what}");
        p.deliver_bytes(&bytes);
        if what == "cut mid-packet" {
            assert!(p.client.is_connected(), "{what}: half a packet is not an error yet");
            p.cut();
            assert_eq!(disconnect_reason(&p.take_events()), Some(ConnectionError::TransportClosed), "{what}");
        } else {
            match disconnect_reason(&p.take_events()) {
                Some(ConnectionError::Protocol(_)) => {}
                other => panic!("{what}: {other:?}"),
            }
        }
        assert!(!p.client.is_connected(), "{what}");
        // The next connection resends both, with their ids, as duplicates.
        let resent = p.connect(true);
        let ids: Vec<(u16, bool)> = resent
            .iter()
            .map(|r| match r {
                Packet::Publish(r) => (r.pkid, r.dup),
                other => panic!("{what}: {other:?}"),
            })
            .collect();
        let want: Vec<(u16, bool)> = sent
            .iter()
            .map(|s| match s {
                Packet::Publish(s) => (s.pkid, true),
                other => panic!("{what}: {other:?}"),
            })
            .collect();
        assert_eq!(ids, want, "{what}");
        let pending = p.client.pending_requests();
        assert!(pending.contains(&id1) && pending.contains(&id2), "{what}: {pending:?}");
    }
}
}
