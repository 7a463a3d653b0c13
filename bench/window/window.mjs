// The in-flight window study: what Mosquitto (its default configuration), rumqttd (the demo
// configuration it ships, rumqttd/rumqttd.toml) and aedes (its defaults, tests/aedes/server.js)
// accept from one MQTT 3.1.1 client at QoS 1 and QoS 2, at in-flight windows from 10 to 65535.
//
//   node bench/window/window.mjs [messages=10000] [rounds=1] [windows=10,20,50,100,256,1000,65535] [--json FILE]
//
// For each broker, QoS and window: a subscriber (QoS of the stream, acknowledges at once) and a
// publisher on loopback TCP, both written directly with mqtt-packet (so nothing but the window
// limits what is in flight: the publisher keeps exactly `window` PUBLISHes unacknowledged, QoS 1
// until PUBACK, QoS 2 until PUBCOMP, writing what it can per socket write). Each payload carries
// its index, so the subscriber counts unique messages and duplicates. A run ends when every
// message is acknowledged and delivered, when nothing moves for 5 s ("stall"), or when a
// connection closes ("disconnect"); "lost" when every message was acknowledged but not every
// one delivered after 5 s of nothing (the broker dropped them on the way to the subscriber).
// Recorded: acknowledged, delivered (unique), duplicates, messages/s (the median over the
// rounds), and the broker's own "dropped" log lines (Mosquitto).
// A benchmark, not a test: nothing is asserted. Needs mosquitto, rumqttd, and the node_modules of
// bench/browser (mqtt-packet) and tests/aedes (aedes).
import { spawn, execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, waitForPort } from "../ports.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const mqttPacket = createRequire(path.join(root, "bench/browser/node_modules/"))("mqtt-packet");

const args = process.argv.slice(2);
const jsonAt = args.indexOf("--json");
const jsonFile = jsonAt >= 0 ? args.splice(jsonAt, 2)[1] : null;
const N = Number(args[0] || 10000);
const ROUNDS = Number(args[1] || 1);
const WINDOWS = (args[2] || "10,20,50,100,256,1000,65535").split(",").map(Number);
const BROKERS = (process.env.MQ_WINDOW_BROKERS || "mosquitto,rumqttd,aedes").split(",");
const IDLE_MS = 5000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const version = (cmd, argv) => {
  try {
    return execFileSync(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] }).toString().split("\n")[0].trim();
  } catch (e) {
    return (e.stdout?.toString() || "").split("\n")[0].trim() || "?";
  }
};

/** Starts a broker on a free port; returns { port, log(), stop(), version, config }. */
async function startBroker(name) {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), `mq-window-${name}-`));
  chmodSync(dir, 0o755);
  let log = "";
  let child;
  let config;
  if (name === "mosquitto") {
    // Mosquitto 2.0 needs a listener line for a port other than 1883, and a listener line turns
    // anonymous access off: these two lines are the only settings; everything else is default
    // (max_inflight_messages 20, max_queued_messages 1000, no max_inflight_bytes).
    config = `listener ${port} 127.0.0.1\nallow_anonymous true\n`;
    writeFileSync(path.join(dir, "m.conf"), config, { mode: 0o644 });
    child = spawn("mosquitto", ["-c", path.join(dir, "m.conf")], { stdio: ["ignore", "ignore", "pipe"] });
  } else if (name === "rumqttd") {
    // The demo configuration rumqttd ships (rumqttd/rumqttd.toml in bytebeamio/rumqtt): its v4
    // listener and router, on a free port; the v5, websocket and prometheus listeners left out.
    const consolePort = await freePort();
    config = `id = 0
[router]
id = 0
max_connections = 10010
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10
[v4.1]
name = "v4-1"
listen = "127.0.0.1:${port}"
next_connection_delay_ms = 1
    [v4.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 20480
    max_inflight_count = 100
    dynamic_filters = true
[console]
listen = "127.0.0.1:${consolePort}"
`;
    writeFileSync(path.join(dir, "rumqttd.toml"), config);
    child = spawn("rumqttd", ["-q", "-c", path.join(dir, "rumqttd.toml")], { stdio: ["ignore", "ignore", "pipe"] });
  } else if (name === "aedes") {
    config = "Aedes.createBroker() with no options (tests/aedes/server.js)";
    child = spawn("node", [path.join(root, "tests/aedes/server.js"), String(port)], { stdio: ["ignore", "ignore", "pipe"] });
  } else throw new Error(`unknown broker ${name}`);
  child.stderr.on("data", (d) => (log += d.toString()));
  await waitForPort(port);
  const v =
    name === "mosquitto" ? version("mosquitto", ["-h"]) :
    name === "rumqttd" ? version("rumqttd", ["--version"]) :
    `aedes ${JSON.parse(readFileSync(path.join(root, "tests/aedes/node_modules/aedes/package.json"), "utf8")).version}`;
  const describe = {
    mosquitto: "its default configuration: the only lines are `listener PORT 127.0.0.1` and `allow_anonymous true` (so max_inflight_messages 20, max_queued_messages 1000)",
    rumqttd: "the demo rumqttd.toml it ships: its router and v4 listener (max_inflight_count 100, max_payload_size 20480), on a free port",
    aedes: "Aedes.createBroker() with no options (tests/aedes/server.js)",
  }[name];
  return {
    port, version: v, config, describe,
    log: () => log,
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `promise`, or a rejection saying `what` did not come within IDLE_MS. */
function within(promise, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${IDLE_MS} ms`)), IDLE_MS);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** A raw MQTT 3.1.1 connection: resolves once CONNACK 0 came (a broker that never answers:
 * rejected after IDLE_MS, so one stuck broker cannot hang the whole study). */
function connect(port, clientId, onPacket) {
  return within(new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    sock.setNoDelay(true);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const state = { sock, closed: false, write: (p) => sock.write(mqttPacket.generate(p)) };
    parser.on("packet", (p) => {
      if (p.cmd === "connack") return p.returnCode === 0 ? resolve(state) : reject(new Error(`CONNACK ${p.returnCode}`));
      onPacket(p);
    });
    parser.on("error", (e) => (state.error = e.message));
    sock.on("data", (d) => parser.parse(d));
    sock.on("error", () => {});
    sock.on("close", () => (state.closed = true));
    sock.on("connect", () => state.write({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, clientId, keepalive: 60 }));
    sock.once("close", () => reject(new Error("closed before CONNACK")));
  }), "CONNACK");
}

let runNo = 0;
async function run(port, qos, window, n) {
  runNo += 1;
  const topic = `window/${process.pid}/${runNo}`;
  const seen = new Uint8Array(n);
  let delivered = 0, duplicates = 0, acked = 0, moved = Date.now();
  let onSuback;
  const subacked = new Promise((resolve) => (onSuback = resolve));
  const sub = await connect(port, `w${process.pid}-${runNo}-s`, (p) => {
    if (p.cmd === "publish") {
      const i = p.payload.readUInt32BE(0);
      if (i < n && !seen[i]) (seen[i] = 1), (delivered += 1);
      else duplicates += 1;
      moved = Date.now();
      if (p.qos === 1) sub.write({ cmd: "puback", messageId: p.messageId });
      if (p.qos === 2) sub.write({ cmd: "pubrec", messageId: p.messageId });
    } else if (p.cmd === "pubrel") sub.write({ cmd: "pubcomp", messageId: p.messageId });
    else if (p.cmd === "suback") onSuback(p.granted);
  });
  sub.write({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic, qos }] });
  await within(subacked, "SUBACK");

  const inflight = new Set();
  let sent = 0, nextId = 0;
  const payload = (i) => {
    const b = Buffer.alloc(64, 120);
    b.writeUInt32BE(i, 0);
    return b;
  };
  let pump;
  const pub = await connect(port, `w${process.pid}-${runNo}-p`, (p) => {
    if (p.cmd === "puback" || p.cmd === "pubcomp") {
      if (inflight.delete(p.messageId)) (acked += 1), (moved = Date.now());
      pump();
    } else if (p.cmd === "pubrec") pub.write({ cmd: "pubrel", messageId: p.messageId });
  });
  pump = () => {
    const out = [];
    while (inflight.size < window && sent < n) {
      do nextId = (nextId % 65535) + 1;
      while (inflight.has(nextId));
      inflight.add(nextId);
      out.push(mqttPacket.generate({ cmd: "publish", topic, payload: payload(sent), qos, messageId: nextId, retain: false, dup: false }));
      sent += 1;
    }
    if (out.length) pub.sock.write(Buffer.concat(out));
  };
  const t0 = performance.now();
  moved = Date.now();
  pump();
  let outcome = "ok";
  for (;;) {
    await sleep(5);
    if (acked === n && delivered === n) break;
    if (pub.closed || sub.closed) { outcome = pub.closed ? "publisher disconnected" : "subscriber disconnected"; break; }
    if (Date.now() - moved > IDLE_MS) {
      // Every message acknowledged but not every one delivered: the broker dropped some on the
      // way to the subscriber. Otherwise the broker stopped acknowledging.
      outcome = acked === n ? "lost" : "stall";
      break;
    }
  }
  const ms = performance.now() - t0;
  // Late duplicates: a moment more to see them.
  if (outcome === "ok") await sleep(50);
  for (const c of [pub, sub]) if (!c.closed) (c.write({ cmd: "disconnect" }), c.sock.end());
  return { outcome, acked, delivered, duplicates, rate: outcome === "ok" ? Math.round((n / ms) * 1000) : 0 };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : Math.round((s[s.length / 2 - 1] + s[s.length / 2]) / 2);
};

const results = [];
const brokers = {};
for (const name of BROKERS) {
  const b = await startBroker(name);
  brokers[name] = { version: b.version, config: b.config, describe: b.describe };
  console.log(`# ${name}: ${b.version}`);
  try {
    for (const qos of [1, 2]) {
      for (const window of WINDOWS) {
        const runs = [];
        for (let r = 0; r < ROUNDS; r++) {
          const before = b.log().length;
          const res = await run(b.port, qos, window, N).catch((e) => ({
            outcome: `stall (${e.message})`, acked: 0, delivered: 0, duplicates: 0, rate: 0,
          }));
          res.dropLines = (b.log().slice(before).match(/dropp/gi) || []).length;
          if (process.env.MQ_WINDOW_LOG) process.stdout.write(b.log().slice(before));
          runs.push(res);
          if (res.outcome !== "ok") break; // a failing window fails again: no more rounds
        }
        const bad = runs.find((x) => x.outcome !== "ok");
        const row = {
          broker: name, qos, window,
          outcome: bad ? bad.outcome : "ok",
          acked: Math.min(...runs.map((x) => x.acked)),
          delivered: Math.min(...runs.map((x) => x.delivered)),
          duplicates: Math.max(...runs.map((x) => x.duplicates)),
          dropLines: runs.reduce((a, x) => a + x.dropLines, 0),
          rate: bad ? 0 : median(runs.map((x) => x.rate)),
          rounds: runs.length,
        };
        results.push(row);
        console.log(`  ${name} QoS ${qos} window ${String(window).padStart(5)}: ${row.outcome}, acked ${row.acked}/${N}, delivered ${row.delivered}/${N}, duplicates ${row.duplicates}` +
          (row.dropLines ? `, broker log "dropped" x${row.dropLines}` : "") + (row.rate ? `, ${row.rate} msg/s` : ""));
      }
    }
  } finally {
    await b.stop();
  }
}
if (jsonFile) writeFileSync(jsonFile, JSON.stringify({ messages: N, rounds: ROUNDS, windows: WINDOWS, brokers, results }, null, 2));
