//! A cross-check of the criterion single-packet figures on a shared (busy) machine: mq and
//! rumqttc decode or encode the same packet in turn, a batch each, many rounds (which goes first alternates), and
//! it prints the minimum and median time per packet of each and rumqttc / mq. Both sides see the
//! same moments of the machine's load; the minimum is the figure least disturbed by it.
//!
//! `cargo run --profile bench --manifest-path bench/Cargo.toml --example encode_interleaved [rounds]`
//!
//! `make+encode` rows also time making the packet from the application's strings: mq's
//! `Topic::new` / `TopicFilter::new` (the check, once) and copy, rumqttc's `String` copy.

use bytes::BytesMut;
use mq::codec::{Packet, Publish, QoS, Subscribe, Topic, TopicFilter};
use mq_bench::{
    peer_publish, peer_qos, peer_subscribe, publish_qos1, subscribe_10, BENCH_FILTERS, BENCH_TOPIC,
    MAX_PACKET,
};
use rumqttc::mqttbytes::v4 as peer;
use std::hint::black_box;
use std::time::Instant;

/// Nanoseconds per call of `f`, over `n` calls.
fn per_op(n: usize, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_secs_f64() * 1e9 / n as f64
}

struct Case {
    name: String,
    /// Calls per batch: about 20 µs.
    batch: usize,
    /// Each runs a batch of this many and returns the time per packet, in ns.
    ours: Box<dyn FnMut(usize) -> f64>,
    theirs: Box<dyn FnMut(usize) -> f64>,
}

/// A batch of `f` timed as a whole: the time per call.
fn timed(mut f: impl FnMut() + 'static) -> Box<dyn FnMut(usize) -> f64> {
    Box::new(move |n| per_op(n, &mut f))
}

/// Decoding `wire` (one packet) both ways: mq's `decode` on a shared `Bytes`, rumqttc's
/// `Packet::read` on a `BytesMut` whose storage is already shared (made before the batch, not
/// timed), as in the criterion bench. Each decoded packet is dropped inside the timing.
fn decode_case(name: &str, batch: usize, wire: Vec<u8>) -> Case {
    let wire = bytes::Bytes::from(wire);
    let peer_wire = wire.clone();
    let mut bufs: Vec<BytesMut> = Vec::with_capacity(batch);
    Case {
        name: name.to_string(),
        batch,
        ours: Box::new(move |n| {
            per_op(n, || {
                let r = mq::codec::decode(black_box(&wire), MAX_PACKET);
                black_box(&r);
            })
        }),
        theirs: Box::new(move |n| {
            bufs.clear();
            bufs.extend((0..n).map(|_| {
                let mut b = BytesMut::with_capacity(peer_wire.len());
                b.extend_from_slice(&peer_wire);
                drop(b.split_to(0));
                b
            }));
            let mut it = bufs.iter_mut();
            per_op(n, || {
                let b = it.next().expect("one buffer a call");
                let r = peer::Packet::read(black_box(b), MAX_PACKET);
                black_box(&r);
            })
        }),
    }
}

fn encode_case(name: &str, batch: usize, packet: Packet, peer_packet: peer::Packet) -> Case {
    // Both buffers mmapped (past glibc's 128 KiB threshold), so both start at the same offset in
    // a page: where a buffer lies against the payload it copies changes the copy's speed.
    let cap = packet.encoded_len().expect("valid").max(256 * 1024);
    let mut b = BytesMut::with_capacity(cap);
    let mut a = Vec::with_capacity(cap);
    // Same bytes both ways.
    packet.encode(&mut a).expect("mq encodes");
    peer_packet.write(&mut b, MAX_PACKET).expect("rumqttc encodes");
    assert_eq!(&a[..], &b[..], "{name}: encoders disagree");
    Case {
        name: name.to_string(),
        batch,
        ours: timed(move || {
            a.clear();
            black_box(&packet).encode(&mut a).unwrap();
            black_box(a.len());
        }),
        theirs: timed(move || {
            b.clear();
            black_box(&peer_packet).write(&mut b, MAX_PACKET).unwrap();
            black_box(b.len());
        }),
    }
}

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let mut cases = Vec::new();
    for (size, batch) in [(64usize, 1000), (1024, 500), (64 * 1024, 10)] {
        let msg = publish_qos1(size);
        let label = if size >= 1024 { format!("{}KiB", size / 1024) } else { format!("{size}B") };
        let peer_packet = peer::Packet::Publish(peer_publish(&msg));
        let wire = Packet::Publish(msg.clone()).to_bytes().expect("valid");
        cases.push(decode_case(&format!("decode PUBLISH QoS 1 {label}"), batch, wire));
        cases.push(encode_case(
            &format!("encode PUBLISH QoS 1 {label}"),
            batch,
            Packet::Publish(msg.clone()),
            peer_packet,
        ));
        let payload = msg.payload.clone();
        let (mut a, mut b) = (Vec::with_capacity(size + 64), BytesMut::with_capacity(size + 64));
        let theirs_payload = payload.clone();
        cases.push(Case {
            name: format!("make+encode PUBLISH QoS 1 {label}"),
            batch,
            ours: timed(move || {
                a.clear();
                let mut p = Publish::new(
                    Topic::new(black_box(BENCH_TOPIC)).unwrap(),
                    QoS::AtLeastOnce,
                    payload.clone(),
                );
                p.pkid = 4242;
                Packet::Publish(p).encode(&mut a).unwrap();
                black_box(a.len());
            }),
            theirs: timed(move || {
                b.clear();
                let mut p = peer::Publish::from_bytes(
                    black_box(BENCH_TOPIC),
                    rumqttc::mqttbytes::QoS::AtLeastOnce,
                    theirs_payload.clone(),
                );
                p.pkid = 4242;
                peer::Packet::Publish(p).write(&mut b, MAX_PACKET).unwrap();
                black_box(b.len());
            }),
        });
    }
    let sub = subscribe_10();
    cases.push(decode_case(
        "decode SUBSCRIBE 10 filters",
        50,
        Packet::Subscribe(sub.clone()).to_bytes().expect("valid"),
    ));
    cases.push(encode_case(
        "encode SUBSCRIBE 10 filters",
        200,
        Packet::Subscribe(sub.clone()),
        peer::Packet::Subscribe(peer_subscribe(&sub)),
    ));
    let (mut a, mut b) = (Vec::with_capacity(512), BytesMut::with_capacity(512));
    cases.push(Case {
        name: "make+encode SUBSCRIBE 10 filters".to_string(),
        batch: 50,
        ours: timed(move || {
            a.clear();
            let filters =
                black_box(&BENCH_FILTERS).iter().map(|(f, q)| (TopicFilter::new(*f).unwrap(), *q)).collect();
            Packet::Subscribe(Subscribe { pkid: 7, filters }).encode(&mut a).unwrap();
            black_box(a.len());
        }),
        theirs: timed(move || {
            b.clear();
            let mut s = peer::Subscribe::new_many(
                black_box(&BENCH_FILTERS)
                    .iter()
                    .map(|(f, q)| peer::SubscribeFilter::new(f.to_string(), peer_qos(*q))),
            );
            s.pkid = 7;
            peer::Packet::Subscribe(s).write(&mut b, MAX_PACKET).unwrap();
            black_box(b.len());
        }),
    });

    println!("{rounds} rounds; each round a batch of mq then rumqttc (or the reverse), per case");
    println!(
        "{:<36} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}",
        "ns per packet", "mq min", "rumqttc", "mq med", "rumqttc", "min x", "med x"
    );
    for case in &mut cases {
        let (mut ours, mut theirs) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
        // Warm-up.
        (case.ours)(case.batch);
        (case.theirs)(case.batch);
        for round in 0..rounds {
            if round % 2 == 0 {
                ours.push((case.ours)(case.batch));
                theirs.push((case.theirs)(case.batch));
            } else {
                theirs.push((case.theirs)(case.batch));
                ours.push((case.ours)(case.batch));
            }
        }
        ours.sort_by(f64::total_cmp);
        theirs.sort_by(f64::total_cmp);
        let (om, tm) = (ours[0], theirs[0]);
        let (od, td) = (ours[rounds / 2], theirs[rounds / 2]);
        println!(
            "{:<36} {om:>10.1} {tm:>10.1} {od:>10.1} {td:>10.1} {:>7.2}x {:>7.2}x",
            case.name,
            tm / om,
            td / od
        );
    }
}
