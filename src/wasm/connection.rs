//! The connection's life and the reconnect policy: open the WebSocket, feed its events to the
//! core, and when a connection ends decide between reconnecting (exponential backoff with
//! jitter, sooner on the browser's `online`, never while `navigator.onLine` is false) and giving
//! up (the first connect, a refusal retrying cannot heal, `reconnect: false`).

use super::driver::{act, now, Driver, Phase, LIVE};
use super::error::{cat, js_error};
use super::events::queue;
use super::socket::{Socket, SocketEvent};
use super::web::{later, Scope};
use crate::codec::Text;
use crate::proto::ErrorCode;
use core::time::Duration;
use std::rc::Rc;
use wasm_bindgen::JsValue;

/// The largest piece of a WebSocket frame copied into wasm memory at once.
const FEED_CHUNK: u32 = 64 * 1024;

/// A connection that lived this long resets the reconnect backoff.
const STABLE: Duration = Duration::from_secs(30);

impl Driver {
    /// Opens a WebSocket (the first time and on every reconnect).
    pub fn open_socket(&mut self) -> Result<(), JsValue> {
        let w = self.me.clone();
        let handler: Rc<dyn Fn(SocketEvent)> = Rc::new(move |ev| act(&w, |d| d.on_socket(ev)));
        let socket = Socket::open(&self.url, handler).map_err(|e| {
            super::error::wrap(ErrorCode::InvalidUrl, &cat(&["cannot open a WebSocket to ", &self.url]), &e)
        })?;
        self.socket = Some(socket);
        self.socket_open = false;
        self.phase = Phase::Connecting;
        self.last_attempt = Some(now());
        let w = self.me.clone();
        self.open_timer.set_ms(self.connect_timeout_ms, move || {
            act(&w, |d| {
                d.open_timer.fired();
                d.open_timed_out()
            })
        });
        Ok(())
    }

    pub(super) fn open_timed_out(&mut self) {
        if self.socket.is_some() && !self.socket_open {
            self.drop_socket();
            let err = js_error(
                ErrorCode::Timeout,
                &cat(&["the WebSocket to ", &self.url, " did not open in time"]),
            );
            self.connection_ended(err, true);
        }
    }

    pub(super) fn on_socket(&mut self, ev: SocketEvent) {
        match ev {
            SocketEvent::Open => {
                self.open_timer.cancel();
                self.socket_open = true;
                // Bytes still waiting were meant for a connection that is gone.
                for h in &mut self.writes {
                    h.bytes.clear();
                }
                self.send_buf.clear();
                self.core.handle_connected(now());
                self.pump()
            }
            SocketEvent::Data(frame) => {
                // In pieces of at most 64 KiB through one reused buffer: a large frame (a message
                // over maxPacketSize that the core skips, say) is never copied whole into wasm.
                let (len, now) = (frame.length(), now());
                let mut at = 0;
                while at < len {
                    let end = len.min(at + FEED_CHUNK);
                    self.feed_buf.resize((end - at) as usize, 0);
                    frame.subarray(at, end).copy_to(&mut self.feed_buf);
                    self.core.handle_bytes(now, &self.feed_buf);
                    at = end;
                }
                self.schedule_flush();
            }
            SocketEvent::Text => {
                // [MQTT-6.0.0-1]: the core ends the connection with a protocol error; its
                // Disconnected event closes the socket and reports why.
                self.core.handle_text_frame(now());
                self.pump()
            }
            SocketEvent::Closed { code, reason } => {
                let was_open = self.socket_open;
                self.drop_socket();
                self.open_timer.cancel();
                self.core.handle_closed(now());
                self.pump();
                if !was_open {
                    let mut msg = Text::default();
                    msg.s("cannot connect to ").s(&self.url).s(" (WebSocket close code ").n(code.into());
                    if !reason.is_empty() {
                        msg.s(": ").s(&reason);
                    }
                    msg.s(")");
                    self.connection_ended(js_error(ErrorCode::ConnectionFailed, &msg.0), true);
                }
            }
        }
    }

    pub(super) fn on_online(&mut self) {
        // Back online: try now rather than at the end of a long backoff, but never more often
        // than the minimum delay.
        let min = self.reconnect.map_or(0.0, |b| b.min_ms);
        let rested =
            self.last_attempt.map_or(true, |t| now().saturating_duration_since(t).as_millis() as f64 >= min);
        if self.phase == Phase::Waiting && rested {
            self.retry_timer.cancel();
            self.reconnect_now();
        }
    }

    pub(super) fn reconnect_now(&mut self) {
        if self.phase != Phase::Waiting {
            return;
        }
        if !Scope::get().on_line() {
            // No network: wait for `online` (and look again after the longest delay).
            self.schedule_reconnect(true);
            return;
        }
        self.listeners.emit("reconnect", &[]);
        if let Err(e) = self.open_socket() {
            self.connection_ended(e, false);
        }
    }

    pub(super) fn schedule_reconnect(&mut self, longest: bool) {
        let Some(backoff) = self.reconnect else { return };
        let delay = if longest {
            backoff.max_ms
        } else {
            let d = backoff.delay_ms(self.attempts, js_sys::Math::random());
            self.attempts = self.attempts.saturating_add(1);
            d
        };
        self.phase = Phase::Waiting;
        let w = self.me.clone();
        self.retry_timer.set_ms(delay, move || {
            act(&w, |d| {
                d.retry_timer.fired();
                d.reconnect_now()
            })
        });
    }

    /// A connection (or an attempt) ended: reconnect, or give up and reject what is pending.
    pub(super) fn connection_ended(&mut self, err: JsValue, retryable: bool) {
        let was_connected = self.phase == Phase::Connected;
        if self.ended() {
            self.force_drain();
        }
        self.drop_socket();
        self.timer.cancel();
        if let Some(at) = self.connected_at.take() {
            if now().saturating_duration_since(at) >= STABLE {
                self.attempts = 0;
            }
        }
        if was_connected || self.phase == Phase::Closed {
            self.listeners.emit("close", &[]);
        }
        if self.ended() {
            return; // end(): settle() finishes once the outbox is empty.
        }
        if let Some((_, reject)) = self.connect_waiter.take() {
            // The first connect reports its failure rather than retrying behind the app's back.
            queue(&reject, core::slice::from_ref(&err));
            self.phase = Phase::Closed;
            self.finish(&err);
            return;
        }
        if !self.offline_emitted {
            self.offline_emitted = true;
            self.listeners.emit("offline", &[]);
        }
        let code = super::error::error_code(&err).unwrap_or_default();
        let quiet = [ErrorCode::ConnectionLost.as_str(), ErrorCode::ConnectionFailed.as_str()];
        if !retryable || self.reconnect.is_none() {
            self.listeners.emit("error", core::slice::from_ref(&err));
            self.phase = Phase::Closed;
            self.finish(&err);
            return;
        }
        if !quiet.contains(&code.as_str()) {
            self.listeners.emit("error", &[err]);
        }
        self.schedule_reconnect(false);
    }

    pub(super) fn ended(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// The socket goes away after this task: its closures may be the ones running now.
    pub(super) fn drop_socket(&mut self) {
        self.socket_open = false;
        self.drain_timer.cancel();
        if let Some(s) = self.socket.take() {
            later(move || drop(s));
        }
    }

    /// Stops everything and settles what is pending with `err`.
    pub(super) fn finish(&mut self, err: &JsValue) {
        self.phase = Phase::Closed;
        self.drop_socket();
        // The next client may take the stored session once our writes are done.
        self.unlock_pending = true;
        self.unlock_if_idle();
        for t in [&mut self.timer, &mut self.retry_timer, &mut self.open_timer, &mut self.drain_timer] {
            t.cancel();
        }
        self.page.clear();
        // In request order.
        for (_, p) in core::mem::take(&mut self.requests) {
            queue(p.reject(), core::slice::from_ref(err));
        }
        self.streams.close_all();
        if let Some((_, reject)) = self.connect_waiter.take() {
            queue(&reject, core::slice::from_ref(err));
        }
        for w in self.persisted_waiters.drain(..).chain(self.end_waiters.drain(..)) {
            queue(&w, &[]);
        }
        if let Some(me) = self.me.upgrade() {
            let _ = LIVE.try_with(|l| {
                if let Ok(mut l) = l.try_borrow_mut() {
                    l.retain(|s| !Rc::ptr_eq(s, &me));
                }
            });
        }
    }
}
