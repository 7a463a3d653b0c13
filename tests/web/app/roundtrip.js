// One publish/subscribe round trip through the broker, the same on the main thread and in a worker.
import { MqttClient } from "mq-wasm";

export async function roundTrip(broker, where) {
  const id = `${where}-${Math.random().toString(16).slice(2, 10)}`;
  const topic = `vite-app/${id}`;
  const client = await MqttClient.connect(broker, { clientId: `vite-${id}`, keepalive: 30 });
  try {
    const received = new Promise((resolve) => {
      client.on("message", (t, payload, info) => resolve({ topic: t, text: new TextDecoder().decode(payload), qos: info.qos }));
    });
    const granted = await client.subscribe(topic, { qos: 1 });
    await client.publish(topic, `hello from the ${where}`, { qos: 1 });
    const m = await received;
    return { where, granted: granted[0].qos, sameTopic: m.topic === topic, text: m.text, qos: m.qos };
  } finally {
    await client.end();
  }
}
