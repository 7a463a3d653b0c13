// The app of the reload test (reload.mjs). It records what it receives in localStorage, which
// survives the reload, and reloads itself in the middle of the stream.
//
//   ?mode=in   subscribe to <prefix>/in/q1 (QoS 1) and <prefix>/in/q2 (QoS 2); reload after
//              `reloadAt` messages
//   ?mode=out  publish `n` messages to <prefix>/out/q1 and n to <prefix>/out/q2 (maxInflight 1),
//              wait until they are stored, reload after `reloadAt` of them completed
// After the reload the same client id connects with clean = false and resumes from IndexedDB.
import init, { MqttClient } from "/pkg/mq.js";

const params = new URLSearchParams(location.search);
const mode = params.get("mode");
const broker = params.get("broker");
const prefix = params.get("prefix");
const n = Number(params.get("n"));
const reloadAt = Number(params.get("reloadAt"));
// ?share=1: the same with share: "tabs" (one tab: it leads, and after the reload leads again).
const share = params.get("share") === "1";
const ns = share ? `${mode}-shared` : mode;
const key = (k) => `${ns}:${k}`;

window.mqLog = [];
const log = (...a) => window.mqLog.push(a.join(" "));

async function main() {
  await init();
  const loads = Number(localStorage.getItem(key("loads")) || "0") + 1;
  localStorage.setItem(key("loads"), String(loads));
  const client = await MqttClient.connect(broker, {
    clientId: `${prefix}-${ns}`,
    clean: false,
    ...(share ? { share: "tabs" } : {}),
    maxInflight: 1,
    reconnect: { minDelay: 100, maxDelay: 1000 },
  });
  window.mqClient = client;
  window.mqRestored = client.restored.length;
  log("connected, load", loads, "restored", client.restored.length);
  client.on("error", (e) => log("error", e.code, e.message));

  if (mode === "in") {
    const got = JSON.parse(localStorage.getItem(key("got")) || "[]");
    client.on("message", (topic, payload, packet) => {
      got.push([topic, new TextDecoder().decode(payload), packet.qos, packet.dup]);
      localStorage.setItem(key("got"), JSON.stringify(got));
      if (loads === 1 && got.length === reloadAt) location.reload();
    });
    if (loads === 1) {
      await client.subscribe(`${prefix}/in/q1`, { qos: 1 });
      await client.subscribe(`${prefix}/in/q2`, { qos: 2 });
    }
  } else if (mode === "out") {
    if (loads === 1) {
      let completed = 0;
      const done = () => {
        completed += 1;
        if (completed === reloadAt) location.reload();
      };
      for (let i = 0; i < n; i++) {
        for (const qos of [1, 2]) client.publish(`${prefix}/out/q${qos}`, String(i), { qos }).then(done, () => {});
      }
      await client.persisted();
      log("all", 2 * n, "messages stored");
    }
  }
  window.mqLoads = loads;
  window.mqReady = true;
}

main().catch((e) => {
  log("failed", e && e.code, e && e.message);
  window.mqFailed = String(e && e.code) + " " + String(e && e.message);
});
