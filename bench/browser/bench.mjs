// Browser throughput of mq-wasm against MQTT.js and Paho, in headless Chromium (Playwright),
// through one rumqttd WebSockets listener on loopback (Mosquitto 2.0's WebSockets listener tops
// out near 5,000 messages/s here whatever the client, so it cannot show a client's speed).
//
//   cd bench/browser && npm install && node bench.mjs [messages] [rounds]
//
// Needs rumqttd on PATH (`cargo install rumqttd --features websocket`) and the package built
// into ../../pkg (scripts/build-pkg.sh; MQ_PKG_DIR names another; MQ_BASE_PKG_DIR adds a second
// build, "mq base", to the same rounds). Each round runs every
// library once per QoS, in turn (so a slow moment of the machine hits all of them), with a
// publisher and a subscriber connection in one page, 64-byte payloads and a window of 100
// messages incomplete. Prints messages/s per round, the median, and mq's ratio to each peer
// (above 1: mq is faster). A benchmark, not a test: nothing here is asserted.
import { chromium } from "playwright-core";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = path.dirname(fileURLToPath(import.meta.url));
const N = Number(process.argv[2] || 20000);
const ROUNDS = Number(process.argv[3] || 5);
const WINDOW = 100;
const pkgDir = path.resolve(process.env.MQ_PKG_DIR || path.join(here, "..", "..", "pkg"));
// Optional: a second build of the package (another version of mq), run as "mq base" in the same
// rounds, so two builds are compared under the same machine noise.
const baseDir = process.env.MQ_BASE_PKG_DIR ? path.resolve(process.env.MQ_BASE_PKG_DIR) : null;
if (!existsSync(path.join(pkgDir, "mq.js"))) {
  console.error(`no package in ${pkgDir}: run scripts/build-pkg.sh first`);
  process.exit(2);
}

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });

async function waitForPort(port) {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, "127.0.0.1", () => {
        c.end();
        resolve(true);
      });
      c.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}

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
  "/mqtt.esm.js": [path.join(here, "node_modules/mqtt/dist/mqtt.esm.js"), "text/javascript"],
  "/paho.js": [path.join(here, "node_modules/paho-mqtt/paho-mqtt-min.js"), "text/javascript"],
  "/pkg/mq.js": [path.join(pkgDir, "mq.js"), "text/javascript"],
  "/pkg/mq_bg.wasm": [path.join(pkgDir, "mq_bg.wasm"), "application/wasm"],
};
const server = http.createServer((req, res) => {
  const pathname = new URL(req.url, "http://x").pathname;
  let f = files[pathname];
  for (const [prefix, root] of [["/pkg/", pkgDir], ["/base/", baseDir]]) {
    if (f || !root || !pathname.startsWith(prefix)) continue;
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
console.log(`# ${N} messages of 64 B per run, window ${WINDOW}, ${ROUNDS} rounds; broker ${version}, ${url}`);
console.log(`# sizes (gzip -9): mq-wasm ${gz([files["/pkg/mq.js"][0], files["/pkg/mq_bg.wasm"][0]])} B, ` +
  `MQTT.js ${gz([files["/mqtt.esm.js"][0]])} B (dist/mqtt.esm.js), Paho ${gz([files["/paho.js"][0]])} B (paho-mqtt-min.js)`);

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});
const libs = [["mq", "benchMq"], ...(baseDir ? [["mq base", "benchMqBase"]] : []), ["MQTT.js", "benchMqttJs"], ["Paho", "benchPaho"]];
const results = {};
let failed = false;
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => console.log(`[page error] ${e}`));
  page.on("console", (m) => { if (m.type() === "error") console.log(`[page console] ${m.text()}`); });
  await page.goto(origin + "/");
  await page.waitForFunction(() => window.benchReady === true);
  let run = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    for (const qos of [0, 1]) {
      for (const [name, fn] of libs) {
        run += 1;
        const tag = `${process.pid}-${run}`;
        const r = await page.evaluate(([fn, url, tag, n, qos, w]) => window[fn](url, tag, n, qos, w, 120000), [fn, url, tag, N, qos, WINDOW]);
        const rate = r.received === N ? Math.round((N / r.ms) * 1000) : 0;
        if (r.received !== N) {
          failed = true;
          console.log(`  round ${round} QoS ${qos} ${name}: only ${r.received} of ${N} arrived`);
        }
        ((results[qos] ??= {})[name] ??= []).push(rate);
        console.log(`  round ${round} QoS ${qos} ${name.padEnd(8)} ${String(rate).padStart(7)} msg/s`);
      }
    }
  }
} finally {
  await browser.close();
  server.close();
  broker.kill();
  rmSync(dir, { recursive: true, force: true });
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log("# median messages/s (publisher to subscriber, both in the page)");
for (const qos of [0, 1]) {
  const m = Object.fromEntries(libs.map(([name]) => [name, median(results[qos][name])]));
  const ratio = (peer) => (m[peer] ? (m.mq / m[peer]).toFixed(2) : "n/a");
  const vsBase = baseDir ? `, mq/mq base ${ratio("mq base")} (base: ${m["mq base"]})` : "";
  console.log(`QoS ${qos}: mq ${m.mq}, MQTT.js ${m["MQTT.js"]}, Paho ${m.Paho}; mq/MQTT.js ${ratio("MQTT.js")}, mq/Paho ${ratio("Paho")}${vsBase}`);
}
process.exit(failed ? 1 : 0);
