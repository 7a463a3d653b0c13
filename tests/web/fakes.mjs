// Fakes of the browser APIs the browser driver (src/wasm/, built by wasm-pack) uses, for
// tests/web/driver.mjs (Node, no browser, no broker). Each models what a
// driver over web-sys typed bindings touches, and behaves as a browser does there:
//
// - Events: `Event` (Node's own), `MessageEvent` (Node's own where it has one), `CloseEvent`
//   (code, reason, wasClean) and `IDBVersionChangeEvent` (oldVersion, newVersion), installed as
//   globals, so `instanceof` (web-sys `dyn_into`) holds for every event a fake delivers. Each
//   event goes to the `on<type>` handler property and to the `addEventListener` listeners.
// - WebSocket: `new WebSocket(url, protocols)` (a string or a URL; SyntaxError for a URL that is
//   not ws:, wss:, http: or https:, or has a fragment, as browsers do; `url` is the serialized
//   URL), binaryType, readyState, bufferedAmount (always 0: a frame is on the wire as soon as it
//   is sent), protocol ("" until open), send(), close() and the open / message / error / close
//   events (handler properties and listeners). The test plays the network and the broker:
//   accept(), receive(bytes), receiveText(string), peerClosing() (the server's close frame came,
//   the close event not yet), drop(code); `sent` holds a copy of every binary frame the client
//   sent, `sentText` its text frames, `sendsWhileClosing` the send() calls a closing or closed
//   socket dropped; `protocols` what it asked for.
// - IndexedDB: indexedDB.open(name, version) (an IDBOpenDBRequest: upgradeneeded, success, error),
//   a connection (IDBDatabase): objectStoreNames (a DOMStringList: contains, item, length),
//   createObjectStore, transaction(names, mode), close, onversionchange; a transaction
//   (IDBTransaction): objectStore(name) (an IDBObjectStore: put, delete with a key or a range,
//   getAll with a key or a range), complete / error / abort events, abort(), error, mode; and
//   IDBKeyRange.bound. Keys are ordered as IndexedDB orders them (numbers < strings < arrays);
//   values are structured clones. A readwrite transaction applies its requests when it commits:
//   once the task that made it is over, or, after `hold()`, only when the test calls `commit()`
//   (so a test can keep a write running). A closed connection refuses new transactions, as a real
//   one does; `closeCalls` counts close().
// - Web Locks: navigator.locks (a LockManager) .request(name, { signal, ifAvailable }, callback):
//   exclusive, granted in request order per name, in a microtask, the callback given a Lock; held
//   until the callback's promise settles; a request still waiting when its signal aborts rejects
//   with the signal's reason (an AbortError); with `ifAvailable` a lock held or waited for calls
//   the callback with null at once (in a microtask) instead of waiting. query() lists them.
// - The page: `window` (globalThis, `instanceof Window`), globalThis.addEventListener /
//   removeEventListener ("online", "offline"), navigator.onLine, and `document` (hidden,
//   visibilityState, "visibilitychange" listeners). `env.page.setOnline(bool)` and
//   `env.page.setHidden(bool)` change them and fire the events a browser fires.
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

// ---- events ----

/** Node's Event; the event classes of the fakes extend it, and all are globals. */
const NodeEvent = globalThis.Event;

export class CloseEvent extends NodeEvent {
  #code;
  #reason;
  #wasClean;
  constructor(type, init = {}) {
    super(type, init);
    this.#code = init.code ?? 0;
    this.#reason = init.reason ?? "";
    this.#wasClean = init.wasClean ?? false;
  }
  get code() {
    return this.#code;
  }
  get reason() {
    return this.#reason;
  }
  get wasClean() {
    return this.#wasClean;
  }
}

/** Node's MessageEvent where it has one, else a MessageEvent with `data`. */
export const MessageEvent =
  typeof globalThis.MessageEvent == "function"
    ? globalThis.MessageEvent
    : class MessageEvent extends NodeEvent {
        #data;
        constructor(type, init = {}) {
          super(type, init);
          this.#data = init.data ?? null;
        }
        get data() {
          return this.#data;
        }
      };

export class IDBVersionChangeEvent extends NodeEvent {
  #oldVersion;
  #newVersion;
  constructor(type, init = {}) {
    super(type, init);
    this.#oldVersion = init.oldVersion ?? 0;
    this.#newVersion = init.newVersion ?? null;
  }
  get oldVersion() {
    return this.#oldVersion;
  }
  get newVersion() {
    return this.#newVersion;
  }
}

/** `target` and `currentTarget` of an event the fakes deliver (a browser's dispatch sets them). */
function targeted(event, target) {
  for (const k of ["target", "currentTarget", "srcElement"]) Object.defineProperty(event, k, { value: target, configurable: true });
  return event;
}

/** An EventTarget whose `dispatch` runs the `on<type>` handler property, then the listeners, each
 *  exception recorded in `uncaught`. */
export class FakeEventTarget {
  #listeners = new Map();
  addEventListener(type, listener, options) {
    if (listener == null) return;
    const once = typeof options == "object" && options !== null && !!options.once;
    const l = this.#listeners.get(type) || [];
    if (!l.some((x) => x.listener === listener)) l.push({ listener, once });
    this.#listeners.set(type, l);
    const signal = typeof options == "object" && options && options.signal;
    if (signal) signal.addEventListener("abort", () => this.removeEventListener(type, listener), { once: true });
  }
  removeEventListener(type, listener) {
    const l = this.#listeners.get(type);
    if (!l) return;
    const i = l.findIndex((x) => x.listener === listener);
    if (i >= 0) l.splice(i, 1);
  }
  /** How many listeners of `type` there are (for the tests). */
  listenerCount(type) {
    return (this.#listeners.get(type) || []).length;
  }
  dispatchEvent(event) {
    deliver(this, event);
    return !event.defaultPrevented;
  }
  _listeners(type) {
    return [...(this.#listeners.get(type) || [])];
  }
  _forget(type, entry) {
    const l = this.#listeners.get(type);
    const i = l ? l.indexOf(entry) : -1;
    if (i >= 0) l.splice(i, 1);
  }
}

function call(f, target, event) {
  try {
    if (typeof f == "function") f.call(target, event);
    else if (f && typeof f.handleEvent == "function") f.handleEvent(event);
  } catch (e) {
    uncaught.push(e);
  }
}

/** Delivers `event` at `target`: its `on<type>` handler, then its listeners, in order. */
function deliver(target, event) {
  targeted(event, target);
  call(target["on" + event.type], target, event);
  if (target instanceof FakeEventTarget) {
    for (const entry of target._listeners(event.type)) {
      if (entry.once) target._forget(event.type, entry);
      call(entry.listener, target, event);
    }
  }
}
/** `deliver`, under the name the fakes have always used: a plain event of `type` by default. */
function dispatch(target, type, event = new NodeEvent(type)) {
  deliver(target, event);
}

const domError = (name, message) => new DOMException(message, name);
/** A structured clone, the cheap way for the values the driver stores (Uint8Array) and for keys. */
const clone = (v) => (v instanceof Uint8Array ? v.slice() : Array.isArray(v) ? v.map(clone) : typeof v == "object" && v ? structuredClone(v) : v);

// ---- WebSocket ----

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** The URL a WebSocket connects to, as the WebSocket constructor parses it (or a SyntaxError). */
function webSocketUrl(url) {
  let u;
  try {
    u = new URL(String(url));
  } catch {
    throw domError("SyntaxError", "the URL is invalid: " + String(url));
  }
  if (u.protocol == "http:") u.protocol = "ws:";
  else if (u.protocol == "https:") u.protocol = "wss:";
  if (u.protocol != "ws:" && u.protocol != "wss:") throw domError("SyntaxError", "the URL's scheme must be ws or wss: " + u.href);
  if (u.hash) throw domError("SyntaxError", "the URL has a fragment: " + u.href);
  return u.href;
}

export class FakeWebSocket extends FakeEventTarget {
  static CONNECTING = CONNECTING;
  static OPEN = OPEN;
  static CLOSING = CLOSING;
  static CLOSED = CLOSED;

  #binaryType = "blob";
  constructor(url, protocols) {
    super();
    this.url = webSocketUrl(url);
    /** What the client asked for (the constructor's second argument). */
    this.protocols = protocols === undefined ? [] : [].concat(protocols).map(String);
    /** The subprotocol the server chose: none until open. */
    this.protocol = "";
    this.extensions = "";
    this.readyState = CONNECTING;
    this.bufferedAmount = 0;
    this.onopen = this.onmessage = this.onclose = this.onerror = null;
    /** Copies of the binary frames sent, in order. */
    this.sent = [];
    /** The text frames sent, in order. */
    this.sentText = [];
    this.closedByClient = false;
    /** send() calls on a closing or closed socket: dropped, and each logged by a browser as
     *  "WebSocket is already in CLOSING or CLOSED state". */
    this.sendsWhileClosing = 0;
  }

  get CONNECTING() {
    return CONNECTING;
  }
  get OPEN() {
    return OPEN;
  }
  get CLOSING() {
    return CLOSING;
  }
  get CLOSED() {
    return CLOSED;
  }

  get binaryType() {
    return this.#binaryType;
  }
  set binaryType(v) {
    // A browser ignores a value that is not one of the two.
    if (v === "blob" || v === "arraybuffer") this.#binaryType = v;
  }

  send(data) {
    if (this.readyState == CONNECTING) throw domError("InvalidStateError", "the WebSocket is still connecting");
    // A closing or closed socket drops what it is given.
    if (this.readyState != OPEN) return void (this.sendsWhileClosing += 1);
    if (typeof data == "string") return void this.sentText.push(data);
    if (data instanceof Blob) throw new Error("fake WebSocket: Blob frames are not modelled");
    const view = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
    this.sent.push(view.slice());
  }

  close(code, reason) {
    if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)) throw domError("InvalidAccessError", "invalid close code " + code);
    if (this.readyState >= CLOSING) return;
    const wasOpen = this.readyState == OPEN;
    this.readyState = CLOSING;
    this.closedByClient = true;
    task(() => {
      this.readyState = CLOSED;
      // Closing a socket that never opened fails the connection: error, then close (1006).
      if (!wasOpen) dispatch(this, "error");
      dispatch(this, "close", new CloseEvent("close", { code: wasOpen ? (code ?? 1005) : 1006, reason: wasOpen ? (reason ?? "") : "", wasClean: wasOpen }));
    });
  }

  // ---- the network's side, driven by the test ----

  /** The server accepted the connection (choosing the first subprotocol asked for). */
  accept() {
    if (this.readyState != CONNECTING) throw new Error("accept(): the socket is not connecting");
    this.readyState = OPEN;
    this.protocol = this.protocols[0] ?? "";
    dispatch(this, "open");
  }

  /** One binary frame from the broker. */
  receive(bytes) {
    if (this.readyState != OPEN) throw new Error("receive(): the socket is not open");
    const buf = Uint8Array.from(bytes).buffer;
    dispatch(this, "message", new MessageEvent("message", { data: this.binaryType == "arraybuffer" ? buf : new Blob([buf]) }));
  }

  /** One text frame from the server (not MQTT: a broker never sends one). */
  receiveText(text) {
    if (this.readyState != OPEN) throw new Error("receiveText(): the socket is not open");
    dispatch(this, "message", new MessageEvent("message", { data: String(text) }));
  }

  /** The server's close frame arrived: the socket is CLOSING, its close event still to come
   *  (`drop`), as in a browser between the two. */
  peerClosing() {
    if (this.readyState == OPEN) this.readyState = CLOSING;
  }

  /** The connection was lost (or refused, before `accept`): for an abnormal closure (1006) an
   *  error event first, as browsers fire one when the connection fails. */
  drop(code = 1006) {
    if (this.readyState == CLOSED) return;
    this.readyState = CLOSED;
    if (code == 1006) dispatch(this, "error");
    dispatch(this, "close", new CloseEvent("close", { code, reason: "", wasClean: false }));
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

/** Objects a script cannot construct itself (a browser's constructor throws "Illegal constructor"). */
const INTERNAL = Symbol("internal");
function internal(token, what) {
  if (token !== INTERNAL) throw new TypeError("Illegal constructor: " + what);
}

export class IDBKeyRange {
  constructor(token, lower, upper, lowerOpen, upperOpen) {
    internal(token, "IDBKeyRange");
    Object.assign(this, { lower, upper, lowerOpen, upperOpen });
  }
  static bound(lower, upper, lowerOpen = false, upperOpen = false) {
    keyType(lower);
    keyType(upper);
    const c = compareKeys(lower, upper);
    if (c > 0 || (c == 0 && (lowerOpen || upperOpen))) throw domError("DataError", "lower is above upper");
    return new IDBKeyRange(INTERNAL, clone(lower), clone(upper), !!lowerOpen, !!upperOpen);
  }
  static only(key) {
    keyType(key);
    return new IDBKeyRange(INTERNAL, clone(key), clone(key), false, false);
  }
  includes(key) {
    const lo = compareKeys(key, this.lower);
    const hi = compareKeys(key, this.upper);
    return (this.lowerOpen ? lo > 0 : lo >= 0) && (this.upperOpen ? hi < 0 : hi <= 0);
  }
}
export class IDBRequest extends FakeEventTarget {
  constructor(token, source = null, transaction = null) {
    internal(token, "IDBRequest");
    super();
    this.readyState = "pending";
    this.source = source;
    this.transaction = transaction;
    this.onsuccess = this.onerror = null;
    this._result = undefined;
    this._error = null;
  }
  get result() {
    if (this.readyState != "done") throw domError("InvalidStateError", "the request is not done");
    return this._result;
  }
  get error() {
    if (this.readyState != "done") throw domError("InvalidStateError", "the request is not done");
    return this._error;
  }
}

export class IDBOpenDBRequest extends IDBRequest {
  constructor(token) {
    super(token);
    this.onupgradeneeded = this.onblocked = null;
  }
}

export class DOMStringList {
  #names;
  constructor(token, names) {
    internal(token, "DOMStringList");
    this.#names = names;
  }
  get length() {
    return this.#names.length;
  }
  item(i) {
    return this.#names[i] ?? null;
  }
  contains(name) {
    return this.#names.includes(String(name));
  }
  [Symbol.iterator]() {
    return this.#names[Symbol.iterator]();
  }
}

/** A database: object stores, each a Map from a key's JSON to { key, value }. */
class Database {
  constructor() {
    this.version = 0;
    this.stores = new Map();
  }
}

/** An event at a request that bubbles: the request, its transaction, the transaction's database. */
function bubble(request, event) {
  const path = [request, request.transaction, request.transaction && request.transaction.db].filter(Boolean);
  Object.defineProperty(event, "target", { value: request, configurable: true });
  for (const t of path) {
    Object.defineProperty(event, "currentTarget", { value: t, configurable: true });
    call(t["on" + event.type], t, event);
    for (const entry of t._listeners(event.type)) {
      if (entry.once) t._forget(event.type, entry);
      call(entry.listener, t, event);
    }
  }
}

export class IDBDatabase extends FakeEventTarget {
  #db;
  constructor(token, factory, db, name) {
    internal(token, "IDBDatabase");
    super();
    this.factory = factory;
    this.#db = db;
    this.name = name;
    this.upgrading = false;
    this.closed = false;
    this.closeCalls = 0;
    this.onversionchange = this.onclose = this.onabort = this.onerror = null;
  }
  get version() {
    return this.#db.version;
  }
  get objectStoreNames() {
    return new DOMStringList(INTERNAL, [...this.#db.stores.keys()].sort());
  }
  createObjectStore(name) {
    if (!this.upgrading) throw domError("InvalidStateError", "createObjectStore outside a version change");
    if (this.#db.stores.has(name)) throw domError("ConstraintError", "the object store exists");
    const records = new Map();
    this.#db.stores.set(name, records);
    return new IDBObjectStore(INTERNAL, name, null, records);
  }
  transaction(names, mode = "readonly") {
    if (mode !== "readonly" && mode !== "readwrite") throw new TypeError("invalid transaction mode: " + String(mode));
    if (this.upgrading) throw domError("InvalidStateError", "a version change transaction is running");
    if (this.closed) throw domError("InvalidStateError", "the database connection is closing");
    names = typeof names == "string" ? [names] : [...names].map(String);
    if (!names.length) throw domError("InvalidAccessError", "no object store named");
    for (const n of names) if (!this.#db.stores.has(n)) throw domError("NotFoundError", "no object store " + n);
    return new IDBTransaction(INTERNAL, this.factory, this, this.#db, names, mode);
  }
  close() {
    this.closeCalls++;
    this.closed = true;
  }
}
export class IDBObjectStore {
  #tx;
  #records;
  constructor(token, name, tx, records) {
    internal(token, "IDBObjectStore");
    this.name = name;
    this.#tx = tx;
    this.#records = records;
    this.keyPath = null;
    this.autoIncrement = false;
  }
  get transaction() {
    return this.#tx;
  }
  #add(run) {
    const tx = this.#tx;
    if (!tx || tx.state != "active") throw domError("TransactionInactiveError", "the transaction is not active");
    const req = new IDBRequest(INTERNAL, this, tx);
    tx._requests.push([req, run]);
    return req;
  }
  #writable() {
    if (this.#tx && this.#tx.mode != "readwrite") throw domError("ReadOnlyError", "a readonly transaction");
  }
  #matches(query) {
    if (query === undefined || query === null) return () => true;
    if (query instanceof IDBKeyRange) return (k) => query.includes(k);
    keyType(query);
    return (k) => compareKeys(k, query) == 0;
  }
  put(value, key) {
    this.#writable();
    if (key === undefined) throw domError("DataError", "an out-of-line key is required");
    keyType(key);
    const record = { key: clone(key), value: clone(value) };
    const records = this.#records;
    return this.#add(() => {
      records.set(JSON.stringify(key), record);
      return clone(key);
    });
  }
  delete(query) {
    this.#writable();
    if (query === undefined || query === null) throw domError("DataError", "delete needs a key or a key range");
    const match = this.#matches(query);
    const records = this.#records;
    return this.#add(() => {
      for (const [k, r] of records) if (match(r.key)) records.delete(k);
      return undefined;
    });
  }
  getAll(query, count) {
    const match = this.#matches(query);
    const records = this.#records;
    return this.#add(() => {
      const all = [...records.values()].filter((r) => match(r.key)).sort((a, b) => compareKeys(a.key, b.key));
      return (count ? all.slice(0, count) : all).map((r) => clone(r.value));
    });
  }
  get(query) {
    const match = this.#matches(query);
    const records = this.#records;
    return this.#add(() => {
      const r = [...records.values()].filter((r) => match(r.key)).sort((a, b) => compareKeys(a.key, b.key))[0];
      return r ? clone(r.value) : undefined;
    });
  }
}

export class IDBTransaction extends FakeEventTarget {
  #factory;
  #db;
  constructor(token, factory, connection, db, names, mode) {
    internal(token, "IDBTransaction");
    super();
    this.#factory = factory;
    this.#db = db;
    this.db = connection;
    this.names = names;
    this.mode = mode;
    this.error = null;
    this.oncomplete = this.onerror = this.onabort = null;
    this._requests = [];
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

  get objectStoreNames() {
    return new DOMStringList(INTERNAL, [...this.names].sort());
  }

  objectStore(name) {
    if (this.state == "done" || this.state == "aborted") throw domError("InvalidStateError", "the transaction is finished");
    if (!this.names.includes(name)) throw domError("NotFoundError", "not in this transaction: " + name);
    return new IDBObjectStore(INTERNAL, name, this, this.#db.stores.get(name));
  }

  abort() {
    if (this.state == "done" || this.state == "aborted") throw domError("InvalidStateError", "the transaction is finished");
    this.state = "aborted";
    const i = this.#factory.pending.indexOf(this);
    if (i >= 0) this.#factory.pending.splice(i, 1);
    // Its requests fail with AbortError (error events that bubble to the transaction and the
    // database), then the transaction fires abort (its `error` stays null: the script aborted it).
    task(() => {
      for (const [req] of this._requests) {
        req.readyState = "done";
        req._error = domError("AbortError", "the transaction was aborted");
        bubble(req, new NodeEvent("error", { bubbles: true, cancelable: true }));
      }
      dispatch(this, "abort", new NodeEvent("abort", { bubbles: true }));
    });
  }

  /** Runs the requests in order (a write changes the store only now), then completes. */
  _commit() {
    if (this.state != "waiting") return;
    this.state = "done";
    for (const [req, run] of this._requests) {
      req._result = run();
      req.readyState = "done";
      dispatch(req, "success");
    }
    dispatch(this, "complete");
  }
}
export class IDBFactory {
  constructor() {
    this.databases = new Map();
    /** Every connection opened, in order. */
    this.connections = [];
    this.held = false;
    /** Readwrite transactions held back by `hold()`, in order. */
    this.pending = [];
  }

  open(name, version) {
    if (version !== undefined && !(Number.isInteger(Number(version)) && Number(version) >= 1)) throw new TypeError("the version must be a positive integer");
    name = String(name);
    const req = new IDBOpenDBRequest(INTERNAL);
    task(() => {
      let db = this.databases.get(name);
      if (!db) this.databases.set(name, (db = new Database()));
      const want = version === undefined ? Math.max(db.version, 1) : Number(version);
      req.readyState = "done";
      if (want < db.version) {
        req._error = domError("VersionError", "the database is newer");
        return dispatch(req, "error", new NodeEvent("error", { bubbles: true, cancelable: true }));
      }
      const conn = new IDBDatabase(INTERNAL, this, db, name);
      this.connections.push(conn);
      req._result = conn;
      if (want > db.version) {
        const oldVersion = db.version;
        db.version = want;
        conn.upgrading = true;
        dispatch(req, "upgradeneeded", new IDBVersionChangeEvent("upgradeneeded", { oldVersion, newVersion: want }));
        conn.upgrading = false;
      }
      dispatch(req, "success");
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

export class Lock {
  constructor(token, name, mode) {
    internal(token, "Lock");
    this.name = name;
    this.mode = mode;
  }
}

export class LockManager {
  #queues = new Map();

  request(name, options, callback) {
    if (typeof options == "function") [options, callback] = [{}, options];
    if (typeof callback != "function") return Promise.reject(new TypeError("the callback must be a function"));
    name = String(name);
    if (name.startsWith("-")) return Promise.reject(domError("NotSupportedError", "lock names starting with - are reserved"));
    const signal = options && options.signal;
    return new Promise((resolve, reject) => {
      if (signal && signal.aborted) return reject(signal.reason ?? abortError());
      if (options && options.ifAvailable && (this.#queues.get(name) || []).length) {
        queueMicrotask(() => {
          try {
            Promise.resolve(callback(null)).then(resolve, reject);
          } catch (e) {
            reject(e);
          }
        });
        return;
      }
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
        held = Promise.resolve(entry.callback(new Lock(INTERNAL, name, "exclusive")));
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

  /** What is held and what waits, as navigator.locks.query() tells it. */
  query() {
    const held = [];
    const pending = [];
    for (const [name, q] of this.#queues) for (const e of q) (e.granted ? held : pending).push({ name, mode: "exclusive", clientId: "fake" });
    return Promise.resolve({ held, pending });
  }

  /** Whether `name` is held, and how many requests wait for it. */
  state(name) {
    const q = this.#queues.get(name) || [];
    return { held: q.length > 0 && q[0].granted, waiting: q.filter((e) => !e.granted).length };
  }
}

// ---- the page ----

export class Navigator {
  constructor(token, locks) {
    internal(token, "Navigator");
    this.onLine = true;
    this.locks = locks;
    this.userAgent = "fake";
  }
}

export class Document extends FakeEventTarget {
  constructor(token) {
    internal(token, "Document");
    super();
    this.hidden = false;
    this.visibilityState = "visible";
    this.onvisibilitychange = null;
  }
}

/** `globalThis instanceof Window`, as in a page. */
export const Window = function Window() {
  throw new TypeError("Illegal constructor: Window");
};
Object.defineProperty(Window, Symbol.hasInstance, { value: (o) => o === globalThis });

/** Globals a page has and Node lacks (or has under another implementation), installed once. */
const GLOBALS = {
  CloseEvent,
  MessageEvent,
  IDBVersionChangeEvent,
  IDBFactory,
  IDBRequest,
  IDBOpenDBRequest,
  IDBDatabase,
  IDBTransaction,
  IDBObjectStore,
  IDBKeyRange,
  DOMStringList,
  Lock,
  LockManager,
  Navigator,
  Document,
  Window,
};

// ---- the environment of one test ----

/** Installs a fresh WebSocket, IndexedDB, Web Locks, navigator, document and page events as
 *  globals; returns them for the test: { sockets, idb, locks, page }. `page.setOnline(bool)` and
 *  `page.setHidden(bool)` change navigator.onLine / document.hidden and fire "online" / "offline"
 *  at the global object or "visibilitychange" at the document, as a browser does. */
export function installFakes() {
  const define = (name, value) => Object.defineProperty(globalThis, name, { value, configurable: true, writable: true, enumerable: false });
  for (const [name, value] of Object.entries(GLOBALS)) define(name, value);
  const sockets = [];
  define(
    "WebSocket",
    class WebSocket extends FakeWebSocket {
      constructor(url, protocols) {
        super(url, protocols);
        sockets.push(this);
      }
    },
  );
  const idb = new IDBFactory();
  define("indexedDB", idb);
  const locks = new LockManager();
  const navigator = new Navigator(INTERNAL, locks);
  define("navigator", navigator);
  const document = new Document(INTERNAL);
  define("document", document);
  define("window", globalThis);
  // The global object's own events ("online", "offline").
  const events = new FakeEventTarget();
  define("addEventListener", (type, listener, options) => events.addEventListener(type, listener, options));
  define("removeEventListener", (type, listener, options) => events.removeEventListener(type, listener, options));
  define("dispatchEvent", (event) => events.dispatchEvent(event));
  const page = {
    events,
    document,
    setOnline(online) {
      if (navigator.onLine === !!online) return;
      navigator.onLine = !!online;
      dispatch(events, online ? "online" : "offline");
    },
    setHidden(hidden) {
      if (document.hidden === !!hidden) return;
      document.hidden = !!hidden;
      document.visibilityState = hidden ? "hidden" : "visible";
      dispatch(document, "visibilitychange");
    },
  };
  return { sockets, idb, locks, page };
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
    // An object `instanceof Performance`, as the real one is, whose now() reads this clock.
    const perf = Object.create(typeof Performance == "function" ? Performance.prototype : Object.prototype);
    Object.defineProperty(perf, "timeOrigin", { value: realPerformance.timeOrigin });
    Object.defineProperty(perf, "now", {
      value: () => {
        const e = this.failNext;
        if (e) {
          this.failNext = undefined;
          throw e;
        }
        return this.now;
      },
    });
    globalThis.performance = perf;
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
