//! A TCP proxy between a client and a broker that parses the MQTT fixed headers in each direction
//! and, on command, closes the connection, stalls one direction, or cuts right after (or in the
//! middle of) a chosen packet; the log of the packets it forwarded, from which a QoS 2 duplicate
//! is diagnosed; and a random fault schedule that drives it. For `native_faults`.

use super::HOST;
use mq::codec::{parse_header, MAX_PACKET_SIZE};
use mq::native::{Options, State};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::sleep;

// MQTT control packet types (the fixed header's high nibble).
pub const CONNECT: u8 = 1;
pub const CONNACK: u8 = 2;
pub const PUBLISH: u8 = 3;
pub const PUBACK: u8 = 4;
pub const PUBREC: u8 = 5;
pub const PUBREL: u8 = 6;
pub const PUBCOMP: u8 = 7;

fn type_name(t: u8) -> &'static str {
    match t {
        CONNECT => "CONNECT",
        CONNACK => "CONNACK",
        PUBLISH => "PUBLISH",
        PUBACK => "PUBACK",
        PUBREC => "PUBREC",
        PUBREL => "PUBREL",
        PUBCOMP => "PUBCOMP",
        _ => "packet",
    }
}

/// A direction through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Client to broker.
    Up,
    /// Broker to client.
    Down,
}

/// What an armed fault does to the `nth` packet of type `ptype` going `dir` (counted from arming).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Forward the whole packet, then close both sides.
    After { dir: Dir, ptype: u8, nth: u32 },
    /// Forward the first half of the packet, then close both sides.
    MidFrame { dir: Dir, ptype: u8, nth: u32 },
}

impl Cut {
    /// The direction and packet type it watches.
    fn target(&self) -> (Dir, u8) {
        match *self {
            Cut::After { dir, ptype, .. } | Cut::MidFrame { dir, ptype, .. } => (dir, ptype),
        }
    }

    fn name(&self) -> String {
        let (how, dir, ptype) = match *self {
            Cut::After { dir, ptype, .. } => ("after", dir, ptype),
            Cut::MidFrame { dir, ptype, .. } => ("mid-frame of", dir, ptype),
        };
        let who = if dir == Dir::Up { "client's" } else { "broker's" };
        format!("{how} the {who} {}", type_name(ptype))
    }
}

#[derive(Default)]
struct Control {
    /// The armed cut and how many matching packets went by since it was armed.
    armed: Option<(Cut, u32)>,
    /// Hold the next packet going up (0) / down (1) this long before forwarding it.
    stall: [Option<Duration>; 2],
    /// Cuts made, by kind.
    kinds: BTreeMap<String, u32>,
    stalls: u32,
}

pub struct Shared {
    upstream: u16,
    ctl: Mutex<Control>,
    /// Bumped by `close_all`: every connection opened before it closes.
    generation: watch::Sender<u64>,
    /// Cuts made (of any kind): the fault schedule waits on it.
    pub cuts: watch::Sender<u64>,
    /// Cut steps the fault schedule took (a close, or a cut armed): the publisher paces on it.
    pub steps: watch::Sender<u64>,
    connections: AtomicU64,
    /// Every packet forwarded and every connection's end, in order (see `Logged`).
    pub log: Mutex<Vec<Logged>>,
}

/// An entry of the proxy's packet log: a packet forwarded (whole, or its first half for a
/// mid-frame cut) on connection `conn` (numbered from 1), or the end of a connection
/// (`ptype` 0). What a QoS 2 duplicate is diagnosed from.
#[derive(Debug, Clone)]
pub struct Logged {
    pub conn: u64,
    pub dir: Dir,
    pub ptype: u8,
    /// The packet identifier (0: none).
    pub pkid: u16,
    /// A PUBLISH's DUP flag; a CONNACK's session present flag.
    pub flag: bool,
    /// A PUBLISH's payload when it is a message index.
    pub index: Option<usize>,
    /// A cut made at this packet, or why the connection ended.
    pub note: String,
}

impl Logged {
    /// A packet forwarded: its identifier, flag and (for a PUBLISH) message index.
    fn packet(conn: u64, dir: Dir, packet: &[u8], header_len: usize) -> Logged {
        let (ptype, body) = (packet[0] >> 4, &packet[header_len..]);
        let u16_at = |i: usize| body.get(i..i + 2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
        let (mut pkid, mut flag, mut index) = (0, false, None);
        match ptype {
            PUBLISH => {
                let qos = (packet[0] >> 1) & 3;
                flag = packet[0] & 0x08 != 0;
                let mut at = 2 + u16_at(0) as usize;
                if qos > 0 {
                    pkid = u16_at(at);
                    at += 2;
                }
                index = body.get(at..).and_then(|p| std::str::from_utf8(p).ok()).and_then(|p| p.parse().ok());
            }
            CONNACK => flag = body.first().is_some_and(|b| b & 1 != 0),
            PUBACK..=PUBCOMP => pkid = u16_at(0),
            _ => {}
        }
        Logged { conn, dir, ptype, pkid, flag, index, note: String::new() }
    }

    pub fn show(&self) -> String {
        if self.ptype == 0 {
            return format!("conn {}: ended ({})", self.conn, self.note);
        }
        let arrow = if self.dir == Dir::Up { "client -> broker" } else { "broker -> client" };
        let mut s = format!("conn {}: {arrow} {}", self.conn, type_name(self.ptype));
        if self.pkid != 0 {
            s += &format!(" id {}", self.pkid);
        }
        match self.ptype {
            PUBLISH => {
                s += &format!(" dup {}", self.flag as u8);
                if let Some(i) = self.index {
                    s += &format!(" message {i}");
                }
            }
            CONNACK => s += if self.flag { " session present" } else { " NO session present" },
            _ => {}
        }
        if !self.note.is_empty() {
            s += &format!(" [{}]", self.note);
        }
        s
    }
}

/// A TCP proxy on 127.0.0.1 in front of a broker, one connection per client connection.
pub struct Proxy {
    pub port: u16,
    pub shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.shared.generation.send_modify(|g| *g += 1);
    }
}

impl Proxy {
    pub async fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind((HOST, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            upstream,
            ctl: Mutex::default(),
            generation: watch::channel(0).0,
            cuts: watch::channel(0).0,
            steps: watch::channel(0).0,
            connections: AtomicU64::new(0),
            log: Mutex::default(),
        });
        let s = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(s.clone(), client));
            }
        });
        Proxy { port, shared, accept }
    }

    pub fn options(&self, client_id: &str) -> Options {
        Options::new(HOST, self.port).client_id(client_id)
    }

    /// Closes every open connection now (a "close"); also drops any armed cut or stall.
    pub fn close_all(&self, kind: &str) {
        {
            let mut c = self.shared.ctl.lock().unwrap();
            c.armed = None;
            c.stall = [None, None];
            *c.kinds.entry(kind.to_owned()).or_default() += 1;
        }
        self.shared.generation.send_modify(|g| *g += 1);
        self.shared.cuts.send_modify(|n| *n += 1);
    }

    pub fn arm(&self, cut: Cut) {
        self.shared.ctl.lock().unwrap().armed = Some((cut, 0));
    }

    pub fn disarm(&self) {
        self.shared.ctl.lock().unwrap().armed = None;
    }

    /// Holds the next packet going `dir` for `d` (interrupted if the connection closes).
    pub fn stall(&self, dir: Dir, d: Duration) {
        let mut c = self.shared.ctl.lock().unwrap();
        c.stall[dir as usize] = Some(d);
        c.stalls += 1;
    }

    pub fn cuts(&self) -> u64 {
        *self.shared.cuts.borrow()
    }

    pub fn stalls(&self) -> u32 {
        self.shared.ctl.lock().unwrap().stalls
    }

    pub fn kinds(&self) -> BTreeMap<String, u32> {
        self.shared.ctl.lock().unwrap().kinds.clone()
    }

    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }
}

/// One proxied connection: two pumps that stop together (a cut, either side closing, or
/// `close_all`), dropping both sockets.
async fn serve(shared: Arc<Shared>, client: TcpStream) {
    let mut generation = shared.generation.subscribe();
    let born = *generation.borrow_and_update();
    let Ok(broker) = TcpStream::connect((HOST, shared.upstream)).await else {
        return; // Broker down: the client sees its connection closed.
    };
    let conn = shared.connections.fetch_add(1, Ordering::Relaxed) + 1;
    let _ = client.set_nodelay(true);
    let _ = broker.set_nodelay(true);
    let (kill, _) = watch::channel(false);
    let (cr, cw) = client.into_split();
    let (br, bw) = broker.into_split();
    let up = pump(shared.clone(), Dir::Up, conn, cr, bw, kill.clone(), born);
    let down = pump(shared.clone(), Dir::Down, conn, br, cw, kill, born);
    let (up, down) = tokio::join!(up, down);
    let note = format!("client -> broker: {up}; broker -> client: {down}");
    let end = Logged { conn, dir: Dir::Up, ptype: 0, pkid: 0, flag: false, index: None, note };
    shared.log.lock().unwrap().push(end);
}

enum Verdict {
    Forward,
    After(Cut),
    Mid(Cut),
}

/// Forwards whole packets from `rd` to `wr`, applying stalls and armed cuts.
/// Returns why it stopped.
async fn pump(
    shared: Arc<Shared>,
    dir: Dir,
    conn: u64,
    mut rd: OwnedReadHalf,
    mut wr: OwnedWriteHalf,
    kill: watch::Sender<bool>,
    born: u64,
) -> &'static str {
    let mut killed = kill.subscribe();
    let mut generation = shared.generation.subscribe();
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    // Resolves when this connection must end, saying why.
    macro_rules! ended {
        () => {
            async {
                tokio::select! {
                    _ = killed.wait_for(|k| *k) => "the other direction stopped",
                    _ = generation.wait_for(|g| *g != born) => "closed (close_all)",
                }
            }
        };
    }
    loop {
        // Every whole packet in the buffer, one at a time.
        loop {
            let h = match parse_header(&buf, MAX_PACKET_SIZE) {
                Ok(Some(h)) if buf.len() >= h.total_len() => h,
                Ok(_) => break,
                Err(_) => {
                    kill.send_replace(true);
                    return "malformed";
                }
            };
            let packet: Vec<u8> = buf.drain(..h.total_len()).collect();
            let stall = shared.ctl.lock().unwrap().stall[dir as usize].take();
            if let Some(d) = stall {
                tokio::select! {
                    _ = sleep(d) => {}
                    why = ended!() => return why,
                }
            }
            let verdict = {
                let mut c = shared.ctl.lock().unwrap();
                let ptype = h.packet_type();
                let verdict = match &mut c.armed {
                    Some((cut, seen)) if cut.target() == (dir, ptype) => {
                        *seen += 1;
                        match *cut {
                            Cut::After { nth, .. } | Cut::MidFrame { nth, .. } if *seen < nth => {
                                Verdict::Forward
                            }
                            Cut::After { .. } => Verdict::After(*cut),
                            Cut::MidFrame { .. } => Verdict::Mid(*cut),
                        }
                    }
                    _ => Verdict::Forward,
                };
                if let Verdict::After(cut) | Verdict::Mid(cut) = verdict {
                    c.armed = None;
                    *c.kinds.entry(cut.name()).or_default() += 1;
                }
                verdict
            };
            let bytes = match verdict {
                Verdict::Forward => &packet[..],
                Verdict::After(_) => &packet[..],
                Verdict::Mid(_) => &packet[..packet.len() / 2],
            };
            let ok = tokio::select! {
                r = wr.write_all(bytes) => r.is_ok(),
                why = ended!() => return why,
            };
            if ok {
                let mut entry = Logged::packet(conn, dir, &packet, h.header_len);
                if let Verdict::After(cut) | Verdict::Mid(cut) = verdict {
                    entry.note = format!("cut {}", cut.name());
                }
                shared.log.lock().unwrap().push(entry);
            }
            if !matches!(verdict, Verdict::Forward) {
                let _ = wr.flush().await;
                kill.send_replace(true);
                shared.cuts.send_modify(|n| *n += 1);
                return "cut";
            }
            if !ok {
                kill.send_replace(true);
                return "write failed";
            }
        }
        tokio::select! {
            r = rd.read(&mut chunk) => match r {
                Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => {
                    kill.send_replace(true);
                    return "end of stream (or error) from its sender";
                }
            },
            why = ended!() => return why,
        }
    }
}

/// What the subscriber proxy's packet log says about QoS 2 message `i` delivered more than
/// once: how many of its PUBLISHes the broker sent after the PUBREL for the same packet id (the
/// sender must never send the PUBLISH again once it sent the PUBREL [MQTT-4.3.3-1]; the
/// receiver, once it answered the PUBREL, must take the next PUBLISH with that id as a new
/// message [MQTT-4.3.3-2]: a duplicate the broker made), and the log from its first PUBLISH to
/// its last: the packets with its ids, the CONNECTs, CONNACKs and connection ends meanwhile.
/// A PUBLISH cut in the middle never reached the client and is not counted.
pub fn diagnose(log: &[Logged], i: usize) -> (usize, Vec<String>) {
    let whole = |e: &Logged| !e.note.contains("mid-frame");
    let pubs: Vec<usize> = (0..log.len())
        .filter(|&k| log[k].dir == Dir::Down && log[k].ptype == PUBLISH && log[k].index == Some(i))
        .filter(|&k| whole(&log[k]))
        .collect();
    let (Some(&first), Some(&last)) = (pubs.first(), pubs.last()) else {
        return (0, vec![format!("no whole PUBLISH of message {i} in the log")]);
    };
    let ids: Vec<u16> = pubs.iter().map(|&k| log[k].pkid).collect();
    let mut resent_after_pubrel = 0;
    for w in pubs.windows(2) {
        let (a, b) = (w[0], w[1]);
        let released = (a..b).any(|k| {
            let e = &log[k];
            e.dir == Dir::Down && e.ptype == PUBREL && e.pkid == log[b].pkid && whole(e)
        });
        if released && log[a].pkid == log[b].pkid {
            resent_after_pubrel += 1;
        }
    }
    let mut lines = Vec::new();
    for e in &log[first..log.len().min(last + 4)] {
        let packet = (PUBLISH..=PUBCOMP).contains(&e.ptype) && ids.contains(&e.pkid) && e.pkid != 0;
        if packet || matches!(e.ptype, 0 | CONNECT | CONNACK) {
            lines.push(e.show());
        }
    }
    if lines.len() > 60 {
        let n = lines.len();
        lines.drain(30..n - 30);
        lines.insert(30, format!("... ({} lines left out)", n - 60));
    }
    (resent_after_pubrel, lines)
}

/// A small random number generator (xorshift), seeded from `MQ_FAULT_SEED` or at random.
pub struct Rng(pub u64);

impl Rng {
    pub fn new() -> Rng {
        use std::hash::{BuildHasher, Hasher};
        let seed = std::env::var("MQ_FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(7);
            h.finish()
        });
        println!("fault seed: MQ_FAULT_SEED={seed}");
        Rng(seed | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 11) % n
    }
}

/// One step of a fault schedule.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    Close,
    Stall(Dir),
    /// A cut with `nth` drawn when used.
    Cut(Cut),
}

/// Runs faults on `proxy` until `stop`: waits for the client to be connected, lets traffic flow
/// for a moment, then applies a random step. An armed cut that does not fire within 1.5 s (no
/// matching traffic) is replaced by a close, so the schedule always moves on.
pub async fn schedule(
    proxy: Arc<Proxy>,
    steps: Vec<Step>,
    mut state: watch::Receiver<State>,
    mut stop: watch::Receiver<bool>,
    mut rng: Rng,
) {
    loop {
        let connected = tokio::select! {
            r = state.wait_for(|s| matches!(s, State::Connected { .. })) => r.is_ok(),
            _ = stop.wait_for(|s| *s) => false,
        };
        if !connected {
            return;
        }
        let gap = Duration::from_millis(50 + rng.below(200));
        tokio::select! {
            _ = sleep(gap) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let step = steps[rng.below(steps.len() as u64) as usize];
        match step {
            Step::Close => {
                proxy.close_all("close");
                proxy.shared.steps.send_modify(|n| *n += 1);
            }
            Step::Stall(dir) => {
                proxy.stall(dir, Duration::from_millis(100 + rng.below(400)));
            }
            Step::Cut(cut) => {
                let nth = 1 + rng.below(20) as u32;
                let cut = match cut {
                    Cut::After { dir, ptype, .. } => Cut::After { dir, ptype, nth },
                    Cut::MidFrame { dir, ptype, .. } => Cut::MidFrame { dir, ptype, nth },
                };
                let before = proxy.cuts();
                proxy.arm(cut);
                proxy.shared.steps.send_modify(|n| *n += 1);
                let mut cuts = proxy.shared.cuts.subscribe();
                let fired = tokio::time::timeout(Duration::from_millis(1500), cuts.wait_for(|n| *n > before));
                if fired.await.is_err() {
                    proxy.disarm();
                    if proxy.cuts() == before {
                        proxy.close_all("close (armed cut did not fire)");
                    }
                }
            }
        }
    }
}
