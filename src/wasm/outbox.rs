//! The outbox: the driver's IndexedDB writes, and the bytes and events each holds back until it
//! committed (see the driver's module docs for the order). One transaction of a client runs at a
//! time; the turns that make store ops meanwhile gather theirs into the next (a group commit).

use super::driver::{act, Driver, Phase};
use super::error::js_error;
use super::events::queue;
use super::idb::write_error;
use crate::proto::log::{log_op, LogOp};
use crate::proto::{ErrorCode, Event, StoreOp};
use js_sys::Function;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// A store write, and what it holds back until it committed.
#[derive(Default)]
pub(super) struct Held {
    /// The ops not yet given to IndexedDB: they wait while [`RUNNING`] transactions are.
    pub ops: Vec<LogOp>,
    /// A transaction holds this write's ops.
    pub issued: bool,
    pub bytes: Vec<u8>,
    pub events: Vec<Event>,
    /// Called once this write committed (`when_written`).
    pub waiters: Vec<Function>,
}

/// How many IndexedDB transactions of one client run at a time. The turns that make store ops
/// while they run share the next one (a group commit): in Chromium a transaction costs about a
/// millisecond however little it holds, and with one per turn (a WebSocket frame each) a QoS 1
/// stream of 64 B messages at a window of 100 made 1,300 to 3,700 transactions for 10,000
/// messages, which queued up to commit latencies of 14-49 ms (medians; bench/browser/bench.mjs
/// with MQ_BENCH_IDBSTATS=1). Two at a time doubled each one's commit latency (QoS 1 medians
/// 2.8 ms against 1.0 ms in the same rounds) and gained nothing.
const RUNNING: usize = 1;

impl Driver {
    /// Resolves `resolve` once everything issued so far is in IndexedDB.
    pub fn when_persisted(&mut self, resolve: Function) {
        self.persisted_waiters.push(resolve);
        self.schedule_flush();
    }

    /// Calls `f` once the store writes made so far committed (at once when there are none):
    /// after a command's pump, once what it stored is in IndexedDB (wasm/share/).
    pub fn when_written(&mut self, f: Function) {
        match self.writes.last_mut() {
            Some(last) => last.waiters.push(f),
            None => queue(&f, &[]),
        }
    }

    /// Puts (`Some`) or deletes one of the driver's own records: written with the store ops of
    /// the next pump, in the same transaction (a command's, when called right after it).
    pub fn side_op(&mut self, key: String, value: Option<Vec<u8>>) {
        self.side.apply(&key, value.as_deref());
        self.side_ops.push((key, value));
    }

    /// Adds a turn's ops (and the bytes and events they protect) to the write that gathers
    /// them, and starts it if fewer than [`RUNNING`] transactions are in flight.
    pub(super) fn start_write(&mut self, ops: Vec<LogOp>, bytes: Vec<u8>, events: Vec<Event>) {
        if self.store.is_none() {
            self.transmit(bytes);
            self.handle_events(events);
            return;
        }
        match self.writes.last_mut() {
            Some(last) if !last.issued => {
                last.ops.extend(ops);
                last.bytes.extend(bytes);
                last.events.extend(events);
            }
            _ => self.writes.push(Held { ops, bytes, events, ..Held::default() }),
        }
        self.issue_writes();
    }

    /// Gives IndexedDB the gathered write, unless [`RUNNING`] transactions are in flight.
    pub(super) fn issue_writes(&mut self) {
        let running = self.writes.iter().take_while(|h| h.issued).count();
        let (Some(held), Some(store)) = (self.writes.get_mut(running), self.store.clone()) else { return };
        if running >= RUNNING {
            return;
        }
        held.issued = true;
        let ops = core::mem::take(&mut held.ops);
        let w = self.me.clone();
        // The requests are issued now; only their commit is awaited (no driver borrow held).
        let mut store = store.borrow_mut();
        let issued = if store.wants_snapshot() {
            // The whole session as the core has it (every op so far applied), and the driver's
            // own records, replacing the log.
            let mut all: Vec<LogOp> =
                self.core.session_records().into_iter().map(|r| log_op(&StoreOp::Put(r))).collect();
            all.extend(self.side.entries().iter().map(|(k, v)| (k.clone(), Some(v.clone()))));
            store.write(&all, true)
        } else {
            store.write(&ops, false)
        };
        drop(store);
        // The driver lives until its writes are done, whoever else lets it go: `write_done`
        // starts the next one and, once none is left after `finish`, lets the session's lock go.
        let keep = self.me.upgrade();
        wasm_bindgen_futures::spawn_local(Box::pin(async move {
            let r = match issued {
                Ok((tx, done)) => JsFuture::from(done).await.map(drop).map_err(|e| write_error(&tx, e)),
                Err(e) => Err(e),
            };
            act(&w, |d| d.write_done(r));
            drop(keep);
        }));
    }

    /// The oldest write in flight committed (they complete in the order they were made).
    pub(super) fn write_done(&mut self, result: Result<(), JsValue>) {
        let stored = result.is_ok();
        if let Err(e) = result {
            // The session on disk is behind; the one in memory is right. Carry on (a reload now
            // may repeat or lose what this write held) and tell the app.
            self.listeners.emit("error", &[e]);
        }
        if self.writes.first().is_some_and(|h| h.issued) {
            let held = self.writes.remove(0);
            self.issue_writes();
            if stored {
                for w in &held.waiters {
                    queue(w, &[]);
                }
            }
            self.transmit(held.bytes);
            self.handle_events(held.events);
        }
        self.write_pending();
        self.arm_timer();
        self.settle();
        self.unlock_if_idle();
    }

    /// After `finish`: lets the session's Web Lock go once no write of ours is running or
    /// waiting, so the next client's transactions come after all of ours.
    pub(super) fn unlock_if_idle(&mut self) {
        if self.unlock_pending && self.writes.is_empty() && self.marks.is_empty() {
            self.unlock_pending = false;
            // From now on another client may own the stored session: nothing more is written.
            if let Some(store) = self.store.take() {
                let mut store = store.borrow_mut();
                store.unlock();
                store.close();
            }
        }
    }

    /// Once nothing waits for IndexedDB: `persisted()` promises resolve and `end()` completes.
    pub(super) fn settle(&mut self) {
        if !self.writes.is_empty() {
            return;
        }
        for w in self.persisted_waiters.drain(..) {
            queue(&w, &[]);
        }
        if self.phase == Phase::Closed && !self.end_waiters.is_empty() {
            self.force_drain();
            self.finish(&js_error(ErrorCode::Closed, "the client was ended"));
        }
    }

    /// The marks made while handing events over: written now, in a transaction after every one
    /// made before (the core made them after those ops).
    pub(super) fn write_pending(&mut self) {
        if !self.marks.is_empty() {
            let ops = std::mem::take(&mut self.marks);
            self.start_write(ops, Vec::new(), Vec::new());
        }
    }
}
