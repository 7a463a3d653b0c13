//! The connection task: owns the sans-IO core, the transport, the timer and the session store.
//!
//! After every input (bytes, a command, the timer, the transport closing) it drains the core's
//! outputs in order: `poll_store` (one batch applied to the session store, durable *before*
//! anything it protects is written), `poll_transmit` (queued for the socket), `poll_timeout`
//! (the next `sleep_until`), `poll_event` (a waiter's oneshot completed, a message pushed to the
//! stream).

use super::client::{Counters, State};
use super::reconnect::Jitter;
use super::transport::{self, BoxStream};
use super::{Error, Options, Overflow, SessionStore};
use crate::codec::{Publish, QoS, SubAckCode};
use crate::proto::{self, ConnectionError, Event, Instant, Message, RequestId};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};
use tokio::sync::{mpsc, oneshot, watch};

/// Commands taken in one go before the outputs are drained (batches the writes and fsyncs).
const COMMAND_BATCH: usize = 256;
const READ_BUFFER: usize = 64 * 1024;
/// How long a graceful disconnect may take to flush what is queued before DISCONNECT.
const CLOSE_FLUSH: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(crate) enum Command {
    Publish(Message, oneshot::Sender<Result<(), Error>>),
    Subscribe(Vec<(String, QoS)>, oneshot::Sender<Result<Vec<SubAckCode>, Error>>),
    Unsubscribe(Vec<String>, oneshot::Sender<Result<(), Error>>),
    Disconnect(oneshot::Sender<()>),
    Abort,
}

enum Waiter {
    Publish(oneshot::Sender<Result<(), Error>>),
    Subscribe(oneshot::Sender<Result<Vec<SubAckCode>, Error>>),
    Unsubscribe(oneshot::Sender<Result<(), Error>>),
}

impl Waiter {
    /// Completes the request with an error (nobody may be awaiting it any more).
    fn fail(self, e: Error) {
        match self {
            Waiter::Publish(tx) => {
                let _ = tx.send(Err(e));
            }
            Waiter::Subscribe(tx) => {
                let _ = tx.send(Err(e));
            }
            Waiter::Unsubscribe(tx) => {
                let _ = tx.send(Err(e));
            }
        }
    }
}

enum Stop {
    /// `disconnect()`, or every handle dropped (no reply then).
    Disconnect(Option<oneshot::Sender<()>>),
    Abort,
}

pub(crate) struct Driver {
    core: proto::Client,
    opts: Options,
    store: Option<Box<dyn SessionStore>>,
    /// The store operations of one input, applied as one batch.
    batch: Vec<proto::StoreOp>,
    cmds: mpsc::UnboundedReceiver<Command>,
    messages: mpsc::Sender<Publish>,
    /// Messages taken from the socket that did not fit in `messages` ([`Overflow::Pause`]):
    /// while any wait, the socket is not read.
    backlog: VecDeque<Publish>,
    restored: HashSet<RequestId>,
    restored_done: mpsc::UnboundedSender<RequestId>,
    waiters: HashMap<RequestId, Waiter>,
    state: watch::Sender<State>,
    /// The first connection's outcome, for `Client::connect`.
    ready: Option<oneshot::Sender<Result<bool, Error>>>,
    /// Bytes to write; `written` of them are already written.
    out: Vec<u8>,
    written: usize,
    lost: Option<ConnectionError>,
    stop: Option<Stop>,
    /// The store failed: nothing more may be sent.
    fatal: Option<Error>,
    attempt: u32,
    /// `Client::ignored_acks`, `Client::too_large`.
    counters: Arc<Counters>,
}

/// The origin of the core's instants in this process: the first reading of the clock.
static ORIGIN: OnceLock<std::time::Instant> = OnceLock::new();

fn origin() -> std::time::Instant {
    *ORIGIN.get_or_init(clock)
}

#[allow(clippy::disallowed_methods)] // The driver owns the clock; the core is given the time.
fn clock() -> std::time::Instant {
    std::time::Instant::now()
}

fn now() -> Instant {
    let origin = origin();
    Instant::from_duration(clock().saturating_duration_since(origin))
}

/// Resolves once the stream has room for the backlog (`None`: nobody reads it any more); never
/// while the backlog is empty. Borrows nothing (the future lives beside `&mut self` calls).
fn room(
    tx: &mpsc::Sender<Publish>,
    backlog: &VecDeque<Publish>,
) -> impl core::future::Future<Output = Option<mpsc::OwnedPermit<Publish>>> {
    let tx = (!backlog.is_empty()).then(|| tx.clone());
    async move {
        match tx {
            Some(tx) => tx.reserve_owned().await.ok(),
            None => core::future::pending().await,
        }
    }
}

/// A core instant on tokio's clock, for its timer.
fn tokio_instant(at: Instant) -> tokio::time::Instant {
    // A deadline past what std's clock can hold (a timeout of Duration::MAX, say) is "never":
    // about 30 years from now, as tokio itself does. Not the origin, which is in the past and
    // would wake the loop at once, forever.
    match origin().checked_add(at.as_duration()) {
        Some(t) => tokio::time::Instant::from_std(t),
        None => tokio::time::Instant::now() + Duration::from_secs(86_400 * 365 * 30),
    }
}

impl Driver {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        core: proto::Client,
        opts: Options,
        store: Option<Box<dyn SessionStore>>,
        cmds: mpsc::UnboundedReceiver<Command>,
        messages: mpsc::Sender<Publish>,
        restored_done: mpsc::UnboundedSender<RequestId>,
        state: watch::Sender<State>,
        ready: oneshot::Sender<Result<bool, Error>>,
    ) -> Driver {
        let restored = core.pending_requests().into_iter().collect();
        Driver {
            core,
            opts,
            store,
            batch: Vec::new(),
            cmds,
            messages,
            backlog: VecDeque::new(),
            restored,
            restored_done,
            waiters: HashMap::new(),
            state,
            ready: Some(ready),
            out: Vec::new(),
            written: 0,
            lost: None,
            stop: None,
            fatal: None,
            attempt: 0,
            counters: Arc::default(),
        }
    }

    /// Counts ignored acknowledgements and skipped messages in `counters`.
    pub(crate) fn counting(mut self, counters: Arc<Counters>) -> Driver {
        self.counters = counters;
        self
    }

    fn done(&self) -> bool {
        self.stop.is_some() || self.fatal.is_some()
    }

    pub(crate) async fn run(mut self) {
        let mut jitter = Jitter::new();
        let end = loop {
            let timeout = self.core.config().connect_timeout;
            let opts = self.opts.clone();
            let opened = {
                let open = tokio::time::timeout(timeout, transport::open(&opts));
                tokio::pin!(open);
                loop {
                    tokio::select! {
                        r = &mut open => break r.unwrap_or(Err(Error::Timeout)),
                        c = self.cmds.recv() => self.command(c),
                        p = room(&self.messages, &self.backlog) => self.feed(p),
                    }
                    if self.done() {
                        break Err(Error::Closed);
                    }
                }
            };
            if self.done() {
                break Error::Closed;
            }
            let error = match opened {
                Ok(stream) => {
                    let reason = self.session(stream).await;
                    if self.done() {
                        break Error::Closed;
                    }
                    let retry = reason.is_retryable();
                    let e = Error::Connection(reason);
                    if !retry {
                        break e;
                    }
                    e
                }
                Err(e) => e,
            };
            let policy = &self.opts.reconnect;
            let exhausted = policy.max_attempts.is_some_and(|m| self.attempt >= m);
            // A first connection that fails is reported by `connect`, not retried.
            if self.ready.is_some() || !policy.enabled || exhausted {
                break error;
            }
            let delay = policy.delay(self.attempt, jitter.next());
            self.attempt += 1;
            let _ = self.state.send(State::Reconnecting { error, attempt: self.attempt });
            let sleep = tokio::time::sleep(delay);
            tokio::pin!(sleep);
            while !self.done() {
                tokio::select! {
                    _ = &mut sleep => break,
                    c = self.cmds.recv() => self.command(c),
                    p = room(&self.messages, &self.backlog) => self.feed(p),
                }
            }
            if self.done() {
                break Error::Closed;
            }
        };
        // What the driver took from the socket still reaches the application, as it reads.
        let (backlog, messages) = (std::mem::take(&mut self.backlog), self.messages.clone());
        let counters = self.counters.clone();
        self.finish(end);
        for m in backlog {
            if messages.send(m).await.is_err() {
                break;
            }
            counters.backlog.fetch_sub(1, Ordering::Relaxed);
        }
        counters.backlog.store(0, Ordering::Relaxed);
    }

    /// Room in the stream (`None`: nobody reads it any more): moves the backlog into it as far
    /// as it goes.
    fn feed(&mut self, permit: Option<mpsc::OwnedPermit<Publish>>) {
        let Some(permit) = permit else {
            self.backlog.clear(); // The stream was dropped: nobody will read these.
            self.counters.backlog.store(0, Ordering::Relaxed);
            return;
        };
        if let Some(m) = self.backlog.pop_front() {
            permit.send(m);
        }
        while let Some(m) = self.backlog.pop_front() {
            if let Err(TrySendError::Full(m) | TrySendError::Closed(m)) = self.messages.try_send(m) {
                self.backlog.push_front(m);
                break;
            }
        }
        self.counters.backlog.store(self.backlog.len(), Ordering::Relaxed);
    }

    /// One connection, from the transport opening to its end; returns why it ended.
    async fn session(&mut self, stream: BoxStream) -> ConnectionError {
        let (mut rd, mut wr) = tokio::io::split(stream);
        let mut buf = vec![0u8; READ_BUFFER];
        self.out.clear();
        self.written = 0;
        self.lost = None;
        self.core.handle_connected(now());
        self.pump();
        // One timer for the connection, re-armed only when the core's deadline moves earlier:
        // the keepalive deadline moves later with every packet sent, and a timer that fires
        // early costs one spurious `handle_timeout` (which the core allows), while re-arming
        // per packet costs a timer-wheel update per packet.
        let timer = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(timer);
        let mut armed: Option<Instant> = None;
        let reason = loop {
            if let Some(r) = self.lost.take() {
                break r;
            }
            if self.fatal.is_some() || matches!(self.stop, Some(Stop::Abort)) {
                return ConnectionError::TransportClosed; // Dropped without another byte.
            }
            // Messages wait for the application: stop reading, so TCP pushes back on the broker
            // (not before CONNACK, which must be read).
            let paused = !self.backlog.is_empty() && self.core.is_connected();
            if paused != self.core.is_read_paused() {
                self.core.handle_read_paused(now(), paused);
                self.pump();
            }
            if let Some(d) = self.core.poll_timeout() {
                if armed.map_or(true, |a| d < a) {
                    timer.as_mut().reset(tokio_instant(d));
                    armed = Some(d);
                }
            }
            let pending = self.written < self.out.len();
            tokio::select! {
                r = wr.write(&self.out[self.written..]), if pending => match r {
                    Ok(0) | Err(_) => self.core.handle_closed(now()),
                    Ok(n) => {
                        self.written += n;
                        if self.written == self.out.len() {
                            self.out.clear();
                            self.written = 0;
                            // TLS keeps records buffered until flushed.
                            if wr.flush().await.is_err() {
                                self.core.handle_closed(now());
                            }
                        }
                    }
                },
                p = room(&self.messages, &self.backlog) => self.feed(p),
                r = rd.read(&mut buf), if !paused => match r {
                    Ok(0) | Err(_) => self.core.handle_closed(now()),
                    Ok(n) => self.core.handle_bytes(now(), &buf[..n]),
                },
                c = self.cmds.recv() => {
                    self.apply(c);
                    for _ in 1..COMMAND_BATCH {
                        match self.cmds.try_recv() {
                            Ok(c) => self.apply(Some(c)),
                            Err(TryRecvError::Empty) => break,
                            Err(TryRecvError::Disconnected) => {
                                self.apply(None);
                                break;
                            }
                        }
                    }
                },
                _ = &mut timer, if armed.is_some() => {
                    armed = None;
                    self.core.handle_timeout(now());
                }
            }
            self.pump();
        };
        if reason == ConnectionError::Requested && self.fatal.is_none() {
            // Everything handed over before `disconnect`, then DISCONNECT, then close.
            let rest = &self.out[self.written..];
            let _ = tokio::time::timeout(CLOSE_FLUSH, async {
                wr.write_all(rest).await?;
                wr.flush().await?;
                wr.shutdown().await
            })
            .await;
        }
        self.out.clear();
        self.written = 0;
        reason
    }

    /// A command, then the outputs drained.
    fn command(&mut self, c: Option<Command>) {
        self.apply(c);
        self.pump();
    }

    fn apply(&mut self, c: Option<Command>) {
        let now = now();
        match c {
            Some(Command::Publish(m, tx)) => match self.core.publish(now, m) {
                Ok(id) => {
                    self.waiters.insert(id, Waiter::Publish(tx));
                }
                Err(e) => {
                    let _ = tx.send(Err(e.into()));
                }
            },
            Some(Command::Subscribe(filters, tx)) => match self.core.subscribe(now, &filters) {
                Ok(id) => {
                    self.waiters.insert(id, Waiter::Subscribe(tx));
                }
                Err(e) => {
                    let _ = tx.send(Err(e.into()));
                }
            },
            Some(Command::Unsubscribe(filters, tx)) => match self.core.unsubscribe(now, &filters) {
                Ok(id) => {
                    self.waiters.insert(id, Waiter::Unsubscribe(tx));
                }
                Err(e) => {
                    let _ = tx.send(Err(e.into()));
                }
            },
            Some(Command::Disconnect(tx)) => {
                self.core.disconnect(now);
                self.stop.get_or_insert(Stop::Disconnect(Some(tx)));
            }
            None => {
                // Every handle is gone: nobody can issue or await anything more.
                self.core.disconnect(now);
                self.stop.get_or_insert(Stop::Disconnect(None));
            }
            Some(Command::Abort) => self.stop = Some(Stop::Abort),
        }
    }

    /// Drains the core: store (durable first), transmit, events.
    fn pump(&mut self) {
        if self.fatal.is_some() {
            return;
        }
        while let Some(op) = self.core.poll_store() {
            if self.store.is_some() {
                self.batch.push(op);
            }
        }
        if let (Some(store), false) = (&mut self.store, self.batch.is_empty()) {
            let applied = store.apply(&self.batch);
            self.batch.clear();
            if let Err(e) = applied {
                // What the failed batch protects must not go out.
                self.core.poll_transmit(&mut Vec::new());
                self.fatal = Some(Error::Store(Arc::new(e)));
                return;
            }
        }
        self.core.poll_transmit(&mut self.out);
        let mut marked = false;
        while let Some(event) = self.core.poll_event() {
            // Handed to the app's channel; its PUBREC is in `out`, written right after this.
            if let Event::Message(p) = &event {
                if p.qos == QoS::ExactlyOnce {
                    marked |= self.core.handle_delivered(p.pkid, true);
                }
            }
            self.on_event(event);
        }
        if marked {
            self.pump();
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connected { session_present } => {
                self.attempt = 0;
                let _ = self.state.send(State::Connected { session_present });
                if let Some(ready) = self.ready.take() {
                    let _ = ready.send(Ok(session_present));
                }
            }
            Event::Disconnected { reason } => self.lost = Some(reason),
            Event::Message(p) => self.deliver(p),
            Event::Published { id } => match self.waiters.remove(&id) {
                Some(Waiter::Publish(tx)) => {
                    let _ = tx.send(Ok(()));
                }
                Some(other) => other.fail(Error::Closed),
                None => {
                    if self.restored.remove(&id) {
                        let _ = self.restored_done.send(id);
                    }
                }
            },
            Event::Subscribed { id, codes } => {
                if let Some(Waiter::Subscribe(tx)) = self.waiters.remove(&id) {
                    let _ = tx.send(Ok(codes));
                }
            }
            Event::Unsubscribed { id } => {
                if let Some(Waiter::Unsubscribe(tx)) = self.waiters.remove(&id) {
                    let _ = tx.send(Ok(()));
                }
            }
            Event::Ignored { .. } => {
                self.counters.ignored_acks.fetch_add(1, Ordering::Relaxed);
            }
            Event::TooLarge { .. } => {
                self.counters.too_large.fetch_add(1, Ordering::Relaxed);
            }
            // The application has the message already; nobody else to hand it to.
            Event::Redelivered(_) | Event::Released { .. } => {}
        }
    }

    /// A message to the application's stream; when it is full, to the backlog (which stops
    /// reading) or dropped, as `Options::messages` says.
    fn deliver(&mut self, p: Publish) {
        if !self.backlog.is_empty() {
            self.backlog.push_back(p); // Behind the ones already waiting.
        } else {
            match self.messages.try_send(p) {
                Ok(()) | Err(TrySendError::Closed(_)) => {} // Closed: nobody listening.
                Err(TrySendError::Full(p)) => match self.opts.messages.overflow {
                    Overflow::Pause => self.backlog.push_back(p),
                    Overflow::DropNew => {
                        self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                },
            }
        }
        self.counters.backlog.store(self.backlog.len(), Ordering::Relaxed);
    }

    /// The client stops: every waiter learns why.
    fn finish(mut self, end: Error) {
        let error = self.fatal.take().unwrap_or(end);
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(Err(error.clone()));
        }
        let requested = matches!(self.stop, Some(Stop::Disconnect(_))) && !matches!(error, Error::Store(_));
        for (_, w) in self.waiters.drain() {
            w.fail(if requested { Error::Closed } else { error.clone() });
        }
        let _ = self.state.send(State::Closed(if requested { None } else { Some(error) }));
        if let Some(Stop::Disconnect(Some(tx))) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_past_the_clocks_range_is_far_in_the_future() {
        let never = tokio_instant(Instant::from_duration(Duration::MAX));
        assert!(never > tokio::time::Instant::now() + Duration::from_secs(86_400 * 365));
        let soon = tokio_instant(now() + Duration::from_secs(1));
        assert!(soon <= tokio::time::Instant::now() + Duration::from_secs(2));
    }
}
