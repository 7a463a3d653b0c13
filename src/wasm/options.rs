//! The options object of `MqttClient.connect` and the arguments of the commands, checked before
//! anything is sent: a wrong type or range is an `INVALID_ARGUMENT` rejection.

use super::error::{cat, invalid};
use crate::codec::{LastWill, QoS, Text};
use crate::proto::Config;
use bytes::Bytes;
use core::time::Duration;
use js_sys::{Object, Reflect, Uint8Array};
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

pub(crate) struct Options {
    pub config: Config,
    pub session: SessionKind,
    pub reconnect: Option<Backoff>,
    /// Also bounds the time for the WebSocket to open.
    pub connect_timeout_ms: f64,
}

fn absent(v: &JsValue) -> bool {
    v.is_undefined() || v.is_null()
}

/// `o[key]`, `undefined` if it cannot be read.
fn get(o: &JsValue, key: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `what: key must be a <kind>`.
fn wrong(what: &str, key: &str, kind: &str) -> JsValue {
    invalid(&cat(&[what, ": ", key, " must be ", kind]))
}

/// An optional number: `undefined` and `null` are `None`, anything but a number is refused.
fn opt_num(o: &JsValue, key: &str, what: &str) -> Result<Option<f64>, JsValue> {
    let v = get(o, key);
    if absent(&v) {
        return Ok(None);
    }
    v.as_f64().map(Some).ok_or_else(|| wrong(what, key, "a number"))
}

fn opt_bool(o: &JsValue, key: &str, what: &str) -> Result<Option<bool>, JsValue> {
    let v = get(o, key);
    if absent(&v) {
        return Ok(None);
    }
    v.as_bool().map(Some).ok_or_else(|| wrong(what, key, "a boolean"))
}

fn opt_string(o: &JsValue, key: &str, what: &str) -> Result<Option<String>, JsValue> {
    let v = get(o, key);
    if absent(&v) {
        return Ok(None);
    }
    v.as_string().map(Some).ok_or_else(|| wrong(what, key, "a string"))
}

/// `Ok(false)` for `undefined` / `null` (every option at its default), an error for a non-object.
fn object(v: &JsValue, what: &str) -> Result<bool, JsValue> {
    if absent(v) {
        return Ok(false);
    }
    if !v.is_object() {
        return Err(invalid(&cat(&[what, " must be an object"])));
    }
    Ok(true)
}

/// A misspelt option would silently do nothing: refuse keys outside `known`.
fn known_keys(v: &JsValue, known: &[&str], what: &str) -> Result<(), JsValue> {
    if !v.is_object() {
        return Ok(());
    }
    for k in js_sys::Object::keys(v.unchecked_ref::<js_sys::Object>()).iter() {
        let k = k.as_string().unwrap_or_default();
        if !known.iter().any(|n| *n == k) {
            return Err(invalid(&cat(&[what, ": unknown option \"", &k, "\""])));
        }
    }
    Ok(())
}

/// An integer in `lo..=hi`, or an `INVALID_ARGUMENT` naming `what`.
/// (Bounds as integers: formatting an `f64` would pull float printing into the module.)
fn int_in(v: f64, lo: u32, hi: u32, what: &str) -> Result<f64, JsValue> {
    if v.is_finite() && v.fract() == 0.0 && v >= lo as f64 && v <= hi as f64 {
        Ok(v)
    } else {
        let mut t = Text::default();
        t.s(what).s(" must be an integer in ").n(lo.into()).s("..=").n(hi.into());
        Err(invalid(&t.0))
    }
}

pub(crate) fn qos(v: Option<f64>) -> Result<QoS, JsValue> {
    let q = v.unwrap_or(0.0);
    if q == 0.0 {
        Ok(QoS::AtMostOnce)
    } else if q == 1.0 {
        Ok(QoS::AtLeastOnce)
    } else if q == 2.0 {
        Ok(QoS::ExactlyOnce)
    } else {
        Err(invalid("qos must be 0, 1 or 2"))
    }
}

/// A payload: a string (sent as UTF-8), a `Uint8Array` or any `ArrayBufferView`, an `ArrayBuffer`.
pub(crate) fn bytes(v: &JsValue, what: &str) -> Result<Bytes, JsValue> {
    let bytes = super::js::mq_bytes(v).unwrap_or(JsValue::UNDEFINED);
    if !bytes.is_undefined() {
        return Ok(Bytes::from(bytes.unchecked_into::<Uint8Array>().to_vec()));
    }
    Err(invalid(&cat(&[what, " must be a string, Uint8Array or ArrayBuffer"])))
}

pub(crate) fn publish_options(v: &JsValue) -> Result<(QoS, bool), JsValue> {
    const WHAT: &str = "publish options";
    known_keys(v, &["qos", "retain"], WHAT)?;
    if !object(v, WHAT)? {
        return Ok((QoS::AtMostOnce, false));
    }
    Ok((qos(opt_num(v, "qos", WHAT)?)?, opt_bool(v, "retain", WHAT)?.unwrap_or(false)))
}

pub(crate) fn subscribe_qos(v: &JsValue) -> Result<QoS, JsValue> {
    const WHAT: &str = "subscribe options";
    known_keys(v, &["qos"], WHAT)?;
    if !object(v, WHAT)? {
        return Ok(QoS::AtMostOnce);
    }
    qos(opt_num(v, "qos", WHAT)?)
}

/// A topic or filter string, or an array of them.
pub(crate) fn topics(v: &JsValue) -> Result<Vec<String>, JsValue> {
    if let Some(s) = v.as_string() {
        return Ok(vec![s]);
    }
    if js_sys::Array::is_array(v) {
        let arr: &js_sys::Array = v.unchecked_ref();
        return arr
            .iter()
            .map(|t| t.as_string().ok_or_else(|| invalid("every topic filter must be a string")))
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

pub(crate) fn connect_options(v: &JsValue) -> Result<Options, JsValue> {
    const KNOWN: &[&str] = &[
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
        "maxQueued",
        "maxPacketSize",
    ];
    known_keys(v, KNOWN, "connect options")?;
    const WHAT: &str = "connect options";
    let v = if object(v, WHAT)? { v.clone() } else { Object::new().into() };
    let v = &v;
    let client_id = opt_string(v, "clientId", WHAT)?;
    let mut config = Config::new(client_id.unwrap_or_else(random_client_id));
    config.clean_session = opt_bool(v, "clean", WHAT)?.unwrap_or(true);
    if let Some(k) = opt_num(v, "keepalive", WHAT)? {
        config.keep_alive = Duration::from_secs(int_in(k, 0, 65535, "keepalive")? as u64);
    }
    let mut connect_timeout_ms = config.connect_timeout.as_millis() as f64;
    if let Some(t) = opt_num(v, "connectTimeout", WHAT)? {
        connect_timeout_ms = int_in(t, 1, 2_147_483_647, "connectTimeout")?;
        config.connect_timeout = Duration::from_millis(connect_timeout_ms as u64);
    }
    if let Some(n) = opt_num(v, "maxInflight", WHAT)? {
        config.max_inflight = int_in(n, 1, 65535, "maxInflight")? as usize;
    }
    if let Some(n) = opt_num(v, "maxQueued", WHAT)? {
        config.max_queued = int_in(n, 0, 4_294_967_295, "maxQueued")? as usize;
    }
    if let Some(n) = opt_num(v, "maxPacketSize", WHAT)? {
        config.max_packet_size = int_in(n, 16, 268_435_460, "maxPacketSize")? as usize;
    }
    config.username = opt_string(v, "username", WHAT)?;
    let password = get(v, "password");
    if !absent(&password) {
        config.password = Some(bytes(&password, "password")?);
    }
    let will = get(v, "will");
    if !absent(&will) {
        if !will.is_object() {
            return Err(invalid("will must be an object"));
        }
        known_keys(&will, &["topic", "payload", "qos", "retain"], "will")?;
        let topic = get(&will, "topic").as_string().ok_or_else(|| wrong("will", "topic", "a string"))?;
        let payload = get(&will, "payload");
        config.will = Some(LastWill {
            topic,
            payload: bytes(&payload, "will payload")?,
            qos: qos(opt_num(&will, "qos", "will")?)?,
            retain: opt_bool(&will, "retain", "will")?.unwrap_or(false),
        });
    }
    let session = match opt_string(v, "session", WHAT)?.as_deref() {
        None if config.clean_session => SessionKind::Memory,
        None => SessionKind::IndexedDb,
        Some("memory") => SessionKind::Memory,
        Some("indexeddb") => SessionKind::IndexedDb,
        Some(_) => return Err(invalid("session must be \"memory\" or \"indexeddb\"")),
    };
    let reconnect = get(v, "reconnect");
    let reconnect = if absent(&reconnect) {
        Some(Backoff::default())
    } else if let Some(b) = reconnect.as_bool() {
        b.then(Backoff::default)
    } else {
        const WHAT: &str = "reconnect";
        known_keys(&reconnect, &["minDelay", "maxDelay"], WHAT)?;
        object(&reconnect, WHAT)?;
        let d = Backoff::default();
        let min_ms = int_in(
            opt_num(&reconnect, "minDelay", WHAT)?.unwrap_or(d.min_ms),
            1,
            2_147_483_647,
            "reconnect.minDelay",
        )?;
        let max_ms = int_in(
            opt_num(&reconnect, "maxDelay", WHAT)?.unwrap_or(d.max_ms.max(min_ms)),
            1,
            2_147_483_647,
            "reconnect.maxDelay",
        )?;
        if max_ms < min_ms {
            return Err(invalid("reconnect.maxDelay must be at least reconnect.minDelay"));
        }
        Some(Backoff { min_ms, max_ms })
    };
    config.validate().map_err(|e| super::error::user_error(&e))?;
    Ok(Options { config, session, reconnect, connect_timeout_ms })
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
