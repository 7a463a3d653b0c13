// The package's TypeScript definitions (pkg/mq.d.ts) as a TypeScript user meets them: a file
// that uses the whole JS API the way the npm README shows, type-checked with `tsc --strict`
// against the built package; and lines that must not type-check (a wrong QoS, a misspelt
// option, a wrong event handler), each checked to fail.
//
//   MQ_PKG_DIR=pkg node tests/web/types.mjs
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, cpSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { check, finish } from "./lib.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const pkgDir = process.env.MQ_PKG_DIR && path.resolve(process.env.MQ_PKG_DIR);
if (!pkgDir) {
  console.error("MQ_PKG_DIR must be set");
  process.exit(2);
}
const tsc = path.join(here, "node_modules", ".bin", "tsc");
const dir = mkdtempSync(path.join(os.tmpdir(), "mq-types-"));
// The package as an app would install it: node_modules/mq-wasm.
cpSync(pkgDir, path.join(dir, "node_modules", "mq-wasm"), { recursive: true });
writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({
  compilerOptions: { strict: true, noEmit: true, target: "es2022", module: "esnext", moduleResolution: "bundler", lib: ["es2022", "dom", "esnext.disposable"], skipLibCheck: false },
}));

const good = `
import init, { MqttClient, type MqttError, type MqttGranted, type MqttMessage, type MqttSession } from "mq-wasm";
await init();
const client: MqttClient = await MqttClient.connect("ws://127.0.0.1:9001");
const other = await MqttClient.connect("ws://127.0.0.1:9001", {
  clientId: "a", clean: false, keepalive: 30, username: "u", password: new Uint8Array([1]),
  will: { topic: "w", payload: "bye", qos: 1, retain: true }, session: "indexeddb",
  reconnect: { minDelay: 100, maxDelay: 5000 }, connectTimeout: 5000, maxInflight: 10, maxQueued: 100,
  maxPacketSize: 1 << 20,
});
await client.publish("t", "text");
await client.publish("t", new Uint8Array([1, 2]), { qos: 1 });
await client.publish("t", new ArrayBuffer(2), { qos: 2, retain: true });
const granted: MqttGranted[] = await client.subscribe("a/+/c");
const many = await client.subscribe(["a", "b"], { qos: 2 });
const refused: boolean = many.some((g) => g.qos === 128);
await client.unsubscribe(["a", "b"]);
client.on("message", (topic: string, payload: Uint8Array, packet) => {
  const q: 0 | 1 | 2 = packet.qos;
  const flags: boolean = packet.retain || packet.dup;
});
client.on("connect", (info) => console.log(info.sessionPresent));
client.on("restored", (r) => console.log(r.id, r.qos));
client.on("close", () => {});
const onError = (e: MqttError) => console.log(e.code, e.returnCode);
client.on("error", onError);
client.off("error", onError);
for await (const m of client.messages()) {
  const x: MqttMessage = m;
  break;
}
const bounded = client.messages({ bufferSize: 100, overflow: "dropOldest" });
const unread: number = bounded.buffered + bounded.dropped;
client.messages({ overflow: "pause" });
const state: boolean = client.connected;
const id: string = client.clientId;
const waiting: number = client.bufferedAmount;
const pending = client.restored.map((r) => r.id);
await client.persisted();
const s: MqttSession = await MqttClient.storedSession("ws://127.0.0.1:9001", "a");
const live: MqttSession = client.session();
await MqttClient.clearSession("ws://127.0.0.1:9001", "a");
client.destroy();
await other.end();
export {};
`;
writeFileSync(path.join(dir, "good.ts"), good);
const run = (file) => {
  try {
    execFileSync(tsc, ["-p", dir, "--noEmit", ...(file ? [] : [])], { cwd: dir, stdio: "pipe" });
    return "";
  } catch (e) {
    return String(e.stdout || e.message);
  }
};
try {
  const out = run();
  check(out === "", `the README's uses of the API type-check with tsc --strict${out ? `:\n${out}` : ""}`);
  const bad = {
    "a QoS of 3": `await client.publish("t", "x", { qos: 3 });`,
    "a misspelt option": `await MqttClient.connect("ws://x", { keepAlive: 30 });`,
    "a number as payload": `await client.publish("t", 42);`,
    "an unknown event": `client.on("mesage", () => {});`,
    "a session kind that does not exist": `await MqttClient.connect("ws://x", { session: "local" });`,
    "a message handler with the wrong types": `client.on("message", (topic: number) => {});`,
    "an error handler taking a string": `client.on("error", (e: string) => {});`,
    "an overflow policy that does not exist": `client.messages({ overflow: "dropNewest" });`,
  };
  for (const [what, line] of Object.entries(bad)) {
    writeFileSync(path.join(dir, "bad.ts"), `import { MqttClient } from "mq-wasm";\ndeclare const client: MqttClient;\n${line}\nexport {};\n`);
    check(run() !== "", `tsc refuses ${what}`);
    rmSync(path.join(dir, "bad.ts"));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
finish();
