// Loopback ports for the benchmarks' brokers: bench/browser/bench.mjs and bench/window/window.mjs.
import net from "node:net";

/** A port nobody listens on right now, on 127.0.0.1. */
export const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });

/** Resolves once something accepts connections on 127.0.0.1:`port`; throws after 10 s. */
export async function waitForPort(port) {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, "127.0.0.1", () => {
        c.end();
        resolve(true);
      });
      c.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}
