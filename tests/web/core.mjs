// The npm package's wasm core through its JS binding (js/core.js), in Node, no browser:
//
//   MQ_CORE_WASM=pkg/mq_bg.wasm node tests/web/core.mjs
//
// (a) every Core method and describeRecords, bad inputs included (they must be CoreErrors,
// never a trap), a load() and a loadSync() racing, payloads too large for the packet size or
// for MQTT itself, one network frame of many packets; (b) QoS 0/1/2 round trips both ways
// through a real Mosquitto over TCP (node:net), and a kept session's records restored into a new
// Core. The broker: scripts/test.sh's (MQ_BROKER_* set), else tests/browser/broker.mjs started
// here and stopped at the end (tests/web/lib.mjs `useBroker`).
//
// Prints every check, then "N passed, N failed" (and cargo's "test result:" line, which
// scripts/test.sh counts); exits non-zero on a failure.

import { readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { stopBroker, useBroker } from "./lib.mjs";

const WASM = path.resolve(process.env.MQ_CORE_WASM || "pkg/mq_bg.wasm");
const CORE_JS = new URL("../../js/core.js", import.meta.url).href;
const bytes = readFileSync(WASM);
const core = await import(CORE_JS);
const { load, loadSync, isLoaded, Core, describeRecords } = core;

let passes = 0;
let failures = 0;
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (ok) passes += 1;
  else failures += 1;
  return ok;
}
const eq = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const hex = (u) => Buffer.from(u).toString("hex");
const u8 = (...b) => Uint8Array.from(b);
const text = (s) => new TextEncoder().encode(s);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs `f`, which must throw an Error with this code (and returnCode, if given). */
function throws(what, code, f, returnCode) {
  try {
    f();
  } catch (e) {
    const ok = e instanceof Error && e.code === code && (returnCode === undefined || e.returnCode === returnCode);
    return check(ok, `${what}: ${code}${ok ? "" : ` (got ${e && e.code}: ${e && e.message})`}`);
  }
  return check(false, `${what}: ${code} (nothing thrown)`);
}

async function section(name, f) {
  console.log(`-- ${name}`);
  try {
    await f();
  } catch (e) {
    check(false, `${name}: ${e && e.stack ? e.stack : e}`);
  }
}

const CONFIG = {
  clientId: "core-test",
  clean: true,
  keepalive: 60,
  connectTimeout: 5000,
  maxInflight: 20,
  maxQueued: 100,
  maxPacketSize: 1 << 20,
};
const config = (over = {}) => ({ ...CONFIG, ...over });

// ---- wire bytes a broker sends ----
const CONNACK = (sessionPresent = 0, code = 0) => u8(0x20, 2, sessionPresent, code);
const ack = (type, pkid) => u8(type, 2, pkid >> 8, pkid & 255);
function publishPacket(topic, payload, qos, pkid, { retain = false, dup = false } = {}) {
  const t = text(topic);
  const body = [t.length >> 8, t.length & 255, ...t];
  if (qos) body.push(pkid >> 8, pkid & 255);
  body.push(...payload);
  return u8(0x30 | (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0), body.length, ...body);
}

/** A PUBLISH of any size (the remaining length as a variable byte integer). */
function bigPublishPacket(topic, payload, qos, pkid) {
  const t = text(topic);
  const head = [t.length >> 8, t.length & 255, ...t];
  if (qos) head.push(pkid >> 8, pkid & 255);
  const len = head.length + payload.length;
  const rl = [];
  for (let n = len; ; ) {
    rl.push((n & 127) | (n > 127 ? 128 : 0));
    n >>= 7;
    if (!n) break;
  }
  const out = new Uint8Array(1 + rl.length + len);
  out[0] = 0x30 | (qos << 1);
  out.set(rl, 1);
  out.set(head, 1 + rl.length);
  out.set(payload, 1 + rl.length + head.length);
  return out;
}

/** f(), or "threw CODE" if it threw. */
function attempt(f) {
  try {
    return f();
  } catch (e) {
    return `threw ${e && e.code}`;
  }
}

/** A core connected (CONNACK 0 taken), its first outputs drained. */
function connected(over) {
  const c = new Core(config(over), []);
  c.handleConnected(1000);
  c.poll();
  c.handleBytes(1001, CONNACK());
  c.poll();
  return c;
}

await section("loading", async () => {
  check(!isLoaded(), "isLoaded() is false before load()");
  throws("a Core before load()", "CLOSED", () => new Core(config(), []));
  const p = load(bytes);
  check(p === load(), "load() twice gives the same promise");
  await p;
  check(isLoaded(), "load(bytes) loads");
  loadSync(bytes);
  check(isLoaded(), "loadSync() once loaded does nothing");
  // Fresh module instances for the other ways in.
  const a = await import(CORE_JS + "?module");
  a.loadSync(new WebAssembly.Module(bytes));
  check(a.isLoaded() && new a.Core(config(), []).clientId === "core-test", "loadSync(WebAssembly.Module)");
  const b = await import(CORE_JS + "?wrapped");
  b.loadSync({ module: bytes });
  check(b.isLoaded(), "loadSync({ module: bytes })");
  const c = await import(CORE_JS + "?init");
  await c.load({ module_or_path: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) });
  check(c.isLoaded(), "load({ module_or_path: ArrayBuffer })");
  const d = await import(CORE_JS + "?response");
  await d.load(Promise.resolve(new Response(bytes, { headers: { "Content-Type": "application/wasm" } })));
  check(d.isLoaded(), "load(Promise<Response>) (instantiateStreaming)");
  const e = await import(CORE_JS + "?octets");
  await e.load(new Response(bytes, { headers: { "Content-Type": "application/octet-stream" } }));
  check(e.isLoaded(), "load(Response) without application/wasm falls back to the bytes");
  const f = await import(CORE_JS + "?bad");
  let err;
  await f.load(u8(0, 1, 2, 3)).catch((e) => (err = e));
  check(err && err.code === "INVALID_ARGUMENT" && err.cause && !f.isLoaded(), "load() of bytes that are no module: INVALID_ARGUMENT");
  err = undefined;
  await f.load(new Response("nope", { status: 404 })).catch((e) => (err = e));
  check(err && err.code === "CONNECTION_FAILED" && !f.isLoaded(), "load() of an HTTP 404: CONNECTION_FAILED");
  err = undefined;
  await f.load("http://127.0.0.1:1/mq_bg.wasm").catch((e) => (err = e));
  check(err && err.code === "CONNECTION_FAILED", "load() of a URL nobody serves: CONNECTION_FAILED");
  throws("loadSync() of bytes that are no module", "INVALID_ARGUMENT", () => f.loadSync(u8(1, 2)));
  await f.load(bytes);
  check(f.isLoaded(), "load() after a failed one tries again");
});

await section("load() pending, then loadSync()", async () => {
  // A fresh module instance: load() starts, loadSync() (initSync) loads first, a Core is made in
  // between; the load() settling later must not swap the module its handle lives in.
  const m = await import(CORE_JS + "?race");
  const pending = m.load(bytes);
  m.loadSync(bytes);
  const a = new m.Core(config({ clientId: "a" }), []);
  a.publish(1, "t", text("a's"), 1, false);
  await pending;
  check(m.isLoaded(), "load() pending, then loadSync(): both settle");
  check(attempt(() => a.clientId) === "a" && attempt(() => a.queued) === 1, "a Core made in between keeps working after the load settled");
  const b = new m.Core(config({ clientId: "b" }), []);
  check(attempt(() => a.clientId) === "a" && b.clientId === "b", "a second Core does not share its handle");
  b.publish(2, "t", text("b's"), 1, false);
  b.publish(2, "t", text("b's too"), 1, false);
  check(attempt(() => a.queued) === 1 && b.queued === 2, "each core has its own queue");
  b.free();
  check(attempt(() => a.clientId) === "a", "freeing the second leaves the first alone");
  a.free();
});

await section("constructor and getters", () => {
  const c = new Core(config({ clientId: "é-ü/1" }), []);
  check(c.clientId === "é-ü/1", "clientId");
  check(c.connected === false && c.inflight === 0 && c.queued === 0, "connected, inflight, queued of a new core");
  c.free();
  const bad = [
    ["keepalive 65536", { keepalive: 65536 }, "INVALID_ARGUMENT"],
    ["keepalive 1.5", { keepalive: 1.5 }, "INVALID_ARGUMENT"],
    ["keepalive missing", { keepalive: undefined }, "INVALID_ARGUMENT"],
    ["keepalive -1", { keepalive: -1 }, "INVALID_ARGUMENT"],
    ["connectTimeout NaN", { connectTimeout: NaN }, "INVALID_ARGUMENT"],
    ["pingTimeout -5", { pingTimeout: -5 }, "INVALID_ARGUMENT"],
    ["maxInflight 0", { maxInflight: 0 }, "INVALID_ARGUMENT"],
    ["maxInflight 65536", { maxInflight: 65536 }, "INVALID_ARGUMENT"],
    ["maxQueued 2^32", { maxQueued: 2 ** 32 }, "INVALID_ARGUMENT"],
    ["maxPacketSize 15", { maxPacketSize: 15 }, "INVALID_ARGUMENT"],
    ["empty client id without clean", { clientId: "", clean: false }, "INVALID_ARGUMENT"],
    ["client id with a lone surrogate", { clientId: "a\ud800b" }, "INVALID_ARGUMENT"],
    ["client id not a string", { clientId: 7 }, "INVALID_ARGUMENT"],
    ["client id longer than 65535 bytes", { clientId: "x".repeat(70000) }, "TOO_LARGE"],
    ["user name with a lone surrogate", { username: "\udc00" }, "INVALID_ARGUMENT"],
    ["password without user name", { password: u8(1) }, "INVALID_ARGUMENT"],
    ["password not a Uint8Array", { username: "u", password: "p" }, "INVALID_ARGUMENT"],
    ["will topic with a wildcard", { will: { topic: "a/#", payload: u8(), qos: 0, retain: false } }, "INVALID_TOPIC"],
    ["will topic with a lone surrogate", { will: { topic: "\ud83d", payload: u8(), qos: 0, retain: false } }, "INVALID_TOPIC"],
    ["will QoS 3", { will: { topic: "w", payload: u8(), qos: 3, retain: false } }, "INVALID_ARGUMENT"],
  ];
  for (const [what, over, code] of bad) throws(`new Core: ${what}`, code, () => new Core(config(over), []));
  throws("new Core: records not an array", "INVALID_ARGUMENT", () => new Core(config(), "x"));
  throws("new Core: a record not a Uint8Array", "INVALID_ARGUMENT", () => new Core(config(), ["x"]));
  throws("new Core: a corrupt record", "SESSION_CORRUPT", () => new Core(config(), [u8(0x5a, 1, 2)]));
  throws("new Core: an empty record", "SESSION_CORRUPT", () => new Core(config(), [u8()]));
  const w = new Core(config({ username: "u", password: u8(1, 2), will: { topic: "w/t", payload: text("bye"), qos: 1, retain: true }, pingTimeout: 500 }), []);
  w.handleConnected(0);
  const p = w.poll();
  // CONNECT flags: user name, password, will retain, will QoS 1, will, clean.
  check(p.bytes[0] === 0x10 && p.bytes[9] === (0x80 | 0x40 | 0x20 | 0x08 | 0x04 | 0x02), "CONNECT with user name, password and will");
  w.free();
});

await section("connect, keepalive, disconnect", () => {
  const c = new Core(config({ keepalive: 10 }), []);
  c.handleConnected(1000);
  let p = c.poll();
  check(p.bytes[0] === 0x10 && p.ops.length === 0 && p.events.length === 0, "handleConnected: CONNECT out, nothing else");
  check(p.timeout === 6000, "the CONNACK deadline is the timeout");
  c.handleBytes(1001, CONNACK(0));
  p = c.poll();
  check(eq(p.events, [{ type: "connected", sessionPresent: false }]) && c.connected, "CONNACK 0: connected");
  check(p.timeout === 11000, "then the keepalive deadline (10 s after the last packet sent)");
  check(p.bytes.length === 0, "no bytes to send: an empty Uint8Array");
  c.handleTimeout(11000);
  p = c.poll();
  check(hex(p.bytes) === "c000", "handleTimeout at the deadline: PINGREQ");
  c.handleBytes(11001, u8(0xd0, 0));
  c.disconnect(12000);
  p = c.poll();
  check(hex(p.bytes) === "e000", "disconnect: DISCONNECT");
  const d = p.events[0];
  check(d && d.type === "disconnected" && d.requested && !d.retryable && d.error.code === "CLOSED" && d.error instanceof Error,
    "disconnect: a disconnected event, requested, not retryable, code CLOSED");
  check(!c.connected, "no longer connected");
  throws("publish after disconnect", "CLOSED", () => c.publish(12001, "t", u8(), 0, false));
  c.handleConnected(13000);
  c.poll();
  c.handleClosed(13001);
  p = c.poll();
  check(p.events[0] && p.events[0].error.code === "CONNECTION_LOST" && p.events[0].retryable && !p.events[0].requested,
    "handleClosed: CONNECTION_LOST, retryable");
  check(p.timeout === undefined, "no timeout while offline");
  c.free();

  const r = new Core(config(), []);
  r.handleConnected(0);
  r.poll();
  r.handleBytes(1, CONNACK(0, 5));
  p = r.poll();
  const e = p.events[0];
  check(e && e.error.code === "CONNECT_REFUSED" && e.error.returnCode === 5 && !e.retryable, "CONNACK 5: CONNECT_REFUSED, returnCode 5, not retryable");
  r.handleConnected(2);
  r.poll();
  r.handleBytes(3, CONNACK(0, 3));
  check(r.poll().events[0].retryable === true, "CONNACK 3 (server unavailable) is retryable");
  r.handleConnected(4);
  r.poll();
  r.handleTimeout(5003);
  check(r.poll().events.length === 0, "no timeout before the connect deadline");
  r.handleTimeout(5004);
  check(r.poll().events[0].error.code === "TIMEOUT", "no CONNACK within connectTimeout: TIMEOUT");
  r.free();

  const m = connected();
  m.handleBytes(2000, u8(0xf0, 0));
  const pe = m.poll().events[0];
  check(pe && pe.error.code === "PROTOCOL_ERROR" && /MQTT-2.2.1/.test(pe.error.message), "a reserved packet type: PROTOCOL_ERROR naming the rule");
  m.free();
});

await section("publish", () => {
  const c = connected();
  const id0 = c.publish(2000, "a/b", text("zero"), 0, false);
  let p = c.poll();
  check(p.bytes[0] === 0x30 && eq(p.events, [{ type: "published", id: id0 }]) && p.ops.length === 0, "QoS 0: sent and published at once");
  const id1 = c.publish(2001, "a/b", text("one"), 1, true);
  p = c.poll();
  check(id1 === id0 + 1, "request ids increase");
  check(p.ops.length === 1 && p.ops[0].key === "o00001" && p.ops[0].value instanceof Uint8Array, "QoS 1: a store op for the in-flight message, key o00001");
  check(p.bytes[0] === 0x33 && c.inflight === 1, "QoS 1: PUBLISH with retain out, one in flight");
  c.handleBytes(2002, ack(0x40, 1));
  p = c.poll();
  check(eq(p.ops, [{ key: "o00001" }]) && eq(p.events, [{ type: "published", id: id1 }]), "PUBACK: the record deleted, published");
  const id2 = c.publish(2003, "a/b", text("two"), 2, false);
  c.poll();
  c.handleBytes(2004, ack(0x50, 2));
  p = c.poll();
  check(hex(p.bytes) === "62020002" && p.ops[0].key === "o00002", "PUBREC: PUBREL out, the record now released");
  c.handleBytes(2005, ack(0x70, 2));
  p = c.poll();
  check(eq(p.events, [{ type: "published", id: id2 }]), "PUBCOMP: published");
  throws("QoS 3", "INVALID_ARGUMENT", () => c.publish(2006, "t", u8(), 3, false));
  throws("QoS 1.5", "INVALID_ARGUMENT", () => c.publish(2006, "t", u8(), 1.5, false));
  throws("QoS undefined", "INVALID_ARGUMENT", () => c.publish(2006, "t", u8()));
  throws("a wildcard topic", "INVALID_TOPIC", () => c.publish(2006, "a/+", u8(), 0, false));
  throws("an empty topic", "INVALID_TOPIC", () => c.publish(2006, "", u8(), 0, false));
  throws("a topic with U+0000", "INVALID_TOPIC", () => c.publish(2006, "a\0", u8(), 0, false));
  throws("a topic with a lone surrogate", "INVALID_TOPIC", () => c.publish(2006, "a/\ud800", u8(), 0, false));
  throws("a topic with a lone low surrogate", "INVALID_TOPIC", () => c.publish(2006, "\udfff/a", u8(), 0, false));
  check(c.publish(2006, "😀/a", u8(), 0, false) > 0, "a topic with a surrogate pair is fine");
  throws("a topic not a string", "INVALID_ARGUMENT", () => c.publish(2006, 5, u8(), 0, false));
  throws("a payload not a Uint8Array", "INVALID_ARGUMENT", () => c.publish(2006, "t", "text", 0, false));
  throws("a topic longer than 65535 bytes", "TOO_LARGE", () => c.publish(2006, "t".repeat(65536), u8(), 0, false));
  c.poll();
  c.free();

  const q = new Core(config({ maxQueued: 2 }), []);
  q.publish(1, "q", text("a"), 1, false);
  q.publish(1, "q", text("b"), 0, false);
  check(q.queued === 2, "offline: commands are queued");
  const ops = q.poll().ops;
  check(ops.length === 2 && ops[0].key === "q00000000000000000001" && ops[1].key === "q00000000000000000002", "queued messages are stored under q + 20 digits");
  throws("past maxQueued", "QUEUE_FULL", () => q.publish(1, "q", u8(), 0, false));
  q.free();
});

await section("subscribe, unsubscribe", () => {
  const c = connected();
  const id = c.subscribe(2000, [["a/#", 1], ["b/+/c", 2]]);
  let p = c.poll();
  check(p.bytes[0] === 0x82 && c.inflight === 1, "SUBSCRIBE out, in flight");
  c.handleBytes(2001, u8(0x90, 4, 0, 1, 1, 0x80));
  p = c.poll();
  check(eq(p.events, [{ type: "subscribed", id, codes: [1, 128] }]), "SUBACK: subscribed with the codes in filter order");
  check(p.ops.length === 1 && p.ops[0].key === "s", "the subscription list stored under s");
  const uid = c.unsubscribe(2002, ["a/#"]);
  p = c.poll();
  check(p.bytes[0] === 0xa2, "UNSUBSCRIBE out");
  c.handleBytes(2003, ack(0xb0, 2));
  p = c.poll();
  check(eq(p.events, [{ type: "unsubscribed", id: uid }]), "UNSUBACK: unsubscribed");
  throws("subscribe to no filter", "INVALID_ARGUMENT", () => c.subscribe(2004, []));
  throws("subscribe with QoS 3", "INVALID_ARGUMENT", () => c.subscribe(2004, [["a", 3]]));
  throws("subscribe with QoS '1'", "INVALID_ARGUMENT", () => c.subscribe(2004, [["a", "1"]]));
  throws("subscribe to a bad filter", "INVALID_TOPIC", () => c.subscribe(2004, [["a/#/b", 0]]));
  throws("subscribe to a filter with a lone surrogate", "INVALID_TOPIC", () => c.subscribe(2004, [["\ud800", 0]]));
  throws("subscribe with filters not an array", "INVALID_ARGUMENT", () => c.subscribe(2004, "a"));
  throws("subscribe with an entry not a pair", "INVALID_ARGUMENT", () => c.subscribe(2004, ["a"]));
  throws("unsubscribe from no filter", "INVALID_ARGUMENT", () => c.unsubscribe(2004, []));
  throws("unsubscribe from a bad filter", "INVALID_TOPIC", () => c.unsubscribe(2004, ["#/a"]));
  throws("unsubscribe with a lone surrogate", "INVALID_TOPIC", () => c.unsubscribe(2004, ["x\udc00"]));
  c.free();
});

await section("incoming messages, handleDelivered", () => {
  const c = connected();
  c.handleBytes(2000, publishPacket("in/0", text("zero"), 0, 0, { retain: true }));
  let p = c.poll();
  const m0 = p.events[0];
  check(m0 && m0.type === "message" && m0.topic === "in/0" && new TextDecoder().decode(m0.payload) === "zero" && m0.qos === 0 && m0.retain && !m0.dup,
    "QoS 0 message: topic, payload, qos, retain");
  c.handleBytes(2001, publishPacket("in/1", u8(1, 2, 3), 1, 9, { dup: true }));
  p = c.poll();
  check(hex(p.bytes) === "40020009" && p.events[0].dup && p.events[0].pkid === 9 && eq([...p.events[0].payload], [1, 2, 3]), "QoS 1 message: PUBACK out, dup and pkid");
  // Split across two calls: any chunking.
  const q2 = publishPacket("in/2", text("two"), 2, 7);
  c.handleBytes(2002, q2.subarray(0, 4));
  check(c.poll().events.length === 0, "half a packet: nothing yet");
  c.handleBytes(2003, q2.subarray(4));
  p = c.poll();
  check(p.ops[0] && p.ops[0].key === "i00007" && hex(p.bytes) === "50020007" && p.events[0].qos === 2 && p.events[0].pkid === 7,
    "QoS 2 message: its id stored (i00007), PUBREC out, delivered");
  check(c.handleDelivered(7, false) === true, "handleDelivered with the PUBREC not sent: a store op");
  const ops = c.pollStore();
  check(ops.length === 1 && ops[0].key === "i00007" && ops[0].value, "pollStore: the record marked delivered");
  check(c.handleDelivered(7, true) === false && c.handleDelivered(8, true) === false, "handleDelivered again, or for an unknown id: nothing");
  throws("handleDelivered with pkid 65536", "INVALID_ARGUMENT", () => c.handleDelivered(65536, true));
  throws("handleDelivered with pkid -1", "INVALID_ARGUMENT", () => c.handleDelivered(-1, true));
  c.handleBytes(2004, u8(0x62, 2, 0, 7));
  p = c.poll();
  check(hex(p.bytes) === "70020007" && eq(p.ops, [{ key: "i00007" }]), "PUBREL: PUBCOMP out, the record deleted");
  throws("handleBytes with a string", "INVALID_ARGUMENT", () => c.handleBytes(2005, "x"));
  c.free();
});

await section("payloads too large", async () => {
  // maxPacketSize bounds what the broker may send (as in proto::Config and the Rust drivers);
  // what we publish is bounded by MQTT's own limit and the broker's.
  const c = connected({ maxPacketSize: 1024 });
  const big = c.publish(2000, "t", new Uint8Array(2000), 1, false);
  let p = c.poll();
  check(big > 0 && p.bytes.length > 2000 && p.ops.length === 1 && c.inflight === 1, "a payload larger than maxPacketSize goes out");
  c.handleBytes(2001, ack(0x40, 1));
  check(eq(c.poll().events, [{ type: "published", id: big }]), "and completes on PUBACK");
  throws("a topic with a wildcard", "INVALID_TOPIC", () => c.publish(2002, "t/#", text("x"), 1, false));
  p = c.poll();
  check(p.bytes.length === 0 && p.ops.length === 0 && p.events.length === 0 && c.inflight === 0, "nothing sent, stored or in flight for a refused one");
  const id = c.publish(2003, "t", text("small"), 1, false);
  p = c.poll();
  check(p.bytes[0] === 0x32 && p.ops.length === 1 && c.inflight === 1, "the core still works afterwards: a QoS 1 publish goes out");
  c.handleBytes(2004, ack(0x40, 2));
  check(eq(c.poll().events, [{ type: "published", id }]), "and completes on PUBACK");
  c.free();

  // More than any MQTT packet holds (268,435,455 bytes of remaining length): core.js refuses it
  // before it asks the wasm for memory. core.js does not expose the module's memory, so the
  // instance is caught as a fresh module instance makes it.
  const m = await import(CORE_JS + "?huge");
  let instance;
  const Instance = WebAssembly.Instance;
  WebAssembly.Instance = new Proxy(Instance, { construct: (t, args) => (instance = Reflect.construct(t, args)) });
  try {
    m.loadSync(bytes);
  } finally {
    WebAssembly.Instance = Instance;
  }
  const memory = instance.exports.memory;
  const h = new m.Core(config({ maxPacketSize: 268435460 }), []);
  const before = memory.buffer.byteLength;
  const huge = new Uint8Array(268435461);
  throws("a payload of 268,435,461 bytes", "TOO_LARGE", () => h.publish(1, "t", huge, 0, false));
  throws("a password of 268,435,461 bytes", "TOO_LARGE", () => new m.Core(config({ username: "u", password: huge }), []));
  const after = memory.buffer.byteLength;
  check(after <= before + (1 << 20), `the wasm memory did not grow for them (${before} -> ${after} bytes)`);
  check(h.publish(2, "t", text("x"), 0, false) > 0 && h.queued === 1, "the core still works afterwards");
  h.free();
});

await section("one large frame of many packets", () => {
  // About 300 KB in one handleBytes call: core.js hands it to the wasm in 64 KiB pieces
  // (CHUNK there), so packets, and the fixed headers of some, straddle the piece boundaries.
  const CHUNK = 65536;
  const c = connected();
  const want = [];
  const packets = [];
  let size = 0;
  for (let i = 0; size < 300000; i++) {
    const qos = i % 2;
    const payload = Uint8Array.from({ length: (i * 37) % 300 }, (_, j) => (i + j) & 255);
    const m = { topic: `big/${i}`, payload, qos, pkid: qos ? (i % 65535) + 1 : 0 };
    const b = bigPublishPacket(m.topic, payload, qos, m.pkid);
    want.push(m);
    packets.push([size, b.length]);
    size += b.length;
  }
  const frame = new Uint8Array(size);
  let at = 0;
  for (const m of want) {
    const b = bigPublishPacket(m.topic, m.payload, m.qos, m.pkid);
    frame.set(b, at);
    at += b.length;
  }
  const boundaries = [];
  for (let b = CHUNK; b < size; b += CHUNK) boundaries.push(b);
  check(boundaries.length >= 4 && boundaries.every((b) => packets.some(([s, n]) => s < b && b < s + n)),
    `${want.length} PUBLISH packets in ${size} bytes, one straddling each of the ${boundaries.length} piece boundaries`);
  c.handleBytes(2000, frame);
  const p = c.poll();
  const got = p.events.filter((e) => e.type === "message");
  check(got.length === want.length && p.events.length === want.length, `one message event per packet (${got.length} of ${want.length})`);
  const bad = want.findIndex((m, i) => {
    const g = got[i];
    return !g || g.topic !== m.topic || g.qos !== m.qos || (m.qos && g.pkid !== m.pkid) || hex(g.payload) !== hex(m.payload);
  });
  check(bad === -1, `every message intact and in order${bad === -1 ? "" : ` (the first wrong: ${bad})`}`);
  const pubacks = want.filter((m) => m.qos === 1).map((m) => hex(ack(0x40, m.pkid))).join("");
  check(hex(p.bytes) === pubacks, "a PUBACK for every QoS 1 message, in order");
  c.handleBytes(2001, publishPacket("after", text("still in step"), 0, 0));
  const e = c.poll().events;
  check(e.length === 1 && e[0].topic === "after" && new TextDecoder().decode(e[0].payload) === "still in step", "the next packet parses: the stream is still in step");
  c.free();
});

await section("records, describeRecords, restore", () => {
  const c = new Core(config({ clean: false }), []);
  c.subscribe(1, [["s/#", 2]]);
  c.publish(1, "q/1", text("queued"), 1, true);
  c.handleConnected(2);
  c.poll();
  c.handleBytes(3, CONNACK(0));
  c.poll();
  c.handleBytes(4, u8(0x90, 3, 0, 1, 2));
  c.handleBytes(5, publishPacket("in", text("x"), 2, 42));
  c.publish(6, "out/2", text("two"), 2, false);
  c.poll();
  c.handleBytes(7, ack(0x50, 3)); // PUBREC for the QoS 2 publish (pkid 3)
  c.handleClosed(8);
  c.publish(9, "later", text("L"), 0, false); // queued while offline
  c.poll();
  const records = c.records();
  check(Array.isArray(records) && records.every((r) => r instanceof Uint8Array), "records(): Uint8Array[]");
  const v = describeRecords(records);
  check(v.inflight.length === 2, "describeRecords: two in flight");
  const sent = v.inflight.find((i) => i.state === "sent");
  check(sent && sent.topic === "q/1" && sent.qos === 1 && sent.retain === true && new TextDecoder().decode(sent.payload) === "queued" && sent.id === 2,
    "an in-flight sent message: id, qos, topic, payload, retain");
  const rel = v.inflight.find((i) => i.state === "released");
  check(rel && rel.qos === 2 && rel.pkid === 3 && rel.topic === undefined, "a released one: no topic");
  check(eq(v.incoming, [42]), "incoming QoS 2 ids");
  check(eq(v.subscriptions, [{ topic: "s/#", qos: 2 }]), "subscriptions");
  check(v.queued.length === 1 && v.queued[0].topic === "later" && v.queued[0].qos === 0 && v.queued[0].retain === false, "queued");
  const r = new Core(config({ clean: false }), records);
  check(r.inflight === 2 && r.queued === 1, "new Core(config, records) restores in flight and queued");
  check(eq(describeRecords(r.records()), v), "a restored core has the same records");
  r.handleConnected(10);
  const p = r.poll();
  check(p.bytes[0] === 0x10 && p.bytes.length > 20, "a restored core connects");
  r.free();
  c.free();
  check(eq(describeRecords([]), { inflight: [], queued: [], incoming: [], subscriptions: [] }), "describeRecords([])");
  throws("describeRecords of a corrupt record", "SESSION_CORRUPT", () => describeRecords([u8(0x4f, 0, 0)]));
  throws("describeRecords of an unknown tag", "SESSION_CORRUPT", () => describeRecords([u8(0x58)]));
  throws("describeRecords of an empty record", "SESSION_CORRUPT", () => describeRecords([u8()]));
  throws("describeRecords of a subscription record with QoS 3", "SESSION_CORRUPT", () => describeRecords([u8(0x53, 0, 1, 0x61, 3)]));
  throws("describeRecords of not an array", "INVALID_ARGUMENT", () => describeRecords("x"));
  throws("describeRecords of a string record", "INVALID_ARGUMENT", () => describeRecords(["x"]));
  throws("a record of two in-flight messages with one packet id", "SESSION_CORRUPT",
    () => new Core(config(), [records.find((x) => x[0] === 0x4f), records.find((x) => x[0] === 0x4f)]));
});

await section("free, several cores", () => {
  const a = new Core(config({ clientId: "a" }), []);
  const b = new Core(config({ clientId: "b" }), []);
  a.free();
  check(b.clientId === "b", "another core lives on after one is freed");
  a.free();
  check(true, "free() twice is fine");
  throws("connected after free", "CLOSED", () => a.connected);
  throws("clientId after free", "CLOSED", () => a.clientId);
  throws("handleBytes after free", "CLOSED", () => a.handleBytes(0, u8(1)));
  throws("publish after free", "CLOSED", () => a.publish(0, "t", u8(), 0, false));
  throws("poll after free", "CLOSED", () => a.poll());
  throws("records after free", "CLOSED", () => a.records());
  const c = new Core(config({ clientId: "c" }), []);
  throws("the freed core stays freed after a new one", "CLOSED", () => a.poll());
  check(c.clientId === "c" && b.clientId === "b", "handles are not reused");
  const many = Array.from({ length: 50 }, (_, i) => new Core(config({ clientId: "m" + i }), []));
  check(many.every((m, i) => m.clientId === "m" + i), "50 cores at once");
  for (const m of many) m.free();
  b.free();
  c.free();
});

// ---- Mosquitto over TCP ----

/** A minimal driver: one Core over one TCP connection, its store a Map. */
class Client {
  constructor(port, cfg, store = new Map()) {
    this.port = port;
    this.store = store;
    this.events = [];
    this.core = new Core(config(cfg), [...store.keys()].sort().map((k) => store.get(k)));
    this.timer = null;
  }
  connect() {
    this.sock = net.connect({ host: "127.0.0.1", port: this.port });
    const sock = this.sock;
    sock.on("connect", () => this.input(() => this.core.handleConnected(performance.now())));
    sock.on("data", (d) => this.input(() => this.core.handleBytes(performance.now(), d)));
    sock.on("close", () => { if (this.sock === sock) this.input(() => this.core.handleClosed(performance.now())); });
    sock.on("error", () => {});
    return this.wait((e) => e.type === "connected" || e.type === "disconnected");
  }
  input(f) {
    f();
    this.pump();
  }
  apply(ops) {
    for (const op of ops) {
      if (op.value) this.store.set(op.key, op.value);
      else this.store.delete(op.key);
    }
  }
  pump() {
    const p = this.core.poll();
    this.apply(p.ops);
    if (p.bytes.length && this.sock && !this.sock.destroyed) this.sock.write(p.bytes);
    for (const e of p.events) {
      this.events.push(e);
      if (e.type === "message" && e.qos === 2 && this.core.handleDelivered(e.pkid, true)) this.apply(this.core.pollStore());
      if (e.type === "disconnected") {
        const s = this.sock;
        this.sock = null;
        if (s) s.end();
      }
    }
    clearTimeout(this.timer);
    if (p.timeout !== undefined) {
      this.timer = setTimeout(() => this.input(() => this.core.handleTimeout(performance.now())), Math.max(0, p.timeout - performance.now()) + 1);
      this.timer.unref();
    }
  }
  async wait(pred, what = "an event", ms = 5000) {
    for (let t = 0; t < ms; t += 10) {
      const i = this.events.findIndex(pred);
      if (i >= 0) return this.events.splice(i, 1)[0];
      await sleep(10);
    }
    throw new Error(`timed out waiting for ${what}`);
  }
  call(f) {
    const id = f(this.core, performance.now());
    this.pump();
    return id;
  }
  async end() {
    this.call((c, now) => c.disconnect(now));
    await sleep(20);
    clearTimeout(this.timer);
  }
}

const PREFIX = `mq-core-${process.pid}`;

await section("Mosquitto over TCP", async () => {
  let broker;
  try {
    const { env } = await useBroker();
    broker = { port: Number(env.tcpPort), stop: stopBroker };
  } catch (e) {
    check(false, `Mosquitto started: ${e}`);
    return;
  }
  const clients = [];
  try {
    const a = new Client(broker.port, { clientId: `${PREFIX}-a` });
    const bStore = new Map();
    const b = new Client(broker.port, { clientId: `${PREFIX}-b`, clean: false }, bStore);
    clients.push(a, b);
    const ca = await a.connect();
    const cb = await b.connect();
    check(ca.type === "connected" && cb.type === "connected" && !cb.sessionPresent, "two cores connected to Mosquitto");
    const sa = a.call((c, now) => c.subscribe(now, [[`${PREFIX}/to-a/#`, 2]]));
    const sb = b.call((c, now) => c.subscribe(now, [[`${PREFIX}/to-b/#`, 2]]));
    const gotA = await a.wait((e) => e.type === "subscribed" && e.id === sa, "SUBACK");
    const gotB = await b.wait((e) => e.type === "subscribed" && e.id === sb, "SUBACK");
    check(eq(gotA.codes, [2]) && eq(gotB.codes, [2]), "both subscribed at QoS 2");
    check(bStore.has("s"), "b's subscription list is in its store");

    for (const [from, to, dir] of [[a, b, "to-b"], [b, a, "to-a"]]) {
      for (const qos of [0, 1, 2]) {
        const topic = `${PREFIX}/${dir}/q${qos}`;
        const payload = text(`${dir} at QoS ${qos}`);
        const id = from.call((c, now) => c.publish(now, topic, payload, qos, false));
        await from.wait((e) => e.type === "published" && e.id === id, `published QoS ${qos}`);
        const m = await to.wait((e) => e.type === "message" && e.topic === topic, `the QoS ${qos} message`);
        check(m.qos === qos && eq([...m.payload], [...payload]), `QoS ${qos} ${dir === "to-b" ? "a -> b" : "b -> a"}: delivered at QoS ${qos}`);
      }
    }
    check(describeRecords([...bStore.values()]).inflight.length === 0 && b.core.inflight === 0, "nothing left in flight");

    // b goes away (its session stays at the broker and in its store); meanwhile a publishes
    // and b queues a message of its own.
    await b.end();
    const dis = await b.wait((e) => e.type === "disconnected", "b's disconnected event");
    check(dis.requested, "b disconnected");
    for (const qos of [1, 2]) {
      const id = a.call((c, now) => c.publish(now, `${PREFIX}/to-b/offline-${qos}`, text(`kept ${qos}`), qos, false));
      await a.wait((e) => e.type === "published" && e.id === id, "published while b is away");
    }
    // A queued command needs a core that was not told to disconnect: a new one from the store.
    b.core.free();
    const b1 = new Client(broker.port, { clientId: `${PREFIX}-b`, clean: false }, bStore);
    clients.push(b1);
    b1.call((c, now) => c.publish(now, `${PREFIX}/to-a/from-queue`, text("queued offline"), 1, false));
    check(b1.core.queued === 1 && [...bStore.keys()].some((k) => k.startsWith("q")), "b queues a QoS 1 message offline, stored");
    const view = describeRecords([...bStore.values()]);
    check(view.queued.length === 1 && eq(view.subscriptions, [{ topic: `${PREFIX}/to-b/#`, qos: 2 }]), "b's store: the queued message and the subscription");
    const records = b1.core.records();
    b1.core.free();

    // A new core restored from the stored records picks the session up.
    check(eq(describeRecords(records), view), "records() equals what the store holds");
    const b2 = new Client(broker.port, { clientId: `${PREFIX}-b`, clean: false }, bStore);
    clients.push(b2);
    check(b2.core.queued === 1, "restored: one queued message");
    const c2 = await b2.connect();
    check(c2.type === "connected" && c2.sessionPresent, "restored core reconnects: session present");
    const q = await a.wait((e) => e.type === "message" && e.topic === `${PREFIX}/to-a/from-queue`, "the queued message");
    check(q.qos === 1, "the message queued before the restore reaches a");
    for (const qos of [1, 2]) {
      const m = await b2.wait((e) => e.type === "message" && e.topic === `${PREFIX}/to-b/offline-${qos}`, `offline QoS ${qos} message`);
      check(m.qos === qos, `the QoS ${qos} message sent while b was away arrives after the restore`);
    }
    const done = await b2.wait((e) => e.type === "published", "the restored request completes");
    check(done.id === view.queued[0].id, "the restored request completes with its stored id");
    await sleep(100);
    check(b2.core.inflight === 0 && b2.core.queued === 0 && describeRecords([...bStore.values()]).incoming.length === 0,
      "nothing left in flight, queued or incoming");
    await a.end();
    await b2.end();
  } finally {
    for (const c of clients) {
      clearTimeout(c.timer);
      if (c.sock) c.sock.destroy();
    }
    await broker.stop();
  }
});

console.log(`${passes} passed, ${failures} failed`);
console.log(`test result: ${failures === 0 ? "ok" : "FAILED"}. ${passes} passed; ${failures} failed;`);
process.exit(failures === 0 ? 0 : 1);
