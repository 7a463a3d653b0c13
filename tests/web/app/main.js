// A tiny app that imports the package by name, as an app installed from npm would.
import init from "mq-wasm";
import { roundTrip } from "./roundtrip.js";

const broker = new URLSearchParams(location.search).get("broker");
const report = (e) => ({ error: `${e && e.code ? e.code + ": " : ""}${e && e.message ? e.message : e}` });

async function main() {
  await init();
  window.mainResult = await roundTrip(broker, "main thread").catch(report);
  const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  window.workerResult = await new Promise((resolve) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.onerror = (e) => resolve({ error: `worker error: ${e.message}` });
    worker.postMessage({ broker });
  });
  worker.terminate();
  document.getElementById("status").textContent = "done";
}
main().catch((e) => {
  window.mainResult = report(e);
});
