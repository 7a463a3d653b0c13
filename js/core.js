// The npm package's wasm core (src/npm/: proto::Client and the codec behind plain C-ABI
// exports), loaded and wrapped as the Core class of core.d.ts. No dependencies; the module
// imports nothing. The binary layout of the calls is described in src/npm/mod.rs and out.rs.

let x, loading;
const MAX_PACKET = 268435460;
// Bytes from the network go to the core in pieces of at most this size: its input buffer stays
// small whatever size a WebSocket frame has.
const CHUNK = 65536;
const te = new TextEncoder(), td = new TextDecoder();
// A lone surrogate: TextEncoder would silently make it U+FFFD.
const lone = /\p{Cs}/u;
// Bytes that are not UTF-8, for a string with a lone surrogate: the core refuses them with the
// error of the field they were meant for (INVALID_TOPIC for a topic, say).
const BAD = Uint8Array.of(0xff);

const coreError = (code, message, returnCode) => {
  const e = new Error(message);
  e.code = code;
  if (returnCode) e.returnCode = returnCode;
  return e;
};

const need = () => {
  if (!x) throw coreError("CLOSED", "the wasm core is not loaded: await load() first");
};

const invalid = (what) => coreError("INVALID_ARGUMENT", what + " was expected");
// The last string encoded and its bytes: an app publishes to the same few topics over and over,
// and encoding is a good part of a publish's cost. The bytes are only ever read.
let lastS = "", lastB = new Uint8Array(0);
const str = (s) => {
  if (typeof s != "string") throw invalid("a string");
  if (s !== lastS) {
    lastB = (s.isWellFormed ? !s.isWellFormed() : lone.test(s)) ? BAD : te.encode(s);
    lastS = s;
  }
  return lastB;
};
// The same for the topics of incoming messages: the last topic's bytes and its string.
let lastT = new Uint8Array(0), lastTS = "";
const topic = (v) => {
  if (v.length != lastT.length || v.some((b, i) => b != lastT[i])) {
    lastTS = td.decode(v);
    lastT = v.slice();
  }
  return lastTS;
};
const arr = (a) => {
  if (!Array.isArray(a)) throw invalid("an array");
  return a;
};

// The output buffer of the last call, read in order.
function reader() {
  const b = x.memory.buffer, p = x.mq_out(), n = x.mq_out_len(), v = new DataView(b, p, n);
  let i = 0;
  const r = {
    more: () => i < n,
    u8: () => v.getUint8(i++),
    u16: () => ((i += 2), v.getUint16(i - 2, true)),
    f64: () => ((i += 8), v.getFloat64(i - 8, true)),
    view: () => {
      const l = v.getUint32(i, true);
      i += 4 + l;
      return new Uint8Array(b, p + i - l, l);
    },
    bytes: () => r.view().slice(),
    str: () => td.decode(r.view()),
  };
  return r;
}

// Writes the parts of a call into the input buffer: a Uint8Array (a field), null or undefined
// (an absent field), a number (an f64). Then calls f(...args); a result < 0 is an error.
function call(f, parts, ...args) {
  need();
  let n = 0;
  for (const p of parts) {
    if (typeof p == "number") n += 8;
    else if (p == null) n += 4;
    else if (p instanceof Uint8Array) {
      // Nothing in MQTT is larger (a packet's whole size): refused before it takes memory.
      if (p.length > MAX_PACKET) throw coreError("TOO_LARGE", "more than " + MAX_PACKET + " bytes");
      n += 4 + p.length;
    }
    else throw invalid("a Uint8Array");
  }
  const at = x.mq_in(n);
  if (!at && n) throw coreError("TOO_LARGE", "out of memory");
  const b = x.memory.buffer, v = new DataView(b, at, n), u = new Uint8Array(b, at, n);
  let i = 0;
  for (const p of parts) {
    if (typeof p == "number") {
      v.setFloat64(i, p, true);
      i += 8;
    } else {
      v.setUint32(i, p ? p.length : -1, true);
      i += 4;
      if (p) {
        u.set(p, i);
        i += p.length;
      }
    }
  }
  const r = f(...args);
  if (r < 0) {
    const o = reader();
    throw coreError(o.str(), o.str(), o.u8());
  }
  return r;
}

// The first module loaded stays: handles live in it (an initSync during a load, say).
function ready(instance) {
  x ??= instance.exports;
}

// A failure to load as a CoreError, the original as its cause.
const loadError = (code, e) => {
  const err = coreError(code, "loading the wasm core failed: " + ((e && e.message) || e));
  err.cause = e;
  return err;
};

/** See core.d.ts. Failures: CONNECTION_FAILED (fetching), INVALID_ARGUMENT (not the module). */
export function load(input) {
  return (loading ??= (async () => {
    if (input && typeof input == "object" && "module_or_path" in input) input = input.module_or_path;
    input ??= new URL("./mq_bg.wasm", import.meta.url);
    try {
      if (typeof input == "string" || input instanceof URL || (typeof Request == "function" && input instanceof Request)) {
        input = fetch(input);
      }
      input = await input;
      if (typeof Response == "function" && input instanceof Response) {
        if (!input.ok) throw new Error("HTTP " + input.status);
        if (WebAssembly.instantiateStreaming) {
          try {
            return ready((await WebAssembly.instantiateStreaming(input.clone(), {})).instance);
          } catch {
            // A server that does not say application/wasm: compile from the bytes instead.
          }
        }
        input = await input.arrayBuffer();
      }
    } catch (e) {
      throw loadError("CONNECTION_FAILED", e);
    }
    try {
      const r = await WebAssembly.instantiate(input, {});
      ready(r.instance || r);
    } catch (e) {
      throw loadError("INVALID_ARGUMENT", e);
    }
  })().catch((e) => {
    loading = undefined;
    throw e;
  }));
}

/** See core.d.ts. Throws INVALID_ARGUMENT for what is not the module. */
export function loadSync(input) {
  if (x) return;
  if (input && typeof input == "object" && "module" in input) input = input.module;
  try {
    const m = input instanceof WebAssembly.Module ? input : new WebAssembly.Module(input);
    ready(new WebAssembly.Instance(m, {}));
  } catch (e) {
    throw loadError("INVALID_ARGUMENT", e);
  }
  loading ??= Promise.resolve();
}

export const isLoaded = () => !!x;

// Store ops, bytes, events and the timeout from a poll's output.
function polled() {
  const r = reader(), ops = [], events = [];
  let bytes = new Uint8Array(0), timeout;
  while (r.more()) {
    const t = String.fromCharCode(r.u8());
    if (t == "P") ops.push({ key: r.str(), value: r.bytes() });
    else if (t == "D") ops.push({ key: r.str() });
    else if (t == "B") bytes = r.bytes();
    else if (t == "c") events.push({ type: "connected", sessionPresent: !!r.u8() });
    else if (t == "d") {
      const error = coreError(r.str(), r.str(), r.u8());
      events.push({ type: "disconnected", error, retryable: !!r.u8(), requested: !!r.u8() });
    } else if (t == "m") {
      const t = topic(r.view()), payload = r.bytes(), f = r.u8();
      events.push({ type: "message", topic: t, payload, qos: f & 3, retain: !!(f & 4), dup: !!(f & 8), pkid: r.u16() });
    } else if (t == "p") events.push({ type: "published", id: r.f64() });
    else if (t == "s") events.push({ type: "subscribed", id: r.f64(), codes: [...r.view()] });
    else if (t == "u") events.push({ type: "unsubscribed", id: r.f64() });
    else timeout = r.f64();
  }
  return { ops, bytes, events, timeout };
}

const fields = () => {
  const r = reader(), out = [];
  while (r.more()) out.push(r.bytes());
  return out;
};

export class Core {
  #h = 0;

  constructor(config, records = []) {
    const c = config || {}, w = c.will;
    const parts = [str(c.clientId), c.username == null ? null : str(c.username), c.password ?? null];
    parts.push(w ? str(w.topic) : null, w ? w.payload : null, ...arr(records));
    this.#h = call(
      x && x.mq_new, parts,
      c.clean ? 1 : 0, c.keepalive, c.pingTimeout ?? -1, c.connectTimeout,
      c.maxInflight, c.maxQueued, c.maxPacketSize, w ? w.qos : 0, w && w.retain ? 1 : 0,
    );
  }

  #call(name, parts, ...args) {
    need();
    return call(x[name], parts, this.#h, ...args);
  }

  free() {
    if (x && this.#h) x.mq_free(this.#h);
    this.#h = 0;
  }

  get connected() {
    return !!this.#call("mq_get", [], 0);
  }
  get inflight() {
    return this.#call("mq_get", [], 1);
  }
  get queued() {
    return this.#call("mq_get", [], 2);
  }
  get clientId() {
    this.#call("mq_get", [], 3);
    return td.decode(new Uint8Array(x.memory.buffer, x.mq_out(), x.mq_out_len()));
  }

  handleConnected(now) {
    this.#call("mq_input", [], 0, now);
  }
  handleBytes(now, data) {
    if (!(data instanceof Uint8Array)) throw invalid("a Uint8Array");
    for (let i = 0; i < data.length || i == 0; i += CHUNK) {
      this.#call("mq_input", [data.subarray(i, i + CHUNK)], 1, now);
    }
  }
  handleTimeout(now) {
    this.#call("mq_input", [], 2, now);
  }
  handleClosed(now) {
    this.#call("mq_input", [], 3, now);
  }
  disconnect(now) {
    this.#call("mq_input", [], 4, now);
  }
  handleDelivered(pkid, pubrecSent) {
    return !!this.#call("mq_delivered", [], pkid, pubrecSent ? 1 : 0);
  }

  publish(now, topic, payload, qos, retain) {
    return this.#call("mq_publish", [str(topic), payload], now, qos, retain ? 1 : 0);
  }
  subscribe(now, filters) {
    const parts = [];
    for (const e of arr(filters)) {
      const [f, q] = arr(e);
      parts.push(str(f), typeof q == "number" ? q : NaN);
    }
    return this.#call("mq_subscribe", parts, now);
  }
  unsubscribe(now, filters) {
    return this.#call("mq_unsubscribe", arr(filters).map(str), now);
  }

  poll() {
    this.#call("mq_poll", [], 0);
    return polled();
  }
  pollStore() {
    this.#call("mq_poll", [], 1);
    return polled().ops;
  }
  records() {
    this.#call("mq_records", []);
    return fields();
  }
}

/** See core.d.ts. */
export function describeRecords(records) {
  call(x && x.mq_describe, arr(records));
  const r = reader(), view = { inflight: [], queued: [], incoming: [], subscriptions: [] };
  while (r.more()) {
    const t = String.fromCharCode(r.u8());
    if (t == "O") {
      const id = r.f64(), pkid = r.u16(), qos = r.u8();
      view.inflight.push({ id, pkid, qos, state: "sent", topic: r.str(), payload: r.bytes(), retain: !!r.u8() });
    } else if (t == "R") view.inflight.push({ id: r.f64(), pkid: r.u16(), qos: 2, state: "released" });
    else if (t == "I") view.incoming.push(r.u16());
    else if (t == "Q") {
      const id = r.f64(), qos = r.u8();
      view.queued.push({ id, qos, topic: r.str(), payload: r.bytes(), retain: !!r.u8() });
    } else view.subscriptions.push({ topic: r.str(), qos: r.u8() });
  }
  return view;
}
