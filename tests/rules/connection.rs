//! MQTT 3.1.1 statements that bind a client, part of `tests/rules.rs` (one test binary: `cargo
//! test --test rules`; the index of statements is there): topics and filters (3.3.2, 3.8.3,
//! 3.10.3, 4.7), DISCONNECT (3.14), errors (4.8) and WebSocket (6).

use super::*;

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
        Packet::Publish(incoming_on(1, QoS::AtLeastOnce, "in", "late")),
        Packet::Publish(incoming_on(2, QoS::ExactlyOnce, "in", "late")),
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
        bytes.extend(encode(&[Packet::Publish(incoming_on(9, QoS::AtLeastOnce, "in", "after"))]));
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
            let bytes = encode(&[Packet::Publish(incoming_on(3, QoS::AtLeastOnce, "in", "half"))]);
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
        p.deliver_bytes(&encode(&[Packet::Publish(incoming_on(3, QoS::AtLeastOnce, "in", "late"))]));
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
        Packet::Publish(incoming_on(1, QoS::AtLeastOnce, "in", "one")),
        Packet::PingResp,
        Packet::Publish(incoming_on(2, QoS::ExactlyOnce, "in", "two")),
        Packet::PubRel(2),
        Packet::Publish(incoming_on(0, QoS::AtMostOnce, "in/with/a/longer/topic", &"x".repeat(300))),
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
