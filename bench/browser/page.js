// The benchmark's page: one function per client library, each running the same stream through
// the broker's WebSockets listener: by one connection of that library that publishes to a topic
// it subscribes to (`window.benchOne`, set by bench.mjs, the default), or by two in this page (a
// publisher and a subscriber). Each resolves with { ms, received } once the subscriber got
// every message (or after `limitMs`, with what arrived).
//
// Every library gets the same window: at most `window` messages published and not yet
// complete (QoS 0: handed to the socket; QoS 1: PUBACK; QoS 2: PUBCOMP) at a time.
//
// mq's packages (the one under test at /pkg/, the JS driver's at /js-driver/) are imported
// through their package.json entry, as an app would: `import init, { MqttClient } from ...`.
import mqtt from "/mqtt.esm.js";
import { benchRaw } from "/raw.js";
// paho-mqtt.js is a UMD script: loaded by page.html as a classic script, it sets window.Paho.

// The payload of every message of a run: `size` bytes (64 unless the run says otherwise).
const payloads = new Map();
const payloadOf = (size = 64) => {
  if (!payloads.has(size)) payloads.set(size, new Uint8Array(size).fill(120));
  return payloads.get(size);
};

function finished(n, limitMs) {
  let received = 0;
  let done;
  const all = new Promise((resolve) => (done = resolve));
  const timer = setTimeout(() => done(), limitMs);
  return {
    got() {
      received += 1;
      if (received === n) {
        clearTimeout(timer);
        done();
      }
    },
    get received() {
      return received;
    },
    all,
  };
}

// Publishes n messages with at most `window` incomplete; `publish(i)` returns a promise.
async function pump(n, window, publish) {
  let next = 0;
  await new Promise((resolve, reject) => {
    let inFlight = 0;
    let completed = 0;
    const more = () => {
      while (inFlight < window && next < n) {
        inFlight += 1;
        next += 1;
        publish(next - 1).then(() => {
          inFlight -= 1;
          completed += 1;
          if (completed === n) resolve();
          else more();
        }, reject);
      }
    };
    more();
  });
}

// `MqttClient`: the class of one of mq's packages.
// `inflight`: mq's maxInflight and maxInflightQos2, or null for their defaults.
async function runMq(MqttClient, url, tag, n, qos, window_, limitMs, size, inflight, session = "memory", share) {
  const payload = payloadOf(size);
  const opts = { clean: session == "memory", session, reconnect: false, maxQueued: n + 10, ...(share ? { share } : {}) };
  if (inflight) {
    opts.maxInflight = inflight;
    opts.maxInflightQos2 = inflight;
  }
  const sub = await MqttClient.connect(url, { ...opts, clientId: `${tag}-s` });
  const pub = window.benchOne ? sub : await MqttClient.connect(url, { ...opts, clientId: `${tag}-p` });
  if (share && (sub.role != "follower" || pub.role != "follower")) throw new Error(`roles ${sub.role} ${pub.role}: the leader page did not lead`);
  const topic = `bench/${tag}`;
  const f = finished(n, limitMs);
  sub.on("message", () => f.got());
  await sub.subscribe(topic, { qos });
  const t0 = performance.now();
  await pump(n, window_, () => pub.publish(topic, payload, { qos }));
  await f.all;
  const ms = performance.now() - t0;
  await Promise.all(window.benchOne ? [sub.end()] : [pub.end(), sub.end()]);
  // A shared session is cleared once the leader tab ended its clients too (benchClear).
  if (session != "memory" && !share) {
    await Promise.all([MqttClient.clearSession(url, `${tag}-s`), MqttClient.clearSession(url, `${tag}-p`)]);
  }
  return { ms, received: f.received };
}

// The package's module, loaded once per entry URL; init() before the first connect.
const loaded = new Map();
const loadMq = (entry) => {
  if (!loaded.has(entry)) loaded.set(entry, import(entry).then(async (m) => (await m.default(), m.MqttClient)));
  return loaded.get(entry);
};
window.benchMq = async (entry, ...args) => runMq(await loadMq(entry), ...args);
// The same with both sessions in IndexedDB (clean: false), cleared after the run.
window.benchMqIdb = async (entry, url, tag, n, qos, w, limitMs, size, inflight) =>
  runMq(await loadMq(entry), url, tag, n, qos, w, limitMs, size, inflight, "indexeddb");

// The same, both clients in a follower tab (`share: "tabs"`): another page of the context, the
// leader, holds the two sessions' connections (benchLead, its tab subscribing to nothing), and
// every publish, subscription and message crosses the BroadcastChannel between the two tabs.
// bench.mjs has the leader connect before and end after the run, then clears both sessions.
window.benchMqTabs = async (entry, url, tag, n, qos, w, limitMs, size, inflight) =>
  runMq(await loadMq(entry), url, tag, n, qos, w, limitMs, size, inflight, "indexeddb", "tabs");
// In the leader's page: connects both sessions of `tag`, and ends them.
const leading = new Map();
window.benchLead = async (entry, url, tag, inflight) => {
  const MqttClient = await loadMq(entry);
  const opts = { share: "tabs", reconnect: false, ...(inflight ? { maxInflight: inflight, maxInflightQos2: inflight } : {}) };
  const clients = [];
  for (const id of window.benchOne ? [`${tag}-s`] : [`${tag}-s`, `${tag}-p`]) {
    clients.push(await MqttClient.connect(url, { ...opts, clientId: id }));
  }
  leading.set(tag, clients);
  if (clients.some((c) => c.role != "leader")) throw new Error(`leader page roles: ${clients.map((c) => c.role)}`);
};
window.benchEndLead = async (tag) => {
  await Promise.all((leading.get(tag) ?? []).map((c) => c.end()));
  leading.delete(tag);
};
window.benchClear = async (entry, url, tag) => {
  const MqttClient = await loadMq(entry);
  await Promise.all([MqttClient.clearSession(url, `${tag}-s`), MqttClient.clearSession(url, `${tag}-p`)]);
};

window.benchMqttJs = async (_, url, tag, n, qos, window_, limitMs, size) => {
  const one = window.benchOne;
  const payload = payloadOf(size);
  const connect = (clientId) =>
    new Promise((resolve, reject) => {
      const c = mqtt.connect(url, { clientId, clean: true, protocolVersion: 4, reconnectPeriod: 0 });
      c.once("connect", () => resolve(c));
      c.once("error", reject);
    });
  const sub = await connect(`${tag}-s`);
  const pub = one ? sub : await connect(`${tag}-p`);
  const topic = `bench/${tag}`;
  const f = finished(n, limitMs);
  sub.on("message", () => f.got());
  await new Promise((resolve, reject) => sub.subscribe(topic, { qos }, (e) => (e ? reject(e) : resolve())));
  const t0 = performance.now();
  await pump(n, window_, () => new Promise((resolve, reject) => pub.publish(topic, payload, { qos }, (e) => (e ? reject(e) : resolve()))));
  await f.all;
  const ms = performance.now() - t0;
  await Promise.all([...new Set([pub, sub])].map((c) => new Promise((r) => c.end(false, {}, r))));
  return { ms, received: f.received };
};

window.benchPaho = async (_, url, tag, n, qos, window_, limitMs, size) => {
  const one = window.benchOne;
  const payload = payloadOf(size);
  const connect = (clientId) =>
    new Promise((resolve, reject) => {
      const c = new window.Paho.Client(url.endsWith("/") ? url : url + "/", clientId);
      c.connect({ mqttVersion: 4, cleanSession: true, onSuccess: () => resolve(c), onFailure: (e) => reject(new Error(e.errorMessage)) });
    });
  const sub = await connect(`${tag}-s`);
  const pub = one ? sub : await connect(`${tag}-p`);
  const topic = `bench/${tag}`;
  const f = finished(n, limitMs);
  sub.onMessageArrived = () => f.got();
  await new Promise((resolve, reject) => sub.subscribe(topic, { qos, onSuccess: resolve, onFailure: reject }));
  // Paho reports completion per message through onMessageDelivered (QoS 0: once sent; QoS 1:
  // PUBACK; QoS 2: PUBCOMP).
  const waiting = [];
  pub.onMessageDelivered = () => {
    const w = waiting.shift();
    if (w) w();
  };
  const t0 = performance.now();
  await pump(n, window_, () => new Promise((resolve) => {
    waiting.push(resolve);
    pub.send(topic, payload.buffer.slice(0), qos, false);
  }));
  await f.all;
  const ms = performance.now() - t0;
  for (const c of new Set([pub, sub])) c.disconnect();
  return { ms, received: f.received };
};

// The floor: pre-encoded PUBLISH packets over a plain WebSocket (raw.js).
window.benchRaw = async (_, url, tag, n, qos, window_, limitMs, size) =>
  benchRaw(url, tag, n, qos, window_, limitMs, payloadOf(size), window.benchOne);

window.benchReady = true;
