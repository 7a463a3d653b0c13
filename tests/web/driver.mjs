// The npm package (`wasm-pack build --target web` of the Rust browser driver, src/wasm/: class
// MqttClient) in Node, no browser, no broker: the WebSocket, IndexedDB, Web Locks, navigator and
// document are the fakes of fakes.mjs (the test plays the broker). Each test is named after the
// behaviour it holds the driver to; most of them guard a bug a review found (first in the old JS
// driver, js/mq.js); the last ones ("the one driver: ...") hold the driver to what the two old
// drivers did differently.
//
//   node tests/web/driver.mjs [test name substring ...]
//   MQ_PKG_DIR=target/fake-pkg node tests/web/driver.mjs
//
// MQ_PKG_DIR: the package folder, wasm-pack's output with mq.js (exports the default `init`,
// `initSync` and `MqttClient`) and mq_bg.wasm (default pkg/ in the repository), so a changed
// build can be tested (that is how a test is checked to fail without its fix). Waits are bounded
// (a hang fails the test) and no timing is asserted. Prints `ok name` / `FAIL name: reason` per
// test, then `test result: ...` (the line scripts/test.sh counts) and `N passed, N failed`;
// exits 1 if any test failed.
import { FakeClock, parsePackets, sleep } from "./fakes.mjs";
import {
  AssertionError, CONNACK, MqttClient, PINGRESP, PUBACK, T, WAIT_MS, assert, assertEq, attempt, connectClient, dec,
  dropChannelMessages, eventLog, parseConnect, publishOf, publishPacket, rejects, resolves, run, settled, show, storedRecords, text, track, waitFor,
} from "./harness.mjs";

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
    await rejects("the publish", () => c.publish("t", "x", options), "CLOSED");
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
  const e = await rejectsBeforeOpening(env, "connect with a throwing getter", () => MqttClient.connect("ws://x", getter), "INVALID_ARGUMENT");
  assert(e.cause === boom, `the cause is not the thrown error: ${e.cause}`);
  const willGetter = { reconnect: false, will: { topic: "w", get payload() { throw boom; } } };
  const w = await rejectsBeforeOpening(env, "connect with a throwing will getter", () => MqttClient.connect("ws://x", willGetter), "INVALID_ARGUMENT");
  assert(w.cause === boom, "the will getter's error is not the cause");
  const proxy = new Proxy({}, { ownKeys() { throw boom; } });
  const p = await rejectsBeforeOpening(env, "connect with a proxy that throws", () => MqttClient.connect("ws://x", proxy), "INVALID_ARGUMENT");
  assert(p.cause === boom, "the proxy's error is not the cause");
  assertEq(env.sockets.length, 0, "WebSockets opened");
});

test("an options getter that throws gives INVALID_ARGUMENT with the thrown error as cause (publish)", async (env) => {
  const [c, ws] = await connectClient(env, "ws://getter-throws", { reconnect: false });
  const boom = new Error("boom");
  const e = await rejects("publish with a throwing getter", () => c.publish("t", "x", { get qos() { throw boom; } }), "INVALID_ARGUMENT");
  assert(e.cause === boom, `the cause is not the thrown error: ${e.cause}`);
  const s = await rejects("subscribe with a throwing getter", () => c.subscribe("t", { get qos() { throw boom; } }), "INVALID_ARGUMENT");
  assert(s.cause === boom, "subscribe: the cause is not the thrown error");
  // Nothing was half done: the client goes on.
  await resolves("a publish afterwards", c.publish("t", "after", { qos: 0 }));
  assertEq(ws.packets().filter((p) => p.type == T.PUBLISH).map((p) => publishOf(p).payload), ["after"], "the PUBLISH packets sent");
});

test("clearSession and storedSession with a client id that is not a string reject INVALID_ARGUMENT", async (env) => {
  await rejects("clearSession(url, 42)", () => MqttClient.clearSession("ws://x", 42), "INVALID_ARGUMENT");
  await rejects("storedSession(url, 42)", () => MqttClient.storedSession("ws://x", 42), "INVALID_ARGUMENT");
  await rejects("clearSession(42, id)", () => MqttClient.clearSession(42, "id"), "INVALID_ARGUMENT");
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
    // The driver catches the failed reading (it reads as the last good one) rather than let
    // the exception unwind through it while its state is borrowed: nothing escapes the timer.
    assert(clock.failNext === undefined || clock.failNext === null, "the clock was not read");
    assertEq(clock.errors, [], "what the keepalive timer's callback threw");
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
    assertEq([got, clock.errors.length], [["in hello"], 0], "messages and timer errors");
    await resolves("end()", c.end());
    assert(ws.packets().some((p) => p.type == T.DISCONNECT), "no DISCONNECT went out");
  } finally {
    clock.uninstall();
  }
});

// ---- the broker's side of the WebSocket ----

test("the WebSocket asks for the subprotocol mqtt [MQTT-6.0.0-3]", async (env) => {
  const [c, ws] = await connectClient(env, "ws://subprotocol", { reconnect: false });
  assertEq(ws.protocols, ["mqtt"], "the subprotocols asked for");
  await resolves("end()", c.end());
});

test("a WebSocket text frame from the broker closes the connection with PROTOCOL_ERROR [MQTT-6.0.0-1]", async (env) => {
  const [c, ws] = await connectClient(env, "ws://text-frame", { reconnect: false });
  const log = eventLog(c);
  const got = [];
  c.on("message", (t) => got.push(t));
  ws.receiveText("not MQTT");
  await waitFor("the close", () => log.includes("close"));
  assertEq(log, ["close", "offline", "error:PROTOCOL_ERROR"], "the events");
  assert(!c.connected, "the client is still connected");
  await waitFor("the socket closed by the client", () => ws.closedByClient);
  assertEq(got, [], "messages");
});

test("nothing is sent on a WebSocket the broker is closing; a publish made then goes out on the next connection", async (env) => {
  // Found by tests/web/faults.mjs: Chromium logged "WebSocket is already in CLOSING or CLOSED
  // state" for each frame the driver handed to a socket between the broker's close frame and
  // the close event.
  const [c, ws] = await connectClient(env, "ws://peer-closing", { clean: false, session: "memory", reconnect: { minDelay: 1, maxDelay: 1 } });
  ws.peerClosing();
  const p = track(c.publish("t", "during the close", { qos: 1 }));
  await sleep(20);
  assertEq(ws.sendsWhileClosing, 0, "frames handed to the closing WebSocket");
  ws.drop(1000);
  const ws2 = await waitFor("the reconnection", () => env.sockets[1]);
  ws2.accept();
  await waitFor("CONNECT", () => ws2.sent.length);
  ws2.receive(CONNACK(1));
  const sent = await waitFor("the PUBLISH", () => ws2.packets().find((q) => q.type == T.PUBLISH));
  assertEq(publishOf(sent).payload, "during the close", "the message sent on the new connection");
  ws2.receive(PUBACK(publishOf(sent).pkid));
  await resolves("the publish", p);
  assertEq(ws.sendsWhileClosing + ws2.sendsWhileClosing, 0, "frames handed to a closing WebSocket");
  await resolves("end()", c.end());
});

test("a message over maxPacketSize is acknowledged, reported as TOO_LARGE and dropped; the connection stays", async (env) => {
  const [c, ws] = await connectClient(env, "ws://oversize", { reconnect: false, maxPacketSize: 64 });
  const log = eventLog(c);
  const got = [];
  c.on("message", (t, p) => got.push(`${t} ${dec(p)}`));
  // A QoS 1 PUBLISH of 200 bytes (a two-byte remaining length), in three frames.
  const t = text("big/t"), body = [0, t.length, ...t, 0, 5, ...text("y".repeat(200))];
  const big = [0x32, (body.length & 127) | 128, body.length >> 7, ...body];
  for (const [a, b] of [[0, 3], [3, 100], [100, big.length]]) ws.receive(big.slice(a, b));
  await waitFor("the PUBACK", () => ws.packets().some((p) => p.type == T.PUBACK));
  ws.receive(publishPacket("small/t", "ok", 1, 6));
  await waitFor("the small message", () => got.length);
  assertEq(got, ["small/t ok"], "messages");
  assertEq(log, ["error:TOO_LARGE"], "the events");
  assert(c.connected, "the client is no longer connected");
  await resolves("end()", c.end());
});

test("a full messages() stream holds back PUBACKs until the app reads; a QoS 0 message that finds it full is dropped", async (env) => {
  const [c, ws] = await connectClient(env, "ws://pause", { reconnect: false });
  const it = c.messages({ bufferSize: 2 });
  const acks = () => ws.packets().filter((p) => p.type == T.PUBACK).map((p) => (p.body[0] << 8) | p.body[1]);
  ws.receive([...publishPacket("t", "a", 1, 1), ...publishPacket("t", "b", 1, 2)]);
  await waitFor("two buffered", () => it.buffered == 2);
  assertEq(acks(), [1, 2], "acknowledged while there was room");
  ws.receive(publishPacket("t", "c", 1, 3));
  ws.receive(publishPacket("t", "d", 1, 4));
  ws.receive(publishPacket("t", "z", 0));
  await waitFor("the QoS 0 message counted", () => it.dropped == 1);
  assertEq([it.buffered, acks()], [4, [1, 2]], "held back: buffered, PUBACKs");
  const read = [];
  for (let i = 0; i < 2; i++) read.push(dec((await it.next()).value.payload));
  await sleep(20);
  assertEq(acks(), [1, 2], "PUBACKs while still full");
  read.push(dec((await it.next()).value.payload));
  await waitFor("the held PUBACKs", () => acks().length == 4);
  assertEq([read, acks()], [["a", "b", "c"], [1, 2, 3, 4]], "read, then PUBACKs in arrival order");
  assert(c.connected, "the client is no longer connected");
  await resolves("end()", c.end());
});

test("a full messages() stream holds back PUBRECs of an IndexedDB session's QoS 2 messages until the app reads", async (env) => {
  const [c, ws] = await connectClient(env, "ws://pause-q2", { clientId: "pause-q2", clean: false, reconnect: false });
  const it = c.messages({ bufferSize: 2 });
  const recs = () => ws.packets().filter((p) => p.type == T.PUBREC).map((p) => (p.body[0] << 8) | p.body[1]);
  // Each message waits for the write that stores its packet id, so the stream learns it is full
  // only once that write completed: then the PUBRECs of what comes next are held.
  for (let i = 1; i <= 2; i++) {
    ws.receive(publishPacket("t", String(i), 2, i));
    await waitFor(`message ${i} buffered`, () => it.buffered == i);
  }
  ws.receive(publishPacket("t", "3", 2, 3));
  ws.receive(publishPacket("t", "4", 2, 4));
  await waitFor("four buffered", () => it.buffered == 4);
  await c.persisted();
  assertEq(recs(), [1, 2], "PUBRECs while there was room");
  assertEq(c.session().incoming.length, 4, "every incoming packet id stored");
  for (let i = 0; i < 3; i++) await it.next();
  await waitFor("the held PUBRECs", () => recs().length == 4);
  assertEq(recs(), [1, 2, 3, 4], "PUBRECs in arrival order");
  await resolves("end()", c.end());
});

test("a full messages() stream stays readable after the client ended", async (env) => {
  const [c, ws] = await connectClient(env, "ws://pause-end", { reconnect: false });
  const it = c.messages({ bufferSize: 1 });
  for (let i = 1; i <= 3; i++) ws.receive(publishPacket("t", String(i), 1, i));
  await waitFor("three buffered", () => it.buffered == 3);
  await resolves("end()", c.end());
  const read = [];
  for (let r = await it.next(); !r.done; r = await it.next()) read.push(dec(r.value.payload));
  assertEq(read, ["1", "2", "3"], "read after end()");
});

test("a messages() stream with overflow dropOldest never holds acknowledgements back", async (env) => {
  const [c, ws] = await connectClient(env, "ws://drop-oldest", { reconnect: false });
  const it = c.messages({ bufferSize: 2, overflow: "dropOldest" });
  for (let i = 1; i <= 5; i++) ws.receive(publishPacket("t", String(i), 1, i));
  await waitFor("five PUBACKs", () => ws.packets().filter((p) => p.type == T.PUBACK).length == 5);
  assertEq([it.buffered, it.dropped], [2, 3], "buffered, dropped");
  assertEq([dec((await it.next()).value.payload), dec((await it.next()).value.payload)], ["4", "5"], "the newest two");
  await resolves("end()", c.end());
});

test("a session stored by version 1 (a record per key) is resumed, then rewritten as a log", async (env) => {
  const url = "ws://v1-session", clientId = "v1";
  // Version 1's layout: the store "records", key [url, client id, StoreKey string], value
  // StoreRecord::to_bytes(): here a queued QoS 1 message, request 7 (tag Q, the request id, the
  // QoS, then a QoS 0 PUBLISH of topic "t" and payload "from v1").
  const publish = [0x30, 2 + 1 + 7, 0, 1, ...text("t"), ...text("from v1")];
  const record = Uint8Array.from([0x51, 0, 0, 0, 0, 0, 0, 0, 7, 1, ...publish]);
  await new Promise((resolve, reject) => {
    const req = indexedDB.open("mq-sessions", 1);
    req.onupgradeneeded = () => req.result.createObjectStore("records");
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const db = req.result, tx = db.transaction("records", "readwrite");
      tx.objectStore("records").put(record, [url, clientId, "q00000000000000000007"]);
      tx.oncomplete = () => (db.close(), resolve());
      tx.onerror = () => reject(tx.error);
    };
  });
  const [c, ws] = await connectClient(env, url, { clientId, clean: false, reconnect: false }, 1);
  assertEq(c.restored.map((r) => [r.id, r.qos, r.topic, dec(r.payload)]), [[7, 1, "t", "from v1"]], "restored from version 1");
  await waitFor("the restored PUBLISH", () => ws.packets().some((p) => p.type == T.PUBLISH && publishOf(p).payload == "from v1"));
  const sent = ws.packets().find((p) => p.type == T.PUBLISH);
  ws.receive(PUBACK(publishOf(sent).pkid));
  await resolves("persisted()", c.persisted());
  assertEq(env.idb.records("mq-sessions", "records").filter((r) => r.key[1] === clientId).length, 0, "version 1 records left");
  assertEq(storedRecords(env, url, clientId).map((r) => r.key), [], "records left once the message completed");
  await resolves("end()", c.end());
});

// ---- the one driver: what the two old drivers (js/mq.js and src/wasm/) did differently ----

/** `f()` (a connect) rejects with `code` before opening any WebSocket. A connect that went on
 *  instead fails the test, and its socket is dropped so it ends. */
// ---- share: "tabs" (two clients of one process play two tabs: Node's BroadcastChannel, the
// fake Web Locks) ----

const SUBACK = (pkid, ...codes) => [0x90, 2 + codes.length, pkid >> 8, pkid & 255, ...codes];

test("share: a follower uses the leader's one WebSocket; when the leader ends, the follower leads and completes its stored publish once", async (env) => {
  const url = "ws://share-handover";
  const opts = { clientId: "tabs", share: "tabs", reconnect: { minDelay: 1, maxDelay: 1 } };
  const [a, wsA] = await connectClient(env, url, opts);
  assertEq(a.role, "leader", "the first client's role");
  const b = await resolves("the second client's connect", MqttClient.connect(url, opts));
  env.clients.push(b);
  assertEq([b.role, b.connected, env.sockets.length], ["follower", true, 1], "the second client: role, connected, WebSockets");
  const events = eventLog(b);
  await rejects("a follower's publish to a wildcard topic", () => b.publish("a/#", "x"), "INVALID_TOPIC");
  // The follower's subscribe goes out on the leader's socket; the message comes back to it only.
  const got = { a: [], b: [] };
  a.on("message", (t, p) => got.a.push(`${t} ${dec(p)}`));
  b.on("message", (t, p) => got.b.push(`${t} ${dec(p)}`));
  const subscribed = track(b.subscribe("s/#", { qos: 1 }));
  const sub = await waitFor("SUBSCRIBE on the leader's socket", () => wsA.packets().find((p) => p.type == 8));
  wsA.receive(SUBACK((sub.body[0] << 8) | sub.body[1], 1));
  assertEq(await resolves("the follower's subscribe", subscribed.promise), [{ topic: "s/#", qos: 1 }], "granted");
  wsA.receive(publishPacket("s/1", "hello", 1, 7));
  await waitFor("the message in the follower", () => got.b.length);
  assertEq([got.a, got.b], [[], ["s/1 hello"]], "messages: leader (not subscribed), follower");
  // A QoS 1 publish of the follower: on the leader's socket, stored, never acknowledged.
  const published = track(b.publish("t", "stored", { qos: 1 }));
  const out = await waitFor("the follower's PUBLISH on the leader's socket", () =>
    wsA.packets().find((p) => p.type == T.PUBLISH && publishOf(p).payload == "stored"));
  await resolves("persisted() in the follower (the leader said stored)", b.persisted());
  await resolves("the leader's end()", a.end());
  assert(wsA.packets().some((p) => p.type == T.DISCONNECT), "the leader sent DISCONNECT");
  // The follower takes the lock, restores the session and connects on a WebSocket of its own.
  const wsB = await waitFor("the new leader's WebSocket", () => env.sockets[1]);
  wsB.accept();
  await waitFor("CONNECT", () => wsB.sent.length);
  wsB.receive(CONNACK(1));
  const again = await waitFor("the stored PUBLISH sent again", () =>
    wsB.packets().find((p) => p.type == T.PUBLISH && publishOf(p).payload == "stored"));
  assertEq([publishOf(again).pkid, again.flags & 8], [publishOf(out).pkid, 8], "the same packet id, DUP set");
  assertEq(wsB.packets().filter((p) => p.type == T.PUBLISH).length, 1, "PUBLISH packets on the new socket");
  assertEq(published.state, "pending", "the publish before its PUBACK");
  wsB.receive(PUBACK(publishOf(again).pkid));
  await resolves("the follower's publish", published.promise);
  assertEq(b.role, "leader", "the second client's role after the handover");
  await waitFor("connect event", () => events.includes("connect"));
  assertEq(events, ["close", "offline", "connect"], "the second client's events");
  wsB.receive(publishPacket("s/2", "after", 1, 8));
  await waitFor("a message after the handover", () => got.b.length == 2);
  assertEq(got.b, ["s/1 hello", "s/2 after"], "the follower's messages, across the handover");
});

test("share: a follower's publish issued while no client leads waits and goes to the next leader", async (env) => {
  const url = "ws://share-gap";
  const opts = { clientId: "tabs", share: "tabs", reconnect: { minDelay: 1, maxDelay: 1 } };
  const [a, wsA] = await connectClient(env, url, opts);
  const b = await resolves("the second client's connect", MqttClient.connect(url, opts));
  env.clients.push(b);
  let sent;
  b.on("offline", () => { sent ??= track(b.publish("t", "in the gap", { qos: 2 })); });
  a.destroy();
  await waitFor("the follower saw the leader go", () => sent);
  assert(!wsA.packets().some((p) => p.type == T.PUBLISH), "a PUBLISH on the old leader's socket");
  const wsB = await waitFor("the new leader's WebSocket", () => env.sockets[1]);
  wsB.accept();
  await waitFor("CONNECT", () => wsB.sent.length);
  wsB.receive(CONNACK(1));
  const p = await waitFor("the gap's PUBLISH", () => wsB.packets().find((p) => p.type == T.PUBLISH));
  assertEq(publishOf(p).payload, "in the gap", "its payload");
  const pk = publishOf(p).pkid;
  wsB.receive([0x50, 2, pk >> 8, pk & 255]); // PUBREC
  const rel = await waitFor("PUBREL", () => wsB.packets().find((q) => q.type == 6));
  wsB.receive([0x70, 2, rel.body[0], rel.body[1]]);
  await resolves("the publish issued in the gap", sent.promise);
});

test("share: a QoS 2 message whose post the leader's end lost reaches the follower once through the failover; one it had is not delivered twice", async (env) => {
  const url = "ws://share-q2";
  const opts = { clientId: "tabs-q2", share: "tabs", reconnect: { minDelay: 1, maxDelay: 1 } };
  const [a, wsA] = await connectClient(env, url, opts);
  const b = await resolves("the second client's connect", MqttClient.connect(url, opts));
  env.clients.push(b);
  const got = [];
  b.on("message", (t, p) => got.push(`${t} ${dec(p)}`));
  const subscribed = track(b.subscribe("q/#", { qos: 2 }));
  const sub = await waitFor("SUBSCRIBE on the leader's socket", () => wsA.packets().find((p) => p.type == 8));
  wsA.receive(SUBACK((sub.body[0] << 8) | sub.body[1], 2));
  await resolves("the follower's subscribe", subscribed.promise);
  const pubrec = (id) => wsA.packets().some((p) => p.type == T.PUBREC && ((p.body[0] << 8) | p.body[1]) == id);
  // Id 6: posted and delivered as usual.
  wsA.receive(publishPacket("q/1", "had", 2, 6));
  await waitFor("the first message in the follower", () => got.length == 1 && pubrec(6));
  // Id 5: the leader stores its id, answers PUBREC and posts it, but its page goes: the post
  // never reaches the follower (dropped here, as a closing page's may be) and the PUBREC never
  // reaches the broker (the connection drops; the session then records both ids as delivered).
  const MSG = 7; // wire.rs: a message's kind, after the magic byte 0xa1
  const undrop = dropChannelMessages(MSG);
  try {
    wsA.receive(publishPacket("q/1", "lost", 2, 5));
    await waitFor("PUBREC 5", () => pubrec(5));
    wsA.drop();
    const marked = () => storedRecords(env, url, opts.clientId).filter((r) => r.value[0] == 0x49 && r.value[3] == 1).length == 2;
    await waitFor("both ids recorded as delivered", marked);
  } finally {
    undrop();
  }
  assertEq(got, ["q/1 had"], "the follower's messages before the failover (the post of id 5 lost)");
  a.destroy();
  const before = env.sockets.length;
  const wsB = await waitFor("the new leader's WebSocket", () => env.sockets[before]);
  wsB.accept();
  await waitFor("CONNECT", () => wsB.sent.length);
  wsB.receive(CONNACK(1));
  // The broker, which saw neither PUBREC, sends both again (DUP).
  const dup = (pkid, payload) => {
    const p = publishPacket("q/1", payload, 2, pkid);
    p[0] |= 8;
    return p;
  };
  wsB.receive(dup(5, "lost"));
  wsB.receive(dup(6, "had"));
  const pubrecs = () => wsB.packets().filter((p) => p.type == T.PUBREC).map((p) => (p.body[0] << 8) | p.body[1]);
  await waitFor("PUBREC 5 and 6 from the new leader", () => pubrecs().length == 2);
  assertEq(pubrecs(), [5, 6], "the new leader's PUBRECs");
  // Released, an id carries a new message, delivered as any.
  wsB.receive([0x62, 2, 0, 5]);
  wsB.receive([0x62, 2, 0, 6]);
  wsB.receive(publishPacket("q/1", "next", 2, 6));
  await waitFor("the message after the release", () => got.includes("q/1 next"));
  assertEq(got, ["q/1 had", "q/1 lost", "q/1 next"], "the follower's messages: each once");
});

async function rejectsBeforeOpening(env, what, f, code) {
  const before = env.sockets.length;
  const t = attempt(f);
  await waitFor(`${what} to settle or open a WebSocket`, () => t.state != "pending" || env.sockets.length > before);
  if (t.state == "pending") {
    for (const ws of env.sockets.slice(before)) ws.drop();
    throw new AssertionError(`${what} opened a WebSocket (to ${env.sockets[before].url}) instead of rejecting with ${code}`);
  }
  return rejects(what, t, code);
}

test("the one driver: a connect option getter that throws rejects INVALID_ARGUMENT with the thrown error as cause", async (env) => {
  const boom = new Error("x");
  const cases = {
    keepalive: { reconnect: false, get keepalive() { throw boom; } },
    clientId: { reconnect: false, get clientId() { throw boom; } },
    "reconnect.minDelay": { reconnect: { get minDelay() { throw boom; } } },
    "will.topic": { reconnect: false, will: { get topic() { throw boom; }, payload: "p" } },
  };
  for (const [name, options] of Object.entries(cases)) {
    const e = await rejectsBeforeOpening(env, `connect with a throwing ${name} getter`, () => MqttClient.connect("ws://127.0.0.1:1/", options), "INVALID_ARGUMENT");
    assert(e.cause === boom, `${name}: the cause is not the thrown error: ${show(e.cause)}`);
  }
  assertEq(env.sockets.length, 0, "WebSockets opened");
});

test("the one driver: a publish, subscribe or unsubscribe argument getter that throws rejects INVALID_ARGUMENT with the thrown error as cause", async (env) => {
  const [c, ws] = await connectClient(env, "ws://127.0.0.1:1/", { reconnect: false });
  const boom = new Error("x");
  const throwingSecond = () => {
    const a = ["a/b"];
    Object.defineProperty(a, 1, { get() { throw boom; }, enumerable: true });
    return a;
  };
  const cases = {
    "publish qos": () => c.publish("t", "x", { get qos() { throw boom; } }),
    "publish retain": () => c.publish("t", "x", { qos: 0, get retain() { throw boom; } }),
    "subscribe qos": () => c.subscribe("t", { get qos() { throw boom; } }),
    "subscribe topic array": () => c.subscribe(throwingSecond(), { qos: 0 }),
    "unsubscribe topic array": () => c.unsubscribe(throwingSecond()),
  };
  for (const [name, f] of Object.entries(cases)) {
    const e = await rejects(`${name} with a throwing getter`, f, "INVALID_ARGUMENT");
    assert(e.cause === boom, `${name}: the cause is not the thrown error: ${show(e.cause)}`);
  }
  // Nothing was half done: nothing went out, and the client goes on.
  await resolves("a publish afterwards", c.publish("t", "after", { qos: 0 }));
  assertEq(ws.packets().map((p) => p.type).filter((t) => t != T.CONNECT), [T.PUBLISH], "the packets sent after CONNECT");
  assertEq(publishOf(ws.packets()[1]).payload, "after", "the PUBLISH sent");
  assert(c.connected, "the client is no longer connected");
});

test("the one driver: a URL object as the broker URL is taken as its string form", async (env) => {
  const href = "ws://127.0.0.1:1/";
  const clientId = "url-object";
  let c, ws;
  try {
    [c, ws] = await connectClient(env, new URL(href), { clientId, clean: false, reconnect: false });
  } catch (e) {
    throw e instanceof AssertionError ? new AssertionError(`connect(new URL(${show(href)})): ${e.message}`) : e;
  }
  assertEq(ws.url, href, "the WebSocket's URL");
  assertEq(ws.protocols, ["mqtt"], "the subprotocols asked for");
  // The session is stored under the URL's string form.
  const published = c.publish("t", "via URL", { qos: 1 });
  const sent = await waitFor("the PUBLISH", () => ws.packets().find((x) => x.type == T.PUBLISH));
  assert(storedRecords(env, href, clientId).length > 0, "no record stored under the URL's string form before the PUBLISH went out");
  ws.receive(PUBACK(publishOf(sent).pkid));
  await resolves("the QoS 1 publish", published);
  await resolves("end()", c.end());
});

test("the one driver: a broker URL that is not a string or URL rejects INVALID_ARGUMENT, one that is not ws:// or wss:// INVALID_URL", async (env) => {
  for (const [shown, url] of [["42", 42], ["{}", {}], ["null", null], ["undefined", undefined], ['["ws://x/"]', ["ws://x/"]]]) {
    await rejectsBeforeOpening(env, `connect(${shown})`, () => MqttClient.connect(url, { reconnect: false }), "INVALID_ARGUMENT");
  }
  for (const [shown, url] of [['"http://127.0.0.1/"', "http://127.0.0.1/"], ['"127.0.0.1"', "127.0.0.1"], ['new URL("http://127.0.0.1/")', new URL("http://127.0.0.1/")]]) {
    await rejectsBeforeOpening(env, `connect(${shown})`, () => MqttClient.connect(url, { reconnect: false }), "INVALID_URL");
  }
  assertEq(env.sockets.length, 0, "WebSockets opened");
});

test("the one driver: clearSession and storedSession reject bad arguments before touching IndexedDB or the Web Lock", async (env) => {
  const lockRequests = [];
  const request = env.locks.request.bind(env.locks);
  env.locks.request = (name, ...rest) => (lockRequests.push(name), request(name, ...rest));
  for (const f of ["clearSession", "storedSession"]) {
    for (const [shown, id] of [["42", 42], ['""', ""], ["undefined", undefined], ["null", null], ["{}", {}]]) {
      await rejects(`${f}("ws://127.0.0.1:1/", ${shown})`, () => MqttClient[f]("ws://127.0.0.1:1/", id), "INVALID_ARGUMENT");
    }
    for (const [shown, url] of [["42", 42], ["{}", {}], ["undefined", undefined]]) {
      await rejects(`${f}(${shown}, "id")`, () => MqttClient[f](url, "id"), "INVALID_ARGUMENT");
    }
    for (const [shown, url] of [['"http://127.0.0.1/"', "http://127.0.0.1/"], ['new URL("http://127.0.0.1/")', new URL("http://127.0.0.1/")]]) {
      await rejects(`${f}(${shown}, "id")`, () => MqttClient[f](url, "id"), "INVALID_URL");
    }
  }
  assertEq(env.idb.connections.length, 0, "IndexedDB connections opened");
  assertEq(lockRequests.length, 0, "Web Lock requests");
});

test("the one driver: clearSession and storedSession take a URL object like its string form", async (env) => {
  const href = "ws://127.0.0.1:1/";
  const clientId = "url-object-session";
  {
    const [c, ws] = await connectClient(env, href, { clientId, clean: false, reconnect: { minDelay: 1e6 } });
    ws.drop();
    await waitFor("the client to see the connection lost", () => !c.connected);
    c.publish("t", "stored", { qos: 1 }).catch(() => {});
    await resolves("persisted()", c.persisted());
    c.destroy();
  }
  const view = await resolves("storedSession(new URL(...), id)", () => MqttClient.storedSession(new URL(href), clientId));
  assertEq(view.queued.map((q) => dec(q.payload)), ["stored"], "the stored session read through a URL object");
  await resolves("clearSession(new URL(...), id)", () => MqttClient.clearSession(new URL(href), clientId));
  assertEq(storedRecords(env, href, clientId).length, 0, "records left after clearSession");
});

await run(tests);
