//! `MqttClient`, the JS class. Methods that wait return a `Promise`: the ones that wait for the
//! browser (connect, the stored session) are `async` Rust through wasm-bindgen-futures'
//! `future_to_promise` over owned values; the commands keep the promise's `resolve` and
//! `reject` in the driver, which settles them when the core says the request completed (no
//! task per message). Never `async fn(&self)`: JS calling again while a promise is pending would
//! hit "recursive use of an object". No `RefCell` borrow is held across an `.await`. Arguments
//! are read and checked before anything is queued or sent; every rejection is an `Error` with a
//! stable `code`.

use super::driver::{now, with, Driver, Shared};
use super::error::{invalid, js_error, restore_error, user_error};
use super::events::flush;
use super::idb::{session_lock, IdbStore};
use super::options::{self, Options, SessionKind};
use super::session::{restored_info, session_js};
use super::share;
use super::web::deferred;
use crate::codec::ByteStr;
use crate::proto::{Client, ErrorCode, Message, RequestId};
use core::future::Future;
use core::pin::Pin;
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

// The API's types beyond the class (options, results, events): one file, types.d.ts.
#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = include_str!("types.d.ts");

/// A panic would kill the instance; if one ever happens, say so in the console.
fn install_panic_hook() {
    // One thread: a plain flag rather than std's `Once` (and its poisoning machinery).
    thread_local!(static HOOKED: core::cell::Cell<bool> = const { core::cell::Cell::new(false) });
    if HOOKED.try_with(|h| h.replace(true)) == Ok(false) {
        std::panic::set_hook(Box::new(|info| {
            // Where, not what: formatting the message would pull core::fmt into the module.
            let at = info.location().map(|l| l.file()).unwrap_or_default();
            web_sys::console::error_2(&"mq: panic (a bug; please report) in".into(), &at.into());
        }))
    }
}

type JsResult = Result<JsValue, JsValue>;

/// `future_to_promise` over a boxed future: one instantiation of the executor's glue.
fn spawn_promise(f: impl Future<Output = JsResult> + 'static) -> Promise {
    let f: Pin<Box<dyn Future<Output = JsResult>>> = Box::pin(f);
    future_to_promise(f)
}

/// An MQTT 3.1.1 client over a WebSocket.
#[wasm_bindgen]
pub struct MqttClient {
    d: Inner,
}

/// A client of its own, or one tab of a connection the tabs share (`share: "tabs"`).
enum Inner {
    Solo(Shared),
    Tabs(share::TabRef),
}

/// Connects as `share` says, or alone; sharing without Web Locks or `BroadcastChannel` is
/// today's client, with a console warning (and `role` "solo").
async fn open_any(url: String, opts: Options) -> Result<Inner, JsValue> {
    let opts = if opts.share && share::available() {
        match share::connect(url.clone(), opts).await? {
            Ok(tab) => return Ok(Inner::Tabs(tab)),
            Err(opts) => opts,
        }
    } else {
        opts
    };
    if opts.share {
        web_sys::console::warn_1(
            &"mq: share: \"tabs\" needs Web Locks and BroadcastChannel; this tab connects alone".into(),
        );
    }
    Ok(Inner::Solo(open(url, opts).await?))
}

/// Connects: (IndexedDB sessions) the session's lock and its stored records, then the driver
/// and its WebSocket; done after CONNACK 0.
async fn open(url: String, opts: Options) -> Result<Shared, JsValue> {
    let (core, store, restored) = match opts.session {
        SessionKind::Memory => {
            (Client::new(opts.config.clone()).map_err(|e| user_error(&e))?, None, Vec::new())
        }
        SessionKind::IndexedDb => {
            let mut lock = session_lock(&url, &opts.config.client_id).await?;
            let mut store = match IdbStore::open(&url, &opts.config.client_id).await {
                Ok(store) => store,
                Err(e) => {
                    lock.release();
                    return Err(e);
                }
            };
            store.lock = lock;
            let restored = async {
                let records = store.load().await?;
                let restored: Vec<_> = records.iter().filter_map(restored_info).collect();
                let core = Client::restore(opts.config.clone(), records).map_err(|e| restore_error(&e))?;
                Ok::<_, JsValue>((core, restored))
            };
            match restored.await {
                Ok((core, restored)) => (core, Some(store), restored),
                Err(e) => {
                    store.unlock();
                    store.close();
                    return Err(e);
                }
            }
        }
    };
    let (connected, resolve, reject) = deferred();
    let shared = launch(url, &opts, core, store, restored, resolve, reject)?;
    JsFuture::from(connected).await?;
    Ok(shared)
}

/// The driver, and its first WebSocket; `resolve` after CONNACK 0, `reject` the reason otherwise.
fn launch(
    url: String,
    opts: &Options,
    core: Client,
    store: Option<IdbStore>,
    restored: Vec<(RequestId, JsValue)>,
    resolve: Function,
    reject: Function,
) -> Result<Shared, JsValue> {
    let shared = Driver::new(url, opts, core, store);
    let failed = with(&shared, |d| {
        for (id, info) in restored {
            d.add_restored(id, info);
        }
        d.connect_waiter = Some((resolve, reject));
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
    match failed {
        Some(e) => Err(e),
        None => Ok(shared),
    }
}

/// The arguments of `connect`, read before anything else.
fn connect_args(url: &JsValue, options: &JsValue) -> Result<(String, Options), JsValue> {
    Ok((options::url(url)?, options::connect_options(options)?))
}

impl MqttClient {
    /// `MqttClient.connect` for Rust callers (and the tests): the same steps, awaited.
    pub async fn open(url: JsValue, options: JsValue) -> Result<MqttClient, JsValue> {
        install_panic_hook();
        let (url, opts) = connect_args(&url, &options)?;
        Ok(MqttClient { d: open_any(url, opts).await? })
    }

    fn command(
        d: &Shared,
        f: impl FnOnce(&mut Driver, Function, Function) -> Result<(), JsValue>,
    ) -> Promise {
        let (promise, resolve, reject) = deferred();
        let result = with(d, |d| {
            if d.is_closed() {
                return Some(Err(js_error(ErrorCode::Closed, "the client is closed")));
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
        #[wasm_bindgen(unchecked_param_type = "string | URL")] url: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "MqttConnectOptions")] options: Option<JsValue>,
    ) -> Promise {
        install_panic_hook();
        let args = connect_args(&url, &options.unwrap_or(JsValue::UNDEFINED));
        spawn_promise(async move {
            let (url, opts) = args?;
            Ok(MqttClient { d: open_any(url, opts).await? }.into())
        })
    }

    /// Deletes the session stored in IndexedDB for this broker URL and client id.
    #[wasm_bindgen(js_name = clearSession, unchecked_return_type = "Promise<void>")]
    pub fn clear_session(
        #[wasm_bindgen(unchecked_param_type = "string | URL")] url: JsValue,
        #[wasm_bindgen(js_name = clientId, unchecked_param_type = "string")] client_id: JsValue,
    ) -> Promise {
        let args = options::session_id(&url, &client_id);
        spawn_promise(async move {
            let (url, client_id) = args?;
            let mut lock = session_lock(&url, &client_id).await?;
            let cleared = async {
                let store = IdbStore::open(&url, &client_id).await?;
                let r = store.clear().await;
                store.close();
                r
            }
            .await;
            lock.release();
            cleared.map(|()| JsValue::UNDEFINED)
        })
    }

    /// The session stored in IndexedDB for this broker URL and client id, read without connecting.
    #[wasm_bindgen(js_name = storedSession, unchecked_return_type = "Promise<MqttSession>")]
    pub fn stored_session(
        #[wasm_bindgen(unchecked_param_type = "string | URL")] url: JsValue,
        #[wasm_bindgen(js_name = clientId, unchecked_param_type = "string")] client_id: JsValue,
    ) -> Promise {
        let args = options::session_id(&url, &client_id);
        spawn_promise(async move {
            let (url, client_id) = args?;
            let mut store = IdbStore::open(&url, &client_id).await?;
            let records = store.load().await;
            store.close();
            Ok(session_js(&records?))
        })
    }

    /// QoS 0 resolves once sent or queued, QoS 1 on PUBACK, QoS 2 on PUBCOMP.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn publish(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] topic: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array | ArrayBuffer | ArrayBufferView")]
        payload: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "MqttPublishOptions")] options: Option<JsValue>,
    ) -> Promise {
        // The arguments are read before the driver is borrowed: reading them may run the
        // caller's code (getters, proxies), which may call the client or throw.
        let message = options::string(&topic, "topic").and_then(|topic| {
            let payload = options::bytes(&payload, "payload")?;
            let (qos, retain) = options::publish_options(&options.unwrap_or(JsValue::UNDEFINED))?;
            // The topic is checked here, once; the error surfaces after the closed check below.
            Message::try_new(ByteStr::from(topic), payload, qos)
                .map(|m| m.retain(retain))
                .map_err(|e| user_error(&e))
        });
        let d = match &self.d {
            Inner::Tabs(t) => return share::publish(t, message),
            Inner::Solo(d) => d,
        };
        Self::command(d, |d, resolve, reject| {
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
        let d = match &self.d {
            Inner::Tabs(t) => return share::subscribe(t, parsed),
            Inner::Solo(d) => d,
        };
        Self::command(d, |d, resolve, reject| {
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
        let d = match &self.d {
            Inner::Tabs(t) => return share::unsubscribe(t, filters),
            Inner::Solo(d) => d,
        };
        Self::command(d, |d, resolve, reject| {
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
        #[wasm_bindgen(unchecked_param_type = "MqttEventName")] event: JsValue,
        // The typed signatures are in types.d.ts (merged into the class); this one takes nothing.
        #[wasm_bindgen(unchecked_param_type = "never")] handler: JsValue,
    ) -> Result<(), JsValue> {
        let name = event.as_string().and_then(|e| super::events::Listeners::name(&e));
        let name = name.ok_or_else(|| invalid("unknown event (see MqttEventName)"))?;
        let handler = handler.dyn_into::<Function>().map_err(|_| invalid("handler must be a function"))?;
        match &self.d {
            Inner::Solo(d) => with(d, |d| d.listeners.on(name, &handler)),
            Inner::Tabs(t) => share::with_tab(t, |t| t.listeners.on(name, &handler)),
        }
        Ok(())
    }

    /// Removes the most recent registration of `handler` for `event`.
    pub fn off(
        &self,
        #[wasm_bindgen(unchecked_param_type = "MqttEventName")] event: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Function")] handler: JsValue,
    ) {
        if let (Some(event), Some(handler)) = (event.as_string(), handler.dyn_ref::<Function>()) {
            match &self.d {
                Inner::Solo(d) => with(d, |d| d.listeners.off(&event, handler)),
                Inner::Tabs(t) => share::with_tab(t, |t| t.listeners.off(&event, handler)),
            }
        }
    }

    /// An async iterator over the messages that arrive from now on, holding at most
    /// `bufferSize` unread (default 1000); `overflow` says what happens past that: "pause" (the
    /// default: acknowledgements wait until the app reads, so the broker stops sending QoS 1/2
    /// messages; QoS 0 ones replace the oldest QoS 0) or "dropOldest".
    #[wasm_bindgen(unchecked_return_type = "MqttMessages")]
    pub fn messages(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "MqttMessagesOptions")] options: Option<JsValue>,
    ) -> Result<JsValue, JsValue> {
        let (size, pause) = options::messages_options(&options.unwrap_or(JsValue::UNDEFINED))?;
        let d = match &self.d {
            Inner::Tabs(t) => return Ok(share::messages(t, size, pause)),
            Inner::Solo(d) => d,
        };
        Ok(with(d, |d| {
            let s = d.add_stream(size, pause);
            if d.is_closed() {
                d.streams.close_all();
            }
            Some(s)
        })
        .unwrap_or(JsValue::UNDEFINED))
    }

    /// Sends DISCONNECT and closes. Pending requests reject with CLOSED; a stored session stays.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn end(&self) -> Promise {
        let d = match &self.d {
            Inner::Tabs(t) => return share::end(t, true),
            Inner::Solo(d) => d,
        };
        let (promise, resolve, _) = deferred();
        with(d, |d| d.end(resolve));
        flush();
        promise
    }

    /// Closes without DISCONNECT, like a crash: the broker publishes the will, and the stored
    /// session is resumed by the next client with the same URL and id.
    pub fn destroy(&self) {
        match &self.d {
            Inner::Solo(d) => with(d, |d| d.destroy()),
            Inner::Tabs(t) => drop(share::end(t, false)),
        }
        flush();
    }

    /// Resolves once everything issued so far is stored (IndexedDB sessions).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn persisted(&self) -> Promise {
        let d = match &self.d {
            Inner::Tabs(t) => return share::persisted(t),
            Inner::Solo(d) => d,
        };
        let (promise, resolve, _) = deferred();
        let closed = with(d, |d| {
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
        match &self.d {
            Inner::Solo(d) => with(d, |d| d.core.is_connected() && !d.is_closed()),
            Inner::Tabs(t) => share::connected(t),
        }
    }

    #[wasm_bindgen(getter, js_name = clientId)]
    pub fn client_id(&self) -> String {
        match &self.d {
            Inner::Solo(d) => with(d, |d| d.core.config().client_id.clone()),
            Inner::Tabs(t) => share::client_id(t),
        }
    }

    /// `share: "tabs"`: "leader" (this tab holds the connection) or "follower" ("closed" once
    /// ended); "solo" for a client of its own.
    #[wasm_bindgen(getter, unchecked_return_type = "MqttRole")]
    pub fn role(&self) -> String {
        match &self.d {
            Inner::Solo(_) => "solo".to_owned(),
            Inner::Tabs(t) => share::role(t),
        }
    }

    /// Requests restored from IndexedDB that have not completed yet.
    #[wasm_bindgen(getter, unchecked_return_type = "MqttRestored[]")]
    pub fn restored(&self) -> js_sys::Array {
        match &self.d {
            Inner::Solo(d) => with(d, |d| Some(d.restored())).unwrap_or_default(),
            Inner::Tabs(t) => share::restored(t),
        }
    }

    /// The session as it stands: in-flight and queued messages, incoming QoS 2 packet ids and
    /// subscriptions (for an IndexedDB session, what the store holds once `persisted()` resolved).
    #[wasm_bindgen(unchecked_return_type = "MqttSession")]
    pub fn session(&self) -> JsValue {
        match &self.d {
            Inner::Solo(d) => {
                with(d, |d| Some(session_js(&d.core.session_records()))).unwrap_or(JsValue::UNDEFINED)
            }
            Inner::Tabs(t) => share::session(t),
        }
    }

    /// Bytes waiting to go out (in the WebSocket and in the client).
    #[wasm_bindgen(getter, js_name = bufferedAmount)]
    pub fn buffered_amount(&self) -> f64 {
        match &self.d {
            Inner::Solo(d) => with(d, |d| d.buffered_amount()),
            Inner::Tabs(t) => share::buffered_amount(t),
        }
    }
}
