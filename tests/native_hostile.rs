//! The native client against a scripted broker on an in-memory stream (the `connector` hook): an
//! acknowledgement for a packet id with nothing in flight is counted and ignored, and the
//! connection stays up.
#![cfg(feature = "native")]

use mq::codec::QoS;
use mq::native::{BoxStream, Client, Options, Reconnect, State};
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
