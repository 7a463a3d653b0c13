//! The browser client against a real Mosquitto WebSockets listener, in headless Chromium.
//!
//! Feature `browser-broker-tests`: scripts/test.sh starts tests/browser/broker.mjs (Mosquitto on
//! free loopback ports, plus a control endpoint that stops and starts it) and passes the URLs
//! at compile time. Without the feature this file has no tests, so a plain
//! `wasm-pack test --headless --chrome` needs no broker.

#![cfg(all(target_arch = "wasm32", feature = "browser"))]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[cfg(feature = "browser-broker-tests")]
mod with_broker {
    use js_sys::{Array, Function, Promise, Reflect, Uint8Array};
    use mq::wasm::{error_code, MqttClient};
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::rc::Rc;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn env(v: Option<&'static str>, name: &str) -> String {
        v.unwrap_or_else(|| panic!("{name} was not set at compile time (scripts/test.sh sets it)")).to_owned()
    }
    fn ws() -> String {
        env(option_env!("MQ_BROKER_WS"), "MQ_BROKER_WS")
    }
    fn ws_auth() -> String {
        env(option_env!("MQ_BROKER_WS_AUTH"), "MQ_BROKER_WS_AUTH")
    }
    fn control() -> String {
        env(option_env!("MQ_BROKER_CONTROL"), "MQ_BROKER_CONTROL")
    }

    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(js_name = fetch)]
        fn fetch(url: &str, init: &JsValue) -> Promise;
        #[wasm_bindgen(js_name = setTimeout)]
        fn set_timeout(f: &Function, ms: i32) -> JsValue;
    }

    fn obj(json: &str) -> JsValue {
        js_sys::JSON::parse(json).expect("test JSON")
    }

    fn unique(prefix: &str) -> String {
        format!("{prefix}-{:08x}", (js_sys::Math::random() * 4_294_967_295.0) as u32)
    }

    async fn sleep(ms: i32) {
        let p = Promise::new(&mut |resolve, _| {
            set_timeout(&resolve, ms);
        });
        let _ = JsFuture::from(p).await;
    }

    /// Stops or starts the broker through the control endpoint.
    async fn broker(action: &str) {
        let r = JsFuture::from(fetch(&format!("{}/{action}", control()), &obj(r#"{"method":"POST"}"#))).await;
        let ok = r.ok().and_then(|r| Reflect::get(&r, &"ok".into()).ok()).and_then(|v| v.as_bool());
        assert_eq!(ok, Some(true), "broker control {action}");
    }

    async fn connect(url: &str, options: &str) -> MqttClient {
        match MqttClient::open(url.into(), obj(options)).await {
            Ok(c) => c,
            Err(e) => panic!("connect {url} {options}: {:?} {e:?}", error_code(&e)),
        }
    }

    async fn wait(p: Promise) -> Result<JsValue, String> {
        JsFuture::from(p).await.map_err(|e| error_code(&e).unwrap_or_else(|| format!("{e:?}")))
    }

    fn qos(q: u8) -> Option<JsValue> {
        Some(obj(&format!(r#"{{"qos": {q}}}"#)))
    }

    #[derive(Debug, Clone, PartialEq)]
    struct Msg {
        topic: String,
        payload: String,
        qos: u8,
        retain: bool,
    }

    /// The next message from a `messages()` iterator, or `None` after `ms` without one.
    async fn next(it: &JsValue, ms: i32) -> Option<Msg> {
        let next: Function = Reflect::get(it, &"next".into()).ok()?.dyn_into().ok()?;
        let p: Promise = next.call0(it).ok()?.dyn_into().ok()?;
        let timeout = Promise::new(&mut |resolve, _| {
            let f = Closure::once_into_js(move || {
                let _ = resolve.call1(&JsValue::UNDEFINED, &JsValue::from_str("timeout"));
            });
            set_timeout(f.unchecked_ref(), ms);
        });
        let r = JsFuture::from(Promise::race(&Array::of2(&p, &timeout))).await.ok()?;
        if r.as_string().as_deref() == Some("timeout") {
            return None;
        }
        let v = Reflect::get(&r, &"value".into()).ok()?;
        let get = |k: &str| Reflect::get(&v, &k.into()).ok();
        let payload: Uint8Array = get("payload")?.dyn_into().ok()?;
        Some(Msg {
            topic: get("topic")?.as_string()?,
            payload: String::from_utf8_lossy(&payload.to_vec()).into_owned(),
            qos: get("qos")?.as_f64()? as u8,
            retain: get("retain")?.as_bool()?,
        })
    }

    /// Messages until `want` distinct (topic, payload) pairs arrived, or 20 s without progress.
    async fn collect(it: &JsValue, want: usize) -> Vec<Msg> {
        let mut got: Vec<Msg> = Vec::new();
        let mut distinct = std::collections::BTreeSet::new();
        while distinct.len() < want {
            match next(it, 20_000).await {
                Some(m) => {
                    distinct.insert((m.topic.clone(), m.payload.clone()));
                    got.push(m);
                }
                None => break,
            }
        }
        got
    }

    /// Counts calls of an event.
    fn counter(client: &MqttClient, event: &str) -> Rc<RefCell<u32>> {
        let n = Rc::new(RefCell::new(0));
        let n2 = n.clone();
        let f = Closure::<dyn FnMut()>::new(move || *n2.borrow_mut() += 1);
        client.on(event.into(), f.as_ref().unchecked_ref::<Function>().clone().into()).expect("on");
        f.forget();
        n
    }

    #[wasm_bindgen_test]
    async fn connects_and_reports_its_state() {
        let id = unique("state");
        let c = connect(&ws(), &format!(r#"{{"clientId": "{id}"}}"#)).await;
        assert!(c.connected());
        assert_eq!(c.client_id(), id);
        wait(c.end()).await.unwrap();
        assert!(!c.connected());
        assert_eq!(wait(c.publish("a".into(), "x".into(), None)).await, Err("CLOSED".into()));
        // A random id when none is given.
        let c = connect(&ws(), "{}").await;
        assert!(c.client_id().starts_with("mq-"), "{}", c.client_id());
        wait(c.end()).await.unwrap();
    }

    #[wasm_bindgen_test]
    async fn qos_0_1_2_both_ways() {
        let base = unique("qos");
        let a = connect(&ws(), "{}").await;
        let b = connect(&ws(), "{}").await;
        let granted = wait(a.subscribe(format!("{base}/to-a/+").into(), qos(2))).await.unwrap();
        assert_eq!(
            js_sys::JSON::stringify(&granted).unwrap().as_string().unwrap(),
            format!(r#"[{{"topic":"{base}/to-a/+","qos":2}}]"#)
        );
        let arr = Array::of1(&format!("{base}/to-b/+").into());
        wait(b.subscribe(arr.into(), qos(2))).await.unwrap();
        let (ia, ib) = (a.messages(None).unwrap(), b.messages(None).unwrap());
        for q in 0..=2u8 {
            wait(b.publish(format!("{base}/to-a/{q}").into(), format!("b{q}").into(), qos(q))).await.unwrap();
            let bytes = Uint8Array::from(format!("a{q}").as_bytes());
            wait(a.publish(format!("{base}/to-b/{q}").into(), bytes.into(), qos(q))).await.unwrap();
        }
        for (it, to, from) in [(&ia, "to-a", "b"), (&ib, "to-b", "a")] {
            for q in 0..=2u8 {
                let m = next(it, 10_000).await.expect("message");
                let want = Msg {
                    topic: format!("{base}/{to}/{q}"),
                    payload: format!("{from}{q}"),
                    qos: q,
                    retain: false,
                };
                assert_eq!(m, want);
            }
        }
        // Invalid arguments are refused before anything is sent.
        assert_eq!(wait(a.publish("a/+".into(), "x".into(), None)).await, Err("INVALID_TOPIC".into()));
        assert_eq!(wait(a.publish("a".into(), "x".into(), qos(3))).await, Err("INVALID_ARGUMENT".into()));
        assert_eq!(wait(a.publish("a".into(), JsValue::from(5), None)).await, Err("INVALID_ARGUMENT".into()));
        assert_eq!(wait(a.subscribe("a/#/b".into(), None)).await, Err("INVALID_TOPIC".into()));
        assert_eq!(wait(a.subscribe(Array::new().into(), None)).await, Err("INVALID_ARGUMENT".into()));
        assert_eq!(wait(a.unsubscribe(JsValue::from(1))).await, Err("INVALID_ARGUMENT".into()));
        wait(a.unsubscribe(format!("{base}/to-a/+").into())).await.unwrap();
        wait(a.end()).await.unwrap();
        wait(b.end()).await.unwrap();
    }

    #[wasm_bindgen_test]
    async fn message_listeners_get_topic_payload_and_packet_until_removed() {
        let topic = unique("listener");
        let c = connect(&ws(), "{}").await;
        type Seen = Rc<RefCell<Vec<(String, Vec<u8>, String)>>>;
        let seen: Seen = Rc::default();
        let s2 = seen.clone();
        let f = Closure::<dyn FnMut(JsValue, Uint8Array, JsValue)>::new(
            move |t: JsValue, p: Uint8Array, info: JsValue| {
                let info = js_sys::JSON::stringify(&info).map(String::from).unwrap_or_default();
                s2.borrow_mut().push((t.as_string().unwrap_or_default(), p.to_vec(), info));
            },
        );
        let handler: Function = f.as_ref().unchecked_ref::<Function>().clone();
        c.on("message".into(), handler.clone().into()).unwrap();
        assert!(c.on("nonsense".into(), handler.clone().into()).is_err());
        let it = c.messages(None).unwrap();
        wait(c.subscribe(topic.clone().into(), qos(1))).await.unwrap();
        wait(c.publish(topic.clone().into(), Uint8Array::from(&[0u8, 255][..]).into(), qos(1)))
            .await
            .unwrap();
        next(&it, 10_000).await.expect("message");
        assert_eq!(
            *seen.borrow(),
            vec![(topic.clone(), vec![0, 255], r#"{"qos":1,"retain":false,"dup":false}"#.to_owned())]
        );
        c.off("message".into(), handler.into());
        wait(c.publish(topic.clone().into(), "again".into(), qos(1))).await.unwrap();
        next(&it, 10_000).await.expect("message");
        assert_eq!(seen.borrow().len(), 1, "a removed listener was called");
        wait(c.end()).await.unwrap();
        drop(f);
    }

    #[wasm_bindgen_test]
    async fn keepalive_keeps_an_idle_connection_up() {
        // Mosquitto drops a client silent for 1.5 keepalive intervals: only PINGREQs keep it.
        let c = connect(&ws(), r#"{"keepalive": 1, "reconnect": false}"#).await;
        let offline = counter(&c, "offline");
        sleep(3_500).await;
        assert_eq!(*offline.borrow(), 0);
        assert!(c.connected());
        wait(c.end()).await.unwrap();
    }

    #[wasm_bindgen_test]
    async fn past_max_queued_a_publish_fails_with_queue_full() {
        let topic = unique("full");
        let c = connect(&ws(), r#"{"maxInflight": 1, "maxQueued": 1}"#).await;
        // One in flight, one queued, and no room for a third (the acks come in a later task).
        let a = c.publish(topic.clone().into(), "1".into(), qos(1));
        let b = c.publish(topic.clone().into(), "2".into(), qos(1));
        assert_eq!(wait(c.publish(topic.clone().into(), "3".into(), qos(1))).await, Err("QUEUE_FULL".into()));
        wait(a).await.unwrap();
        wait(b).await.unwrap();
        wait(c.end()).await.unwrap();
    }

    #[wasm_bindgen_test]
    async fn retained_message_reaches_a_later_subscriber() {
        let topic = unique("retained");
        let a = connect(&ws(), "{}").await;
        wait(a.publish(topic.clone().into(), "kept".into(), Some(obj(r#"{"qos": 1, "retain": true}"#))))
            .await
            .unwrap();
        let b = connect(&ws(), "{}").await;
        let it = b.messages(None).unwrap();
        wait(b.subscribe(topic.clone().into(), qos(1))).await.unwrap();
        let m = next(&it, 10_000).await.expect("retained message");
        assert_eq!(m, Msg { topic: topic.clone(), payload: "kept".into(), qos: 1, retain: true });
        // Clear it.
        wait(a.publish(topic.into(), "".into(), Some(obj(r#"{"qos": 1, "retain": true}"#)))).await.unwrap();
        wait(a.end()).await.unwrap();
        wait(b.end()).await.unwrap();
    }

    /// Every payload type `publish` takes goes out as its bytes; anything else is refused.
    #[wasm_bindgen_test]
    async fn payloads_are_strings_buffers_and_views() {
        let topic = unique("payloads");
        let c = connect(&ws(), "{}").await;
        let it = c.messages(None).unwrap();
        wait(c.subscribe(topic.clone().into(), qos(0))).await.unwrap();
        let buffer = Uint8Array::from(&b"xxhi"[..]).buffer();
        let payloads: [(JsValue, &str); 5] = [
            ("h\u{e9}".into(), "h\u{e9}"),
            (Uint8Array::from(&b"u8"[..]).into(), "u8"),
            (Uint8Array::from(&b"ab"[..]).buffer().into(), "ab"),
            (js_sys::DataView::new(&buffer, 2, 2).into(), "hi"),
            (Uint8Array::new_with_byte_offset_and_length(&buffer, 1, 2).into(), "xh"),
        ];
        for (payload, text) in payloads {
            wait(c.publish(topic.clone().into(), payload, None)).await.unwrap();
            let m = next(&it, 10_000).await.expect("message");
            assert_eq!(m.payload, text);
        }
        assert_eq!(
            wait(c.publish(topic.clone().into(), JsValue::from(5), None)).await,
            Err("INVALID_ARGUMENT".into())
        );
        wait(c.end()).await.unwrap();
    }

    #[wasm_bindgen_test]
    async fn will_is_published_when_the_connection_dies() {
        let topic = unique("will");
        let watcher = connect(&ws(), "{}").await;
        let it = watcher.messages(None).unwrap();
        wait(watcher.subscribe(topic.clone().into(), qos(1))).await.unwrap();
        let opts = format!(r#"{{"will": {{"topic": "{topic}", "payload": "gone", "qos": 1}}}}"#);
        let dying = connect(&ws(), &opts).await;
        dying.destroy(); // no DISCONNECT
        assert!(!dying.connected());
        let m = next(&it, 10_000).await.expect("will message");
        assert_eq!(m, Msg { topic: topic.clone(), payload: "gone".into(), qos: 1, retain: false });
        // A client that says DISCONNECT has its will discarded.
        let polite = connect(&ws(), &opts).await;
        wait(polite.end()).await.unwrap();
        assert_eq!(next(&it, 500).await, None);
        wait(watcher.end()).await.unwrap();
    }

    #[wasm_bindgen_test]
    async fn a_websocket_that_never_opens_times_out() {
        let url = env(option_env!("MQ_BLACKHOLE_WS"), "MQ_BLACKHOLE_WS");
        for opts in [r#"{"connectTimeout": 300, "reconnect": false}"#, r#"{"connectTimeout": 300}"#] {
            let e = MqttClient::open(url.clone().into(), obj(opts)).await.err().expect("no connection");
            assert_eq!(error_code(&e).as_deref(), Some("TIMEOUT"), "{opts}");
        }
    }

    #[wasm_bindgen_test]
    async fn credentials_are_checked() {
        let url = ws_auth();
        for opts in [r#"{"username": "mq", "password": "wrong"}"#, r#"{}"#] {
            let e = MqttClient::open(url.clone().into(), obj(opts)).await.err().expect("refused");
            assert_eq!(error_code(&e).as_deref(), Some("CONNECT_REFUSED"), "{opts}");
            let rc = Reflect::get(&e, &"returnCode".into()).unwrap().as_f64();
            assert!(matches!(rc, Some(4.0) | Some(5.0)), "{opts}: return code {rc:?}");
        }
        let bytes = r#"{"username": "mq", "password": "secret"}"#;
        let c = connect(&url, bytes).await;
        wait(c.end()).await.unwrap();
    }

    /// Publishes `n` messages per QoS 1 and 2 under `base`, payloads `{tag}{i}`, not awaited.
    fn publish_batch(c: &MqttClient, base: &str, tag: &str, n: usize) -> Vec<Promise> {
        let mut ps = Vec::new();
        for i in 0..n {
            for q in 1..=2u8 {
                ps.push(c.publish(format!("{base}/q{q}").into(), format!("{tag}{i}").into(), qos(q)));
            }
        }
        ps
    }

    /// Every message once per QoS 2, at least once per QoS 1.
    fn check_delivery(got: &[Msg], base: &str, expected: &[String]) {
        let mut count: BTreeMap<(String, String), usize> = BTreeMap::new();
        for m in got {
            *count.entry((m.topic.clone(), m.payload.clone())).or_default() += 1;
        }
        for p in expected {
            let q1 = count.get(&(format!("{base}/q1"), p.clone())).copied().unwrap_or(0);
            let q2 = count.get(&(format!("{base}/q2"), p.clone())).copied().unwrap_or(0);
            assert!(q1 >= 1, "QoS 1 message {p} lost");
            assert_eq!(q2, 1, "QoS 2 message {p} delivered {q2} times");
        }
    }

    #[wasm_bindgen_test]
    async fn broker_restart_reconnects_without_losing_qos_1_or_2() {
        let base = unique("restart");
        let reconnect = r#""reconnect": {"minDelay": 100, "maxDelay": 400}"#;
        let sub_id = unique("restart-sub");
        let sub = connect(
            &ws(),
            &format!(r#"{{"clientId": "{sub_id}", "clean": false, "session": "memory", {reconnect}}}"#),
        )
        .await;
        let it = sub.messages(None).unwrap();
        wait(sub.subscribe(format!("{base}/#").into(), qos(2))).await.unwrap();
        let pub_id = unique("restart-pub");
        let publisher = connect(
            &ws(),
            &format!(r#"{{"clientId": "{pub_id}", "clean": false, "session": "memory", {reconnect}}}"#),
        )
        .await;
        let offline = counter(&publisher, "offline");
        let reconnected = counter(&publisher, "connect");
        for p in publish_batch(&publisher, &base, "before", 5) {
            wait(p).await.unwrap();
        }
        // Some in flight when the broker goes away, more issued while it is away.
        let mut pending = publish_batch(&publisher, &base, "during", 5);
        broker("stop").await;
        pending.extend(publish_batch(&publisher, &base, "offline", 5));
        sleep(300).await;
        assert!(!publisher.connected());
        broker("start").await;
        for p in pending {
            wait(p).await.expect("a publish across the restart");
        }
        assert!(*offline.borrow() >= 1);
        assert!(*reconnected.borrow() >= 1);
        assert!(publisher.connected());
        let expected: Vec<String> = ["before", "during", "offline"]
            .iter()
            .flat_map(|t| (0..5).map(move |i| format!("{t}{i}")))
            .collect();
        let got = collect(&it, expected.len() * 2).await;
        check_delivery(&got, &base, &expected);
        wait(publisher.end()).await.unwrap();
        wait(sub.end()).await.unwrap();
    }

    #[wasm_bindgen_test]
    async fn session_is_restored_from_indexeddb_after_the_client_was_dropped() {
        let base = unique("idb");
        let id = unique("idb-client");
        let url = ws();
        let watcher = connect(&url, "{}").await;
        let it = watcher.messages(None).unwrap();
        wait(watcher.subscribe(format!("{base}/#").into(), qos(2))).await.unwrap();
        let opts = format!(r#"{{"clientId": "{id}", "clean": false, "maxInflight": 1}}"#);
        let first = connect(&url, &opts).await;
        assert_eq!(first.restored().length(), 0);
        let pending = publish_batch(&first, &base, "m", 5);
        // Stored (in flight or queued) before anything is dropped; then a crash, no DISCONNECT.
        wait(first.persisted()).await.unwrap();
        first.destroy();
        for p in pending {
            assert_eq!(wait(p).await, Err("CLOSED".into()));
        }
        let second = connect(&url, &opts).await;
        let restored = second.restored();
        assert!(restored.length() >= 9, "restored {}", restored.length());
        let done = counter(&second, "restored");
        let expected: Vec<String> = (0..5).map(|i| format!("m{i}")).collect();
        let got = collect(&it, 10).await;
        check_delivery(&got, &base, &expected);
        // The app learns that each restored request completed.
        for _ in 0..100 {
            if second.restored().length() == 0 {
                break;
            }
            sleep(50).await;
        }
        assert_eq!(second.restored().length(), 0);
        assert_eq!(*done.borrow(), restored.length());
        wait(second.end()).await.unwrap();
        wait(watcher.end()).await.unwrap();
        wait(MqttClient::clear_session(url.into(), id.into())).await.unwrap();
    }

    #[wasm_bindgen_test]
    async fn one_client_at_a_time_uses_a_stored_session() {
        let id = unique("lock-client");
        let url = ws();
        let opts = format!(r#"{{"clientId": "{id}", "clean": false}}"#);
        let first = connect(&url, &opts).await;
        // A second client on the same stored session (another tab, say) is refused before it
        // connects: at the broker the two would keep throwing each other off.
        match MqttClient::open(url.clone().into(), obj(&opts)).await {
            Ok(_) => panic!("a second client took the stored session"),
            Err(e) => assert_eq!(error_code(&e).as_deref(), Some("SESSION_LOCKED")),
        }
        assert_eq!(
            wait(MqttClient::clear_session(url.clone().into(), id.clone().into())).await,
            Err("SESSION_LOCKED".into())
        );
        // Another client id is not affected.
        let other = connect(&url, &format!(r#"{{"clientId": "{id}-2", "clean": false}}"#)).await;
        wait(other.end()).await.unwrap();
        // end() and destroy() let the session go.
        assert!(first.connected());
        wait(first.end()).await.unwrap();
        let second = connect(&url, &opts).await;
        second.destroy();
        let third = connect(&url, &opts).await;
        wait(third.end()).await.unwrap();
        wait(MqttClient::clear_session(url.clone().into(), id.clone().into())).await.unwrap();
        wait(MqttClient::clear_session(url.into(), format!("{id}-2").into())).await.unwrap();
    }
}
