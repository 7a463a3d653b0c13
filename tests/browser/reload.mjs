// Reloads a real page in the middle of a QoS 1 and a QoS 2 stream, both ways, and checks that
// nothing was lost and nothing delivered twice (QoS 1 repeats only as DUP redeliveries).
//
//   MQ_BROKER_WS=ws://127.0.0.1:P MQ_BROKER_TCP_PORT=T MQ_PKG_DIR=dir node tests/browser/reload.mjs
//
// MQ_PKG_DIR is a `wasm-pack build --target web` output. scripts/test.sh starts the broker
// (broker.mjs) and builds the package. The other side of each stream is mosquitto_pub /
// mosquitto_sub on the broker's TCP listener. Waits are bounded (a stuck stream fails the test)
// but no timing is asserted.
import { spawn } from "node:child_process";
import { readFileSync, existsSync, statSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { launch, check, fail, finish, sleep, requireEnv } from "../web/lib.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const [broker, tcpPort, pkgDir] = requireEnv("MQ_BROKER_WS", "MQ_BROKER_TCP_PORT", "MQ_PKG_DIR");
const N = 150; // messages per QoS and direction
const prefix = `reload-${process.pid}-${Date.now() % 100000}`;

// ---- the page and the package, served on loopback ----
const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".ts": "text/plain" };
const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  let file;
  if (url.pathname === "/") file = path.join(here, "page.html");
  else if (url.pathname === "/page.js") file = path.join(here, "page.js");
  else if (url.pathname.startsWith("/pkg/")) file = path.join(pkgDir, path.normalize(url.pathname.slice(5)));
  if (!file || !existsSync(file) || !statSync(file).isFile() || !path.resolve(file).startsWith(path.resolve(file.startsWith(pkgDir) ? pkgDir : here))) {
    res.writeHead(404);
    res.end();
    return;
  }
  res.writeHead(200, { "Content-Type": types[path.extname(file)] || "application/octet-stream", "Cache-Control": "no-store" });
  res.end(readFileSync(file));
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await launch();

async function evaluate(page, fn, arg) {
  // The page may be between two loads: retry until it answers.
  for (let i = 0; i < 100; i++) {
    try {
      return await page.evaluate(fn, arg);
    } catch {
      await sleep(100);
    }
  }
  throw new Error("the page stopped answering");
}

async function waitUntil(what, f, seconds = 60) {
  for (let i = 0; i < seconds * 10; i++) {
    if (await f()) return true;
    await sleep(100);
  }
  return check(false, `${what}: gave up after ${seconds}s`);
}

async function openPage(mode, reloadAt, share = false) {
  const page = await browser.newPage();
  page.on("pageerror", (e) => console.log(`[page error] ${e}`));
  const q = new URLSearchParams({ mode, broker, prefix, n: String(N), reloadAt: String(reloadAt), share: share ? "1" : "0" });
  await page.goto(`${origin}/?${q}`);
  return page;
}

function pageState(page, mode) {
  // `loads` is counted in localStorage before the page connects, so it is right even while the
  // second load is still connecting.
  return evaluate(page, (mode) => ({ ready: !!window.mqReady, loads: Number(localStorage.getItem(`${mode}:loads`)), failed: window.mqFailed,
    restored: window.mqRestored, pending: window.mqClient ? window.mqClient.restored.length : -1, log: window.mqLog }), mode);
}

function countBy(items) {
  const m = new Map();
  for (const k of items) m.set(k, (m.get(k) || 0) + 1);
  return m;
}

// ---- incoming: mosquitto_pub -> page ----
async function incoming(share = false) {
  const ns = share ? "in-shared" : "in";
  console.log(`# incoming QoS 1 and QoS 2 streams, page reloaded mid-stream${share ? " (share: \"tabs\")" : ""}`);
  const page = await openPage("in", Math.floor(N / 2), share);
  await waitUntil("page subscribed", async () => (await pageState(page, ns)).ready);
  const pubs = [1, 2].map((qos) => {
    const p = spawn("mosquitto_pub", ["-h", "127.0.0.1", "-p", tcpPort, "-q", String(qos), "-t", `${prefix}/in/q${qos}`, "-l"],
      { stdio: ["pipe", "inherit", "inherit"] });
    return { p, exit: new Promise((resolve) => p.on("exit", resolve)) };
  });
  const got = () => evaluate(page, (ns) => JSON.parse(localStorage.getItem(`${ns}:got`) || "[]"), ns);
  const distinct = (g) => new Set(g.map(([t, p]) => `${t} ${p}`)).size;
  // Paced by the page: at most WINDOW messages ahead of what it recorded, so when it reloads
  // (after N/2 of 2N) most of the stream is still to come, whatever the speeds.
  const WINDOW = 10;
  for (let i = 0; i < N; i++) {
    let ahead = 2 * i - distinct(await got());
    while (ahead > WINDOW) {
      await sleep(10);
      ahead = 2 * i - distinct(await got());
    }
    for (const { p } of pubs) p.stdin.write(`${i}\n`);
  }
  for (const { p } of pubs) p.stdin.end();
  const codes = await Promise.all(pubs.map(({ exit }) => exit));
  check(codes.every((c) => c === 0), "mosquitto_pub published both streams");
  await waitUntil("all messages delivered", async () => distinct(await got()) >= 2 * N);
  const state = await pageState(page, ns);
  check(state.loads === 2, `the page was reloaded once mid-stream (loads: ${state.loads})`);
  const g = await got();
  for (const qos of [1, 2]) {
    const mine = g.filter(([t]) => t === `${prefix}/in/q${qos}`);
    const counts = countBy(mine.map(([, p]) => p));
    const lost = Array.from({ length: N }, (_, i) => String(i)).filter((p) => !counts.has(p));
    check(lost.length === 0, `QoS ${qos} in: nothing lost (${lost.length} missing: ${lost.slice(0, 10)})`);
    const twice = [...counts].filter(([, c]) => c > 1).map(([p]) => p);
    if (qos === 2) {
      check(twice.length === 0, `QoS 2 in: nothing delivered twice (${twice.slice(0, 10)})`);
      // Not a check: how many arrived as the broker's DUP redelivery after the reload (among
      // them those whose id the first page stored but never delivered before it unloaded).
      console.log(`     QoS 2 in: ${mine.filter(([, , , dup]) => dup).length} arrived as DUP redeliveries`);
    } else {
      // A QoS 1 message may come again only as the broker's DUP redelivery of one whose PUBACK
      // the reload cut off.
      const seen = new Set();
      const bad = mine.filter(([, p, , dup]) => { const again = seen.has(p); seen.add(p); return again && !dup; });
      check(bad.length === 0, `QoS 1 in: repeats only as DUP redeliveries (${twice.length} repeated)`);
    }
  }
  await page.close();
}

// ---- outgoing: page -> mosquitto_sub ----
async function outgoing() {
  console.log("# outgoing QoS 1 and QoS 2 streams, page reloaded mid-stream");
  const received = [];
  const sub = spawn("mosquitto_sub", ["-h", "127.0.0.1", "-p", tcpPort, "-q", "2", "-v", "-t", `${prefix}/out/#`],
    { stdio: ["ignore", "pipe", "inherit"] });
  let buf = "";
  sub.stdout.on("data", (d) => {
    buf += d.toString();
    const parts = buf.split("\n");
    buf = parts.pop();
    for (const line of parts) received.push(line);
  });
  // Subscribed once a probe comes through.
  await waitUntil("mosquitto_sub subscribed", async () => {
    spawn("mosquitto_pub", ["-h", "127.0.0.1", "-p", tcpPort, "-t", `${prefix}/out/probe`, "-m", "probe"]);
    await sleep(200);
    return received.some((l) => l.startsWith(`${prefix}/out/probe`));
  });
  const page = await openPage("out", Math.floor(N / 2));
  const stream = () => received.filter((l) => !l.startsWith(`${prefix}/out/probe`));
  await waitUntil("all messages received", async () => new Set(stream()).size >= 2 * N);
  // Every restored request completed: nothing more will be sent.
  await waitUntil("restored requests completed", async () => {
    const s = await pageState(page, "out");
    return s.ready && s.loads === 2 && s.pending === 0;
  });
  const state = await pageState(page, "out");
  check(state.loads === 2, `the page was reloaded once mid-stream (loads: ${state.loads})`);
  check(state.restored > 0, `the reloaded page restored ${state.restored} stored messages`);
  await evaluate(page, () => window.mqClient.end());
  sub.kill();
  for (const qos of [1, 2]) {
    const mine = stream().filter((l) => l.startsWith(`${prefix}/out/q${qos} `)).map((l) => l.split(" ")[1]);
    const counts = countBy(mine);
    const lost = Array.from({ length: N }, (_, i) => String(i)).filter((p) => !counts.has(p));
    check(lost.length === 0, `QoS ${qos} out: nothing lost (${lost.length} missing: ${lost.slice(0, 10)})`);
    const twice = [...counts].filter(([, c]) => c > 1).map(([p]) => p);
    if (qos === 2) {
      check(twice.length === 0, `QoS 2 out: nothing delivered twice (${twice.slice(0, 10)})`);
    } else {
      // With one message in flight, only that one can be resent after the reload.
      check(twice.length <= 1, `QoS 1 out: at most the one in-flight message repeated (${twice})`);
    }
  }
  await page.close();
}

try {
  await incoming();
  await incoming(true);
  await outgoing();
} catch (e) {
  fail(e);
} finally {
  await browser.close();
  server.close();
}
finish();
