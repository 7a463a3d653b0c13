//! What JS can see of a session: `client.session()` (the client's records, as a store holding
//! every op so far has them) and `MqttClient.storedSession(url, clientId)` (the records in
//! IndexedDB, read without connecting). Both give the same plain object, for a dashboard's
//! session panel or a test.

use crate::proto::StoreRecord;
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

// Its TypeScript type, MqttSession, is in js/types.d.ts (see client.rs).

fn set(o: &Object, k: &str, v: JsValue) {
    let _ = Reflect::set(o, &k.into(), &v);
}

/// `{ inflight, queued, incoming, subscriptions }` from a session's records.
pub(crate) fn session_js(records: &[StoreRecord]) -> JsValue {
    let (inflight, queued, incoming, subscriptions) =
        (Array::new(), Array::new(), Array::new(), Array::new());
    for r in records {
        let o = Object::new();
        match r {
            StoreRecord::Outgoing { request, publish } => {
                set(&o, "id", (request.0 as f64).into());
                set(&o, "pkid", publish.pkid.into());
                set(&o, "qos", (publish.qos as u8).into());
                set(&o, "state", "sent".into());
                set(&o, "topic", publish.topic.as_str().into());
                set(&o, "payload", Uint8Array::from(publish.payload.as_ref()).into());
                set(&o, "retain", publish.retain.into());
                inflight.push(&o);
            }
            StoreRecord::Released { request, pkid } => {
                set(&o, "id", (request.0 as f64).into());
                set(&o, "pkid", (*pkid).into());
                set(&o, "qos", 2u8.into());
                set(&o, "state", "released".into());
                inflight.push(&o);
            }
            StoreRecord::Queued { request, message } => {
                set(&o, "id", (request.0 as f64).into());
                set(&o, "qos", (message.qos as u8).into());
                set(&o, "topic", message.topic.as_str().into());
                set(&o, "payload", Uint8Array::from(message.payload.as_ref()).into());
                set(&o, "retain", message.retain.into());
                queued.push(&o);
            }
            StoreRecord::Incoming { pkid, .. } => {
                incoming.push(&(*pkid).into());
            }
            StoreRecord::Subscriptions(subs) => {
                for (filter, qos) in subs {
                    let s = Object::new();
                    set(&s, "topic", filter.as_str().into());
                    set(&s, "qos", (*qos as u8).into());
                    subscriptions.push(&s);
                }
            }
        }
    }
    let o = Object::new();
    set(&o, "inflight", inflight.into());
    set(&o, "queued", queued.into());
    set(&o, "incoming", incoming.into());
    set(&o, "subscriptions", subscriptions.into());
    o.into()
}
