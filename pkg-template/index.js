// The package's entry: wasm-bindgen's module (mq.js, the Rust driver's bindings), with `init()`
// made optional as the package has always had it. Rust cannot run before its module is loaded,
// so this is the one thing said here: `init()` loads the module once (later calls, with or
// without an argument, share that load), and the three static methods load it first when the
// app did not. Everything else is mq.js's own.
import load, { initSync, MqttClient } from "./mq.js";

export * from "./mq.js";

let loading;
/** Loads the wasm module (once; later calls return the same promise). */
export default function init(input) {
  const wrapped = input === undefined || (typeof input == "object" && input !== null && "module_or_path" in input);
  return (loading ??= load(wrapped ? input : { module_or_path: input }).then(() => {}));
}

for (const name of ["connect", "clearSession", "storedSession"]) {
  const call = MqttClient[name];
  MqttClient[name] = (...args) => init().then(() => call.apply(MqttClient, args));
}

export { initSync };
