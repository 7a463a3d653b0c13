// The dashboard (www/) in headless Chromium, served by www/serve.mjs against a real Mosquitto:
// connect, subscribe, publish, see the message in the table and the chart move; reload and see
// the session restored; stop the broker, publish into the offline queue, reload, see the queued
// messages read back from IndexedDB, start the broker and see them delivered. Saves a screenshot
// to test-results/dashboard.png.
//
//   MQ_BROKER_WS=ws://127.0.0.1:P MQ_BROKER_TCP_PORT=T MQ_BROKER_CONTROL=http://127.0.0.1:C \
//     MQ_PKG_DIR=pkg node tests/web/dashboard.mjs
//
// scripts/test.sh builds pkg/ and starts the broker (tests/browser/broker.mjs). Waits are
// bounded; no timing is asserted.
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { check, fail, finish, launch, sleep, waitUntil } from "./lib.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const { MQ_BROKER_WS: broker, MQ_BROKER_TCP_PORT: tcpPort, MQ_BROKER_CONTROL: control } = process.env;
const pkgDir = process.env.MQ_PKG_DIR && path.resolve(process.env.MQ_PKG_DIR);
if (!broker || !tcpPort || !control || !pkgDir) {
  console.error("MQ_BROKER_WS, MQ_BROKER_TCP_PORT, MQ_BROKER_CONTROL and MQ_PKG_DIR must be set");
  process.exit(2);
}
const artefacts = path.join(root, "test-results");
mkdirSync(artefacts, { recursive: true });
const run = `${process.pid}-${Date.now() % 100000}`;
const prefix = `dash-${run}`;
const clientId = `dashboard-test-${run}`;

// ---- the dashboard server, as scripts/run.sh starts it ----
const server = spawn("node", [path.join(root, "www", "serve.mjs"), "--port", "0", "--pkg", pkgDir, "--broker", broker],
  { stdio: ["ignore", "pipe", "inherit"] });
const origin = await new Promise((resolve, reject) => {
  let out = "";
  server.stdout.on("data", (d) => {
    out += d;
    const m = out.match(/serving (http:\/\/127\.0\.0\.1:\d+)\//);
    if (m) resolve(m[1]);
  });
  server.on("exit", (code) => reject(new Error(`www/serve.mjs exited (${code})`)));
});

const brokerControl = async (what) => {
  const r = await fetch(`${control}/${what}`, { method: "POST" });
  return r.text();
};

const browser = await launch();
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
  page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("response", (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`); });

  const state = () => page.getAttribute("#state", "data-state");
  const tableText = (sel) => page.$$eval(`${sel} tbody tr`, (rows) => rows.map((r) => r.innerText));
  const ready = () => page.waitForSelector("body[data-ready='1']", { timeout: 30000 });

  // ---- first load: the form starts with the local broker ----
  await page.goto(`${origin}/`);
  await ready();
  check((await page.inputValue("#url")) === broker, `the broker URL is prefilled (${await page.inputValue("#url")})`);
  const wasm = await fetch(`${origin}/pkg/mq_bg.wasm`);
  check(wasm.headers.get("content-type") === "application/wasm", "the server sends the wasm as application/wasm");

  // ---- connect (persistent session), subscribe ----
  await page.fill("#client-id", clientId);
  await page.setChecked("#clean", false);
  await page.fill("#keepalive", "30");
  await page.click("#connect");
  await waitUntil("connected", async () => (await state()) === "connected");
  await page.fill("#sub-topic", `${prefix}/#`);
  await page.selectOption("#sub-qos", "1");
  await page.click("#subscribe");
  await waitUntil("the subscription is listed with granted QoS 1",
    async () => (await tableText("#subscriptions")).some((t) => t.includes(`${prefix}/#`) && /\t1\b/.test(t)));

  // ---- publish from the form; the message comes back through the broker ----
  await page.fill("#pub-topic", `${prefix}/hello`);
  await page.fill("#pub-payload", '{"hello":"dashboard","n":1}');
  await page.selectOption("#pub-qos", "1");
  await page.click("#publish");
  await waitUntil("the publish completed (PUBACK)", async () => (await page.textContent("#publish-result")).includes("PUBACK"));
  await waitUntil("the message is in the table",
    async () => (await tableText("#messages")).some((t) => t.includes(`${prefix}/hello`) && t.includes('"hello"')));
  await waitUntil("the chart counted it", async () => Number(await page.getAttribute("#chart", "data-total")) >= 1);
  check(Number(await page.getAttribute("#chart", "data-max")) >= 1, "the chart has a bar for it");

  // ---- a message from another client (mosquitto_pub over TCP), then the payload views ----
  execFileSync("mosquitto_pub", ["-h", "127.0.0.1", "-p", tcpPort, "-q", "1", "-r", "-t", `${prefix}/sensor`, "-m", '{"temp":21.5}']);
  await waitUntil("a message from mosquitto_pub is in the table",
    async () => (await tableText("#messages")).some((t) => t.includes(`${prefix}/sensor`) && t.includes("21.5")));
  await page.selectOption("#payload-format", "json");
  check((await page.textContent("#messages tbody tr:first-child td.payload")).includes('"temp": 21.5'), "payload as pretty JSON");
  await page.selectOption("#payload-format", "hex");
  check((await page.textContent("#messages tbody tr:first-child td.payload")).startsWith("7b 22 74 65 6d 70"), "payload as hex");
  await page.selectOption("#payload-format", "text");
  check(Number(await page.getAttribute("#chart", "data-total")) >= 2, "the chart moved with the second message");

  // ---- reload while connected: the page reconnects and the session is resumed ----
  await page.reload();
  await ready();
  await waitUntil("connected again after the reload", async () => (await state()) === "connected");
  check((await page.inputValue("#client-id")) === clientId, "the client id survived the reload");
  await waitUntil("the subscription was restored from the session",
    async () => (await tableText("#subscriptions")).some((t) => t.includes(`${prefix}/#`)));
  check((await page.textContent("#log")).includes("subscriptions restored"), "the log says the subscriptions were restored");
  check((await page.textContent("#session-source")).includes("IndexedDB"), "the session panel shows the IndexedDB session");

  // ---- a second tab: it follows the first one's connection (share: "tabs") ----
  const second = await context.newPage();
  second.on("pageerror", (e) => errors.push(`second tab: ${e}`));
  await second.goto(`${origin}/`);
  await waitUntil("the second tab is connected", async () => (await second.getAttribute("#state", "data-state")) === "connected");
  check((await page.textContent("#log")).includes("holds the connection"), "the first tab holds the shared connection");
  check((await second.textContent("#log")).includes("this tab follows"), "the second tab follows it");
  check(await second.evaluate(() => window.mqDashboard.client.role) === "follower", "the second tab's client is a follower");
  execFileSync("mosquitto_pub", ["-h", "127.0.0.1", "-p", tcpPort, "-q", "1", "-t", `${prefix}/tabs`, "-m", "both tabs"]);
  for (const [name, p] of [["first", page], ["second", second]]) {
    await waitUntil(`the ${name} tab got a message through the one connection`, async () =>
      (await p.$$eval("#messages tbody tr", (rows) => rows.map((r) => r.innerText))).some((t) => t.includes(`${prefix}/tabs`)));
  }
  await second.close();

  // ---- broker down: publishes wait in the offline queue, stored in IndexedDB ----
  await brokerControl("stop");
  await waitUntil("the page noticed the broker is gone", async () => ["offline", "reconnecting"].includes(await state()));
  for (const n of [1, 2]) {
    await page.fill("#pub-topic", `${prefix}/offline/${n}`);
    await page.fill("#pub-payload", `queued ${n}`);
    await page.click("#publish");
  }
  await waitUntil("the session panel shows 2 queued messages", async () => (await page.textContent("#queued-count")) === "2");
  await page.evaluate(() => window.mqDashboard.client.persisted());
  check((await tableText("#session-queued")).join("\n").includes(`${prefix}/offline/2`), "the queued messages are listed");

  // ---- reload with the broker down: the queue is read back from IndexedDB ----
  await page.reload();
  await ready();
  await waitUntil("after the reload the stored session lists the 2 queued messages",
    async () => (await page.textContent("#queued-count")) === "2" && (await page.textContent("#session-source")).includes("stored in IndexedDB"));
  check((await tableText("#session-queued")).join("\n").includes("queued 1"), "the stored queue holds the payloads");
  await page.screenshot({ path: path.join(artefacts, "dashboard-offline.png"), fullPage: true });

  // ---- broker back: the page connects, the restored messages are sent and come back ----
  await brokerControl("start");
  await waitUntil("connected once the broker is back", async () => (await state()) === "connected", 60);
  await waitUntil("both queued messages were delivered through the broker", async () => {
    const rows = (await tableText("#messages")).join("\n");
    return rows.includes(`${prefix}/offline/1`) && rows.includes(`${prefix}/offline/2`);
  });
  await waitUntil("the queue is empty", async () => (await page.textContent("#queued-count")) === "0");
  check((await page.textContent("#log")).includes("restored request"), "the log reports the restored requests completing");
  await page.fill("#pub-topic", `${prefix}/after`);
  await page.fill("#pub-payload", '{"after":"reload","ok":true}');
  await page.click("#publish");
  await waitUntil("a new message after the restore", async () => (await tableText("#messages")).some((t) => t.includes(`${prefix}/after`)));
  // A few seconds of traffic from another client, so the screenshot shows the chart's bars.
  for (let i = 0; i < 12; i++) {
    execFileSync("mosquitto_pub", ["-h", "127.0.0.1", "-p", tcpPort, "-t", `${prefix}/sensor/${i % 3}`, "-m", JSON.stringify({ i, temp: 20 + i / 4 })]);
    await sleep(250);
  }
  await waitUntil("the traffic reached the table", async () => (await tableText("#messages")).some((t) => t.includes(`"i":11`)));
  await sleep(1100); // the per-second chart redraws once a second
  await page.screenshot({ path: path.join(artefacts, "dashboard.png"), fullPage: true });
  console.log(`screenshot: ${path.join(artefacts, "dashboard.png")}`);
  check(errors.length === 0, `no page errors (${errors.join(" | ") || "none"})`);

  // ---- disconnect and clean up the stored session ----
  await page.click("#disconnect");
  await waitUntil("disconnected", async () => (await state()) === "disconnected");
  await page.click("#clear-session");
  await waitUntil("the stored session is gone", async () => (await page.textContent("#log")).includes("deleted the stored session"));
  execFileSync("mosquitto_pub", ["-h", "127.0.0.1", "-p", tcpPort, "-r", "-n", "-t", `${prefix}/sensor`]);
} catch (e) {
  fail(e);
  if (page) await page.screenshot({ path: path.join(artefacts, "dashboard-failure.png"), fullPage: true }).catch(() => {});
} finally {
  await brokerControl("start").catch(() => {});
  await browser.close();
  server.kill();
}
finish();
