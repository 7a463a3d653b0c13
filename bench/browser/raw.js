// The raw WebSocket floor of the browser benchmark: no client library, the least work any
// client could do for the same stream. Every PUBLISH of a run is encoded before the clock starts
// (packet ids included); the publisher sends them as slices of that buffer, as many per frame as
// the window allows, and answers PUBREC with PUBREL; the subscriber counts
// the PUBLISH packets coming back and answers them (PUBACK, PUBREC, PUBCOMP), one frame per
// received frame. Publisher and subscriber are one connection or two, as for the libraries. At QoS 0 the window counts messages sent and not yet received (no
// acknowledgement to count): sent all at once, 16 KiB messages overran rumqttd, which dropped
// about one in ten on the way to the subscriber. Same broker, same topic, same window and same end condition as
// the libraries (every message received and, at QoS 1/2, every one completed).

const enc = new TextEncoder();
function remainingLength(n) {
  const out = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 128;
    out.push(b);
  } while (n > 0);
  return out;
}
function packet(first, body) {
  const rl = remainingLength(body.length);
  const out = new Uint8Array(1 + rl.length + body.length);
  out[0] = first;
  out.set(rl, 1);
  out.set(body, 1 + rl.length);
  return out;
}
const str = (s) => {
  const b = enc.encode(s);
  return [b.length >> 8, b.length & 255, ...b];
};
const connect = (clientId) => packet(0x10, new Uint8Array([...str("MQTT"), 4, 2, 0, 60, ...str(clientId)]));
const subscribe = (topic, qos) => packet(0x82, new Uint8Array([0, 1, ...str(topic), qos]));
const ack = (type, id) => [type, 2, id >> 8, id & 255];

/** Calls `onPacket(first byte, body)` for every whole packet in the frames given to `push`. */
function reader(onPacket) {
  let buf = new Uint8Array(0);
  return (data) => {
    let bytes = new Uint8Array(data);
    if (buf.length) {
      const joined = new Uint8Array(buf.length + bytes.length);
      joined.set(buf);
      joined.set(bytes, buf.length);
      bytes = joined;
    }
    let at = 0;
    for (;;) {
      let len = 0, mul = 1, i = at + 1, done = false;
      while (i < bytes.length && i < at + 5) {
        const b = bytes[i++];
        len += (b & 127) * mul;
        mul *= 128;
        if (!(b & 128)) {
          done = true;
          break;
        }
      }
      if (!done || i + len > bytes.length) break;
      onPacket(bytes[at], bytes.subarray(i, i + len));
      at = i + len;
    }
    buf = bytes.slice(at);
  };
}

function open(url, clientId, onPacket) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, "mqtt");
    ws.binaryType = "arraybuffer";
    let connected = false;
    const push = reader((first, body) => {
      if (!connected && first >> 4 === 2) {
        connected = true;
        return body[1] === 0 ? resolve(ws) : reject(new Error(`CONNACK ${body[1]}`));
      }
      onPacket(first, body);
    });
    ws.onopen = () => ws.send(connect(clientId));
    ws.onmessage = (e) => push(e.data);
    ws.onerror = () => reject(new Error("WebSocket error"));
  });
}

/** `one`: a single connection publishes to the topic it subscribes to (the method);
 *  otherwise a publisher and a subscriber connection. */
export async function benchRaw(url, tag, n, qos, window_, limitMs, payload, one = false) {
  const topic = `bench/${tag}`;
  // Every PUBLISH, encoded now.
  const offsets = new Array(n + 1);
  const t = str(topic);
  const packetOf = (id) => packet(0x30 | (qos << 1), new Uint8Array([...t, ...(qos ? [id >> 8, id & 255] : []), ...payload]));
  const size = packetOf(1).length;
  const all = new Uint8Array(size * n);
  for (let i = 0; i < n; i++) {
    const p = packetOf((i % 65535) + 1);
    all.set(p, i * size);
    offsets[i] = i * size;
  }
  offsets[n] = n * size;

  let received = 0, completed = 0, sent = 0, inFlight = 0, check;
  const finished = new Promise((resolve) => {
    const timer = setTimeout(resolve, limitMs);
    check = () => {
      if (received >= n && (qos === 0 || completed >= n)) (clearTimeout(timer), resolve());
    };
  });
  let onSuback;
  let pub = null; // the publisher, once connected
  const gotSuback = new Promise((r) => (onSuback = r));
  const reply = (ws, bytes) => (ws.replies ??= []).push(...bytes);
  // Every packet either role gets (their types do not overlap): the subscriber's PUBLISH, PUBREL
  // and SUBACK, the publisher's PUBACK, PUBREC and PUBCOMP.
  const onPacket = (ws, first, body) => {
    const type = first >> 4;
    if (type === 3) {
      received += 1;
      const q = (first >> 1) & 3;
      if (q) {
        const tl = (body[0] << 8) | body[1];
        const id = (body[2 + tl] << 8) | body[3 + tl];
        reply(ws, ack(q === 1 ? 0x40 : 0x50, id));
      }
    } else if (type === 6) reply(ws, ack(0x70, (body[0] << 8) | body[1]));
    else if (type === 9) onSuback();
    else if (type === 4 || type === 7) (completed += 1), (inFlight -= 1);
    else if (type === 5) reply(ws, ack(0x62, (body[0] << 8) | body[1]));
  };
  const flush = (ws) => {
    if (ws.replies && ws.replies.length) ws.send(new Uint8Array(ws.replies));
    ws.replies = null;
  };
  // After each received frame: the replies it asked for in one frame, then more messages
  // (at QoS 0 the subscriber's receipts make room too).
  const onFrames = (ws) => {
    const push = ws.onmessage;
    ws.onmessage = (e) => {
      push(e);
      flush(ws);
      if (pub && (ws === pub || qos === 0)) more(pub);
      check();
    };
  };
  const sub = await open(url, `${tag}-s`, (first, body) => onPacket(sub, first, body));
  onFrames(sub);
  sub.send(subscribe(topic, qos));
  await gotSuback;

  const more = (ws) => {
    const k = Math.min(window_ - (qos ? inFlight : sent - received), n - sent);
    if (k <= 0) return;
    ws.send(all.subarray(offsets[sent], offsets[sent + k]));
    sent += k;
    if (qos) inFlight += k;
  };
  if (one) pub = sub;
  else {
    const p = await open(url, `${tag}-p`, (first, body) => onPacket(p, first, body));
    onFrames(p);
    pub = p;
  }
  const t0 = performance.now();
  more(pub);
  await finished;
  const ms = performance.now() - t0;
  for (const ws of new Set([pub, sub])) {
    ws.send(new Uint8Array([0xe0, 0]));
    ws.close();
  }
  return { ms, received };
}
