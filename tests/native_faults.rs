//! Fault injection for the native client against a real Mosquitto: a TCP proxy of the test's own
//! between client and broker (`native_common/proxy.rs`) that parses the MQTT fixed headers in
//! each direction and, on command, closes the connection, stalls one direction, or cuts right
//! after (or in the middle of) a chosen packet; Mosquitto SIGKILLed and restarted with
//! persistence; Mosquitto SIGSTOPped until keepalive declares the connection dead.
//!
//! Every check is about messages (none lost, no QoS 2 duplicate, every publish completes), never
//! about timing; times are printed. The fault schedule is random: `MQ_FAULT_SEED=N` repeats one.
#![cfg(feature = "native")]

mod native_common;

use mq::codec::{parse_header, QoS, Topic, MAX_PACKET_SIZE};
use mq::native::{BoxStream, Client, FileStore, Messages, Options, Reconnect, SessionStore, State};
use mq::proto::Message;
use native_common::proxy::{diagnose, schedule, Cut, Dir, Logged, Proxy, Rng, Step};
use native_common::proxy::{PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL};
use native_common::{within, Mosquitto, TempDir, HOST};
use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::sleep;

/// What the subscriber received: how often each message index arrived.
#[derive(Default)]
struct Tally {
    counts: Vec<u32>,
    distinct: usize,
    wrong: Vec<String>,
}

impl Tally {
    fn new(n: usize) -> Tally {
        Tally { counts: vec![0; n], ..Tally::default() }
    }

    /// Index `i` is QoS 1 when even, QoS 2 when odd (the topic says so too).
    fn record(&mut self, m: &mq::codec::Publish) {
        let i: Option<usize> = std::str::from_utf8(&m.payload).ok().and_then(|s| s.parse().ok());
        let want = |i: usize| if i % 2 == 0 { QoS::AtLeastOnce } else { QoS::ExactlyOnce };
        match i {
            Some(i) if i < self.counts.len() && m.qos == want(i) => {
                self.counts[i] += 1;
                if self.counts[i] == 1 {
                    self.distinct += 1;
                }
            }
            _ => self.wrong.push(format!("{m:?}")),
        }
    }

    fn lost(&self) -> Vec<usize> {
        (0..self.counts.len()).filter(|&i| self.counts[i] == 0).collect()
    }

    /// Extra copies of QoS 1 (even) and QoS 2 (odd) messages, and the QoS 2 ones duplicated.
    fn duplicates(&self) -> (u32, u32, Vec<usize>) {
        let extra = |odd: usize| {
            self.counts
                .iter()
                .enumerate()
                .filter(|(i, _)| i % 2 == odd)
                .map(|(_, &c)| c.saturating_sub(1))
                .sum()
        };
        let q2: Vec<usize> = (0..self.counts.len()).filter(|&i| i % 2 == 1 && self.counts[i] > 1).collect();
        (extra(0), extra(1), q2)
    }
}

/// Reads messages into the tally until the stream ends; `distinct` follows the count.
fn spawn_reader(
    mut msgs: Messages,
    tally: Arc<Mutex<Tally>>,
    distinct: watch::Sender<usize>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(m) = msgs.recv().await {
            let d = {
                let mut t = tally.lock().unwrap();
                t.record(&m);
                t.distinct
            };
            distinct.send_replace(d);
        }
    })
}

/// Waits until the subscriber has every message, then until nothing more arrives for 500 ms
/// (late duplicates are counted too). Panics naming what is missing.
async fn drain(tally: &Arc<Mutex<Tally>>, distinct: &watch::Sender<usize>, n: usize, sub: &Client) {
    let mut d = distinct.subscribe();
    if tokio::time::timeout(Duration::from_secs(60), d.wait_for(|&c| c >= n)).await.is_err() {
        let lost = tally.lock().unwrap().lost();
        panic!(
            "{} of {n} messages lost after 60 s (first: {:?}); subscriber {:?}",
            lost.len(),
            &lost[..lost.len().min(20)],
            sub.state()
        );
    }
    loop {
        let before = *d.borrow_and_update();
        let more = tokio::time::timeout(Duration::from_millis(500), d.changed()).await.is_ok();
        if !more && *d.borrow() == before {
            break;
        }
    }
}

/// The size of the session log under `root` (the file store's one file per client).
fn session_log_size(root: &Path) -> u64 {
    fn find(p: &Path) -> Option<PathBuf> {
        for e in std::fs::read_dir(p).ok()?.flatten() {
            let path = e.path();
            if path.is_dir() {
                if let Some(f) = find(&path) {
                    return Some(f);
                }
            } else if path.file_name().is_some_and(|n| n == "session.log") {
                return Some(path);
            }
        }
        None
    }
    find(root).and_then(|f| std::fs::metadata(f).ok()).map_or(0, |m| m.len())
}

/// The records a stopped client left in its file store.
fn stored_records(o: &Options) -> usize {
    let root = o.session_dir.as_ref().unwrap();
    let store = FileStore::open(root, &format!("{}_{}", o.host, o.port), &o.config.client_id).unwrap();
    store.records().unwrap().len()
}

fn fast_reconnect() -> Reconnect {
    Reconnect {
        enabled: true,
        initial: Duration::from_millis(10),
        max: Duration::from_millis(200),
        multiplier: 2.0,
        jitter: 0.5,
        max_attempts: None,
    }
}

/// A kept-session client on `o` with a file store in `dir`, reconnecting fast.
fn kept(mut o: Options, dir: &TempDir) -> Options {
    o.config.clean_session = false;
    o.config.keep_alive = Duration::from_secs(5);
    o.config.connect_timeout = Duration::from_secs(3);
    o.session_dir = Some(dir.path().to_path_buf());
    o.reconnect = fast_reconnect();
    o
}

/// Mosquitto with no cap on queued messages (the default, 1,000 per client, drops QoS 1 and 2
/// messages past it while a subscriber is away or slow) and `extra` configuration.
fn broker(extra: &str) -> Mosquitto {
    Mosquitto::with_config(&format!("allow_anonymous true\nmax_queued_messages 0\n{extra}"))
}

/// The largest session log seen for the publisher and the subscriber while the test runs.
fn spawn_sampler(dirs: [PathBuf; 2], stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<[u64; 2]> {
    tokio::spawn(async move {
        let mut max = [0u64; 2];
        while !*stop.borrow() {
            for (m, d) in max.iter_mut().zip(&dirs) {
                *m = (*m).max(session_log_size(d));
            }
            sleep(Duration::from_millis(50)).await;
        }
        max
    })
}

const WINDOW: usize = 100;

/// Publishes `n` messages (even index QoS 1, odd QoS 2) with at most `WINDOW` outstanding; every
/// completion must be Ok. `gate(i)` is awaited before message `i` (the fault schedule keeps up).
async fn publish_all<F, Fut>(publ: &Client, n: usize, mut gate: F) -> usize
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut pending = VecDeque::new();
    let mut most = 0;
    for i in 0..n {
        gate(i).await;
        if pending.len() >= WINDOW {
            let (j, p): (usize, mq::native::Pending<()>) = pending.pop_front().unwrap();
            let r = tokio::time::timeout(Duration::from_secs(60), p).await;
            assert!(matches!(r, Ok(Ok(()))), "publish {j} did not complete Ok: {r:?}");
        }
        let (topic, qos) =
            if i % 2 == 0 { ("faults/1", QoS::AtLeastOnce) } else { ("faults/2", QoS::ExactlyOnce) };
        let p = publ
            .start_publish(Message::new(Topic::from_static(topic), i.to_string(), qos))
            .expect("start_publish");
        pending.push_back((i, p));
        most = most.max(pending.len());
    }
    for (j, p) in pending {
        let r = tokio::time::timeout(Duration::from_secs(60), p).await;
        assert!(matches!(r, Ok(Ok(()))), "publish {j} did not complete Ok: {r:?}");
    }
    most
}

/// 10,000 QoS 1 and 10,000 QoS 2 messages from a file-store publisher to a file-store subscriber,
/// each through its own proxy that keeps cutting: closes, cuts after the broker's PUBREC or
/// PUBACK, after the client's PUBREL or PUBREC, in the middle of a PUBLISH, stalls. Nothing
/// lost, no QoS 2 message twice, every publish Ok, the sessions bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_messages_through_cuts_lose_nothing_and_duplicate_no_qos2() {
    const N: usize = 20_000;
    const PUB_CUTS: u64 = 60;
    let b = broker("");
    let pub_proxy = Arc::new(Proxy::start(b.port).await);
    let sub_proxy = Arc::new(Proxy::start(b.port).await);
    let (pub_dir, sub_dir) = (TempDir::new("faults-pub"), TempDir::new("faults-sub"));

    let so = kept(sub_proxy.options("faults-sub"), &sub_dir);
    let (sub, msgs) = Client::connect(so.clone()).await.expect("subscriber connects");
    within(sub.subscribe("faults/#", QoS::ExactlyOnce)).await.unwrap();
    let tally = Arc::new(Mutex::new(Tally::new(N)));
    let distinct = watch::channel(0).0;
    let reader = spawn_reader(msgs, tally.clone(), distinct.clone());

    let po = kept(pub_proxy.options("faults-pub"), &pub_dir);
    let (limit_inflight, limit_queued) = (po.config.max_inflight, po.config.max_queued);
    let (publ, _) = Client::connect(po.clone()).await.expect("publisher connects");

    let (stop_tx, stop) = watch::channel(false);
    let mut rng = Rng::new();
    let pub_steps = vec![
        Step::Close,
        Step::Stall(Dir::Up),
        Step::Stall(Dir::Down),
        Step::Cut(Cut::After { dir: Dir::Down, ptype: PUBREC, nth: 0 }),
        Step::Cut(Cut::After { dir: Dir::Down, ptype: PUBREC, nth: 0 }),
        Step::Cut(Cut::After { dir: Dir::Up, ptype: PUBREL, nth: 0 }),
        Step::Cut(Cut::After { dir: Dir::Up, ptype: PUBREL, nth: 0 }),
        Step::Cut(Cut::After { dir: Dir::Down, ptype: PUBACK, nth: 0 }),
        Step::Cut(Cut::After { dir: Dir::Down, ptype: PUBCOMP, nth: 0 }),
        Step::Cut(Cut::MidFrame { dir: Dir::Up, ptype: PUBLISH, nth: 0 }),
        Step::Cut(Cut::MidFrame { dir: Dir::Down, ptype: PUBREC, nth: 0 }),
    ];
    let sub_steps = vec![
        Step::Close,
        Step::Stall(Dir::Down),
        Step::Cut(Cut::After { dir: Dir::Down, ptype: PUBLISH, nth: 0 }),
        Step::Cut(Cut::After { dir: Dir::Up, ptype: PUBREC, nth: 0 }),
        Step::Cut(Cut::After { dir: Dir::Up, ptype: PUBREC, nth: 0 }),
        Step::Cut(Cut::After { dir: Dir::Down, ptype: PUBREL, nth: 0 }),
        Step::Cut(Cut::After { dir: Dir::Up, ptype: PUBACK, nth: 0 }),
        Step::Cut(Cut::MidFrame { dir: Dir::Down, ptype: PUBLISH, nth: 0 }),
    ];
    let pub_faults = tokio::spawn(schedule(
        pub_proxy.clone(),
        pub_steps,
        publ.watch_state(),
        stop.clone(),
        Rng(rng.below(u64::MAX) | 1),
    ));
    let sub_faults = tokio::spawn(schedule(
        sub_proxy.clone(),
        sub_steps,
        sub.watch_state(),
        stop.clone(),
        Rng(rng.below(u64::MAX) | 1),
    ));
    let sampler = spawn_sampler([pub_dir.path().to_path_buf(), sub_dir.path().to_path_buf()], stop.clone());

    #[allow(clippy::disallowed_methods)] // Printed, never asserted: how long the run took.
    let started = std::time::Instant::now();
    // Message i waits until the publisher's fault schedule has taken i * PUB_CUTS / N cut steps
    // (closed, or armed a cut the next packets fire), so the cuts are spread through the run
    // however fast the messages flow. (Waiting for cuts *made* would stop the traffic an armed
    // cut waits for.)
    let gate_proxy = pub_proxy.clone();
    let most = publish_all(&publ, N, |i| {
        let p = gate_proxy.clone();
        async move {
            let want = (i as u64 * PUB_CUTS) / N as u64;
            let mut steps = p.shared.steps.subscribe();
            let _ = steps.wait_for(|&c| c >= want).await;
        }
    })
    .await;
    let published = started.elapsed();
    stop_tx.send_replace(true);
    pub_faults.await.unwrap();
    sub_faults.await.unwrap();
    drain(&tally, &distinct, N, &sub).await;
    let [pub_log_max, sub_log_max] = sampler.await.unwrap();

    within(publ.disconnect()).await.unwrap();
    within(sub.disconnect()).await.unwrap();
    reader.await.unwrap();
    let (pub_left, sub_left) = (stored_records(&po), stored_records(&so));

    let t = tally.lock().unwrap();
    let lost = t.lost();
    let (q1_dups, q2_dups, q2_twice) = t.duplicates();
    let received: u32 = t.counts.iter().sum();
    println!(
        "faults: sent {N} (10,000 QoS 1 + 10,000 QoS 2) in {:.1} s, received {received} ({} distinct), \
         lost {}, QoS 1 duplicates {q1_dups}, QoS 2 duplicates {q2_dups}",
        published.as_secs_f64(),
        t.distinct,
        lost.len()
    );
    println!(
        "faults: publisher proxy {} cuts + {} stalls over {} connections: {:?}",
        pub_proxy.cuts(),
        pub_proxy.stalls(),
        pub_proxy.connections(),
        pub_proxy.kinds()
    );
    println!(
        "faults: subscriber proxy {} cuts + {} stalls over {} connections: {:?}",
        sub_proxy.cuts(),
        sub_proxy.stalls(),
        sub_proxy.connections(),
        sub_proxy.kinds()
    );
    println!(
        "faults: most publishes outstanding {most} (limit {limit_inflight} in flight + {limit_queued} queued); \
         largest session log: publisher {pub_log_max} B, subscriber {sub_log_max} B; records left after \
         disconnect: publisher {pub_left}, subscriber {sub_left}"
    );
    assert!(t.wrong.is_empty(), "unexpected messages: {:?}", &t.wrong[..t.wrong.len().min(5)]);
    assert!(lost.is_empty(), "lost {} messages, first {:?}", lost.len(), &lost[..lost.len().min(20)]);
    // Each QoS 2 duplicate, diagnosed from the subscriber proxy's packet log. Mosquitto 2.0 sends
    // a QoS 2 message's PUBLISH again after its PUBREL when a reconnect dies while it writes its
    // CONNACK burst (see `mosquitto_sends_a_qos2_publish_again_after_its_pubrel_...`):
    // those duplicates are the broker's, and printed; any other fails the test.
    let log = sub_proxy.shared.log.lock().unwrap();
    let mut by_broker = 0;
    let mut unexplained = Vec::new();
    for (n, &i) in q2_twice.iter().enumerate() {
        let (resent, lines) = diagnose(&log, i);
        let extra = t.counts[i] as usize - 1;
        by_broker += resent.min(extra);
        if resent < extra {
            unexplained.push(i);
        }
        if n < 5 || resent < extra {
            println!(
                "faults: QoS 2 message {i} delivered {} times; the broker sent its PUBLISH again after \
                 the PUBREL for its packet id {resent} time(s) [MQTT-4.3.3-1]. Subscriber proxy log:",
                t.counts[i]
            );
            for l in &lines {
                println!("    {l}");
            }
        }
    }
    // A write that failed with EPIPE; one right after a CONNACK is what leaves a PUBREL unsent.
    let broken = b.log().matches("Client faults-sub disconnected: Broken pipe").count();
    println!(
        "faults: QoS 2 duplicates: {q2_dups}, of which {by_broker} made by the broker (a PUBLISH sent \
         again after its PUBREL), {} not explained; Mosquitto's writes to the subscriber that failed \
         (\"Broken pipe\"): {broken}",
        q2_dups as usize - by_broker
    );
    assert!(
        unexplained.is_empty(),
        "QoS 2 messages delivered twice, not explained by the broker: {:?}",
        &unexplained[..unexplained.len().min(20)]
    );
    assert!(pub_proxy.cuts() >= 50, "only {} cuts on the publisher's side", pub_proxy.cuts());
    assert!(most <= limit_inflight + limit_queued);
    // The file store mirrors the in-memory session record for record; compaction keeps its log
    // under max(256 KiB, 4 x the live records), so a log that stays small is a session that did.
    assert!(
        pub_log_max < 1 << 20 && sub_log_max < 1 << 20,
        "session logs grew: {pub_log_max} / {sub_log_max} B"
    );
    // Only the subscription (and nothing in flight) is left once everything completed.
    assert!(pub_left <= 1 && sub_left <= 2, "records left: {pub_left} / {sub_left}");
}

/// Mosquitto 2.0 (2.0.11 here; the code is the same up to 2.0.19) sends a QoS 2 message's PUBLISH
/// again after it sent its PUBREL, which [MQTT-4.3.3-1] forbids, when a connection dies while
/// the broker writes what follows its CONNACK:
///
/// 1. connection 1 ends right after the broker's PUBREL: the client answered it with PUBCOMP and
///    forgot the packet id, the broker still waits for that PUBCOMP (`mosq_ms_wait_for_pubcomp`);
/// 2. connection 2 closes its socket as soon as the CONNECT is written (the broker SIGSTOPped
///    meanwhile, so that it reads the CONNECT only then): Mosquitto's reconnect reset
///    (`db__message_reconnect_reset_outgoing`) turns the message into `mosq_ms_resend_pubrel`, it
///    writes the CONNACK (the closed socket answers with a reset), then fails to write the
///    PUBREL ("Broken pipe"): the message stays `mosq_ms_resend_pubrel`;
/// 3. on connection 3 the same reset turns every QoS 2 state but `mosq_ms_wait_for_pubcomp`,
///    `mosq_ms_resend_pubrel` included, into `mosq_ms_publish_qos2`: the PUBLISH goes out again
///    (DUP set, same packet id) instead of the PUBREL.
///
/// The client answered the PUBREL, so it must take that PUBLISH as a new message
/// [MQTT-4.3.3-2]: it delivers it a second time. The fault test's QoS 2 duplicates are checked
/// against this signature in the subscriber proxy's log (`diagnose`).
///
/// It shows the broker's behaviour, not the client's, and depends on the broker's timing (it
/// failed once in five runs on a loaded machine: no PUBLISH on the proxy's connection 2), so it
/// is not part of the test command: `cargo test --features native --test native_faults --
/// --ignored` runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "demonstrates a Mosquitto 2.0 bug; timing-dependent: run with --ignored"]
async fn mosquitto_sends_a_qos2_publish_again_after_its_pubrel_when_a_reconnect_dies_in_its_connack() {
    let b = broker("");
    let proxy = Proxy::start(b.port).await;
    let dir = TempDir::new("resend-sub");
    let mut o = kept(proxy.options("resend-sub"), &dir);
    // Connections 1 and 3 go through the proxy; connection 2 is `HangUpAfterConnect`, straight
    // to the broker.
    let (opened, proxy_port, broker_port) = (Arc::new(AtomicU64::new(0)), proxy.port, b.port);
    let pid = broker_pid(&b);
    let n = opened.clone();
    o.connector = Some(Arc::new(move || {
        let second = n.fetch_add(1, Ordering::SeqCst) == 1;
        async move {
            let port = if second { broker_port } else { proxy_port };
            let tcp = TcpStream::connect((HOST, port)).await?;
            tcp.set_nodelay(true)?;
            let s: BoxStream =
                if second { Box::new(HangUpAfterConnect::new(tcp, pid)) } else { Box::new(tcp) };
            Ok(s)
        }
    }));
    let (sub, mut msgs) = Client::connect(o).await.expect("connects");
    within(sub.subscribe("resend/t", QoS::ExactlyOnce)).await.unwrap();
    let (publ, _) = Client::connect(b.options("resend-pub")).await.expect("publisher connects");
    proxy.arm(Cut::After { dir: Dir::Down, ptype: PUBREL, nth: 1 });
    within(publ.publish("resend/t", "1", QoS::ExactlyOnce, false)).await.unwrap();
    assert_eq!(&native_common::next(&mut msgs).await.payload[..], b"1");
    // Connection 3 brings it again.
    let again = tokio::time::timeout(Duration::from_secs(10), msgs.recv()).await;
    let log = proxy.shared.log.lock().unwrap().clone();
    let shown: Vec<String> = log.iter().map(Logged::show).collect();
    println!("resend: the proxy's log (its connection 2 is the client's 3):\n    {}", shown.join("\n    "));
    assert_eq!(opened.load(Ordering::SeqCst), 3, "connections opened");
    let pubrel = log.iter().find(|e| e.conn == 1 && e.dir == Dir::Down && e.ptype == PUBREL).expect("PUBREL");
    // The client's PUBCOMP must not have reached the broker (the proxy closes right after
    // writing the PUBREL; the client answers only after its store write).
    assert!(
        !log.iter().any(|e| e.conn == 1 && e.ptype == PUBCOMP),
        "the client's PUBCOMP got through before the cut: {shown:#?}"
    );
    let again = again.unwrap_or_else(|_| panic!("not delivered again within 10 s: {shown:#?}"));
    assert_eq!(&again.expect("a message").payload[..], b"1");
    let resent =
        log.iter().find(|e| e.conn == 2 && e.dir == Dir::Down && e.ptype == PUBLISH).expect("PUBLISH");
    assert_eq!((resent.pkid, resent.flag, resent.index), (pubrel.pkid, true, Some(1)), "{shown:#?}");
    assert_eq!(diagnose(&log, 1).0, 1, "the fault test counts it as the broker's duplicate");
    within(publ.disconnect()).await.unwrap();
    within(sub.disconnect()).await.unwrap();
}

/// A transport that closes its socket as soon as the client's CONNECT is written (reads then
/// end, writes fail). The broker (process `pid`) is stopped from before the CONNECT is written
/// until the socket is closed: it reads the CONNECT from a socket already closed.
struct HangUpAfterConnect {
    inner: Option<TcpStream>,
    written: Vec<u8>,
    pid: u32,
    stopped: Option<Resume>,
}

impl HangUpAfterConnect {
    fn new(inner: TcpStream, pid: u32) -> Self {
        HangUpAfterConnect { inner: Some(inner), written: Vec::new(), pid, stopped: None }
    }
}

/// Whether the process is stopped (by SIGSTOP).
fn is_stopped(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('T'))
}

impl AsyncRead for HangUpAfterConnect {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.inner.as_mut() {
            Some(s) => Pin::new(s).poll_read(cx, buf),
            None => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for HangUpAfterConnect {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.stopped.is_none() && this.inner.is_some() {
            signal(this.pid, "STOP");
            this.stopped = Some(Resume(this.pid)); // SIGCONT when dropped.
            while !is_stopped(this.pid) {
                std::thread::yield_now();
            }
        }
        let Some(s) = this.inner.as_mut() else {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        };
        // Only the CONNECT goes out, nothing after it.
        let total = |w: &[u8]| parse_header(w, MAX_PACKET_SIZE).ok().flatten().map(|h| h.total_len());
        let want =
            total(&this.written).map_or(buf.len(), |t| t.saturating_sub(this.written.len()).min(buf.len()));
        let n = ready!(Pin::new(s).poll_write(cx, &buf[..want]))?;
        this.written.extend_from_slice(&buf[..n]);
        if total(&this.written).is_some_and(|t| this.written.len() >= t) {
            this.inner = None; // Closed before the broker can answer, which it may do now.
            this.stopped = None;
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.inner.as_mut() {
            Some(s) => Pin::new(s).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.inner.as_mut() {
            Some(s) => Pin::new(s).poll_shutdown(cx),
            None => Poll::Ready(Ok(())),
        }
    }
}

/// The broker process's id, found by its configuration file (each test's own).
fn broker_pid(b: &Mosquitto) -> u32 {
    let conf = b.dir.path().join("mosquitto.conf");
    let conf = conf.to_str().unwrap();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else { continue };
        let args: Vec<&[u8]> = cmd.split(|&c| c == 0).collect();
        if args.first().is_some_and(|a| a.ends_with(b"mosquitto")) && args.contains(&conf.as_bytes()) {
            return pid;
        }
    }
    panic!("no mosquitto process with {conf}");
}

fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().unwrap();
    assert!(st.success(), "kill -{sig} {pid}");
}

/// Whether the process is gone or a zombie (dead, not yet reaped).
fn dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Mosquitto with persistence (saved after every change) is SIGKILLed twice in the middle of a
/// stream of QoS 1 and 2 messages and restarted: nothing is lost.
///
/// Mosquitto 2.0 writes a PUBACK/PUBREC/PUBCOMP before its next save, so a SIGKILL right then
/// loses what it had just acknowledged: the broker's window, not the client's. The publisher's
/// proxy therefore holds back the broker's packets for the last 300 ms before each kill (and
/// drops them with the connection), as a broker that saves before acknowledging would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_sigkilled_and_restarted_with_persistence_loses_nothing() {
    const N: usize = 3_000;
    let mut b = broker(
        "persistence true\npersistence_location {dir}/data/\nautosave_interval 1\nautosave_on_changes true\n",
    );
    let proxy = Arc::new(Proxy::start(b.port).await);
    let (pub_dir, sub_dir) = (TempDir::new("kill-pub"), TempDir::new("kill-sub"));
    let so = kept(b.options("kill-sub"), &sub_dir);
    let (sub, msgs) = Client::connect(so).await.expect("subscriber connects");
    within(sub.subscribe("faults/#", QoS::ExactlyOnce)).await.unwrap();
    let tally = Arc::new(Mutex::new(Tally::new(N)));
    let distinct = watch::channel(0).0;
    let reader = spawn_reader(msgs, tally.clone(), distinct.clone());
    let (publ, _) =
        Client::connect(kept(proxy.options("kill-pub"), &pub_dir)).await.expect("publisher connects");

    let kills = Arc::new(AtomicU64::new(0));
    let p = publ.clone();
    let publisher = tokio::spawn(async move { publish_all(&p, N, |_| async {}).await });
    // Kill when the subscriber has a third, then two thirds: messages are in flight both ways.
    for at in [N / 3, 2 * N / 3] {
        let mut d = distinct.subscribe();
        within(d.wait_for(|&c| c >= at)).await.unwrap();
        proxy.stall(Dir::Down, Duration::from_secs(120));
        sleep(Duration::from_millis(300)).await;
        let pid = broker_pid(&b);
        signal(pid, "KILL");
        while !dead(pid) {
            sleep(Duration::from_millis(10)).await;
        }
        proxy.close_all("broker killed");
        kills.fetch_add(1, Ordering::Relaxed);
        sleep(Duration::from_millis(200)).await;
        b.restart();
        println!("kill: broker SIGKILLed after the subscriber had {} messages; restarted", *d.borrow());
    }
    publisher.await.unwrap();
    drain(&tally, &distinct, N, &sub).await;
    within(publ.disconnect()).await.unwrap();
    within(sub.disconnect()).await.unwrap();
    reader.await.unwrap();
    let t = tally.lock().unwrap();
    let (q1_dups, q2_dups, _) = t.duplicates();
    let received: u32 = t.counts.iter().sum();
    println!(
        "kill: sent {N}, received {received} ({} distinct), lost {}, QoS 1 duplicates {q1_dups}, QoS 2 \
         duplicates {q2_dups}, kills {}, publisher connections {}",
        t.distinct,
        t.lost().len(),
        kills.load(Ordering::Relaxed),
        proxy.connections()
    );
    assert!(t.wrong.is_empty(), "unexpected messages: {:?}", &t.wrong[..t.wrong.len().min(5)]);
    assert!(t.lost().is_empty(), "lost: {:?}", &t.lost()[..t.lost().len().min(20)]);
    assert_eq!(kills.load(Ordering::Relaxed), 2);
}

/// Sends SIGCONT when dropped, so a failing test never leaves a stopped broker behind.
struct Resume(u32);

impl Drop for Resume {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-CONT").arg(self.0.to_string()).status();
    }
}

/// Mosquitto SIGSTOPped: the broker answers nothing, yet the TCP connection stays open. The
/// client's keepalive (2 s, PINGRESP awaited 1 s) declares it dead within 1.5 intervals of the
/// last packet it sent (PINGREQ after 2 s of silence, then 1 s without PINGRESP), and it
/// reconnects by itself once the broker is SIGCONTed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigstopped_broker_is_declared_dead_by_keepalive_and_the_client_reconnects_after_sigcont() {
    const KEEPALIVE: Duration = Duration::from_secs(2);
    let b = broker("");
    let mut o = b.options("stopped");
    o.config.keep_alive = KEEPALIVE;
    o.config.ping_timeout = Some(KEEPALIVE / 2);
    o.config.connect_timeout = Duration::from_secs(2);
    o.reconnect = Reconnect {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(1),
        ..Reconnect::default()
    };
    let (c, mut msgs) = Client::connect(o).await.expect("connect");
    within(c.subscribe("stop/t", QoS::AtLeastOnce)).await.unwrap();
    within(c.publish("stop/t", "before", QoS::AtLeastOnce, false)).await.unwrap();
    assert_eq!(&native_common::next(&mut msgs).await.payload[..], b"before");

    let pid = broker_pid(&b);
    let mut state = c.watch_state();
    signal(pid, "STOP");
    let resume = Resume(pid);
    #[allow(clippy::disallowed_methods)] // Printed: how long keepalive took to notice.
    let stopped = std::time::Instant::now();
    // 1.5 intervals is the rule; 3 s more is scheduling slack on a loaded 2-core machine.
    let bound = KEEPALIVE * 3 / 2 + Duration::from_secs(3);
    let lost = tokio::time::timeout(bound, state.wait_for(|s| !matches!(s, State::Connected { .. })))
        .await
        .unwrap_or_else(|_| panic!("still connected {bound:?} after SIGSTOP (1.5 x keepalive + slack)"))
        .unwrap()
        .clone();
    let noticed = stopped.elapsed();
    println!(
        "stop: connection declared dead {:.2} s after SIGSTOP (keepalive 2 s): {lost:?}",
        noticed.as_secs_f64()
    );
    assert!(matches!(&lost, State::Reconnecting { .. }), "the client should be reconnecting, not {lost:?}");

    // A few reconnect attempts time out against the stopped broker; then it resumes.
    sleep(Duration::from_secs(1)).await;
    drop(resume);
    within(state.wait_for(|s| matches!(s, State::Connected { .. }))).await.unwrap();
    within(c.publish("stop/t", "after", QoS::AtLeastOnce, false)).await.unwrap();
    loop {
        let m = native_common::next(&mut msgs).await;
        if &m.payload[..] == b"after" {
            break;
        }
    }
    within(c.disconnect()).await.unwrap();
}
