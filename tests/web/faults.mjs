// Fault injection for the browser client: 10,000 QoS 1 and 10,000 QoS 2 messages from a page
// (headless Chromium, the npm package in $MQ_PKG_DIR) through WebSocket proxies that keep cutting
// the connections, to a subscriber on the same page; nothing may be lost, no QoS 2 message may
// arrive twice. The browser half of tests/native_faults.rs.
//
//   node tests/web/faults.mjs                      (starts tests/browser/broker.mjs itself)
//   MQ_FAULT_SEED=N node tests/web/faults.mjs      (replays one fault schedule)
//   MQ_FAULT_SESSIONS=indexeddb,memory node ...    (the publisher's, the subscriber's session)
//   MQ_FAULT_RESTARTS=0 node tests/web/faults.mjs  (no broker restarts: 2 by default)
//
// The page (faults-page.js) holds a publisher (session in memory, by default) and a subscriber
// (session in IndexedDB), both clean: false, keepalive 1 s, reconnecting after 20-200 ms. Each
// connects through its own proxy (wsproxy.mjs; the page's leg a WebSocket), which follows the
// MQTT packets and, driven by a random schedule here, closes the connection (abruptly or with a close frame), holds one direction for a moment
// or long enough for keepalive to give up, or cuts right after or in the middle of a chosen
// packet: the broker's PUBREC, PUBACK, PUBCOMP, PUBLISH, PUBREL; the client's PUBREL, PUBLISH,
// PUBREC, PUBACK, PUBCOMP; or closes and then cuts the reconnection's handshake right after the
// client's CONNECT or the broker's CONNACK, or in the middle of the CONNACK. The publisher is
// paced on both schedules (so the cuts spread over the whole run, however fast the messages
// flow) and kept within 2,000 messages of the subscriber (so the broker's queue for it, capped at 10,000, never drops one). Twice, when a
// third and two thirds of the messages arrived, Mosquitto itself is stopped (SIGTERM: it saves
// its persistent sessions) and started again, through broker.mjs' control endpoint.
//
// Every 97th message is large (30-210 KB), so cuts also fall inside packets that span several
// frames. Behind the proxies, Mosquitto with persistence: the publisher's proxy relays to its
// WebSockets listener; the subscriber's to its TCP listener, because Mosquitto 2.0.11's
// WebSockets listener stops about 128 KB into a larger message for about 5 s (whether or not the
// client sends anything meanwhile): cut every second or so, such a message never got through.
//
// Checks: every message arrived (by its sequence number), no QoS 2 message twice but for the
// broker's own duplicates (below), every publish resolved, nothing left in either session, at
// least 50 cuts made on each proxy, the page's wasm memory bounded. Prints sent, received, lost,
// duplicates, cuts (by kind) and the memory figures. Waits are bounded; no timing is asserted.
//
// Mosquitto 2.0 sends a QoS 2 message's PUBLISH again (DUP set, same packet id) after it sent
// its PUBREL, when a reconnection dies right after its CONNACK (its write of the PUBREL it
// re-sends fails, and the next reconnection turns the message back into "publish"): the
// subscriber's handshake cuts provoke it. That breaks [MQTT-4.3.3-1]; the client, having answered
// the PUBREL, must take the PUBLISH as a new message [MQTT-4.3.3-2] and delivers it again. So the
// subscriber's proxy keeps a packet log of the QoS 2 flows (wsproxy.mjs), each QoS 2 duplicate is
// printed with its packets, and it counts as the broker's only if the broker sent that message's
// PUBLISH again after its PUBREL for that id had gone to the client on an earlier connection (as
// often as the extra copies); any other QoS 2 duplicate fails the test (tests/native_faults.rs
// does the same).
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { check, fail, finish, launch, serveDir, sleep, stopBroker, useBroker, brokerLog } from "./lib.mjs";
import { FaultProxy, Rng, UP, DOWN, CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP } from "./wsproxy.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const pkgDir = path.resolve(process.env.MQ_PKG_DIR || path.join(here, "..", "..", "pkg"));
const N = 20_000;
/** Cut steps (closes and armed cuts) each schedule takes over the run: the publisher's pace. */
const STEPS = 60;
const MIN_CUTS = 50;
const KEEPALIVE_S = 1;
/** A long stall outlasts the client's keepalive (PINGREQ after 1 s of silence, 1 s for PINGRESP). */
const LONG_STALL_MS = 3500;
/** The page's wasm memory may grow by at most this much from the start of the run to its end. */
const MEMORY_GROWTH_BOUND = 16 << 20;

// Where the publisher's and the subscriber's sessions live: MQ_FAULT_SESSIONS=pub,sub to change.
const [pubSession, subSession] = (process.env.MQ_FAULT_SESSIONS || "memory,indexeddb").split(",");
if (![pubSession, subSession].every((s) => s === "memory" || s === "indexeddb")) {
  console.error("MQ_FAULT_SESSIONS must be two of memory / indexeddb, comma-separated (publisher, subscriber)");
  process.exit(2);
}
// Broker restarts mid-stream (MQ_FAULT_RESTARTS=n to change).
const RESTARTS = Number(process.env.MQ_FAULT_RESTARTS ?? 2);
const seed = Number(process.env.MQ_FAULT_SEED) || (Math.floor(Math.random() * 0xffffffff) >>> 0) || 1;
console.log(`# fault seed: MQ_FAULT_SEED=${seed}`);
const rng = new Rng(seed);

const step = {
  close: { kind: "close" },
  stall: (dir, long = false) => ({ kind: "stall", dir, long }),
  after: (dir, ptype) => ({ kind: "cut", dir, ptype, mid: false }),
  mid: (dir, ptype) => ({ kind: "cut", dir, ptype, mid: true }),
  // A close, then a cut in the handshake of the reconnection it causes.
  handshake: (dir, ptype, mid = false) => ({ kind: "handshake", dir, ptype, mid }),
};
// UP: client to broker (the client's packets); DOWN: broker to client.
const PUB_STEPS = [
  step.close,
  step.stall(UP),
  step.stall(DOWN),
  step.stall(UP, true),
  step.stall(DOWN, true),
  step.after(DOWN, PUBREC),
  step.after(DOWN, PUBREC),
  step.after(UP, PUBREL),
  step.after(UP, PUBREL),
  step.after(DOWN, PUBACK),
  step.after(DOWN, PUBCOMP),
  step.after(UP, PUBLISH),
  step.mid(UP, PUBLISH),
  step.mid(DOWN, PUBREC),
  step.handshake(DOWN, CONNACK),
  step.handshake(UP, CONNECT),
];
const SUB_STEPS = [
  step.close,
  step.stall(DOWN),
  step.stall(UP, true),
  step.stall(DOWN, true),
  step.after(DOWN, PUBLISH),
  step.after(UP, PUBREC),
  step.after(UP, PUBREC),
  step.after(DOWN, PUBREL),
  step.after(UP, PUBCOMP),
  step.after(UP, PUBACK),
  step.mid(DOWN, PUBLISH),
  step.mid(DOWN, PUBREL),
  step.handshake(DOWN, CONNACK),
  step.handshake(DOWN, CONNACK, true),
];

/** Waits until `f()` or `ms` passed, waking on the proxy's events. */
async function until(proxy, f, ms) {
  const end = Date.now() + ms;
  while (!f() && Date.now() < end) await Promise.race([proxy.changed(), sleep(Math.min(100, end - Date.now()))]);
  return f();
}

/** Applies random steps to `proxy` until `stop.done`: waits for the client to be connected
 *  through it, lets traffic flow a moment, then one step. An armed cut that does not fire within
 *  1.5 s (no matching traffic) is replaced by a close, so the schedule always moves on. */
async function schedule(proxy, steps, rng, stop) {
  while (!stop.done) {
    await until(proxy, () => stop.done || proxy.connected(), 60_000);
    if (stop.done) return;
    await sleep(50 + rng.below(200));
    if (stop.done) return;
    const s = steps[rng.below(steps.length)];
    if (s.kind === "close") {
      proxy.closeAll(rng.below(2) === 0);
      proxy.steps += 1;
    } else if (s.kind === "stall") {
      const before = proxy.cuts;
      proxy.stall(s.dir, s.long ? LONG_STALL_MS : 100 + rng.below(400));
      // A long stall: let keepalive find it (or the stall end) before the next step.
      if (s.long) await until(proxy, () => proxy.cuts > before, LONG_STALL_MS + 1500);
    } else if (s.kind === "handshake") {
      const before = proxy.cuts;
      proxy.closeAll(false);
      proxy.arm(s.dir, s.ptype, 1, s.mid);
      proxy.steps += 1;
      // The reconnection comes after the client's backoff: wait for it (or give up quietly).
      if (!(await until(proxy, () => proxy.cuts > before + 1, 3000))) proxy.disarm();
    } else {
      const before = proxy.cuts;
      proxy.arm(s.dir, s.ptype, 1 + rng.below(20), s.mid);
      proxy.steps += 1;
      if (!(await until(proxy, () => proxy.cuts > before, 1500))) {
        proxy.disarm();
        if (proxy.cuts === before) proxy.closeAll(false, "close (armed cut did not fire)");
      }
    }
  }
}

const mib = (b) => `${(b / 1048576).toFixed(2)} MiB`;

const pageErrors = [];
const consoleErrors = [];
const warnings = new Map();
let failedOpens = 0;
let broker;
let browser;
let server;
const proxies = [];
try {
  broker = await useBroker();
  const pubProxy = await new FaultProxy(broker.env.ws, "publisher", rng.below(0xffffffff) + 1).start();
  // The subscriber's proxy reaches Mosquitto on its TCP listener (see the top of this file).
  // It logs the QoS 2 flows to the subscriber: what each QoS 2 duplicate is diagnosed from.
  const subProxy = await new FaultProxy(`mqtt://127.0.0.1:${broker.env.tcpPort}`, "subscriber", rng.below(0xffffffff) + 1,
    { log: true }).start();
  proxies.push(pubProxy, subProxy);
  server = await serveDir(pkgDir, {
    "/": { type: "text/html", body: '<!doctype html><meta charset="utf-8"><title>mq faults</title><script type="module" src="/faults-page.js"></script>' },
    "/faults-page.js": { type: "text/javascript", body: readFileSync(path.join(here, "faults-page.js")) },
    "/favicon.ico": { type: "image/x-icon", body: "" },
  });
  // --expose-gc and precise memory info: the JS heap figure printed is the live heap, not an
  // estimate.
  browser = await launch({}, ["--js-flags=--expose-gc", "--enable-precise-memory-info"]);
  const page = await browser.newPage();
  page.on("pageerror", (e) => {
    pageErrors.push(String(e));
    console.log(`[page error] ${e}`);
  });
  page.on("console", (m) => {
    const t = m.text();
    if (m.type() === "error") {
      // Chromium's own line for a WebSocket that failed to open (the proxy refused it, or the
      // broker was down) is expected; any other error is not.
      if (/^WebSocket connection to '.*' failed/.test(t)) failedOpens += 1;
      else {
        consoleErrors.push(t);
        console.log(`[page console.error] ${t}`);
      }
    } else if (m.type() === "warning") {
      // The driver's warning about an acknowledgement for an id with nothing in flight.
      warnings.set(t, (warnings.get(t) || 0) + 1);
    }
  });
  await page.goto(server.origin);
  await page.waitForFunction(() => window.faults);
  const prefix = `faults-${process.pid}-${Date.now() % 100000}`;
  const started = await page.evaluate((o) => window.faults.start(o), {
    pubUrl: pubProxy.url,
    subUrl: subProxy.url,
    pubId: `${prefix}-pub`,
    subId: `${prefix}-sub`,
    prefix,
    n: N,
    window: 100,
    lag: 2000,
    keepalive: KEEPALIVE_S,
    minDelay: 20,
    maxDelay: 200,
    connectTimeout: 3000,
    pubSession,
    subSession,
  });
  check(started.granted.length === 1 && started.granted[0].qos === 2, `subscribed ${prefix}/# at QoS 2 through the proxy`);
  console.log(`# sessions: publisher ${pubSession}, subscriber ${subSession}`);
  console.log(`# wasm memory at the start: ${mib(started.memStart)}; JS heap ${mib(started.heapStart)}`);

  const t0 = Date.now();
  const stop = { done: false };
  const runs = [schedule(pubProxy, PUB_STEPS, new Rng(rng.below(0xffffffff) + 1), stop),
    schedule(subProxy, SUB_STEPS, new Rng(rng.below(0xffffffff) + 1), stop)];
  // Message i waits until both schedules took i * STEPS / N cut steps.
  let p = await page.evaluate(() => window.faults.progress());
  let lastLog = Date.now();
  const deadline = Date.now() + 600_000;
  let restarts = 0;
  while (p.completed + p.failed < N && Date.now() < deadline) {
    if (restarts < RESTARTS && p.distinct >= ((restarts + 1) * N) / (RESTARTS + 1)) {
      // Mosquitto stopped (SIGTERM: it saves its sessions) and started again, mid-stream.
      restarts += 1;
      for (const what of ["stop", "start"]) {
        const res = await fetch(`${broker.env.control}/${what}`, { method: "POST" });
        if (!res.ok) throw new Error(`broker ${what}: ${res.status} ${await res.text()}`);
      }
      console.log(`# broker restarted after the subscriber had ${p.distinct} messages`);
    }
    const steps = Math.min(pubProxy.steps, subProxy.steps);
    const allowed = Math.min(N, Math.floor(((steps + 1) * N) / STEPS));
    p = await page.evaluate((k) => window.faults.allow(k), allowed);
    if (Date.now() - lastLog > 10_000) {
      lastLog = Date.now();
      console.log(`# ${Math.round((Date.now() - t0) / 1000)} s: published ${p.next}, completed ${p.completed}, ` +
        `received ${p.distinct} distinct; cuts ${pubProxy.cuts} / ${subProxy.cuts}`);
    }
    await sleep(50);
  }
  const publishSecs = (Date.now() - t0) / 1000;
  check(restarts === RESTARTS, `the broker was restarted ${RESTARTS} times mid-stream (${restarts})`);
  check(p.completed + p.failed === N, `all ${N} publishes settled (${p.completed} resolved, ${p.failed} rejected)`);
  stop.done = true;
  await Promise.all(runs);
  // Every message, then until nothing more arrives for a second (late duplicates count too).
  const endBy = Date.now() + 120_000;
  let last = -1;
  for (;;) {
    p = await page.evaluate(() => window.faults.progress());
    if (p.distinct >= N && p.received === last) break;
    if (Date.now() > endBy) break;
    last = p.distinct >= N ? p.received : -1;
    await sleep(p.distinct >= N ? 1000 : 200);
  }
  const r = await page.evaluate(() => window.faults.finish());
  const secs = (Date.now() - t0) / 1000;

  // Each QoS 2 duplicate, diagnosed from the subscriber proxy's log: the broker's when it sent the
  // PUBLISH again after its PUBREL as many times as the message arrived more than once.
  let byBroker = 0;
  const unexplained = [];
  for (const [k, [i, count]] of r.q2twice.entries()) {
    const d = subProxy.diagnose(i);
    const extra = count - 1;
    byBroker += Math.min(d.afterPubrel, extra);
    const explained = d.afterPubrel >= extra;
    if (!explained) unexplained.push(i);
    // The packets of the first five, and of the first twenty not explained.
    if (k < 5 || (!explained && unexplained.length <= 20)) {
      console.log(`# faults: QoS 2 message ${i} delivered ${count} times; the broker sent its PUBLISH ` +
        `${d.publishes === null ? "once (as far as the log tells)" : `${d.publishes} times`}, ${d.afterPubrel} of them ` +
        `after its PUBREL for that id on an earlier connection [MQTT-4.3.3-1]. Subscriber proxy log:`);
      for (const l of d.lines.length ? d.lines : ["(nothing kept)"]) console.log(`#     ${l}`);
    }
  }
  if (r.q2twice.length >= 1000) unexplained.push("(1,000 or more messages twice: the rest not diagnosed)");

  console.log(`# faults: sent ${N} (10,000 QoS 1 + 10,000 QoS 2; published in ${publishSecs.toFixed(1)} s, ` +
    `all received after ${secs.toFixed(1)} s), received ${r.received} (${r.distinct} distinct, ${r.dupFlagged} with DUP set), ` +
    `lost ${r.lost}, QoS 1 duplicates ${r.q1dups}, QoS 2 duplicates ${r.q2dups} (${byBroker} the broker's: ` +
    `a PUBLISH sent again after its PUBREL); broker restarts ${restarts}`);
  console.log(`# faults: publisher proxy ${pubProxy.summary()}`);
  console.log(`# faults: subscriber proxy ${subProxy.summary()}; the broker's QoS 2 PUBLISHes sent again ` +
    `after its PUBREL: ${subProxy.resentAfterPubrel} (for ${subProxy.resentAfterPubrelMessages} messages)`);
  console.log(`# faults: publisher events ${JSON.stringify(r.events.pub)}; subscriber events ${JSON.stringify(r.events.sub)}`);
  console.log(`# faults: most publishes outstanding ${r.mostOutstanding}; sessions before end: ` +
    `publisher ${JSON.stringify(r.sessions.pub)}, subscriber ${JSON.stringify(r.sessions.sub)}; ` +
    `stored sessions after end: publisher ${JSON.stringify(r.stored.pub)}, subscriber ${JSON.stringify(r.stored.sub)}`);
  console.log(`# faults: wasm memory ${mib(r.memStart)} at the start, ${mib(r.memEnd)} at the end (most ${mib(r.memMax)}); ` +
    `JS heap ${mib(r.heapStart)} -> ${mib(r.heapEnd)}`);

  console.log(`# faults: WebSocket opens that failed ${failedOpens}; page warnings ${JSON.stringify([...warnings])}`);
  check(pageErrors.length === 0 && consoleErrors.length === 0,
    `no uncaught error and no console error in the page (${pageErrors.length} uncaught, ${consoleErrors.length} console errors)`);
  check(r.wrong.length === 0, `no unexpected message (${JSON.stringify(r.wrong.slice(0, 5))})`);
  check(r.lost === 0, `no message lost (${r.lost} missing, first ${r.firstLost})`);
  check(unexplained.length === 0, `no QoS 2 message delivered twice but for the broker's re-sends after its PUBREL ` +
    `(${r.q2dups} extra copies, ${byBroker} the broker's; not explained: ${JSON.stringify(unexplained.slice(0, 20))})`);
  check(r.failed === 0 && r.completed === N, `every publish resolved (${r.failed} rejected: ${JSON.stringify(r.firstFailed)})`);
  check(pubProxy.cuts >= MIN_CUTS, `at least ${MIN_CUTS} cuts on the publisher's connections (${pubProxy.cuts})`);
  check(subProxy.cuts >= MIN_CUTS, `at least ${MIN_CUTS} cuts on the subscriber's connections (${subProxy.cuts})`);
  const empty = (s) => s.inflight === 0 && s.queued === 0 && s.incoming === 0;
  // A session kept in memory stores nothing: its stored one is empty.
  const subs = subSession === "indexeddb" ? 1 : 0;
  check(empty(r.sessions.pub) && empty(r.sessions.sub) && empty(r.stored.pub) && empty(r.stored.sub) &&
    r.stored.pub.subscriptions === 0 && r.stored.sub.subscriptions === subs,
    "nothing left in either session once everything arrived (the subscriber's holds its subscription)");
  check(r.memEnd - r.memStart <= MEMORY_GROWTH_BOUND,
    `the page's wasm memory grew by at most ${mib(MEMORY_GROWTH_BOUND)} (${mib(r.memEnd - r.memStart)})`);
} catch (e) {
  fail(e);
  if (brokerLog) console.log(brokerLog);
} finally {
  // A broker of scripts/test.sh's is left running for the steps after this one, whatever failed.
  if (broker && !broker.started) await fetch(`${broker.env.control}/start`, { method: "POST" }).catch(() => {});
  if (browser) await browser.close();
  if (server) server.close();
  for (const p of proxies) await p.stop();
  await stopBroker();
}
finish();
