// Mosquitto for the browser tests, with a control endpoint to stop and start it mid-test.
//
//   node tests/browser/broker.mjs <state-dir>
//
// Starts Mosquitto on free loopback ports: an anonymous WebSockets listener, a WebSockets
// listener that needs user "mq" / password "secret", and a plain TCP listener (for
// mosquitto_pub / mosquitto_sub in the Playwright test). Writes <state-dir>/ports.env
// (MQ_BROKER_WS, MQ_BROKER_WS_AUTH, MQ_BROKER_TCP_PORT, MQ_BROKER_CONTROL, and MQ_BLACKHOLE_WS,
// a loopback port that accepts and never answers) once the broker accepts connections, then serves on MQ_BROKER_CONTROL (loopback, CORS open, for the wasm tests):
//   POST /stop   stops Mosquitto (SIGTERM: it saves its persistent sessions) and waits for exit
//   POST /start  starts it again on the same ports and waits until it accepts connections
// Runs until SIGTERM / SIGINT, then stops Mosquitto. MQ_BROKER_MAX_QUEUED sets Mosquitto's
// max_queued_messages (default here 10000; 0: no limit, for tests/web/flood.mjs).

import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync, chmodSync, chownSync, existsSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";

const dir = path.resolve(process.argv[2] || "target/browser-broker");
mkdirSync(dir, { recursive: true });

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function accepts(port) {
  return new Promise((resolve) => {
    const c = net.connect({ host: "127.0.0.1", port });
    c.on("connect", () => { c.destroy(); resolve(true); });
    c.on("error", () => resolve(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(ports, up) {
  for (let i = 0; i < 200; i++) {
    const states = await Promise.all(ports.map(accepts));
    if (states.every((s) => s === up)) return;
    await sleep(50);
  }
  throw new Error(`mosquitto ports ${ports} not ${up ? "up" : "down"}`);
}

const [ws, wsAuth, tcp, control] = [await freePort(), await freePort(), await freePort(), await freePort()];

// A listener that accepts connections and never answers: a WebSocket to it never opens.
const held = [];
const blackhole = net.createServer((socket) => { held.push(socket); socket.on("error", () => {}); });
await new Promise((r) => blackhole.listen(0, "127.0.0.1", r));

// Mosquitto starts as root and drops to user "mosquitto": everything it reads or writes must be
// reachable by that user.
const owner = (() => {
  try {
    const uid = Number(execFileSync("id", ["-u", "mosquitto"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "mosquitto"]).toString().trim());
    return { uid, gid };
  } catch {
    return null;
  }
})();
const persist = path.join(dir, "data");
mkdirSync(persist, { recursive: true });
const passwd = path.join(dir, "passwd");
writeFileSync(passwd, "");
execFileSync("mosquitto_passwd", ["-b", passwd, "mq", "secret"]);
const conf = path.join(dir, "mosquitto.conf");
writeFileSync(conf, [
  "per_listener_settings true",
  "persistence true",
  `persistence_location ${persist}/`,
  "log_dest stderr",
  "log_type error",
  "log_type warning",
  `max_queued_messages ${process.env.MQ_BROKER_MAX_QUEUED || 10000}`,
  `listener ${ws}`,
  "bind_interface lo",
  "protocol websockets",
  "allow_anonymous true",
  `listener ${wsAuth}`,
  "bind_interface lo",
  "protocol websockets",
  "allow_anonymous false",
  `password_file ${passwd}`,
  `listener ${tcp}`,
  "bind_interface lo",
  "allow_anonymous true",
  "",
].join("\n"));
for (const f of [dir, persist, passwd, conf]) {
  chmodSync(f, f === passwd ? 0o600 : existsSync(f) && f.endsWith(".conf") ? 0o644 : 0o755);
  if (owner) chownSync(f, owner.uid, owner.gid);
}

let broker = null;
async function start() {
  if (broker) return;
  broker = spawn("mosquitto", ["-c", conf], { stdio: ["ignore", "inherit", "inherit"] });
  const me = broker;
  broker.on("exit", () => { if (broker === me) broker = null; });
  await waitFor([ws, wsAuth, tcp], true);
}
async function stop() {
  const b = broker;
  if (!b) return;
  const exited = new Promise((r) => b.once("exit", r));
  b.kill("SIGTERM");
  await exited;
  broker = null;
  await waitFor([ws, wsAuth, tcp], false);
}

await start();

const server = http.createServer(async (req, res) => {
  res.setHeader("Access-Control-Allow-Origin", "*");
  try {
    if (req.url === "/stop") await stop();
    else if (req.url === "/start") await start();
    else if (req.url !== "/") { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end(broker ? "running" : "stopped");
  } catch (e) {
    res.writeHead(500);
    res.end(String(e));
  }
});
await new Promise((r) => server.listen(control, "127.0.0.1", r));

writeFileSync(path.join(dir, "ports.env"), [
  `MQ_BROKER_WS=ws://127.0.0.1:${ws}`,
  `MQ_BROKER_WS_AUTH=ws://127.0.0.1:${wsAuth}`,
  `MQ_BROKER_TCP_PORT=${tcp}`,
  `MQ_BROKER_CONTROL=http://127.0.0.1:${control}`,
  `MQ_BLACKHOLE_WS=ws://127.0.0.1:${blackhole.address().port}`,
  "",
].join("\n"));

async function shutdown() {
  server.close();
  blackhole.close();
  for (const s of held) s.destroy();
  await stop().catch(() => {});
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
