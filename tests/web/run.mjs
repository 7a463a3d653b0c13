// The README's first command, scripts/run.sh, as a user runs it: it must start a broker with a
// WebSockets listener and the dashboard server on loopback and print their addresses; a page
// from that server must reach that broker through the package (QoS 0, 1 and 2 round trips);
// mosquitto_pub / mosquitto_sub must work against the TCP listener it prints; and SIGTERM must
// stop all of it. With rumqttd on PATH the same runs again with MQ_BROKER=rumqttd (the broker
// run.sh falls back to without Mosquitto).
//
//   node tests/web/run.mjs        (after scripts/build-pkg.sh: run.sh is started with --no-build)
import { spawn, execFileSync, spawnSync } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { check, fail, finish, launch, sleep } from "./lib.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

const listening = (port) =>
  new Promise((resolve) => {
    const c = net.connect(port, "127.0.0.1", () => {
      c.end();
      resolve(true);
    });
    c.on("error", () => resolve(false));
  });

async function runOnce(brokerName, browser) {
  console.log(`# scripts/run.sh --no-build with MQ_BROKER=${brokerName}`);
  const env = { ...process.env, MQ_BROKER: brokerName, MQ_HTTP_PORT: "0", MQ_WS_PORT: "0", MQ_TCP_PORT: "0" };
  const child = spawn("bash", [path.join(root, "scripts", "run.sh"), "--no-build"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  let dash, ws, tcp;
  for (let i = 0; i < 1200 && !(dash && ws); i++) {
    dash = (out.match(/dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/) || [])[1];
    const b = out.match(/broker: \S+, ws:\/\/127\.0\.0\.1:(\d+) \(WebSockets\), mqtt:\/\/127\.0\.0\.1:(\d+)/);
    if (b) [ws, tcp] = [Number(b[1]), Number(b[2])];
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  if (!check(Boolean(dash && ws && tcp), `run.sh printed the dashboard URL and the broker's addresses (${dash}, ws ${ws}, tcp ${tcp})`)) {
    console.log(out);
    child.kill("SIGTERM");
    await exited;
    return;
  }
  try {
    const page = await fetch(dash);
    check(page.status === 200 && (await page.text()).includes("<"), `GET ${dash}: ${page.status}`);
    const wasm = await fetch(new URL("pkg/mq_bg.wasm", dash));
    check(wasm.status === 200 && wasm.headers.get("content-type") === "application/wasm", `the package's wasm is served as application/wasm (${wasm.status})`);
    const config = await (await fetch(new URL("config.json", dash))).json();
    check(config.broker === `ws://127.0.0.1:${ws}`, `the connect form starts with that broker (${config.broker})`);

    const tab = await browser.newPage();
    await tab.goto(dash);
    const got = await tab.evaluate(async (url) => {
      const { default: init, MqttClient } = await import("/pkg/mq.js");
      await init();
      const c = await MqttClient.connect(url, { clientId: `run-test-${Date.now()}`, session: "memory" });
      const got = [];
      c.on("message", (t, p, info) => got.push(`${t} ${new TextDecoder().decode(p)} ${info.qos}`));
      await c.subscribe("run-test/#", { qos: 2 });
      for (const qos of [0, 1, 2]) await c.publish(`run-test/q${qos}`, `m${qos}`, { qos });
      for (let i = 0; i < 50 && got.length < 3; i++) await new Promise((r) => setTimeout(r, 100));
      await c.end();
      return got.sort();
    }, `ws://127.0.0.1:${ws}`);
    // QoS as the broker delivers it: the lower of publish and subscription QoS for Mosquitto;
    // rumqttd 0.20 uses the subscription's.
    const want = brokerName === "rumqttd" ? ["run-test/q0 m0 2", "run-test/q1 m1 2", "run-test/q2 m2 2"] : ["run-test/q0 m0 0", "run-test/q1 m1 1", "run-test/q2 m2 2"];
    check(JSON.stringify(got) === JSON.stringify(want), `a page from the dashboard server did QoS 0/1/2 round trips through the broker (${got})`);
    await tab.close();

    const sub = spawn("mosquitto_sub", ["-h", "127.0.0.1", "-p", String(tcp), "-t", "run-test/tcp", "-C", "1", "-W", "20"], { stdio: ["ignore", "pipe", "inherit"] });
    let line = "";
    sub.stdout.on("data", (d) => (line += d));
    const subDone = new Promise((resolve) => sub.on("exit", resolve));
    for (let i = 0; i < 100 && sub.exitCode === null && line === ""; i++) {
      spawnSync("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(tcp), "-t", "run-test/tcp", "-m", "hello"]);
      await sleep(200);
    }
    await subDone;
    check(line.trim() === "hello", `mosquitto_pub -> mosquitto_sub through the printed TCP listener (${JSON.stringify(line.trim())})`);
  } finally {
    child.kill("SIGTERM");
    const timeout = sleep(20000).then(() => null);
    const e = await Promise.race([exited, timeout]);
    check(e !== null, `SIGTERM stopped run.sh (${e && (e.signal || e.code)})`);
    if (e === null) child.kill("SIGKILL");
    let closed = false;
    for (let i = 0; i < 50 && !closed; i++) {
      closed = !(await listening(ws)) && !(await listening(tcp)) && !(await listening(Number(new URL(dash).port)));
      if (!closed) await sleep(100);
    }
    check(closed, "the broker and the dashboard server stopped with it");
  }
}

const browser = await launch();
try {
  await runOnce("mosquitto", browser);
  let rumqttd = false;
  try {
    execFileSync("rumqttd", ["--version"], { stdio: "ignore" });
    rumqttd = true;
  } catch {}
  if (rumqttd) await runOnce("rumqttd", browser);
  else console.log("# not run: MQ_BROKER=rumqttd (rumqttd is not on PATH; run.sh would install it, which takes minutes)");
} catch (e) {
  fail(e);
} finally {
  await browser.close();
}
finish();
