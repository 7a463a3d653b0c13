// share: "tabs" failovers in Node, deterministically: three clients of one process play three
// tabs (Node's BroadcastChannel, the fakes of tests/web/fakes.mjs for the WebSocket, IndexedDB
// and Web Locks; the test plays the broker). A leader's page that goes at a chosen moment is a
// `destroy()` after the test dropped the channel's messages that page would not have posted.
//
//   node tests/web/share.mjs [test name substring ...]
//   MQ_PKG_DIR=target/fake-pkg node tests/web/share.mjs
//
// Output and exit status as tests/web/driver.mjs (tests/web/harness.mjs's runner).
import {
  CONNACK, MqttClient, PUBACK, T, assert, assertEq, connectClient, dropChannelMessages, publishOf, rejects, resolves, run, settled,
  storedRecords, track, waitFor,
} from "./harness.mjs";
import { sleep } from "./fakes.mjs";

const tests = [];
const test = (name, f) => tests.push({ name, f });

/** wire.rs: a channel message's kind (its second byte, after the magic 0xa1). */
const REQ = 2;
const ACK = 5;

/** Plays the broker on `ws` until `stop()`: PUBACK / PUBREC for every PUBLISH from now on,
 *  PUBCOMP for every PUBREL. Returns { stop, publishes() } (the payloads of every PUBLISH packet on
 *  `ws`, in order). */
function broker(ws) {
  let seen = ws.packets().length;
  let on = true;
  const loop = (async () => {
    while (on) {
      const packets = ws.packets();
      for (const p of packets.slice(seen)) {
        const id = [p.body[p.body.length - 2], p.body[p.body.length - 1]];
        if (p.type == T.PUBLISH) {
          const { qos, pkid } = publishOf(p);
          if (qos == 1) ws.receive(PUBACK(pkid));
          if (qos == 2) ws.receive([0x50, 2, pkid >> 8, pkid & 255]);
        } else if (p.type == 6) {
          ws.receive([0x70, 2, ...id]);
        }
      }
      seen = packets.length;
      await sleep(1);
    }
  })();
  return {
    stop: () => ((on = false), loop),
    publishes: () => ws.packets().filter((p) => p.type == T.PUBLISH).map((p) => publishOf(p).payload),
  };
}

/** The keys of the session's publish origins (src/wasm/share/origin.rs: `x<tab>/<n>`). */
const origins = (env, url, id) => storedRecords(env, url, id).map((r) => r.key).filter((k) => k.startsWith("x"));

test("share: the publishes a leader stored whose answers its page took with it are completed once by the next leader, for its own tab and another", async (env) => {
  const url = "ws://share-origin";
  const opts = { clientId: "tabs-origin", share: "tabs", reconnect: { minDelay: 1, maxDelay: 1 } };
  const [a, wsA] = await connectClient(env, url, opts);
  const b = await resolves("b's connect", MqttClient.connect(url, opts));
  env.clients.push(b);
  const c = await resolves("c's connect", MqttClient.connect(url, opts));
  env.clients.push(c);
  assertEq([a.role, b.role, c.role], ["leader", "follower", "follower"], "the roles");
  // From here the leader's answers never reach the followers: its page is about to go.
  const undrop = dropChannelMessages(ACK);
  const sent = {};
  try {
    // b0: stored, sent, acknowledged and forgotten by the session before the page goes.
    sent.b0 = track(b.publish("t/b", "b0", { qos: 1 }));
    const p0 = await waitFor("b0's PUBLISH", () => wsA.packets().find((p) => p.type == T.PUBLISH));
    wsA.receive(PUBACK(publishOf(p0).pkid));
    await waitFor("b0 gone from the stored session", () => !storedRecords(env, url, opts.clientId).some((r) => r.key.startsWith("o")));
    // The others: stored (a PUBLISH goes out only once the write holding it committed), never
    // acknowledged by the broker.
    sent.b1 = track(b.publish("t/b", "b1", { qos: 1 }));
    sent.b2 = track(b.publish("t/b", "b2", { qos: 2 }));
    sent.c1 = track(c.publish("t/c", "c1", { qos: 1 }));
    sent.c2 = track(c.publish("t/c", "c2", { qos: 2 }));
    await waitFor("the four PUBLISH packets on the leader's socket", () => wsA.packets().filter((p) => p.type == T.PUBLISH).length == 5);
    a.destroy();
  } finally {
    undrop();
  }
  for (const [k, s] of Object.entries(sent)) assertEq([k, s.state], [k, "pending"], "a publish before the failover");
  const wsB = await waitFor("the next leader's WebSocket", () => env.sockets[1]);
  wsB.accept();
  await waitFor("CONNECT", () => wsB.sent.length);
  wsB.receive(CONNACK(1));
  const played = broker(wsB);
  for (const [k, s] of Object.entries(sent)) await resolves(`the publish ${k}`, s.promise);
  await played.stop();
  assertEq(b.role, "leader", "b's role after the failover");
  // The session's four, each once (as DUP with its packet id); b0 never again.
  assertEq(played.publishes().sort(), ["b1", "b2", "c1", "c2"], "the next leader's PUBLISH packets");
  assert(wsB.packets().filter((p) => p.type == T.PUBLISH).every((p) => p.flags & 8), "a PUBLISH without DUP: published again, not resent");

  // The origins: a tab's requests say the lowest one it waits for, so those below go; a tab that
  // is gone takes its own with it.
  const bTab = (k) => k.split("/")[0];
  const before = origins(env, url, opts.clientId);
  assertEq(new Set(before.map(bTab)).size, 2, `the origins' tabs (b's and c's): ${before}`);
  const next = b.publish("t/b", "b3", { qos: 1 });
  const after = broker(wsB);
  await resolves("b3", next);
  await after.stop();
  await waitFor("b's older origins gone", () => origins(env, url, opts.clientId).length == 3);
  // A reader of the stored session skips them.
  const view = await resolves("storedSession with origins in it", MqttClient.storedSession(url, opts.clientId));
  assertEq(view.inflight.length, 0, "messages in flight in the stored session");
  c.destroy();
  await waitFor("c's origins gone with it", () => origins(env, url, opts.clientId).length == 1);
});

test("share: a follower publish's origin survives the log's compaction into a snapshot", async (env) => {
  const url = "ws://share-origin-snapshot";
  const opts = { clientId: "tabs-origin-snapshot", share: "tabs", reconnect: { minDelay: 1, maxDelay: 1 } };
  const [a, wsA] = await connectClient(env, url, opts);
  const b = await resolves("b's connect", MqttClient.connect(url, opts));
  env.clients.push(b);
  const kept = track(b.publish("t/b", "kept", { qos: 1 }));
  await waitFor("its PUBLISH", () => wsA.packets().some((p) => p.type == T.PUBLISH));
  const mine = origins(env, url, opts.clientId);
  assertEq(mine.length, 1, "origins");
  // More than 256 log entries (idb.rs COMPACT_AFTER): one write per publish of the leader's own.
  const played = broker(wsA);
  const entries = () => env.idb.records("mq-sessions", "log").filter((r) => r.key[0] === url).length;
  let most = 0;
  for (let i = 0; i < 300; i++) {
    await resolves(`publish ${i}`, a.publish("t/a", String(i), { qos: 1 }));
    most = Math.max(most, entries());
  }
  await played.stop();
  assert(entries() < most, `the log was not compacted (${entries()} entries, at most ${most})`);
  // b's, and the latest of a's own (the leader's tab publishes through its hub too).
  const after = origins(env, url, opts.clientId);
  assertEq([after.length, after.includes(mine[0])], [2, true], `origins after the snapshot (${after})`);
  assertEq(kept.state, "pending", "the follower's publish (never acknowledged)");
});

test("share: a follower's publish that never reached the leader whose page went is published by the next leader", async (env) => {
  // No origin in the session: the resend is a new publish.
  const url = "ws://share-origin-q0";
  const opts = { clientId: "tabs-origin-q0", share: "tabs", reconnect: { minDelay: 1, maxDelay: 1 } };
  const [a, wsA] = await connectClient(env, url, opts);
  const b = await resolves("b's connect", MqttClient.connect(url, opts));
  env.clients.push(b);
  const undrop = dropChannelMessages(REQ); // b's request never arrives
  let sent;
  try {
    sent = track(b.publish("t/b", "late", { qos: 1 }));
    await sleep(5);
    a.destroy();
  } finally {
    undrop();
  }
  const wsB = await waitFor("the next leader's WebSocket", () => env.sockets[1]);
  wsB.accept();
  await waitFor("CONNECT", () => wsB.sent.length);
  wsB.receive(CONNACK(1));
  const played = broker(wsB);
  await resolves("the resent publish", sent.promise);
  await played.stop();
  assertEq(played.publishes(), ["late"], "the next leader's PUBLISH packets");
  assertEq(wsA.packets().filter((p) => p.type == T.PUBLISH).length, 0, "PUBLISH packets on the old leader's socket");
});

test("share: a leader whose first connection fails while a store write runs lets the session's lock go once it committed", async (env) => {
  const url = "ws://share-first-fails";
  const opts = { clientId: "tabs-first-fails", share: "tabs", reconnect: { minDelay: 1, maxDelay: 1 } };
  // a's publish leaves its origin in the session; a's page goes.
  const [a] = await connectClient(env, url, opts);
  const stored = track(a.publish("t/a", "a", { qos: 1 }));
  await waitFor("a's publish stored", () => origins(env, url, opts.clientId).length == 1);
  a.destroy();
  await settled("a's publish", stored.promise);
  // b leads: its first connection fails while the write dropping a's origin (a is gone) waits.
  env.idb.hold();
  const before = env.sockets.length;
  const b = MqttClient.connect(url, opts);
  const wsB = await waitFor("b's WebSocket", () => env.sockets[before]);
  await waitFor("b's write waiting to commit", () => env.idb.pending.length > 0);
  wsB.drop();
  await rejects("b's connect", b, "CONNECTION_FAILED");
  env.idb.release();
  // The next client gets the session, not SESSION_LOCKED.
  const [c] = await connectClient(env, url, opts);
  assertEq(c.role, "leader", "the next client's role");
  assertEq(origins(env, url, opts.clientId), [], "the origins of a tab that is gone");
});

await run(tests);
