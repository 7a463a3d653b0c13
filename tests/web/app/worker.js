// The same round trip inside a module Web Worker (no window, no document).
import init from "mq-wasm";
import { roundTrip } from "./roundtrip.js";

self.onmessage = async (e) => {
  try {
    await init();
    self.postMessage(await roundTrip(e.data.broker, "worker"));
  } catch (err) {
    self.postMessage({ error: `${err && err.code ? err.code + ": " : ""}${err && err.message ? err.message : err}` });
  }
};
