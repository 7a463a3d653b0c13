//! mq's MQTT 3.1.1 codec exported to JavaScript, for `bench/codec-wasm/bench.mjs` (Node, beside
//! mqtt-packet). Nothing but the codec: `decode` runs the stream decoder the clients use over a
//! buffer of packets; `encode_publishes` writes PUBLISH packets as a client sends them.

use bytes::Bytes;
use mq::codec::{Decoder, Packet, Publish, QoS, Topic};
use wasm_bindgen::prelude::*;

/// Decodes every packet of `stream` (copied into the decoder, as a socket's bytes are) and
/// returns how many there were; `u32::MAX` on an error. Each packet is built (topic and payload
/// as slices of the decoder's buffer) and dropped; nothing is handed to JS.
#[wasm_bindgen]
pub fn decode(stream: &[u8]) -> u32 {
    let mut d = Decoder::new(1 << 20);
    d.feed(stream);
    let mut n = 0u32;
    loop {
        match d.next_packet() {
            Ok(Some(p)) => {
                n += 1;
                std::hint::black_box(&p);
            }
            Ok(None) => return n,
            Err(_) => return u32::MAX,
        }
    }
}

/// `count` PUBLISH packets (topic `topic`, QoS `qos`, packet ids 1, 2, ... when QoS > 0) of a
/// `payload`, encoded one after the other into one buffer, returned to JS.
#[wasm_bindgen]
pub fn encode_publishes(topic: &str, qos: u8, payload: &[u8], count: u32) -> Vec<u8> {
    let qos = match qos {
        1 => QoS::AtLeastOnce,
        2 => QoS::ExactlyOnce,
        _ => QoS::AtMostOnce,
    };
    let payload = Bytes::copy_from_slice(payload);
    // Checked once, where it is made (as an app reusing a topic does); encode does not check again.
    let Ok(topic) = Topic::new(topic) else { return Vec::new() };
    let mut out = Vec::with_capacity(count as usize * (payload.len() + topic.as_str().len() + 8));
    for i in 0..count {
        let mut p = Publish::new(topic.clone(), qos, payload.clone());
        if qos != QoS::AtMostOnce {
            p.pkid = (i % 65535) as u16 + 1;
        }
        if Packet::Publish(p).encode(&mut out).is_err() {
            return Vec::new();
        }
    }
    out
}
