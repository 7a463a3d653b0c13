//! The `MqttClient` methods of a tab sharing a connection (`share: "tabs"`), as client.rs calls
//! them: arguments checked here by the core's own checks (`proto::check_*`), then queued for the leader.

use super::super::driver::with;
use super::super::error::{js_error, user_error};
use super::super::events::{flush, queue};
use super::super::session::session_js;
use super::super::web::deferred;
use super::wire::{self, Wire};
use super::{with_tab, TabRef};
use crate::codec::QoS;
use crate::proto::{check_publish, check_subscribe, check_unsubscribe, ErrorCode, Message};
use js_sys::{Array, Promise};
use wasm_bindgen::JsValue;

/// A publish: checked here as the core would, then to the leader.
pub(crate) fn publish(t: &TabRef, message: Result<Message, JsValue>) -> Promise {
    let checked = message.and_then(|m| check_publish(&m).map(|()| m).map_err(|e| user_error(&e)));
    let m = match checked {
        Ok(m) => m,
        Err(e) => return Promise::reject(&e),
    };
    let mut w = Wire::new(wire::REQ);
    w.op = wire::PUB;
    w.topic = m.topic.as_str().to_owned();
    w.payload = m.payload.to_vec();
    w.qos = m.qos as u8;
    w.retain = m.retain;
    with_tab(t, |t| Some(t.request(w, None, true))).unwrap_or_else(closed)
}

fn closed() -> Promise {
    Promise::reject(&js_error(ErrorCode::Closed, "the client is closed"))
}

pub(crate) fn subscribe(t: &TabRef, parsed: Result<(Vec<String>, QoS), JsValue>) -> Promise {
    let checked = parsed.and_then(|(filters, qos)| {
        let pairs: Vec<(&str, QoS)> = filters.iter().map(|f| (f.as_str(), qos)).collect();
        check_subscribe(&pairs).map_err(|e| user_error(&e))?;
        Ok((filters, qos))
    });
    let (filters, qos) = match checked {
        Ok(v) => v,
        Err(e) => return Promise::reject(&e),
    };
    let mut w = Wire::new(wire::REQ);
    w.op = wire::SUB;
    w.filters = filters.clone();
    w.qos = qos as u8;
    with_tab(t, |t| {
        if !t.closed {
            for f in &filters {
                match t.subs.iter_mut().find(|(g, _)| g == f) {
                    Some(s) => s.1 = qos,
                    None => t.subs.push((f.clone(), qos)),
                }
            }
        }
        Some(t.request(w, Some(filters), false))
    })
    .unwrap_or_else(closed)
}

pub(crate) fn unsubscribe(t: &TabRef, filters: Result<Vec<String>, JsValue>) -> Promise {
    let checked = filters.and_then(|filters| {
        check_unsubscribe(&filters).map_err(|e| user_error(&e))?;
        Ok(filters)
    });
    let filters = match checked {
        Ok(v) => v,
        Err(e) => return Promise::reject(&e),
    };
    let mut w = Wire::new(wire::REQ);
    w.op = wire::UNSUB;
    w.filters = filters.clone();
    with_tab(t, |t| {
        if !t.closed {
            t.subs.retain(|(f, _)| !filters.contains(f));
        }
        Some(t.request(w, None, false))
    })
    .unwrap_or_else(closed)
}

/// `end()` (graceful: DISCONNECT if this tab leads) or `destroy()`.
pub(crate) fn end(t: &TabRef, graceful: bool) -> Promise {
    let e = js_error(
        ErrorCode::Closed,
        if graceful { "the client was ended" } else { "the client was destroyed" },
    );
    let ended = with_tab(t, |t| t.finish(&e, graceful));
    flush();
    ended.unwrap_or_else(|| Promise::resolve(&JsValue::UNDEFINED))
}

pub(crate) fn persisted(t: &TabRef) -> Promise {
    let (promise, resolve, _) = deferred();
    with_tab(t, |t| {
        t.persisted_waiters.push(resolve);
        if t.closed {
            for w in t.persisted_waiters.drain(..) {
                queue(&w, &[]);
            }
        } else {
            t.settle_persisted();
        }
    });
    flush();
    promise
}

pub(crate) fn connected(t: &TabRef) -> bool {
    with_tab(t, |t| t.connected && !t.closed)
}

pub(crate) fn client_id(t: &TabRef) -> String {
    with_tab(t, |t| t.opts.config.client_id.clone())
}

/// "leader" or "follower" (and "closed" once ended).
pub(crate) fn role(t: &TabRef) -> String {
    with_tab(t, |t| {
        if t.closed {
            "closed"
        } else if t.hub.is_some() {
            "leader"
        } else {
            "follower"
        }
        .to_owned()
    })
}

/// The leader's driver, while this tab leads.
fn driver(t: &TabRef) -> Option<super::super::driver::Shared> {
    with_tab(t, |t| t.hub.as_ref().and_then(|h| h.try_borrow().ok().map(|h| h.driver.clone())))
}

/// The restored requests still pending: the leader's (a follower holds none).
pub(crate) fn restored(t: &TabRef) -> Array {
    driver(t).and_then(|d| with(&d, |d| Some(d.restored()))).unwrap_or_default()
}

/// The session as the leader holds it; a follower holds none (empty lists: see
/// `MqttClient.storedSession` for what IndexedDB holds).
pub(crate) fn session(t: &TabRef) -> JsValue {
    match driver(t) {
        Some(d) => with(&d, |d| Some(session_js(&d.core.session_records()))).unwrap_or(JsValue::UNDEFINED),
        None => session_js(&[]),
    }
}

pub(crate) fn buffered_amount(t: &TabRef) -> f64 {
    driver(t).map_or(0.0, |d| with(&d, |d| d.buffered_amount()))
}

/// A new `messages()` iterator of this tab. Not yet bounded for QoS 1/2 with "pause": the
/// connection is another tab's, whose driver does not hold acknowledgements for this tab's
/// streams (QoS 0 and "dropOldest" are bounded as in a tab of its own).
pub(crate) fn messages(t: &TabRef, size: f64, pause: bool) -> JsValue {
    with_tab(t, |t| {
        let s = t.streams.add(size, pause, || crate::wasm::web::callback(|_| JsValue::UNDEFINED));
        if t.closed {
            t.streams.close_all();
        }
        Some(s)
    })
    .unwrap_or(JsValue::UNDEFINED)
}
