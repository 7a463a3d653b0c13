//! Errors as JS sees them: an `Error` with a stable `code` string (`proto::ErrorCode`, the same
//! codes as the native driver's), and extra fields where they help (the CONNACK `returnCode`, the
//! `cause` of a wrapped exception).

use crate::proto::{ConnectionError, ErrorCode, RestoreError, UserError};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// An `Error` seen for the fields we give it.
    #[wasm_bindgen(extends = js_sys::Error)]
    type CodedError;
    #[wasm_bindgen(method, setter, js_name = code)]
    fn set_code(this: &CodedError, code: &str);
    #[wasm_bindgen(method, catch, getter, js_name = code)]
    fn code(this: &CodedError) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, setter, js_name = returnCode)]
    fn set_return_code(this: &CodedError, code: u8);
    #[wasm_bindgen(method, setter, js_name = cause)]
    fn set_cause(this: &CodedError, cause: &JsValue);
    #[wasm_bindgen(method, catch, getter, js_name = message)]
    fn message_of(this: &CodedError) -> Result<JsValue, JsValue>;
}

fn coded(code: ErrorCode, message: &str) -> CodedError {
    let e: CodedError = js_sys::Error::new(message).unchecked_into();
    e.set_code(code.as_str());
    e
}

/// A JS `Error` with `code` set.
pub(crate) fn js_error(code: ErrorCode, message: &str) -> JsValue {
    coded(code, message).into()
}

/// The strings, one after the other.
pub(crate) fn cat(parts: &[&str]) -> String {
    let mut t = String::new();
    for p in parts {
        t.push_str(p);
    }
    t
}

pub(crate) fn invalid(message: &str) -> JsValue {
    js_error(ErrorCode::InvalidArgument, message)
}

pub(crate) fn user_error(e: &UserError) -> JsValue {
    js_error(e.code(), &e.message())
}

pub(crate) fn connection_error(e: &ConnectionError) -> JsValue {
    let err = coded(e.code(), &e.message());
    if let ConnectionError::Refused(code) = e {
        err.set_return_code(*code as u8);
    }
    err.into()
}

pub(crate) fn restore_error(e: &RestoreError) -> JsValue {
    js_error(e.code(), &e.message())
}

/// Wraps a JS exception (a `DOMException` from IndexedDB, a throwing getter) with our code,
/// keeping its text and the exception itself as `cause`.
pub(crate) fn wrap(code: ErrorCode, context: &str, cause: &JsValue) -> JsValue {
    let detail = if cause.is_object() {
        cause.unchecked_ref::<CodedError>().message_of().ok().and_then(|m| m.as_string())
    } else {
        cause.as_string()
    };
    let err = coded(code, &cat(&[context, ": ", &detail.unwrap_or_default()]));
    err.set_cause(cause);
    err.into()
}

/// The `code` of an error value, if it has one (tests and logs).
pub fn error_code(e: &JsValue) -> Option<String> {
    if !e.is_object() {
        return None;
    }
    e.unchecked_ref::<CodedError>().code().ok().and_then(|c| c.as_string())
}
