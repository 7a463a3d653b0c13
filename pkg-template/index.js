// The package's entry: wasm-bindgen's module (mq.js, the Rust driver's bindings), with `init()`
// made optional as the package has always had it. Rust cannot run before its module is loaded,
// so this is the one thing said here: `init()` loads the module once (later calls, with or
// without an argument, share that load; a failed load can be retried), a failure is an Error
// with a `code` like every other, and the three static methods load the module first when the
// app did not. Everything else is mq.js's own.
import load, { initSync as loadSync, MqttClient } from "./mq.js";

export * from "./mq.js";

/** A load failure as the package's errors are: INVALID_ARGUMENT for what is not the module,
 *  CONNECTION_FAILED for what could not be fetched; the original as `cause`. */
function loadError(e) {
  const notModule = e instanceof WebAssembly.CompileError || e instanceof WebAssembly.LinkError ||
    (e instanceof TypeError && !/fetch|network|load/i.test(String(e.message)));
  const err = new Error(`mq: cannot load the wasm module: ${e && e.message ? e.message : e}`, { cause: e });
  err.code = notModule ? "INVALID_ARGUMENT" : "CONNECTION_FAILED";
  return err;
}

let loading;
/** Loads the wasm module (once; later calls return the same promise). */
export default function init(input) {
  const wrapped = input === undefined || (typeof input == "object" && input !== null && "module_or_path" in input);
  return (loading ??= load(wrapped ? input : { module_or_path: input }).then(
    () => {},
    (e) => {
      loading = undefined;
      throw loadError(e);
    },
  ));
}

/** Instantiates the wasm module from bytes or a compiled module, synchronously. */
export function initSync(module) {
  try {
    const wrapped = typeof module == "object" && module !== null && "module" in module;
    loadSync(wrapped ? module : { module });
  } catch (e) {
    throw loadError(e);
  }
  loading ??= Promise.resolve();
}

for (const name of ["connect", "clearSession", "storedSession"]) {
  const call = MqttClient[name];
  MqttClient[name] = (...args) => init().then(() => call.apply(MqttClient, args));
}
