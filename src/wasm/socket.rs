//! A WebSocket carrying MQTT: subprotocol `mqtt`, binary frames as `ArrayBuffer` (opened by the
//! JS helper `mq_ws`, see js.rs).
//!
//! The socket owns its event closure and detaches it on drop (gloo's rule), so a dropped socket
//! never calls back into the driver.

use super::js::{call1, callback, get, mq_ws, mq_ws_close, Callback};
use js_sys::Uint8Array;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};

/// What the socket reports.
pub(crate) enum SocketEvent {
    Open,
    Data(Vec<u8>),
    /// The connection closed (or never opened); `code` and `reason` from the close frame.
    Closed {
        code: u16,
        reason: String,
    },
}

pub(crate) struct Socket {
    ws: JsValue,
    _on_event: Callback,
}

impl Socket {
    /// Starts opening a WebSocket to `url`; a syntax error in the URL fails here.
    pub fn open(url: &str, handler: Rc<dyn Fn(SocketEvent)>) -> Result<Socket, JsValue> {
        let on_event = callback(move |kind, v| {
            handler(match kind.as_f64().unwrap_or(2.0) as u8 {
                0 => SocketEvent::Open,
                // Text frames are not MQTT (the broker never sends one): the helper drops them.
                1 => SocketEvent::Data(v.unchecked_into::<Uint8Array>().to_vec()),
                _ => SocketEvent::Closed {
                    code: get(&v, "code").as_f64().unwrap_or(0.0) as u16,
                    reason: get(&v, "reason").as_string().unwrap_or_default(),
                },
            })
        });
        // `error` is always followed by `close`, which carries what there is to know.
        let ws = mq_ws(url, on_event.as_ref())?;
        Ok(Socket { ws, _on_event: on_event })
    }

    /// Sends one binary frame.
    pub fn send(&self, bytes: &[u8]) -> Result<(), JsValue> {
        call1(&self.ws, "send", &Uint8Array::from(bytes)).map(drop)
    }

    /// Bytes handed to `send` and not yet on the network.
    pub fn buffered(&self) -> u32 {
        get(&self.ws, "bufferedAmount").as_f64().unwrap_or(0.0) as u32
    }

    pub fn is_open(&self) -> bool {
        get(&self.ws, "readyState").as_f64() == Some(1.0)
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        mq_ws_close(&self.ws);
    }
}
