// The one piece of the browser driver that Rust cannot say: the async iterators of
// `MqttClient.messages()` (an object with [Symbol.asyncIterator]). The driver (src/wasm/events.rs)
// holds one `Streams` per client, adds an iterator per `messages()` call, pushes each message and
// ends them all when the client closes. An iterator the app dropped is held weakly and skipped.
//
// Each iterator keeps at most `size` unread messages. Past that, with `pause`, a QoS 1/2 message
// is kept and the iterator is `full`: the driver then holds back acknowledgements, so the broker
// stops after its in-flight window; a QoS 0 message replaces the oldest QoS 0 one (or is
// dropped). Without `pause` ("dropOldest") the oldest message goes. `dropped` counts both.
// `drained` (from the driver) is called when a full iterator is read below `size` or ends.
const Weak = typeof WeakRef == "function" ? WeakRef : class { constructor(o) { this.o = o; } deref() { return this.o; } };
const step = (value, done) => ({ value, done });

export class Streams {
  constructor(drained) { this.list = []; this.drained = drained; }
  add(size, pause) {
    let buf = [], done = false, full = false;
    const waiters = [];
    const end = () => { done = true; for (const w of waiters.splice(0)) w(step(undefined, true)); };
    const drained = () => { if (full && buf.length < size) { full = false; this.drained(); } };
    const it = {
      dropped: 0,
      get buffered() { return buf.length; },
      next: () => {
        if (!buf.length) return done ? Promise.resolve(step(undefined, true)) : new Promise((r) => waiters.push(r));
        const m = buf.shift();
        drained();
        return Promise.resolve(step(m, false));
      },
      return: () => { buf = []; end(); drained(); return Promise.resolve(step(undefined, true)); },
      [Symbol.asyncIterator]() { return this; },
    };
    const push = (m) => {
      const w = waiters.shift();
      if (w) return w(step(m, false));
      if (buf.length >= size) {
        const i = !pause ? 0 : m.qos ? -1 : buf.findIndex((x) => !x.qos);
        if (i >= 0) buf.splice(i, 1);
        if (i >= 0 || !m.qos) it.dropped++;
        if (i < 0 && !m.qos) return;
      }
      buf.push(m);
      if (pause && buf.length >= size) full = true;
    };
    this.list.push({ ref: new Weak(it), push, end, live: () => !done, full: () => full });
    return it;
  }
  /** Whether any iterator may still read (the driver builds message objects only then). */
  active() {
    for (let i = this.list.length; i--;) if (!this.list[i].ref.deref() || !this.list[i].live()) this.list.splice(i, 1);
    return this.list.length > 0;
  }
  /** Whether an iterator with `pause` holds `size` unread messages or more. */
  full() { return this.active() && this.list.some((s) => s.full()); }
  push(m) { for (const s of this.list) s.push(m); }
  /** The client closed: its driver (and the `drained` callback) may go; what is buffered stays readable. */
  end() { this.drained = () => {}; for (const s of this.list.splice(0)) s.end(); }
}
