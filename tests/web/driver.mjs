// The npm package's JS driver (js/mq.js, class MqttClient) in Node, no browser, no broker: the
// WebSocket, IndexedDB and Web Locks are the fakes of fakes.mjs (the test plays the broker), the
// core is pkg/mq_bg.wasm loaded with initSync. Each test is named after the behaviour it holds
// the driver to; most of them guard a bug a review found.
//
//   node tests/web/driver.mjs [test name substring ...]
//   MQ_CORE_WASM=pkg/mq_bg.wasm MQ_JS_DIR=js node tests/web/driver.mjs
//
// MQ_CORE_WASM: the wasm core (default pkg/mq_bg.wasm in the repository). MQ_JS_DIR: the folder
// of mq.js and core.js (default js/ in the repository), so a changed copy can be tested (that is
// how a test is checked to fail without its fix). Waits are bounded (a hang fails the test) and
// no timing is asserted. Prints `ok name` / `FAIL name: reason` per test, then `test result: ...`
// (the line scripts/test.sh counts) and `N passed, N failed`; exits 1 if any test failed.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { FakeClock, installFakes, parsePackets, sleep, uncaught } from "./fakes.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const WASM = process.env.MQ_CORE_WASM ? path.resolve(process.env.MQ_CORE_WASM) : path.join(root, "pkg", "mq_bg.wasm");
const JS_DIR = process.env.MQ_JS_DIR ? path.resolve(process.env.MQ_JS_DIR) : path.join(root, "js");
const only = process.argv.slice(2);

const mq = await import(pathToFileURL(path.join(JS_DIR, "mq.js")).href);
mq.initSync(readFileSync(WASM));
const { MqttClient } = mq;

/** Unhandled promise rejections and uncaught exceptions: each fails the test that was running. */
const unhandled = [];
process.on("unhandledRejection", (e) => unhandled.push(e));
process.on("uncaughtException", (e) => unhandled.push(e));

// ---- assertions and waiting ----

class AssertionError extends Error {}
const show = (v) => JSON.stringify(v, (_, x) => (x instanceof Uint8Array ? `Uint8Array[${Array.from(x)}]` : x === undefined ? "undefined" : x));
function assert(cond, msg) {
  if (!cond) throw new AssertionError(msg);
}
function assertEq(actual, expected, msg) {
  const [a, e] = [show(actual), show(expected)];
  if (a !== e) throw new AssertionError(`${msg}: got ${a}, expected ${e}`);
}

const WAIT_MS = 10_000;
/** Polls `f` until it returns something truthy (then returns it); throws after `ms`. */
async function waitFor(what, f, ms = WAIT_MS) {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new AssertionError(`timed out waiting for ${what}`);
    await sleep(1);
  }
}
/** A promise's state as it changes: { state: "pending" | "resolved" | "rejected", value, error }. */
function track(promise) {
  const t = { state: "pending", value: undefined, error: undefined, promise };
  promise.then(
    (v) => Object.assign(t, { state: "resolved", value: v }),
    (e) => Object.assign(t, { state: "rejected", error: e }),
  );
  return t;
}
/** Waits for `promise` to settle: its tracked state; a hang is a failure. */
async function settled(what, promise, ms = WAIT_MS) {
  const t = promise.state ? promise : track(promise);
  await waitFor(`${what} to settle`, () => t.state != "pending", ms);
  return t;
}
async function resolves(what, promise, ms = WAIT_MS) {
  const t = await settled(what, promise, ms);
  assert(t.state == "resolved", `${what} rejected: ${t.error && t.error.code} ${t.error && t.error.message}`);
  return t.value;
}
async function rejects(what, promise, code) {
  const t = await settled(what, promise);
  assert(t.state == "rejected", `${what} resolved instead of rejecting with ${code}`);
  assertEq(t.error && t.error.code, code, `${what}: the error code (${t.error && t.error.message})`);
  return t.error;
}

// ---- MQTT bytes ----

const te = new TextEncoder();
const td = new TextDecoder();
const text = (s) => te.encode(s);
const dec = (b) => td.decode(b);
const CONNACK = (sessionPresent = 0, code = 0) => [0x20, 2, sessionPresent, code];
const PINGRESP = [0xd0, 0];
const T = { CONNECT: 1, PUBLISH: 3, PINGREQ: 12, DISCONNECT: 14 };
function publishPacket(topic, payload, qos = 0, pkid = 1) {
  const t = text(topic);
  const body = [t.length >> 8, t.length & 255, ...t];
  if (qos) body.push(pkid >> 8, pkid & 255);
  body.push(...text(payload));
  return [0x30 | (qos << 1), body.length, ...body];
}
/** A PUBLISH packet's { topic, payload } (as text). */
function publishOf(p) {
  const n = (p.body[0] << 8) | p.body[1];
  const qos = (p.flags >> 1) & 3;
  return { topic: dec(p.body.subarray(2, 2 + n)), payload: dec(p.body.subarray(2 + n + (qos ? 2 : 0))), qos };
}
/** The fields of a CONNECT packet (MQTT 3.1.1, 3.1). */
function parseConnect(p) {
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
async function connectClient(env, url, options, sessionPresent = 0) {
  const before = env.sockets.length;
  const p = MqttClient.connect(url, options);
  const ws = await waitFor("the WebSocket", () => env.sockets[before]);
  ws.accept();
  await waitFor("CONNECT", () => ws.sent.length);
  ws.receive(CONNACK(sessionPresent));
  const c = await resolves("connect", p);
  env.clients.push(c);
  return [c, ws];
}
/** Records the client's events as "name" or "name:CODE". */
function eventLog(c, events = ["connect", "close", "offline", "error", "reconnect"]) {
  const log = [];
  for (const ev of events) c.on(ev, (x) => log.push(ev + (x && x.code ? ":" + x.code : "")));
  return log;
}
/** The records stored for (url, clientId). */
const storedRecords = (env, url, clientId) => env.idb.records().filter((r) => r.key[0] === url && r.key[1] === clientId);

// ---- the tests ----

const tests = [];
const test = (name, f) => tests.push({ name, f });

for (const how of ["destroys", "ends"]) {
  test(`a publish whose options getter ${how} the client rejects with CLOSED`, async (env) => {
    const [c, ws] = await connectClient(env, `ws://getter-${how}`, { reconnect: false });
    let ended;
    const options = {
      get qos() {
        if (how == "destroys") c.destroy();
        else ended = c.end();
        return 1;
      },
    };
    await rejects("the publish", c.publish("t", "x", options), "CLOSED");
    assert(!c.connected, "the client is still connected");
    const s = c.session();
    assertEq([s.inflight.length, s.queued.length], [0, 0], "in flight and queued after the publish");
    if (how == "ends") {
      await resolves("end()", ended);
      assert(!ws.packets().some((p) => p.type == T.PUBLISH), "a PUBLISH went out");
      assert(ws.packets().some((p) => p.type == T.DISCONNECT), "no DISCONNECT went out");
    }
  });
}

test("an options getter that throws gives INVALID_ARGUMENT with the thrown error as cause (connect)", async (env) => {
  const boom = new Error("boom");
  const getter = { reconnect: false, get keepalive() { throw boom; } };
  const e = await rejects("connect with a throwing getter", MqttClient.connect("ws://x", getter), "INVALID_ARGUMENT");
  assert(e.cause === boom, `the cause is not the thrown error: ${e.cause}`);
  const willGetter = { reconnect: false, will: { topic: "w", get payload() { throw boom; } } };
  const w = await rejects("connect with a throwing will getter", MqttClient.connect("ws://x", willGetter), "INVALID_ARGUMENT");
  assert(w.cause === boom, "the will getter's error is not the cause");
  const proxy = new Proxy({}, { ownKeys() { throw boom; } });
  const p = await rejects("connect with a proxy that throws", MqttClient.connect("ws://x", proxy), "INVALID_ARGUMENT");
  assert(p.cause === boom, "the proxy's error is not the cause");
  assertEq(env.sockets.length, 0, "WebSockets opened");
});

test("an options getter that throws gives INVALID_ARGUMENT with the thrown error as cause (publish)", async (env) => {
  const [c, ws] = await connectClient(env, "ws://getter-throws", { reconnect: false });
  const boom = new Error("boom");
  const e = await rejects("publish with a throwing getter", c.publish("t", "x", { get qos() { throw boom; } }), "INVALID_ARGUMENT");
  assert(e.cause === boom, `the cause is not the thrown error: ${e.cause}`);
  const s = await rejects("subscribe with a throwing getter", c.subscribe("t", { get qos() { throw boom; } }), "INVALID_ARGUMENT");
  assert(s.cause === boom, "subscribe: the cause is not the thrown error");
  // Nothing was half done: the client goes on.
  await resolves("a publish afterwards", c.publish("t", "after", { qos: 0 }));
  assertEq(ws.packets().filter((p) => p.type == T.PUBLISH).map((p) => publishOf(p).payload), ["after"], "the PUBLISH packets sent");
});

test("clearSession and storedSession with a client id that is not a string reject INVALID_ARGUMENT", async (env) => {
  await rejects("clearSession(url, 42)", MqttClient.clearSession("ws://x", 42), "INVALID_ARGUMENT");
  await rejects("storedSession(url, 42)", MqttClient.storedSession("ws://x", 42), "INVALID_ARGUMENT");
  await rejects("clearSession(42, id)", MqttClient.clearSession(42, "id"), "INVALID_ARGUMENT");
  assertEq(env.idb.connections.length, 0, "IndexedDB connections opened");
});

test("the password and the will payload are copied at connect", async (env) => {
  const password = text("secret");
  const will = text("bye!");
  const p = MqttClient.connect("ws://copies", { reconnect: false, username: "u", password, will: { topic: "w/t", payload: will, qos: 1 } });
  // The caller reuses its buffers right away, before the client made its core.
  password.fill(0);
  will.fill(0);
  const ws = await waitFor("the WebSocket", () => env.sockets[0]);
  ws.accept();
  await waitFor("CONNECT", () => ws.sent.length);
  const cp = parseConnect(ws.packets()[0]);
  assertEq(cp.flags & 0xc4, 0xc4, "CONNECT flags: user name, password, will");
  assertEq({ username: cp.username, password: dec(cp.password), willTopic: cp.willTopic, willPayload: dec(cp.willPayload) },
    { username: "u", password: "secret", willTopic: "w/t", willPayload: "bye!" }, "the CONNECT packet");
  ws.receive(CONNACK());
  env.clients.push(await resolves("connect", p));
});

test("Web Lock order: connect(clean:false) then clearSession in the same turn", async (env) => {
  const url = "ws://lock-order";
  const clientId = "lock-order";
  // A stored session holding one queued QoS 1 message.
  {
    const [c, ws] = await connectClient(env, url, { clientId, clean: false, reconnect: { minDelay: 1e6 } });
    ws.drop();
    await waitFor("the client to see the connection lost", () => !c.connected);
    c.publish("t", "keep me", { qos: 1 }).catch(() => {});
    await resolves("persisted()", c.persisted());
    c.destroy();
  }
  assertEq((await MqttClient.storedSession(url, clientId)).queued.map((q) => dec(q.payload)), ["keep me"], "the stored session");
  const connecting = MqttClient.connect(url, { clientId, clean: false, reconnect: false });
  const clearing = track(MqttClient.clearSession(url, clientId));
  const ws = await waitFor("the WebSocket", () => env.sockets[1]);
  ws.accept();
  await waitFor("CONNECT", () => ws.sent.length);
  ws.receive(CONNACK(1));
  const c = await resolves("connect", connecting);
  env.clients.push(c);
  assertEq(c.restored.map((r) => [r.kind, r.topic, dec(r.payload)]), [["publish", "t", "keep me"]], "the requests connect restored");
  await waitFor("the restored message to be sent", () => ws.packets().some((p) => p.type == T.PUBLISH && publishOf(p).payload == "keep me"));
  assertEq(clearing.state, "pending", "clearSession while the client holds the session");
  c.destroy();
  await resolves("clearSession once the client let go", clearing);
  assertEq(storedRecords(env, url, clientId).length, 0, "records left after clearSession");
});

test("end() while a CONNACK waits behind a store write: no connect event after close, the client stays closed", async (env) => {
  const url = "ws://end-race";
  const [c, ws1] = await connectClient(env, url, { clientId: "end-race", clean: false, reconnect: { minDelay: 1, maxDelay: 1 } });
  const log = eventLog(c);
  ws1.drop();
  const pub = track(c.publish("t", "queued offline", { qos: 1 }));
  await resolves("persisted()", c.persisted());
  const ws2 = await waitFor("the reconnect's WebSocket", () => env.sockets[1]);
  ws2.accept();
  await waitFor("CONNECT", () => ws2.sent.length);
  env.idb.hold();
  // Session present: the queued message goes in flight, a store write the CONNACK waits behind.
  ws2.receive(CONNACK(1));
  await waitFor("the store write", () => env.idb.pending.length);
  assertEq(log, ["close", "offline", "reconnect"], "the events before end()");
  const ended = track(c.end());
  await waitFor("end() to complete", () => {
    env.idb.commit();
    return ended.state != "pending";
  });
  // A few tasks for anything that would still come (the reconnect delay is 1 ms).
  await sleep(20);
  assertEq(log, ["close", "offline", "reconnect", "close"], "the events");
  assertEq(ended.state, "resolved", "end()");
  assert(!c.connected, "the client is connected after end()");
  assertEq(env.sockets.length, 2, "WebSockets opened");
  assertEq(pub.state == "rejected" && pub.error.code, "CLOSED", "the in-flight publish");
});

test("a burst of 200,000 offline QoS 1 publishes during a store write: every one in the session and in the store", async (env) => {
  const url = "ws://burst";
  const clientId = "burst";
  const N = 200000;
  const [c, ws] = await connectClient(env, url, { clientId, clean: false, maxQueued: 1000000, reconnect: { minDelay: 1e6 } });
  ws.drop();
  await waitFor("the client to see the connection lost", () => !c.connected);
  env.idb.hold();
  c.publish("t", "first", { qos: 1 }).catch(() => {});
  await waitFor("a store write", () => env.idb.pending.length);
  const failed = [];
  for (let i = 0; i < N; i++) c.publish("t", "m" + i, { qos: 1 }).catch((e) => failed.push(e));
  const stored = c.persisted();
  await sleep(0);
  env.idb.release();
  await resolves("persisted()", stored, 120_000);
  assertEq(failed.length, 0, "publishes rejected");
  assertEq(c.session().queued.length, N + 1, "queued in the session");
  const records = storedRecords(env, url, clientId);
  assertEq(records.length, N + 1, "records in the store");
  const view = await MqttClient.storedSession(url, clientId);
  assertEq(view.queued.length, N + 1, "queued in the stored session");
  const bad = view.queued.findIndex((q, i) => dec(q.payload) !== (i ? "m" + (i - 1) : "first") || (i && q.id <= view.queued[i - 1].id));
  assertEq(bad, -1, "the first stored message out of order or changed");
  c.destroy();
});

test("the IndexedDB connection is closed once the client ended and its writes are done", async (env) => {
  for (const how of ["end", "destroy"]) {
    const url = "ws://idb-close-" + how;
    const [c] = await connectClient(env, url, { clientId: how, clean: false, reconnect: false });
    const errors = eventLog(c, ["error"]);
    const conn = env.idb.connections.at(-1);
    env.idb.hold();
    c.publish("t", "p", { qos: 1 }).catch(() => {});
    await waitFor("a store write", () => env.idb.pending.length);
    const ended = how == "end" ? track(c.end()) : (c.destroy(), track(Promise.resolve()));
    await sleep(5);
    assertEq(conn.closeCalls, 0, `${how}: close() calls while a write runs`);
    env.idb.release();
    await resolves(how, ended.promise);
    await waitFor(`${how}: the connection to be closed`, () => conn.closeCalls);
    await sleep(5);
    assertEq(conn.closeCalls, 1, `${how}: close() calls`);
    assertEq(errors, [], `${how}: error events`);
    // The next client takes the session over at once.
    const [next] = await connectClient(env, url, { clientId: how, clean: false, reconnect: false }, 1);
    await resolves("the next client's end()", next.end());
  }
  assertEq(env.idb.connections.map((c) => c.closeCalls), [1, 1, 1, 1], "close() calls per IndexedDB connection");
});

// The path: a timer callback in which a call into the core throws. Nothing of the public API
// makes the core throw there, so the clock it reads its argument from (performance.now, a
// platform global like WebSocket) throws once instead, inside the same try.
test("a timer callback whose core call throws does not leave the driver stuck", async (env) => {
  const clock = new FakeClock();
  clock.install();
  try {
    const [c, ws] = await connectClient(env, "ws://timer", { keepalive: 10, reconnect: false });
    const got = [];
    c.on("message", (t, p) => got.push(`${t} ${dec(p)}`));
    const pings = () => ws.packets().filter((p) => p.type == T.PINGREQ).length;
    // The broker answers every PINGREQ sent so far.
    let answered = 0;
    const answerPings = () => {
      for (; answered < pings(); answered++) ws.receive(PINGRESP);
    };
    const boom = new Error("the clock failed");
    clock.failNext = boom;
    await clock.advance(10001);
    assertEq(clock.errors, [boom], "what the keepalive timer's callback threw");
    assertEq(pings(), 0, "PINGREQs after the failed timer callback");
    // The next inputs are handled (the core catches up with the keepalive it missed) and arm
    // the timer again.
    ws.receive(publishPacket("in", "hello"));
    await waitFor("the message", () => got.length);
    await resolves("a publish", c.publish("out", "after"));
    assert(ws.packets().some((p) => p.type == T.PUBLISH && publishOf(p).payload == "after"), "the PUBLISH did not go out");
    answerPings();
    for (const n of [1, 2]) {
      assert(clock.timers.length > 0, "no timer armed");
      const before = pings();
      await clock.advance(10001);
      assertEq(pings(), before + 1, `PINGREQs, keepalive ${n} after the failure`);
      answerPings();
    }
    await sleep(1);
    assert(c.connected, "the client is no longer connected");
    assertEq([got, clock.errors.length], [["in hello"], 1], "messages and timer errors");
    await resolves("end()", c.end());
    assert(ws.packets().some((p) => p.type == T.DISCONNECT), "no DISCONNECT went out");
  } finally {
    clock.uninstall();
  }
});

// ---- the runner ----

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
