//! The native client against a real Mosquitto on loopback: QoS 0/1/2 end to end, retained
//! messages, the will, credentials, keepalive, sessions kept across a client restart (file
//! store) and a broker restart with persistence, a custom transport.
#![cfg(feature = "native")]

mod native_common;

use mq::codec::{ConnectReturnCode, LastWill, QoS, Topic};
use mq::native::{BoxStream, Client, Error, Options, Reconnect, State};
use mq::proto::{ConnectionError, ErrorCode, Message};
use native_common::*;
use std::collections::HashSet;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[tokio::test]
async fn qos_0_1_2_end_to_end() {
    let b = Mosquitto::start();
    let (sub, mut msgs) = connect(b.options("e2e-sub")).await;
    assert_eq!(within(sub.subscribe("e2e/#", QoS::ExactlyOnce)).await.unwrap(), QoS::ExactlyOnce);
    let (publ, _) = connect(b.options("e2e-pub")).await;
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce].into_iter().enumerate() {
        within(publ.publish(format!("e2e/{i}"), format!("payload {i}"), qos, false)).await.unwrap();
        let m = next(&mut msgs).await;
        assert_eq!(m.topic.as_str(), format!("e2e/{i}"));
        assert_eq!(&m.payload[..], format!("payload {i}").as_bytes());
        assert_eq!(m.qos, qos);
    }
    // Many in flight at once, in order.
    let pending: Vec<_> = (0..500)
        .map(|i| {
            publ.start_publish(Message::new(Topic::from_static("e2e/many"), format!("{i}"), QoS::AtLeastOnce))
                .unwrap()
        })
        .collect();
    for p in pending {
        within(p).await.unwrap();
    }
    for i in 0..500 {
        assert_eq!(&next(&mut msgs).await.payload[..], format!("{i}").as_bytes());
    }
    within(publ.disconnect()).await.unwrap();
    within(sub.disconnect()).await.unwrap();
    assert!(matches!(sub.state(), State::Closed(None)));
    // After disconnect, requests fail with CLOSED.
    let e = sub.publish("e2e/x", "y", QoS::AtMostOnce, false).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Closed);
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let b = Mosquitto::start();
    let (c, mut msgs) = connect(b.options("unsub")).await;
    within(c.subscribe("u/a", QoS::AtLeastOnce)).await.unwrap();
    within(c.publish("u/a", "1", QoS::AtLeastOnce, false)).await.unwrap();
    assert_eq!(&next(&mut msgs).await.payload[..], b"1");
    within(c.unsubscribe(&["u/a"])).await.unwrap();
    within(c.publish("u/a", "2", QoS::AtLeastOnce, false)).await.unwrap();
    assert!(none_within(&mut msgs, 300).await);
}

#[tokio::test]
async fn invalid_requests_are_refused_before_sending() {
    let b = Mosquitto::start();
    let (c, _) = connect(b.options("invalid")).await;
    let e = c.publish("a/#", "x", QoS::AtMostOnce, false).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidTopic);
    let e = c.subscribe("a/#/b", QoS::AtMostOnce).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidTopic);
    // The connection is unharmed.
    within(c.publish("a/b", "x", QoS::AtLeastOnce, false)).await.unwrap();
}

#[tokio::test]
async fn retained_message_reaches_a_later_subscriber() {
    let b = Mosquitto::start();
    let (p, _) = connect(b.options("ret-pub")).await;
    within(p.publish("ret/t", "kept", QoS::AtLeastOnce, true)).await.unwrap();
    let (s, mut msgs) = connect(b.options("ret-sub")).await;
    within(s.subscribe("ret/#", QoS::AtLeastOnce)).await.unwrap();
    let m = next(&mut msgs).await;
    assert!(m.retain);
    assert_eq!(&m.payload[..], b"kept");
}

#[tokio::test]
async fn will_is_published_on_an_ungraceful_drop_only() {
    let b = Mosquitto::start();
    let (watch, mut msgs) = connect(b.options("will-watch")).await;
    within(watch.subscribe("will/#", QoS::AtLeastOnce)).await.unwrap();
    let with_will = |id: &str| {
        let mut o = b.options(id);
        o.config.will = Some(LastWill {
            topic: Topic::new(format!("will/{id}")).unwrap(),
            payload: "gone".into(),
            qos: QoS::AtLeastOnce,
            retain: false,
        });
        o
    };
    // A graceful DISCONNECT: no will.
    let (polite, _) = connect(with_will("polite")).await;
    within(polite.disconnect()).await.unwrap();
    // Dropped without DISCONNECT: the will.
    let (rude, _) = connect(with_will("rude")).await;
    rude.abort();
    let m = next(&mut msgs).await;
    assert_eq!(m.topic.as_str(), "will/rude");
    assert_eq!(&m.payload[..], b"gone");
}

#[tokio::test]
async fn credentials_refused_and_accepted() {
    let b = Mosquitto::with_setup(|dir| {
        let pw = password_file(dir, "alice", "s3cret");
        (format!("allow_anonymous false\npassword_file {}\n", pw.display()), vec![])
    });
    let mut o = b.options("auth");
    o.reconnect = Reconnect::disabled();
    o.config.username = Some("alice".into());
    o.config.password = Some("wrong".into());
    let e = Client::connect(o.clone()).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ConnectRefused, "{e}");
    assert!(matches!(
        e,
        Error::Connection(ConnectionError::Refused(
            ConnectReturnCode::BadUsernameOrPassword | ConnectReturnCode::NotAuthorized
        ))
    ));
    let mut anon = o.clone();
    anon.config.username = None;
    anon.config.password = None;
    assert_eq!(Client::connect(anon).await.unwrap_err().code(), ErrorCode::ConnectRefused);
    o.config.password = Some("s3cret".into());
    let (c, _) = Client::connect(o).await.unwrap();
    within(c.publish("auth/ok", "x", QoS::AtLeastOnce, false)).await.unwrap();
}

#[tokio::test]
async fn unreachable_broker_is_an_error() {
    let o = Options::new(HOST, free_port());
    let e = Client::connect(o).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ConnectionFailed, "{e}");
}

#[tokio::test]
async fn keepalive_holds_an_idle_connection() {
    let b = Mosquitto::start();
    let mut o = b.options("idle");
    o.config.keep_alive = Duration::from_secs(1);
    let (c, mut msgs) = connect(o).await;
    within(c.subscribe("idle/t", QoS::AtLeastOnce)).await.unwrap();
    let mut state = c.watch_state();
    state.borrow_and_update();
    // Three keepalive intervals of silence: the broker would drop the client after 1.5 without
    // PINGREQ, and the client would drop the broker without PINGRESP. Reconnecting is off, so any
    // loss would show as a state change.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(!state.has_changed().unwrap(), "state changed: {:?}", c.state());
    within(c.publish("idle/t", "still here", QoS::AtLeastOnce, false)).await.unwrap();
    assert_eq!(&next(&mut msgs).await.payload[..], b"still here");
}

#[tokio::test]
async fn custom_transport_is_used_for_every_connection() {
    let b = Mosquitto::start();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut o = b.options("custom");
    let (port, n) = (b.port, calls.clone());
    o.connector = Some(Arc::new(move || {
        n.fetch_add(1, Ordering::SeqCst);
        async move { Ok(Box::new(tokio::net::TcpStream::connect((HOST, port)).await?) as BoxStream) }
    }));
    let (c, mut msgs) = connect(o).await;
    within(c.subscribe("custom/t", QoS::AtLeastOnce)).await.unwrap();
    within(c.publish("custom/t", "via my stream", QoS::ExactlyOnce, false)).await.unwrap();
    assert_eq!(&next(&mut msgs).await.payload[..], b"via my stream");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A client "process" killed with QoS 1 and 2 messages in flight restarts from its file store
/// and completes them; the QoS 2 message is delivered exactly once.
#[tokio::test]
async fn in_flight_messages_survive_a_client_restart() {
    let b = Mosquitto::start();
    let store = TempDir::new("store");
    let (watch, mut msgs) = connect(b.options("restart-watch")).await;
    within(watch.subscribe("restart/#", QoS::ExactlyOnce)).await.unwrap();

    let mut o = b.options("restart-pub");
    o.config.clean_session = false;
    o.session_dir = Some(store.path().to_path_buf());
    let port = b.port;
    // Run 1: messages go out but their acknowledgements never come back.
    let mut run1 = o.clone();
    run1.connector = Some(Arc::new(move || async move {
        Ok(Box::new(DeafAfterConnAck::new(tokio::net::TcpStream::connect((HOST, port)).await?)) as BoxStream)
    }));
    let (c1, _) = connect(run1).await;
    let p1 =
        c1.start_publish(Message::new(Topic::from_static("restart/q1"), "one", QoS::AtLeastOnce)).unwrap();
    let p2 =
        c1.start_publish(Message::new(Topic::from_static("restart/q2"), "two", QoS::ExactlyOnce)).unwrap();
    // QoS 1 reaches the watcher while the publisher hears nothing back. (Mosquitto passes a
    // QoS 2 message on only after PUBREL, which needs the PUBREC the publisher never sees.)
    assert_eq!(&next(&mut msgs).await.payload[..], b"one");
    c1.abort(); // "kill -9": no DISCONNECT, no more store writes.
    assert_eq!(p1.await.unwrap_err().code(), ErrorCode::Closed);
    assert_eq!(p2.await.unwrap_err().code(), ErrorCode::Closed);

    // Run 2: same store, a normal transport. Both restored requests complete.
    let (c2, _) = connect(o.clone()).await;
    let restored = c2.restored().unwrap();
    assert_eq!(restored.ids.len(), 2);
    within(restored.all()).await.unwrap();
    // QoS 1 may arrive again (DUP); QoS 2 arrives exactly once.
    let mut again = Vec::new();
    while !again.contains(&"two".to_string()) {
        again.push(String::from_utf8_lossy(&next(&mut msgs).await.payload).into_owned());
    }
    while let Some(m) = tokio::time::timeout(Duration::from_millis(300), msgs.recv()).await.ok().flatten() {
        again.push(String::from_utf8_lossy(&m.payload).into_owned());
    }
    assert_eq!(again.iter().filter(|p| *p == "two").count(), 1, "{again:?}");
    within(c2.disconnect()).await.unwrap();

    // Run 3: nothing left to restore.
    let (c3, _) = connect(o).await;
    assert!(c3.restored().unwrap().ids.is_empty());
}

/// Reads pass through until the CONNACK, then nothing more is read (acks are lost).
struct DeafAfterConnAck {
    inner: tokio::net::TcpStream,
    seen: usize,
}

impl DeafAfterConnAck {
    fn new(inner: tokio::net::TcpStream) -> Self {
        DeafAfterConnAck { inner, seen: 0 }
    }
}

impl AsyncRead for DeafAfterConnAck {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        // CONNACK is exactly 4 bytes.
        let want = 4usize.saturating_sub(self.seen);
        if want == 0 {
            return Poll::Pending;
        }
        let mut small = [0u8; 4];
        let mut rb = ReadBuf::new(&mut small[..want]);
        match Pin::new(&mut self.inner).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                buf.put_slice(rb.filled());
                self.seen += n;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl AsyncWrite for DeafAfterConnAck {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, b)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A kept session (clean session off) outlives the client process: the subscription and the
/// messages published meanwhile are there for the next run. A clean session starts empty.
#[tokio::test]
async fn kept_and_clean_sessions_across_a_client_restart() {
    let b = Mosquitto::start();
    let store = TempDir::new("kept");
    let mut o = b.options("kept-sub");
    o.config.clean_session = false;
    o.session_dir = Some(store.path().to_path_buf());
    let (s1, _) = connect(o.clone()).await;
    within(s1.subscribe("kept/t", QoS::AtLeastOnce)).await.unwrap();
    within(s1.disconnect()).await.unwrap();

    let (p, _) = connect(b.options("kept-pub")).await;
    for i in 0..3 {
        within(p.publish("kept/t", format!("m{i}"), QoS::AtLeastOnce, false)).await.unwrap();
    }
    let (s2, mut msgs) = connect(o.clone()).await;
    assert!(matches!(s2.state(), State::Connected { session_present: true }));
    for i in 0..3 {
        assert_eq!(&next(&mut msgs).await.payload[..], format!("m{i}").as_bytes());
    }
    within(s2.disconnect()).await.unwrap();

    // The same id with a clean session: the broker forgets the subscription.
    let mut clean = o.clone();
    clean.config.clean_session = true;
    let (s3, _) = connect(clean).await;
    assert!(matches!(s3.state(), State::Connected { session_present: false }));
    within(s3.disconnect()).await.unwrap();
    within(p.publish("kept/t", "lost", QoS::AtLeastOnce, false)).await.unwrap();
    let (s4, mut msgs) = connect(o).await;
    assert!(matches!(s4.state(), State::Connected { session_present: false }));
    assert!(none_within(&mut msgs, 300).await);
}

/// Mosquitto with persistence restarts in the middle of a stream of QoS 1 and 2 messages: both
/// clients reconnect by themselves and no message is lost.
#[tokio::test]
async fn broker_restart_with_persistence_loses_nothing() {
    let mut b =
        Mosquitto::with_config("allow_anonymous true\npersistence true\npersistence_location {dir}/data/\n");
    let fast = Reconnect {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(500),
        ..Reconnect::default()
    };
    let mut so = b.options("persist-sub");
    so.config.clean_session = false;
    so.reconnect = fast.clone();
    let (sub, mut msgs) = Client::connect(so).await.unwrap();
    within(sub.subscribe("persist/#", QoS::ExactlyOnce)).await.unwrap();
    let mut po = b.options("persist-pub");
    po.config.clean_session = false;
    // Mosquitto counts incoming QoS 2 messages awaiting PUBREL against max_inflight_messages
    // (20 by default) and silently drops what arrives past it, QoS 1 included (an MQTT 3.1.1
    // PUBACK cannot say "quota exceeded"). The client's defaults (max_inflight 100,
    // max_inflight_qos2 19) must keep within it: 100 messages of both QoS are started at once.
    po.reconnect = fast;
    let (publ, _) = Client::connect(po).await.unwrap();

    const N: usize = 300;
    let qos = |i: usize| if i % 2 == 0 { QoS::AtLeastOnce } else { QoS::ExactlyOnce };
    let mut pending = Vec::new();
    for i in 0..N / 3 {
        pending.push(
            publ.start_publish(Message::new(Topic::from_static("persist/t"), format!("{i}"), qos(i)))
                .unwrap(),
        );
    }
    for p in pending.drain(..) {
        within(p).await.unwrap();
    }
    b.stop();
    for i in N / 3..N {
        pending.push(
            publ.start_publish(Message::new(Topic::from_static("persist/t"), format!("{i}"), qos(i)))
                .unwrap(),
        );
    }
    b.restart();
    for p in pending {
        within(p).await.unwrap();
    }
    let mut got = HashSet::new();
    while got.len() < N {
        let m = match tokio::time::timeout(Duration::from_secs(10), msgs.recv()).await {
            Ok(Some(m)) => m,
            _ => {
                let mut missing: Vec<usize> = (0..N).filter(|i| !got.contains(&i.to_string())).collect();
                missing.sort();
                panic!("missing {missing:?}; sub state {:?}; log {}", sub.state(), b.log());
            }
        };
        got.insert(String::from_utf8_lossy(&m.payload).into_owned());
    }
    within(sub.connected()).await.unwrap();
}

/// A broker that restarts without persistence forgot the subscription: the client reconnects
/// with backoff, sees `session_present: false` and subscribes again by itself.
#[tokio::test]
async fn reconnect_resubscribes_after_the_broker_forgot_the_session() {
    let mut b = Mosquitto::start();
    let mut o = b.options("resub");
    o.config.clean_session = false;
    o.reconnect = Reconnect {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(300),
        ..Reconnect::default()
    };
    let (c, mut msgs) = Client::connect(o).await.unwrap();
    within(c.subscribe("resub/t", QoS::AtLeastOnce)).await.unwrap();
    let mut state = c.watch_state();
    b.stop();
    within(state.wait_for(|s| matches!(s, State::Reconnecting { .. }))).await.unwrap();
    b.restart();
    within(state.wait_for(|s| matches!(s, State::Connected { session_present: false }))).await.unwrap();
    // The resubscription is in flight or done; a publisher that connects after it sees it.
    let (p, _) = connect(b.options("resub-pub")).await;
    let mut delivered = false;
    for _ in 0..50 {
        within(p.publish("resub/t", "back", QoS::AtLeastOnce, false)).await.unwrap();
        if !none_within(&mut msgs, 200).await {
            delivered = true;
            break;
        }
    }
    assert!(delivered, "no message after the reconnect");
}

/// `Overflow::DropNew`: what does not fit in the stream is dropped and counted; reading never
/// stops. A capacity of 0 is refused before connecting.
#[tokio::test]
async fn overflow_drop_new_keeps_the_first_messages_and_counts_the_rest() {
    let b = Mosquitto::start();
    let mut o = b.options("dropnew");
    o.messages = mq::native::MessageBuffer { capacity: 0, overflow: mq::native::Overflow::DropNew };
    let e = Client::connect(o.clone()).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    o.messages.capacity = 10;
    let (c, mut msgs) = connect(o).await;
    within(c.subscribe("dropnew/t", QoS::AtLeastOnce)).await.unwrap();
    for i in 0..100 {
        within(c.publish("dropnew/t", format!("{i}"), QoS::AtLeastOnce, false)).await.unwrap();
    }
    // All 100 came back (each publish completes after the broker has it): 90 did not fit.
    within(async {
        while c.dropped() < 90 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!((c.dropped(), msgs.len()), (90, 10));
    for i in 0..10 {
        assert_eq!(&next(&mut msgs).await.payload[..], format!("{i}").as_bytes());
    }
    within(c.publish("dropnew/t", "after", QoS::AtLeastOnce, false)).await.unwrap();
    assert_eq!(&next(&mut msgs).await.payload[..], b"after");
    within(c.disconnect()).await.unwrap();
}

/// A flood at the client's default limits (`max_inflight` 100, `max_inflight_qos2` 19): 6,000
/// messages, two in three QoS 2, the rest QoS 1, all started at once, through Mosquitto's
/// default quota of 20 incoming QoS 2 messages awaiting PUBREL (`max_inflight_messages`), past
/// which it acknowledges and silently drops what arrives. QoS 2 messages stop counting against
/// the client's limit once their PUBREL is written; twice the publisher's connection is cut where
/// that matters: in the middle of one of its PUBRELs (the broker still holds that message: the
/// PUBREL must go again, before anything new) and right after one of the broker's PUBRECs (the
/// PUBREL answering it is lost). Every message arrives, no QoS 2 one twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_qos2_flood_at_the_default_limits_loses_nothing_through_cuts_at_pubrel() {
    use native_common::proxy::{Cut, Dir, Proxy, PUBREC, PUBREL};
    const N: usize = 6000;
    // The subscriber's queue at the broker unbounded (default 1000, which a publisher outrunning
    // the subscriber would overflow); the incoming quota under test keeps its default.
    let b = Mosquitto::with_config("allow_anonymous true\nmax_queued_messages 0\n");
    let (sub, mut msgs) = connect(b.options("flood2-sub")).await;
    within(sub.subscribe("flood2/#", QoS::ExactlyOnce)).await.unwrap();

    let proxy = Proxy::start(b.port).await;
    let mut po = proxy.options("flood2-pub");
    po.config.clean_session = false;
    po.reconnect = Reconnect {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
        ..Reconnect::default()
    };
    let defaults = mq::proto::Config::default();
    assert_eq!((po.config.max_inflight, po.config.max_inflight_qos2), (100, 19));
    assert_eq!((defaults.max_inflight, defaults.max_inflight_qos2), (100, 19));
    let (publ, _) = Client::connect(po).await.unwrap();
    let mut state = publ.watch_state();

    proxy.arm(Cut::MidFrame { dir: Dir::Up, ptype: PUBREL, nth: 1500 });
    let qos = |i: usize| if i % 3 == 0 { QoS::AtLeastOnce } else { QoS::ExactlyOnce };
    let pending: Vec<_> = (0..N)
        .map(|i| {
            publ.start_publish(Message::new(Topic::from_static("flood2/t"), format!("{i}"), qos(i))).unwrap()
        })
        .collect();
    let mut counts = vec![0u32; N];
    let mut received = 0;
    let mut armed_second = false;
    while received < N {
        if !armed_second && proxy.cuts() == 1 {
            within(state.wait_for(|s| matches!(s, State::Connected { .. }))).await.unwrap();
            proxy.arm(Cut::After { dir: Dir::Down, ptype: PUBREC, nth: 1000 });
            armed_second = true;
        }
        let m = match tokio::time::timeout(Duration::from_secs(10), msgs.recv()).await {
            Ok(Some(m)) => m,
            _ => {
                let missing: Vec<usize> = (0..N).filter(|&i| counts[i] == 0).take(50).collect();
                panic!("{received} of {N} received; first missing {missing:?}; cuts {}", proxy.cuts());
            }
        };
        let i: usize = std::str::from_utf8(&m.payload).unwrap().parse().unwrap();
        assert_eq!(m.qos, qos(i), "message {i}");
        counts[i] += 1;
        if counts[i] == 1 {
            received += 1;
        }
        // A QoS 1 message resent after a cut may arrive twice (its PUBACK was lost).
        assert!(qos(i) == QoS::AtLeastOnce || counts[i] == 1, "QoS 2 message {i} arrived twice");
    }
    for p in pending {
        within(p).await.unwrap();
    }
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), msgs.recv()).await {
        let i: usize = std::str::from_utf8(&m.payload).unwrap().parse().unwrap();
        assert_eq!(qos(i), QoS::AtLeastOnce, "QoS 2 message {i} arrived twice");
    }
    assert_eq!(proxy.cuts(), 2, "both cuts happened in the flood");
    within(publ.disconnect()).await.unwrap();
}
