//! Part of `tests/proto.rs` (one test binary: `cargo test --test proto`): what the client does
//! with a broker that breaks the rules or sends what it cannot take: an unexpected
//! acknowledgement or CONNACK, malformed and server-only packets, oversize packets and messages,
//! bytes in any chunking, a WebSocket text frame.

use super::*;

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
    assert_eq!(p.take_events(), vec![Event::Released { pkid: 2 }]);
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
