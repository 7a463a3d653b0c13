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

/// Mosquitto's quota for one client, as its `handle_publish` keeps it: an incoming QoS 2
/// message holds a place from its PUBLISH until its PUBREL arrives, and any QoS 1/2 PUBLISH that
/// arrives while all places are held is acknowledged and dropped. Fed with the packets that
/// reached the broker, in order; kept across connections, as a kept session's are. Its size is
/// one more than the client's `max_inflight_qos2`, as with the defaults (Mosquitto's 20, 19).
struct Quota {
    places: usize,
    awaiting_pubrel: Vec<u16>,
}

impl Quota {
    fn for_limit(max_inflight_qos2: usize) -> Quota {
        Quota { places: max_inflight_qos2 + 1, awaiting_pubrel: Vec::new() }
    }

    fn arrive(&mut self, packets: &[Packet]) {
        for packet in packets {
            match packet {
                Packet::Publish(x) if x.qos != QoS::AtMostOnce => {
                    if self.awaiting_pubrel.contains(&x.pkid) {
                        continue; // A resent one the broker has: no new place.
                    }
                    assert!(
                        self.awaiting_pubrel.len() < self.places,
                        "PUBLISH {} arrived while {:?} awaited PUBREL: the broker drops it",
                        x.pkid,
                        self.awaiting_pubrel
                    );
                    if x.qos == QoS::ExactlyOnce {
                        self.awaiting_pubrel.push(x.pkid);
                    }
                }
                Packet::PubRel(id) => self.awaiting_pubrel.retain(|k| k != id),
                _ => {}
            }
        }
    }
}

fn kinds(sent: &[Packet]) -> Vec<(&'static str, u16)> {
    sent.iter()
        .map(|x| match x {
            Packet::Publish(p) if p.dup => ("PUBLISH dup", p.pkid),
            Packet::Publish(p) => (["PUBLISH 0", "PUBLISH 1", "PUBLISH 2"][p.qos as usize], p.pkid),
            Packet::PubRel(id) => ("PUBREL", *id),
            Packet::Subscribe(s) => ("SUBSCRIBE", s.pkid),
            other => (other.name(), 0),
        })
        .collect()
}

fn qos2_limited_pair(max_inflight: usize, max_inflight_qos2: usize) -> (Pair, Quota) {
    let mut c = config("c");
    c.clean_session = false;
    c.max_inflight = max_inflight;
    c.max_inflight_qos2 = max_inflight_qos2;
    let mut p = Pair::new(c);
    assert!(p.connect(false).is_empty());
    p.take_events();
    (p, Quota::for_limit(max_inflight_qos2))
}

both! {
fn a_qos2_publish_waits_while_the_qos2_limit_awaits_pubrec() {
    // Mosquitto drops any PUBLISH arriving while its quota of QoS 2 messages awaiting PUBREL is
    // full. Past `max_inflight_qos2` QoS 2 messages awaiting PUBREC, the next QoS 2 one waits,
    // and what was issued after it waits behind it; a QoS 1 message issued before goes out
    // (the limit is below the broker's quota: there is room for it).
    let (mut p, mut broker) = qos2_limited_pair(10, 2);
    for (body, qos) in [("a", QoS::ExactlyOnce), ("b", QoS::ExactlyOnce), ("x", QoS::AtLeastOnce)] {
        p.client.publish(p.now, msg("t", body, qos)).unwrap();
    }
    p.client.publish(p.now, msg("t", "c", QoS::ExactlyOnce)).unwrap();
    p.client.publish(p.now, msg("t", "y", QoS::AtLeastOnce)).unwrap();
    p.client.subscribe(p.now, &[("s", QoS::AtLeastOnce)]).unwrap();
    let sent = p.take_sent();
    broker.arrive(&sent);
    assert_eq!(kinds(&sent), [("PUBLISH 2", 1), ("PUBLISH 2", 2), ("PUBLISH 1", 3)], "then c waits");
    assert_eq!(p.client.queued(), 3);
    // PUBREC frees the place: the PUBREL that answers it goes out first, so the broker has
    // released the message before the next PUBLISH reaches it.
    p.deliver(Packet::PubRec(1));
    let sent = p.take_sent();
    broker.arrive(&sent);
    assert_eq!(kinds(&sent), [("PUBREL", 1), ("PUBLISH 2", 4), ("PUBLISH 1", 5), ("SUBSCRIBE", 6)]);
    assert_eq!(p.client.queued(), 0);
}
}

both! {
fn qos2_messages_awaiting_pubcomp_count_against_max_inflight_only() {
    let (mut p, mut broker) = qos2_limited_pair(3, 2);
    for body in ["a", "b", "c", "d", "e"] {
        p.client.publish(p.now, msg("t", body, QoS::ExactlyOnce)).unwrap();
    }
    broker.arrive(&p.take_sent());
    let mut step = |p: &mut Pair, ack: Packet| {
        p.deliver(ack);
        let sent = p.take_sent();
        broker.arrive(&sent);
        kinds(&sent)
    };
    assert_eq!(step(&mut p, Packet::PubRec(1)), [("PUBREL", 1), ("PUBLISH 2", 3)]);
    // Three in flight (1 and 2 awaiting PUBCOMP, 3 awaiting PUBREC): `max_inflight` holds.
    assert_eq!(step(&mut p, Packet::PubRec(2)), [("PUBREL", 2)]);
    assert_eq!(p.client.inflight(), 3);
    assert_eq!(step(&mut p, Packet::PubComp(1)), [("PUBLISH 2", 4)]);
    // 3 and 4 await PUBREC: the QoS 2 limit holds, whatever room `max_inflight` has.
    assert_eq!(step(&mut p, Packet::PubComp(2)), []);
    assert_eq!(step(&mut p, Packet::PubRec(3)), [("PUBREL", 3), ("PUBLISH 2", 5)]);
    assert_eq!(p.client.queued(), 0);
}
}

both! {
fn resent_publishes_find_room_at_the_broker_in_their_original_order() {
    // Every message reached the broker, none of its acknowledgements came back: it holds both
    // QoS 2 messages, and the QoS 1 one, resent first [MQTT-4.6.0-1], still finds a place.
    let (mut p, mut broker) = qos2_limited_pair(10, 2);
    for (body, qos) in [("x", QoS::AtLeastOnce), ("a", QoS::ExactlyOnce), ("b", QoS::ExactlyOnce)] {
        p.client.publish(p.now, msg("t", body, qos)).unwrap();
    }
    broker.arrive(&p.take_sent());
    p.cut();
    let sent = p.connect(true);
    broker.arrive(&sent);
    assert_eq!(kinds(&sent), [("PUBLISH dup", 1), ("PUBLISH dup", 2), ("PUBLISH dup", 3)]);
}
}

both! {
fn after_a_reconnect_new_publishes_wait_for_the_pubrels_and_the_qos2_limit() {
    // PUBRELs sent on a connection that ended may never have arrived: the broker may still
    // hold those messages. After CONNACK they are sent again before anything new, and the
    // QoS 2 limit counts only what still awaits PUBREC.
    let (mut p, mut broker) = qos2_limited_pair(10, 2);
    for body in ["a", "b", "c", "d"] {
        p.client.publish(p.now, msg("t", body, QoS::ExactlyOnce)).unwrap();
    }
    broker.arrive(&p.take_sent());
    p.deliver(Packet::PubRec(1));
    p.deliver(Packet::PubRec(2));
    let sent = p.take_sent();
    assert_eq!(kinds(&sent), [("PUBREL", 1), ("PUBLISH 2", 3), ("PUBREL", 2), ("PUBLISH 2", 4)]);
    // Only the first two reach the broker before the connection drops: it holds 2 and 3.
    broker.arrive(&sent[..2]);
    p.cut();
    p.client.publish(p.now, msg("t", "e", QoS::AtLeastOnce)).unwrap();
    p.client.publish(p.now, msg("t", "f", QoS::ExactlyOnce)).unwrap();
    let sent = p.connect(true);
    broker.arrive(&sent);
    assert_eq!(
        kinds(&sent),
        [("PUBREL", 1), ("PUBREL", 2), ("PUBLISH dup", 3), ("PUBLISH dup", 4), ("PUBLISH 1", 5)],
        "3 and 4 await PUBREC: the limit is reached, f waits"
    );
    p.deliver(Packet::PubRec(3));
    let sent = p.take_sent();
    broker.arrive(&sent);
    assert_eq!(kinds(&sent), [("PUBREL", 3), ("PUBLISH 2", 6)]);
}
}

both! {
fn a_restored_session_resends_its_pubrels_before_any_new_publish() {
    let (mut p, mut broker) = qos2_limited_pair(10, 1);
    let c = p.client.config().clone();
    p.client.publish(p.now, msg("t", "a", QoS::ExactlyOnce)).unwrap();
    p.client.publish(p.now, msg("t", "b", QoS::ExactlyOnce)).unwrap();
    broker.arrive(&p.take_sent());
    p.deliver(Packet::PubRec(1));
    // The PUBREL and the PUBLISH after it are written but never reach the broker.
    assert_eq!(kinds(&p.take_sent()), [("PUBREL", 1), ("PUBLISH 2", 2)]);
    p.reload(c);
    p.client.publish(p.now, msg("t", "c", QoS::ExactlyOnce)).unwrap();
    let sent = p.connect(true);
    broker.arrive(&sent);
    assert_eq!(kinds(&sent), [("PUBREL", 1), ("PUBLISH dup", 2)], "c waits behind 2");
    p.deliver(Packet::PubRec(2));
    let sent = p.take_sent();
    broker.arrive(&sent);
    assert_eq!(kinds(&sent), [("PUBREL", 2), ("PUBLISH 2", 3)]);
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
