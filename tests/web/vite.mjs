// The npm package in an app built by Vite 7, as a user would: `npm pack` of pkg/ installed into
// the app's node_modules, `import init, { MqttClient } from "mq-wasm"`, no Node polyfills and no
// plugin. The built app runs in headless Chromium and does a publish/subscribe round trip through
// Mosquitto on the main thread and in a module Web Worker; then the same app under the Vite dev
// server, configured as the package's README says (optimizeDeps.exclude).
//
//   MQ_BROKER_WS=ws://127.0.0.1:P MQ_PKG_DIR=pkg node tests/web/vite.mjs
//
// scripts/test.sh builds pkg/ (scripts/build-pkg.sh) and starts the broker (tests/browser/broker.mjs).
import { build, createServer } from "vite";
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { check, fail, finish, launch, serveDir, waitUntil } from "./lib.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const broker = process.env.MQ_BROKER_WS;
const pkgDir = process.env.MQ_PKG_DIR && path.resolve(process.env.MQ_PKG_DIR);
if (!broker || !pkgDir) {
  console.error("MQ_BROKER_WS and MQ_PKG_DIR must be set");
  process.exit(2);
}

const work = mkdtempSync(path.join(os.tmpdir(), "mq-vite-"));
let browser;
let server;
let dev;
try {
  // ---- install the package as npm would: from its tarball (so `files` is tested too) ----
  const tgz = execFileSync("npm", ["pack", "--silent", "--pack-destination", work], { cwd: pkgDir }).toString().trim().split("\n").pop();
  const app = path.join(work, "app");
  cpSync(path.join(here, "app"), app, { recursive: true });
  const installed = path.join(app, "node_modules", "mq-wasm");
  mkdirSync(installed, { recursive: true });
  execFileSync("tar", ["-xzf", path.join(work, tgz), "-C", installed, "--strip-components=1"]);
  check(readdirSync(installed).includes("mq_bg.wasm"), `npm pack holds the wasm (${tgz})`);

  // ---- build with Vite, default configuration ----
  const warnings = [];
  const logger = {
    info() {}, warnOnce(m) { warnings.push(m); }, warn(m) { warnings.push(m); }, error(m) { warnings.push(m); },
    clearScreen() {}, hasErrorLogged() { return false; }, hasWarned: false,
  };
  await build({ root: app, logLevel: "warn", customLogger: logger, build: { outDir: path.join(app, "dist"), emptyOutDir: true } });
  const assets = readdirSync(path.join(app, "dist", "assets"));
  check(assets.some((f) => f.endsWith(".wasm")), `vite build emitted the wasm as an asset (${assets.join(", ")})`);
  const nodeish = warnings.filter((w) => /externalized for browser compatibility|polyfill|node:/i.test(w));
  check(nodeish.length === 0, `no Node built-in or polyfill asked for (${nodeish.join(" | ") || "none"})`);

  // ---- run it ----
  server = await serveDir(path.join(app, "dist"));
  browser = await launch();
  const page = await browser.newPage();
  const consoleLines = [];
  page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e}`));
  page.on("response", (r) => { if (r.status() >= 400) consoleLines.push(`error: HTTP ${r.status()} ${r.url()}`); });
  await page.goto(`${server.origin}/?broker=${encodeURIComponent(broker)}`);
  let main;
  await waitUntil("main thread round trip finished", async () => (main = await page.evaluate(() => window.mainResult)));
  check(main && !main.error && main.granted === 1 && main.sameTopic && main.qos === 1 && main.text === "hello from the main thread",
    `main thread: subscribe, publish, receive (${JSON.stringify(main)})`);
  let worker;
  await waitUntil("worker round trip finished", async () => (worker = await page.evaluate(() => window.workerResult)));
  check(worker && !worker.error && worker.granted === 1 && worker.sameTopic && worker.qos === 1 && worker.text === "hello from the worker",
    `Web Worker: subscribe, publish, receive (${JSON.stringify(worker)})`);
  const bad = consoleLines.filter((l) => /^(error|pageerror)|instantiateStreaming/.test(l));
  check(bad.length === 0, `no errors in the console (${bad.join(" | ") || "none"})`);
  await page.close();

  // ---- the Vite dev server ----
  dev = await createServer({
    root: app, logLevel: "warn", customLogger: logger, clearScreen: false,
    server: { host: "127.0.0.1", port: 0, strictPort: false, hmr: false },
    optimizeDeps: { exclude: ["mq-wasm"] },
  });
  await dev.listen();
  const devUrl = dev.resolvedUrls.local[0];
  const devPage = await browser.newPage();
  await devPage.goto(`${devUrl}?broker=${encodeURIComponent(broker)}`);
  let devMain;
  let devWorker;
  await waitUntil("dev server: both round trips finished",
    async () => (devMain = await devPage.evaluate(() => window.mainResult)) && (devWorker = await devPage.evaluate(() => window.workerResult)));
  check(devMain && !devMain.error && devMain.sameTopic && devMain.text === "hello from the main thread", `dev server, main thread (${JSON.stringify(devMain)})`);
  check(devWorker && !devWorker.error && devWorker.sameTopic && devWorker.text === "hello from the worker", `dev server, Web Worker (${JSON.stringify(devWorker)})`);
} catch (e) {
  fail(e);
} finally {
  await browser?.close();
  server?.close();
  await dev?.close();
  rmSync(work, { recursive: true, force: true });
}
finish();
