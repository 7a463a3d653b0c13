// Browser throughput of the npm package mq-wasm against the JS driver it replaced, MQTT.js and
// Paho, in headless Chromium (Playwright), through one rumqttd WebSockets listener on loopback
// (Mosquitto 2.0's WebSockets listener tops out near 5,000 messages/s here whatever the client,
// so it cannot show a client's speed).
//
//   cd bench/browser && npm install && \
//     MQ_JS_DRIVER_PKG_DIR=<pkg/ built at 1f99f0a> node bench.mjs [messages] [rounds] [qos list, e.g. 0,1,2]
//
// Needs rumqttd on PATH (`cargo install rumqttd --features websocket`) and the package built
// into ../../pkg (scripts/build-pkg.sh; MQ_PKG_DIR names another). MQ_JS_DRIVER_PKG_DIR adds a
// second package, "mq-js-driver" (the hand-written JS driver over the C-ABI core that the Rust
// driver replaced, scripts/build-pkg.sh of commit 1f99f0a; any other build of the package works
// too), to the same rounds. Each package is loaded through its own package.json entry.
//
// First one warm-up run per library and QoS (not counted: a library's first run is its
// slowest), then each round runs every library once per QoS, in turn, the order rotated by one
// each round (so a slow moment of the machine hits all of them, and no library is always
// first). One connection per library publishing to a topic it subscribes to (the speed issue's
// method; MQ_BENCH_CONNECTIONS=2: a publisher and a subscriber connection in one page), 64-byte
// payloads, a window of 100 messages incomplete. Prints messages/s per run, the medians, mq's ratio to each peer (above
// 1: mq is faster) and the gzip size of what each library ships. A benchmark, not a test:
// nothing here is asserted; it exits 1 only when messages did not arrive.
//
// MQ_BENCH_IDB=1 adds "mq-idb": mq with its sessions in IndexedDB (clean: false, cleared after
// each run), at the same window (and "mq-js-driver-idb", the same with MQ_JS_DRIVER_PKG_DIR's
// package). MQ_BENCH_LIBS=mq,mq-idb runs only the libraries named; "mq-tabs" (only when named
// there) is mq-idb's two clients in a follower tab of `share: "tabs"`, a second page of the
// context leading both sessions.
//
// MQ_BENCH_PROFILE=<folder>: records a Chromium CPU profile (CDP Profiler, 100 µs sampling) of
// every counted run of mq and mq-js-driver, writes them there as .cpuprofile (Chrome DevTools
// opens them) and prints each one's top functions by self time, summed over the rounds. The
// profiler slows what it watches: a profiled run's figures are not for comparison. Function
// names in the wasm need the names section kept all the way (CARGO_PROFILE_RELEASE_STRIP=none,
// wasm-bindgen --keep-debug, wasm-opt -g --strip-dwarf: bench/README.md); without it the
// profile says wasm-function[N].
// MQ_BENCH_IDBSTATS=1: counts each run's IndexedDB readwrite transactions and prints their
// commit latency (creation to complete event) percentiles. With it, MQ_BENCH_DURABILITY=strict
// or relaxed gives every readwrite transaction that durability hint (mq sets none).
// MQ_BENCH_FRAMES=1: counts the WebSocket frames (send calls) and bytes each run's client sent
// (wraps WebSocket.prototype.send, for every library alike) and prints them per run.
import { chromium } from "playwright-core";
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { freePort, waitForPort } from "../ports.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const N = Number(process.argv[2] || 20000);
const ROUNDS = Number(process.argv[3] || 5);
const QOS = (process.argv[4] || "0,1,2").split(",").map(Number);
const SIZE = Number(process.argv[5] || 64);
const WARMUP = Math.min(N, 2000);
// One connection per library that publishes to a topic it subscribes to (the speed issue's
// method), or with MQ_BENCH_CONNECTIONS=2 a publisher and a subscriber connection.
const ONE = process.env.MQ_BENCH_CONNECTIONS !== "2";
// Publishes the app keeps outstanding (every library alike); MQ_BENCH_WINDOW changes it.
const WINDOW = Number(process.env.MQ_BENCH_WINDOW || 100);
// mq's maxInflight and maxInflightQos2: their defaults unless MQ_BENCH_MQ_INFLIGHT says (past it mq
// queues the rest; rumqttd takes any window, Mosquitto's defaults do not: README "In-flight window").
const MQ_INFLIGHT = process.env.MQ_BENCH_MQ_INFLIGHT ? Number(process.env.MQ_BENCH_MQ_INFLIGHT) : null;
const pkgDir = path.resolve(process.env.MQ_PKG_DIR || path.join(here, "..", "..", "pkg"));
// Optional: the JS driver's package (or any other build of mq-wasm), "mq-js-driver", in the same
// rounds, so the two are compared under the same machine noise.
const jsDriverDir = process.env.MQ_JS_DRIVER_PKG_DIR ? path.resolve(process.env.MQ_JS_DRIVER_PKG_DIR) : null;
if (process.env.MQ_BASE_PKG_DIR) {
  console.error("MQ_BASE_PKG_DIR is now MQ_JS_DRIVER_PKG_DIR");
  process.exit(2);
}
/** The package's entry module (package.json "module" or "main"), and the files it ships that
 *  a page loads: every .js and .wasm in the folder. */
function pkgInfo(dir) {
  if (!existsSync(path.join(dir, "package.json"))) {
    console.error(`no package in ${dir}: run scripts/build-pkg.sh first`);
    process.exit(2);
  }
  const p = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
  const entry = path.posix.normalize(p.module || p.main || "mq.js").replace(/^\.\//, "");
  const shipped = readdirSync(dir).filter((f) => /\.(js|wasm)$/.test(f)).sort();
  return { dir, entry, shipped, version: p.version };
}
const pkgs = { "/pkg/": pkgInfo(pkgDir), ...(jsDriverDir ? { "/js-driver/": pkgInfo(jsDriverDir) } : {}) };

// ---- rumqttd ----
const dir = mkdtempSync(path.join(os.tmpdir(), "mq-bench-"));
const [wsPort, tcpPort, consolePort] = [await freePort(), await freePort(), await freePort()];
const listener = (kind, port) => `
[${kind}.1]
name = "${kind}-1"
listen = "127.0.0.1:${port}"
next_connection_delay_ms = 1
    [${kind}.1.connections]
    connection_timeout_ms = 60000
    max_client_id_len = 256
    throttle_delay_ms = 0
    max_payload_size = 1048576
    max_inflight_count = 500
    dynamic_filters = true
`;
writeFileSync(path.join(dir, "rumqttd.toml"), `id = 0
[router]
id = 0
max_connections = 100
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10
${listener("v4", tcpPort)}
${listener("ws", wsPort)}
[console]
listen = "127.0.0.1:${consolePort}"
`);
let version = "";
try {
  version = execFileSync("rumqttd", ["--version"]).toString().trim();
} catch {
  console.error("rumqttd is not on PATH: cargo install rumqttd --features websocket");
  process.exit(2);
}
const broker = spawn("rumqttd", ["-q", "-c", path.join(dir, "rumqttd.toml")], { stdio: ["ignore", "ignore", "inherit"] });
await waitForPort(wsPort);
const url = `ws://127.0.0.1:${wsPort}`;

// ---- the page ----
const files = {
  "/": [path.join(here, "page.html"), "text/html"],
  "/favicon.ico": [path.join(here, "page.html"), "text/plain"],
  "/page.js": [path.join(here, "page.js"), "text/javascript"],
  "/raw.js": [path.join(here, "raw.js"), "text/javascript"],
  "/mqtt.esm.js": [path.join(here, "node_modules/mqtt/dist/mqtt.esm.js"), "text/javascript"],
  "/paho.js": [path.join(here, "node_modules/paho-mqtt/paho-mqtt-min.js"), "text/javascript"],
};
const server = http.createServer((req, res) => {
  const pathname = new URL(req.url, "http://x").pathname;
  let f = files[pathname];
  for (const [prefix, { dir: root }] of Object.entries(pkgs)) {
    if (f || !pathname.startsWith(prefix)) continue;
    const file = path.resolve(root, "." + path.posix.normalize(pathname.slice(prefix.length - 1)));
    const type = file.endsWith(".wasm") ? "application/wasm" : "text/javascript";
    if (file.startsWith(root + path.sep) && existsSync(file)) f = [file, type];
  }
  if (!f) {
    res.writeHead(404);
    res.end();
    return;
  }
  res.writeHead(200, { "Content-Type": f[1] });
  res.end(readFileSync(f[0]));
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const origin = `http://127.0.0.1:${server.address().port}`;

const gz = (files) => files.reduce((a, f) => a + gzipSync(readFileSync(f), { level: 9 }).length, 0);
const readVersion = (p) => JSON.parse(readFileSync(path.join(here, "node_modules", p, "package.json"), "utf8")).version;
const browserVersion = () => { try { return execFileSync("/usr/bin/chromium", ["--version"], { stdio: ["ignore", "pipe", "ignore"] }).toString().trim(); } catch { return "chromium ?"; } };
console.log(`# ${N} messages of ${SIZE} B per run, window ${WINDOW} (mq's maxInflight ${MQ_INFLIGHT ?? "default"}), ${ROUNDS} rounds after a warm-up run of ${WARMUP}, QoS ${QOS.join("/")}, ${ONE ? "one connection publishing to its own subscription" : "a publisher and a subscriber connection"}`);
console.log(`# ${browserVersion()} headless, ${os.cpus().length} cores (${os.cpus()[0]?.model}), load ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}; broker ${version}, ${url}`);
const sizeOf = ({ dir, shipped }) => `${gz(shipped.map((f) => path.join(dir, f)))} B (${shipped.join(" + ")})`;
console.log(`# sizes (gzip -9): mq ${sizeOf(pkgs["/pkg/"])}` +
  (jsDriverDir ? `, mq-js-driver ${sizeOf(pkgs["/js-driver/"])}` : "") +
  `, MQTT.js ${readVersion("mqtt")} ${gz([files["/mqtt.esm.js"][0]])} B (dist/mqtt.esm.js), ` +
  `Paho ${readVersion("paho-mqtt")} ${gz([files["/paho.js"][0]])} B (paho-mqtt-min.js)`);
console.log(`# mq: ${pkgDir}` + (jsDriverDir ? `; mq-js-driver: ${jsDriverDir}` : ""));

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});
// [name, page function, its first argument]
const allLibs = [
  ["mq", "benchMq", "/pkg/" + pkgs["/pkg/"].entry],
  ["mq-idb", "benchMqIdb", "/pkg/" + pkgs["/pkg/"].entry],
  ["mq-tabs", "benchMqTabs", "/pkg/" + pkgs["/pkg/"].entry],
  ...(jsDriverDir ? [["mq-js-driver", "benchMq", "/js-driver/" + pkgs["/js-driver/"].entry]] : []),
  ...(jsDriverDir ? [["mq-js-driver-idb", "benchMqIdb", "/js-driver/" + pkgs["/js-driver/"].entry]] : []),
  ["MQTT.js", "benchMqttJs", null],
  ["Paho", "benchPaho", null],
  ["raw-ws", "benchRaw", null],
];
// MQ_BENCH_LIBS=mq,mq-idb runs only those (default: all but mq-idb, mq with its sessions in
// IndexedDB, which MQ_BENCH_IDB=1 adds).
const only = process.env.MQ_BENCH_LIBS ? process.env.MQ_BENCH_LIBS.split(",") : null;
const libs = allLibs.filter(([name]) =>
  only ? only.includes(name) : (!name.endsWith("-idb") || process.env.MQ_BENCH_IDB === "1") && name != "mq-tabs");
const results = {};
const profileDir = process.env.MQ_BENCH_PROFILE ? path.resolve(process.env.MQ_BENCH_PROFILE) : null;
const selfTimes = {}; // "lib QoS q" -> function -> µs of self time
/** Adds a CDP profile's self time per function (name and script) into `into`. */
function addSelfTimes(profile, into) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const dt = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const f = byId.get(profile.samples[i]).callFrame;
    const script = f.url ? f.url.replace(/^.*\//, "") : "";
    const key = `${f.functionName || "(anonymous)"}${script ? ` [${script}]` : ""}`;
    into[key] = (into[key] ?? 0) + (dt[i + 1] ?? 0);
  }
}
let failed = false;
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  // mq-tabs: the leader tab, a second page of the same context (so the same origin's
  // BroadcastChannel and Web Locks), opened by Playwright rather than by the page (no opener).
  const leaderPage = libs.some(([name]) => name == "mq-tabs") ? await context.newPage() : null;
  page.on("pageerror", (e) => console.log(`[page error] ${e}`));
  page.on("console", (m) => { if (m.type() === "error") console.log(`[page console] ${m.text()}`); });
  const frames = process.env.MQ_BENCH_FRAMES === "1";
  if (frames) {
    await page.addInitScript(() => {
      const send = WebSocket.prototype.send;
      window.sent = { frames: 0, bytes: 0 };
      WebSocket.prototype.send = function (d) {
        window.sent.frames += 1;
        window.sent.bytes += d.byteLength ?? d.size ?? d.length ?? 0;
        return send.call(this, d);
      };
    });
  }
  const idbStats = process.env.MQ_BENCH_IDBSTATS === "1";
  if (idbStats) {
    // Every IndexedDB transaction the page makes: how many, and the time from its creation to
    // its complete event (commit latency as the page sees it), per run.
    await page.addInitScript(`const DURABILITY = ${JSON.stringify(process.env.MQ_BENCH_DURABILITY || "")};(${() => {
      const transaction = IDBDatabase.prototype.transaction;
      window.idb = { tx: [], rw: 0 };
      window.benchDurability = DURABILITY;
      IDBDatabase.prototype.transaction = function (...args) {
        const d = window.benchDurability;
        const tx = d && args[1] === "readwrite" ? transaction.call(this, args[0], args[1], { durability: d }) : transaction.apply(this, args);
        if (args[1] === "readwrite") {
          const t0 = performance.now();
          window.idb.rw += 1;
          tx.addEventListener("complete", () => window.idb.tx.push(performance.now() - t0));
        }
        return tx;
      };
    }})();`);
  }
  await page.goto(origin + "/");
  await page.waitForFunction(() => window.benchReady === true);
  await page.evaluate((one) => (window.benchOne = one), ONE);
  if (leaderPage) {
    leaderPage.on("pageerror", (e) => console.log(`[leader page error] ${e}`));
    await leaderPage.goto(origin + "/");
    await leaderPage.waitForFunction(() => window.benchReady === true);
    await leaderPage.evaluate((one) => (window.benchOne = one), ONE);
  }
  let run = 0;
  const cdp = profileDir ? await page.context().newCDPSession(page) : null;
  if (cdp) {
    mkdirSync(profileDir, { recursive: true });
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: 100 });
  }
  const once = async ([name, fn, arg], qos, n, round) => {
    run += 1;
    const tag = `${process.pid}-${run}`;
    const profiling = cdp && round && name.startsWith("mq");
    if (profiling) await cdp.send("Profiler.start");
    if (frames) await page.evaluate(() => (window.sent = { frames: 0, bytes: 0 }));
    if (idbStats) await page.evaluate(() => (window.idb = { tx: [], rw: 0 }));
    const tabs = name == "mq-tabs";
    if (tabs) await leaderPage.evaluate((a) => window.benchLead(...a), [arg, url, tag, MQ_INFLIGHT]);
    const r = await page.evaluate(([fn, arg, url, tag, n, qos, w, size, inflight]) => window[fn](arg, url, tag, n, qos, w, 120000, size, inflight),
      [fn, arg, url, tag, n, qos, WINDOW, SIZE, MQ_INFLIGHT]);
    if (tabs) {
      await leaderPage.evaluate((tag) => window.benchEndLead(tag), tag);
      await page.evaluate((a) => window.benchClear(...a), [arg, url, tag]);
    }
    if (profiling) {
      const { profile } = await cdp.send("Profiler.stop");
      writeFileSync(path.join(profileDir, `${name}-qos${qos}-round${round}.cpuprofile`), JSON.stringify(profile));
      addSelfTimes(profile, (selfTimes[`${name} QoS ${qos}`] ??= {}));
    }
    if (frames) {
      const f = await page.evaluate(() => window.sent);
      console.log(`    ${name} QoS ${qos}, ${n} messages: ${f.frames} frames sent, ${f.bytes} B (${(n / f.frames).toFixed(1)} messages a frame)`);
    }
    if (idbStats) {
      const { tx, rw } = await page.evaluate(() => window.idb);
      if (rw) {
        const s = [...tx].sort((a, b) => a - b);
        const q = (f) => s[Math.min(s.length - 1, Math.floor(f * s.length))].toFixed(1);
        console.log(`    ${name} QoS ${qos}, ${n} messages: ${rw} readwrite transactions (${(n / rw).toFixed(1)} messages each), commit ms p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} max ${q(1)}`);
      }
    }
    if (r.received !== n) {
      failed = true;
      console.log(`  ${name} QoS ${qos}: only ${r.received} of ${n} arrived`);
      return 0;
    }
    return Math.round((n / r.ms) * 1000);
  };
  for (const qos of QOS) for (const lib of libs) await once(lib, qos, WARMUP);
  for (let round = 1; round <= ROUNDS; round++) {
    const order = libs.map((_, i) => libs[(i + round - 1) % libs.length]);
    for (const qos of QOS) {
      const line = [];
      for (const lib of order) {
        const rate = await once(lib, qos, N, round);
        ((results[qos] ??= {})[lib[0]] ??= []).push(rate);
        line.push(`${lib[0]} ${rate}`);
      }
      console.log(`  round ${round} QoS ${qos}: ${line.join(", ")} msg/s`);
    }
  }
} finally {
  await browser.close();
  server.close();
  broker.kill();
  rmSync(dir, { recursive: true, force: true });
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : Math.round((s[s.length / 2 - 1] + s[s.length / 2]) / 2);
};
const peers = libs.map(([name]) => name).filter((n) => n !== "mq");
console.log(`# medians of ${ROUNDS} rounds, messages/s; ratio above 1: mq is faster`);
console.log(`| QoS | ${libs.map(([n]) => n).join(" | ")} | ${peers.map((p) => `mq / ${p}`).join(" | ")} |`);
console.log(`|---|${libs.map(() => "---:").join("|")}|${peers.map(() => "---:").join("|")}|`);
const medians = {};
for (const qos of QOS) {
  const m = (medians[qos] = Object.fromEntries(libs.map(([name]) => [name, median(results[qos][name])])));
  const ratio = (peer) => (m[peer] ? `${(m.mq / m[peer]).toFixed(2)}x` : "n/a");
  console.log(`| ${qos} | ${libs.map(([n]) => m[n]).join(" | ")} | ${peers.map(ratio).join(" | ")} |`);
}
for (const [run, times] of Object.entries(selfTimes)) {
  const total = Object.values(times).reduce((a, b) => a + b, 0);
  console.log(`# CPU profile, ${run}: ${(total / 1000).toFixed(0)} ms sampled; top self time`);
  for (const [f, us] of Object.entries(times).sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(1).padStart(8)} ms  ${f}`);
  }
}
if (process.env.MQ_BENCH_JSON) {
  writeFileSync(process.env.MQ_BENCH_JSON, JSON.stringify({
    messages: N, rounds: ROUNDS, size: SIZE, window: WINDOW, mqInflight: MQ_INFLIGHT, qos: QOS, connections: ONE ? 1 : 2,
    libs: libs.map(([n]) => n), runs: results, medians, failed,
    broker: version, browser: browserVersion(), mqtt: readVersion("mqtt"), paho: readVersion("paho-mqtt"),
  }, null, 2));
}
process.exit(failed ? 1 : 0);
