//! Flow control paced by the application: held acknowledgements (the browser's way to push back
//! on a broker) and paused reading (the native driver's), against a scripted broker on a virtual
//! clock.

mod common;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use common::{config, disconnect_reason, incoming, kept_session_pair, messages, Pair};
use mq::codec::{Packet, QoS};
use mq::proto::{ConnectionError, Event, StoreKey, StoreRecord};
use std::time::Duration;

both! {
/// [MQTT-4.6.0-2, MQTT-4.6.0-3]: acknowledgements go in the order the PUBLISHes arrived, held
/// or not; messages are delivered as they arrive.
fn held_acknowledgements_go_out_in_arrival_order_once_released() {
    let (mut p, _) = kept_session_pair("c");
    p.deliver(Packet::Publish(incoming(1, QoS::AtLeastOnce, "a")));
    assert_eq!(p.take_sent(), vec![Packet::PubAck(1)]);
    p.client.hold_acks(p.now, true);
    p.deliver(Packet::Publish(incoming(2, QoS::AtLeastOnce, "b")));
    p.deliver(Packet::Publish(incoming(3, QoS::ExactlyOnce, "c")));
    p.deliver(Packet::Publish(incoming(0, QoS::AtMostOnce, "d")));
    p.deliver(Packet::Publish(incoming(5, QoS::AtLeastOnce, "e")));
    assert_eq!(messages(&p.take_events()), ["a", "b", "c", "d", "e"]);
    assert!(p.take_sent().is_empty(), "nothing acknowledged while held");
    assert_eq!(p.client.held_acks(), 3);
    p.client.hold_acks(p.now, false);
    assert_eq!(p.take_sent(), vec![Packet::PubAck(2), Packet::PubRec(3), Packet::PubAck(5)]);
    assert_eq!(p.client.held_acks(), 0);
    p.deliver(Packet::Publish(incoming(6, QoS::AtLeastOnce, "f")));
    assert_eq!(p.take_sent(), vec![Packet::PubAck(6)]);
}
}

both! {
fn other_packets_still_flow_while_acknowledgements_are_held() {
    let (mut p, _) = kept_session_pair("c");
    p.client.hold_acks(p.now, true);
    p.deliver(Packet::Publish(incoming(1, QoS::AtLeastOnce, "a")));
    // PUBREL is answered, outgoing messages go out, and the keepalive runs.
    p.deliver(Packet::PubRel(9));
    assert_eq!(p.take_sent(), vec![Packet::PubComp(9)]);
    p.client.publish(p.now, common::msg("out", "x", QoS::AtLeastOnce)).unwrap();
    assert!(matches!(p.take_sent()[..], [Packet::Publish(_)]));
    p.run_for(Duration::from_secs(60));
    assert_eq!(p.take_sent(), vec![Packet::PingReq]);
    assert_eq!(p.client.held_acks(), 1);
}
}

both! {
/// A QoS 2 message whose PUBREC is held is handed over and recorded as delivered: the broker,
/// which never got the PUBREC, sends it again after a cut or a reload, and it is not delivered
/// twice [MQTT-4.3.3-2]. The id is stored before the message is handed over, as always.
fn a_qos2_message_with_a_held_pubrec_is_delivered_once_across_a_cut_and_a_restore() {
    let (mut p, c) = kept_session_pair("c");
    p.client.hold_acks(p.now, true);
    p.deliver(Packet::Publish(incoming(7, QoS::ExactlyOnce, "once")));
    assert_eq!(messages(&p.take_events()), ["once"]);
    assert!(p.take_sent().is_empty());
    let delivered = StoreRecord::Incoming { pkid: 7, delivered: true };
    assert_eq!(p.store.records.get(&StoreKey::Incoming(7)), Some(&delivered));
    // The connection drops with the PUBREC still held: it is dropped with it.
    p.cut();
    assert_eq!(p.client.held_acks(), 0);
    assert!(p.client.acks_held(), "holding is the application's pace, kept across connections");
    p.client.hold_acks(p.now, false);
    p.connect(true);
    let mut again = incoming(7, QoS::ExactlyOnce, "once");
    again.dup = true;
    p.deliver(Packet::Publish(again.clone()));
    assert!(messages(&p.take_events()).is_empty(), "not delivered twice");
    assert_eq!(p.take_sent(), vec![Packet::PubRec(7)]);
    // And after a reload from the store, held again: still once.
    p.reload(c);
    p.connect(true);
    p.client.hold_acks(p.now, true);
    p.deliver(Packet::Publish(again.clone()));
    // Reported as `Redelivered` (a driver handing messages to several receivers may need it).
    let events = p.take_events();
    assert_eq!(events.last(), Some(&Event::Redelivered(again)), "not delivered after the restore either");
    assert!(messages(&events).is_empty(), "not delivered after the restore either");
    p.client.hold_acks(p.now, false);
    assert_eq!(p.take_sent(), vec![Packet::PubRec(7)]);
    p.deliver(Packet::PubRel(7));
    assert_eq!(p.take_events(), vec![Event::Released { pkid: 7 }]);
    assert_eq!(p.take_sent(), vec![Packet::PubComp(7)]);
    assert!(p.store.records.is_empty());
}
}

both! {
/// A QoS 1 message whose PUBACK was held when the connection dropped comes again (DUP) and is
/// delivered again: QoS 1 allows the duplicate, and nothing is lost.
fn a_qos1_message_with_a_held_puback_comes_again_after_a_cut() {
    let (mut p, _) = kept_session_pair("c");
    p.client.hold_acks(p.now, true);
    p.deliver(Packet::Publish(incoming(3, QoS::AtLeastOnce, "q1")));
    assert_eq!(messages(&p.take_events()), ["q1"]);
    p.cut();
    p.client.hold_acks(p.now, false);
    p.connect(true);
    let mut again = incoming(3, QoS::AtLeastOnce, "q1");
    again.dup = true;
    p.deliver(Packet::Publish(again));
    assert_eq!(messages(&p.take_events()), ["q1"]);
    assert_eq!(p.take_sent(), vec![Packet::PubAck(3)]);
}
}

both! {
/// An oversize message is acknowledged in its turn among the held ones.
fn an_oversize_message_is_acknowledged_in_order_with_the_held_ones() {
    let mut c = config("c");
    c.max_packet_size = 64;
    let mut p = Pair::new(c);
    p.connect(false);
    p.client.hold_acks(p.now, true);
    p.deliver(Packet::Publish(incoming(1, QoS::AtLeastOnce, "a")));
    p.deliver(Packet::Publish(incoming(2, QoS::AtLeastOnce, &"x".repeat(100))));
    p.deliver(Packet::Publish(incoming(3, QoS::AtLeastOnce, "c")));
    let events = p.take_events();
    assert_eq!(messages(&events), ["a", "c"]);
    assert!(events.iter().any(|e| matches!(e, Event::TooLarge { .. })));
    p.client.hold_acks(p.now, false);
    assert_eq!(p.take_sent(), vec![Packet::PubAck(1), Packet::PubAck(2), Packet::PubAck(3)]);
}
}

both! {
/// Reading paused: a PINGRESP may sit unread, so the connection is not declared dead; PINGREQs
/// still go out every interval so the broker keeps hearing from us [MQTT-3.1.2-24].
fn while_reading_is_paused_pings_go_out_and_no_pingresp_is_awaited() {
    let (mut p, _) = kept_session_pair("c");
    p.run_for(Duration::from_secs(60));
    assert_eq!(p.take_sent(), vec![Packet::PingReq]);
    p.client.handle_read_paused(p.now, true);
    assert!(p.client.is_read_paused());
    for _ in 0..10 {
        p.run_for(Duration::from_secs(60));
        assert_eq!(p.take_sent(), vec![Packet::PingReq]);
    }
    assert!(p.client.is_connected());
    assert!(disconnect_reason(&p.take_events()).is_none());
    // Commands still go out while paused.
    p.client.publish(p.now, common::msg("out", "x", QoS::AtMostOnce)).unwrap();
    assert!(matches!(p.take_sent()[..], [Packet::Publish(_)]));
    // Resumed: the PINGRESPs owed arrive with the backlog.
    p.client.handle_read_paused(p.now, false);
    p.run_for(Duration::from_secs(30));
    p.deliver(Packet::PingResp);
    p.run_for(Duration::from_secs(40));
    assert_eq!(p.take_sent(), vec![Packet::PingReq], "the next ping, one interval after the publish");
    assert!(p.client.is_connected());
}
}

both! {
/// After resuming, a broker that died meanwhile is still found: the PINGRESP owed gets a full
/// ping timeout from the moment reading resumed.
fn after_resuming_a_missing_pingresp_still_declares_the_connection_dead() {
    let (mut p, _) = kept_session_pair("c");
    p.client.handle_read_paused(p.now, true);
    p.run_for(Duration::from_secs(130));
    assert_eq!(p.take_sent(), vec![Packet::PingReq, Packet::PingReq]);
    p.client.handle_read_paused(p.now, false);
    p.run_for(Duration::from_secs(59));
    assert!(p.client.is_connected());
    p.run_for(Duration::from_secs(1));
    assert_eq!(disconnect_reason(&p.take_events()), Some(ConnectionError::KeepAliveTimeout));
}
}

both! {
fn reading_starts_again_with_every_connection() {
    let (mut p, _) = kept_session_pair("c");
    p.client.handle_read_paused(p.now, true);
    p.cut();
    assert!(!p.client.is_read_paused());
    p.connect(true);
    p.take_events();
    p.run_for(Duration::from_secs(60));
    assert_eq!(p.take_sent(), vec![Packet::PingReq]);
    p.run_for(Duration::from_secs(60));
    let events = p.take_events();
    assert_eq!(disconnect_reason(&events), Some(ConnectionError::KeepAliveTimeout), "{events:?}");
}
}
