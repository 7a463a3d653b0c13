//! Errors as JS sees them: an `Error` with a stable `code` string (and extra fields where they
//! help, such as the CONNACK `returnCode`).

use crate::codec::Text;
use crate::proto::{ConnectionError, RestoreError, UserError};
use js_sys::Reflect;
use wasm_bindgen::JsValue;

/// Codes the driver itself produces (the core's come from `code()` on its error types).
pub(crate) const INVALID_ARGUMENT: &str = "INVALID_ARGUMENT";
pub(crate) const INVALID_URL: &str = "INVALID_URL";
pub(crate) const CONNECTION_FAILED: &str = "CONNECTION_FAILED";
pub(crate) const TIMEOUT: &str = "TIMEOUT";
pub(crate) const CLOSED: &str = "CLOSED";
pub(crate) const STORE_FAILED: &str = "STORE_FAILED";
pub(crate) const SESSION_CORRUPT: &str = "SESSION_CORRUPT";
pub(crate) const SESSION_LOCKED: &str = "SESSION_LOCKED";
pub(crate) const INTERNAL: &str = "INTERNAL";

/// A JS `Error` with `code` set.
pub(crate) fn js_error(code: &str, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    let _ = Reflect::set(&e, &"code".into(), &code.into());
    e.into()
}

/// The strings, one after the other (`concat` would be one more generic function).
pub(crate) fn cat(parts: &[&str]) -> String {
    let mut t = Text::default();
    for p in parts {
        t.s(p);
    }
    t.0
}

pub(crate) fn invalid(message: &str) -> JsValue {
    js_error(INVALID_ARGUMENT, message)
}

pub(crate) fn user_error(e: &UserError) -> JsValue {
    js_error(e.code(), &e.message())
}

pub(crate) fn connection_error(e: &ConnectionError) -> JsValue {
    let err = js_error(e.code(), &e.message());
    if let ConnectionError::Refused(code) = e {
        let _ = Reflect::set(&err, &"returnCode".into(), &JsValue::from(*code as u8));
    }
    err
}

pub(crate) fn restore_error(e: &RestoreError) -> JsValue {
    match e {
        RestoreError::Config(u) => user_error(u),
        other => js_error(SESSION_CORRUPT, &other.message()),
    }
}

/// Wraps a JS exception (a `DOMException` from IndexedDB, say) with our code, keeping its text.
pub(crate) fn wrap(code: &str, context: &str, cause: &JsValue) -> JsValue {
    let detail = Reflect::get(cause, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| cause.as_string())
        .unwrap_or_default();
    let err = js_error(code, &cat(&[context, ": ", &detail]));
    let _ = Reflect::set(&err, &"cause".into(), cause);
    err
}

/// The `code` of an error value, if it has one (tests and logs).
pub fn error_code(e: &JsValue) -> Option<String> {
    Reflect::get(e, &"code".into()).ok().and_then(|c| c.as_string())
}
