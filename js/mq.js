// mq-wasm: the npm package's `MqttClient`, a small JS driver around the sans-IO wasm core.
//
// The MQTT protocol (codec, session state machine: QoS 0/1/2 both ways, keepalive, packet ids,
// in-flight tracking, retransmission, session records) is the Rust core in mq_bg.wasm, reached
// through ./core.js. This file is the driver: the WebSocket, the timers, the IndexedDB store,
// the reconnect policy, and the promise/event API. It follows the Rust browser driver
// (src/wasm/ in the repository, for Rust users) step by step; the package uses this one because
// it is a third of the size.
//
// Every input (socket open / data / close, a timer, a command) ends in `pump`, which drains the
// core in its order: store ops, then bytes, then events. When a turn produced store ops, its
// bytes and events wait until their IndexedDB transaction completed (so an incoming QoS 2 message
// is delivered only once its packet id is stored, and an outgoing message is stored before it is
// sent); later turns queue behind it, in order. Commands only schedule a pump on the microtask
// queue, so everything issued in one turn of the event loop goes out in one frame.
//
// The driver never calls the app while it is half-way through a change: listener calls and
// promise settlements are queued and run by `flush` once the driver is done (`act`).

import { load, loadSync, Core, describeRecords } from "./core.js";

/** Loads the wasm module (once). Optional: `connect` loads it when needed. */
export default function init(input) {
  return load(input);
}
export function initSync(input) {
  loadSync(input);
}

/** Above this many bytes waiting in the WebSocket, new frames wait in the driver. */
const HIGH_WATER = 1 << 20;
/** How often a full WebSocket buffer is looked at again (it has no "drain" event). */
const DRAIN_POLL_MS = 20;
/** A connection that lived this long resets the reconnect backoff. */
const STABLE_MS = 30000;
/** How long `connect` waits for another client to let go of the stored session. */
const LOCK_WAIT_MS = 3000;
const MAX_DELAY = 2147483647;
const EVENTS = ["message", "connect", "reconnect", "offline", "close", "error", "restored"];

const now = () => performance.now();
const later = (f) => Promise.resolve().then(f);
const isAbsent = (v) => v === undefined || v === null;
/** `to.push(...from)` without the argument limit (a burst can hold 100,000s of ops). */
const append = (to, from) => {
  for (const x of from) to.push(x);
};

// ---- errors ----

/** An `Error` with a stable `code`. */
function mqError(code, message) {
  const e = new Error(message);
  e.code = code;
  return e;
}
const invalid = (message) => mqError("INVALID_ARGUMENT", message);
/** Wraps a JS exception (a DOMException from IndexedDB, say) with our code, keeping its text. */
function wrap(code, context, cause) {
  const detail = cause && typeof cause.message == "string" ? cause.message : typeof cause == "string" ? cause : "";
  const e = mqError(code, context + ": " + detail);
  e.cause = cause;
  return e;
}
/** Runs `f` (which reads the caller's arguments); an exception without our `code` (a getter or
 *  proxy of the caller's that threw) becomes INVALID_ARGUMENT, with it as the cause. */
function checked(f) {
  try {
    return f();
  } catch (e) {
    throw e && e.code ? e : wrap("INVALID_ARGUMENT", "an argument could not be read", e);
  }
}
const locked = () =>
  mqError(
    "SESSION_LOCKED",
    "another client (in this tab or another) is using the stored session of this broker URL and client id",
  );

// ---- calls into the app: queued, then flushed once the driver is done ----

let queue = [];
let flushing = false;
function call(f, args) {
  queue.push([f, args]);
}
function flush() {
  // Called from a listener, it leaves the new calls to the flush already running.
  if (flushing) return;
  flushing = true;
  try {
    for (let i = 0; i < queue.length; i++) {
      const [f, args] = queue[i];
      try {
        f(...args);
      } catch (e) {
        console.error("mq: an event handler threw", e);
      }
    }
  } finally {
    queue = [];
    flushing = false;
  }
}
/** Runs `f`, then the calls into the app it queued. */
function act(f) {
  try {
    f();
  } finally {
    flush();
  }
}

class Listeners {
  constructor() {
    this.m = new Map();
  }
  on(name, f) {
    if (!this.m.has(name)) this.m.set(name, []);
    this.m.get(name).push(f);
  }
  /** Removes the most recent registration of `f`, as EventTarget and Node do. */
  off(name, f) {
    const l = this.m.get(name) || [];
    const i = l.lastIndexOf(f);
    if (i >= 0) l.splice(i, 1);
  }
  emit(name, ...args) {
    const l = this.m.get(name) || [];
    if (!l.length && name == "error") console.warn("mq: unhandled error event", args[0]);
    for (const f of l) call(f, args);
  }
}

// ---- messages() streams ----

const Weak =
  typeof WeakRef == "function"
    ? WeakRef
    : class {
        constructor(o) {
          this.o = o;
        }
        deref() {
          return this.o;
        }
      };
const step = (value, done) => ({ value, done });

/** The driver's side of the `messages()` iterators: each held weakly, so one the app dropped goes. */
class Streams {
  constructor() {
    this.list = [];
  }
  add() {
    let buf = [];
    let done = false;
    const waiters = [];
    const end = () => {
      done = true;
      for (const w of waiters.splice(0)) w(step(undefined, true));
    };
    const it = {
      next: () =>
        buf.length
          ? Promise.resolve(step(buf.shift(), false))
          : done
            ? Promise.resolve(step(undefined, true))
            : new Promise((r) => waiters.push(r)),
      return: () => {
        buf = [];
        end();
        return Promise.resolve(step(undefined, true));
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    const push = (m) => {
      const w = waiters.shift();
      if (w) w(step(m, false));
      else buf.push(m);
    };
    this.list.push({ ref: new Weak(it), push, end, live: () => !done });
    return it;
  }
  push(m) {
    const l = this.list;
    for (let i = l.length; i--; ) if (!l[i].ref.deref() || !l[i].live()) l.splice(i, 1);
    for (const s of l) s.push(m);
  }
  /** Waiting `next()` calls resolve done; buffered messages stay readable. */
  closeAll() {
    for (const s of this.list.splice(0)) s.end();
  }
}

// ---- timers ----

/** A one-shot `setTimeout` that remembers its deadline, so re-arming for the same one is free. */
class Timer {
  constructor() {
    this.id = undefined;
    this.at = undefined;
  }
  /** Arms for `at` (ms, the `now` clock) or disarms; returns whether a new timeout was made. */
  set(t, at, f) {
    if (at === this.at && (this.id !== undefined || at === undefined)) return false;
    this.cancel();
    this.at = at;
    // Rounded up: a timer that fires early only costs a second wake-up.
    if (at !== undefined) this.id = setTimeout(f, Math.min(Math.floor(Math.max(0, at - t)) + 1, MAX_DELAY));
    return this.id !== undefined;
  }
  setMs(ms, f) {
    this.cancel();
    this.id = setTimeout(f, ms > 0 ? Math.min(ms, MAX_DELAY) : 0);
  }
  /** It fired: forget it, so the next `set` arms a new one. */
  fired() {
    this.id = this.at = undefined;
  }
  cancel() {
    if (this.id !== undefined) clearTimeout(this.id);
    this.id = this.at = undefined;
  }
  get armed() {
    return this.id !== undefined;
  }
}

// ---- arguments and options: checked before anything is queued or sent ----

const wrong = (what, key, kind) => invalid(what + ": " + key + " must be " + kind);

/** A misspelt option would silently do nothing: refuse keys outside `known`. */
function knownKeys(v, known, what) {
  if (v === null || typeof v != "object") return;
  for (const k of Object.keys(v)) if (!known.includes(k)) throw invalid(what + ': unknown option "' + k + '"');
}
/** False for undefined / null (every option at its default), an error for a non-object. */
function isObject(v, what) {
  if (isAbsent(v)) return false;
  if (typeof v != "object" && typeof v != "function") throw invalid(what + " must be an object");
  return true;
}
function optOf(type, kind) {
  return (o, key, what) => {
    const v = o[key];
    if (isAbsent(v)) return undefined;
    if (typeof v != type) throw wrong(what, key, kind);
    return v;
  };
}
const optNum = optOf("number", "a number");
const optBool = optOf("boolean", "a boolean");
const optString = optOf("string", "a string");

function intIn(v, lo, hi, what) {
  if (Number.isInteger(v) && v >= lo && v <= hi) return v;
  throw invalid(what + " must be an integer in " + lo + "..=" + hi);
}
function qosOf(q = 0) {
  if (q === 0 || q === 1 || q === 2) return q;
  throw invalid("qos must be 0, 1 or 2");
}
/** A payload: a string (as UTF-8), a Uint8Array or any ArrayBufferView, an ArrayBuffer. */
function bytes(v, what) {
  try {
    if (typeof v == "string") return new TextEncoder().encode(v);
    if (v instanceof Uint8Array) return v;
    if (v instanceof ArrayBuffer) return new Uint8Array(v);
    if (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  } catch {
    // A revoked proxy or a throwing getter: as invalid as anything else.
  }
  throw invalid(what + " must be a string, Uint8Array or ArrayBuffer");
}
function publishOptions(v) {
  const what = "publish options";
  knownKeys(v, ["qos", "retain"], what);
  if (!isObject(v, what)) return [0, false];
  return [qosOf(optNum(v, "qos", what)), optBool(v, "retain", what) || false];
}
function subscribeQos(v) {
  const what = "subscribe options";
  knownKeys(v, ["qos"], what);
  return isObject(v, what) ? qosOf(optNum(v, "qos", what)) : 0;
}
/** A topic or filter string, or an array of them. */
function topics(v) {
  if (typeof v == "string") return [v];
  if (Array.isArray(v)) {
    return v.map((t) => {
      if (typeof t != "string") throw invalid("every topic filter must be a string");
      return t;
    });
  }
  throw invalid("topic filter must be a string or an array of strings");
}
/** The (URL, client id) of a stored session: strings (IndexedDB would take a number as another key). */
function sessionArgs(url, clientId) {
  if (typeof url != "string" || typeof clientId != "string") throw invalid("url and clientId must be strings");
}
function randomClientId() {
  let id = "mq-";
  for (let i = 0; i < 16; i++) id += "0123456789abcdef"[(Math.random() * 16) & 15];
  return id;
}

/** Exponential backoff with "equal jitter": half fixed, half random. `attempt` counts from 0. */
function backoffDelay(b, attempt, random) {
  const exp = b.min * 2 ** Math.min(attempt, 30);
  const base = Math.max(Math.min(exp, b.max), Math.min(b.min, b.max));
  const r = Number.isNaN(random) ? 0 : Math.min(Math.max(random, 0), 1);
  return base / 2 + (base / 2) * r;
}

function connectOptions(v) {
  const what = "connect options";
  knownKeys(
    v,
    ["clientId", "clean", "keepalive", "username", "password", "will", "session", "reconnect", "connectTimeout", "maxInflight", "maxQueued", "maxPacketSize"],
    what,
  );
  if (!isObject(v, what)) v = {};
  const clean = optBool(v, "clean", what) ?? true;
  const config = {
    clientId: optString(v, "clientId", what) ?? randomClientId(),
    clean,
    keepalive: 60,
    pingTimeout: undefined,
    connectTimeout: 30000,
    maxInflight: 20,
    maxQueued: 10000,
    maxPacketSize: 1048576,
  };
  let n;
  if ((n = optNum(v, "keepalive", what)) !== undefined) config.keepalive = intIn(n, 0, 65535, "keepalive");
  if ((n = optNum(v, "connectTimeout", what)) !== undefined) config.connectTimeout = intIn(n, 1, MAX_DELAY, "connectTimeout");
  if ((n = optNum(v, "maxInflight", what)) !== undefined) config.maxInflight = intIn(n, 1, 65535, "maxInflight");
  if ((n = optNum(v, "maxQueued", what)) !== undefined) config.maxQueued = intIn(n, 0, 4294967295, "maxQueued");
  if ((n = optNum(v, "maxPacketSize", what)) !== undefined) config.maxPacketSize = intIn(n, 16, 268435460, "maxPacketSize");
  config.username = optString(v, "username", what);
  // Copies: the core is made later (after the module loaded), from what they hold now.
  if (!isAbsent(v.password)) config.password = bytes(v.password, "password").slice();
  const will = v.will;
  if (!isAbsent(will)) {
    if (typeof will != "object") throw invalid("will must be an object");
    knownKeys(will, ["topic", "payload", "qos", "retain"], "will");
    if (typeof will.topic != "string") throw wrong("will", "topic", "a string");
    config.will = {
      topic: will.topic,
      payload: bytes(will.payload, "will payload").slice(),
      qos: qosOf(optNum(will, "qos", "will")),
      retain: optBool(will, "retain", "will") || false,
    };
  }
  const session = optString(v, "session", what) ?? (clean ? "memory" : "indexeddb");
  if (session != "memory" && session != "indexeddb") throw invalid('session must be "memory" or "indexeddb"');
  let reconnect = v.reconnect;
  if (isAbsent(reconnect) || reconnect === true) reconnect = { min: 1000, max: 30000 };
  else if (reconnect === false) reconnect = undefined;
  else {
    const w = "reconnect";
    knownKeys(reconnect, ["minDelay", "maxDelay"], w);
    isObject(reconnect, w);
    const min = intIn(optNum(reconnect, "minDelay", w) ?? 1000, 1, MAX_DELAY, "reconnect.minDelay");
    const max = intIn(optNum(reconnect, "maxDelay", w) ?? Math.max(30000, min), 1, MAX_DELAY, "reconnect.maxDelay");
    if (max < min) throw invalid("reconnect.maxDelay must be at least reconnect.minDelay");
    reconnect = { min, max };
  }
  return { config, session, reconnect };
}

// ---- IndexedDB: records under [url, clientId, key] in one object store ----

const DB_NAME = "mq-sessions";
const STORE = "records";

const lockName = (url, clientId) => "mq-session\n" + url + "\n" + clientId;

/** Takes the Web Lock `name`, waiting up to `ms` for its holder: resolves with a release function,
 *  or `null` if it stayed held. Without Web Locks it goes on unguarded (a no-op release). */
function takeLock(name, ms) {
  return new Promise((resolve) => {
    const unguarded = () => resolve(() => {});
    try {
      const locks = globalThis.navigator && navigator.locks;
      if (!locks) return unguarded();
      let release;
      const held = new Promise((r) => (release = r));
      const stop = new AbortController();
      const timer = setTimeout(() => stop.abort(), ms);
      locks
        .request(name, { signal: stop.signal }, () => {
          clearTimeout(timer);
          resolve(release);
          return held;
        })
        .catch((e) => (e && e.name == "AbortError" ? resolve(null) : unguarded()));
    } catch {
      // Web Locks refused here (an opaque origin, say): go on unguarded, as without them.
      unguarded();
    }
  });
}

function done(target, ok, errors) {
  return new Promise((resolve, reject) => {
    target[ok] = resolve;
    for (const e of errors) target[e] = reject;
  });
}

class IdbStore {
  constructor(db, url, clientId) {
    this.db = db;
    this.url = url;
    this.clientId = clientId;
    this.release = () => {};
  }

  static async open(url, clientId) {
    const factory = globalThis.indexedDB;
    if (!factory) throw mqError("STORE_FAILED", "IndexedDB is not available here");
    let req;
    try {
      req = factory.open(DB_NAME, 1);
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE);
      };
      await done(req, "onsuccess", ["onerror"]);
    } catch (e) {
      let cause = e;
      try {
        if (req && req.error) cause = req.error;
      } catch {
        // The request is still pending: `e` says it all.
      }
      throw wrap("STORE_FAILED", "cannot open IndexedDB", cause);
    }
    const db = req.result;
    db.onversionchange = () => db.close();
    return new IdbStore(db, url, clientId);
  }

  key(k) {
    return [this.url, this.clientId, k];
  }
  range() {
    return IDBKeyRange.bound(this.key(""), this.key("\uffff"));
  }
  tx() {
    const tx = this.db.transaction(STORE, "readwrite");
    return [tx, tx.objectStore(STORE)];
  }

  async load() {
    try {
      const req = this.db.transaction(STORE, "readonly").objectStore(STORE).getAll(this.range());
      await done(req, "onsuccess", ["onerror"]);
      return req.result.filter((v) => v instanceof Uint8Array);
    } catch (e) {
      throw wrap("STORE_FAILED", "cannot read the session from IndexedDB", e);
    }
  }

  /** Applies `ops` in one transaction, all issued before this returns (nothing can commit it
   *  early); resolves once it committed. */
  write(ops) {
    let tx;
    try {
      let store;
      [tx, store] = this.tx();
      for (const op of ops) {
        if (op.value) store.put(op.value, this.key(op.key));
        else store.delete(this.key(op.key));
      }
    } catch (e) {
      try {
        if (tx) tx.abort();
      } catch {
        // Already finished.
      }
      return Promise.reject(wrap("STORE_FAILED", "cannot write the session to IndexedDB", e));
    }
    return done(tx, "oncomplete", ["onerror", "onabort"]).catch((e) => {
      throw wrap("STORE_FAILED", "IndexedDB transaction failed", tx.error || e);
    });
  }

  async clear() {
    try {
      const [tx, store] = this.tx();
      const p = done(tx, "oncomplete", ["onerror", "onabort"]);
      store.delete(this.range());
      await p;
    } catch (e) {
      throw wrap("STORE_FAILED", "cannot clear the session", e);
    }
  }

  close() {
    this.db.close();
  }
}

/** What the app learns about a request restored from IndexedDB. */
function restoredInfo(session) {
  const out = [];
  for (const r of session.inflight) {
    out.push(r.state == "released" ? { kind: "publish", qos: 2, id: r.id } : { kind: "publish", qos: r.qos, topic: r.topic, payload: r.payload, id: r.id });
  }
  for (const r of session.queued) out.push({ kind: "publish", qos: r.qos, topic: r.topic, payload: r.payload, id: r.id });
  return out.sort((a, b) => a.id - b.id);
}

// ---- the driver ----

const CONNECTING = 0;
const CONNECTED = 1;
/** Waiting for the backoff timer before the next attempt. */
const WAITING = 2;
/** `end()`, `destroy()`, a failed first connect or a refusal that retrying cannot heal. */
const CLOSED = 3;

const freeCore = typeof FinalizationRegistry == "function" ? new FinalizationRegistry((c) => c.free()) : undefined;

const TOKEN = {};

/** An MQTT 3.1.1 client over a WebSocket: the public API, and the driver behind it. */
export class MqttClient {
  #core;
  #url;
  #reconnect;
  #connectTimeout;
  #store;
  #ws;
  #open = false;
  #phase = CONNECTING;
  #attempts = 0;
  #lastAttempt;
  #connectedAt;
  #offlineEmitted = false;
  #deadline;
  #timer = new Timer();
  // Inside the core timer's callback, and whether `timer` was armed there (see armTimer).
  #inTimerTask = false;
  #armedInTimerTask = false;
  #retryTimer = new Timer();
  #openTimer = new Timer();
  #drainTimer = new Timer();
  // connect's { resolve, reject }
  #waiter;
  // request id -> { kind, resolve, reject, filters }, in request order
  #requests = new Map();
  // restored request id -> info, in request order
  #restored = new Map();
  #listeners = new Listeners();
  #streams = new Streams();
  // The outbox: bytes and events of the turn whose store write runs, then of later turns.
  #writing = false;
  #held = [[], []];
  // ops, bytes, events
  #next = [[], [], []];
  #sendBuf = [];
  #flushScheduled = false;
  #unlockPending = false;
  #persistedWaiters = [];
  #endWaiters = [];
  #page = [];

  /** Use `MqttClient.connect`. */
  constructor(token, url, opts, core, store) {
    if (token !== TOKEN) throw invalid("use MqttClient.connect(url, options)");
    this.#core = core;
    this.#url = url;
    this.#reconnect = opts.reconnect;
    this.#connectTimeout = opts.config.connectTimeout;
    this.#store = store;
    if (freeCore) freeCore.register(this, core);
    this.#listen("online", globalThis, () => this.#onOnline());
    if (globalThis.document) {
      this.#listen("visibilitychange", document, () => {
        // Timers may have slept: let the core look at the clock now.
        if (!document.hidden) {
          this.#core.handleTimeout(now());
          this.#pump();
        }
      });
    }
  }

  #listen(name, target, f) {
    if (!target || !target.addEventListener) return;
    const h = () => act(f);
    target.addEventListener(name, h);
    this.#page.push(() => target.removeEventListener(name, h));
  }

  get #closed() {
    return this.#phase == CLOSED;
  }

  // ---- commands ----

  #track(id, pending) {
    this.#requests.set(id, pending);
    this.#scheduleFlush();
  }

  /** Resolves once everything issued so far is in IndexedDB. */
  #whenPersisted(resolve) {
    this.#persistedWaiters.push(resolve);
    this.#scheduleFlush();
  }

  /** DISCONNECT, then close; `resolve` once done. */
  #end(resolve) {
    this.#endWaiters.push(resolve);
    if (this.#phase != CLOSED) {
      this.#phase = CLOSED;
      this.#retryTimer.cancel();
      this.#openTimer.cancel();
      this.#core.disconnect(now());
    }
    this.#pump();
  }

  /** Closes without DISCONNECT (the broker then publishes the will); the stored session stays. */
  #destroy() {
    this.#held = [[], []];
    this.#next[1] = [];
    this.#sendBuf = [];
    // Nothing reaches the app after "close". A QoS 2 message among these is in the store as not
    // delivered, and the broker (without its PUBREC) sends it again to the next client.
    this.#next[2] = [];
    this.#dropSocket();
    if (this.#phase != CLOSED) {
      this.#phase = CLOSED;
      this.#listeners.emit("close");
    }
    this.#finish(mqError("CLOSED", "the client was destroyed"));
  }

  // ---- the turn ----

  #scheduleFlush() {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    later(() =>
      act(() => {
        this.#flushScheduled = false;
        this.#pump();
      }),
    );
  }

  /** Drains the core: store ops, bytes, events (see the top of this file for the order). */
  #pump() {
    const { ops, bytes, events, timeout } = this.#core.poll();
    this.#deadline = timeout;
    if (!this.#store) ops.length = 0;
    if (this.#writing) {
      append(this.#next[0], ops);
      this.#next[1].push(bytes);
      append(this.#next[2], events);
    } else if (ops.length) {
      this.#startWrite(ops, [bytes], events);
    } else {
      this.#transmit([bytes]);
      this.#handleEvents(events);
    }
    this.#writePending();
    this.#armTimer();
    this.#settle();
  }

  #startWrite(ops, bytes, events) {
    this.#writing = true;
    this.#held = [bytes, events];
    this.#store.write(ops).then(
      () => act(() => this.#writeDone()),
      (e) => act(() => this.#writeDone(e)),
    );
  }

  #writeDone(error) {
    this.#writing = false;
    // The session on disk is behind; the one in memory is right. Carry on (a reload now may
    // repeat or lose what this write held) and tell the app.
    if (error) this.#listeners.emit("error", error);
    const [bytes, events] = this.#held;
    this.#held = [[], []];
    this.#transmit(bytes);
    this.#handleEvents(events);
    const [ops, nbytes, nevents] = this.#next;
    this.#next = [[], [], []];
    if (ops.length) this.#startWrite(ops, nbytes, nevents);
    else {
      this.#transmit(nbytes);
      this.#handleEvents(nevents);
    }
    this.#writePending();
    this.#armTimer();
    this.#settle();
    this.#unlockIfIdle();
  }

  /** After `finish`: lets the session's Web Lock go once no write of ours runs or waits, so the
   *  next client's transactions come after all of ours. */
  #unlockIfIdle() {
    if (this.#unlockPending && !this.#writing && !this.#next[0].length) {
      this.#unlockPending = false;
      if (this.#store) {
        // From now on another client may own the stored session: nothing more is written.
        this.#store.release();
        this.#store.close();
        this.#store = undefined;
      }
    }
  }

  /** Once nothing waits for IndexedDB: `persisted()` promises resolve and `end()` completes. */
  #settle() {
    if (this.#writing) return;
    for (const w of this.#persistedWaiters.splice(0)) call(w, []);
    if (this.#phase == CLOSED && this.#endWaiters.length) {
      this.#forceDrain();
      this.#finish(mqError("CLOSED", "the client was ended"));
    }
  }

  #armTimer() {
    if (this.#phase == CLOSED) return this.#timer.cancel();
    // Chrome throttles timers in hidden tabs hard only for chains nested five deep: a timer armed
    // in a timer task is armed afresh by the next other task (the WebSocket message that brought
    // PINGRESP, say), so the chain never grows past two. A late timer is harmless anyway.
    if (!this.#inTimerTask && this.#armedInTimerTask) this.#timer.cancel();
    const created = this.#timer.set(now(), this.#deadline, () =>
      act(() => {
        this.#inTimerTask = true;
        try {
          this.#timer.fired();
          this.#core.handleTimeout(now());
          this.#pump();
        } finally {
          this.#inTimerTask = false;
        }
      }),
    );
    if (created) this.#armedInTimerTask = this.#inTimerTask;
  }

  // ---- sending ----

  #transmit(chunks) {
    if (!this.#open) return;
    for (const c of chunks) if (c.length) this.#sendBuf.push(c);
    this.#drain();
  }

  /** Sends what waits, as one frame, unless the WebSocket already holds more than HIGH_WATER. */
  #drain() {
    if (!this.#ws || !this.#open || !this.#sendBuf.length) return;
    if (this.#ws.bufferedAmount > HIGH_WATER) {
      if (!this.#drainTimer.armed) {
        this.#drainTimer.setMs(DRAIN_POLL_MS, () =>
          act(() => {
            this.#drainTimer.fired();
            this.#drain();
          }),
        );
      }
      return;
    }
    this.#sendNow();
  }

  #sendNow() {
    const chunks = this.#sendBuf;
    this.#sendBuf = [];
    let frame = chunks[0];
    if (chunks.length > 1) {
      frame = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const c of chunks) frame.set(c, (at += c.length) - c.length);
    }
    try {
      this.#ws.send(frame);
    } catch {
      // The socket is closing: its close event follows and the core resends.
    }
  }

  /** Hands everything to the WebSocket regardless of its buffer (before closing it). */
  #forceDrain() {
    if (this.#ws && this.#open && this.#ws.readyState == 1 && this.#sendBuf.length) this.#sendNow();
  }

  get #buffered() {
    return (this.#ws ? this.#ws.bufferedAmount : 0) + this.#sendBuf.reduce((n, c) => n + c.length, 0);
  }

  // ---- events ----

  /** Hands events to the app, right after `transmit` gave the WebSocket the bytes that came with
   *  them. What the core then records about the QoS 2 messages handed over goes into the next
   *  write (`writePending`): listeners run after this, and a transaction opened in this task
   *  commits only after them. */
  #handleEvents(events) {
    // Their PUBRECs reached the WebSocket, unless they wait in sendBuf or the socket is gone
    // (then the record must say the app has the message).
    const pubrecSent = this.#open && !this.#sendBuf.length;
    let marked = false;
    for (const e of events) {
      if (e.type == "message" && e.qos == 2) marked = this.#core.handleDelivered(e.pkid, pubrecSent) || marked;
      this.#handleEvent(e);
    }
    if (marked) {
      const ops = this.#core.pollStore();
      if (this.#store) append(this.#next[0], ops);
    }
  }

  /** Store ops left in `next` while nothing is being written: written now, after all before them. */
  #writePending() {
    if (!this.#writing && this.#next[0].length) {
      const [ops, bytes, events] = this.#next;
      this.#next = [[], [], []];
      this.#startWrite(ops, bytes, events);
    }
  }

  #handleEvent(e) {
    switch (e.type) {
      case "connected": {
        // end() was called while this CONNACK waited for a store write: stay closed.
        if (this.#closed) break;
        this.#phase = CONNECTED;
        this.#connectedAt = now();
        this.#offlineEmitted = false;
        this.#retryTimer.cancel();
        const w = this.#waiter;
        this.#waiter = undefined;
        if (w) call(w.resolve, [this]);
        this.#listeners.emit("connect", { sessionPresent: e.sessionPresent });
        break;
      }
      case "disconnected":
        if (e.requested) this.#forceDrain();
        this.#connectionEnded(e.error, e.retryable);
        break;
      case "message":
        // Listeners get (topic, payload, { qos, retain, dup }); messages() streams
        // { topic, payload, qos, retain }, the same payload object.
        this.#listeners.emit("message", e.topic, e.payload, { qos: e.qos, retain: e.retain, dup: e.dup });
        this.#streams.push({ topic: e.topic, payload: e.payload, qos: e.qos, retain: e.retain });
        break;
      default: {
        // published, subscribed, unsubscribed
        const p = this.#requests.get(e.id);
        this.#requests.delete(e.id);
        if (p) {
          call(p.resolve, e.type == "subscribed" ? [p.filters.slice(0, e.codes.length).map((topic, i) => ({ topic, qos: e.codes[i] }))] : []);
        }
        const info = this.#restored.get(e.id);
        if (info) {
          this.#restored.delete(e.id);
          this.#listeners.emit("restored", info);
        }
      }
    }
  }

  // ---- the connection's life and the reconnect policy ----

  /** Opens a WebSocket (the first time and on every reconnect). */
  #openSocket() {
    let ws;
    try {
      ws = new WebSocket(this.#url, "mqtt");
    } catch (e) {
      throw wrap("INVALID_URL", "cannot open a WebSocket to " + this.#url, e);
    }
    ws.binaryType = "arraybuffer";
    // `error` is always followed by `close`, which carries what there is to know.
    ws.onopen = () => act(() => this.#onOpen());
    ws.onmessage = (m) => {
      // Text frames are not MQTT (the broker never sends one).
      if (m.data instanceof ArrayBuffer) act(() => this.#onData(new Uint8Array(m.data)));
    };
    ws.onclose = (c) => act(() => this.#onClose(c));
    this.#ws = ws;
    this.#open = false;
    this.#phase = CONNECTING;
    this.#lastAttempt = now();
    this.#openTimer.setMs(this.#connectTimeout, () =>
      act(() => {
        this.#openTimer.fired();
        if (this.#ws && !this.#open) {
          this.#dropSocket();
          this.#connectionEnded(mqError("TIMEOUT", "the WebSocket to " + this.#url + " did not open in time"), true);
        }
      }),
    );
  }

  #onOpen() {
    this.#openTimer.cancel();
    this.#open = true;
    // Bytes still waiting were meant for a connection that is gone.
    this.#held[0] = [];
    this.#next[1] = [];
    this.#sendBuf = [];
    this.#core.handleConnected(now());
    this.#pump();
  }

  #onData(data) {
    try {
      this.#core.handleBytes(now(), data);
    } catch (e) {
      // The core could not take the frame (no memory left for it): the stream is out of step,
      // so this connection ends; its close event takes the usual path.
      this.#listeners.emit("error", e);
      this.#ws.close();
      return;
    }
    this.#scheduleFlush();
  }

  #onClose(c) {
    const wasOpen = this.#open;
    this.#dropSocket();
    this.#openTimer.cancel();
    this.#core.handleClosed(now());
    this.#pump();
    if (!wasOpen) {
      const msg = "cannot connect to " + this.#url + " (WebSocket close code " + c.code + (c.reason ? ": " + c.reason : "") + ")";
      this.#connectionEnded(mqError("CONNECTION_FAILED", msg), true);
    }
  }

  #onOnline() {
    // Back online: try now rather than at the end of a long backoff, but never more often than
    // the minimum delay.
    const min = this.#reconnect ? this.#reconnect.min : 0;
    if (this.#phase == WAITING && (this.#lastAttempt === undefined || now() - this.#lastAttempt >= min)) {
      this.#retryTimer.cancel();
      this.#reconnectNow();
    }
  }

  #reconnectNow() {
    if (this.#phase != WAITING) return;
    // window.navigator.onLine; taken as true in a worker.
    const nav = globalThis.window && window.navigator;
    if (nav && nav.onLine === false) {
      // No network: wait for `online` (and look again after the longest delay).
      return this.#scheduleReconnect(true);
    }
    this.#listeners.emit("reconnect");
    try {
      this.#openSocket();
    } catch (e) {
      this.#connectionEnded(e, false);
    }
  }

  #scheduleReconnect(longest) {
    const b = this.#reconnect;
    if (!b) return;
    const delay = longest ? b.max : backoffDelay(b, this.#attempts++, Math.random());
    this.#phase = WAITING;
    this.#retryTimer.setMs(delay, () =>
      act(() => {
        this.#retryTimer.fired();
        this.#reconnectNow();
      }),
    );
  }

  /** A connection (or an attempt) ended: reconnect, or give up and reject what is pending. */
  #connectionEnded(err, retryable) {
    const wasConnected = this.#phase == CONNECTED;
    if (this.#closed) this.#forceDrain();
    this.#dropSocket();
    this.#timer.cancel();
    if (this.#connectedAt !== undefined) {
      if (now() - this.#connectedAt >= STABLE_MS) this.#attempts = 0;
      this.#connectedAt = undefined;
    }
    if (wasConnected || this.#closed) this.#listeners.emit("close");
    if (this.#closed) return; // end(): settle() finishes once the outbox is empty.
    if (this.#waiter) {
      // The first connect reports its failure rather than retrying behind the app's back.
      call(this.#waiter.reject, [err]);
      this.#waiter = undefined;
      this.#finish(err);
      return;
    }
    if (!this.#offlineEmitted) {
      this.#offlineEmitted = true;
      this.#listeners.emit("offline");
    }
    if (!retryable || !this.#reconnect) {
      this.#listeners.emit("error", err);
      this.#finish(err);
      return;
    }
    if (err.code != "CONNECTION_LOST" && err.code != "CONNECTION_FAILED") this.#listeners.emit("error", err);
    this.#scheduleReconnect(false);
  }

  #dropSocket() {
    this.#open = false;
    this.#drainTimer.cancel();
    const ws = this.#ws;
    this.#ws = undefined;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      if (ws.readyState < 2) ws.close();
    }
  }

  /** Stops everything and settles what is pending with `err`. */
  #finish(err) {
    this.#phase = CLOSED;
    this.#dropSocket();
    // The next client may take the stored session once our writes are done.
    this.#unlockPending = true;
    this.#unlockIfIdle();
    for (const t of [this.#timer, this.#retryTimer, this.#openTimer, this.#drainTimer]) t.cancel();
    for (const off of this.#page.splice(0)) off();
    // In request order.
    for (const p of this.#requests.values()) call(p.reject, [err]);
    this.#requests.clear();
    this.#streams.closeAll();
    if (this.#waiter) call(this.#waiter.reject, [err]);
    this.#waiter = undefined;
    for (const w of this.#persistedWaiters.splice(0).concat(this.#endWaiters.splice(0))) call(w, []);
  }

  // ---- connecting ----

  /** Options, then (IndexedDB sessions) the stored session, then the driver and its WebSocket.
   *  Settles after CONNACK 0 with the client, or with the reason; never before it returns. */
  static async #start(url, options) {
    const opts = checked(() => connectOptions(options));
    if (url instanceof URL) url = url.href;
    if (typeof url != "string" || !(url.startsWith("ws://") || url.startsWith("wss://"))) {
      throw mqError("INVALID_URL", "the URL must start with ws:// or wss://");
    }
    const clientId = opts.config.clientId;
    // The Web Lock is asked for in connect's own turn: a clearSession or connect issued after
    // this one waits for this client to let go.
    const lock = opts.session == "indexeddb" ? takeLock(lockName(url, clientId), LOCK_WAIT_MS) : undefined;
    let core;
    let store;
    let restored = [];
    try {
      await load();
      // The configuration's own checks (client id, will topic, ...), before anything is opened.
      new Core(opts.config, []).free();
      if (!lock) {
        core = new Core(opts.config, []);
      } else {
        const release = await lock;
        if (!release) throw locked();
        store = await IdbStore.open(url, clientId);
        const records = await store.load();
        restored = restoredInfo(describeRecords(records));
        core = new Core(opts.config, records);
        store.release = release;
      }
    } catch (e) {
      if (store) store.close();
      if (lock) lock.then((release) => release && release());
      throw e;
    }
    return new Promise((resolve, reject) => {
      const d = new MqttClient(TOKEN, url, opts, core, store);
      for (const r of restored) d.#restored.set(r.id, r);
      d.#waiter = { resolve, reject };
      act(() => {
        try {
          d.#openSocket();
        } catch (e) {
          // This error, not the one destroy() gives what is pending.
          d.#waiter = undefined;
          d.#destroy();
          reject(e);
        }
      });
    });
  }

  /** A command's promise: `read` reads the arguments first (it may run the caller's code, which
   *  may even close the client), then `run` hands them to the core; rejects at once if the
   *  client is closed or the arguments or the core refuse it. */
  #command(read, run) {
    return new Promise((resolve, reject) => {
      let args;
      let error;
      try {
        args = checked(read);
      } catch (e) {
        error = e;
      }
      if (this.#closed) return reject(mqError("CLOSED", "the client is closed"));
      if (error) return reject(error);
      try {
        run(args, resolve, reject);
      } catch (e) {
        reject(e);
      }
    });
  }

  // ---- the public API ----

  /** Connects; resolves after CONNACK 0 with the client, rejects with the reason otherwise. */
  static connect(url, options) {
    return MqttClient.#start(url, options);
  }

  /** Deletes the session stored in IndexedDB for this broker URL and client id. */
  static async clearSession(url, clientId) {
    sessionArgs(url, clientId);
    const release = await takeLock(lockName(url, clientId), LOCK_WAIT_MS);
    if (!release) throw locked();
    try {
      const store = await IdbStore.open(url, clientId);
      try {
        await store.clear();
      } finally {
        store.close();
      }
    } finally {
      release();
    }
  }

  /** The session stored in IndexedDB for this broker URL and client id, read without connecting. */
  static async storedSession(url, clientId) {
    sessionArgs(url, clientId);
    await load();
    const store = await IdbStore.open(url, clientId);
    try {
      return describeRecords(await store.load());
    } finally {
      store.close();
    }
  }

  /** QoS 0 resolves once sent or queued, QoS 1 on PUBACK, QoS 2 on PUBCOMP. */
  publish(topic, payload, options) {
    return this.#command(
      () => {
        if (typeof topic != "string") throw invalid("topic must be a string");
        return [bytes(payload, "payload"), ...publishOptions(options)];
      },
      ([data, qos, retain], resolve, reject) =>
        this.#track(this.#core.publish(now(), topic, data, qos, retain), { resolve, reject }),
    );
  }

  /** Resolves with `[{ topic, qos }]`, qos 128 for a filter the broker refused. */
  subscribe(topicsArg, options) {
    return this.#command(
      () => [topics(topicsArg), subscribeQos(options)],
      ([filters, qos], resolve, reject) =>
        this.#track(
          this.#core.subscribe(
            now(),
            filters.map((f) => [f, qos]),
          ),
          { resolve, reject, filters },
        ),
    );
  }

  unsubscribe(topicsArg) {
    return this.#command(
      () => topics(topicsArg),
      (filters, resolve, reject) => this.#track(this.#core.unsubscribe(now(), filters), { resolve, reject }),
    );
  }

  /** Adds a listener: "message" (topic, payload, { qos, retain, dup }), "connect"
   *  ({ sessionPresent }), "reconnect", "offline", "close", "error" (err), "restored". */
  on(event, handler) {
    if (!EVENTS.includes(event)) throw invalid('unknown event "' + event + '"');
    if (typeof handler != "function") throw invalid("handler must be a function");
    this.#listeners.on(event, handler);
  }

  off(event, handler) {
    this.#listeners.off(event, handler);
  }

  /** An async iterator over the messages that arrive from now on. */
  messages() {
    const s = this.#streams.add();
    if (this.#closed) this.#streams.closeAll();
    return s;
  }

  /** Sends DISCONNECT and closes. Pending requests reject with CLOSED; a stored session stays. */
  end() {
    return new Promise((resolve) => act(() => this.#end(resolve)));
  }

  /** Closes without DISCONNECT, like a crash: the broker publishes the will, and the stored
   *  session is resumed by the next client with the same URL and id. */
  destroy() {
    act(() => this.#destroy());
  }

  /** Resolves once everything issued so far is stored (IndexedDB sessions). */
  persisted() {
    return new Promise((resolve) => {
      if (this.#closed) resolve();
      else this.#whenPersisted(resolve);
    });
  }

  get connected() {
    return this.#core.connected && !this.#closed;
  }

  get clientId() {
    return this.#core.clientId;
  }

  /** Requests restored from IndexedDB that have not completed yet. */
  get restored() {
    return [...this.#restored.values()];
  }

  /** The session as it stands: in-flight and queued messages, incoming QoS 2 packet ids and
   *  subscriptions (for an IndexedDB session, what the store holds once persisted() resolved). */
  session() {
    return describeRecords(this.#core.records());
  }

  /** Bytes waiting to go out (in the WebSocket and in the client). */
  get bufferedAmount() {
    return this.#buffered;
  }
}
