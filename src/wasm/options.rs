//! The options of `MqttClient.connect` and the arguments of the commands, checked before
//! anything is sent: a wrong type or range, an unknown key, or a getter that throws is an
//! `INVALID_ARGUMENT` rejection naming the key.
//!
//! An options object is first read once, key by key, into a plain snapshot (so the caller's
//! getters and proxies run once, here, and what throws is caught), then each value goes through
//! serde-wasm-bindgen into its Rust type.

use super::error::{cat, invalid, js_error, user_error, wrap};
use crate::codec::{LastWill, QoS, Topic};
use crate::proto::{Config, ErrorCode, UserError};
use bytes::Bytes;
use core::time::Duration;
use js_sys::{ArrayBuffer, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

/// Where the session lives between page loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionKind {
    Memory,
    IndexedDb,
}

/// Reconnect backoff, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub min_ms: f64,
    pub max_ms: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { min_ms: 1_000.0, max_ms: 30_000.0 }
    }
}

impl Backoff {
    /// Exponential backoff with "equal jitter": half fixed, half random, so that many clients
    /// dropped together do not come back together. `attempt` counts from 0.
    pub fn delay_ms(&self, attempt: u32, random: f64) -> f64 {
        let exp = self.min_ms * 2f64.powi(attempt.min(30) as i32);
        let base = exp.min(self.max_ms).max(self.min_ms.min(self.max_ms));
        let random = if random.is_nan() { 0.0 } else { random.clamp(0.0, 1.0) };
        base / 2.0 + base / 2.0 * random
    }
}

#[derive(Clone)]
pub(crate) struct Options {
    pub config: Config,
    pub session: SessionKind,
    pub reconnect: Option<Backoff>,
    /// Also bounds the time for the WebSocket to open.
    pub connect_timeout_ms: f64,
    /// `share: "tabs"`: one connection for every tab of the origin (see wasm/share/).
    pub share: bool,
}

fn absent(v: &JsValue) -> bool {
    v.is_undefined() || v.is_null()
}

thread_local! {
    /// The option names as JS strings, made once (an options object is read on every publish).
    static KEYS: core::cell::RefCell<Vec<(&'static str, JsValue)>> = const { core::cell::RefCell::new(Vec::new()) };
}

/// `k` as a JS string, from the cache.
fn key_js(k: &'static str) -> JsValue {
    KEYS.try_with(|c| {
        let mut c = c.borrow_mut();
        if let Some((_, v)) = c.iter().find(|(n, _)| core::ptr::eq(*n, k)) {
            return v.clone();
        }
        let v = JsValue::from_str(k);
        c.push((k, v.clone()));
        v
    })
    .unwrap_or_else(|_| JsValue::from_str(k))
}

/// An options object read once: its known keys' values (a key left out is `undefined`).
struct Snapshot {
    what: &'static str,
    values: Vec<(&'static str, JsValue)>,
}

impl Snapshot {
    /// Reads `v`'s `known` keys; `None` for `undefined` / `null` (every option at its default).
    /// A non-object, an own key outside `known` (a misspelt option would silently do nothing)
    /// or a key that cannot be read is an `INVALID_ARGUMENT`.
    fn read(v: &JsValue, known: &[&'static str], what: &'static str) -> Result<Option<Snapshot>, JsValue> {
        if absent(v) {
            return Ok(None);
        }
        if !v.is_object() || js_sys::Array::is_array(v) {
            return Err(invalid(&cat(&[what, " must be an object"])));
        }
        let o: &Object = v.unchecked_ref();
        let names: Vec<JsValue> = known.iter().map(|k| key_js(k)).collect();
        let keys = Reflect::own_keys(o).map_err(|e| wrap(ErrorCode::InvalidArgument, what, &e))?;
        for k in keys.iter() {
            // Symbol keys are no options of ours, and harmless.
            if k.is_string() && !names.contains(&k) {
                let k = k.as_string().unwrap_or_default();
                return Err(invalid(&cat(&[what, ": unknown option \"", &k, "\""])));
            }
        }
        let mut values = Vec::with_capacity(known.len());
        for (&k, name) in known.iter().zip(&names) {
            let value = Reflect::get(o, name)
                .map_err(|e| wrap(ErrorCode::InvalidArgument, &cat(&[what, ": cannot read ", k]), &e))?;
            values.push((k, value));
        }
        Ok(Some(Snapshot { what, values }))
    }

    fn raw(&self, key: &str) -> JsValue {
        self.values.iter().find(|(k, _)| *k == key).map_or(JsValue::UNDEFINED, |(_, v)| v.clone())
    }

    /// `key`'s value, `None` when absent (`undefined` / `null`), or an `INVALID_ARGUMENT`
    /// naming the key and the type it must have.
    fn get<T>(
        &self,
        key: &str,
        kind: &str,
        of: impl Fn(&JsValue) -> Option<T>,
    ) -> Result<Option<T>, JsValue> {
        let v = self.raw(key);
        if absent(&v) {
            return Ok(None);
        }
        of(&v).map(Some).ok_or_else(|| invalid(&cat(&[self.what, ": ", key, " must be ", kind])))
    }

    fn number(&self, key: &str) -> Result<Option<f64>, JsValue> {
        self.get(key, "a number", JsValue::as_f64)
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, JsValue> {
        self.get(key, "a boolean", JsValue::as_bool)
    }

    fn string(&self, key: &str) -> Result<Option<String>, JsValue> {
        self.get(key, "a string", JsValue::as_string)
    }
}

/// `v`, an integer in `lo..=hi`, or an `INVALID_ARGUMENT` naming `what`.
fn int_in(v: f64, lo: u32, hi: u32, what: &str) -> Result<f64, JsValue> {
    if v.is_finite() && v.fract() == 0.0 && v >= lo as f64 && v <= hi as f64 {
        Ok(v)
    } else {
        Err(invalid(&cat(&[what, " must be an integer in ", &itoa(lo), "..=", &itoa(hi)])))
    }
}

/// A number in decimal (without `core::fmt`).
fn itoa(mut n: u32) -> String {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits[i..].iter().map(|&d| d as char).collect()
}

/// A numeric option as an integer in `lo..=hi`.
fn int_opt(s: &Snapshot, key: &str, lo: u32, hi: u32) -> Result<Option<f64>, JsValue> {
    match s.number(key)? {
        Some(v) => int_in(v, lo, hi, &cat(&[s.what, ": ", key])).map(Some),
        None => Ok(None),
    }
}

/// The `qos` of an options object: 0, 1 or 2 (default 0).
fn qos(s: &Snapshot) -> Result<QoS, JsValue> {
    let q = s.number("qos")?.unwrap_or(0.0);
    [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .find(|l| *l as u8 as f64 == q)
        .ok_or_else(|| invalid(&cat(&[s.what, ": qos must be 0, 1 or 2"])))
}

/// A payload: a string (sent as UTF-8), a `Uint8Array` or any `ArrayBufferView`, an `ArrayBuffer`.
pub(crate) fn bytes(v: &JsValue, what: &str) -> Result<Bytes, JsValue> {
    if let Some(s) = v.as_string() {
        return Ok(Bytes::from(s.into_bytes()));
    }
    if let Some(a) = v.dyn_ref::<Uint8Array>() {
        return Ok(Bytes::from(a.to_vec()));
    }
    if let Some(b) = v.dyn_ref::<ArrayBuffer>() {
        return Ok(Bytes::from(Uint8Array::new(b).to_vec()));
    }
    if ArrayBuffer::is_view(v) {
        let view: &js_sys::DataView = v.unchecked_ref();
        if let Ok(buffer) = view.buffer().dyn_into::<ArrayBuffer>() {
            let a = Uint8Array::new_with_byte_offset_and_length(
                &buffer,
                view.byte_offset() as u32,
                view.byte_length() as u32,
            );
            return Ok(Bytes::from(a.to_vec()));
        }
    }
    Err(invalid(&cat(&[what, " must be a string, Uint8Array or ArrayBuffer"])))
}

/// A string argument (a topic, a client id).
pub(crate) fn string(v: &JsValue, what: &str) -> Result<String, JsValue> {
    v.as_string().ok_or_else(|| invalid(&cat(&[what, " must be a string"])))
}

/// A broker URL: a string or a `URL` object, `ws://` or `wss://`.
pub(crate) fn url(v: &JsValue) -> Result<String, JsValue> {
    let url = if let Some(u) = v.dyn_ref::<web_sys::Url>() {
        u.href()
    } else {
        v.as_string().ok_or_else(|| invalid("url must be a string or a URL"))?
    };
    if url.starts_with("ws://") || url.starts_with("wss://") {
        Ok(url)
    } else {
        Err(js_error(ErrorCode::InvalidUrl, "the URL must start with ws:// or wss://"))
    }
}

/// The (URL, client id) of a stored session (`clearSession`, `storedSession`).
pub(crate) fn session_id(url_arg: &JsValue, client_id: &JsValue) -> Result<(String, String), JsValue> {
    let url = url(url_arg)?;
    let id = string(client_id, "clientId")?;
    if id.is_empty() {
        return Err(invalid("clientId must not be empty"));
    }
    Ok((url, id))
}

pub(crate) fn publish_options(v: &JsValue) -> Result<(QoS, bool), JsValue> {
    let Some(s) = Snapshot::read(v, &["qos", "retain"], "publish options")? else {
        return Ok((QoS::AtMostOnce, false));
    };
    Ok((qos(&s)?, s.bool("retain")?.unwrap_or(false)))
}

pub(crate) fn subscribe_qos(v: &JsValue) -> Result<QoS, JsValue> {
    let Some(s) = Snapshot::read(v, &["qos"], "subscribe options")? else {
        return Ok(QoS::AtMostOnce);
    };
    qos(&s)
}

/// `messages()`'s options: the buffer size (default 1000) and whether `overflow` is "pause"
/// (the default) rather than "dropOldest".
pub(crate) fn messages_options(v: &JsValue) -> Result<(f64, bool), JsValue> {
    let Some(s) = Snapshot::read(v, &["bufferSize", "overflow"], "messages options")? else {
        return Ok((1000.0, true));
    };
    let size = int_opt(&s, "bufferSize", 1, 4_294_967_295)?.unwrap_or(1000.0);
    let pause = match s.string("overflow")?.as_deref() {
        None | Some("pause") => true,
        Some("dropOldest") => false,
        Some(_) => return Err(invalid("messages options: overflow must be \"pause\" or \"dropOldest\"")),
    };
    Ok((size, pause))
}

/// A topic or filter string, or an array of them.
pub(crate) fn topics(v: &JsValue) -> Result<Vec<String>, JsValue> {
    if let Some(s) = v.as_string() {
        return Ok(vec![s]);
    }
    if js_sys::Array::is_array(v) {
        let a: &js_sys::Array = v.unchecked_ref();
        return (0..a.length())
            .map(|i| {
                let t = Reflect::get_u32(a, i)
                    .map_err(|e| wrap(ErrorCode::InvalidArgument, "cannot read a topic filter", &e))?;
                t.as_string().ok_or_else(|| invalid("every topic filter must be a string"))
            })
            .collect();
    }
    Err(invalid("topic filter must be a string or an array of strings"))
}

/// A random client id, "mq-" and 16 hex digits.
fn random_client_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::from("mq-");
    for _ in 0..16 {
        id.push(HEX[(js_sys::Math::random() * 16.0) as usize & 15] as char);
    }
    id
}

const CONNECT_KEYS: &[&str] = &[
    "clientId",
    "clean",
    "keepalive",
    "username",
    "password",
    "will",
    "session",
    "reconnect",
    "connectTimeout",
    "maxInflight",
    "maxInflightQos2",
    "maxQueued",
    "maxPacketSize",
    "share",
];

pub(crate) fn connect_options(v: &JsValue) -> Result<Options, JsValue> {
    let s = Snapshot::read(v, CONNECT_KEYS, "connect options")?
        .unwrap_or(Snapshot { what: "connect options", values: Vec::new() });
    let client_id = s.string("clientId")?;
    let mut config = Config::new(client_id.unwrap_or_else(random_client_id));
    config.clean_session = s.bool("clean")?.unwrap_or(true);
    if let Some(k) = int_opt(&s, "keepalive", 0, 65535)? {
        config.keep_alive = Duration::from_secs(k as u64);
    }
    let mut connect_timeout_ms = config.connect_timeout.as_millis() as f64;
    if let Some(t) = int_opt(&s, "connectTimeout", 1, 2_147_483_647)? {
        connect_timeout_ms = t;
        config.connect_timeout = Duration::from_millis(t as u64);
    }
    if let Some(n) = int_opt(&s, "maxInflight", 1, 65535)? {
        config.max_inflight = n as usize;
    }
    if let Some(n) = int_opt(&s, "maxInflightQos2", 1, 65535)? {
        config.max_inflight_qos2 = n as usize;
    }
    if let Some(n) = int_opt(&s, "maxQueued", 0, 4_294_967_295)? {
        config.max_queued = n as usize;
    }
    if let Some(n) = int_opt(&s, "maxPacketSize", 16, 268_435_460)? {
        config.max_packet_size = n as usize;
    }
    config.username = s.string("username")?;
    let password = s.raw("password");
    if !absent(&password) {
        config.password = Some(bytes(&password, "password")?);
    }
    if let Some(w) = Snapshot::read(&s.raw("will"), &["topic", "payload", "qos", "retain"], "will")? {
        let topic = w.string("topic")?.ok_or_else(|| invalid("will: topic must be a string"))?;
        config.will = Some(LastWill {
            topic: Topic::new(topic).map_err(|e| user_error(&UserError::from_topic(e)))?,
            payload: bytes(&w.raw("payload"), "will payload")?,
            qos: qos(&w)?,
            retain: w.bool("retain")?.unwrap_or(false),
        });
    }
    let share = match s.string("share")?.as_deref() {
        None => false,
        Some("tabs") => true,
        Some(_) => return Err(invalid("share must be \"tabs\"")),
    };
    if share {
        // The tabs share one stored session: it must outlive each of them.
        if s.raw("clientId").is_undefined() || s.raw("clientId").is_null() {
            return Err(invalid("share: \"tabs\" needs a clientId (the tabs share its session)"));
        }
        if s.bool("clean")? == Some(true) {
            return Err(invalid("share: \"tabs\" needs a kept session: clean must be false"));
        }
        if s.string("session")?.as_deref() == Some("memory") {
            return Err(invalid("share: \"tabs\" needs session: \"indexeddb\""));
        }
        config.clean_session = false;
    }
    let session = match s.string("session")?.as_deref() {
        None if config.clean_session => SessionKind::Memory,
        None => SessionKind::IndexedDb,
        Some("memory") => SessionKind::Memory,
        Some("indexeddb") => SessionKind::IndexedDb,
        Some(_) => return Err(invalid("session must be \"memory\" or \"indexeddb\"")),
    };
    let reconnect = s.raw("reconnect");
    let reconnect = if absent(&reconnect) {
        Some(Backoff::default())
    } else if let Some(b) = reconnect.as_bool() {
        b.then(Backoff::default)
    } else {
        let r = Snapshot::read(&reconnect, &["minDelay", "maxDelay"], "reconnect")?
            .ok_or_else(|| invalid("reconnect must be a boolean or an object"))?;
        let d = Backoff::default();
        let min_ms = int_opt(&r, "minDelay", 1, 2_147_483_647)?.unwrap_or(d.min_ms);
        let max_ms = int_opt(&r, "maxDelay", 1, 2_147_483_647)?.unwrap_or(d.max_ms.max(min_ms));
        if max_ms < min_ms {
            return Err(invalid("reconnect.maxDelay must be at least reconnect.minDelay"));
        }
        Some(Backoff { min_ms, max_ms })
    };
    config.validate().map_err(|e| super::error::user_error(&e))?;
    Ok(Options { config, session, reconnect, connect_timeout_ms, share })
}

#[cfg(test)]
mod tests {
    use super::Backoff;
    use wasm_bindgen_test::wasm_bindgen_test;

    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn backoff_doubles_up_to_the_cap_with_at_most_half_jitter() {
        let b = Backoff { min_ms: 100.0, max_ms: 1_000.0 };
        for (attempt, base) in [(0, 100.0), (1, 200.0), (2, 400.0), (3, 800.0), (4, 1_000.0), (60, 1_000.0)] {
            assert_eq!(b.delay_ms(attempt, 0.0), base / 2.0, "attempt {attempt}");
            assert_eq!(b.delay_ms(attempt, 1.0), base, "attempt {attempt}");
            let mid = b.delay_ms(attempt, 0.5);
            assert!(mid > base / 2.0 && mid < base);
        }
        // Never below half the minimum: no reconnect storm, whatever the random number.
        assert_eq!(b.delay_ms(0, -3.0), 50.0);
        assert_eq!(b.delay_ms(0, f64::NAN), 50.0);
    }
}
