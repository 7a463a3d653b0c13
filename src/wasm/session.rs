//! What JS can see of a session, through serde-wasm-bindgen: `client.session()` (the client's
//! records, as a store holding every op so far has them), `MqttClient.storedSession(url,
//! clientId)` (the records in IndexedDB, read without connecting), and the `restored` requests.
//! Their TypeScript types (MqttSession, MqttRestored) are in types.d.ts.

use super::events::{to_js, Payload};
use crate::proto::{RequestId, StoreRecord};
use serde::Serialize;
use wasm_bindgen::JsValue;

/// An outgoing QoS 1/2 message in flight (`MqttInflight`).
#[derive(Serialize)]
struct Inflight<'a> {
    id: f64,
    pkid: u16,
    qos: u8,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<Payload<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retain: Option<bool>,
}

/// A message waiting to be sent (`MqttQueued`).
#[derive(Serialize)]
struct Queued<'a> {
    id: f64,
    qos: u8,
    topic: &'a str,
    payload: Payload<'a>,
    retain: bool,
}

/// A granted subscription (`MqttGranted`).
#[derive(Serialize)]
pub(crate) struct Granted<'a> {
    pub topic: &'a str,
    pub qos: u8,
}

#[derive(Serialize, Default)]
struct Session<'a> {
    inflight: Vec<Inflight<'a>>,
    queued: Vec<Queued<'a>>,
    incoming: Vec<u16>,
    subscriptions: Vec<Granted<'a>>,
}

/// A request restored from IndexedDB and not complete yet (`MqttRestored`).
#[derive(Serialize)]
struct Restored<'a> {
    id: f64,
    kind: &'static str,
    qos: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<Payload<'a>>,
}

/// `{ inflight, queued, incoming, subscriptions }` from a session's records.
pub(crate) fn session_js(records: &[StoreRecord]) -> JsValue {
    let mut s = Session::default();
    for r in records {
        match r {
            StoreRecord::Outgoing { request, publish } => s.inflight.push(Inflight {
                id: request.0 as f64,
                pkid: publish.pkid,
                qos: publish.qos as u8,
                state: "sent",
                topic: Some(publish.topic.as_str()),
                payload: Some(Payload(publish.payload.as_ref())),
                retain: Some(publish.retain),
            }),
            StoreRecord::Released { request, pkid, .. } => s.inflight.push(Inflight {
                id: request.0 as f64,
                pkid: *pkid,
                qos: 2,
                state: "released",
                topic: None,
                payload: None,
                retain: None,
            }),
            StoreRecord::Queued { request, message } => s.queued.push(Queued {
                id: request.0 as f64,
                qos: message.qos as u8,
                topic: message.topic.as_str(),
                payload: Payload(message.payload.as_ref()),
                retain: message.retain,
            }),
            StoreRecord::Incoming { pkid, .. } => s.incoming.push(*pkid),
            StoreRecord::Subscriptions(subs) => s
                .subscriptions
                .extend(subs.iter().map(|(f, qos)| Granted { topic: f.as_str(), qos: *qos as u8 })),
        }
    }
    to_js(&s)
}

/// What JS learns about a restored request (outgoing messages only).
pub(crate) fn restored_info(record: &StoreRecord) -> Option<(RequestId, JsValue)> {
    let (request, qos, topic, payload) = match record {
        StoreRecord::Outgoing { request, publish } => {
            (*request, publish.qos, Some(publish.topic.as_str()), Some(publish.payload.as_ref()))
        }
        StoreRecord::Released { request, .. } => (*request, crate::codec::QoS::ExactlyOnce, None, None),
        StoreRecord::Queued { request, message } => {
            (*request, message.qos, Some(message.topic.as_str()), Some(message.payload.as_ref()))
        }
        _ => return None,
    };
    let info = Restored {
        id: request.0 as f64,
        kind: "publish",
        qos: qos as u8,
        topic,
        payload: payload.map(Payload),
    };
    Some((request, to_js(&info)))
}
