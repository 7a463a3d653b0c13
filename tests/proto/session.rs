//! Part of `tests/proto.rs` (one test binary: `cargo test --test proto`): commands and their
//! limits (arguments, the offline queue, the in-flight limits), the session across connections
//! and the store (ops before the bytes they protect, restores, incoming QoS 2 ids), disconnect
//! and cuts.

use super::*;

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
