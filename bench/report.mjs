// Writes BENCHMARKS.md (to stdout) from one run of scripts/bench.sh: every figure comes from the
// result files in the folder given, or from files measured here and now (the bundle sizes).
//
//   node bench/report.mjs <results folder> <rounds> <quick 0|1> > BENCHMARKS.md
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const [dir, rounds, quick] = [process.argv[2], Number(process.argv[3]), process.argv[4] === "1"];
const out = [];
const p = (s = "") => out.push(s);
const read = (f) => (existsSync(path.join(dir, f)) ? readFileSync(path.join(dir, f), "utf8") : null);
const json = (f) => {
  const t = read(f);
  try {
    return t ? JSON.parse(t) : null;
  } catch {
    return null;
  }
};
const sh = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }).toString().split("\n")[0].trim();
  } catch (e) {
    return (e.stdout?.toString() || "").split("\n")[0].trim() || "not found";
  }
};
const fmt = (x) => (x == null || Number.isNaN(x) ? "-" : Math.round(x).toLocaleString("en-US"));
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}x` : "-");
const npmVersion = (dirName, pkg) => {
  try {
    return JSON.parse(readFileSync(path.join(root, dirName, "node_modules", pkg, "package.json"), "utf8")).version;
  } catch {
    return "?";
  }
};
const NOT = "_Not measured in this run._";

// ---- header and machine ----
const start = (read("start") || "").trim().split(" ");
const end = (read("end") || "").trim().split(" ");
const cpu = os.cpus();
const osName = (readFileSync("/etc/os-release", "utf8").match(/PRETTY_NAME="([^"]+)"/) || [])[1] || os.type();
const rumqttcVersion = (readFileSync(path.join(root, "bench/e2e/Cargo.lock"), "utf8").match(/name = "rumqttc"\nversion = "([^"]+)"/) || [])[1];
p("# Benchmarks");
p();
p(`Written by \`scripts/bench.sh${quick ? " --quick" : ` ${rounds}`}\` on ${start[0] || "?"} (UTC): every figure below comes from that one run` +
  ` (${quick ? "quick mode: one round, fewer messages; for developing the command, not for quoting" : `medians of ${rounds} rounds where rounds apply`}).` +
  ` Measuring took ${fmt(Number(read("seconds")))} s after the builds.`);
p();
p(`Load average (1, 5, 15 min) at the start: ${start.slice(1).join(", ")}; at the end: ${end.slice(1).join(", ")}.` +
  ` On ${cpu.length} cores a load near or above ${cpu.length} means other work shared the machine: then single runs swing by 2x` +
  " and only ratios between libraries measured in the same rounds mean much." +
  (Number(start[1]) >= cpu.length || Number(end[1]) >= cpu.length
    ? " **This run shared the machine with other work**: re-run `scripts/bench.sh` on a quiet machine before quoting a figure."
    : ""));
p();
p("## Machine");
p();
p("| | |");
p("|---|---|");
p(`| CPU | ${cpu[0]?.model ?? "?"}, ${cpu.length} cores (as the OS sees them) |`);
p(`| memory | ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB |`);
p(`| OS | ${osName}, Linux ${os.release()} |`);
p(`| Rust | ${sh("rustc", ["-V"])} |`);
p(`| Node | ${process.version} |`);
p(`| browser | ${sh("/usr/bin/chromium", ["--version"])}, headless, Playwright (playwright-core ${npmVersion("bench/browser", "playwright-core")}) |`);
p(`| brokers | ${sh("mosquitto", ["-h"])}; ${sh("rumqttd", ["--version"])}; aedes ${npmVersion("tests/aedes", "aedes")} |`);
p(`| peers | MQTT.js ${npmVersion("bench/browser", "mqtt")}, Paho ${npmVersion("bench/browser", "paho-mqtt")}, mqtt-packet ${npmVersion("bench/browser", "mqtt-packet")}, rumqttc ${rumqttcVersion ?? "?"} |`);
p(`| mq | ${sh("git", ["-C", root, "describe", "--always", "--dirty"])} |`);
p();

// ---- summary ----
const b64 = json("browser-64.json");
const b16 = json("browser-16384.json");
const mem = json("memory.json");
const win = json("window.json");
const m = (b, q, lib) => b?.medians?.[q]?.[lib];
p("## The issue's targets, from this run");
p();
if (b64) {
  p("| target | measured (64 B payloads, medians) | met? |");
  p("|---|---|---|");
  for (const q of [1, 2]) {
    const r = m(b64, q, "mq") / m(b64, q, "MQTT.js");
    p(`| QoS ${q}: mq at least 5x MQTT.js, both at their defaults | ${fmt(m(b64, q, "mq"))} / ${fmt(m(b64, q, "MQTT.js"))} msg/s = **${r.toFixed(2)}x** | ${r >= 5 ? "yes" : "no"} |`);
  }
  const r0 = m(b64, 0, "mq") / m(b64, 0, "raw-ws");
  p(`| QoS 0: mq at least half the raw WebSocket floor | ${fmt(m(b64, 0, "mq"))} / ${fmt(m(b64, 0, "raw-ws"))} msg/s = **${r0.toFixed(2)}** | ${r0 >= 0.5 ? "yes" : "no"} |`);
  for (const q of [1, 2]) {
    const r = m(b64, q, "mq-idb") / m(b64, q, "mq");
    p(`| QoS ${q}: IndexedDB session at least half the memory session's throughput (same window) | ${fmt(m(b64, q, "mq-idb"))} / ${fmt(m(b64, q, "mq"))} msg/s = **${r.toFixed(2)}** | ${r >= 0.5 ? "yes" : "no"} |`);
  }
  p(`| (for reference) QoS 0: mq / MQTT.js | ${fmt(m(b64, 0, "mq"))} / ${fmt(m(b64, 0, "MQTT.js"))} msg/s = ${ratio(m(b64, 0, "mq"), m(b64, 0, "MQTT.js"))} | |`);
} else p(NOT);
p();

// ---- browser throughput ----
function browserTable(b, title) {
  p(`### ${title}`);
  p();
  if (!b) return p(NOT), p();
  p(`${fmt(b.messages)} messages of ${fmt(b.size)} B per run, medians of ${b.rounds} rounds, messages/s` +
    ` (${b.connections == 2 ? "a publisher and a subscriber connection in one page" : "one connection publishing to a topic it subscribes to"}, through rumqttd's WebSockets listener)${b.failed ? "; **some runs lost messages: see the log**" : ""}.`);
  p();
  const libs = b.libs;
  const tabs = libs.includes("mq-tabs");
  p(`| QoS | ${libs.join(" | ")} | mq / MQTT.js | mq / Paho | mq / raw-ws | mq-idb / mq |${tabs ? " mq-tabs / mq-idb |" : ""}`);
  p(`|---|${libs.map(() => "---:").join("|")}|---:|---:|---:|---:|${tabs ? "---:|" : ""}`);
  for (const q of b.qos) {
    const mm = b.medians[q];
    p(`| ${q} | ${libs.map((l) => fmt(mm[l])).join(" | ")} | ${ratio(mm.mq, mm["MQTT.js"])} | ${ratio(mm.mq, mm.Paho)} | ${(mm.mq / mm["raw-ws"]).toFixed(2)} | ${(mm["mq-idb"] / mm.mq).toFixed(2)} |` +
      (tabs ? ` ${(mm["mq-tabs"] / mm["mq-idb"]).toFixed(2)} |` : ""));
  }
  if (b.size >= 1024) {
    p();
    p(`In payload bytes per second (MiB/s): ${libs.map((l) => `${l} ${b.qos.map((q) => ((b.medians[q][l] * b.size) / 2 ** 20).toFixed(1)).join(" / ")}`).join("; ")} (QoS ${b.qos.join(" / ")}).`);
  }
  p();
}
p("## Browser throughput");
p();
browserTable(b64, "64 B payloads");
browserTable(b16, "16 KiB payloads");

// ---- memory ----
p("## Browser memory");
p();
if (mem) {
  const kib = (x) => (x == null ? "-" : `${fmt(x / 1024)} KiB`);
  p(`Medians of ${mem.rounds} rounds, each library in a fresh browser context; "queued": ${fmt(mem.messages)} QoS 1 messages of 64 B published while offline.`);
  p();
  p("| library | JS heap: loaded | connected | queued | per queued message | wasm memory: loaded | connected | queued |");
  p("|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const [name, r] of Object.entries(mem.medians)) {
    const perMsg = (q, c) => (q != null && c != null ? `${fmt((q - c) / mem.messages)} B` : "-");
    const total = r.queued_heap != null ? r.queued_heap + (r.queued_wasm ?? 0) : null;
    const totalC = r.connected_heap != null ? r.connected_heap + (r.connected_wasm ?? 0) : null;
    p(`| ${name} | ${kib(r.loaded_heap)} | ${kib(r.connected_heap)} | ${kib(r.queued_heap)} | ${perMsg(total, totalC)} | ${kib(r.loaded_wasm)} | ${kib(r.connected_wasm)} | ${kib(r.queued_wasm)} |`);
  }
  p();
  p("\"Per queued message\" is (JS heap + wasm memory with the queue) minus (the same connected), over the messages. A wasm memory never shrinks: it is what the instance grew to.");
} else p(NOT);
p();

// ---- codec in Node ----
p("## Codec in Node: mq (wasm) beside mqtt-packet");
p();
const cj = json("codec-js.json");
if (cj) {
  p(`Node ${cj.node}, mqtt-packet ${cj.mqttPacket}, medians of ${cj.rounds} rounds, packets/s (above 1: mq is faster).`);
  p();
  p("| input | operation | mq | mqtt-packet | mq / mqtt-packet |");
  p("|---|---|---:|---:|---:|");
  for (const r of cj.rows) p(`| ${fmt(r.count)} x ${r.case} (${fmt(r.bytes)} B) | ${r.op} | ${fmt(r.mq)} | ${fmt(r.mqttPacket)} | ${r.ratio.toFixed(2)}x |`);
} else p(NOT);
p();

// ---- sizes ----
p("## Bundle sizes");
p();
const size = (files) => files.reduce((a, f) => {
  const b = readFileSync(f);
  return [a[0] + b.length, a[1] + gzipSync(b, { level: 9 }).length];
}, [0, 0]);
const pkgDir = path.join(root, "pkg");
if (existsSync(pkgDir)) {
  const shipped = readdirSync(pkgDir).filter((f) => /\.(js|wasm)$/.test(f)).sort();
  const rows = [
    [`mq (\`pkg/\`: ${shipped.join(" + ")})`, size(shipped.map((f) => path.join(pkgDir, f)))],
    [`MQTT.js ${npmVersion("bench/browser", "mqtt")} (\`dist/mqtt.min.js\`)`, size([path.join(root, "bench/browser/node_modules/mqtt/dist/mqtt.min.js")])],
    [`Paho ${npmVersion("bench/browser", "paho-mqtt")} (\`paho-mqtt-min.js\`)`, size([path.join(root, "bench/browser/node_modules/paho-mqtt/paho-mqtt-min.js")])],
  ];
  p("What a page loads, measured when this file was written (gzip -9).");
  p();
  p("| library | raw | gzip |");
  p("|---|---:|---:|");
  for (const [n, [raw, gz]] of rows) p(`| ${n} | ${fmt(raw)} B | ${fmt(gz)} B |`);
} else p(NOT);
p();

// ---- window study ----
p("## In-flight window: what the brokers accept from one 3.1.1 client");
p();
if (win) {
  p(`${fmt(win.messages)} messages of 64 B per run, one round, a raw mqtt-packet publisher keeping exactly _window_ messages unacknowledged` +
    " and a subscriber at the same QoS (bench/window/window.mjs). A cell: msg/s when every message was acknowledged and delivered;" +
    " **lost** (delivered/sent) when every one was acknowledged but some never reached the subscriber; **stall** when acknowledgements stopped;" +
    " **disconnect** when the broker closed the connection.");
  p();
  for (const [name, b] of Object.entries(win.brokers)) p(`- ${name}: ${b.version}; configuration: ${b.describe ?? "?"}`);
  p();
  const brokers = Object.keys(win.brokers);
  const cols = brokers.flatMap((b) => [1, 2].map((q) => [b, q]));
  p(`| window | ${cols.map(([b, q]) => `${b} QoS ${q}`).join(" | ")} |`);
  p(`|---:|${cols.map(() => "---:").join("|")}|`);
  for (const w of win.windows) {
    p(`| ${w} | ${cols.map(([b, q]) => {
      const r = win.results.find((x) => x.broker === b && x.qos === q && x.window === w);
      if (!r) return "-";
      if (r.outcome === "ok") return fmt(r.rate);
      if (r.outcome === "lost") return `**lost** (${fmt(r.delivered)}/${fmt(win.messages)})`;
      return `**${r.outcome}** (${fmt(r.acked)} acked)`;
    }).join(" | ")} |`);
  }
  p();
  const best = (b, q) => {
    let ok = 0;
    for (const w of win.windows) {
      const r = win.results.find((x) => x.broker === b && x.qos === q && x.window === w);
      if (r?.outcome !== "ok") break;
      ok = w;
    }
    return ok;
  };
  const safe1 = Math.min(...brokers.map((b) => best(b, 1)));
  const safe2 = Math.min(...brokers.map((b) => best(b, 2)));
  p(`Largest window every broker took in this run without loss, stall or disconnect (counting up from the smallest): QoS 1 **${safe1}**, QoS 2 **${safe2}**.` +
    " mq's defaults: `max_inflight` (`maxInflight`) 100 for everything awaiting an acknowledgement, and `max_inflight_qos2` (`maxInflightQos2`) 19 for QoS 2 messages awaiting PUBREC," +
    " past which the next QoS 2 message waits (README, \"In-flight window\", says why).");
} else p(NOT);
p();

// ---- native ----
p("## Native: mq beside rumqttc");
p();
const e2eRows = (t) => [...(t || "").matchAll(/^(\d)\s+(\d+)\s+(\d+)\s+([\d.]+)\s*$/gm)].map((x) => x.slice(1).map(Number));
for (const broker of ["mosquitto", "rumqttd"]) {
  const t = read(`e2e-${broker}.log`);
  p(`### End to end through ${broker}`);
  p();
  const rows = e2eRows(t);
  if (!rows.length) {
    p(t ? "No complete table in the log: " + "`" + (t.split("\n").find((l) => /round|no complete/.test(l)) || "?").trim() + "`" : NOT);
    p();
    continue;
  }
  const head = (t.match(/^end-to-end throughput, (.*)$/m) || [])[1] || "";
  p(`bench/e2e: ${head.replace(/ on 127.*$/, "")}; publisher and subscriber of the same library, 100 in flight for both (the broker configured for it), medians, messages/s.`);
  p();
  p("| QoS | mq | rumqttc | mq / rumqttc |");
  p("|---|---:|---:|---:|");
  for (const [q, a, b, r] of rows) p(`| ${q} | ${fmt(a)} | ${fmt(b)} | ${r.toFixed(2)}x |`);
  const q1 = rows.find((x) => x[0] === 1), q2 = rows.find((x) => x[0] === 2);
  if (q1 && q2 && q2[2] * 5 < q1[2]) {
    p();
    p(`rumqttc's QoS 2 ran at less than a fifth of its own QoS 1 here (${fmt(q2[2])} against ${fmt(q1[2])} msg/s); not investigated, so the QoS 2 ratio says nothing about mq yet.`);
  }
  const errors = (t.match(/^ {2}QoS \d round .*$/gm) || []);
  if (errors.length) p(), p(`Failed rounds (not counted): ${errors.map((e) => "`" + e.trim() + "`").join("; ")}.`);
  p();
}
p("### Codec beside rumqttc's (criterion)");
p();
const crit = path.join(dir, "criterion");
if (existsSync(crit)) {
  const est = (...parts) => {
    const f = path.join(crit, ...parts, "new", "estimates.json");
    return existsSync(f) ? JSON.parse(readFileSync(f, "utf8")).mean.point_estimate : null;
  };
  p("Mean time per operation (ns), criterion with short measurement times (bench/README.md describes the inputs and the fairness rules); above 1: mq is faster.");
  p();
  p("| benchmark | mq (ns) | rumqttc (ns) | rumqttc / mq |");
  p("|---|---:|---:|---:|");
  const row = (name, a, b) => p(`| ${name} | ${fmt(a)} | ${fmt(b)} | ${a && b ? (b / a).toFixed(2) + "x" : "-"} |`);
  for (const g of ["publish_qos1_64B", "publish_qos1_1KiB", "publish_qos1_64KiB", "subscribe_10_filters"]) {
    for (const op of ["decode", "encode"]) row(`${g} ${op}`, est(g, op, "mq"), est(g, op, "rumqttc"));
  }
  row("mixed_stream_10k (Decoder)", est("mixed_stream_10k", "mq_decoder"), est("mixed_stream_10k", "rumqttc"));
  row("mixed_stream_10k (decode on Bytes)", est("mixed_stream_10k", "mq_decode_bytes"), est("mixed_stream_10k", "rumqttc"));
  row("mixed_stream_10k_with_fill (Decoder)", est("mixed_stream_10k_with_fill", "mq_decoder"), est("mixed_stream_10k_with_fill", "rumqttc"));
} else p(NOT);
p();

// ---- method ----
p("## Method");
p();
p("- **Browser throughput** (`bench/browser/bench.mjs`): headless Chromium, one page, one connection of each library publishing to a topic it subscribes to (the method of the speed issue; `MQ_BENCH_CONNECTIONS=2` runs a publisher and a subscriber connection instead, the method of the runs before 5379364)," +
  " through one rumqttd WebSockets listener on 127.0.0.1 (its `max_inflight_count` 500). The app keeps 100 publishes outstanding;" +
  " each library runs at its defaults (mq: `maxInflight` 100, `maxInflightQos2` 19, the rest waits in mq's queue; MQTT.js and Paho have no limit of their own)." +
  " A run ends when the subscriber has every message and every publish completed (QoS 0: handed to the socket; 1: PUBACK; 2: PUBCOMP)." +
  " One warm-up run per library and QoS, then rounds with the order rotated each round. mq-idb: the session in IndexedDB (`clean: false`), cleared after each run." +
  " mq-tabs: mq-idb's client in a follower tab (`share: \"tabs\"`), a second page of the context leading the session: every publish, acknowledgement and message crosses the BroadcastChannel between the tabs." +
  " raw-ws: no library, every PUBLISH encoded before the clock starts and sent as slices of one buffer, as many per frame as the window allows (at QoS 0 the window counts messages not yet received), acknowledgements answered (`bench/browser/raw.js`): the least work any client could do on this broker.");
p("- **Memory** (`bench/browser/memory.mjs`): `performance.memory.usedJSHeapSize` (`--enable-precise-memory-info`) after three forced GCs (`--expose-gc`)," +
  " and mq's `WebAssembly.Memory` byteLength; a stand-in broker in the bench process drops the connection and refuses new ones before the 10,000 publishes." +
  " Paho queues offline only with `disconnectedPublishing` (set, with `disconnectedBufferSize` 10,010).");
p("- **Codec in Node** (`bench/codec-wasm/`): mq's codec alone, compiled to wasm (opt-level 3, LTO, wasm-opt -O3), `decode(bytes)` (the stream `Decoder`, packets built and dropped, the count returned) and" +
  " `encode_publishes` (all packets into one buffer, copied to JS); mqtt-packet's `parser().parse` (a JS object per packet) and `generate` per packet, on identical bytes (checked).");
p("- **Window study** (`bench/window/window.mjs`): see its section. **Native** (`bench/e2e/`, `bench/benches/codec.rs`): see bench/README.md and the README.");
p("- Medians are of the rounds; ratios are between medians of the same run. Nothing here is asserted by a test.");
process.stdout.write(out.join("\n") + "\n");
