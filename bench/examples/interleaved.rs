//! A cross-check of the criterion figures for the mixed stream on a shared (busy) machine: runs
//! the three decoders in turn, many rounds, on a fresh copy of one of the streams each time (the
//! copy is not timed), and prints the minimum and median time of each. The minimum is the figure
//! least disturbed by other processes.
//!
//! `cargo run --profile bench --manifest-path bench/Cargo.toml --example interleaved [rounds] [blocked]`

use bytes::{Bytes, BytesMut};
use mq::codec::Decoder;
use mq_bench::{
    drain_decode, drain_decoder, drain_peer, mixed_stream, MAX_PACKET, STREAM_PACKETS, STREAM_VARIANTS,
};
use std::time::{Duration, Instant};

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(300);
    // `blocked`: all rounds of one decoder, then the next (as criterion runs them), instead of
    // taking turns.
    let blocked = std::env::args().nth(2).as_deref() == Some("blocked");
    let streams: Vec<Vec<u8>> = (0..STREAM_VARIANTS).map(|seed| mixed_stream(seed).0).collect();
    let bytes: usize = streams.iter().map(Vec::len).sum();
    let mut times: [Vec<Duration>; 3] = Default::default();
    let run = |which: usize, round: usize| -> Duration {
        let stream = &streams[round % streams.len()];
        let (t, n) = match which {
            0 => {
                let mut d = Decoder::new(MAX_PACKET);
                d.feed(stream);
                let t = Instant::now();
                (t, drain_decoder(&mut d))
            }
            1 => {
                let mut b = Bytes::copy_from_slice(stream);
                let t = Instant::now();
                (t, drain_decode(&mut b))
            }
            _ => {
                let mut b = BytesMut::from(&stream[..]);
                let t = Instant::now();
                (t, drain_peer(&mut b))
            }
        };
        let e = t.elapsed();
        assert_eq!(n, STREAM_PACKETS);
        e
    };
    if blocked {
        for (which, t) in times.iter_mut().enumerate() {
            for round in 0..rounds {
                t.push(run(which, round));
            }
        }
    } else {
        for round in 0..rounds {
            for (which, t) in times.iter_mut().enumerate() {
                t.push(run(which, round));
            }
        }
    }
    let names = ["mq Decoder", "mq decode(&Bytes)", "rumqttc Packet::read"];
    let stats: Vec<(f64, f64)> = times
        .iter_mut()
        .map(|t| {
            t.sort();
            (t[0].as_secs_f64() * 1e6, t[t.len() / 2].as_secs_f64() * 1e6)
        })
        .collect();
    let order = if blocked { "one decoder after the other" } else { "taking turns" };
    println!(
        "{rounds} rounds of {STREAM_PACKETS} packets, {STREAM_VARIANTS} different streams ({bytes} bytes in all) in turn, decoders {order}"
    );
    for (name, (min, med)) in names.iter().zip(&stats) {
        println!("{name:<22} min {min:>8.1} µs  median {med:>8.1} µs");
    }
    for i in 0..2 {
        println!(
            "rumqttc / {}: min {:.2}x, median {:.2}x",
            names[i],
            stats[2].0 / stats[i].0,
            stats[2].1 / stats[i].1
        );
    }
}
