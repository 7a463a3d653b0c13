//! End-to-end throughput: a publisher and a subscriber of the same library, through one
//! Mosquitto TCP listener on loopback, for QoS 0, 1 and 2; mq's native client beside rumqttc in
//! the same run, taking turns round by round. A round ends when the subscriber has every message
//! and the publisher every completion (PUBACK / PUBCOMP); its figure is messages per second.
//!
//! ```sh
//! cargo run --release --manifest-path bench/e2e/Cargo.toml -- [messages] [rounds] [payload bytes]
//! ```
//!
//! `MQ_BENCH_ONLY=mq` (or `rumqttc`) and `MQ_BENCH_QOS=1` narrow a run down, for profiling.
//! `MQ_BENCH_BROKER=rumqttd` runs it through rumqttd instead (`cargo install rumqttd`), a broker
//! that is faster than Mosquitto here, so that the clients weigh more in the figures.
//!
//! Both clients get the same in-flight window (100) and Mosquitto queues without limit, so no
//! message is dropped; a round that loses any is reported as such instead of timed.
#![allow(clippy::disallowed_methods)] // A benchmark reads the clock.

use bytes::Bytes;
use mq::codec::{QoS, Topic};
use mq::native::{Client, Options, Reconnect};
use mq::proto::Message;
use std::collections::VecDeque;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const INFLIGHT: u16 = 100;
/// Completions the mq publisher lets pile up before waiting for the oldest (below its queue
/// limit of 10,000).
const WINDOW: usize = 5_000;
const IDLE: Duration = Duration::from_secs(10);

struct Broker {
    child: Child,
    dir: std::path::PathBuf,
    port: u16,
}

impl Broker {
    fn start(rumqttd: bool) -> Broker {
        use std::os::unix::fs::PermissionsExt;
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("mq-bench-e2e-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        if rumqttd {
            let console = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let conf = dir.join("rumqttd.toml");
            let text = format!(
                "id = 0\n[router]\nid = 0\nmax_connections = 100\nmax_outgoing_packet_count = 200\n\
                 max_segment_size = 104857600\nmax_segment_count = 10\n\
                 [v4.1]\nname = \"v4-1\"\nlisten = \"127.0.0.1:{port}\"\nnext_connection_delay_ms = 1\n\
                 [v4.1.connections]\nconnection_timeout_ms = 60000\nmax_payload_size = 1048576\n\
                 max_inflight_count = {INFLIGHT}\ndynamic_filters = true\n\
                 [console]\nlisten = \"127.0.0.1:{console}\"\n"
            );
            std::fs::write(&conf, text).unwrap();
            let child = Command::new("rumqttd")
                .arg("-q")
                .arg("-c")
                .arg(&conf)
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("rumqttd on PATH");
            return Broker { child, dir, port }.wait_listening();
        }
        let conf = dir.join("mosquitto.conf");
        // No queue limit (nothing dropped) and an in-flight window matching the clients'.
        let text = format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n\
             max_inflight_messages {INFLIGHT}\nlog_type error\n"
        );
        std::fs::write(&conf, text).unwrap();
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
        let child = Command::new("mosquitto").arg("-c").arg(&conf).spawn().expect("mosquitto on PATH");
        Broker { child, dir, port }.wait_listening()
    }

    fn wait_listening(self) -> Broker {
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return self;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("the broker did not start"); // `self` drops: the process is killed and reaped.
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One round of mq: returns the elapsed time, or why it failed.
async fn round_mq(port: u16, qos: QoS, n: usize, payload: Bytes, tag: &str) -> Result<Duration, String> {
    let opts = |id: String| {
        let mut o = Options::new("127.0.0.1", port).client_id(id);
        o.config.max_inflight = INFLIGHT as usize;
        // The brokers here are configured for 100 in flight (Mosquitto's max_inflight_messages
        // included), so QoS 2 gets nearly the same window as rumqttc rather than mq's default
        // of 19: one less than the broker's quota, as `max_inflight_qos2` must be (its docs).
        o.config.max_inflight_qos2 = INFLIGHT as usize - 1;
        o.reconnect = Reconnect::disabled();
        o
    };
    // Checked once here; each message then shares it.
    let topic = Topic::new(format!("bench/mq/{tag}")).map_err(|e| e.to_string())?;
    let (sub, mut msgs) = Client::connect(opts(format!("mq-sub-{tag}"))).await.map_err(|e| e.to_string())?;
    sub.subscribe(&topic, qos).await.map_err(|e| e.to_string())?;
    let (publ, _) = Client::connect(opts(format!("mq-pub-{tag}"))).await.map_err(|e| e.to_string())?;
    let start = Instant::now();
    let receiver = tokio::spawn(async move {
        let mut got = 0;
        while got < n {
            match tokio::time::timeout(IDLE, msgs.recv()).await {
                Ok(Some(_)) => got += 1,
                _ => break,
            }
        }
        got
    });
    let mut pending = VecDeque::with_capacity(WINDOW);
    for _ in 0..n {
        if pending.len() == WINDOW {
            let p: mq::native::Pending<()> = pending.pop_front().unwrap();
            p.await.map_err(|e| e.to_string())?;
        }
        let m = Message::new(topic.clone(), payload.clone(), qos);
        pending.push_back(publ.start_publish(m).map_err(|e| e.to_string())?);
    }
    for p in pending {
        p.await.map_err(|e| e.to_string())?;
    }
    let got = receiver.await.unwrap();
    let elapsed = start.elapsed();
    publ.disconnect().await.ok();
    sub.disconnect().await.ok();
    if got < n {
        return Err(format!("{got} of {n} messages arrived"));
    }
    Ok(elapsed)
}

/// One round of rumqttc: the same flow with its AsyncClient and event loops.
async fn round_rumqttc(port: u16, qos: QoS, n: usize, payload: Bytes, tag: &str) -> Result<Duration, String> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet};
    let qos = match qos {
        QoS::AtMostOnce => rumqttc::QoS::AtMostOnce,
        QoS::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
        QoS::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
    };
    let opts = |id: String| {
        let mut o = MqttOptions::new(id, "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(60));
        o.set_inflight(INFLIGHT);
        o.set_max_packet_size(1 << 20, 1 << 20);
        o
    };
    let topic = format!("bench/rumqttc/{tag}");
    let (sub, mut sub_loop) = AsyncClient::new(opts(format!("rq-sub-{tag}")), 1000);
    let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
    sub.subscribe(&topic, qos).await.map_err(|e| e.to_string())?;
    let receiver = tokio::spawn(async move {
        let mut subscribed = Some(subscribed_tx);
        let mut got = 0;
        let mut started: Option<Instant> = None;
        while got < n {
            match tokio::time::timeout(IDLE, sub_loop.poll()).await {
                Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => {
                    if let Some(tx) = subscribed.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(Ok(Event::Incoming(Packet::Publish(_)))) => {
                    got += 1;
                    started.get_or_insert_with(Instant::now);
                }
                Ok(Ok(_)) => {}
                _ => break,
            }
        }
        // Let the last acknowledgements out.
        let _ = tokio::time::timeout(Duration::from_millis(1), sub_loop.poll()).await;
        got
    });
    subscribed_rx.await.map_err(|_| "rumqttc subscriber failed".to_string())?;
    let (publ, mut pub_loop) = AsyncClient::new(opts(format!("rq-pub-{tag}")), 1000);
    let (connected_tx, connected_rx) = tokio::sync::oneshot::channel();
    let acks = tokio::spawn(async move {
        let mut connected = Some(connected_tx);
        let mut done = 0;
        let mut sent0 = 0;
        loop {
            let finished = match qos {
                rumqttc::QoS::AtMostOnce => sent0 >= n,
                _ => done >= n,
            };
            if finished {
                return Ok::<_, String>(pub_loop);
            }
            match tokio::time::timeout(IDLE, pub_loop.poll()).await {
                Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => {
                    if let Some(tx) = connected.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(Ok(Event::Incoming(Packet::PubAck(_)))) | Ok(Ok(Event::Incoming(Packet::PubComp(_)))) => {
                    done += 1
                }
                Ok(Ok(Event::Outgoing(Outgoing::Publish(_)))) => sent0 += 1,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e.to_string()),
                Err(_) => return Err("rumqttc publisher stalled".into()),
            }
        }
    });
    connected_rx.await.map_err(|_| "rumqttc publisher failed to connect".to_string())?;
    let start = Instant::now();
    for _ in 0..n {
        publ.publish_bytes(topic.clone(), qos, false, payload.clone()).await.map_err(|e| e.to_string())?;
    }
    let mut pub_loop = acks.await.unwrap()?;
    let got = receiver.await.unwrap();
    let elapsed = start.elapsed();
    let _ = publ.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_millis(100), pub_loop.poll()).await;
    let _ = sub.disconnect().await;
    if got < n {
        return Err(format!("{got} of {n} messages arrived"));
    }
    Ok(elapsed)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let size: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    // MQ_BENCH_ONLY=mq or =rumqttc runs one client only (for profiling).
    let only = std::env::var("MQ_BENCH_ONLY").ok().map(|v| usize::from(v != "mq"));
    let qos_only = std::env::var("MQ_BENCH_QOS").ok().and_then(|q| q.parse::<u8>().ok());
    let rumqttd = std::env::var("MQ_BENCH_BROKER").is_ok_and(|b| b == "rumqttd");
    let broker = Broker::start(rumqttd);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let payload = Bytes::from(vec![b'x'; size]);
    println!(
        "end-to-end throughput, {n} messages of {size} bytes per round, {rounds} rounds, {} on 127.0.0.1:{}",
        if rumqttd { "rumqttd" } else { "Mosquitto" },
        broker.port
    );
    println!("{:<6} {:>14} {:>14} {:>8}", "QoS", "mq msg/s", "rumqttc msg/s", "ratio");
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        if qos_only.is_some_and(|q| q != qos as u8) {
            continue;
        }
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for r in 0..rounds {
            let tag = format!("q{}r{r}", qos as u8);
            // Take turns, alternating who goes first, so drift on a shared machine hits both.
            for which in if r % 2 == 0 { [0, 1] } else { [1, 0] } {
                if only.is_some_and(|o| o != which) {
                    continue;
                }
                let result = rt.block_on(async {
                    if which == 0 {
                        round_mq(broker.port, qos, n, payload.clone(), &tag).await
                    } else {
                        round_rumqttc(broker.port, qos, n, payload.clone(), &tag).await
                    }
                });
                match result {
                    Ok(d) => {
                        (if which == 0 { &mut ours } else { &mut theirs }).push(n as f64 / d.as_secs_f64())
                    }
                    Err(e) => eprintln!("  QoS {} round {r} {}: {e}", qos as u8, ["mq", "rumqttc"][which]),
                }
            }
        }
        if only.is_some() {
            let v = if ours.is_empty() { &mut theirs } else { &mut ours };
            if !v.is_empty() {
                println!("{:<6} {:>14.0}", qos as u8, median(v));
            }
            continue;
        }
        if ours.is_empty() || theirs.is_empty() {
            println!("{:<6} no complete rounds for one of the clients", qos as u8);
            continue;
        }
        let (a, b) = (median(&mut ours), median(&mut theirs));
        println!("{:<6} {:>14.0} {:>14.0} {:>8.2}", qos as u8, a, b, a / b);
    }
    println!("(medians over the rounds; ratio = mq / rumqttc)");
}
