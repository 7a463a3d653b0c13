//! The native client against brokers that send what it does not expect: a scripted broker on
//! an in-memory stream (the `connector` hook) for acknowledgements of ids with nothing in flight,
//! and Mosquitto for messages larger than the client's maximum packet size on a kept session.
#![cfg(feature = "native")]

mod native_common;

use mq::codec::QoS;
use mq::native::{BoxStream, Client, Options, Reconnect, State};
use native_common::{connect, next, none_within, within, Mosquitto};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// Reads one whole MQTT packet (fixed header, remaining length, body).
async fn read_packet(s: &mut DuplexStream) -> Vec<u8> {
    let mut p = vec![s.read_u8().await.unwrap()];
    let (mut len, mut shift) = (0usize, 0);
    loop {
        let b = s.read_u8().await.unwrap();
        p.push(b);
        len |= ((b & 0x7f) as usize) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    let mut body = vec![0; len];
    s.read_exact(&mut body).await.unwrap();
    p.extend(body);
    p
}

#[tokio::test]
async fn acknowledgements_for_ids_with_nothing_in_flight_are_counted_and_ignored() {
    let broker: Arc<Mutex<Option<DuplexStream>>> = Arc::default();
    let slot = broker.clone();
    let mut o = Options::from_url("mqtt://127.0.0.1:1/?client_id=hostile").unwrap();
    o.reconnect = Reconnect::disabled();
    o.connector = Some(Arc::new(move || {
        let (client_end, broker_end) = tokio::io::duplex(4096);
        *slot.lock().unwrap() = Some(broker_end);
        async move { Ok(Box::new(client_end) as BoxStream) }
    }));
    let script = tokio::spawn(async move {
        // The connector runs when the client connects: wait for it.
        let mut s = loop {
            if let Some(s) = broker.lock().unwrap().take() {
                break s;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        assert_eq!(read_packet(&mut s).await[0], 0x10, "CONNECT first");
        s.write_all(&[0x20, 0x02, 0x00, 0x00]).await.unwrap(); // CONNACK 0
        s.write_all(&[0x40, 0x02, 0x00, 0x05]).await.unwrap(); // PUBACK 5: nothing in flight
        s.write_all(&[0xB0, 0x02, 0x00, 0x07]).await.unwrap(); // UNSUBACK 7: nothing in flight
        s.write_all(&[0x50, 0x02, 0x00, 0x06]).await.unwrap(); // PUBREC 6: nothing in flight
                                                               // The PUBREC is answered with PUBREL 6, so the broker can finish its side.
        assert_eq!(read_packet(&mut s).await, vec![0x62, 0x02, 0x00, 0x06]);
        // The connection still works: a QoS 1 publish is acknowledged.
        let publish = read_packet(&mut s).await;
        assert_eq!(publish[0] & 0xF6, 0x32, "a QoS 1 PUBLISH");
        let topic_len = u16::from_be_bytes([publish[2], publish[3]]) as usize;
        let pkid = &publish[4 + topic_len..6 + topic_len];
        s.write_all(&[0x40, 0x02, pkid[0], pkid[1]]).await.unwrap();
        s
    });
    let (c, _msgs) =
        tokio::time::timeout(Duration::from_secs(10), Client::connect(o)).await.unwrap().unwrap();
    // The three ignored acknowledgements arrive right after CONNACK.
    for _ in 0..500 {
        if c.ignored_acks() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(c.ignored_acks(), 3);
    assert!(matches!(c.state(), State::Connected { .. }), "{:?}", c.state());
    tokio::time::timeout(Duration::from_secs(10), c.publish("t", "after", QoS::AtLeastOnce, false))
        .await
        .unwrap()
        .unwrap();
    let _broker = tokio::time::timeout(Duration::from_secs(10), script).await.unwrap().unwrap();
    assert_eq!(c.ignored_acks(), 3);
}

/// A message larger than `max_packet_size` queued for a kept session, and a retained one: each is
/// acknowledged, counted and dropped; the connection stays up, and the next connection of the
/// same session does not get it again (before, the client closed on it and the broker
/// redelivered it on every reconnect, forever).
#[tokio::test]
async fn oversize_messages_on_a_kept_session_are_acknowledged_once_not_looped() {
    let b = Mosquitto::start();
    let mut o = b.options("oversize-sub");
    o.config.clean_session = false;
    o.config.max_packet_size = 1024;
    let (sub, _m) = connect(o.clone()).await;
    within(sub.subscribe("big/q", QoS::AtLeastOnce)).await.unwrap();
    within(sub.disconnect()).await.unwrap();

    let (publisher, _) = connect(b.options("oversize-pub")).await;
    let big = "x".repeat(4000);
    within(publisher.publish("big/q", big.clone(), QoS::AtLeastOnce, false)).await.unwrap();
    within(publisher.publish("big/q", "small", QoS::AtLeastOnce, false)).await.unwrap();
    within(publisher.publish("big/r", big.clone(), QoS::AtLeastOnce, true)).await.unwrap();

    // The kept session gets the queued big message, then the small one.
    let (sub, mut msgs) = connect(o.clone()).await;
    assert_eq!(&next(&mut msgs).await.payload[..], b"small");
    assert_eq!(sub.too_large(), 1);
    // The retained big message, at subscribe time.
    within(sub.subscribe("big/r", QoS::AtLeastOnce)).await.unwrap();
    within(publisher.publish("big/q", "after", QoS::AtLeastOnce, false)).await.unwrap();
    assert_eq!(&next(&mut msgs).await.payload[..], b"after");
    assert_eq!(sub.too_large(), 2);
    assert!(matches!(sub.state(), State::Connected { .. }), "{:?}", sub.state());
    within(sub.disconnect()).await.unwrap();

    // Reconnecting the same session: nothing comes again.
    let (again, mut msgs) = connect(o).await;
    assert!(none_within(&mut msgs, 500).await, "a message came again");
    assert_eq!(again.too_large(), 0);
    assert!(matches!(again.state(), State::Connected { .. }), "{:?}", again.state());
}
