// A tiny static server for the dashboard: www/ at /, the built package at /pkg/, and
// /config.json naming the broker the connect form starts with. Loopback only; no framework.
//
//   node www/serve.mjs [--port 8080] [--pkg pkg] [--broker ws://127.0.0.1:9001]
//
// --port is tried first; if it is taken, a free port is used instead. Prints
// "serving http://127.0.0.1:PORT/" once listening. Stops on SIGINT / SIGTERM.

import http from "node:http";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const port = Number(arg("port", "8080"));
const pkgDir = path.resolve(arg("pkg", path.join(here, "..", "pkg")));
const broker = arg("broker", "");

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".ts": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".md": "text/plain; charset=utf-8",
};

// The file under `root` that `rel` names, or null if it would leave `root`.
function inside(root, rel) {
  const file = path.resolve(root, "." + path.posix.normalize("/" + rel));
  return file === root || file.startsWith(root + path.sep) ? file : null;
}

async function handle(req, res) {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { Allow: "GET, HEAD" }).end();
    return;
  }
  const { pathname } = new URL(req.url, "http://127.0.0.1");
  if (pathname === "/config.json") {
    res.writeHead(200, { "Content-Type": TYPES[".json"], "Cache-Control": "no-store" });
    res.end(JSON.stringify({ broker }));
    return;
  }
  let file;
  if (pathname.startsWith("/pkg/")) file = inside(pkgDir, decodeURIComponent(pathname.slice(4)));
  else if (pathname.startsWith("/node_modules/")) file = null;
  else file = inside(here, decodeURIComponent(pathname === "/" ? "/index.html" : pathname));
  if (file && path.basename(file) === "serve.mjs") file = null;
  try {
    if (!file || !(await stat(file)).isFile()) throw new Error("not found");
    const body = await readFile(file);
    res.writeHead(200, {
      "Content-Type": TYPES[path.extname(file)] || "application/octet-stream",
      "Content-Length": body.length,
      "Cache-Control": "no-cache",
    });
    res.end(req.method === "HEAD" ? undefined : body);
  } catch {
    res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
  }
}

const server = http.createServer((req, res) => {
  handle(req, res).catch(() => res.destroy());
});

function listen(p) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(p, "127.0.0.1", () => {
      server.off("error", reject);
      resolve(server.address().port);
    });
  });
}

let bound;
try {
  bound = await listen(port);
} catch (e) {
  if (e.code !== "EADDRINUSE" && e.code !== "EACCES") throw e;
  bound = await listen(0);
  console.log(`port ${port} is taken: using ${bound}`);
}
console.log(`serving http://127.0.0.1:${bound}/`);

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
