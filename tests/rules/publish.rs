//! MQTT 3.1.1 statements that bind a client, part of `tests/rules.rs` (one test binary: `cargo
//! test --test rules`; the index of statements is there): PUBLISH and its acknowledgements
//! (3.3 - 3.7, 4.3, 4.5) and their order (4.6).

use super::*;

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
    p.deliver(Packet::Publish(incoming_on(0, QoS::AtMostOnce, "in", "0")));
    assert!(p.take_sent().is_empty());
    p.deliver(Packet::Publish(incoming_on(1, QoS::AtLeastOnce, "in", "1")));
    assert_eq!(p.take_sent(), vec![Packet::PubAck(1)]);
    p.deliver(Packet::Publish(incoming_on(2, QoS::ExactlyOnce, "in", "2")));
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
    p.deliver(Packet::Publish(incoming_on(5, QoS::AtLeastOnce, "in", "first")));
    assert_eq!(p.take_sent(), vec![Packet::PubAck(5)]);
    let mut again = incoming_on(5, QoS::AtLeastOnce, "in", "second");
    again.dup = true;
    p.deliver(Packet::Publish(again));
    assert_eq!(p.take_sent(), vec![Packet::PubAck(5)]);
    p.deliver(Packet::Publish(incoming_on(5, QoS::AtLeastOnce, "in", "third")));
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
    let mut retained = incoming_on(1, QoS::AtLeastOnce, "never/subscribed", "r");
    retained.retain = true;
    let empty = incoming_on(2, QoS::ExactlyOnce, "$SYS/x", "");
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
        p.deliver(Packet::Publish(incoming_on(id, QoS::AtLeastOnce, "in", "x")));
    }
    assert_eq!(p.take_sent(), ids.iter().map(|&i| Packet::PubAck(i)).collect::<Vec<_>>());
    // All in one read.
    let mut p = connected(config("c"));
    let batch: Vec<Packet> = ids.iter().map(|&i| Packet::Publish(incoming_on(i, QoS::AtLeastOnce, "in", "x"))).collect();
    p.deliver_bytes(&encode(&batch));
    assert_eq!(p.take_sent(), ids.iter().map(|&i| Packet::PubAck(i)).collect::<Vec<_>>());
    // Mixed with QoS 0 and QoS 2.
    let mut p = connected(config("c"));
    let mixed = [
        Packet::Publish(incoming_on(7, QoS::AtLeastOnce, "in", "a")),
        Packet::Publish(incoming_on(0, QoS::AtMostOnce, "in", "b")),
        Packet::Publish(incoming_on(5, QoS::ExactlyOnce, "in", "c")),
        Packet::Publish(incoming_on(6, QoS::AtLeastOnce, "in", "d")),
        Packet::Publish(incoming_on(4, QoS::ExactlyOnce, "in", "e")),
        Packet::Publish(incoming_on(3, QoS::AtLeastOnce, "in", "f")),
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
    let mut batch: Vec<Packet> = ids.iter().map(|&i| Packet::Publish(incoming_on(i, QoS::ExactlyOnce, "in", "x"))).collect();
    let mut dup = incoming_on(7, QoS::ExactlyOnce, "in", "x");
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
