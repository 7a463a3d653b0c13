// Fakes of the browser APIs that js/mq.js uses, for tests/web/driver.mjs (Node, no browser, no
// broker). Each models only what the driver touches:
//
// - WebSocket: `new WebSocket(url, protocol)`, binaryType, readyState, bufferedAmount (always 0:
//   a frame is on the wire as soon as it is sent), send(), close() and the onopen / onmessage /
//   onclose handlers. The test plays the network and the broker: accept(), receive(bytes),
//   drop(code); `sent` holds a copy of every frame the client sent.
// - IndexedDB: indexedDB.open(name, version) (onupgradeneeded, onsuccess), a connection's
//   objectStoreNames.contains / createObjectStore / transaction / close / onversionchange, a
//   transaction's objectStore(name) with put, delete (a key or a range) and getAll(range), its
//   oncomplete / onerror / onabort, abort() and error, and IDBKeyRange.bound. Keys are ordered as
//   IndexedDB orders them (numbers < strings < arrays); values are structured clones. A readwrite
//   transaction applies its requests when it commits: once the task that made it is over, or,
//   after `hold()`, only when the test calls `commit()` (so a test can keep a write running).
//   A closed connection refuses new transactions, as a real one does; `closeCalls` counts close().
// - Web Locks: navigator.locks.request(name, { signal }, callback): exclusive, granted in request
//   order per name, in a microtask; held until the callback's promise settles; a request still
//   waiting when its signal aborts rejects with the signal's reason (an AbortError).
// - A manual clock (performance.now, setTimeout, clearTimeout): installed only by the test that
//   needs it, and only `advance()` runs its timers.
//
// Every event a fake delivers to the driver goes through `dispatch`: an exception thrown by the
// driver's handler is recorded in `uncaught` (a browser would report it) instead of reaching the
// test's code or being lost.

const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
const realPerformance = globalThis.performance;

/** Waits `ms` of real time, whatever clock is installed. */
export const sleep = (ms) => new Promise((r) => realSetTimeout(r, ms));
/** Runs `f` in a later task, whatever clock is installed. */
const task = (f) => realSetTimeout(f, 0);

/** Exceptions thrown by the driver's handlers of the events the fakes delivered. */
export const uncaught = [];
function dispatch(target, handler, event) {
  const f = target[handler];
  if (typeof f != "function") return;
  try {
    f.call(target, event);
  } catch (e) {
    uncaught.push(e);
  }
}

const domError = (name, message) => new DOMException(message, name);
/** A structured clone, the cheap way for the values the driver stores (Uint8Array) and for keys. */
const clone = (v) => (v instanceof Uint8Array ? v.slice() : Array.isArray(v) ? v.map(clone) : typeof v == "object" && v ? structuredClone(v) : v);

// ---- WebSocket ----

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

export class FakeWebSocket {
  static CONNECTING = CONNECTING;
  static OPEN = OPEN;
  static CLOSING = CLOSING;
  static CLOSED = CLOSED;

  constructor(url, protocol) {
    this.url = String(url);
    this.protocol = protocol;
    this.binaryType = "blob";
    this.readyState = CONNECTING;
    this.bufferedAmount = 0;
    this.onopen = this.onmessage = this.onclose = this.onerror = null;
    /** Copies of the frames sent, in order. */
    this.sent = [];
    this.closedByClient = false;
  }

  send(data) {
    if (this.readyState == CONNECTING) throw domError("InvalidStateError", "the WebSocket is still connecting");
    // A closing or closed socket drops what it is given.
    if (this.readyState != OPEN) return;
    const view = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
    this.sent.push(view.slice());
  }

  close() {
    if (this.readyState >= CLOSING) return;
    const wasOpen = this.readyState == OPEN;
    this.readyState = CLOSING;
    this.closedByClient = true;
    task(() => {
      this.readyState = CLOSED;
      dispatch(this, "onclose", { code: wasOpen ? 1005 : 1006, reason: "", wasClean: wasOpen });
    });
  }

  // ---- the network's side, driven by the test ----

  /** The server accepted the connection. */
  accept() {
    if (this.readyState != CONNECTING) throw new Error("accept(): the socket is not connecting");
    this.readyState = OPEN;
    dispatch(this, "onopen", {});
  }

  /** One binary frame from the broker. */
  receive(bytes) {
    if (this.readyState != OPEN) throw new Error("receive(): the socket is not open");
    const buf = Uint8Array.from(bytes).buffer;
    dispatch(this, "onmessage", { data: this.binaryType == "arraybuffer" ? buf : new Blob([buf]) });
  }

  /** The connection was lost (or refused, before `accept`). */
  drop(code = 1006) {
    if (this.readyState == CLOSED) return;
    this.readyState = CLOSED;
    dispatch(this, "onclose", { code, reason: "", wasClean: false });
  }

  /** Everything sent so far, as MQTT packets: { type, flags, body }. */
  packets() {
    return parsePackets(this.sent);
  }
}

/** Splits the concatenated frames into MQTT packets (fixed header, remaining length, body). */
export function parsePackets(frames) {
  const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) all.set(f, (at += f.length) - f.length);
  const out = [];
  let i = 0;
  while (i < all.length) {
    const type = all[i] >> 4;
    const flags = all[i] & 15;
    i++;
    let len = 0;
    let mul = 1;
    let d;
    do {
      d = all[i++];
      len += (d & 127) * mul;
      mul *= 128;
    } while (d & 128);
    out.push({ type, flags, body: all.subarray(i, i + len) });
    i += len;
  }
  return out;
}

// ---- IndexedDB ----

function keyType(k) {
  if (Array.isArray(k)) {
    for (const x of k) keyType(x);
    return 3;
  }
  if (typeof k == "string") return 2;
  if (typeof k == "number" && !Number.isNaN(k)) return 1;
  throw domError("DataError", "not a valid key: " + String(k));
}

/** IndexedDB's key order for the keys modelled here: numbers < strings < arrays. */
export function compareKeys(a, b) {
  const ta = keyType(a);
  const tb = keyType(b);
  if (ta != tb) return ta < tb ? -1 : 1;
  if (ta == 3) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = compareKeys(a[i], b[i]);
      if (c) return c;
    }
    return Math.sign(a.length - b.length);
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

export class FakeKeyRange {
  constructor(lower, upper, lowerOpen, upperOpen) {
    Object.assign(this, { lower, upper, lowerOpen, upperOpen });
  }
  static bound(lower, upper, lowerOpen = false, upperOpen = false) {
    if (compareKeys(lower, upper) > 0) throw domError("DataError", "lower is above upper");
    return new FakeKeyRange(lower, upper, lowerOpen, upperOpen);
  }
  includes(key) {
    const lo = compareKeys(key, this.lower);
    const hi = compareKeys(key, this.upper);
    return (this.lowerOpen ? lo > 0 : lo >= 0) && (this.upperOpen ? hi < 0 : hi <= 0);
  }
}

class FakeRequest {
  constructor() {
    this.readyState = "pending";
    this.result = undefined;
    this.onsuccess = this.onerror = this.onupgradeneeded = null;
    this._error = null;
  }
  get error() {
    if (this.readyState != "done") throw domError("InvalidStateError", "the request is not done");
    return this._error;
  }
}

/** A database: object stores, each a Map from a key's JSON to { key, value }. */
class Database {
  constructor() {
    this.version = 0;
    this.stores = new Map();
  }
}

class FakeConnection {
  #db;
  constructor(factory, db, name) {
    this.factory = factory;
    this.#db = db;
    this.name = name;
    this.upgrading = false;
    this.closed = false;
    this.closeCalls = 0;
    this.onversionchange = null;
  }
  get version() {
    return this.#db.version;
  }
  get objectStoreNames() {
    const names = [...this.#db.stores.keys()].sort();
    return { length: names.length, contains: (n) => names.includes(n), item: (i) => names[i] ?? null };
  }
  createObjectStore(name) {
    if (!this.upgrading) throw domError("InvalidStateError", "createObjectStore outside a version change");
    if (this.#db.stores.has(name)) throw domError("ConstraintError", "the object store exists");
    this.#db.stores.set(name, new Map());
    return {};
  }
  transaction(names, mode = "readonly") {
    if (this.closed) throw domError("InvalidStateError", "the database connection is closing");
    names = [].concat(names);
    for (const n of names) if (!this.#db.stores.has(n)) throw domError("NotFoundError", "no object store " + n);
    return new FakeTransaction(this.factory, this.#db, names, mode);
  }
  close() {
    this.closeCalls++;
    this.closed = true;
  }
}

class FakeTransaction {
  #factory;
  #db;
  #requests = [];
  constructor(factory, db, names, mode) {
    this.#factory = factory;
    this.#db = db;
    this.names = names;
    this.mode = mode;
    this.error = null;
    this.oncomplete = this.onerror = this.onabort = null;
    // active: requests may be added (until the task that made it ends); then waiting (held by the
    // test), done or aborted.
    this.state = "active";
    task(() => {
      if (this.state != "active") return;
      this.state = "waiting";
      if (this.mode == "readwrite" && this.#factory.held) this.#factory.pending.push(this);
      else this._commit();
    });
  }

  objectStore(name) {
    if (!this.names.includes(name)) throw domError("NotFoundError", "not in this transaction: " + name);
    const records = this.#db.stores.get(name);
    const add = (run) => {
      if (this.state != "active") throw domError("TransactionInactiveError", "the transaction is not active");
      const req = new FakeRequest();
      this.#requests.push([req, run]);
      return req;
    };
    const writable = () => {
      if (this.mode != "readwrite") throw domError("ReadOnlyError", "a readonly transaction");
    };
    return {
      put: (value, key) => {
        writable();
        keyType(key);
        const record = { key: clone(key), value: clone(value) };
        return add(() => records.set(JSON.stringify(key), record));
      },
      delete: (query) => {
        writable();
        if (!(query instanceof FakeKeyRange)) keyType(query);
        return add(() => {
          if (query instanceof FakeKeyRange) {
            for (const [k, r] of records) if (query.includes(r.key)) records.delete(k);
          } else records.delete(JSON.stringify(query));
        });
      },
      getAll: (query) =>
        add(() =>
          [...records.values()]
            .filter((r) => query === undefined || query === null || (query instanceof FakeKeyRange ? query.includes(r.key) : compareKeys(r.key, query) == 0))
            .sort((a, b) => compareKeys(a.key, b.key))
            .map((r) => clone(r.value)),
        ),
    };
  }

  abort() {
    if (this.state == "done" || this.state == "aborted") throw domError("InvalidStateError", "the transaction is finished");
    this.state = "aborted";
    const i = this.#factory.pending.indexOf(this);
    if (i >= 0) this.#factory.pending.splice(i, 1);
    task(() => dispatch(this, "onabort", {}));
  }

  /** Runs the requests in order (a write changes the store only now), then completes. */
  _commit() {
    if (this.state != "waiting") return;
    this.state = "done";
    for (const [req, run] of this.#requests) {
      req.result = run();
      req.readyState = "done";
      dispatch(req, "onsuccess", {});
    }
    dispatch(this, "oncomplete", {});
  }
}

export class FakeIndexedDB {
  constructor() {
    this.databases = new Map();
    /** Every connection opened, in order. */
    this.connections = [];
    this.held = false;
    /** Readwrite transactions held back by `hold()`, in order. */
    this.pending = [];
  }

  open(name, version = 1) {
    const req = new FakeRequest();
    task(() => {
      let db = this.databases.get(name);
      if (!db) this.databases.set(name, (db = new Database()));
      req.readyState = "done";
      if (version < db.version) {
        req._error = domError("VersionError", "the database is newer");
        return dispatch(req, "onerror", {});
      }
      const conn = new FakeConnection(this, db, name);
      this.connections.push(conn);
      req.result = conn;
      if (version > db.version) {
        const oldVersion = db.version;
        db.version = version;
        conn.upgrading = true;
        dispatch(req, "onupgradeneeded", { oldVersion, newVersion: version });
        conn.upgrading = false;
      }
      dispatch(req, "onsuccess", {});
    });
    return req;
  }

  /** From now on readwrite transactions wait for `commit()`. */
  hold() {
    this.held = true;
  }
  /** Commits the readwrite transactions waiting, in order. */
  commit() {
    for (const tx of this.pending.splice(0)) tx._commit();
  }
  /** Commits what waits and lets later transactions commit on their own again. */
  release() {
    this.held = false;
    this.commit();
  }

  /** The records of one object store as { key, value }, in key order. */
  records(dbName = "mq-sessions", store = "records") {
    const db = this.databases.get(dbName);
    const m = db && db.stores.get(store);
    return m ? [...m.values()].sort((a, b) => compareKeys(a.key, b.key)) : [];
  }
}

// ---- Web Locks ----

const abortError = () => domError("AbortError", "the request was aborted");

export class FakeLocks {
  #queues = new Map();

  request(name, options, callback) {
    if (typeof options == "function") [options, callback] = [{}, options];
    const signal = options && options.signal;
    return new Promise((resolve, reject) => {
      if (signal && signal.aborted) return reject(signal.reason ?? abortError());
      const q = this.#queues.get(name) || [];
      this.#queues.set(name, q);
      const entry = { granted: false, callback, resolve, reject, signal, onAbort: undefined };
      if (signal) {
        entry.onAbort = () => {
          const i = q.indexOf(entry);
          if (entry.granted || i < 0) return;
          q.splice(i, 1);
          reject(signal.reason ?? abortError());
          if (i == 0) this.#grantNext(name);
        };
        signal.addEventListener("abort", entry.onAbort, { once: true });
      }
      q.push(entry);
      if (q.length == 1) this.#grantNext(name);
    });
  }

  /** Grants the lock to the first request waiting for it, in a microtask (never synchronously). */
  #grantNext(name) {
    queueMicrotask(() => {
      const q = this.#queues.get(name);
      const entry = q && q[0];
      if (!entry || entry.granted) return;
      entry.granted = true;
      if (entry.signal) entry.signal.removeEventListener("abort", entry.onAbort);
      let held;
      try {
        held = Promise.resolve(entry.callback({ name, mode: "exclusive" }));
      } catch (e) {
        held = Promise.reject(e);
      }
      held
        .finally(() => {
          q.shift();
          if (q.length) this.#grantNext(name);
          else this.#queues.delete(name);
        })
        .then(entry.resolve, entry.reject);
    });
  }

  /** Whether `name` is held, and how many requests wait for it. */
  state(name) {
    const q = this.#queues.get(name) || [];
    return { held: q.length > 0 && q[0].granted, waiting: q.filter((e) => !e.granted).length };
  }
}

// ---- the environment of one test ----

/** Installs a fresh WebSocket, IndexedDB and Web Locks as globals; returns them for the test. */
export function installFakes() {
  const sockets = [];
  globalThis.WebSocket = class WebSocket extends FakeWebSocket {
    constructor(url, protocol) {
      super(url, protocol);
      sockets.push(this);
    }
  };
  const idb = new FakeIndexedDB();
  globalThis.indexedDB = idb;
  globalThis.IDBKeyRange = FakeKeyRange;
  const locks = new FakeLocks();
  Object.defineProperty(globalThis, "navigator", { value: { onLine: true, locks }, configurable: true, writable: true });
  return { sockets, idb, locks };
}

// ---- a manual clock ----

/** performance.now, setTimeout and clearTimeout on a clock that moves only in `advance`. A timer
 *  callback's exception goes to `errors` (a browser would report it). `failNext`: an error the
 *  next performance.now() call throws. */
export class FakeClock {
  #timers = new Map();
  #seq = 0;
  constructor(start = 1000) {
    this.now = start;
    this.errors = [];
    this.failNext = undefined;
  }
  install() {
    globalThis.setTimeout = (f, ms = 0, ...args) => {
      const id = ++this.#seq;
      this.#timers.set(id, { at: this.now + Math.max(0, Number(ms) || 0), seq: id, f, args });
      return id;
    };
    globalThis.clearTimeout = (id) => {
      if (!this.#timers.delete(id)) realClearTimeout(id);
    };
    globalThis.performance = {
      now: () => {
        const e = this.failNext;
        if (e) {
          this.failNext = undefined;
          throw e;
        }
        return this.now;
      },
    };
  }
  uninstall() {
    globalThis.setTimeout = realSetTimeout;
    globalThis.clearTimeout = realClearTimeout;
    globalThis.performance = realPerformance;
  }
  /** The timers armed, as [{ at }], soonest first. */
  get timers() {
    return [...this.#timers.values()].sort((a, b) => a.at - b.at || a.seq - b.seq).map(({ at }) => ({ at }));
  }
  /** Moves the clock `ms` forward, running the timers that fall due on the way, in order; after
   *  each, a real task passes (the microtasks and fake events it caused run before the next). */
  async advance(ms) {
    const end = this.now + ms;
    for (;;) {
      let next;
      for (const [id, t] of this.#timers) if (t.at <= end && (!next || t.at < next[1].at || (t.at == next[1].at && t.seq < next[1].seq))) next = [id, t];
      if (!next) break;
      this.#timers.delete(next[0]);
      this.now = Math.max(this.now, next[1].at);
      try {
        next[1].f(...next[1].args);
      } catch (e) {
        this.errors.push(e);
      }
      await sleep(0);
    }
    this.now = end;
  }
}
