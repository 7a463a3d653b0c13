// The npm package's API (`MqttClient` of `$MQ_PKG_DIR`, default pkg/) in headless Chromium, against
// a real Mosquitto: the 16 tests of tests/browser.rs (3, no broker needed) and
// tests/browser_broker.rs (13), ported one for one, same names, same assertions. Those test the
// Rust driver through Rust; this tests whatever package is in $MQ_PKG_DIR through its public JS
// API, so another implementation of the package can be held to the same behaviour.
//
//   node tests/web/client.mjs [test name ...]
//   MQ_PKG_DIR=some/pkg node tests/web/client.mjs
//
// The broker: with MQ_BROKER_WS, MQ_BROKER_WS_AUTH, MQ_BROKER_CONTROL and MQ_BLACKHOLE_WS set (as
// scripts/test.sh's `with_browser_broker` sets them from tests/browser/broker.mjs' ports.env) it
// uses that one; with none of them set it starts tests/browser/broker.mjs itself (a temporary
// state directory) and stops it at the end, also after a failure or a signal.
//
// Each test runs in a fresh browser context (its own IndexedDB and Web Locks; closing it closes
// whatever a failed test left open) on a page that imports the package's entry (package.json
// `exports`) from a static server of $MQ_PKG_DIR on 127.0.0.1 and calls its default `init()`.
// The test bodies run in the page (page.evaluate); like the Rust tests, they stop and start the
// broker with fetch() to its control endpoint, and the runner starts it again after every test
// in case one failed while it was down. Waits are bounded (a hang fails the test: 120 s per
// test); no timing is asserted. Prints `ok name` / `FAIL name: reason` per test, then
// `test result: ...` (the line scripts/test.sh counts) and `N passed, N failed`; exits 1 if any
// test failed, 2 if it could not run at all.
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { brokerLog, launch, serveDir, sleep, stopBroker, useBroker } from "./lib.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const pkgDir = path.resolve(process.env.MQ_PKG_DIR || path.join(root, "pkg"));
const TEST_TIMEOUT_MS = 120_000;
const only = process.argv.slice(2);

// ---------------------------------------------------------------------------------------------
// Page-side helpers: the Rust tests' helpers (connect, wait, next, collect, counter, ...) over
// the JS API. `harness` runs in the page (its source is served as a module), so it may use
// nothing from this file.
function harness(mq, env) {
  const { MqttClient } = mq;

  class AssertionError extends Error {}
  const show = (v) => {
    if (v === undefined) return "undefined";
    if (v instanceof Uint8Array) return `Uint8Array[${Array.from(v)}]`;
    try {
      return JSON.stringify(v);
    } catch {
      return String(v);
    }
  };
  const assert = (cond, msg) => {
    if (!cond) throw new AssertionError(`assertion failed: ${msg}`);
  };
  // assert_eq! on plain data (strings, numbers, booleans, arrays and objects built in a fixed
  // key order): equal when their JSON is.
  const assertEq = (left, right, msg) => {
    const [l, r] = [show(left), show(right)];
    if (l !== r) throw new AssertionError(`assertion \`left == right\` failed${msg ? `: ${msg}` : ""}\n  left: ${l}\n right: ${r}`);
  };
  // The Rust tests' `error_code(e)`: the error's string `code`, else a description.
  const codeOf = (e) => (e !== null && typeof e === "object" && typeof e.code === "string" ? e.code : `no code: ${e && e.stack ? e.stack : show(e)}`);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const unique = (prefix) => `${prefix}-${(Math.floor(Math.random() * 4_294_967_295) >>> 0).toString(16).padStart(8, "0")}`;
  const qos = (q) => ({ qos: q });
  // ASCII text as a Uint8Array on an ArrayBuffer of exactly its length (Rust `Uint8Array::from(&b".."[..])`).
  const bytes = (s) => Uint8Array.from(s, (c) => c.charCodeAt(0));

  // Rust `wait(p)`: Ok(value) or Err(code), as { Ok } / { Err } for assertEq.
  async function result(p) {
    try {
      const v = await p;
      return { Ok: v === undefined ? null : v };
    } catch (e) {
      return { Err: codeOf(e) };
    }
  }
  // Rust `wait(p).await.unwrap()` (or `.expect(what)`).
  async function unwrap(p, what = "unwrap") {
    try {
      return await p;
    } catch (e) {
      throw new AssertionError(`${what}: Err(${codeOf(e)}) ${e && e.message ? e.message : show(e)}`);
    }
  }
  // Rust `connect(url, options)`: options as the same JSON text.
  async function connect(url, options) {
    try {
      return await MqttClient.connect(url, JSON.parse(options));
    } catch (e) {
      throw new AssertionError(`connect ${url} ${options}: ${codeOf(e)} ${e && e.message ? e.message : show(e)}`);
    }
  }
  // `MqttClient::open(url, options).await.err().expect(what)`: the error of a connect that must fail.
  async function connectError(url, options, what) {
    let pending;
    try {
      pending = MqttClient.connect(url, JSON.parse(options));
    } catch (e) {
      // The API promises a rejection; the Rust tests could not tell the two apart.
      throw new AssertionError(`MqttClient.connect(${url}, ${options}) threw instead of rejecting: ${codeOf(e)}`);
    }
    let client;
    try {
      client = await pending;
    } catch (e) {
      return e;
    }
    client.destroy();
    throw new AssertionError(what || `connected to ${url} with ${options}`);
  }
  // Rust `connect_err(url, options)`: the code of a connect that must fail.
  const connectErr = async (url, options) => codeOf(await connectError(url, options));

  // Stops or starts the broker through the control endpoint (Rust `broker(action)`).
  async function broker(action) {
    let ok;
    try {
      ok = (await fetch(`${env.control}/${action}`, { method: "POST" })).ok;
    } catch (e) {
      ok = `fetch failed: ${e}`;
    }
    assertEq(ok, true, `broker control ${action}`);
  }

  // Rust `next(it, ms)`: the next message of a `messages()` iterator as { topic, payload (text,
  // lossy UTF-8), qos, retain }, or null after `ms` without one. As in Rust, also null when the
  // iterator ended, its next() failed or the value is not a message; `lastNone` says which.
  let lastNone = "";
  const TIMEOUT = Symbol("timeout");
  async function next(it, ms) {
    let timer;
    const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve(TIMEOUT), ms); });
    let r;
    try {
      r = await Promise.race([it.next(), timeout]);
    } catch (e) {
      lastNone = `next() failed: ${codeOf(e)}`;
      return null;
    } finally {
      clearTimeout(timer);
    }
    if (r === TIMEOUT) {
      lastNone = `no message within ${ms} ms`;
      return null;
    }
    const v = r && r.value;
    if (!v || !(v.payload instanceof Uint8Array) || typeof v.topic !== "string" || typeof v.qos !== "number" || typeof v.retain !== "boolean") {
      lastNone = `not a message: ${show(r)}`;
      return null;
    }
    return { topic: v.topic, payload: new TextDecoder().decode(v.payload), qos: v.qos, retain: v.retain };
  }
  // Rust `.expect(what)` on next()'s Option.
  function expect(m, what) {
    if (m === null) throw new AssertionError(`${what} (none: ${lastNone})`);
    return m;
  }
  // Rust `collect(it, want)`: messages until `want` distinct (topic, payload) pairs arrived, or
  // 20 s without progress.
  async function collect(it, want) {
    const got = [];
    const distinct = new Set();
    while (distinct.size < want) {
      const m = await next(it, 20_000);
      if (m === null) break;
      distinct.add(JSON.stringify([m.topic, m.payload]));
      got.push(m);
    }
    return got;
  }
  // Rust `counter(client, event)`: counts calls of an event (`.n`).
  function counter(client, event) {
    const c = { n: 0 };
    client.on(event, () => { c.n += 1; });
    return c;
  }
  // Rust `publish_batch`: n messages per QoS 1 and 2 under `base`, payloads `{tag}{i}`, not awaited.
  function publishBatch(c, base, tag, n) {
    const ps = [];
    for (let i = 0; i < n; i++) for (const q of [1, 2]) ps.push(c.publish(`${base}/q${q}`, `${tag}${i}`, qos(q)));
    return ps;
  }
  // Rust `check_delivery`: every message once per QoS 2, at least once per QoS 1.
  function checkDelivery(got, base, expected) {
    const count = new Map();
    for (const m of got) {
      const k = JSON.stringify([m.topic, m.payload]);
      count.set(k, (count.get(k) || 0) + 1);
    }
    for (const p of expected) {
      const q1 = count.get(JSON.stringify([`${base}/q1`, p])) || 0;
      const q2 = count.get(JSON.stringify([`${base}/q2`, p])) || 0;
      assert(q1 >= 1, `QoS 1 message ${p} lost`);
      assertEq(q2, 1, `QoS 2 message ${p} delivered ${q2} times`);
    }
  }

  const h = {
    MqttClient, env, show, assert, assertEq, codeOf, sleep, unique, qos, bytes, result, unwrap, connect, connectError,
    connectErr, broker, next, expect, collect, counter, publishBatch, checkDelivery,
  };
  // Runs one test body (its source) in the page; resolves with null or the failure's text.
  h.run = async (source) => {
    try {
      await (0, eval)(`(${source})`)(h, env);
      return null;
    } catch (e) {
      if (e instanceof AssertionError) return e.message;
      const code = e !== null && typeof e === "object" && typeof e.code === "string" ? ` (code ${e.code})` : "";
      return `${e && e.stack ? e.stack : show(e)}${code}`;
    }
  };
  return h;
}

// ---------------------------------------------------------------------------------------------
// The tests, in the order of the Rust files. Each body runs in the page: `h` is the harness
// above, `env` the broker's URLs. Comments quoted from the Rust tests keep their wording.
const tests = [];
const test = (name, body) => tests.push({ name, body });

// ---- tests/browser.rs: no broker, argument checks and failures before any broker is involved ----

test("invalid_options_are_rejected_before_connecting", async (h) => {
  // Nothing listens on port 1: a check that let these through would fail differently.
  const url = "ws://127.0.0.1:1";
  for (const options of [
    '{"keepalive": -1}',
    '{"keepalive": 1.5}',
    '{"keepalive": 70000}',
    '{"clean": "no"}',
    '{"clientId": 7}',
    '{"clean": false, "clientId": ""}',
    '{"session": "disk"}',
    '{"maxInflight": 0}',
    '{"will": {"topic": "a/+", "payload": "x"}}',
    '{"will": {"topic": "a", "payload": "x", "qos": 3}}',
    '{"will": {"topic": "a", "payload": 5}}',
    '{"password": "p"}',
    '{"reconnect": {"minDelay": 500, "maxDelay": 100}}',
    '{"unknownOption": 1}',
  ]) {
    const code = await h.connectErr(url, options);
    const want = options.includes("a/+") ? "INVALID_TOPIC" : "INVALID_ARGUMENT";
    h.assertEq(code, want, `options ${options}`);
  }
});

test("a_url_that_is_not_a_websocket_url_is_invalid_url", async (h) => {
  h.assertEq(await h.connectErr("http://127.0.0.1:1", "{}"), "INVALID_URL");
  h.assertEq(await h.connectErr("ws://[not a host", "{}"), "INVALID_URL");
});

test("a_broker_that_is_not_there_fails_the_connect", async (h) => {
  h.assertEq(await h.connectErr("ws://127.0.0.1:1", '{"reconnect": false}'), "CONNECTION_FAILED");
  // The first connect reports its failure even when reconnecting is on.
  h.assertEq(await h.connectErr("ws://127.0.0.1:1", "{}"), "CONNECTION_FAILED");
});

// ---- tests/browser_broker.rs: against Mosquitto (tests/browser/broker.mjs) ----

test("connects_and_reports_its_state", async (h, env) => {
  const { assertEq, assert, connect, unwrap, result } = h;
  const id = h.unique("state");
  let c = await connect(env.ws, `{"clientId": "${id}"}`);
  assertEq(c.connected, true, "c.connected");
  assertEq(c.clientId, id);
  await unwrap(c.end());
  assertEq(c.connected, false, "c.connected after end()");
  assertEq(await result(c.publish("a", "x")), { Err: "CLOSED" });
  // A random id when none is given.
  c = await connect(env.ws, "{}");
  assert(typeof c.clientId === "string" && c.clientId.startsWith("mq-"), h.show(c.clientId));
  await unwrap(c.end());
});

test("qos_0_1_2_both_ways", async (h, env) => {
  const { assertEq, connect, unwrap, result, qos, next, expect } = h;
  const base = h.unique("qos");
  const a = await connect(env.ws, "{}");
  const b = await connect(env.ws, "{}");
  const granted = await unwrap(a.subscribe(`${base}/to-a/+`, qos(2)));
  assertEq(JSON.stringify(granted), `[{"topic":"${base}/to-a/+","qos":2}]`);
  await unwrap(b.subscribe([`${base}/to-b/+`], qos(2)));
  const [ia, ib] = [a.messages(), b.messages()];
  for (let q = 0; q <= 2; q++) {
    await unwrap(b.publish(`${base}/to-a/${q}`, `b${q}`, qos(q)));
    await unwrap(a.publish(`${base}/to-b/${q}`, h.bytes(`a${q}`), qos(q)));
  }
  for (const [it, to, from] of [[ia, "to-a", "b"], [ib, "to-b", "a"]]) {
    for (let q = 0; q <= 2; q++) {
      const m = expect(await next(it, 10_000), "message");
      assertEq(m, { topic: `${base}/${to}/${q}`, payload: `${from}${q}`, qos: q, retain: false });
    }
  }
  // Invalid arguments are refused before anything is sent.
  assertEq(await result(a.publish("a/+", "x")), { Err: "INVALID_TOPIC" });
  assertEq(await result(a.publish("a", "x", qos(3))), { Err: "INVALID_ARGUMENT" });
  assertEq(await result(a.publish("a", 5)), { Err: "INVALID_ARGUMENT" });
  assertEq(await result(a.subscribe("a/#/b")), { Err: "INVALID_TOPIC" });
  assertEq(await result(a.subscribe([])), { Err: "INVALID_ARGUMENT" });
  assertEq(await result(a.unsubscribe(1)), { Err: "INVALID_ARGUMENT" });
  await unwrap(a.unsubscribe(`${base}/to-a/+`));
  await unwrap(a.end());
  await unwrap(b.end());
});

test("message_listeners_get_topic_payload_and_packet_until_removed", async (h, env) => {
  const { assertEq, assert, unwrap, qos, next, expect } = h;
  const topic = h.unique("listener");
  const c = await h.connect(env.ws, "{}");
  const seen = [];
  // The Rust closure's parameters are (JsValue, Uint8Array, JsValue): a topic that is not a
  // string is recorded as "", a payload that is not a Uint8Array as a mismatch.
  const handler = (t, p, info) => {
    seen.push([
      typeof t === "string" ? t : "",
      p instanceof Uint8Array ? Array.from(p) : `not a Uint8Array: ${h.show(p)}`,
      JSON.stringify(info) ?? "",
    ]);
  };
  c.on("message", handler);
  let threw = false;
  try {
    c.on("nonsense", handler);
  } catch {
    threw = true;
  }
  assert(threw, 'c.on("nonsense", handler) is an error');
  const it = c.messages();
  await unwrap(c.subscribe(topic, qos(1)));
  await unwrap(c.publish(topic, new Uint8Array([0, 255]), qos(1)));
  expect(await next(it, 10_000), "message");
  assertEq(seen, [[topic, [0, 255], '{"qos":1,"retain":false,"dup":false}']]);
  c.off("message", handler);
  await unwrap(c.publish(topic, "again", qos(1)));
  expect(await next(it, 10_000), "message");
  assertEq(seen.length, 1, "a removed listener was called");
  await unwrap(c.end());
});

test("keepalive_keeps_an_idle_connection_up", async (h, env) => {
  // Mosquitto drops a client silent for 1.5 keepalive intervals: only PINGREQs keep it.
  const c = await h.connect(env.ws, '{"keepalive": 1, "reconnect": false}');
  const offline = h.counter(c, "offline");
  await h.sleep(3_500);
  h.assertEq(offline.n, 0);
  h.assertEq(c.connected, true, "c.connected");
  await h.unwrap(c.end());
});

test("past_max_queued_a_publish_fails_with_queue_full", async (h, env) => {
  const { unwrap, qos } = h;
  const topic = h.unique("full");
  const c = await h.connect(env.ws, '{"maxInflight": 1, "maxQueued": 1}');
  // One in flight, one queued, and no room for a third (the acks come in a later task).
  const a = c.publish(topic, "1", qos(1));
  const b = c.publish(topic, "2", qos(1));
  h.assertEq(await h.result(c.publish(topic, "3", qos(1))), { Err: "QUEUE_FULL" });
  await unwrap(a);
  await unwrap(b);
  await unwrap(c.end());
});

test("retained_message_reaches_a_later_subscriber", async (h, env) => {
  const { unwrap, qos } = h;
  const topic = h.unique("retained");
  const a = await h.connect(env.ws, "{}");
  await unwrap(a.publish(topic, "kept", JSON.parse('{"qos": 1, "retain": true}')));
  const b = await h.connect(env.ws, "{}");
  const it = b.messages();
  await unwrap(b.subscribe(topic, qos(1)));
  const m = h.expect(await h.next(it, 10_000), "retained message");
  h.assertEq(m, { topic, payload: "kept", qos: 1, retain: true });
  // Clear it.
  await unwrap(a.publish(topic, "", JSON.parse('{"qos": 1, "retain": true}')));
  await unwrap(a.end());
  await unwrap(b.end());
});

// Every payload type `publish` takes goes out as its bytes; anything else is refused.
test("payloads_are_strings_buffers_and_views", async (h, env) => {
  const { unwrap, bytes } = h;
  const topic = h.unique("payloads");
  const c = await h.connect(env.ws, "{}");
  const it = c.messages();
  await unwrap(c.subscribe(topic, h.qos(0)));
  const buffer = bytes("xxhi").buffer;
  const payloads = [
    ["h\u00e9", "h\u00e9"],
    [bytes("u8"), "u8"],
    [bytes("ab").buffer, "ab"],
    [new DataView(buffer, 2, 2), "hi"],
    [new Uint8Array(buffer, 1, 2), "xh"],
  ];
  for (const [payload, text] of payloads) {
    await unwrap(c.publish(topic, payload));
    const m = h.expect(await h.next(it, 10_000), "message");
    h.assertEq(m.payload, text);
  }
  h.assertEq(await h.result(c.publish(topic, 5)), { Err: "INVALID_ARGUMENT" });
  await unwrap(c.end());
});

test("will_is_published_when_the_connection_dies", async (h, env) => {
  const { unwrap, assertEq } = h;
  const topic = h.unique("will");
  const watcher = await h.connect(env.ws, "{}");
  const it = watcher.messages();
  await unwrap(watcher.subscribe(topic, h.qos(1)));
  const opts = `{"will": {"topic": "${topic}", "payload": "gone", "qos": 1}}`;
  const dying = await h.connect(env.ws, opts);
  dying.destroy(); // no DISCONNECT
  assertEq(dying.connected, false, "dying.connected");
  const m = h.expect(await h.next(it, 10_000), "will message");
  assertEq(m, { topic, payload: "gone", qos: 1, retain: false });
  // A client that says DISCONNECT has its will discarded.
  const polite = await h.connect(env.ws, opts);
  await unwrap(polite.end());
  assertEq(await h.next(it, 500), null);
  await unwrap(watcher.end());
});

test("a_websocket_that_never_opens_times_out", async (h, env) => {
  const url = env.blackhole;
  for (const opts of ['{"connectTimeout": 300, "reconnect": false}', '{"connectTimeout": 300}']) {
    const e = await h.connectError(url, opts, "no connection");
    h.assertEq(h.codeOf(e), "TIMEOUT", opts);
  }
});

test("credentials_are_checked", async (h, env) => {
  const url = env.wsAuth;
  for (const opts of ['{"username": "mq", "password": "wrong"}', "{}"]) {
    const e = await h.connectError(url, opts, "refused");
    h.assertEq(h.codeOf(e), "CONNECT_REFUSED", opts);
    const rc = e.returnCode;
    h.assert(rc === 4 || rc === 5, `${opts}: return code ${h.show(rc)}`);
  }
  const c = await h.connect(url, '{"username": "mq", "password": "secret"}');
  await h.unwrap(c.end());
});

test("broker_restart_reconnects_without_losing_qos_1_or_2", async (h, env) => {
  const { unwrap, assert, assertEq, publishBatch } = h;
  const base = h.unique("restart");
  const reconnect = '"reconnect": {"minDelay": 100, "maxDelay": 400}';
  const subId = h.unique("restart-sub");
  const sub = await h.connect(env.ws, `{"clientId": "${subId}", "clean": false, "session": "memory", ${reconnect}}`);
  const it = sub.messages();
  await unwrap(sub.subscribe(`${base}/#`, h.qos(2)));
  const pubId = h.unique("restart-pub");
  const publisher = await h.connect(env.ws, `{"clientId": "${pubId}", "clean": false, "session": "memory", ${reconnect}}`);
  const offline = h.counter(publisher, "offline");
  const reconnected = h.counter(publisher, "connect");
  for (const p of publishBatch(publisher, base, "before", 5)) await unwrap(p);
  // Some in flight when the broker goes away, more issued while it is away.
  const pending = publishBatch(publisher, base, "during", 5);
  await h.broker("stop");
  pending.push(...publishBatch(publisher, base, "offline", 5));
  await h.sleep(300);
  // The Rust test asserts `!publisher.connected()` right after these 300 ms. No timing is
  // asserted here: the same condition, waited for (bounded) before the broker comes back.
  for (let i = 0; i < 100 && publisher.connected !== false; i++) await h.sleep(100);
  assertEq(publisher.connected, false, "publisher.connected while the broker is stopped");
  await h.broker("start");
  for (const p of pending) await unwrap(p, "a publish across the restart");
  assert(offline.n >= 1, `offline events: ${offline.n} >= 1`);
  assert(reconnected.n >= 1, `connect events: ${reconnected.n} >= 1`);
  assertEq(publisher.connected, true, "publisher.connected");
  const expected = ["before", "during", "offline"].flatMap((t) => [0, 1, 2, 3, 4].map((i) => `${t}${i}`));
  const got = await h.collect(it, expected.length * 2);
  h.checkDelivery(got, base, expected);
  await unwrap(publisher.end());
  await unwrap(sub.end());
});

test("session_is_restored_from_indexeddb_after_the_client_was_dropped", async (h, env) => {
  const { unwrap, assert, assertEq } = h;
  const base = h.unique("idb");
  const id = h.unique("idb-client");
  const url = env.ws;
  const watcher = await h.connect(url, "{}");
  const it = watcher.messages();
  await unwrap(watcher.subscribe(`${base}/#`, h.qos(2)));
  const opts = `{"clientId": "${id}", "clean": false, "maxInflight": 1}`;
  const first = await h.connect(url, opts);
  assertEq(first.restored.length, 0);
  const pending = h.publishBatch(first, base, "m", 5);
  // Stored (in flight or queued) before anything is dropped; then a crash, no DISCONNECT.
  await unwrap(first.persisted());
  first.destroy();
  for (const p of pending) assertEq(await h.result(p), { Err: "CLOSED" });
  const second = await h.connect(url, opts);
  // The Rust test keeps the array the getter returned (a copy) and reads its length at the end:
  // the count is taken now, whether or not an implementation hands out a live array.
  const restored = second.restored.length;
  assert(restored >= 9, `restored ${restored}`);
  const done = h.counter(second, "restored");
  const expected = [0, 1, 2, 3, 4].map((i) => `m${i}`);
  const got = await h.collect(it, 10);
  h.checkDelivery(got, base, expected);
  // The app learns that each restored request completed.
  for (let i = 0; i < 100; i++) {
    if (second.restored.length === 0) break;
    await h.sleep(50);
  }
  assertEq(second.restored.length, 0);
  assertEq(done.n, restored);
  await unwrap(second.end());
  await unwrap(watcher.end());
  await unwrap(h.MqttClient.clearSession(url, id));
});

test("one_client_at_a_time_uses_a_stored_session", async (h, env) => {
  const { unwrap, assertEq, MqttClient } = h;
  const id = h.unique("lock-client");
  const url = env.ws;
  const opts = `{"clientId": "${id}", "clean": false}`;
  const first = await h.connect(url, opts);
  // A second client on the same stored session (another tab, say) is refused before it
  // connects: at the broker the two would keep throwing each other off.
  const e = await h.connectError(url, opts, "a second client took the stored session");
  assertEq(h.codeOf(e), "SESSION_LOCKED");
  assertEq(await h.result(MqttClient.clearSession(url, id)), { Err: "SESSION_LOCKED" });
  // Another client id is not affected.
  const other = await h.connect(url, `{"clientId": "${id}-2", "clean": false}`);
  await unwrap(other.end());
  // end() and destroy() let the session go.
  assertEq(first.connected, true, "first.connected");
  await unwrap(first.end());
  const second = await h.connect(url, opts);
  second.destroy();
  const third = await h.connect(url, opts);
  await unwrap(third.end());
  await unwrap(MqttClient.clearSession(url, id));
  await unwrap(MqttClient.clearSession(url, `${id}-2`));
});

// ---------------------------------------------------------------------------------------------
// The runner.


/** The package's browser entry: package.json `exports["."]` (browser / import / default), else
 *  `module`, `main`, else mq.js. */
function packageEntry(dir) {
  let pj = {};
  try {
    pj = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
  } catch {}
  const pick = (x) => {
    if (typeof x === "string") return x;
    if (!x || typeof x !== "object") return undefined;
    for (const [k, v] of Object.entries(x)) {
      if (["browser", "import", "default"].includes(k)) {
        const r = pick(v);
        if (r) return r;
      }
    }
    return undefined;
  };
  let e = pj.exports;
  if (e && typeof e === "object" && !Array.isArray(e) && Object.keys(e).some((k) => k.startsWith("."))) e = e["."];
  const entry = pick(e) || pj.module || pj.main || "mq.js";
  return "/" + path.posix.normalize(entry).replace(/^(\.\/|\/)+/, "");
}

let browser = null;
let stopping = null; // the signal that came: the runner stops, prints no summary, exits 128 + its number
const PAGE = "/__mq_client_test__.html";
const HARNESS = "/__mq_client_test__/harness.js";

async function runTest(browser, origin, env, { name, body }) {
  const context = await browser.newContext();
  // What the page said on the side (page errors, console errors), shown with a failure:
  // distinct lines, counted.
  const seen = new Map();
  const note = (line) => seen.set(line, (seen.get(line) || 0) + 1);
  const notes = [];
  let timer;
  try {
    const page = await context.newPage();
    page.on("pageerror", (e) => note(`page error: ${e}`));
    page.on("console", (m) => { if (m.type() === "error") note(`console: ${m.text()}`); });
    await page.goto(`${origin}${PAGE}`);
    await page.waitForFunction(() => window.mqReady || window.mqLoadError, null, { timeout: 30_000 });
    const loadError = await page.evaluate(() => window.mqLoadError);
    if (loadError) return { failure: `the package did not load: ${loadError}`, notes };
    const hang = new Promise((resolve) => {
      timer = setTimeout(() => resolve(`no result after ${TEST_TIMEOUT_MS / 1000} s (hung)`), TEST_TIMEOUT_MS);
    });
    const run = page.evaluate((source) => window.mqHarness.run(source), body.toString())
      .catch((e) => `the page failed: ${e.message}`);
    return { failure: await Promise.race([run, hang]), notes };
  } catch (e) {
    return { failure: `${e && e.stack ? e.stack : e}`, notes };
  } finally {
    clearTimeout(timer);
    await context.close().catch(() => {});
    // A test that failed while the broker was stopped must not take the next ones down with it.
    await fetch(`${env.control}/start`, { method: "POST" }).catch((e) => note(`could not restart the broker: ${e}`));
    for (const [line, n] of [...seen].slice(0, 8)) notes.push(n > 1 ? `${line} (${n} times)` : line);
    if (seen.size > 8) notes.push(`${seen.size - 8} more`);
  }
}

async function main() {
  const unknown = only.filter((n) => !tests.some((t) => t.name === n));
  if (unknown.length) {
    console.error(`unknown test(s): ${unknown.join(", ")}; the tests are:\n${tests.map((t) => t.name).join("\n")}`);
    return 2;
  }
  const selected = only.length ? tests.filter((t) => only.includes(t.name)) : tests;
  let env;
  try {
    const b = await useBroker();
    env = b.env;
    console.log(`# broker: ${env.ws} (${b.started ? "tests/browser/broker.mjs, started for this run" : "from the environment"})`);
  } catch (e) {
    console.error(`${e.message || e}`);
    return 2;
  }

  const entry = packageEntry(pkgDir);
  console.log(`# package: ${pkgDir}, entry ${entry}`);
  const pageHtml = `<!doctype html>
<meta charset="utf-8">
<title>mq-wasm client test</title>
<script type="module">
try {
  const mq = await import(${JSON.stringify(entry)});
  const { harness } = await import(${JSON.stringify(HARNESS)});
  await mq.default();
  window.mqHarness = harness(mq, ${JSON.stringify(env)});
  window.mqReady = true;
} catch (e) {
  window.mqLoadError = String(e && e.stack ? e.stack : e);
}
</script>
`;
  const server = await serveDir(pkgDir, {
    [PAGE]: { type: "text/html", body: pageHtml },
    [HARNESS]: { type: "text/javascript", body: `export const harness = ${harness.toString()};\n` },
    "/favicon.ico": { type: "image/x-icon", body: "" },
  });
  let passed = 0;
  let failed = 0;
  try {
    // Signals are handled below (the broker must be stopped too), not by Playwright, whose
    // handler would exit the process before that.
    browser = await launch({ handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false });
    for (const t of selected) {
      const { failure, notes } = await runTest(browser, server.origin, env, t);
      if (stopping) break;
      if (failure === null) {
        passed += 1;
        console.log(`ok ${t.name}`);
      } else {
        failed += 1;
        const extra = notes.length ? ` [${notes.join(" | ")}]` : "";
        console.log(`FAIL ${t.name}: ${String(failure).replace(/\s*\n\s*/g, " | ")}${extra}`);
      }
    }
  } finally {
    await browser?.close().catch(() => {});
    server.close();
    if (failed && brokerLog.trim()) console.log(brokerLog.trim().split("\n").map((l) => `# broker: ${l}`).join("\n"));
    await stopBroker();
  }
  if (stopping) return 128 + os.constants.signals[stopping];
  console.log(`test result: ${failed === 0 ? "ok" : "FAILED"}. ${passed} passed; ${failed} failed;`);
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.once(sig, async () => {
    stopping = sig;
    console.log(`# ${sig}: stopping`);
    await browser?.close().catch(() => {});
    await stopBroker().catch(() => {});
    process.exit(128 + os.constants.signals[sig]);
  });
}

let code;
try {
  code = await main();
} catch (e) {
  console.log(`FAIL (the test could not run): ${e && e.stack ? e.stack : e}`);
  code = 2;
} finally {
  await stopBroker().catch(() => {});
}
process.exit(code);
