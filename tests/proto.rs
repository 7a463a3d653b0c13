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
    // Only reported as `Redelivered`, which a client alone ignores.
    let mut again = incoming(9, QoS::ExactlyOnce, "once");
    again.dup = true;
    p.deliver(Packet::Publish(again.clone()));
    assert_eq!(p.take_events(), vec![Event::Redelivered(again)]);
    assert_eq!(p.take_sent(), vec![Packet::PubRec(9)]);
    p.deliver(Packet::PubRel(9));
    assert_eq!(p.take_sent(), vec![Packet::PubComp(9)]);
    assert_eq!(p.take_events(), vec![Event::Released { pkid: 9 }]);
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
    assert!(p.take_events().is_empty(), "nothing held was released");
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

// ---- the rest, by concept (one test binary: `cargo test --test proto`) ----

#[path = "proto/errors.rs"]
mod errors;
#[path = "proto/session.rs"]
mod session;
