// The harness of the tests of the npm package in Node against the fakes (tests/web/fakes.mjs):
// the package loaded with the fakes installed as globals, assertions and bounded waits (a hang
// fails the test, no timing is asserted), MQTT bytes, connecting through the fakes, the stored
// session as the fake IndexedDB holds it, and the runner. Used by tests/web/driver.mjs and
// tests/web/share.mjs.
//
// MQ_PKG_DIR: the package folder, wasm-pack's output with mq.js (exports the default `init`,
// `initSync` and `MqttClient`) and mq_bg.wasm (default pkg/ in the repository).
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { installFakes, sleep, uncaught } from "./fakes.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const PKG_DIR = process.env.MQ_PKG_DIR ? path.resolve(process.env.MQ_PKG_DIR) : path.join(root, "pkg");

// The fakes are globals before the module runs, as a browser's APIs are.
installFakes();
const mq = await import(pathToFileURL(path.join(PKG_DIR, "mq.js")).href);
mq.initSync({ module: readFileSync(path.join(PKG_DIR, "mq_bg.wasm")) });
export const { MqttClient } = mq;

/** Unhandled promise rejections and uncaught exceptions: each fails the test that was running. */
const unhandled = [];
process.on("unhandledRejection", (e) => unhandled.push(e));
process.on("uncaughtException", (e) => unhandled.push(e));

// ---- assertions and waiting ----

export class AssertionError extends Error {}
export const show = (v) => JSON.stringify(v, (_, x) => (x instanceof Uint8Array ? `Uint8Array[${Array.from(x)}]` : x === undefined ? "undefined" : x));
export function assert(cond, msg) {
  if (!cond) throw new AssertionError(msg);
}
export function assertEq(actual, expected, msg) {
  const [a, e] = [show(actual), show(expected)];
  if (a !== e) throw new AssertionError(`${msg}: got ${a}, expected ${e}`);
}

export const WAIT_MS = 10_000;
/** Polls `f` until it returns something truthy (then returns it); throws after `ms`. */
export async function waitFor(what, f, ms = WAIT_MS) {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new AssertionError(`timed out waiting for ${what}`);
    await sleep(1);
  }
}
/** A promise's state as it changes: { state: "pending" | "resolved" | "rejected", value, error }. */
export function track(promise) {
  const t = { state: "pending", value: undefined, error: undefined, promise };
  promise.then(
    (v) => Object.assign(t, { state: "resolved", value: v }),
    (e) => Object.assign(t, { state: "rejected", error: e }),
  );
  return t;
}
/** Calls `f` (an API call that returns a promise): its tracked state, "threw" if the call threw
 *  synchronously (every method that waits must return a promise, and reject it instead). */
export function attempt(f) {
  try {
    return track(f());
  } catch (e) {
    return { state: "threw", value: undefined, error: e, promise: undefined };
  }
}
/** Waits for `promise` (a promise, a tracked state or a function making the promise, see
 *  `attempt`) to settle: its tracked state; a hang is a failure. */
export async function settled(what, promise, ms = WAIT_MS) {
  const t = typeof promise == "function" ? attempt(promise) : promise.state ? promise : track(promise);
  await waitFor(`${what} to settle`, () => t.state != "pending", ms);
  return t;
}
export const described = (e) => (e && e.code ? `${e.code}: ` : "") + ((e && e.message) || String(e));
export async function resolves(what, promise, ms = WAIT_MS) {
  const t = await settled(what, promise, ms);
  assert(t.state != "threw", `${what} threw synchronously instead of returning a promise: ${described(t.error)}`);
  assert(t.state == "resolved", `${what} rejected: ${t.error && t.error.code} ${t.error && t.error.message}`);
  return t.value;
}
/** `promise` (or `f` making it, see `attempt`) rejects with an Error whose code is `code`. */
export async function rejects(what, promise, code) {
  const t = await settled(what, promise);
  assert(t.state != "threw", `${what} threw synchronously (${described(t.error)}) instead of returning a promise that rejects with ${code}`);
  assert(t.state == "rejected", `${what} resolved instead of rejecting with ${code}`);
  assertEq(t.error && t.error.code, code, `${what}: the error code (${t.error && t.error.message})`);
  assert(t.error instanceof Error, `${what}: the rejection is not an Error: ${show(t.error)}`);
  return t.error;
}

// ---- MQTT bytes ----

const te = new TextEncoder();
const td = new TextDecoder();
export const text = (s) => te.encode(s);
export const dec = (b) => td.decode(b);
export const CONNACK = (sessionPresent = 0, code = 0) => [0x20, 2, sessionPresent, code];
export const PINGRESP = [0xd0, 0];
export const PUBACK = (pkid) => [0x40, 2, pkid >> 8, pkid & 255];
export const T = { CONNECT: 1, PUBLISH: 3, PUBACK: 4, PUBREC: 5, PINGREQ: 12, DISCONNECT: 14 };
export function publishPacket(topic, payload, qos = 0, pkid = 1) {
  const t = text(topic);
  const body = [t.length >> 8, t.length & 255, ...t];
  if (qos) body.push(pkid >> 8, pkid & 255);
  body.push(...text(payload));
  return [0x30 | (qos << 1), body.length, ...body];
}
/** A PUBLISH packet's { topic, payload } (as text), qos and packet id. */
export function publishOf(p) {
  const n = (p.body[0] << 8) | p.body[1];
  const qos = (p.flags >> 1) & 3;
  const pkid = qos ? (p.body[2 + n] << 8) | p.body[3 + n] : undefined;
  return { topic: dec(p.body.subarray(2, 2 + n)), payload: dec(p.body.subarray(2 + n + (qos ? 2 : 0))), qos, pkid };
}
/** The fields of a CONNECT packet (MQTT 3.1.1, 3.1). */
export function parseConnect(p) {
  assertEq(p.type, T.CONNECT, "the first packet's type");
  const b = p.body;
  let i = 0;
  const field = () => {
    const n = (b[i] << 8) | b[i + 1];
    i += 2 + n;
    return b.subarray(i - n, i);
  };
  const out = { protocol: dec(field()), level: b[i++], flags: b[i++], keepalive: (b[i] << 8) | b[i + 1] };
  i += 2;
  out.clientId = dec(field());
  if (out.flags & 0x04) [out.willTopic, out.willPayload] = [dec(field()), field()];
  if (out.flags & 0x80) out.username = dec(field());
  if (out.flags & 0x40) out.password = field();
  assertEq(i, b.length, "the CONNECT packet's length");
  return out;
}

// ---- connecting through the fakes ----

/** connect() with the test playing the broker: accepts the WebSocket, waits for CONNECT and
 *  answers CONNACK. Returns [client, socket]. */
export async function connectClient(env, url, options, sessionPresent = 0) {
  const before = env.sockets.length;
  let p;
  try {
    p = MqttClient.connect(url, options);
  } catch (e) {
    throw new AssertionError(`connect(${show(String(url))}) threw synchronously instead of returning a promise: ${described(e)}`);
  }
  const ws = await waitFor("the WebSocket", () => env.sockets[before]);
  ws.accept();
  await waitFor("CONNECT", () => ws.sent.length);
  ws.receive(CONNACK(sessionPresent));
  const c = await resolves("connect", p);
  env.clients.push(c);
  return [c, ws];
}
/** share: "tabs": the BroadcastChannel messages (wire.rs) of one kind (the byte after the magic
 *  0xa1) are lost until the returned function is called, as a closing page's may be. A tab
 *  posts what it says in one turn as a batch (0xa2, then each message as a u32 little-endian
 *  length and its bytes): those of `kind` are taken out of it. */
export function dropChannelMessages(kind) {
  const isKind = (m) => m[0] == 0xa1 && m[1] == kind;
  const without = (m) => {
    if (!(m instanceof Uint8Array)) return m;
    if (m[0] != 0xa2) return isKind(m) ? null : m;
    const kept = [];
    for (let at = 1; at + 4 <= m.length;) {
      const len = new DataView(m.buffer, m.byteOffset + at, 4).getUint32(0, true);
      const msg = m.subarray(at, at + 4 + len);
      if (!isKind(msg.subarray(4))) kept.push(msg);
      at += 4 + len;
    }
    if (!kept.length) return null;
    const out = new Uint8Array(1 + kept.reduce((n, k) => n + k.length, 0));
    out[0] = 0xa2;
    kept.reduce((at, k) => (out.set(k, at), at + k.length), 1);
    return out;
  };
  const post = BroadcastChannel.prototype.postMessage;
  BroadcastChannel.prototype.postMessage = function (m) {
    const kept = without(m);
    if (kept) return post.call(this, kept);
  };
  return () => (BroadcastChannel.prototype.postMessage = post);
}

/** Records the client's events as "name" or "name:CODE". */
export function eventLog(c, events = ["connect", "close", "offline", "error", "reconnect"]) {
  const log = [];
  for (const ev of events) c.on(ev, (x) => log.push(ev + (x && x.code ? ":" + x.code : "")));
  return log;
}
/** The records stored for (url, clientId): the version 1 store's ([url, id, key] -> record),
 *  then the log replayed (each value: sequence number, 8 bytes; then one op's body, `P`/`D`, key
 *  length, key, record; or `B` and `length | body` per op). */
export function storedRecords(env, url, clientId) {
  const mine = (r) => r.key[0] === url && r.key[1] === clientId;
  const live = new Map(env.idb.records().filter(mine).map((r) => [r.key[2], r.value]));
  const op = (b) => {
    const key = dec(b.subarray(2, 2 + b[1]));
    if (b[0] == 0x50) live.set(key, b.subarray(2 + b[1]));
    else live.delete(key);
  };
  for (const { value: e } of env.idb.records("mq-sessions", "log").filter(mine)) {
    const body = e.subarray(8);
    if (body[0] != 0x42) { op(body); continue; } // B
    const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
    for (let at = 1; at < body.length; at += 4 + v.getUint32(at)) op(body.subarray(at + 4, at + 4 + v.getUint32(at)));
  }
  return [...live.entries()].map(([key, value]) => ({ key, value }));
}

// ---- the runner ----

/** Runs `tests` ([{ name, f(env) }], those whose name holds one of the command line's
 *  arguments if any): prints `ok name` / `FAIL name: reason` per test, then `test result: ...`
 *  (the line scripts/test.sh counts) and `N passed, N failed`; exits 1 if any test failed. */
export async function run(tests) {
  const only = process.argv.slice(2);
  const TEST_TIMEOUT_MS = 300_000;
  let passed = 0;
  let failed = 0;
  for (const t of tests) {
    if (only.length && !only.some((s) => t.name.includes(s))) continue;
    const env = { ...installFakes(), clients: [] };
    unhandled.length = 0;
    uncaught.length = 0;
    let failure;
    try {
      const timeout = sleep(TEST_TIMEOUT_MS).then(() => {
        throw new AssertionError(`the test did not finish in ${TEST_TIMEOUT_MS / 1000} s`);
      });
      timeout.catch(() => {});
      await Promise.race([t.f(env), timeout]);
      // Whatever the test left to run, then anything that went wrong on the way.
      await sleep(5);
      const stray = [...unhandled, ...uncaught];
      if (stray.length) failure = `unhandled: ${stray.map((e) => (e && e.stack) || e).join(" | ")}`;
    } catch (e) {
      failure = e instanceof AssertionError ? e.message : (e && e.stack) || String(e);
    } finally {
      for (const c of env.clients) c.destroy();
    }
    if (failure === undefined) {
      passed += 1;
      console.log(`ok ${t.name}`);
    } else {
      failed += 1;
      console.log(`FAIL ${t.name}: ${String(failure).replace(/\s*\n\s*/g, " | ")}`);
    }
  }
  console.log(`test result: ${failed === 0 ? "ok" : "FAILED"}. ${passed} passed; ${failed} failed;`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}
