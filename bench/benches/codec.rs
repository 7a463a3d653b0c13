//! mq's codec beside rumqttc's MQTT 3.1.1 codec (`rumqttc::mqttbytes::v4`), on the same bytes.
//!
//! Run: `cargo bench --manifest-path bench/Cargo.toml -- --measurement-time 3 --warm-up-time 1`
//!
//! Fairness rules, the same for both sides:
//! - the input bytes are identical (encoded once by mq, checked to decode to the same packets by
//!   both codecs before anything is timed);
//! - filling a fresh owned buffer (a copy of the input) is setup, not timed, except in
//!   `mixed_stream_with_fill`, which times it on both sides;
//! - decoded packets are dropped inside the timed region (that is part of their cost), the
//!   emptied read buffer outside it;
//! - single-packet decodes read from a buffer already shared (as a read buffer is after its
//!   first packet), so neither side pays a one-off promotion per iteration;
//! - encodes append to a reused buffer, cleared each iteration, of the same capacity on both sides
//!   (see `out_capacity`).

use bytes::{Bytes, BytesMut};
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use mq::codec::{self as ours, Decoder};
use mq_bench::{
    drain_decode, drain_decoder, drain_peer, mixed_stream, peer_publish, peer_qos, peer_subscribe,
    publish_qos1, subscribe_10, Mix, BENCH_FILTERS, BENCH_TOPIC, MAX_PACKET, STREAM_PACKETS, STREAM_VARIANTS,
};
use rumqttc::mqttbytes::v4 as peer;
use rumqttc::mqttbytes::QoS as PeerQoS;
use std::hint::black_box;

/// The capacity of an encode's output buffer, the same for both sides: at least 256 KiB, past
/// glibc's mmap threshold, so that both buffers start at the same offset in a page (where a
/// small buffer happened to lie against the payload it copies changed the copy's speed by up to
/// 10% from run to run).
fn out_capacity(wire: &[u8]) -> usize {
    wire.len().max(256 * 1024)
}

/// A `BytesMut` holding `data` whose storage is already shared (as a read buffer is once it has
/// handed out its first packet), so `split_to` costs a reference count, not an allocation.
fn shared_bytes_mut(data: &[u8]) -> BytesMut {
    let mut b = BytesMut::with_capacity(data.len());
    b.extend_from_slice(data);
    drop(b.split_to(0));
    b
}

/// Checked before timing: both codecs decode the stream to the same packets, all of them.
fn check_stream(stream: &[u8], mix: Mix) {
    let mut d = Decoder::new(MAX_PACKET);
    d.feed(stream);
    let mut seen = Mix::default();
    while let Some(p) = d.next_packet().expect("mq decodes the stream") {
        match p {
            ours::Packet::Publish(p) => {
                seen.publish += 1;
                seen.payload_bytes += p.payload.len();
            }
            ours::Packet::PubAck(_) => seen.puback += 1,
            ours::Packet::PubRec(_) => seen.pubrec += 1,
            ours::Packet::PubRel(_) => seen.pubrel += 1,
            ours::Packet::PubComp(_) => seen.pubcomp += 1,
            ours::Packet::SubAck(_) => seen.suback += 1,
            ours::Packet::UnsubAck(_) => seen.unsuback += 1,
            ours::Packet::PingResp => seen.pingresp += 1,
            other => panic!("unexpected {}", other.name()),
        }
    }
    assert_eq!(seen, mix, "mq::codec::Decoder");
    assert_eq!(d.buffered(), 0);

    let mut b = Bytes::copy_from_slice(stream);
    assert_eq!(drain_decode(&mut b), STREAM_PACKETS, "mq::codec::decode");
    assert!(b.is_empty());

    let mut b = BytesMut::from(stream);
    let mut seen = Mix::default();
    while !b.is_empty() {
        match peer::Packet::read(&mut b, MAX_PACKET).expect("rumqttc decodes the stream") {
            peer::Packet::Publish(p) => {
                seen.publish += 1;
                seen.payload_bytes += p.payload.len();
            }
            peer::Packet::PubAck(_) => seen.puback += 1,
            peer::Packet::PubRec(_) => seen.pubrec += 1,
            peer::Packet::PubRel(_) => seen.pubrel += 1,
            peer::Packet::PubComp(_) => seen.pubcomp += 1,
            peer::Packet::SubAck(_) => seen.suback += 1,
            peer::Packet::UnsubAck(_) => seen.unsuback += 1,
            peer::Packet::PingResp => seen.pingresp += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, mix, "rumqttc");
}

fn publish(c: &mut Criterion) {
    for size in [64usize, 1024, 64 * 1024] {
        let msg = publish_qos1(size);
        let packet = ours::Packet::Publish(msg.clone());
        let wire = Bytes::from(packet.to_bytes().unwrap());
        let peer_packet = peer::Packet::Publish(peer_publish(&msg));

        // Same bytes both ways, and both decode them to the same message.
        let mut pb = BytesMut::new();
        peer_packet.write(&mut pb, MAX_PACKET).unwrap();
        assert_eq!(&pb[..], &wire[..], "encoders disagree");
        let (ours_back, used) = ours::decode(&wire, MAX_PACKET).unwrap().unwrap();
        assert_eq!((ours_back, used), (packet.clone(), wire.len()));
        let peer_back = peer::Packet::read(&mut BytesMut::from(&wire[..]), MAX_PACKET).unwrap();
        assert_eq!(peer_back, peer_packet);

        let label = if size >= 1024 { format!("{}KiB", size / 1024) } else { format!("{size}B") };
        let mut g = c.benchmark_group(format!("publish_qos1_{label}"));
        g.throughput(Throughput::Bytes(wire.len() as u64));

        decode_and_encode(&mut g, &packet, &peer_packet, &wire);

        // Making the packet from the application's string and encoding it: mq checks the topic
        // once here (`Topic::new`), rumqttc never; both copy the topic into a new allocation.
        let payload = msg.payload.clone();
        let mut out = Vec::with_capacity(out_capacity(&wire));
        g.bench_function(BenchmarkId::new("make_encode", "mq"), |b| {
            b.iter(|| {
                out.clear();
                let topic = ours::Topic::new(black_box(BENCH_TOPIC)).unwrap();
                let mut p = ours::Publish::new(topic, ours::QoS::AtLeastOnce, payload.clone());
                p.pkid = 4242;
                ours::Packet::Publish(p).encode(&mut out).unwrap();
                black_box(out.len())
            })
        });
        let mut out = BytesMut::with_capacity(out_capacity(&wire));
        g.bench_function(BenchmarkId::new("make_encode", "rumqttc"), |b| {
            b.iter(|| {
                out.clear();
                let mut p =
                    peer::Publish::from_bytes(black_box(BENCH_TOPIC), PeerQoS::AtLeastOnce, payload.clone());
                p.pkid = 4242;
                peer::Packet::Publish(p).write(&mut out, MAX_PACKET).unwrap();
                black_box(out.len())
            })
        });
        g.finish();
    }
}

fn subscribe(c: &mut Criterion) {
    let sub = subscribe_10();
    let packet = ours::Packet::Subscribe(sub.clone());
    let wire = Bytes::from(packet.to_bytes().unwrap());
    let peer_packet = peer::Packet::Subscribe(peer_subscribe(&sub));

    let mut pb = BytesMut::new();
    peer_packet.write(&mut pb, MAX_PACKET).unwrap();
    assert_eq!(&pb[..], &wire[..], "encoders disagree");
    assert_eq!(ours::decode(&wire, MAX_PACKET).unwrap().unwrap().0, packet);
    assert_eq!(peer::Packet::read(&mut BytesMut::from(&wire[..]), MAX_PACKET).unwrap(), peer_packet);

    let mut g = c.benchmark_group("subscribe_10_filters");
    g.throughput(Throughput::Bytes(wire.len() as u64));
    decode_and_encode(&mut g, &packet, &peer_packet, &wire);

    // Making the SUBSCRIBE from the application's strings and encoding it: mq checks each filter
    // once here (`TopicFilter::new`), rumqttc never; both copy each filter into a `String`.
    let mut out = Vec::with_capacity(out_capacity(&wire));
    g.bench_function(BenchmarkId::new("make_encode", "mq"), |b| {
        b.iter(|| {
            out.clear();
            let filters = black_box(&BENCH_FILTERS)
                .iter()
                .map(|(f, q)| (ours::TopicFilter::new(*f).unwrap(), *q))
                .collect();
            ours::Packet::Subscribe(ours::Subscribe { pkid: 7, filters }).encode(&mut out).unwrap();
            black_box(out.len())
        })
    });
    let mut out = BytesMut::with_capacity(out_capacity(&wire));
    g.bench_function(BenchmarkId::new("make_encode", "rumqttc"), |b| {
        b.iter(|| {
            out.clear();
            let mut s = peer::Subscribe::new_many(
                black_box(&BENCH_FILTERS)
                    .iter()
                    .map(|(f, q)| peer::SubscribeFilter::new(f.to_string(), peer_qos(*q))),
            );
            s.pkid = 7;
            peer::Packet::Subscribe(s).write(&mut out, MAX_PACKET).unwrap();
            black_box(out.len())
        })
    });
    g.finish();
}

/// The four timings of one packet in `g`: decode and encode, mq and rumqttc, from the same
/// wire bytes (`wire` is what both encode `packet` / `peer_packet` to).
fn decode_and_encode(
    g: &mut BenchmarkGroup<'_, WallTime>,
    packet: &ours::Packet,
    peer_packet: &peer::Packet,
    wire: &Bytes,
) {
    g.bench_function(BenchmarkId::new("decode", "mq"), |b| {
        b.iter_batched(
            || wire.clone(),
            |buf| {
                let r = ours::decode(black_box(&buf), MAX_PACKET);
                black_box(&r);
                buf
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function(BenchmarkId::new("decode", "rumqttc"), |b| {
        b.iter_batched(
            || shared_bytes_mut(wire),
            |mut buf| {
                let r = peer::Packet::read(black_box(&mut buf), MAX_PACKET);
                black_box(&r);
                buf
            },
            BatchSize::SmallInput,
        )
    });
    let mut out = Vec::with_capacity(out_capacity(&wire));
    g.bench_function(BenchmarkId::new("encode", "mq"), |b| {
        b.iter(|| {
            out.clear();
            black_box(packet).encode(&mut out).unwrap();
            black_box(out.len())
        })
    });
    let mut out = BytesMut::with_capacity(out_capacity(&wire));
    g.bench_function(BenchmarkId::new("encode", "rumqttc"), |b| {
        b.iter(|| {
            out.clear();
            black_box(peer_packet).write(&mut out, MAX_PACKET).unwrap();
            black_box(out.len())
        })
    });
}

fn stream(c: &mut Criterion) {
    // Several streams of the same kind, taken in turn (see `STREAM_VARIANTS`), each checked.
    let streams: Vec<Vec<u8>> = (0..STREAM_VARIANTS)
        .map(|seed| {
            let (stream, mix) = mixed_stream(seed);
            check_stream(&stream, mix);
            if seed == 0 {
                eprintln!("mixed stream 0: {STREAM_PACKETS} packets, {} bytes, {mix:?}", stream.len());
            }
            stream
        })
        .collect();
    eprintln!(
        "{STREAM_VARIANTS} streams of {STREAM_PACKETS} packets, {} bytes in all; size_of Packet: mq {} B, rumqttc {} B",
        streams.iter().map(Vec::len).sum::<usize>(),
        std::mem::size_of::<ours::Packet>(),
        std::mem::size_of::<peer::Packet>()
    );
    let mut turns = streams.iter().cycle();
    let mut next = move || turns.next().expect("a cycle never ends").as_slice();

    let mut g = c.benchmark_group("mixed_stream_10k");
    g.throughput(Throughput::Elements(STREAM_PACKETS as u64));
    g.bench_function("mq_decoder", |b| {
        b.iter_batched(
            || {
                let mut d = Decoder::new(MAX_PACKET);
                d.feed(next());
                d
            },
            |mut d| {
                black_box(drain_decoder(&mut d));
                d
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("mq_decode_bytes", |b| {
        b.iter_batched(
            || Bytes::copy_from_slice(next()),
            |mut buf| {
                black_box(drain_decode(&mut buf));
                buf
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("rumqttc", |b| {
        b.iter_batched(
            || BytesMut::from(next()),
            |mut buf| {
                black_box(drain_peer(&mut buf));
                buf
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    // The same, with filling the read buffer (one copy of the input) timed on both sides.
    let mut g = c.benchmark_group("mixed_stream_10k_with_fill");
    g.throughput(Throughput::Elements(STREAM_PACKETS as u64));
    g.bench_function("mq_decoder", |b| {
        b.iter(|| {
            let mut d = Decoder::new(MAX_PACKET);
            d.feed(black_box(next()));
            drain_decoder(&mut d)
        })
    });
    g.bench_function("rumqttc", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(black_box(next()));
            drain_peer(&mut buf)
        })
    });
    g.finish();
}

criterion_group!(benches, publish, subscribe, stream);
criterion_main!(benches);
