// A fault-injecting MQTT-over-WebSockets proxy on 127.0.0.1, for tests/web/faults.mjs: the page's
// WebSocket ends here, and each connection is relayed to the broker's WebSockets listener over a
// WebSocket of the proxy's own (RFC 6455 framing written here: no `ws` package in the tests'
// node_modules), or to its TCP listener. Between the two it reassembles the MQTT byte stream of each direction into
// packets (fixed header: type, remaining length), so on command from the test it can
//
//   - close every connection now (abruptly, or with a WebSocket close frame to the page),
//   - stall one direction: hold the next packet going that way for a while (long enough, with a
//     short keepalive, for the client or the broker to declare the connection dead),
//   - cut right after the nth packet of a type going one way (the broker's PUBREC, the client's
//     PUBREL, ...), or in the middle of it (the first half goes out in a frame of its own).
//
// What goes to the page is re-framed at random: a frame may hold several packets or a piece of
// one, as the spec allows and brokers do. Every cut is counted by kind; a cut is a connection the
// proxy ended (or, for a stall, one that ended while the proxy held a direction).
//
// With `log` set, the proxy keeps a compact packet log of the QoS 2 flows through it, to tell
// whose a QoS 2 duplicate is: per packet id, the broker's PUBLISH (DUP flag, the message's
// sequence number when its payload starts with one) and PUBREL, the client's PUBREC and PUBCOMP,
// each with its connection (numbered from 1; its CONNACK and how it ended). A broker PUBLISH
// sent whole again for the same message after the broker's PUBREL for that id went to the client
// on an earlier connection is counted for that message (`diagnose`): the broker broke
// [MQTT-4.3.3-1], and the client, having answered the PUBREL, must take it as a new message
// [MQTT-4.3.3-2]. The log is bounded: only ids active in the last `LOG_CONNS` connections,
// at most `LOG_PER_ID` entries each, and a bounded number of rendered excerpts.

import crypto from "node:crypto";
import http from "node:http";
import net from "node:net";

// MQTT control packet types (the fixed header's high nibble).
export const CONNECT = 1;
export const CONNACK = 2;
export const PUBLISH = 3;
export const PUBACK = 4;
export const PUBREC = 5;
export const PUBREL = 6;
export const PUBCOMP = 7;
const NAMES = { 1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL", 7: "PUBCOMP", 12: "PINGREQ", 13: "PINGRESP" };
export const typeName = (t) => NAMES[t] || `type ${t}`;

/** Client to broker, broker to client. */
export const UP = 0;
export const DOWN = 1;

/** The log keeps the ids active in this many of the last connections... */
const LOG_CONNS = 32;
/** ... at most this many entries per id, ... */
const LOG_PER_ID = 24;
/** ... and rendered excerpts for at most this many re-sent messages (the broker's kept apart). */
const LOG_EXCERPTS = 256;

/** The message sequence number a payload starts with (ASCII digits), or null. */
export function leadingNumber(payload) {
  let n = 0;
  let i = 0;
  for (; i < payload.length && i < 10 && payload[i] >= 0x30 && payload[i] <= 0x39; i++) n = n * 10 + payload[i] - 0x30;
  return i === 0 ? null : n;
}

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One WebSocket frame (FIN set), masked when `mask` (client to server) [RFC 6455 5.2]. */
export function encodeFrame(payload, opcode = 2, mask = false) {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = 2 + ext + (mask ? 4 : 0);
  const buf = Buffer.allocUnsafe(head + len);
  buf[0] = 0x80 | opcode;
  if (ext === 0) buf[1] = len;
  else if (ext === 2) {
    buf[1] = 126;
    buf.writeUInt16BE(len, 2);
  } else {
    buf[1] = 127;
    buf.writeBigUInt64BE(BigInt(len), 2);
  }
  if (mask) {
    buf[1] |= 0x80;
    const key = crypto.randomBytes(4);
    key.copy(buf, 2 + ext);
    for (let i = 0; i < len; i++) buf[head + i] = payload[i] ^ key[i & 3];
  } else {
    payload.copy(buf, head);
  }
  return buf;
}

/** Splits a byte stream into WebSocket frames: { opcode, payload } (unmasked). */
export class FrameDecoder {
  constructor() {
    this.buf = Buffer.alloc(0);
  }

  push(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const frames = [];
    for (;;) {
      const b = this.buf;
      if (b.length < 2) break;
      const masked = (b[1] & 0x80) !== 0;
      let len = b[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) break;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) break;
        const big = b.readBigUInt64BE(2);
        if (big > 0x7fffffffn) throw new Error("WebSocket frame too large");
        len = Number(big);
        at = 10;
      }
      const keyAt = at;
      if (masked) at += 4;
      if (b.length < at + len) break;
      const payload = Buffer.from(b.subarray(at, at + len));
      if (masked) for (let i = 0; i < len; i++) payload[i] ^= b[keyAt + (i & 3)];
      frames.push({ opcode: b[0] & 0x0f, payload });
      this.buf = b.subarray(at + len);
    }
    return frames;
  }
}

/** Splits an MQTT byte stream into whole packets (Buffers); throws on a malformed length. */
export class PacketSplitter {
  constructor() {
    this.buf = Buffer.alloc(0);
  }

  push(bytes) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, bytes]) : bytes;
    const packets = [];
    for (;;) {
      const b = this.buf;
      let len = 0;
      let mult = 1;
      let i = 1;
      let done = false;
      for (; i < b.length && i <= 4; i++) {
        len += (b[i] & 0x7f) * mult;
        mult *= 128;
        if ((b[i] & 0x80) === 0) {
          done = true;
          i += 1;
          break;
        }
      }
      if (!done) {
        if (b.length > 5) throw new Error("malformed MQTT remaining length");
        break;
      }
      if (b.length < i + len) break;
      packets.push(Buffer.from(b.subarray(0, i + len)));
      this.buf = b.subarray(i + len);
    }
    return packets;
  }
}

/** A small seeded random number generator (xorshift32). */
export class Rng {
  constructor(seed) {
    this.x = seed >>> 0 || 1;
  }

  below(n) {
    let x = this.x;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.x = x >>> 0;
    return this.x % n;
  }
}

/** Opens the connection to the broker: a WebSocket (subprotocol mqtt) for a ws:// `url`, plain
 *  TCP for mqtt://. Resolves with { socket, head } (bytes that came with the upgrade). */
function openUpstream(url) {
  const u = new URL(url);
  if (u.protocol === "mqtt:") {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: u.hostname, port: Number(u.port) });
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve({ socket, head: Buffer.alloc(0) });
      });
      socket.once("error", reject);
    });
  }
  return new Promise((resolve, reject) => {
    const key = crypto.randomBytes(16).toString("base64");
    const req = http.request({
      host: u.hostname,
      port: u.port,
      path: u.pathname || "/",
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": key,
        "Sec-WebSocket-Protocol": "mqtt",
      },
    });
    req.on("upgrade", (res, socket, head) => {
      const want = crypto.createHash("sha1").update(key + GUID).digest("base64");
      if (res.headers["sec-websocket-accept"] !== want) {
        socket.destroy();
        reject(new Error("bad Sec-WebSocket-Accept from the broker"));
        return;
      }
      resolve({ socket, head });
    });
    req.on("response", (res) => {
      res.resume();
      reject(new Error(`the broker answered ${res.statusCode} to the WebSocket upgrade`));
    });
    req.on("error", reject);
    req.end();
  });
}

/** One relayed connection: the page's socket and the broker's, a packet pump per direction. */
class Conn {
  constructor(proxy, page, broker, brokerWs, n) {
    this.proxy = proxy;
    this.n = n; // numbered from 1, in the proxy's packet log
    this.brokerWs = brokerWs; // the broker's leg is a WebSocket (else MQTT over TCP as it is)
    this.sockets = [page, broker]; // indexed by the side a packet comes from: UP from the page
    this.ended = false;
    this.connected = false; // CONNACK 0 went to the page
    this.endedBy = null;
    this.stalling = null; // the direction held right now, if any
    this.queues = [[], []];
    this.wake = [null, null];
    this.splitters = [new PacketSplitter(), new PacketSplitter()];
    this.decoders = [new FrameDecoder(), new FrameDecoder()];
    this.endWaiters = [];
  }

  start(pageHead, brokerHead) {
    for (const side of [UP, DOWN]) {
      const s = this.sockets[side];
      s.setNoDelay(true);
      s.on("data", (d) => this.onData(side, d));
      s.on("close", () => this.end(side === UP ? "page closed" : "broker closed"));
      s.on("error", () => this.end(side === UP ? "page socket error" : "broker socket error"));
      this.pump(side);
    }
    if (pageHead && pageHead.length) this.onData(UP, pageHead);
    if (brokerHead && brokerHead.length) this.onData(DOWN, brokerHead);
  }

  onData(side, data) {
    if (this.ended) return;
    try {
      if (side === DOWN && !this.brokerWs) {
        for (const p of this.splitters[side].push(data)) this.queues[side].push(p);
      }
      const frames = side === DOWN && !this.brokerWs ? [] : this.decoders[side].push(data);
      for (const f of frames) {
        if (f.opcode === 0x8) return this.end(side === UP ? "page closed" : "broker closed");
        if (f.opcode === 0x9) {
          // Ping: answered here, on that side's leg.
          this.sockets[side].write(encodeFrame(f.payload, 0xa, side === DOWN));
          continue;
        }
        if (f.opcode === 0xa) continue;
        if (f.opcode !== 0x0 && f.opcode !== 0x2) return this.end(`opcode ${f.opcode} from side ${side}`);
        for (const p of this.splitters[side].push(f.payload)) this.queues[side].push(p);
      }
    } catch (e) {
      return this.end(`bad input from side ${side}: ${e.message}`);
    }
    if (this.wake[side]) {
      const w = this.wake[side];
      this.wake[side] = null;
      w();
    }
  }

  /** Forwards the packets coming from `side`, applying stalls and the armed cut. */
  async pump(side) {
    const to = 1 - side;
    const queue = this.queues[side];
    let out = [];
    const flush = () => {
      if (!out.length || this.ended) return;
      const bytes = Buffer.concat(out);
      out = [];
      this.send(to, bytes);
    };
    while (!this.ended) {
      if (!queue.length) {
        flush();
        await new Promise((r) => (this.wake[side] = r));
        continue;
      }
      const packet = queue.shift();
      const ptype = packet[0] >> 4;
      const stall = this.proxy.takeStall(side);
      if (stall) {
        flush();
        this.stalling = { dir: side, ms: stall };
        await Promise.race([sleep(stall), this.endedPromise()]);
        this.stalling = null;
        if (this.ended) return;
      }
      const verdict = this.proxy.verdict(side, ptype);
      if (this.proxy.log) this.proxy.logPacket(this, side, packet, verdict);
      if (verdict === "forward") {
        out.push(packet);
        if (side === DOWN && ptype === CONNACK && packet.length >= 4 && packet[3] === 0) {
          flush();
          this.connected = true;
          this.proxy.connackSeen();
        }
        continue;
      }
      // A cut: what came before this packet, then the packet (or its first half), then the end.
      out.push(verdict === "after" ? packet : packet.subarray(0, packet.length >> 1));
      flush();
      this.end("cut", true);
      return;
    }
  }

  /** Sends MQTT bytes to `to` as WebSocket frames: to the page re-framed at random. */
  send(to, bytes) {
    const s = this.sockets[to];
    if (to === DOWN) {
      s.write(this.brokerWs ? encodeFrame(bytes, 2, true) : bytes);
      return;
    }
    const rng = this.proxy.rng;
    let at = 0;
    while (at < bytes.length) {
      // Mostly whole, sometimes in two or three pieces at random offsets.
      const rest = bytes.length - at;
      const n = rest > 1 && rng.below(4) === 0 ? 1 + rng.below(rest - 1) : rest;
      s.write(encodeFrame(bytes.subarray(at, at + n)));
      at += n;
    }
  }

  endedPromise() {
    return new Promise((r) => (this.ended ? r() : this.endWaiters.push(r)));
  }

  /** Ends both legs. `flushFirst`: let what was written go out before closing (a cut). */
  end(why, flushFirst = false, closeFrame = false) {
    if (this.ended) return;
    this.ended = true;
    this.endedBy = why;
    for (const side of [UP, DOWN]) {
      const s = this.sockets[side];
      if (closeFrame && side === UP) s.write(encodeFrame(Buffer.from([0x03, 0xe9]), 0x8));
      if (flushFirst || closeFrame) {
        s.end();
        setTimeout(() => s.destroy(), 1000).unref();
      } else {
        s.destroy();
      }
    }
    for (const w of this.wake) if (w) w();
    for (const w of this.endWaiters.splice(0)) w();
    this.proxy.connEnded(this, why);
  }
}

export class FaultProxy {
  /** `upstream`: the broker's ws:// URL (its WebSockets listener), or mqtt://host:port (its
   *  TCP listener: the page's leg is a WebSocket either way); `name` labels the figures. */
  constructor(upstream, name, seed, { log = false, seqOf = leadingNumber } = {}) {
    this.upstream = upstream;
    this.log = log;
    this.seqOf = seqOf;
    this.connLog = new Map(); // connection number -> { connack, ended } (the last LOG_CONNS)
    this.ids = new Map(); // packet id -> its QoS 2 flow (see logPacket); least recently active first
    this.resends = new Map(); // sequence number -> { publishes, afterPubrel }: messages sent twice or more
    this.excerpts = new Map(); // sequence number -> log lines at its last re-send (the last LOG_EXCERPTS)
    this.brokerExcerpts = new Map(); // the same, for re-sends after a PUBREL (the first LOG_EXCERPTS)
    this.resentAfterPubrel = 0; // the broker's PUBLISHes sent again after its PUBREL...
    this.resentAfterPubrelMessages = 0; // ... and for how many messages
    this.name = name;
    this.rng = new Rng(seed);
    this.conns = new Set();
    this.armed = null; // { dir, ptype, nth, mid, seen }
    this.stalls = [0, 0]; // ms to hold the next packet going up / down
    this.kinds = new Map(); // cut kind -> count
    this.cuts = 0;
    this.steps = 0; // closes and armed cuts taken by a schedule (the publisher paces on them)
    this.stallCount = 0;
    this.connections = 0;
    this.connacks = 0;
    this.waiters = [];
  }

  async start() {
    this.server = http.createServer((req, res) => res.writeHead(426).end());
    this.server.on("upgrade", (req, socket, head) => this.accept(req, socket, head));
    await new Promise((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `ws://127.0.0.1:${this.server.address().port}`;
    return this;
  }

  async accept(req, socket, head) {
    socket.on("error", () => {});
    const key = req.headers["sec-websocket-key"];
    const protocols = String(req.headers["sec-websocket-protocol"] || "").split(",").map((s) => s.trim());
    if (!key || !protocols.includes("mqtt")) {
      socket.end("HTTP/1.1 400 Bad Request\r\n\r\n");
      return;
    }
    let up;
    try {
      up = await openUpstream(this.upstream);
    } catch {
      socket.destroy(); // Broker unreachable: the page sees its WebSocket fail.
      return;
    }
    if (socket.destroyed) {
      up.socket.destroy();
      return;
    }
    up.socket.on("error", () => {});
    const accept = crypto.createHash("sha1").update(key + GUID).digest("base64");
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n`,
    );
    this.connections += 1;
    const c = new Conn(this, socket, up.socket, this.upstream.startsWith("ws:"), this.connections);
    if (this.log) this.logConn(c);
    this.conns.add(c);
    c.start(head, up.head);
  }

  // ---- commands from the test ----

  /** Closes every connection now; `frame`: with a WebSocket close frame (1001) to the page.
   *  Counted as a cut of kind `kind` (it must start with "close ("). */
  closeAll(frame = false, kind = frame ? "close (WebSocket close frame)" : "close (abrupt)") {
    this.armed = null;
    this.stalls = [0, 0];
    let n = 0;
    for (const c of [...this.conns]) {
      c.end(kind, false, frame);
      n += 1;
    }
    this.count(kind);
    return n;
  }

  /** Cut after (or, `mid`, in the middle of) the `nth` packet of `ptype` going `dir`. */
  arm(dir, ptype, nth, mid = false) {
    this.armed = { dir, ptype, nth, mid, seen: 0 };
  }

  disarm() {
    this.armed = null;
  }

  /** Holds the next packet going `dir` for `ms`. */
  stall(dir, ms) {
    this.stalls[dir] = ms;
    this.stallCount += 1;
  }

  /** Whether a connection has had its CONNACK 0 and is still up. */
  connected() {
    return [...this.conns].some((c) => c.connected && !c.ended);
  }

  /** Resolves on the next event (a CONNACK, a cut, a connection ending). */
  changed() {
    return new Promise((r) => this.waiters.push(r));
  }

  summary() {
    return `${this.cuts} cuts + ${this.stallCount} stalls over ${this.connections} connections: ` +
      [...this.kinds].sort().map(([k, n]) => `${k}: ${n}`).join(", ");
  }

  // ---- from the connections ----

  notify() {
    for (const w of this.waiters.splice(0)) w();
  }

  count(kind) {
    this.cuts += 1;
    this.kinds.set(kind, (this.kinds.get(kind) || 0) + 1);
    this.notify();
  }

  takeStall(dir) {
    const ms = this.stalls[dir];
    this.stalls[dir] = 0;
    return ms;
  }

  verdict(dir, ptype) {
    const a = this.armed;
    if (!a || a.dir !== dir || a.ptype !== ptype) return "forward";
    a.seen += 1;
    if (a.seen < a.nth) return "forward";
    this.armed = null;
    const who = dir === UP ? "client's" : "broker's";
    this.count(`${a.mid ? "mid-frame of" : "after"} the ${who} ${typeName(ptype)}`);
    return a.mid ? "mid" : "after";
  }

  connackSeen() {
    this.connacks += 1;
    this.notify();
  }

  connEnded(c, why) {
    this.conns.delete(c);
    const rec = this.connLog.get(c.n);
    if (rec) rec.ended = why;
    // A connection that ended while the proxy held one of its directions: the stall's doing
    // (the client's keepalive, or the broker's, gave up on it).
    if (c.stalling && why !== "cut" && why !== "proxy stopped" && !why.startsWith("close (")) {
      this.count(`stall ${c.stalling.dir === UP ? "up" : "down"}, then ${why}`);
    }
    this.notify();
  }

  // ---- the QoS 2 packet log ----

  logConn(c) {
    this.connLog.set(c.n, { connack: null, ended: null });
    for (const n of this.connLog.keys()) {
      if (n > c.n - LOG_CONNS) break;
      this.connLog.delete(n);
    }
    for (const [id, h] of this.ids) {
      if (h.conn > c.n - LOG_CONNS) break;
      this.ids.delete(id);
    }
  }

  /** Logs a packet forwarded on `c` (`verdict` "mid": only its first half went out). */
  logPacket(c, dir, packet, verdict) {
    const ptype = packet[0] >> 4;
    const whole = verdict !== "mid";
    let hl = 1;
    while (hl < 5 && packet[hl] & 0x80) hl += 1;
    hl += 1; // fixed header: type byte and remaining length
    if (dir === DOWN && ptype === CONNACK) {
      const rec = this.connLog.get(c.n);
      if (rec && packet.length >= 4) rec.connack = `CONNACK sp ${packet[2] & 1} rc ${packet[3]}${whole ? "" : " (first half only: cut)"}`;
      return;
    }
    const qos = (packet[0] >> 1) & 3;
    const wanted = dir === DOWN ? (ptype === PUBLISH && qos === 2) || ptype === PUBREL : ptype === PUBREC || ptype === PUBCOMP;
    if (!wanted || packet.length < hl + 2) return;
    let id;
    let seq = null;
    let dup = 0;
    if (ptype === PUBLISH) {
      const tl = packet.readUInt16BE(hl);
      if (packet.length < hl + 4 + tl) return;
      id = packet.readUInt16BE(hl + 2 + tl);
      seq = this.seqOf(packet.subarray(hl + 4 + tl, hl + 4 + tl + 16));
      dup = (packet[0] >> 3) & 1;
    } else {
      id = packet.readUInt16BE(hl);
    }
    let h = this.ids.get(id);
    // A PUBLISH of another message (or, with no sequence number, one without DUP) starts a new flow.
    if (ptype === PUBLISH && (!h || (seq === null ? !dup : h.seq !== seq))) {
      h = { seq, conn: c.n, publishes: 0, released: null, entries: [] };
    }
    if (!h) return; // a PUBREL, PUBREC or PUBCOMP of a flow already forgotten
    this.ids.delete(id);
    this.ids.set(id, h); // most recently active last
    h.conn = c.n;
    const who = dir === DOWN ? "broker" : "client";
    const what = ptype === PUBLISH ? `PUBLISH id ${id} dup ${dup}${seq === null ? "" : ` message ${seq}`}` : `${typeName(ptype)} id ${id}`;
    h.entries.push({ conn: c.n, text: `${who} ${what}${whole ? "" : " (first half only: cut)"}` });
    if (h.entries.length > LOG_PER_ID) h.entries.shift();
    if (!whole) return;
    if (ptype === PUBREL) {
      h.released = c.n;
      return;
    }
    if (ptype !== PUBLISH) return;
    h.publishes += 1;
    const afterPubrel = h.released !== null && h.released < c.n;
    h.released = null;
    if (h.publishes < 2 || seq === null) return;
    const r = this.resends.get(seq) || { publishes: 1, afterPubrel: 0 };
    r.publishes += 1;
    if (afterPubrel) {
      if (r.afterPubrel === 0) this.resentAfterPubrelMessages += 1;
      r.afterPubrel += 1;
      this.resentAfterPubrel += 1;
    }
    this.resends.set(seq, r);
    const lines = this.render(h, c.n);
    if (afterPubrel) {
      if (this.brokerExcerpts.size < LOG_EXCERPTS || this.brokerExcerpts.has(seq)) this.brokerExcerpts.set(seq, lines);
    } else {
      this.excerpts.delete(seq);
      this.excerpts.set(seq, lines);
      if (this.excerpts.size > LOG_EXCERPTS) this.excerpts.delete(this.excerpts.keys().next().value);
    }
  }

  /** The log of flow `h` up to connection `now`: its entries, and each connection's CONNACK and end. */
  render(h, now) {
    const lines = [];
    let at = 0;
    const first = h.entries.length ? h.entries[0].conn : now;
    for (let n = first; n <= now; n++) {
      const rec = this.connLog.get(n);
      lines.push(`connection ${n}: ${rec ? rec.connack || "no CONNACK" : "(forgotten)"}`);
      while (at < h.entries.length && h.entries[at].conn === n) lines.push(`  ${h.entries[at++].text}`);
      if (rec && rec.ended) lines.push(`  ended: ${rec.ended}`);
    }
    return lines;
  }

  /** What the log says of QoS 2 message `seq`: how many times the broker sent its PUBLISH whole
   *  (null: at most once), how many of those came after the broker's PUBREL for that id had gone
   *  to the client on an earlier connection, and the log around its last re-send (else of its
   *  flows still in the log). */
  diagnose(seq) {
    const r = this.resends.get(seq);
    let lines = this.brokerExcerpts.get(seq) || this.excerpts.get(seq);
    if (!lines) {
      const now = this.connections;
      lines = [...this.ids.values()].filter((h) => h.seq === seq).flatMap((h) => this.render(h, Math.min(now, h.conn + 1)));
    }
    return { publishes: r ? r.publishes : null, afterPubrel: r ? r.afterPubrel : 0, lines };
  }

  async stop() {
    for (const c of [...this.conns]) c.end("proxy stopped");
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}
