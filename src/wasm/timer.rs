//! One-shot timers (gloo-timers), re-armed from `poll_timeout`, and the page's event listeners.
//!
//! Hidden tabs: Chrome's intensive throttling (one wake-up a minute) only applies to chains of
//! timers nested five deep or more. A keepalive timer armed from a timer task is armed afresh
//! by the next non-timer task that looks at it (the WebSocket `message` task that delivered
//! PINGRESP, say), so the chain never grows past two and the timer keeps its 1-second alignment.
//! A late timer is harmless anyway: the core tolerates late `handle_timeout` calls and gives the
//! network a grace period after a long sleep.

use super::web::{callback, Callback};
use crate::proto::Instant;
use gloo_timers::callback::Timeout;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::EventTarget;

/// gloo-timers' `Timeout` (cleared, and its closure freed, on drop). Its delay is an `i32` in JS:
/// longer ones are capped (a late wake-up is harmless, see above).
fn timeout(ms: u32, f: Box<dyn FnOnce()>) -> Timeout {
    Timeout::new(ms.min(i32::MAX as u32), f)
}

/// A one-shot timer that remembers its deadline, so re-arming for the same instant is free.
#[derive(Default)]
pub(crate) struct Timer {
    timeout: Option<Timeout>,
    at: Option<Instant>,
}

impl Timer {
    /// Arms the timer for `at` (or disarms it); `callback` runs once when it fires. Returns
    /// whether a new timeout was created.
    pub fn set(&mut self, now: Instant, at: Option<Instant>, callback: impl FnOnce() + 'static) -> bool {
        self.set_boxed(now, at, Box::new(callback))
    }

    /// `set`'s body, once for every caller.
    fn set_boxed(&mut self, now: Instant, at: Option<Instant>, callback: Box<dyn FnOnce()>) -> bool {
        if at == self.at && (self.timeout.is_some() || at.is_none()) {
            return false;
        }
        self.timeout = None;
        self.at = at;
        if let Some(at) = at {
            let ms = at.saturating_duration_since(now).as_millis();
            // Round up: a timer that fires early only costs a second wake-up.
            let ms = u32::try_from(ms + 1).unwrap_or(u32::MAX);
            self.timeout = Some(timeout(ms, callback));
        }
        self.timeout.is_some()
    }

    /// Arms the timer `ms` from now, replacing what was armed.
    pub fn set_ms(&mut self, ms: f64, callback: impl FnOnce() + 'static) {
        self.set_ms_boxed(ms, Box::new(callback))
    }

    fn set_ms_boxed(&mut self, ms: f64, callback: Box<dyn FnOnce()>) {
        self.at = None;
        let ms = if ms.is_finite() && ms > 0.0 { ms.min(u32::MAX as f64) as u32 } else { 0 };
        self.timeout = Some(timeout(ms, callback));
    }

    /// The timer fired: forget it, so the next `set` arms a new one.
    pub fn fired(&mut self) {
        self.cancel()
    }

    pub fn cancel(&mut self) {
        self.timeout = None;
        self.at = None;
    }

    pub fn is_armed(&self) -> bool {
        self.timeout.is_some()
    }
}

/// A one-shot timer for `ms`, cancelled when dropped (the lock wait, say).
pub(crate) fn after_ms(ms: u32, f: impl FnOnce() + 'static) -> Timeout {
    timeout(ms, Box::new(f))
}

/// An event listener that removes itself on drop.
pub(crate) struct Listener {
    target: EventTarget,
    name: &'static str,
    closure: Callback,
}

impl Listener {
    pub fn new(target: &EventTarget, name: &'static str, mut f: impl FnMut() + 'static) -> Option<Self> {
        let closure = callback(move |_| {
            f();
            JsValue::UNDEFINED
        });
        target.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref()).ok()?;
        Some(Listener { target: target.clone(), name, closure })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ =
            self.target.remove_event_listener_with_callback(self.name, self.closure.as_ref().unchecked_ref());
    }
}
