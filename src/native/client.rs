//! The application's handle: commands in, a future per request, a stream of messages out.

use super::driver::{Command, Driver};
use super::{Error, Options};
use crate::codec::{ByteStr, Publish, QoS, SubAckCode};
use crate::proto::{self, Message, RequestId};
use bytes::Bytes;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, watch};

/// Where the connection stands.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum State {
    /// Opening the first connection.
    Connecting,
    /// CONNACK 0 received.
    Connected { session_present: bool },
    /// The connection was lost; retry number `attempt` comes after a backoff delay.
    Reconnecting { error: Error, attempt: u32 },
    /// The client stopped: `None` after `disconnect`, else why.
    Closed(Option<Error>),
}

/// An async MQTT client. Cheap to clone; every clone drives the same connection. Dropping the
/// last clone disconnects (DISCONNECT is sent).
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cmds: mpsc::UnboundedSender<Command>,
    state: watch::Receiver<State>,
    restored: Mutex<Option<Restored>>,
    /// What the driver ignored or dropped and counts (`ignored_acks`, `too_large`).
    counters: Arc<Counters>,
}

/// Events the application is told of by a count, not an error.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub ignored_acks: AtomicU64,
    pub too_large: AtomicU64,
    /// Messages dropped by [`Overflow::DropNew`](super::Overflow::DropNew).
    pub dropped: AtomicU64,
    /// Messages waiting in the driver while the stream is full (reading paused).
    pub backlog: AtomicUsize,
}

/// Incoming application messages, in order. Ends when the client stops (after the messages
/// received before that). Bounded by [`Options::messages`](super::Options::messages).
#[derive(Debug)]
pub struct Messages(mpsc::Receiver<Publish>, Arc<Counters>);

impl Messages {
    /// The next message, or `None` once the client stopped.
    pub async fn recv(&mut self) -> Option<Publish> {
        self.0.recv().await
    }

    /// A message already received, without waiting.
    pub fn try_recv(&mut self) -> Option<Publish> {
        self.0.try_recv().ok()
    }

    /// How many messages the client holds for the application: those in this stream (at most
    /// the buffer's capacity) and those the driver took from the socket that did not fit (with
    /// [`Overflow::Pause`](super::Overflow::Pause), at most what one read of the socket held).
    pub fn len(&self) -> usize {
        self.0.len() + self.1.backlog.load(Ordering::Relaxed)
    }

    /// No message waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl futures_core::Stream for Messages {
    type Item = Publish;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Publish>> {
        self.0.poll_recv(cx)
    }
}

/// The completion of one request: resolves when its flow completes (QoS 0: handed to the
/// transport; QoS 1: PUBACK; QoS 2: PUBCOMP; SUBACK; UNSUBACK). The request goes ahead whether
/// or not this is awaited.
#[derive(Debug)]
pub struct Pending<T>(oneshot::Receiver<Result<T, Error>>);

impl<T> Future for Pending<T> {
    type Output = Result<T, Error>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|r| r.unwrap_or(Err(Error::Closed)))
    }
}

/// Requests restored from the session store (sent by an earlier process, not yet complete) and
/// their completions as they happen.
#[derive(Debug)]
pub struct Restored {
    /// The restored requests, oldest first.
    pub ids: Vec<RequestId>,
    done: mpsc::UnboundedReceiver<RequestId>,
}

impl Restored {
    /// The next restored request to complete; `None` once the client stopped.
    pub async fn next(&mut self) -> Option<RequestId> {
        self.done.recv().await
    }

    /// Waits until every restored request has completed.
    pub async fn all(mut self) -> Result<(), Error> {
        let mut left: std::collections::HashSet<RequestId> = self.ids.iter().copied().collect();
        while !left.is_empty() {
            let id = self.done.recv().await.ok_or(Error::Closed)?;
            left.remove(&id);
        }
        Ok(())
    }
}

impl Client {
    /// Connects (restoring the session from `options.session_dir` or `options.store` if it
    /// holds one) and returns once the broker accepted the connection. A first connection that
    /// fails is an error here, whatever the reconnect policy; later losses are retried by the
    /// policy.
    pub async fn connect(options: Options) -> Result<(Client, Messages), Error> {
        let capacity = options.messages.capacity;
        if capacity == 0 {
            return Err(Error::InvalidOptions("messages.capacity must be at least 1".into()));
        }
        let store = options.open_store()?;
        let records = match &store {
            Some(s) => s.records()?,
            None => Vec::new(),
        };
        let core = if records.is_empty() {
            proto::Client::new(options.config.clone())?
        } else {
            proto::Client::restore(options.config.clone(), records).map_err(Error::Restore)?
        };
        let ids = core.pending_requests();
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (msg_tx, msg_rx) = mpsc::channel(capacity);
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let (state_tx, state_rx) = watch::channel(State::Connecting);
        let (ready_tx, ready_rx) = oneshot::channel();
        let counters = Arc::new(Counters::default());
        let driver = Driver::new(core, options, store, cmd_rx, msg_tx, done_tx, state_tx, ready_tx)
            .counting(counters.clone());
        tokio::spawn(driver.run());
        ready_rx.await.unwrap_or(Err(Error::Closed))?;
        let restored = Restored { ids, done: done_rx };
        let messages = Messages(msg_rx, counters.clone());
        let inner = Inner { cmds: cmd_tx, state: state_rx, restored: Mutex::new(Some(restored)), counters };
        Ok((Client { inner: Arc::new(inner) }, messages))
    }

    fn send(&self, cmd: Command) -> Result<(), Error> {
        self.inner.cmds.send(cmd).map_err(|_| Error::Closed)
    }

    /// Publishes and waits for the QoS flow to complete (PUBACK for QoS 1, PUBCOMP for QoS 2).
    /// A bad topic is refused here ([`Message::try_new`]), before anything is sent.
    pub async fn publish(
        &self,
        topic: impl Into<ByteStr>,
        payload: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
    ) -> Result<(), Error> {
        self.start_publish(Message::try_new(topic, payload, qos)?.retain(retain))?.await
    }

    /// Hands a message to the client now and returns its completion, so that many can be in
    /// flight at once (in order) without a task per message.
    pub fn start_publish(&self, message: Message) -> Result<Pending<()>, Error> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Publish(message, tx))?;
        Ok(Pending(rx))
    }

    /// Subscribes to one filter; returns the QoS the broker granted, or
    /// [`Error::SubscribeRefused`](Error) if it refused.
    pub async fn subscribe(&self, filter: &str, qos: QoS) -> Result<QoS, Error> {
        let codes = self.subscribe_many(&[(filter, qos)]).await?;
        match codes.first() {
            Some(SubAckCode::Granted(q)) => Ok(*q),
            _ => Err(Error::SubscribeRefused(filter.to_owned())),
        }
    }

    /// Subscribes to several filters in one SUBSCRIBE; one SUBACK code per filter, in order.
    pub async fn subscribe_many<S: AsRef<str>>(
        &self,
        filters: &[(S, QoS)],
    ) -> Result<Vec<SubAckCode>, Error> {
        let (tx, rx) = oneshot::channel();
        let filters = filters.iter().map(|(f, q)| (f.as_ref().to_owned(), *q)).collect();
        self.send(Command::Subscribe(filters, tx))?;
        Pending(rx).await
    }

    /// Unsubscribes; resolves on UNSUBACK.
    pub async fn unsubscribe<S: AsRef<str>>(&self, filters: &[S]) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Unsubscribe(filters.iter().map(|f| f.as_ref().to_owned()).collect(), tx))?;
        Pending(rx).await
    }

    /// Sends DISCONNECT (after everything handed over before it) and stops the client. Requests
    /// still pending fail with [`Error::Closed`]; with a session store they are kept and complete
    /// after the next `connect`.
    pub async fn disconnect(&self) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        if self.send(Command::Disconnect(tx)).is_err() {
            return Ok(()); // Already stopped.
        }
        let _ = rx.await;
        Ok(())
    }

    /// Drops the connection without DISCONNECT and stops, as if the process died: the broker
    /// publishes the will. Nothing more is written to the session store.
    pub fn abort(&self) {
        let _ = self.send(Command::Abort);
    }

    /// The current connection state.
    pub fn state(&self) -> State {
        self.inner.state.borrow().clone()
    }

    /// A receiver that sees every change of [`State`].
    pub fn watch_state(&self) -> watch::Receiver<State> {
        self.inner.state.clone()
    }

    /// Waits until connected (now, or after the next successful reconnect). Fails once the
    /// client has stopped.
    pub async fn connected(&self) -> Result<(), Error> {
        let mut rx = self.inner.state.clone();
        loop {
            match &*rx.borrow_and_update() {
                State::Connected { .. } => return Ok(()),
                State::Closed(e) => return Err(e.clone().unwrap_or(Error::Closed)),
                _ => {}
            }
            rx.changed().await.map_err(|_| Error::Closed)?;
        }
    }

    /// How many acknowledgements (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK) the broker sent for
    /// packet identifiers with nothing in flight: each was ignored and the connection stayed up
    /// (a PUBREC was still answered with PUBREL). Not an error; a number worth logging.
    pub fn ignored_acks(&self) -> u64 {
        self.inner.counters.ignored_acks.load(Ordering::Relaxed)
    }

    /// How many incoming messages were larger than `Config::max_packet_size`: each was skipped
    /// without being buffered, acknowledged to the broker (so a kept session does not receive
    /// it again on every reconnect) and not delivered.
    pub fn too_large(&self) -> u64 {
        self.inner.counters.too_large.load(Ordering::Relaxed)
    }

    /// How many incoming messages were dropped because the application had not taken the ones
    /// before them ([`Overflow::DropNew`](super::Overflow::DropNew)); always 0 with
    /// [`Overflow::Pause`](super::Overflow::Pause).
    pub fn dropped(&self) -> u64 {
        self.inner.counters.dropped.load(Ordering::Relaxed)
    }

    /// The requests restored from the session store and their completions (taken once; `None`
    /// the second time).
    pub fn restored(&self) -> Option<Restored> {
        self.inner.restored.lock().ok()?.take()
    }
}
