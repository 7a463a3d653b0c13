//! Bounded memory for incoming messages: a subscriber that stops reading while publishers flood
//! it through Mosquitto holds a bounded number of messages (the driver stops reading the socket,
//! so TCP pushes back), stays connected through several keepalive intervals, and once it reads
//! again gets every QoS 1 message. One test per file: the process's RSS is the subscriber's.
#![cfg(feature = "native")]

mod native_common;

use mq::codec::QoS;
use mq::native::{MessageBuffer, Overflow, State};
use native_common::*;
use std::collections::HashSet;
use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PER_QOS: usize = 25_000;
const PAYLOAD: usize = 1000;

/// This process's resident set, in bytes.
fn rss() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let kb = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap();
    kb.trim().trim_end_matches("kB").trim().parse::<u64>().unwrap() * 1024
}

/// A file of `n` lines of `PAYLOAD` bytes, `"{qos} {index} xxx..."`, written a line at a time.
fn lines(b: &Mosquitto, qos: u8, n: usize) -> std::path::PathBuf {
    use std::io::Write;
    let path = b.dir.path().join(format!("lines-{qos}.txt"));
    let mut f = std::io::BufWriter::new(fs::File::create(&path).unwrap());
    for i in 0..n {
        let head = format!("{qos} {i:06} ");
        writeln!(f, "{head}{}", "x".repeat(PAYLOAD - head.len())).unwrap();
    }
    f.flush().unwrap();
    path
}

/// mosquitto_pub sending each line of `file` as one message.
fn flood(b: &Mosquitto, qos: u8, file: &std::path::Path) -> Child {
    Command::new("mosquitto_pub")
        .args(["-h", HOST, "-p", &b.port.to_string(), "-t", &format!("flood/q{qos}"), "-q", &qos.to_string()])
        .args(["-i", &format!("flood-pub-{qos}"), "-l"])
        .stdin(fs::File::open(file).unwrap())
        .stdout(Stdio::null())
        .spawn()
        .expect("mosquitto_pub (Debian package mosquitto-clients)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_holds_memory_flat_and_loses_no_qos1_message() {
    // Mosquitto queues every QoS 1 message it cannot send yet (its default keeps 1,000).
    let b = Mosquitto::with_config("allow_anonymous true\nmax_queued_messages 0\n");
    let capacity = 64;
    let mut o = b.options("flood-sub");
    o.config.keep_alive = Duration::from_secs(2);
    o.messages = MessageBuffer { capacity, overflow: Overflow::Pause };
    let (sub, mut msgs) = connect(o).await;
    within(sub.subscribe("flood/#", QoS::AtLeastOnce)).await.unwrap();
    let (watcher, mut watched) = connect(b.options("flood-watch")).await;
    within(watcher.subscribe("from-sub", QoS::AtMostOnce)).await.unwrap();
    let mut state = sub.watch_state();
    state.borrow_and_update();
    let files = [lines(&b, 0, PER_QOS), lines(&b, 1, PER_QOS)];
    let before = rss();

    let mut pubs = [flood(&b, 0, &files[0]), flood(&b, 1, &files[1])];
    // Not reading: sample what the client holds while the publishers run and for a while after
    // (over three keepalive intervals, so the broker would drop a client it stopped hearing from).
    let mut max_len = 0;
    let mut after_pubs = 0;
    let mut sent_while_paused = false;
    while after_pubs < 60 {
        max_len = max_len.max(msgs.len());
        if pubs.iter_mut().all(|p| p.try_wait().unwrap().is_some()) {
            after_pubs += 1;
        }
        if !sent_while_paused && msgs.len() >= capacity {
            // Outgoing traffic while reading is paused: a QoS 0 message completes once written.
            within(sub.publish("from-sub", "while paused", QoS::AtMostOnce, false)).await.unwrap();
            sent_while_paused = true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for p in &mut pubs {
        assert!(p.wait().unwrap().success(), "mosquitto_pub failed");
    }
    let during = rss();
    assert!(sent_while_paused, "the stream never filled up");
    assert_eq!(&next(&mut watched).await.payload[..], b"while paused");
    assert!(!state.has_changed().unwrap(), "the connection changed state while paused: {:?}", sub.state());
    assert!(matches!(sub.state(), State::Connected { .. }));
    // The stream holds `capacity`; the driver what one 64 KiB read of the socket held.
    let bound = capacity + 64 * 1024 / PAYLOAD + 1;
    assert!(max_len <= bound, "held {max_len} messages, bound {bound}");

    // Reading again: every QoS 1 message arrives, in order.
    let mut q1 = Vec::with_capacity(PER_QOS);
    let mut q0 = HashSet::new();
    while q1.len() < PER_QOS {
        let m = tokio::time::timeout(Duration::from_secs(30), msgs.recv())
            .await
            .unwrap_or_else(|_| panic!("QoS 1: {} of {PER_QOS} after 30 s of silence", q1.len()))
            .expect("stream ended");
        let id: usize = std::str::from_utf8(&m.payload[2..8]).unwrap().parse().unwrap();
        match m.qos {
            QoS::AtLeastOnce => q1.push(id),
            _ => {
                q0.insert(id);
            }
        }
    }
    assert_eq!(q1, (0..PER_QOS).collect::<Vec<_>>(), "every QoS 1 message, once, in order");
    while let Some(m) = msgs.try_recv() {
        q0.insert(std::str::from_utf8(&m.payload[2..8]).unwrap().parse().unwrap());
    }
    let grown = during.saturating_sub(before);
    println!(
        "flood: {PER_QOS} QoS 0 + {PER_QOS} QoS 1 messages of {PAYLOAD} B; held at most {max_len} \
         (capacity {capacity}); RSS {} KiB before, {} KiB after the flood (+{} KiB); QoS 0 received \
         {} of {PER_QOS}",
        before / 1024,
        during / 1024,
        grown / 1024,
        q0.len()
    );
    // Unbounded, the 50 MB of payloads would be in this process.
    assert!(grown < 16 << 20, "RSS grew by {} KiB while not reading", grown / 1024);
    assert_eq!(sub.dropped(), 0);
    within(sub.disconnect()).await.unwrap();
    within(watcher.disconnect()).await.unwrap();
}
