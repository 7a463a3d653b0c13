// Memory of mq, MQTT.js and Paho in headless Chromium: the JS heap (performance.memory
// .usedJSHeapSize, --enable-precise-memory-info, after a full GC through --expose-gc) and, for
// mq, its wasm instance's linear memory (WebAssembly.Memory byteLength), three times per library:
// loaded (before connecting), connected, and with 10,000 QoS 1 messages of 64 B queued while
// offline (published after the broker dropped the connection and while it refuses new ones).
// Each library runs in a fresh browser context (its own renderer), `rounds` times; medians.
//
//   node bench/browser/memory.mjs [rounds=3] [messages=10000] [--json FILE]
//
// The broker is a stand-in in this process (ws on 127.0.0.1): it answers CONNECT with CONNACK
// 0 and PINGREQ with PINGRESP, and on the page's `dropBroker()` closes every connection and
// refuses new ones. Needs the package in ../../pkg (scripts/build-pkg.sh). Not a test.
import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const { WebSocketServer } = createRequire(path.join(here, "node_modules", "/"))("ws");
const args = process.argv.slice(2);
const jsonAt = args.indexOf("--json");
const jsonFile = jsonAt >= 0 ? args.splice(jsonAt, 2)[1] : null;
const ROUNDS = Number(args[0] || 3);
const N = Number(args[1] || 10000);
const pkgDir = path.resolve(process.env.MQ_PKG_DIR || path.join(here, "..", "..", "pkg"));
if (!existsSync(path.join(pkgDir, "mq.js"))) {
  console.error(`no package in ${pkgDir}: run scripts/build-pkg.sh first`);
  process.exit(2);
}

// ---- the stand-in broker ----
let accepting = true;
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: () => "mqtt", verifyClient: () => accepting });
wss.on("connection", (ws) => {
  ws.on("message", (d) => {
    const type = d[0] >> 4;
    if (type === 1) ws.send(Buffer.from([0x20, 2, 0, 0]));
    else if (type === 12) ws.send(Buffer.from([0xd0, 0]));
  });
});
await new Promise((r) => wss.on("listening", r));
const url = `ws://127.0.0.1:${wss.address().port}`;

// ---- the page ----
const files = {
  "/": [path.join(here, "mem.html"), "text/html"],
  "/mem.js": [path.join(here, "mem.js"), "text/javascript"],
  "/mqtt.esm.js": [path.join(here, "node_modules/mqtt/dist/mqtt.esm.js"), "text/javascript"],
  "/paho.js": [path.join(here, "node_modules/paho-mqtt/paho-mqtt-min.js"), "text/javascript"],
};
const server = http.createServer((req, res) => {
  const p = new URL(req.url, "http://x").pathname;
  let f = files[p];
  if (!f && p.startsWith("/pkg/")) {
    const file = path.resolve(pkgDir, "." + path.posix.normalize(p.slice(4)));
    if (file.startsWith(pkgDir + path.sep) && existsSync(file)) f = [file, file.endsWith(".wasm") ? "application/wasm" : "text/javascript"];
  }
  if (!f) return res.writeHead(404), res.end();
  res.writeHead(200, { "Content-Type": f[1] });
  res.end(readFileSync(f[0]));
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage", "--enable-precise-memory-info",
    "--js-flags=--expose-gc", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
});
const libs = [["page alone", "memBaseline"], ["mq", "memMq"], ["MQTT.js", "memMqttJs"], ["Paho", "memPaho"]];
const runs = {};
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, fn] of libs) {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.on("pageerror", (e) => console.log(`[page error] ${e}`));
      accepting = true;
      await page.exposeFunction("dropBroker", async () => {
        accepting = false;
        for (const c of wss.clients) c.terminate();
      });
      await page.goto(origin + "/");
      await page.waitForFunction(() => window.memReady === true);
      const r = await page.evaluate(([fn, url, n]) => window[fn](url, n), [fn, url, N]);
      (runs[name] ??= []).push(r);
      const kb = (x) => (x == null ? "-" : `${(x / 1024).toFixed(0)} KiB`);
      console.log(`  round ${round} ${name}: heap ${kb(r.loaded.heap)} loaded, ${kb(r.connected?.heap)} connected, ${kb(r.queued?.heap)} queued` +
        (r.loaded.wasm ? `; wasm ${kb(r.loaded.wasm)} / ${kb(r.connected.wasm)} / ${kb(r.queued.wasm)}` : ""));
      await context.close();
    }
  }
} finally {
  await browser.close();
  server.close();
  wss.close();
}
const median = (xs) => {
  const s = xs.filter((x) => x != null).sort((a, b) => a - b);
  if (!s.length) return null;
  return s.length % 2 ? s[(s.length - 1) / 2] : Math.round((s[s.length / 2 - 1] + s[s.length / 2]) / 2);
};
const medians = {};
for (const [name] of libs) {
  const rs = runs[name];
  medians[name] = {};
  for (const stage of ["loaded", "connected", "queued"]) {
    for (const what of ["heap", "wasm"]) medians[name][`${stage}_${what}`] = median(rs.map((r) => r[stage]?.[what]));
  }
}
console.log(`# medians of ${ROUNDS} rounds, bytes; queued: ${N} QoS 1 messages of 64 B published while offline`);
console.log("| library | JS heap loaded | connected | queued | wasm memory loaded | connected | queued |");
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const [name] of libs) {
  const m = medians[name];
  console.log(`| ${name} | ${m.loaded_heap} | ${m.connected_heap ?? "-"} | ${m.queued_heap ?? "-"} | ${m.loaded_wasm ?? "-"} | ${m.connected_wasm ?? "-"} | ${m.queued_wasm ?? "-"} |`);
}
if (jsonFile) writeFileSync(jsonFile, JSON.stringify({ rounds: ROUNDS, messages: N, medians, runs }, null, 2));
process.exit(0);
