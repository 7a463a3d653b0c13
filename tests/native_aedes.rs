//! The native client against a second, independent broker: aedes (node, tests/aedes).
#![cfg(feature = "native")]

mod native_common;

use mq::codec::{LastWill, QoS, Topic};
use mq::native::State;
use mq::proto::Message;
use native_common::*;

#[tokio::test]
async fn qos_0_1_2_end_to_end() {
    let b = Aedes::start();
    let (sub, mut msgs) = connect(b.options("a-sub")).await;
    assert_eq!(within(sub.subscribe("a/+/x", QoS::ExactlyOnce)).await.unwrap(), QoS::ExactlyOnce);
    let (publ, _) = connect(b.options("a-pub")).await;
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce].into_iter().enumerate() {
        within(publ.publish(format!("a/{i}/x"), format!("p{i}"), qos, false)).await.unwrap();
        let m = next(&mut msgs).await;
        assert_eq!(
            (m.topic.as_str(), &m.payload[..], m.qos),
            (format!("a/{i}/x").as_str(), format!("p{i}").as_bytes(), qos)
        );
    }
    let pending: Vec<_> = (0..300)
        .map(|i| {
            publ.start_publish(Message::new(Topic::from_static("a/many/x"), format!("{i}"), QoS::ExactlyOnce))
                .unwrap()
        })
        .collect();
    for p in pending {
        within(p).await.unwrap();
    }
    for i in 0..300 {
        assert_eq!(&next(&mut msgs).await.payload[..], format!("{i}").as_bytes());
    }
    within(sub.unsubscribe(&["a/+/x"])).await.unwrap();
    within(publ.publish("a/0/x", "after", QoS::AtLeastOnce, false)).await.unwrap();
    assert!(none_within(&mut msgs, 300).await);
}

#[tokio::test]
async fn retained_message_and_will() {
    let b = Aedes::start();
    let (p, _) = connect(b.options("a-ret")).await;
    within(p.publish("r/t", "kept", QoS::AtLeastOnce, true)).await.unwrap();
    let (s, mut msgs) = connect(b.options("a-watch")).await;
    within(s.subscribe("r/#", QoS::AtLeastOnce)).await.unwrap();
    let m = next(&mut msgs).await;
    assert!(m.retain);
    assert_eq!(&m.payload[..], b"kept");
    let mut o = b.options("a-will");
    o.config.will = Some(LastWill {
        topic: Topic::from_static("r/will"),
        payload: "gone".into(),
        qos: QoS::AtLeastOnce,
        retain: false,
    });
    let (w, _) = connect(o).await;
    w.abort();
    let m = next(&mut msgs).await;
    assert_eq!((m.topic.as_str(), &m.payload[..]), ("r/will", &b"gone"[..]));
}

#[tokio::test]
async fn kept_session_receives_what_was_published_meanwhile() {
    let b = Aedes::start();
    let mut o = b.options("a-kept");
    o.config.clean_session = false;
    let (s1, _) = connect(o.clone()).await;
    within(s1.subscribe("k/t", QoS::AtLeastOnce)).await.unwrap();
    within(s1.disconnect()).await.unwrap();
    let (p, _) = connect(b.options("a-kept-pub")).await;
    within(p.publish("k/t", "while away", QoS::AtLeastOnce, false)).await.unwrap();
    let (s2, mut msgs) = connect(o).await;
    assert!(matches!(s2.state(), State::Connected { session_present: true }));
    assert_eq!(&next(&mut msgs).await.payload[..], b"while away");
}
