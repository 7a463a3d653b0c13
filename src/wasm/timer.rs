//! One-shot timers (`setTimeout`), re-armed from `poll_timeout`, and the page signals that
//! matter to a connection (`online`, `visibilitychange`).
//!
//! Hidden tabs: Chrome's intensive throttling (one wake-up a minute) only applies to chains of
//! timers nested five deep or more. A keepalive timer armed from a timer task is armed afresh
//! by the next non-timer task that looks at it (the WebSocket `message` task that delivered
//! PINGRESP, say), so the chain never grows past two and the timer keeps its 1-second alignment.
//! A late timer is harmless anyway: the core tolerates late `handle_timeout` calls and gives the
//! network a grace period after a long sleep.

use super::js::{call, callback, global, Callback};
use crate::proto::Instant;
use wasm_bindgen::JsValue;

/// gloo-timers' `setTimeout` wrapper: cleared, and its closure freed, on drop. Its delay is an
/// `i32` in JS: longer ones are capped (a late wake-up is harmless, see above).
struct Timeout(#[allow(dead_code)] gloo_timers::callback::Timeout);

impl Timeout {
    fn new(ms: u32, f: impl FnOnce() + 'static) -> Option<Timeout> {
        Some(Timeout(gloo_timers::callback::Timeout::new(ms.min(i32::MAX as u32), f)))
    }
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
        if at == self.at && (self.timeout.is_some() || at.is_none()) {
            return false;
        }
        self.timeout = None;
        self.at = at;
        if let Some(at) = at {
            let ms = at.saturating_duration_since(now).as_millis();
            // Round up: a timer that fires early only costs a second wake-up.
            let ms = u32::try_from(ms + 1).unwrap_or(u32::MAX);
            self.timeout = Timeout::new(ms, callback);
        }
        self.timeout.is_some()
    }

    /// Arms the timer `ms` from now, replacing what was armed.
    pub fn set_ms(&mut self, ms: f64, callback: impl FnOnce() + 'static) {
        self.at = None;
        let ms = if ms.is_finite() && ms > 0.0 { ms.min(u32::MAX as f64) as u32 } else { 0 };
        self.timeout = Timeout::new(ms, callback);
    }

    /// The timer fired: forget it, so the next `set` arms a new one.
    pub fn fired(&mut self) {
        self.timeout = None;
        self.at = None;
    }

    pub fn cancel(&mut self) {
        self.timeout = None;
        self.at = None;
    }

    pub fn is_armed(&self) -> bool {
        self.timeout.is_some()
    }
}

/// An event listener that removes itself on drop.
pub(crate) struct Listener {
    target: JsValue,
    name: &'static str,
    closure: Callback,
}

impl Listener {
    pub fn new(target: &JsValue, name: &'static str, mut f: impl FnMut() + 'static) -> Option<Self> {
        let closure = callback(move |_, _| f());
        call(target, "addEventListener", &JsValue::from_str(name), closure.as_ref()).ok()?;
        Some(Listener { target: target.clone(), name, closure })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ =
            call(&self.target, "removeEventListener", &JsValue::from_str(self.name), self.closure.as_ref());
    }
}

/// The page's document, when there is one (not in a worker).
pub(crate) fn document() -> Option<JsValue> {
    Some(global("document")).filter(|d| d.is_object())
}
