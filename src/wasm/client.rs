//! `MqttClient`, the JS class. Every method that waits returns a `Promise` whose `resolve` and
//! `reject` the driver keeps and calls later (no Rust futures in the module, and never
//! `async fn(&self)`: JS calling again while a promise is pending would hit "recursive use of an
//! object"). Arguments are checked before anything is queued or sent; every rejection is an
//! `Error` with a stable `code`.

use super::driver::{now, with, Driver, Shared};
use super::error::{invalid, js_error, restore_error, user_error, CLOSED, INVALID_URL, SESSION_LOCKED};
use super::events::flush;
use super::idb::{parse, session_lock, IdbStore};
use super::js::{deferred, later, promise, release, settle};
use super::options::{self, SessionKind};
use crate::codec::ByteStr;
use crate::proto::{Client, Message, StoreRecord};
use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

// The API's types, shared with the npm package's JS driver (and its .d.ts): one file, js/types.d.ts.
#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = include_str!("../../js/types.d.ts");

/// A panic would kill the instance; if one ever happens, say so in the console.
fn install_panic_hook() {
    // One thread: a plain flag rather than std's `Once` (and its poisoning machinery).
    thread_local!(static HOOKED: core::cell::Cell<bool> = const { core::cell::Cell::new(false) });
    if HOOKED.try_with(|h| h.replace(true)) == Ok(false) {
        std::panic::set_hook(Box::new(|info| {
            // Where, not what: formatting the message would pull core::fmt into the module.
            let at = info.location().map(|l| l.file()).unwrap_or_default();
            super::js::console("error", "mq: panic (a bug; please report) in", &at.into());
        }))
    }
}

/// An MQTT 3.1.1 client over a WebSocket.
#[wasm_bindgen]
pub struct MqttClient {
    d: Shared,
}

/// What JS learns about a restored request.
fn restored_info(record: &StoreRecord) -> Option<(crate::proto::RequestId, JsValue)> {
    let o = Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&o, &k.into(), &v);
    };
    set("kind", "publish".into());
    let id = match record {
        StoreRecord::Outgoing { request, publish } => {
            set("qos", (publish.qos as u8).into());
            set("topic", publish.topic.as_str().into());
            set("payload", Uint8Array::from(publish.payload.as_ref()).into());
            *request
        }
        StoreRecord::Released { request, .. } => {
            set("qos", 2u8.into());
            *request
        }
        StoreRecord::Queued { request, message } => {
            set("qos", (message.qos as u8).into());
            set("topic", message.topic.as_str().into());
            set("payload", Uint8Array::from(message.payload.as_ref()).into());
            *request
        }
        _ => return None,
    };
    set("id", JsValue::from(id.0 as f64));
    Some((id, o.into()))
}

/// A client (in this tab or another of this origin) uses the stored session already.
fn locked() -> JsValue {
    js_error(
        SESSION_LOCKED,
        "another client (in this tab or another) is using the stored session of this broker URL and client id",
    )
}

/// Makes the value `connect` resolves with, from the driver, once connected.
pub(crate) type MakeClient = Box<dyn FnOnce(Shared) -> JsValue>;

/// Starts connecting: options, then (IndexedDB sessions) the stored session, then the driver
/// and its WebSocket. `resolve` gets `make(driver)` after CONNACK 0, `reject` the reason
/// otherwise; neither before this returns.
fn start(url: String, options: JsValue, resolve: Function, reject: Function, make: MakeClient) {
    install_panic_hook();
    let checked = options::connect_options(&options).and_then(|opts| {
        if url.starts_with("ws://") || url.starts_with("wss://") {
            Ok(opts)
        } else {
            Err(js_error(INVALID_URL, "the URL must start with ws:// or wss://"))
        }
    });
    let opts = match checked {
        Ok(opts) => opts,
        Err(e) => return later(move || settle(&resolve, &reject, Err(e))),
    };
    match opts.session {
        SessionKind::Memory => {
            let core = Client::new(opts.config.clone()).map_err(|e| user_error(&e));
            later(move || match core {
                Ok(core) => launch(url, &opts, core, None, Vec::new(), resolve, reject, make),
                Err(e) => settle(&resolve, &reject, Err(e)),
            })
        }
        SessionKind::IndexedDb => {
            let client_id = opts.config.client_id.clone();
            session_lock(&url.clone(), &client_id.clone(), move |lock| {
                let Some(lock) = lock else {
                    return settle(&resolve, &reject, Err(locked()));
                };
                IdbStore::open(&url.clone(), &client_id, move |store| match store {
                    Ok(mut store) => {
                        store.lock = lock;
                        store.load(move |store, values| {
                            let restored = values.and_then(|values| {
                                let records = parse(values).map_err(|e| restore_error(&e))?;
                                let restored: Vec<_> = records.iter().filter_map(restored_info).collect();
                                let core = Client::restore(opts.config.clone(), records)
                                    .map_err(|e| restore_error(&e))?;
                                Ok((core, restored))
                            });
                            match restored {
                                Ok((core, restored)) => {
                                    launch(url, &opts, core, Some(store), restored, resolve, reject, make)
                                }
                                Err(e) => {
                                    store.unlock();
                                    store.close();
                                    settle(&resolve, &reject, Err(e))
                                }
                            }
                        })
                    }
                    Err(e) => {
                        release(&lock);
                        settle(&resolve, &reject, Err(e))
                    }
                });
            });
        }
    }
}

/// The driver, and its first WebSocket.
#[allow(clippy::too_many_arguments)]
fn launch(
    url: String,
    opts: &options::Options,
    core: Client,
    store: Option<IdbStore>,
    restored: Vec<(crate::proto::RequestId, JsValue)>,
    resolve: Function,
    reject: Function,
    make: MakeClient,
) {
    let shared = Driver::new(url, opts, core, store);
    let failed = with(&shared, |d| {
        for (id, info) in restored {
            d.add_restored(id, info);
        }
        d.set_connect_waiter(resolve.clone(), reject.clone(), make);
        match d.open_socket() {
            Ok(()) => None,
            Err(e) => {
                // This error, not the one `destroy` gives what is pending.
                d.connect_waiter = None;
                d.destroy();
                Some(e)
            }
        }
    });
    flush();
    if let Some(e) = failed {
        settle(&resolve, &reject, Err(e));
    }
}

impl MqttClient {
    /// `MqttClient.connect` without the promise: Rust code (and the tests) await this.
    pub async fn open(url: String, options: JsValue) -> Result<MqttClient, JsValue> {
        let slot: Rc<RefCell<Option<Shared>>> = Rc::default();
        let s = slot.clone();
        let make: MakeClient = Box::new(move |d| {
            *s.borrow_mut() = Some(d);
            JsValue::UNDEFINED
        });
        JsFuture::from(promise(|resolve, reject| start(url, options, resolve, reject, make))).await?;
        let d = slot.borrow_mut().take();
        d.map(|d| MqttClient { d })
            .ok_or_else(|| js_error(super::error::INTERNAL, "connected without a client"))
    }

    fn command(&self, f: impl FnOnce(&mut Driver, Function, Function) -> Result<(), JsValue>) -> Promise {
        let (promise, resolve, reject) = deferred();
        let result = with(&self.d, |d| {
            if d.is_closed() {
                return Some(Err(js_error(CLOSED, "the client is closed")));
            }
            Some(f(d, resolve, reject.clone()))
        });
        if let Some(Err(e)) = result {
            let _ = reject.call1(&JsValue::UNDEFINED, &e);
        }
        promise
    }
}

#[wasm_bindgen]
impl MqttClient {
    /// Connects; resolves after CONNACK 0 with the client, rejects with the reason otherwise.
    #[wasm_bindgen(unchecked_return_type = "Promise<MqttClient>")]
    pub fn connect(
        url: String,
        #[wasm_bindgen(unchecked_optional_param_type = "MqttConnectOptions")] options: Option<JsValue>,
    ) -> Promise {
        let options = options.unwrap_or(JsValue::UNDEFINED);
        promise(|resolve, reject| start(url, options, resolve, reject, Box::new(|d| MqttClient { d }.into())))
    }

    /// Deletes the session stored in IndexedDB for this broker URL and client id.
    #[wasm_bindgen(js_name = clearSession, unchecked_return_type = "Promise<void>")]
    pub fn clear_session(url: String, #[wasm_bindgen(js_name = clientId)] client_id: String) -> Promise {
        promise(|resolve, reject| {
            session_lock(&url.clone(), &client_id.clone(), move |lock| {
                let Some(lock) = lock else {
                    return settle(&resolve, &reject, Err(locked()));
                };
                IdbStore::open(&url, &client_id, move |store| match store {
                    Ok(store) => {
                        store.clear(move |r| {
                            release(&lock);
                            settle(&resolve, &reject, r.map(|()| JsValue::UNDEFINED))
                        });
                        store.close();
                    }
                    Err(e) => {
                        release(&lock);
                        settle(&resolve, &reject, Err(e))
                    }
                })
            })
        })
    }

    /// QoS 0 resolves once sent or queued, QoS 1 on PUBACK, QoS 2 on PUBCOMP.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn publish(
        &self,
        topic: String,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array | ArrayBuffer")] payload: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "MqttPublishOptions")] options: Option<JsValue>,
    ) -> Promise {
        // The arguments are read before the driver is borrowed: reading them may run the
        // caller's code (getters, proxies), which may call the client or throw.
        let message = options::bytes(&payload, "payload").and_then(|payload| {
            let (qos, retain) = options::publish_options(&options.unwrap_or(JsValue::UNDEFINED))?;
            Ok(Message::new(ByteStr::from(topic), payload, qos).retain(retain))
        });
        self.command(|d, resolve, reject| {
            let id = d.core.publish(now(), message?).map_err(|e| user_error(&e))?;
            d.track_publish(id, resolve, reject);
            Ok(())
        })
    }

    /// Resolves with `[{ topic, qos }]`, qos 128 for a filter the broker refused.
    #[wasm_bindgen(unchecked_return_type = "Promise<MqttGranted[]>")]
    pub fn subscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | string[]")] topics: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "MqttSubscribeOptions")] options: Option<JsValue>,
    ) -> Promise {
        // Read before the driver is borrowed (see `publish`).
        let parsed = options::topics(&topics).and_then(|filters| {
            Ok((filters, options::subscribe_qos(&options.unwrap_or(JsValue::UNDEFINED))?))
        });
        self.command(|d, resolve, reject| {
            let (filters, qos) = parsed?;
            let pairs: Vec<(&str, _)> = filters.iter().map(|f| (f.as_str(), qos)).collect();
            let id = d.core.subscribe(now(), &pairs).map_err(|e| user_error(&e))?;
            d.track_subscribe(id, filters, resolve, reject);
            Ok(())
        })
    }

    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn unsubscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | string[]")] topics: JsValue,
    ) -> Promise {
        // Read before the driver is borrowed (see `publish`).
        let filters = options::topics(&topics);
        self.command(|d, resolve, reject| {
            let filters = filters?;
            let id = d.core.unsubscribe(now(), &filters).map_err(|e| user_error(&e))?;
            d.track_unsubscribe(id, resolve, reject);
            Ok(())
        })
    }

    /// Adds a listener: "message" `(topic, payload, { qos, retain, dup })`, "connect"
    /// `({ sessionPresent })`, "reconnect", "offline", "close", "error" `(err)`, "restored"
    /// `(MqttRestored)` when a request restored from IndexedDB completes.
    pub fn on(
        &self,
        #[wasm_bindgen(unchecked_param_type = "MqttEventName")] event: String,
        // The typed signatures are in TS_TYPES (merged into the class); this one takes nothing.
        #[wasm_bindgen(unchecked_param_type = "never")] handler: Function,
    ) -> Result<(), JsValue> {
        let name = super::events::Listeners::name(&event)
            .ok_or_else(|| invalid(&super::error::cat(&["unknown event \"", &event, "\""])))?;
        with(&self.d, |d| d.listeners.on(name, &handler));
        Ok(())
    }

    pub fn off(
        &self,
        #[wasm_bindgen(unchecked_param_type = "MqttEventName")] event: String,
        handler: Function,
    ) {
        with(&self.d, |d| d.listeners.off(&event, &handler));
    }

    /// An async iterator over the messages that arrive from now on.
    #[wasm_bindgen(unchecked_return_type = "AsyncIterableIterator<MqttMessage>")]
    pub fn messages(&self) -> JsValue {
        with(&self.d, |d| {
            let s = d.streams.add();
            if d.is_closed() {
                d.streams.close_all();
            }
            Some(s)
        })
        .unwrap_or(JsValue::UNDEFINED)
    }

    /// Sends DISCONNECT and closes. Pending requests reject with CLOSED; a stored session stays.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn end(&self) -> Promise {
        let (promise, resolve, _) = deferred();
        with(&self.d, |d| d.end(resolve));
        flush();
        promise
    }

    /// Closes without DISCONNECT, like a crash: the broker publishes the will, and the stored
    /// session is resumed by the next client with the same URL and id.
    pub fn destroy(&self) {
        with(&self.d, |d| d.destroy());
        flush();
    }

    /// Resolves once everything issued so far is stored (IndexedDB sessions).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn persisted(&self) -> Promise {
        let (promise, resolve, _) = deferred();
        let closed = with(&self.d, |d| {
            if d.is_closed() {
                Some(resolve.clone())
            } else {
                d.when_persisted(resolve.clone());
                None
            }
        });
        if let Some(r) = closed {
            let _ = r.call0(&JsValue::UNDEFINED);
        }
        promise
    }

    #[wasm_bindgen(getter)]
    pub fn connected(&self) -> bool {
        with(&self.d, |d| d.core.is_connected() && !d.is_closed())
    }

    #[wasm_bindgen(getter, js_name = clientId)]
    pub fn client_id(&self) -> String {
        with(&self.d, |d| d.core.config().client_id.clone())
    }

    /// Requests restored from IndexedDB that have not completed yet.
    #[wasm_bindgen(getter, unchecked_return_type = "MqttRestored[]")]
    pub fn restored(&self) -> js_sys::Array {
        with(&self.d, |d| Some(d.restored())).unwrap_or_default()
    }

    /// The session as it stands: in-flight and queued messages, incoming QoS 2 packet ids and
    /// subscriptions (for an IndexedDB session, what the store holds once `persisted()` resolved).
    #[wasm_bindgen(unchecked_return_type = "MqttSession")]
    pub fn session(&self) -> JsValue {
        with(&self.d, |d| Some(super::session::session_js(&d.core.session_records())))
            .unwrap_or(JsValue::UNDEFINED)
    }

    /// The session stored in IndexedDB for this broker URL and client id, read without connecting.
    #[wasm_bindgen(js_name = storedSession, unchecked_return_type = "Promise<MqttSession>")]
    pub fn stored_session(url: String, #[wasm_bindgen(js_name = clientId)] client_id: String) -> Promise {
        promise(|resolve, reject| {
            IdbStore::open(&url, &client_id, move |store| match store {
                Ok(store) => store.load(move |store, values| {
                    store.close();
                    let session = values.and_then(|v| {
                        let records = parse(v).map_err(|e| restore_error(&e))?;
                        Ok(super::session::session_js(&records))
                    });
                    settle(&resolve, &reject, session)
                }),
                Err(e) => settle(&resolve, &reject, Err(e)),
            })
        })
    }

    /// Bytes waiting to go out (in the WebSocket and in the client).
    #[wasm_bindgen(getter, js_name = bufferedAmount)]
    pub fn buffered_amount(&self) -> f64 {
        with(&self.d, |d| d.buffered_amount())
    }
}
