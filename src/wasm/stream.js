// The one piece of the browser driver that Rust cannot say: the async iterators of
// `MqttClient.messages()` (an object with [Symbol.asyncIterator]). The driver (src/wasm/events.rs)
// holds one `Streams` per client, adds an iterator per `messages()` call, pushes each message and
// ends them all when the client closes. An iterator the app dropped is held weakly and skipped.
const Weak = typeof WeakRef == "function" ? WeakRef : class { constructor(o) { this.o = o; } deref() { return this.o; } };
const step = (value, done) => ({ value, done });

export class Streams {
  constructor() { this.list = []; }
  add() {
    let buf = [], done = false;
    const waiters = [];
    const end = () => { done = true; for (const w of waiters.splice(0)) w(step(undefined, true)); };
    const it = {
      next: () => buf.length ? Promise.resolve(step(buf.shift(), false))
        : done ? Promise.resolve(step(undefined, true)) : new Promise((r) => waiters.push(r)),
      return: () => { buf = []; end(); return Promise.resolve(step(undefined, true)); },
      [Symbol.asyncIterator]() { return this; },
    };
    const push = (m) => { const w = waiters.shift(); if (w) w(step(m, false)); else buf.push(m); };
    this.list.push({ ref: new Weak(it), push, end, live: () => !done });
    return it;
  }
  /** Whether any iterator may still read (the driver builds message objects only then). */
  active() {
    for (let i = this.list.length; i--;) if (!this.list[i].ref.deref() || !this.list[i].live()) this.list.splice(i, 1);
    return this.list.length > 0;
  }
  push(m) { for (const s of this.list) s.push(m); }
  end() { for (const s of this.list.splice(0)) s.end(); }
}
