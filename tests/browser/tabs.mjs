// `share: "tabs"` (one connection for all tabs) in Chromium against Mosquitto: three pages of one
// browser context connect with the same URL and client id; overlapping subscriptions; QoS 0/1/2
// streams published from outside (mosquitto_pub) and from each tab; the leader's page is closed
// in the middle. Checks: every QoS 1 and 2 message reaches every open tab subscribed to it (QoS 2
// once), every tab's publish promise settles once and resolves, what the tabs published reaches
// the broker (QoS 2 once), a follower's publish issued while no tab leads is delivered after the
// failover, and the broker saw one client connection at a time (counted by a TCP proxy in front
// of its WebSockets listener). Waits are bounded; no timing is asserted.
//
//   MQ_BROKER_WS=ws://127.0.0.1:P MQ_BROKER_TCP_PORT=T MQ_PKG_DIR=pkg node tests/browser/tabs.mjs
import { spawn } from "node:child_process";
import net from "node:net";
import { launch, check, waitUntil, finish, fail, serveDir, sleep, requireEnv } from "../web/lib.mjs";

const [broker, tcpPort, pkgDir] = requireEnv("MQ_BROKER_WS", "MQ_BROKER_TCP_PORT", "MQ_PKG_DIR");
const N = 120; // messages per outside stream
const M = 30; // messages per QoS from each tab
const P = `tabs-${process.pid}-${Date.now() % 100000}`;
const clientId = `${P}-client`;

// ---- a TCP proxy in front of the WebSockets listener: counts the broker connections ----
// `open` counts TCP connections; a leader's page closed mid-stream lets its Web Lock go, and the
// next leader may connect, before the browser has closed the old page's socket, so two can be
// open for a moment under load. "One client connection at a time" is therefore checked on what
// each carries: no connection sends anything to the broker (its WebSocket close frame aside)
// after a later one has started (`overlaps`).
const wsPort = Number(new URL(broker).port);
let open = 0;
let maxOpen = 0;
let total = 0;
let seq = 0;
const conns = [];
const proxy = net.createServer((down) => {
  const up = net.connect({ host: "127.0.0.1", port: wsPort });
  total += 1;
  open += 1;
  maxOpen = Math.max(maxOpen, open);
  const conn = { first: null, last: null };
  conns.push(conn);
  let counted = true;
  const done = () => {
    if (counted) { counted = false; open -= 1; }
    down.destroy();
    up.destroy();
  };
  down.on("data", (chunk) => {
    // A masked client close frame (opcode 8, payload of at most 125 bytes) written alone.
    const closeFrame = chunk[0] === 0x88 && chunk.length <= 2 + 4 + 125;
    if (closeFrame) return;
    seq += 1;
    if (conn.first === null) conn.first = seq;
    conn.last = seq;
  });
  down.pipe(up);
  up.pipe(down);
  down.on("error", done).on("close", done);
  up.on("error", done).on("close", done);
});
// Connections (in the order they opened) of which an earlier one sent after a later one began.
const overlaps = () => conns.filter((c, i) =>
  c.last !== null && conns.slice(i + 1).some((d) => d.first !== null && d.first < c.last)).length;
await new Promise((r) => proxy.listen(0, "127.0.0.1", r));
const url = `ws://127.0.0.1:${proxy.address().port}`;

// ---- the page: the package, and a tiny app driven through page.evaluate ----
const page = `<!doctype html><meta charset="utf-8"><title>tabs</title><script type="module">
import init, { MqttClient } from "/mq.js";
await init();
window.MqttClient = MqttClient;
window.ready = true;
</script>`;
const server = await serveDir(pkgDir, { "/": { type: "text/html", body: page } });

// ---- mosquitto_sub: what the tabs published, as the broker delivers it ----
const received = [];
const sub = spawn("mosquitto_sub", ["-h", "127.0.0.1", "-p", tcpPort, "-q", "2", "-v", "-t", `${P}/out/#`, "-t", `${P}/gap/#`],
  { stdio: ["ignore", "pipe", "inherit"] });
let buf = "";
sub.stdout.on("data", (d) => {
  buf += d.toString();
  const lines = buf.split("\n");
  buf = lines.pop();
  received.push(...lines);
});

function pub(topic, qos, message) {
  return new Promise((resolve) => {
    const p = spawn("mosquitto_pub", ["-h", "127.0.0.1", "-p", tcpPort, "-q", String(qos), "-t", topic, "-m", message]);
    p.on("exit", resolve);
  });
}

const browser = await launch();
const context = await browser.newContext();

async function openTab(name, filters) {
  const p = await context.newPage();
  p.on("pageerror", (e) => console.log(`[${name} page error] ${e}`));
  p.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") console.log(`[${name} console] ${m.text()}`); });
  await p.goto(`${server.origin}/`);
  await p.waitForFunction(() => window.ready === true);
  await p.evaluate(async ({ url, clientId, name, filters }) => {
    window.got = [];
    window.settled = {};
    window.events = [];
    const client = await window.MqttClient.connect(url, {
      clientId, share: "tabs", reconnect: { minDelay: 100, maxDelay: 1000 },
    });
    window.client = client;
    window.firstRole = client.role;
    client.on("message", (topic, payload, packet) => {
      window.got.push([topic, new TextDecoder().decode(payload), packet.qos]);
    });
    for (const e of ["connect", "close", "offline", "error"]) client.on(e, (x) => window.events.push(e + (x && x.code ? ":" + x.code : "")));
    // The first loss of the leader: publish at once, while no tab leads.
    client.on("offline", () => {
      if (window.gap) return;
      window.gap = { role: client.role, connected: client.connected };
      client.publish(`${filters.prefix}/gap/${name}`, "gap", { qos: 2 }).then(
        () => { window.gap.done = (window.gap.done || 0) + 1; },
        (e) => { window.gap.failed = e.code; });
    });
    for (const [f, qos] of filters.subs) await client.subscribe(f, { qos });
  }, { url, clientId, name, filters: { prefix: P, subs: filters } });
  return p;
}

/** Starts `name`'s publishing: M messages per QoS to P/out/<name>/q<qos>, one after the other. */
function startPublishing(p, name) {
  return p.evaluate(({ P, name, M }) => {
    window.publishing = (async () => {
      for (let i = 0; i < M; i++) {
        for (const qos of [0, 1, 2]) {
          const key = `${qos}:${i}`;
          window.settled[key] = 0;
          const done = window.client.publish(`${P}/out/${name}/q${qos}`, String(i), { qos }).then(
            () => { window.settled[key] += 1; },
            (e) => { window.settled[key] += 1; window.settled[key + ":error"] = e.code; });
          if (qos > 0) await done;
        }
      }
    })();
  }, { P, name, M });
}

const matches = (filter, topic) => {
  const f = filter.split("/"), t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length || (f[i] !== "+" && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
};

/** The options a tab refuses, the pages without BroadcastChannel or Web Locks (they connect
 *  alone, and say so), and a shared tab meeting a client that does not share. */
async function edges() {
  const p = await context.newPage();
  const warnings = [];
  p.on("console", (m) => { if (m.type() === "warning") warnings.push(m.text()); });
  await p.goto(`${server.origin}/`);
  await p.waitForFunction(() => window.ready === true);
  const refused = await p.evaluate(async (url) => {
    const out = [];
    for (const o of [{ share: "tabs" }, { share: "tabs", clientId: "x", clean: true },
      { share: "tabs", clientId: "x", session: "memory" }, { share: "windows", clientId: "x" }]) {
      try { await window.MqttClient.connect(url, o); out.push("connected"); } catch (e) { out.push(e.code); }
    }
    return out;
  }, url);
  check(refused.every((c) => c === "INVALID_ARGUMENT"), `contradictory share options are INVALID_ARGUMENT (${refused})`);
  // A client that does not share holds the session: a shared tab gives up, never hangs.
  const locked = await p.evaluate(async ({ url, id }) => {
    const solo = await window.MqttClient.connect(url, { clientId: id, clean: false });
    let code;
    try { await window.MqttClient.connect(url, { clientId: id, share: "tabs" }); code = "connected"; } catch (e) { code = e.code; }
    await solo.end();
    return [solo.role, code];
  }, { url, id: `${P}-locked` });
  check(locked[0] === "solo" && locked[1] === "SESSION_LOCKED", `a shared tab meeting a client that does not share: ${locked}`);
  await p.close();
  for (const [what, remove] of [["no BroadcastChannel", () => { delete window.BroadcastChannel; }],
    ["no Web Locks", () => Object.defineProperty(Navigator.prototype, "locks", { get: () => undefined })],
    ["Web Locks that refuse requests", () => {
      LockManager.prototype.request = function () { return Promise.reject(new DOMException("refused", "SecurityError")); };
    }]]) {
    const q = await context.newPage();
    const warned = [];
    q.on("console", (m) => { if (m.type() === "warning") warned.push(m.text()); });
    await q.addInitScript(remove);
    await q.goto(`${server.origin}/`);
    await q.waitForFunction(() => window.ready === true);
    const r = await q.evaluate(async ({ url, id }) => {
      const c = await window.MqttClient.connect(url, { clientId: id, share: "tabs" });
      const got = [c.role, c.connected];
      await c.end();
      return got;
    }, { url, id: `${P}-alone-${what.replaceAll(" ", "")}` });
    check(r[0] === "solo" && r[1] === true && warned.some((w) => w.includes("connects alone")),
      `${what}: the tab connects alone and says so (${r}; ${warned.length} warning)`);
    await q.close();
  }
}

try {
  await edges();
  total = 0; // the connections counted from here on are the shared one's
  maxOpen = open;
  conns.length = 0;
  // Overlapping subscriptions: a holds P/x/#, b holds P/+/q2 and P/x/q1, c holds P/#.
  const subsA = [[`${P}/x/#`, 2], [`${P}/r/#`, 1]];
  const subsB = [[`${P}/+/q2`, 2], [`${P}/x/q1`, 1], [`${P}/r/#`, 1]];
  const subsC = [[`${P}/#`, 2]];
  const a = await openTab("a", subsA);
  const b = await openTab("b", subsB);
  const c = await openTab("c", subsC);
  const roles = await Promise.all([a, b, c].map((p) => p.evaluate(() => window.firstRole)));
  check(roles.join() === "leader,follower,follower", `a leads, b and c follow (${roles})`);
  check(maxOpen === 1 && total === 1, `three tabs, one broker connection (open at most ${maxOpen}, ${total} in all)`);

  // The broker sees the union: b gives P/r/# up, a still holds it.
  await b.evaluate((f) => window.client.unsubscribe(f), `${P}/r/#`);
  await pub(`${P}/r/1`, 1, "r");
  await waitUntil("a filter b gave up still reaches a, which holds it", () =>
    a.evaluate((t) => window.got.some(([topic]) => topic === t), `${P}/r/1`));
  await sleep(300);
  check(!(await b.evaluate((t) => window.got.some(([topic]) => topic === t), `${P}/r/1`)), "b no longer gets P/r/#");

  // The streams: from outside (one mosquitto_pub per topic, line by line) and from each tab.
  const outside = [[`${P}/x/q0`, 0], [`${P}/x/q1`, 1], [`${P}/x/q2`, 2], [`${P}/y/q2`, 2]];
  const pubs = outside.map(([t, q]) => {
    const p = spawn("mosquitto_pub", ["-h", "127.0.0.1", "-p", tcpPort, "-q", String(q), "-t", t, "-l"], { stdio: ["pipe", "inherit", "inherit"] });
    return { p, exit: new Promise((r) => p.on("exit", r)) };
  });
  for (const [p, n] of [[a, "a"], [b, "b"], [c, "c"]]) await startPublishing(p, n);
  // Resolved publishes of a before it closed: those must reach the broker.
  let aResolved = [];
  for (let i = 0; i < N; i++) {
    for (const { p } of pubs) p.stdin.write(`${i}\n`);
    await sleep(15);
    if (i === Math.floor(N / 2)) {
      aResolved = await a.evaluate(() => Object.keys(window.settled).filter((k) => window.settled[k] === 1 && !(k + ":error" in window.settled)));
      await a.close();
      console.log(`     the leader's page closed after ${i + 1} of ${N} outside messages per topic`);
    }
  }
  for (const { p } of pubs) p.stdin.end();
  const codes = await Promise.all(pubs.map(({ exit }) => exit));
  check(codes.every((x) => x === 0), "mosquitto_pub published the outside streams");

  const tabs = [["b", b, subsB.filter(([f]) => f !== `${P}/r/#`)], ["c", c, subsC]];
  const roles2 = await Promise.all(tabs.map(([, p]) => p.evaluate(() => window.client.role)));
  check(roles2.slice().sort().join() === "follower,leader", `after the failover one of b, c leads (${roles2})`);
  // The filters only a held (P/x/#, and P/r/# which b gave up) leave the session once every
  // live tab said what it holds; the others stay.
  const leaderPage = tabs[roles2.indexOf("leader")][1];
  await waitUntil("the dead leader's own filters were unsubscribed, the others kept", async () => {
    const subs = (await leaderPage.evaluate(() => window.client.session().subscriptions)).map((g) => g.topic);
    return !subs.includes(`${P}/x/#`) && !subs.includes(`${P}/r/#`) &&
      [`${P}/#`, `${P}/+/q2`, `${P}/x/q1`].every((f) => subs.includes(f));
  });

  // What each open tab must get: every QoS 1/2 message on a topic one of its filters matches.
  const expected = [];
  for (const [t, q] of outside) if (q > 0) for (let i = 0; i < N; i++) expected.push([t, String(i), q]);
  for (const n of ["a", "b", "c"]) for (const q of [1, 2]) for (let i = 0; i < M; i++) {
    // a's messages: those a's promise said were done (the rest may have died with it).
    if (n === "a" && !aResolved.includes(`${q}:${i}`)) continue;
    expected.push([`${P}/out/${n}/q${q}`, String(i), q]);
  }
  for (const [name, p, subs] of tabs) {
    const mine = expected.filter(([t]) => subs.some(([f]) => matches(f, t)));
    const key = ([t, m]) => `${t} ${m}`;
    const want = new Set(mine.map(key));
    await waitUntil(`${name}: every QoS 1/2 message it subscribed to arrived (${want.size})`, async () => {
      const got = new Set((await p.evaluate(() => window.got)).map(key));
      return [...want].every((k) => got.has(k));
    }, 90);
    const got = await p.evaluate(() => window.got);
    const counts = new Map();
    for (const g of got) counts.set(key(g), (counts.get(key(g)) || 0) + 1);
    const lost = [...want].filter((k) => !counts.has(k));
    check(lost.length === 0, `${name}: none lost (${lost.length} missing: ${lost.slice(0, 5)})`);
    const twice = mine.filter(([, , q]) => q === 2).map(key).filter((k) => counts.get(k) > 1);
    check(twice.length === 0, `${name}: QoS 2 exactly once (${twice.length} twice: ${twice.slice(0, 5)})`);
    const foreign = got.filter(([t]) => !subs.some(([f]) => matches(f, t)) && !t.startsWith(`${P}/r/`));
    check(foreign.length === 0, `${name}: only messages of its own filters (${foreign.length} others)`);
    console.log(`     ${name}: ${got.length} messages, ${got.filter(([, , q]) => q === 0).length} of them QoS 0`);
  }

  // Every publish of the open tabs settled, once, resolved; the gap publishes were delivered.
  for (const [name, p] of tabs) {
    await waitUntil(`${name}: its publishes all settled`, () => p.evaluate(async () => {
      await window.publishing;
      return Object.values(window.settled).filter((v) => typeof v === "number").every((v) => v === 1);
    }), 90);
    const s = await p.evaluate(() => window.settled);
    const errors = Object.entries(s).filter(([k]) => k.endsWith(":error"));
    const counts = Object.entries(s).filter(([k]) => !k.endsWith(":error")).map(([, v]) => v);
    check(counts.length === 3 * M && counts.every((v) => v === 1), `${name}: ${3 * M} publish promises, each settled once`);
    check(errors.length === 0, `${name}: none rejected (${errors.map(([k, v]) => k + "=" + v).slice(0, 5)})`);
    const gap = await p.evaluate(() => window.gap);
    console.log(`     ${name}: leader loss seen as ${JSON.stringify(gap)}; events ${(await p.evaluate(() => window.events)).join(" ")}`);
  }
  await waitUntil("the publishes issued while no tab led reached the broker", () =>
    ["b", "c"].every((n) => received.includes(`${P}/gap/${n} gap`)));
  for (const [name, p] of tabs) {
    const gap = await p.evaluate(() => window.gap);
    check(gap && gap.connected === false && gap.done === 1, `${name}: its publish issued at the leader's loss resolved once (${JSON.stringify(gap)})`);
  }
  // What the tabs published, as the broker delivered it.
  await waitUntil("every QoS 1/2 publish of b and c reached the broker", () => {
    for (const n of ["b", "c"]) for (const q of [1, 2]) for (let i = 0; i < M; i++) {
      if (!received.includes(`${P}/out/${n}/q${q} ${i}`)) return false;
    }
    return true;
  }, 60);
  const counts = new Map();
  for (const l of received) counts.set(l, (counts.get(l) || 0) + 1);
  const out2 = [...counts].filter(([l, n]) => /\/q2 /.test(l) && n > 1);
  check(out2.length === 0, `QoS 2 publishes of the tabs reached the broker once (${out2.length} twice: ${out2.slice(0, 5)})`);
  const aLost = aResolved.filter((k) => !k.startsWith("0:")).filter((k) => {
    const [q, i] = k.split(":");
    return !received.includes(`${P}/out/a/q${q} ${i}`);
  });
  check(aLost.length === 0, `a's publishes resolved before it closed reached the broker (${aResolved.length}; ${aLost.length} missing)`);
  check(overlaps() === 0, `the broker saw one client connection at a time (${total} in all, at most ${maxOpen} open, ${overlaps()} sending after a later one began)`);
  check(total >= 2, `the new leader reconnected (${total} connections in all)`);
  for (const [, p] of tabs) await p.evaluate(() => window.client.end());
} catch (e) {
  fail(e);
} finally {
  sub.kill();
  await browser.close();
  server.close();
  proxy.close();
}
finish();
