// Shared by the tests in this folder: Chromium, checks counted in cargo's words, a static server.
import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import http from "node:http";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The values of the environment variables `names`, in order; if any is unset, says which must
 *  be set and exits with status 2. */
export function requireEnv(...names) {
  const values = names.map((name) => process.env[name]);
  if (values.some((v) => !v)) {
    const list = names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names.at(-1)}` : names[0];
    console.error(`${list} must be set`);
    process.exit(2);
  }
  return values;
}

/** Headless Chromium; `options` adds Playwright launch options (e.g. handleSIGINT) to these,
 *  `extraArgs` command line flags. */
export function launch(options = {}, extraArgs = []) {
  return chromium.launch({
    ...options,
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic", ...extraArgs],
  });
}

let passes = 0;
let failures = 0;
export function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (ok) passes += 1;
  else failures += 1;
  return ok;
}

/** Polls `f` until it returns something truthy; bounded, and a timeout is a failed check. */
export async function waitUntil(what, f, seconds = 30) {
  let last;
  for (let i = 0; i < seconds * 10; i++) {
    try {
      last = await f();
      if (last) return check(true, what);
    } catch (e) {
      last = e;
    }
    await sleep(100);
  }
  return check(false, `${what} (gave up after ${seconds}s; last: ${last})`);
}

/** The summary line scripts/test.sh counts; exits with the result. */
export function finish() {
  console.log(`test result: ${failures === 0 ? "ok" : "FAILED"}. ${passes} passed; ${failures} failed;`);
  process.exit(failures === 0 ? 0 : 1);
}

export function fail(e) {
  check(false, `${e && e.stack ? e.stack : e}`);
}

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".wasm": "application/wasm", ".json": "application/json" };

/** Serves `root` on 127.0.0.1 (a free port); resolves with { origin, close }. `extra` adds
 *  files that are not in `root`: { "/path": { type, body } }, served before `root`'s. */
export async function serveDir(root, extra = {}) {
  root = path.resolve(root);
  const server = http.createServer(async (req, res) => {
    const rel = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (Object.hasOwn(extra, rel)) {
      res.writeHead(200, { "Content-Type": extra[rel].type, "Cache-Control": "no-store" });
      res.end(extra[rel].body);
      return;
    }
    const file = path.resolve(root, "." + path.posix.normalize("/" + (rel === "/" ? "/index.html" : rel)));
    try {
      if (!file.startsWith(root + path.sep) || !(await stat(file)).isFile()) throw new Error();
      res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] || "application/octet-stream" });
      res.end(await readFile(file));
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    close: () => { server.closeAllConnections(); server.close(); },
  };
}

// ---- the test broker: tests/browser/broker.mjs (Mosquitto on free loopback ports, with a
// control endpoint that stops and starts it) ----

/** The broker's addresses, as broker.mjs writes them to ports.env and scripts/test.sh exports. */
export const BROKER_ENV = {
  ws: "MQ_BROKER_WS",
  wsAuth: "MQ_BROKER_WS_AUTH",
  tcpPort: "MQ_BROKER_TCP_PORT",
  control: "MQ_BROKER_CONTROL",
  blackhole: "MQ_BLACKHOLE_WS",
};

let brokerProc = null;
let brokerDir = null;
export let brokerLog = "";

/** The broker of the environment (scripts/test.sh's `with_browser_broker`) when all of
 *  BROKER_ENV is set; else one started now (stop it with `stopBroker`). Returns
 *  `{ env: { ws, wsAuth, tcpPort, control, blackhole }, started }`. */
export async function useBroker() {
  const given = Object.values(BROKER_ENV).filter((k) => process.env[k]);
  if (given.length === Object.keys(BROKER_ENV).length) {
    return { env: Object.fromEntries(Object.entries(BROKER_ENV).map(([name, k]) => [name, process.env[k]])), started: false };
  }
  if (given.length) throw new Error(`set all of ${Object.values(BROKER_ENV).join(", ")} or none (then the broker is started here)`);
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
  brokerDir = mkdtempSync(path.join(os.tmpdir(), "mq-test-broker-"));
  brokerProc = spawn(process.execPath, [path.join(root, "tests", "browser", "broker.mjs"), brokerDir], { stdio: ["ignore", "pipe", "pipe"] });
  brokerProc.stdout.on("data", (d) => (brokerLog += d));
  brokerProc.stderr.on("data", (d) => (brokerLog += d));
  const p = brokerProc;
  const exited = new Promise((resolve) => p.once("exit", resolve));
  for (let i = 0; i < 300; i++) {
    if (p.exitCode !== null || p.signalCode !== null) break;
    let vars = {};
    try {
      vars = Object.fromEntries(readFileSync(path.join(brokerDir, "ports.env"), "utf8").split("\n")
        .filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    } catch {
      // Not written yet.
    }
    if (Object.values(BROKER_ENV).every((k) => vars[k])) {
      return { env: Object.fromEntries(Object.entries(BROKER_ENV).map(([name, k]) => [name, vars[k]])), started: true };
    }
    await Promise.race([sleep(100), exited]);
  }
  throw new Error(`tests/browser/broker.mjs did not start:\n${brokerLog}`);
}

/** Stops the broker `useBroker` started, if any (broker.mjs stops Mosquitto, then exits). */
export async function stopBroker() {
  const p = brokerProc;
  if (p && p.exitCode === null && p.signalCode === null) {
    const exited = new Promise((resolve) => p.once("exit", resolve));
    p.kill("SIGTERM");
    const done = await Promise.race([exited.then(() => true), sleep(20_000).then(() => false)]);
    if (!done) {
      console.log(`# tests/browser/broker.mjs (pid ${p.pid}) did not exit after SIGTERM; killing it`);
      p.kill("SIGKILL");
      await exited;
    }
  }
  brokerProc = null;
  if (brokerDir) rmSync(brokerDir, { recursive: true, force: true });
  brokerDir = null;
}
// Last resort if the process ends some other way: never leave the broker running.
process.on("exit", () => {
  if (brokerProc && brokerProc.exitCode === null && brokerProc.signalCode === null) brokerProc.kill("SIGTERM");
});
