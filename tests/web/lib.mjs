// Shared by the tests in this folder: Chromium, checks counted in cargo's words, a static server.
import { chromium } from "playwright-core";
import http from "node:http";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Headless Chromium; `options` adds Playwright launch options (e.g. handleSIGINT) to these. */
export function launch(options = {}) {
  return chromium.launch({
    ...options,
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
}

let passes = 0;
let failures = 0;
export function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (ok) passes += 1;
  else failures += 1;
  return ok;
}

/** Polls `f` until it returns something truthy; bounded, and a timeout is a failed check. */
export async function waitUntil(what, f, seconds = 30) {
  let last;
  for (let i = 0; i < seconds * 10; i++) {
    try {
      last = await f();
      if (last) return check(true, what);
    } catch (e) {
      last = e;
    }
    await sleep(100);
  }
  return check(false, `${what} (gave up after ${seconds}s; last: ${last})`);
}

/** The summary line scripts/test.sh counts; exits with the result. */
export function finish() {
  console.log(`test result: ${failures === 0 ? "ok" : "FAILED"}. ${passes} passed; ${failures} failed;`);
  process.exit(failures === 0 ? 0 : 1);
}

export function fail(e) {
  check(false, `${e && e.stack ? e.stack : e}`);
}

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".wasm": "application/wasm", ".json": "application/json" };

/** Serves `root` on 127.0.0.1 (a free port); resolves with { origin, close }. `extra` adds
 *  files that are not in `root`: { "/path": { type, body } }, served before `root`'s. */
export async function serveDir(root, extra = {}) {
  root = path.resolve(root);
  const server = http.createServer(async (req, res) => {
    const rel = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (Object.hasOwn(extra, rel)) {
      res.writeHead(200, { "Content-Type": extra[rel].type, "Cache-Control": "no-store" });
      res.end(extra[rel].body);
      return;
    }
    const file = path.resolve(root, "." + path.posix.normalize("/" + (rel === "/" ? "/index.html" : rel)));
    try {
      if (!file.startsWith(root + path.sep) || !(await stat(file)).isFile()) throw new Error();
      res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] || "application/octet-stream" });
      res.end(await readFile(file));
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    close: () => { server.closeAllConnections(); server.close(); },
  };
}
