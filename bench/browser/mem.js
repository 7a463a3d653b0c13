// The memory benchmark's page (memory.mjs): one library per fresh page. Each function loads its
// library, reads the memory (`measure`), connects, reads it again, then waits until the bench's
// broker has dropped the connection and refuses new ones (`window.dropBroker`, exposed by
// memory.mjs), publishes `n` QoS 1 messages of 64 B while offline (they queue), and reads it a
// third time. Every reading follows a full garbage collection (Chromium's --expose-gc).

const payload = new Uint8Array(64).fill(120);

async function measure(wasmMemory) {
  for (let i = 0; i < 3; i++) {
    window.gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  return { heap: performance.memory.usedJSHeapSize, wasm: wasmMemory ? wasmMemory.buffer.byteLength : null };
}

window.memMq = async (url, n) => {
  const glue = await import("/pkg/mq.js");
  // wasm-bindgen's own init returns the instance's exports, memory included; the package's
  // entry below shares that instance.
  const exports = await glue.default();
  const { MqttClient } = await import("/pkg/index.js");
  const loaded = await measure(exports.memory);
  const client = await MqttClient.connect(url, { clientId: "mem-mq", reconnect: { minDelay: 60000, maxDelay: 60000 } });
  const connected = await measure(exports.memory);
  const offline = new Promise((r) => client.on("offline", r));
  await window.dropBroker();
  await offline;
  for (let i = 0; i < n; i++) client.publish("bench/mem", payload, { qos: 1 }).catch(() => {});
  const queued = await measure(exports.memory);
  const count = client.queued ?? null;
  client.destroy();
  return { loaded, connected, queued, count };
};

window.memMqttJs = async (url, n) => {
  const { default: mqtt } = await import("/mqtt.esm.js");
  const loaded = await measure();
  const client = mqtt.connect(url, { clientId: "mem-mqttjs", protocolVersion: 4, reconnectPeriod: 60000 });
  await new Promise((r) => client.once("connect", r));
  const connected = await measure();
  const offline = new Promise((r) => client.once("offline", r));
  await window.dropBroker();
  await offline;
  for (let i = 0; i < n; i++) client.publish("bench/mem", payload, { qos: 1 }, () => {});
  const queued = await measure();
  client.end(true);
  return { loaded, connected, queued, count: null };
};

window.memPaho = async (url, n) => {
  await new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = "/paho.js";
    s.onload = resolve;
    s.onerror = reject;
    document.head.append(s);
  });
  const loaded = await measure();
  const client = new window.Paho.Client(url.endsWith("/") ? url : url + "/", "mem-paho");
  // Paho queues while disconnected only with these two set (and reconnect on).
  client.disconnectedPublishing = true;
  client.disconnectedBufferSize = n + 10;
  let lost;
  const offline = new Promise((r) => (lost = r));
  client.onConnectionLost = () => lost();
  await new Promise((resolve, reject) =>
    client.connect({ mqttVersion: 4, cleanSession: true, reconnect: true, onSuccess: resolve, onFailure: (e) => reject(new Error(e.errorMessage)) }));
  const connected = await measure();
  await window.dropBroker();
  await offline;
  // Paho sets its reconnecting flag when the loss is reported; publishing needs it.
  await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < n; i++) client.send("bench/mem", payload.buffer.slice(0), 1, false);
  const queued = await measure();
  return { loaded, connected, queued, count: null };
};

window.memBaseline = async () => ({ loaded: await measure() });
window.memReady = true;
