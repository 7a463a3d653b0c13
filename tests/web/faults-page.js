// The page of tests/web/faults.mjs: a publisher and a subscriber, both the package's MqttClient,
// each connected through its own fault proxy (tests/web/wsproxy.mjs); both clean: false, a short
// keepalive and fast reconnects (the sessions' places are the test's options). The test (in Node) drives it through
// `window.faults`:
//
//   start(opts)      connects both, subscribes <prefix>/#, records the memory at the start
//   allow(k)         lets the publisher go up to message k (it also stays within `lag` messages
//                    of what the subscriber has, and within `window` outstanding publishes);
//                    returns the progress
//   finish()         ends both clients and returns the tally: the messages lost, the QoS 2 ones
//                    that arrived more than once (and how often), the clients' sessions, their
//                    events, the memory figures
//
// Message i carries the payload String(i) (every 97th padded with spaces to 30-210 KB, so cuts
// also fall inside packets that span several frames): QoS 1 on <prefix>/q1 when i is even, QoS 2
// on <prefix>/q2 when odd.
import init, { MqttClient } from "/index.js";
import wasmInit from "/mq.js";

const S = {
  n: 0,
  counts: null,
  distinct: 0,
  received: 0,
  dupFlagged: 0,
  wrong: [],
  next: 0,
  allowed: 0,
  outstanding: 0,
  mostOutstanding: 0,
  completed: 0,
  failed: [],
  events: { pub: {}, sub: {} },
  memory: null,
  memStart: 0,
  memMax: 0,
  heapStart: 0,
};
let pub;
let sub;
let opts;

const bump = (who, what) => (S.events[who][what] = (S.events[who][what] || 0) + 1);

function watch(client, who) {
  for (const e of ["connect", "offline", "close", "reconnect"]) client.on(e, () => bump(who, e));
  client.on("error", (e) => bump(who, `error ${e && e.code}`));
}

function sampleMemory() {
  S.memMax = Math.max(S.memMax, S.memory.buffer.byteLength);
}

/** The JS heap in use after a full collection (Chromium with --expose-gc and precise memory info). */
function heap() {
  if (typeof globalThis.gc === "function") globalThis.gc();
  return performance.memory ? performance.memory.usedJSHeapSize : 0;
}

/** Message i's payload. */
function payloadOf(i) {
  return i % 97 === 96 ? String(i).padEnd(((i % 7) + 1) * 30_000, " ") : String(i);
}

function onMessage(topic, payload, packet) {
  S.received += 1;
  if (packet.dup) S.dupFlagged += 1;
  const text = new TextDecoder().decode(payload);
  const i = Number(text.trimEnd());
  const want = i % 2 === 0 ? [`${opts.prefix}/q1`, 1] : [`${opts.prefix}/q2`, 2];
  if (!Number.isInteger(i) || i < 0 || i >= S.n || text !== payloadOf(i) || topic !== want[0] || packet.qos !== want[1]) {
    if (S.wrong.length < 20) S.wrong.push([topic, text.slice(0, 20), payload.length, packet.qos]);
    return;
  }
  S.counts[i] += 1;
  if (S.counts[i] === 1) {
    S.distinct += 1;
    publishMore();
  }
}

function publishMore() {
  while (S.next < S.n && S.next < S.allowed && S.outstanding < opts.window && S.next < S.distinct + opts.lag) {
    const i = S.next++;
    const qos = i % 2 === 0 ? 1 : 2;
    S.outstanding += 1;
    S.mostOutstanding = Math.max(S.mostOutstanding, S.outstanding);
    pub.publish(`${opts.prefix}/q${qos}`, payloadOf(i), { qos }).then(
      () => {
        S.completed += 1;
        S.outstanding -= 1;
        publishMore();
      },
      (e) => {
        if (S.failed.length < 20) S.failed.push([i, e && e.code, e && e.message]);
        else S.failed.push(null);
        S.outstanding -= 1;
        publishMore();
      },
    );
  }
}

function progress() {
  sampleMemory();
  return {
    next: S.next,
    completed: S.completed,
    failed: S.failed.length,
    outstanding: S.outstanding,
    distinct: S.distinct,
    received: S.received,
  };
}

window.faults = {
  async start(o) {
    opts = o;
    S.n = o.n;
    S.counts = new Uint32Array(o.n);
    await init();
    // wasm-bindgen's init, once the module is loaded, returns its exports: the memory among them.
    S.memory = (await wasmInit()).memory;
    const common = {
      clean: false,
      keepalive: o.keepalive,
      reconnect: { minDelay: o.minDelay, maxDelay: o.maxDelay },
      connectTimeout: o.connectTimeout,
    };
    await MqttClient.clearSession(o.subUrl, o.subId);
    await MqttClient.clearSession(o.pubUrl, o.pubId);
    sub = await MqttClient.connect(o.subUrl, { ...common, clientId: o.subId, session: o.subSession });
    watch(sub, "sub");
    sub.on("message", onMessage);
    const granted = await sub.subscribe(`${o.prefix}/#`, { qos: 2 });
    pub = await MqttClient.connect(o.pubUrl, { ...common, clientId: o.pubId, session: o.pubSession });
    watch(pub, "pub");
    S.memStart = S.memory.buffer.byteLength;
    S.memMax = S.memStart;
    S.heapStart = heap();
    setInterval(sampleMemory, 100);
    return { granted, memStart: S.memStart, heapStart: S.heapStart };
  },

  allow(k) {
    S.allowed = Math.max(S.allowed, k);
    publishMore();
    return progress();
  },

  progress,

  async finish() {
    sampleMemory();
    const memEnd = S.memory.buffer.byteLength;
    const count = (s) => ({ inflight: s.inflight.length, queued: s.queued.length, incoming: s.incoming.length, subscriptions: s.subscriptions.length });
    const sessions = { pub: count(pub.session()), sub: count(sub.session()) };
    await pub.end();
    await sub.end();
    const stored = {
      pub: count(await MqttClient.storedSession(opts.pubUrl, opts.pubId)),
      sub: count(await MqttClient.storedSession(opts.subUrl, opts.subId)),
    };
    const lost = [];
    const twice = [];
    let q1dups = 0;
    let q2dups = 0;
    for (let i = 0; i < S.n; i++) {
      const c = S.counts[i];
      if (c === 0) lost.push(i);
      else if (c > 1) {
        if (i % 2 === 0) q1dups += c - 1;
        else {
          q2dups += c - 1;
          twice.push([i, c]);
        }
      }
    }
    return {
      lost: lost.length,
      firstLost: lost.slice(0, 20),
      q1dups,
      q2dups,
      // The QoS 2 messages delivered more than once, with how often (the first 1,000).
      q2twice: twice.slice(0, 1000),
      distinct: S.distinct,
      received: S.received,
      dupFlagged: S.dupFlagged,
      wrong: S.wrong,
      published: S.next,
      completed: S.completed,
      failed: S.failed.length,
      firstFailed: S.failed.filter(Boolean).slice(0, 5),
      mostOutstanding: S.mostOutstanding,
      sessions,
      stored,
      events: S.events,
      memStart: S.memStart,
      memEnd,
      memMax: S.memMax,
      heapStart: S.heapStart,
      heapEnd: heap(),
    };
  },
};
