//! A WebSocket carrying MQTT (web-sys): subprotocol `mqtt`, binary frames as `ArrayBuffer`.
//!
//! The socket owns its handlers and detaches them on drop (gloo's rule), so a dropped socket
//! never calls back into the driver.

use super::web::{callback, Callback};
use js_sys::{ArrayBuffer, Uint8Array};
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

/// What the socket reports.
pub(crate) enum SocketEvent {
    Open,
    /// A binary frame, still in JS memory: the driver copies it in pieces.
    Data(Uint8Array),
    /// A text frame: not MQTT [MQTT-6.0.0-1]; the driver closes the connection.
    Text,
    /// The connection closed (or never opened); `code` and `reason` from the close frame.
    Closed {
        code: u16,
        reason: String,
    },
}

pub(crate) struct Socket {
    ws: WebSocket,
    _handlers: [Callback; 3],
}

impl Socket {
    /// Starts opening a WebSocket to `url`; a syntax error in the URL fails here.
    pub fn open(url: &str, handler: Rc<dyn Fn(SocketEvent)>) -> Result<Socket, JsValue> {
        // [MQTT-6.0.0-3]: the WebSocket subprotocol is "mqtt".
        let ws = WebSocket::new_with_str(url, "mqtt")?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let h = handler.clone();
        let on_open = callback(move |_| {
            h(SocketEvent::Open);
            JsValue::UNDEFINED
        });
        let h = handler.clone();
        let on_message = callback(move |e| {
            let data = e.unchecked_into::<MessageEvent>().data();
            h(match data.dyn_into::<ArrayBuffer>() {
                Ok(buf) => SocketEvent::Data(Uint8Array::new(&buf)),
                Err(_) => SocketEvent::Text,
            });
            JsValue::UNDEFINED
        });
        // `error` is always followed by `close`, which carries what there is to know.
        let on_close = callback(move |e| {
            let e = e.unchecked_into::<CloseEvent>();
            handler(SocketEvent::Closed { code: e.code(), reason: e.reason() });
            JsValue::UNDEFINED
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Socket { ws, _handlers: [on_open, on_message, on_close] })
    }

    /// Sends one binary frame (the browser copies the bytes before this returns).
    pub fn send(&self, bytes: &[u8]) -> Result<(), JsValue> {
        self.ws.send_with_u8_array(bytes)
    }

    /// Bytes handed to `send` and not yet on the network.
    pub fn buffered(&self) -> u32 {
        self.ws.buffered_amount()
    }

    pub fn is_open(&self) -> bool {
        self.ws.ready_state() == WebSocket::OPEN
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        if self.ws.ready_state() < WebSocket::CLOSING {
            let _ = self.ws.close();
        }
    }
}
