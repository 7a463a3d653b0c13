// mq-wasm: an MQTT 3.1.1 client for browsers and Web Workers (MQTT over WebSockets).
// The class and its types are wasm-bindgen's declarations (mq.d.ts); `init()` is optional.
export * from "./mq.js";
/** Where the wasm module comes from: a URL (fetched), a Response, its bytes, or a compiled module.
 *  Default: `mq_bg.wasm` next to mq.js (`new URL("mq_bg.wasm", import.meta.url)`). */
export type MqttInitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;
/** Instantiates the wasm module from bytes or a compiled module, synchronously. */
export function initSync(module: { module: BufferSource | WebAssembly.Module } | BufferSource | WebAssembly.Module): void;
/** Loads the wasm module (once; later calls return the same promise). Optional:
 *  `MqttClient.connect`, `clearSession` and `storedSession` load it when needed. A failed load
 *  rejects with an Error whose `code` is CONNECTION_FAILED (fetching) or INVALID_ARGUMENT (not
 *  the module), and can be retried. */
export default function init(module_or_path?: { module_or_path: MqttInitInput | Promise<MqttInitInput> } | MqttInitInput | Promise<MqttInitInput>): Promise<void>;
