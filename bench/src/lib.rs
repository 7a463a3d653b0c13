//! Inputs for the codec benchmarks, built once with `mq`'s encoder and decoded by both codecs,
//! and the decoding loops the benchmark and the `interleaved` example share.
//!
//! Everything is deterministic (fixed-seed xorshift), so every run and both codecs see the same
//! bytes.

use bytes::{Buf, Bytes, BytesMut};
use mq::codec::{
    self as ours, Decoder, Packet, Publish, QoS, SubAck, SubAckCode, Subscribe, Topic, TopicFilter,
};
use rumqttc::mqttbytes::v4 as peer;
use std::hint::black_box;

/// The packet-size limit both codecs are given. No input comes near it.
pub const MAX_PACKET: usize = 1 << 20;

/// Packets in the mixed stream.
pub const STREAM_PACKETS: usize = 10_000;

/// How many different mixed streams the stream benchmarks take turns with: a CPU's branch
/// predictors learn a little of one 10,000-packet sequence decoded over and over, which a real
/// connection never repeats (and which flattered mq by a fifth in a first version of this bench).
pub const STREAM_VARIANTS: u64 = 8;

/// A small deterministic PRNG (xorshift64*), so no `rand` dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
}

fn payload(len: usize, rng: &mut Rng) -> Bytes {
    (0..len).map(|_| (rng.next_u64() >> 56) as u8).collect::<Vec<u8>>().into()
}

/// Topic names of the kind a broker forwards: 3 to 5 levels, 20 to 60 bytes.
fn topic(rng: &mut Rng) -> Topic {
    const SITES: [&str; 4] = ["plant-a", "plant-b", "warehouse", "office"];
    const KINDS: [&str; 5] = ["temperature", "humidity", "status", "power/active", "vibration/rms"];
    let name = format!(
        "sensors/{}/line-{}/dev-{:04}/{}",
        SITES[rng.range(0, 3)],
        rng.range(1, 12),
        rng.range(0, 9999),
        KINDS[rng.range(0, 4)]
    );
    Topic::new(name).expect("a valid topic name")
}

fn nonzero_id(rng: &mut Rng) -> u16 {
    rng.range(1, u16::MAX as usize) as u16
}

/// rumqttc's QoS for ours.
pub fn peer_qos(q: QoS) -> rumqttc::mqttbytes::QoS {
    use rumqttc::mqttbytes::QoS as Peer;
    match q {
        QoS::AtMostOnce => Peer::AtMostOnce,
        QoS::AtLeastOnce => Peer::AtLeastOnce,
        QoS::ExactlyOnce => Peer::ExactlyOnce,
    }
}

/// The same PUBLISH as rumqttc's type.
pub fn peer_publish(p: &Publish) -> peer::Publish {
    let mut q = peer::Publish::from_bytes(p.topic.as_str(), peer_qos(p.qos), p.payload.clone());
    q.pkid = p.pkid;
    q.dup = p.dup;
    q.retain = p.retain;
    q
}

/// The same SUBSCRIBE as rumqttc's type.
pub fn peer_subscribe(s: &Subscribe) -> peer::Subscribe {
    let mut out = peer::Subscribe::new_many(
        s.filters.iter().map(|(f, q)| peer::SubscribeFilter::new(f.to_string(), peer_qos(*q))),
    );
    out.pkid = s.pkid;
    out
}

/// The single-packet benchmarks' topic name.
pub const BENCH_TOPIC: &str = "sensors/plant-a/line-7/dev-0042/temperature";

/// A PUBLISH at QoS 1 with a `len`-byte payload (the single-packet benchmarks).
/// The topic is made as an application makes one (`Topic::new`, a copy), not from a static.
pub fn publish_qos1(len: usize) -> Publish {
    let mut rng = Rng::new(0x5eed_0001 ^ len as u64);
    let mut p =
        Publish::new(Topic::new(BENCH_TOPIC).expect("valid"), QoS::AtLeastOnce, payload(len, &mut rng));
    p.pkid = 4242;
    p
}

/// The filters of [`subscribe_10`].
pub const BENCH_FILTERS: [(&str, QoS); 10] = [
    ("sensors/+/line-1/+/temperature", QoS::AtMostOnce),
    ("sensors/plant-a/#", QoS::AtLeastOnce),
    ("sensors/plant-b/line-3/dev-0001/status", QoS::ExactlyOnce),
    ("alerts/#", QoS::ExactlyOnce),
    ("commands/dev-0042/+", QoS::AtLeastOnce),
    ("$SYS/broker/clients/connected", QoS::AtMostOnce),
    ("fleet/+/+/position", QoS::AtMostOnce),
    ("config/dev-0042", QoS::AtLeastOnce),
    ("firmware/updates/stable/#", QoS::AtLeastOnce),
    ("+/heartbeat", QoS::AtMostOnce),
];

/// A SUBSCRIBE with 10 filters: plain names, `+` and `#` wildcards, mixed QoS.
pub fn subscribe_10() -> Subscribe {
    let filters = BENCH_FILTERS.iter().map(|(f, q)| (TopicFilter::new(*f).expect("valid"), *q)).collect();
    Subscribe { pkid: 7, filters }
}

/// What the mixed stream holds, by packet type, for checking both decoders saw the same thing.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    pub publish: usize,
    pub puback: usize,
    pub pubrec: usize,
    pub pubrel: usize,
    pub pubcomp: usize,
    pub suback: usize,
    pub unsuback: usize,
    pub pingresp: usize,
    /// Sum of all PUBLISH payload lengths.
    pub payload_bytes: usize,
}

impl Mix {
    pub fn total(&self) -> usize {
        self.publish
            + self.puback
            + self.pubrec
            + self.pubrel
            + self.pubcomp
            + self.suback
            + self.unsuback
            + self.pingresp
    }
}

/// What a broker sends a busy client: 10,000 packets in one contiguous buffer.
///
/// 50% PUBLISH (QoS 0 45%, QoS 1 40%, QoS 2 15% of them; payloads 16..=512 bytes; some retained,
/// some DUP), 15% PUBACK, 7% PUBREC, 7% PUBCOMP (acks of the client's own publishes), 6% PUBREL
/// (the broker's side of its QoS 2 publishes), 5% SUBACK (1..=10 codes), 2% UNSUBACK,
/// 8% PINGRESP. Returns the bytes and the mix that was written. Each `seed` gives another
/// stream of the same kind.
pub fn mixed_stream(seed: u64) -> (Vec<u8>, Mix) {
    let mut rng = Rng::new(0x00C0_FFEE ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut out = Vec::new();
    let mut mix = Mix::default();
    for _ in 0..STREAM_PACKETS {
        let roll = rng.range(0, 99);
        let packet = match roll {
            0..=49 => {
                let q = rng.range(0, 99);
                let qos = match q {
                    0..=44 => QoS::AtMostOnce,
                    45..=84 => QoS::AtLeastOnce,
                    _ => QoS::ExactlyOnce,
                };
                let len = rng.range(16, 512);
                let mut p = Publish::new(topic(&mut rng), qos, payload(len, &mut rng));
                p.retain = rng.range(0, 19) == 0;
                if qos != QoS::AtMostOnce {
                    p.pkid = nonzero_id(&mut rng);
                    p.dup = rng.range(0, 49) == 0;
                }
                mix.publish += 1;
                mix.payload_bytes += len;
                Packet::Publish(p)
            }
            50..=64 => {
                mix.puback += 1;
                Packet::PubAck(nonzero_id(&mut rng))
            }
            65..=71 => {
                mix.pubrec += 1;
                Packet::PubRec(nonzero_id(&mut rng))
            }
            72..=78 => {
                mix.pubcomp += 1;
                Packet::PubComp(nonzero_id(&mut rng))
            }
            79..=84 => {
                mix.pubrel += 1;
                Packet::PubRel(nonzero_id(&mut rng))
            }
            85..=89 => {
                let n = rng.range(1, 10);
                let codes = (0..n)
                    .map(|_| match rng.range(0, 9) {
                        0 => SubAckCode::Failure,
                        1..=3 => SubAckCode::Granted(QoS::AtMostOnce),
                        4..=7 => SubAckCode::Granted(QoS::AtLeastOnce),
                        _ => SubAckCode::Granted(QoS::ExactlyOnce),
                    })
                    .collect();
                mix.suback += 1;
                Packet::SubAck(SubAck { pkid: nonzero_id(&mut rng), codes })
            }
            90..=91 => {
                mix.unsuback += 1;
                Packet::UnsubAck(nonzero_id(&mut rng))
            }
            _ => {
                mix.pingresp += 1;
                Packet::PingResp
            }
        };
        packet.encode(&mut out).expect("valid packet");
    }
    assert_eq!(mix.total(), STREAM_PACKETS);
    (out, mix)
}

// The drain loops look at each result where the decoder left it (`match &r`) rather than moving
// the packet out: the same for both codecs, and it keeps the copies of a 150-byte enum that a
// move costs out of what is measured.

/// Decodes every packet of a fed decoder; returns how many.
#[inline(never)]
pub fn drain_decoder(d: &mut Decoder) -> usize {
    let mut n = 0;
    loop {
        let r = d.next_packet();
        match &r {
            Ok(Some(p)) => {
                black_box(p);
            }
            Ok(None) => return n,
            Err(e) => panic!("mq::codec::Decoder: {e}"),
        }
        n += 1;
    }
}

/// Decodes every packet with `mq::codec::decode`, advancing through `buf`; returns how many.
#[inline(never)]
pub fn drain_decode(buf: &mut Bytes) -> usize {
    let mut n = 0;
    loop {
        let r = ours::decode(buf, MAX_PACKET);
        match &r {
            Ok(Some((p, used))) => {
                black_box(p);
                buf.advance(*used);
            }
            Ok(None) => return n,
            Err(e) => panic!("mq::codec::decode: {e}"),
        }
        n += 1;
    }
}

/// Decodes every packet with rumqttc's `Packet::read` until the buffer is empty; returns how many.
#[inline(never)]
pub fn drain_peer(buf: &mut BytesMut) -> usize {
    let mut n = 0;
    while !buf.is_empty() {
        let r = peer::Packet::read(buf, MAX_PACKET);
        match &r {
            Ok(p) => {
                black_box(p);
            }
            Err(e) => panic!("rumqttc: {e}"),
        }
        n += 1;
    }
    n
}
