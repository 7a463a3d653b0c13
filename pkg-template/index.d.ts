// mq-wasm: an MQTT 3.1.1 client for browsers and Web Workers (MQTT over WebSockets).
// The class and its types are wasm-bindgen's declarations (mq.d.ts); `init()` is optional.
export * from "./mq.js";
export { initSync } from "./mq.js";
/** Loads the wasm module (once; later calls return the same promise). Optional:
 *  `MqttClient.connect`, `clearSession` and `storedSession` load it when needed. Default:
 *  `mq_bg.wasm` next to mq.js. */
export default function init(module_or_path?: { module_or_path: RequestInfo | URL | Response | BufferSource | WebAssembly.Module } | RequestInfo | URL | Response | BufferSource | WebAssembly.Module): Promise<void>;
