//! A WebSocket carrying MQTT: subprotocol `mqtt`, binary frames as `ArrayBuffer`.
//!
//! The socket owns its event closures and detaches them on drop (gloo's rule), so a dropped
//! socket never calls back into the driver.

use js_sys::{ArrayBuffer, Uint8Array};
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, WebSocket};

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
    ws: WebSocket,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    /// Starts opening a WebSocket to `url`; a syntax error in the URL fails here.
    pub fn open(url: &str, handler: Rc<dyn Fn(SocketEvent)>) -> Result<Socket, JsValue> {
        let ws = WebSocket::new_with_str(url, "mqtt")?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let h = handler.clone();
        let on_open = Closure::<dyn FnMut(Event)>::new(move |_: Event| h(SocketEvent::Open));
        let h = handler.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let data = e.data();
            if let Some(buf) = data.dyn_ref::<ArrayBuffer>() {
                h(SocketEvent::Data(Uint8Array::new(buf).to_vec()));
            }
            // A text frame is not MQTT; the broker never sends one. Ignored.
        });
        let h = handler;
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
            h(SocketEvent::Closed { code: e.code(), reason: e.reason() })
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // `error` is always followed by `close`, which carries what there is to know.
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Socket { ws, _on_open: on_open, _on_message: on_message, _on_close: on_close })
    }

    /// Sends one binary frame.
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
        let state = self.ws.ready_state();
        if state == WebSocket::CONNECTING || state == WebSocket::OPEN {
            let _ = self.ws.close();
        }
    }
}
